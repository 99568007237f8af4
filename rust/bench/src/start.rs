//! Items 1 and 2 of issue #8: job start over 1k … 10M replicas, and the memory of the queue.
//!
//! Each size runs in a child process of this binary (`--child start N ORDER`), so that one
//! size's allocations do not blur the next one's resident set. The child drives the sans-IO
//! `Module` directly (see `sansio`) and reports the time from the command to RUNNING with the
//! full queue, and the resident set before and after.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sansio::{Reads, Source};
use crate::table::{Row, Target};
use crate::{Options, child, java, rss_anon_bytes, rss_bytes};

/// One job start measured in a child.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// Replicas in the repository (all match the filter).
    pub replicas: u64,
    /// Seconds from the command to RUNNING with the full queue.
    pub seconds: f64,
    /// Files queued once RUNNING.
    pub queued: u64,
    /// Resident set growth, bytes.
    pub rss_growth: u64,
    /// Its anonymous part: the rest is the program's code that the start paged in.
    pub anon_growth: u64,
}

/// `--child start N ORDER`: runs in the child.
pub fn child_main(args: &[String]) {
    let n: u64 = args[0].parse().expect("a replica count");
    let by_size = args[1] == "size";
    let mut source = Source::new(n);
    // Touch the repository and the module once so that what follows is the job's own.
    let (before, anon_before) = (rss_bytes(), rss_anon_bytes());
    let elapsed = source.start_job(by_size, 1, Reads::Hold);
    let (after, anon_after) = (rss_bytes(), rss_anon_bytes());
    let growth = (after.saturating_sub(before), anon_after.saturating_sub(anon_before));
    println!("{} {} {} {}", elapsed.as_secs_f64(), source.queued(), growth.0, growth.1);
}

fn measure(n: u64, by_size: bool) -> Started {
    let out = child(&["start", &n.to_string(), if by_size { "size" } else { "none" }]);
    let fields: Vec<&str> = out.split_whitespace().collect();
    Started {
        replicas: n,
        seconds: fields[0].parse().expect("seconds"),
        queued: fields[1].parse().expect("queued"),
        rss_growth: fields[2].parse().expect("bytes"),
        anon_growth: fields[3].parse().expect("bytes"),
    }
}

/// The best of `runs` starts (the least disturbed by other work on the machine).
fn best(n: u64, by_size: bool, runs: usize) -> Started {
    (0..runs).map(|_| measure(n, by_size)).min_by(|a, b| a.seconds.total_cmp(&b.seconds)).expect("at least one run")
}

fn sizes(options: &Options) -> Vec<u64> {
    if options.quick { vec![1_000, 10_000, 100_000] } else { vec![1_000, 10_000, 100_000, 1_000_000, 10_000_000] }
}

/// Item 1: job start; also keeps the 1M/10M runs for item 2.
pub fn run(options: &Options, rows: &mut Vec<Row>) -> Vec<Started> {
    let mut kept = Vec::new();
    for by_size in [false, true] {
        let label = if by_size { "-order=size" } else { "repository order" };
        println!("job start, {label} (sans-IO Module driven directly; scan = driver::local::scan):");
        println!("  {:>12} {:>10} {:>12} {:>14}", "replicas", "seconds", "ns/replica", "queued");
        let mut series = Vec::new();
        for n in sizes(options) {
            let runs = if n >= 10_000_000 { 2 } else { 3 };
            let s = best(n, by_size, runs);
            assert_eq!(s.queued, n - 1, "every replica is queued (one is running)");
            println!("  {:>12} {:>10.4} {:>12.1} {:>14}", n, s.seconds, s.seconds * 1e9 / n as f64, s.queued);
            series.push(s);
            if !by_size {
                kept.push(s);
            }
        }
        let last = series.last().expect("sizes");
        let goal = if by_size { 4.0 } else { 2.0 };
        let name = format!("start {} replicas, {label}", crate::short(last.replicas));
        let target = if options.quick { Target::None } else { Target::AtMost(goal) };
        rows.push(Row::new("start", name, last.seconds, "s", target));
        // Linear: the cost per replica at the largest size against 100k.
        if let Some(mid) = series.iter().find(|s| s.replicas == 100_000).filter(|m| m.replicas < last.replicas) {
            let growth = (last.seconds / last.replicas as f64) / (mid.seconds / mid.replicas as f64);
            let name = format!("start {label}: ns/replica at {} ÷ at 100k", crate::short(last.replicas));
            rows.push(Row::new("start", name, growth, "×", Target::AtMost(1.5)));
        }
    }
    kept
}

/// Item 2: bytes per queued replica at 1M and 10M (or 100k in a quick run), against the Java
/// structures dCache uses, built for the same count in one JVM run.
pub fn memory(options: &Options, rows: &mut Vec<Row>, started: &[Started]) {
    let counts: Vec<u64> = if options.quick { vec![100_000] } else { vec![1_000_000, 10_000_000] };
    println!("memory per queued replica (resident set growth from job start to RUNNING ÷ queue length):");
    for &n in &counts {
        let s = match started.iter().find(|s| s.replicas == n) {
            Some(s) => *s,
            None => measure(n, false),
        };
        let per = s.rss_growth as f64 / s.queued as f64;
        let anon = s.anon_growth as f64 / s.queued as f64;
        println!(
            "  {:>12} queued: {:>14} bytes resident growth, {per:.1} bytes/replica ({anon:.1} of it anonymous memory, the rest the program's code paged in)",
            s.queued, s.rss_growth
        );
        rows.push(Row::new(
            "memory",
            format!("Rust queue, {} queued", crate::short(n)),
            per,
            "B/replica",
            // The goal is set for 1M and 10M; small queues are dominated by the allocator.
            if options.quick { Target::None } else { Target::AtMost(32.0) },
        ));
    }
    match java::queue_cost(&counts) {
        Ok(costs) => {
            for (n, per) in costs {
                println!("  Java (PnfsId + LinkedHashSet + HashMap<PnfsId, Long>), {n}: {per:.1} bytes/replica");
                rows.push(Row::new(
                    "memory",
                    format!("dCache's Java queue, {}", crate::short(n)),
                    per,
                    "B/replica",
                    Target::None,
                ));
            }
        }
        Err(why) => println!("  Java comparison skipped: {why}"),
    }
}

/// Where helper programs are built.
pub fn work_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench can be created");
    dir
}

/// Where the benchmarks that write files (disk, copy, million) put them: `MIGRATION_BENCH_DIR`
/// if set, else [`work_dir`]. The file system matters as much as the code: without a journal,
/// ext4 skips every inode freed in the last minute when it creates a file, so a move that
/// deletes as it creates slows down the longer it runs (see the README).
pub fn data_dir() -> PathBuf {
    match std::env::var_os("MIGRATION_BENCH_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("MIGRATION_BENCH_DIR can be created");
            dir
        }
        None => work_dir(),
    }
}

/// The lines that say where the disk, copy and million benchmarks put their files and what
/// about that machine the figures depend on: the file system, and whether the machine hands
/// freed memory back to its host.
pub fn print_where_files_are() {
    println!("  in {}", describe(&data_dir()));
    if let Some(note) = memory_note() {
        println!("  {note}");
    }
}

/// `dir`, its file system and device, and for ext4 whether it has a journal (a journalled
/// ext4 has an entry in `/proc/fs/jbd2`), for the lines that report figures measured there.
fn describe(dir: &Path) -> String {
    let df = output(Command::new("df").args(["--output=fstype,source"]).arg(dir)).unwrap_or_default();
    let Some((fstype, source)) = df.lines().nth(1).and_then(|l| l.split_once(char::is_whitespace)) else {
        return dir.display().to_string();
    };
    let source = source.trim();
    let journal = if fstype == "ext4" {
        let device = source.trim_start_matches("/dev/");
        let journalled = std::fs::read_dir("/proc/fs/jbd2")
            .map(|entries| {
                entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(&format!("{device}-")))
            })
            .unwrap_or(false);
        if journalled { ", with a journal" } else { ", without a journal" }
    } else {
        ""
    };
    format!("{} ({fstype} on {source}{journal})", dir.display())
}

/// A line for the reports of figures that new memory slows, when this machine hands freed
/// memory back to its host: a virtio balloon that offers free page reporting (feature bit 5).
/// Writing memory the host took back costs a fault in the host too, 30–60 µs a page on the
/// project's machine (README, "So does the machine's memory").
fn memory_note() -> Option<String> {
    let devices = std::fs::read_dir("/sys/bus/virtio/devices").ok()?;
    let reporting = devices.flatten().any(|device| {
        let read = |name: &str| std::fs::read_to_string(device.path().join(name)).unwrap_or_default();
        read("device").trim() == "0x0005" && read("features").as_bytes().get(5) == Some(&b'1')
    });
    if !reporting {
        return None;
    }
    let parameter = |name: &str| std::fs::read_to_string(format!("/sys/module/page_reporting/parameters/{name}")).ok();
    let delay =
        parameter("min_free_ms").map(|ms| format!(" (page_reporting min_free_ms={})", ms.trim())).unwrap_or_default();
    Some(format!(
        "this machine hands freed memory back to its host{delay}: a program that takes new memory may wait for it (README)"
    ))
}

/// Runs a command; its stdout, or why it failed.
pub fn output(command: &mut Command) -> Result<String, String> {
    let out = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
