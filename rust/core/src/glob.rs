//! Pool-name glob patterns (spec §8.3).
//!
//! A glob matches the whole name. `*` matches any sequence (also empty), `?`
//! exactly one character, `{a,b,c}` any one of the alternatives, which may
//! nest and contain `*`/`?`. Every string is a valid glob: an unterminated
//! `{`, a `}` without an opening brace and a `,` outside braces are literal,
//! as is every other character (`.`, `[`, `]` and `\` included; there are no
//! character classes and no escapes).
//!
//! Matching runs a Thompson NFA over the pattern's states, so the cost is
//! O(pattern × name) with no backtracking: `*a*a*a*a*b` against a long run
//! of `a`s stays fast. Construction and matching are iterative so deeply
//! nested braces cannot overflow the stack.

use std::fmt;

/// What a state does with the next character.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// Consumes exactly this character.
    Char(char),
    /// Consumes any one character (`?`).
    Any,
    /// Consumes any character and stays (`*`); also passes through freely.
    Star,
    /// Consumes nothing; passes through freely (brace fork and join).
    Split,
    /// The whole pattern has been matched.
    Match,
}

/// One NFA state with its outgoing (follow-on) states.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    kind: Kind,
    out: Vec<usize>,
}

/// A compiled pool-name pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    states: Vec<State>,
    start: usize,
}

/// Builds the NFA; `start` is a `Split` whose follow-ons begin the pattern.
struct Builder {
    states: Vec<State>,
    /// The single state whose `out` the next element is attached to.
    tail: usize,
}

impl Builder {
    fn new() -> Builder {
        Builder { states: vec![State { kind: Kind::Split, out: Vec::new() }], tail: 0 }
    }

    fn add(&mut self, kind: Kind) -> usize {
        self.states.push(State { kind, out: Vec::new() });
        self.states.len() - 1
    }

    /// Appends a state after the current tail and makes it the new tail.
    fn append(&mut self, kind: Kind) -> usize {
        let id = self.add(kind);
        self.link(self.tail, id);
        self.tail = id;
        id
    }

    fn link(&mut self, from: usize, to: usize) {
        self.states[from].out.push(to);
    }

    fn finish(mut self, pattern: String) -> Glob {
        self.append(Kind::Match);
        Glob { pattern, states: self.states, start: 0 }
    }
}

/// An open `{...}`: where its alternatives fork and the join they all reach.
struct Group {
    fork: usize,
    join: usize,
}

impl Glob {
    /// Compiles `pattern`; every string is a valid glob.
    pub fn new(pattern: &str) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        // Pair braces first, innermost-first like a parser would; whatever
        // `{` is left unpaired is literal. Doing this up front avoids
        // re-parsing on failure, which is exponential for `{{{{...`.
        let mut closes = vec![false; chars.len()];
        let mut opens = vec![false; chars.len()];
        let mut stack = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            match c {
                '{' => stack.push(i),
                '}' => {
                    if let Some(open) = stack.pop() {
                        opens[open] = true;
                        closes[i] = true;
                    }
                }
                _ => {}
            }
        }

        let mut b = Builder::new();
        let mut groups: Vec<Group> = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            match c {
                '*' => {
                    // `**` is the same as `*`; skip to keep the state set small.
                    if b.states[b.tail].kind != Kind::Star {
                        b.append(Kind::Star);
                    }
                }
                '?' => {
                    b.append(Kind::Any);
                }
                '{' if opens[i] => {
                    let fork = b.append(Kind::Split);
                    let join = b.add(Kind::Split);
                    groups.push(Group { fork, join });
                }
                ',' if !groups.is_empty() => {
                    let g = groups.last().expect("checked non-empty");
                    let (fork, join) = (g.fork, g.join);
                    b.link(b.tail, join);
                    b.tail = fork;
                }
                '}' if closes[i] => {
                    // A closing brace always belongs to the innermost open group
                    // (pairing above is stack-based), so the group is there.
                    let g = groups.pop().expect("paired brace has an open group");
                    b.link(b.tail, g.join);
                    b.tail = g.join;
                }
                other => {
                    b.append(Kind::Char(other));
                }
            }
        }
        b.finish(pattern.to_owned())
    }

    /// A glob matching exactly `name`, metacharacters included.
    pub fn exact(name: &str) -> Glob {
        let mut b = Builder::new();
        for c in name.chars() {
            b.append(Kind::Char(c));
        }
        b.finish(name.to_owned())
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the glob matches the whole of `name`.
    pub fn matches(&self, name: &str) -> bool {
        let n = self.states.len();
        // `seen[s] == generation` marks membership in the set being built;
        // bumping the generation clears the marks without a pass over them.
        let mut seen = vec![0usize; n];
        let mut generation = 1;
        let mut current = Vec::with_capacity(n);
        let mut next = Vec::with_capacity(n);
        let mut pending = Vec::new();

        self.close(self.start, &mut current, &mut seen, generation, &mut pending);
        for c in name.chars() {
            if current.is_empty() {
                return false;
            }
            generation += 1;
            next.clear();
            for &s in &current {
                let state = &self.states[s];
                match state.kind {
                    Kind::Char(want) if want == c => {
                        for &t in &state.out {
                            self.close(t, &mut next, &mut seen, generation, &mut pending);
                        }
                    }
                    Kind::Any => {
                        for &t in &state.out {
                            self.close(t, &mut next, &mut seen, generation, &mut pending);
                        }
                    }
                    Kind::Star => {
                        self.close(s, &mut next, &mut seen, generation, &mut pending);
                    }
                    _ => {}
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        current.iter().any(|&s| self.states[s].kind == Kind::Match)
    }

    /// Adds `from` and everything reachable from it without consuming a
    /// character to `set`; iterative so long `Split` chains cannot overflow.
    fn close(
        &self,
        from: usize,
        set: &mut Vec<usize>,
        seen: &mut [usize],
        generation: usize,
        pending: &mut Vec<usize>,
    ) {
        pending.push(from);
        while let Some(s) = pending.pop() {
            if seen[s] == generation {
                continue;
            }
            seen[s] = generation;
            let state = &self.states[s];
            match state.kind {
                Kind::Split => pending.extend(state.out.iter().copied()),
                Kind::Star => {
                    set.push(s);
                    pending.extend(state.out.iter().copied());
                }
                _ => set.push(s),
            }
        }
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Glob::new(pattern).matches(name)
    }

    #[test]
    fn star_matches_any_suffix_including_empty() {
        assert!(m("pool*", "pool1"));
        assert!(m("pool*", "pool"));
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(!m("pool*", "apool1"));
    }

    #[test]
    fn star_in_the_middle_and_repeated() {
        assert!(m("p*l", "pool"));
        assert!(m("p**l", "pl"));
        assert!(m("*o*o*", "pool"));
        assert!(!m("*o*o*o*", "pool"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(m("p?ol", "pool"));
        assert!(!m("p?ol", "pol"));
        assert!(!m("p?ol", "poool"));
        assert!(m("?", "é"));
    }

    #[test]
    fn match_is_whole_name_not_substring() {
        assert!(!m("pool", "pool1"));
        assert!(!m("pool", "mypool"));
        assert!(m("pool", "pool"));
    }

    #[test]
    fn empty_pattern_matches_only_empty_name() {
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn braces_match_any_alternative() {
        assert!(m("pool{1,2}", "pool1"));
        assert!(m("pool{1,2}", "pool2"));
        assert!(!m("pool{1,2}", "pool3"));
        assert!(!m("pool{1,2}", "pool12"));
    }

    #[test]
    fn alternatives_may_hold_wildcards() {
        assert!(m("{a*,b?}", "abcdef"));
        assert!(m("{a*,b?}", "bx"));
        assert!(!m("{a*,b?}", "bxy"));
    }

    #[test]
    fn braces_nest() {
        let g = Glob::new("x{a,{b,c}}y");
        assert!(g.matches("xay"));
        assert!(g.matches("xby"));
        assert!(g.matches("xcy"));
        assert!(!g.matches("xdy"));
        assert!(!g.matches("xy"));
    }

    #[test]
    fn empty_alternatives_match_nothing() {
        assert!(m("pool{,x}", "pool"));
        assert!(m("pool{,x}", "poolx"));
        assert!(m("a{}b", "ab"));
        assert!(m("a{,}b", "ab"));
    }

    #[test]
    fn unterminated_brace_is_literal() {
        assert!(m("pool{1", "pool{1"));
        assert!(!m("pool{1", "pool1"));
        assert!(m("{a,{b}", "{a,b"));
        assert!(m("{{{", "{{{"));
    }

    #[test]
    fn closing_brace_and_comma_outside_braces_are_literal() {
        assert!(m("a}b", "a}b"));
        assert!(m("a,b", "a,b"));
        assert!(!m("a,b", "a"));
        assert!(m("}{a,b}", "}a"));
    }

    #[test]
    fn dot_and_brackets_and_backslash_are_literal() {
        assert!(m("a.b", "a.b"));
        assert!(!m("a.b", "axb"));
        assert!(m("pool[1]", "pool[1]"));
        assert!(!m("pool[1]", "pool1"));
        assert!(m(r"a\*", r"a\xyz"));
        assert!(!m(r"a\*", "a*"));
    }

    #[test]
    fn exact_treats_metacharacters_literally() {
        let g = Glob::exact("pool*{1,2}?");
        assert!(g.matches("pool*{1,2}?"));
        assert!(!g.matches("pool11x"));
        assert_eq!(g.to_string(), "pool*{1,2}?");
    }

    #[test]
    fn display_shows_pattern_as_given() {
        let g = Glob::new("pool{1,2}*");
        assert_eq!(g.to_string(), "pool{1,2}*");
        assert_eq!(g.as_str(), "pool{1,2}*");
    }

    /// A backtracking matcher needs exponential time for these and would never finish; the
    /// state machine answers them in about a second in a debug build.
    #[test]
    fn many_stars_against_long_name_finish() {
        let name = "a".repeat(200_000);
        assert!(!m("*a*a*a*a*b", &name));
        assert!(m("*a*a*a*a*", &name));
        let long_pattern = format!("{}b", "*a".repeat(100));
        assert!(!m(&long_pattern, &"a".repeat(5_000)));
    }

    #[test]
    fn deep_nesting_and_many_unterminated_braces_do_not_overflow() {
        let depth = 100_000;
        let nested = format!("{}x{}", "{".repeat(depth), "}".repeat(depth));
        assert!(m(&nested, "x"));
        let open = "{".repeat(depth);
        assert!(m(&open, &open));
        // Unpaired braces around stars: the stars stay wildcards.
        let braces_and_stars = "{*,".repeat(2_000);
        assert!(m(&braces_and_stars, &braces_and_stars));
    }
}
