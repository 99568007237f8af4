//! Parsing of tokenized words against a command's declarative schema, following dCache's
//! admin shell conventions, and generation of the command's help page from that schema.

use super::CommandLineError;
use super::recorded;
use super::tokenizer::Word;

/// The type of an option's value, which decides how the value is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// `-name`, `-name=true` or `-name=false` (case-insensitive).
    Flag,
    /// A 32-bit integer in `Integer.decode` syntax (decimal, `0x`/`#` hex, `0` octal).
    Int,
    /// A 64-bit integer in `Long.decode` syntax.
    Long,
    /// Any text, including the empty string.
    String,
    /// One of the listed values, matched case-sensitively.
    Enum(&'static [&'static str]),
    /// Comma-separated values; all occurrences are concatenated.
    List,
}

/// One option a command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// Name without the leading `-`.
    pub name: &'static str,
    /// How the value is converted.
    pub kind: OptionKind,
    /// Help text; paragraphs are reflowed, lines starting with white space are kept as is.
    pub help: &'static str,
    /// Placeholder shown in the help page (`-name=<value_name>`); may be empty.
    pub value_name: &'static str,
    /// dCache's option category (`Filter options`, …), empty for none; the help page groups
    /// options by it, as dCache's annotated commands do.
    pub category: &'static str,
}

/// The positional arguments a command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// Names shown in the synopsis; with `variadic`, the last one repeats.
    pub names: &'static [&'static str],
    /// How many leading arguments are mandatory.
    pub required: usize,
    /// Whether the last argument may be repeated any number of times.
    pub variadic: bool,
}

/// A command's complete declarative schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command words, e.g. `migration copy`.
    pub name: &'static str,
    /// The options the command accepts.
    pub options: &'static [OptionSpec],
    /// The positional arguments the command accepts.
    pub args: ArgSpec,
    /// One line describing the command.
    pub summary: &'static str,
    /// Longer description; paragraphs are reflowed, lines starting with white space are kept.
    pub help: &'static str,
}

/// A converted option value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Flag(bool),
    Int(i32),
    Long(i64),
    /// Both `String` and `Enum` options.
    Text(String),
    List(Vec<String>),
}

/// A command line that was parsed against a [`CommandSpec`].
///
/// Typed accessors return `None` for options that were not given. Asking for an option the
/// schema does not declare, or with the wrong accessor for its kind, is a programming error:
/// it panics in debug builds and returns `None` in release builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedArgs {
    command: &'static str,
    schema: &'static [OptionSpec],
    /// Aligned with `schema`.
    values: Vec<Option<Value>>,
    options: Vec<(String, String)>,
    args: Vec<String>,
}

impl ParsedArgs {
    fn value(&self, name: &str, accessor: &str) -> Option<&Value> {
        let Some(index) = self.schema.iter().position(|o| o.name == name) else {
            programming_error(format_args!("`{}` declares no option -{name} ({accessor})", self.command));
            return None;
        };
        self.values[index].as_ref()
    }

    fn wrong_kind(&self, name: &str, accessor: &str) {
        programming_error(format_args!("option -{name} of `{}` cannot be read with {accessor}", self.command));
    }

    /// The value of a `Flag` option.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.value(name, "flag")? {
            Value::Flag(value) => Some(*value),
            _ => {
                self.wrong_kind(name, "flag");
                None
            }
        }
    }

    /// The value of an `Int` option.
    pub fn int(&self, name: &str) -> Option<i32> {
        match self.value(name, "int")? {
            Value::Int(value) => Some(*value),
            _ => {
                self.wrong_kind(name, "int");
                None
            }
        }
    }

    /// The value of a `Long` option.
    pub fn long(&self, name: &str) -> Option<i64> {
        match self.value(name, "long")? {
            Value::Long(value) => Some(*value),
            _ => {
                self.wrong_kind(name, "long");
                None
            }
        }
    }

    /// The value of a `String` or `Enum` option.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.value(name, "string")? {
            Value::Text(value) => Some(value),
            _ => {
                self.wrong_kind(name, "string");
                None
            }
        }
    }

    /// The elements of a `List` option; empty (not `None`) if given only bare.
    pub fn list(&self, name: &str) -> Option<&[String]> {
        match self.value(name, "list")? {
            Value::List(values) => Some(values),
            _ => {
                self.wrong_kind(name, "list");
                None
            }
        }
    }

    /// Whether the option was given at least once, with or without a value.
    pub fn is_present(&self, name: &str) -> bool {
        self.value(name, "is_present").is_some()
    }

    /// The positional arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The positional argument at `index`, if given.
    pub fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(String::as_str)
    }

    /// Every option occurrence as `(name, value)`, in order of appearance, values unconverted.
    pub fn options(&self) -> &[(String, String)] {
        &self.options
    }

    /// The command line in dCache's canonical form (see [`recorded::serialize`]).
    pub fn canonical(&self) -> String {
        recorded::serialize(self.command, &self.options, &self.args)
    }
}

fn programming_error(message: std::fmt::Arguments<'_>) {
    if cfg!(debug_assertions) {
        panic!("{message}");
    }
}

/// Parses the words following the command name against `spec`.
///
/// Errors are reported in this order: unknown options, then the argument count, then option
/// values in order of appearance. dCache's order differs (values and arguments in the order
/// its command class declares them, the argument count and unknown options last), which shows
/// only in which error a line with several reports first. A single-valued option given more
/// than once with another value is refused; list options accumulate.
pub fn parse(spec: &CommandSpec, words: &[Word]) -> Result<ParsedArgs, CommandLineError> {
    let mut options = Vec::new();
    let mut args = Vec::new();
    let mut options_ended = false;
    for word in words {
        match word.option_parts() {
            // Only an unquoted, unescaped `--` ends options, so `-\-` stays an option named `-`.
            _ if options_ended => args.push(word.text().to_string()),
            Some(_) if word.raw() == "--" => options_ended = true,
            Some((name, value)) if word.text() != "-" => {
                options.push((name.to_string(), value.to_string()));
            }
            _ => args.push(word.text().to_string()),
        }
    }

    let mut unknown: Vec<&str> = Vec::new();
    for (name, _) in &options {
        if !spec.options.iter().any(|o| o.name == name) && !unknown.contains(&name.as_str()) {
            unknown.push(name);
        }
    }
    match unknown.as_slice() {
        [] => {}
        [one] => return Err(CommandLineError::new(format!("Unknown option: {one}"))),
        many => {
            return Err(CommandLineError::new(format!("Unknown options: {}", many.join(", "))));
        }
    }

    let allowed = spec.args.names.len();
    if !spec.args.variadic && args.len() > allowed {
        return Err(CommandLineError::new(format!("Too many arguments: {}", args[allowed..].join(" "))));
    }
    if args.len() < spec.args.required {
        return Err(CommandLineError::new(format!("Argument {} is required", args.len() + 1)));
    }

    let mut values: Vec<Option<Value>> = vec![None; spec.options.len()];
    for (name, value) in &options {
        let index = spec.options.iter().position(|o| o.name == name).expect("unknown options were rejected above");
        let slot = &mut values[index];
        let before = slot.clone();
        match spec.options[index].kind {
            OptionKind::Flag => *slot = Some(Value::Flag(parse_flag(value)?)),
            OptionKind::Int => {
                let decoded = decode(value, i32::MIN.into(), i32::MAX.into())?;
                let int = i32::try_from(decoded).expect("decode checked the i32 range");
                *slot = Some(Value::Int(int));
            }
            OptionKind::Long => {
                let decoded = decode(value, i64::MIN.into(), i64::MAX.into())?;
                let long = i64::try_from(decoded).expect("decode checked the i64 range");
                *slot = Some(Value::Long(long));
            }
            OptionKind::String => *slot = Some(Value::Text(value.clone())),
            OptionKind::Enum(allowed) => {
                if !allowed.contains(&value.as_str()) {
                    return Err(CommandLineError::new(format!("Invalid value: {value}")));
                }
                *slot = Some(Value::Text(value.clone()));
            }
            OptionKind::List => {
                // As dCache's SplittingOptionHandler: an empty occurrence (a bare `-sticky`)
                // adds nothing, but the empty pieces of any other are kept, for what reads
                // them to judge: `-pnfsid=A,` is refused and `-include=,` matches no pool, as
                // there, instead of meaning `-pnfsid=A` and no `-include` at all.
                let elements = (!value.is_empty()).then(|| value.split(',')).into_iter().flatten();
                match slot {
                    Some(Value::List(list)) => list.extend(elements.map(str::to_string)),
                    _ => *slot = Some(Value::List(elements.map(str::to_string).collect())),
                }
                continue;
            }
        }
        if let Some(first) = before
            && Some(&first) != slot.as_ref()
        {
            // dCache lets the last value win; a slip in a long command line would then change
            // what a job does without a word (`-smode=delete -smode=cached`).
            let first = options.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
            return Err(CommandLineError::new(format!(
                "Option -{name} is given twice with different values: {first} and {value}"
            )));
        }
    }

    Ok(ParsedArgs { command: spec.name, schema: spec.options, values, options, args })
}

fn parse_flag(value: &str) -> Result<bool, CommandLineError> {
    if value.is_empty() || value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(CommandLineError::new(format!("Invalid value for boolean: {value}")))
    }
}

/// Java's `Integer.decode`, for arguments that the schema leaves as text.
pub fn decode_int(value: &str) -> Result<i32, CommandLineError> {
    decode(value, i32::MIN.into(), i32::MAX.into()).map(|v| v as i32)
}

/// Java's `Long.decode`, for arguments that the schema leaves as text.
pub fn decode_long(value: &str) -> Result<i64, CommandLineError> {
    decode(value, i64::MIN.into(), i64::MAX.into()).map(|v| v as i64)
}

/// Java's `Integer.decode`/`Long.decode`, range-checked against `[min, max]`.
///
/// Every malformed or out-of-range value is reported as `For input string: "<value>"` quoting
/// the whole value as given. Java sometimes quotes only the part after the sign or radix
/// prefix (and says "Sign character in wrong position" for `0x-1`); we chose one uniform,
/// more helpful message.
fn decode(value: &str, min: i128, max: i128) -> Result<i128, CommandLineError> {
    if value.is_empty() {
        return Err(CommandLineError::new("Zero length string"));
    }
    let malformed = || CommandLineError::new(format!("For input string: \"{value}\""));
    let (negative, unsigned) = match value.as_bytes()[0] {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let (radix, digits) = if let Some(hex) =
        unsigned.strip_prefix("0x").or_else(|| unsigned.strip_prefix("0X")).or_else(|| unsigned.strip_prefix('#'))
    {
        (16, hex)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    if digits.is_empty() {
        return Err(malformed());
    }
    let mut magnitude: i128 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix).ok_or_else(malformed)?;
        magnitude =
            magnitude.checked_mul(radix.into()).and_then(|m| m.checked_add(digit.into())).ok_or_else(malformed)?;
    }
    let signed = if negative { -magnitude } else { magnitude };
    if signed < min || signed > max {
        return Err(malformed());
    }
    Ok(signed)
}

const WIDTH: usize = 78;
const INDENT: &str = "       ";

/// The help page of a command, laid out like dCache's: NAME, SYNOPSIS, DESCRIPTION, OPTIONS.
pub fn usage(spec: &CommandSpec) -> String {
    let mut out = String::from("NAME\n");
    if spec.summary.is_empty() {
        out.push_str(&format!("{INDENT}{}\n", spec.name));
    } else {
        wrap_into(&mut out, &format!("{} -- {}", spec.name, spec.summary), INDENT);
    }

    out.push_str("\nSYNOPSIS\n");
    wrap_into(&mut out, &super::synopsis(spec, super::OptionalArgs::Bracketed), INDENT);

    if !spec.help.trim().is_empty() {
        out.push_str("\nDESCRIPTION\n");
        format_help(&mut out, spec.help, INDENT);
    }

    if !spec.options.is_empty() {
        out.push_str("\nOPTIONS\n");
        // Grouped by category in name order, uncategorised first, as dCache's help printer
        // does; within a category, in declaration order.
        let mut categories: Vec<&str> = spec.options.iter().map(|o| o.category).collect();
        categories.sort_unstable();
        categories.dedup();
        for category in categories {
            if !category.is_empty() {
                out.push_str(&format!("\n  {category}:\n"));
            }
            for option in spec.options.iter().filter(|o| o.category == category) {
                out.push_str(&format!("  -{}{}\n", option.name, placeholder(option)));
                format_help(&mut out, option.help, INDENT);
            }
        }
    }
    out
}

/// How the help page shows an option's value: `=<n>`, `=a|b`, or empty for a flag.
pub fn placeholder(option: &OptionSpec) -> String {
    match (option.kind, option.value_name) {
        (OptionKind::Flag, _) => String::new(),
        (OptionKind::Enum(values), "") => format!("={}", values.join("|")),
        (OptionKind::List, "") => "=<value>[,<value>]...".to_string(),
        (_, "") => "=<value>".to_string(),
        // A value name that is already a pattern (`<n>|[<n>]..[<m>]`) is printed as it is.
        (_, name) if name.contains('<') => format!("={name}"),
        (_, name) => format!("=<{name}>"),
    }
}

/// Reflows each paragraph of `help`; lines starting with white space are kept verbatim so that
/// help texts can carry examples and tables.
fn format_help(out: &mut String, help: &str, indent: &str) {
    let mut paragraph = String::new();
    let mut pending_blank = false;
    let flush = |out: &mut String, paragraph: &mut String| {
        if !paragraph.is_empty() {
            wrap_into(out, paragraph, indent);
            paragraph.clear();
        }
    };
    for line in help.trim_matches('\n').lines() {
        if line.trim().is_empty() {
            flush(out, &mut paragraph);
            pending_blank = true;
            continue;
        }
        if pending_blank {
            out.push('\n');
            pending_blank = false;
        }
        if line.starts_with(char::is_whitespace) {
            flush(out, &mut paragraph);
            out.push_str(&format!("{indent}{}\n", line.trim_end()));
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(line.trim());
        }
    }
    flush(out, &mut paragraph);
}

/// Greedy word wrap at [`WIDTH`] columns; a word longer than a line gets a line of its own.
fn wrap_into(out: &mut String, text: &str, indent: &str) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokenizer::tokenize;
    use super::*;

    const OPTIONS: &[OptionSpec] = &[
        OptionSpec {
            name: "permanent",
            kind: OptionKind::Flag,
            help: "Mark the job as permanent.",
            value_name: "",
            category: "",
        },
        OptionSpec {
            name: "concurrency",
            kind: OptionKind::Int,
            help: "Number of concurrent transfers.",
            value_name: "concurrency",
            category: "",
        },
        OptionSpec { name: "size", kind: OptionKind::Long, help: "", value_name: "bytes", category: "" },
        OptionSpec {
            name: "cache",
            kind: OptionKind::String,
            help: "Cache class of the replica.",
            value_name: "class",
            category: "",
        },
        OptionSpec {
            name: "target",
            kind: OptionKind::Enum(&["pool", "pgroup", "link"]),
            help: "Kind of target.",
            value_name: "",
            category: "",
        },
        OptionSpec { name: "sticky", kind: OptionKind::List, help: "Sticky flags.", value_name: "owner", category: "" },
    ];

    const COPY: CommandSpec = CommandSpec {
        name: "migration copy",
        options: OPTIONS,
        args: ArgSpec { names: &["TARGET"], required: 0, variadic: true },
        summary: "Copies files to other pools.",
        help: "Copies files.",
    };

    const FIXED: CommandSpec = CommandSpec {
        name: "migration info",
        options: OPTIONS,
        args: ArgSpec { names: &["JOB", "FORMAT"], required: 1, variadic: false },
        summary: "",
        help: "",
    };

    fn parse_line(spec: &CommandSpec, line: &str) -> Result<ParsedArgs, CommandLineError> {
        parse(spec, &tokenize(line).expect("test line tokenizes"))
    }

    fn ok(spec: &CommandSpec, line: &str) -> ParsedArgs {
        parse_line(spec, line).expect("test line parses")
    }

    fn err(spec: &CommandSpec, line: &str) -> String {
        parse_line(spec, line).expect_err("test line is rejected").to_string()
    }

    #[test]
    fn options_may_appear_anywhere() {
        let parsed = ok(&COPY, "-permanent a -cache=x b -concurrency=3");
        assert_eq!(parsed.args(), ["a", "b"]);
        assert_eq!(parsed.flag("permanent"), Some(true));
        assert_eq!(parsed.string("cache"), Some("x"));
        assert_eq!(parsed.int("concurrency"), Some(3));
        assert_eq!(parsed.arg(1), Some("b"));
        assert_eq!(parsed.arg(2), None);
    }

    #[test]
    fn absent_options_are_none() {
        let parsed = ok(&COPY, "a");
        assert_eq!(parsed.flag("permanent"), None);
        assert_eq!(parsed.int("concurrency"), None);
        assert_eq!(parsed.list("sticky"), None);
        assert!(!parsed.is_present("cache"));
    }

    #[test]
    fn double_dash_ends_option_processing() {
        let parsed = ok(&COPY, "-permanent -- -cache=x -- -");
        assert_eq!(parsed.args(), ["-cache=x", "--", "-"]);
        assert_eq!(parsed.string("cache"), None);
    }

    #[test]
    fn lone_dash_and_escaped_dash_are_arguments() {
        let parsed = ok(&COPY, r"- \-permanent '-cache'");
        assert_eq!(parsed.args(), ["-", "-permanent", "-cache"]);
        assert!(parsed.options().is_empty());
    }

    #[test]
    fn option_value_splits_at_first_equals() {
        let parsed = ok(&COPY, "-cache=a=b");
        assert_eq!(parsed.string("cache"), Some("a=b"));
    }

    #[test]
    fn occurrences_are_kept_in_order_of_appearance() {
        let parsed = ok(&COPY, "-sticky=a -cache=x -sticky -cache=x");
        let expected = [("sticky", "a"), ("cache", "x"), ("sticky", ""), ("cache", "x")];
        let expected: Vec<_> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(parsed.options(), expected);
    }

    #[test]
    fn single_valued_option_given_twice_must_agree() {
        // dCache keeps the last value; we refuse the contradiction (issue #13).
        let parsed = ok(&COPY, "-cache=x -cache=x -concurrency=2 -concurrency=0x2");
        assert_eq!(parsed.string("cache"), Some("x"));
        assert_eq!(parsed.int("concurrency"), Some(2));
        assert_eq!(err(&COPY, "-cache=x -cache=y"), "Option -cache is given twice with different values: x and y");
        assert_eq!(
            err(&COPY, "-concurrency=1 -permanent -concurrency=2"),
            "Option -concurrency is given twice with different values: 1 and 2"
        );
    }

    #[test]
    fn overridden_invalid_value_is_still_rejected() {
        assert_eq!(err(&COPY, "-concurrency=x -concurrency=2"), "For input string: \"x\"");
    }

    #[test]
    fn empty_string_option_is_a_value() {
        let parsed = ok(&COPY, "-cache= p1");
        assert_eq!(parsed.string("cache"), Some(""));
        assert!(parsed.is_present("cache"));
    }

    #[test]
    fn unknown_option_is_named() {
        assert_eq!(err(&COPY, "-bogus a"), "Unknown option: bogus");
    }

    #[test]
    fn unknown_options_are_listed_once_in_order() {
        assert_eq!(err(&COPY, "-zz -bogus=1 -cache=x -zz -aa"), "Unknown options: zz, bogus, aa");
    }

    #[test]
    fn unknown_options_are_reported_before_argument_count() {
        assert_eq!(err(&FIXED, "-bogus"), "Unknown option: bogus");
        assert_eq!(err(&FIXED, "a b c -bogus"), "Unknown option: bogus");
    }

    #[test]
    fn argument_count_is_checked_before_values() {
        assert_eq!(err(&FIXED, "-concurrency=x"), "Argument 1 is required");
        assert_eq!(err(&FIXED, "a b c  'd e' -concurrency=x"), "Too many arguments: c d e");
    }

    #[test]
    fn optional_arguments_may_be_omitted() {
        assert_eq!(ok(&FIXED, "job").args(), ["job"]);
        assert_eq!(ok(&FIXED, "job fmt").args(), ["job", "fmt"]);
    }

    #[test]
    fn values_are_checked_in_order_of_appearance() {
        assert_eq!(err(&COPY, "-target=x -concurrency=y"), "Invalid value: x");
        assert_eq!(err(&COPY, "-concurrency=y -target=x"), "For input string: \"y\"");
    }

    #[test]
    fn decimal_integers_decode() {
        assert_eq!(decode("42", i32::MIN.into(), i32::MAX.into()), Ok(42));
        assert_eq!(decode("+42", i32::MIN.into(), i32::MAX.into()), Ok(42));
        assert_eq!(decode("-42", i32::MIN.into(), i32::MAX.into()), Ok(-42));
        assert_eq!(decode("0", i32::MIN.into(), i32::MAX.into()), Ok(0));
        assert_eq!(decode("-0", i32::MIN.into(), i32::MAX.into()), Ok(0));
    }

    #[test]
    fn octal_leading_zero_decodes_as_octal() {
        assert_eq!(ok(&COPY, "-concurrency=010").int("concurrency"), Some(8));
        assert_eq!(ok(&COPY, "-concurrency=-017").int("concurrency"), Some(-15));
        assert_eq!(ok(&COPY, "-concurrency=00").int("concurrency"), Some(0));
        assert_eq!(err(&COPY, "-concurrency=08"), "For input string: \"08\"");
    }

    #[test]
    fn hex_prefixes_decode_as_hexadecimal() {
        assert_eq!(ok(&COPY, "-concurrency=0x1f").int("concurrency"), Some(31));
        assert_eq!(ok(&COPY, "-concurrency=0X1F").int("concurrency"), Some(31));
        assert_eq!(ok(&COPY, "-concurrency=#10").int("concurrency"), Some(16));
        assert_eq!(ok(&COPY, "-concurrency=-0x10").int("concurrency"), Some(-16));
    }

    #[test]
    fn int_range_is_32_bit() {
        let min = ok(&COPY, "-concurrency=-2147483648");
        assert_eq!(min.int("concurrency"), Some(i32::MIN));
        let max = ok(&COPY, "-concurrency=0x7fffffff");
        assert_eq!(max.int("concurrency"), Some(i32::MAX));
        assert_eq!(err(&COPY, "-concurrency=2147483648"), "For input string: \"2147483648\"");
        assert_eq!(ok(&COPY, "-concurrency=-0x80000000").int("concurrency"), Some(i32::MIN));
    }

    #[test]
    fn long_range_is_64_bit() {
        assert_eq!(ok(&COPY, "-size=-9223372036854775808").long("size"), Some(i64::MIN));
        assert_eq!(ok(&COPY, "-size=4294967296").long("size"), Some(1 << 32));
        assert_eq!(err(&COPY, "-size=9223372036854775808"), "For input string: \"9223372036854775808\"");
        assert_eq!(
            err(&COPY, "-size=99999999999999999999999999999999999999999999"),
            "For input string: \"99999999999999999999999999999999999999999999\""
        );
    }

    #[test]
    fn malformed_integers_quote_the_whole_value() {
        for value in ["x", "1x", "-", "+", "0x", "#", "--1", "+-1", "0x-1", " 1", "1_000", "1.0"] {
            let error = decode(value, i32::MIN.into(), i32::MAX.into()).expect_err(value);
            assert_eq!(error.to_string(), format!("For input string: \"{value}\""));
        }
    }

    #[test]
    fn empty_integer_is_zero_length_string() {
        assert_eq!(err(&COPY, "-concurrency"), "Zero length string");
        assert_eq!(err(&COPY, "-size="), "Zero length string");
    }

    #[test]
    fn flag_values_are_case_insensitive_booleans() {
        assert_eq!(ok(&COPY, "-permanent").flag("permanent"), Some(true));
        assert_eq!(ok(&COPY, "-permanent=TrUe").flag("permanent"), Some(true));
        assert_eq!(ok(&COPY, "-permanent=FALSE").flag("permanent"), Some(false));
        assert_eq!(err(&COPY, "-permanent=yes"), "Invalid value for boolean: yes");
    }

    #[test]
    fn enum_values_match_case_sensitively() {
        assert_eq!(ok(&COPY, "-target=pgroup").string("target"), Some("pgroup"));
        assert_eq!(err(&COPY, "-target=PGROUP"), "Invalid value: PGROUP");
        assert_eq!(err(&COPY, "-target"), "Invalid value: ");
    }

    #[test]
    fn list_occurrences_concatenate_keeping_empty_pieces_of_non_empty_ones() {
        let parsed = ok(&COPY, "-sticky=a,,b -sticky -sticky=,c,");
        assert_eq!(parsed.list("sticky"), Some(&["a", "", "b", "", "c", ""].map(String::from)[..]));
    }

    #[test]
    fn bare_list_option_is_present_but_empty() {
        let parsed = ok(&COPY, "-sticky");
        assert!(parsed.is_present("sticky"));
        assert_eq!(parsed.list("sticky"), Some(&[][..]));
    }

    #[test]
    fn canonical_reserialises_the_parsed_line() {
        let parsed = ok(&COPY, "-sticky=-a pool-1 -permanent");
        assert_eq!(parsed.canonical(), r"migration copy -sticky=\-a -permanent -- pool\-1");
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "declares no option -bogus")]
    fn undeclared_option_access_panics_in_debug() {
        ok(&COPY, "").flag("bogus");
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "cannot be read with int")]
    fn wrong_kind_access_panics_in_debug() {
        ok(&COPY, "-cache=x").int("cache");
    }

    #[test]
    fn usage_lays_out_sections() {
        let text = usage(&COPY);
        let expected = "\
NAME
       migration copy -- Copies files to other pools.

SYNOPSIS
       migration copy [OPTIONS] [TARGET]...

DESCRIPTION
       Copies files.

OPTIONS
  -permanent
       Mark the job as permanent.
  -concurrency=<concurrency>
       Number of concurrent transfers.
  -size=<bytes>
  -cache=<class>
       Cache class of the replica.
  -target=pool|pgroup|link
       Kind of target.
  -sticky=<owner>
       Sticky flags.
";
        assert_eq!(text, expected);
    }

    #[test]
    fn usage_marks_required_arguments_and_omits_empty_sections() {
        const BARE: CommandSpec = CommandSpec {
            name: "migration cancel",
            options: &[],
            args: ArgSpec { names: &["JOB"], required: 1, variadic: true },
            summary: "",
            help: "",
        };
        assert_eq!(usage(&BARE), "NAME\n       migration cancel\n\nSYNOPSIS\n       migration cancel JOB...\n");
        assert!(usage(&FIXED).contains("migration info [OPTIONS] JOB [FORMAT]\n"));
    }

    #[test]
    fn usage_wraps_long_help_and_keeps_indented_lines() {
        const LONG: CommandSpec = CommandSpec {
            name: "x",
            options: &[],
            args: ArgSpec { names: &[], required: 0, variadic: false },
            summary: "",
            help: "one two three four five six seven eight nine ten eleven twelve thirteen \
                   fourteen fifteen sixteen\n\nSecond paragraph.\n    keep   this\n",
        };
        let text = usage(&LONG);
        assert!(text.lines().all(|l| l.len() <= WIDTH), "{text}");
        assert!(
            text.contains(
                "DESCRIPTION\n       one two three four five six seven eight nine ten eleven twelve thirteen\n       \
             fourteen fifteen sixteen\n\n       Second paragraph.\n           keep   this\n"
            ),
            "{text}"
        );
    }
}
