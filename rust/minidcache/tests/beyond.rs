//! The additions beyond dCache (issue #13) through minidcache's shell: one scripted session
//! per addition, on real pools on disk.

mod common;

use common::{Session, session as shell};
use minidcache::Reply;

fn run(sh: &mut Session, line: &str) -> String {
    match sh.shell.execute(line) {
        Reply::Output(text) => text,
        other => panic!("{line}: unexpected {other:?}"),
    }
}

#[test]
fn a_session_shows_pace_explain_metrics_and_repeated_options() {
    let mut sh = shell(&["pool1", "pool2", "pool3"]);
    run(&mut sh, "\\c pool1");
    assert!(run(&mut sh, "populate -files=30 -size=10000").starts_with("Created 30 files"));

    // Repeated options are refused and create nothing.
    let refused = run(&mut sh, "migration copy -smode=delete -smode=cached pool2");
    assert!(refused.contains("Option -smode is given twice with different values: delete and cached"), "{refused}");
    assert_eq!(run(&mut sh, "migration ls"), "");

    // A bandwidth-limited copy runs long enough to show its pace.
    assert_eq!(
        run(&mut sh, "migration copy -bandwidth=50K -exclude=pool3 pool2 pool3"),
        "[1] INITIALIZING migration copy -bandwidth=50K -exclude=pool3 pool2 pool3\n"
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let info = run(&mut sh, "migration info 1");
    assert!(
        info.contains("\nStarted    : ") && info.contains("\nRate       : ") && info.contains("\nETA        : "),
        "{info}"
    );
    assert!(info.contains("\nBandwidth  : 51200 bytes/s\n"), "{info}");

    let explain = run(&mut sh, "migration explain 1");
    assert!(explain.contains("pool2  target, weight 100.0%"), "{explain}");
    assert!(explain.contains("pool3  excluded by -exclude=pool3"), "{explain}");

    let metrics = run(&mut sh, "migration metrics");
    assert!(metrics.contains("# TYPE dcache_migration_job_files_completed_total counter"), "{metrics}");
    assert!(metrics.contains("dcache_migration_job_state{pool=\"pool1\",job=\"1\",state=\"RUNNING\"} 1"), "{metrics}");

    // Lifting the limit lets it finish.
    assert_eq!(run(&mut sh, "migration set bandwidth 1 0"), "[1] Bandwidth set to 0 bytes/s\n");
    assert_eq!(run(&mut sh, "wait 1"), "[1] FINISHED     migration copy -bandwidth=50K -exclude=pool3 pool2 pool3\n");
    run(&mut sh, "\\c pool2");
    assert_eq!(run(&mut sh, "rep ls").lines().count(), 30);
}

#[test]
fn a_session_shows_quarantine_and_the_incoming_cap() {
    let mut sh = shell(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    assert!(run(&mut sh, "populate -files=3 -size=1000").starts_with("Created 3 files"));
    // The target refuses every copy: with -max-attempts the job gives up on each file.
    run(&mut sh, "\\c pool2");
    run(&mut sh, "pool disable -strict");
    run(&mut sh, "\\c pool1");
    run(&mut sh, "migration copy -max-attempts=2 pool2");
    assert_eq!(run(&mut sh, "wait 1"), "[1] FINISHED     migration copy -max-attempts=2 pool2\n");
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Quarantined: 3 files (migration retry 1 tries them again)"), "{info}");
    assert!(info.contains(": 2 attempts, last: Pool [pool2@local] failed (Pool is disabled) (rc=104)"), "{info}");

    run(&mut sh, "\\c pool2");
    run(&mut sh, "pool enable");
    assert_eq!(run(&mut sh, "migration set max-incoming 1"), "Maximum incoming copies set to 1\n");
    run(&mut sh, "\\c pool1");
    assert_eq!(run(&mut sh, "migration retry 1"), "[1] 3 quarantined files queued again\n");
    assert_eq!(run(&mut sh, "wait 1"), "[1] FINISHED     migration copy -max-attempts=2 pool2\n");
    assert!(!run(&mut sh, "migration info 1").contains("Quarantined: "));
    run(&mut sh, "\\c pool2");
    assert_eq!(run(&mut sh, "rep ls").lines().count(), 3);
    assert_eq!(run(&mut sh, "migration get max-incoming"), "Current maximum incoming copies: 1\n");
}

#[test]
fn a_session_shows_a_dry_run() {
    let mut sh = shell(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    assert!(run(&mut sh, "populate -files=5 -size=1000").starts_with("Created 5 files"));
    assert_eq!(
        run(&mut sh, "migration move -dry-run pool2"),
        "[dry-run-1] INITIALIZING migration move -dry-run pool2\n"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut info = String::new();
    while std::time::Instant::now() < deadline {
        info = run(&mut sh, "migration info dry-run-1");
        if info.contains("State      : FINISHED") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(info.contains("To copy    : 5 files; 5000 bytes; 5 copies\n"), "{info}");
    assert_eq!(run(&mut sh, "migration ls"), "");
    assert_eq!(run(&mut sh, "rep ls").lines().count(), 5, "nothing moved");
    run(&mut sh, "\\c pool2");
    assert_eq!(run(&mut sh, "rep ls"), "");
}
