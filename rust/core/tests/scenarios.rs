//! The worked scenarios of spec Appendix B, end to end on the simulated cluster.

mod common;

use common::*;
use migration_core::host::Repository;
use migration_core::input::RepositoryEvent;
use migration_core::job::JobState;
use migration_core::replica::ReplicaState;
use migration_core::replica::ReplicaState::{Cached, Precious, Removed};

/// B1: a plain copy creates a cached replica with the source's non-pin records; the source
/// is unchanged.
#[test]
fn plain_copy_creates_cached_replica_with_non_pin_records_and_leaves_source_unchanged() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![sticky("foo", -1), sticky("PinManager-1", -1)]);
    let before = entry(&c, "pool1", "A").expect("source");

    ok(&mut c, "pool1", "migration copy -pnfsid=A pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("State      : FINISHED\n"), "{out}");
    assert!(out.contains("Completed  : 1 files; 40 bytes\n"), "{out}");
    assert!(out.contains("Total      : 40 bytes\n"), "{out}");
    assert!(out.contains("Attempts   : 1\n"), "{out}");
    assert!(!out.contains("Most recent notes:"), "no notes expected: {out}");

    let copy = entry(&c, "pool2", "A").expect("a copy on pool2");
    assert_eq!(copy.state, Cached);
    assert_eq!(copy.sticky, vec![sticky("foo", -1)], "non-pin records only");
    assert_ne!(copy.last_access, before.last_access, "without -atime the copy gets its own access time");
    assert_eq!(entry(&c, "pool1", "A"), Some(before), "source unchanged");
}

/// B2: running the same job again finds the copy through the namespace and only updates it.
#[test]
fn rerun_updates_existing_copy_without_creating_a_new_one() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy -pnfsid=A pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(creations(&c, "pool2", "A"), 1);

    // The source became precious and gained a record since: the re-run must carry both over.
    let a = id("A");
    c.repository("pool1").set_state(&a, Precious, "test").expect("cached -> precious");
    c.repository("pool1").set_sticky(&a, &sticky("bar", -1), true).expect("sticky");
    ok(&mut c, "pool1", "migration copy -pnfsid=A pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "2"), JobState::Finished);
    assert_eq!(creations(&c, "pool2", "A"), 1, "no second replica was created");
    let copy = entry(&c, "pool2", "A").expect("copy");
    assert_eq!(copy.state, Precious, "state upgraded");
    assert_eq!(record(&copy, "bar"), Some(sticky("bar", -1)), "record added");
    assert_eq!(c.job("pool1", "2").statistics().attempts, 1);
    assert!(info(&mut c, "pool1", "2").contains("Completed  : 1 files; 40 bytes\n"));
}

/// B3: `migration move` of a pinned precious replica: the copy is precious with `foo` but not
/// the pin, the pin manager moves the pin to pool2, and the unpinned source is deleted.
#[test]
fn move_with_pin_moves_pin_to_target_and_deletes_source() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("foo", -1), sticky("PinManager-x", -1)]);
    let atime = entry(&c, "pool1", "A").expect("source").last_access;

    ok(&mut c, "pool1", "migration move pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool1", "A"), None, "source deleted");
    let copy = entry(&c, "pool2", "A").expect("copy");
    assert_eq!(copy.state, Precious);
    assert_eq!(record(&copy, "foo"), Some(sticky("foo", -1)));
    assert_eq!(record(&copy, "PinManager-x"), Some(sticky("PinManager-x", -1)), "pin moved by the pin manager");
    assert_eq!(copy.last_access, atime, "move copies the access time");
    assert_eq!(creations(&c, "pool2", "A"), 1);
    // The new replica itself was created without the pin (tmode never copies pins).
    let created = c.history.iter().find_map(|(_, p, e)| match e {
        RepositoryEvent::StateChanged { old: ReplicaState::New, entry, .. } if p == "pool2" => Some(entry.clone()),
        _ => None,
    });
    assert_eq!(created.expect("creation event").sticky, vec![sticky("foo", -1)]);
    assert_eq!(
        c.namespace.get(&id("A")).map(|l| l.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["pool2".to_string()])
    );
}

/// B4: with the pin manager down the task fails after the pin-manager timeout, the file is
/// re-queued, the pinned source is never deleted; once it is back the job finishes and the
/// copy was only updated.
#[test]
fn move_with_pin_manager_down_retries_and_never_deletes_pinned_source() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("foo", -1), sticky("PinManager-x", -1)]);
    c.faults.pin_manager_down = true;
    let start = c.now();
    ok(&mut c, "pool1", "migration move pool2");

    c.run_for(5 * MINUTE);
    let job = c.job("pool1", "1");
    assert!(!job.state().is_terminal());
    let first = job.notes().next().expect("a failure note").clone();
    assert_eq!(first.text, "Pin manager failed (timeout)");
    assert!(first.time - start >= 120_000, "fails only after the 120 s pin-manager timeout");
    assert!(job.statistics().attempts >= 2, "the file was re-queued and retried");
    let source = entry(&c, "pool1", "A").expect("source kept while pinned");
    assert_eq!(source.state, Precious);
    assert!(record(&source, "PinManager-x").is_some());
    assert!(!was_removed(&c, "pool1", "A"));

    c.faults.pin_manager_down = false;
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(c.job("pool1", "1").statistics().attempts >= 2);
    assert_eq!(entry(&c, "pool1", "A"), None, "unpinned source deleted at last");
    assert_eq!(creations(&c, "pool2", "A"), 1, "retries only updated the existing copy");
    assert!(record(&entry(&c, "pool2", "A").expect("copy"), "PinManager-x").is_some());
}

/// B5 (first half): a non-eager job does not copy elsewhere while the only known copy sits on
/// an offline pool; it retries for ever.
#[test]
fn non_eager_job_retries_offline_holder_and_never_copies_elsewhere() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool3", "A", Cached, 40, vec![]);
    c.set_online("pool3", false);

    ok(&mut c, "pool1", "migration copy -pnfsid=A pool2 pool3");
    // The only file keeps failing, so the job retries it about every 10 s.
    c.run_for(30_000);

    let job = c.job("pool1", "1");
    assert!(!job.state().is_terminal());
    let attempts = job.statistics().attempts;
    assert!(attempts >= 3, "retried: {attempts}");
    let texts = notes(&c, "pool1", "1");
    assert!(!texts.is_empty());
    assert!(texts.iter().all(|t| t == "Remote pool failed (no route to cell)"), "{texts:?}");
    assert_eq!(entry(&c, "pool2", "A"), None, "no copy on pool2");

    c.run_for(30_000);
    assert!(c.job("pool1", "1").statistics().attempts > attempts, "attempts keep growing");
    assert_eq!(entry(&c, "pool2", "A"), None);
}

/// B5 (second half): with `-eager` the offline holder is no location and a new copy is made.
#[test]
fn eager_job_copies_to_online_pool_when_holder_is_offline() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool3", "A", Cached, 40, vec![]);
    c.set_online("pool3", false);

    ok(&mut c, "pool1", "migration copy -pnfsid=A pool2 pool3");
    c.run_for(3_000);
    ok(&mut c, "pool1", "migration cancel -force 1");
    c.run_for(1_000);
    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    ok(&mut c, "pool1", "migration copy -eager -pnfsid=A pool2 pool3");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "2"), JobState::Finished);
    assert_eq!(c.job("pool1", "2").statistics().attempts, 1);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached));
    assert!(notes(&c, "pool1", "2").is_empty());
}

/// B6: deleting the source replica while it is being copied cancels the task; the job
/// finishes, nothing is left on the target and nothing is counted as completed.
#[test]
fn replica_deleted_during_transfer_cancels_task_and_leaves_nothing_behind() {
    let mut c = two_pools();
    c.bandwidth = 1_000; // 10 MB take 10 s
    put(&mut c, "pool1", "A", Cached, 10_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(run_until(&mut c, MINUTE, 10, |c| {
        c.job("pool1", "1").running_tasks().first().is_some_and(|t| t.2 == "Copying")
    }));
    c.run_for(2_000);
    assert_eq!(c.pool("pool2").module.server_requests(), 1, "the transfer runs");

    c.repository("pool1").set_state(&id("A"), Removed, "test").expect("delete");
    flush(&mut c, "pool1");
    assert!(c.run_until_jobs_end(MINUTE));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool2", "A"), None, "transfer aborted");
    assert_eq!(creations(&c, "pool2", "A"), 0);
    assert_eq!(c.pool("pool2").module.server_requests(), 0);
    let stats = c.job("pool1", "1").statistics();
    assert_eq!(stats.completed_files, 0);
    assert_eq!(stats.transferred, 0);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("Completed  : 0 files; 0 bytes\n"), "{out}");
    assert!(notes(&c, "pool1", "1").is_empty(), "a cancelled task leaves no note");
}

/// B7: a permanent job keeps listening and copies a precious file written later, but not a
/// cached one its filter excludes.
#[test]
fn permanent_job_picks_up_new_precious_file() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    ok(&mut c, "pool1", "migration cache -permanent -state=precious pool2");
    c.run_for(MINUTE);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached));
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping, "an idle permanent job sleeps");

    put(&mut c, "pool1", "B", Precious, 50, vec![]);
    put(&mut c, "pool1", "C", Cached, 60, vec![]);
    c.run_for(MINUTE);

    assert_eq!(entry(&c, "pool2", "B").map(|e| e.state), Some(Cached), "tmode cached");
    assert_eq!(entry(&c, "pool2", "C"), None, "filtered out");
    assert!(!state(&c, "pool1", "1").is_terminal());
    let stats = c.job("pool1", "1").statistics();
    assert_eq!(stats.completed_files, 2);
    assert_eq!(stats.total, 90);
}

/// B8: two replicas requested, one target, `limit`: one copy and the truncation note; the file
/// counts as completed.
#[test]
fn replicas_two_with_limit_and_one_target_completes_with_truncation_note() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy -replicas=2 -target-deficit-mode=limit pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(creations(&c, "pool2", "A"), 1);
    assert_eq!(notes(&c, "pool1", "1"), vec!["File replicas truncated at 1 due to pool availability (2 requested)"]);
    let stats = c.job("pool1", "1").statistics();
    assert_eq!((stats.completed_files, stats.transferred), (1, 40));
    let out = info(&mut c, "pool1", "1");
    let note = c.job("pool1", "1").notes().next().expect("note").clone();
    let expected = format!(
        "{} [0] {}: File replicas truncated at 1 due to pool availability (2 requested)\n",
        clock(note.time),
        pid("A")
    );
    assert!(out.ends_with(&format!("Most recent notes:\n{expected}")), "{out}");
}

// ── Repository events (§4) ─────────────────────────────────────────────────────────────

/// A queued replica that is deleted leaves the queue; `total` keeps its size.
#[test]
fn deleted_queued_replica_is_dropped_and_total_keeps_its_size() {
    let mut c = two_pools();
    c.bandwidth = 1_000;
    put(&mut c, "pool1", "A", Cached, 100_000_000, vec![]);
    put(&mut c, "pool1", "B", Cached, 200_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    c.repository("pool1").set_state(&id("B"), Removed, "test").expect("delete");
    flush(&mut c, "pool1");
    assert_eq!(c.job("pool1", "1").queued(), 0);
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    assert_eq!(entry(&c, "pool2", "B"), None);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("Completed  : 1 files; 100000000 bytes\nTotal      : 300000000 bytes\n"), "{out}");
}

/// A replica that stops matching is dropped from the queue, but a running copy is not
/// cancelled (only deletion does that; DOC-DIFF D14).
#[test]
fn replica_that_stops_matching_is_dropped_but_running_copy_continues() {
    let mut c = two_pools();
    c.bandwidth = 1_000;
    put(&mut c, "pool1", "A", Cached, 100_000_000, vec![]);
    put(&mut c, "pool1", "B", Cached, 100_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy -state=cached pool2");
    c.run_for(1_000);
    for f in ["A", "B"] {
        c.repository("pool1").set_state(&id(f), Precious, "test").expect("cached -> precious");
    }
    flush(&mut c, "pool1");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached), "running copy went on");
    assert_eq!(entry(&c, "pool2", "B"), None, "dropped from the queue");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
}

/// A permanent job adds a replica when a sticky change makes it match its filter.
#[test]
fn permanent_job_adds_replica_when_sticky_change_makes_it_match() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy -permanent -sticky=foo pool2");
    c.run_for(MINUTE);
    assert_eq!(entry(&c, "pool2", "A"), None);

    c.repository("pool1").set_sticky(&id("A"), &sticky("foo", -1), true).expect("sticky");
    flush(&mut c, "pool1");
    c.run_for(MINUTE);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.sticky), Some(vec![sticky("foo", -1)]));
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 1);
}

/// `-order=size` / `-order=-size` sort the initial queue.
#[test]
fn order_option_sorts_initial_queue_by_size() {
    for (order, expected) in [("size", ["B", "C", "A"]), ("-size", ["A", "C", "B"])] {
        let mut c = two_pools();
        put(&mut c, "pool1", "A", Cached, 300, vec![]);
        put(&mut c, "pool1", "B", Cached, 100, vec![]);
        put(&mut c, "pool1", "C", Cached, 200, vec![]);
        ok(&mut c, "pool1", &format!("migration copy -order={order} pool2"));
        assert!(c.run_until_jobs_end(HOUR));
        assert_eq!(creation_order(&c, "pool2"), expected.map(id).to_vec(), "-order={order}");
    }
}
