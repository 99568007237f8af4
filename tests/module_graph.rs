//! No import cycles between the modules of `rust/core` and of `rust/minidcache` (issue #16,
//! "one owner per concept, no circles").
//!
//! The graph is read from the sources, not from the compiler, so that it sees what a reader
//! sees:
//!
//! * A node is a top-level module: `syntax/args.rs` and `syntax/mod.rs` are both `syntax`,
//!   `driver/sim.rs` is `driver`. A directory module is one concept with parts; its parts may
//!   refer to each other (`super::`) freely.
//! * An edge `a -> b` is any path `crate::b…` in `a` (in a `use` or in an expression, grouped
//!   `crate::{b::X, c}` included), and any `super::` chain that climbs out to the crate root
//!   (`super::b` in a top-level file, `super::super::b` in `driver/sim.rs`). A name the crate
//!   root re-exports (`crate::PnfsId`, from `pub use pnfsid::PnfsId;`) counts as its module.
//! * Comments, string and character literals are skipped (a doc link is not a dependency);
//!   so are `#[cfg(test)]` modules, inline or in their own file: a test may import anything.
//! * The crate root (`lib.rs`) and minidcache's binary (`main.rs`) only declare and assemble
//!   modules and are left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The dependencies between the top-level modules of one crate.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as (path relative to `dir`, text).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for item in std::fs::read_dir(&at).expect("the source directory is readable") {
            let path = item.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file is readable");
                out.push((path.strip_prefix(dir).expect("below the directory").to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

/// The text with comments, string literals and character literals replaced by spaces (line
/// breaks kept), so that only code is searched.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(chars[j]));
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&c) = chars.get(i) {
                    out.push(blank(c));
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\''); otherwise a lifetime, which is kept.
            i += if next == Some('\\') { 3 } else { 2 };
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The code without its `#[cfg(test)]` inline modules; and the names of the `#[cfg(test)]`
/// modules declared here whose body is in a file of their own.
fn without_test_modules(code: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut external = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let item = after.trim_start();
        let item = item.strip_prefix("pub ").or_else(|| item.strip_prefix("pub(crate) ")).unwrap_or(item);
        let Some(declaration) = item.strip_prefix("mod ") else {
            // A test-only item that is not a module (a function, an impl): kept, it is rare
            // and small, and counting its imports errs on the strict side.
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        };
        let name: String = declaration.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let body = declaration.trim_start()[name.len()..].trim_start();
        if let Some(after) = body.strip_prefix(';') {
            external.push(name);
            rest = after;
            continue;
        }
        assert!(body.starts_with('{'), "a #[cfg(test)] mod {name} with neither a body nor a ';'");
        let mut depth = 0;
        let mut end = body.len();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    (out, external)
}

fn identifier(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The first segments of the paths in `after`, the text that follows a `crate::` (or a
/// `super::` chain that reaches the root): one for `a::…`, several for `{a::X, b}`.
fn first_segments(after: &str) -> Vec<String> {
    let after = after.trim_start();
    let Some(group) = after.strip_prefix('{') else {
        return vec![identifier(after).to_string()];
    };
    let mut segments = Vec::new();
    let mut depth = 0;
    let mut start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if start && !c.is_whitespace() => {
                segments.push(identifier(&group[i..]).to_string());
                start = false;
            }
            _ => {}
        }
    }
    segments
}

/// The module path of a file: `syntax/args.rs` is `[syntax, args]`, `syntax/mod.rs` is
/// `[syntax]`.
fn module_path(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The names the crate root re-exports (`pub use pnfsid::PnfsId;`), by the module they
/// come from.
fn root_exports(lib: &str) -> HashMap<String, String> {
    let mut exports = HashMap::new();
    for statement in code_only(lib).split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else { continue };
        let module = identifier(path.trim_start_matches("crate::")).to_string();
        let names = path.rsplit_once("::").map_or("", |(_, names)| names);
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.trim();
            let name = name.rsplit_once(" as ").map_or(name, |(_, alias)| alias.trim());
            if !name.is_empty() {
                exports.insert(name.to_string(), module.clone());
            }
        }
    }
    exports
}

/// The module graph of the crate whose sources are `files` (paths relative to its `src`).
fn graph_of(files: &[(PathBuf, String)]) -> Graph {
    let lib = files.iter().find(|(p, _)| p == Path::new("lib.rs")).map_or("", |(_, t)| t.as_str());
    let exports = root_exports(lib);
    let mut test_files: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut stripped = Vec::new();
    for (file, text) in files {
        let (code, tests) = without_test_modules(&code_only(text));
        let mut path = module_path(file);
        if path == ["lib"] {
            path.clear();
        }
        for name in tests {
            let mut test = path.clone();
            test.push(name);
            test_files.insert(test);
        }
        stripped.push((module_path(file), code));
    }
    let mut modules: Graph = BTreeMap::new();
    for (path, _) in &stripped {
        if let Some(top) = path.first().filter(|t| *t != "lib" && *t != "main") {
            modules.entry(top.clone()).or_default();
        }
    }
    for (path, code) in &stripped {
        let Some(top) = path.first() else { continue };
        if top == "lib" || top == "main" || (1..=path.len()).any(|n| test_files.contains(&path[..n])) {
            continue;
        }
        let mut targets = Vec::new();
        for (at, _) in code.match_indices("crate::") {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            targets.extend(first_segments(&code[at + "crate::".len()..]));
        }
        for (at, _) in code.match_indices("super::") {
            if code[..at].ends_with("super::") || code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric()) {
                continue;
            }
            let mut climbs = 0;
            let mut rest = &code[at..];
            while let Some(r) = rest.strip_prefix("super::") {
                climbs += 1;
                rest = r;
            }
            if climbs >= path.len() {
                targets.extend(first_segments(rest));
            }
        }
        for target in targets {
            let target = match exports.get(&target) {
                Some(module) => module.clone(),
                None => target,
            };
            if target != *top && modules.contains_key(&target) {
                modules.get_mut(top).expect("every top-level module is a node").insert(target);
            }
        }
    }
    modules
}

/// A cycle of the graph, as `a -> b -> … -> a`, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut HashMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::OnPath);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::OnPath => {
                    let from = path.iter().position(|p| p == next).expect("on the path");
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) != Mark::New {
            continue;
        }
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

fn assert_acyclic(crate_dir: &str) {
    let files = sources(&root().join(crate_dir).join("src"));
    let graph = graph_of(&files);
    assert!(graph.len() > 5, "{crate_dir}: too few modules found ({}): is the path right?", graph.len());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("{crate_dir}: import cycle between modules: {}", cycle.join(" -> "));
    }
}

#[test]
fn core_modules_import_no_module_that_imports_them() {
    assert_acyclic("rust/core");
}

#[test]
fn minidcache_modules_import_no_module_that_imports_them() {
    assert_acyclic("rust/minidcache");
}

/// The reader and the search on a crate made up here, with a cycle hidden in each way the
/// graph is read.
#[test]
fn a_cycle_is_found_and_what_is_not_code_is_ignored() {
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_string());
    let crate_with = |a: &str| {
        vec![
            file("lib.rs", "pub mod a; pub mod b; pub mod c; pub use c::Thing;"),
            file("a.rs", a),
            file("b/mod.rs", "pub mod part;"),
            file("b/part.rs", "use super::super::c::X; use super::Sibling;"),
            file(
                "c.rs",
                "// crate::a::Y in a comment\nconst S: &str = \"crate::a::Z\";\n#[cfg(test)]\nmod tests { use crate::a::W; }\nfn f<'a>(x: &'a str) -> char { 'c' }",
            ),
        ]
    };
    let acyclic = graph_of(&crate_with("use crate::{b::part::Y, c};"));
    assert_eq!(acyclic["a"], BTreeSet::from(["b".to_string(), "c".to_string()]));
    assert_eq!(acyclic["b"], BTreeSet::from(["c".to_string()]));
    assert!(acyclic["c"].is_empty(), "comments, strings and test modules are not dependencies");
    assert_eq!(find_cycle(&acyclic), None);

    let mut cyclic = crate_with("fn f() -> crate::Thing { todo!() }");
    cyclic[4] = file("c.rs", "fn g() { crate::a::f(); }");
    assert_eq!(find_cycle(&graph_of(&cyclic)), Some(vec!["a".to_string(), "c".to_string(), "a".to_string()]));
}
