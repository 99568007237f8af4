//! Item 4 of issue #14: a million files end to end. `migration move` of 1 000 000 files of
//! 1 KiB between two minidcache pools on disk (every copy's ADLER32 checked against the
//! namespace by minidcache's p2p), with the wall time, the peak RSS of the process, and how
//! long `migration info` takes to answer while the job runs. Minutes of work and a few GB of
//! disk, so it runs only when asked for: `migration-bench --only million [--quick]`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Options;
use crate::disk::{Session, clear, minidcache};
use crate::start::{data_dir, print_where_files_are};
use crate::table::{Row, Target};

/// Peak resident set of process `pid`, in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
}

/// Runs item 4.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    // MILLION_FILES overrides the count, to look at a stall without waiting for a million.
    let files: u64 = std::env::var("MILLION_FILES").ok().and_then(|n| n.parse().ok()).unwrap_or(if options.quick {
        20_000
    } else {
        1_000_000
    });
    let binary = match minidcache() {
        Ok(b) => b,
        Err(why) => {
            println!("million skipped: {why}");
            return;
        }
    };
    let root: PathBuf = data_dir().join("million");
    clear(&root);
    let home = root.join("home");
    std::fs::create_dir_all(&home).expect("the bench directory can be created");
    println!("a million files end to end: `migration move` of {files} × 1 KiB between two minidcache pools:");
    print_where_files_are();
    // MILLION_TRANSFER_THREADS sets minidcache's --transfer-threads (default: twice the cores).
    let extra: Vec<String> = match std::env::var("MILLION_TRANSFER_THREADS") {
        Ok(threads) => vec!["--transfer-threads".to_string(), threads],
        Err(_) => Vec::new(),
    };
    let mut session = Session::start(&binary, &home, &extra);
    // The answers are read as minidcache's shell writes them: in short slices, so that what is
    // timed is the shell's wait for a core and not also this thread's (docs/performance.md,
    // the twenty-second round).
    minidcache::priority::run_in_short_slices();
    session.send("\\c pool1");
    let t0 = Instant::now();
    session.send(&format!("populate -files={files} -size=1024"));
    session.send("\\l");
    session.until_echo("\\l");
    println!("  populate: {:.0} s", t0.elapsed().as_secs_f64());

    let command = "migration move -concurrency=16 pool2";
    session.send(command);
    session.send("\\l");
    session.until_echo("\\l");
    let t0 = Instant::now();
    // `migration info` four times a second while the job runs: the time from sending it to the
    // end of its answer, pipe and shell included. The answer ends where the echo of the next
    // line begins; that next line is the same command, so nothing else is timed with it.
    const INFO: &str = "migration info 1";
    // Each answer's time, and when in the move it was asked (seconds).
    let mut answers: Vec<(Duration, f64)> = Vec::new();
    let info = loop {
        let asked = Instant::now();
        session.send(INFO);
        session.send(INFO);
        session.until_echo(INFO); // the first one's echo, after the previous poll's second answer
        let info = session.until_echo(INFO); // the first one's answer
        answers.push((asked.elapsed(), (asked - t0).as_secs_f64()));
        if !info.contains("State      : RUNNING\n") && !info.contains("State      : INITIALIZING\n") {
            break info;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let wall = t0.elapsed().as_secs_f64();
    let rss = peak_rss(session.pid());
    let moved = std::fs::read_dir(home.join("pool2/data")).map_or(0, count_files);
    session.quit();
    assert!(info.contains("State      : FINISHED\n"), "{info}");
    assert!(info.contains(&format!("Completed  : {files} files;")), "{info}");
    assert_eq!(moved, files, "every file is on pool2");

    answers.sort_by_key(|a| std::cmp::Reverse(a.0));
    let worst5: Vec<String> =
        answers.iter().take(5).map(|(d, at)| format!("{:.1} ms at {at:.1} s", d.as_secs_f64() * 1e3)).collect();
    println!("  slowest answers of migration info: {}", worst5.join(", "));
    let median = answers[answers.len() / 2].0.as_secs_f64() * 1e3;
    // The answer that 99 % of the others were at least as fast as.
    let p99 = answers[answers.len() / 100].0.as_secs_f64() * 1e3;
    let worst = answers.first().map_or(0.0, |a| a.0.as_secs_f64() * 1e3);
    let rss_mib = rss.map_or(f64::NAN, |b| b as f64 / (1 << 20) as f64);
    println!(
        "  move: {wall:.0} s ({:.0} files/s), peak RSS {rss_mib:.0} MiB, migration info: median {median:.1} ms, 99th percentile {p99:.1} ms, worst {worst:.1} ms of {} asked",
        files as f64 / wall,
        answers.len()
    );
    // Deleting a million files takes minutes: after the figures are out.
    let _ = std::fs::remove_dir_all(&root);
    // The count moved (MILLION_FILES may have set another), as the table's rows name it.
    let label = match files {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    };
    rows.push(Row::new("million", format!("move {label} × 1 KiB, wall time"), wall, "s", Target::None));
    rows.push(Row::new(
        "million",
        format!("move {label} × 1 KiB, files/s"),
        files as f64 / wall,
        "files/s",
        Target::None,
    ));
    rows.push(Row::new(
        "million",
        format!("move {label} × 1 KiB, peak RSS of minidcache"),
        rss_mib,
        "MiB",
        Target::None,
    ));
    rows.push(Row::new(
        "million",
        "migration info during the move, worst".to_string(),
        worst,
        "ms",
        Target::AtMost(10.0),
    ));
}

/// Files under a data directory (which may have subdirectories).
fn count_files(dir: std::fs::ReadDir) -> u64 {
    dir.flatten()
        .map(|e| match std::fs::read_dir(e.path()) {
            Ok(sub) if e.path().is_dir() => count_files(sub),
            _ => 1,
        })
        .sum()
}
