//! The replicas of a pool, held in memory in repository order, with dCache's rules for
//! changing them (legal state transitions, sticky semantics). A repository answers the
//! module's reads from it and changes it under its own lock; each change comes back as the
//! event to report, which the repository sends after releasing that lock. Shared by
//! [`super::memory::MemoryRepository`] and minidcache's on-disk repository, which keeps its
//! own storage beside it.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Deref};

use crate::Millis;
use crate::host::RepositoryError;
use crate::input::RepositoryEvent;
use crate::pnfsid::PnfsId;
use crate::replica::{self, Durability, ReplicaEntry, ReplicaState, StickyRecord, Transition};

use super::replica_space::ReplicaSpace;
use super::sticky_expiry::StickyExpiry;

/// A change made to the index: the event to report, and the sequence number of the replica
/// (its place in repository order, the key a repository on disk stores it under).
#[derive(Debug, Clone)]
pub struct Change {
    /// The replica's sequence number.
    pub seq: u64,
    /// What to report to the repository's listener.
    pub event: RepositoryEvent,
}

/// How many replicas a pool holds, of each kind its `info` shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaCounts {
    /// Every replica.
    pub files: usize,
    /// Precious replicas.
    pub precious: usize,
    /// Replicas with a sticky record valid at the time asked.
    pub sticky: usize,
    /// Bytes of every replica.
    pub bytes: u64,
}

/// Replicas by id, in repository order (the order they were added in).
#[derive(Debug, Default)]
pub struct ReplicaIndex {
    /// Repository order: sequence number → id.
    order: BTreeMap<u64, PnfsId>,
    by_id: HashMap<PnfsId, (u64, ReplicaEntry)>,
    next_seq: u64,
    /// What the replicas held take, by kind.
    space: ReplicaSpace,
    /// When the replicas' sticky records expire.
    expiry: StickyExpiry,
}

impl ReplicaIndex {
    /// An empty index.
    pub fn new() -> ReplicaIndex {
        ReplicaIndex::default()
    }

    /// Takes the next sequence number: a replica added with it comes after every other.
    pub fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Records that `seq` is used (loading stored replicas, also those then discarded), so
    /// that [`ReplicaIndex::take_seq`] never hands it out again.
    pub fn reserve_seq(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq + 1);
    }

    /// Adds a replica at sequence number `seq`, replacing an entry with the same id.
    pub fn insert_at(&mut self, seq: u64, entry: ReplicaEntry) {
        // The old entry is counted out first: both may be the same sticky replica.
        if let Some((old_seq, old)) = self.by_id.get(&entry.pnfsid) {
            self.space.remove(*old_seq, old);
            self.expiry.remove(old);
            if *old_seq != seq {
                self.order.remove(old_seq);
            }
        }
        self.space.add(seq, &entry);
        self.expiry.add(&entry);
        self.order.insert(seq, entry.pnfsid);
        self.by_id.insert(entry.pnfsid, (seq, entry));
    }

    /// Adds a replica, or replaces the entry with its id in its place; returns the state the
    /// replica had (`NEW` if there was none).
    pub fn upsert(&mut self, entry: ReplicaEntry) -> ReplicaState {
        let (seq, old) = match self.by_id.get(&entry.pnfsid) {
            Some((seq, old)) => (*seq, old.state),
            None => (self.take_seq(), ReplicaState::New),
        };
        self.insert_at(seq, entry);
        old
    }

    /// A replica's entry.
    pub fn get(&self, pnfsid: &PnfsId) -> Option<&ReplicaEntry> {
        self.by_id.get(pnfsid).map(|(_, e)| e)
    }

    /// Whether the index holds the replica.
    pub fn contains(&self, pnfsid: &PnfsId) -> bool {
        self.by_id.contains_key(pnfsid)
    }

    /// Number of replicas.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the index holds no replica.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every entry, in repository order.
    pub fn entries(&self) -> Vec<ReplicaEntry> {
        self.order.values().map(|id| self.by_id[id].1.clone()).collect()
    }

    /// Bytes of the replicas held.
    pub fn used(&self) -> u64 {
        self.space.used()
    }

    /// Bytes of precious replicas.
    pub fn precious(&self) -> u64 {
        self.space.precious()
    }

    /// How many replicas there are of each kind a pool's `info` shows, at `now`. Kept up to
    /// date, but for the replicas with a record expired and not yet dropped
    /// ([`ReplicaIndex::expire_sticky`]), which are looked at one by one: those without a
    /// valid record left are not sticky any more.
    pub fn counts(&self, now: Millis) -> ReplicaCounts {
        let expired = self.expiry.expired(now).filter(|id| !self.by_id[*id].1.is_sticky_at(now)).count();
        ReplicaCounts {
            files: self.len(),
            precious: self.space.precious_files(),
            sticky: self.space.sticky_files() - expired,
            bytes: self.space.used(),
        }
    }

    /// Bytes of cached replicas without a valid sticky record at `now` (what garbage
    /// collection may remove), and the access time of the least recently used of them.
    pub fn removable(&self, now: Millis) -> (u64, Option<Millis>) {
        self.space.removable(now, |id| &self.by_id[id].1)
    }

    /// Moves a replica to `state` if dCache allows the transition (`None`: it is in that state
    /// already). `REMOVED` takes the replica out of the index; the event still carries its
    /// entry, in state `REMOVED`.
    pub fn set_state(&mut self, pnfsid: &PnfsId, state: ReplicaState) -> Result<Option<Change>, RepositoryError> {
        let current = self.by_id.get(pnfsid).map_or(ReplicaState::New, |(_, entry)| entry.state);
        match current.transition_to(state) {
            Transition::NoOp => return Ok(None),
            Transition::Illegal => {
                return Err(RepositoryError::IllegalTransition(format!(
                    "Illegal state transition {current} -> {state}"
                )));
            }
            Transition::Allowed => {}
        }
        if state == ReplicaState::Removed {
            let (seq, mut entry) = self.by_id.remove(pnfsid).expect("state was read above");
            self.order.remove(&seq);
            self.space.remove(seq, &entry);
            self.expiry.remove(&entry);
            entry.state = ReplicaState::Removed;
            return Ok(Some(Change { seq, event: RepositoryEvent::StateChanged { old: current, new: state, entry } }));
        }
        let (seq, entry) = self.by_id.get_mut(pnfsid).expect("state was read above");
        self.space.remove(*seq, entry);
        entry.state = state;
        self.space.add(*seq, entry);
        let event = RepositoryEvent::StateChanged { old: current, new: state, entry: entry.clone() };
        Ok(Some(Change { seq: *seq, event }))
    }

    /// Removes a replica if it is still as `seen` (see
    /// [`Repository::remove_if_unchanged`](crate::host::Repository::remove_if_unchanged)).
    pub fn remove_if_unchanged(
        &mut self,
        pnfsid: &PnfsId,
        seen: &Durability,
    ) -> Result<Option<Change>, RepositoryError> {
        match self.by_id.get(pnfsid) {
            None => Err(RepositoryError::NotFound),
            Some((_, entry)) if !seen.matches(entry) => Err(RepositoryError::Changed),
            Some(_) => self.set_state(pnfsid, ReplicaState::Removed),
        }
    }

    /// Changes a replica's state if it is still in state `seen` (see
    /// [`Repository::set_state_if_unchanged`](crate::host::Repository::set_state_if_unchanged)).
    pub fn set_state_if_unchanged(
        &mut self,
        pnfsid: &PnfsId,
        seen: ReplicaState,
        state: ReplicaState,
    ) -> Result<Option<Change>, RepositoryError> {
        match self.by_id.get(pnfsid) {
            None => Err(RepositoryError::NotFound),
            Some((_, entry)) if entry.state != seen => Err(RepositoryError::Changed),
            // Only a check: `set_state` would report a change from the state to itself, and a
            // permanent job re-adds a file on every state change (migration-sim found two
            // permanent jobs copying to each other for ever on it).
            Some(_) if state == seen => Ok(None),
            Some(_) => self.set_state(pnfsid, state),
        }
    }

    /// Sets a sticky record with dCache's rules (see [`replica::set_sticky`]); `None`: nothing
    /// changed.
    pub fn set_sticky(
        &mut self,
        pnfsid: &PnfsId,
        record: &StickyRecord,
        overwrite: bool,
    ) -> Result<Option<Change>, RepositoryError> {
        let Some((seq, entry)) = self.by_id.get_mut(pnfsid) else { return Err(RepositoryError::NotFound) };
        let old = entry.clone();
        let changed = replica::set_sticky(entry.state, &mut entry.sticky, &record.owner, record.expire, overwrite)
            .map_err(|e| RepositoryError::IllegalTransition(e.to_string()))?;
        if !changed {
            return Ok(None);
        }
        self.space.change(*seq, &old, entry);
        self.expiry.change(&old, entry);
        Ok(Some(Change { seq: *seq, event: RepositoryEvent::StickyChanged { old, new: entry.clone() } }))
    }

    /// Removes the sticky record of `owner` outright (what the pin manager does when it moves
    /// or releases a pin); `None`: the replica has none.
    pub fn remove_sticky(&mut self, pnfsid: &PnfsId, owner: &str) -> Option<Change> {
        let (seq, entry) = self.by_id.get_mut(pnfsid)?;
        let old = entry.clone();
        let before = entry.sticky.len();
        entry.sticky.retain(|r| r.owner != owner);
        if entry.sticky.len() == before {
            return None;
        }
        self.space.change(*seq, &old, entry);
        self.expiry.change(&old, entry);
        Some(Change { seq: *seq, event: RepositoryEvent::StickyChanged { old, new: entry.clone() } })
    }

    /// When the first sticky record of any replica expires (`None`: none of them expires).
    pub fn next_sticky_expiry(&self) -> Option<Millis> {
        self.expiry.next()
    }

    /// Drops the sticky records that have expired at `now` from up to `limit` replicas, those
    /// whose records expired first, as dCache's repository does when a record's time comes:
    /// one sticky change for each replica. Records that never expire stay, and so does the
    /// replica, sticky or not.
    pub fn expire_sticky(&mut self, now: Millis, limit: usize) -> Vec<Change> {
        let due = self.expiry.due(now, limit);
        let mut changes = Vec::with_capacity(due.len());
        for pnfsid in due {
            let (seq, entry) = self.by_id.get_mut(&pnfsid).expect("a replica counted in is in the index");
            let old = entry.clone();
            entry.sticky.retain(|r| r.is_valid_at(now));
            self.space.change(*seq, &old, entry);
            self.expiry.change(&old, entry);
            changes.push(Change { seq: *seq, event: RepositoryEvent::StickyChanged { old, new: entry.clone() } });
        }
        changes
    }

    /// Changes a replica's access time; `None`: there is no such replica.
    pub fn touch(&mut self, pnfsid: &PnfsId, last_access: Millis) -> Option<Change> {
        let (seq, entry) = self.by_id.get_mut(pnfsid)?;
        let old = entry.clone();
        entry.last_access = last_access;
        self.space.change(*seq, &old, entry);
        Some(Change { seq: *seq, event: RepositoryEvent::AccessTimeChanged { old, new: entry.clone() } })
    }
}

/// How many replicas [`visit_in_batches`] visits under one holding of the lock.
pub const VISIT_BATCH: usize = 1024;

/// Visits the replicas of an index that a repository keeps under a lock, in repository order,
/// until `visit` returns `false`, taking the lock anew (`read`) for each [`VISIT_BATCH`] of
/// them. A job's scan visits every replica of the pool: holding the lock for all of them in
/// one piece kept each write to the pool waiting for the whole scan (half a second for a
/// million replicas in minidcache); now a write waits for one batch at most. As in dCache,
/// whose scan walks a live view of the ids and reads each replica's entry on its own, a
/// replica changed during the scan is visited as its batch finds it, one removed before its
/// batch is not visited, and one added before the last batch is (it comes last in repository
/// order), where dCache's view may or may not show it.
///
/// `visit` runs with the lock held: it must not take that lock itself (asking the repository
/// for an entry, say), since a writer waiting in between would then keep both waiting.
pub fn visit_in_batches<G: Deref<Target = ReplicaIndex>>(
    mut read: impl FnMut() -> G,
    visit: &mut dyn FnMut(&ReplicaEntry) -> bool,
) {
    let mut after = Bound::Unbounded;
    loop {
        let index = read();
        let mut batch = index.order.range((after, Bound::Unbounded));
        for _ in 0..VISIT_BATCH {
            let Some((&seq, id)) = batch.next() else { return };
            if !visit(&index.by_id[id].1) {
                return;
            }
            after = Bound::Excluded(seq);
        }
        // The guard drops here: writers waiting for the lock go before the next batch.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> PnfsId {
        PnfsId::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n]).expect("a valid id")
    }

    fn entry(n: u8, state: ReplicaState, size: u64) -> ReplicaEntry {
        ReplicaEntry::new(id(n), state, size, 0)
    }

    #[test]
    fn a_visit_in_batches_takes_the_lock_per_batch_and_sees_changes_made_between_them() {
        let big_id = |n: u32| {
            let mut bytes = [0; 12];
            bytes[8..].copy_from_slice(&n.to_be_bytes());
            PnfsId::from_bytes(&bytes).expect("a valid id")
        };
        let lock = parking_lot::RwLock::new(ReplicaIndex::new());
        let count = 2 * VISIT_BATCH as u32 + 10;
        for n in 0..count {
            lock.write().upsert(ReplicaEntry::new(big_id(n), ReplicaState::Cached, 1, 0));
        }
        let mut reads = 0;
        let mut visited = Vec::new();
        visit_in_batches(
            || {
                reads += 1;
                if reads == 2 {
                    // Between the first and second batch: one replica not visited yet leaves,
                    // one visited already changes, and a new one comes.
                    let mut index = lock.write();
                    index.set_state(&big_id(count - 1), ReplicaState::Removed).expect("removed");
                    index.upsert(ReplicaEntry::new(big_id(0), ReplicaState::Precious, 1, 0));
                    index.upsert(ReplicaEntry::new(big_id(count), ReplicaState::Cached, 1, 0));
                }
                lock.read()
            },
            &mut |entry| {
                visited.push(entry.pnfsid);
                true
            },
        );
        assert_eq!(reads, 3, "one holding of the lock for each batch of {VISIT_BATCH}");
        let expected: Vec<PnfsId> = (0..count - 1).chain([count]).map(big_id).collect();
        assert_eq!(visited, expected, "repository order; the removed one skipped, the new one last");

        let mut seen = 0;
        reads = 0;
        visit_in_batches(
            || {
                reads += 1;
                lock.read()
            },
            &mut |_| {
                seen += 1;
                seen < 3
            },
        );
        assert_eq!((seen, reads), (3, 1), "a visit that stops reads no further");
    }

    /// A change made to an index in the property below.
    #[derive(Debug, Clone)]
    enum Step {
        /// `elsewhere`: put at a new sequence number (as loading may) instead of in its place.
        Upsert {
            n: u8,
            state: ReplicaState,
            size: u64,
            access: Millis,
            sticky: Option<(u8, Millis)>,
            elsewhere: bool,
        },
        SetState {
            n: u8,
            state: ReplicaState,
        },
        SetSticky {
            n: u8,
            owner: u8,
            expire: Millis,
            overwrite: bool,
        },
        RemoveSticky {
            n: u8,
            owner: u8,
        },
        Touch {
            n: u8,
            access: Millis,
        },
        /// The records expired at `at` are dropped, from at most `limit` replicas.
        Expire {
            at: Millis,
            limit: usize,
        },
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        let state = prop_oneof![
            Just(ReplicaState::Cached),
            Just(ReplicaState::Precious),
            Just(ReplicaState::Broken),
            Just(ReplicaState::Removed),
        ];
        // An expiry of -1 never expires; the others fall before, on and after the times asked.
        let expire = prop_oneof![Just(-1), 0..10i64];
        prop_oneof![
            (0..8u8, state.clone(), 0..100u64, 0..50i64, proptest::option::of((0..2u8, expire.clone())), any::<bool>())
                .prop_map(|(n, state, size, access, sticky, elsewhere)| Step::Upsert {
                    n,
                    state,
                    size,
                    access,
                    sticky,
                    elsewhere
                }),
            (0..8u8, state).prop_map(|(n, state)| Step::SetState { n, state }),
            (0..8u8, 0..2u8, expire, any::<bool>()).prop_map(|(n, owner, expire, overwrite)| Step::SetSticky {
                n,
                owner,
                expire,
                overwrite
            }),
            (0..8u8, 0..2u8).prop_map(|(n, owner)| Step::RemoveSticky { n, owner }),
            (0..8u8, 0..50i64).prop_map(|(n, access)| Step::Touch { n, access }),
            (0..12i64, 1..4usize).prop_map(|(at, limit)| Step::Expire { at, limit }),
        ]
    }

    /// The space figures counted replica by replica, as they were before they were kept up to
    /// date: used, precious, and removable bytes with the oldest removable access time.
    fn counted(index: &ReplicaIndex, now: Millis) -> (u64, u64, (u64, Option<Millis>)) {
        let entries = index.entries();
        let used = entries.iter().map(|e| e.size).sum();
        let precious = entries.iter().filter(|e| e.state == ReplicaState::Precious).map(|e| e.size).sum();
        let removable: Vec<&ReplicaEntry> =
            entries.iter().filter(|e| e.state == ReplicaState::Cached && !e.is_sticky_at(now)).collect();
        let bytes = removable.iter().map(|e| e.size).sum();
        (used, precious, (bytes, removable.iter().map(|e| e.last_access).min()))
    }

    /// The counts of a pool's `info`, counted replica by replica.
    fn counts_counted(index: &ReplicaIndex, now: Millis) -> ReplicaCounts {
        let entries = index.entries();
        ReplicaCounts {
            files: entries.len(),
            precious: entries.iter().filter(|e| e.state == ReplicaState::Precious).count(),
            sticky: entries.iter().filter(|e| e.is_sticky_at(now)).count(),
            bytes: entries.iter().map(|e| e.size).sum(),
        }
    }

    /// When the first record that expires does, counted replica by replica.
    fn first_expiry_counted(index: &ReplicaIndex) -> Option<Millis> {
        index.entries().iter().filter_map(ReplicaEntry::first_expiry).min()
    }

    proptest::proptest! {
        /// However replicas come, change and go, and their records expire, the space figures
        /// and the counts kept up to date are the ones counted replica by replica, at any time
        /// asked, and so is the time the next record expires.
        #[test]
        fn space_kept_up_to_date_is_space_counted(steps in proptest::collection::vec(step(), 0..60), now in 0..12i64) {
            let mut index = ReplicaIndex::new();
            let owner = |o: u8| ["lhcb", "PinManager-1"][usize::from(o)];
            for step in steps {
                // Refusals (illegal transitions, absent replicas) are part of the sequence.
                match step {
                    Step::Upsert { n, state, size, access, sticky, elsewhere } => {
                        let mut entry = ReplicaEntry::new(id(n), state, size, access);
                        entry.sticky = sticky.map(|(o, expire)| StickyRecord::new(owner(o), expire)).into_iter().collect();
                        if elsewhere {
                            let seq = index.take_seq();
                            index.insert_at(seq, entry);
                        } else {
                            index.upsert(entry);
                        }
                    }
                    Step::SetState { n, state } => drop(index.set_state(&id(n), state)),
                    Step::SetSticky { n, owner: o, expire, overwrite } => {
                        drop(index.set_sticky(&id(n), &StickyRecord::new(owner(o), expire), overwrite));
                    }
                    Step::RemoveSticky { n, owner: o } => drop(index.remove_sticky(&id(n), owner(o))),
                    Step::Touch { n, access } => drop(index.touch(&id(n), access)),
                    Step::Expire { at, limit } => {
                        let before = index.entries();
                        let changes = index.expire_sticky(at, limit);
                        // Due: a record expired at `at`; the first to expire go first.
                        let mut due: Vec<(Millis, PnfsId)> = before
                            .iter()
                            .filter_map(|e| e.first_expiry().filter(|&t| t <= at).map(|t| (t, e.pnfsid)))
                            .collect();
                        due.sort();
                        let changed: Vec<PnfsId> = changes
                            .iter()
                            .map(|c| match &c.event {
                                RepositoryEvent::StickyChanged { new, .. } => new.pnfsid,
                                other => panic!("not a sticky change: {other:?}"),
                            })
                            .collect();
                        let first: Vec<PnfsId> = due.iter().take(limit).map(|(_, id)| *id).collect();
                        proptest::prop_assert_eq!(changed, first);
                        let due = due.len();
                        for change in changes {
                            let RepositoryEvent::StickyChanged { old, new } = change.event else {
                                return Err(proptest::test_runner::TestCaseError::fail("not a sticky change"));
                            };
                            let kept: Vec<StickyRecord> = old.sticky.iter().filter(|r| r.is_valid_at(at)).cloned().collect();
                            proptest::prop_assert_eq!(&new.sticky, &kept);
                            proptest::prop_assert_eq!(index.get(&new.pnfsid), Some(&new));
                        }
                        if due <= limit {
                            proptest::prop_assert!(first_expiry_counted(&index).is_none_or(|t| t > at));
                        }
                    }
                }
                proptest::prop_assert_eq!(index.next_sticky_expiry(), first_expiry_counted(&index));
                let (used, precious, removable) = counted(&index, now);
                proptest::prop_assert_eq!(index.used(), used);
                proptest::prop_assert_eq!(index.precious(), precious);
                proptest::prop_assert_eq!(index.removable(now), removable);
                proptest::prop_assert_eq!(index.counts(now), counts_counted(&index, now));
            }
        }
    }

    #[test]
    fn order_and_bytes_follow_inserts_replacements_and_removals() {
        let mut index = ReplicaIndex::new();
        assert_eq!(index.upsert(entry(2, ReplicaState::Cached, 10)), ReplicaState::New);
        assert_eq!(index.upsert(entry(1, ReplicaState::Precious, 5)), ReplicaState::New);
        assert_eq!(index.upsert(entry(2, ReplicaState::Precious, 20)), ReplicaState::Cached);
        let ids: Vec<PnfsId> = index.entries().iter().map(|e| e.pnfsid).collect();
        assert_eq!(ids, [id(2), id(1)], "a replacement keeps its place");
        index.insert_at(7, entry(1, ReplicaState::Precious, 5));
        let ids: Vec<PnfsId> = index.entries().iter().map(|e| e.pnfsid).collect();
        assert_eq!(ids, [id(2), id(1)], "a replacement at another place leaves its old one");
        assert_eq!((index.used(), index.precious()), (25, 25));
        let removed = index.set_state(&id(2), ReplicaState::Removed).expect("legal").expect("changed");
        assert_eq!(removed.seq, 0);
        assert!(matches!(removed.event, RepositoryEvent::StateChanged { new: ReplicaState::Removed, .. }));
        assert_eq!((index.len(), index.used()), (1, 5));
        assert_eq!(index.take_seq(), 2);
    }

    #[test]
    fn expired_sticky_records_are_dropped_first_expired_first_and_the_others_kept() {
        let mut index = ReplicaIndex::new();
        let mut early = entry(1, ReplicaState::Cached, 10);
        early.sticky = vec![StickyRecord::new("lhcb", 5), StickyRecord::new("atlas", -1)];
        let mut late = entry(2, ReplicaState::Cached, 20);
        late.sticky = vec![StickyRecord::new("lhcb", 7), StickyRecord::new("PinManager-3", 9)];
        let mut pinned = entry(3, ReplicaState::Precious, 40);
        pinned.sticky = vec![StickyRecord::new("system", -1)];
        for e in [early, late, pinned] {
            index.upsert(e);
        }
        assert_eq!(index.next_sticky_expiry(), Some(5));
        assert!(index.expire_sticky(4, 10).is_empty(), "nothing has expired before 5");

        // At 7 both have a record expired (valid until its expiry, not at it); one at a time,
        // the one whose record expired first first.
        let first = index.expire_sticky(7, 1);
        assert_eq!(first.len(), 1);
        let RepositoryEvent::StickyChanged { old, new } = &first[0].event else { panic!("{:?}", first[0].event) };
        assert_eq!((old.pnfsid, old.sticky.len()), (id(1), 2));
        assert_eq!(new.sticky, [StickyRecord::new("atlas", -1)], "the record that never expires stays");
        assert_eq!(index.next_sticky_expiry(), Some(7));
        assert_eq!(index.removable(7), (0, None), "still pinned by atlas");

        let second = index.expire_sticky(7, 10);
        assert_eq!(second.len(), 1);
        assert_eq!(index.get(&id(2)).map(|e| e.sticky.clone()), Some(vec![StickyRecord::new("PinManager-3", 9)]));
        assert_eq!(index.next_sticky_expiry(), Some(9));
        assert_eq!(index.expire_sticky(9, 10).len(), 1);
        assert!(index.get(&id(2)).is_some_and(|e| e.sticky.is_empty()), "the replica stays, without records");
        assert_eq!(index.next_sticky_expiry(), None, "the one left never expires");
        assert_eq!(index.removable(9), (20, Some(0)));
        assert_eq!((index.len(), index.used(), index.precious()), (3, 70, 40));
    }

    #[test]
    fn illegal_transitions_and_removing_nothing_change_nothing() {
        let mut index = ReplicaIndex::new();
        index.upsert(entry(1, ReplicaState::Cached, 1));
        assert!(index.set_state(&id(2), ReplicaState::Removed).expect("no-op").is_none(), "nothing to remove");
        assert!(index.set_state(&id(1), ReplicaState::New).is_err());
        assert_eq!(index.get(&id(1)).map(|e| e.state), Some(ReplicaState::Cached));
    }
}
