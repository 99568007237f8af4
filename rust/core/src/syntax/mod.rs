//! dCache's admin command-line conventions: splitting a typed line into words, parsing the
//! words against a declarative command schema, re-serialising a parsed command line in
//! dCache's canonical form, and generating a help page from the schema.

pub mod args;
pub mod catalog;
pub mod recorded;
pub mod tokenizer;

use std::fmt;

pub use args::{
    ArgSpec, CommandSpec, OptionKind, OptionSpec, ParsedArgs, decode_int, decode_long, parse, placeholder, usage,
};
pub use catalog::{NO_ARGS, OptionalArgs, args, lookup, lookup_by, opt, schemas, synopsis, synopsis_line};
pub use recorded::{escape, serialize};
pub use tokenizer::{Word, find_control_character, normalized, tokenize};

/// A command line that cannot be tokenized or does not fit its command's schema.
///
/// `Display` prints exactly the message, because operators see it verbatim and dCache's
/// wording is part of the observable behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLineError {
    message: String,
}

impl CommandLineError {
    /// An error carrying `message` as its complete text.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// The message text, as printed by `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CommandLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandLineError {}
