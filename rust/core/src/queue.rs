//! A job's queue: files waiting for a task, FIFO, without duplicates, each with the size
//! recorded when it was enqueued (spec §3.1).
//!
//! A job may queue every replica of a pool, tens of millions, so the queue is laid out for
//! memory (about 31 bytes per file, against ~155 for dCache's `LinkedHashSet` + `HashMap`):
//!
//! * `slots`: the files in queue order, packed: the id's 19 bytes (length byte + 18) and the
//!   size's 8, no padding. A file that leaves is only marked dead (a flag in the length
//!   byte); the dead prefix is skipped by `head`, and the vector is compacted once dead slots
//!   outnumber the live ones.
//! * `index`: the membership index over the slots below `indexed`, built in one go (a radix
//!   sort, no per-file allocation) when many files arrive at once, as from the initial scan:
//!   slot numbers sorted by a seeded hash of the id, with a small directory of bucket starts.
//!   4 bytes per file plus < 0.25 for the directory; a lookup is a binary search within one
//!   bucket of ~16–32 slots.
//! * `recent`: a plain hash map for the files added one at a time after the index was built
//!   (re-queued failures, a permanent job's new replicas). When it grows past a quarter of
//!   the indexed files, everything is re-indexed, so its cost stays amortised.

use std::hash::BuildHasher;

use rustc_hash::FxHashMap;

use crate::pnfsid::PnfsId;

/// Flag in a slot's length byte: the file left the queue.
const DEAD: u8 = 0x80;
/// Below this many files the queue keeps only the hash map (no index).
const INDEX_MIN: usize = 4096;

/// One queued file, packed: `[len | flags, 18 id bytes]` and the size, little-endian.
#[derive(Clone, Copy)]
struct PackedFile {
    id: [u8; 19],
    size: [u8; 8],
}

impl PackedFile {
    fn new(id: &PnfsId, size: u64) -> PackedFile {
        let raw = id.as_bytes();
        let mut packed = [0u8; 19];
        packed[0] = raw.len() as u8;
        packed[1..=raw.len()].copy_from_slice(raw);
        PackedFile { id: packed, size: size.to_le_bytes() }
    }

    fn is_live(&self) -> bool {
        self.id[0] & DEAD == 0
    }

    fn kill(&mut self) {
        self.id[0] |= DEAD;
    }

    fn len(&self) -> usize {
        usize::from(self.id[0] & !DEAD)
    }

    fn pnfsid(&self) -> PnfsId {
        PnfsId::from_bytes(&self.id[1..=self.len()]).expect("a slot holds a valid id")
    }

    fn size(&self) -> u64 {
        u64::from_le_bytes(self.size)
    }

    /// Whether the slot holds `id` (dead or alive).
    fn holds(&self, id: &[u8]) -> bool {
        self.len() == id.len() && &self.id[1..=id.len()] == id
    }

    fn hash(&self, seed: u64) -> u32 {
        hash(&self.id[1..=self.len()], seed)
    }
}

/// A seeded 32-bit hash of an id's bytes (12 or 18 of them).
fn hash(id: &[u8], seed: u64) -> u32 {
    let mut padded = [0u8; 24];
    padded[..id.len()].copy_from_slice(id);
    padded[23] = id.len() as u8;
    let word = |i: usize| u64::from_le_bytes(padded[i..i + 8].try_into().expect("8 bytes"));
    let fold = |a: u64, b: u64| {
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ ((product >> 64) as u64)
    };
    let h = fold(word(0) ^ seed, word(8) ^ 0x9E37_79B9_7F4A_7C15);
    let h = fold(h ^ word(16), 0xD6E8_FEB8_6659_FD93 ^ seed);
    (h >> 32) as u32 ^ h as u32
}

/// Slot numbers sorted by hash, with the first position of each bucket of hashes.
#[derive(Debug, Default, Clone)]
struct Index {
    /// Slot numbers, ordered by (hash, slot).
    positions: Vec<u32>,
    /// `buckets[b]..buckets[b + 1]`: the positions whose hash starts with the bits of `b`.
    buckets: Vec<u32>,
    /// `32 - bits` of the bucket number.
    shift: u32,
}

impl Index {
    /// Sorts `(hash << 32 | slot)` keys by hash (stable, so equal hashes keep slot order).
    fn sort(keys: &mut Vec<u64>) {
        let mut spare = vec![0u64; keys.len()];
        for pass in 0..4 {
            let shift = 32 + pass * 8;
            let mut counts = [0usize; 256];
            for key in keys.iter() {
                counts[((key >> shift) & 0xFF) as usize] += 1;
            }
            if counts.contains(&keys.len()) {
                continue; // every key has the same digit here
            }
            let mut start = 0;
            for count in counts.iter_mut() {
                let c = *count;
                *count = start;
                start += c;
            }
            for &key in keys.iter() {
                let digit = ((key >> shift) & 0xFF) as usize;
                spare[counts[digit]] = key;
                counts[digit] += 1;
            }
            std::mem::swap(keys, &mut spare);
        }
    }

    /// Builds the index of the live slots; later duplicates of an id are killed. Returns the
    /// slots killed.
    fn build(slots: &mut [PackedFile], seed: u64) -> (Index, Vec<usize>) {
        let mut keys: Vec<u64> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_live())
            .map(|(i, s)| u64::from(s.hash(seed)) << 32 | i as u64)
            .collect();
        Index::sort(&mut keys);
        // Equal ids have equal hashes, so a duplicate sits in the run of its hash, after the
        // first occurrence (the sort is stable).
        let mut killed = Vec::new();
        let mut run = 0;
        while run < keys.len() {
            let mut end = run + 1;
            while end < keys.len() && keys[end] >> 32 == keys[run] >> 32 {
                end += 1;
            }
            for later in run + 1..end {
                let slot = (keys[later] & 0xFFFF_FFFF) as usize;
                let id = slots[slot].id;
                let seen = (run..later).any(|k| {
                    let earlier = &slots[(keys[k] & 0xFFFF_FFFF) as usize];
                    earlier.is_live() && earlier.id == id
                });
                if seen {
                    slots[slot].kill();
                    killed.push(slot);
                }
            }
            run = end;
        }
        // About 16–32 ids per bucket: a 4-byte directory entry per bucket costs < 0.25 byte
        // per id, and a lookup binary-searches 4–5 of them.
        let bits = (usize::BITS - (keys.len() / 16).max(1).leading_zeros() - 1).min(28);
        let shift = 32 - bits;
        let mut buckets = vec![0u32; (1usize << bits) + 1];
        for key in &keys {
            buckets[((key >> 32) >> shift) as usize + 1] += 1;
        }
        for b in 1..buckets.len() {
            buckets[b] += buckets[b - 1];
        }
        let positions = keys.iter().map(|k| *k as u32).collect();
        (Index { positions, buckets, shift }, killed)
    }

    /// The live slot holding `id`.
    fn find(&self, slots: &[PackedFile], id: &[u8], seed: u64) -> Option<usize> {
        if self.positions.is_empty() {
            return None;
        }
        let h = hash(id, seed);
        let bucket = (u64::from(h) >> self.shift) as usize;
        let (lo, hi) = (self.buckets[bucket] as usize, self.buckets[bucket + 1] as usize);
        let range = &self.positions[lo..hi];
        let first = range.partition_point(|&p| slots[p as usize].hash(seed) < h);
        range[first..]
            .iter()
            .map(|&p| p as usize)
            .take_while(|&p| slots[p].hash(seed) == h)
            .find(|&p| slots[p].is_live() && slots[p].holds(id))
    }

    fn bytes(&self) -> usize {
        (self.positions.capacity() + self.buckets.capacity()) * 4
    }
}

/// The files of a repository scan, packed and indexed beside the scan, off the module's
/// lock: indexing a million files takes tens of milliseconds, and holding the lock that long
/// would stall `migration info` and every message to the pool. A job whose queue is still
/// empty adopts them whole ([`JobQueue::extend_scanned`]).
#[derive(Debug, Clone)]
pub struct ScannedFiles {
    slots: Vec<PackedFile>,
    /// Built for `seed` when there are enough files to index; duplicates already dead.
    index: Option<Index>,
    seed: u64,
    live: usize,
    bytes: u64,
}

impl ScannedFiles {
    /// Packs `files` (in queue order) and indexes them for a queue keyed by `seed`.
    pub fn new(files: Vec<(PnfsId, u64)>, seed: u64) -> ScannedFiles {
        let mut slots: Vec<PackedFile> = files.iter().map(|(id, size)| PackedFile::new(id, *size)).collect();
        let mut live = slots.len();
        let mut bytes: u64 = files.iter().map(|f| f.1).sum();
        let index = (slots.len() >= INDEX_MIN && u32::try_from(slots.len()).is_ok()).then(|| {
            let (index, killed) = Index::build(&mut slots, seed);
            live -= killed.len();
            bytes -= killed.iter().map(|&n| slots[n].size()).sum::<u64>();
            index
        });
        ScannedFiles { slots, index, seed, live, bytes }
    }

    /// Number of files (duplicates of the scan counted once).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the scan found nothing.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The files, in queue order.
    pub fn into_files(self) -> impl Iterator<Item = (PnfsId, u64)> {
        self.slots.into_iter().filter(|s| s.is_live()).map(|s| (s.pnfsid(), s.size()))
    }
}

/// Insertion-ordered set of queued files with their sizes.
#[derive(Debug)]
pub struct JobQueue {
    slots: Vec<PackedFile>,
    /// Slots below `head` are dead.
    head: usize,
    /// Live slots.
    live: usize,
    /// Membership of the live slots below `indexed`.
    index: Index,
    indexed: usize,
    /// Membership of the live slots from `indexed` on.
    recent: FxHashMap<PnfsId, u32>,
    seed: u64,
}

impl std::fmt::Debug for PackedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}:{}", if self.is_live() { "" } else { "†" }, self.pnfsid(), self.size())
    }
}

impl Default for JobQueue {
    fn default() -> Self {
        JobQueue {
            slots: Vec::new(),
            head: 0,
            live: 0,
            index: Index::default(),
            indexed: 0,
            recent: FxHashMap::default(),
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
            return Some(slot as usize);
        }
        self.index.find(&self.slots[..self.indexed], id.as_bytes(), self.seed)
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
        self.slots.push(PackedFile::new(&id, size));
        self.recent.insert(id, slot);
        self.live += 1;
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
        let before = self.live;
        let (lower, _) = files.size_hint();
        if lower >= INDEX_MIN {
            self.slots.reserve_exact(lower);
            let mut bytes = 0;
            for (id, size) in files {
                self.slots.push(PackedFile::new(&id, size));
                bytes += size;
            }
            let _ = self.slot_number();
            self.live += self.slots.len() - first;
            // Re-indexing kills later duplicates, also of files queued before.
            let killed = self.rebuild_from(first);
            let killed_bytes: u64 = killed.iter().map(|s| s.1).sum();
            return (self.live - before, bytes - killed_bytes);
        }
        let mut bytes = 0;
        for (id, size) in files {
            if self.push_back(id, size) {
                bytes += size;
            }
        }
        (self.live - before, bytes)
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
            self.indexed = scanned.slots.len();
            self.slots = scanned.slots;
            self.index = index;
            self.live = added;
            self.head = 0;
            self.recent = FxHashMap::default();
            return (added, bytes);
        }
        let files: Vec<(PnfsId, u64)> = scanned.into_files().collect();
        self.extend(files)
    }

    /// Whether `id` is queued.
    pub fn contains(&self, id: &PnfsId) -> bool {
        self.find(id).is_some()
    }

    /// Number of queued files.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Marks slot `n` dead and keeps the bookkeeping; returns the file.
    fn take_slot(&mut self, n: usize) -> (PnfsId, u64) {
        let slot = &mut self.slots[n];
        slot.kill();
        let (id, size) = (slot.pnfsid(), slot.size());
        if n >= self.indexed {
            self.recent.remove(&id);
        }
        self.live -= 1;
        if self.live == 0 {
            self.clear();
        } else {
            while self.head < self.slots.len() && !self.slots[self.head].is_live() {
                self.head += 1;
            }
            let dead = self.slots.len() - self.live;
            if dead > self.live + INDEX_MIN {
                if self.head == dead {
                    self.drop_dead_prefix();
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
        self.slots[self.head..].iter().filter(|s| s.is_live()).map(|s| (s.pnfsid(), s.size()))
    }

    /// Removes and returns the `skip`-th queued file from the head (0 = head); used to take
    /// the first file that is not locked.
    pub fn take_nth(&mut self, skip: usize) -> Option<(PnfsId, u64)> {
        let n = (self.head..self.slots.len()).filter(|&n| self.slots[n].is_live()).nth(skip)?;
        Some(self.take_slot(n))
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        *self = JobQueue { seed: self.seed, ..JobQueue::default() };
    }

    /// Bytes held (capacity of the slots and the index; the hash map's entries estimated).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<PackedFile>()
            + self.index.bytes()
            + self.recent.capacity() * (size_of::<(PnfsId, u32)>() + 1)
    }

    /// Compacts the slots and indexes all of them.
    fn rebuild(&mut self) {
        self.rebuild_from(self.slots.len());
    }

    /// Compaction when every dead slot is below `head`, as a job taking files in order
    /// leaves them: the live slots move down by `head` and the index keeps its order, so it
    /// is renumbered in one pass instead of rebuilt (a sort that held the module's lock for
    /// tens of milliseconds at a million files).
    fn drop_dead_prefix(&mut self) {
        let head = self.head;
        let cut = u32::try_from(head).expect("slot numbers fit in u32");
        self.slots.drain(..head);
        self.slots.shrink_to_fit();
        let index = &mut self.index;
        if !index.positions.is_empty() {
            let mut kept = 0;
            for b in 0..index.buckets.len() - 1 {
                let (lo, hi) = (index.buckets[b] as usize, index.buckets[b + 1] as usize);
                index.buckets[b] = kept as u32;
                // Without a branch: in hash order, dead and live slots alternate at random,
                // and a mispredicted branch per position was most of the compaction's time
                // (`migration-bench --child compaction 1000000`: 7.5–10 ms with the branch,
                // about 3 without, all of it under the module's lock during a job).
                for i in lo..hi {
                    let p = index.positions[i];
                    index.positions[kept] = p.wrapping_sub(cut);
                    kept += usize::from(p >= cut);
                }
            }
            *index.buckets.last_mut().expect("a bucket directory has an end") = kept as u32;
            index.positions.truncate(kept);
            index.positions.shrink_to_fit();
        }
        self.indexed = self.indexed.saturating_sub(head);
        for slot in self.recent.values_mut() {
            *slot -= cut;
        }
        self.head = 0;
    }

    /// Compacts the slots and indexes them (or, when few, maps them); slots from `fresh` on
    /// were appended without a membership check, so later duplicates among them and of older
    /// files are killed. Returns the files killed so.
    fn rebuild_from(&mut self, fresh: usize) -> Vec<(PnfsId, u64)> {
        let mut fresh = fresh;
        if self.live < self.slots.len() {
            let mut kept = Vec::with_capacity(self.live);
            let mut renumbered_fresh = None;
            for (n, slot) in self.slots.iter().enumerate() {
                if n >= fresh && renumbered_fresh.is_none() {
                    renumbered_fresh = Some(kept.len());
                }
                if slot.is_live() {
                    kept.push(*slot);
                }
            }
            fresh = renumbered_fresh.unwrap_or(kept.len());
            self.slots = kept;
        }
        self.head = 0;
        self.recent = FxHashMap::default();
        let mut killed = Vec::new();
        if self.slots.len() >= INDEX_MIN {
            let (index, dead) = Index::build(&mut self.slots, self.seed);
            self.index = index;
            self.indexed = self.slots.len();
            killed.extend(dead.into_iter().map(|n| (self.slots[n].pnfsid(), self.slots[n].size())));
        } else {
            self.index = Index::default();
            self.indexed = 0;
            for n in 0..self.slots.len() {
                let id = self.slots[n].pnfsid();
                let duplicate = n >= fresh && self.recent.contains_key(&id);
                if duplicate {
                    self.slots[n].kill();
                    killed.push((id, self.slots[n].size()));
                } else {
                    self.recent.insert(id, n as u32);
                }
            }
        }
        self.live -= killed.len();
        if self.live == 0 {
            self.clear();
        } else {
            while !self.slots[self.head].is_live() {
                self.head += 1;
            }
        }
        killed
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
        assert!(adopted.recent.is_empty() && adopted.indexed == 10_001, "adopted whole, with its index");
        assert!(adopted.iter().eq(by_extend.iter()));
        assert!(adopted.contains(&big(9_999)) && !adopted.contains(&big(10_000)));
        assert_eq!(adopted.remove(&big(17)), Some(17));
        assert_eq!(adopted.take_nth(0), Some((big(0), 0)));

        let mut busy = JobQueue::new();
        busy.push_back(big(5), 5);
        let scanned = ScannedFiles::new(files, busy.seed());
        assert_eq!(busy.extend_scanned(scanned), (9_999, expected.1 - 5));
        assert_eq!(busy.iter().next(), Some((big(5), 5)), "the file queued first stays first");
        assert_eq!(busy.len(), 10_000);
    }

    /// Taking files in order compacts by renumbering the index, not rebuilding it: every
    /// remaining file, indexed or recent, is still found, in order, and the taken ones not.
    #[test]
    fn taking_in_order_renumbers_the_index() {
        let mut q = JobQueue::new();
        q.extend((0..50_000).map(|n| (big(n), u64::from(n))));
        for n in 50_000..50_100 {
            assert!(q.push_back(big(n), u64::from(n)), "recent files, beside the index");
        }
        let full = q.heap_bytes();
        let mut compactions = 0;
        for n in 0..40_000 {
            let slots = q.slots.len();
            assert_eq!(q.take_nth(0), Some((big(n), u64::from(n))));
            if q.slots.len() < slots {
                compactions += 1;
                // Right after the compaction, including the file now at the head.
                assert!((n + 1..50_100).all(|m| q.contains(&big(m))), "every remaining file is found");
            }
        }
        assert_eq!(compactions, 1);
        assert_eq!(q.head, q.slots.len() - q.live, "only a dead prefix since the last compaction");
        assert!(q.slots.len() <= 25_000, "compacted: {} slots", q.slots.len());
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
        }
        assert_eq!(q.iter().collect::<Vec<_>>(), model);
    }
}
