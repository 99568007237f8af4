//! Item 4 of issue #8: orchestration throughput with instant hosts, files per second from
//! `migration move` to FINISHED, at concurrency 1, 16 and 64: through the Rust API (the
//! production `Runtime`), through the C ABI (a C host, `c/bench_host.c`) and through JNI (a
//! Java host on the facade, `java/jnibench`).

use crate::instant::Pair;
use crate::table::{Row, Target};
use crate::{Options, child, java, native};

/// The concurrencies measured.
pub const CONCURRENCY: [u32; 3] = [1, 16, 64];

/// Files per second of one `migration move` of `files` files at `concurrency`.
pub fn rust_rate(files: u64, concurrency: u32) -> f64 {
    Pair::new(files).move_rate(concurrency)
}

/// `--child clock`: what a reading of the runtime's clock costs, against the precise wall
/// clock it replaced (the runtime reads one a step), and the step of the runtime's clock.
pub fn clock_main() {
    use migration_core::driver::runtime::system_clock;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};
    const READINGS: u32 = 5_000_000;
    let precise = || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let time = |read: &dyn Fn() -> i64| {
        let t0 = Instant::now();
        let sum = (0..READINGS).fold(0i64, |sum, _| sum.wrapping_add(std::hint::black_box(read())));
        (t0.elapsed().as_nanos() as f64 / f64::from(READINGS), sum)
    };
    let (coarse_ns, _) = time(&system_clock);
    let (precise_ns, _) = time(&precise);
    // The smallest advance of the runtime's clock: its tick, in ms.
    let mut steps = Vec::new();
    let mut last = system_clock();
    while steps.len() < 20 {
        let now = system_clock();
        if now != last {
            steps.push(now - last);
            last = now;
        }
    }
    let tick = steps.iter().min().copied().unwrap_or(0);
    println!(
        "clock: runtime {coarse_ns:.1} ns a reading, precise {precise_ns:.1} ns; the runtime's clock advances by {tick} ms"
    );
}

fn files(options: &Options) -> u64 {
    if options.quick { 5_000 } else { 200_000 }
}

/// The rates measured for one path, by concurrency, over the runs.
#[derive(Default)]
struct Series {
    rates: Vec<(u32, Vec<f64>)>,
}

impl Series {
    fn add(&mut self, concurrency: u32, value: f64) {
        match self.rates.iter_mut().find(|(c, _)| *c == concurrency) {
            Some((_, values)) => values.push(value),
            None => self.rates.push((concurrency, vec![value])),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// Each concurrency's median as a row; with several runs, the spread is printed beside it.
fn report(rows: &mut Vec<Row>, via: &str, goal: f64, series: &Series) {
    for (concurrency, rates) in &series.rates {
        let rate = median(rates);
        if rates.len() > 1 {
            let (low, high) = rates.iter().fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
            println!(
                "  {via:<5} concurrency {concurrency:>2}: median {rate:>8.0} files/s of {} runs ({low:.0}–{high:.0})",
                rates.len()
            );
        }
        let name = format!("move, instant host, {via}, concurrency {concurrency}");
        rows.push(Row::new("throughput", name, rate, "files/s", Target::AtLeast(goal)));
    }
}

/// Runs item 4: with `--repeat N`, N runs of every path taken in turn (Rust, C, JNI, Rust, …),
/// so that a slow spell of this shared machine falls on all paths alike; the rows are medians.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    let n = files(options);
    println!("orchestration throughput, `migration move` of {n} files, instant hosts, job start to FINISHED:");
    let (mut rust, mut c, mut jni, mut crossings) =
        (Series::default(), Series::default(), Series::default(), Series::default());
    // Built once for all runs: the library, the C host and the Java classes.
    let library = native::library();
    let c_bench = library.clone().and_then(|lib| native::CBench::build(&lib));
    let jni_bench = library.and_then(|lib| java::JniBench::build(&lib));
    let (mut c_skipped, mut jni_skipped) = (c_bench.as_ref().err().cloned(), jni_bench.as_ref().err().cloned());
    for round in 1..=options.repeat {
        if options.repeat > 1 {
            println!("  run {round} of {}:", options.repeat);
        }
        // Each in a child process, as the C and Java hosts are: a fresh heap and fresh threads.
        for &concurrency in &CONCURRENCY {
            let out = child(&["rate", &n.to_string(), &concurrency.to_string()]);
            let rate = java::parse_rates(&out).expect("the child prints its rate")[0].1;
            println!("  Rust  concurrency {concurrency:>2}: {rate:>10.0} files/s");
            rust.add(concurrency, rate);
        }
        if let Ok(bench) = &c_bench {
            match bench.run(n, &CONCURRENCY) {
                Ok(rates) => {
                    for (concurrency, rate) in rates {
                        println!("  C     concurrency {concurrency:>2}: {rate:>10.0} files/s");
                        c.add(concurrency, rate);
                    }
                }
                Err(why) => c_skipped = Some(why),
            }
        }
        if let Ok(bench) = &jni_bench {
            match bench.run(n, &CONCURRENCY) {
                Ok(runs) => {
                    for r in runs {
                        println!(
                            "  JNI   concurrency {:>2}: {:>10.0} files/s, {:.2} calls into Java and {:.2} from Java per file",
                            r.concurrency, r.rate, r.into_java, r.from_java
                        );
                        jni.add(r.concurrency, r.rate);
                        crossings.add(r.concurrency, r.into_java + r.from_java);
                    }
                }
                Err(why) => jni_skipped = Some(why),
            }
        }
    }
    report(rows, "Rust", 300_000.0, &rust);
    match c_skipped {
        Some(why) => println!("  C ABI skipped: {why}"),
        None => report(rows, "C", 150_000.0, &c),
    }
    match jni_skipped {
        Some(why) => println!("  JNI skipped: {why}"),
        None => {
            report(rows, "JNI", 100_000.0, &jni);
            // The boundary is the JNI path's dearest step: how often a file crosses it.
            for (concurrency, calls) in &crossings.rates {
                let name = format!("JNI crossings per file (into Java + from Java), concurrency {concurrency}");
                rows.push(Row::new("throughput", name, median(calls), "calls", Target::None));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn a_series_keeps_each_concurrency_apart_in_the_order_first_seen() {
        let mut s = Series::default();
        for (c, r) in [(1, 10.0), (16, 20.0), (1, 30.0), (16, 40.0), (64, 5.0)] {
            s.add(c, r);
        }
        assert_eq!(s.rates, vec![(1, vec![10.0, 30.0]), (16, vec![20.0, 40.0]), (64, vec![5.0])]);
    }
}
