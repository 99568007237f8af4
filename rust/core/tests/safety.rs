//! Safety properties (spec §9, §6.3, §5.4, §15 R5): a source is never lost without a
//! confirmed copy, pins protect the source, existing target replicas only ever become less
//! volatile, and permanent failures drop the file without touching the source.

mod common;

use common::*;
use migration_core::driver::sim::Cluster;
use migration_core::host::Repository as _;
use migration_core::job::JobState;
use migration_core::mode::RepositoryChange;
use migration_core::replica::ReplicaState::{Cached, Precious};

/// R5: `move` in `limit` mode with the only target absent completes with the truncation note
/// and does not delete the source.
#[test]
fn move_with_limit_mode_and_absent_target_never_deletes_source() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    ok(&mut c, "pool1", "migration move -target-deficit-mode=limit pool9");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious), "source kept");
    assert!(!was_removed(&c, "pool1", "A"));
    // dCache's note, after (beyond dCache) the reason why there is no target.
    assert_eq!(
        notes(&c, "pool1", "1"),
        vec![
            "No targets: the pool manager lists none of pool9",
            "File replicas truncated at 0 due to pool availability (1 requested)"
        ]
    );
}

/// R5: the same with the target known but offline.
#[test]
fn move_with_limit_mode_and_offline_target_never_deletes_source() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("foo", -1)]);
    c.set_online("pool2", false);
    ok(&mut c, "pool1", "migration move -target-deficit-mode=limit pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    let source = entry(&c, "pool1", "A").expect("source kept");
    assert_eq!(source.state, Precious, "not made cached either");
    assert_eq!(record(&source, "foo"), Some(sticky("foo", -1)), "records untouched");
    assert!(!was_removed(&c, "pool1", "A"));
}

/// §9.4, the Book's example: `-smode=delete -pins=keep` on a pinned precious replica makes it
/// cached, expires its other records and keeps the pin; the target gets no pin.
#[test]
fn delete_source_mode_keeps_pinned_source_as_cached_and_expires_other_records() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("foobar", -1), sticky("PinManager-1", -1)]);
    ok(&mut c, "pool1", "migration copy -smode=delete -pins=keep pool2");
    assert!(c.run_until_jobs_end(HOUR));

    let source = entry(&c, "pool1", "A").expect("pinned source kept");
    assert_eq!(source.state, Cached);
    assert_eq!(record(&source, "foobar"), Some(sticky("foobar", 0)), "expired");
    assert_eq!(record(&source, "PinManager-1"), Some(sticky("PinManager-1", -1)), "pin kept");
    let copy = entry(&c, "pool2", "A").expect("copy");
    assert_eq!(copy.state, Precious);
    assert_eq!(copy.sticky, vec![sticky("foobar", -1)]);
}

/// §9.4: `move -pins=keep` behaves the same: the pinned source is not deleted.
#[test]
fn move_with_pins_kept_does_not_delete_pinned_source() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("PinManager-1", -1)]);
    ok(&mut c, "pool1", "migration move -pins=keep pool2");
    assert!(c.run_until_jobs_end(HOUR));

    let source = entry(&c, "pool1", "A").expect("pinned source kept");
    assert_eq!(source.state, Cached);
    assert!(record(&source, "PinManager-1").is_some());
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.sticky), Some(vec![]), "pins are never copied");
}

/// §6.3: an existing precious replica on the target is never made cached by `-tmode=cached`.
#[test]
fn cached_target_mode_never_downgrades_existing_precious_replica() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool2", "A", Precious, 40, vec![]);
    ok(&mut c, "pool1", "migration copy -tmode=cached pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Precious));
    assert_eq!(creations(&c, "pool2", "A"), 1, "only the original replica");
}

/// §6.3: a shorter lifetime never shortens an existing record on the target, and a
/// never-expiring one is never made finite.
#[test]
fn shorter_sticky_lifetime_never_shortens_existing_target_record() {
    let mut c = two_pools();
    let later = c.now() + HOUR;
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool2", "A", Cached, 40, vec![sticky("foo", later), sticky("bar", -1)]);
    ok(&mut c, "pool1", "migration copy -tmode=cached+foo(60)+bar(60) pool2");
    assert!(c.run_until_jobs_end(HOUR));

    let copy = entry(&c, "pool2", "A").expect("copy");
    assert_eq!(record(&copy, "foo"), Some(sticky("foo", later)));
    assert_eq!(record(&copy, "bar"), Some(sticky("bar", -1)));
}

/// §6.3: a longer lifetime extends an existing record on the target.
#[test]
fn longer_sticky_lifetime_extends_existing_target_record() {
    let mut c = two_pools();
    let soon = c.now() + MINUTE;
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool2", "A", Cached, 40, vec![sticky("foo", soon)]);
    let created = c.now();
    ok(&mut c, "pool1", "migration copy -tmode=cached+foo(7200) pool2");
    assert!(c.run_until_jobs_end(HOUR));

    let copy = entry(&c, "pool2", "A").expect("copy");
    assert_eq!(record(&copy, "foo"), Some(sticky("foo", created + 7_200_000)), "lifetime counted from the command");
}

/// §5.4: a corrupted transfer reported while copying fails permanently; a move keeps its
/// source and nothing is left on the target.
#[test]
fn corrupted_transfer_fails_permanently_and_keeps_source() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    c.faults.corrupt_transfers.insert(id("A"));
    ok(&mut c, "pool1", "migration move pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1, "not retried");
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 0);
    assert_eq!(
        notes(&c, "pool1", "1"),
        vec!["Transfer to [pool2@local] failed (Checksum mismatch); will not be retried"]
    );
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious));
    assert_eq!(entry(&c, "pool2", "A"), None);
}

/// §5.3 GettingLocations: a file deleted from the namespace is skipped for good; the replica
/// is left alone.
#[test]
fn file_deleted_from_namespace_is_skipped_permanently() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.delete_from_namespace(&id("A"));
    ok(&mut c, "pool1", "migration move pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(notes(&c, "pool1", "1"), vec!["File does not exist, skipped"]);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 0);
    assert!(entry(&c, "pool1", "A").is_some());
    assert_eq!(entry(&c, "pool2", "A"), None);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains(&format!("[0] {}: File does not exist, skipped\n", pid("A"))), "{out}");
}

/// §9.4: `-smode=removable` expires the non-pin records it does not list and keeps listed
/// ones; the replica becomes cached.
#[test]
fn removable_source_mode_expires_unlisted_records_and_keeps_listed_ones() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("a", -1), sticky("b", -1), sticky("PinManager-1", -1)]);
    ok(&mut c, "pool1", "migration copy -smode=removable+b(-1) pool2");
    assert!(c.run_until_jobs_end(HOUR));

    let source = entry(&c, "pool1", "A").expect("source kept");
    assert_eq!(source.state, Cached);
    assert_eq!(record(&source, "a"), Some(sticky("a", 0)));
    assert_eq!(record(&source, "b"), Some(sticky("b", -1)));
    assert_eq!(record(&source, "PinManager-1"), Some(sticky("PinManager-1", -1)));
}

/// §3.6: a source mode is applied only after a confirmed copy; a failing target leaves a
/// `move` source untouched while the file waits for retry.
#[test]
fn move_never_deletes_source_while_target_refuses() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    c.pool_mut("pool2").module.set_accepts_copies(false);
    ok(&mut c, "pool1", "migration move pool2");
    c.run_for(3_000);
    assert!(!state(&c, "pool1", "1").is_terminal());
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious));
    assert!(!was_removed(&c, "pool1", "A"));
}

/// Two pools, a cached file of 100 MB on pool1, and the job `line` one second into its copy
/// (at 1 MB/s).
fn copying(line: &str) -> Cluster {
    let mut c = two_pools();
    c.bandwidth = 1_000;
    put(&mut c, "pool1", "A", Cached, 100_000_000, vec![]);
    ok(&mut c, "pool1", line);
    c.run_for(1_000);
    assert!(entry(&c, "pool2", "A").is_none(), "still being copied");
    c
}

/// [`copying`], with the source made precious during the copy.
fn made_precious_during_its_copy(line: &str) -> Cluster {
    let mut c = copying(line);
    c.repository("pool1").set_state(&id("A"), Precious, "test").expect("cached -> precious");
    flush(&mut c, "pool1");
    c
}

/// A move's source that becomes precious while it is copied as cached is not deleted after
/// that copy: the file is queued again, the next pass makes the target's copy precious, and
/// only then is the source deleted. dCache deletes it at once (§9.4 reads the source only
/// then), which leaves a file not yet on tape as one cached, collectable copy.
#[test]
fn a_source_made_precious_during_its_copy_is_deleted_only_once_the_copy_is_precious() {
    let mut c = made_precious_during_its_copy("migration move pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Precious), "the copy made precious");
    assert!(entry(&c, "pool1", "A").is_none(), "then the source deleted");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 2);
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 1);
    let notes = notes(&c, "pool1", "1");
    assert!(
        notes.iter().any(|n| n.contains("Source kept and file queued again: it became precious while it was copied")),
        "{notes:?}"
    );
}

/// The same for a sticky record given to the source while it is copied: the copy gets it
/// before the source goes.
#[test]
fn a_source_made_sticky_during_its_copy_is_deleted_only_once_the_copy_is_sticky() {
    let mut c = copying("migration move pool2");
    c.repository("pool1").set_sticky(&id("A"), &sticky("keeper", -1), true).expect("sticky");
    flush(&mut c, "pool1");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    let copy = entry(&c, "pool2", "A").expect("copied");
    assert_eq!(record(&copy, "keeper"), Some(sticky("keeper", -1)), "the copy made sticky");
    assert!(entry(&c, "pool1", "A").is_none(), "then the source deleted");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 2);
}

/// A source that becomes precious while it is copied and so leaves the job's filter
/// (`-state=cached`) is left as it is, precious: the job does not move it, as it would not
/// have had it been precious at the start, and the cached copy stays as an extra copy.
#[test]
fn a_source_made_precious_during_its_copy_and_no_longer_matching_is_kept() {
    let mut c = made_precious_during_its_copy("migration move -state=cached pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious), "the source kept, precious");
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached), "the copy made before");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    let notes = notes(&c, "pool1", "1");
    assert!(notes.iter().any(|n| n.contains("no longer matches the job's filter")), "{notes:?}");
}

/// The same with an explicit `-tmode=cached`, which the outgrowing check leaves alone: the
/// job takes cached replicas only, so the source made precious during its copy is kept, not
/// lowered to leave the file on a cached copy before it reaches tape (found by a review).
#[test]
fn an_explicit_cached_target_mode_keeps_a_source_made_precious_outside_the_filter() {
    for line in
        ["migration move -state=cached -tmode=cached pool2", "migration cache -state=cached -smode=removable pool2"]
    {
        let mut c = made_precious_during_its_copy(line);
        assert!(c.run_until_jobs_end(HOUR));

        assert_eq!(state(&c, "pool1", "1"), JobState::Finished, "{line}");
        assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious), "{line}: the source kept");
        assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached), "{line}: the copy made before");
        let notes = notes(&c, "pool1", "1");
        let kept = "Source kept: it became precious while it was copied, and it no longer matches the job's filter";
        assert!(notes.iter().any(|n| n.contains(kept)), "{line}: {notes:?}");
    }
    // Precious copies leave the file precious elsewhere: the source goes, as asked.
    let mut c = made_precious_during_its_copy("migration move -state=cached -tmode=precious pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Precious));
    assert!(entry(&c, "pool1", "A").is_none(), "deleted, as the operator asked");
}

/// An explicit `-tmode=cached` asks for cached copies whatever the source's state, so a
/// source made precious during its copy is moved as a precious one would be: deleted.
#[test]
fn an_explicit_cached_target_mode_moves_a_source_made_precious_during_its_copy() {
    let mut c = made_precious_during_its_copy("migration move -tmode=cached pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached));
    assert!(entry(&c, "pool1", "A").is_none(), "deleted, as the operator asked");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
}

/// A cancelled job has no next pass to bring the copies up to date: a source made precious
/// during its copy is kept, and the file leaves the job unmoved.
#[test]
fn a_cancelled_move_keeps_a_source_made_precious_during_its_copy() {
    let mut c = made_precious_during_its_copy("migration move pool2");
    ok(&mut c, "pool1", "migration cancel 1");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious), "the source kept, precious");
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached), "the copy made before");
    let notes = notes(&c, "pool1", "1");
    assert!(notes.iter().any(|n| n.ends_with("Source kept: it became precious while it was copied")), "{notes:?}");
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 0);
}

/// A move removes a source that is unchanged since its task read it on that read: the host
/// removes it only if it is still as read, so the source is read once, to make the task. A
/// pinned source, and a source mode that changes the source in other ways, are read again
/// before the change, which the host makes whatever the replica is by then.
///
/// Catches: the source read a second time before a removal that is conditional anyway (one
/// host call a file more), or a removal decided on the task's read for a pinned source.
#[test]
fn a_move_removes_an_unchanged_source_without_reading_it_again() {
    let pin = sticky("PinManager-1", -1);
    let cases = [
        ("migration move pool2", vec![sticky("owner", -1)], 1, None),
        ("migration move -pins=keep pool2", vec![pin.clone()], 2, Some(Cached)),
        ("migration copy -smode=removable pool2", vec![], 2, Some(Cached)),
    ];
    for (command, records, reads, source_after) in cases {
        let mut c = two_pools();
        c.trace = Some(Vec::new());
        put(&mut c, "pool1", "A", Precious, 40, records);
        ok(&mut c, "pool1", command);
        assert!(c.run_until_jobs_end(HOUR), "{command}");
        let trace = c.trace.take().expect("tracing");
        let read = trace.iter().filter(|l| l.contains("pool1 ⇒ read")).count();
        assert_eq!(read, reads, "{command}: {trace:#?}");
        assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), source_after, "{command}");
        assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Precious), "{command}: the copy");
        assert_eq!(state(&c, "pool1", "1"), JobState::Finished, "{command}");
    }
}

/// `migration move` (with `options`) of `A`, whose source replica gets `changes` right before
/// the module's changes to apply the source mode, one a change: between the look the change
/// was decided on (the task's read, or a read to apply the source mode) and the change.
fn changed_between_look_and_removal(options: &str, changes: Vec<RepositoryChange>) -> Cluster {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.faults.changed_before_source_change.insert(id("A"), changes.into());
    ok(&mut c, "pool1", &format!("migration move {options}pool2"));
    assert!(c.run_until_jobs_end(HOUR));
    assert!(c.faults.changed_before_source_change.is_empty(), "the change was made");
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    c
}

/// A pin that comes between the module's look at a move's source and its removal keeps the
/// replica: the removal is conditional on the replica being as seen, and the source mode is
/// decided again on a new look, which finds the pin (a pinned source becomes removable).
/// With a plain removal the pinned replica went, and the pin with it.
#[test]
fn a_pin_set_between_the_look_and_the_removal_keeps_the_source() {
    let pin = sticky("PinManager-7", -1);
    let c = changed_between_look_and_removal(
        "",
        vec![RepositoryChange::SetSticky { record: pin.clone(), overwrite: true }],
    );

    let source = entry(&c, "pool1", "A").expect("the pinned source kept");
    assert_eq!(source.state, Cached);
    assert_eq!(record(&source, "PinManager-7"), Some(pin), "the pin kept");
    assert!(!was_removed(&c, "pool1", "A"));
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached), "the copy");
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 1);
}

/// A source made precious between the look and the removal is not deleted either: the new
/// look finds that it outgrew its cached copy, and the file goes round again.
#[test]
fn a_source_made_precious_between_the_look_and_the_removal_is_deleted_only_once_the_copy_is_precious() {
    let reason = "an operator".into();
    let c = changed_between_look_and_removal("", vec![RepositoryChange::SetState { state: Precious, reason }]);

    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Precious), "the copy made precious");
    assert!(entry(&c, "pool1", "A").is_none(), "then the source deleted");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 2);
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 1);
}

/// A source that changes under every look (here a new sticky record each time; with
/// `-tmode=cached` that does not send the file round again) is not looked at for ever: the
/// removal decided on the task's read is refused, and after three reads whose removals were
/// refused it is kept, with a note, and its copy stays as an extra one.
#[test]
fn a_source_that_changes_under_every_look_is_kept_after_three() {
    let record = |owner: &str| RepositoryChange::SetSticky { record: sticky(owner, -1), overwrite: true };
    let changes = vec![record("a"), record("b"), record("c"), record("d")];
    let c = changed_between_look_and_removal("-tmode=cached ", changes);

    let source = entry(&c, "pool1", "A").expect("the source kept");
    assert_eq!(source.sticky.len(), 4, "{source:?}");
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached), "the copy");
    let notes = notes(&c, "pool1", "1");
    assert!(
        notes.iter().any(|n| n.ends_with("Source kept: it changed each of the 3 times it was read to be deleted")),
        "{notes:?}"
    );
}

/// A pin move that fails half way (one of two pins moved to the target, the other still on
/// the source) fails the task: the source, still pinned, is not deleted. The file is tried
/// again, the remaining pin moves, and only then does the source go, with both pins on the
/// copy and none lost.
#[test]
fn a_pin_move_that_fails_half_way_keeps_the_source_until_every_pin_has_moved() {
    let mut c = two_pools();
    let pins = [sticky("PinManager-1", -1), sticky("PinManager-2", -1)];
    put(&mut c, "pool1", "A", Precious, 40, pins.to_vec());
    c.faults.pin_moves_failing_half_way = 1;
    ok(&mut c, "pool1", "migration move -pins=move pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(c.faults.pin_moves_failing_half_way, 0, "a pin move failed half way");
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 2);
    assert!(entry(&c, "pool1", "A").is_none(), "deleted once both pins had moved");
    let copy = entry(&c, "pool2", "A").expect("the copy");
    for pin in pins {
        assert_eq!(record(&copy, &pin.owner), Some(pin.clone()), "{} on the copy", pin.owner);
    }
    let notes = notes(&c, "pool1", "1");
    assert!(notes.iter().any(|n| n.contains("the pin manager failed half way")), "{notes:?}");
}

/// A `move -replicas=2` cancelled with force after its first copy is made, while that copy's
/// copy-finished message is on its way: the task learns of the copy in `Cancelling`. dCache
/// then completes the task and applies the source mode, so the source is deleted with one copy
/// of the two the operator asked for; here the task ends cancelled, the source stays as it
/// is, and the copy stays as an extra one.
#[test]
fn a_move_cancelled_with_fewer_copies_than_replicas_keeps_its_source() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    c.bandwidth = 1_000; // 2 MB take 2 s
    put(&mut c, "pool1", "A", Precious, 2_000_000, vec![]);
    ok(&mut c, "pool1", "migration move -replicas=2 pool2 pool3");
    // The step that makes the first copy sends its copy-finished message, which arrives a few
    // milliseconds later.
    let copies = |c: &Cluster| ["pool2", "pool3"].iter().filter(|p| entry(c, p, "A").is_some()).count();
    assert!(run_until(&mut c, HOUR, 1, |c| copies(c) == 1), "no copy was made");
    ok(&mut c, "pool1", "migration cancel -force 1");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert!(!was_removed(&c, "pool1", "A"), "the source went with one copy of the two asked for");
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious));
    assert_eq!(copies(&c), 1, "the copy made stays");
}

/// A `move -replicas=2` whose copy request went unanswered waits for the target's final word
/// (`WaitingForCopyFinishedMessage`), where a cancel is ignored, as in dCache. When that word
/// is a success, the cancel takes effect: the task ends cancelled with its one copy, and asks
/// no second target (before, the cancel was remembered as done, so the task went on copying
/// and every later cancel, `-force` included, was dropped).
#[test]
fn a_cancel_met_while_waiting_for_the_final_word_takes_effect_once_it_comes() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    c.bandwidth = 1_000; // 100 MB take 100 s: longer than a request's timeout (60 s)
    put(&mut c, "pool1", "A", Precious, 100_000_000, vec![]);
    ok(&mut c, "pool1", "migration move -replicas=2 pool2 pool3");
    let in_state = |c: &Cluster, wanted: &str| c.job("pool1", "1").running_tasks().iter().any(|t| t.2 == wanted);
    assert!(run_until(&mut c, HOUR, 1, |c| in_state(c, "InitiatingCopy")));
    // The request is on its way; the target stops answering (it still copies), so the
    // request times out, and the cancel sent then is lost too.
    let target = c.job("pool1", "1").running_tasks()[0].3.expect("a target").to_string();
    c.faults.unresponsive.insert(target.clone());
    assert!(run_until(&mut c, HOUR, 100, |c| in_state(c, "WaitingForCopyFinishedMessage")));
    c.faults.unresponsive.remove(&target);
    ok(&mut c, "pool1", "migration cancel -force 1");
    assert!(in_state(&c, "WaitingForCopyFinishedMessage"), "the cancel is ignored there");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious), "the source kept");
    let copies = ["pool2", "pool3"].iter().filter(|p| entry(&c, p, "A").is_some()).count();
    assert_eq!(copies, 1, "no second copy for a cancelled job");
}

/// A replica found BROKEN when its task is to start (it broke after it was queued) gets no
/// task, whatever the target mode: with an explicit `-tmode=cached` the check looked at the
/// copies' state instead of the replica's, and the broken replica was copied and then deleted
/// by the source mode.
#[test]
fn a_replica_broken_before_its_task_starts_is_left_alone_under_an_explicit_target_mode() {
    use migration_core::replica::ReplicaState::Broken;
    for line in ["migration move -tmode=cached pool2", "migration move pool2"] {
        let mut c = two_pools();
        put(&mut c, "pool1", "A", Cached, 40, vec![]);
        let broken = RepositoryChange::SetState { state: Broken, reason: "disk error".into() };
        c.faults.changed_before_task_read.insert(id("A"), broken);
        ok(&mut c, "pool1", line);
        assert!(c.run_until_jobs_end(HOUR), "{line}");

        assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Broken), "{line}: the source left alone");
        assert!(entry(&c, "pool2", "A").is_none(), "{line}: not copied");
        let notes = notes(&c, "pool1", "1");
        assert!(notes.iter().any(|n| n.contains("Cannot migrate a replica in state BROKEN")), "{line}: {notes:?}");
    }
}

/// A replica that stops matching the job's filter while the initial scan runs (made cached
/// under `-state=precious`, or given a record `-sticky` excludes) is not moved: the scan read
/// it before the change, and its stale result queued it. One removed meanwhile is not queued
/// either. dCache adds each entry under the job's lock with its listener registered.
#[test]
fn a_replica_that_stops_matching_while_the_scan_runs_is_not_moved() {
    let mut c = cluster(1, &["pool1", "pool2"]);
    c.start();
    for file in ["A", "B", "C"] {
        put(&mut c, "pool1", file, Precious, 40, vec![]);
    }
    let cached = RepositoryChange::SetState { state: Cached, reason: "flushed".into() };
    c.faults.changed_during_scan.insert(id("A"), cached);
    let removed =
        RepositoryChange::SetState { state: migration_core::replica::ReplicaState::Removed, reason: "rep rm".into() };
    c.faults.changed_during_scan.insert(id("B"), removed);
    ok(&mut c, "pool1", "migration move -state=precious pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Cached), "A stays where it is");
    assert!(entry(&c, "pool2", "A").is_none(), "A is not copied");
    assert!(entry(&c, "pool2", "C").is_some() && entry(&c, "pool1", "C").is_none(), "C is moved");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1, "one task: C's");
}

/// A job fails on one file's read while another file's entry is being read (`-concurrency=2`):
/// the second file gets no task, so a FAILED `move` does not go on copying and deleting.
#[test]
fn a_job_failed_while_another_entry_was_read_starts_no_task_for_it() {
    let mut c = cluster(1, &["pool1", "pool2"]);
    c.start();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool1", "B", Cached, 40, vec![]);
    c.faults.failing_task_reads.insert(id("A"));
    ok(&mut c, "pool1", "migration move -concurrency=2 pool2");
    // Until its last file is done with, not only until it ended.
    assert!(run_until(&mut c, HOUR, 1, |c| state(c, "pool1", "1") == JobState::Failed
        && c.job("pool1", "1").running_tasks().is_empty()
        && c.pool("pool1").module.locked_files() == 0));
    assert_eq!(state(&c, "pool1", "1"), JobState::Failed);
    assert!(entry(&c, "pool1", "B").is_some(), "B's source stays");
    assert!(entry(&c, "pool2", "B").is_none(), "B is not copied");
}

/// A job fails while one of its tasks is still under way (§3.5: a read error of another file
/// fails it), and `migration clear` removes it then: the running file's lock goes with the job.
/// It stayed, so every later job met `File is locked` on that file, and the pool refused
/// incoming copies of it, until a restart.
#[test]
fn clearing_a_failed_job_with_a_task_under_way_releases_its_file() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    c.bandwidth = 1_000; // 2 MB take 2 s
    put(&mut c, "pool1", "A", Cached, 2_000_000, vec![]);
    put(&mut c, "pool1", "B", Cached, 40, vec![]);
    c.faults.failing_task_reads.insert(id("B"));
    ok(&mut c, "pool1", "migration copy -concurrency=2 pool2");
    assert!(run_until(&mut c, HOUR, 1, |c| state(c, "pool1", "1") == JobState::Failed));
    assert_eq!(c.job("pool1", "1").running_tasks().len(), 1, "A's task is still under way");
    ok(&mut c, "pool1", "migration clear");
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "");
    assert_eq!(c.pool("pool1").module.locked_files(), 0, "A's lock went with its job");

    ok(&mut c, "pool1", "migration copy pool3");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "2"), JobState::Finished);
    assert!(entry(&c, "pool3", "A").is_some() && entry(&c, "pool3", "B").is_some());
}
