//! Item 2 of issue #14: latency tolerance. The instant hosts of [`crate::instant`] answer as a
//! real pool's services do: every message is delivered, and every namespace, pool-manager and
//! pin-manager answer and every reply arrives, 1 ms later; a p2p transfer takes 10 ms. A job
//! at concurrency `c` can then at best move `c` files per path latency, the ideal rate; the
//! figure is how close to it `migration move` comes.

use std::time::Duration;

use crate::Options;
use crate::instant::{Latency, Pair};
use crate::table::{Row, Target};

/// The concurrencies measured.
pub const CONCURRENCY: [u32; 5] = [1, 4, 16, 64, 256];

const LATENCY: Latency = Latency { message: Duration::from_millis(1), p2p: Duration::from_millis(10) };

/// The latencies on one file's path, in order: the namespace's locations (1 ms), the copy
/// request reaching the target (1 ms), the transfer (10 ms), the copy-finished message
/// reaching the source (1 ms). The reply to the copy request comes back while the transfer
/// runs and adds nothing.
const PATH: Duration = Duration::from_millis(13);

/// Files per second of one `migration move` of `files` files at `concurrency`.
pub fn rate(files: u64, concurrency: u32) -> f64 {
    let pair = Pair::late(files, LATENCY);
    // dCache's pools have no cap on incoming copies; ours defaults to 100, which would hold
    // concurrency 256 at 100 and measure the cap rather than the module.
    pair.dst.execute("migration set max-incoming 0").expect("the cap is lifted");
    pair.move_rate(concurrency)
}

/// Runs item 2.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    println!(
        "latency tolerance: messages and queries answered after {} ms, p2p after {} ms ({} ms a file):",
        LATENCY.message.as_millis(),
        LATENCY.p2p.as_millis(),
        PATH.as_millis()
    );
    // About 40 rounds of `concurrency` files (10 in a quick run), so that the first file's
    // wait and the last round's tail weigh little.
    let rounds = if options.quick { 10 } else { 40 };
    for concurrency in CONCURRENCY {
        let files = (u64::from(concurrency) * rounds).max(if options.quick { 50 } else { 200 });
        let rate = rate(files, concurrency);
        let ideal = f64::from(concurrency) / PATH.as_secs_f64();
        let share = 100.0 * rate / ideal;
        println!(
            "  concurrency {concurrency:>3}: {rate:>8.0} files/s of an ideal {ideal:>6.0} ({share:.0} %), {files} files"
        );
        let target = if concurrency == 64 { Target::AtLeast(90.0) } else { Target::None };
        rows.push(Row::new(
            "latency",
            format!("move, 1 ms/10 ms latency, concurrency {concurrency}, share of ideal"),
            share,
            "%",
            target,
        ));
    }
}
