//! Recognition of tokens, on demand of the parser.
//!
//! dCache's grammar is scannerless (a parboiled PEG), so what a piece of
//! text means depends on where the parser stands: the keywords `not`,
//! `and` and `or` need no word boundary (`notfalse` is `not false`,
//! `0or` is `0 or`), while `nothing` after `*` is an identifier. Hence no
//! token stream: the parser asks for the kind of token it can use next.
//! Every token swallows the white space after it; none swallows white space
//! before it, which is why leading white space is a syntax error.

use super::ast::BinaryOp;
use super::error::Diagnostic;

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Infix {
    Binary(BinaryOp),
    /// `=~` or `~=`; `!~` when negated.
    Match {
        negate: bool,
    },
}

/// Operators and punctuation that may follow an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Infix(Infix),
    Question,
    Colon,
    Close,
}

/// Punctuation the parser may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Punct {
    /// `?`
    Question,
    /// `:`
    Colon,
    /// `)`
    Close,
}

/// Longest spelling first, so `<=` wins over `<` and `**` over `*`.
const TOKENS: &[(&str, Token)] = &[
    ("**", Token::Infix(Infix::Binary(BinaryOp::Pow))),
    ("*", Token::Infix(Infix::Binary(BinaryOp::Mul))),
    ("==", Token::Infix(Infix::Binary(BinaryOp::Eq))),
    ("=~", Token::Infix(Infix::Match { negate: false })),
    // dCache's help text spells the match operator this way; accept both.
    ("~=", Token::Infix(Infix::Match { negate: false })),
    ("!=", Token::Infix(Infix::Binary(BinaryOp::Ne))),
    ("!~", Token::Infix(Infix::Match { negate: true })),
    ("<=", Token::Infix(Infix::Binary(BinaryOp::Le))),
    ("<", Token::Infix(Infix::Binary(BinaryOp::Lt))),
    (">=", Token::Infix(Infix::Binary(BinaryOp::Ge))),
    (">", Token::Infix(Infix::Binary(BinaryOp::Gt))),
    ("+", Token::Infix(Infix::Binary(BinaryOp::Add))),
    ("-", Token::Infix(Infix::Binary(BinaryOp::Sub))),
    ("/", Token::Infix(Infix::Binary(BinaryOp::Div))),
    ("%", Token::Infix(Infix::Binary(BinaryOp::Rem))),
    ("?", Token::Question),
    (":", Token::Colon),
    (")", Token::Close),
    ("and", Token::Infix(Infix::Binary(BinaryOp::And))),
    ("or", Token::Infix(Infix::Binary(BinaryOp::Or))),
];

/// Unit suffixes of numbers; the first that matches wins, so `Ki` is tried
/// before `K`. There is deliberately no `B`: `5 GiB` is an error.
const UNITS: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("k", 1e3),
    ("K", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
];

/// An opening parenthesis or a leaf of the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Open,
    Leaf(Leaf),
}

/// A literal or an identifier.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Leaf {
    Number(f64),
    Str(String),
    Bool(bool),
    Ident(String),
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0C')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

fn is_name_part(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

/// A position in the text plus the recognisers for each kind of token.
pub(crate) struct Lexer<'a> {
    text: &'a str,
    /// Byte offset, always on a character boundary.
    pos: usize,
    /// Where a number without unit ended, so that an error right there can
    /// mention that a unit would have been accepted.
    bare_number_end: Option<usize>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0, bare_number_end: None }
    }

    /// Byte offset of the next unread character.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// True right after a number that has no unit suffix.
    pub(crate) fn after_bare_number(&self) -> bool {
        self.bare_number_end == Some(self.pos)
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Consumes `len` bytes without the white space after them.
    fn bump(&mut self, len: usize) {
        self.pos = (self.pos + len).min(self.text.len());
    }

    fn bump_while(&mut self, accept: impl Fn(char) -> bool) {
        let len = self.rest().find(|c: char| !accept(c)).unwrap_or(self.rest().len());
        self.bump(len);
    }

    /// Consumes a token of `len` bytes and the white space after it.
    fn token(&mut self, len: usize) {
        self.bump(len);
        self.bump_while(is_space);
    }

    /// The keyword `not`; no word boundary needed (`notfalse`).
    pub(crate) fn eat_not(&mut self) -> bool {
        let found = self.rest().starts_with("not");
        if found {
            self.token(3);
        }
        found
    }

    /// True if a `+` or `-` comes next.
    pub(crate) fn at_sign(&self) -> bool {
        matches!(self.peek(), Some('+' | '-'))
    }

    /// A prefix sign: `Some(true)` for `-`, `Some(false)` for `+`.
    pub(crate) fn eat_sign(&mut self) -> Option<bool> {
        let negate = match self.peek()? {
            '-' => true,
            '+' => false,
            _ => return None,
        };
        self.token(1);
        Some(negate)
    }

    fn peek_token(&self) -> Option<(Token, usize)> {
        let rest = self.rest();
        TOKENS.iter().find(|(spelling, _)| rest.starts_with(spelling)).map(|&(spelling, token)| (token, spelling.len()))
    }

    fn eat_token(&mut self, accept: impl Fn(Token) -> bool) -> Option<Token> {
        let (token, len) = self.peek_token()?;
        if !accept(token) {
            return None;
        }
        self.token(len);
        Some(token)
    }

    /// An infix operator accepted by `accept`, if one comes next.
    pub(crate) fn eat_infix(&mut self, accept: impl Fn(Infix) -> bool) -> Option<Infix> {
        match self.eat_token(|t| matches!(t, Token::Infix(op) if accept(op)))? {
            Token::Infix(op) => Some(op),
            _ => None,
        }
    }

    /// The punctuation `punct`, if it comes next.
    pub(crate) fn eat_punct(&mut self, punct: Punct) -> bool {
        let wanted = match punct {
            Punct::Question => Token::Question,
            Punct::Colon => Token::Colon,
            Punct::Close => Token::Close,
        };
        self.eat_token(|t| t == wanted).is_some()
    }

    /// A literal, identifier or `(`; `Ok(None)` (nothing consumed) if none
    /// starts here, an error for a malformed string.
    // Not inlined: number parsing needs a large buffer that must not sit
    // in the frames of the recursive parser.
    #[inline(never)]
    pub(crate) fn operand(&mut self) -> Result<Option<Operand>, Diagnostic> {
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let operand = match c {
            '(' => {
                self.token(1);
                Operand::Open
            }
            '0'..='9' => Operand::Leaf(Leaf::Number(self.number())),
            '"' | '\'' => Operand::Leaf(Leaf::Str(self.string(c)?)),
            c if is_name_start(c) => Operand::Leaf(match self.boolean() {
                Some(value) => Leaf::Bool(value),
                None => Leaf::Ident(self.identifier()),
            }),
            _ => return Ok(None),
        };
        Ok(Some(operand))
    }

    /// `digits(.digits)?`, optional white space, optional unit.
    fn number(&mut self) -> f64 {
        let start = self.pos;
        self.bump_while(|c| c.is_ascii_digit());
        if let Some(fraction) = self.rest().strip_prefix('.')
            && fraction.starts_with(|c: char| c.is_ascii_digit())
        {
            self.bump(1);
            self.bump_while(|c| c.is_ascii_digit());
        }
        let number: f64 =
            self.text[start..self.pos].parse().expect("ASCII digits with an optional fraction always parse as f64");
        self.bump_while(is_space);
        let rest = self.rest();
        match UNITS.iter().find(|(unit, _)| rest.starts_with(unit)) {
            Some(&(unit, factor)) => {
                self.token(unit.len());
                number * factor
            }
            None => {
                self.bare_number_end = Some(self.pos);
                number
            }
        }
    }

    /// A string delimited by `quote`, without escapes.
    fn string(&mut self, quote: char) -> Result<String, Diagnostic> {
        let start = self.pos + quote.len_utf8();
        for (offset, c) in self.text[start..].char_indices() {
            if c == quote {
                let content = self.text[start..start + offset].to_owned();
                self.token(quote.len_utf8() + offset + quote.len_utf8());
                return Ok(content);
            }
            if matches!(c, '\\' | '\r' | '\n') {
                return Err(Diagnostic::expected(
                    start + offset,
                    "closing quote (strings cannot contain a backslash or a line break)",
                ));
            }
        }
        Err(Diagnostic::expected(self.text.len(), "closing quote"))
    }

    /// `true` or `false` unless a name character follows (`trueish` is an
    /// identifier).
    fn boolean(&mut self) -> Option<bool> {
        for (word, value) in [("true", true), ("false", false)] {
            if let Some(after) = self.rest().strip_prefix(word)
                && !after.starts_with(is_name_part)
            {
                self.token(word.len());
                return Some(value);
            }
        }
        None
    }

    /// `name(.name)*`; the caller has seen a name start character.
    fn identifier(&mut self) -> String {
        let start = self.pos;
        self.bump_while(is_name_part);
        while let Some(next) = self.rest().strip_prefix('.')
            && next.starts_with(is_name_start)
        {
            self.bump(1);
            self.bump_while(is_name_part);
        }
        let name = self.text[start..self.pos].to_owned();
        self.bump_while(is_space);
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(leaf: Leaf) -> Option<Operand> {
        Some(Operand::Leaf(leaf))
    }

    fn operand(text: &str) -> (Option<Operand>, &str) {
        let mut lexer = Lexer::new(text);
        let operand = lexer.operand().expect("well-formed operand");
        (operand, lexer.rest())
    }

    fn number(text: &str) -> (f64, &str) {
        match operand(text) {
            (Some(Operand::Leaf(Leaf::Number(n))), rest) => (n, rest),
            other => panic!("{text:?} is not a number: {other:?}"),
        }
    }

    #[test]
    fn numbers_are_digits_with_optional_fraction() {
        assert_eq!(number("42"), (42.0, ""));
        assert_eq!(number("0.25"), (0.25, ""));
        assert_eq!(number("01"), (1.0, ""));
    }

    #[test]
    fn number_does_not_take_exponent_or_dangling_dot() {
        assert_eq!(number("1.5e3"), (1.5, "e3"));
        assert_eq!(number("1."), (1.0, "."));
    }

    #[test]
    fn number_does_not_start_with_dot_or_sign() {
        assert_eq!(operand(".5"), (None, ".5"));
        assert_eq!(operand("-5"), (None, "-5"));
    }

    #[test]
    fn units_multiply_binary_and_decimal() {
        assert_eq!(number("1Ki").0, 1024.0);
        assert_eq!(number("1Mi").0, 1024.0 * 1024.0);
        assert_eq!(number("5Gi").0, 5.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(number("1Ti").0, 2f64.powi(40));
        assert_eq!(number("1Pi").0, 2f64.powi(50));
        assert_eq!(number("1k").0, 1e3);
        assert_eq!(number("1K").0, 1e3);
        assert_eq!(number("1M").0, 1e6);
        assert_eq!(number("1G").0, 1e9);
        assert_eq!(number("1T").0, 1e12);
        assert_eq!(number("1P").0, 1e15);
        assert_eq!(number("1.5k").0, 1500.0);
    }

    #[test]
    fn unit_may_follow_white_space() {
        assert_eq!(number("5 Gi"), (5.0 * 2f64.powi(30), ""));
        assert_eq!(number("1 \t k  "), (1e3, ""));
    }

    #[test]
    fn unit_takes_no_byte_suffix() {
        assert_eq!(number("5 GiB"), (5.0 * 2f64.powi(30), "B"));
        assert_eq!(number("1kB"), (1e3, "B"));
    }

    #[test]
    fn number_stops_before_keyword() {
        assert_eq!(number("0or x"), (0.0, "or x"));
        assert_eq!(number("0 or x"), (0.0, "or x"));
        assert_eq!(number("0and x"), (0.0, "and x"));
        assert_eq!(number("5Gi or x"), (5.0 * 2f64.powi(30), "or x"));
    }

    #[test]
    fn bare_number_remembers_that_a_unit_could_follow() {
        let mut lexer = Lexer::new("1 e");
        assert_eq!(lexer.operand(), Ok(leaf(Leaf::Number(1.0))));
        assert!(lexer.after_bare_number());
        let mut lexer = Lexer::new("1k e");
        assert_eq!(lexer.operand(), Ok(leaf(Leaf::Number(1e3))));
        assert!(!lexer.after_bare_number());
    }

    #[test]
    fn strings_take_either_quote_without_escapes() {
        assert_eq!(operand("'a\"b' x"), (leaf(Leaf::Str("a\"b".into())), "x"));
        assert_eq!(operand("\"a'b\""), (leaf(Leaf::Str("a'b".into())), ""));
        assert_eq!(operand("''"), (leaf(Leaf::Str(String::new())), ""));
    }

    #[test]
    fn strings_reject_backslash_line_breaks_and_missing_quote() {
        for (text, pos) in [("'a\\b'", 2), ("'a\nb'", 2), ("'a\rb'", 2), ("'ab", 3)] {
            let error = Lexer::new(text).operand().expect_err(text);
            assert_eq!(error.pos(), pos, "{text:?}");
        }
    }

    #[test]
    fn booleans_need_a_boundary_identifiers_do_not() {
        assert_eq!(operand("true"), (leaf(Leaf::Bool(true)), ""));
        assert_eq!(operand("false)"), (leaf(Leaf::Bool(false)), ")"));
        assert_eq!(operand("trueish"), (leaf(Leaf::Ident("trueish".into())), ""));
        assert_eq!(operand("false_1"), (leaf(Leaf::Ident("false_1".into())), ""));
        assert_eq!(operand("true$"), (leaf(Leaf::Ident("true$".into())), ""));
    }

    #[test]
    fn identifiers_are_dotted_names() {
        assert_eq!(operand("target.free<1"), (leaf(Leaf::Ident("target.free".into())), "<1"));
        assert_eq!(operand("$a._b.c9 "), (leaf(Leaf::Ident("$a._b.c9".into())), ""));
        assert_eq!(operand("a.1"), (leaf(Leaf::Ident("a".into())), ".1"));
        assert_eq!(operand("a."), (leaf(Leaf::Ident("a".into())), "."));
    }

    #[test]
    fn keywords_need_no_word_boundary() {
        let mut lexer = Lexer::new("notfalse");
        assert!(lexer.eat_not());
        assert_eq!(lexer.rest(), "false");
        let mut lexer = Lexer::new("andtrue");
        let and = Infix::Binary(BinaryOp::And);
        assert_eq!(lexer.eat_infix(|op| op == and), Some(and));
        assert_eq!(lexer.rest(), "true");
    }

    #[test]
    fn operators_match_greedily() {
        for (text, op) in [
            ("<=", BinaryOp::Le),
            ("<", BinaryOp::Lt),
            (">=", BinaryOp::Ge),
            (">", BinaryOp::Gt),
            ("**", BinaryOp::Pow),
            ("*", BinaryOp::Mul),
        ] {
            let mut lexer = Lexer::new(text);
            let op = Infix::Binary(op);
            assert_eq!(peek(&lexer), Some(Token::Infix(op)), "{text}");
            lexer.eat_infix(|o| o == op);
            assert!(lexer.at_end(), "{text}");
        }
    }

    fn peek(lexer: &Lexer) -> Option<Token> {
        lexer.peek_token().map(|(token, _)| token)
    }

    #[test]
    fn longer_operator_is_not_taken_for_a_shorter_one() {
        let mul = Infix::Binary(BinaryOp::Mul);
        assert_eq!(Lexer::new("**").eat_infix(|op| op == mul), None);
        let lt = Infix::Binary(BinaryOp::Lt);
        assert_eq!(Lexer::new("<=").eat_infix(|op| op == lt), None);
    }

    #[test]
    fn both_spellings_of_match_are_accepted() {
        let infix = |text| Lexer::new(text).eat_infix(|_| true);
        assert_eq!(infix("=~"), Some(Infix::Match { negate: false }));
        assert_eq!(infix("~="), Some(Infix::Match { negate: false }));
        assert_eq!(infix("!~"), Some(Infix::Match { negate: true }));
        assert_eq!(infix("!="), Some(Infix::Binary(BinaryOp::Ne)));
    }

    #[test]
    fn tokens_swallow_trailing_but_not_leading_white_space() {
        let mut lexer = Lexer::new(" (");
        assert_eq!(lexer.operand(), Ok(None));
        let mut lexer = Lexer::new("( \t\r\n\x0C1");
        assert_eq!(lexer.operand(), Ok(Some(Operand::Open)));
        assert_eq!(lexer.rest(), "1");
    }
}
