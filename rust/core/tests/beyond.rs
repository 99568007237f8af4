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
