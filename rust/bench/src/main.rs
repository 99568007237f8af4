//! `migration-bench`: the performance goals of issue #8 as one command.
//!
//! ```text
//! cargo run --release -p migration-bench                  # everything (a few minutes)
//! cargo run --release -p migration-bench -- --quick       # smoke run with small sizes (CI)
//! cargo run --release -p migration-bench -- --only NAME   # start|memory|commands|throughput|latency|scaling|disk|copy|million
//! cargo run --release -p migration-bench -- --only throughput --repeat 5   # medians of 5 runs taken in turn
//! cargo run --release -p migration-bench -- --only disk --repeat 3         # medians of 3 rounds of cp, rsync and the move
//! ```
//!
//! Every benchmark prints its series as it goes; the end is one Markdown table: figure,
//! target, ratio to target, pass or MISS. Parts that need a C compiler, a JDK or rsync are
//! skipped with a printed reason when the tool is missing.

mod commands;
mod copy;
mod disk;
mod instant;
mod java;
mod latency;
mod million;
mod native;
mod repo;
mod sansio;
mod scaling;
mod start;
mod table;
mod throughput;

use std::process::{Command, ExitCode};

use table::Row;

/// Command-line options.
pub struct Options {
    /// Small sizes, seconds in all.
    pub quick: bool,
    /// Only this benchmark.
    pub only: Option<String>,
    /// Runs of the throughput benchmark and rounds of the disk one, taken in turn; their rows
    /// are the medians.
    pub repeat: u32,
}

const BENCHES: &[&str] =
    &["start", "memory", "commands", "throughput", "latency", "scaling", "disk", "copy", "million"];

const USAGE: &str = "usage: migration-bench [--quick] [--only start|memory|commands|throughput|latency|scaling|disk|copy|million] [--repeat N]";

/// Resident anonymous memory of this process, bytes (`RssAnon`: the heap and stacks, not
/// the program's code paged in from its file).
pub fn rss_anon_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok());
    kb.unwrap_or(0u64) * 1024
}

/// Resident set of this process, bytes.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// `1k`, `10M`, …
pub fn short(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Runs this binary as `--child ARGS…` and returns its stdout.
pub fn child(args: &[&str]) -> String {
    let exe = std::env::current_exe().expect("the bench knows its binary");
    let out = Command::new(exe).arg("--child").args(args).output().expect("the bench can run itself");
    assert!(
        out.status.success(),
        "child {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn parse() -> Result<Options, String> {
    let mut options = Options { quick: false, only: None, repeat: 1 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--only" => {
                let name = args.next().ok_or("--only needs a benchmark name")?;
                if !BENCHES.contains(&name.as_str()) {
                    return Err(format!("unknown benchmark {name}; one of {}", BENCHES.join(", ")));
                }
                options.only = Some(name);
            }
            "--repeat" => {
                let n = args.next().ok_or("--repeat needs a number of runs")?;
                options.repeat = n.parse().ok().filter(|&n| n >= 1).ok_or(format!("--repeat {n}: not a number ≥ 1"))?;
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()))
        .map_or_else(|| "?".to_string(), |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}, {memory} memory, load average {}", load.join(" "))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--child") {
        match argv.get(2).map(String::as_str) {
            Some("start") => start::child_main(&argv[3..]),
            Some("scaling") => scaling::child_main(&argv[3..]),
            // The pauses of a queue's compactions: `--child compaction FILES`.
            Some("compaction") => scaling::compaction_main(&argv[3..]),
            // The cost of a reading of the runtime's clock: `--child clock`.
            Some("clock") => throughput::clock_main(),
            // For profiling: `perf record migration-bench --child rate FILES CONCURRENCY`.
            Some("rate") => {
                let files = argv[3].parse().expect("a file count");
                let concurrency = argv[4].parse().expect("a concurrency");
                println!("rate {concurrency} {:.0}", throughput::rust_rate(files, concurrency));
            }
            other => panic!("unknown child {other:?}"),
        }
        return ExitCode::SUCCESS;
    }
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let wanted = |name: &str| options.only.as_deref().is_none_or(|o| o == name);
    println!("migration-bench{}: {}", if options.quick { " --quick" } else { "" }, machine());
    let begin = std::time::Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut started = Vec::new();
    if wanted("start") {
        started = start::run(&options, &mut rows);
    }
    if wanted("memory") {
        start::memory(&options, &mut rows, &started);
    }
    if wanted("commands") {
        commands::run(&options, &mut rows);
    }
    if wanted("throughput") {
        throughput::run(&options, &mut rows);
    }
    if wanted("latency") {
        latency::run(&options, &mut rows);
    }
    if wanted("scaling") {
        scaling::run(&options, &mut rows);
    }
    if wanted("disk") {
        disk::run(&options, &mut rows);
    }
    if wanted("copy") {
        copy::run(&options, &mut rows);
    }
    // Minutes and gigabytes: only when asked for by name.
    if options.only.as_deref() == Some("million") {
        million::run(&options, &mut rows);
    }
    println!();
    println!("Results ({}; {:.0} s in all):", machine(), begin.elapsed().as_secs_f64());
    println!();
    print!("{}", table::render(&rows));
    ExitCode::SUCCESS
}
