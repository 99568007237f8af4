//! Item 6 of issue #8: the cost per task must not depend on how long the queue is. For each
//! queue length (1k … 10M) a child process starts `migration move -concurrency=16` over that
//! many replicas on the production `Runtime` with instant hosts, waits until the job runs
//! with its queue filled, then times the next K files (K = 20k, or half the queue when
//! shorter).

use std::time::{Duration, Instant};

use migration_core::job::JobState;
use migration_core::pnfsid::PnfsId;
use migration_core::queue::{JobQueue, ScannedFiles};

use crate::instant::Pair;
use crate::table::{Row, Target};
use crate::{Options, child};

/// `--child scaling N`: prints `µs-per-task queued-at-start`.
pub fn child_main(args: &[String]) {
    let n: u64 = args[0].parse().expect("a queue length");
    let k = (n / 2).min(20_000);
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
        queue.take_nth(0).expect("a file left");
        let took = t0.elapsed();
        if took > Duration::from_millis(1) {
            println!("take {i}: {:.2} ms", took.as_secs_f64() * 1e3);
        }
        slowest = slowest.max((took, i));
    }
    println!("slowest take: {:.2} ms at file {}", slowest.0.as_secs_f64() * 1e3, slowest.1);
}

/// Runs item 6.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    let lengths: &[u64] =
        if options.quick { &[1_000, 10_000, 100_000] } else { &[1_000, 10_000, 100_000, 1_000_000, 10_000_000] };
    println!("per-task cost against queue length (Runtime, instant hosts, move -concurrency=16):");
    println!("  {:>12} {:>14} {:>12}", "replicas", "queued", "µs/task");
    let mut series = Vec::new();
    for &n in lengths {
        // The best of two runs: the least disturbed by other work on the machine.
        let best = (0..2)
            .map(|_| {
                let out = child(&["scaling", &n.to_string()]);
                let mut fields = out.split_whitespace();
                let micros: f64 = fields.next().and_then(|f| f.parse().ok()).expect("µs per task");
                let queued: u64 = fields.next().and_then(|f| f.parse().ok()).expect("queued");
                (micros, queued)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("two runs");
        println!("  {:>12} {:>14} {:>12.2}", n, best.1, best.0);
        series.push((n, best.0));
    }
    let base = series.iter().find(|s| s.0 == 10_000).map_or(series[0].1, |s| s.1);
    let (largest, cost) = *series.last().expect("lengths");
    let name = format!("µs/task with {} queued ÷ with 10k queued", crate::short(largest));
    rows.push(Row::new("scaling", name, cost / base, "×", Target::AtMost(1.5)));
}
