//! Item 3 of issue #8: `migration info` and `migration ls` with a long queue and 64 running
//! tasks, and proof that their cost does not grow with the queue (1k against 1M queued).

use std::time::Instant;

use crate::Options;
use crate::sansio::{Reads, Source};
use crate::table::{Row, Target};

/// Mean time of one command, µs, over enough repetitions to last ~0.2 s.
fn time_command(source: &mut Source, line: &str) -> f64 {
    let now = source.now;
    let mut runs = 0u32;
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < 0.2 || runs < 100 {
        let out = source.module.execute(now, line).expect("the command works");
        std::hint::black_box(out);
        runs += 1;
    }
    t0.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
}

/// A job with `queued + 64` files, 64 of them running (their location queries held).
fn job(queued: u64) -> Source {
    let mut source = Source::new(queued + 64);
    source.start_job(false, 64, Reads::Answer);
    assert_eq!(source.queued() as u64, queued);
    let running = source.module.jobs().last().map_or(0, |j| j.running_tasks().len());
    assert_eq!(running, 64, "64 tasks run");
    source
}

/// Runs item 3.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    let large = if options.quick { 100_000 } else { 1_000_000 };
    println!("migration info / ls with 64 running tasks (sans-IO Module, µs per command):");
    let mut small_job = job(1_000);
    let mut large_job = job(large);
    for line in ["migration info 1", "migration ls"] {
        let small = time_command(&mut small_job, line);
        let big = time_command(&mut large_job, line);
        println!("  {line:<18} 1k queued: {small:>8.2} µs   {} queued: {big:>8.2} µs", crate::short(large));
        let name = format!("`{line}`, {} queued + 64 running", crate::short(large));
        rows.push(Row::new("commands", name, big / 1000.0, "ms", Target::AtMost(1.0)));
        let name = format!("`{line}`: time at {} ÷ at 1k queued", crate::short(large));
        rows.push(Row::new("commands", name, big / small, "×", Target::AtMost(1.5)));
    }
}
