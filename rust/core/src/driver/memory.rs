//! An in-memory repository: the pool of the simulator, the benchmarks and tests. It keeps
//! dCache's rules (legal state changes, sticky semantics) and reports every change to a
//! listener, after releasing its lock, as a real pool's repository does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::error::Failure;
use crate::host::{Repository, RepositoryError};
use crate::input::RepositoryEvent;
use crate::pnfsid::PnfsId;
use crate::replica::{Durability, ReplicaEntry, ReplicaState, StickyRecord};

use super::replica_index::{ReplicaIndex, visit_in_batches};

type Listener = Arc<dyn Fn(RepositoryEvent) + Send + Sync>;

/// A repository held in memory.
#[derive(Default)]
pub struct MemoryRepository {
    entries: RwLock<ReplicaIndex>,
    listener: Mutex<Option<Listener>>,
    corrupted: Mutex<std::collections::HashSet<PnfsId>>,
    /// Still loading: listing it fails with `NotLoaded`.
    loading: AtomicBool,
    /// Declares that it cannot verify checksums.
    cannot_verify: AtomicBool,
    /// Disabled for copies from other pools, as the pool's mode would say.
    disabled: AtomicBool,
}

impl MemoryRepository {
    /// An empty repository.
    pub fn new() -> MemoryRepository {
        MemoryRepository::default()
    }

    /// Sets who hears about changes.
    pub fn set_listener(&self, listener: impl Fn(RepositoryEvent) + Send + Sync + 'static) {
        *self.listener.lock() = Some(Arc::new(listener));
    }

    fn notify(&self, event: RepositoryEvent) {
        let listener = self.listener.lock().clone();
        if let Some(listener) = listener {
            listener(event);
        }
    }

    /// Adds (or replaces) a replica; reported as a state change from `NEW`. Its data is new,
    /// so a corrupt mark of the replica it replaces goes.
    pub fn insert(&self, entry: ReplicaEntry) {
        self.corrupted.lock().remove(&entry.pnfsid);
        let old = self.entries.write().upsert(entry.clone());
        self.notify(RepositoryEvent::StateChanged { old, new: entry.state, entry });
    }

    /// Adds many replicas without reporting them (a pool that loaded before the module).
    pub fn load(&self, entries: impl IntoIterator<Item = ReplicaEntry>) {
        let mut index = self.entries.write();
        for entry in entries {
            let seq = index.take_seq();
            index.insert_at(seq, entry);
        }
    }

    /// Removes a sticky record outright (what the pin manager does when it moves a pin).
    pub fn remove_sticky(&self, pnfsid: &PnfsId, owner: &str) -> bool {
        let change = self.entries.write().remove_sticky(pnfsid, owner);
        let Some(change) = change else { return false };
        self.notify(change.event);
        true
    }

    /// Marks the repository as still loading (listing it fails) or as loaded.
    pub fn set_loading(&self, loading: bool) {
        self.loading.store(loading, Ordering::SeqCst);
    }

    /// Declares whether the repository can verify checksums.
    pub fn set_verifies_checksums(&self, verifies: bool) {
        self.cannot_verify.store(!verifies, Ordering::SeqCst);
    }

    /// Sets the pool's mode as [`Repository::accepts_copies`] answers it.
    pub fn set_accepts_copies(&self, accepts: bool) {
        self.disabled.store(!accepts, Ordering::SeqCst);
    }

    /// Makes `verify_checksum` fail for this replica (fault injection).
    pub fn corrupt(&self, pnfsid: PnfsId) {
        self.corrupted.lock().insert(pnfsid);
    }

    /// Whether the replica was marked corrupt.
    pub fn is_corrupt(&self, pnfsid: &PnfsId) -> bool {
        self.corrupted.lock().contains(pnfsid)
    }

    /// Number of replicas.
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// Whether the repository is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, in repository order.
    pub fn entries(&self) -> Vec<ReplicaEntry> {
        self.entries.read().entries()
    }

    /// Total bytes held.
    pub fn used(&self) -> u64 {
        self.entries.read().used()
    }

    /// Bytes of cached replicas without a valid sticky record at `now` (garbage-collectable).
    pub fn removable(&self, now: crate::Millis) -> u64 {
        self.entries.read().removable(now).0
    }

    /// Changes the access time (reported as an access-time change).
    pub fn touch(&self, pnfsid: &PnfsId, last_access: crate::Millis) {
        let change = self.entries.write().touch(pnfsid, last_access);
        if let Some(change) = change {
            self.notify(change.event);
        }
    }
}

impl Repository for MemoryRepository {
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError> {
        if self.loading.load(Ordering::SeqCst) {
            return Err(RepositoryError::NotLoaded);
        }
        visit_in_batches(|| self.entries.read(), visit);
        Ok(())
    }

    fn entry(&self, pnfsid: &PnfsId) -> Result<Option<ReplicaEntry>, String> {
        Ok(self.entries.read().get(pnfsid).cloned())
    }

    fn set_state(&self, pnfsid: &PnfsId, state: ReplicaState, _reason: &str) -> Result<(), RepositoryError> {
        let change = self.entries.write().set_state(pnfsid, state)?;
        if let Some(change) = change {
            self.notify(change.event);
        }
        Ok(())
    }

    fn remove_if_unchanged(&self, pnfsid: &PnfsId, seen: &Durability, _reason: &str) -> Result<(), RepositoryError> {
        let change = self.entries.write().remove_if_unchanged(pnfsid, seen)?;
        if let Some(change) = change {
            self.notify(change.event);
        }
        Ok(())
    }

    fn set_state_if_unchanged(
        &self,
        pnfsid: &PnfsId,
        seen: ReplicaState,
        state: ReplicaState,
        _reason: &str,
    ) -> Result<(), RepositoryError> {
        let change = self.entries.write().set_state_if_unchanged(pnfsid, seen, state)?;
        if let Some(change) = change {
            self.notify(change.event);
        }
        Ok(())
    }

    fn set_sticky(&self, pnfsid: &PnfsId, record: &StickyRecord, overwrite: bool) -> Result<(), RepositoryError> {
        let change = self.entries.write().set_sticky(pnfsid, record, overwrite)?;
        if let Some(change) = change {
            self.notify(change.event);
        }
        Ok(())
    }

    fn verifies_checksums(&self) -> bool {
        !self.cannot_verify.load(Ordering::SeqCst)
    }

    fn accepts_copies(&self) -> bool {
        !self.disabled.load(Ordering::SeqCst)
    }

    fn verify_checksum(&self, pnfsid: &PnfsId) -> Result<(), Failure> {
        if self.is_corrupt(pnfsid) {
            return Err(Failure::error(crate::ReturnCode::FILE_CORRUPTED, "Checksum mismatch"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{remove_if_unchanged_in_two_steps, set_state_if_unchanged_in_two_steps};

    /// The in-memory repository's removal in one step, and the default of hosts that cannot
    /// hold a lock across a look and a change, answer alike.
    #[test]
    fn a_replica_is_removed_only_if_it_is_as_seen() {
        type Remove = fn(&MemoryRepository, &PnfsId, &Durability) -> Result<(), RepositoryError>;
        let in_one_step: Remove = |r, id, seen| r.remove_if_unchanged(id, seen, "test");
        let in_two_steps: Remove = |r, id, seen| remove_if_unchanged_in_two_steps(r, id, seen, "test");
        for remove in [in_one_step, in_two_steps] {
            let repository = MemoryRepository::new();
            let id = PnfsId::from_bytes(&[1; 12]).expect("an id");
            let entry = ReplicaEntry::new(id, ReplicaState::Cached, 10, 0);
            repository.insert(entry.clone());
            let seen = Durability::of(&entry);

            repository.set_sticky(&id, &StickyRecord::new("PinManager-1", -1), true).expect("pinned");
            assert_eq!(remove(&repository, &id, &seen), Err(RepositoryError::Changed));
            assert!(repository.entry(&id).expect("read").is_some_and(|e| e.is_pinned("PinManager")), "kept");

            let pinned = Durability::of(&repository.entry(&id).expect("read").expect("there"));
            assert_eq!(remove(&repository, &id, &pinned), Ok(()));
            assert_eq!(repository.entry(&id), Ok(None), "removed as seen");
            assert_eq!(remove(&repository, &id, &pinned), Err(RepositoryError::NotFound));
        }
    }

    /// The in-memory repository's conditional state change in one step, and the default of
    /// hosts that cannot hold a lock across a look and a change, answer alike: the state
    /// changes only from the state seen, and a change to the state seen is only a check.
    #[test]
    fn a_state_changes_only_from_the_state_seen() {
        use ReplicaState::{Broken, Cached, Precious};
        type SetIf = fn(&MemoryRepository, &PnfsId, ReplicaState, ReplicaState) -> Result<(), RepositoryError>;
        let in_one_step: SetIf = |r, id, seen, state| r.set_state_if_unchanged(id, seen, state, "test");
        let in_two_steps: SetIf = |r, id, seen, state| set_state_if_unchanged_in_two_steps(r, id, seen, state, "test");
        for set_if in [in_one_step, in_two_steps] {
            let repository = MemoryRepository::new();
            let id = PnfsId::from_bytes(&[1; 12]).expect("an id");
            repository.insert(ReplicaEntry::new(id, Cached, 10, 0));
            let state = || repository.entry(&id).expect("read").map(|e| e.state);
            let reported = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = Arc::clone(&reported);
            repository.set_listener(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            });

            // A check reports no change: a permanent job would take the file up again.
            assert_eq!(set_if(&repository, &id, Cached, Cached), Ok(()), "a check of the state it is in");
            assert_eq!(reported.load(Ordering::SeqCst), 0, "a check reports nothing");
            repository.set_state(&id, Broken, "a checksum scan").expect("marked broken");
            assert_eq!(set_if(&repository, &id, Cached, Precious), Err(RepositoryError::Changed));
            assert_eq!(set_if(&repository, &id, Cached, Cached), Err(RepositoryError::Changed));
            assert_eq!(state(), Some(Broken), "a broken replica is not made readable");

            repository.set_state(&id, Cached, "repaired").expect("cached again");
            let before = reported.load(Ordering::SeqCst);
            assert_eq!(set_if(&repository, &id, Cached, Precious), Ok(()));
            assert_eq!(state(), Some(Precious));
            assert_eq!(reported.load(Ordering::SeqCst), before + 1, "a change is reported once");
            repository.set_state(&id, ReplicaState::Removed, "rep rm").expect("removed");
            assert_eq!(set_if(&repository, &id, Precious, Precious), Err(RepositoryError::NotFound));
        }
    }
}
