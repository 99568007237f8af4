//! What no migration module gives operators so far (issue #13): each addition is ours, marked
//! as beyond dCache in the README, and leaves dCache's own outputs as they were.

mod common;

use common::*;
use migration_core::ErrorKind;
use migration_core::job::JobState;
use migration_core::replica::ReplicaState::{Cached, Precious};

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

// ── Rate and ETA ───────────────────────────────────────────────────────────────────────

#[test]
fn the_eta_of_a_steady_job_is_within_ten_percent_of_the_real_remaining_time() {
    let mut c = two_pools();
    // 300 files of 50 MB: 500 ms each at the simulator's 100 MB/s, plus message latency.
    for i in 1..=300 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 50_000_000, vec![]);
    }
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(2 * MINUTE / 3); // well into the job, with a full minute of history soon
    c.run_for(MINUTE / 3);
    let now = c.now();
    let eta = c.job("pool1", "1").eta(now).expect("a running job with a rate has an ETA");
    let rate = c.job("pool1", "1").rate(now).expect("a rate");
    assert!(rate.bytes_per_second > 0.0 && rate.files_per_second > 0.0, "{rate:?}");
    assert!(c.run_until_jobs_end(HOUR));
    let real = c.now() - now;
    let error = (eta - real).abs() as f64 / real as f64;
    assert!(error < 0.10, "ETA {eta} ms, real {real} ms ({:.1} % off)", error * 100.0);
}

/// The ETA counts the files still to move: a file the job gave up on (here one the namespace
/// no longer knows, skipped for good) is not waited for.
///
/// Catches: the job's total less the bytes moved, which counts the skipped file's terabyte
/// until the job ends (an ETA of hours for seconds of work).
#[test]
fn the_eta_leaves_out_the_files_the_job_gave_up_on() {
    let mut c = two_pools();
    put(&mut c, "pool1", "0", Precious, 1_000_000_000_000, vec![]);
    c.delete_from_namespace(&id("0"));
    for i in 1..=300 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 50_000_000, vec![]);
    }
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(MINUTE);
    assert!(notes(&c, "pool1", "1").iter().any(|n| n.ends_with("File does not exist, skipped")));
    let now = c.now();
    let eta = c.job("pool1", "1").eta(now).expect("a running job with a rate has an ETA");
    assert!(c.run_until_jobs_end(HOUR));
    let real = c.now() - now;
    let error = (eta - real).abs() as f64 / real as f64;
    assert!(error < 0.10, "ETA {eta} ms, real {real} ms ({:.1} % off)", error * 100.0);
}

#[test]
fn info_shows_the_pace_after_dcache_lines_and_json_has_it_too() {
    let mut c = two_pools();
    for i in 1..=100 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 50_000_000, vec![]);
    }
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(5_000);
    let text = full_info(&mut c, "pool1", "1");
    let dcache = info(&mut c, "pool1", "1");
    assert!(text.starts_with(&dcache), "dCache's lines come first, unchanged");
    let pace: Vec<&str> = text[dcache.len()..].lines().collect();
    assert_eq!(pace.len(), 3, "{text}");
    assert!(
        pace[0].starts_with("Started    : ") && pace[0].len() == "Started    : 2023-11-14 22:13:20".len(),
        "{text}"
    );
    assert!(pace[1].starts_with("Rate       : ") && pace[1].ends_with(" bytes/s"), "{text}");
    assert!(pace[2].starts_with("ETA        : ") && pace[2] != "ETA        : -", "{text}");
    let json = ok(&mut c, "pool1", "migration info -json 1");
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert!(value["rate"]["bytesPerSecond"].as_f64().is_some_and(|b| b > 0.0), "{json}");
    assert!(value["etaMillis"].as_i64().is_some_and(|m| m > 0), "{json}");
    assert!(value["started"].as_i64().is_some(), "{json}");
}

#[test]
fn a_suspended_night_does_not_slow_the_rate() {
    let mut c = two_pools();
    for i in 1..=400 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 50_000_000, vec![]);
    }
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(MINUTE);
    let before = c.job("pool1", "1").rate(c.now()).expect("a rate").files_per_second;
    ok(&mut c, "pool1", "migration suspend 1");
    c.run_for(8 * HOUR);
    let asleep = c.job("pool1", "1").rate(c.now()).expect("a rate").files_per_second;
    ok(&mut c, "pool1", "migration resume 1");
    let after = c.job("pool1", "1").rate(c.now()).expect("a rate").files_per_second;
    // Suspending lets the running task finish, so the window gains at most one file.
    for r in [asleep, after] {
        assert!((r - before).abs() / before < 0.05, "before {before}, after a night {r}");
    }
}

// ── Quarantine ─────────────────────────────────────────────────────────────────────────

#[test]
fn a_file_that_always_fails_is_quarantined_after_n_attempts_and_the_job_finishes() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    put(&mut c, "pool1", "B", Precious, 10, vec![]);
    c.faults.fail_p2p = 1.0;
    ok(&mut c, "pool1", "migration copy -max-attempts=3 pool2");
    assert!(c.run_until_jobs_end(HOUR), "the job ends instead of retrying for ever");
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 6, "three attempts per file, not one more");
    let text = full_info(&mut c, "pool1", "1");
    assert!(text.contains("Quarantined: 2 files (migration retry 1 tries them again)\n"), "{text}");
    assert!(text.contains(&format!("{}: 3 attempts, last: ", pid("A"))), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(&mut c, "pool1", "migration info -json 1")).expect("json");
    assert_eq!(json["quarantined"].as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(json["quarantined"][0]["attempts"], 3);

    // The cause is mended; `migration retry` brings the files back and the job finishes again.
    c.faults.fail_p2p = 0.0;
    assert_eq!(ok(&mut c, "pool1", "migration retry 1"), "[1] 2 quarantined files queued again");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    assert!(entry(&c, "pool2", "A").is_some() && entry(&c, "pool2", "B").is_some());
    assert!(!full_info(&mut c, "pool1", "1").contains("Quarantined: "));
}

/// A permanent job's quarantined file stays out when a change of its replica matches the job
/// again: it waits for `migration retry`. It was queued again while still listed as
/// quarantined, and retried with the next change.
#[test]
fn a_quarantined_file_of_a_permanent_job_waits_for_retry_when_its_replica_changes() {
    use migration_core::host::Repository as _;
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 10, vec![]);
    c.faults.fail_p2p = 1.0;
    ok(&mut c, "pool1", "migration copy -permanent -max-attempts=1 pool2");
    c.run_for(MINUTE);
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1);
    assert!(full_info(&mut c, "pool1", "1").contains("Quarantined: 1 files"));

    // `rep set precious`: a state change a permanent job hears as a file to migrate.
    c.repository("pool1").set_state(&id("A"), Precious, "rep set precious").expect("precious");
    flush(&mut c, "pool1");
    c.run_for(MINUTE);
    assert_eq!(c.job("pool1", "1").queued(), 0, "not queued again");
    assert_eq!(c.job("pool1", "1").statistics().attempts, 1, "not tried again");

    c.faults.fail_p2p = 0.0;
    assert_eq!(ok(&mut c, "pool1", "migration retry 1"), "[1] 1 quarantined files queued again");
    c.run_for(MINUTE);
    assert!(entry(&c, "pool2", "A").is_some());
}

/// `migration retry` of a job that `-stop-when` would stop again at once, with its files
/// queued, is refused: revived, the job stopped and dropped the files from the quarantine.
#[test]
fn retry_is_refused_when_the_stop_condition_would_drop_the_files() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    put(&mut c, "pool1", "B", Precious, 10, vec![]);
    // C is on the target already: its task only updates it, with no transfer to fail.
    put(&mut c, "pool1", "C", Precious, 1_000, vec![]);
    put(&mut c, "pool2", "C", Precious, 1_000, vec![]);
    c.faults.fail_p2p = 1.0;
    // While the job runs, 1 020 bytes are to go: the condition is false. A and B fail once and
    // are quarantined, C is done, and the job finishes with its queue empty (false again).
    let line =
        "migration copy -concurrency=3 -max-attempts=1 -stop-when=\"queue.files >= 1 and queue.bytes < 100\" pool2";
    ok(&mut c, "pool1", line);
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(state(&c, "pool1", "1"), JobState::Finished);
    let info = full_info(&mut c, "pool1", "1");
    assert!(info.contains("Quarantined: 2 files"), "{info}");

    // Queued again, A and B make it true: the job would stop at once and drop them.
    let refused = err(&mut c, "pool1", "migration retry 1");
    assert!(refused.message.contains("-stop-when"), "{}", refused.message);
    assert!(full_info(&mut c, "pool1", "1").contains("Quarantined: 2 files"), "the files stay quarantined");
    assert_eq!(c.job("pool1", "1").queued(), 0);
}

/// Every target full (R8) is not the file's fault, as a busy target is not: the file waits for
/// room instead of being quarantined after `-max-attempts` passes.
#[test]
fn a_file_waiting_for_room_on_full_targets_is_not_quarantined() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    c.pool_mut("pool2").capacity = 0;
    ok(&mut c, "pool1", "migration copy -refresh=1 -max-attempts=2 pool2");
    c.run_for(MINUTE);
    let info = full_info(&mut c, "pool1", "1");
    assert!(!info.contains("Quarantined: "), "{info}");
    assert_ne!(state(&c, "pool1", "1"), JobState::Finished, "still waiting for room");

    c.pool_mut("pool2").capacity = 1 << 40;
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 1);
    assert!(entry(&c, "pool2", "A").is_some());
}

/// A quarantined file whose replica stops matching the job's filter leaves the quarantine,
/// as it would leave the queue (§4): `migration retry` migrated it anyway.
#[test]
fn a_quarantined_file_that_stops_matching_is_not_retried() {
    use migration_core::host::Repository as _;
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 10, vec![]);
    c.faults.fail_p2p = 1.0;
    ok(&mut c, "pool1", "migration copy -permanent -state=cached -max-attempts=1 pool2");
    c.run_for(MINUTE);
    assert!(full_info(&mut c, "pool1", "1").contains("Quarantined: 1 files"));

    c.repository("pool1").set_state(&id("A"), Precious, "rep set precious").expect("precious");
    flush(&mut c, "pool1");
    c.run_for(MINUTE);
    assert!(!full_info(&mut c, "pool1", "1").contains("Quarantined: "), "it left the quarantine");
    c.faults.fail_p2p = 0.0;
    assert_eq!(ok(&mut c, "pool1", "migration retry 1"), "[1] 0 quarantined files queued again");
    c.run_for(MINUTE);
    assert_eq!(entry(&c, "pool2", "A"), None, "a file the job no longer selects is not copied");
}

/// A file that leaves a permanent job after failures (here a permanent failure: gone from the
/// namespace) starts its count over when the job adds it again: its old failures made it
/// quarantined after one more.
#[test]
fn a_file_that_left_after_failures_starts_its_count_over() {
    use migration_core::host::Repository as _;
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Cached, 10, vec![]);
    c.faults.fail_p2p = 1.0;
    ok(&mut c, "pool1", "migration copy -permanent -max-attempts=3 pool2");
    let run_until_attempts = |c: &mut migration_core::driver::sim::Cluster, n: u64| {
        for _ in 0..120 {
            if c.job("pool1", "1").statistics().attempts >= n {
                break;
            }
            c.run_for(1_000);
        }
        assert_eq!(c.job("pool1", "1").statistics().attempts, n);
    };
    run_until_attempts(&mut c, 2);
    c.delete_from_namespace(&id("A"));
    run_until_attempts(&mut c, 3);
    assert!(notes(&c, "pool1", "1").iter().any(|n| n.contains("File does not exist, skipped")));
    assert_eq!(c.job("pool1", "1").queued(), 0, "it left the job");

    // Back in the namespace, and made precious: the permanent job adds it again.
    c.namespace.entry(id("A")).or_default().insert("pool1".to_string());
    c.repository("pool1").set_state(&id("A"), Precious, "rep set precious").expect("precious");
    flush(&mut c, "pool1");
    run_until_attempts(&mut c, 4);
    c.run_for(1_000);
    assert!(!full_info(&mut c, "pool1", "1").contains("Quarantined: "), "one failure of three");
}

#[test]
fn without_a_limit_files_are_retried_as_dcache_does_and_the_default_is_saved() {
    let mut c = two_pools();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    c.faults.fail_p2p = 1.0;
    ok(&mut c, "pool1", "migration copy pool2");
    c.run_for(10 * MINUTE);
    assert_eq!(state(&c, "pool1", "1"), JobState::Sleeping, "still retrying");
    assert!(c.job("pool1", "1").statistics().attempts > 10);

    assert_eq!(ok(&mut c, "pool1", "migration get max-attempts-default"), "Current default maximum attempts: 0");
    ok(&mut c, "pool1", "migration set max-attempts-default 2");
    ok(&mut c, "pool1", "migration copy -id=two pool2");
    assert!(c.pool("pool1").module.setup_lines().contains(&"migration set max-attempts-default 2".to_string()));
    c.run_for(10 * MINUTE);
    assert_eq!(state(&c, "pool1", "two"), JobState::Finished);
    assert_eq!(c.job("pool1", "two").statistics().attempts, 2);
    assert_eq!(
        err(&mut c, "pool1", "migration set max-attempts-default -- -1").message,
        "Maximum attempts must not be negative."
    );
    assert_eq!(
        err(&mut c, "pool1", "migration copy -max-attempts=-2 pool2").message,
        "-max-attempts must not be negative"
    );
    let e = err(&mut c, "pool1", "migration retry nosuch");
    assert_eq!(e.kind, ErrorKind::NotFound);
}

// ── Metrics ────────────────────────────────────────────────────────────────────────────

/// The value of the sample of `family` whose labels contain `labels`.
fn sample(text: &str, family: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(&format!("{family}{{")) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {family} {{{labels}}} in\n{text}"))
}

#[test]
fn metrics_agree_with_migration_info() {
    let mut c = two_pools();
    for (i, f) in ["A", "B", "C"].iter().enumerate() {
        put(&mut c, "pool1", f, Precious, 100 * (i as u64 + 1), vec![]);
    }
    c.faults.fail_p2p = 1.0;
    ok(&mut c, "pool1", "migration copy -max-attempts=1 -id=bad pool2");
    assert!(c.run_until_jobs_end(HOUR));
    c.faults.fail_p2p = 0.0;
    ok(&mut c, "pool1", "migration copy -id=good pool2");
    assert!(c.run_until_jobs_end(HOUR));
    let text = ok(&mut c, "pool1", "migration metrics");
    let job = |id: &str| format!("job=\"{id}\"");
    assert_eq!(sample(&text, "dcache_migration_job_files_completed_total", &job("good")), 3.0);
    assert_eq!(sample(&text, "dcache_migration_job_bytes_completed_total", &job("good")), 600.0);
    assert_eq!(sample(&text, "dcache_migration_job_failures_total", &job("bad")), 3.0);
    assert_eq!(sample(&text, "dcache_migration_job_quarantined_files", &job("bad")), 3.0);
    assert_eq!(sample(&text, "dcache_migration_job_state", "job=\"bad\",state=\"FINISHED\""), 1.0);
    assert_eq!(sample(&text, "dcache_migration_jobs", "state=\"FINISHED\""), 2.0);
    assert_eq!(sample(&text, "dcache_migration_jobs", "state=\"RUNNING\""), 0.0);
    assert!(text.contains("# TYPE dcache_migration_job_attempts_total counter\n"), "{text}");
}

// ── A cap on incoming copies per target ────────────────────────────────────────────────

#[test]
fn with_a_cap_of_two_and_ten_sources_no_target_ever_serves_more_than_two_copies() {
    let sources: Vec<String> = (1..=10).map(|i| format!("src{i}")).collect();
    let mut names: Vec<&str> = sources.iter().map(String::as_str).collect();
    names.extend(["t1", "t2"]);
    let mut c = cluster(3, &names);
    c.start();
    for t in ["t1", "t2"] {
        assert_eq!(ok(&mut c, t, "migration set max-incoming 2"), "Maximum incoming copies set to 2");
    }
    let refused = err(&mut c, "t1", "migration set max-incoming -- -1");
    assert_eq!(refused.message, "Maximum incoming copies must not be negative.");
    assert_eq!(ok(&mut c, "t1", "migration get max-incoming"), "Current maximum incoming copies: 2", "unchanged");
    for (i, s) in sources.iter().enumerate() {
        for f in 0..5 {
            put(&mut c, s, &format!("{:X}", 0x100 * (i + 1) + f), Precious, 20_000_000, vec![]);
        }
        ok(&mut c, s, "migration copy -concurrency=3 t1 t2");
    }
    let (mut most, deadline) = (0, c.now() + 4 * HOUR);
    while !c.all_jobs_ended() && c.step(deadline) {
        for t in ["t1", "t2"] {
            most = most.max(c.pool(t).module.server_requests());
        }
        assert!(most <= 2, "a target served {most} copies at once");
    }
    assert!(c.all_jobs_ended(), "every job ends");
    assert_eq!(most, 2, "the cap was reached");
    assert_eq!(c.repository("t1").len() + c.repository("t2").len(), 50, "every file copied once");
    let busy_notes: usize = sources
        .iter()
        .map(|s| notes(&c, s, "1").iter().filter(|n| n.contains("All target pools are busy")).count())
        .sum();
    assert!(busy_notes > 0, "some source found every target busy and waited");
    for s in &sources {
        assert_eq!(c.job(s, "1").statistics().failures, 0, "busy is not a failure");
        assert_eq!(state(&c, s, "1"), JobState::Finished);
    }
    assert!(c.pool("t1").module.setup_lines().contains(&"migration set max-incoming 2".to_string()));
}

/// A permanent job that sleeps because its target is at its cap keeps its 10 s pause when new
/// files arrive: each new file used to wake it at once, and every wake-up sent a copy request
/// for each queued file to the busy target (at 100 writes a second, a thousand a second).
#[test]
fn a_job_waiting_for_a_busy_target_is_not_woken_by_each_new_file() {
    let mut c = cluster(5, &["hog", "src", "t1"]);
    c.bandwidth = 1_000; // bytes a millisecond
    c.start();
    ok(&mut c, "t1", "migration set max-incoming 1");
    // The hog's copy holds t1's only slot for about 1 000 s.
    put(&mut c, "hog", "FFF", Precious, 1_000_000_000, vec![]);
    ok(&mut c, "hog", "migration copy t1");
    c.run_for(5_000);
    assert_eq!(c.pool("t1").module.server_requests(), 1, "the hog's copy holds the slot");
    for f in 1..=3 {
        put(&mut c, "src", &format!("{f:X}"), Precious, 1_000, vec![]);
    }
    ok(&mut c, "src", "migration copy -permanent t1");
    c.run_for(3_000);
    assert_eq!(state(&c, "src", "1"), JobState::Sleeping, "every target busy");
    let from_src = |c: &migration_core::driver::sim::Cluster| c.copies.iter().filter(|s| s.job.pool == "src").count();
    let before = from_src(&c);
    assert!(before > 0, "src tried t1 and found it busy");

    // Five files written within the pause.
    for f in 0x10..0x15 {
        put(&mut c, "src", &format!("{f:X}"), Precious, 1_000, vec![]);
        c.flush_events();
        c.run_for(500);
    }
    assert_eq!(from_src(&c), before, "no pass before the pause ends");
    assert_eq!(c.job("src", "1").statistics().total, 8 * 1_000, "the new files are queued");
    // The pause ends: the job looks again (and finds t1 still busy).
    c.run_for(10_000);
    assert!(from_src(&c) > before, "the job went on after its pause");
}

// ── Bandwidth limit ────────────────────────────────────────────────────────────────────

/// Bytes of the job's completed files.
fn transferred(c: &migration_core::driver::sim::Cluster, pool: &str, job: &str) -> u64 {
    c.job(pool, job).statistics().transferred
}

#[test]
fn a_ten_megabyte_limit_holds_within_ten_percent_over_a_minute() {
    let mut c = two_pools();
    // 2 000 files of 1 MiB; the simulator's network alone would move ~100 MB/s.
    for i in 1..=2000 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 1 << 20, vec![]);
    }
    ok(&mut c, "pool1", "migration copy -concurrency=16 -bandwidth=10M pool2");
    c.run_for(10_000); // past the first second's burst
    let (t0, b0) = (c.now(), transferred(&c, "pool1", "1"));
    c.run_for(MINUTE);
    let rate = (transferred(&c, "pool1", "1") - b0) as f64 / ((c.now() - t0) as f64 / 1000.0);
    let limit = (10u64 << 20) as f64;
    assert!((rate - limit).abs() / limit < 0.10, "{rate:.0} B/s against a limit of {limit:.0}");
    let text = full_info(&mut c, "pool1", "1");
    assert!(text.contains("Bandwidth  : 10485760 bytes/s\n"), "{text}");

    // Raised at run time, the job speeds up; removed, it runs at the network's pace.
    assert_eq!(ok(&mut c, "pool1", "migration set bandwidth 1 20M"), "[1] Bandwidth set to 20971520 bytes/s");
    c.run_for(5_000);
    let (t1, b1) = (c.now(), transferred(&c, "pool1", "1"));
    c.run_for(20_000);
    let faster = (transferred(&c, "pool1", "1") - b1) as f64 / ((c.now() - t1) as f64 / 1000.0);
    assert!((faster - 2.0 * limit).abs() / (2.0 * limit) < 0.10, "{faster:.0} B/s after raising the limit");
    ok(&mut c, "pool1", "migration set bandwidth 1 0");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(c.repository("pool2").len(), 2000);
    assert!(
        err(&mut c, "pool1", "migration copy -bandwidth=fast pool2").message.starts_with("Invalid bandwidth: fast")
    );
}

/// Bytes the replicas of `pools` hold.
fn held(c: &migration_core::driver::sim::Cluster, pools: &[&str]) -> u64 {
    pools.iter().map(|p| c.repository(p).used()).sum()
}

#[test]
fn the_limit_holds_for_every_copy_a_file_needs() {
    // `-replicas=2`: each file crosses the network twice, and the job moves 10 MiB/s in all.
    // Charged once a file, it moved twice the limit.
    let mut c = cluster(1, &["pool1", "pool2", "pool3"]);
    c.start();
    for i in 1..=2000 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 1 << 20, vec![]);
    }
    ok(&mut c, "pool1", "migration copy -concurrency=16 -replicas=2 -bandwidth=10M pool2 pool3");
    c.run_for(10_000); // past the first second's burst
    let targets = ["pool2", "pool3"];
    let (t0, b0) = (c.now(), held(&c, &targets));
    c.run_for(MINUTE);
    let rate = (held(&c, &targets) - b0) as f64 / ((c.now() - t0) as f64 / 1000.0);
    let limit = (10u64 << 20) as f64;
    assert!((rate - limit).abs() / limit < 0.10, "{rate:.0} B/s copied against a limit of {limit:.0}");
}

#[test]
fn the_limit_holds_when_answers_come_late_or_out_of_order() {
    // Deliveries delayed up to 1 s at random: a target's word that its copy finished can
    // overtake its answer to the copy request, which can also come after the task stopped
    // waiting for it. Every such copy still moved the file's bytes and is charged.
    let mut c = two_pools();
    for i in 1..=3000 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 1 << 20, vec![]);
    }
    c.faults.max_extra_delay = 1_000;
    ok(&mut c, "pool1", "migration copy -concurrency=64 -bandwidth=10M pool2");
    c.run_for(10_000);
    let (t0, b0) = (c.now(), held(&c, &["pool2"]));
    c.run_for(MINUTE);
    let rate = (held(&c, &["pool2"]) - b0) as f64 / ((c.now() - t0) as f64 / 1000.0);
    let limit = (10u64 << 20) as f64;
    assert!(rate < 1.10 * limit, "{rate:.0} B/s copied against a limit of {limit:.0}");
    assert!(rate > 0.80 * limit, "{rate:.0} B/s: the job kept going");
}

#[test]
fn files_that_move_no_bytes_are_not_held_to_the_limit() {
    // Every target holds the file already: the tasks only update its replicas (made precious
    // here), and no byte crosses the network. Charged by size, 200 MiB at 1 MiB/s took 200 s.
    let mut c = two_pools();
    for i in 1..=200 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 1 << 20, vec![]);
        put(&mut c, "pool2", &format!("{i:X}"), Cached, 1 << 20, vec![]);
    }
    ok(&mut c, "pool1", "migration copy -concurrency=4 -bandwidth=1M pool2");
    let t0 = c.now();
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 200);
    assert!(c.repository("pool2").entries().iter().all(|e| e.state == Precious), "every replica was updated");
    let took = c.now() - t0;
    assert!(took < 20_000, "updates of 200 MiB held to 1 MiB/s: {took} ms");
}

#[test]
fn a_permanent_job_keeps_its_bandwidth_across_a_restart() {
    let mut c = two_pools();
    ok(&mut c, "pool1", "migration copy -permanent -id=slow pool2");
    ok(&mut c, "pool1", "migration set bandwidth slow 1M");
    let lines = c.pool("pool1").module.setup_lines();
    assert!(lines.contains(&"migration set bandwidth slow 1048576".to_string()), "{lines:?}");
    let errors = c.restart("pool1");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(c.job("pool1", "slow").bandwidth(), Some(1 << 20));
}

// ── Explain ────────────────────────────────────────────────────────────────────────────

#[test]
fn explain_names_the_rule_that_excluded_each_pool() {
    let mut c = cluster(5, &["pool1", "pool2", "pool3", "pool4", "pool5", "pool6"]);
    c.start();
    c.set_online("pool6", false);
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    ok(
        &mut c,
        "pool1",
        "migration copy -exclude=pool3 -exclude-when=\"target.name=='pool4'\" -target=pool pool1 pool2 pool3 pool4 pool5 pool6",
    );
    c.run_for(1_000);
    let text = ok(&mut c, "pool1", "migration explain 1");
    let line = |pool: &str| {
        text.lines().find(|l| l.starts_with(&format!("{pool} "))).unwrap_or_else(|| panic!("{pool} in {text}"))
    };
    assert!(line("pool1").ends_with("the source pool"), "{text}");
    assert!(line("pool2").ends_with("target, weight 50.0%"), "{text}");
    assert!(line("pool3").ends_with("excluded by -exclude=pool3"), "{text}");
    assert!(line("pool4").ends_with("excluded by -exclude-when=target.name=='pool4' (true)"), "{text}");
    assert!(line("pool5").ends_with("target, weight 50.0%"), "{text}");
    assert!(line("pool6").ends_with("offline"), "{text}");
    assert!(!text.contains("No targets"), "{text}");
}

#[test]
fn no_targets_always_comes_with_its_reason() {
    let mut c = cluster(5, &["pool1", "pool2", "pool3"]);
    c.start();
    put(&mut c, "pool1", "A", Precious, 10, vec![]);
    ok(&mut c, "pool1", "migration copy -include-when=target.free<0 -target-deficit-mode=limit pool2 pool3");
    ok(&mut c, "pool1", "migration copy -include-when=target.free<0 -id=wait pool2 pool3");
    c.run_for(MINUTE);
    let texts = notes(&c, "pool1", "wait");
    assert_eq!(texts.iter().filter(|n| n.starts_with("No targets: pool2 not included")).count(), 1, "once: {texts:?}");
    let text = ok(&mut c, "pool1", "migration explain 1");
    assert!(text.contains("pool2  not included by -include-when=target.free<0 (false)"), "{text}");
    assert!(text.ends_with("No targets: no pool passes the rules above\n"), "{text}");
    let texts = notes(&c, "pool1", "1");
    assert!(texts.iter().any(|n| n.starts_with("No targets: pool2 not included by -include-when")), "{texts:?}");
    assert_eq!(err(&mut c, "pool1", "migration explain 9").kind, ErrorKind::NotFound);
}

#[test]
fn an_ended_job_keeps_the_rate_it_had() {
    let mut c = two_pools();
    for i in 1..=50 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 50_000_000, vec![]);
    }
    ok(&mut c, "pool1", "migration copy pool2");
    assert!(c.run_until_jobs_end(HOUR));
    let at_end = c.job("pool1", "1").rate(c.now()).expect("a rate");
    c.run_for(HOUR);
    assert_eq!(c.job("pool1", "1").rate(c.now()), Some(at_end), "frozen when the job ended");
    assert_eq!(c.job("pool1", "1").eta(c.now()), None);
}

// ── Dry run ────────────────────────────────────────────────────────────────────────────

fn plan_value(text: &str, label: &str) -> String {
    let line = text.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("{label} in {text}"));
    line[label.len()..].trim_start_matches([' ', ':']).to_string()
}

/// A dry run counts the copies its tasks could make, and the real job then makes them: no
/// more copies of a file than targets without one (`-replicas` beyond the targets), no
/// copies for a `-meta-only` job, which only updates copies, and no file that is no longer
/// cached or precious when read (a task drops it).
///
/// Catches: the plan counting `-replicas` copies whatever the targets, copies for a meta-only
/// job, or a BROKEN replica among the files to copy.
#[test]
fn a_dry_run_counts_only_the_copies_its_tasks_could_make() {
    use migration_core::mode::RepositoryChange;
    use migration_core::replica::ReplicaState::Broken;
    let setup = |c: &mut migration_core::driver::sim::Cluster| {
        c.start();
        for i in 1..=4 {
            put(c, "pool1", &format!("{i:X}"), Precious, 1000, vec![]);
        }
        put(c, "pool2", "1", Cached, 1000, vec![]);
        let broken = RepositoryChange::SetState { state: Broken, reason: "disk error".into() };
        c.faults.changed_before_task_read.insert(id("4"), broken);
    };
    let copies = |c: &migration_core::driver::sim::Cluster| -> usize {
        (1..=4).map(|i| creations(c, "pool2", &format!("{i:X}")) + creations(c, "pool3", &format!("{i:X}"))).sum()
    };

    let mut c = cluster(11, &["pool1", "pool2", "pool3"]);
    setup(&mut c);
    ok(&mut c, "pool1", "migration copy -dry-run -replicas=3 -target-deficit-mode=limit pool2 pool3");
    c.run_for(MINUTE);
    let plan = full_info(&mut c, "pool1", "dry-run-1");
    assert_eq!(plan_value(&plan, "Matching"), "4 files; 4000 bytes", "{plan}");
    // File 1 has a copy on pool2 and one target without; files 2 and 3 have two.
    assert_eq!(plan_value(&plan, "To copy"), "3 files; 3000 bytes; 5 copies", "{plan}");
    assert_eq!(plan_value(&plan, "Short"), "3 files have fewer targets without a copy than -replicas asks");
    assert_eq!(plan_value(&plan, "Skipped"), "0 deleted, 0 not located, 1 neither cached nor precious");
    ok(&mut c, "pool1", "migration copy -replicas=3 -target-deficit-mode=limit pool2 pool3");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(copies(&c), 1 + 5, "the copy there before, and the five the plan counted");
    assert!(entry(&c, "pool2", "4").is_none() && entry(&c, "pool3", "4").is_none(), "the broken replica");

    let mut c = cluster(11, &["pool1", "pool2", "pool3"]);
    setup(&mut c);
    ok(&mut c, "pool1", "migration copy -dry-run -meta-only pool2 pool3");
    c.run_for(MINUTE);
    let plan = full_info(&mut c, "pool1", "dry-run-1");
    assert_eq!(plan_value(&plan, "On targets"), "1 files already have their copies there (updated, not copied)");
    assert_eq!(plan_value(&plan, "To copy"), "0 files; 0 bytes; 0 copies", "{plan}");
    assert_eq!(
        plan_value(&plan, "Skipped"),
        "0 deleted, 0 not located, 1 neither cached nor precious, 2 with too few copies to update (-meta-only)"
    );
    ok(&mut c, "pool1", "migration copy -meta-only pool2 pool3");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(copies(&c), 1, "only the copy there before");
}

#[test]
fn a_dry_run_changes_nothing_and_predicts_what_the_job_then_does() {
    let mut c = cluster(11, &["pool1", "pool2", "pool3"]);
    c.start();
    for i in 1..=10 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 10_000_000 * i, vec![]);
    }
    for i in [2, 5, 7] {
        put(&mut c, "pool2", &format!("{i:X}"), migration_core::replica::ReplicaState::Cached, 10_000_000 * i, vec![]);
    }
    let started = ok(&mut c, "pool1", "migration move -dry-run pool2 pool3");
    assert!(started.starts_with("[dry-run-1] INITIALIZING migration move -dry-run pool2 pool3"), "{started}");
    c.run_for(MINUTE);
    let plan = full_info(&mut c, "pool1", "dry-run-1");
    assert!(plan.contains("State      : FINISHED\n"), "{plan}");
    assert!(plan.contains("Dry run    : nothing was copied or changed\n"), "{plan}");
    assert_eq!(plan_value(&plan, "Matching"), "10 files; 550000000 bytes");
    assert_eq!(plan_value(&plan, "On targets"), "3 files already have their copies there (updated, not copied)");
    assert_eq!(plan_value(&plan, "To copy"), "7 files; 410000000 bytes; 7 copies");
    assert!(plan_value(&plan, "Spread").starts_with("pool2 ~"), "{plan}");
    assert!(plan_value(&plan, "Estimate").ends_with("(assumed: no recent transfers)"), "{plan}");

    // Nothing changed, nothing is listed or saved.
    assert_eq!((c.repository("pool1").len(), c.repository("pool2").len(), c.repository("pool3").len()), (10, 3, 0));
    assert_eq!(c.pool("pool1").module.locked_files(), 0);
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "");
    assert!(!ok(&mut c, "pool1", "migration metrics").contains("dry-run"));

    // The real move then does what the plan said: 7 new copies, 3 updates.
    ok(&mut c, "pool1", "migration move pool2 pool3");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(c.job("pool1", "1").statistics().completed_files, 10);
    let created: usize =
        (1..=10).map(|i| creations(&c, "pool2", &format!("{i:X}")) + creations(&c, "pool3", &format!("{i:X}"))).sum();
    assert_eq!(created, 3 + 7, "3 replicas were there before, 7 were copied");
    assert_eq!(c.repository("pool1").len(), 0);

    // A second plan estimates from the pool's own recent pace.
    for i in 11..=12 {
        put(&mut c, "pool1", &format!("{i:X}"), Precious, 1000, vec![]);
    }
    ok(&mut c, "pool1", "migration copy -dry-run pool2 pool3");
    c.run_for(MINUTE);
    let plan = full_info(&mut c, "pool1", "dry-run-3");
    assert!(plan_value(&plan, "Estimate").ends_with("(this pool's recent rate)"), "{plan}");
    assert_eq!(
        err(&mut c, "pool1", "migration copy -dry-run -permanent pool2").message,
        "A dry run plans the files that match now; it cannot be permanent"
    );

    // An operator's job named like the next dry run keeps its name to itself: the dry run
    // takes the next free one, and each answers to its own.
    let job = ok(&mut c, "pool1", "migration copy -id=dry-run-5 -state=cached pool2");
    assert!(job.starts_with("[dry-run-5] "), "{job}");
    let plan = ok(&mut c, "pool1", "migration copy -dry-run pool2 pool3");
    assert!(plan.starts_with("[dry-run-6] "), "{plan}");
    // Named by the operator, a dry run keeps the name.
    let named = ok(&mut c, "pool1", "migration copy -dry-run -id=plan pool2 pool3");
    assert!(named.starts_with("[plan] "), "{named}");

    // A bandwidth limit does not hold back a plan (it moves nothing) but bounds its estimate:
    // at 1 kB/s, the second of two files of 1 MB would wait some 17 minutes for the first.
    put(&mut c, "pool1", "13", Precious, 1_000_000, vec![]);
    put(&mut c, "pool1", "14", Precious, 1_000_000, vec![]);
    ok(&mut c, "pool1", "migration copy -dry-run -id=limited -bandwidth=1k pool2 pool3");
    c.run_for(1_000);
    let plan = full_info(&mut c, "pool1", "limited");
    assert!(plan.contains("State      : FINISHED\n"), "{plan}");
    assert!(plan_value(&plan, "Estimate").ends_with("(the job's bandwidth limit)"), "{plan}");

    // The pace of a job that completed its last file over an hour ago is not the pool's
    // recent one: the estimate says it assumed a rate.
    c.run_for(HOUR + MINUTE);
    ok(&mut c, "pool1", "migration copy -dry-run -id=later pool2 pool3");
    c.run_for(1_000);
    let plan = full_info(&mut c, "pool1", "later");
    assert!(plan_value(&plan, "Estimate").ends_with("(assumed: no recent transfers)"), "{plan}");
}
