//! The namespace (dCache's PnfsManager): file attributes, checksums and cache locations per
//! PNFS id, kept in memory and in the home's database (`files`, `locations`), and the
//! allocation of new PNFS ids.
//!
//! Cache locations are written behind (dCache's pools register them asynchronously too) and
//! made exact again on start from what the pools hold ([`PnfsManager::reconcile`]).

use std::collections::HashMap;
use std::sync::Arc;

use migration_core::PnfsId;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{self, Completion};
use migration_core::replica::{AccessLatency, FileAttributes, ReplicaEntry, RetentionPolicy};
use migration_core::{Error, ErrorKind};
use parking_lot::Mutex;
use rusqlite::{Connection, params};

use crate::repository::{format_checksums, parse_checksums};
use crate::store::Store;

/// The first four hex digits of every id minidcache creates.
pub const ID_PREFIX: &str = "0001";

/// What the namespace knows about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Attributes, checksums included.
    pub attributes: FileAttributes,
    /// Pools registered as holding a replica, in registration order.
    pub locations: Vec<String>,
}

#[derive(Default)]
struct Files {
    records: HashMap<PnfsId, FileRecord>,
    /// The number of the last id handed out.
    last_id: u64,
}

/// The namespace as read from the database.
pub struct Loaded(Files);

/// The namespace shared by every pool.
pub struct PnfsManager {
    files: Mutex<Files>,
    store: Arc<Store>,
}

/// The namespace's tables in the home's database.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files (
    pnfsid           TEXT PRIMARY KEY,
    size             INTEGER NOT NULL,
    storage_class    TEXT,
    cache_class      TEXT,
    access_latency   TEXT,
    retention_policy TEXT,
    checksums        TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS locations (
    pnfsid TEXT NOT NULL,
    pool   TEXT NOT NULL,
    UNIQUE (pnfsid, pool)
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

fn write_file(c: &Connection, a: &FileAttributes) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO files (pnfsid, size, storage_class, cache_class, access_latency, retention_policy,
         checksums) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        a.pnfsid.to_string(),
        a.size as i64,
        a.storage_class,
        a.cache_class,
        a.access_latency.map(AccessLatency::name),
        a.retention_policy.map(RetentionPolicy::name),
        format_checksums(&a.checksums),
    ])?;
    Ok(())
}

/// Sets a counter of the `counters` table.
pub fn set_counter(c: &Connection, name: &str, value: u64) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT OR REPLACE INTO counters (name, value) VALUES (?1, ?2)")?
        .execute(params![name, value as i64])?;
    Ok(())
}

/// Reads a counter (0 when unset).
pub fn counter(c: &Connection, name: &str) -> rusqlite::Result<u64> {
    let mut query = c.prepare("SELECT value FROM counters WHERE name = ?1")?;
    let mut rows = query.query([name])?;
    Ok(match rows.next()? {
        Some(row) => row.get::<_, i64>(0)?.max(0) as u64,
        None => 0,
    })
}

fn host_error(e: impl ToString) -> Error {
    Error::new(ErrorKind::Host, e.to_string())
}

impl PnfsManager {
    /// Reads the namespace from `connection` (before the store's writer thread takes it).
    pub fn load(connection: &Connection) -> rusqlite::Result<Loaded> {
        let mut files = Files { last_id: counter(connection, "pnfsid")?, ..Files::default() };
        let mut query = connection.prepare(
            "SELECT pnfsid, size, storage_class, cache_class, access_latency, retention_policy, checksums FROM files",
        )?;
        let rows = query.query_map([], |r| {
            let id: String = r.get(0)?;
            let al: Option<String> = r.get(4)?;
            let rp: Option<String> = r.get(5)?;
            let sums: String = r.get(6)?;
            Ok((id, r.get::<_, i64>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?, al, rp, sums))
        })?;
        for row in rows {
            let (id, size, storage_class, cache_class, al, rp, sums) = row?;
            let Ok(pnfsid) = PnfsId::parse(&id) else { continue };
            let attributes = FileAttributes {
                pnfsid,
                size: size.max(0) as u64,
                storage_class,
                cache_class,
                access_latency: al.as_deref().and_then(AccessLatency::parse),
                retention_policy: rp.as_deref().and_then(RetentionPolicy::parse),
                checksums: parse_checksums(&sums),
            };
            files.records.insert(pnfsid, FileRecord { attributes, locations: Vec::new() });
        }
        let mut query = connection.prepare("SELECT pnfsid, pool FROM locations ORDER BY rowid")?;
        let rows = query.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, pool) = row?;
            if let Some(record) = PnfsId::parse(&id).ok().and_then(|p| files.records.get_mut(&p)) {
                record.locations.push(pool);
            }
        }
        Ok(Loaded(files))
    }

    /// The namespace as loaded, written through `store`.
    pub fn new(loaded: Loaded, store: Arc<Store>) -> PnfsManager {
        PnfsManager { files: Mutex::new(loaded.0), store }
    }

    /// Hands out `n` new ids (`0001` followed by a counter); the counter is committed first,
    /// so an id is never handed out twice, even across a crash.
    pub fn allocate(&self, n: u64) -> Result<Vec<PnfsId>, Error> {
        let (first, last) = {
            let mut files = self.files.lock();
            let first = files.last_id + 1;
            files.last_id += n;
            (first, files.last_id)
        };
        self.store.write(move |c| set_counter(c, "pnfsid", last)).map_err(host_error)?;
        Ok((first..=last)
            .map(|n| PnfsId::parse(&format!("{ID_PREFIX}{n:020X}")).expect("24 hex digits are a valid id"))
            .collect())
    }

    /// Registers files (or replaces their attributes, keeping their locations); returns once
    /// they are committed.
    pub fn create(&self, files: Vec<FileAttributes>) -> Result<(), Error> {
        {
            let mut f = self.files.lock();
            for attributes in &files {
                match f.records.get_mut(&attributes.pnfsid) {
                    Some(record) => record.attributes = attributes.clone(),
                    None => {
                        let record = FileRecord { attributes: attributes.clone(), locations: Vec::new() };
                        f.records.insert(attributes.pnfsid, record);
                    }
                }
            }
        }
        self.store.write(move |c| files.iter().try_for_each(|a| write_file(c, a))).map_err(host_error)
    }

    /// Adds `pool` as a location; a file the namespace did not know is registered with the
    /// replica's attributes.
    pub fn add_location(&self, entry: &ReplicaEntry, pool: &str) {
        let mut files = self.files.lock();
        let mut created = None;
        let record = files.records.entry(entry.pnfsid).or_insert_with(|| {
            created = Some(entry.attributes());
            FileRecord { attributes: entry.attributes(), locations: Vec::new() }
        });
        if !record.locations.iter().any(|l| l == pool) {
            record.locations.push(pool.to_string());
            let (id, pool) = (entry.pnfsid.to_string(), pool.to_string());
            // Queued under the lock: the database sees the changes in the order we made them.
            self.store.submit(move |c| {
                if let Some(attributes) = &created {
                    write_file(c, attributes)?;
                }
                c.prepare_cached("INSERT OR IGNORE INTO locations (pnfsid, pool) VALUES (?1, ?2)")?
                    .execute(params![id, pool])
                    .map(|_| ())
            });
        }
    }

    /// Removes `pool` as a location (the file itself stays in the namespace).
    pub fn remove_location(&self, pnfsid: &PnfsId, pool: &str) {
        let mut files = self.files.lock();
        if let Some(record) = files.records.get_mut(pnfsid) {
            let before = record.locations.len();
            record.locations.retain(|l| l != pool);
            if record.locations.len() != before {
                let (id, pool) = (pnfsid.to_string(), pool.to_string());
                self.store.submit(move |c| {
                    c.prepare_cached("DELETE FROM locations WHERE pnfsid = ?1 AND pool = ?2")?
                        .execute(params![id, pool])
                        .map(|_| ())
                });
            }
        }
    }

    /// Makes the locations of `pool` exactly the replicas it holds (at start, after a crash
    /// may have lost location changes written behind).
    pub fn reconcile(&self, pool: &str, entries: &[ReplicaEntry]) {
        let held: HashMap<PnfsId, &ReplicaEntry> = entries
            .iter()
            .filter(|e| e.state.is_cached_or_precious() || e.state == migration_core::replica::ReplicaState::Broken)
            .map(|e| (e.pnfsid, e))
            .collect();
        let stale: Vec<PnfsId> = {
            let files = self.files.lock();
            files
                .records
                .iter()
                .filter(|(id, r)| r.locations.iter().any(|l| l == pool) && !held.contains_key(id))
                .map(|(id, _)| *id)
                .collect()
        };
        for id in stale {
            self.remove_location(&id, pool);
        }
        for entry in held.values() {
            self.add_location(entry, pool);
        }
    }

    /// The file's record.
    pub fn file(&self, pnfsid: &PnfsId) -> Option<FileRecord> {
        self.files.lock().records.get(pnfsid).cloned()
    }

    /// Every file's record, by id.
    pub fn files(&self) -> Vec<FileRecord> {
        let files = self.files.lock();
        let mut all: Vec<FileRecord> = files.records.values().cloned().collect();
        all.sort_by_key(|r| r.attributes.pnfsid.to_string());
        all
    }

    /// The file's cache locations; `None` for an unknown file.
    pub fn locations(&self, pnfsid: &PnfsId) -> Option<Vec<String>> {
        self.files.lock().records.get(pnfsid).map(|r| r.locations.clone())
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.lock().records.len()
    }

    /// Whether the namespace has no file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl host::PnfsManager for PnfsManager {
    fn cache_locations(&self, pnfsid: PnfsId, done: Completion<Vec<String>>) {
        let outcome = self.locations(&pnfsid).ok_or_else(|| Failure::error(ReturnCode::FILE_NOT_FOUND, "No such file"));
        done.complete(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration_core::host::PnfsManager as _;
    use migration_core::replica::ReplicaState;
    use std::sync::mpsc;

    fn id(n: u32) -> PnfsId {
        PnfsId::parse(&format!("{n:x}")).expect("valid")
    }

    fn ask(ns: &PnfsManager, pnfsid: PnfsId) -> Result<Vec<String>, Failure> {
        let (tx, rx) = mpsc::channel();
        ns.cache_locations(pnfsid, Completion::new(move |o| tx.send(o).expect("receiver alive")));
        rx.recv().expect("answered")
    }

    /// A namespace over a database in memory.
    fn namespace() -> PnfsManager {
        let connection = Connection::open_in_memory().expect("memory db");
        connection.execute_batch(SCHEMA).expect("schema");
        let loaded = PnfsManager::load(&connection).expect("loads");
        PnfsManager::new(loaded, Arc::new(Store::start("t", connection, None).expect("store")))
    }

    #[test]
    fn unknown_file_is_file_not_found() {
        let ns = namespace();
        assert_eq!(ask(&ns, id(1)), Err(Failure::error(ReturnCode::FILE_NOT_FOUND, "No such file")));
    }

    #[test]
    fn locations_follow_replicas_once_each() {
        let ns = namespace();
        let entry = ReplicaEntry::new(id(1), ReplicaState::Precious, 10, 0);
        ns.add_location(&entry, "pool1");
        ns.add_location(&entry, "pool2");
        ns.add_location(&entry, "pool1");
        assert_eq!(ask(&ns, id(1)), Ok(vec!["pool1".to_string(), "pool2".to_string()]));
        ns.remove_location(&id(1), "pool1");
        assert_eq!(ask(&ns, id(1)), Ok(vec!["pool2".to_string()]));
    }
}
