//! The native library for the C and JNI benches, and the C bench host (`c/bench_host.c`),
//! compiled against the committed header `include/dcache_migration.h`.

use std::path::PathBuf;
use std::process::Command;

use crate::start::{output, work_dir};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The release build of the root crate's shared library (C ABI and JNI), built with cargo
/// first, so that it is never older than this bench's core.
pub fn library() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build.current_dir(root()).args(["build", "--release", "--quiet", "-p", "dcache-migration"]);
    output(&mut build).map_err(|e| format!("cannot build the library: {e}"))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let library = target.join("release/libdcache_migration.so");
    if library.is_file() { Ok(library) } else { Err(format!("{} is missing after the build", library.display())) }
}

fn compiler() -> Result<String, String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    match Command::new(&cc).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(cc),
        _ => Err(format!("no C compiler `{cc}` (apt-get install gcc)")),
    }
}

/// The C bench host, compiled once against the library and run as often as wanted.
pub struct CBench {
    exe: PathBuf,
}

impl CBench {
    /// Compiles `c/bench_host.c` against `library`.
    pub fn build(library: &std::path::Path) -> Result<CBench, String> {
        let cc = compiler()?;
        let exe = work_dir().join("bench_host");
        let dir = library.parent().ok_or("the library has no directory")?;
        let mut compile = Command::new(cc);
        compile
            .args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread"])
            .arg(format!("-I{}", root().join("include").display()))
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("c/bench_host.c"))
            .arg(format!("-L{}", dir.display()))
            .arg("-ldcache_migration")
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-o")
            .arg(&exe);
        output(&mut compile)?;
        Ok(CBench { exe })
    }

    /// Files per second for each concurrency.
    pub fn run(&self, files: u64, concurrencies: &[u32]) -> Result<Vec<(u32, f64)>, String> {
        let mut run = Command::new(&self.exe);
        run.arg(files.to_string()).args(concurrencies.iter().map(u32::to_string));
        crate::java::parse_rates(&output(&mut run)?)
    }
}
