//! Bulk work runs at a lower scheduling priority than the shell. A move keeps every core busy
//! with transfer threads (reading, summing and writing files) and with commits; on a machine
//! with fewer cores than busy threads, an operator's command then waits for a time slice
//! behind them. On this project's two-core machine, `migration info` during a move of a
//! million files answers in 0.2 ms as a rule, but in 4-6 ms now and then (20 ms once), and
//! `perf sched timehist` showed the shell thread, or the client reading its answer, runnable
//! and waiting for a core for nearly all of such an answer. Transfer and commit threads
//! therefore run [`BACKGROUND_NICE`] steps nicer than the process: a command's thread, when it
//! wakes, goes before them, and when nothing else wants the cores the transfers have them all,
//! as before. In three pairs of `migration-bench --only million` runs, the builds in turn, the
//! 99th percentile of the answers was 2.4, 1.5 and 1.7 ms with it and 2.4, 4.6 and 3.0 ms
//! without, the moves as fast (docs/performance.md, sixteenth round). Other processes at a
//! higher priority still go first.
//!
//! The module's own threads keep the process's priority: a command waits for the module's
//! lock, and its holder should not be the one left waiting for a core.

/// How many steps nicer than the process a background thread runs.
pub const BACKGROUND_NICE: i32 = 5;

/// Lowers the calling thread's priority by [`BACKGROUND_NICE`] (never below the lowest, nice
/// 19). Threads it starts afterwards inherit the lower priority, which only root can raise
/// again: a transfer thread starts more transfer threads, and may start the module's blocking
/// threads (which scan and verify checksums, bulk work too). A failure is logged and changes
/// nothing.
pub fn run_in_background() {
    #[cfg(target_os = "linux")]
    {
        // On Linux a nice value belongs to a thread, not to the process: with `who` 0,
        // getpriority and setpriority read and change the calling thread only.
        // SAFETY: both calls take plain integers and touch no memory of ours.
        let current = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let nicer = (current + BACKGROUND_NICE).min(19);
        // SAFETY: as above.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nicer) } != 0 {
            let error = std::io::Error::last_os_error();
            tracing::warn!(target: "minidcache", "cannot lower a background thread's priority: {error}");
        }
    }
}
