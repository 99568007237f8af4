//! Target selection and lifetime expressions (spec §3.4–3.5, §8, §10): the predicates are
//! evaluated on real pool data, the job notices when a refresh changes the answer, and the
//! pause/stop conditions drive the job by themselves on the simulated clock.

mod common;

use common::{cluster, info, ok, put};
use migration_core::job::JobState;
use migration_core::replica::ReplicaState::{Cached, Precious};

const HOUR: i64 = 3_600_000;

#[test]
fn exclude_when_excludes_a_nearly_full_pool_and_notices_when_a_refresh_changes_that() {
    let mut c = cluster(11, &["pool1", "pool2", "pool3"]);
    c.pool_mut("pool2").capacity = 1_000_000;
    c.pool_mut("pool3").capacity = 10_000_000;
    // pool2 is nearly full: 600 kB free of 1 MB is below the 700 kB threshold.
    put(&mut c, "pool2", "F", Cached, 400_000, vec![]);
    for n in 1..=4 {
        put(&mut c, "pool1", &format!("{n}"), Precious, 1_000, vec![]);
    }
    c.start();
    ok(&mut c, "pool1", "migration copy -permanent -refresh=60 -exclude-when='target.free < 700000' pool2 pool3");
    c.run_for(30_000);
    assert!(info(&mut c, "pool1", "1").contains("Targets    : pool3\n"));
    assert_eq!(c.repository("pool2").len(), 1, "nothing copied to the excluded pool");
    assert_eq!(c.repository("pool3").len(), 4);

    // Space is freed on pool2; after the next refresh the job sees it again.
    use migration_core::host::Repository;
    c.repository("pool2")
        .set_state(&common::id("F"), migration_core::replica::ReplicaState::Removed, "gc")
        .expect("ok");
    c.run_for(61_000);
    assert!(info(&mut c, "pool1", "1").contains("Targets    : pool2,pool3\n"));
}

#[test]
fn include_when_compares_target_and_source_data() {
    let mut c = cluster(12, &["pool1", "pool2", "pool3"]);
    c.pool_mut("pool2").capacity = 100_000;
    put(&mut c, "pool1", "A", Cached, 1_000, vec![]);
    c.start();
    ok(&mut c, "pool1", "migration copy -include-when='target.total > source.total * (1 - 0.1)' pool2 pool3");
    assert!(c.run_until_jobs_end(HOUR));
    assert!(info(&mut c, "pool1", "1").contains("Targets    : pool3\n"));
    assert!(common::entry(&c, "pool3", "A").is_some());
}

#[test]
fn stop_when_ends_the_job_finished_with_files_left() {
    let mut c = cluster(13, &["pool1", "pool2"]);
    for n in 1..=10 {
        put(&mut c, "pool1", &format!("{n}"), Cached, 1_000, vec![]);
    }
    c.start();
    ok(&mut c, "pool1", "migration copy -stop-when='queue.files < 5' pool2");
    assert!(c.run_until_jobs_end(HOUR));
    let job = c.job("pool1", "1");
    assert_eq!(job.state(), JobState::Finished);
    // Tasks start while at least 5 are queued; the check comes before each start.
    assert_eq!(c.repository("pool2").len(), 6, "stopped with four files left");
}

#[test]
fn pause_when_pauses_and_resumes_by_itself() {
    let mut c = cluster(14, &["pool1", "pool2"]);
    c.pool_mut("pool2").capacity = 10_000;
    for n in 1..=3 {
        put(&mut c, "pool1", &format!("{n}"), Cached, 1_000, vec![]);
    }
    // pool1 holds 3 kB; the job pauses while the source has less than 1 MB free.
    c.pool_mut("pool1").capacity = 1_000_000;
    c.start();
    ok(&mut c, "pool1", "migration copy -refresh=5 -pause-when='source.free < 1000000' pool2");
    c.run_for(60_000);
    assert_eq!(c.job("pool1", "1").state(), JobState::Paused, "R2 fixed: shows PAUSED, not SLEEPING");
    assert_eq!(c.repository("pool2").len(), 0);

    // The pool grows: the next 10-second check after a refresh resumes the job.
    c.pool_mut("pool1").capacity = 100_000_000;
    assert!(c.run_until_jobs_end(60_000));
    assert_eq!(c.job("pool1", "1").state(), JobState::Finished);
    assert_eq!(c.repository("pool2").len(), 3);
}

#[test]
fn pool_group_target_copies_to_the_members_and_excludes_the_source() {
    let mut c = cluster(15, &["pool1", "pool2", "pool3", "pool4", "pool5", "pool6"]);
    let members: Vec<String> = ["pool2", "pool3", "pool4", "pool5", "pool6"].iter().map(|s| s.to_string()).collect();
    c.groups.insert("cache_pools".into(), members);
    for n in 1..=40 {
        put(&mut c, "pool1", &format!("{n}"), Precious, 1_000, vec![]);
    }
    c.start();
    ok(&mut c, "pool1", "migration cache -target=pgroup -accessed=0..2592000 -storage=atlas:default@osm cache_pools");
    assert!(c.run_until_jobs_end(HOUR));
    let out = info(&mut c, "pool1", "1");
    assert!(out.contains("Targets    : pool group cache_pools, 5 pools\n"), "{out}");
    let copies: usize = ["pool2", "pool3", "pool4", "pool5", "pool6"].iter().map(|p| c.repository(p).len()).sum();
    assert_eq!(copies, 40);
    let used = ["pool2", "pool3", "pool4", "pool5", "pool6"].iter().filter(|p| !c.repository(p).is_empty()).count();
    assert!(used >= 4, "proportional selection spreads the copies: {used} pools used");
    for p in ["pool2", "pool3", "pool4", "pool5", "pool6"] {
        assert!(c.repository(p).entries().iter().all(|e| e.state == Cached), "cache marks copies cached");
    }
    assert!(c.repository("pool1").entries().iter().all(|e| e.state == Precious), "source untouched");
}

#[test]
fn pgroup_without_names_uses_the_source_pools_group_and_fails_when_it_has_several() {
    let mut c = cluster(16, &["pool1", "pool2", "pool3"]);
    c.groups.insert("g".into(), vec!["pool1".into(), "pool2".into()]);
    put(&mut c, "pool1", "A", Cached, 1_000, vec![]);
    c.start();
    ok(&mut c, "pool1", "migration copy -target=pgroup");
    assert!(c.run_until_jobs_end(HOUR));
    assert!(common::entry(&c, "pool2", "A").is_some());

    c.groups.insert("h".into(), vec!["pool1".into(), "pool3".into()]);
    ok(&mut c, "pool1", "migration copy -target=pgroup");
    assert!(c.run_until_jobs_end(HOUR));
    assert_eq!(c.job("pool1", "2").state(), JobState::Failed);
    let out = info(&mut c, "pool1", "2");
    assert!(out.contains("Pool pool1 is a member of multiple pool groups: [g, h]"), "{out}");
}

#[test]
fn bad_expressions_name_the_problem_and_create_no_job() {
    let mut c = cluster(17, &["pool1", "pool2"]);
    c.start();
    let cases = [
        ("-exclude-when='target.free <'", "Invalid expression: "),
        ("-exclude-when='queue.files > 1'", "Unknown identifier: queue.files"),
        ("-pause-when='target.free > 1'", "Unknown identifier: target.free"),
        ("-include-when='target.name > 1'", "Type mismatch: Expected DOUBLE, but found STRING"),
        ("-stop-when='queue.files + 1'", "Expression does not evaluate to a boolean"),
        ("-exclude-when=\"target.name =~ '(a'\"", "Invalid expression: "),
    ];
    for (option, message) in cases {
        let e = common::err(&mut c, "pool1", &format!("migration copy {option} pool2"));
        assert!(e.message.starts_with(message), "{option}: {}", e.message);
    }
    assert_eq!(ok(&mut c, "pool1", "migration ls"), "");
}
