//! The namespace (dCache's PnfsManager): file attributes, checksum and cache locations per
//! PNFS id.

use std::collections::HashMap;

use migration_core::PnfsId;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{self, Completion};
use migration_core::replica::{FileAttributes, ReplicaEntry};
use parking_lot::Mutex;

/// What the namespace knows about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Attributes, checksums included.
    pub attributes: FileAttributes,
    /// Pools registered as holding a replica, in registration order.
    pub locations: Vec<String>,
}

/// The namespace shared by every pool.
#[derive(Default)]
pub struct PnfsManager {
    files: Mutex<HashMap<PnfsId, FileRecord>>,
}

impl PnfsManager {
    /// An empty namespace.
    pub fn new() -> PnfsManager {
        PnfsManager::default()
    }

    /// Registers a file (or replaces its attributes, keeping its locations).
    pub fn create(&self, attributes: FileAttributes) {
        let mut files = self.files.lock();
        match files.get_mut(&attributes.pnfsid) {
            Some(record) => record.attributes = attributes,
            None => {
                files.insert(attributes.pnfsid, FileRecord { attributes, locations: Vec::new() });
            }
        }
    }

    /// Adds `pool` as a location; a file the namespace did not know is registered with the
    /// replica's attributes.
    pub fn add_location(&self, entry: &ReplicaEntry, pool: &str) {
        let mut files = self.files.lock();
        let record = files
            .entry(entry.pnfsid)
            .or_insert_with(|| FileRecord { attributes: entry.attributes(), locations: Vec::new() });
        if !record.locations.iter().any(|l| l == pool) {
            record.locations.push(pool.to_string());
        }
    }

    /// Removes `pool` as a location (the file itself stays in the namespace).
    pub fn remove_location(&self, pnfsid: &PnfsId, pool: &str) {
        if let Some(record) = self.files.lock().get_mut(pnfsid) {
            record.locations.retain(|l| l != pool);
        }
    }

    /// Deletes a file from the namespace.
    pub fn delete(&self, pnfsid: &PnfsId) -> bool {
        self.files.lock().remove(pnfsid).is_some()
    }

    /// The file's record.
    pub fn file(&self, pnfsid: &PnfsId) -> Option<FileRecord> {
        self.files.lock().get(pnfsid).cloned()
    }

    /// The file's cache locations; `None` for an unknown file.
    pub fn locations(&self, pnfsid: &PnfsId) -> Option<Vec<String>> {
        self.files.lock().get(pnfsid).map(|r| r.locations.clone())
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.lock().len()
    }

    /// Whether the namespace has no file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl host::Namespace for PnfsManager {
    fn cache_locations(&self, pnfsid: PnfsId, done: Completion<Vec<String>>) {
        let outcome = self.locations(&pnfsid).ok_or_else(|| Failure::error(ReturnCode::FILE_NOT_FOUND, "No such file"));
        done.complete(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration_core::host::Namespace as _;
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

    #[test]
    fn unknown_file_is_file_not_found() {
        let ns = PnfsManager::new();
        assert_eq!(ask(&ns, id(1)), Err(Failure::error(ReturnCode::FILE_NOT_FOUND, "No such file")));
    }

    #[test]
    fn locations_follow_replicas_once_each() {
        let ns = PnfsManager::new();
        let entry = ReplicaEntry::new(id(1), ReplicaState::Precious, 10, 0);
        ns.add_location(&entry, "pool1");
        ns.add_location(&entry, "pool2");
        ns.add_location(&entry, "pool1");
        assert_eq!(ask(&ns, id(1)), Ok(vec!["pool1".to_string(), "pool2".to_string()]));
        ns.remove_location(&id(1), "pool1");
        assert_eq!(ask(&ns, id(1)), Ok(vec!["pool2".to_string()]));
    }
}
