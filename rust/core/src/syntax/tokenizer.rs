//! Splits an admin command line into words the way dCache's shell does.
//!
//! Quoting rules: `'...'` is literal, `"..."` honours backslash escapes, and outside quotes a
//! backslash escapes the next character if it is one of `'`, `"`, space, `-`, `=` or `\`.
//! Before any other character the backslash is kept, so Windows-ish or regex-ish text such as
//! `a\d` survives untouched.

use std::iter::Peekable;
use std::str::CharIndices;

use super::CommandLineError;

/// One word of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    text: String,
    raw: String,
    option_candidate: bool,
    /// Byte offset in `text` of the first `=` typed bare (neither quoted nor escaped): an
    /// escaped or quoted `=` belongs to the option name, which is what makes the escaping
    /// done by the serialiser round-trip.
    bare_equals: Option<usize>,
}

impl Word {
    /// The value of the word with quotes removed and escapes resolved.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The word exactly as typed, quotes and backslashes included.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether the word starts with a bare `-` and so may be an option (or `--`, or a lone `-`).
    pub fn is_option_candidate(&self) -> bool {
        self.option_candidate
    }

    /// For an option candidate, its name (without the leading `-`) and value (empty if the
    /// word has no bare `=`); `None` for words that cannot be options.
    pub fn option_parts(&self) -> Option<(&str, &str)> {
        if !self.option_candidate {
            return None;
        }
        Some(match self.bare_equals {
            Some(at) => (&self.text[1..at], &self.text[at + 1..]),
            None => (&self.text[1..], ""),
        })
    }
}

/// Characters a backslash escapes; dCache keeps the backslash before anything else.
fn is_escapable(c: char) -> bool {
    matches!(c, '\'' | '"' | ' ' | '-' | '=' | '\\')
}

/// Word separators. Other white space is either a control character (refused by callers,
/// see [`find_control_character`]) or exotic enough to be treated as word content.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn unterminated() -> CommandLineError {
    CommandLineError::new("Unterminated quote")
}

/// Consumes the character after a backslash if it is escapable; otherwise keeps the backslash
/// and leaves the next character to be read normally.
fn push_escaped(chars: &mut Peekable<CharIndices<'_>>, text: &mut String) {
    match chars.peek() {
        Some(&(_, next)) if is_escapable(next) => {
            chars.next();
            text.push(next);
        }
        _ => text.push('\\'),
    }
}

/// Splits `line` into words; fails only on an unterminated quote.
pub fn tokenize(line: &str) -> Result<Vec<Word>, CommandLineError> {
    let mut words = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        while chars.next_if(|&(_, c)| is_blank(c)).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut text = String::new();
        let mut option_candidate = false;
        let mut bare_equals = None;
        while let Some((at, c)) = chars.next_if(|&(_, c)| !is_blank(c)) {
            match c {
                '\'' => loop {
                    match chars.next() {
                        None => return Err(unterminated()),
                        Some((_, '\'')) => break,
                        Some((_, c)) => text.push(c),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        None => return Err(unterminated()),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => push_escaped(&mut chars, &mut text),
                        Some((_, c)) => text.push(c),
                    }
                },
                '\\' => push_escaped(&mut chars, &mut text),
                '-' if at == start => {
                    option_candidate = true;
                    text.push('-');
                }
                '=' => {
                    bare_equals.get_or_insert(text.len());
                    text.push('=');
                }
                c => text.push(c),
            }
        }
        let end = chars.peek().map_or(line.len(), |&(at, _)| at);
        words.push(Word { text, raw: line[start..end].to_string(), option_candidate, bare_equals });
    }
    Ok(words)
}

/// The line as typed with white space normalised: raw words joined by single spaces.
///
/// This is how a job's command line is recorded, so that what the operator sees later is
/// what they typed, quotes and escapes included. One exception keeps the result meaning the
/// same: a word ending in a kept backslash (`a\<tab>b`) is followed by a tab, because a
/// space there would turn `\ ` into an escaped space and merge the two words.
pub fn normalized(line: &str) -> Result<String, CommandLineError> {
    let words = tokenize(line)?;
    let mut out = String::with_capacity(line.len());
    for (index, word) in words.iter().enumerate() {
        if index > 0 {
            out.push(if ends_with_kept_backslash(&words[index - 1]) { '\t' } else { ' ' });
        }
        out.push_str(&word.raw);
    }
    Ok(out)
}

/// A word's trailing backslashes are all outside quotes (a quote would need its closing
/// character after them), so they pair up as escapes and an odd one out was kept literally.
fn ends_with_kept_backslash(word: &Word) -> bool {
    let trailing = word.raw.chars().rev().take_while(|&c| c == '\\').count();
    trailing % 2 == 1
}

/// The first control character in `line` other than tab, if any.
///
/// Callers refuse such lines: a newline inside an argument would inject an extra line into
/// the saved setup file when the command is written back.
pub fn find_control_character(line: &str) -> Option<char> {
    line.chars().find(|&c| c.is_control() && c != '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        tokenize(line).expect("test line tokenizes").into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn white_space_separates_words_and_runs_collapse() {
        assert_eq!(texts("  a \t b\t\tc  "), ["a", "b", "c"]);
        assert!(tokenize(" \t ").expect("blank line").is_empty());
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(texts(r#"'a b\"c\\' x"#), [r#"a b\"c\\"#, "x"]);
    }

    #[test]
    fn double_quotes_honour_escapes() {
        assert_eq!(texts(r#""a \"b\" \\ c\d""#), [r#"a "b" \ c\d"#]);
    }

    #[test]
    fn quoted_parts_join_with_adjacent_text() {
        assert_eq!(texts(r#"ab'c d'"e f"g"#), ["abc de fg"]);
    }

    #[test]
    fn empty_quotes_make_an_empty_word() {
        assert_eq!(texts("a '' \"\" b"), ["a", "", "", "b"]);
    }

    #[test]
    fn backslash_escapes_listed_characters() {
        assert_eq!(texts(r#"\' \" a\ b \- \= \\"#), ["'", "\"", "a b", "-", "=", "\\"]);
    }

    #[test]
    fn backslash_before_other_character_is_kept() {
        assert_eq!(texts(r"a\d \n x\"), [r"a\d", r"\n", r"x\"]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        for line in ["'abc", "a \"b", r#""abc\""#, r#"x "y\"#] {
            let err = tokenize(line).expect_err("unterminated");
            assert_eq!(err.to_string(), "Unterminated quote");
        }
    }

    #[test]
    fn raw_keeps_the_word_as_typed() {
        let words = tokenize(r#"  -a="x  y" 'q'\  "#).expect("tokenizes");
        let raws: Vec<_> = words.iter().map(Word::raw).collect();
        assert_eq!(raws, [r#"-a="x  y""#, r"'q'\ "]);
    }

    #[test]
    fn only_a_bare_leading_dash_makes_an_option_candidate() {
        let words = tokenize(r"-x \-x '-x' a-b - --").expect("tokenizes");
        let candidates: Vec<_> = words.iter().map(Word::is_option_candidate).collect();
        assert_eq!(candidates, [true, false, false, false, true, true]);
    }

    #[test]
    fn option_parts_split_at_first_bare_equals() {
        let words = tokenize(r#"-a=b=c -a -a= -a\=b=c -"a=b" -x="p=q" arg=1"#).expect("tokenizes");
        let parts: Vec<_> = words.iter().map(Word::option_parts).collect();
        assert_eq!(
            parts,
            [
                Some(("a", "b=c")),
                Some(("a", "")),
                Some(("a", "")),
                Some(("a=b", "c")),
                Some(("a=b", "")),
                Some(("x", "p=q")),
                None,
            ]
        );
    }

    #[test]
    fn non_ascii_text_is_preserved() {
        assert_eq!(texts("pöol 'ü ß' \\é"), ["pöol", "ü ß", "\\é"]);
    }

    #[test]
    fn normalized_collapses_white_space_outside_quotes_only() {
        let line = "  migration   copy\t-a=\"x   y\"  b\\ \\ c   'd\te' ";
        assert_eq!(normalized(line).expect("normalizes"), "migration copy -a=\"x   y\" b\\ \\ c 'd\te'");
    }

    #[test]
    fn normalized_keeps_tab_after_kept_backslash() {
        let line = "a\\\tb  c\\\\ d\\\\\\\t e\\";
        let normal = normalized(line).expect("normalizes");
        assert_eq!(normal, "a\\\tb c\\\\ d\\\\\\\te\\");
        assert_eq!(texts(&normal), ["a\\", "b", "c\\", "d\\\\", "e\\"]);
    }

    #[test]
    fn normalized_reports_unterminated_quote() {
        assert_eq!(normalized("a 'b").expect_err("unterminated").to_string(), "Unterminated quote");
    }

    /// A small deterministic generator, so the property tests need no external crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    #[test]
    fn normalized_output_retokenizes_to_the_same_words() {
        let alphabet = ['a', '-', '=', ' ', ' ', '\t', '\'', '"', '\\', 'd', 'é'];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for _ in 0..5000 {
            let len = (rng.next() % 16) as usize;
            let line: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
            let Ok(words) = tokenize(&line) else {
                continue;
            };
            let normal = normalized(&line).expect("tokenizable line normalizes");
            assert_eq!(tokenize(&normal).expect("normalized line tokenizes"), words);
            assert_eq!(normalized(&normal).expect("idempotent"), normal, "{line:?}");
            checked += 1;
        }
        assert!(checked > 1000, "only {checked} lines were tokenizable");
    }

    #[test]
    fn control_characters_other_than_tab_are_found() {
        assert_eq!(find_control_character("a\tb c"), None);
        assert_eq!(find_control_character("a\nb"), Some('\n'));
        assert_eq!(find_control_character("a\rb\n"), Some('\r'));
        assert_eq!(find_control_character("a\0"), Some('\0'));
        assert_eq!(find_control_character("\x1b[0m"), Some('\x1b'));
        assert_eq!(find_control_character("\u{7f}"), Some('\u{7f}'));
    }
}
