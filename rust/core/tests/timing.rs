//! Timing paths of the task and job (spec §3.3, §3.5, §5.2, §5.3) on simulated time: pings
//! during long copies, targets vanishing mid-copy, sleeping without targets, re-queueing
//! order, and message loss.

mod common;

use common::*;
use migration_core::job::JobState;
use migration_core::replica::ReplicaState::Cached;

fn task_state(c: &migration_core::driver::sim::Cluster, job: &str) -> Option<&'static str> {
    c.job("pool1", job).running_tasks().first().map(|t| t.2)
}

/// A p2p slower than 2T: the task pings the target after 120 s, the target still knows the
/// request, and the copy carries on to the end.
#[test]
fn slow_copy_is_pinged_after_two_minutes_and_keeps_going() {
    let mut c = two_pools();
    c.bandwidth = 1_000; // 200 MB take 200 s
    put(&mut c, "pool1", "A", Cached, 200_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(run_until(&mut c, MINUTE, 1, |c| task_state(c, "1") == Some("Copying")));
    let copying_since = c.now();
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains(&format!("Running tasks:\n[0] {}: TASK.Copying -> [pool2@local]\n", pid("A"))), "{out}");

    c.run_for(119_000);
    assert_eq!(task_state(&c, "1"), Some("Copying"), "no ping before 2T");
    assert!(run_until(&mut c, 2_000, 1, |c| task_state(c, "1") == Some("Pinging")));
    let pinged_after = c.now() - copying_since;
    assert!((120_000..=120_010).contains(&pinged_after), "pinged after {pinged_after} ms");
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains(&format!("[0] {}: TASK.Pinging -> [pool2@local]\n", pid("A"))), "{out}");

    assert!(run_until(&mut c, 1_000, 1, |c| task_state(c, "1") == Some("Copying")), "ping answered");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    assert!(notes(&c, "pool1", "1").is_empty());
    assert_eq!(creations(&c, "pool2", "A"), 1);
}

/// The target goes offline while copying: the ping has no route (NoResponse), the second ping
/// 2T later neither, the task fails with `no route to cell`, and the file is retried until
/// the target is back.
#[test]
fn target_offline_mid_copy_fails_with_no_route_and_file_is_retried() {
    let mut c = two_pools();
    c.bandwidth = 100; // 100 MB take 1000 s
    put(&mut c, "pool1", "A", Cached, 100_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy -refresh=60 pool2");
    assert!(run_until(&mut c, MINUTE, 1, |c| task_state(c, "1") == Some("Copying")));
    let copying_since = c.now();
    c.run_for(30_000);
    c.set_online("pool2", false);

    assert!(run_until(&mut c, 3 * MINUTE, 100, |c| task_state(c, "1") == Some("NoResponse")));
    assert!(run_until(&mut c, 5 * MINUTE, 100, |c| !notes(c, "pool1", "1").is_empty()));
    let job = c.job("pool1", "1");
    let first = job.notes().next().expect("note").clone();
    assert_eq!(first.text, "Pool [pool2@local] failed (no route to cell)");
    assert!(first.time - copying_since >= 240_000, "ping at 2T, second ping 2T later");
    assert_eq!(job.queued(), 1, "re-queued");
    // The refresh (60 s) already saw pool2 offline: the job waits for it instead of spinning.
    assert_eq!(job.state(), JobState::Sleeping);
    assert_eq!(entry(&c, "pool2", "A"), None);

    c.set_online("pool2", true);
    assert!(c.run_until_jobs_end(3 * HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached));
    assert_eq!(creations(&c, "pool2", "A"), 1);
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 1);
    assert!(c.job("pool1", "1").statistics().attempts >= 2, "retried");
}

/// No target online (`wait` mode): the job sleeps and starts nothing; once the target is back
/// the job runs again within about 10 s.
#[test]
fn job_sleeps_without_online_target_and_wakes_soon_after_it_returns() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.set_online("pool2", false);
    ok(&mut c, "pool1", "migration copy -refresh=1 pool2");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 0);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("Targets    : \n"), "{out}");
    assert!(out.contains("State      : SLEEPING\n"), "{out}");

    c.set_online("pool2", true);
    let back = c.now();
    assert!(run_until(&mut c, MINUTE, 100, |c| c.job("pool1", "1").statistics().attempts > 0));
    assert!(c.now() - back <= 11_000, "woke after {} ms", c.now() - back);
    assert!(c.run_until_jobs_end(MINUTE));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(entry(&c, "pool2", "A").is_some());
}

/// A sleeping job wakes by itself every 10 s (SLEEPING → RUNNING → SLEEPING) and does not
/// fail or finish while its file is waiting.
#[test]
fn sleeping_job_keeps_its_queue_and_does_not_finish() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.set_online("pool2", false);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(10 * MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping);
    assert_eq!(c.job("pool1", "1").queued(), 1);
    assert!(info(&mut c, "pool1", "1").contains("Queued     : 1\n"));
}

/// A transient failure puts the file at the end of the queue: with A, B, C and A failing
/// once, the copies appear in the order B, C, A.
#[test]
fn transient_failure_requeues_file_at_end_of_queue() {
    let mut c = two_pools();
    for f in ["A", "B", "C"] {
        put(&mut c, "pool1", f, Cached, 40, vec![]);
    }
    c.faults.fail_p2p = 1.0;
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(run_until(&mut c, MINUTE, 1, |c| !notes(c, "pool1", "1").is_empty()));
    c.faults.fail_p2p = 0.0;
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(creation_order(&c, "pool2"), vec![id("B"), id("C"), id("A")]);
    let job = c.job("pool1", "1");
    assert_eq!(job.statistics().attempts, 4);
    assert_eq!(job.statistics().completed_files, 3);
    let note = job.notes().next().expect("note");
    assert_eq!(
        (note.task, note.pnfsid, note.text.as_str()),
        (0, Some(id("A")), "Transfer to [pool2@local] failed (I/O error)")
    );
}

/// Lost messages (requests, replies, copy-finished notices) delay but never break a job:
/// every file ends up copied exactly once and counted once.
#[test]
fn message_loss_still_copies_every_file_once() {
    for seed in [1, 2, 3, 4] {
        let mut c = cluster(seed, &["pool1", "pool2"]);
        c.start();
        let files = ["A", "B", "C", "D", "E"];
        for f in files {
            put(&mut c, "pool1", f, Cached, 1_000, vec![]);
        }
        c.faults.lose_messages = 0.3;
        ok(&mut c, "pool1", "migration copy -concurrency=2 pool2");
        assert!(c.run_until_jobs_end(48 * HOUR), "seed {seed}: job did not end");
        assert_eq!(state(&c, "pool1", "1"), JobState::Finished, "seed {seed}");
        let stats = c.job("pool1", "1").statistics();
        assert_eq!(stats.completed_files, 5, "seed {seed}");
        assert_eq!(stats.transferred, 5_000, "seed {seed}");
        for f in files {
            assert_eq!(creations(&c, "pool2", f), 1, "seed {seed}: {f}");
            assert_eq!(entry(&c, "pool1", f).map(|e| e.state), Some(Cached), "seed {seed}: source {f} kept");
        }
        assert_eq!(c.repository("pool2").len(), 5, "seed {seed}");
    }
}

/// Namespace silence: the location query times out after the PnfsManager timeout (300 s) and
/// the file is retried.
#[test]
fn namespace_timeout_fails_task_after_five_minutes_and_retries() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.faults.namespace_down = true;
    let start = c.now();
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(run_until(&mut c, 10 * MINUTE, 1_000, |c| !notes(c, "pool1", "1").is_empty()));
    let note = c.job("pool1", "1").notes().next().expect("note").clone();
    assert_eq!(note.text, "PnfsManager failed (no response)");
    assert!(note.time - start >= 300_000);
    c.faults.namespace_down = false;
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(c.job("pool1", "1").statistics().attempts >= 2);
    assert!(entry(&c, "pool2", "A").is_some());
}

/// R6 + R8 fixed: two replicas wanted, one target, `wait` mode: after the one copy the task
/// finds no further pool and fails with `No targets available`; the job then sleeps 10 s
/// instead of retrying in a tight loop, and never copies to the same pool twice.
#[test]
fn no_targets_available_makes_job_sleep_instead_of_spinning() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy -replicas=2 pool2");
    c.run_for(MINUTE);

    let job = c.job("pool1", "1");
    let attempts = job.statistics().attempts;
    assert!((3..=8).contains(&attempts), "about one attempt per 10 s, got {attempts}");
    assert_eq!(job.state(), JobState::Sleeping);
    // dCache's note, and (beyond dCache) once its reason.
    let texts = notes(&c, "pool1", "1");
    assert!(texts.iter().filter(|t| !t.starts_with("No targets: ")).all(|t| t == "No targets available"), "{texts:?}");
    let reasons: Vec<_> = texts.iter().filter(|t| t.starts_with("No targets: ")).collect();
    assert_eq!(reasons, ["No targets: every usable target already has a replica of the file"]);
    assert_eq!(creations(&c, "pool2", "A"), 1);
}

/// R2 fixed: a job whose pause expression is true shows PAUSED (also with nothing running),
/// re-checks every 10 s, and resumes by itself once the expression is false.
#[test]
fn paused_job_shows_paused_and_resumes_when_expression_turns_false() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.set_online("pool3", false);
    ok(&mut c, "pool1", "migration copy -refresh=1 -pause-when=targets<2 pool2 pool3");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Paused);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 0);

    c.set_online("pool3", true);
    let back = c.now();
    assert!(run_until(&mut c, MINUTE, 100, |c| c.job("pool1", "1").statistics().attempts > 0));
    assert!(c.now() - back <= 12_000, "resumed after {} ms", c.now() - back);
    assert!(c.run_until_jobs_end(MINUTE));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
}

/// A paused job whose files all went while it was paused (deleted here) finishes at its next
/// look, as dCache's does passing through RUNNING; it stayed PAUSED for as long as its
/// expression held, for ever with `-pause-when=true`.
#[test]
fn a_paused_job_whose_files_went_finishes() {
    let mut c = cluster(1, &["pool1", "pool2"]);
    c.start();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy -pause-when=true pool2");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Paused);
    c.delete_file(&id("A"));
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool2", "A"), None);
}

/// R1 fixed: `queue.bytes` is the bytes not yet transferred. After A (60 of 110 bytes) it is
/// 50, so `-stop-when=queue.bytes<100` stops the job before B.
#[test]
fn stop_expression_sees_remaining_bytes_and_finishes_job() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 60, vec![]);
    put(&mut c, "pool1", "B", Cached, 50, vec![]);
    ok(&mut c, "pool1", "migration copy -stop-when=queue.bytes<100 pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(entry(&c, "pool2", "A").is_some());
    assert_eq!(entry(&c, "pool2", "B"), None, "stopped before B");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
}

/// dCache #1983: one bad file made a job spin, retrying it as fast as the target refused it.
/// Here a job whose every file failed since its last success sleeps 10 s before the next
/// pass. Catches: removing the whole-pass rule in `Job::task_ended` (attempts then run into
/// the thousands within the minute).
#[test]
fn a_file_that_keeps_failing_is_retried_every_ten_seconds_not_in_a_tight_loop() {
    let mut c = common::cluster(3, &["pool1", "pool2"]);
    common::put(&mut c, "pool1", "A", migration_core::replica::ReplicaState::Cached, 10, vec![]);
    c.start();
    c.pool_mut("pool2").module.set_accepts_copies(false);
    c.execute("pool1", "migration copy pool2").expect("valid");
    c.run_for(60_000);
    let attempts = c.job("pool1", "1").statistics().attempts;
    assert!((5..=8).contains(&attempts), "about one attempt per 10 s, got {attempts}");
    assert_eq!(c.job("pool1", "1").state(), migration_core::job::JobState::Sleeping);
    // The target comes back: the next pass copies the file.
    c.pool_mut("pool2").module.set_accepts_copies(true);
    assert!(c.run_until_jobs_end(60_000));
    assert_eq!(c.job("pool1", "1").state(), migration_core::job::JobState::Finished);
}
