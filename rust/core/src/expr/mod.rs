//! The expression language of the migration module's `-include-when`,
//! `-exclude-when`, `-pause-when` and `-stop-when` options.
//!
//! [`Expression::parse`] parses, type checks (against [`Symbols`]) and
//! requires a boolean result, so that every mistake is reported when the
//! job is defined; [`Expression::evaluate`] then never fails. The language
//! follows dCache, with a few bugs fixed; see `docs/expressions.md`.

mod ast;
mod check;
mod error;
mod eval;
mod java_regex;
mod lexer;
mod parser;
mod symbols;
mod value;

use std::fmt;

pub use error::{ExprError, MAX_NESTING};
pub use symbols::Symbols;
pub use value::{Type, Value};

/// A parsed and type-checked boolean expression, as typed by the operator.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    root: ast::Node,
}

impl Expression {
    /// Parses `text`, checks it against `symbols` and requires a boolean
    /// result. Literal regular expressions are compiled here.
    pub fn parse(text: &str, symbols: &Symbols) -> Result<Expression, ExprError> {
        let mut root = parser::parse(text).map_err(|d| ExprError::syntax(text, &d))?;
        if check::check(&mut root, symbols)? != Type::Boolean {
            return Err(ExprError::not_boolean());
        }
        Ok(Expression { source: text.to_owned(), root })
    }

    /// The text as typed.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with `env` giving the current value of each symbol.
    ///
    /// The result is `false` whenever a value that is needed is missing: a
    /// symbol for which `env` returns `None` or a value of the wrong type,
    /// or a pattern computed at run time that is not a valid, supported
    /// regular expression. `and`, `or` and `?:` evaluate only what they
    /// need, so `false and x > 1` is `false` even without `x`.
    pub fn evaluate(&self, env: &dyn Fn(&str) -> Option<Value>) -> bool {
        matches!(eval::eval(&self.root, env), Some(Value::Boolean(true)))
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GI: f64 = 1024.0 * 1024.0 * 1024.0;

    /// A source pool `pool1` and a target pool `pool12`, 2 files queued.
    fn env(name: &str) -> Option<Value> {
        Some(match name {
            "source.name" => Value::from("pool1"),
            "target.name" => Value::from("pool12"),
            "source.cpuCost" => Value::from(0.25),
            "target.cpuCost" => Value::from(0.75),
            "source.free" => Value::from(4.0 * GI),
            "target.free" => Value::from(500_000.0),
            "source.total" | "target.total" => Value::from(100.0 * GI),
            "source.removable" | "target.removable" => Value::from(GI),
            "source.used" | "target.used" => Value::from(90.0 * GI),
            "queue.files" => Value::from(2.0),
            "queue.bytes" => Value::from(3.0 * GI),
            "targets" => Value::from(1.0),
            _ => return None,
        })
    }

    fn pool(text: &str) -> bool {
        match Expression::parse(text, &Symbols::pool_predicate()) {
            Ok(expression) => expression.evaluate(&env),
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn lifetime(text: &str) -> bool {
        match Expression::parse(text, &Symbols::lifetime_predicate()) {
            Ok(expression) => expression.evaluate(&env),
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    #[test]
    fn realistic_pool_predicates() {
        assert!(pool("target.free < 1000000"));
        assert!(pool("source.free < 5 Gi and target.cpuCost < 1"));
        assert!(!pool("source.free < 5 Gi and target.cpuCost < 0.5"));
        assert!(pool("target.name =~ 'pool[0-9]+'"));
        assert!(!pool("target.name =~ 'pool1'"));
        assert!(pool("target.name !~ source.name"));
        assert!(pool("source.used / source.total > 0.8 or target.free < 1Mi"));
        assert!(pool("target.removable + target.free >= 1Gi"));
    }

    #[test]
    fn realistic_lifetime_predicates() {
        assert!(lifetime("queue.files < 5"));
        assert!(!lifetime("queue.files>0or targets==0 ? false : true"));
        assert!(lifetime("queue.files>0or targets==0"));
        assert!(lifetime("targets == 1 and queue.bytes > 2 Gi"));
        assert!(lifetime("source.free < 5Gi"));
    }

    #[test]
    fn symbols_outside_their_context_are_unknown() {
        let error = Expression::parse("target.free > 0", &Symbols::lifetime_predicate());
        assert_eq!(
            error.map(|e| e.to_string()).map_err(|e| e.to_string()),
            Err("Unknown identifier: target.free".to_owned())
        );
        let error = Expression::parse("queue.files > 0", &Symbols::pool_predicate());
        assert_eq!(error.map_err(|e| e.to_string()).err().as_deref(), Some("Unknown identifier: queue.files"));
    }

    #[test]
    fn source_and_display_give_the_text_as_typed() {
        let text = "target.free<1Mi  ";
        let expression = Expression::parse(text, &Symbols::pool_predicate()).expect("valid expression");
        assert_eq!(expression.source(), text);
        assert_eq!(expression.to_string(), text);
        assert!(expression.clone().evaluate(&env));
    }

    #[test]
    fn missing_symbol_at_run_time_makes_the_expression_false() {
        let expression =
            Expression::parse("not (target.free > 0)", &Symbols::pool_predicate()).expect("valid expression");
        assert!(!expression.evaluate(&|_| None));
        assert!(!expression.evaluate(&|_| Some(Value::from("oops"))));
    }

    #[test]
    fn boolean_equality_compares() {
        assert!(!pool("(1 > 2) == (3 < 4)"));
        assert!(pool("(1 > 2) == (3 > 4)"));
    }

    #[test]
    fn tilde_equals_is_a_synonym_for_match() {
        assert!(pool("target.name ~= 'pool.*'"));
    }

    #[test]
    fn not_boolean_is_rejected() {
        let error = Expression::parse("1 + 1", &Symbols::new()).expect_err("not boolean");
        assert_eq!(error.message(), "Expression does not evaluate to a boolean");
    }

    #[test]
    fn deepest_accepted_expressions_check_and_evaluate() {
        let symbols = Symbols::new();
        let limit = MAX_NESTING;
        for (text, expected) in [
            (format!("1{} > 0", "+1".repeat(limit - 2)), true),
            (format!("{}true", "not ".repeat(limit - 1)), false),
            (format!("{}true", "false ? false : ".repeat(limit - 1)), true),
            (format!("{}-1{} < 0", "-(".repeat(limit - 3), ")".repeat(limit - 3)), false),
        ] {
            let expression = Expression::parse(&text, &symbols).expect("at the limit");
            assert_eq!(expression.evaluate(&|_| None), expected, "{text}");
            let deeper = format!("not ({text})");
            let error = Expression::parse(&deeper, &symbols).expect_err("beyond the limit");
            assert!(error.message().contains("nested deeper than 200"), "{error}");
        }
    }

    /// Every string of 1 to 3 characters over an alphabet of characters
    /// that matter to the lexer, and many pseudo-random longer ones: none
    /// may panic, whether parsed or evaluated.
    #[test]
    fn odd_inputs_never_panic() {
        let alphabet: Vec<char> = " \t\n()01.5'\"\\=~!<>*+-/%?:aotnrdeGiKkB$_é".chars().collect();
        let symbols = Symbols::pool_predicate();
        let try_one = |text: &str| {
            if let Ok(expression) = Expression::parse(text, &symbols) {
                expression.evaluate(&env);
                expression.evaluate(&|_| None);
            }
        };
        let mut texts = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> =
                texts.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
            longer.iter().for_each(|t| try_one(t));
            texts = longer;
        }

        let words = [
            "target.free",
            "source.name",
            "queue.files",
            "not",
            "and",
            "or",
            "true",
            "false",
            "(",
            ")",
            "1",
            "5 Gi",
            "0.5",
            "'pool.*'",
            "'a('",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "+",
            "-",
            "*",
            "/",
            "%",
            "**",
            "=~",
            "~=",
            "!~",
            "?",
            ":",
            " ",
            "'",
            "\"",
            "\n",
        ];
        // A fixed linear congruential generator: reproducible, no dependency.
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |bound: usize| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0) % bound
        };
        for _ in 0..20_000 {
            let length = next(12) + 1;
            let text: String = (0..length).map(|_| words[next(words.len())]).collect();
            try_one(&text);
        }
    }
}
