//! Recursive descent, with precedence climbing for the infix levels.
//! Levels, lowest first:
//!
//! | level | operators                         | associativity       |
//! |-------|-----------------------------------|---------------------|
//! | 1     | `c ? a : b`                       | right (nests in `b`)|
//! | 2     | `or`                              | left                |
//! | 3     | `and`                             | left                |
//! | 4     | prefix `not`                      | repeatable          |
//! | 5     | `==` `!=` `<=` `<` `>=` `>`       | left                |
//! | 6     | `+` `-`                           | left                |
//! | 7     | `*` `/` `%`                       | left                |
//! | 8     | `=~` `~=` `!~`                    | left                |
//! | 9     | prefix `+` `-`                    | repeatable          |
//! | 10    | `**`                              | left (as in dCache) |
//! | 11    | `( … )`, literal, identifier      |                     |
//!
//! Unlike dCache's parser, a parenthesised right operand keeps its own
//! operator: `1 + (2 - 3)` is `0`, not `2`.

use super::ast::{BinaryOp, Node};
use super::error::{Diagnostic, MAX_NESTING};
use super::lexer::{Infix, Leaf, Lexer, Operand, Punct};

/// A sub-tree and its height, which is bounded by [`MAX_NESTING`] so that
/// the recursive checker and evaluator cannot overflow the stack.
struct Parsed {
    node: Node,
    depth: usize,
}

type Parse = Result<Parsed, Diagnostic>;

/// Level of prefix `not`, between `and` and the comparisons.
const NOT_LEVEL: u8 = 4;

/// Level of the match operators, the tightest infix level handled by
/// precedence climbing (`**` is handled with the prefix signs).
const MATCH_LEVEL: u8 = 8;

/// Precedence level of an infix operator, as in the table above.
fn level(op: Infix) -> u8 {
    match op {
        Infix::Binary(BinaryOp::Or) => 2,
        Infix::Binary(BinaryOp::And) => 3,
        Infix::Binary(BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge) => 5,
        Infix::Binary(BinaryOp::Add | BinaryOp::Sub) => 6,
        Infix::Binary(BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem) => 7,
        Infix::Match { .. } => MATCH_LEVEL,
        Infix::Binary(BinaryOp::Pow) => 10,
    }
}

/// Parses a whole expression (no type checking).
pub(crate) fn parse(text: &str) -> Result<Node, Diagnostic> {
    let mut parser = Parser { lexer: Lexer::new(text), nesting: 0, expression_start: 0 };
    let parsed = parser.expression()?;
    if !parser.lexer.at_end() {
        return Err(parser.expected("operator or end of input"));
    }
    Ok(parsed.node)
}

/// The parser state.
struct Parser<'a> {
    lexer: Lexer<'a>,
    /// Current number of nested `expression()` calls (parentheses and `?:`
    /// branches): bounds the parser's own recursion.
    nesting: usize,
    /// Where the innermost full expression began: a missing operand there
    /// is reported as "expected expression", elsewhere as "expected operand".
    expression_start: usize,
}

impl Parser<'_> {
    #[inline(never)]
    fn expected(&self, what: &str) -> Diagnostic {
        let what = if self.lexer.after_bare_number() { format!("unit, {what}") } else { what.to_owned() };
        Diagnostic::expected(self.lexer.pos(), what)
    }

    /// Wraps `node`, whose deepest child has `child_depth`, checking the
    /// limit; `at` is where the error is reported.
    fn build(node: Node, child_depth: usize, at: usize) -> Parse {
        let depth = child_depth + 1;
        if depth > MAX_NESTING {
            return Err(Diagnostic::too_deep(at));
        }
        Ok(Parsed { node, depth })
    }

    // The recursion through parentheses passes `expression`, `conditional`,
    // `binary`, `factor` and `primary`; unoptimised builds give every
    // temporary its own stack slot, so these keep their work to a minimum
    // and leave building nodes to helpers that are not inlined.

    /// A full expression (level 1), as at the top, in parentheses and in
    /// the branches of `?:`.
    fn expression(&mut self) -> Parse {
        let start = self.lexer.pos();
        if self.nesting >= MAX_NESTING {
            return Err(Diagnostic::too_deep(start));
        }
        self.nesting += 1;
        let outer_start = std::mem::replace(&mut self.expression_start, start);
        let result = self.conditional(start);
        self.expression_start = outer_start;
        self.nesting -= 1;
        result
    }

    /// Level 1: `or-level (? expression : expression)?`.
    fn conditional(&mut self, start: usize) -> Parse {
        match self.binary(2) {
            Ok(condition) if self.lexer.eat_punct(Punct::Question) => self.branches(condition, start),
            result => result,
        }
    }

    /// After `condition ?`.
    #[inline(never)]
    fn branches(&mut self, condition: Parsed, start: usize) -> Parse {
        let then = self.expression()?;
        if !self.lexer.eat_punct(Punct::Colon) {
            return Err(self.expected("operator or ':'"));
        }
        let otherwise = self.expression()?;
        let depth = condition.depth.max(then.depth).max(otherwise.depth);
        let node = Node::Conditional {
            condition: Box::new(condition.node),
            then: Box::new(then.node),
            otherwise: Box::new(otherwise.node),
        };
        Self::build(node, depth, start)
    }

    /// Levels `min_level` to 8 by precedence climbing; every infix level is
    /// left-associative, so `1 < 2 < 3` is `(1 < 2) < 3` (a type error).
    fn binary(&mut self, min_level: u8) -> Parse {
        let mut left = if min_level <= NOT_LEVEL { self.negation() } else { self.factor() };
        loop {
            let at = self.lexer.pos();
            let accept = |op| (min_level..=MATCH_LEVEL).contains(&level(op));
            match (left, self.lexer.eat_infix(accept)) {
                (Ok(operand), Some(op)) => left = self.infix(operand, op, at),
                (result, _) => return result,
            }
        }
    }

    /// Level 4: prefix `not`, repeatable, applying to a level-5
    /// expression: `not a == b` is `not (a == b)`.
    fn negation(&mut self) -> Parse {
        let start = self.lexer.pos();
        let mut nots = 0;
        while self.lexer.eat_not() {
            nots += 1;
            if nots >= MAX_NESTING {
                return Err(Diagnostic::too_deep(self.lexer.pos()));
            }
        }
        let operand = if nots == 0 { self.factor() } else { self.binary(NOT_LEVEL + 1) };
        Self::negate(operand?, nots, start)
    }

    #[inline(never)]
    fn negate(mut operand: Parsed, nots: usize, start: usize) -> Parse {
        for _ in 0..nots {
            let node = Node::Not(Box::new(operand.node));
            operand = Self::build(node, operand.depth, start)?;
        }
        Ok(operand)
    }

    /// After `left op`: the right operand and the node.
    #[inline(never)]
    fn infix(&mut self, left: Parsed, op: Infix, at: usize) -> Parse {
        let right = self.binary(level(op) + 1)?;
        let depth = left.depth.max(right.depth);
        let (left, right) = (Box::new(left.node), Box::new(right.node));
        let node = match op {
            Infix::Binary(op) => Node::Binary { op, left, right },
            Infix::Match { negate } => Node::Match { negate, subject: left, pattern: right, compiled: None },
        };
        Self::build(node, depth, at)
    }

    /// Levels 9 and 10: any run of prefix signs (negating iff the number of
    /// `-` is odd) applied to `primary (** primary)*`. So `-2**2` is
    /// `-(2**2)`, `**` is LEFT-associative as in dCache (`2**3**2` is 64),
    /// and an exponent cannot carry a sign.
    fn factor(&mut self) -> Parse {
        let start = self.lexer.pos();
        let mut negate = false;
        while let Some(minus) = self.lexer.eat_sign() {
            negate ^= minus;
        }
        match self.primary(false) {
            Ok(base) => self.powers(base, negate, start),
            error => error,
        }
    }

    /// After the base: `(** primary)*`, then the sign if any.
    #[inline(never)]
    fn powers(&mut self, mut base: Parsed, negate: bool, start: usize) -> Parse {
        let pow = Infix::Binary(BinaryOp::Pow);
        loop {
            let at = self.lexer.pos();
            if self.lexer.eat_infix(|op| op == pow).is_none() {
                break;
            }
            let exponent = self.primary(true)?;
            let depth = base.depth.max(exponent.depth);
            let node = Node::Binary { op: BinaryOp::Pow, left: Box::new(base.node), right: Box::new(exponent.node) };
            base = Self::build(node, depth, at)?;
        }
        if !negate {
            return Ok(base);
        }
        Self::build(Node::Neg(Box::new(base.node)), base.depth, start)
    }

    /// Level 11: literal, identifier or `( expression )`.
    fn primary(&mut self, exponent: bool) -> Parse {
        match self.lexer.operand() {
            Ok(Some(Operand::Open)) => match self.expression() {
                Ok(inner) if self.lexer.eat_punct(Punct::Close) => Ok(inner),
                Ok(_) => Err(self.expected("operator or ')'")),
                error => error,
            },
            Ok(Some(Operand::Leaf(leaf))) => Ok(Self::leaf(leaf)),
            Ok(None) => Err(self.missing_operand(exponent)),
            Err(diagnostic) => Err(diagnostic),
        }
    }

    #[inline(never)]
    fn leaf(leaf: Leaf) -> Parsed {
        let node = match leaf {
            Leaf::Number(value) => Node::Number(value),
            Leaf::Str(value) => Node::Str(value),
            Leaf::Bool(value) => Node::Bool(value),
            Leaf::Ident(name) => Node::Ident(name),
        };
        Parsed { node, depth: 1 }
    }

    #[inline(never)]
    fn missing_operand(&self, exponent: bool) -> Diagnostic {
        if self.lexer.pos() == self.expression_start {
            self.expected("expression")
        } else if exponent && self.lexer.at_sign() {
            let what = "operand (a signed exponent needs parentheses: 2 ** (-1))";
            Diagnostic::expected(self.lexer.pos(), what)
        } else {
            self.expected("operand")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ExprError;

    /// The tree in a compact prefix notation, to compare shapes.
    fn shape(node: &Node) -> String {
        match node {
            Node::Number(n) => n.to_string(),
            Node::Str(s) => format!("'{s}'"),
            Node::Bool(b) => b.to_string(),
            Node::Ident(name) => name.clone(),
            Node::Neg(operand) => format!("(neg {})", shape(operand)),
            Node::Not(operand) => format!("(not {})", shape(operand)),
            Node::Binary { op, left, right } => {
                format!("({op:?} {} {})", shape(left), shape(right))
            }
            Node::Match { negate, subject, pattern, .. } => {
                let op = if *negate { "NotMatch" } else { "Match" };
                format!("({op} {} {})", shape(subject), shape(pattern))
            }
            Node::Conditional { condition, then, otherwise } => {
                format!("(if {} {} {})", shape(condition), shape(then), shape(otherwise))
            }
        }
    }

    fn tree(text: &str) -> String {
        match parse(text) {
            Ok(node) => shape(&node),
            Err(e) => panic!("{}", ExprError::syntax(text, &e)),
        }
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(node) => panic!("{text:?} parsed as {}", shape(&node)),
            Err(e) => ExprError::syntax(text, &e).to_string(),
        }
    }

    fn headline(text: &str) -> String {
        let message = error(text);
        message.lines().next().unwrap_or_default().to_owned()
    }

    #[test]
    fn every_binary_operator_parses() {
        for (text, op) in [
            ("a or b", "Or"),
            ("a and b", "And"),
            ("a == b", "Eq"),
            ("a != b", "Ne"),
            ("a < b", "Lt"),
            ("a <= b", "Le"),
            ("a > b", "Gt"),
            ("a >= b", "Ge"),
            ("a + b", "Add"),
            ("a - b", "Sub"),
            ("a * b", "Mul"),
            ("a / b", "Div"),
            ("a % b", "Rem"),
            ("a ** b", "Pow"),
            ("a =~ b", "Match"),
            ("a ~= b", "Match"),
            ("a !~ b", "NotMatch"),
        ] {
            assert_eq!(tree(text), format!("({op} a b)"), "{text}");
        }
    }

    #[test]
    fn or_is_weaker_than_and() {
        assert_eq!(tree("a or b and c"), "(Or a (And b c))");
        assert_eq!(tree("a and b or c"), "(Or (And a b) c)");
    }

    #[test]
    fn or_and_and_are_left_associative() {
        assert_eq!(tree("a or b or c"), "(Or (Or a b) c)");
        assert_eq!(tree("a and b and c"), "(And (And a b) c)");
    }

    #[test]
    fn not_is_weaker_than_comparison() {
        assert_eq!(tree("not a == b"), "(not (Eq a b))");
        assert_eq!(tree("not a and b"), "(And (not a) b)");
    }

    #[test]
    fn not_repeats() {
        assert_eq!(tree("not not a"), "(not (not a))");
        assert_eq!(tree("notnot a"), "(not (not a))");
    }

    #[test]
    fn comparison_is_left_associative() {
        assert_eq!(tree("1 < 2 < 3"), "(Lt (Lt 1 2) 3)");
        assert_eq!(tree("a == b != c"), "(Ne (Eq a b) c)");
    }

    #[test]
    fn comparison_is_weaker_than_additive() {
        assert_eq!(tree("a + 1 < b - 1"), "(Lt (Add a 1) (Sub b 1))");
    }

    #[test]
    fn additive_is_left_associative_and_weaker_than_multiplicative() {
        assert_eq!(tree("1 - 2 - 3"), "(Sub (Sub 1 2) 3)");
        assert_eq!(tree("1 + 2 * 3"), "(Add 1 (Mul 2 3))");
        assert_eq!(tree("1 * 2 + 3"), "(Add (Mul 1 2) 3)");
    }

    #[test]
    fn multiplicative_is_left_associative() {
        assert_eq!(tree("8 / 4 / 2"), "(Div (Div 8 4) 2)");
        assert_eq!(tree("8 % 5 * 2"), "(Mul (Rem 8 5) 2)");
    }

    #[test]
    fn match_binds_tighter_than_multiplication() {
        assert_eq!(tree("a * b =~ c"), "(Mul a (Match b c))");
        assert_eq!(tree("a =~ b !~ c"), "(NotMatch (Match a b) c)");
    }

    #[test]
    fn unary_signs_bind_tighter_than_match_and_looser_than_power() {
        assert_eq!(tree("-a =~ b"), "(Match (neg a) b)");
        assert_eq!(tree("-2**2"), "(neg (Pow 2 2))");
    }

    #[test]
    fn unary_signs_negate_iff_odd_number_of_minuses() {
        assert_eq!(tree("--1"), "1");
        assert_eq!(tree("-+-+-1"), "(neg 1)");
        assert_eq!(tree("+1"), "1");
        assert_eq!(tree("1 - -1"), "(Sub 1 (neg 1))");
    }

    #[test]
    fn power_is_left_associative() {
        assert_eq!(tree("2**3**2"), "(Pow (Pow 2 3) 2)");
    }

    #[test]
    fn power_exponent_cannot_be_signed() {
        assert_eq!(
            headline("2**-1"),
            "Invalid expression: Invalid input '-', expected operand (a signed exponent needs parentheses: 2 ** (-1)) (line 1, pos 4):"
        );
        assert_eq!(tree("2**(-1)"), "(Pow 2 (neg 1))");
    }

    #[test]
    fn parentheses_override_precedence_and_leave_no_node() {
        assert_eq!(tree("(1 + 2) * 3"), "(Mul (Add 1 2) 3)");
        assert_eq!(tree("1 + (2 - 3)"), "(Add 1 (Sub 2 3))");
        assert_eq!(tree("((( a )))"), "a");
    }

    #[test]
    fn conditional_is_weakest_and_nests_to_the_right() {
        assert_eq!(tree("a or b ? 1 : 2"), "(if (Or a b) 1 2)");
        assert_eq!(tree("x ? 1 : y ? 2 : 3"), "(if x 1 (if y 2 3))");
        assert_eq!(tree("x ? y ? 1 : 2 : 3"), "(if x (if y 1 2) 3)");
        assert_eq!(tree("x ? 1 : 2 == 3"), "(if x 1 (Eq 2 3))");
    }

    #[test]
    fn keywords_need_no_word_boundary() {
        assert_eq!(tree("notfalse"), "(not false)");
        assert_eq!(tree("true andtrue"), "(And true true)");
        assert_eq!(tree("queue.files>0or targets==0"), "(Or (Gt queue.files 0) (Eq targets 0))");
        assert_eq!(tree("target.free>0and true"), "(And (Gt target.free 0) true)");
        assert_eq!(tree("5Gi or 1 kand x"), "(Or 5368709120 (And 1000 x))");
    }

    #[test]
    fn white_space_is_allowed_after_every_token_only() {
        assert_eq!(tree("( 1\t+\n2\r)\x0C==3 "), "(Eq (Add 1 2) 3)");
        assert_eq!(tree("true "), "true");
        assert_eq!(
            error(" true"),
            "Invalid expression: Invalid input ' ', expected expression (line 1, pos 1):\n true\n^\n"
        );
    }

    #[test]
    fn empty_input_expects_an_expression() {
        assert_eq!(error(""), "Invalid expression: Invalid input 'EOI', expected expression (line 1, pos 1):\n\n^\n");
    }

    #[test]
    fn missing_operand_is_reported_where_it_is_missing() {
        assert_eq!(
            error("1 +"),
            "Invalid expression: Invalid input 'EOI', expected operand (line 1, pos 4):\n1 +\n   ^\n"
        );
        assert_eq!(headline("( )"), "Invalid expression: Invalid input ')', expected expression (line 1, pos 3):");
        assert_eq!(headline("not )"), "Invalid expression: Invalid input ')', expected operand (line 1, pos 5):");
    }

    #[test]
    fn missing_closers_are_named() {
        assert_eq!(
            headline("(1 + 2"),
            "Invalid expression: Invalid input 'EOI', expected unit, operator or ')' (line 1, pos 7):"
        );
        assert_eq!(
            headline("(a"),
            "Invalid expression: Invalid input 'EOI', expected operator or ')' (line 1, pos 3):"
        );
        assert_eq!(
            headline("x ? 1"),
            "Invalid expression: Invalid input 'EOI', expected unit, operator or ':' (line 1, pos 6):"
        );
        assert_eq!(
            headline("a b"),
            "Invalid expression: Invalid input 'b', expected operator or end of input (line 1, pos 3):"
        );
    }

    #[test]
    fn numbers_reject_exponent_leading_dot_and_byte_suffix() {
        assert_eq!(
            headline("1.5e3 > 0"),
            "Invalid expression: Invalid input 'e', expected unit, operator or end of input (line 1, pos 4):"
        );
        assert_eq!(headline(".5 > 0"), "Invalid expression: Invalid input '.', expected expression (line 1, pos 1):");
        assert_eq!(
            headline("x < 5 GiB"),
            "Invalid expression: Invalid input 'B', expected operator or end of input (line 1, pos 9):"
        );
        assert_eq!(
            headline("x < 1kB"),
            "Invalid expression: Invalid input 'B', expected operator or end of input (line 1, pos 7):"
        );
    }

    #[test]
    fn numbers_with_units_parse() {
        assert_eq!(tree("x < 5 Gi"), "(Lt x 5368709120)");
        assert_eq!(tree("x < 5Gi"), "(Lt x 5368709120)");
        assert_eq!(tree("x < 1k"), "(Lt x 1000)");
        assert_eq!(tree("x < 01"), "(Lt x 1)");
    }

    #[test]
    fn bad_strings_are_syntax_errors() {
        assert_eq!(
            headline("'a\\b' == x"),
            "Invalid expression: Invalid input '\\', expected closing quote (strings cannot contain a backslash or a line break) (line 1, pos 3):"
        );
        assert_eq!(
            headline("x == 'ab"),
            "Invalid expression: Invalid input 'EOI', expected closing quote (line 1, pos 9):"
        );
    }

    #[test]
    fn single_equals_is_not_an_operator() {
        assert_eq!(
            headline("a = b"),
            "Invalid expression: Invalid input '=', expected operator or end of input (line 1, pos 3):"
        );
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let parens = format!("{}1{}", "(".repeat(MAX_NESTING - 1), ")".repeat(MAX_NESTING - 1));
        assert_eq!(tree(&parens), "1");
        let chain = format!("1{}", "+1".repeat(MAX_NESTING - 1));
        assert!(parse(&chain).is_ok());
        let nots = format!("{}true", "not ".repeat(MAX_NESTING - 1));
        assert!(parse(&nots).is_ok());
    }

    #[test]
    fn nesting_beyond_the_limit_is_a_parse_error() {
        let too_deep = "Expression nested deeper than 200 levels";
        for text in [
            format!("{}1{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1)),
            "(".repeat(100_000),
            format!("1{}", "+1".repeat(MAX_NESTING)),
            format!("{}true", "not ".repeat(100_000)),
            format!("{}1", "-(".repeat(MAX_NESTING)),
            "x ? 1 : ".repeat(MAX_NESTING) + "2",
            format!("1{}", "**1".repeat(100_000)),
        ] {
            let message = error(&text);
            assert!(message.contains(too_deep), "{message}");
        }
    }
}
