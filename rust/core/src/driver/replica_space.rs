//! What a pool's replicas take of its space, by kind, and how many of each kind there are,
//! kept up to date as each replica changes: a pool's cost information (precious and removable
//! bytes, the age of its least recently used removable replica) is asked for each pool listed
//! to a job, and counting it replica by replica held the pool's index for 20-30 ms a million
//! replicas, with every write to the pool waiting behind it. dCache's pools keep the same
//! figures up to date too (their sweeper holds the removable replicas in access order).

use std::collections::BTreeSet;

use crate::Millis;
use crate::pnfsid::PnfsId;
use crate::replica::{ReplicaEntry, ReplicaState, StickyRecord};

/// The space totals of the replicas in an index. Each replica is added as it enters the index
/// or after it changes, and taken away as it leaves or before it changes, with its sequence
/// number in the index.
#[derive(Debug, Default)]
pub struct ReplicaSpace {
    /// Bytes of all replicas.
    used: u64,
    /// Bytes of precious replicas.
    precious: u64,
    /// Precious replicas.
    precious_files: usize,
    /// Replicas with sticky records, expired or not, in any state.
    sticky_files: usize,
    /// Cached replicas without sticky records, by access time (then sequence number): these
    /// are removable at any time.
    unpinned: BTreeSet<(Millis, u64)>,
    /// Bytes of the replicas in `unpinned`.
    unpinned_bytes: u64,
    /// Cached replicas with sticky records, by the time their last record expires: those
    /// that have expired by the time of asking are removable too, and are visited at each
    /// asking. A pool whose replicas are all pinned for ever answers without visiting them.
    /// Expired records stay until the repository drops them
    /// ([`super::replica_index::ReplicaIndex::expire_sticky`]; minidcache does as they expire,
    /// as dCache does), and until then their replicas are visited every time.
    sticky: BTreeSet<(Millis, PnfsId)>,
}

/// When the last of a replica's sticky records expires (`Millis::MAX`: never); it is
/// removable from then on.
fn sticky_until(entry: &ReplicaEntry) -> Millis {
    entry.sticky.iter().map(StickyRecord::until).max().unwrap_or(Millis::MIN)
}

impl ReplicaSpace {
    /// Counts a replica in.
    pub fn add(&mut self, seq: u64, entry: &ReplicaEntry) {
        self.used += entry.size;
        self.sticky_files += usize::from(!entry.sticky.is_empty());
        match entry.state {
            ReplicaState::Precious => {
                self.precious += entry.size;
                self.precious_files += 1;
            }
            ReplicaState::Cached if entry.sticky.is_empty() => {
                self.unpinned.insert((entry.last_access, seq));
                self.unpinned_bytes += entry.size;
            }
            ReplicaState::Cached => {
                self.sticky.insert((sticky_until(entry), entry.pnfsid));
            }
            _ => {}
        }
    }

    /// Counts a replica out, as it was when it was counted in.
    pub fn remove(&mut self, seq: u64, entry: &ReplicaEntry) {
        self.used -= entry.size;
        self.sticky_files -= usize::from(!entry.sticky.is_empty());
        match entry.state {
            ReplicaState::Precious => {
                self.precious -= entry.size;
                self.precious_files -= 1;
            }
            ReplicaState::Cached if entry.sticky.is_empty() => {
                let held = self.unpinned.remove(&(entry.last_access, seq));
                debug_assert!(held, "{} counted out as it was not counted in", entry.pnfsid);
                self.unpinned_bytes -= entry.size;
            }
            ReplicaState::Cached => {
                let held = self.sticky.remove(&(sticky_until(entry), entry.pnfsid));
                debug_assert!(held, "{} counted out as it was not counted in", entry.pnfsid);
            }
            _ => {}
        }
    }

    /// Counts a replica that changed in place: out as it was, in as it is.
    pub fn change(&mut self, seq: u64, old: &ReplicaEntry, new: &ReplicaEntry) {
        self.remove(seq, old);
        self.add(seq, new);
    }

    /// Bytes of all replicas.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Bytes of precious replicas.
    pub fn precious(&self) -> u64 {
        self.precious
    }

    /// Precious replicas.
    pub fn precious_files(&self) -> usize {
        self.precious_files
    }

    /// Replicas with sticky records, whether or not they have expired.
    pub fn sticky_files(&self) -> usize {
        self.sticky_files
    }

    /// Bytes of cached replicas without a valid sticky record at `now`, and the access time of
    /// the least recently used of them; `entry` gives the entry of a replica counted in.
    pub fn removable<'a>(&self, now: Millis, entry: impl Fn(&PnfsId) -> &'a ReplicaEntry) -> (u64, Option<Millis>) {
        let mut bytes = self.unpinned_bytes;
        let mut oldest = self.unpinned.first().map(|(last_access, _)| *last_access);
        // A record is valid at `now` until its expiry, and no longer at it.
        for (_, id) in self.sticky.iter().take_while(|(until, _)| *until <= now) {
            let e = entry(id);
            bytes += e.size;
            oldest = Some(oldest.map_or(e.last_access, |o| o.min(e.last_access)));
        }
        (bytes, oldest)
    }
}
