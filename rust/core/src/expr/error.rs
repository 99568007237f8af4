//! The errors of [`Expression::parse`](super::Expression::parse), worded as
//! dCache words them, and the parboiled-style diagnostics of syntax errors.

use std::fmt;

use super::java_regex::RegexError;
use super::value::Type;

/// Deepest nesting accepted, both as the height of the syntax tree (each
/// operator application is a level) and as the depth of parentheses and
/// `?:` branches. Keeps the recursive parser, type checker and evaluator
/// far from overflowing the stack.
pub const MAX_NESTING: usize = 200;

/// Why an expression was rejected; `Display` prints the exact message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    message: String,
}

impl ExprError {
    fn new(message: String) -> Self {
        ExprError { message }
    }

    /// The message, exactly as displayed.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn unknown_identifier(name: &str) -> Self {
        Self::new(format!("Unknown identifier: {name}"))
    }

    pub(crate) fn type_mismatch(expected: Type, found: Type) -> Self {
        Self::new(format!("Type mismatch: Expected {expected}, but found {found}"))
    }

    pub(crate) fn not_boolean() -> Self {
        Self::new("Expression does not evaluate to a boolean".to_owned())
    }

    pub(crate) fn regex(error: &RegexError) -> Self {
        Self::new(format!("Invalid expression: {error}"))
    }

    /// A syntax error in `text`, rendered like dCache's parboiled parser does:
    /// headline with 1-based line and column (in characters), the line, and a
    /// caret under the offending character.
    pub(crate) fn syntax(text: &str, diagnostic: &Diagnostic) -> Self {
        let pos = diagnostic.pos.min(text.len());
        let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line_number = text[..pos].matches('\n').count() + 1;
        let before = &text[line_start..pos];
        let column = before.chars().count() + 1;
        let line = &text[line_start..line_end];
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Keep tabs so that the caret lines up in a terminal.
        let padding: String = before.chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let headline = match &diagnostic.problem {
            Problem::Expected(what) => {
                format!("Invalid input '{}', expected {what}", describe(text[pos..].chars().next()))
            }
            Problem::TooDeep => format!("Expression nested deeper than {MAX_NESTING} levels"),
        };
        Self::new(format!("Invalid expression: {headline} (line {line_number}, pos {column}):\n{line}\n{padding}^\n"))
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

/// The offending character as parboiled prints it (`EOI` at the end).
fn describe(c: Option<char>) -> String {
    match c {
        None => "EOI".to_owned(),
        Some('\n') => "\\n".to_owned(),
        Some('\r') => "\\r".to_owned(),
        Some('\t') => "\\t".to_owned(),
        Some('\x0C') => "\\f".to_owned(),
        Some(c) if c.is_control() => c.escape_unicode().to_string(),
        Some(c) => c.to_string(),
    }
}

/// A syntax error found by the lexer or parser, before it is rendered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Diagnostic {
    /// Byte offset into the text.
    pos: usize,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// What would have been accepted at `pos`, e.g. `operand` or `')'`.
    Expected(String),
    TooDeep,
}

impl Diagnostic {
    pub(crate) fn expected(pos: usize, what: impl Into<String>) -> Self {
        Diagnostic { pos, problem: Problem::Expected(what.into()) }
    }

    pub(crate) fn too_deep(pos: usize) -> Self {
        Diagnostic { pos, problem: Problem::TooDeep }
    }

    #[cfg(test)]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, pos: usize, what: &str) -> String {
        ExprError::syntax(text, &Diagnostic::expected(pos, what)).to_string()
    }

    #[test]
    fn diagnostic_shows_line_position_and_caret() {
        assert_eq!(
            render(" true", 0, "expression"),
            "Invalid expression: Invalid input ' ', expected expression (line 1, pos 1):\n true\n^\n"
        );
    }

    #[test]
    fn diagnostic_at_end_of_input_says_eoi() {
        assert_eq!(
            render("1 +", 3, "operand"),
            "Invalid expression: Invalid input 'EOI', expected operand (line 1, pos 4):\n1 +\n   ^\n"
        );
    }

    #[test]
    fn diagnostic_counts_lines_and_characters_not_bytes() {
        assert_eq!(
            render("'é' ==\n  ?", 10, "operand"),
            "Invalid expression: Invalid input '?', expected operand (line 2, pos 3):\n  ?\n  ^\n"
        );
    }

    #[test]
    fn diagnostic_escapes_control_characters() {
        assert_eq!(
            render("1\n", 1, "operator"),
            "Invalid expression: Invalid input '\\n', expected operator (line 1, pos 2):\n1\n ^\n"
        );
    }

    #[test]
    fn diagnostic_keeps_tabs_in_the_caret_line() {
        assert!(render("\t1 1", 3, "operator").ends_with("\n\t1 1\n\t  ^\n"));
    }
}
