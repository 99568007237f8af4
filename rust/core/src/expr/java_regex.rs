//! Translation of a subset of Java's regular expression syntax (what dCache
//! uses) into the syntax of the `regex` crate, anchored for a whole match
//! like Java's `Matcher.matches()`.
//!
//! Supported: literal characters, `.`, `^`, `$`, classes `[...]`/`[^...]`
//! with ranges, `\d \D \w \W \s \S` (ASCII, as in Java), the escapes
//! `\t \n \r \f \a \e \xhh \uhhhh` and a backslash before any other
//! non-letter, groups `(...)`, `(?:...)`, `(?<name>...)`, alternation,
//! and the quantifiers `* + ? {n} {n,} {n,m}`, each optionally lazy (`?`).
//! Everything else that Java knows (possessive quantifiers, back
//! references, look-around, atomic groups, inline flags, `\b`, `\p{..}`,
//! `\Q..\E`, nested classes, `&&`, octal escapes, ...) is rejected as
//! unsupported rather than silently matching differently.

use std::fmt;

use ::regex::Regex;

/// Deepest group nesting translated; keeps the translator's recursion
/// and the `regex` crate's own nesting limit (250) out of reach.
const MAX_GROUP_NESTING: usize = 100;

/// Java's `.` without DOTALL: anything but a line terminator.
const DOT: &str = r"[^\n\r\x{85}\x{2028}\x{2029}]";

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegexError {
    /// Valid Java, outside the supported subset.
    Unsupported(String),
    /// Not a valid pattern (or too big to compile).
    Invalid(String),
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegexError::Unsupported(why) => write!(f, "unsupported regular expression: {why}"),
            RegexError::Invalid(why) => write!(f, "invalid regular expression: {why}"),
        }
    }
}

/// Compiles a Java pattern into a regex that must match a whole string.
pub(crate) fn compile(pattern: &str) -> Result<Regex, RegexError> {
    let body = translate(pattern)?;
    Regex::new(&format!("^(?:{body})$")).map_err(|error| {
        let why = match error {
            ::regex::Error::CompiledTooBig(limit) => {
                format!("compiled pattern exceeds {limit} bytes")
            }
            other => {
                let text = other.to_string();
                let last = text.lines().rev().find(|line| !line.trim().is_empty());
                last.unwrap_or("rejected by the regex engine").trim().to_owned()
            }
        };
        RegexError::Invalid(format!("{why} in '{pattern}'"))
    })
}

/// The `regex` crate syntax for a Java pattern (not anchored).
pub(crate) fn translate(pattern: &str) -> Result<String, RegexError> {
    let mut translator = Translator {
        pattern,
        chars: pattern.chars().collect(),
        at: 0,
        out: String::with_capacity(pattern.len() * 2),
        groups: 0,
    };
    translator.alternation()?;
    if translator.peek().is_some() {
        // alternation() stops only at the end or at a `)` it did not open.
        return Err(translator.invalid(translator.at, "unmatched ')'"));
    }
    Ok(translator.out)
}

/// A predefined class such as `\d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Digit,
    NotDigit,
    Word,
    NotWord,
    Space,
    NotSpace,
}

impl Set {
    /// The members, for use inside `[...]`. Java's classes are ASCII-only
    /// by default while the crate's are Unicode, hence explicit ranges.
    fn inside(self) -> &'static str {
        match self {
            Set::Digit => "0-9",
            Set::NotDigit => "[^0-9]",
            Set::Word => "a-zA-Z_0-9",
            Set::NotWord => "[^a-zA-Z_0-9]",
            Set::Space => r"\t\n\x0B\x0C\r ",
            Set::NotSpace => r"[^\t\n\x0B\x0C\r ]",
        }
    }
}

/// What an escape sequence stands for.
enum Escaped {
    Char(char),
    Set(Set),
}

struct Translator<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    /// Index into `chars`.
    at: usize,
    out: String,
    /// Currently open groups.
    groups: usize,
}

impl Translator<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_second(&self) -> Option<char> {
        self.chars.get(self.at + 1).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn invalid(&self, at: usize, what: &str) -> RegexError {
        RegexError::Invalid(format!("{what} at position {} in '{}'", at + 1, self.pattern))
    }

    fn unsupported(&self, at: usize, what: &str) -> RegexError {
        RegexError::Unsupported(format!("{what} at position {} in '{}'", at + 1, self.pattern))
    }

    fn literal(&mut self, c: char) {
        let mut buffer = [0; 4];
        self.out.push_str(&::regex::escape(c.encode_utf8(&mut buffer)));
    }

    /// `sequence (| sequence)*`
    fn alternation(&mut self) -> Result<(), RegexError> {
        self.sequence()?;
        while self.peek() == Some('|') {
            self.at += 1;
            self.out.push('|');
            self.sequence()?;
        }
        Ok(())
    }

    /// `(atom quantifier?)*`
    fn sequence(&mut self) -> Result<(), RegexError> {
        while let Some(c) = self.peek() {
            match c {
                '|' | ')' => break,
                '*' | '+' | '?' => {
                    return Err(self.invalid(self.at, &format!("dangling meta character '{c}'")));
                }
                '{' => return Err(self.invalid(self.at, "illegal repetition '{'")),
                _ => {
                    self.atom()?;
                    self.quantifier()?;
                }
            }
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<(), RegexError> {
        let start = self.at;
        let Some(c) = self.next() else {
            return Ok(());
        };
        match c {
            '(' => self.group(start)?,
            '[' => self.class(start)?,
            '.' => self.out.push_str(DOT),
            '^' | '$' => self.out.push(c),
            '\\' => match self.escape(start)? {
                Escaped::Char(c) => self.literal(c),
                Escaped::Set(set) => {
                    self.out.push('[');
                    self.out.push_str(set.inside());
                    self.out.push(']');
                }
            },
            // Java treats an unopened `]` or `}` as a literal; so do we.
            c => self.literal(c),
        }
        Ok(())
    }

    /// After `(`: the group kind, the alternation and the `)`.
    fn group(&mut self, start: usize) -> Result<(), RegexError> {
        if self.peek() == Some('?') {
            self.at += 1;
            match self.next() {
                Some(':') => {}
                Some('=' | '!') => return Err(self.unsupported(start, "lookahead")),
                Some('<') if matches!(self.peek(), Some('=' | '!')) => {
                    return Err(self.unsupported(start, "lookbehind"));
                }
                Some('<') if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) => {
                    while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                        self.at += 1;
                    }
                    if self.next() != Some('>') {
                        return Err(self.invalid(start, "named group without closing '>'"));
                    }
                }
                Some('>') => return Err(self.unsupported(start, "atomic group")),
                Some('i' | 'd' | 'm' | 's' | 'u' | 'x' | 'U' | '-') => {
                    return Err(self.unsupported(start, "inline flags"));
                }
                _ => return Err(self.invalid(start, "unknown group type")),
            }
        }
        if self.groups >= MAX_GROUP_NESTING {
            return Err(self.unsupported(start, "groups nested more than 100 deep"));
        }
        self.groups += 1;
        // Captures are never read, so every group becomes non-capturing.
        self.out.push_str("(?:");
        self.alternation()?;
        if self.next() != Some(')') {
            return Err(self.invalid(start, "unclosed group"));
        }
        self.out.push(')');
        self.groups -= 1;
        Ok(())
    }

    /// An optional quantifier after an atom.
    fn quantifier(&mut self) -> Result<(), RegexError> {
        let start = self.at;
        match self.peek() {
            Some(c @ ('*' | '+' | '?')) => {
                self.at += 1;
                self.out.push(c);
            }
            Some('{') => {
                self.at += 1;
                let bounds = self.bounds(start)?;
                self.out.push_str(&bounds);
            }
            _ => return Ok(()),
        }
        match self.peek() {
            Some('?') => {
                self.at += 1;
                self.out.push('?');
            }
            Some('+') => return Err(self.unsupported(start, "possessive quantifier")),
            _ => {}
        }
        Ok(())
    }

    /// After `{`: `n}`, `n,}` or `n,m}`.
    fn bounds(&mut self, start: usize) -> Result<String, RegexError> {
        let Some(min) = self.count(start)? else {
            return Err(self.invalid(start, "illegal repetition '{'"));
        };
        let bounds = if self.peek() == Some(',') {
            self.at += 1;
            match self.count(start)? {
                Some(max) if max < min => {
                    return Err(self.invalid(start, "illegal repetition range"));
                }
                Some(max) => format!("{{{min},{max}}}"),
                None => format!("{{{min},}}"),
            }
        } else {
            format!("{{{min}}}")
        };
        if self.next() != Some('}') {
            return Err(self.invalid(start, "unclosed counted closure"));
        }
        Ok(bounds)
    }

    /// Decimal digits, if any.
    fn count(&mut self, start: usize) -> Result<Option<u32>, RegexError> {
        let mut value: Option<u32> = None;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            self.at += 1;
            let next = value.unwrap_or(0).checked_mul(10).and_then(|v| v.checked_add(digit));
            value = Some(next.ok_or_else(|| self.invalid(start, "repetition count too large"))?);
        }
        Ok(value)
    }

    /// After `[`: members up to the closing `]`.
    fn class(&mut self, start: usize) -> Result<(), RegexError> {
        self.out.push('[');
        if self.peek() == Some('^') {
            self.at += 1;
            self.out.push('^');
        }
        // A `]` right after `[` or `[^` is a member, as in Java.
        let mut first = true;
        loop {
            let item = self.at;
            match self.peek() {
                None => return Err(self.invalid(start, "unclosed character class")),
                Some(']') if !first => {
                    self.at += 1;
                    self.out.push(']');
                    return Ok(());
                }
                Some('&') if self.peek_second() == Some('&') => {
                    return Err(self.unsupported(item, "character class intersection '&&'"));
                }
                _ => {}
            }
            first = false;
            match self.class_atom(start)? {
                Escaped::Char(low) if self.peek() == Some('-') && !matches!(self.peek_second(), None | Some(']')) => {
                    self.at += 1;
                    match self.class_atom(start)? {
                        Escaped::Char(high) if high >= low => {
                            self.literal(low);
                            self.out.push('-');
                            self.literal(high);
                        }
                        _ => return Err(self.invalid(item, "illegal character range")),
                    }
                }
                Escaped::Char(c) => self.literal(c),
                Escaped::Set(set) => self.out.push_str(set.inside()),
            }
        }
    }

    fn class_atom(&mut self, start: usize) -> Result<Escaped, RegexError> {
        let at = self.at;
        match self.next() {
            None => Err(self.invalid(start, "unclosed character class")),
            Some('\\') => self.escape(at),
            Some('[') => Err(self.unsupported(at, "nested character class")),
            Some(c) => Ok(Escaped::Char(c)),
        }
    }

    /// After `\`.
    fn escape(&mut self, start: usize) -> Result<Escaped, RegexError> {
        let Some(c) = self.next() else {
            return Err(self.invalid(start, "pattern ends with '\\'"));
        };
        let unsupported = |what: &str| Err(self.unsupported(start, what));
        let escaped = match c {
            'd' => Escaped::Set(Set::Digit),
            'D' => Escaped::Set(Set::NotDigit),
            'w' => Escaped::Set(Set::Word),
            'W' => Escaped::Set(Set::NotWord),
            's' => Escaped::Set(Set::Space),
            'S' => Escaped::Set(Set::NotSpace),
            't' => Escaped::Char('\t'),
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\x0C'),
            'a' => Escaped::Char('\x07'),
            'e' => Escaped::Char('\x1B'),
            'x' if self.peek() == Some('{') => return unsupported("escape '\\x{...}'"),
            'x' => Escaped::Char(self.hex(start, 2)?),
            'u' => Escaped::Char(self.hex(start, 4)?),
            '0' => return unsupported("octal escape"),
            '1'..='9' | 'k' => return unsupported("back reference"),
            'b' | 'B' | 'A' | 'G' | 'Z' | 'z' => return unsupported("boundary matcher"),
            'p' | 'P' => return unsupported("Unicode property class"),
            'Q' | 'E' => return unsupported("quotation \\Q...\\E"),
            'c' | 'h' | 'H' | 'v' | 'V' | 'R' | 'X' | 'N' => {
                return unsupported(&format!("escape '\\{c}'"));
            }
            c if c.is_ascii_alphabetic() => {
                return Err(self.invalid(start, &format!("illegal escape sequence '\\{c}'")));
            }
            c => Escaped::Char(c),
        };
        Ok(escaped)
    }

    /// Exactly `digits` hexadecimal digits forming a character.
    fn hex(&mut self, start: usize, digits: usize) -> Result<char, RegexError> {
        let mut value = 0;
        for _ in 0..digits {
            let Some(digit) = self.peek().and_then(|c| c.to_digit(16)) else {
                return Err(self.invalid(start, "illegal hexadecimal escape sequence"));
            };
            self.at += 1;
            value = value * 16 + digit;
        }
        char::from_u32(value).ok_or_else(|| self.unsupported(start, "surrogate code unit escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        match compile(pattern) {
            Ok(regex) => regex.is_match(text),
            Err(e) => panic!("{pattern:?}: {e}"),
        }
    }

    fn error(pattern: &str) -> String {
        match compile(pattern) {
            Ok(regex) => panic!("{pattern:?} compiled to {regex}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn pattern_must_match_the_whole_text() {
        assert!(matches("(bla)+", "blabla"));
        assert!(!matches("pool1", "pool12"));
        assert!(!matches("pool1", "apool1"));
        assert!(matches("pool1", "pool1"));
        assert!(matches("a|b", "b"));
        assert!(!matches("a|b", "ab"));
    }

    #[test]
    fn literal_characters_are_escaped() {
        for text in ["a-b", "a#b", "a&b", "a~b", "a b", "}", "]", "é"] {
            assert!(matches(text, text), "{text}");
        }
        assert!(!matches("a b", "a  b"));
    }

    #[test]
    fn dot_matches_anything_but_line_terminators() {
        assert!(matches("a.c", "abc"));
        assert!(matches("...", "a.é"));
        assert!(!matches("a.c", "a\nc"));
        assert!(!matches("a.c", "a\rc"));
    }

    #[test]
    fn classes_ranges_and_negation() {
        assert!(matches("pool[0-9]+", "pool12"));
        assert!(!matches("pool[0-9]+", "pool"));
        assert!(matches("[^a-c]", "d"));
        assert!(!matches("[^a-c]", "b"));
        assert!(matches("[a-]+", "a-a"));
        assert!(matches("[-a]+", "-a"));
        assert!(matches("[]a]+", "]a"));
        assert!(matches("[^]a]", "b"));
        assert!(matches("[.$^]+", ".$^"));
    }

    #[test]
    fn predefined_classes_are_ascii_like_java() {
        assert!(matches("\\d+", "123"));
        assert!(!matches("\\d", "٣"));
        assert!(matches("\\D", "x"));
        assert!(matches("\\w+", "a_Z9"));
        assert!(!matches("\\w", "é"));
        assert!(matches("\\W", "é"));
        assert!(matches("\\s", "\x0B"));
        assert!(matches("\\S", "x"));
        assert!(matches("[\\d_]+", "1_2"));
        assert!(matches("[^\\D]", "5"));
        assert!(!matches("[^\\D]", "x"));
    }

    #[test]
    fn character_escapes() {
        assert!(matches("\\.", "."));
        assert!(!matches("\\.", "x"));
        assert!(matches("\\\\", "\\"));
        assert!(matches("\\t\\n\\r\\f\\a\\e", "\t\n\r\x0C\x07\x1B"));
        assert!(matches("\\x41\\u00e9", "Aé"));
        assert!(matches("[\\]]", "]"));
    }

    #[test]
    fn groups_and_alternation() {
        assert!(matches("(?:ab|cd)+", "abcdab"));
        assert!(matches("(?<name>ab)c", "abc"));
        assert!(matches("a(|b)", "a"));
        assert!(matches("", ""));
        assert!(matches("()", ""));
    }

    #[test]
    fn quantifiers_and_lazy_forms() {
        assert!(matches("a*", ""));
        assert!(matches("a+?", "aaa"));
        assert!(matches("a??b", "b"));
        assert!(matches("a{2}", "aa"));
        assert!(!matches("a{2}", "aaa"));
        assert!(matches("a{2,}", "aaaa"));
        assert!(matches("a{1,2}?", "aa"));
        assert!(!matches("a{1,2}", "aaa"));
    }

    #[test]
    fn unsupported_features_are_named() {
        for (pattern, what) in [
            ("a*+", "possessive quantifier at position 2"),
            ("a{2}+", "possessive quantifier"),
            ("(a)\\1", "back reference"),
            ("\\k<a>", "back reference"),
            ("a(?=b)", "lookahead"),
            ("a(?!b)", "lookahead"),
            ("(?<=a)b", "lookbehind"),
            ("(?<!a)b", "lookbehind"),
            ("(?>a)", "atomic group"),
            ("(?i)a", "inline flags"),
            ("\\bA", "boundary matcher"),
            ("\\p{L}", "Unicode property class"),
            ("\\Qa\\E", "quotation"),
            ("[a[b]]", "nested character class"),
            ("[a-z&&[^b]]", "character class intersection"),
            ("\\0101", "octal escape"),
            ("\\x{41}", "escape '\\x{...}'"),
            ("\\ud800", "surrogate"),
        ] {
            let message = error(pattern);
            assert!(message.starts_with("unsupported regular expression: "), "{message}");
            assert!(message.contains(what), "{pattern}: {message}");
        }
    }

    #[test]
    fn invalid_patterns_are_named() {
        for (pattern, what) in [
            ("(", "unclosed group at position 1 in '('"),
            ("a)", "unmatched ')' at position 2"),
            ("[a", "unclosed character class"),
            ("[]", "unclosed character class"),
            ("*a", "dangling meta character '*'"),
            ("a**", "dangling meta character '*'"),
            ("a{", "illegal repetition"),
            ("{1}", "illegal repetition"),
            ("a{2,1}", "illegal repetition range"),
            ("a{1", "unclosed counted closure"),
            ("a{99999999999}", "repetition count too large"),
            ("[z-a]", "illegal character range"),
            ("[a-\\d]", "illegal character range"),
            ("\\y", "illegal escape sequence '\\y'"),
            ("a\\", "pattern ends with '\\'"),
            ("\\xg1", "illegal hexadecimal escape"),
            ("(?%)", "unknown group type"),
            ("(?<a", "named group without closing '>'"),
            ("a{10000}{1}", "illegal repetition"),
            ("(a{1000}){1000}", "compiled pattern exceeds"),
        ] {
            let message = error(pattern);
            assert!(message.starts_with("invalid regular expression: "), "{message}");
            assert!(message.contains(what), "{pattern}: {message}");
        }
    }

    #[test]
    fn deep_group_nesting_is_rejected_not_overflowing() {
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(error(&deep).contains("nested more than 100 deep"));
        let ok = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(matches(&ok, "a"));
    }

    #[test]
    fn odd_patterns_never_panic() {
        let alphabet: Vec<char> = "()[]{}^$.|*+?\\-&a1,:=!<>dpkQ".chars().collect();
        let mut patterns = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> =
                patterns.iter().flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}"))).collect();
            for pattern in &longer {
                let _ = compile(pattern);
            }
            patterns = longer;
        }
    }
}
