//! The test bed's situations as admin-shell scripts (`tests/transcripts/*.script`): each is
//! played through the shell on pools on disk, and the assertions read its transcript as an
//! operator would, plus what only the disk can tell (no file lost, every checksum intact).
//! `cargo test -p minidcache --test transcripts -- --nocapture` prints the transcripts.

mod common;

use std::collections::HashMap;

use common::{Session, session_with};
use migration_core::PnfsId;
use minidcache::ClusterConfig;
use minidcache::repository::checksum_file;

/// A played script's transcript.
struct Transcript {
    text: String,
}

impl Transcript {
    /// The outputs of every `command` typed in `cell`, in order.
    fn outputs(&self, cell: &str, command: &str) -> Vec<&str> {
        let echo = format!("({cell}) admin > {command}\n");
        let mut found = Vec::new();
        let mut rest = self.text.as_str();
        while let Some(at) = rest.find(&echo) {
            let output = &rest[at + echo.len()..];
            // The output ends where the next prompt begins.
            let end = output.match_indices('\n').map(|(i, _)| i + 1).find(|i| {
                let line = &output[*i..];
                line.starts_with('(') && line.split('\n').next().is_some_and(|l| l.contains(") admin > "))
            });
            let end = if output.starts_with('(') && output.lines().next().is_some_and(|l| l.contains(") admin > ")) {
                Some(0)
            } else {
                end
            };
            found.push(&output[..end.unwrap_or(output.len())]);
            rest = &output[end.unwrap_or(output.len())..];
        }
        found
    }

    /// The output of the first `command` typed in `cell`.
    fn output(&self, cell: &str, command: &str) -> &str {
        self.outputs(cell, command)
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no ({cell}) {command} in\n{}", self.text))
    }
}

/// Plays `tests/transcripts/<name>.script` on the pools and with the pool timeout its header
/// names (`# pools: …`, `# pool-timeout: <seconds>`).
fn play(name: &str) -> (Session, Transcript) {
    let path = format!("{}/tests/transcripts/{name}.script", env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(&path).expect("script");
    let header = |key: &str| script.lines().find_map(|l| l.strip_prefix(&format!("# {key}: "))).map(str::trim);
    let pools: Vec<&str> = header("pools").expect("# pools: header").split(',').collect();
    let mut config = ClusterConfig::new("").with_pools(&pools);
    if let Some(secs) = header("pool-timeout") {
        config.module.pool_timeout = secs.parse::<i64>().expect("seconds") * 1000;
    }
    let mut session = session_with(config);
    let text = session.shell.run_script(&script);
    eprintln!("---- {name}\n{text}");
    (session, Transcript { text })
}

/// Every file of the namespace: where its replicas are, and whether each replica's data still
/// matches the ADLER32 recorded when the file was created.
fn replicas(session: &Session) -> HashMap<PnfsId, Vec<String>> {
    let cluster = session.shell.cluster();
    let mut found = HashMap::new();
    for file in cluster.namespace().files() {
        let id = file.attributes.pnfsid;
        let sum = &file.attributes.checksums.iter().find(|c| c.kind == "ADLER32").expect("adler32").value;
        let mut pools = Vec::new();
        for pool in cluster.pool_names() {
            let node = cluster.pool(&pool).expect("pool");
            if node.repository.entries().iter().any(|e| e.pnfsid == id) {
                let (actual, _) = checksum_file(&node.repository.data_path(&id)).expect("data");
                assert_eq!(&actual, sum, "{id} on {pool}");
                pools.push(pool);
            }
        }
        found.insert(id, pools);
    }
    found
}

#[test]
fn a_target_stopped_during_a_move_leaves_the_rest_to_the_other_target() {
    let (session, t) = play("target_down_during_move");
    assert_eq!(t.output("local", "dcache stop pool2"), "Stopping pool2 done\n");
    let pools = t.output("PoolManager", "psu ls pool -l");
    assert!(pools.contains("pool2  (enabled=true;active=no;"), "the pool manager reports pool2 dead:\n{pools}");
    let info = t.output("pool1", "migration info 1");
    assert!(info.contains("(no route to cell)\n"), "copies to pool2 failed:\n{info}");
    match t.output("pool1", "wait 1 -timeout=20") {
        "[1] FINISHED     migration move -refresh=2 pool2 pool3\n" => {
            assert!(info.contains("Completed  : 300 files; 6000000 bytes\n"), "{info}");
        }
        // The stop caught a copy to pool2 that pool2 completed: that file waits for pool2.
        "Timed out waiting for job 1\n" => {
            assert!(info.contains(": Remote pool failed (no route to cell)\n"), "{info}");
            assert!(info.contains("Queued     : 1\n") || info.contains("Running tasks:\n["), "{info}");
        }
        other => panic!("unexpected: {other}"),
    }
    assert_eq!(
        t.outputs("pool1", "wait 1 -timeout=60").last().copied(),
        Some("[1] FINISHED     migration move -refresh=2 pool2 pool3\n")
    );
    assert_eq!(t.output("pool1", "rep ls"), "");
    let on_pool2 = t.output("pool2", "info");
    assert!(!on_pool2.contains("Files      : 0 "), "pool2 came back with what it had:\n{on_pool2}");

    let replicas = replicas(&session);
    assert_eq!(replicas.len(), 300);
    let mut per_pool: HashMap<&str, usize> = HashMap::new();
    for (id, pools) in &replicas {
        assert_eq!(pools.len(), 1, "{id}: {pools:?}");
        *per_pool.entry(pools[0].as_str()).or_default() += 1;
    }
    // Before the stop the job chose between pool2 and pool3 (at random, by free space).
    assert!(per_pool.contains_key("pool2") && per_pool.contains_key("pool3"), "{per_pool:?}");
}

#[test]
fn the_only_target_stopped_makes_the_move_sleep_until_it_starts_again() {
    let (session, t) = play("target_down_only_target");
    assert_eq!(t.output("pool1", "wait 1 -timeout=8"), "Timed out waiting for job 1\n");
    let info = t.output("pool1", "migration info 1");
    assert!(info.contains("State      : SLEEPING\n"), "{info}");
    assert!(info.contains("Targets    : \n"), "no online target:\n{info}");
    assert!(info.contains("Pool [pool2@local] failed (no route to cell)"), "{info}");
    let after = t.outputs("pool1", "wait 1 -timeout=120");
    assert_eq!(after.last().copied(), Some("[1] FINISHED     migration move -refresh=2 pool2\n"));
    assert_eq!(t.output("pool1", "rep ls"), "");
    let replicas = replicas(&session);
    assert_eq!(replicas.len(), 100);
    assert!(replicas.values().all(|pools| pools == &["pool2"]), "every file moved to pool2 only");
}

#[test]
fn a_source_restarted_mid_move_finishes_on_a_rerun_without_copying_a_file_twice() {
    let (session, t) = play("source_restarted_mid_job");
    assert_eq!(
        t.output("local", "dcache stop pool1"),
        "Stopping pool1 done\n  job 1 cancelled (pool shutdown): migration move pool2\n"
    );
    assert_eq!(t.output("pool1", "migration ls"), "", "a plain job is not saved");
    assert!(
        t.output("pool1", "info").starts_with("Pool       : pool1 (enabled)\n"),
        "the restart forgets pool disable"
    );
    let waits = t.outputs("pool1", "wait 1 -timeout=120");
    assert_eq!(waits, ["[1] FINISHED     migration move pool2\n"]);
    assert_eq!(t.output("pool1", "rep ls"), "");
    let pool2 = t.output("pool2", "info");
    assert!(pool2.contains("Files      : 300 (300 precious, 0 sticky)\n"), "{pool2}");
    // pool2 ran throughout: every file arrived exactly once, across both runs of the move.
    assert!(pool2.contains("P2P in     : 300 files; 6000000 bytes\n"), "{pool2}");
    let replicas = replicas(&session);
    assert_eq!(replicas.len(), 300);
    assert!(replicas.values().all(|pools| pools == &["pool2"]));
}

#[test]
fn a_saved_permanent_job_comes_back_after_a_restart_and_waits_for_its_stopped_target() {
    let (session, t) = play("permanent_job_across_restart");
    assert_eq!(
        t.output("local", "dcache stop pool1"),
        "Stopping pool1 done\n  job 1 cancelled (pool shutdown): migration copy -permanent -refresh=2 pool2\n"
    );
    assert_eq!(t.output("local", "dcache status"), "POOL   STATUS\npool1  stopped\npool2  running\npool3  running\n");
    assert_eq!(t.output("local", "dcache start pool1"), "Starting pool1 done\n");
    let jobs = t.output("pool1", "migration ls");
    assert_eq!(jobs.lines().count(), 1, "only the saved job returns:\n{jobs}");
    assert!(
        jobs.starts_with("[1] ") && jobs.ends_with(" migration copy -id=1 -permanent -refresh=2 pool2\n"),
        "{jobs}"
    );
    assert!(!t.output("pool1", "wait 1 -completed=8 -timeout=60").starts_with("Timed out"));
    // pool2 stopped: the new files wait.
    assert_eq!(t.output("pool1", "wait 1 -completed=10 -timeout=8"), "Timed out waiting for job 1\n");
    let info = t.output("pool1", "migration info 1");
    assert!(info.contains("State      : SLEEPING\n"), "{info}");
    assert!(!t.output("pool1", "wait 1 -completed=10 -timeout=60").starts_with("Timed out"));
    assert_eq!(t.output("pool2", "rep ls").lines().count(), 10);
    let replicas = replicas(&session);
    assert_eq!(replicas.len(), 10);
    assert!(
        replicas.values().all(|pools| pools.contains(&"pool1".to_string()) && pools.contains(&"pool2".to_string()))
    );
}

#[test]
fn hot_file_replicas_spread_over_distinct_tag_values() {
    let (_session, t) = play("hotfile_tag_spread");
    assert_eq!(
        t.output("PoolManager", "psu match read atlas:default@osm * 192.0.2.10 xrootd/2"),
        "Preference : 0\n       Tag : NONE\n  pool1\n  pool2\n  pool3\n  pool4\n  pool5\n"
    );
    let id = "000100000000000000000001";
    assert_eq!(
        t.output("pool1", &format!("debug readers {id} 5 -protocol=xrootd/2 -client=192.0.2.10")),
        format!("Reported 5 readers of {id} (xrootd/2 from 192.0.2.10)\n")
    );
    assert_eq!(
        t.output("pool1", &format!("wait hotfile-{id}")),
        format!("[hotfile-{id}] FINISHED     hotfile replication for {id}\n")
    );
    let info = t.output("pool1", &format!("migration info hotfile-{id}"));
    assert!(info.contains("Targets    : pool3,pool5\n"), "{info}");
    assert!(info.contains("File replicas truncated at 2 due to pool availability (3 requested)"), "{info}");
    let mut holders: Vec<&str> = t.output("PnfsManager", &format!("cacheinfoof {id}")).split_whitespace().collect();
    holders.sort();
    assert_eq!(holders, ["pool1", "pool3", "pool5"]);
}

#[test]
fn copies_on_a_stopped_pool_make_plain_jobs_retry_and_eager_jobs_copy_elsewhere() {
    let (_session, t) = play("offline_holder");
    let [a, b, c] = [1, 2, 3].map(|n| format!("0001{n:020X}"));
    assert_eq!(t.output("pool1", "wait 2 -timeout=3"), "Timed out waiting for job 2\n");
    let info = t.output("pool1", "migration info 2");
    assert!(info.contains(&format!("{a}: Remote pool failed (no route to cell)\n")), "{info}");
    assert_eq!(t.output("pool1", "wait 3 -timeout=3"), "Timed out waiting for job 3\n");
    let jobs = t.output("pool1", "migration ls");
    assert!(jobs.contains("[3] SLEEPING     migration copy -refresh=2 -pnfsid="), "{jobs}");
    assert!(t.output("pool1", "wait 4").starts_with("[4] FINISHED"));
    let holders = t.outputs("PnfsManager", &format!("cacheinfoof {a}"));
    assert_eq!(holders[0], "pool1 pool2\n", "not copied to pool3 while pool2's copy is unreachable");
    assert_eq!(t.output("PnfsManager", &format!("cacheinfoof {c}")), "pool1 pool2 pool3\n", "-eager copied elsewhere");
    assert!(t.output("pool1", "wait 2 -timeout=30").starts_with("[2] FINISHED"));
    assert!(t.output("pool1", "wait 3 -timeout=30").starts_with("[3] FINISHED"));
    assert_eq!(holders[1], "pool1 pool2\n", "updated on pool2 once it was back, still not on pool3");
    assert_eq!(t.output("PnfsManager", &format!("cacheinfoof {b}")), "pool1 pool2\n");
}
