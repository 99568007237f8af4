//! Files into and out of a pool: `populate` (files of random bytes, written in batches), `put`
//! and `get` (a file of the home's `io` directory), each replica checksummed as it is written.

use std::fs::File;
use std::io::Write as _;
use std::sync::atomic::AtomicBool;

use migration_core::replica::{AccessLatency, Checksum, ReplicaEntry, ReplicaState, RetentionPolicy, StickyRecord};
use migration_core::syntax::ParsedArgs;
use migration_core::{Error, ErrorKind, Millis, PnfsId};

use super::replicas::parse_sticky;
use super::{DEFAULT_STORAGE_CLASS, io_error, not_in_repository, parse_pnfsid, pool_runtime};
use crate::adler32::Adler32;
use crate::cluster::Cluster;
use crate::p2p::copy_with_checksum;
use crate::pool::{PoolMode, PoolNode};
use crate::repository::{BUFFER, Reservation, ReserveError, adler32_of};

/// `n` or `min..max`.
pub(super) fn parse_size(text: &str) -> Result<(u64, u64), Error> {
    let number = |t: &str| t.trim().parse::<u64>().map_err(|_| Error::syntax(format!("Invalid size: {text}")));
    let (min, max) = match text.split_once("..") {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let n = number(text)?;
            (n, n)
        }
    };
    if min > max {
        return Err(Error::syntax(format!("Invalid size range: {text}")));
    }
    Ok((min, max))
}

/// What `populate` and `put` give every new file.
pub(super) struct FileTemplate {
    state: ReplicaState,
    sticky: Vec<StickyRecord>,
    last_access: Millis,
    /// `None`: no storage info (`-no-storage-info`).
    storage_class: Option<String>,
    cache_class: Option<String>,
    access_latency: AccessLatency,
    retention_policy: RetentionPolicy,
}

impl FileTemplate {
    fn parse(cluster: &Cluster, args: &ParsedArgs) -> Result<FileTemplate, Error> {
        let now = cluster.now();
        let age = args.long("age").unwrap_or(0);
        if age < 0 {
            return Err(Error::syntax(format!("Invalid age: {age}")));
        }
        let no_storage_info = args.flag("no-storage-info").unwrap_or(false);
        if no_storage_info && (args.string("storage").is_some() || args.string("cache").is_some()) {
            return Err(Error::syntax("-no-storage-info excludes -storage and -cache"));
        }
        Ok(FileTemplate {
            state: if args.string("state") == Some("cached") { ReplicaState::Cached } else { ReplicaState::Precious },
            sticky: args.string("sticky").map(|s| parse_sticky(s, now)).transpose()?.into_iter().collect(),
            last_access: now.saturating_sub(age.saturating_mul(1000)),
            storage_class: (!no_storage_info)
                .then(|| args.string("storage").unwrap_or(DEFAULT_STORAGE_CLASS).to_string()),
            cache_class: args.string("cache").filter(|c| !c.is_empty()).map(str::to_string),
            access_latency: args.string("al").and_then(AccessLatency::parse).unwrap_or(AccessLatency::Nearline),
            retention_policy: args.string("rp").and_then(RetentionPolicy::parse).unwrap_or(RetentionPolicy::Custodial),
        })
    }

    fn entry(&self, pnfsid: PnfsId, size: u64, adler32: &Adler32) -> ReplicaEntry {
        ReplicaEntry {
            pnfsid,
            state: self.state,
            sticky: self.sticky.clone(),
            size,
            last_access: self.last_access,
            storage_class: self.storage_class.clone(),
            cache_class: self.cache_class.clone(),
            access_latency: Some(self.access_latency),
            retention_policy: Some(self.retention_policy),
            checksums: vec![Checksum { kind: "ADLER32".to_string(), value: adler32.hex() }],
        }
    }
}

pub(super) fn reserve(node: &PoolNode, pnfsid: PnfsId, size: u64) -> Result<Reservation, Error> {
    node.repository.reserve(pnfsid, size, node.capacity()).map_err(|e| match e {
        ReserveError::Full => Error::new(ErrorKind::State, format!("Pool {} is full", node.name)),
        ReserveError::Exists => Error::new(ErrorKind::State, format!("Replica already exists: {pnfsid}")),
        ReserveError::Io(e) => io_error(format!("cannot write {pnfsid}"), e),
    })
}

/// Files written per database transaction by `populate`. Each holds its data file open until
/// the commit, so this also bounds the descriptors a `populate` keeps open.
pub(super) const POPULATE_BATCH: usize = 256;

/// Writes `size` bytes of the stream of `seed` to `file`; returns their ADLER32.
pub(super) fn write_random(mut file: &File, size: u64, seed: u64, buffer: &mut Vec<u8>) -> std::io::Result<Adler32> {
    let mut rng = migration_core::random::Rng::seeded(seed);
    let mut sum = Adler32::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(BUFFER as u64) as usize;
        buffer.clear();
        while buffer.len() < n {
            buffer.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        buffer.truncate(n);
        sum.update(buffer);
        file.write_all(buffer)?;
        left -= n as u64;
    }
    Ok(sum)
}

/// A disabled pool (`-rdonly` or `-strict`) stores nothing new.
pub(super) fn check_stores(node: &PoolNode) -> Result<(), Error> {
    match node.mode() {
        PoolMode::Enabled => Ok(()),
        _ => Err(Error::new(ErrorKind::State, "Pool is disabled")),
    }
}

/// The most files one `populate` makes: its plan, ids and entries are made in memory first
/// (some 300 bytes a file in all).
const MAX_POPULATE: i32 = 10_000_000;

pub(super) fn populate(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    check_stores(node)?;
    let files = args.int("files").ok_or_else(|| Error::syntax("Option -files is required"))?;
    if !(0..=MAX_POPULATE).contains(&files) {
        return Err(Error::syntax(format!("Invalid number of files: {files} (0 to {MAX_POPULATE})")));
    }
    let (min, max) = parse_size(args.string("size").ok_or_else(|| Error::syntax("Option -size is required"))?)?;
    // Before the plan is made: a plan for billions of files would not fit in memory.
    if node.repository.used().saturating_add((files as u64).saturating_mul(min)) > node.capacity() {
        return Err(Error::new(ErrorKind::State, format!("Pool {} is full", node.name)));
    }
    let template = FileTemplate::parse(cluster, args)?;
    // Sizes and contents come from the seeded generator, so a script always creates the
    // same files.
    let plan: Vec<(u64, u64)> = {
        let mut rng = cluster.rng().lock();
        (0..files)
            .map(|_| {
                let size = if min == max {
                    min
                } else {
                    let span = max - min;
                    let r = rng.next_u64();
                    min + if span == u64::MAX { r } else { r % (span + 1) }
                };
                (size, rng.next_u64())
            })
            .collect()
    };
    let needed: u64 = plan.iter().map(|(size, _)| size).sum();
    if node.repository.used().saturating_add(needed) > node.capacity() {
        return Err(Error::new(ErrorKind::State, format!("Pool {} is full", node.name)));
    }
    let ids = cluster.namespace().allocate(plan.len() as u64)?;
    // The entries live on in the pool and the namespace: made off the shell's thread (`bulk`).
    let write = || -> Result<u64, Error> {
        let mut buffer = Vec::with_capacity(BUFFER);
        let mut bytes = 0u64;
        for chunk in ids.iter().zip(&plan).collect::<Vec<_>>().chunks(POPULATE_BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for (pnfsid, (size, seed)) in chunk {
                let reservation = reserve(node, **pnfsid, *size)?;
                let sum = write_random(reservation.file(), *size, *seed, &mut buffer)
                    .map_err(|e| io_error(format!("cannot write {pnfsid}"), e))?;
                batch.push((reservation, template.entry(**pnfsid, *size, &sum)));
                bytes += size;
            }
            cluster.namespace().create(batch.iter().map(|(_, e)| e.attributes()).collect())?;
            node.repository.commit(batch).map_err(|e| io_error("cannot store the files", e))?;
        }
        Ok(bytes)
    };
    let bytes =
        crate::bulk::on_its_own_thread("populate", write).map_err(|e| io_error("cannot start populate", e))??;
    Ok(format!("Created {files} files ({bytes} bytes)"))
}

pub(super) fn put(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let text = args.arg(0).unwrap_or_default();
    let path = cluster.home().resolve_existing(text)?;
    check_stores(node)?;
    let template = FileTemplate::parse(cluster, args)?;
    let mut input = File::open(&path).map_err(|e| io_error(text, e))?;
    let size = input.metadata().map_err(|e| io_error(text, e))?.len();
    let pnfsid = cluster.namespace().allocate(1)?[0];
    let reservation = reserve(node, pnfsid, size)?;
    let (sum, length) = copy_with_checksum(&mut input, size, &mut reservation.file(), &AtomicBool::new(false))
        .map_err(|f| Error::new(ErrorKind::Host, f.to_string()))?;
    let entry = template.entry(pnfsid, length, &sum);
    cluster.namespace().create(vec![entry.attributes()])?;
    node.repository.commit(vec![(reservation, entry)]).map_err(|e| io_error("cannot store the file", e))?;
    Ok(format!("{pnfsid} {length} ADLER32:{}", sum.hex()))
}

pub(super) fn get(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let text = args.arg(1).unwrap_or_default();
    let protocol = crate::protocol::from_options(args)?;
    let target = cluster.home().resolve_new(text, &cluster.pool_names())?;
    if node.mode() == PoolMode::Strict {
        return Err(Error::new(ErrorKind::State, "Pool is disabled"));
    }
    let opened = node.repository.open_data(&pnfsid).map_err(|e| io_error(pnfsid, e))?;
    let (entry, mut input) = opened.ok_or_else(|| not_in_repository(&pnfsid))?;
    let (_reading, readers) = node.start_reading(pnfsid);
    let runtime = pool_runtime(cluster, &node.name)?;
    runtime.call(|module, _| module.report_readers(pnfsid, i64::from(readers), protocol.as_ref()))?;

    // Written under a temporary name (never an existing file: create_new does not follow
    // links), renamed once complete and checked.
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = target.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let mut output = File::create_new(&partial).map_err(|e| io_error(text, e))?;
    let copied = copy_with_checksum(&mut input, entry.size, &mut output, &AtomicBool::new(false));
    drop(output);
    let result = copied.map_err(|f| Error::new(ErrorKind::Host, f.to_string())).and_then(|(sum, length)| {
        let recorded = cluster.namespace().file(&pnfsid).map(|f| f.attributes.checksums).unwrap_or_default();
        let expected = adler32_of(&recorded).or_else(|| adler32_of(&entry.checksums)).map(str::to_string);
        match expected {
            Some(expected) if !expected.eq_ignore_ascii_case(&sum.hex()) => Err(Error::new(
                ErrorKind::State,
                format!("Checksum mismatch for {pnfsid}: ADLER32 is {}, expected {expected}", sum.hex()),
            )),
            _ => Ok((sum, length)),
        }
    });
    let (sum, length) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &target).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        io_error(text, e)
    })?;
    node.repository.touch(&pnfsid, cluster.now());
    Ok(format!("{length} bytes written to {} (ADLER32:{})", target.display(), sum.hex()))
}
