//! A compact repository for the benchmarks: replica `i` of `n` is generated from its index
//! into one reused [`ReplicaEntry`], so that the host's own memory does not hide the module's.
//! It holds one bit per replica (deleted or not), nothing else.
//!
//! Ids look like Chimera's (a fixed prefix, then well-mixed bits) and map back to their index,
//! so `entry` is O(1) without any table.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use migration_core::Millis;
use migration_core::error::Failure;
use migration_core::host::{Repository, RepositoryError};
use migration_core::input::RepositoryEvent;
use migration_core::pnfsid::PnfsId;
use migration_core::replica::{Durability, ReplicaEntry, ReplicaState, StickyRecord};

/// The storage class of every generated replica.
pub const STORAGE_CLASS: &str = "atlas:raw@osm";
/// The filter of the job-start benchmark: every generated replica matches it.
pub const TYPICAL_FILTER: &str = "-storage=atlas:raw@osm -state=precious";

const PREFIX: [u8; 4] = [0x00, 0x00, 0xB1, 0x0C];
const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xD6E8_FEB8_6659_FD93;

/// The inverse of an odd number modulo 2^64 (Newton's iteration).
const fn inverse(k: u64) -> u64 {
    let mut x = k;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(k.wrapping_mul(x)));
        i += 1;
    }
    x
}

fn scramble(i: u64) -> u64 {
    let y = i.wrapping_mul(K1);
    (y ^ (y >> 32)).wrapping_mul(K2)
}

fn unscramble(x: u64) -> u64 {
    let y = x.wrapping_mul(inverse(K2));
    (y ^ (y >> 32)).wrapping_mul(inverse(K1))
}

/// The id of replica `i`.
pub fn id(i: u64) -> PnfsId {
    let mut raw = [0u8; 12];
    raw[..4].copy_from_slice(&PREFIX);
    raw[4..].copy_from_slice(&scramble(i).to_be_bytes());
    PnfsId::from_bytes(&raw).expect("12 bytes")
}

/// The index of a generated id, if it is one.
pub fn index(id: &PnfsId) -> Option<u64> {
    let raw = id.as_bytes();
    if raw.len() != 12 || raw[..4] != PREFIX {
        return None;
    }
    Some(unscramble(u64::from_be_bytes(raw[4..].try_into().expect("8 bytes"))))
}

/// The size of replica `i`: 1 kB … 1 MB, scattered (so `-order=size` has work to do).
pub fn size(i: u64) -> u64 {
    1_000 + scramble(i ^ 0x5555) % 1_000_000
}

type Listener = Box<dyn Fn(RepositoryEvent) + Send + Sync>;

/// `n` precious replicas of storage class [`STORAGE_CLASS`], generated on the fly.
pub struct BenchRepository {
    n: u64,
    last_access: Millis,
    deleted: Vec<AtomicU64>,
    listener: OnceLock<Listener>,
}

impl BenchRepository {
    /// A repository of `n` replicas.
    pub fn new(n: u64) -> BenchRepository {
        let words = n.div_ceil(64) as usize;
        BenchRepository {
            n,
            last_access: 1_700_000_000_000,
            deleted: (0..words).map(|_| AtomicU64::new(0)).collect(),
            listener: OnceLock::new(),
        }
    }

    /// Who hears about deletions (as a pool's repository reports them).
    pub fn set_listener(&self, listener: impl Fn(RepositoryEvent) + Send + Sync + 'static) {
        let _ = self.listener.set(Box::new(listener));
    }

    fn template(&self) -> ReplicaEntry {
        let mut entry = ReplicaEntry::new(id(0), ReplicaState::Precious, 0, self.last_access);
        entry.storage_class = Some(STORAGE_CLASS.to_string());
        entry
    }

    fn fill(&self, entry: &mut ReplicaEntry, i: u64) {
        entry.pnfsid = id(i);
        entry.size = size(i);
        entry.last_access = self.last_access - (i % 86_400) as Millis * 1000;
    }

    fn is_deleted(&self, i: u64) -> bool {
        self.deleted[(i / 64) as usize].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
    }

    /// Replicas not deleted.
    pub fn live(&self) -> u64 {
        self.n - self.deleted.iter().map(|w| u64::from(w.load(Ordering::Relaxed).count_ones())).sum::<u64>()
    }
}

impl Repository for BenchRepository {
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError> {
        let mut entry = self.template();
        for i in 0..self.n {
            if self.is_deleted(i) {
                continue;
            }
            self.fill(&mut entry, i);
            if !visit(&entry) {
                break;
            }
        }
        Ok(())
    }

    fn entry(&self, pnfsid: &PnfsId) -> Result<Option<ReplicaEntry>, String> {
        Ok(index(pnfsid).filter(|&i| i < self.n && !self.is_deleted(i)).map(|i| {
            let mut entry = self.template();
            self.fill(&mut entry, i);
            entry
        }))
    }

    fn set_state(&self, pnfsid: &PnfsId, state: ReplicaState, _reason: &str) -> Result<(), RepositoryError> {
        let Some(i) = index(pnfsid).filter(|&i| i < self.n && !self.is_deleted(i)) else {
            return if state == ReplicaState::Removed { Ok(()) } else { Err(RepositoryError::NotFound) };
        };
        match state {
            ReplicaState::Removed => {
                self.deleted[(i / 64) as usize].fetch_or(1 << (i % 64), Ordering::Relaxed);
                if let Some(listener) = self.listener.get() {
                    let mut entry = self.template();
                    self.fill(&mut entry, i);
                    entry.state = ReplicaState::Removed;
                    listener(RepositoryEvent::StateChanged { old: ReplicaState::Precious, new: state, entry });
                }
                Ok(())
            }
            ReplicaState::Precious => Ok(()),
            _ => Err(RepositoryError::IllegalTransition(format!("bench replicas stay precious, not {state}"))),
        }
    }

    /// Every replica here is precious with no record, and nothing but a removal changes one:
    /// the look is a comparison with that, as the bench's Java and C hosts make it too.
    fn remove_if_unchanged(&self, pnfsid: &PnfsId, seen: &Durability, reason: &str) -> Result<(), RepositoryError> {
        if seen.state != ReplicaState::Precious || !seen.sticky.is_empty() {
            return Err(RepositoryError::Changed);
        }
        self.set_state(pnfsid, ReplicaState::Removed, reason)
    }

    fn set_sticky(&self, _: &PnfsId, _: &StickyRecord, _: bool) -> Result<(), RepositoryError> {
        Ok(())
    }

    fn verifies_checksums(&self) -> bool {
        true
    }

    fn accepts_copies(&self) -> bool {
        true
    }

    fn verify_checksum(&self, _: &PnfsId) -> Result<(), Failure> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_back_to_their_index() {
        for i in [0, 1, 2, 63, 64, 1_000_000, 9_999_999, u64::MAX / 3] {
            assert_eq!(index(&id(i)), Some(i));
        }
        assert_eq!(index(&PnfsId::parse("1").expect("valid")), None);
    }

    #[test]
    fn deleted_replicas_are_gone() {
        let repo = BenchRepository::new(100);
        repo.set_state(&id(5), ReplicaState::Removed, "test").expect("removed");
        assert_eq!(repo.entry(&id(5)).expect("ok"), None);
        assert_eq!(repo.entry(&id(6)).expect("ok").map(|e| e.size), Some(size(6)));
        let mut seen = 0;
        repo.for_each(&mut |_| {
            seen += 1;
            true
        })
        .expect("ok");
        assert_eq!(seen, 99);
        assert_eq!(repo.live(), 99);
    }
}
