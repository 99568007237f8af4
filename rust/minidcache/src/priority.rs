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
//!
//! Threads of the same priority are another matter: on a file system over a loop device, the
//! kernel's workers that write the pools' files held a core for 10–40 ms at a time, and the
//! shell waited behind them. The shell's thread therefore asks for the shortest time slice
//! ([`run_in_short_slices`]), which lets it go first when it wakes without taking more of the
//! cores over time.

/// The time slice the shell's thread asks the scheduler for: the shortest Linux grants.
pub const SHELL_SLICE_NS: u64 = 100_000;

/// Asks the scheduler to run the calling thread, the shell's, in slices of [`SHELL_SLICE_NS`]
/// instead of the default few milliseconds, and to start the threads and processes it creates
/// with the default again (`migration-bench` calls it too, on the thread that reads the
/// shell's answers). Linux's scheduler (EEVDF, from 6.6; a thread's own slice from 6.12) gives a
/// thread with a shorter slice an earlier deadline, so when the shell wakes with a command it
/// runs before threads of the same priority that want the core for longer: the kernel's
/// workers that write back the pools' files, on a machine whose cores are busy. The nice value
/// stays as it was; what the shell gets over time does not change, only how soon it gets it.
/// Older kernels ignore the slice. A failure is logged and changes nothing.
pub fn run_in_short_slices() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpriority takes and returns plain integers.
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: libc::SCHED_OTHER as u32,
            flags: libc::SCHED_FLAG_RESET_ON_FORK as u64,
            nice,
            runtime: SHELL_SLICE_NS,
            ..SchedAttr::default()
        };
        // SAFETY: `attr` is a `struct sched_attr` of the size it declares, alive for the call;
        // the kernel only reads it.
        if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } != 0 {
            let error = std::io::Error::last_os_error();
            tracing::warn!(target: "minidcache", "cannot shorten the shell's time slice: {error}");
        }
    }
}

/// The kernel's `struct sched_attr` as its first version has it (`SCHED_ATTR_SIZE_VER0`),
/// which the C library does not declare.
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Debug, Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    /// For a thread of the normal policy, its slice in nanoseconds (0: the default).
    runtime: u64,
    deadline: u64,
    period: u64,
}

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

    /// The calling thread's scheduling attributes, as the kernel reports them.
    fn own_attr() -> SchedAttr {
        let mut attr = SchedAttr::default();
        // SAFETY: `attr` is writable and as large as the size passed.
        let done = unsafe {
            libc::syscall(libc::SYS_sched_getattr, 0, &mut attr as *mut SchedAttr, std::mem::size_of::<SchedAttr>(), 0)
        };
        assert_eq!(done, 0, "sched_getattr: {}", std::io::Error::last_os_error());
        attr
    }

    #[test]
    fn the_shell_runs_in_short_slices_and_the_threads_it_starts_do_not() {
        let (before, shell, started) = std::thread::spawn(|| {
            let before = own_attr();
            run_in_short_slices();
            let shell = own_attr();
            let started = std::thread::spawn(own_attr).join().expect("the inner thread");
            (before, shell, started)
        })
        .join()
        .expect("the thread");
        assert_eq!(shell.nice, before.nice, "the nice value stays");
        assert_eq!(shell.flags & libc::SCHED_FLAG_RESET_ON_FORK as u64, libc::SCHED_FLAG_RESET_ON_FORK as u64);
        if before.runtime == 0 {
            eprintln!("this kernel reports no slice for normal threads (before 6.12): nothing more to check");
            return;
        }
        assert_eq!(shell.runtime, SHELL_SLICE_NS);
        assert_eq!(started.runtime, before.runtime, "a thread the shell starts has the default slice");
        assert_eq!(started.flags & libc::SCHED_FLAG_RESET_ON_FORK as u64, 0);
    }

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
