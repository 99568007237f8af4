//! A table of command schemas as a command interpreter uses it: the command a line names, the
//! one-line synopsis of a command list, and the constructors of option and argument
//! declarations. One copy, shared by the module's commands and by the cells of an embedding
//! host (minidcache), so that their help lists and lookups agree.

use std::fmt::Write as _;

use super::args::{ArgSpec, CommandSpec, OptionKind, OptionSpec};
use super::tokenizer::Word;

/// How a synopsis shows the arguments a command may be given without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionalArgs {
    /// As mandatory ones: `rep ls [OPTIONS] PNFSID...`, the form of dCache's command lists.
    Bare,
    /// In brackets: `rep ls [OPTIONS] [PNFSID]...`, the form of a help page's SYNOPSIS.
    Bracketed,
}

/// The command words, `[OPTIONS]` if it has any, then its argument names; the last one
/// followed by `...` when it repeats.
pub fn synopsis(spec: &CommandSpec, optional: OptionalArgs) -> String {
    let mut s = spec.name.to_string();
    if !spec.options.is_empty() {
        s.push_str(" [OPTIONS]");
    }
    let names = spec.args.names;
    for (index, name) in names.iter().enumerate() {
        let dots = if spec.args.variadic && index + 1 == names.len() { "..." } else { "" };
        if optional == OptionalArgs::Bracketed && index >= spec.args.required {
            let _ = write!(s, " [{name}]{dots}");
        } else {
            let _ = write!(s, " {name}{dots}");
        }
    }
    s
}

/// One line of a command list: `<synopsis> - <summary>`.
pub fn synopsis_line(spec: &CommandSpec) -> String {
    format!("{} - {}\n", synopsis(spec, OptionalArgs::Bare), spec.summary)
}

/// The command of `specs` whose name is the longest prefix of `words`, and how many words
/// its name takes.
pub fn lookup<'a>(specs: &'a [CommandSpec], words: &[Word]) -> Option<(&'a CommandSpec, usize)> {
    lookup_by(specs, |spec| spec.name, words)
}

/// [`lookup`] over a table whose rows carry more than the schema (a command's enum variant
/// beside its [`CommandSpec`], say): `name` gives a row's command words.
pub fn lookup_by<'a, T>(table: &'a [T], name: impl Fn(&T) -> &'static str, words: &[Word]) -> Option<(&'a T, usize)> {
    table
        .iter()
        .filter_map(|row| {
            let n = name(row).split(' ').count();
            let names = name(row).split(' ');
            (words.len() >= n && names.zip(words).all(|(a, w)| a == w.text())).then_some((row, n))
        })
        .max_by_key(|(_, n)| *n)
}

/// The schemas of a table of `(command, schema)` rows, in its order: the command list of a
/// cell whose commands are an enum.
pub const fn schemas<C: Copy, const N: usize>(table: &[(C, CommandSpec); N]) -> [CommandSpec; N] {
    let mut out = [NO_COMMAND; N];
    let mut i = 0;
    while i < N {
        out[i] = table[i].1;
        i += 1;
    }
    out
}

const NO_COMMAND: CommandSpec = CommandSpec { name: "", options: &[], args: NO_ARGS, summary: "", help: "" };

/// An option without a category (see [`OptionSpec::in_category`]).
pub const fn opt(name: &'static str, kind: OptionKind, value_name: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec { name, kind, help, value_name, category: "" }
}

/// Positional arguments: their names, how many are mandatory, whether the last repeats.
pub const fn args(names: &'static [&'static str], required: usize, variadic: bool) -> ArgSpec {
    ArgSpec { names, required, variadic }
}

/// A command without positional arguments.
pub const NO_ARGS: ArgSpec = args(&[], 0, false);

impl OptionSpec {
    /// The same option in dCache's option category `category`.
    pub const fn in_category(self, category: &'static str) -> OptionSpec {
        OptionSpec { category, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::tokenize;

    const SPECS: &[CommandSpec] = &[
        CommandSpec { name: "rep ls", options: &[], args: args(&["PNFSID"], 0, true), summary: "List.", help: "" },
        CommandSpec {
            name: "rep set sticky",
            options: &[opt("o", OptionKind::String, "owner", "Owner.")],
            args: args(&["PNFSID", "on|off"], 1, false),
            summary: "Set.",
            help: "",
        },
        CommandSpec { name: "rep", options: &[], args: NO_ARGS, summary: "Rep.", help: "" },
    ];

    #[test]
    fn lookup_takes_the_longest_name() {
        let words = tokenize("rep set sticky 1 on").expect("tokenized");
        let (spec, n) = lookup(SPECS, &words).expect("found");
        assert_eq!((spec.name, n), ("rep set sticky", 3));
        let words = tokenize("rep sticky").expect("tokenized");
        assert_eq!(lookup(SPECS, &words).map(|(s, n)| (s.name, n)), Some(("rep", 1)));
        assert!(lookup(SPECS, &tokenize("pool").expect("tokenized")).is_none());
        let table = [(1, SPECS[0]), (2, SPECS[1]), (3, SPECS[2])];
        let words = tokenize("rep set sticky 1 on").expect("tokenized");
        assert_eq!(lookup_by(&table, |(_, s)| s.name, &words).map(|((c, _), n)| (*c, n)), Some((2, 3)));
        assert_eq!(schemas(&table).map(|s| s.name), ["rep ls", "rep set sticky", "rep"]);
    }

    #[test]
    fn synopses_bracket_optional_arguments_only_on_request() {
        assert_eq!(synopsis(&SPECS[0], OptionalArgs::Bare), "rep ls PNFSID...");
        assert_eq!(synopsis(&SPECS[0], OptionalArgs::Bracketed), "rep ls [PNFSID]...");
        assert_eq!(synopsis(&SPECS[1], OptionalArgs::Bracketed), "rep set sticky [OPTIONS] PNFSID [on|off]");
        assert_eq!(synopsis_line(&SPECS[1]), "rep set sticky [OPTIONS] PNFSID on|off - Set.\n");
    }
}
