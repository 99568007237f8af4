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

fn files(options: &Options) -> u64 {
    if options.quick { 5_000 } else { 200_000 }
}

fn report(rows: &mut Vec<Row>, via: &str, goal: f64, rates: &[(u32, f64)]) {
    for &(concurrency, rate) in rates {
        println!("  {via:<5} concurrency {concurrency:>2}: {rate:>10.0} files/s");
        let name = format!("move, instant host, {via}, concurrency {concurrency}");
        rows.push(Row::new("throughput", name, rate, "files/s", Target::AtLeast(goal)));
    }
}

/// Runs item 4.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    let n = files(options);
    println!("orchestration throughput, `migration move` of {n} files, instant hosts, job start to FINISHED:");
    // Each in a child process, as the C and Java hosts are: a fresh heap and fresh threads.
    let rates: Vec<(u32, f64)> = CONCURRENCY
        .iter()
        .map(|&c| {
            let out = child(&["rate", &n.to_string(), &c.to_string()]);
            (c, java::parse_rates(&out).expect("the child prints its rate")[0].1)
        })
        .collect();
    report(rows, "Rust", 300_000.0, &rates);
    match native::library().and_then(|lib| native::c_throughput(&lib, n, &CONCURRENCY).map(|r| (lib, r))) {
        Ok((_, rates)) => report(rows, "C", 150_000.0, &rates),
        Err(why) => println!("  C ABI skipped: {why}"),
    }
    match native::library().and_then(|lib| java::jni_throughput(&lib, n, &CONCURRENCY)) {
        Ok(runs) => {
            let rates: Vec<(u32, f64)> = runs.iter().map(|r| (r.concurrency, r.rate)).collect();
            report(rows, "JNI", 100_000.0, &rates);
            // The boundary is the JNI path's dearest step: how often a file crosses it.
            for r in &runs {
                println!(
                    "  JNI   concurrency {:>2}: {:.2} calls into Java and {:.2} native calls from Java per file",
                    r.concurrency, r.into_java, r.from_java
                );
                let name = format!("JNI crossings per file (into Java + from Java), concurrency {}", r.concurrency);
                rows.push(Row::new("throughput", name, r.into_java + r.from_java, "calls", Target::None));
            }
        }
        Err(why) => println!("  JNI skipped: {why}"),
    }
}
