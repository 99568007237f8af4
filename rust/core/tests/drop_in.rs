//! What a real dCache pool needs from the module before it can be dropped in (issue #12):
//! no silent `-verify`, jobs that survive a repository still loading at pool start, the
//! source pool reported offline, the pool's mode asked per copy request, setup validation
//! without effect, and the hot-file cap after `migration cancel`.

mod common;

use common::*;
use migration_core::ErrorKind;
use migration_core::hotfile::MAX_FINISHED_HOT_FILE_JOBS;
use migration_core::input::{Input, RepositoryEvent};
use migration_core::job::JobState;
use migration_core::replica::ReplicaState::{Cached, New, Precious};

// ── 1. -verify is never a silent no-op ─────────────────────────────────────────────────

#[test]
fn a_pool_that_cannot_verify_refuses_verify_jobs_and_changes_nothing() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    c.set_verifies_checksums("pool1", false);

    let e = err(&mut c, "pool1", "migration move pool2");
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("-verify") && e.message.contains("migration move verifies by default"), "{e}");
    let e = err(&mut c, "pool1", "migration copy -verify pool2");
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "", "a refused command creates no job");

    ok(&mut c, "pool1", "migration move -verify=false pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(entry(&c, "pool1", "A").is_none() && entry(&c, "pool2", "A").is_some());
}

#[test]
fn a_target_that_cannot_verify_never_lets_a_move_delete_its_source() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    // An existing copy on the target: the move would update it, verifying its checksum.
    put(&mut c, "pool2", "A", Cached, 10, vec![]);
    c.set_verifies_checksums("pool2", false);

    ok(&mut c, "pool1", "migration move pool2");
    c.run_for(5 * MINUTE);

    assert_eq!(entry(&c, "pool1", "A").map(|e| e.state), Some(Precious), "the source is untouched");
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached), "the target is not upgraded");
    let texts = notes(&c, "pool1", "1");
    assert!(texts.iter().any(|t| t.contains("this pool does not verify checksums")), "{texts:?}");
    assert!(!state(&c, "pool1", "1").is_terminal(), "the file is retried, not completed");
}

// ── 2. A repository that is still loading ──────────────────────────────────────────────

/// The pool restarts with its permanent job in the setup; its repository throws "not loaded"
/// until it has read every replica, reporting each as a state change from NEW.
fn restart_while_loading(
    c: &mut migration_core::driver::sim::Cluster,
    pool: &str,
) -> Vec<migration_core::replica::ReplicaEntry> {
    let entries = c.repository(pool).entries();
    c.repository(pool).set_loading(true);
    let errors = c.restart(pool);
    assert!(errors.is_empty(), "{errors:?}");
    c.run_for(MINUTE);
    entries
}

#[test]
fn a_permanent_job_restored_while_the_repository_loads_copies_everything_and_is_saved_again() {
    let mut c = cluster(1, &["pool1", "pool2"]);
    for f in ["A", "B", "C", "D"] {
        put(&mut c, "pool1", f, Precious, 10, vec![]);
    }
    // Created before the pool started: saved, then restored at the next start.
    ok(&mut c, "pool1", "migration copy -permanent -id=keep pool2");
    c.input("pool2", Input::PoolStarted);
    let entries = restart_while_loading(&mut c, "pool1");

    assert_eq!(state(&c, "pool1", "keep"), JobState::Initializing, "the job waits instead of failing");
    assert!(notes(&c, "pool1", "keep").contains(&"Repository is still loading; waiting for it".to_string()));
    let saved = c.pool("pool1").module.setup_lines();
    assert!(saved.iter().any(|l| l.contains("-id=keep")), "still saved while waiting: {saved:?}");

    // Loading: every replica is reported as it is read, then the pool says it is done.
    for entry in entries.iter().take(2) {
        c.input(
            "pool1",
            Input::repository(RepositoryEvent::StateChanged { old: New, new: entry.state, entry: entry.clone() }),
        );
    }
    c.repository("pool1").set_loading(false);
    c.input("pool1", Input::RepositoryLoaded);
    c.run_for(5 * MINUTE);

    assert_eq!(c.repository("pool2").len(), 4, "every replica was copied");
    assert!(matches!(state(&c, "pool1", "keep"), JobState::Running | JobState::Sleeping));
    let saved = c.pool("pool1").module.setup_lines();
    assert!(saved.iter().any(|l| l.contains("-id=keep")), "saved again: {saved:?}");
}

#[test]
fn a_plain_job_started_while_loading_waits_and_then_moves_every_file() {
    let mut c = two_pools();
    for f in ["A", "B"] {
        put(&mut c, "pool1", f, Precious, 10, vec![]);
    }
    c.repository("pool1").set_loading(true);
    ok(&mut c, "pool1", "migration move pool2");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Initializing, "dCache would finish here with nothing");

    // No "loaded" signal at all: the job looks again every 10 s.
    c.repository("pool1").set_loading(false);
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(c.repository("pool1").len(), 0);
    assert_eq!(c.repository("pool2").len(), 2);
}

#[test]
fn a_job_waiting_for_the_repository_can_be_cancelled() {
    let mut c = two_pools();
    c.repository("pool1").set_loading(true);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(MINUTE);
    ok(&mut c, "pool1", "migration cancel 1");
    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
}

#[test]
fn any_other_scan_error_still_fails_the_job() {
    let mut c = two_pools();
    c.call("pool1", |m, now| {
        m.execute(now, "migration copy pool2").expect("valid");
        let job = m.job("1").expect("created").key;
        m.handle(
            now,
            Input::Scanned { job, result: Err(migration_core::host::RepositoryError::Other("disk on fire".into())) },
        );
    });
    assert_eq!(state(&c, "pool1", "1"), JobState::Failed);
    assert!(notes(&c, "pool1", "1").contains(&"Repository scan failed: disk on fire".to_string()));
}

// ── 3. The source pool reported offline ────────────────────────────────────────────────

#[test]
fn limit_mode_sleeps_while_the_pool_manager_reports_the_source_offline() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    for f in ["A", "B"] {
        put(&mut c, "pool1", f, Precious, 10, vec![]);
    }
    c.faults.unknown_to_pool_manager.insert("pool1".to_string());
    ok(&mut c, "pool1", "migration copy -replicas=2 -target-deficit-mode=limit -refresh=20 pool2 pool3");
    c.run_for(MINUTE);

    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 0, "no task ran without a valid target list");
    assert_eq!(c.job("pool1", "1").queued(), 2, "no file was dropped as truncated at 0");

    c.faults.unknown_to_pool_manager.clear();
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    for f in ["A", "B"] {
        assert!(entry(&c, "pool2", f).is_some() && entry(&c, "pool3", f).is_some(), "{f} has both copies");
    }
}

// ── 4. The pool's mode, asked per copy request ─────────────────────────────────────────

#[test]
fn a_target_disabled_without_telling_the_module_refuses_copies() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    // An automatic disable (an I/O fault): the module was never told, the host's answer counts.
    c.repository("pool2").set_accepts_copies(false);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(MINUTE);

    assert_eq!(entry(&c, "pool2", "A"), None);
    let texts = notes(&c, "pool1", "1");
    assert!(texts.iter().any(|t| t == "Pool [pool2@local] failed (Pool is disabled)"), "{texts:?}");
    assert_eq!(c.pool("pool2").module.server_requests(), 0, "a refused request is not registered");

    c.repository("pool2").set_accepts_copies(true);
    assert!(c.run_until_jobs_end(HOUR));
    assert!(entry(&c, "pool2", "A").is_some());
}

// ── 5. Setup validation without effect ─────────────────────────────────────────────────

#[test]
fn validate_checks_every_line_and_changes_nothing() {
    let mut c = two_pools();
    ok(&mut c, "pool1", "migration copy -permanent -id=live pool2");
    let before = c.pool("pool1").module.setup_lines();
    let lines: Vec<String> = [
        "#",
        "# MigrationModule",
        "#",
        "migration set concurrency-default 5",
        "migration copy -permanent -id=keep pool2",
        "migration set concurrency keep 4",
        "migration copy -smode=sideways pool2",
        "migration set concurrency nosuch 2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let errors = c.pool("pool1").module.validate(&lines);
    let failed: Vec<&str> = errors.iter().map(|(line, _)| line.as_str()).collect();
    assert_eq!(failed, ["migration copy -smode=sideways pool2", "migration set concurrency nosuch 2"]);
    assert_eq!(errors[1].1.message, "Job not found");

    assert_eq!(c.pool("pool1").module.setup_lines(), before, "nothing changed");
    assert_eq!(ok(&mut c, "pool1", "migration get concurrency-default"), "Current default concurrency: 1");
    assert!(c.pool("pool1").module.job("keep").is_none());
    assert!(c.pool("pool1").module.validate(&lines[..6]).is_empty());
}

#[test]
fn validate_refuses_verify_on_a_pool_that_cannot_verify() {
    let mut c = two_pools();
    c.set_verifies_checksums("pool1", false);
    let errors = c.pool("pool1").module.validate(&["migration move -permanent pool2".to_string()]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1.kind, ErrorKind::Unsupported);
}

// ── The hot-file cap holds when the 51st ends by `migration cancel` ──────────────────────

#[test]
fn cancelled_hot_file_jobs_count_against_the_cap_at_once() {
    let mut c = two_pools();
    ok(&mut c, "pool1", "hotfile set threshold 1");
    // No read pools answer, so hot-file jobs sleep until cancelled.
    let n = MAX_FINISHED_HOT_FILE_JOBS + 1;
    for i in 1..=n {
        let short = format!("{i:X}");
        // Without storage info the pool manager cannot name read pools: the job sleeps.
        let mut replica = migration_core::driver::sim::replica(&short, Cached, 10, c.now(), vec![]);
        replica.storage_class = None;
        c.add_replica("pool1", replica);
        c.call("pool1", |m, _| m.report_readers(id(&short), 2, None));
    }
    c.run_for(MINUTE);
    let hot = |c: &migration_core::driver::sim::Cluster| {
        c.pool("pool1").module.jobs().filter(|j| j.id.starts_with("hotfile-")).count()
    };
    let started = hot(&c);
    assert_eq!(started, n, "one job per hot file");
    for i in 1..=n {
        let job = format!("hotfile-{}", pid(&format!("{i:X}")));
        ok(&mut c, "pool1", &format!("migration cancel -force {job}"));
    }
    assert_eq!(hot(&c), MAX_FINISHED_HOT_FILE_JOBS, "the oldest cancelled job was pruned");
}

// ── dCache's help texts ─────────────────────────────────────────────────────────────────

#[test]
fn help_carries_dcache_texts_without_doubled_brackets() {
    let copy = migration_core::commands::help("migration copy").expect("a command");
    assert!(copy.contains("-accessed=<n>|[<n>]..[<m>]") && !copy.contains("<<"), "{copy}");
    assert!(copy.contains("source.removable/target.removable: removable space in bytes"), "{copy}");
    // Options grouped by dCache's categories, uncategorised (`-id`) first.
    let at = |text: &str| copy.find(text).unwrap_or_else(|| panic!("{text} in {copy}"));
    assert!(at("  -id=") < at("\n  Filter options:\n  -accessed="), "{copy}");
    assert!(at("Filter options:") < at("Lifetime options:") && at("Lifetime options:") < at("Target options:"));
    assert!(at("Target options:") < at("Transfer options:") && at("Transfer options:") < at("  -verify\n"));
    let info = migration_core::commands::help("migration info").expect("a command");
    assert!(info.contains("Possible job states") && info.contains("   SLEEPING       A task failed;"), "{info}");
    assert!(info.contains("   MovingPin            Waiting for pin manager to move pin"), "{info}");
    let clear = migration_core::commands::help("migration clear").expect("a command");
    assert!(clear.contains("Removes completed migration jobs."), "{clear}");
}

#[test]
fn a_loaded_signal_that_overtakes_the_scan_answer_is_not_lost() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    c.repository("pool1").set_loading(true);
    // The scan runs now and finds the repository loading; its answer is still on the way
    // when the host reports the repository loaded.
    ok(&mut c, "pool1", "migration copy pool2");
    c.repository("pool1").set_loading(false);
    c.input("pool1", Input::RepositoryLoaded);
    c.run_for(1_000);
    assert_ne!(state(&c, "pool1", "1"), JobState::Initializing, "scanned again at once, not after 10 s");
    assert!(c.run_until_jobs_end(HOUR));
    assert!(entry(&c, "pool2", "A").is_some());
}

// ── Requesters that are not pools (QoS, resilience, the Rebalancer) ────────────────────

/// A copy request from a service that is not a pool (dCache's QoS engine names the source
/// pool in the request): the target pulls from the source pool, and the copy-finished
/// message goes back to whoever asked, as dCache answers along the request's path.
#[test]
fn copy_finished_goes_back_to_a_requester_that_is_not_a_pool() {
    use migration_core::effect::{Effect, InboundId};
    use migration_core::input::Answer;
    use migration_core::message::{CopyRequest, Message, Reply, RequestId, decode, encode};
    use migration_core::{Config, Module};

    let now = 1_700_000_000_000;
    let mut m = Module::new("pool2", Config::default(), 1);
    let request = CopyRequest {
        uuid: RequestId(42),
        source: "pool1".into(),
        attributes: migration_core::driver::sim::replica("A", Cached, 40, now, vec![]).attributes(),
        state: Cached,
        sticky: vec![],
        verify: false,
        force_source_mode: false,
        atime: None,
        meta_only: false,
    };
    let bytes = encode(&Message::Copy(request));
    m.handle(now, Input::Message { from: "qos-engine@qosDomain".into(), bytes, reply: Some(InboundId(1)) });
    let effects = m.take_effects();
    let Some(Effect::InspectCopy { request, .. }) = effects.first() else { panic!("{effects:?}") };
    m.handle(now, Input::CopyInspected { request: *request, accepts_copies: true, entry: Ok(None) });
    let effects = m.take_effects();
    let p2p = effects
        .iter()
        .find_map(|e| match e {
            Effect::StartP2p { token, request } => Some((*token, request.source.clone())),
            _ => None,
        })
        .expect("a transfer starts");
    assert_eq!(&*p2p.1, "pool1", "the data comes from the source pool, not from the requester");
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Respond { inbound: InboundId(1), reply } if decode::<Reply>(reply) == Ok(Reply::Ok))
    ));

    m.handle(now + 1, Input::Reply { token: p2p.0, outcome: Ok(Answer::Done) });
    let effects = m.take_effects();
    let (to, message) = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send { to, message, token: None } => Some((to.clone(), decode::<Message>(message).expect("ours"))),
            _ => None,
        })
        .expect("copy-finished is sent");
    assert_eq!(&*to, "qos-engine@qosDomain");
    assert!(matches!(message, Message::CopyFinished { pool, rc, .. } if &*pool == "pool1" && rc.0 == 0));
}

/// The Rebalancer's job-cancel message: answered only once the job has ended.
#[test]
fn an_external_job_cancel_is_answered_when_the_job_has_ended() {
    use migration_core::effect::InboundId;
    use migration_core::message::{Message, Reply, decode, encode};

    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    // A target that never answers keeps the task running, so a plain cancel has to wait.
    c.faults.unresponsive.insert("pool2".to_string());
    ok(&mut c, "pool1", "migration copy -id=rebalance pool2");
    c.run_for(1_000);
    let cancel = |forced| Message::CancelJob { job: "rebalance".into(), forced, reason: "rebalancing stopped".into() };
    let from: migration_core::PoolName = "Rebalancer@dCacheDomain".into();
    c.input("pool1", Input::Message { from: from.clone(), bytes: encode(&cancel(false)), reply: Some(InboundId(900)) });
    c.run_for(1_000);
    assert_eq!(state(&c, "pool1", "rebalance"), JobState::Cancelling);
    assert!(c.direct_answers.is_empty(), "no answer while the job winds down");

    c.input("pool1", Input::Message { from, bytes: encode(&cancel(true)), reply: Some(InboundId(901)) });
    c.run_for(10 * MINUTE);
    assert_eq!(state(&c, "pool1", "rebalance"), JobState::Cancelled);
    let answered: Vec<(u64, Reply)> =
        c.direct_answers.iter().map(|(_, slot, bytes)| (slot.0, decode::<Reply>(bytes).expect("ours"))).collect();
    assert_eq!(answered, [(900, Reply::Ok), (901, Reply::Ok)]);
}
