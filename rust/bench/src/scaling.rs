//! Item 6 of issue #8: the cost per task must not depend on how long the queue is. For each
//! queue length (1k … 10M) a child process starts `migration move -concurrency=16` over that
//! many replicas on the production `Runtime` with instant hosts, waits until the job runs
//! with its queue filled, then times the next K files (K = 20k, or half the queue when
//! shorter). The series is taken in nine passes, the lengths in turn (see [`run`]).

use std::time::{Duration, Instant};

use migration_core::job::JobState;
use migration_core::pnfsid::PnfsId;
use migration_core::queue::{JobQueue, ScannedFiles};

use crate::instant::Pair;
use crate::table::{Row, Target};
use crate::throughput::median;
use crate::{Options, child};

/// `--child scaling N [K]`: prints `µs-per-task queued-at-start`, timing K files (by default
/// 20 000, or half the queue when shorter). A large K gives a window long enough to profile
/// (`perf record -D <ms>` skips the set-up).
pub fn child_main(args: &[String]) {
    let n: u64 = args[0].parse().expect("a queue length");
    let k = match args.get(1) {
        Some(k) => k.parse::<u64>().expect("a number of files to time").min(n),
        None => (n / 2).min(20_000),
    };
    // Transfers are held until the job runs with its queue filled and 16 tasks waiting.
    let pair = Pair::held(n);
    pair.src.execute("migration move -concurrency=16 dst").expect("the job starts");
    pair.wait(Duration::from_secs(300), |p| p.state("1") == Some(JobState::Running) && p.holding() == 16);
    let queued = pair.src.with_module(|m| m.job("1").map_or(0, |j| j.queued()));
    let t0 = Instant::now();
    pair.release(k);
    pair.wait(Duration::from_secs(300), |p| p.completed("1") >= k);
    let done = pair.completed("1");
    let micros = t0.elapsed().as_secs_f64() * 1e6 / done as f64;
    pair.shutdown();
    println!("{micros} {queued}");
}

/// `--child compaction N`: takes every file of an N-file queue in order, as a move does, and
/// prints each take slower than 1 ms with its position, then the slowest. Takes run under the
/// module's lock during a job; the compactions of the dead prefix were the slow ones (2–10 ms
/// at a million files) until they were spread over takes.
pub fn compaction_main(args: &[String]) {
    let n: u64 = args[0].parse().expect("a queue length");
    let files = (0..n).map(|i| (PnfsId::parse(&format!("{i:024X}")).expect("a valid id"), 1024)).collect();
    let mut queue = JobQueue::new();
    queue.extend_scanned(ScannedFiles::new(files, queue.seed()));
    let mut slowest = (Duration::ZERO, 0);
    for i in 0..n {
        let t0 = Instant::now();
        queue.pop_front().expect("a file left");
        let took = t0.elapsed();
        if took > Duration::from_millis(1) {
            println!("take {i}: {:.2} ms", took.as_secs_f64() * 1e3);
        }
        slowest = slowest.max((took, i));
    }
    println!("slowest take: {:.2} ms at file {}", slowest.0.as_secs_f64() * 1e3, slowest.1);
}

/// Passes over the series: every queue length once per pass, the lengths in turn.
const PASSES: usize = 9;

/// Runs item 6.
///
/// This machine's speed drifts by 30 % and more over minutes, longer than a series takes, so
/// the lengths are measured in turn, once per pass, rather than each several times in a
/// row: a slow spell then falls on every length alike instead of on whichever was being
/// measured. The ratio is the median of the passes' own ratios (each compares two children
/// run seconds apart); each length's printed cost is the median of its passes.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    let lengths: &[u64] =
        if options.quick { &[1_000, 10_000, 100_000] } else { &[1_000, 10_000, 100_000, 1_000_000, 10_000_000] };
    let passes = if options.quick { 1 } else { PASSES };
    println!("per-task cost against queue length (Runtime, instant hosts, move -concurrency=16, {passes} passes):");
    // micros[pass][length]
    let mut micros = vec![Vec::with_capacity(lengths.len()); passes];
    let mut queued = vec![0; lengths.len()];
    for pass in &mut micros {
        for (i, &n) in lengths.iter().enumerate() {
            let out = child(&["scaling", &n.to_string()]);
            let mut fields = out.split_whitespace();
            pass.push(fields.next().and_then(|f| f.parse::<f64>().ok()).expect("µs per task"));
            queued[i] = fields.next().and_then(|f| f.parse().ok()).expect("queued");
        }
    }
    println!("  {:>12} {:>14} {:>12}   each pass", "replicas", "queued", "µs/task");
    for (i, &n) in lengths.iter().enumerate() {
        let each: Vec<f64> = micros.iter().map(|pass| pass[i]).collect();
        let listed = each.iter().map(|m| format!("{m:.2}")).collect::<Vec<_>>().join(" ");
        println!("  {:>12} {:>14} {:>12.2}   {listed}", n, queued[i], median(&each));
    }
    let base = lengths.iter().position(|&n| n == 10_000).unwrap_or(0);
    let largest = lengths.len() - 1;
    let ratios: Vec<f64> = micros.iter().map(|pass| pass[largest] / pass[base]).collect();
    let ratio = median(&ratios);
    let name =
        format!("µs/task with {} queued ÷ with {} queued", crate::short(lengths[largest]), crate::short(lengths[base]));
    rows.push(Row::new("scaling", name, ratio, "×", Target::AtMost(1.5)));
}
