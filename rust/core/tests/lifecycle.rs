//! Permanent jobs, `save`/reload, hot-file replication and JSON status (spec §4, §11–§13).

use migration_core::Config;
use migration_core::driver::sim::{Cluster, replica};
use migration_core::host::Repository;
use migration_core::hotfile::ProtocolInfo;
use migration_core::job::JobState;
use migration_core::pnfsid::PnfsId;
use migration_core::replica::ReplicaState;

fn cluster(pools: &[&str]) -> Cluster {
    let mut c = Cluster::new(7, Config::default());
    for p in pools {
        c.add_pool(p);
    }
    c
}

fn id(n: u32) -> String {
    format!("{n:024X}")
}

#[test]
fn permanent_cache_job_copies_new_files_and_files_that_start_to_match() {
    let mut c = cluster(&["pool1", "pool2"]);
    let now = c.now();
    c.add_replica("pool1", replica(&id(1), ReplicaState::Precious, 10, now, vec![]));
    c.add_replica("pool1", replica(&id(2), ReplicaState::Cached, 10, now, vec![]));
    c.start();
    c.execute("pool1", "migration cache -permanent -state=precious pool2").expect("valid");
    c.run_for(60_000);
    assert_eq!(c.repository("pool2").len(), 1, "only the precious file matched at first");
    assert_ne!(c.job("pool1", "1").state(), JobState::Finished, "permanent jobs never finish by themselves");

    // A new precious file arrives (as a client upload would: FROM_CLIENT -> PRECIOUS).
    c.add_replica("pool1", replica(&id(3), ReplicaState::Precious, 10, now, vec![]));
    // The cached file becomes precious and so starts to match.
    c.repository("pool1")
        .set_state(&PnfsId::parse(&id(2)).expect("valid"), ReplicaState::Precious, "test")
        .expect("ok");
    c.run_for(60_000);
    let copied: Vec<String> = c.repository("pool2").entries().iter().map(|e| e.pnfsid.to_string()).collect();
    assert_eq!(copied.len(), 3, "{copied:?}");
    assert!(c.repository("pool2").entries().iter().all(|e| e.state == ReplicaState::Cached));
    let job = c.job("pool1", "1");
    assert!(matches!(job.state(), JobState::Sleeping | JobState::Running), "{:?}", job.state());
    assert_eq!(job.queued(), 0);
}

#[test]
fn permanent_jobs_refuse_order_and_stop_conditions() {
    let mut c = cluster(&["pool1", "pool2"]);
    c.start();
    let e = c.execute("pool1", "migration copy -permanent -order=size pool2").unwrap_err();
    assert_eq!(e.message, "Permanent jobs cannot be ordered");
    let e = c.execute("pool1", "migration copy -permanent -stop-when=\"queue.files < 5\" pool2").unwrap_err();
    assert_eq!(e.message, "Permanent jobs cannot have a stop condition.");
    assert_eq!(c.execute("pool1", "migration ls").expect("ok"), "");
}

#[test]
fn save_writes_permanent_jobs_with_their_id_and_changed_defaults_only() {
    let mut c = cluster(&["pool1", "pool2"]);
    c.start();
    c.execute("pool1", "migration copy pool2").expect("valid");
    c.execute("pool1", "migration cache -permanent -concurrency=3 pool2").expect("valid");
    c.execute("pool1", "migration set refresh-default 60").expect("valid");
    let lines = c.pool("pool1").module.setup_lines();
    assert_eq!(
        lines,
        vec![
            "#",
            "# MigrationModule",
            "#",
            "migration set refresh-default 60",
            "migration cache -id=2 -permanent -concurrency=3 pool2",
            "migration set concurrency 2 3",
        ]
    );
}

/// What an operator changed after a permanent job was made comes back after a restart: a
/// bandwidth limit removed (the command line's `-bandwidth` brought it back), a limit of
/// attempts taken from a default that changed since (the job came back with the new one), and
/// a negative concurrency (saved as a line that read `-1` as an option).
#[test]
fn a_restart_keeps_what_was_changed_after_a_permanent_job_was_made() {
    let mut c = cluster(&["pool1", "pool2"]);
    c.start();
    c.execute("pool1", "migration set max-attempts-default 3").expect("valid");
    c.execute("pool1", "migration copy -permanent -id=slow -bandwidth=1M pool2").expect("valid");
    c.execute("pool1", "migration set max-attempts-default 0").expect("valid");
    c.execute("pool1", "migration set bandwidth slow 0").expect("valid");
    c.execute("pool1", "migration set concurrency slow -- -1").expect("valid");
    assert_eq!(c.job("pool1", "slow").max_attempts(), 3);

    let errors = c.restart("pool1");
    assert!(errors.is_empty(), "{errors:?}");
    let job = c.job("pool1", "slow");
    assert_eq!(job.bandwidth(), None, "the limit stays removed");
    assert_eq!(job.max_attempts(), 3, "the job's own limit");
    assert_eq!(job.concurrency, -1);
}

#[test]
fn reload_restores_the_permanent_job_once_with_its_id_command_and_concurrency() {
    let mut c = cluster(&["pool1", "pool2"]);
    c.start();
    c.execute("pool1", "migration cache -permanent pool2").expect("valid");
    c.execute("pool1", "migration set concurrency 1 4").expect("valid");
    let saved = c.pool("pool1").module.setup_lines();

    // A restarted pool replays its setup.
    let mut fresh = cluster(&["pool1", "pool2"]);
    let errors = fresh.call("pool1", |m, now| m.replay(now, &saved));
    assert!(errors.is_empty(), "{errors:?}");
    fresh.start();
    fresh.run_for(1_000);
    let job = fresh.job("pool1", "1");
    assert_eq!(job.definition.command_line, "migration cache -id=1 -permanent pool2");
    assert_eq!(job.concurrency, 4);

    // Reloading twice (as `reload` of the setup does) never duplicates it.
    for _ in 0..2 {
        let errors = fresh.call("pool1", |m, now| m.reload(now, &saved));
        assert!(errors.is_empty(), "{errors:?}");
        fresh.run_for(1_000);
    }
    let running: Vec<_> = fresh.pool("pool1").module.jobs().filter(|j| !j.state().is_terminal()).collect();

    assert_eq!(running.len(), 1);
    assert_eq!(running[0].id, "1");
    assert_eq!(running[0].concurrency, 4);
}

#[test]
fn cancelled_permanent_jobs_are_not_saved() {
    let mut c = cluster(&["pool1", "pool2"]);
    c.start();
    c.execute("pool1", "migration cache -permanent pool2").expect("valid");
    c.execute("pool1", "migration cancel 1").expect("valid");
    c.run_for(1_000);
    assert_eq!(c.pool("pool1").module.setup_lines().len(), 3, "only the header");
}

#[test]
fn an_injected_newline_is_refused_and_nothing_is_saved() {
    let mut c = cluster(&["pool1", "pool2"]);
    c.start();
    let e = c
        .execute("pool1", "migration copy -permanent -id=\"x\nmigration set concurrency-default 9\" pool2")
        .unwrap_err();
    assert!(e.message.contains("control character"), "{}", e.message);
    assert_eq!(c.pool("pool1").module.setup_lines().len(), 3);
    assert_eq!(c.execute("pool1", "migration ls").expect("ok"), "");
}

fn hot(c: &mut Cluster, pnfsid: &str, readers: i64) {
    let p = PnfsId::parse(pnfsid).expect("valid");
    let protocol = ProtocolInfo { protocol: "DCap".into(), major: 3, minor: 0, client: Some("10.0.0.1".into()) };
    c.call("pool1", |m, _| m.report_readers(p, readers, Some(&protocol)));
}

#[test]
fn hot_file_below_the_threshold_does_nothing_and_above_it_gets_replicas() {
    let mut c = cluster(&["pool1", "pool2", "pool3", "pool4"]);
    let now = c.now();
    c.add_replica("pool1", replica(&id(1), ReplicaState::Precious, 10, now, vec![]));
    c.start();
    c.execute("pool1", "hotfile set threshold 5").expect("valid");
    c.execute("pool1", "hotfile set replicas 2").expect("valid");
    hot(&mut c, &id(1), 4);
    c.run_for(10_000);
    assert_eq!(c.execute("pool1", "migration ls").expect("ok"), "");

    hot(&mut c, &id(1), 5);
    assert!(c.run_until_jobs_end(60_000));
    let job_id = format!("hotfile-{}", id(1));
    let job = c.job("pool1", &job_id);
    assert_eq!(job.state(), JobState::Finished);
    assert_eq!(job.summary(), format!("[{job_id}] FINISHED     hotfile replication for {}", id(1)));
    let copies = ["pool2", "pool3", "pool4"].iter().filter(|p| c.repository(p).len() == 1).count();
    assert_eq!(copies, 2);
    assert_eq!(c.repository("pool1").entries()[0].state, ReplicaState::Precious, "source unchanged");
}

/// Makes files 1..=`files` hot on pool1 (threshold 1) one after the other, each job run to its
/// end, and lists pool1's jobs afterwards.
fn jobs_after_hot_files(c: &mut Cluster, files: u32) -> Vec<String> {
    c.execute("pool1", "hotfile set threshold 1").expect("valid");
    for n in 1..=files {
        hot(c, &id(n), 1);
        assert!(c.run_until_jobs_end(60_000));
    }
    c.pool("pool1").module.jobs().map(|j| j.id.clone()).collect()
}

#[test]
fn the_fifty_first_finished_hot_file_job_evicts_the_oldest() {
    let mut c = cluster(&["pool1", "pool2"]);
    let now = c.now();
    for n in 1..=51 {
        c.add_replica("pool1", replica(&id(n), ReplicaState::Precious, 10, now, vec![]));
    }
    c.start();
    let jobs = jobs_after_hot_files(&mut c, 51);
    assert_eq!(jobs.len(), 50);
    assert!(!jobs.contains(&format!("hotfile-{}", id(1))), "the oldest was evicted");
    assert!(jobs.contains(&format!("hotfile-{}", id(51))));
}

/// A job an operator named `hotfile-…` is not a hot-file job: the cap on finished hot-file
/// jobs neither counts nor removes it.
///
/// Catches: the cap telling hot-file jobs by their id's prefix.
#[test]
fn a_job_named_like_a_hot_file_job_is_not_pruned_with_them() {
    let mut c = cluster(&["pool1", "pool2"]);
    let now = c.now();
    for n in 1..=52 {
        c.add_replica("pool1", replica(&id(n), ReplicaState::Precious, 10, now, vec![]));
    }
    c.start();
    c.execute("pool1", &format!("migration copy -id=hotfile-mine -pnfsid={} pool2", id(52))).expect("valid");
    assert!(c.run_until_jobs_end(60_000));
    let jobs = jobs_after_hot_files(&mut c, 51);
    assert!(jobs.iter().any(|j| j == "hotfile-mine"), "the operator's job was pruned: {jobs:?}");
    assert_eq!(jobs.len(), 51, "50 hot-file jobs and the operator's");
    assert!(!jobs.contains(&format!("hotfile-{}", id(1))), "the oldest hot-file job was evicted");
}

#[test]
fn json_status_parses_and_matches_migration_info() {
    let mut c = cluster(&["pool1", "pool2"]);
    let now = c.now();
    for n in 1..=3 {
        c.add_replica("pool1", replica(&id(n), ReplicaState::Cached, 100 * u64::from(n), now, vec![]));
    }
    c.start();
    c.execute("pool1", "migration copy pool2").expect("valid");
    assert!(c.run_until_jobs_end(60_000));
    let info = c.execute("pool1", "migration info 1").expect("ok");
    let json: serde_json::Value =
        serde_json::from_str(&c.execute("pool1", "migration info -json 1").expect("ok")).expect("json");
    assert_eq!(json["state"], "FINISHED");
    assert_eq!(json["attempts"], 3);
    assert!(info.contains(&format!("Completed  : {} files; {} bytes\n", json["completedFiles"], json["transferred"])));
    assert!(info.contains(&format!("Total      : {} bytes\n", json["total"])));
    assert_eq!(json["targets"], serde_json::json!(["pool2"]));
    let all: serde_json::Value =
        serde_json::from_str(&c.execute("pool1", "migration ls -json").expect("ok")).expect("json");
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let status = serde_json::to_value(c.pool("pool1").module.status(c.now())).expect("json");
    assert_eq!(status["label"], "Migration");
    assert_eq!(status["jobInfo"][0], c.job("pool1", "1").summary());
}
