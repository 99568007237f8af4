//! What the command interpreters of minidcache's cells share: the words of a typed line, the
//! errors every cell reports alike, and `help` over a cell's command table. A leaf, so that a
//! cell below the cluster (the pool manager's, replayed at start-up) and the cells above it
//! read lines the same way.

use migration_core::syntax::{self, CommandSpec, ParsedArgs, Word};
use migration_core::{Error, ErrorKind};

pub fn syntax(e: impl ToString) -> Error {
    Error::syntax(e.to_string())
}

pub fn unknown(line: &str) -> Error {
    Error::new(ErrorKind::Unsupported, format!("Unknown command: {}", line.trim()))
}

/// Words of `line`, with bare negative numbers (`-1`) taken as arguments rather than options.
pub fn words_of(line: &str) -> Result<Vec<Word>, Error> {
    let words = syntax::tokenize(line).map_err(syntax)?;
    let negative = |w: &Word| matches!(w.option_parts(), Some((name, "")) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()));
    if !words.iter().any(negative) {
        return Ok(words);
    }
    let escaped: Vec<String> =
        words.iter().map(|w| if negative(w) { format!("\\{}", w.raw()) } else { w.raw().to_string() }).collect();
    syntax::tokenize(&escaped.join(" ")).map_err(syntax)
}

/// `help [topic]` over `specs`: the command list, one command's page, or the commands
/// starting with the topic. `None` when no command matches.
pub fn help_of(specs: &[CommandSpec], topic: &str) -> Option<String> {
    if topic.is_empty() {
        return Some(specs.iter().map(syntax::synopsis_line).collect());
    }
    if let Some(spec) = specs.iter().find(|s| s.name == topic) {
        return Some(syntax::usage(spec));
    }
    let matching: String =
        specs.iter().filter(|s| s.name.starts_with(&format!("{topic} "))).map(syntax::synopsis_line).collect();
    (!matching.is_empty()).then_some(matching)
}

/// Reads `line` against a cell's `table` and runs its command: the words (an empty line does
/// nothing), `help [topic]` (a bare `help` prints `intro` before the command list), the
/// command the words name, its arguments parsed against its schema; then `run`.
pub fn interpret<C: Copy>(
    table: &[(C, CommandSpec)],
    intro: &str,
    line: &str,
    run: impl FnOnce(C, &ParsedArgs) -> Result<String, Error>,
) -> Result<String, Error> {
    let words = words_of(line)?;
    let Some(first) = words.first() else { return Ok(String::new()) };
    if first.text() == "help" {
        let topic = words[1..].iter().map(Word::text).collect::<Vec<_>>().join(" ");
        let specs: Vec<CommandSpec> = table.iter().map(|(_, spec)| *spec).collect();
        return match help_of(&specs, &topic) {
            Some(text) if topic.is_empty() => Ok(format!("{intro}{text}")),
            Some(text) => Ok(text),
            None => Err(Error::syntax(format!("No such command: {topic}"))),
        };
    }
    let Some(((command, spec), n)) = syntax::lookup_by(table, |(_, spec)| spec.name, &words) else {
        return Err(unknown(line));
    };
    let parsed = syntax::parse(spec, &words[n..]).map_err(syntax)?;
    run(*command, &parsed)
}

/// Fails when a command has two rows in a cell's table (each would shadow the other).
#[cfg(test)]
pub fn assert_one_row_each<C: PartialEq + std::fmt::Debug>(table: &[(C, CommandSpec)]) {
    for (i, (command, _)) in table.iter().enumerate() {
        assert!(!table[..i].iter().any(|(c, _)| c == command), "{command:?} has two rows");
    }
}
