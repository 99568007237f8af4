//! Evaluation of a checked tree.
//!
//! Returns `None` when a value is missing: a symbol the environment does
//! not know (or gives with the wrong type), or a pattern computed at run
//! time that is not a supported, valid regular expression. The caller
//! turns `None` into `false` for the whole expression.

use super::ast::{BinaryOp, Node};
use super::java_regex;
use super::value::Value;

/// The environment: the current value of a symbol such as `target.free`.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<Value>;

pub(crate) fn eval(node: &Node, env: Env) -> Option<Value> {
    let value = match node {
        Node::Number(value) => Value::Double(*value),
        Node::Str(value) => Value::String(value.clone()),
        Node::Bool(value) => Value::Boolean(*value),
        Node::Ident(name) => env(name)?,
        Node::Neg(operand) => Value::Double(-double(operand, env)?),
        Node::Not(operand) => Value::Boolean(!boolean(operand, env)?),
        Node::Binary { op, left, right } => binary(*op, left, right, env)?,
        Node::Match { negate, subject, pattern, compiled } => {
            let subject = string(subject, env)?;
            let matched = match compiled {
                Some(regex) => regex.is_match(&subject),
                None => java_regex::compile(&string(pattern, env)?).ok()?.is_match(&subject),
            };
            Value::Boolean(matched != *negate)
        }
        Node::Conditional { condition, then, otherwise } => {
            // Only the chosen branch is evaluated.
            if boolean(condition, env)? { eval(then, env)? } else { eval(otherwise, env)? }
        }
    };
    Some(value)
}

fn binary(op: BinaryOp, left: &Node, right: &Node, env: Env) -> Option<Value> {
    let arithmetic = |f: fn(f64, f64) -> f64| Some(Value::Double(f(double(left, env)?, double(right, env)?)));
    let compare = |f: fn(&f64, &f64) -> bool| Some(Value::Boolean(f(&double(left, env)?, &double(right, env)?)));
    match op {
        // `&&` and `||` short-circuit: the right operand may not be evaluated.
        BinaryOp::And => Some(Value::Boolean(boolean(left, env)? && boolean(right, env)?)),
        BinaryOp::Or => Some(Value::Boolean(boolean(left, env)? || boolean(right, env)?)),
        BinaryOp::Eq => Some(Value::Boolean(equal(eval(left, env)?, eval(right, env)?)?)),
        BinaryOp::Ne => Some(Value::Boolean(!equal(eval(left, env)?, eval(right, env)?)?)),
        BinaryOp::Lt => compare(f64::lt),
        BinaryOp::Le => compare(f64::le),
        BinaryOp::Gt => compare(f64::gt),
        BinaryOp::Ge => compare(f64::ge),
        BinaryOp::Add => arithmetic(|a, b| a + b),
        BinaryOp::Sub => arithmetic(|a, b| a - b),
        BinaryOp::Mul => arithmetic(|a, b| a * b),
        // IEEE: x/0 is ±∞ or NaN, never an error.
        BinaryOp::Div => arithmetic(|a, b| a / b),
        // Truncated remainder with the sign of the dividend, like Java's %.
        BinaryOp::Rem => arithmetic(|a, b| a % b),
        BinaryOp::Pow => arithmetic(java_pow),
    }
}

/// Java's `Math.pow`, which differs from C's `pow` (and `f64::powf`) in two cases: a NaN
/// exponent gives NaN even for base 1, and a base of ±1 to an infinite power is NaN, not 1.
fn java_pow(base: f64, exponent: f64) -> f64 {
    if exponent.is_nan() || (base.abs() == 1.0 && exponent.is_infinite()) { f64::NAN } else { base.powf(exponent) }
}

/// Exact equality; dCache's boolean `==` is always true, ours compares.
fn equal(left: Value, right: Value) -> Option<bool> {
    match (left, right) {
        (Value::Double(a), Value::Double(b)) => Some(a == b),
        (Value::Boolean(a), Value::Boolean(b)) => Some(a == b),
        (Value::String(a), Value::String(b)) => Some(a == b),
        _ => None,
    }
}

fn double(node: &Node, env: Env) -> Option<f64> {
    match eval(node, env)? {
        Value::Double(value) => Some(value),
        _ => None,
    }
}

fn boolean(node: &Node, env: Env) -> Option<bool> {
    match eval(node, env)? {
        Value::Boolean(value) => Some(value),
        _ => None,
    }
}

fn string(node: &Node, env: Env) -> Option<String> {
    match eval(node, env)? {
        Value::String(value) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::check::check;
    use crate::expr::parser::parse;
    use crate::expr::{Symbols, Type};

    fn no_symbols(_: &str) -> Option<Value> {
        None
    }

    /// The value of any well-typed expression without symbols.
    fn value(text: &str) -> Value {
        let mut node = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        check(&mut node, &Symbols::new()).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        eval(&node, &no_symbols).unwrap_or_else(|| panic!("{text:?} has no value"))
    }

    fn number(text: &str) -> f64 {
        match value(text) {
            Value::Double(value) => value,
            other => panic!("{text:?} is {other:?}"),
        }
    }

    fn truth(text: &str) -> bool {
        match value(text) {
            Value::Boolean(value) => value,
            other => panic!("{text:?} is {other:?}"),
        }
    }

    #[test]
    fn arithmetic_operators() {
        assert_eq!(number("1 + 2"), 3.0);
        assert_eq!(number("1 - 2"), -1.0);
        assert_eq!(number("3 * 4"), 12.0);
        assert_eq!(number("3 / 4"), 0.75);
        assert_eq!(number("7 % 4"), 3.0);
        assert_eq!(number("2 ** 10"), 1024.0);
        assert_eq!(number("2 ** 0.5"), 2f64.sqrt());
        assert_eq!(number("-3"), -3.0);
        assert_eq!(number("+3"), 3.0);
        assert_eq!(number("- -3"), 3.0);
        assert_eq!(number("---3"), -3.0);
    }

    #[test]
    fn remainder_has_the_sign_of_the_dividend() {
        assert_eq!(number("-5 % 3"), -2.0);
        assert_eq!(number("5 % -3"), 2.0);
        assert_eq!(number("5.5 % 2"), 1.5);
    }

    #[test]
    fn division_by_zero_follows_ieee() {
        assert_eq!(number("1 / 0"), f64::INFINITY);
        assert_eq!(number("-1 / 0"), f64::NEG_INFINITY);
        assert!(number("0 / 0").is_nan());
        assert!(number("1 % 0").is_nan());
        assert!(!truth("0 / 0 == 0 / 0"));
        assert!(truth("0 / 0 != 0 / 0"));
    }

    #[test]
    fn power_follows_java_for_nan_and_infinite_exponents() {
        // C's pow gives 1 for both; Java's Math.pow gives NaN.
        assert!(number("1 ** (0 / 0)").is_nan());
        assert!(number("(-1) ** (1 / 0)").is_nan());
        assert!(number("1 ** (-1 / 0)").is_nan());
        assert!(!truth("1 ** (0 / 0) == 1"));
        // Where the two agree: a zero exponent gives 1 even for a NaN base.
        assert_eq!(number("(0 / 0) ** 0"), 1.0);
        assert_eq!(number("2 ** (1 / 0)"), f64::INFINITY);
        assert_eq!(number("0.5 ** (1 / 0)"), 0.0);
    }

    #[test]
    fn power_is_left_associative_and_binds_tighter_than_unary_minus() {
        assert_eq!(number("2**3**2"), 64.0);
        assert_eq!(number("-2**2"), -4.0);
        assert_eq!(number("(-2)**2"), 4.0);
        assert_eq!(number("2**(-1)"), 0.5);
    }

    #[test]
    fn precedence_of_arithmetic() {
        assert_eq!(number("1 + 2 * 3"), 7.0);
        assert_eq!(number("10 - 4 - 3"), 3.0);
        assert_eq!(number("8 / 4 / 2"), 1.0);
        assert_eq!(number("2 * 3 ** 2"), 18.0);
    }

    #[test]
    fn parenthesised_right_operand_keeps_its_operator() {
        // dCache evaluates these wrongly (1 + (2 - 3) gives 2 there).
        assert_eq!(number("1 + (2 - 3)"), 0.0);
        assert_eq!(number("2 * (3 / 4)"), 1.5);
        assert_eq!(number("2 / (4 * 2)"), 0.25);
        assert_eq!(number("1 + 2 * (3 - 1)"), 5.0);
        assert_eq!(number("(1 + 1) + (2 - 1)"), 3.0);
        assert!(truth("(1 > 2) == (3 > 4)"));
    }

    #[test]
    fn comparisons() {
        assert!(truth("1 < 2") && !truth("2 < 2"));
        assert!(truth("2 <= 2") && !truth("3 <= 2"));
        assert!(truth("3 > 2") && !truth("2 > 2"));
        assert!(truth("2 >= 2") && !truth("1 >= 2"));
        assert!(truth("1 == 1.0") && !truth("1 == 2"));
        assert!(truth("1 != 2") && !truth("1 != 1"));
    }

    #[test]
    fn equality_of_strings_and_booleans_compares() {
        assert!(truth("'a' == \"a\""));
        assert!(!truth("'a' == 'A'"));
        assert!(truth("'a' != 'b'"));
        assert!(!truth("true == false"));
        assert!(truth("false == false"));
        assert!(truth("true != false"));
    }

    #[test]
    fn logical_operators() {
        assert!(truth("true and true") && !truth("true and false"));
        assert!(truth("false or true") && !truth("false or false"));
        assert!(truth("not false") && !truth("not true"));
        assert!(truth("not not true"));
        assert!(truth("not 1 == 2"));
    }

    #[test]
    fn conditional_picks_a_branch() {
        assert_eq!(number("true ? 1 : 2"), 1.0);
        assert_eq!(number("false ? 1 : 2"), 2.0);
        assert_eq!(number("false ? 1 : false ? 2 : 3"), 3.0);
        assert_eq!(number("1 > 2 or true ? 1 : 2"), 1.0);
    }

    #[test]
    fn units_scale_numbers() {
        assert_eq!(number("5 Gi"), 5.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(number("1.5k"), 1500.0);
        assert_eq!(number("2 Mi / 1 Ki"), 2048.0);
    }

    #[test]
    fn regex_match_is_whole_string() {
        assert!(truth("'blabla' =~ '(bla)+'"));
        assert!(!truth("'pool12' =~ 'pool1'"));
        assert!(truth("'pool12' !~ 'pool1'"));
        assert!(truth("'pool12' ~= 'pool[0-9]+'"));
    }

    #[test]
    fn computed_pattern_is_compiled_when_evaluated() {
        assert!(truth("'b' =~ (false ? 'a' : 'b')"));
        assert!(!truth("'ab' =~ (false ? 'a' : 'b')"));
    }

    fn eval_with(text: &str, symbols: &Symbols, env: Env) -> Option<Value> {
        let mut node = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        check(&mut node, symbols).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        eval(&node, env)
    }

    #[test]
    fn invalid_computed_pattern_has_no_value() {
        let symbols = Symbols::new().with("p", Type::String);
        let bad = |_: &str| Some(Value::from("a("));
        assert_eq!(eval_with("'a' =~ p", &symbols, &bad), None);
        assert_eq!(eval_with("'a' !~ p", &symbols, &bad), None);
        let possessive = |_: &str| Some(Value::from("a*+"));
        assert_eq!(eval_with("'a' =~ p", &symbols, &possessive), None);
    }

    #[test]
    fn computed_pattern_may_use_escapes() {
        let symbols = Symbols::new().with("p", Type::String);
        let digits = |_: &str| Some(Value::from("pool\\d+\\.\\w"));
        assert_eq!(eval_with("'pool12.x' =~ p", &symbols, &digits), Some(Value::Boolean(true)));
    }

    #[test]
    fn missing_or_mistyped_symbol_has_no_value() {
        let symbols = Symbols::new().with("x", Type::Double);
        assert_eq!(eval_with("x > 1", &symbols, &no_symbols), None);
        let text = |_: &str| Some(Value::from("1"));
        assert_eq!(eval_with("x > 1", &symbols, &text), None);
        assert_eq!(eval_with("x == 1", &symbols, &text), None);
    }

    #[test]
    fn and_or_and_conditional_short_circuit() {
        let symbols = Symbols::new().with("x", Type::Double);
        let env = &no_symbols;
        assert_eq!(eval_with("false and x > 1", &symbols, env), Some(Value::Boolean(false)));
        assert_eq!(eval_with("true or x > 1", &symbols, env), Some(Value::Boolean(true)));
        assert_eq!(eval_with("true ? 1 > 0 : x > 1", &symbols, env), Some(Value::Boolean(true)));
        assert_eq!(eval_with("false ? x > 1 : true", &symbols, env), Some(Value::Boolean(true)));
        assert_eq!(eval_with("true and x > 1", &symbols, env), None);
    }
}
