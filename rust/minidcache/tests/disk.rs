//! minidcache on disk, end to end: real files moved between pools and checked byte for byte,
//! a corrupted source, restarts (also after SIGKILL in the middle of a job), `save` of a
//! permanent job, HSM attachment, hot files, and input that must be refused.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Session, TempHome, open, run, session};
use migration_core::PnfsId;
use migration_core::replica::ReplicaState;
use minidcache::Shell;
use minidcache::repository::checksum_file;

/// Every replica of `pool`: id → (data, ADLER32 recorded in the namespace).
fn contents(shell: &Shell, pool: &str) -> HashMap<PnfsId, (Vec<u8>, String)> {
    let cluster = shell.cluster();
    let node = cluster.pool(pool).expect("pool");
    node.repository
        .entries()
        .into_iter()
        .map(|e| {
            let data = std::fs::read(node.repository.data_path(&e.pnfsid)).expect("data file");
            let file = cluster.namespace().file(&e.pnfsid).expect("in the namespace");
            let sum = file.attributes.checksums.iter().find(|c| c.kind == "ADLER32").expect("adler32").value.clone();
            (e.pnfsid, (data, sum))
        })
        .collect()
}

fn wait_finished(sh: &mut Shell, job: &str) {
    let out = run(sh, &format!("wait {job} -timeout=120"));
    assert!(out.contains("FINISHED"), "job {job}: {out}");
}

#[test]
fn vacating_a_pool_of_1000_real_files_keeps_every_byte_and_checksum() {
    let mut sh = session(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    assert!(run(&mut sh, "populate -files=1000 -size=100..3000").starts_with("Created 1000 files ("));
    let before = contents(&sh, "pool1");
    assert_eq!(before.len(), 1000);
    for (data, sum) in before.values() {
        assert_eq!(format!("{:08x}", minidcache::adler32::adler32(data)), *sum, "populate records the real sum");
    }
    // A -rdonly pool still serves its data to the migration.
    run(&mut sh, "pool disable -rdonly");
    let started = Instant::now();
    run(&mut sh, "migration move pool2");
    wait_finished(&mut sh, "1");
    eprintln!("vacating 1000 files took {:.2} s", started.elapsed().as_secs_f64());

    assert_eq!(run(&mut sh, "rep ls"), "");
    assert_eq!(std::fs::read_dir(sh.home.path().join("pool1/data")).expect("dir").count(), 0, "no data left");
    let after = contents(&sh, "pool2");
    assert_eq!(after.len(), 1000);
    for (id, original) in &before {
        assert_eq!(after.get(id), Some(original), "{id}");
        assert_eq!(sh.cluster().namespace().locations(id), Some(vec!["pool2".to_string()]));
    }
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Completed  : 1000 files;"), "{info}");
}

#[test]
fn a_corrupted_source_fails_that_file_only_and_keeps_its_replica() {
    let mut sh = session(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=20 -size=500..1500");
    let bad = PnfsId::parse("000100000000000000000007").expect("valid");
    let path = sh.cluster().pool("pool1").expect("pool1").repository.data_path(&bad);
    let mut data = std::fs::read(&path).expect("data");
    data[100] ^= 0x01;
    std::fs::write(&path, &data).expect("flip one byte");

    run(&mut sh, "migration move pool2");
    wait_finished(&mut sh, "1");
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Completed  : 19 files;"), "{info}");
    assert_eq!(run(&mut sh, "rep ls"), format!("{}\n", run(&mut sh, &format!("rep ls {bad}")).trim_end()));
    let pool2 = sh.cluster().pool("pool2").expect("pool2");
    assert_eq!(pool2.repository.len(), 19);
    assert!(matches!(migration_core::host::Repository::entry(&*pool2.repository, &bad), Ok(None)));
    assert!(!sh.home.path().join(format!("pool2/data/{bad}.tmp")).exists(), "no partial copy left");
    assert_eq!(std::fs::read(&path).expect("source kept"), data);
    // The task failed as corrupted (10004), which is permanent: it was not retried.
    assert!(info.contains("Attempts   : 20\n"), "{info}");
    assert!(info.contains(&format!("{bad}: Transfer to [pool2@local] failed (Checksum mismatch: ")), "{info}");
    assert!(info.contains("; will not be retried"), "{info}");
}

#[test]
fn a_strictly_disabled_target_refuses_copies() {
    let mut sh = session(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool2");
    run(&mut sh, "pool disable -strict");
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=1 -size=10");
    run(&mut sh, "migration copy pool2");
    assert_eq!(run(&mut sh, "wait 1 -timeout=1"), "Timed out waiting for job 1\n");
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Pool is disabled"), "{info}");
    assert!(sh.cluster().pool("pool2").expect("pool2").repository.is_empty());
    run(&mut sh, "migration cancel -force 1");
}

/// Once a transfer finishes, the job's next requests are sent from the transfer thread and
/// answered on it; a target that refuses them at once must not keep that thread (or the
/// shell) busy: the files go to the target that accepts them.
#[test]
fn refusals_answered_on_a_transfer_thread_send_the_files_to_the_other_target() {
    let mut sh = session(&["pool1", "pool2", "pool3"]);
    run(&mut sh, "\\c pool2");
    run(&mut sh, "pool disable -strict");
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=40 -size=100..2000");
    run(&mut sh, "migration move -concurrency=2 pool2 pool3");
    wait_finished(&mut sh, "1");
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Completed  : 40 files;"), "{info}");
    assert_eq!(run(&mut sh, "rep ls"), "");
    assert!(sh.cluster().pool("pool2").expect("pool2").repository.is_empty());
    assert_eq!(sh.cluster().pool("pool3").expect("pool3").repository.len(), 40);
}

#[test]
fn cancelling_a_job_aborts_its_transfer_under_way() {
    let mut sh = session(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=1 -size=100000000");
    run(&mut sh, "migration copy pool2");
    let pool2 = sh.cluster().pool("pool2").expect("pool2");
    let deadline = Instant::now() + Duration::from_secs(20);
    while pool2.counters.receiving.load(std::sync::atomic::Ordering::Acquire) == 0 {
        assert!(Instant::now() < deadline, "the transfer did not start");
        std::thread::sleep(Duration::from_millis(1));
    }
    run(&mut sh, "migration cancel -force 1");
    assert!(run(&mut sh, "wait 1").contains("CANCELLED"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while pool2.counters.receiving.load(std::sync::atomic::Ordering::Acquire) > 0 {
        assert!(Instant::now() < deadline, "the transfer was not aborted");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(pool2.repository.is_empty());
    assert_eq!(pool2.counters.received_files.load(std::sync::atomic::Ordering::Acquire), 0);
    assert_eq!(std::fs::read_dir(sh.home.path().join("pool2/data")).expect("dir").count(), 0, "no partial file");
}

#[test]
fn everything_survives_a_restart() {
    let home = TempHome::new();
    let pools = ["pool1", "pool2", "pool3"];
    let (listing, pins, contents_before) = {
        let mut sh = open(home.path(), &pools);
        run(&mut sh, "\\c pool1");
        run(&mut sh, "populate -files=30 -size=10..2000 -sticky=lhcb -storage=cms:raw@osm");
        run(&mut sh, "rep set cached 000100000000000000000003");
        run(&mut sh, "hsm set osm");
        run(&mut sh, "save");
        run(&mut sh, "migration copy pool2");
        wait_finished(&mut sh, "1");
        run(&mut sh, "\\c PinManager");
        assert_eq!(run(&mut sh, "pin 000100000000000000000005 -1"), "1\n");
        run(&mut sh, "\\c PoolManager");
        run(&mut sh, "psu create pgroup fast");
        run(&mut sh, "psu addto pgroup fast pool3");
        run(&mut sh, "save");
        run(&mut sh, "\\c pool1");
        let listing = run(&mut sh, "rep ls");
        run(&mut sh, "\\c PinManager");
        (listing, run(&mut sh, "ls"), contents(&sh, "pool2"))
    };
    let mut sh = open(home.path(), &pools);
    run(&mut sh, "\\c pool1");
    assert_eq!(run(&mut sh, "rep ls"), listing);
    assert!(listing.contains("000100000000000000000003 <C-------X--L(0)[0]>"), "{listing}");
    assert_eq!(run(&mut sh, "hsm ls"), "osm\n");
    run(&mut sh, "\\c PinManager");
    assert_eq!(run(&mut sh, "ls"), pins);
    assert_eq!(contents(&sh, "pool2"), contents_before);
    run(&mut sh, "\\c PnfsManager");
    assert_eq!(run(&mut sh, "cacheinfoof 000100000000000000000005"), "pool1 pool2\n");
    run(&mut sh, "\\c PoolManager");
    assert_eq!(run(&mut sh, "psu ls pgroup -l"), "default : pool1,pool2,pool3\nfast : pool3\n");
    // New ids continue after the old ones.
    run(&mut sh, "\\c pool3");
    run(&mut sh, "populate -files=1 -size=1");
    assert_eq!(run(&mut sh, "rep ls").split(' ').next(), Some("00010000000000000000001F"));
}

#[test]
fn a_saved_permanent_job_comes_back_once_with_its_id_and_concurrency() {
    let home = TempHome::new();
    let pools = ["pool1", "pool2"];
    {
        let mut sh = open(home.path(), &pools);
        run(&mut sh, "\\c pool1");
        assert_eq!(
            run(&mut sh, "migration copy -permanent -concurrency=3 pool2"),
            "[1] INITIALIZING migration copy -permanent -concurrency=3 pool2\n"
        );
        run(&mut sh, "migration set concurrency 1 4");
        run(&mut sh, "save");
        run(&mut sh, "save");
        let setup = std::fs::read_to_string(home.path().join("pool1/setup")).expect("setup written");
        assert!(setup.contains("migration copy -id=1 -permanent -concurrency=3 pool2\n"), "{setup}");
        assert!(setup.contains("migration set concurrency 1 4\n"), "{setup}");
    }
    let mut sh = open(home.path(), &pools);
    run(&mut sh, "\\c pool1");
    let jobs = run(&mut sh, "migration ls");
    assert_eq!(jobs.lines().count(), 1, "{jobs}");
    assert!(jobs.starts_with("[1] "), "{jobs}");
    // The replayed line names its id (so that the concurrency line still finds it).
    assert!(jobs.trim_end().ends_with("migration copy -id=1 -permanent -concurrency=3 pool2"), "{jobs}");
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Concurrency: 4\n"), "{info}");
    // A permanent job copies new files as they arrive.
    run(&mut sh, "populate -files=3 -size=100");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sh.cluster().pool("pool2").expect("pool2").repository.len() < 3 {
        assert!(Instant::now() < deadline, "the permanent job did not copy the new files");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pools_attached_to_an_hsm_are_the_targets_of_target_hsm() {
    let mut sh = session(&["pool1", "pool2", "pool3", "pool4"]);
    for pool in ["pool2", "pool4"] {
        run(&mut sh, &format!("\\c {pool}"));
        assert_eq!(run(&mut sh, "hsm set osm"), "");
    }
    run(&mut sh, "\\c pool3");
    run(&mut sh, "hsm set enstore");
    run(&mut sh, "hsm unset enstore");
    assert_eq!(run(&mut sh, "hsm unset enstore"), "No such HSM instance: enstore\n");
    assert_eq!(run(&mut sh, "hsm ls"), "");
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=10 -size=100");
    run(&mut sh, "migration copy -target=hsm osm");
    wait_finished(&mut sh, "1");
    let info = run(&mut sh, "migration info 1");
    assert!(info.contains("Targets    : hsm osm, 2 pools\n"), "{info}");
    let copied = ["pool2", "pool4"].iter().map(|p| sh.cluster().pool(p).expect("pool").repository.len()).sum::<usize>();
    assert_eq!(copied, 10);
    assert!(sh.cluster().pool("pool3").expect("pool3").repository.is_empty());
}

#[test]
fn reported_readers_over_the_threshold_replicate_a_hot_file() {
    let mut sh = session(&["pool1", "pool2", "pool3"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=2 -size=100");
    run(&mut sh, "hotfile set threshold 5");
    let hot = "000100000000000000000002";
    assert_eq!(run(&mut sh, &format!("debug readers {hot} 4")), format!("Reported 4 readers of {hot} (*/*)\n"));
    assert_eq!(run(&mut sh, "migration ls"), "");
    run(&mut sh, &format!("debug readers {hot} 5"));
    // The job is created once the module has read the file's entry.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !run(&mut sh, "migration ls").contains(&format!("hotfile-{hot}")) {
        assert!(Instant::now() < deadline, "no hot-file job");
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_finished(&mut sh, &format!("hotfile-{hot}"));
    let replicas: usize = ["pool2", "pool3"]
        .iter()
        .filter(|p| {
            let node = sh.cluster().pool(p).expect("pool");
            migration_core::host::Repository::entry(&*node.repository, &PnfsId::parse(hot).expect("id"))
                .expect("readable")
                .is_some()
        })
        .count();
    assert!(replicas >= 1, "the hot file was replicated");
    // A get is a read too (one reader: below the threshold, nothing new happens).
    assert!(run(&mut sh, &format!("get {hot} copy")).starts_with("100 bytes written to "));
}

#[test]
fn put_and_get_move_real_files_in_and_out() {
    let mut sh = session(&["pool1", "pool2"]);
    let io = sh.home.path().join("io");
    let original: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(io.join("in.bin"), &original).expect("local file");
    run(&mut sh, "\\c pool1");
    let stored = run(&mut sh, "put in.bin -storage=atlas:default -state=cached");
    let expected = format!("{:08x}", minidcache::adler32::adler32(&original));
    assert_eq!(stored, format!("000100000000000000000001 300000 ADLER32:{expected}\n"));
    assert_eq!(run(&mut sh, "rep ls"), "000100000000000000000001 <C----------L(0)[0]> 300000 si={atlas:default}\n");
    let out = run(&mut sh, "get 000100000000000000000001 out.bin");
    assert!(out.ends_with(&format!("(ADLER32:{expected})\n")), "{out}");
    assert_eq!(std::fs::read(io.join("out.bin")).expect("written"), original);
    // An absolute path inside the home works too.
    let absolute = sh.home.path().join("io").join("again.bin");
    run(&mut sh, &format!("get 000100000000000000000001 {}", absolute.display()));
    assert_eq!(std::fs::read(&absolute).expect("written"), original);

    // A replica whose data changed on disk is not handed out.
    let path = sh
        .cluster()
        .pool("pool1")
        .expect("pool1")
        .repository
        .data_path(&PnfsId::parse("000100000000000000000001").expect("id"));
    let mut data = std::fs::read(&path).expect("data");
    data[0] ^= 0xff;
    std::fs::write(&path, &data).expect("corrupt");
    let refused = run(&mut sh, "get 000100000000000000000001 bad.bin");
    assert!(refused.starts_with("Checksum mismatch for 000100000000000000000001"), "{refused}");
    assert!(!io.join("bad.bin").exists());
}

#[test]
fn rep_commands_filter_remove_and_change_state() {
    let mut sh = session(&["pool1"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=2 -size=10");
    run(&mut sh, "populate -files=1 -size=20 -state=cached -sticky=alice");
    run(&mut sh, "populate -files=1 -size=30 -state=cached");
    let ls = |sh: &mut Session, o: &str| {
        run(sh, &format!("rep ls {o}")).lines().map(|l| l[..24].to_string()).collect::<Vec<_>>()
    };
    assert_eq!(ls(&mut sh, "-l=p"), ["000100000000000000000001", "000100000000000000000002"]);
    assert_eq!(ls(&mut sh, "-l=s"), ["000100000000000000000003"]);
    assert_eq!(
        run(&mut sh, "rep rm 000100000000000000000001"),
        "Replica 000100000000000000000001 is precious; use -force to remove it\n"
    );
    assert_eq!(
        run(&mut sh, "rep rm 000100000000000000000003"),
        "Replica 000100000000000000000003 is sticky; use -force to remove it\n"
    );
    assert_eq!(run(&mut sh, "rep rm 000100000000000000000004"), "Removed 000100000000000000000004\n");
    assert_eq!(run(&mut sh, "rep rm -force 000100000000000000000001"), "Removed 000100000000000000000001\n");
    assert_eq!(run(&mut sh, "rep set cached 000100000000000000000002"), "");
    assert_eq!(run(&mut sh, "rep set precious 000100000000000000000003"), "");
    let entries = sh.cluster().pool("pool1").expect("pool1").repository.entries();
    let states: Vec<ReplicaState> = entries.iter().map(|e| e.state).collect();
    assert_eq!(states, [ReplicaState::Cached, ReplicaState::Precious]);
    let data: HashSet<String> = std::fs::read_dir(sh.home.path().join("pool1/data"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(data, HashSet::from(["000100000000000000000002".to_string(), "000100000000000000000003".to_string()]));
    run(&mut sh, "\\c PnfsManager");
    assert_eq!(run(&mut sh, "cacheinfoof 000100000000000000000004"), "", "the location went with the replica");
    for command in ["cacheinfoof", "storageinfoof"] {
        let out = run(&mut sh, &format!("{command} 0001000000000000000000FF"));
        assert!(out.contains("No such file: 0001000000000000000000FF"), "{command}: {out}");
        let out = run(&mut sh, &format!("{command} 00010000000000000000000G"));
        assert!(out.contains("Illegal pnfsid character: G"), "{command}: {out}");
    }
}

#[test]
fn bad_ids_and_paths_are_refused_and_nothing_leaves_the_home() {
    let mut sh = session(&["pool1"]);
    let home = sh.home.path().canonicalize().expect("home");
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=1 -size=10");
    let outside = TempHome::new();
    std::fs::write(outside.path().join("secret"), b"secret").expect("outside file");
    std::os::unix::fs::symlink(outside.path().join("secret"), home.join("io/link")).expect("symlink");
    std::os::unix::fs::symlink(outside.path(), home.join("io/dir")).expect("symlink to a directory");
    let secret = outside.path().join("secret").display().to_string();
    std::fs::create_dir_all(home.join("old/data")).expect("an earlier run's pool");
    std::fs::write(home.join("old/meta.db"), b"its database").expect("its database");
    let cases: Vec<(String, String)> = vec![
        ("get nothex out".into(), "Syntax error: nothex: Illegal pnfsid character: n".into()),
        ("rep rm 12345G".into(), "Syntax error: 12345G: Illegal pnfsid character: G".into()),
        ("debug readers xyz 3".into(), "Syntax error: xyz: Illegal pnfsid character: x".into()),
        ("put missing.bin".into(), "No such file: missing.bin".into()),
        ("get 000100000000000000000001 nodir/out".into(), "No such directory: nodir/out".into()),
        ("get 000100000000000000000002 out".into(), "Entry not in repository : 000100000000000000000002".into()),
        (format!("put {secret}"), format!("Not allowed: {secret} is outside the home {}", home.display())),
        ("put ../../../../../../../etc/hostname".into(), "outside the home".into()),
        ("put link".into(), "Not allowed: link is outside the home".into()),
        ("get 000100000000000000000001 dir/stolen".into(), "Not allowed: dir/stolen is outside the home".into()),
        ("get 000100000000000000000001 link".into(), "Not following the symbolic link link".into()),
        ("get 000100000000000000000001 /tmp/minidcache-escape".into(), "is outside the home".into()),
        (
            "get 000100000000000000000001 ../pool1/data/000100000000000000000001".into(),
            "Not allowed to write ../pool1/data/000100000000000000000001: minidcache's own state".into(),
        ),
        ("get 000100000000000000000001 ../minidcache.db".into(), "minidcache's own state".into()),
        // A pool of an earlier run that this one did not start: its directory is still its own.
        ("get 000100000000000000000001 ../old/meta.db".into(), "minidcache's own state".into()),
        ("get 000100000000000000000001 ../old/data/x".into(), "minidcache's own state".into()),
        // Refused before a plan is made for them: it would not fit in memory.
        ("populate -files=2147483647 -size=0".into(), "Invalid number of files: 2147483647 (0 to 10000000)".into()),
        ("populate -files=10000000 -size=1000000000000".into(), "Pool pool1 is full".into()),
        ("wait 1 -timeout=9223372036854775807".into(), "Invalid timeout: 9223372036854775807".into()),
    ];
    for (line, expected) in &cases {
        let out = run(&mut sh, line);
        assert!(out.contains(expected.as_str()), "{line}: {out}");
    }
    assert_eq!(std::fs::read(outside.path().join("secret")).expect("untouched"), b"secret");
    assert!(!outside.path().join("stolen").exists());
    assert!(!Path::new("/tmp/minidcache-escape").exists());
    assert_eq!(sh.cluster().pool("pool1").expect("pool1").repository.len(), 1, "nothing was stored");
    assert_eq!(
        checksum_file(
            &sh.cluster()
                .pool("pool1")
                .expect("pool1")
                .repository
                .data_path(&PnfsId::parse("000100000000000000000001").expect("id"))
        )
        .expect("readable")
        .1,
        10
    );
}

/// Runs the binary on `home` with `script`; returns the child (output piped).
fn spawn(home: &Path, script: &str, name: &str) -> std::process::Child {
    let path = home.parent().expect("in a temporary directory").join(format!("{name}.script"));
    std::fs::write(&path, script).expect("script");
    Command::new(env!("CARGO_BIN_EXE_minidcache"))
        .arg("--home")
        .arg(home)
        .args(["--pools", "pool1,pool2", "--script"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("minidcache starts")
}

fn finish(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("exits");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn data_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// The move both crash tests run (and rerun after each kill).
const MOVE: &str = "\\c pool1\npool disable -rdonly\nmigration move pool2\nwait 1 -timeout=300\n";

/// Writes 1 000 files to pool1 of a new home; returns each file's ADLER32 from the namespace.
fn populate_thousand(home: &Path) -> HashMap<String, String> {
    finish(spawn(home, "\\c pool1\npopulate -files=1000 -size=200..4000\n", "populate"));
    let sh = open(home, &["pool1", "pool2"]);
    let originals: HashMap<String, String> = sh
        .cluster()
        .namespace()
        .files()
        .into_iter()
        .map(|f| (f.attributes.pnfsid.to_string(), f.attributes.checksums[0].value.clone()))
        .collect();
    assert_eq!(originals.len(), 1000);
    originals
}

/// pool1 is empty; pool2 holds every file, no stray or partial data file, each replica's
/// bytes match the checksum recorded at creation, and the namespace lists only pool2.
fn assert_everything_moved_intact(home: &Path, originals: &HashMap<String, String>) {
    let sh = open(home, &["pool1", "pool2"]);
    assert!(sh.cluster().pool("pool1").expect("pool1").repository.is_empty(), "every file moved");
    let pool2 = sh.cluster().pool("pool2").expect("pool2");
    assert_eq!(pool2.repository.len(), 1000, "none lost");
    assert_eq!(data_files(&home.join("pool2/data")), 1000, "no stray or partial files");
    for entry in pool2.repository.entries() {
        let id = entry.pnfsid.to_string();
        let (sum, len) = checksum_file(&pool2.repository.data_path(&entry.pnfsid)).expect("readable");
        assert_eq!(Some(&sum), originals.get(&id), "{id}");
        assert_eq!(len, entry.size);
        assert_eq!(sh.cluster().namespace().locations(&entry.pnfsid), Some(vec!["pool2".to_string()]));
    }
}

#[test]
fn a_move_killed_midway_finishes_after_a_restart_without_loss_or_second_copies() {
    let temp = TempHome::new();
    let home = temp.path().join("home");
    let originals = populate_thousand(&home);

    let mut child = spawn(&home, MOVE, "move");
    let (pool1, pool2) = (home.join("pool1/data"), home.join("pool2/data"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while data_files(&pool2) < 150 {
        assert!(Instant::now() < deadline, "the move did not start");
        assert!(child.try_wait().expect("running").is_none(), "finished before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let left = data_files(&pool1);
    assert!(left > 0, "killed in the middle: files are left on pool1");

    let rerun = "\\c pool1\nrep ls\n\\q\n\\c pool2\nrep ls\n\\q\n\\c pool1\npool disable -rdonly\n\
                 migration move pool2\nwait 1 -timeout=300\nrep ls\n\\q\n\\c pool2\ninfo\n";
    let transcript = finish(spawn(&home, rerun, "rerun"));
    let listing = |prompt: &str| -> HashSet<String> {
        let needle = format!("({prompt}) admin > rep ls\n");
        let start = transcript.find(&needle).expect("listing") + needle.len();
        transcript[start..].lines().take_while(|l| !l.starts_with('(')).map(|l| l[..24].to_string()).collect()
    };
    let (on_pool1, on_pool2) = (listing("pool1"), listing("pool2"));
    assert_eq!(on_pool1.len() + on_pool2.len() - on_pool1.intersection(&on_pool2).count(), 1000, "none lost");
    let expected_copies = on_pool1.difference(&on_pool2).count();
    eprintln!(
        "killed with {left} data files on pool1; restarted with {} on pool1, {} on pool2 ({} on both)",
        on_pool1.len(),
        on_pool2.len(),
        on_pool1.intersection(&on_pool2).count()
    );
    assert!(
        transcript.contains(&format!("P2P in     : {expected_copies} files;")),
        "only the files pool2 lacked were copied ({expected_copies}):\n{transcript}"
    );
    assert!(transcript.contains("[1] FINISHED     migration move pool2\n(pool1) admin > rep ls\n(pool1) admin > \\q"));

    assert_everything_moved_intact(&home, &originals);
}

#[test]
fn the_demo_verifies_every_replica() {
    let temp = TempHome::new();
    let mut out = Vec::new();
    let verified = minidcache::demo::run(Some(&temp.path().join("demo")), &mut out).expect("demo runs");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(verified.mismatches.is_empty(), "{text}");
    assert_eq!(verified.files, 1200, "{text}");
    assert!(text.contains("Targets    : pool group cache_pools, 5 pools\n"), "{text}");
    assert!(text.contains("(pool1) admin > rep ls\n(pool1) admin > info\n"), "{text}");
    assert!(text.contains("all checksums match"), "{text}");
    let _ = std::io::stderr().write_all(text.lines().rev().take(3).collect::<Vec<_>>().join("\n").as_bytes());
}

/// Real crashes, repeated: the move is killed with SIGKILL at three different points, each
/// time restarted on the same home and rerun, then allowed to finish. No file is lost, no stray
/// or partial file is left, every replica's bytes match the checksum recorded at creation.
#[test]
fn a_move_killed_again_and_again_loses_nothing() {
    let temp = TempHome::new();
    let home = temp.path().join("home");
    let originals = populate_thousand(&home);
    let pool2_data = home.join("pool2/data");
    let mut killed_midway = 0;
    for (round, kill_at) in [120usize, 400, 700].into_iter().enumerate() {
        let mut child = spawn(&home, MOVE, &format!("move{round}"));
        let deadline = Instant::now() + Duration::from_secs(120);
        while data_files(&pool2_data) < kill_at {
            assert!(Instant::now() < deadline, "round {round}: the move did not progress");
            if child.try_wait().expect("running").is_some() {
                break; // finished before the kill point: nothing left to interrupt
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().expect("running").is_none() {
            killed_midway += 1;
        }
        let _ = child.kill();
        child.wait().expect("reaped");
    }
    assert!(killed_midway >= 2, "only {killed_midway} kills hit a running move");
    let transcript = finish(spawn(&home, MOVE, "final"));
    assert!(transcript.contains("[1] FINISHED     migration move pool2"), "{transcript}");

    assert_everything_moved_intact(&home, &originals);
}

/// A pin released while the pool it was on is down keeps its sticky record there; the record
/// goes when the pool starts, also when the whole of minidcache starts again.
#[test]
fn a_pin_released_while_its_pool_was_down_loses_its_record_at_the_next_start() {
    let home = TempHome::new();
    let pools = ["pool1", "pool2"];
    let one = "000100000000000000000001";
    {
        let mut sh = open(home.path(), &pools);
        run(&mut sh, "\\c pool2");
        run(&mut sh, "populate -files=1 -size=10");
        run(&mut sh, "\\c PinManager");
        assert_eq!(run(&mut sh, &format!("pin {one} -1")), "1\n");
        run(&mut sh, "\\q");
        assert_eq!(run(&mut sh, "dcache stop pool2"), "Stopping pool2 done\n");
        run(&mut sh, "\\c PinManager");
        assert_eq!(run(&mut sh, &format!("unpin {one}")), "");
    }
    let sh = open(home.path(), &pools);
    let entries = sh.cluster().pool("pool2").expect("pool2").repository.entries();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].sticky.is_empty(), "the released pin's record stayed: {:?}", entries[0].sticky);
}

/// A pin move that lists a pin released since the job read the replica clears the record on
/// the source and does not bring it to the target (§9.5).
#[test]
fn a_pin_released_before_its_move_is_not_brought_to_the_target() {
    use migration_core::host::{Completion, PinManager as _, PinMove};
    use migration_core::replica::{NEVER_EXPIRES, StickyRecord};
    let mut sh = session(&["pool1", "pool2"]);
    run(&mut sh, "\\c pool1");
    run(&mut sh, "populate -files=1 -size=10");
    run(&mut sh, "migration copy pool2");
    wait_finished(&mut sh, "1");
    let one = migration_core::PnfsId::parse("000100000000000000000001").expect("valid");
    run(&mut sh, "\\c PinManager");
    assert_eq!(run(&mut sh, &format!("pin {one} -1")), "1\n");
    // The job read the replica with its pin; then the pin was released.
    let record = StickyRecord::new("PinManager-1", NEVER_EXPIRES);
    assert_eq!(run(&mut sh, &format!("unpin {one}")), "");
    let (sender, outcome) = std::sync::mpsc::channel();
    let request = PinMove { pnfsid: one, pins: vec![record], source: "pool1".into(), target: "pool2".into() };
    sh.cluster().pin_manager().move_pins(request, Completion::new(move |o| sender.send(o).expect("sent")));
    assert!(outcome.recv().expect("answered").is_ok());
    for pool in ["pool1", "pool2"] {
        let entries = sh.cluster().pool(pool).expect("pool").repository.entries();
        assert!(entries[0].sticky.is_empty(), "{pool}: {:?}", entries[0].sticky);
    }
    run(&mut sh, "\\c PinManager");
    assert_eq!(run(&mut sh, "ls"), "");
}

/// A copy request that lists an owner twice (`-tmode=same+lhcb(3600)` on a replica sticky
/// for `lhcb` for ever) makes a replica with one `lhcb` record, the longer, and a restart
/// brings back the same: the database keeps one row per owner, and the replica had two records
/// in memory, the shorter one's row on disk, so it lost its stickiness an hour after a restart.
#[test]
fn a_copy_listing_an_owner_twice_makes_one_record_that_survives_a_restart() {
    let home = TempHome::new();
    let pools = ["pool1", "pool2"];
    let one = "000100000000000000000001";
    let records = |sh: &Shell| sh.cluster().pool("pool2").expect("pool2").repository.entries()[0].sticky.clone();
    let before = {
        let mut sh = open(home.path(), &pools);
        run(&mut sh, "\\c pool1");
        run(&mut sh, "populate -files=1 -size=10 -state=cached -sticky=lhcb");
        run(&mut sh, "migration copy -tmode=same+lhcb(3600) pool2");
        wait_finished(&mut sh, "1");
        let before = records(&sh);
        assert_eq!(before.len(), 1, "{one}: {before:?}");
        assert!(before[0].owner == "lhcb" && before[0].expire == migration_core::replica::NEVER_EXPIRES, "{before:?}");
        before
    };
    let sh = open(home.path(), &pools);
    assert_eq!(records(&sh), before);
}
