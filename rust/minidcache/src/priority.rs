//! Bulk work runs at a lower scheduling priority than the shell. A move keeps every core busy
//! with transfer threads (reading, summing and writing files) and with commits; on a machine
//! with fewer cores than busy threads, an operator's command then waits for a time slice
//! behind them: during a move of a million files, `perf sched timehist` showed the shell
//! thread, or the client reading its answer, runnable and waiting for a core for nearly all of
//! each slow `migration info` answer (docs/performance.md, sixteenth round, with what the
//! lower priority changed). Transfer and commit threads therefore run [`BACKGROUND_NICE`] steps
//! nicer than the process's main thread: a command's thread, when it wakes, goes before them,
//! and when nothing else wants the cores they have them all, as before. Other processes of
//! higher priority still go first.
//!
//! The module's own threads keep the process's priority. Transfer threads also hand the
//! module its messages on their own thread, taking the module's lock for that, and threads a
//! transfer thread starts inherit its priority (the module's blocking threads, which scan and
//! verify checksums, may be among them); a command waiting for the module's lock may then wait
//! for such a thread to get a core.

/// How many steps nicer than the process's main thread a background thread runs.
pub const BACKGROUND_NICE: i32 = 5;

/// Sets the calling thread's nice to [`BACKGROUND_NICE`] more than the process's main thread's
/// (at most 19, the lowest priority), unless it is that low already: a thread started by a
/// background thread inherits its nice, and calling this again there changes nothing. Only
/// root can raise a priority again. A failure is logged and changes nothing.
pub fn run_in_background() {
    #[cfg(target_os = "linux")]
    {
        // On Linux a nice value belongs to a thread: `who` names a thread id, 0 the calling
        // thread, and the process id its main thread.
        // SAFETY: the three calls take and return plain integers and touch no memory of ours.
        let main = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t) };
        let target = (main + BACKGROUND_NICE).min(19);
        // SAFETY: as above.
        if unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) } >= target {
            return;
        }
        // SAFETY: as above.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, target) } != 0 {
            let error = std::io::Error::last_os_error();
            tracing::warn!(target: "minidcache", "cannot lower a background thread's priority: {error}");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        // SAFETY: as in `run_in_background`.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn a_background_thread_runs_five_steps_below_the_main_thread_however_it_was_started() {
        // SAFETY: as in `run_in_background`.
        let main = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t) };
        let expected = (main + BACKGROUND_NICE).min(19);
        let (first, twice, inherited) = std::thread::spawn(|| {
            run_in_background();
            let first = own_nice();
            run_in_background();
            let twice = own_nice();
            // A background thread started by a background thread, as transfer threads start
            // each other.
            let inherited = std::thread::spawn(|| {
                run_in_background();
                own_nice()
            })
            .join()
            .expect("the inner thread");
            (first, twice, inherited)
        })
        .join()
        .expect("the thread");
        assert_eq!((first, twice, inherited), (expected, expected, expected));
        assert!(expected > main || main == 19, "lower than the main thread's");
    }
}
