//! A job's queue: files waiting for a task, FIFO, without duplicates, each with the size
//! recorded when it was enqueued (spec §3.1).
//!
//! A job may queue every replica of a pool, tens of millions, so the queue is laid out for
//! memory (about 30 bytes per file, against ~155 for dCache's `LinkedHashSet` + `HashMap`):
//!
//! * `slots` (`slots.rs`): the files in queue order, packed: the id's 18 bytes and a word of
//!   the size and the id's length, no padding, in chunks. A file that leaves is only marked
//!   dead (a bit in its chunk's bitmap); the dead prefix is skipped by `head`.
//! * `index` (`index.rs`): the membership index over the slots below `indexed`, built in one
//!   go when many files arrive at once, as from the initial scan.
//! * `recent`: a plain hash map for the files added one at a time after the index was built
//!   (re-queued failures, a permanent job's new replicas). When it grows past a quarter of
//!   the indexed files, everything is re-indexed, so its cost stays amortised.
//!
//! A repository scan's files are packed as they come and indexed beside the module's lock
//! (`scan.rs`; a sorted scan's are sorted first, `sorting.rs`), and an empty queue adopts
//! them whole.
//!
//! Once dead slots outnumber the live ones, the queue is compacted. A job taking files in
//! order leaves only a dead prefix: its whole chunks are dropped once the index has been
//! rewritten without them, a few buckets per take (`index::Purge`), so that no take holds
//! the module's lock for long (a million-file queue's compaction in one go took 2–4 ms).
//! Dead slots elsewhere (removals, skipped locked files) need a full rebuild. Whatever large
//! memory a compaction or a clear lets go of is not freed here but handed out
//! ([`JobQueue::take_released`]), for the driver to free after the module's lock.

mod index;
mod scan;
mod slots;
mod sorting;

use std::hash::BuildHasher;

use rustc_hash::FxHashMap;

use crate::effect::Released;
use crate::pnfsid::PnfsId;
use index::{Index, Purge};
pub use scan::{ScanCollector, ScannedFiles};
use slots::{CHUNK, PackedFile, Slots};
pub use sorting::SortingCollector;

/// Below this many files the queue keeps only the hash map (no index).
const INDEX_MIN: usize = 4096;

/// Memory let go of from this size on is handed to the driver to free after the module's
/// lock ([`Released`]): glibc's threshold (`FASTBIN_CONSOLIDATION_THRESHOLD`) above which a
/// free first merges the small chunks other threads freed into the same arena.
const RELEASE_LATER: usize = 64 * 1024;

/// The heap of the map of recent files, estimated: its entries and their control bytes.
fn map_bytes(recent: &FxHashMap<PnfsId, u32>) -> usize {
    recent.capacity() * (size_of::<(PnfsId, u32)>() + 1)
}

/// Insertion-ordered set of queued files with their sizes.
#[derive(Debug)]
pub struct JobQueue {
    slots: Slots,
    /// Slots below `head` are dead.
    head: usize,
    /// Live slots.
    live: usize,
    /// The sizes of the live slots, summed (what an ETA has left to move).
    bytes: u64,
    /// Membership of the live slots below `indexed`.
    index: Index,
    indexed: usize,
    /// Membership of the live slots from `indexed` on.
    recent: FxHashMap<PnfsId, u32>,
    /// The index being rewritten without the dead prefix, whose chunks go when it is done.
    purge: Option<Purge>,
    /// Large memory let go of, for the job to hand to the driver ([`JobQueue::take_released`]).
    released: Vec<Released>,
    seed: u64,
}

impl Default for JobQueue {
    fn default() -> Self {
        JobQueue {
            slots: Slots::default(),
            head: 0,
            live: 0,
            bytes: 0,
            index: Index::default(),
            indexed: 0,
            recent: FxHashMap::default(),
            purge: None,
            released: Vec::new(),
            // The index's hash is keyed per queue, like std's maps, so that no set of ids
            // can be chosen to fill one bucket.
            seed: std::collections::hash_map::RandomState::new().hash_one(0x6d69_6772_6174_6531u64),
        }
    }
}

impl JobQueue {
    /// An empty queue.
    pub fn new() -> JobQueue {
        JobQueue::default()
    }

    fn find(&self, id: &PnfsId) -> Option<usize> {
        if let Some(&slot) = self.recent.get(id) {
            debug_assert!(self.slots.get(slot as usize).holds(id.as_bytes()), "{id} maps to slot {slot}");
            return Some(slot as usize);
        }
        self.index.find(&self.slots, id.as_bytes(), self.seed)
    }

    fn slot_number(&self) -> u32 {
        u32::try_from(self.slots.len()).expect("fewer than 2^32 slots: compaction keeps at most twice the live files")
    }

    /// Appends `id` unless it is already queued; returns whether it was added.
    pub fn push_back(&mut self, id: PnfsId, size: u64) -> bool {
        if self.find(&id).is_some() {
            return false;
        }
        let slot = self.slot_number();
        let file = PackedFile::new(&id, size);
        self.slots.push(file);
        self.recent.insert(id, slot);
        self.live += 1;
        self.bytes = self.bytes.saturating_add(file.size());
        if self.recent.len() >= INDEX_MIN && self.recent.len() > self.indexed / 4 {
            self.rebuild();
        }
        true
    }

    /// Appends every file not yet queued, in order, as [`JobQueue::push_back`] one by one
    /// would; returns how many were added and their bytes. Many files at once are indexed in
    /// one pass, without a hash-map insertion each.
    pub fn extend(&mut self, files: impl IntoIterator<Item = (PnfsId, u64)>) -> (usize, u64) {
        let files = files.into_iter();
        let first = self.slots.len();
        let (live, bytes) = (self.live, self.bytes);
        let (lower, _) = files.size_hint();
        if lower >= INDEX_MIN {
            for (id, size) in files {
                let file = PackedFile::new(&id, size);
                self.slots.push(file);
                self.bytes = self.bytes.saturating_add(file.size());
            }
            let _ = self.slot_number();
            self.live += self.slots.len() - first;
            // Re-indexing kills later duplicates, also of files queued before.
            self.rebuild_from(first);
        } else {
            for (id, size) in files {
                self.push_back(id, size);
            }
        }
        (self.live - live, self.bytes.saturating_sub(bytes))
    }

    /// The key of this queue's index, for [`ScannedFiles::new`].
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Appends a scan's files, as [`JobQueue::extend`] does; an empty queue takes them with
    /// their index as they are, in constant time. Returns the files and bytes added.
    pub fn extend_scanned(&mut self, mut scanned: ScannedFiles) -> (usize, u64) {
        if self.slots.is_empty()
            && scanned.seed == self.seed
            && let Some(index) = scanned.index.take()
        {
            let (added, bytes) = (scanned.live, scanned.bytes);
            *self = JobQueue {
                released: std::mem::take(&mut self.released),
                indexed: scanned.slots.len(),
                slots: scanned.slots,
                index,
                live: added,
                bytes,
                seed: self.seed,
                ..JobQueue::default()
            };
            return (added, bytes);
        }
        let added = self.extend(scanned.files());
        if let Some(memory) = scanned.release() {
            self.released.push(memory);
        }
        added
    }

    /// Whether `id` is queued.
    pub fn contains(&self, id: &PnfsId) -> bool {
        self.find(id).is_some()
    }

    /// Number of queued files.
    pub fn len(&self) -> usize {
        self.live
    }

    /// The bytes of the queued files.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Marks slot `n` dead and keeps the bookkeeping; returns the file.
    fn take_slot(&mut self, n: usize) -> (PnfsId, u64) {
        self.slots.kill(n);
        let slot = self.slots.get(n);
        let (id, size) = (slot.pnfsid(), slot.size());
        if n >= self.indexed {
            self.recent.remove(&id);
        }
        self.live -= 1;
        self.bytes = self.bytes.saturating_sub(size);
        if self.live == 0 {
            self.clear();
            return (id, size);
        }
        while self.head < self.slots.len() && !self.slots.is_live(self.head) {
            self.head += 1;
        }
        if self.purge.is_some() {
            self.continue_purge();
        } else {
            let dead = self.slots.len() - self.live;
            if dead > self.live + INDEX_MIN {
                if self.head == dead {
                    self.start_purge();
                } else {
                    self.rebuild();
                }
            }
        }
        (id, size)
    }

    /// Removes `id`, returning its size.
    pub fn remove(&mut self, id: &PnfsId) -> Option<u64> {
        let n = self.find(id)?;
        Some(self.take_slot(n).1)
    }

    /// The queued files from the head, in order.
    pub fn iter(&self) -> impl Iterator<Item = (PnfsId, u64)> + '_ {
        self.slots.live_from(self.head).map(|s| (s.pnfsid(), s.size()))
    }

    /// The file at the head of the queue.
    pub fn front(&self) -> Option<(PnfsId, u64)> {
        (self.live > 0).then(|| {
            debug_assert!(self.slots.is_live(self.head), "the head is live while files are queued");
            let slot = self.slots.get(self.head);
            (slot.pnfsid(), slot.size())
        })
    }

    /// Removes and returns the file at the head of the queue.
    pub fn pop_front(&mut self) -> Option<(PnfsId, u64)> {
        (self.live > 0).then(|| self.take_slot(self.head))
    }

    /// Removes and returns the `skip`-th queued file from the head (0 = head, which
    /// [`JobQueue::pop_front`] takes more directly).
    pub fn take_nth(&mut self, skip: usize) -> Option<(PnfsId, u64)> {
        let n = (self.head..self.slots.len()).filter(|&n| self.slots.is_live(n)).nth(skip)?;
        Some(self.take_slot(n))
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        let released = std::mem::take(&mut self.released);
        let old = std::mem::replace(self, JobQueue { released, seed: self.seed, ..JobQueue::default() });
        let bytes = old.heap_bytes();
        self.release(old, bytes);
    }

    /// The large memory the queue let go of since the last call, to be freed after the
    /// module's lock is released ([`Released`]); smaller pieces were freed at once.
    pub fn take_released(&mut self) -> Vec<Released> {
        std::mem::take(&mut self.released)
    }

    fn release(&mut self, memory: impl std::any::Any + Send + Sync, bytes: usize) {
        if bytes >= RELEASE_LATER {
            self.released.push(Released::new(memory, bytes));
        }
    }

    /// Bytes held (capacity of the slots and the index; the hash map's entries estimated).
    pub fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes()
            + self.index.bytes()
            + self.purge.as_ref().map_or(0, Purge::bytes)
            + map_bytes(&self.recent)
    }

    /// Begins dropping the dead prefix's whole chunks (every dead slot is below `head`, as a
    /// job taking files in order leaves them).
    fn start_purge(&mut self) {
        let cut = self.head / CHUNK * CHUNK;
        self.purge = Some(self.index.start_purge(cut));
        self.continue_purge();
    }

    /// Rewrites a few more buckets of the index; once all are, swaps the index and drops the
    /// chunks below the cut, renumbering what refers to slots.
    fn continue_purge(&mut self) {
        let purge = self.purge.as_mut().expect("a purge under way");
        let cut = purge.cut as usize;
        let purged = if self.index.is_empty() { Some(Index::default()) } else { self.index.purge_step(purge) };
        let Some(purged) = purged else { return };
        self.purge = None;
        let old = std::mem::replace(&mut self.index, purged);
        let dropped = self.slots.split_off_chunks(cut / CHUNK);
        let bytes = old.bytes() + dropped.heap_bytes();
        self.release((old, dropped), bytes);
        self.head -= cut;
        self.indexed = self.indexed.saturating_sub(cut);
        // Recent files are live, so above the head and the cut.
        for slot in self.recent.values_mut() {
            *slot -= cut as u32;
        }
    }

    /// Compacts the slots and indexes all of them.
    fn rebuild(&mut self) {
        self.rebuild_from(self.slots.len());
    }

    /// Compacts the slots and indexes them (or, when few, maps them); slots from `fresh` on
    /// were appended without a membership check, so later duplicates among them and of older
    /// files are killed.
    fn rebuild_from(&mut self, fresh: usize) {
        // A purge under way is overtaken: the compaction drops every dead slot.
        if let Some(purge) = self.purge.take() {
            let bytes = purge.bytes();
            self.release(purge, bytes);
        }
        let mut fresh = fresh;
        if self.live < self.slots.len() {
            let mut kept = Slots::default();
            let mut renumbered_fresh = None;
            for (n, (slot, live)) in self.slots.iter_from(0).enumerate() {
                if n >= fresh && renumbered_fresh.is_none() {
                    renumbered_fresh = Some(kept.len());
                }
                if live {
                    kept.push(*slot);
                }
            }
            fresh = renumbered_fresh.unwrap_or(kept.len());
            let old = std::mem::replace(&mut self.slots, kept);
            let bytes = old.heap_bytes();
            self.release(old, bytes);
        }
        self.head = 0;
        let old = (std::mem::take(&mut self.recent), std::mem::take(&mut self.index));
        let bytes = map_bytes(&old.0) + old.1.bytes();
        self.release(old, bytes);
        // The slots of the duplicates killed.
        let killed = if self.slots.len() >= INDEX_MIN {
            let (index, dead) = Index::build(&mut self.slots, self.seed);
            self.index = index;
            self.indexed = self.slots.len();
            dead
        } else {
            self.index = Index::default();
            self.indexed = 0;
            let mut dead = Vec::new();
            for n in 0..self.slots.len() {
                let id = self.slots.get(n).pnfsid();
                if n >= fresh && self.recent.contains_key(&id) {
                    self.slots.kill(n);
                    dead.push(n);
                } else {
                    self.recent.insert(id, n as u32);
                }
            }
            dead
        };
        self.live -= killed.len();
        self.bytes = killed.iter().fold(self.bytes, |bytes, &n| bytes.saturating_sub(self.slots.get(n).size()));
        if self.live == 0 {
            self.clear();
        } else {
            while !self.slots.is_live(self.head) {
                self.head += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> PnfsId {
        PnfsId::parse(&format!("{n:x}")).expect("valid")
    }

    fn big(n: u32) -> PnfsId {
        PnfsId::parse(&format!("{n:024x}")).expect("valid")
    }

    fn long(n: u32) -> PnfsId {
        PnfsId::parse(&format!("{n:036x}")).expect("valid")
    }

    /// A scan packed and indexed off the lock gives the very queue `extend` builds: same
    /// order, same duplicates dropped, same membership and bytes; a queue that already holds
    /// files (load-time events) merges the scan as `extend` does.
    #[test]
    fn a_scan_indexed_beside_the_module_is_the_queue_extend_builds() {
        let mut files: Vec<(PnfsId, u64)> = (0..10_000u32).map(|n| (big(n), u64::from(n))).collect();
        files.push((big(17), 1_000_000)); // a duplicate, dropped with its bytes
        let mut by_extend = JobQueue::new();
        let mut adopted = JobQueue::new();
        let expected = by_extend.extend(files.clone());
        let scanned = ScannedFiles::new(files.clone(), adopted.seed());
        assert_eq!(scanned.len(), 10_000);
        assert_eq!(adopted.extend_scanned(scanned), expected);
        assert_eq!(adopted.len(), 10_000);
        assert_eq!((adopted.bytes(), by_extend.bytes()), (expected.1, expected.1));
        assert!(adopted.recent.is_empty() && adopted.indexed == 10_001, "adopted whole, with its index");
        assert!(adopted.iter().eq(by_extend.iter()));
        assert!(adopted.contains(&big(9_999)) && !adopted.contains(&big(10_000)));
        assert_eq!(adopted.remove(&big(17)), Some(17));
        assert_eq!(adopted.take_nth(0), Some((big(0), 0)));

        let mut busy = JobQueue::new();
        busy.push_back(big(5), 5);
        let scanned = ScannedFiles::new(files, busy.seed());
        assert_eq!(busy.extend_scanned(scanned), (9_999, expected.1 - 5));
        let released: usize = busy.take_released().iter().map(Released::bytes).sum();
        assert!(released >= 10_000 * size_of::<PackedFile>(), "the scan's slots, to be freed after the lock");
        assert_eq!(busy.iter().next(), Some((big(5), 5)), "the file queued first stays first");
        assert_eq!(busy.len(), 10_000);
        assert_eq!(busy.bytes(), expected.1, "the scan's bytes and the file queued before");
    }

    /// A scan collected file by file is the queue a scan packed at once makes, and its chunks
    /// are allocated whole, so that no chunk is reallocated (and copied) as it fills.
    #[test]
    fn a_scan_collected_file_by_file_is_the_scan_packed_at_once() {
        let mut files: Vec<(PnfsId, u64)> = (0..2 * CHUNK as u32 + 7).map(|n| (big(n), u64::from(n))).collect();
        files.push((big(3), 1_000_000)); // a duplicate, dropped with its bytes
        let (mut packed, mut collected) = (JobQueue::new(), JobQueue::new());
        let mut collector = ScanCollector::default();
        files.iter().for_each(|(id, size)| collector.push(id, *size));
        assert!(collector.slots().chunks().iter().all(|chunk| chunk.capacity() == CHUNK));
        let expected = packed.extend_scanned(ScannedFiles::new(files, packed.seed()));
        assert_eq!(collected.extend_scanned(collector.finish(collected.seed())), expected);
        assert_eq!(expected.0, 2 * CHUNK + 7);
        assert!(collected.iter().eq(packed.iter()));
        assert!(collected.contains(&big(2 * CHUNK as u32 + 6)) && !collected.contains(&big(2 * CHUNK as u32 + 7)));
    }

    /// Taking files in order drops the dead prefix's whole chunks once the index has been
    /// rewritten without them, a few buckets per take: while the old index answers and right
    /// after the swap, every remaining file, indexed or recent, is found, and the taken not.
    #[test]
    fn taking_in_order_drops_the_dead_prefix_a_few_buckets_per_take() {
        let mut q = JobQueue::new();
        q.extend((0..50_000).map(|n| (big(n), u64::from(n))));
        for n in 50_000..50_100 {
            assert!(q.push_back(big(n), u64::from(n)), "recent files, beside the index");
        }
        let full = q.heap_bytes();
        let (mut compactions, mut takes_while_purging) = (0, 0);
        for n in 0..40_000 {
            let slots = q.slots.len();
            assert_eq!(q.take_nth(0), Some((big(n), u64::from(n))));
            if q.purge.is_some() {
                takes_while_purging += 1;
                assert!(q.contains(&big(n + 1)) && q.contains(&big(49_999)) && q.contains(&big(50_099)));
                assert!(!q.contains(&big(n)) && !q.contains(&big(n / 2)));
            }
            if q.slots.len() < slots {
                compactions += 1;
                assert_eq!((slots - q.slots.len()) % CHUNK, 0, "whole chunks dropped");
                // Right after the swap, including the file now at the head.
                assert!((n + 1..50_100).all(|m| q.contains(&big(m))), "every remaining file is found");
                assert!(!(0..=n).step_by(97).any(|m| q.contains(&big(m))), "no taken file is");
            }
        }
        assert!(compactions >= 1);
        // The first purge rewrites 50 000 positions at 4096 a step, so it spans 12 takes; a
        // purge done under one take would leave none.
        assert!(takes_while_purging >= 11, "{takes_while_purging} takes in {compactions} purges");
        assert_eq!(q.head, q.slots.len() - q.live, "only a dead prefix since the last compaction");
        assert!(q.slots.len() <= 2 * q.live + INDEX_MIN, "compacted: {} slots", q.slots.len());
        assert!(q.heap_bytes() < full / 2, "compacted: {} of {full}", q.heap_bytes());
        assert!((40_000..50_100).all(|n| q.contains(&big(n))), "every remaining file is found");
        assert!(!(0..40_000).step_by(97).any(|n| q.contains(&big(n))), "no taken file is");
        assert!(q.iter().map(|(id, _)| id).eq((40_000..50_100).map(big)), "in order");
        assert_eq!(q.remove(&big(45_000)), Some(45_000));
        assert_eq!(q.remove(&big(50_050)), Some(50_050));
        assert!(!q.push_back(big(49_999), 1), "still a duplicate");
        assert!(q.push_back(big(45_000), 7), "gone, so it can come back");
        assert_eq!(q.len(), 10_099);
    }

    /// What a compaction or a clear drops from 64 KiB on is handed out, not freed, so that
    /// the driver can free it after the module's lock; smaller pieces are freed at once.
    #[test]
    fn large_memory_let_go_of_is_handed_out() {
        let mut q = JobQueue::new();
        q.extend((0..20_000).map(|n| (big(n), 1)));
        let mut handed_out = 0;
        for _ in 0..15_000 {
            q.take_nth(0).expect("files left");
            handed_out += q.take_released().iter().map(Released::bytes).sum::<usize>();
        }
        let chunks = 2 * CHUNK * size_of::<PackedFile>();
        assert!(handed_out >= chunks, "{handed_out} bytes handed out, {chunks} in the chunks dropped");
        let held = q.heap_bytes();
        q.clear();
        let released = q.take_released();
        assert_eq!(released.iter().map(Released::bytes).sum::<usize>(), held, "the whole queue");
        assert!(q.take_released().is_empty(), "handed out once");

        let mut small = JobQueue::new();
        small.extend((0..100).map(|n| (big(n), 1)));
        small.clear();
        assert!(small.take_released().is_empty(), "a small queue is freed at once");
    }

    /// The purge cuts at a chunk boundary below the head; when the head is on the boundary
    /// itself, the head's file is the first kept.
    #[test]
    fn a_cut_on_the_head_keeps_the_head() {
        let total = 3 * CHUNK as u32 - 1;
        let mut q = JobQueue::new();
        q.extend((0..total).map(|n| (big(n), 1)));
        // 8192 dead > 4095 live + 4096: the compaction starts as the head reaches slot 8192.
        for n in 0..2 * CHUNK as u32 {
            assert_eq!(q.take_nth(0), Some((big(n), 1)));
        }
        assert_eq!(q.purge.as_ref().map(|p| p.cut), Some(2 * CHUNK as u32));
        while q.purge.is_some() {
            assert!(q.push_back(big(total + q.len() as u32), 2), "adds do not advance a purge");
            let last = q.iter().last().expect("files left");
            assert_eq!(q.remove(&last.0), Some(2), "but removals do");
        }
        assert_eq!(q.head, 0);
        assert!(q.slots.len() < 2 * CHUNK, "two chunks dropped: {} slots", q.slots.len());
        assert!((2 * CHUNK as u32..total).all(|n| q.contains(&big(n))), "the head and every file after it");
    }

    /// Between a purge's steps come every other operation: single adds, duplicates, removals
    /// (from the middle, and of files added one at a time), small and bulk extends (a bulk
    /// one overtakes the purge with a full rebuild). The queue matches a model throughout,
    /// and purges run to their end.
    #[test]
    fn a_purge_under_way_stays_correct_through_every_other_operation() {
        let mut rng = 0x9e37_79b9_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut q = JobQueue::new();
        let mut model: std::collections::VecDeque<(PnfsId, u64)> = std::collections::VecDeque::new();
        let mut fresh = 0;
        let (mut purges_ended, mut operations_during_purges) = (0, 0);
        for round in 0..150_000 {
            let purging = q.purge.is_some();
            let pick = next();
            if !purging && model.len() < 2_000 {
                let files: Vec<_> = (fresh..fresh + 12_000).map(|n| (big(n), 1)).collect();
                assert_eq!(q.extend(files.clone()), (12_000, 12_000));
                model.extend(files);
                fresh += 12_000;
                assert_eq!(q.front(), model.front().copied(), "round {round}: the head after a refill");
                continue;
            }
            if purging {
                operations_during_purges += 1;
            }
            // During a purge, every operation, with takes rare so that many come between its
            // steps; between purges, only what keeps every dead slot in the prefix.
            let operation = match pick % 32 {
                k if purging && k < 30 => k % 7,
                0 | 1 => 0,
                _ => 7,
            };
            match operation {
                0 | 1 => {
                    assert!(q.push_back(big(fresh), 2));
                    model.push_back((big(fresh), 2));
                    fresh += 1;
                }
                2 => {
                    let (id, _) = model[(next() % model.len() as u64) as usize];
                    assert!(!q.push_back(id, 3), "{id} is queued");
                }
                3 if pick % 3 == 0 => {
                    // Mostly the last file: added one at a time, it is in the hash map.
                    let at = if next() % 4 == 0 { (next() % model.len() as u64) as usize } else { model.len() - 1 };
                    let (id, size) = model.remove(at).expect("in range");
                    assert_eq!(q.remove(&id), Some(size));
                }
                4 => assert_eq!(q.remove(&big(fresh + 1_000_000)), None),
                5 => {
                    let files: Vec<_> = (fresh..fresh + 10).map(|n| (big(n), 4)).collect();
                    assert_eq!(q.extend(files.clone()), (10, 40));
                    model.extend(files);
                    fresh += 10;
                }
                6 if pick % 5 == 0 => {
                    // A bulk extend with a duplicate of a queued file, which stays where it is.
                    let mut files: Vec<_> = (fresh..fresh + 5_000).map(|n| (big(n), 5)).collect();
                    files.extend(model.front().copied());
                    assert_eq!(q.extend(files.clone()).0, 5_000);
                    model.extend(files.into_iter().take(5_000));
                    fresh += 5_000;
                }
                7 if pick & 64 == 0 => assert_eq!(q.take_nth(0), model.pop_front()),
                _ => assert_eq!(q.pop_front(), model.pop_front()),
            }
            if purging && q.purge.is_none() {
                purges_ended += 1;
                // The last file was added one at a time: its slot number was renumbered.
                let (id, size) = model.pop_back().expect("files left");
                assert_eq!(q.remove(&id), Some(size), "round {round}: {id} after the purge");
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.front(), model.front().copied(), "round {round}: the head");
            if let (Some(first), Some(last)) = (model.front(), model.back()) {
                assert!(q.contains(&first.0) && q.contains(&last.0));
                assert!(q.contains(&model[(next() % model.len() as u64) as usize].0));
            }
            if round % 10_000 == 0 || (purging && q.purge.is_none()) {
                assert!(q.iter().eq(model.iter().copied()), "round {round}: the queue in order");
                assert!(model.iter().all(|(id, _)| q.contains(id)), "round {round}: every file found");
            }
        }
        assert!(purges_ended >= 8, "{purges_ended} purges ended");
        assert!(operations_during_purges >= 80, "{operations_during_purges} operations during purges");
    }

    /// A size above the largest a file can have is queued as that, and the queue's bytes stay
    /// the sum of what it gives back: they return to 0 once it is empty.
    #[test]
    fn an_oversized_file_is_queued_at_the_largest_size_and_its_bytes_balance() {
        use crate::replica::MAX_FILE_SIZE;
        let mut q = JobQueue::new();
        assert!(q.push_back(long(1), u64::MAX));
        assert!(q.push_back(id(2), 5));
        assert_eq!(q.bytes(), MAX_FILE_SIZE + 5);
        assert_eq!(q.front(), Some((long(1), MAX_FILE_SIZE)));
        assert_eq!(q.remove(&long(1)), Some(MAX_FILE_SIZE));
        assert_eq!(q.bytes(), 5);
        let files: Vec<(PnfsId, u64)> = (0..INDEX_MIN as u32).map(|n| (long(n + 10), MAX_FILE_SIZE / 2)).collect();
        assert_eq!(q.extend(files).0, INDEX_MIN);
        assert_eq!(q.bytes(), u64::MAX, "saturated");
        assert_eq!(q.pop_front(), Some((id(2), 5)));
        assert_eq!(q.pop_front(), Some((long(10), MAX_FILE_SIZE / 2)));
        while q.pop_front().is_some() {}
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn queue_is_fifo_without_duplicates() {
        let mut q = JobQueue::new();
        assert!(q.push_back(id(1), 10));
        assert!(q.push_back(id(2), 20));
        assert!(!q.push_back(id(1), 99));
        assert_eq!(q.len(), 2);
        assert_eq!(q.take_nth(0), Some((id(1), 10)));
        assert_eq!(q.take_nth(0), Some((id(2), 20)));
        assert_eq!(q.take_nth(0), None);
    }

    #[test]
    fn removed_files_are_skipped_and_can_be_re_added_at_the_end() {
        let mut q = JobQueue::new();
        for n in 1..=3 {
            q.push_back(id(n), u64::from(n));
        }
        assert_eq!(q.remove(&id(1)), Some(1));
        q.push_back(id(1), 1);
        assert_eq!(q.iter().map(|(i, _)| i).collect::<Vec<_>>(), vec![id(2), id(3), id(1)]);
        assert_eq!(q.take_nth(1), Some((id(3), 3)));
        assert_eq!(q.take_nth(0), Some((id(2), 2)));
        assert_eq!(q.take_nth(0), Some((id(1), 1)));
        assert!(q.is_empty());
    }

    #[test]
    fn a_bulk_extend_is_indexed_and_keeps_order_sizes_and_membership() {
        let mut q = JobQueue::new();
        let files: Vec<_> = (0..20_000).map(|n| (big(n * 7919), u64::from(n))).collect();
        assert_eq!(q.extend(files.clone()), (20_000, (0..20_000u64).sum()));
        assert!(q.recent.is_empty(), "the scan is indexed, not hashed one by one");
        assert_eq!(q.indexed, 20_000);
        assert!(files.iter().all(|(i, _)| q.contains(i)));
        assert!(!q.contains(&big(1)));
        assert!(!q.push_back(big(7919 * 5), 0));
        assert_eq!(q.iter().collect::<Vec<_>>(), files);
        assert_eq!(q.remove(&big(7919 * 3)), Some(3));
        assert_eq!(q.remove(&big(7919 * 3)), None);
        assert!(!q.contains(&big(7919 * 3)));
        assert_eq!(q.take_nth(0), Some((big(0), 0)));
        assert_eq!(q.take_nth(2), Some((big(7919 * 4), 4)));
        assert_eq!(q.len(), 19_997);
    }

    #[test]
    fn a_bulk_extend_drops_duplicates_of_queued_files_and_among_itself() {
        let mut q = JobQueue::new();
        q.push_back(big(5), 5);
        q.push_back(long(9), 9);
        let mut files: Vec<_> = (0..10_000).map(|n| (big(n), 100 + u64::from(n))).collect();
        files.push((big(17), 1));
        files.push((long(9), 1));
        files.push((long(10), 10));
        let (added, bytes) = q.extend(files);
        assert_eq!(added, 10_000, "big(5), the second big(17) and long(9) were queued already");
        let expected: u64 = (0..10_000u64).filter(|&n| n != 5).map(|n| 100 + n).sum::<u64>() + 10;
        assert_eq!(bytes, expected);
        assert_eq!(q.len(), 10_002);
        let order: Vec<_> = q.iter().take(4).collect();
        assert_eq!(order, vec![(big(5), 5), (long(9), 9), (big(0), 100), (big(1), 101)]);
        assert_eq!(q.iter().last(), Some((long(10), 10)));
        assert_eq!(q.remove(&big(17)), Some(117), "the first occurrence stays");
        assert_eq!(q.remove(&big(17)), None);
    }

    #[test]
    fn a_small_extend_behaves_like_push_back() {
        let mut q = JobQueue::new();
        q.push_back(id(2), 2);
        assert_eq!(q.extend(vec![(id(1), 1), (id(2), 20), (id(1), 10), (id(3), 3)]), (2, 4));
        assert_eq!(q.iter().collect::<Vec<_>>(), vec![(id(2), 2), (id(1), 1), (id(3), 3)]);
    }

    #[test]
    fn many_single_adds_are_re_indexed_and_stay_correct() {
        let mut q = JobQueue::new();
        q.extend((0..5_000).map(|n| (big(n), 1)));
        for n in 5_000..30_000 {
            assert!(q.push_back(big(n), 2));
        }
        assert!(q.recent.len() < 10_000, "the map was folded into the index");
        for n in (0..30_000).step_by(1_000) {
            assert!(!q.push_back(big(n), 3));
        }
        assert_eq!(q.len(), 30_000);
        assert_eq!(q.iter().map(|(i, _)| i).collect::<Vec<_>>(), (0..30_000).map(big).collect::<Vec<_>>());
    }

    #[test]
    fn draining_compacts_and_frees_the_queue() {
        let mut q = JobQueue::new();
        q.extend((0..50_000).map(|n| (big(n), u64::from(n))));
        let full = q.heap_bytes();
        assert!(full <= 50_000 * 32, "{full} bytes for 50k files");
        for n in 0..40_000 {
            assert_eq!(q.take_nth(0), Some((big(n), u64::from(n))));
        }
        assert!(q.heap_bytes() < full / 2, "compacted: {} of {full}", q.heap_bytes());
        assert!(q.contains(&big(45_000)) && !q.contains(&big(100)));
        // Removing from the middle, then re-adding, goes to the end.
        assert_eq!(q.remove(&big(40_001)), Some(40_001));
        assert!(q.push_back(big(40_001), 7));
        assert_eq!(q.iter().last(), Some((big(40_001), 7)));
        while q.take_nth(0).is_some() {}
        assert_eq!(q.heap_bytes(), 0);
    }

    #[test]
    fn a_permanent_job_churning_one_file_at_a_time_stays_small() {
        let mut q = JobQueue::new();
        for n in 0..100_000 {
            assert!(q.push_back(big(n), 1));
            if n >= 10 {
                assert_eq!(q.take_nth(0).map(|f| f.0), Some(big(n - 10)));
            }
        }
        assert_eq!(q.len(), 10);
        assert!(q.slots.len() <= 10 + 2 * INDEX_MIN, "{} slots", q.slots.len());
    }

    #[test]
    fn the_queue_matches_a_model_under_random_operations() {
        // A reference model (Vec, linear search) against the queue, over mixed operations
        // that cross every threshold: bulk extends, single adds, removals, takes with skips.
        let mut rng = 0x1234_5678_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut q = JobQueue::new();
        let mut model: Vec<(PnfsId, u64)> = Vec::new();
        for round in 0..400 {
            match next() % 10 {
                0 => {
                    let count = if round % 50 == 0 { 6_000 } else { (next() % 40) as u32 };
                    let base = (next() % 20_000) as u32;
                    let files: Vec<_> = (0..count).map(|k| (big(base + k * 3), u64::from(k))).collect();
                    let mut added = 0;
                    for (i, s) in &files {
                        if !model.iter().any(|(m, _)| m == i) {
                            model.push((*i, *s));
                            added += 1;
                        }
                    }
                    assert_eq!(q.extend(files).0, added);
                }
                1..=4 => {
                    for _ in 0..50 {
                        let i = big((next() % 30_000) as u32);
                        let fresh = !model.iter().any(|(m, _)| *m == i);
                        if fresh {
                            model.push((i, 9));
                        }
                        assert_eq!(q.push_back(i, 9), fresh);
                    }
                }
                5 | 6 => {
                    for _ in 0..50 {
                        let i = big((next() % 30_000) as u32);
                        let expected = model.iter().position(|(m, _)| *m == i).map(|p| model.remove(p).1);
                        assert_eq!(q.remove(&i), expected);
                    }
                }
                _ => {
                    for _ in 0..200 {
                        let skip = (next() % 3) as usize;
                        let expected = (skip < model.len()).then(|| model.remove(skip));
                        assert_eq!(q.take_nth(skip), expected);
                    }
                }
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.bytes(), model.iter().map(|(_, size)| size).sum::<u64>(), "round {round}");
        }
        assert_eq!(q.iter().collect::<Vec<_>>(), model);
    }
}
