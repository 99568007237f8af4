//! The Java parts: dCache's queue structures (`java/queuecost`) and the JNI throughput bench
//! (`java/jnibench`, against the facade in `java/src/main/java`). Both are compiled with the
//! system JDK's `javac` into `target/bench/java`; a missing JDK skips them with a reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::start::{output, work_dir};

fn tool(name: &str) -> Result<PathBuf, String> {
    let candidates = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin").join(name))
        .into_iter()
        .chain(std::iter::once(PathBuf::from(name)));
    for candidate in candidates {
        if Command::new(&candidate).arg("-version").output().is_ok_and(|o| o.status.success()) {
            return Ok(candidate);
        }
    }
    Err(format!("no `{name}` (install a JDK, e.g. openjdk-17-jdk-headless)"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "java") {
                out.push(path);
            }
        }
    }
}

/// Compiles the `.java` files under `dirs` (with `classpath`) into `target/bench/java/<name>`.
fn compile(name: &str, dirs: &[PathBuf], classpath: &str) -> Result<PathBuf, String> {
    let javac = tool("javac")?;
    let classes = work_dir().join("java").join(name);
    let _ = std::fs::remove_dir_all(&classes);
    std::fs::create_dir_all(&classes).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for dir in dirs {
        sources(dir, &mut files);
    }
    let mut command = Command::new(javac);
    command.arg("-nowarn").arg("-d").arg(&classes);
    if !classpath.is_empty() {
        command.arg("-cp").arg(classpath);
    }
    command.args(&files);
    output(&mut command)?;
    Ok(classes)
}

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("java")
}

/// Heap bytes per replica of dCache's queue structures, for each count.
pub fn queue_cost(counts: &[u64]) -> Result<Vec<(u64, f64)>, String> {
    let classes = compile("queuecost", &[bench_dir().join("queuecost")], "")?;
    let java = tool("java")?;
    let mut command = Command::new(java);
    command.args(["-XX:+UseSerialGC", "-Xms4g", "-Xmx4g", "-cp"]).arg(&classes).arg("QueueCost");
    command.args(counts.iter().map(u64::to_string));
    let out = output(&mut command)?;
    out.lines()
        .map(|line| {
            let (n, per) = line.split_once(' ').ok_or_else(|| format!("unexpected output: {line}"))?;
            Ok((n.parse().map_err(|_| line.to_string())?, per.parse().map_err(|_| line.to_string())?))
        })
        .collect()
}

/// The SLF4J API jar the facade compiles against.
fn slf4j() -> Result<PathBuf, String> {
    let jar = PathBuf::from("/usr/share/java/slf4j-api.jar");
    if jar.is_file() { Ok(jar) } else { Err("no /usr/share/java/slf4j-api.jar (apt-get install libslf4j-java)".into()) }
}

/// What the JNI throughput bench measured at one concurrency.
pub struct JniRun {
    /// The concurrency.
    pub concurrency: u32,
    /// Files per second.
    pub rate: f64,
    /// Calls from the library into Java per file.
    pub into_java: f64,
    /// Native calls from Java per file (the bench's polling of `migration info` among them).
    pub from_java: f64,
}

/// The JNI throughput bench (`java/jnibench` on the facade), compiled once and run as often
/// as wanted.
pub struct JniBench {
    java: PathBuf,
    classpath: String,
    library: PathBuf,
}

impl JniBench {
    /// Compiles the facade and the bench against the SLF4J API, for `library`.
    pub fn build(library: &Path) -> Result<JniBench, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let slf4j = slf4j()?;
        let classes = compile(
            "jnibench",
            &[root.join("java/src/main/java"), bench_dir().join("jnibench")],
            &slf4j.display().to_string(),
        )?;
        let classpath = format!("{}:{}", classes.display(), slf4j.display());
        Ok(JniBench { java: tool("java")?, classpath, library: library.to_path_buf() })
    }

    /// Files/s and crossings per file for each concurrency, in a fresh JVM.
    pub fn run(&self, files: u64, concurrencies: &[u32]) -> Result<Vec<JniRun>, String> {
        let mut command = Command::new(&self.java);
        command
            .arg(format!("-Ddcache.migration.library={}", self.library.display()))
            .args(["-Xmx2g", "--enable-native-access=ALL-UNNAMED", "-cp", &self.classpath, "JniBench"])
            .arg(files.to_string())
            .args(concurrencies.iter().map(u32::to_string));
        let out = output(&mut command)?;
        let crossings = parse_crossings(&out);
        parse_rates(&out)?
            .into_iter()
            .map(|(concurrency, rate)| {
                let &(_, into_java, from_java) = crossings
                    .iter()
                    .find(|(c, _, _)| *c == concurrency)
                    .ok_or_else(|| format!("no crossings for concurrency {concurrency} in the output: {out}"))?;
                Ok(JniRun { concurrency, rate, into_java, from_java })
            })
            .collect()
    }
}

/// Lines `crossings concurrency into_java from_java`, per file.
fn parse_crossings(out: &str) -> Vec<(u32, f64, f64)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("crossings "))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

/// Lines `concurrency files_per_second` (other lines are ignored).
pub fn parse_rates(out: &str) -> Result<Vec<(u32, f64)>, String> {
    let rates: Vec<(u32, f64)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("rate "))
        .filter_map(|l| {
            let (c, r) = l.split_once(' ')?;
            Some((c.parse().ok()?, r.trim().parse().ok()?))
        })
        .collect();
    if rates.is_empty() { Err(format!("no rates in the output: {out}")) } else { Ok(rates) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_are_read_per_concurrency_beside_the_rates() {
        let out = "rate 1 60000\ncrossings 1 10.00 7.01\nnoise\nrate 16 65000\ncrossings 16 9.50 6.90\n";
        assert_eq!(parse_rates(out).expect("rates"), vec![(1, 60000.0), (16, 65000.0)]);
        assert_eq!(parse_crossings(out), vec![(1, 10.0, 7.01), (16, 9.5, 6.9)]);
        assert!(parse_crossings("crossings 1 x 7").is_empty(), "a malformed line is skipped");
    }
}
