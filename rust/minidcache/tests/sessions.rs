//! Admin sessions driven through the shell, end to end: pools on disk (a temporary home per
//! test), runtimes, transport, p2p, pin manager and namespace all in process.

mod common;

use common::{Session, session as shell};
use migration_core::PnfsId;
use migration_core::replica::{NEVER_EXPIRES, ReplicaState, StickyRecord};
use minidcache::cluster::PoolMode;
use minidcache::{Reply, Shell};

/// Runs one command and returns its output (errors included, as printed).
fn run(shell: &mut Session, line: &str) -> String {
    run_in(&mut shell.shell, line)
}

fn run_in(shell: &mut Shell, line: &str) -> String {
    match shell.execute(line) {
        Reply::Output(text) => text,
        other => panic!("{line}: unexpected {other:?}"),
    }
}

/// The byte count of `Created N files (B bytes)`.
fn created_bytes(output: &str) -> u64 {
    let inner = output.split('(').nth(1).and_then(|s| s.split(' ').next()).expect("Created … (B bytes)");
    inner.parse().expect("a number")
}

fn id(n: u64) -> PnfsId {
    PnfsId::parse(&format!("0001{n:020X}")).expect("valid")
}

#[test]
fn vacating_a_pool_moves_every_file_and_the_pin() {
    let mut sh = shell(&["pool1", "pool2", "pool3"]);
    assert_eq!(run(&mut sh, "\\c pool1"), "");
    let plain = run(&mut sh, "populate -files=40 -size=1000..100000");
    assert!(plain.starts_with("Created 40 files ("), "{plain}");
    let sticky = run(&mut sh, "populate -files=10 -size=2000 -sticky=lhcb");
    assert_eq!(sticky, "Created 10 files (20000 bytes)\n");
    let bytes = created_bytes(&plain) + created_bytes(&sticky);
    assert_eq!(run(&mut sh, "\\c PinManager"), "");
    assert_eq!(run(&mut sh, "pin 000100000000000000000001 -1"), "1\n");

    run(&mut sh, "\\c pool1");
    assert_eq!(run(&mut sh, "pool disable -rdonly"), "Pool pool1 disabled(store,stage,p2p-client)\n");
    assert_eq!(run(&mut sh, "migration move pool2"), "[1] INITIALIZING migration move pool2\n");
    assert_eq!(run(&mut sh, "wait 1"), "[1] FINISHED     migration move pool2\n");
    let info = run(&mut sh, "migration info 1");
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(
        lines,
        [
            "Command    : migration move pool2",
            "State      : FINISHED",
            "Queued     : 0",
            "Attempts   : 50",
            "Targets    : pool2",
            &format!("Completed  : 50 files; {bytes} bytes"),
            &format!("Total      : {bytes} bytes"),
            "Concurrency: 1",
            "Running tasks:",
        ],
        "{info}"
    );

    // -pins=move: the pin went with the file, so the source copy was not pinned any more
    // when the source mode ran, and was deleted like every other.
    assert_eq!(run(&mut sh, "rep ls"), "");
    run(&mut sh, "\\c pool2");
    let listing = run(&mut sh, "rep ls");
    assert_eq!(listing.lines().count(), 50, "{listing}");
    assert!(listing.lines().all(|l| l.contains(" <-P------")), "every file precious:\n{listing}");
    assert_eq!(listing.lines().filter(|l| l.contains("-X--L(0)[0]>")).count(), 11, "10 lhcb + 1 pinned:\n{listing}");

    let pool2 = sh.cluster().pool("pool2").expect("pool2");
    for entry in pool2.repository.entries() {
        assert_eq!(entry.state, ReplicaState::Precious);
        let n = u64::from_str_radix(&entry.pnfsid.to_string()[4..], 16).expect("hex");
        let mut expected = Vec::new();
        if n == 1 {
            expected.push(StickyRecord::new("PinManager-1", NEVER_EXPIRES));
        }
        if n > 40 {
            expected.push(StickyRecord::new("lhcb", NEVER_EXPIRES));
        }
        assert_eq!(entry.sticky, expected, "{}", entry.pnfsid);
        assert_eq!(sh.cluster().namespace().locations(&entry.pnfsid), Some(vec!["pool2".to_string()]));
    }
    run(&mut sh, "\\c PinManager");
    assert_eq!(run(&mut sh, "ls"), "1 000100000000000000000001 pool2 never\n");
}

#[test]
fn bad_input_is_refused_and_changes_no_job() {
    let mut sh = shell(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=3 -size=10");
    run(&mut sh, "migration copy pool2");
    run(&mut sh, "wait 1");
    let before = run(&mut sh, "migration ls");
    assert_eq!(before, "[1] FINISHED     migration copy pool2\n");
    let cases = [
        ("migration copy", "Syntax error: target(s) required when target type is pool\n"),
        ("migration info 99", "Job not found\n"),
        ("rep set sticky nothex on", "Syntax error: nothex: Illegal pnfsid character: n\n"),
        (
            "rep set sticky 000100000000000000000001 maybe",
            "Syntax error: Invalid sticky mode: maybe (expected on or off)\n",
        ),
        ("rep set sticky 0001000000000000000000FF on", "Entry not in repository : 0001000000000000000000FF\n"),
        ("migration copy -foo pool2", "Syntax error: Unknown option: foo\n"),
        ("wait 99", "Job not found\n"),
        ("populate -size=10", "Syntax error: Option -files is required\n"),
        ("frobnicate now", "Unknown command: frobnicate now\n"),
        ("\\c nowhere", "Cell not found: nowhere\n"),
    ];
    for (line, expected) in cases {
        assert_eq!(run(&mut sh, line), expected, "{line}");
        run(&mut sh, "\\c pool1");
        assert_eq!(run(&mut sh, "migration ls"), before, "after {line}");
    }
}

#[test]
fn cache_to_two_pools_then_copy_twice_only_updates() {
    let mut sh = shell(&["pool1", "pool2", "pool3", "pool4"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=6 -size=100..200 -storage=cms:raw@osm");
    run(&mut sh, "populate -files=4 -size=300");
    assert_eq!(
        run(&mut sh, "migration cache -storage=cms:raw@osm -replicas=2 pool2 pool3"),
        "[1] INITIALIZING migration cache -storage=cms:raw@osm -replicas=2 pool2 pool3\n"
    );
    assert!(run(&mut sh, "wait 1").contains("FINISHED"));
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Attempts   : 6\n"), "{info}");
    assert!(info.contains("Completed  : 6 files;"), "{info}");
    for pool in ["pool2", "pool3"] {
        let node = sh.cluster().pool(pool).expect("pool");
        let entries = node.repository.entries();
        assert_eq!(entries.len(), 6, "{pool}");
        for e in &entries {
            assert_eq!(e.state, ReplicaState::Cached, "{pool} {}", e.pnfsid);
            assert_eq!(e.storage_class.as_deref(), Some("cms:raw@osm"));
            let mut locations = sh.cluster().namespace().locations(&e.pnfsid).expect("known");
            locations.sort();
            assert_eq!(locations, ["pool1", "pool2", "pool3"]);
        }
    }
    assert!(sh.cluster().pool("pool4").expect("pool4").repository.is_empty());
    assert_eq!(sh.cluster().pool("pool1").expect("pool1").repository.len(), 10, "cache leaves the source alone");

    let atlas = id(8);
    for job in ["2", "3"] {
        let created = run(&mut sh, &format!("migration copy -pnfsid={atlas} pool2"));
        assert!(created.starts_with(&format!("[{job}] ")), "{created}");
        assert!(run(&mut sh, &format!("wait {job}")).contains("FINISHED"));
        let info = run(&mut sh, &format!("migration info {job}"));
        assert!(info.contains("Attempts   : 1\n"), "job {job}:\n{info}");
        assert!(info.contains("Completed  : 1 files; 300 bytes\n"), "job {job}:\n{info}");
        run(&mut sh, "\\c pool2");
        let listing = run(&mut sh, "rep ls");
        assert_eq!(listing.lines().filter(|l| l.starts_with(&atlas.to_string())).count(), 1, "{listing}");
        assert_eq!(listing.lines().count(), 7);
        assert_eq!(
            run(&mut sh, &format!("rep ls {atlas}")),
            format!("{atlas} <-P---------L(0)[0]> 300 si={{atlas:default@osm}}\n")
        );
        run(&mut sh, "\\c pool1");
    }
}

#[test]
fn a_script_reads_like_the_book() {
    let mut sh = shell(&["pool1", "pool2"]);
    let script = "# vacate a tiny pool\n\\c pool1\n\npopulate -files=2 -size=100\nmigration ls\nmigration copy pool2\nwait 1\nmigration ls\n\\q\n\\l\n\\q\n\\l\n";
    let expected = "\
(local) admin > \\c pool1
(pool1) admin > populate -files=2 -size=100
Created 2 files (200 bytes)
(pool1) admin > migration ls
(pool1) admin > migration copy pool2
[1] INITIALIZING migration copy pool2
(pool1) admin > wait 1
[1] FINISHED     migration copy pool2
(pool1) admin > migration ls
[1] FINISHED     migration copy pool2
(pool1) admin > \\q
(local) admin > \\l
pool1
pool2
PoolManager
PinManager
PnfsManager
(local) admin > \\q
";
    assert_eq!(sh.run_script(script), expected);
}

#[test]
fn strict_source_refuses_p2p_unless_forced() {
    let mut sh = shell(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=1 -size=10");
    assert_eq!(run(&mut sh, "pool disable -strict"), "Pool pool1 disabled(fetch,store,stage,p2p-client,p2p-server)\n");
    assert_eq!(sh.cluster().pool("pool1").expect("pool1").mode(), PoolMode::Strict);
    run(&mut sh, "migration copy pool2");
    // The copy keeps failing (and is retried), so the job does not finish in time.
    assert_eq!(run(&mut sh, "wait 1 -timeout=1"), "Timed out waiting for job 1\n");
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Pool is disabled"), "{info}");
    run(&mut sh, "migration cancel -force 1");
    // Until job 1 has ended its task holds the file, and job 2 would sleep for 10 s.
    assert!(run(&mut sh, "wait 1").contains("CANCELLED"));
    assert!(sh.cluster().pool("pool2").expect("pool2").repository.is_empty());

    run(&mut sh, "migration copy -force-source-mode pool2");
    assert!(run(&mut sh, "wait 2").contains("FINISHED"));
    assert_eq!(sh.cluster().pool("pool2").expect("pool2").repository.len(), 1);
}

#[test]
fn read_only_target_refuses_copies_until_enabled() {
    let mut sh = shell(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool2");
    run(&mut sh, "pool disable -rdonly");
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=1 -size=10");
    run(&mut sh, "migration copy pool2");
    assert_eq!(run(&mut sh, "wait 1 -timeout=1"), "Timed out waiting for job 1\n");
    assert!(sh.cluster().pool("pool2").expect("pool2").repository.is_empty());
    run(&mut sh, "\\c pool2");
    assert_eq!(run(&mut sh, "pool enable"), "Pool pool2 enabled\n");
    run(&mut sh, "\\c pool1");
    // The job retries the file once it wakes up (every 10 s at most).
    assert!(run(&mut sh, "wait 1 -timeout=30").contains("FINISHED"));
    assert_eq!(sh.cluster().pool("pool2").expect("pool2").repository.len(), 1);
}

#[test]
fn sticky_records_are_set_and_removed_from_the_shell() {
    let mut sh = shell(&["pool1"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=1 -size=10 -state=cached -storage=a:b@osm");
    let one = id(1);
    assert_eq!(run(&mut sh, "rep ls"), format!("{one} <C----------L(0)[0]> 10 si={{a:b@osm}}\n"));
    assert_eq!(run(&mut sh, &format!("rep set sticky {one} on -o=alice -l=3600")), "");
    assert_eq!(run(&mut sh, "rep ls"), format!("{one} <C-------X--L(0)[0]> 10 si={{a:b@osm}}\n"));
    let entry = sh.cluster().pool("pool1").expect("pool1").repository.entries().remove(0);
    assert_eq!(entry.sticky.len(), 1);
    assert_eq!(entry.sticky[0].owner, "alice");
    assert!(entry.sticky[0].expire > sh.cluster().now());
    assert_eq!(run(&mut sh, &format!("rep set sticky {one} off -o=alice")), "");
    assert_eq!(run(&mut sh, "rep ls"), format!("{one} <C----------L(0)[0]> 10 si={{a:b@osm}}\n"));
}

/// Waits (up to 20 s) until `pnfsid` on `pool` carries no sticky record; whether it does not.
fn sticky_records_leave(sh: &Session, pool: &str, pnfsid: PnfsId) -> bool {
    let records = || {
        let node = sh.cluster().pool(pool).expect("the pool runs");
        node.repository.entries().into_iter().find(|e| e.pnfsid == pnfsid).map(|e| e.sticky.len())
    };
    let started = std::time::Instant::now();
    while records() != Some(0) && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    records() == Some(0)
}

#[test]
fn an_expired_sticky_record_leaves_its_replica_as_in_dcache_also_while_the_pool_was_down() {
    let mut sh = shell(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=2 -size=10 -state=cached");
    let (one, two) = (id(1), id(2));
    assert_eq!(run(&mut sh, &format!("rep set sticky {one} on -o=alice -l=3")), "");
    assert!(run(&mut sh, &format!("rep sticky ls {one}")).starts_with("alice : expires "));
    assert!(sticky_records_leave(&sh, "pool1", one), "the record leaves once it expires");
    // Expired records still count for a -sticky filter (§1.4) until they leave: after that, a
    // job for alice's replicas finds none.
    run(&mut sh, "migration copy -sticky=alice pool2");
    assert_eq!(run(&mut sh, "wait 1"), "[1] FINISHED     migration copy -sticky=alice pool2\n");
    assert!(run(&mut sh, "migration info 1").contains("Attempts   : 0\n"), "no replica of alice's is left");

    // A record that expires while its pool is down leaves as the pool starts.
    assert_eq!(run(&mut sh, &format!("rep set sticky {two} on -o=alice -l=3")), "");
    let node = sh.cluster().pool("pool1").expect("pool1");
    run(&mut sh, "\\q");
    assert_eq!(run(&mut sh, "dcache stop pool1"), "Stopping pool1 done\n");
    let record = node.repository.entries().into_iter().find(|e| e.pnfsid == two).expect("two").sticky;
    assert_eq!(record.len(), 1, "stopped before the record expired");
    drop(node);
    while sh.cluster().now() <= record[0].expire {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(run(&mut sh, "dcache start pool1"), "Starting pool1 done\n");
    assert!(sticky_records_leave(&sh, "pool1", two), "the record leaves as the pool starts");
}

#[test]
fn unpin_removes_the_pin_and_its_sticky_record() {
    let mut sh = shell(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool2");
    run(&mut sh, "populate -files=1 -size=10");
    run(&mut sh, "\\c PinManager");
    let one = id(1);
    assert_eq!(run(&mut sh, &format!("pin {one} 3600")), "1\n");
    let listing = run(&mut sh, "ls");
    assert!(listing.starts_with(&format!("1 {one} pool2 20")), "{listing}");
    assert_eq!(run(&mut sh, &format!("unpin {one}")), "");
    assert_eq!(run(&mut sh, "ls"), "");
    assert_eq!(run(&mut sh, &format!("unpin {one}")), format!("File is not pinned: {one}\n"));
    assert!(sh.cluster().pool("pool2").expect("pool2").repository.entries()[0].sticky.is_empty());
    run(&mut sh, "\\c PnfsManager");
    assert_eq!(run(&mut sh, &format!("cacheinfoof {one}")), "pool2\n");
}

#[test]
fn interactive_mode_prompts_without_echo() {
    let mut sh = shell(&["pool1"]);
    let mut out = Vec::new();
    sh.run("\\c pool1\nmigration ls\n".as_bytes(), &mut out, minidcache::Mode::Interactive).expect("runs");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(text, "(local) admin > (pool1) admin > (pool1) admin > \n");
}
