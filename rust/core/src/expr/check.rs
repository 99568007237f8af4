//! Type checking, done when the expression is parsed, before any job runs.
//!
//! Operands are checked left to right, depth first: each operand's own
//! sub-tree, then its required type, before the next operand. Literal
//! regular expressions are compiled here, so that an invalid one is
//! rejected up front.

use super::ast::Node;
use super::error::ExprError;
use super::java_regex;
use super::symbols::Symbols;
use super::value::Type;

/// Refuses an invalid literal pattern that a conditional may choose (`name =~ (c ? '(' : 'a')`):
/// it would fail only when chosen, and a pattern that fails to compile matches nothing, so it
/// would leave out every pool without a word (spec R10 wants it refused when parsed).
fn check_literal_patterns(pattern: &Node) -> Result<(), ExprError> {
    match pattern {
        Node::Str(text) => java_regex::compile(text).map(drop).map_err(|e| ExprError::regex(&e)),
        Node::Conditional { then, otherwise, .. } => {
            check_literal_patterns(then)?;
            check_literal_patterns(otherwise)
        }
        _ => Ok(()),
    }
}

/// The type of `node`; fills in compiled literal patterns on the way.
pub(crate) fn check(node: &mut Node, symbols: &Symbols) -> Result<Type, ExprError> {
    match node {
        Node::Number(_) => Ok(Type::Double),
        Node::Str(_) => Ok(Type::String),
        Node::Bool(_) => Ok(Type::Boolean),
        Node::Ident(name) => symbols.get(name).ok_or_else(|| ExprError::unknown_identifier(name)),
        Node::Neg(operand) => {
            expect(Type::Double, operand, symbols)?;
            Ok(Type::Double)
        }
        Node::Not(operand) => {
            expect(Type::Boolean, operand, symbols)?;
            Ok(Type::Boolean)
        }
        Node::Binary { op, left, right } => {
            match op.operand_type() {
                Some(required) => {
                    expect(required, left, symbols)?;
                    expect(required, right, symbols)?;
                }
                // `==`/`!=`: dCache requires the right operand's type of
                // the left one.
                None => {
                    let found = check(left, symbols)?;
                    let required = check(right, symbols)?;
                    same(required, found)?;
                }
            }
            Ok(op.result_type())
        }
        Node::Match { subject, pattern, compiled, .. } => {
            expect(Type::String, subject, symbols)?;
            expect(Type::String, pattern, symbols)?;
            match pattern.as_ref() {
                Node::Str(text) => *compiled = Some(java_regex::compile(text).map_err(|e| ExprError::regex(&e))?),
                other => check_literal_patterns(other)?,
            }
            Ok(Type::Boolean)
        }
        Node::Conditional { condition, then, otherwise } => {
            expect(Type::Boolean, condition, symbols)?;
            let found = check(then, symbols)?;
            let required = check(otherwise, symbols)?;
            same(required, found)?;
            Ok(found)
        }
    }
}

fn expect(required: Type, node: &mut Node, symbols: &Symbols) -> Result<(), ExprError> {
    same(required, check(node, symbols)?)
}

fn same(required: Type, found: Type) -> Result<(), ExprError> {
    if required == found { Ok(()) } else { Err(ExprError::type_mismatch(required, found)) }
}

#[cfg(test)]
mod tests {
    use crate::expr::{Expression, Symbols};

    fn error(text: &str) -> String {
        error_in(text, &Symbols::pool_predicate())
    }

    fn error_in(text: &str, symbols: &Symbols) -> String {
        match Expression::parse(text, symbols) {
            Ok(expression) => panic!("{text:?} was accepted: {expression:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn ok(text: &str) {
        if let Err(e) = Expression::parse(text, &Symbols::pool_predicate()) {
            panic!("{text:?}: {e}");
        }
    }

    const DOUBLE_FOUND_STRING: &str = "Type mismatch: Expected DOUBLE, but found STRING";
    const DOUBLE_FOUND_BOOLEAN: &str = "Type mismatch: Expected DOUBLE, but found BOOLEAN";
    const BOOLEAN_FOUND_DOUBLE: &str = "Type mismatch: Expected BOOLEAN, but found DOUBLE";
    const STRING_FOUND_DOUBLE: &str = "Type mismatch: Expected STRING, but found DOUBLE";

    #[test]
    fn unknown_identifier_is_named() {
        assert_eq!(error("source.spaceCost > 0"), "Unknown identifier: source.spaceCost");
        assert_eq!(error("queue.files > 0"), "Unknown identifier: queue.files");
        assert_eq!(error_in("target.free > 0", &Symbols::lifetime_predicate()), "Unknown identifier: target.free");
    }

    #[test]
    fn logical_operators_need_booleans() {
        assert_eq!(error("1 and true"), BOOLEAN_FOUND_DOUBLE);
        assert_eq!(error("true or 'a'"), "Type mismatch: Expected BOOLEAN, but found STRING");
        assert_eq!(error("not 1"), BOOLEAN_FOUND_DOUBLE);
    }

    #[test]
    fn ordering_needs_doubles_not_strings() {
        for op in ["<", "<=", ">", ">="] {
            assert_eq!(error(&format!("'a' {op} 'b'")), DOUBLE_FOUND_STRING);
            assert_eq!(error(&format!("1 {op} true")), DOUBLE_FOUND_BOOLEAN);
        }
    }

    #[test]
    fn chained_comparison_is_a_type_error() {
        assert_eq!(error("1 < 2 < 3"), DOUBLE_FOUND_BOOLEAN);
    }

    #[test]
    fn arithmetic_needs_doubles_and_does_not_concatenate() {
        for op in ["+", "-", "*", "/", "%", "**"] {
            assert_eq!(error(&format!("'a' {op} 'b' == 'ab'")), DOUBLE_FOUND_STRING);
        }
        assert_eq!(error("-'a' == 1"), DOUBLE_FOUND_STRING);
        // Only a negating run of signs is an operator (dCache's UMINUS); the others vanish.
        assert_eq!(error("--'a' == 1"), DOUBLE_FOUND_STRING, "as 'a' == 1");
        ok("+true");
        ok("--(source.name =~ 'p.*')");
        ok("- -'a' =~ 'a'");
    }

    #[test]
    fn equality_expects_the_right_operand_type_of_the_left() {
        assert_eq!(error("'a' == 1"), DOUBLE_FOUND_STRING);
        assert_eq!(error("1 != 'a'"), STRING_FOUND_DOUBLE);
        assert_eq!(error("true == 1"), DOUBLE_FOUND_BOOLEAN);
        ok("'a' == source.name");
        ok("true != (1 > 2)");
    }

    #[test]
    fn match_needs_strings() {
        assert_eq!(error("1 =~ 'a'"), STRING_FOUND_DOUBLE);
        assert_eq!(error("'a' !~ 1"), STRING_FOUND_DOUBLE);
    }

    #[test]
    fn match_binds_tighter_than_multiplication_so_this_is_a_type_error() {
        assert_eq!(error("2 * 'a' =~ 'b'"), DOUBLE_FOUND_BOOLEAN);
        assert_eq!(error("'a' =~ 'b' * 2"), DOUBLE_FOUND_BOOLEAN);
    }

    #[test]
    fn conditional_checks_condition_then_branches() {
        assert_eq!(error("1 ? true : false"), BOOLEAN_FOUND_DOUBLE);
        assert_eq!(error("true ? 2 : false"), BOOLEAN_FOUND_DOUBLE);
        assert_eq!(error("true ? 'a' : 1"), "Type mismatch: Expected DOUBLE, but found STRING");
        ok("(source.free > 0 ? source.name : target.name) == 'a'");
    }

    #[test]
    fn operands_are_checked_left_to_right_depth_first() {
        assert_eq!(error("'a' + (1 and true)"), DOUBLE_FOUND_STRING);
        assert_eq!(error("(1 and true) + 'a'"), BOOLEAN_FOUND_DOUBLE);
        assert_eq!(error("x + 'a'"), "Unknown identifier: x");
        assert_eq!(error("1 ? x : y"), BOOLEAN_FOUND_DOUBLE);
        assert_eq!(error("true ? x : 1"), "Unknown identifier: x");
    }

    #[test]
    fn whole_expression_must_be_boolean() {
        for text in ["1", "'a'", "source.free", "true ? 1 : 2"] {
            assert_eq!(error(text), "Expression does not evaluate to a boolean");
        }
    }

    #[test]
    fn invalid_literal_pattern_is_rejected_when_parsing() {
        assert_eq!(
            error("source.name =~ 'pool('"),
            "Invalid expression: invalid regular expression: unclosed group at position 5 in 'pool('"
        );
        assert_eq!(
            error("source.name =~ ('a*+')"),
            "Invalid expression: unsupported regular expression: possessive quantifier at position 2 in 'a*+'"
        );
        ok("source.name =~ target.name");
        assert_eq!(
            error("source.name =~ (true ? 'a' : (false ? 'b' : 'pool('))"),
            "Invalid expression: invalid regular expression: unclosed group at position 5 in 'pool('",
            "a literal a conditional may choose"
        );
        ok("source.name =~ (true ? target.name : 'a')");
    }
}
