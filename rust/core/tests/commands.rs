//! Admin commands and their exact texts (spec §2, Appendix A): validation in order of
//! precedence, job lifecycle commands, ids, defaults, hot-file settings, and the `ls`/`info`
//! layouts.

mod common;

use common::*;
use migration_core::driver::sim::Cluster;
use migration_core::input::Input;
use migration_core::job::JobState;
use migration_core::message::{Message, encode};
use migration_core::replica::ReplicaState::{Cached, Precious};
use migration_core::{ErrorKind, PnfsId};

/// pool1 with a small cached file A, pool2 as target.
fn small() -> Cluster {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    c
}

/// pool1 with A (100 MB) and B (200 MB); p2p at 1 MB/s, so A takes 100 s.
fn slow() -> Cluster {
    let mut c = two_pools();
    c.bandwidth = 1_000;
    put(&mut c, "pool1", "A", Cached, 100_000_000, vec![]);
    put(&mut c, "pool1", "B", Cached, 200_000_000, vec![]);
    c
}

fn running_tasks(c: &Cluster, job: &str) -> Vec<(u64, PnfsId, &'static str)> {
    c.job("pool1", job).running_tasks().into_iter().map(|(t, p, s, _)| (t, p, s)).collect()
}

/// Runs `line` on pool1; it must be refused with exactly `message` as a syntax error and
/// must not create a job.
#[track_caller]
fn refused(c: &mut Cluster, line: &str, message: &str) {
    let before = ok(c, "pool1", "migration ls");
    let e = err(c, "pool1", line);
    assert_eq!(e.message, message, "`{line}`");
    assert_eq!(e.kind, ErrorKind::Syntax, "`{line}`");
    assert_eq!(ok(c, "pool1", "migration ls"), before, "`{line}` created a job");
}

// ── Validation (§2.1), in order of precedence ──────────────────────────────────────────

#[test]
fn permanent_job_with_order_is_refused_first() {
    let mut c = small();
    refused(
        &mut c,
        "migration copy -permanent -order=size -stop-when=true -replicas=0 pool2",
        "Permanent jobs cannot be ordered",
    );
    refused(&mut c, "migration copy -permanent -order=size", "Permanent jobs cannot be ordered");
}

#[test]
fn permanent_job_with_stop_condition_is_refused() {
    let mut c = small();
    refused(
        &mut c,
        "migration copy -permanent -stop-when=true -replicas=0 pool2",
        "Permanent jobs cannot have a stop condition.",
    );
}

#[test]
fn non_positive_replicas_are_refused_before_expressions_and_targets() {
    let mut c = small();
    refused(&mut c, "migration copy -replicas=0 pool2", "Number of replicas must be positive.");
    refused(&mut c, "migration copy -replicas=-1 -exclude-when=1", "Number of replicas must be positive.");
}

#[test]
fn exclude_expression_is_checked_before_include_expression_and_targets() {
    let mut c = small();
    refused(&mut c, "migration copy -exclude-when=target.foo -include-when=1", "Unknown identifier: target.foo");
    refused(&mut c, "migration copy -include-when=1", "Expression does not evaluate to a boolean");
    refused(&mut c, "migration copy -include-when=queue.files>0 pool2", "Unknown identifier: queue.files");
    let e = err(&mut c, "pool1", "migration copy -exclude-when=( pool2");
    assert!(e.message.starts_with("Invalid expression: "), "{}", e.message);
}

#[test]
fn missing_targets_are_refused_by_target_type() {
    let mut c = small();
    refused(&mut c, "migration copy", "target(s) required when target type is pool");
    refused(&mut c, "migration move -target=link", "target(s) required when target type is link");
    refused(&mut c, "migration cache -target=hsm", "target(s) required when target type is hsm");
    refused(&mut c, "migration copy -size=5..1", "target(s) required when target type is pool");
    // pgroup needs no arguments.
    assert!(ok(&mut c, "pool1", "migration copy -target=pgroup").starts_with("[1] "));
}

#[test]
fn link_with_two_targets_is_refused_before_filters() {
    let mut c = small();
    refused(&mut c, "migration copy -target=link a b", "[a, b]: Only one target supported for -type=link");
    refused(&mut c, "migration copy -target=link -size=5..1 a b", "[a, b]: Only one target supported for -type=link");
}

#[test]
fn range_errors_are_reported_size_first() {
    let mut c = small();
    refused(&mut c, "migration copy -size=5..1 pool2", "Invalid range: [5..1]");
    refused(&mut c, "migration copy -size=1..2..3 pool2", "For input string: \"2..3\"");
    refused(&mut c, "migration copy -size= pool2", "For input string: \"\"");
    refused(&mut c, "migration copy -accessed=x -size=5..1 pool2", "Invalid range: [5..1]");
    refused(&mut c, "migration copy -accessed=x pool2", "For input string: \"x\"");
    refused(&mut c, "migration copy -size=5..1 -smode=foo pool2", "Invalid range: [5..1]");
}

#[test]
fn source_mode_errors_come_before_target_mode_and_order() {
    let mut c = small();
    refused(&mut c, "migration copy -smode=foo+bar pool2", "foo+bar: Invalid value");
    refused(&mut c, "migration copy -smode=same+b-r pool2", "b-r: Syntax error");
    refused(&mut c, "migration copy -smode=same+x(-2) pool2", "-2: Invalid lifetime");
    refused(&mut c, "migration copy -smode=foo -tmode=bar -order=x pool2", "foo: Invalid value");
    refused(&mut c, "migration copy -tmode=bar -order=x pool2", "bar: Invalid value");
}

#[test]
fn unknown_order_is_refused_before_lifetime_expressions() {
    let mut c = small();
    refused(&mut c, "migration copy -order=x pool2", "x: Invalid value for option -order");
    refused(&mut c, "migration copy -order=x -pause-when=1 pool2", "x: Invalid value for option -order");
}

#[test]
fn pause_expression_is_checked_before_stop_expression() {
    let mut c = small();
    refused(&mut c, "migration copy -pause-when=target.free>0 -stop-when=1 pool2", "Unknown identifier: target.free");
    refused(&mut c, "migration copy -stop-when=1 pool2", "Expression does not evaluate to a boolean");
}

#[test]
fn delete_or_removable_target_mode_is_refused_last() {
    let mut c = small();
    refused(&mut c, "migration copy -tmode=delete pool2", "delete: Invalid value");
    refused(&mut c, "migration copy -tmode=removable+x pool2", "removable+x: Invalid value");
    refused(&mut c, "migration copy -tmode=delete -stop-when=1 pool2", "Expression does not evaluate to a boolean");
}

#[test]
fn non_positive_refresh_is_refused() {
    let mut c = small();
    refused(&mut c, "migration copy -refresh=0 pool2", "Refresh interval must be positive.");
    refused(&mut c, "migration copy -refresh=-5 pool2", "Refresh interval must be positive.");
}

#[test]
fn framework_errors_come_before_command_checks() {
    let mut c = small();
    refused(&mut c, "migration copy -foo pool2", "Unknown option: foo");
    refused(&mut c, "migration copy -foo -bar -foo pool2", "Unknown options: foo, bar");
    refused(&mut c, "migration copy -concurrency=abc -foo pool2", "Unknown option: foo");
    refused(&mut c, "migration copy -concurrency=abc pool2", "For input string: \"abc\"");
    refused(&mut c, "migration copy -concurrency= pool2", "Zero length string");
    refused(&mut c, "migration copy -permanent=maybe pool2", "Invalid value for boolean: maybe");
    refused(&mut c, "migration copy -permanent -order=size -pins=moved pool2", "Invalid value: moved");
    let e = err(&mut c, "pool1", "migration copy -pnfsid=xyz -permanent -order=size pool2");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_ne!(e.message, "Permanent jobs cannot be ordered", "PnfsId syntax is a framework check");
    refused(&mut c, "migration info", "Argument 1 is required");
    refused(&mut c, "migration info 1 2", "Too many arguments: 2");
    // The empty piece of a list is kept, as dCache keeps it, and refused as a PnfsId there.
    refused(&mut c, "migration copy -pnfsid=A, pool2", "Empty PnfsId");
}

#[test]
fn refused_commands_create_no_job_and_consume_no_id() {
    let mut c = small();
    for line in ["migration copy -replicas=0 pool2", "migration copy -tmode=delete pool2", "migration copy"] {
        let _ = err(&mut c, "pool1", line);
    }
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "");
    assert!(ok(&mut c, "pool1", "migration copy pool2").starts_with("[1] "));
}

#[test]
fn concurrency_option_is_decoded_like_java() {
    let mut c = small();
    ok(&mut c, "pool1", "migration copy -concurrency=010 pool2");
    assert_eq!(c.job("pool1", "1").concurrency, 8);
    assert!(info(&mut c, "pool1", "1").contains("Concurrency: 8\n"));
    ok(&mut c, "pool1", "migration copy -concurrency=0x10 pool2");
    assert_eq!(c.job("pool1", "2").concurrency, 16);
}

// ── Job not found ──────────────────────────────────────────────────────────────────────

#[test]
fn commands_on_unknown_job_answer_job_not_found() {
    let mut c = small();
    ok(&mut c, "pool1", "migration copy pool2");
    for line in [
        "migration info 9",
        "migration suspend 9",
        "migration resume 9",
        "migration cancel 9",
        "migration cancel -force 9",
        "migration set concurrency 9 2",
        "migration concurrency 9 2",
    ] {
        let e = err(&mut c, "pool1", line);
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::NotFound, "Job not found"), "`{line}`");
    }
}

// ── Suspend and resume (§2.6) ──────────────────────────────────────────────────────────

#[test]
fn suspended_job_lets_running_task_finish_and_starts_no_new_one() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    assert_eq!(ok(&mut c, "pool1", "migration suspend 1"), "[1] SUSPENDED    migration copy pool2");
    assert_eq!(ok(&mut c, "pool1", "migration suspend 1"), "[1] SUSPENDED    migration copy pool2", "idempotent");
    c.run_for(10 * MINUTE);

    assert_eq!(state(&c, "pool1", "1"), JobState::Suspended);
    assert!(entry(&c, "pool2", "A").is_some(), "the running task finished");
    assert_eq!(entry(&c, "pool2", "B"), None, "no new task");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    assert_eq!(c.job("pool1", "1").queued(), 1);

    assert_eq!(ok(&mut c, "pool1", "migration resume 1"), "[1] RUNNING      migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(entry(&c, "pool2", "B").is_some());
}

#[test]
fn sleeping_job_can_be_suspended() {
    let mut c = small();
    c.set_online("pool2", false);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping);
    assert_eq!(ok(&mut c, "pool1", "migration suspend 1"), "[1] SUSPENDED    migration copy pool2");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Suspended, "the sleep timer does not wake it");
}

#[test]
fn suspend_and_resume_in_wrong_state_are_state_errors() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    let e = err(&mut c, "pool1", "migration resume 1");
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::State, "Cannot resume a job that does not run"));
    assert!(c.run_until_jobs_end(HOUR));
    let e = err(&mut c, "pool1", "migration suspend 1");
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::State, "Cannot suspend a job that does not run"));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
}

// ── Cancel (§2.7, §3.5) ────────────────────────────────────────────────────────────────

#[test]
fn cancel_without_force_lets_running_task_complete() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    assert_eq!(ok(&mut c, "pool1", "migration cancel 1"), "[1] CANCELLING   migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));

    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert!(entry(&c, "pool2", "A").is_some(), "the running copy completed");
    assert_eq!(entry(&c, "pool2", "B"), None);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("State      : CANCELLED\nQueued     : 0\n"), "{out}");
    assert!(out.contains("Completed  : 1 files; 100000000 bytes\nConcurrency"), "no percentage, no Total: {out}");
    assert!(!out.contains("Total"), "{out}");
}

#[test]
fn cancel_with_force_aborts_running_transfer() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    assert_eq!(c.pool("pool2").module.server_requests(), 1);
    assert_eq!(ok(&mut c, "pool1", "migration cancel -force 1"), "[1] CANCELLING   migration copy pool2");
    assert!(c.run_until_jobs_end(MINUTE));

    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert_eq!(entry(&c, "pool2", "A"), None, "transfer aborted");
    assert_eq!(c.pool("pool2").module.server_requests(), 0);
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 0);
}

/// The admin cancel reason is `"migration cancel" admin command`; it shows in the note of a
/// task cancelled while its pins are being moved.
#[test]
fn forced_cancel_uses_admin_reason_text() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("PinManager-1", -1)]);
    c.faults.pin_manager_down = true;
    ok(&mut c, "pool1", "migration move pool2");
    assert!(run_until(&mut c, MINUTE, 10, |c| running_tasks(c, "1").first().is_some_and(|t| t.2 == "MovingPin")));
    ok(&mut c, "pool1", "migration cancel -force 1");
    c.run_for(MINUTE);

    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert_eq!(
        notes(&c, "pool1", "1"),
        vec![
            "Cancelling task (\"migration cancel\" admin command) failed (data migrated but pin movement still underway)"
        ]
    );
    assert!(entry(&c, "pool1", "A").is_some(), "pinned source kept");
}

/// §2.12: the job-cancel message cancels with reason `as requested by <sender>: <reason>`.
#[test]
fn cancel_message_uses_sender_in_reason() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 40, vec![sticky("PinManager-1", -1)]);
    c.faults.pin_manager_down = true;
    ok(&mut c, "pool1", "migration move pool2");
    assert!(run_until(&mut c, MINUTE, 10, |c| running_tasks(c, "1").first().is_some_and(|t| t.2 == "MovingPin")));
    let message = Message::CancelJob { job: "1".into(), forced: true, reason: "drain".into() };
    c.input("pool1", Input::Message { from: "qos".into(), bytes: encode(&message), reply: None });
    c.run_for(MINUTE);

    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert_eq!(
        notes(&c, "pool1", "1"),
        vec!["Cancelling task (as requested by qos: drain) failed (data migrated but pin movement still underway)"]
    );
}

#[test]
fn cancel_of_idle_job_is_immediate() {
    let mut c = small();
    c.set_online("pool2", false);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(MINUTE);
    assert_eq!(ok(&mut c, "pool1", "migration cancel 1"), "[1] CANCELLED    migration copy pool2");
}

#[test]
fn cancel_of_finished_job_leaves_it_finished() {
    let mut c = small();
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(ok(&mut c, "pool1", "migration cancel -force 1"), "[1] FINISHED     migration copy pool2");
}

/// R3 fixed: changing the concurrency of a cancelled job does not turn it into FINISHED.
#[test]
fn set_concurrency_on_cancelled_job_keeps_it_cancelled() {
    let mut c = small();
    c.set_online("pool2", false);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(MINUTE);
    ok(&mut c, "pool1", "migration cancel 1");
    assert_eq!(ok(&mut c, "pool1", "migration set concurrency 1 5"), "[1] Concurrency set to 5");
    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
}

/// R16 fixed: a job created before the pool started (NEW) is cancelled plainly.
#[test]
fn cancel_of_new_job_is_plain() {
    let mut c = cluster(1, &["pool1", "pool2"]);
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    assert_eq!(ok(&mut c, "pool1", "migration copy pool2"), "[1] NEW          migration copy pool2");
    assert_eq!(ok(&mut c, "pool1", "migration cancel 1"), "[1] CANCELLED    migration copy pool2");
    c.start();
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelled);
    assert_eq!(entry(&c, "pool2", "A"), None);
}

// ── Job ids (§2.1) ─────────────────────────────────────────────────────────────────────

#[test]
fn explicit_id_is_used_and_numbers_skip_used_ids() {
    let mut c = small();
    assert_eq!(ok(&mut c, "pool1", "migration copy -id=2 pool2"), "[2] INITIALIZING migration copy -id=2 pool2");
    assert!(ok(&mut c, "pool1", "migration copy pool2").starts_with("[1] "));
    assert!(ok(&mut c, "pool1", "migration copy pool2").starts_with("[3] "));
    // Any string is accepted, the empty one included.
    assert_eq!(ok(&mut c, "pool1", "migration copy -id= pool2"), "[] INITIALIZING migration copy -id= pool2");
}

#[test]
fn explicit_id_of_terminal_job_replaces_it() {
    let mut c = small();
    ok(&mut c, "pool1", "migration copy -id=x pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(
        ok(&mut c, "pool1", "migration copy -id=x -tmode=precious pool2"),
        "[x] INITIALIZING migration copy -id=x -tmode=precious pool2"
    );
    let ls = ok(&mut c, "pool1", "migration ls");
    assert_eq!(ls.lines().count(), 1, "{ls}");
    assert!(ls.contains("-tmode=precious"), "{ls}");
}

#[test]
fn explicit_id_of_running_job_is_refused() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy -id=x pool2");
    c.run_for(1_000);
    refused(&mut c, "migration copy -id=x pool2", "Job id is already in use: x");
}

#[test]
fn a_dry_run_never_takes_a_jobs_id() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy -id=x pool2");
    c.run_for(1_000);
    ok(&mut c, "pool1", "migration cancel x");
    assert_eq!(state(&c, "pool1", "x"), JobState::Cancelling);
    // A cancelling job (renamed by a real job's -id) and a terminal one (replaced by it).
    refused(&mut c, "migration copy -dry-run -id=x pool2", "Job id is already in use: x");
    assert_eq!(state(&c, "pool1", "x"), JobState::Cancelling, "not renamed");
    c.run_for(HOUR);
    assert!(state(&c, "pool1", "x").is_terminal());
    refused(&mut c, "migration copy -dry-run -id=x pool2", "Job id is already in use: x");
    assert!(ok(&mut c, "pool1", "migration ls").contains("[x]"), "still listed");
    // An ended dry run's name may be planned again.
    ok(&mut c, "pool1", "migration copy -dry-run -id=plan pool2");
    c.run_for(HOUR);
    assert!(state(&c, "pool1", "plan").is_terminal());
    ok(&mut c, "pool1", "migration copy -dry-run -id=plan pool2");
}

#[test]
fn explicit_id_of_cancelling_job_moves_old_job_to_new_number() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy -id=x pool2");
    c.run_for(1_000);
    ok(&mut c, "pool1", "migration cancel x");
    assert_eq!(state(&c, "pool1", "x"), JobState::Cancelling);
    assert!(ok(&mut c, "pool1", "migration copy -id=x pool2").starts_with("[x] "));
    assert_eq!(state(&c, "pool1", "1"), JobState::Cancelling, "the old job took the next number");
    let ls = ok(&mut c, "pool1", "migration ls");
    assert!(ls.contains("[1] CANCELLING   migration copy -id=x pool2\n"), "{ls}");
    assert_eq!(ls.lines().count(), 2);
}

// ── clear, ls (§2.4, §2.5) ─────────────────────────────────────────────────────────────

#[test]
fn clear_removes_only_terminal_jobs() {
    let mut c = small();
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    ok(&mut c, "pool1", "migration copy -permanent pool2");
    c.run_for(MINUTE);
    assert_eq!(ok(&mut c, "pool1", "migration clear"), "");
    let ls = ok(&mut c, "pool1", "migration ls");
    assert_eq!(ls, "[2] SLEEPING     migration copy -permanent pool2\n");
}

#[test]
fn ls_prints_one_summary_line_per_job() {
    let mut c = small();
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "");
    ok(&mut c, "pool1", "migration copy pool2");
    ok(&mut c, "pool1", "migration cache -permanent pool2");
    c.run_for(MINUTE);
    let ls = ok(&mut c, "pool1", "migration ls");
    let mut lines: Vec<&str> = ls.split_terminator('\n').collect();
    lines.sort();
    assert_eq!(lines, ["[1] FINISHED     migration copy pool2", "[2] SLEEPING     migration cache -permanent pool2"]);
    assert!(ls.ends_with('\n'));
}

// ── Concurrency and defaults (§2.8–§2.10) ──────────────────────────────────────────────

#[test]
fn set_concurrency_starts_more_tasks_at_once_and_lowering_stops_none() {
    let mut c = slow();
    put(&mut c, "pool1", "C", Cached, 100_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    assert_eq!(running_tasks(&c, "1").len(), 1);
    assert_eq!(ok(&mut c, "pool1", "migration set concurrency 1 3"), "[1] Concurrency set to 3");
    c.run_for(1);
    assert_eq!(running_tasks(&c, "1").len(), 3);
    assert_eq!(
        ok(&mut c, "pool1", "migration concurrency 1 1"),
        "[1] Concurrency set to 1 (Warning: this command is deprecated, please use 'migration set concurrency')"
    );
    c.run_for(1);
    assert_eq!(running_tasks(&c, "1").len(), 3, "running tasks are not stopped");
    assert!(info(&mut c, "pool1", "1").contains("Concurrency: 1\n"));
}

#[test]
fn zero_concurrency_is_accepted_and_starts_nothing() {
    let mut c = small();
    ok(&mut c, "pool1", "migration copy -concurrency=0 pool2");
    c.run_for(MINUTE);
    assert!(!state(&c, "pool1", "1").is_terminal());
    assert_eq!(c.job("pool1", "1").statistics().attempts, 0);
}

#[test]
fn default_concurrency_set_get_and_deprecated_forms() {
    let mut c = small();
    assert_eq!(ok(&mut c, "pool1", "migration get concurrency-default"), "Current default concurrency: 1");
    assert_eq!(ok(&mut c, "pool1", "migration set concurrency-default 3"), "Default concurrency set to 3");
    assert_eq!(ok(&mut c, "pool1", "migration get concurrency-default"), "Current default concurrency: 3");
    ok(&mut c, "pool1", "migration copy pool2");
    assert_eq!(c.job("pool1", "1").concurrency, 3, "applies to new jobs");
    refused(&mut c, "migration set concurrency-default 0", "Default concurrency must be positive.");
    assert_eq!(
        ok(&mut c, "pool1", "migration concurrency-default -set=4"),
        "Default concurrency set to 4 (Warning: this command is deprecated, please use 'migration set concurrency-default')"
    );
    assert_eq!(
        ok(&mut c, "pool1", "migration concurrency-default"),
        "Current default concurrency: 4 (Warning: this command is deprecated, please use 'migration get concurrency-default')"
    );
    assert_eq!(c.job("pool1", "1").concurrency, 3, "existing jobs keep theirs");
}

#[test]
fn default_refresh_set_and_get() {
    let mut c = small();
    assert_eq!(ok(&mut c, "pool1", "migration get refresh-default"), "Current default refresh interval: 300");
    assert_eq!(ok(&mut c, "pool1", "migration set refresh-default 60"), "Default refresh interval set to 60");
    assert_eq!(ok(&mut c, "pool1", "migration get refresh-default"), "Current default refresh interval: 60");
    refused(&mut c, "migration set refresh-default 0", "Default refresh interval must be positive.");
    // An int in dCache: a larger value would be saved where dCache cannot read it back.
    refused(&mut c, "migration set refresh-default 3000000000", "For input string: \"3000000000\"");
    refused(&mut c, "migration copy -refresh=3000000000 pool2", "For input string: \"3000000000\"");
    ok(&mut c, "pool1", "migration copy pool2");
    assert_eq!(c.job("pool1", "1").definition.refresh_secs, 60);
}

#[test]
fn hotfile_settings_set_get_and_show() {
    let mut c = small();
    assert_eq!(ok(&mut c, "pool1", "hotfile show"), "replicas=1  threshold=50");
    assert_eq!(ok(&mut c, "pool1", "hotfile set replicas 3"), "Number of replicas set to 3");
    assert_eq!(ok(&mut c, "pool1", "hotfile get replicas"), "Current replicas: 3");
    assert_eq!(ok(&mut c, "pool1", "hotfile set threshold 10"), "Threshold set to 10");
    assert_eq!(ok(&mut c, "pool1", "hotfile get threshold"), "Current threshold: 10");
    assert_eq!(ok(&mut c, "pool1", "hotfile show"), "replicas=3  threshold=10");
    assert_eq!(ok(&mut c, "pool1", "hotfile set replicas 0"), "Number of replicas set to 0", "not validated");
}

// ── Summary and info layout (§2.3, §2.4) ───────────────────────────────────────────────

#[test]
fn summary_pads_state_to_twelve_columns() {
    let mut c = slow();
    assert_eq!(ok(&mut c, "pool1", "migration copy pool2"), "[1] INITIALIZING migration copy pool2");
    c.run_for(1_000);
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "[1] RUNNING      migration copy pool2\n");
}

#[test]
fn recorded_command_line_collapses_white_space() {
    let mut c = small();
    let out = ok(&mut c, "pool1", "migration   copy  -pnfsid=A   pool2");
    assert_eq!(out, "[1] INITIALIZING migration copy -pnfsid=A pool2");
    assert!(info(&mut c, "pool1", "1").starts_with("Command    : migration copy -pnfsid=A pool2\n"));
    assert!(
        ok(&mut c, "pool1", "migration move pool2").ends_with("] INITIALIZING migration move pool2"),
        "move is recorded as move"
    );
}

#[test]
fn info_of_running_job_shows_percentage_total_and_task_lines() {
    let mut c = slow();
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    let expected = format!(
        "Command    : migration copy pool2\n\
         State      : RUNNING\n\
         Queued     : 1\n\
         Attempts   : 1\n\
         Targets    : pool2\n\
         Completed  : 0 files; 0 bytes; 0%\n\
         Total      : 300000000 bytes\n\
         Concurrency: 1\n\
         Running tasks:\n\
         [0] {}: TASK.Copying -> [pool2@local]\n",
        pid("A")
    );
    assert_eq!(info(&mut c, "pool1", "1"), expected);

    assert!(run_until(&mut c, 10 * MINUTE, 100, |c| c.job("pool1", "1").statistics().completed_files == 1));
    c.run_for(1_000);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("Completed  : 1 files; 100000000 bytes; 33%\n"), "floor(100/3): {out}");
    assert!(out.contains(&format!("Running tasks:\n[1] {}: TASK.Copying -> [pool2@local]\n", pid("B"))), "{out}");
}

#[test]
fn info_of_finished_job_has_no_percentage() {
    let mut c = small();
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    let expected = "Command    : migration copy pool2\n\
                    State      : FINISHED\n\
                    Queued     : 0\n\
                    Attempts   : 1\n\
                    Targets    : pool2\n\
                    Completed  : 1 files; 40 bytes\n\
                    Total      : 40 bytes\n\
                    Concurrency: 1\n\
                    Running tasks:\n";
    assert_eq!(info(&mut c, "pool1", "1"), expected);
}

#[test]
fn info_of_new_job_has_empty_targets_and_no_counters() {
    let mut c = cluster(1, &["pool1", "pool2"]);
    put(&mut c, "pool1", "A", Cached, 40, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    let expected = "Command    : migration copy pool2\n\
                    State      : NEW\n\
                    Queued     : 0\n\
                    Attempts   : 0\n\
                    Targets    : \n\
                    Concurrency: 1\n\
                    Running tasks:\n";
    assert_eq!(info(&mut c, "pool1", "1"), expected);
    c.start();
    assert!(c.run_until_jobs_end(HOUR), "started with the pool");
}

#[test]
fn info_targets_lists_online_selectable_pools_in_pool_manager_order() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3", "pool4", "pool5"]);
    c.start();
    c.set_online("pool4", false);
    ok(&mut c, "pool1", "migration copy -exclude=pool5 pool3 pool4 pool5 pool1 pool2");
    c.run_for(1_000);
    assert!(info(&mut c, "pool1", "1").contains("Targets    : pool3,pool2\n"));
}

/// Issue 2 adopts the Book's form for group-like targets (DOC-DIFF D12, see
/// docs/compatibility.md): `pool group <g>, <n> pools`, counting the selectable pools (the
/// source pool is always excluded).
#[test]
fn info_targets_of_pool_group_shows_the_group_and_its_usable_pools() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.groups.insert("g".into(), vec!["pool1".into(), "pool2".into(), "pool3".into()]);
    c.start();
    ok(&mut c, "pool1", "migration copy -target=pgroup -permanent g");
    c.run_for(1_000);
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("Targets    : pool group g, 2 pools\n"), "{out}");
}

#[test]
fn task_note_line_has_time_task_id_and_pnfsid() {
    let mut c = small();
    c.delete_from_namespace(&id("A"));
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    let note = c.job("pool1", "1").notes().next().expect("note").clone();
    let out = info(&mut c, "pool1", "1");
    let expected = format!("Most recent notes:\n{} [0] {}: File does not exist, skipped\n", clock(note.time), pid("A"));
    assert!(out.ends_with(&expected), "{out}");
}

/// Task ids come from one counter shared by all jobs of the pool (retries get new ids).
#[test]
fn task_ids_are_shared_by_all_jobs_of_a_pool() {
    let mut c = small();
    c.delete_from_namespace(&id("A"));
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(c.job("pool1", "1").notes().next().map(|n| n.task), Some(0));
    assert_eq!(c.job("pool1", "2").notes().next().map(|n| n.task), Some(1));
}

/// A job-level note has task id 0 and `-` for the file; a pool in two groups fails the job.
#[test]
fn pool_in_two_groups_fails_pgroup_job_with_job_level_note() {
    let mut c = small();
    c.groups.insert("g1".into(), vec!["pool1".into(), "pool2".into()]);
    c.groups.insert("g2".into(), vec!["pool1".into()]);
    ok(&mut c, "pool1", "migration copy -target=pgroup");
    c.run_for(MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Failed);
    let note = c.job("pool1", "1").notes().next().expect("note").clone();
    let out = info(&mut c, "pool1", "1");
    let expected = format!("{} [0] -: Pool pool1 is a member of multiple pool groups: [g1, g2]\n", clock(note.time));
    assert!(out.ends_with(&expected), "{out}");
    assert!(out.contains("State      : FAILED\n"));
}

/// §3.3 rule 5.4: a file another job of the pool works on stays queued with `File is locked`.
#[test]
fn file_locked_by_another_job_gets_note_and_stays_queued() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    c.bandwidth = 1_000;
    put(&mut c, "pool1", "A", Cached, 100_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(1_000);
    ok(&mut c, "pool1", "migration copy pool3");
    c.run_for(1_000);
    let job = c.job("pool1", "2");
    let note = job.notes().next().expect("note");
    assert_eq!((note.task, note.pnfsid, note.text.as_str()), (0, Some(id("A")), "File is locked"));
    assert_eq!(job.queued(), 1);
    assert_eq!(job.statistics().attempts, 0);
    assert!(c.run_until_jobs_end(HOUR));
    assert!(entry(&c, "pool3", "A").is_some(), "copied once the lock was released");
}

/// A locked file at the head of the queue goes to its end: the files behind it are taken
/// first, and it once they are (its lock long released by then). Left at the head, every file
/// taken after it left a dead slot that each later walk stepped over.
#[test]
fn a_locked_file_goes_to_the_end_of_the_queue() {
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    c.bandwidth = 1_000;
    put(&mut c, "pool1", "A", Cached, 2_000_000, vec![]); // 2 s
    for f in ["B", "C", "D"] {
        put(&mut c, "pool1", f, Cached, 4_000_000, vec![]); // 4 s each
    }
    ok(&mut c, "pool1", "migration copy -pnfsid=A pool2");
    c.run_for(500);
    ok(&mut c, "pool1", "migration copy -concurrency=1 pool3");
    assert!(c.run_until_jobs_end(HOUR));
    let order = creation_order(&c, "pool3");
    let names: Vec<PnfsId> = ["B", "C", "D", "A"].iter().map(|f| id(f)).collect();
    assert_eq!(order, names, "A, locked when the walk met it, came last");
    assert_eq!(c.pool("pool1").module.locked_files(), 0);
}

#[test]
fn at_most_fifteen_notes_are_kept() {
    let mut c = small();
    c.pool_mut("pool2").module.set_accepts_copies(false);
    ok(&mut c, "pool1", "migration copy pool2");
    // One failing file is retried every 10 s (see timing.rs).
    c.run_for(200_000);
    assert!(c.job("pool1", "1").statistics().attempts > 15);
    assert_eq!(c.job("pool1", "1").notes().count(), 15);
    let out = info(&mut c, "pool1", "1");
    let after = out.split("Most recent notes:\n").nth(1).expect("notes section");
    assert_eq!(after.lines().count(), 15);
    let newest = c.job("pool1", "1").notes().last().expect("note").task;
    assert!(after.lines().last().expect("line").contains(&format!(" [{newest}] ")), "oldest first");
}
