//! Helpers for tests of the core and of the hosts and bindings built on it (feature
//! `test-util`): one shared recorder of completions instead of one per crate.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::driver::memory::MemoryRepository;
use crate::error::{Failure, Outcome};
use crate::host::{Completion, Repository, RepositoryError};
use crate::pnfsid::PnfsId;
use crate::replica::{ReplicaEntry, ReplicaState, StickyRecord};

/// The outcomes a [`recorder`]'s completion received, in order.
pub type Seen<T> = Arc<Mutex<Vec<Outcome<T>>>>;

/// A completion that records its outcome, and where to read it: dropping it unanswered
/// records the failure a forgetful host causes.
pub fn recorder<T: Send + 'static>() -> (Seen<T>, Completion<T>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    (seen, Completion::new(move |o| s.lock().push(o)))
}

/// A repository that misbehaves as a host's may: its scan panics (`scan_panics`) or is slow
/// (`scan_delay` a replica), or its checksum verification does (`verify_panics`). Everything
/// else is `replicas`'. `scanned` counts the replicas its scans handed out.
#[derive(Default)]
pub struct MisbehavingRepository {
    pub replicas: MemoryRepository,
    pub scan_panics: bool,
    pub scan_delay: Option<std::time::Duration>,
    pub scanned: std::sync::atomic::AtomicUsize,
    pub verify_panics: bool,
    pub read_panics: bool,
}

impl Repository for MisbehavingRepository {
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError> {
        assert!(!self.scan_panics, "the host's index is corrupt");
        self.replicas.for_each(&mut |entry| {
            if let Some(delay) = self.scan_delay {
                std::thread::sleep(delay);
            }
            self.scanned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            visit(entry)
        })
    }
    fn entry(&self, pnfsid: &PnfsId) -> Result<Option<ReplicaEntry>, String> {
        assert!(!self.read_panics, "the repository's database is gone");
        self.replicas.entry(pnfsid)
    }
    fn set_state(&self, pnfsid: &PnfsId, state: ReplicaState, reason: &str) -> Result<(), RepositoryError> {
        self.replicas.set_state(pnfsid, state, reason)
    }
    fn set_sticky(&self, pnfsid: &PnfsId, record: &StickyRecord, overwrite: bool) -> Result<(), RepositoryError> {
        self.replicas.set_sticky(pnfsid, record, overwrite)
    }
    fn remove_if_unchanged(
        &self,
        pnfsid: &PnfsId,
        seen: &crate::replica::Durability,
        reason: &str,
    ) -> Result<(), RepositoryError> {
        self.replicas.remove_if_unchanged(pnfsid, seen, reason)
    }
    fn set_state_if_unchanged(
        &self,
        pnfsid: &PnfsId,
        seen: ReplicaState,
        state: ReplicaState,
        reason: &str,
    ) -> Result<(), RepositoryError> {
        self.replicas.set_state_if_unchanged(pnfsid, seen, state, reason)
    }
    fn verifies_checksums(&self) -> bool {
        self.replicas.verifies_checksums()
    }
    fn verify_checksum(&self, pnfsid: &PnfsId) -> Result<(), Failure> {
        assert!(!self.verify_panics, "the checksum module is broken");
        self.replicas.verify_checksum(pnfsid)
    }
    fn accepts_copies(&self) -> bool {
        self.replicas.accepts_copies()
    }
}
