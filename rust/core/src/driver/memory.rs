//! An in-memory repository: the pool of the simulator, the benchmarks and tests. It keeps
//! dCache's rules (legal state changes, sticky semantics) and reports every change to a
//! listener, after releasing its lock, as a real pool's repository does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::error::Failure;
use crate::host::{Repository, RepositoryError};
use crate::input::RepositoryEvent;
use crate::pnfsid::PnfsId;
use crate::replica::{self, ReplicaEntry, ReplicaState, StickyRecord, Transition};

type Listener = Arc<dyn Fn(RepositoryEvent) + Send + Sync>;

#[derive(Default)]
struct Entries {
    /// Repository order: insertion sequence → id.
    order: BTreeMap<u64, PnfsId>,
    by_id: HashMap<PnfsId, (u64, ReplicaEntry)>,
    next: u64,
}

/// A repository held in memory.
#[derive(Default)]
pub struct MemoryRepository {
    entries: RwLock<Entries>,
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

    /// Adds (or replaces) a replica; reported as a state change from `NEW`.
    pub fn insert(&self, entry: ReplicaEntry) {
        let event = {
            let mut e = self.entries.write();
            let old = e.by_id.get(&entry.pnfsid).map_or(ReplicaState::New, |(_, old)| old.state);
            let seq = match e.by_id.get(&entry.pnfsid) {
                Some((seq, _)) => *seq,
                None => {
                    let seq = e.next;
                    e.next += 1;
                    e.order.insert(seq, entry.pnfsid);
                    seq
                }
            };
            e.by_id.insert(entry.pnfsid, (seq, entry.clone()));
            RepositoryEvent::StateChanged { old, new: entry.state, entry }
        };
        self.notify(event);
    }

    /// Adds many replicas without reporting them (a pool that loaded before the module).
    pub fn load(&self, entries: impl IntoIterator<Item = ReplicaEntry>) {
        let mut e = self.entries.write();
        for entry in entries {
            let seq = e.next;
            e.next += 1;
            e.order.insert(seq, entry.pnfsid);
            e.by_id.insert(entry.pnfsid, (seq, entry));
        }
    }

    /// Removes a sticky record outright (what the pin manager does when it moves a pin).
    pub fn remove_sticky(&self, pnfsid: &PnfsId, owner: &str) -> bool {
        let event = {
            let mut e = self.entries.write();
            let Some((_, entry)) = e.by_id.get_mut(pnfsid) else { return false };
            let old = entry.clone();
            let before = entry.sticky.len();
            entry.sticky.retain(|r| r.owner != owner);
            if entry.sticky.len() == before {
                return false;
            }
            RepositoryEvent::StickyChanged { old, new: entry.clone() }
        };
        self.notify(event);
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
        self.entries.read().by_id.len()
    }

    /// Whether the repository is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, in repository order.
    pub fn entries(&self) -> Vec<ReplicaEntry> {
        let e = self.entries.read();
        e.order.values().map(|id| e.by_id[id].1.clone()).collect()
    }

    /// Total bytes held.
    pub fn used(&self) -> u64 {
        self.entries.read().by_id.values().map(|(_, e)| e.size).sum()
    }

    /// Bytes of cached replicas without a valid sticky record at `now` (garbage-collectable).
    pub fn removable(&self, now: crate::Millis) -> u64 {
        self.entries
            .read()
            .by_id
            .values()
            .filter(|(_, e)| e.state == ReplicaState::Cached && !e.sticky.iter().any(|r| r.is_valid_at(now)))
            .map(|(_, e)| e.size)
            .sum()
    }

    /// Changes the access time (reported as an access-time change).
    pub fn touch(&self, pnfsid: &PnfsId, last_access: crate::Millis) {
        let event = {
            let mut e = self.entries.write();
            let Some((_, entry)) = e.by_id.get_mut(pnfsid) else { return };
            let old = entry.clone();
            entry.last_access = last_access;
            RepositoryEvent::AccessTimeChanged { old, new: entry.clone() }
        };
        self.notify(event);
    }
}

impl Repository for MemoryRepository {
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError> {
        if self.loading.load(Ordering::SeqCst) {
            return Err(RepositoryError::NotLoaded);
        }
        let e = self.entries.read();
        for id in e.order.values() {
            if !visit(&e.by_id[id].1) {
                break;
            }
        }
        Ok(())
    }

    fn entry(&self, pnfsid: &PnfsId) -> Result<Option<ReplicaEntry>, String> {
        Ok(self.entries.read().by_id.get(pnfsid).map(|(_, e)| e.clone()))
    }

    fn set_state(&self, pnfsid: &PnfsId, state: ReplicaState, _reason: &str) -> Result<(), RepositoryError> {
        let event = {
            let mut e = self.entries.write();
            let current = e.by_id.get(pnfsid).map_or(ReplicaState::New, |(_, entry)| entry.state);
            match current.transition_to(state) {
                Transition::NoOp => return Ok(()),
                Transition::Illegal => {
                    return Err(RepositoryError::IllegalTransition(format!(
                        "Illegal state transition {current} -> {state}"
                    )));
                }
                Transition::Allowed => {}
            }
            if state == ReplicaState::Removed {
                let (seq, mut entry) = e.by_id.remove(pnfsid).expect("state was read above");
                e.order.remove(&seq);
                entry.state = ReplicaState::Removed;
                RepositoryEvent::StateChanged { old: current, new: state, entry }
            } else {
                let (_, entry) = e.by_id.get_mut(pnfsid).expect("state was read above");
                entry.state = state;
                RepositoryEvent::StateChanged { old: current, new: state, entry: entry.clone() }
            }
        };
        self.notify(event);
        Ok(())
    }

    fn set_sticky(&self, pnfsid: &PnfsId, record: &StickyRecord, overwrite: bool) -> Result<(), RepositoryError> {
        let event = {
            let mut e = self.entries.write();
            let Some((_, entry)) = e.by_id.get_mut(pnfsid) else { return Err(RepositoryError::NotFound) };
            let old = entry.clone();
            let changed = replica::set_sticky(entry.state, &mut entry.sticky, &record.owner, record.expire, overwrite)
                .map_err(|e| RepositoryError::IllegalTransition(e.to_string()))?;
            if !changed {
                return Ok(());
            }
            RepositoryEvent::StickyChanged { old, new: entry.clone() }
        };
        self.notify(event);
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
