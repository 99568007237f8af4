//! When the sticky records of a pool's replicas expire. dCache's repository drops a replica's
//! records once they expire (it schedules a task for the replica's next expiry, and the task
//! removes every record expired by then and reports the sticky change); a repository finds the
//! replicas due here without visiting the others.

use std::collections::BTreeSet;

use crate::Millis;
use crate::pnfsid::PnfsId;
use crate::replica::ReplicaEntry;

/// The replicas whose sticky records expire, by the time the first of them does.
#[derive(Debug, Default)]
pub struct StickyExpiry {
    due: BTreeSet<(Millis, PnfsId)>,
}

impl StickyExpiry {
    /// Counts a replica in.
    pub fn add(&mut self, entry: &ReplicaEntry) {
        if let Some(at) = entry.first_expiry() {
            self.due.insert((at, entry.pnfsid));
        }
    }

    /// Counts a replica out, as it was when it was counted in.
    pub fn remove(&mut self, entry: &ReplicaEntry) {
        if let Some(at) = entry.first_expiry() {
            let held = self.due.remove(&(at, entry.pnfsid));
            debug_assert!(held, "{} counted out as it was not counted in", entry.pnfsid);
        }
    }

    /// Counts a replica whose records changed: out as it was, in as it is.
    pub fn change(&mut self, old: &ReplicaEntry, new: &ReplicaEntry) {
        self.remove(old);
        self.add(new);
    }

    /// When the first record of any replica expires.
    pub fn next(&self) -> Option<Millis> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Up to `limit` replicas with a record expired at `now` (a record is valid until its
    /// expiry, not at it), those whose records expired first first.
    pub fn due(&self, now: Millis, limit: usize) -> Vec<PnfsId> {
        self.expired(now).take(limit).copied().collect()
    }

    /// Every replica with a record expired at `now`, those whose records expired first first.
    pub fn expired(&self, now: Millis) -> impl Iterator<Item = &PnfsId> {
        self.due.iter().take_while(move |(at, _)| *at <= now).map(|(_, id)| id)
    }
}
