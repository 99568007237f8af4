//! The membership index over a queue's slots, and its purge of a dead prefix a few buckets
//! at a time.
//!
//! Slot numbers sorted by a seeded hash of the id, with a small directory of bucket starts:
//! 4 bytes per file plus < 0.25 for the directory; a lookup is a binary search within one
//! bucket of ~16–32 slots. It is built in one go (a radix sort, no per-file allocation), in
//! parts that fit the cache when the ids are many.

use super::slots::{CHUNK, Slots, hash};

/// Slot numbers sorted by hash, with the first position of each bucket of hashes.
#[derive(Debug, Default, Clone)]
pub(super) struct Index {
    /// Slot numbers, ordered by (hash, slot).
    positions: Vec<u32>,
    /// `buckets[b]..buckets[b + 1]`: the positions whose hash starts with the bits of `b`.
    buckets: Vec<u32>,
    /// `32 - bits` of the bucket number.
    shift: u32,
}

/// Positions a purge step rewrites at least (whole buckets): about 4 µs of work, so that
/// no take holds the module's lock long while a million-file index is purged.
const PURGE_STEP: usize = 4096;

impl Index {
    /// Builds the index of the live slots; later duplicates of an id are killed. Returns the
    /// slots killed.
    pub(super) fn build(slots: &mut Slots, seed: u64) -> (Index, Vec<usize>) {
        Index::build_with(slots, seed, LONG_PART)
    }

    /// [`Index::build`], parts of more than `long_part` keys sorted by all three bytes.
    fn build_with(slots: &mut Slots, seed: u64, long_part: usize) -> (Index, Vec<usize>) {
        let mut keys: Vec<u64> = Vec::with_capacity(slots.len());
        for (c, chunk) in slots.chunks().iter().enumerate() {
            let first = c * CHUNK;
            keys.extend(chunk.live().map(|(i, s)| u64::from(s.hash(seed)) << 32 | (first + i) as u64));
        }
        // About 16–32 ids per bucket: a 4-byte directory entry per bucket costs < 0.25 byte
        // per id, and a lookup binary-searches 4–5 of them.
        let bits = (usize::BITS - (keys.len() / 16).max(1).leading_zeros() - 1).min(28);
        let mut built = Built {
            index: Index {
                positions: Vec::with_capacity(keys.len()),
                buckets: vec![0; (1 << bits) + 1],
                shift: 32 - bits,
            },
            killed: Vec::new(),
        };
        if keys.len() < PART_FROM {
            crate::radix::sort_by_key(&mut keys, |key| key >> 40);
            built.add(&mut keys, slots);
        } else {
            // Parted by the hash's top byte, each part sorted and indexed while it is in the
            // cache: at 10M ids, passes over all the keys were half of building the index.
            let (mut parts, starts) = part_by_top_byte(keys);
            let largest = starts.windows(2).map(|part| part[1] - part[0]).max().unwrap_or(0);
            let mut scratch = vec![0; largest];
            for part in starts.windows(2) {
                let part = &mut parts[part[0]..part[1]];
                let scratch = &mut scratch[..part.len()];
                // By the hash's next two bytes, [`Built::add`] ordering the few keys whose
                // top three bytes are equal; a part so large that such runs are long is
                // sorted by all three.
                let dropped_bits = if part.len() > long_part { 0 } else { 8 };
                crate::radix::sort_slice_by_key(part, scratch, |key| (key >> 32 & 0xFF_FFFF) >> dropped_bits);
                built.add(part, slots);
            }
        }
        let buckets = &mut built.index.buckets;
        for b in 1..buckets.len() {
            buckets[b] += buckets[b - 1];
        }
        (built.index, built.killed)
    }

    /// The live slot holding `id`.
    pub(super) fn find(&self, slots: &Slots, id: &[u8], seed: u64) -> Option<usize> {
        if self.positions.is_empty() {
            return None;
        }
        let h = hash(id, seed);
        let bucket = (u64::from(h) >> self.shift) as usize;
        let (lo, hi) = (self.buckets[bucket] as usize, self.buckets[bucket + 1] as usize);
        let range = &self.positions[lo..hi];
        let hash_at = |p: u32| slots.get(p as usize).hash(seed);
        let first = range.partition_point(|&p| hash_at(p) < h);
        range[first..]
            .iter()
            .take_while(|&&p| hash_at(p) == h)
            .map(|&p| p as usize)
            .find(|&p| slots.is_live(p) && slots.get(p).holds(id))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    pub(super) fn bytes(&self) -> usize {
        (self.positions.capacity() + self.buckets.capacity()) * 4
    }

    /// Starts rewriting this index without the slots below `cut`, numbered from `cut`.
    pub(super) fn start_purge(&self, cut: usize) -> Purge {
        Purge {
            cut: u32::try_from(cut).expect("slot numbers fit in u32"),
            bucket: 0,
            // Zeroed pages come from the kernel untouched; those past the kept positions
            // are given back when the purge ends.
            positions: vec![0; self.positions.len()],
            kept: 0,
            buckets: vec![0; self.buckets.len()],
        }
    }

    /// Rewrites the next buckets of `purge`; returns the purged index once the last is done.
    pub(super) fn purge_step(&self, purge: &mut Purge) -> Option<Index> {
        let last = self.buckets.len() - 1;
        let mut rewritten = 0;
        while purge.bucket < last && rewritten < PURGE_STEP {
            let (lo, hi) = (self.buckets[purge.bucket] as usize, self.buckets[purge.bucket + 1] as usize);
            purge.buckets[purge.bucket] = purge.kept as u32;
            // Without a branch: in hash order, dead and live slots alternate at random, and
            // a mispredicted branch per position was most of a compaction's time.
            for &p in &self.positions[lo..hi] {
                purge.positions[purge.kept] = p.wrapping_sub(purge.cut);
                purge.kept += usize::from(p >= purge.cut);
            }
            rewritten += hi - lo;
            purge.bucket += 1;
        }
        if purge.bucket < last {
            return None;
        }
        purge.buckets[last] = purge.kept as u32;
        let mut positions = std::mem::take(&mut purge.positions);
        positions.truncate(purge.kept);
        positions.shrink_to_fit();
        Some(Index { positions, buckets: std::mem::take(&mut purge.buckets), shift: self.shift })
    }
}

/// From this many keys (2 MiB of them, the cache of a core) on, the keys are parted by their
/// hashes' top byte, and each part sorted and indexed on its own.
const PART_FROM: usize = 1 << 18;

/// A part of the top byte with more keys than this (more than 2³² ids in all, which the
/// queue's 32-bit slot numbers leave only to a skewed hash) would leave the insertion pass
/// long runs, and is sorted by the hash's next three bytes, not two.
const LONG_PART: usize = 1 << 24;

/// An index being built from keys sorted by hash a part at a time, parts in hash order.
struct Built {
    index: Index,
    killed: Vec<usize>,
}

impl Built {
    /// Adds `keys`, the next keys in hash order: sorted by radix on their hashes' top three
    /// bytes (the rest are ordered here), equal top bytes in slot order.
    fn add(&mut self, keys: &mut [u64], slots: &mut Slots) {
        order_runs(keys);
        kill_duplicates(keys, slots, &mut self.killed);
        let index = &mut self.index;
        for key in keys.iter() {
            index.buckets[((key >> 32) >> index.shift) as usize + 1] += 1;
        }
        index.positions.extend(keys.iter().map(|&key| key as u32));
    }
}

/// The keys parted by their hashes' top byte, each part in the keys' order, and where each
/// part starts (and the last ends). The keys' memory is given back before the parts are
/// sorted.
fn part_by_top_byte(keys: Vec<u64>) -> (Vec<u64>, [usize; 257]) {
    let mut starts = [0usize; 257];
    for key in &keys {
        starts[(key >> 56) as usize + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    // Zeroed pages come from the kernel untouched, not written twice.
    let mut parts = vec![0u64; keys.len()];
    let mut next = starts;
    for key in keys {
        let part = (key >> 56) as usize;
        parts[next[part]] = key;
        next[part] += 1;
    }
    (parts, starts)
}

/// Kills the later slots of each id among `keys`, sorted by hash with equal hashes in slot
/// order: equal ids have equal hashes, so a duplicate sits in the run of its hash, after the
/// first occurrence.
fn kill_duplicates(keys: &[u64], slots: &mut Slots, killed: &mut Vec<usize>) {
    let mut run = 0;
    while run < keys.len() {
        let mut end = run + 1;
        while end < keys.len() && keys[end] >> 32 == keys[run] >> 32 {
            end += 1;
        }
        for later in run + 1..end {
            let slot = (keys[later] & 0xFFFF_FFFF) as usize;
            let file = *slots.get(slot);
            let seen = (run..later).any(|k| {
                let earlier = (keys[k] & 0xFFFF_FFFF) as usize;
                slots.is_live(earlier) && slots.get(earlier).same_id(&file)
            });
            if seen {
                slots.kill(slot);
                killed.push(slot);
            }
        }
        run = end;
    }
}

/// Orders keys sorted by their hashes' top bytes by the whole hash: an insertion sort, which
/// moves a key only past the keys of its run of equal top bytes that have a greater hash.
fn order_runs(keys: &mut [u64]) {
    for i in 1..keys.len() {
        let key = keys[i];
        let mut j = i;
        // Strictly greater only, so that equal hashes keep slot order.
        while j > 0 && keys[j - 1] >> 32 > key >> 32 {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = key;
    }
}

/// An index being rewritten without a dead prefix of slots, renumbered, while the old one
/// still answers every lookup (the slots stay until the purge ends).
#[derive(Debug)]
pub(super) struct Purge {
    /// The first slot kept: a chunk boundary.
    pub(super) cut: u32,
    /// The next bucket of the old index to rewrite.
    bucket: usize,
    positions: Vec<u32>,
    kept: usize,
    buckets: Vec<u32>,
}

impl Purge {
    pub(super) fn bytes(&self) -> usize {
        (self.positions.capacity() + self.buckets.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pnfsid::PnfsId;
    use crate::random::Rng;

    #[test]
    fn an_index_holds_each_id_at_its_first_slot_in_hash_order_and_kills_the_later_ones() {
        // 5 000 keys sorted whole, 300 000 parted, and 300 000 parted with every part
        // taken as long (sorted by three bytes, as a part of more than 2²⁴ ids is: a test of
        // that path's running, since the insertion pass orders whatever the radix sort
        // leaves); about every seventh file repeats an earlier id.
        for (n, long_part) in [(5000usize, LONG_PART), (300_000, LONG_PART), (300_000, 0)] {
            let mut rng = Rng::seeded(n as u64);
            let ids: Vec<PnfsId> = (0..n)
                .map(|i| {
                    let source = if i % 7 == 6 { (rng.next_u64() % i as u64) as usize } else { i };
                    PnfsId::parse(&format!("{:024x}", source.wrapping_mul(0x9E37_79B9) ^ 0x5A5A)).expect("valid")
                })
                .collect();
            let files: Vec<(PnfsId, u64)> = ids.iter().map(|id| (*id, 1)).collect();
            let mut slots = Slots::pack(&files);
            let seed = 42;
            let (index, killed) = Index::build_with(&mut slots, seed, long_part);
            let key = |p: u32| (slots.get(p as usize).hash(seed), p);
            assert!(index.positions.windows(2).all(|w| key(w[0]) < key(w[1])), "in hash order, equal hashes by slot");
            let mut first = std::collections::HashMap::new();
            let mut later = Vec::new();
            for (slot, id) in ids.iter().enumerate() {
                if first.contains_key(id) {
                    later.push(slot);
                } else {
                    first.insert(*id, slot);
                }
            }
            let mut killed = killed;
            killed.sort_unstable();
            assert_eq!(killed, later, "{n} files: the later slots of each id");
            for (id, slot) in &first {
                assert_eq!(index.find(&slots, id.as_bytes(), seed), Some(*slot));
            }
        }
    }
}
