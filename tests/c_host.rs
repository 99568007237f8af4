//! The C host test: builds `tests/c/host.c` with `-Wall -Wextra -Werror` against the
//! committed header and the library cargo just built (static and shared), runs it, and runs
//! it again under valgrind when valgrind is installed (`DCM_REQUIRE_VALGRIND=1` makes a
//! missing valgrind a failure, for CI). It also checks that the shared library exports every
//! function of the header and that the header compiles as C99 and as C++.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Libraries the Rust standard library needs when linking the staticlib.
const STATIC_LIBS: &[&str] = &["-lpthread", "-lm", "-ldl", "-lrt", "-lutil", "-lgcc_s", "-lc"];
const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Werror"];
const FILES: &str = "300";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// The artifact `name` that cargo built with this test: next to the test binary (`deps/`),
/// else in the profile directory above it (where `cargo build` puts it).
fn artifact(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its binary");
    let deps = exe.parent().expect("the test binary is in a directory");
    let candidates = [deps.join(name), deps.parent().map(|p| p.join(name)).unwrap_or_default()];
    candidates
        .iter()
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .cloned()
        .unwrap_or_else(|| panic!("{name} not found next to {}; was the root package built?", exe.display()))
}

fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Runs a child to completion or kills it after `timeout`; returns (success, stdout, stderr).
fn run(mut command: Command, timeout: Duration) -> (bool, String, String) {
    let description = format!("{command:?}");
    let mut child: Child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {description}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    match status {
        Some(status) => (status.success(), out, err),
        None => (false, out, format!("{err}\n{description} killed after {timeout:?}")),
    }
}

/// Compiles the C host into `output`, linked with `link` (library path and flags).
fn build_host(output: &Path, link: &[String]) {
    let mut cc = Command::new(compiler());
    cc.args(["-std=c11", "-g", "-O1", "-pthread"])
        .args(WARNINGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c/host.c"))
        .arg("-o")
        .arg(output)
        .args(link);
    let (ok, out, err) = run(cc, Duration::from_secs(120));
    assert!(ok, "compiling tests/c/host.c failed:\n{out}{err}");
}

fn static_host(name: &str) -> PathBuf {
    let exe = tmp().join(name);
    let mut link = vec![artifact("libdcache_migration.a").display().to_string()];
    link.extend(STATIC_LIBS.iter().map(|s| s.to_string()));
    build_host(&exe, &link);
    exe
}

fn run_host(command: Command, timeout: Duration) {
    let (ok, out, err) = run(command, timeout);
    println!("{out}");
    eprintln!("{err}");
    assert!(ok, "the C host failed:\n{out}\n{err}");
    assert!(out.contains("c_host: all checks passed"), "no success line:\n{out}");
    assert!(out.contains("moved 300 files"), "no move report:\n{out}");
}

#[test]
fn c_host_linked_statically_moves_files_and_checks_error_paths() {
    let exe = static_host("c_host_static");
    let mut command = Command::new(&exe);
    command.arg(FILES);
    run_host(command, Duration::from_secs(180));
}

#[test]
fn c_host_linked_dynamically_moves_files_and_checks_error_paths() {
    let library = artifact("libdcache_migration.so");
    let dir = library.parent().expect("the library is in a directory").display().to_string();
    let exe = tmp().join("c_host_shared");
    build_host(&exe, &[library.display().to_string(), format!("-Wl,-rpath,{dir}")]);
    let mut command = Command::new(&exe);
    command.arg(FILES).env("LD_LIBRARY_PATH", &dir);
    run_host(command, Duration::from_secs(180));
}

#[test]
fn c_host_is_clean_under_valgrind() {
    if !have("valgrind") {
        assert!(
            std::env::var_os("DCM_REQUIRE_VALGRIND").is_none(),
            "DCM_REQUIRE_VALGRIND is set but valgrind is missing"
        );
        eprintln!("valgrind is not installed: skipped (apt-get install valgrind)");
        return;
    }
    let exe = static_host("c_host_valgrind");
    let mut command = Command::new("valgrind");
    // Tokio's thread-locals may show as "possibly lost"; only definite leaks fail.
    command
        .args(["--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite", "--quiet"])
        .arg(&exe)
        .arg(FILES);
    run_host(command, Duration::from_secs(900));
}

#[test]
fn docs_example_compiles_and_runs() {
    let doc = std::fs::read_to_string(root().join("docs/c-api.md")).expect("docs/c-api.md exists");
    let start = doc.find("```c\n").expect("docs/c-api.md has a C example") + 5;
    let end = start + doc[start..].find("```").expect("the example ends");
    let source = tmp().join("docs_example.c");
    std::fs::write(&source, &doc[start..end]).expect("the tmp dir is writable");
    let exe = tmp().join("docs_example");
    let mut cc = Command::new(compiler());
    cc.args(["-std=c11", "-pthread"])
        .args(WARNINGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg(artifact("libdcache_migration.a"))
        .args(STATIC_LIBS);
    let (ok, out, err) = run(cc, Duration::from_secs(120));
    assert!(ok, "the example in docs/c-api.md does not compile:\n{out}{err}");
    let (ok, out, err) = run(Command::new(&exe), Duration::from_secs(60));
    assert!(ok, "the example failed:\n{out}{err}");
    assert!(out.contains("[1] INITIALIZING migration copy pool2"), "{out}");
    assert!(out.contains("error 2: Job not found"), "{out}");
}

/// The functions the header declares: `… dcm_name(` at the start of a declaration.
fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(root().join("include/dcache_migration.h")).expect("the header is committed");
    let mut names: Vec<String> = header
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("typedef") && !l.starts_with('#') && !l.starts_with("/*"))
        .filter_map(|l| {
            let open = l.find('(')?;
            let name = l[..open].rsplit([' ', '*']).next()?;
            name.starts_with("dcm_").then(|| name.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn shared_library_exports_every_header_function() {
    let functions = header_functions();
    assert!(functions.len() > 20, "too few functions parsed from the header: {functions:?}");
    if !have("nm") {
        eprintln!("nm is not installed: skipped");
        return;
    }
    let mut nm = Command::new("nm");
    nm.args(["-D", "--defined-only"]).arg(artifact("libdcache_migration.so"));
    let (ok, symbols, err) = run(nm, Duration::from_secs(60));
    assert!(ok, "nm failed: {err}");
    let exported: Vec<&str> = symbols
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace().rev();
            let name = parts.next()?;
            (parts.next()? == "T").then_some(name)
        })
        .collect();
    let missing: Vec<&String> = functions.iter().filter(|f| !exported.contains(&f.as_str())).collect();
    assert!(missing.is_empty(), "not exported by libdcache_migration.so: {missing:?}");
}

#[test]
fn header_compiles_as_c99_and_as_cpp() {
    let source = tmp().join("header_only.c");
    std::fs::write(&source, "#include \"dcache_migration.h\"\nint main(void) { return dcm_abi_version() == 0; }\n")
        .expect("the tmp dir is writable");
    let mut c99 = Command::new(compiler());
    c99.args(["-std=c99", "-pedantic", "-fsyntax-only"])
        .args(WARNINGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg(&source);
    let (ok, out, err) = run(c99, Duration::from_secs(60));
    assert!(ok, "the header is not C99:\n{out}{err}");
    if !have("c++") {
        eprintln!("no C++ compiler: C++ check skipped");
        return;
    }
    let mut cpp = Command::new("c++");
    cpp.args(["-x", "c++", "-std=c++11", "-fsyntax-only"])
        .args(WARNINGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg(&source);
    let (ok, out, err) = run(cpp, Duration::from_secs(60));
    assert!(ok, "the header does not compile as C++:\n{out}{err}");
}
