//! dCache's canonical re-serialisation of a parsed command line.
//!
//! dCache records and displays commands in this form (e.g. in `migration info`), so the
//! output must match it character for character, trailing `-- ` included.

/// `word` with `\`, `"`, `'`, `=`, `-` and space escaped by a backslash; `''` if empty.
///
/// Escaping `-` everywhere (not only in first position) and `=` in values is more than the
/// tokenizer needs, but it is what dCache writes.
pub fn escape(word: &str) -> String {
    if word.is_empty() {
        return "''".to_string();
    }
    let mut out = String::with_capacity(word.len());
    escape_into(&mut out, word);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '\'' | '=' | '-' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The canonical form of a command line.
///
/// Options come first, grouped by name at their first appearance (each occurrence written
/// separately, `=value` omitted when empty, each followed by a space), then `-- ` if any
/// option was given, then the arguments separated by single spaces. The bare command name is
/// returned when there are neither options nor arguments. Like dCache, a tab is not escaped,
/// so a value containing one (typed inside quotes) does not survive re-tokenizing.
pub fn serialize(command_name: &str, options: &[(String, String)], args: &[String]) -> String {
    if options.is_empty() && args.is_empty() {
        return command_name.to_string();
    }
    let mut out = format!("{command_name} ");
    let mut written: Vec<&str> = Vec::new();
    for (key, _) in options {
        if written.contains(&key.as_str()) {
            continue;
        }
        written.push(key);
        for (_, value) in options.iter().filter(|(k, _)| k == key) {
            out.push('-');
            escape_into(&mut out, key);
            if !value.is_empty() {
                out.push('=');
                escape_into(&mut out, value);
            }
            out.push(' ');
        }
    }
    if !options.is_empty() {
        out.push_str("-- ");
    }
    let args: Vec<String> = args.iter().map(|a| escape(a)).collect();
    out.push_str(&args.join(" "));
    out
}

#[cfg(test)]
mod tests {
    use super::super::args::{ArgSpec, CommandSpec, OptionKind, OptionSpec, parse};
    use super::super::tokenizer::tokenize;
    use super::*;

    const fn string_option(name: &'static str) -> OptionSpec {
        OptionSpec { name, kind: OptionKind::String, help: "", value_name: "", category: "" }
    }

    const COPY: CommandSpec = CommandSpec {
        name: "migration copy",
        options: &[
            string_option("pnfsid"),
            OptionSpec {
                name: "target",
                kind: OptionKind::Enum(&["pool", "pgroup", "link"]),
                help: "",
                value_name: "",
                category: "",
            },
            string_option("exclude-when"),
            OptionSpec { name: "permanent", kind: OptionKind::Flag, help: "", value_name: "", category: "" },
            string_option("tmode"),
            OptionSpec { name: "sticky", kind: OptionKind::List, help: "", value_name: "", category: "" },
            string_option("cache"),
            string_option("a=b"),
            string_option("-"),
        ],
        args: ArgSpec { names: &["TARGET"], required: 0, variadic: true },
        summary: "",
        help: "",
    };

    /// Parses a typed line whose first two words are the command name, then re-serialises it.
    fn canonical(line: &str) -> String {
        let words = tokenize(line).expect("test line tokenizes");
        let command = words[..2].iter().map(|w| w.text()).collect::<Vec<_>>().join(" ");
        let parsed = parse(&COPY, &words[2..]).expect("test line parses");
        serialize(&command, parsed.options(), parsed.args())
    }

    #[test]
    fn dcache_test_vectors_serialize_identically() {
        let vectors = [
            (
                "migration copy -pnfsid=000060D40698B4BF4BE284666ED29CC826C7 pool2",
                "migration copy -pnfsid=000060D40698B4BF4BE284666ED29CC826C7 -- pool2",
            ),
            ("migration copy pool2", "migration copy pool2"),
            ("migration copy pool-a pool_b", r"migration copy pool\-a pool_b"),
            ("migration copy -target=pgroup", "migration copy -target=pgroup -- "),
            (
                r#"migration copy -exclude-when="target.free < 10 Gi" -permanent -tmode=precious+foo(-1) -sticky -sticky=-bar,baz pool1 pool2"#,
                r"migration copy -exclude\-when=target.free\ <\ 10\ Gi -permanent -tmode=precious+foo(\-1) -sticky -sticky=\-bar,baz -- pool1 pool2",
            ),
            ("migration copy -cache= p1", "migration copy -cache -- p1"),
        ];
        for (typed, expected) in vectors {
            assert_eq!(canonical(typed), expected, "typed: {typed}");
        }
    }

    #[test]
    fn bare_command_serializes_to_its_name() {
        assert_eq!(canonical("migration   copy  "), "migration copy");
    }

    #[test]
    fn repeated_options_are_grouped_at_first_appearance() {
        assert_eq!(
            canonical("migration copy -sticky=a -cache=x -sticky=b p"),
            r"migration copy -sticky=a -sticky=b -cache=x -- p"
        );
    }

    #[test]
    fn empty_argument_is_written_as_empty_quotes() {
        assert_eq!(canonical("migration copy '' a"), "migration copy '' a");
        assert_eq!(escape(""), "''");
    }

    #[test]
    fn special_characters_are_backslash_escaped() {
        assert_eq!(escape(r#"a b"c'd=e-f\g(h),i"#), r#"a\ b\"c\'d\=e\-f\\g(h),i"#);
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Serialises, re-tokenizes and re-parses; the result must be what went in.
    fn assert_round_trip(options: &[(String, String)], args: &[String]) {
        let line = serialize("migration copy", options, args);
        let words = tokenize(&line).expect("serialised line tokenizes");
        assert_eq!(words[..2].iter().map(|w| w.text()).collect::<Vec<_>>(), ["migration", "copy"]);
        let parsed = parse(&COPY, &words[2..]).expect("serialised line parses");
        assert_eq!(parsed.options(), options, "line: {line}");
        assert_eq!(parsed.args(), args, "line: {line}");
    }

    #[test]
    fn awkward_values_round_trip() {
        let options = owned(&[
            ("exclude-when", "target.free < 10 Gi"),
            ("tmode", r#"a"b'c\d=e"#),
            ("pnfsid", "-leading"),
            ("cache", "--"),
            ("a=b", "x=y"),
            ("-", "-"),
            ("sticky", ""),
            ("sticky", "-x,,y"),
            ("permanent", ""),
        ]);
        let args: Vec<String> = ["", "-", "--", "a b", r"x\d", "'", "\"", "=", " ", "é"].map(String::from).to_vec();
        assert_round_trip(&options, &args);
        assert_round_trip(&[], &args);
        assert_round_trip(&options, &[]);
        assert_round_trip(&[], &[String::new()]);
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn text(&mut self) -> String {
            const ALPHABET: [char; 12] = ['a', '-', '=', ' ', '\'', '"', '\\', 'd', ',', 'é', '(', '#'];
            let len = self.below(6);
            (0..len).map(|_| ALPHABET[self.below(ALPHABET.len())]).collect()
        }
    }

    #[test]
    fn random_string_values_and_arguments_round_trip() {
        // String options only: values of other kinds are validated, which is not the point.
        const KEYS: [&str; 4] = ["pnfsid", "exclude-when", "tmode", "cache"];
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for _ in 0..2000 {
            // Distinct keys in order, so grouping does not reorder the occurrences.
            let mut options = Vec::new();
            for key in KEYS {
                if rng.below(2) == 0 {
                    options.push((key.to_string(), rng.text()));
                }
            }
            let args: Vec<String> = (0..rng.below(4)).map(|_| rng.text()).collect();
            assert_round_trip(&options, &args);
        }
    }
}
