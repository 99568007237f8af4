//! The target side (spec §6): refusals, the busy check that protects pools moving files to
//! each other, meta-only requests, pings and cancels of unknown requests, and updates.

mod common;

use common::*;
use migration_core::driver::sim::replica;
use migration_core::effect::{Effect, InboundId};
use migration_core::host::RepositoryError;
use migration_core::input::Input;
use migration_core::job::JobState;
use migration_core::message::{CopyRequest, Message, Reply, RequestId, decode, encode};
use migration_core::mode::RepositoryChange;
use migration_core::replica::ReplicaState::{self, Cached, FromPool, Precious};
use migration_core::{Config, Module, ReturnCode};

const NOW: i64 = 1_700_000_000_000;

fn copy_request(uuid: u128, state: ReplicaState, meta_only: bool) -> CopyRequest {
    CopyRequest {
        uuid: RequestId(uuid),
        source: "pool1".into(),
        attributes: replica("A", Cached, 40, NOW, vec![]).attributes(),
        state,
        sticky: vec![],
        verify: false,
        force_source_mode: false,
        atime: None,
        meta_only,
    }
}

/// Sends `message` to a bare module as if from pool1, with reply slot `inbound`.
fn send(m: &mut Module, message: &Message, inbound: u64) -> Vec<Effect> {
    m.handle(NOW, Input::Message { from: "pool1".into(), bytes: encode(message), reply: Some(InboundId(inbound)) });
    m.take_effects()
}

/// The reply to inbound `inbound` among `effects`.
fn reply_to(effects: &[Effect], inbound: u64) -> Option<Reply> {
    effects.iter().find_map(|e| match e {
        Effect::Respond { inbound: i, reply } if *i == InboundId(inbound) => {
            Some(decode::<Reply>(reply).expect("reply"))
        }
        _ => None,
    })
}

fn error(code: ReturnCode, message: &str) -> Reply {
    Reply::Error { code, message: message.to_string() }
}

/// The request whose local entry the server asked for.
fn inspection(effects: &[Effect]) -> RequestId {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::InspectCopy { request, .. } => Some(*request),
            _ => None,
        })
        .expect("the server reads the local entry")
}

/// Feeds the local entry the server asked for.
fn answer_entry(
    m: &mut Module,
    effects: &[Effect],
    entry: Option<migration_core::replica::ReplicaEntry>,
) -> Vec<Effect> {
    m.handle(NOW, Input::copy_inspected(inspection(effects), true, Ok(entry)));
    m.take_effects()
}

/// Whether `effects` start a pool-to-pool transfer.
fn starts_transfer(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::StartP2p { .. }))
}

/// Whether `effects` act on a copy request: read the local entry or start a transfer.
fn acts(effects: &[Effect]) -> bool {
    starts_transfer(effects) || effects.iter().any(|e| matches!(e, Effect::InspectCopy { .. }))
}

/// A target disabled for p2p (`pool disable -strict`) refuses with `Pool is disabled`; the
/// file is retried and copied once the pool is enabled again.
#[test]
fn disabled_target_refuses_copy_with_pool_is_disabled() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.pool_mut("pool2").module.set_accepts_copies(false);
    ok(&mut c, "pool1", "migration copy pool2");
    // A lone failing file is retried about every 10 s.
    c.run_for(15_000);

    let texts = notes(&c, "pool1", "1");
    assert!(!texts.is_empty());
    assert!(texts.iter().all(|t| t == "Pool [pool2@local] failed (Pool is disabled)"), "{texts:?}");
    assert_eq!(entry(&c, "pool2", "A"), None);
    assert!(c.job("pool1", "1").statistics().attempts >= 2, "retried");

    c.pool_mut("pool2").module.set_accepts_copies(true);
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(entry(&c, "pool2", "A").is_some());
}

/// §6.1 check 1 on a bare module: error 104.
#[test]
fn disabled_server_answers_104() {
    let mut m = Module::new("pool2", Config::default(), 1);
    m.set_accepts_copies(false);
    let effects = send(&mut m, &Message::Copy(copy_request(7, Cached, false)), 1);
    assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::POOL_DISABLED, "Pool is disabled")));
    assert_eq!(m.server_requests(), 0);
}

/// A request refused while the pool was disabled, whose duplicate comes after the pool is
/// enabled again, is not executed then: its source failed the task on the refusal, and a copy
/// made now would be one it never counts. A new request for the same file is served.
///
/// Catches: `Server` remembering only the requests it finished, not those it refused.
#[test]
fn a_duplicate_of_a_refused_request_is_not_executed_later() {
    let mut m = Module::new("pool2", Config::default(), 1);
    m.set_accepts_copies(false);
    let request = Message::Copy(copy_request(7, Cached, false));
    let effects = send(&mut m, &request, 1);
    assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::POOL_DISABLED, "Pool is disabled")));

    m.set_accepts_copies(true);
    let effects = send(&mut m, &request, 2);
    assert_eq!(m.server_requests(), 0, "the duplicate registers nothing");
    assert!(!acts(&effects), "{effects:?}");

    let effects = send(&mut m, &Message::Copy(copy_request(8, Cached, false)), 3);
    assert_eq!(m.server_requests(), 1, "a new request is served");
    let effects = answer_entry(&mut m, &effects, None);
    assert_eq!(reply_to(&effects, 3), Some(Reply::Ok));
    assert!(starts_transfer(&effects));
}

/// A refused update is not remembered: a task whose known location turned out not to hold
/// the file asks the same pool for a copy with the same id, and that copy is served.
///
/// Catches: `Server::refuse` remembering refused updates (`meta_only`) as it does copies.
#[test]
fn a_copy_after_a_refused_update_with_the_same_id_is_served() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(7, Cached, true)), 1);
    let effects = answer_entry(&mut m, &effects, None);
    let text = format!("Pool does not contain {}", pid("A"));
    assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::FILE_NOT_IN_REPOSITORY, &text)));

    let effects = send(&mut m, &Message::Copy(copy_request(7, Cached, false)), 2);
    assert_eq!(m.server_requests(), 1, "the copy is registered");
    let effects = answer_entry(&mut m, &effects, None);
    assert_eq!(reply_to(&effects, 2), Some(Reply::Ok));
    assert!(starts_transfer(&effects), "{effects:?}");
}

/// A duplicate of a refused update is not run again, and the copy that follows with the same
/// id is still served.
#[test]
fn a_duplicate_of_a_refused_update_is_not_run_again() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let update = Message::Copy(copy_request(7, Cached, true));
    let effects = send(&mut m, &update, 1);
    answer_entry(&mut m, &effects, None);
    let effects = send(&mut m, &update, 2);
    assert_eq!(m.server_requests(), 0, "the duplicate registers nothing");
    assert!(!acts(&effects), "{effects:?}");

    let effects = send(&mut m, &Message::Copy(copy_request(7, Cached, false)), 3);
    let effects = answer_entry(&mut m, &effects, None);
    assert_eq!(reply_to(&effects, 3), Some(Reply::Ok));
    assert!(starts_transfer(&effects), "{effects:?}");
}

/// A copy that arrives while an update with the same id is still being looked up (the task
/// gave up waiting for the update's answer, `-eager`) turns the update into the copy: the
/// replica missing, it is transferred, instead of the update being refused with no copy to
/// follow.
///
/// Catches: `Server::copy` answering the copy as a duplicate of the update.
#[test]
fn a_copy_that_meets_its_update_still_being_looked_up_becomes_the_request() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(7, Cached, true)), 1);
    let copy = send(&mut m, &Message::Copy(copy_request(7, Cached, false)), 2);
    assert_eq!(reply_to(&copy, 1), Some(Reply::Ok), "the update's sender is answered");
    assert_eq!(m.server_requests(), 1);
    let effects = answer_entry(&mut m, &effects, None);
    assert_eq!(reply_to(&effects, 2), Some(Reply::Ok));
    assert!(starts_transfer(&effects), "{effects:?}");
}

/// The copy that would turn an update into a copy is checked as a new request: refused, it
/// leaves the update as it was, and the update alone never transfers.
#[test]
fn a_copy_that_meets_its_update_is_checked_as_a_new_request() {
    use migration_core::replica::StickyRecord;
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(7, Cached, true)), 1);
    let mut copy = copy_request(7, Cached, false);
    copy.sticky = vec![StickyRecord::new("", -1)];
    let refused = send(&mut m, &Message::Copy(copy), 2);
    let text = "Invalid sticky record: A sticky record needs an owner";
    assert_eq!(reply_to(&refused, 2), Some(error(ReturnCode::INVALID_ARGS, text)));
    assert_eq!(m.server_requests(), 1, "the update is still registered");
    let effects = answer_entry(&mut m, &effects, None);
    let text = format!("Pool does not contain {}", pid("A"));
    assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::FILE_NOT_IN_REPOSITORY, &text)));
    assert!(!starts_transfer(&effects), "{effects:?}");
}

/// The same through the cluster: the namespace names the only target as a location it is
/// not; the task's update is refused, and its copy to the same pool completes the job.
#[test]
fn a_stale_location_on_the_only_target_is_copied_to() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.namespace.get_mut(&id("A")).expect("registered").insert("pool2".to_string());
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1, "copied at the first attempt");
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached));
}

/// The same after a refusal that came once the local entry was read (the host said the pool
/// was disabled): the duplicate does not start the transfer.
#[test]
fn a_duplicate_of_a_request_refused_after_the_entry_was_read_is_not_executed() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let request = Message::Copy(copy_request(7, Cached, false));
    let effects = send(&mut m, &request, 1);
    m.handle(NOW, Input::copy_inspected(inspection(&effects), false, Ok(None)));
    let effects = m.take_effects();
    assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::POOL_DISABLED, "Pool is disabled")));

    let effects = send(&mut m, &request, 2);
    assert_eq!(m.server_requests(), 0);
    assert!(!acts(&effects), "{effects:?}");
}

/// A copy request with a sticky record no repository takes (an empty owner, an expiry below
/// -1) is refused whole with 10015 before anything is registered or changed: an update that
/// set the state and then failed on the record would have been half made.
#[test]
fn a_copy_request_with_an_invalid_sticky_record_is_refused_whole() {
    use migration_core::replica::StickyRecord;
    for (record, text) in [
        (StickyRecord::new("b", -5), "Invalid sticky record: Illegal expiration time: -5"),
        (StickyRecord::new("", -1), "Invalid sticky record: A sticky record needs an owner"),
    ] {
        let mut m = Module::new("pool2", Config::default(), 1);
        let mut request = copy_request(7, Precious, false);
        request.sticky = vec![StickyRecord::new("a", -1), record];
        let effects = send(&mut m, &Message::Copy(request), 1);
        assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::INVALID_ARGS, text)));
        assert_eq!(m.server_requests(), 0);
        assert!(!effects.iter().any(|e| matches!(e, Effect::InspectCopy { .. } | Effect::Change { .. })));
    }
}

/// Two pools moving the same file to each other: each target is busy with its own task on
/// the file and answers `Target file is busy`; no replica is lost, and once one job is
/// cancelled the other completes.
#[test]
fn pools_moving_same_file_to_each_other_lose_nothing() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    put(&mut c, "pool2", "A", Precious, 40, vec![]);
    ok(&mut c, "pool1", "migration move pool2");
    c.run_for(3);
    ok(&mut c, "pool2", "migration move pool1");
    c.run_for(3_000);

    assert!(entry(&c, "pool1", "A").is_some() && entry(&c, "pool2", "A").is_some(), "both replicas kept");
    let busy = |pool: &str| notes(&c, pool, "1").iter().any(|t| t == "Replica is locked on target pool");
    assert!(busy("pool1") || busy("pool2"), "a target answered busy");
    assert!(!was_removed(&c, "pool1", "A") && !was_removed(&c, "pool2", "A"));

    // Without -force pool2's running (failing) attempt ends at once and the job is cancelled.
    ok(&mut c, "pool2", "migration cancel 1");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool2", "1"), JobState::Cancelled);
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Precious), "the copy survives");
    assert_eq!(entry(&c, "pool1", "A"), None, "the moved source is gone");
}

/// §6.1 check 2: a target whose own job is working on the file answers 10020; the source
/// task reports `Replica is locked on target pool` and retries.
#[test]
fn target_answers_busy_while_its_own_job_works_on_the_file() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    c.bandwidth = 1_000; // pool2's own copy to pool3 takes 10 s
    put(&mut c, "pool2", "A", Cached, 10_000_000, vec![]);
    put(&mut c, "pool1", "A", Cached, 10_000_000, vec![]);
    ok(&mut c, "pool2", "migration copy -pnfsid=A pool3");
    c.run_for(100);
    assert_eq!(c.pool("pool2").module.locked_files(), 1, "pool2's task holds the file");
    ok(&mut c, "pool1", "migration copy -pnfsid=A pool2");
    c.run_for(1_000);
    let texts = notes(&c, "pool1", "1");
    assert!(!texts.is_empty() && texts.iter().all(|t| t == "Replica is locked on target pool"), "{texts:?}");
    assert!(!state(&c, "pool1", "1").is_terminal(), "retried, not dropped");

    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(creations(&c, "pool2", "A"), 1, "pool2's replica was only updated");
}

/// R13 fixed: a meta-only request for a replica the target does not have fails with 10007
/// and is unregistered, so a later ping of its uuid fails.
#[test]
fn meta_only_request_for_missing_replica_fails_and_is_unregistered() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(42, Cached, true)), 1);
    assert_eq!(reply_to(&effects, 1), None, "answered after reading the entry");
    let effects = answer_entry(&mut m, &effects, None);
    let text = format!("Pool does not contain {}", pid("A"));
    assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::FILE_NOT_IN_REPOSITORY, &text)));
    assert_eq!(m.server_requests(), 0);

    let ping = Message::Ping { uuid: RequestId(42), source: "pool1".into(), pnfsid: id("A") };
    let effects = send(&mut m, &ping, 2);
    assert_eq!(reply_to(&effects, 2), Some(error(ReturnCode::INVALID_ARGS, "No such request")));
}

/// R13 through the cluster: the namespace claims pool2 has a copy that it lacks; the meta-only
/// job's task fails transiently with the target's text and pool2 keeps no request.
#[test]
fn meta_only_job_against_missing_target_replica_leaves_no_request_behind() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c.namespace.get_mut(&id("A")).expect("registered").insert("pool2".to_string());
    ok(&mut c, "pool1", "migration copy -meta-only pool2");
    c.run_for(3_000);

    let expected = format!("Transfer to [pool2@local] failed (Pool does not contain {})", pid("A"));
    let texts = notes(&c, "pool1", "1");
    assert!(!texts.is_empty() && texts.iter().all(|t| *t == expected), "{texts:?}");
    assert_eq!(c.pool("pool2").module.server_requests(), 0);
    assert_eq!(entry(&c, "pool2", "A"), None, "meta-only never creates a replica");
}

/// Meta-only with no copy anywhere: skipped for good (10007).
#[test]
fn meta_only_job_without_existing_copies_skips_file() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy -meta-only pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(notes(&c, "pool1", "1"), vec!["File skipped because it has no existing replicas"]);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    assert_eq!(entry(&c, "pool2", "A"), None);
}

/// §6.5, §6.6: ping and cancel of an unknown request answer 10015 `No such request`.
#[test]
fn ping_and_cancel_of_unknown_request_answer_no_such_request() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let ping = Message::Ping { uuid: RequestId(9), source: "pool1".into(), pnfsid: id("A") };
    assert_eq!(reply_to(&send(&mut m, &ping, 1), 1), Some(error(ReturnCode::INVALID_ARGS, "No such request")));
    let cancel = Message::Cancel { uuid: RequestId(9), source: "pool1".into(), pnfsid: id("A"), reason: None };
    assert_eq!(reply_to(&send(&mut m, &cancel, 2), 2), Some(error(ReturnCode::INVALID_ARGS, "No such request")));
}

/// §6.1 check 3: only CACHED or PRECIOUS may be requested (10015).
#[test]
fn copy_request_for_other_state_is_refused_with_invalid_args() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(3, FromPool, false)), 1);
    match reply_to(&effects, 1) {
        Some(Reply::Error { code, message }) => {
            assert_eq!(code, ReturnCode::INVALID_ARGS);
            assert!(message.ends_with("State must be either CACHED or PRECIOUS"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(m.server_requests(), 0);
}

/// §6.3: a replica in transfer cannot be updated: the copy-finished carries 666
/// `Cannot update file in state FROM_POOL`.
#[test]
fn update_of_replica_in_transfer_fails_with_cannot_update() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(5, Cached, false)), 1);
    let effects = answer_entry(&mut m, &effects, Some(replica("A", FromPool, 40, NOW, vec![])));
    assert_eq!(reply_to(&effects, 1), Some(Reply::Ok), "the request itself is accepted");
    let finished = effects.iter().find_map(|e| match e {
        Effect::Send { to, message, token: None } => Some((to.clone(), decode::<Message>(message).expect("message"))),
        _ => None,
    });
    match finished {
        Some((to, Message::CopyFinished { uuid, pool, rc, error, .. })) => {
            assert_eq!((&*to, &*pool, uuid), ("pool1", "pool1", RequestId(5)));
            assert_eq!(rc, ReturnCode::DEFAULT_ERROR_CODE);
            assert_eq!(error.as_deref(), Some("Cannot update file in state FROM_POOL"));
        }
        other => panic!("expected a copy-finished message, got {other:?}"),
    }
    assert_eq!(m.server_requests(), 0);
}

/// §6.3: a replica removed between the target's look and its update is reported as not in
/// the repository (10007, as dCache's repository answers), not as a state it no longer has.
#[test]
fn update_of_a_replica_removed_meanwhile_fails_with_not_in_repository() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(5, Precious, false)), 1);
    let effects = answer_entry(&mut m, &effects, Some(replica("A", Cached, 40, NOW, vec![])));
    let purpose = effects
        .iter()
        .find_map(|e| match e {
            Effect::Change { purpose, .. } => Some(*purpose),
            _ => None,
        })
        .expect("the cached replica is to be made precious");
    m.handle(NOW, Input::Changed { purpose, result: Err(RepositoryError::NotFound) });
    let finished = m.take_effects().into_iter().find_map(|e| match e {
        Effect::Send { message, token: None, .. } => decode::<Message>(&message).ok(),
        _ => None,
    });
    match finished {
        Some(Message::CopyFinished { rc, error, .. }) => {
            assert_eq!(rc, ReturnCode::FILE_NOT_IN_REPOSITORY);
            assert_eq!(error, Some(format!("{} was removed before it could be updated", id("A"))));
        }
        other => panic!("expected a copy-finished message, got {other:?}"),
    }
    assert_eq!(m.server_requests(), 0);
}

/// The change a target asked of its repository to update the replica it found.
fn update_asked(effects: &[Effect]) -> (migration_core::effect::ChangePurpose, Vec<RepositoryChange>) {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Change { purpose, changes, .. } => Some((*purpose, changes.clone())),
            _ => None,
        })
        .expect("the target updates the replica it found")
}

/// §6.3, beyond dCache: a target's update is conditional on the state it read, as its last
/// step. Refused because the replica changed (marked BROKEN by a checksum scan, or made
/// precious by someone else), the target reads the replica again and decides anew: a broken
/// one fails the copy (the source keeps its replica), a precious one is confirmed; one that
/// keeps changing fails after three reads. dCache changed and confirmed the replica as it had
/// read it.
#[test]
fn an_update_refused_because_the_replica_changed_is_decided_again_on_a_new_read() {
    use ReplicaState::Broken;
    let sticky = || vec![migration_core::replica::StickyRecord::new("lhcb", -1)];
    let failed = |text: String| Some((ReturnCode::DEFAULT_ERROR_CODE, Some(text)));
    // What each new read finds, how the last update asked is answered (none when the read
    // itself ends the request), and how the request ends.
    type LastAnswer = Option<Result<(), RepositoryError>>;
    let cases: [(&[ReplicaState], LastAnswer, _); 3] = [
        (&[Broken], None, failed("Cannot update file in state BROKEN".into())),
        (&[Precious], Some(Ok(())), Some((ReturnCode::OK, None))),
        (
            &[Cached, Cached, Cached],
            Some(Err(RepositoryError::Changed)),
            failed(format!("{} kept changing while it was updated", id("A"))),
        ),
    ];
    for (rereads, last_answer, expected) in cases {
        let mut m = Module::new("pool2", Config::default(), 1);
        let request = CopyRequest { sticky: sticky(), ..copy_request(5, Precious, false) };
        let effects = send(&mut m, &Message::Copy(request), 1);
        let mut effects = answer_entry(&mut m, &effects, Some(replica("A", Cached, 40, NOW, vec![])));
        let mut found = Cached;
        for &state in rereads {
            let (purpose, changes) = update_asked(&effects);
            // The sticky record first, then the state, on condition that it is still as read.
            assert!(matches!(changes[0], RepositoryChange::SetSticky { overwrite: false, .. }), "{changes:?}");
            let last = changes.last().cloned();
            assert!(
                matches!(last, Some(RepositoryChange::SetStateIfUnchanged { seen, state: Precious, .. }) if seen == found),
                "{changes:?}"
            );
            m.handle(NOW, Input::Changed { purpose, result: Err(RepositoryError::Changed) });
            let asked = m.take_effects();
            assert_eq!(copy_finished(&asked), None, "not confirmed on a refused update");
            effects = answer_entry(&mut m, &asked, Some(replica("A", state, 40, NOW, sticky())));
            found = state;
        }
        if let Some(answer) = last_answer {
            let (purpose, _) = update_asked(&effects);
            assert_eq!(copy_finished(&effects), None, "not confirmed before the update");
            m.handle(NOW, Input::Changed { purpose, result: answer });
            effects = m.take_effects();
        }
        assert_eq!(copy_finished(&effects), expected, "after reads {rereads:?}");
        assert_eq!(m.server_requests(), 0);
    }
}

/// A replica removed after an update was refused (the replica changed), or a request
/// cancelled while the target reads its replica again: neither is confirmed, and an answer
/// that comes after the cancel is not taken for the request's.
#[test]
fn a_replica_removed_or_a_request_cancelled_after_a_refused_update_is_not_confirmed() {
    let refused = |m: &mut Module| {
        let effects = send(m, &Message::Copy(copy_request(5, Precious, false)), 1);
        let effects = answer_entry(m, &effects, Some(replica("A", Cached, 40, NOW, vec![])));
        let (purpose, _) = update_asked(&effects);
        m.handle(NOW, Input::Changed { purpose, result: Err(RepositoryError::Changed) });
        m.take_effects()
    };
    // Removed: answered as a removal before the update, not as one during a verification.
    let mut m = Module::new("pool2", Config::default(), 1);
    let asked = refused(&mut m);
    let effects = answer_entry(&mut m, &asked, None);
    let removed = format!("{} was removed before it could be updated", id("A"));
    assert_eq!(copy_finished(&effects), Some((ReturnCode::FILE_NOT_IN_REPOSITORY, Some(removed))));
    assert_eq!(m.server_requests(), 0);
    // Cancelled while read again.
    let mut m = Module::new("pool2", Config::default(), 1);
    let asked = refused(&mut m);
    let cancel = Message::Cancel { uuid: RequestId(5), source: "pool1".into(), pnfsid: id("A"), reason: None };
    let effects = send(&mut m, &cancel, 2);
    assert_eq!(reply_to(&effects, 2), Some(Reply::Ok), "still interruptible while read again");
    let cancelled = Some((ReturnCode::DEFAULT_ERROR_CODE, Some("Task was cancelled".to_string())));
    assert_eq!(copy_finished(&effects), cancelled);
    assert_eq!(m.server_requests(), 0);
    let late = answer_entry(&mut m, &asked, Some(replica("A", Precious, 40, NOW, vec![])));
    assert!(late.is_empty(), "the late read changes and confirms nothing: {late:?}");
}

/// §6.3: an existing cached replica is upgraded to precious when precious is requested.
#[test]
fn existing_cached_target_is_upgraded_to_precious() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![]);
    put(&mut c, "pool2", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Precious));
    assert_eq!(creations(&c, "pool2", "A"), 1);
}

/// §5.5 / DOC-DIFF D16: an error reply from the only known location (not "locked") leads to
/// a new copy elsewhere even without `-eager`.
#[test]
fn error_reply_from_last_location_leads_to_new_copy_without_eager() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool2", "A", Cached, 40, vec![]);
    c.pool_mut("pool2").module.set_accepts_copies(false);
    ok(&mut c, "pool1", "migration copy pool2 pool3");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(entry(&c, "pool3", "A").map(|e| e.state), Some(Cached));
    assert_eq!(creations(&c, "pool2", "A"), 1);
}

/// §2.12: a job-cancel message for a job that does not exist is answered at once.
#[test]
fn cancel_message_for_unknown_job_is_answered_at_once() {
    let mut m = Module::new("pool1", Config::default(), 1);
    let message = Message::CancelJob { job: "7".into(), forced: false, reason: "drain".into() };
    assert_eq!(reply_to(&send(&mut m, &message, 1), 1), Some(Reply::Ok));
}

/// §2.12, R16: the reply to a job-cancel message is sent when the job ends; a NEW job ends at
/// once.
#[test]
fn cancel_message_for_new_job_cancels_it_and_answers() {
    let mut m = Module::new("pool1", Config::default(), 1);
    m.execute(NOW, "migration copy pool2").expect("valid");
    let message = Message::CancelJob { job: "1".into(), forced: true, reason: "drain".into() };
    assert_eq!(reply_to(&send(&mut m, &message, 1), 1), Some(Reply::Ok));
    assert_eq!(m.job("1").map(|j| j.state()), Some(JobState::Cancelled));
}

/// Issue #14, `docs/wire.md`: a pool that still writes version 1 (JSON) is answered in
/// version 1, and so is the copy-finished of its request, so that pools can be upgraded one
/// at a time; a version-2 request is answered in version 2.
#[test]
fn a_request_is_answered_in_the_wire_version_it_came_in() {
    use migration_core::message::{WireVersion, decode_versioned, encode_as};
    for version in [WireVersion::Json, WireVersion::Binary] {
        let mut m = Module::new("pool2", Config::default(), 1);
        let copy = Message::Copy(copy_request(5, Cached, false));
        m.handle(
            NOW,
            Input::Message { from: "pool1".into(), bytes: encode_as(&copy, version), reply: Some(InboundId(1)) },
        );
        let inspect = m.take_effects();
        let effects = answer_entry(&mut m, &inspect, Some(replica("A", FromPool, 40, NOW, vec![])));
        let versions: Vec<WireVersion> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Respond { reply, .. } => Some(decode_versioned::<Reply>(reply).expect("reply").1),
                Effect::Send { message, .. } => Some(decode_versioned::<Message>(message).expect("message").1),
                _ => None,
            })
            .collect();
        assert_eq!(versions, [version, version], "the reply and the copy-finished");

        let garbage = match version {
            WireVersion::Json => b"{not json".to_vec(),
            WireVersion::Binary => vec![0xdc, 2, 99],
        };
        m.handle(NOW, Input::Message { from: "pool1".into(), bytes: garbage, reply: Some(InboundId(2)) });
        match m.take_effects().as_slice() {
            [Effect::Respond { reply, .. }] => {
                let (reply, v) = decode_versioned::<Reply>(reply).expect("an error reply");
                assert_eq!(v, version, "even garbage is answered in the form its sender reads");
                assert!(matches!(reply, Reply::Error { code: ReturnCode::INVALID_ARGS, .. }), "{reply:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Issue #14: `migration set wire-version 1` makes a pool write version 1 while pools that
/// read only version 1 remain; it is kept by `save`, and pools of both versions work together.
#[test]
fn a_pool_told_to_write_version_1_sends_json_and_works_with_a_version_2_pool() {
    use migration_core::message::WireVersion;
    let mut c = two_pools();
    assert_eq!(ok(&mut c, "pool1", "migration get wire-version"), "Current wire version: 2");
    assert_eq!(ok(&mut c, "pool1", "migration set wire-version 1"), "Wire version set to 1");
    let e = err(&mut c, "pool1", "migration set wire-version 3");
    assert_eq!(e.to_string(), "Unknown wire version: 3 (1 or 2)");
    assert_eq!(
        ok(&mut c, "pool1", "migration get wire-version"),
        "Current wire version: 1",
        "a refusal changes nothing"
    );
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    put(&mut c, "pool2", "B", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    ok(&mut c, "pool2", "migration copy pool1");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!((state(&c, "pool1", "1"), state(&c, "pool2", "1")), (JobState::Finished, JobState::Finished));
    assert_eq!(entry(&c, "pool2", "A").map(|e| e.state), Some(Cached));
    assert_eq!(entry(&c, "pool1", "B").map(|e| e.state), Some(Cached));
    let sent: Vec<(&str, WireVersion)> = c.copies.iter().map(|s| (s.job.pool.as_str(), s.wire)).collect();
    assert_eq!(sent, [("pool1", WireVersion::Json), ("pool2", WireVersion::Binary)]);
    let setup = c.pool("pool1").module.setup_lines();
    assert!(setup.iter().any(|l| l == "migration set wire-version 1"), "{setup:?}");
    let setup = c.pool("pool2").module.setup_lines();
    assert!(!setup.iter().any(|l| l.contains("wire-version")), "the default is not saved: {setup:?}");
}

/// The copy-finished message among `effects`, as (rc, error).
fn copy_finished(effects: &[Effect]) -> Option<(ReturnCode, Option<String>)> {
    effects.iter().find_map(|e| match e {
        Effect::Send { message, token: None, .. } => match decode::<Message>(message).expect("message") {
            Message::CopyFinished { rc, error, .. } => Some((rc, error)),
            _ => None,
        },
        _ => None,
    })
}

/// The request the server asks to verify among `effects`.
fn verification(effects: &[Effect]) -> RequestId {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::VerifyChecksum { request, .. } => Some(*request),
            _ => None,
        })
        .expect("the server verifies the replica it holds")
}

/// A target that holds the file and is asked to verify it reads its replica again once the
/// checksum is verified, and confirms the replica only if it is still there: one removed
/// during a long verification (evicted, `rep rm`) fails the request, so that the source keeps
/// its own. dCache confirms from the entry it read before verifying.
#[test]
fn a_replica_removed_while_its_checksum_is_verified_is_not_confirmed() {
    for (still_there, expected) in [
        (Some(replica("A", Cached, 40, NOW, vec![])), Some((ReturnCode::OK, None))),
        (
            None,
            Some((
                ReturnCode::FILE_NOT_IN_REPOSITORY,
                Some(format!("{} was removed while its checksum was verified", pid("A"))),
            )),
        ),
    ] {
        let mut m = Module::new("pool2", Config::default(), 1);
        m.set_verifies_checksums(true);
        let request = CopyRequest { verify: true, ..copy_request(9, Cached, false) };
        let effects = send(&mut m, &Message::Copy(request), 1);
        let effects = answer_entry(&mut m, &effects, Some(replica("A", Cached, 40, NOW, vec![])));
        assert_eq!(reply_to(&effects, 1), Some(Reply::Ok));
        let uuid = verification(&effects);
        m.handle(NOW, Input::Verified { request: uuid, result: Ok(()) });
        let effects = m.take_effects();
        assert_eq!(copy_finished(&effects), None, "not confirmed before the replica is read again");
        let effects = answer_entry(&mut m, &effects, still_there);
        assert_eq!(copy_finished(&effects), expected);
        assert_eq!(m.server_requests(), 0);
    }
}

/// A host that reports a failure with return code 0, dCache's success (a Java p2p client's
/// `fail(0, "disk full")`, a checksum check throwing a `ServiceException` with code 0), has
/// its request finished as failed: the source must not count the copy it never got.
#[test]
fn a_failure_reported_with_return_code_0_is_not_sent_as_success() {
    use migration_core::error::Failure;
    // The transfer.
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(9, Cached, false)), 1);
    let effects = answer_entry(&mut m, &effects, None);
    let token = effects
        .iter()
        .find_map(|e| match e {
            Effect::StartP2p { token, .. } => Some(*token),
            _ => None,
        })
        .expect("a transfer");
    m.handle(NOW, Input::Reply { token, outcome: Err(Failure::error(ReturnCode::OK, "disk full")) });
    let finished = copy_finished(&m.take_effects());
    assert_eq!(finished, Some((ReturnCode::DEFAULT_ERROR_CODE, Some("disk full".to_string()))));
    // The verification of a replica the target holds.
    let mut m = Module::new("pool2", Config::default(), 1);
    m.set_verifies_checksums(true);
    let request = CopyRequest { verify: true, ..copy_request(10, Cached, false) };
    let effects = send(&mut m, &Message::Copy(request), 1);
    let effects = answer_entry(&mut m, &effects, Some(replica("A", Cached, 40, NOW, vec![])));
    let uuid = verification(&effects);
    m.handle(NOW, Input::Verified { request: uuid, result: Err(Failure::error(ReturnCode::OK, "Checksum mismatch")) });
    let finished = copy_finished(&m.take_effects());
    assert_eq!(finished, Some((ReturnCode::DEFAULT_ERROR_CODE, Some("Checksum mismatch".to_string()))));
    assert_eq!(m.server_requests(), 0);
}

/// A copy-finished message is one-way, but one delivered with a reply slot (a host that
/// passes one for every message) is answered, so that its sender does not wait until this
/// pool shuts down.
#[test]
fn a_copy_finished_message_delivered_with_a_reply_slot_is_answered() {
    let mut m = Module::new("pool1", Config::default(), 1);
    let finished = Message::CopyFinished {
        uuid: RequestId(5),
        pool: "pool1".into(),
        pnfsid: id("A"),
        rc: ReturnCode::OK,
        error: None,
    };
    let effects = send(&mut m, &finished, 7);
    assert_eq!(reply_to(&effects, 7), Some(Reply::Ok));
}

/// A repository that answers a copy request's look with the entry of another file (a stale
/// cache, ids mixed up in a binding) fails the request: acted on, the target would find that
/// other replica precious, have nothing to change, confirm the copy, and a move would delete
/// its source with no copy anywhere. The same holds for the two-step removal's look.
///
/// Catches: only the C binding checking the id of the entry it was given.
#[test]
fn an_entry_of_another_file_fails_the_request_instead_of_confirming_it() {
    let mut m = Module::new("pool2", Config::default(), 1);
    let effects = send(&mut m, &Message::Copy(copy_request(9, Cached, false)), 1);
    let other = replica("B", Precious, 40, NOW, vec![]);
    let effects = answer_entry(&mut m, &effects, Some(other));
    let text = format!("the repository's entry answered {} for {}", pid("B"), pid("A"));
    assert_eq!(reply_to(&effects, 1), Some(error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, &text)));
    assert!(!starts_transfer(&effects), "{effects:?}");
    assert!(!effects.iter().any(|e| matches!(e, Effect::Send { .. } | Effect::Change { .. })), "{effects:?}");

    // The removal a host without its own `remove_if_unchanged` makes in two calls.
    struct Confused(migration_core::driver::memory::MemoryRepository);
    impl migration_core::host::Repository for Confused {
        fn for_each(
            &self,
            visit: &mut dyn FnMut(&migration_core::replica::ReplicaEntry) -> bool,
        ) -> Result<(), RepositoryError> {
            self.0.for_each(visit)
        }
        fn entry(&self, _: &migration_core::PnfsId) -> Result<Option<migration_core::replica::ReplicaEntry>, String> {
            self.0.entry(&id("B"))
        }
        fn set_state(
            &self,
            pnfsid: &migration_core::PnfsId,
            state: ReplicaState,
            reason: &str,
        ) -> Result<(), RepositoryError> {
            self.0.set_state(pnfsid, state, reason)
        }
        fn set_sticky(
            &self,
            pnfsid: &migration_core::PnfsId,
            record: &migration_core::replica::StickyRecord,
            overwrite: bool,
        ) -> Result<(), RepositoryError> {
            self.0.set_sticky(pnfsid, record, overwrite)
        }
        fn verifies_checksums(&self) -> bool {
            false
        }
        fn verify_checksum(&self, _: &migration_core::PnfsId) -> Result<(), migration_core::error::Failure> {
            unreachable!("not asked")
        }
        fn accepts_copies(&self) -> bool {
            true
        }
    }
    let repository = Confused(migration_core::driver::memory::MemoryRepository::default());
    for name in ["A", "B"] {
        repository.0.insert(replica(name, Precious, 40, NOW, vec![]));
    }
    let seen = migration_core::replica::Durability { state: Precious, sticky: vec![] };
    let removed = migration_core::host::remove_if_unchanged_in_two_steps(&repository, &id("A"), &seen, "test");
    assert_eq!(removed, Err(RepositoryError::Other(text)));
    assert!(migration_core::host::Repository::entry(&repository.0, &id("A")).expect("read").is_some(), "A kept");
}
