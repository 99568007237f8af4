//! What no migration module gives operators so far (issue #13): each addition is ours, marked
//! as beyond dCache in the README, and leaves dCache's own outputs as they were.

mod common;

use common::*;
use migration_core::ErrorKind;
use migration_core::job::JobState;
use migration_core::replica::ReplicaState::Precious;

// ── Repeated options ───────────────────────────────────────────────────────────────────

#[test]
fn a_single_valued_option_given_twice_with_different_values_is_refused() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    let e = err(&mut c, "pool1", "migration copy -smode=delete -smode=cached pool2");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!(e.message, "Option -smode is given twice with different values: delete and cached");
    let e = err(&mut c, "pool1", "migration move -state=cached -state=precious pool2");
    assert_eq!(e.message, "Option -state is given twice with different values: cached and precious");
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "", "nothing was created");
    // Saying the same thing twice is harmless, and list options still accumulate.
    ok(&mut c, "pool1", "migration copy -smode=cached -smode=cached -exclude=x -exclude=y pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
}

// ── Idle permanent jobs react at once ──────────────────────────────────────────────────

#[test]
fn a_file_reaching_an_idle_permanent_job_is_copied_at_once() {
    let mut c = two_pools();
    ok(&mut c, "pool1", "migration copy -permanent pool2");
    // Half-way between two 10 s wake-ups.
    c.run_for(MINUTE + 5_000);
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping, "idle: nothing to copy");
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    c.run_for(1_000);
    assert!(entry(&c, "pool2", "A").is_some(), "copied within a second, not at the next 10 s wake-up");
}

#[test]
fn a_permanent_job_sleeping_after_failures_keeps_its_pause() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    c.pool_mut("pool2").module.set_accepts_copies(false);
    ok(&mut c, "pool1", "migration copy -permanent pool2");
    c.run_for(3_000);
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping, "the only file failed");
    let attempts = c.job("pool1", "1").statistics().attempts;
    put(&mut c, "pool1", "B", Precious, 10, vec![]);
    c.run_for(1_000);
    assert_eq!(c.job("pool1", "1").statistics().attempts, attempts, "no new attempt before the wake-up");
}
