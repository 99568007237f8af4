//! Regressions of defects dCache's migration module had in production, replayed on the
//! simulated cluster with the faults that exposed them. Each test names the dCache issue and
//! the change to our code that it catches; each was checked by making that change once.

mod common;

use std::collections::BTreeSet;

use common::*;
use migration_core::driver::sim::Cluster;
use migration_core::input::RepositoryEvent;
use migration_core::job::JobState;
use migration_core::replica::ReplicaState::{Precious, Removed};
use migration_core::{Millis, PnfsId};

/// Steps the cluster until `done` holds (checked after every event) or `limit` ms pass.
fn step_until(c: &mut Cluster, limit: Millis, mut done: impl FnMut(&Cluster) -> bool) -> bool {
    let deadline = c.now() + limit;
    while !done(c) {
        if !c.step(deadline) {
            return done(c);
        }
    }
    true
}

fn task_states(c: &Cluster, pool: &str, job: &str) -> Vec<&'static str> {
    c.job(pool, job).running_tasks().iter().map(|t| t.2).collect()
}

fn files(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{:X}", 0x100 + i)).collect()
}

/// dCache #7509: `migration copy -replicas=2` made a replica on every pool of the group,
/// because the set of targets that confirmed held the wrong names, so the task never had
/// enough and never excluded a pool it had used. Here: exactly two copies per file, no
/// target asked twice by one task, and a re-run only updates.
///
/// Catches: `Task::enter(InitiatingCopy)` no longer excluding `replicas_done` (a task asks a
/// pool that already confirmed again), or `replicas_done` not growing per confirmed target
/// (copies on every pool).
#[test]
fn replicas_two_makes_exactly_two_copies_and_a_rerun_makes_none() {
    let pools = ["pool1", "pool2", "pool3", "pool4", "pool5"];
    let mut c = cluster(7509, &pools);
    c.start();
    let files = files(20);
    for f in &files {
        put(&mut c, "pool1", f, Precious, 1_000, vec![]);
    }
    let line = "migration copy -replicas=2 -select=random pool2 pool3 pool4 pool5";
    ok(&mut c, "pool1", line);
    assert!(c.run_until_jobs_end(HOUR));
    ok(&mut c, "pool1", line);
    assert!(c.run_until_jobs_end(HOUR));

    for job in ["1", "2"] {
        assert_eq!(state(&c, "pool1", job), JobState::Finished);
        assert_eq!(c.job("pool1", job).statistics().completed_files, 20);
    }
    for f in &files {
        let copies: usize = pools[1..].iter().map(|p| creations(&c, p, f)).sum();
        assert_eq!(copies, 2, "file {f}: copies on the targets");
    }
    let mut asked = BTreeSet::new();
    for copy in &c.copies {
        assert!(asked.insert((copy.uuid, copy.to.clone())), "one task asked {} twice: {copy:?}", copy.to);
    }
}

/// "A failed move counted as success when a target answered twice": every message is
/// delivered twice and late, so a copy-finished from the first target of a `-replicas=2`
/// move can arrive while the task already waits for the second. It must not confirm the
/// second copy: the source is deleted only once both targets hold the file, and each file is
/// counted once.
///
/// Catches: `Job::copy_finished` accepting a message whose sender is not the task's current
/// target (the late duplicate then completes the task and deletes the source early).
#[test]
fn duplicated_and_late_answers_never_complete_a_move_early() {
    for seed in 1..=20 {
        let mut c = cluster(seed, &["pool1", "pool2", "pool3"]);
        c.start();
        c.bandwidth = 1_000; // 2 MB take 2 s
        for f in ["A", "B", "C"] {
            put(&mut c, "pool1", f, Precious, 2_000_000, vec![]);
        }
        c.faults.duplicate_messages = 1.0;
        c.faults.max_extra_delay = 4_000;
        ok(&mut c, "pool1", "migration move -replicas=2 -concurrency=3 pool2 pool3");

        let mut seen = 0;
        let deadline = c.now() + HOUR;
        while !c.all_jobs_ended() && c.step(deadline) {
            for (_, pool, event) in &c.history[seen..] {
                if let RepositoryEvent::StateChanged { new: Removed, entry, .. } = event
                    && pool == "pool1"
                {
                    let held = |p: &str| entry_of(&c, p, entry.pnfsid);
                    assert!(
                        held("pool2") && held("pool3"),
                        "seed {seed}: {} deleted before both copies existed",
                        entry.pnfsid
                    );
                }
            }
            seen = c.history.len();
        }
        assert_eq!(state(&c, "pool1", "1"), JobState::Finished, "seed {seed}");
        assert_eq!(c.job("pool1", "1").statistics().completed_files, 3, "seed {seed}: each file counted once");
        for f in ["A", "B", "C"] {
            assert!(was_removed(&c, "pool1", f), "seed {seed}: {f} moved");
            assert_eq!((creations(&c, "pool2", f), creations(&c, "pool3", f)), (1, 1), "seed {seed}: {f}");
        }
    }
}

fn entry_of(c: &Cluster, pool: &str, pnfsid: PnfsId) -> bool {
    use migration_core::host::Repository;
    c.repository(pool).entry(&pnfsid).ok().flatten().is_some_and(|e| e.state.is_cached_or_precious())
}

/// dCache #7885: pin and unpin messages around `migration move` were processed in the other
/// order, and files ended unpinned. Here the user unpins the file and pins it again while
/// the job's pin move is on its way to the pin manager: the new pin must survive (the pinned
/// source is kept as cached), the released one must not come back, and no pin vanishes.
///
/// Catches: `source_mode_changes` deciding `delete` without looking at the pins the source
/// carries at that moment (the re-pinned source is deleted with its pin).
#[test]
fn pins_survive_an_unpin_and_repin_while_the_pin_move_is_under_way() {
    use migration_core::host::Repository;
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("PinManager-1", -1)]);
    ok(&mut c, "pool1", "migration move -pins=move pool2");
    assert!(step_until(&mut c, MINUTE, |c| task_states(c, "pool1", "1") == ["MovingPin"]));

    // Unpin, then pin again: both reach pool1 before the pin manager handles the move.
    c.repository("pool1").remove_sticky(&id("A"), "PinManager-1");
    c.repository("pool1").set_sticky(&id("A"), &sticky("PinManager-2", -1), true).expect("pin");
    c.flush_events();
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    let source = entry(&c, "pool1", "A").expect("the re-pinned source is kept");
    assert_eq!(source.state, migration_core::replica::ReplicaState::Cached);
    assert_eq!(record(&source, "PinManager-2"), Some(sticky("PinManager-2", -1)), "the new pin survives");
    let copy = entry(&c, "pool2", "A").expect("copy");
    assert_eq!(record(&copy, "PinManager-1"), None, "the released pin does not come back");
    assert!(!was_removed(&c, "pool1", "A"));
}

/// Sets up dCache #7124: a move whose two tasks copy to targets that then fill up (their
/// transfers wait for space) and refuse new copies.
fn move_to_targets_that_fill_up() -> Cluster {
    let mut c = cluster(7124, &["pool1", "pool2", "pool3", "pool4"]);
    c.start();
    c.bandwidth = 1_000; // 100 MB take 100 s
    for f in ["A", "B", "C", "D"] {
        put(&mut c, "pool1", f, Precious, 100_000_000, vec![]);
    }
    ok(&mut c, "pool1", "migration move -concurrency=2 pool2 pool3");
    assert!(step_until(&mut c, MINUTE, |c| task_states(c, "pool1", "1") == ["Copying", "Copying"]));
    for target in ["pool2", "pool3"] {
        let pool = c.pool_mut(target);
        pool.capacity = pool.repository.used();
        pool.module.set_accepts_copies(false);
    }
    c.run_for(5 * MINUTE);
    assert_eq!(task_states(&c, "pool1", "1"), ["Copying", "Copying"], "the transfers wait for space");
    c
}

/// dCache #7124: with the targets full, `migration cancel` stuck the job in CANCELLING and
/// its files stayed locked, so a new job to another pool could not move them. Here
/// `cancel -force` ends the job within the task's dead timeout even though the targets never
/// answer the cancel, and a new job to a pool with space moves every file.
///
/// Catches: `Task::enter(Cancelling)` no longer arming the dead timer (the task then waits
/// for ever for a target that does not answer).
#[test]
fn cancel_force_ends_a_job_whose_targets_are_full_and_releases_its_files() {
    let mut c = move_to_targets_that_fill_up();
    c.faults.lose_messages = 1.0; // the full targets never answer the cancel
    ok(&mut c, "pool1", "migration cancel -force 1");
    let cancelled = c.now();
    assert!(step_until(&mut c, 3 * MINUTE, |c| state(c, "pool1", "1") == JobState::Cancelled));
    assert!(c.now() - cancelled <= 61_000, "ended after the 60 s dead timeout");
    assert_eq!(c.pool("pool1").module.locked_files(), 0);

    c.faults.lose_messages = 0.0;
    ok(&mut c, "pool1", "migration move pool4");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "2"), JobState::Finished);
    assert!(!notes(&c, "pool1", "2").iter().any(|n| n == "File is locked"));
    for f in ["A", "B", "C", "D"] {
        assert!(entry(&c, "pool4", f).is_some(), "{f} moved to pool4");
    }
}

/// dCache #7124, the job as the operator saw it: every target is full, the job sleeps
/// (`No targets available`), and `migration cancel` must end it at once.
///
/// Catches: `Job::cancel` no longer ending a job that runs nothing (a sleeping job in
/// CANCELLING has no timer left that would end it).
#[test]
fn cancel_ends_a_job_sleeping_because_every_target_is_full() {
    let mut c = cluster(7124, &["pool1", "pool2", "pool3"]);
    c.start();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    for target in ["pool2", "pool3"] {
        c.pool_mut(target).capacity = 0;
    }
    ok(&mut c, "pool1", "migration move pool2 pool3");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping);
    // dCache's note, and (beyond dCache) once its reason.
    let texts = notes(&c, "pool1", "1");
    assert!(texts.iter().filter(|n| !n.starts_with("No targets: ")).all(|n| n == "No targets available"), "{texts:?}");
    assert_eq!(
        texts.iter().filter(|n| n.starts_with("No targets: ")).collect::<Vec<_>>(),
        ["No targets: pool2 target, but full: weight 0%; pool3 target, but full: weight 0%"]
    );

    ok(&mut c, "pool1", "migration cancel 1");
    assert!(step_until(&mut c, 30_000, |c| state(c, "pool1", "1") == JobState::Cancelled));
    assert_eq!(c.pool("pool1").module.locked_files(), 0);
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious));
}

/// dCache #7124 as reported: a plain `migration cancel` while transfers wait for space on a
/// full target. dCache lets running tasks finish, and these never do, so the job stayed
/// CANCELLING with its files locked. Here a plain cancel lets running tasks finish for `CANCEL_GRACE` (10 min), then cancels
/// them. Catches: removing the grace timer in `Job::cancel` (the job then stays CANCELLING).
#[test]
fn cancel_ends_a_job_whose_transfers_wait_for_space() {
    let mut c = move_to_targets_that_fill_up();
    ok(&mut c, "pool1", "migration cancel 1");
    assert!(step_until(&mut c, 30 * MINUTE, |c| state(c, "pool1", "1") == JobState::Cancelled));
    assert_eq!(c.pool("pool1").module.locked_files(), 0);
}

/// The same with the plain cancel repeated every 5 minutes: the grace runs from the first.
/// Catches: re-arming the grace timer on every plain cancel (the job then never ends).
#[test]
fn a_repeated_plain_cancel_does_not_put_off_the_end_of_the_grace() {
    let mut c = move_to_targets_that_fill_up();
    let cancelled = |c: &Cluster| state(c, "pool1", "1") == JobState::Cancelled;
    ok(&mut c, "pool1", "migration cancel 1");
    for _ in 0..4 {
        if step_until(&mut c, 5 * MINUTE, cancelled) {
            break;
        }
        ok(&mut c, "pool1", "migration cancel 1");
    }
    assert!(cancelled(&c), "still cancelling 20 minutes after the first cancel");
    assert_eq!(c.pool("pool1").module.locked_files(), 0);
}

/// dCache #1983: one file that always failed was retried in a tight loop, thousands of times a
/// minute, while the rest of the job went on. Here the only copy of A sits on an offline target
/// (non-eager: retried, never copied elsewhere), B takes ten minutes to copy: A is retried at
/// most twice per 10 s pass while B runs, and once per 10 s after.
///
/// Catches: removing the whole-pass rule in `Job::task_ended` (a job whose every file failed
/// since its last success sleeps 10 s).
#[test]
fn one_bad_file_is_retried_a_few_times_a_minute_not_in_a_tight_loop() {
    let mut c = cluster(1983, &["pool1", "pool2", "pool3"]);
    c.start();
    c.bandwidth = 1_000; // B: 600 s
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    put(&mut c, "pool3", "A", Precious, 40, vec![]);
    put(&mut c, "pool1", "B", Precious, 600_000_000, vec![]);
    c.set_online("pool3", false);
    ok(&mut c, "pool1", "migration copy -concurrency=2 -refresh=60 pool2 pool3");

    c.run_for(5 * MINUTE);
    let while_b_runs = c.job("pool1", "1").statistics().attempts;
    assert!(task_states(&c, "pool1", "1").contains(&"Copying"), "B still copying");
    assert!(while_b_runs <= 2 + 2 * 30, "{while_b_runs} attempts in 5 minutes while B copies");

    c.run_for(10 * MINUTE);
    let before = c.job("pool1", "1").statistics().attempts;
    assert!(entry(&c, "pool2", "B").is_some(), "B copied");
    c.run_for(10 * MINUTE);
    let per_ten_minutes = c.job("pool1", "1").statistics().attempts - before;
    assert!((50..=62).contains(&per_ten_minutes), "{per_ten_minutes} attempts in 10 minutes for A alone");
    assert!(notes(&c, "pool1", "1").iter().all(|n| n == "Remote pool failed (no route to cell)"));
    assert_eq!(entry(&c, "pool2", "A"), None, "never copied elsewhere while its copy is offline");

    c.set_online("pool3", true);
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
}

/// Found by the fault simulation: a permanent job whose source mode sets the state the
/// replica already has (`-smode=cached` on a cached source) made the repository report a
/// state change, which re-added the file to the job: every file was migrated again every
/// 10 s, for ever.
///
/// Catches: `source_mode_changes` setting a state the replica already has.
#[test]
fn permanent_job_goes_idle_after_its_source_mode_is_applied() {
    let mut c = two_pools();
    for f in ["A", "B"] {
        put(&mut c, "pool1", f, migration_core::replica::ReplicaState::Cached, 40, vec![]);
    }
    ok(&mut c, "pool1", "migration copy -permanent -smode=cached pool2");
    c.run_for(MINUTE);
    let attempts = c.job("pool1", "1").statistics().attempts;
    assert_eq!(attempts, 2, "each file once");
    c.run_for(HOUR);
    assert_eq!(c.job("pool1", "1").statistics().attempts, attempts, "idle without changes");
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping);
}

/// Found by the fault simulation: `cancel -force` cancelled the running tasks in hash order,
/// so a seed did not replay exactly (the cancel messages went out in a different order in
/// each process, and in each cluster of one process).
///
/// Catches: `Job::cancel` iterating its running tasks in `HashMap` order.
#[test]
fn forced_cancel_replays_exactly() {
    let run = || {
        let mut c = cluster(5, &["pool1", "pool2", "pool3", "pool4"]);
        c.trace = Some(Vec::new());
        c.start();
        c.bandwidth = 1_000;
        for f in files(8) {
            put(&mut c, "pool1", &f, Precious, 100_000_000, vec![]);
        }
        ok(&mut c, "pool1", "migration copy -concurrency=8 pool2 pool3 pool4");
        c.run_for(20_000);
        ok(&mut c, "pool1", "migration cancel -force 1");
        c.run_for(MINUTE);
        assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
        c.trace.take().expect("tracing")
    };
    let first = run();
    for _ in 0..3 {
        assert!(run() == first, "the same seed gave a different run");
    }
}

/// Found through minidcache's `offline_holder` transcript: every pool-list refresh woke a job
/// that slept because every file had failed, so with `-refresh=2` a failing file was retried
/// every 2 s instead of every 10 s. Catches: `pools_answered` waking any sleeping job.
#[test]
fn a_refresh_does_not_cut_short_the_pause_after_failures() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    c.pool_mut("pool2").module.set_accepts_copies(false);
    ok(&mut c, "pool1", "migration copy -refresh=2 pool2");
    c.run_for(MINUTE);
    let attempts = c.job("pool1", "1").statistics().attempts;
    assert!((5..=8).contains(&attempts), "one attempt per 10 s, not per refresh: {attempts}");
}
