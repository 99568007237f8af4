//! `minidcache demo`: creates a home with seven pools, fills two of them with real files, and
//! plays the dCache Book's two migration sessions on them ("Vacating a pool", "Caching
//! recently accessed files"), printing the transcript; then reads every replica back and
//! checks it against the checksum the namespace recorded when the file was created.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use migration_core::{Error, ErrorKind};

use crate::cluster::{Cluster, ClusterConfig};
use crate::commands::human;
use crate::repository::{adler32_of, checksum_file};
use crate::shell::{Reply, Shell};

/// Pools of the demo: the pool to vacate, its target, and the five pools of `cache_pools`.
pub const POOLS: [&str; 7] = ["pool1", "pool2", "cache1", "cache2", "cache3", "cache4", "cache5"];

/// Capacity of each demo pool: 1 GiB.
const CAPACITY: u64 = 1 << 30;

/// What a run of the demo verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Files in the namespace.
    pub files: usize,
    /// Replicas read back.
    pub replicas: usize,
    /// Bytes read back.
    pub bytes: u64,
    /// Replicas whose data did not match (empty: all good).
    pub mismatches: Vec<String>,
}

/// Reads every replica of every file and compares it with the namespace's checksum.
pub fn verify(cluster: &Cluster) -> Verified {
    let mut verified = Verified { files: 0, replicas: 0, bytes: 0, mismatches: Vec::new() };
    for file in cluster.namespace().files() {
        verified.files += 1;
        let pnfsid = file.attributes.pnfsid;
        let expected = adler32_of(&file.attributes.checksums).map(str::to_string);
        if file.locations.is_empty() {
            verified.mismatches.push(format!("{pnfsid}: no replica left"));
        }
        for pool in &file.locations {
            let Some(node) = cluster.pool(pool) else {
                verified.mismatches.push(format!("{pnfsid}@{pool}: no such pool"));
                continue;
            };
            match checksum_file(&node.repository.data_path(&pnfsid)) {
                Ok((actual, len)) => {
                    verified.replicas += 1;
                    verified.bytes += len;
                    if len != file.attributes.size || expected.as_deref() != Some(actual.as_str()) {
                        verified.mismatches.push(format!("{pnfsid}@{pool}: ADLER32 {actual}, {len} bytes"));
                    }
                }
                Err(e) => verified.mismatches.push(format!("{pnfsid}@{pool}: {e}")),
            }
        }
    }
    verified
}

/// The demo's script: `Some(line)` is a command, `None` a pause that lets a job get going.
fn sessions() -> Vec<(&'static str, Vec<Option<&'static str>>)> {
    vec![
        (
            "Setting up: real files with random content on pool1 and pool2",
            vec![
                Some("\\c pool1"),
                Some("populate -files=600 -size=1024..262144 -storage=atlas:default"),
                Some("populate -files=200 -size=1024..262144 -storage=cms:raw"),
                Some("\\q"),
                Some("\\c pool2"),
                // Not accessed for 60 days: the cache job below leaves these alone.
                Some("populate -files=300 -size=1024..262144 -storage=atlas:default -age=5184000"),
                Some("populate -files=100 -size=1024..262144 -storage=cms:raw"),
                Some("\\q"),
            ],
        ),
        (
            "Vacating a pool",
            vec![
                Some("\\c pool1"),
                Some("pool disable -rdonly"),
                Some("migration move pool2"),
                None,
                Some("migration info 1"),
                Some("wait 1 -timeout=300"),
                Some("migration info 1"),
                Some("rep ls"),
                Some("info"),
                Some("\\q"),
            ],
        ),
        (
            "Caching recently accessed files",
            vec![
                Some("\\c PoolManager"),
                Some("psu create pgroup cache_pools"),
                Some("psu addto pgroup cache_pools cache1"),
                Some("psu addto pgroup cache_pools cache2"),
                Some("psu addto pgroup cache_pools cache3"),
                Some("psu addto pgroup cache_pools cache4"),
                Some("psu addto pgroup cache_pools cache5"),
                Some("\\q"),
                Some("\\c pool2"),
                Some("migration cache -target=pgroup -accessed=0..2592000 -storage=atlas:default cache_pools"),
                None,
                Some("migration info 1"),
                Some("wait 1 -timeout=300"),
                Some("migration info 1"),
                Some("\\q"),
                Some("\\c cache3"),
                Some("info"),
                Some("\\q"),
            ],
        ),
    ]
}

/// Creates a new directory for the demo's home under the temporary directory.
fn temporary_home() -> std::io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("minidcache-demo-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

fn fresh(home: &Path) -> Result<(), Error> {
    match std::fs::read_dir(home).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("the demo needs a new home, and {} is not empty", home.display()),
        )),
        _ => Ok(()),
    }
}

/// Runs the demo in `home` (a new temporary directory, removed afterwards, when `None`),
/// writing the transcript to `out`.
pub fn run(home: Option<&Path>, out: &mut dyn Write) -> Result<Verified, Error> {
    let started = Instant::now();
    let io = |e: std::io::Error| Error::new(ErrorKind::Host, format!("cannot write the transcript: {e}"));
    let (dir, temporary) = match home {
        Some(dir) => {
            fresh(dir)?;
            (dir.to_path_buf(), false)
        }
        None => {
            let dir =
                temporary_home().map_err(|e| Error::new(ErrorKind::Host, format!("cannot create a home: {e}")))?;
            (dir, true)
        }
    };
    let mut config = ClusterConfig::new(&dir).with_pools(&POOLS);
    config.capacity = Some(CAPACITY);
    let result = (|| {
        let mut shell = Shell::new(Cluster::new(config)?);
        writeln!(out, "minidcache demo: {} pools of {} in {}", POOLS.len(), human(CAPACITY), dir.display())
            .map_err(io)?;
        for (title, lines) in sessions() {
            writeln!(out, "\n# {title}\n").map_err(io)?;
            for line in lines {
                let Some(line) = line else {
                    std::thread::sleep(Duration::from_millis(150));
                    continue;
                };
                let prompt = shell.prompt();
                writeln!(out, "{prompt}{line}").map_err(io)?;
                match shell.execute(line) {
                    Reply::Output(text) => out.write_all(text.as_bytes()).map_err(io)?,
                    Reply::Skipped | Reply::Quit => {}
                }
                out.flush().map_err(io)?;
            }
        }
        let verified = verify(shell.cluster());
        writeln!(out).map_err(io)?;
        if verified.mismatches.is_empty() {
            writeln!(
                out,
                "Verified: {} files, {} replicas, {}, all checksums match",
                verified.files,
                verified.replicas,
                human(verified.bytes)
            )
            .map_err(io)?;
        } else {
            for m in &verified.mismatches {
                writeln!(out, "MISMATCH {m}").map_err(io)?;
            }
            writeln!(out, "Verified: {} files, {} replicas do NOT match", verified.files, verified.mismatches.len())
                .map_err(io)?;
        }
        shell.cluster().shutdown();
        Ok(verified)
    })();
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else if result.is_ok() {
        writeln!(out, "The home is kept: minidcache --home {}", dir.display()).map_err(io)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    writeln!(out, "Demo finished in {elapsed:.1} s").map_err(io)?;
    result
}
