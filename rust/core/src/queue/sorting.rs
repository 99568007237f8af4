//! A sorted repository scan's files (`-order=size|lru`): gathered packed, as the queue keeps
//! them, each beside its sort key; then sorted, and moved into the queue's chunks.
//!
//! Many files are sorted in parts: parted by the highest (up to eight) bits in which their keys
//! differ, each part then sorted by radix within the cache, and the parts taken in order. The
//! files stay in chunks throughout, each freed as soon as its files have moved on, so that the
//! parts are made in the memory the scan touched and the queue's chunks in the parts' memory.
//! At 10M files the page faults of new memory were a third of a sorted start.

use super::ScanCollector;
use super::slots::PackedFile;
use crate::pnfsid::PnfsId;

/// A file and its sort key, little-endian: 34 bytes with no padding, where the
/// `(PnfsId, size, last access)` the scan gathered before took 40.
#[derive(Clone, Copy)]
struct Keyed {
    file: PackedFile,
    key: [u8; 8],
}

impl Keyed {
    fn key(&self) -> u64 {
        u64::from_le_bytes(self.key)
    }
}

/// Files per chunk: 102 KB, under the size from which glibc maps a block of its own (128 KiB
/// at first), so that a chunk freed goes back to the heap, where the next one allocated
/// takes it.
const CHUNK: usize = 3000;

/// The files of a part, about, where they are many: 136 KiB of them, which with the sort's
/// working copy fits a core's cache, and enough that the radix sort's fixed costs are small.
const PART: usize = 4096;

/// At most 2⁸ parts: a part is chosen by eight bits of the key.
const MOST_PART_BITS: u32 = 8;

/// Keyed files in chunks of [`CHUNK`], with what parting them needs to know of their keys.
#[derive(Default)]
struct Part {
    chunks: Vec<Vec<Keyed>>,
    len: usize,
    /// The first file's key, and the bits in which any key differs from it.
    first_key: u64,
    differing: u64,
}

impl Part {
    fn push(&mut self, keyed: Keyed) {
        if self.len == 0 {
            self.first_key = keyed.key();
        }
        self.differing |= keyed.key() ^ self.first_key;
        self.len += 1;
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(keyed),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(keyed);
                self.chunks.push(chunk);
            }
        }
    }
}

/// Sorts parts: how many files make a part, and where the small parts are sorted.
struct Sorter {
    /// [`PART`], but for tests, which take the paths of many files with few: a part of fewer
    /// than twice as many is sorted whole.
    files_per_part: usize,
    scratch: Vec<Keyed>,
}

impl Sorter {
    /// Hands `part`'s files to `take` in the order of their keys, equal keys in the order
    /// they came, a slice at a time.
    fn sort(&mut self, part: Part, take: &mut impl FnMut(&[Keyed])) {
        if part.differing == 0 {
            // One key: already in order. Each chunk is freed once it is taken.
            part.chunks.into_iter().for_each(|chunk| take(&chunk));
            return;
        }
        let bits = (part.len / self.files_per_part).checked_ilog2().unwrap_or(0).min(MOST_PART_BITS);
        if bits == 0 {
            self.scratch.clear();
            self.scratch.reserve(part.len);
            // Each chunk is freed as soon as it is copied.
            part.chunks.into_iter().for_each(|chunk| self.scratch.extend_from_slice(&chunk));
            crate::radix::sort_by_key(&mut self.scratch, Keyed::key);
            take(&self.scratch);
            return;
        }
        // Parted by the highest `bits` bits in which the keys differ, wherever they are (sizes
        // up to 1 MB differ in 20): an even spread of keys makes parts of about `files_per_part`,
        // up to 2⁸ parts. A part that still holds many (from 2²¹ files, or keys bunched) is
        // parted again by the bits below, in which alone its keys differ: no part is sorted
        // whole unless it is small. (At 10M files: 256 parts of 39 000, each parted in 8.)
        let shift = (u64::BITS - part.differing.leading_zeros()).saturating_sub(bits);
        let mask = (1 << bits) - 1;
        let mut parts: Vec<Part> = (0..=mask).map(|_| Part::default()).collect();
        for chunk in part.chunks {
            for keyed in chunk {
                parts[(keyed.key() >> shift) as usize & mask].push(keyed);
            }
        }
        parts.into_iter().for_each(|part| self.sort(part, take));
    }
}

/// The files of a sorted scan, in the order the repository gave them until [`sorted`].
///
/// [`sorted`]: SortingCollector::sorted
#[derive(Default)]
pub struct SortingCollector {
    files: Part,
}

impl SortingCollector {
    /// Appends a file with the key it sorts by.
    pub fn push(&mut self, id: &PnfsId, size: u64, key: u64) {
        self.files.push(Keyed { file: PackedFile::new(id, size), key: key.to_le_bytes() });
    }

    /// The files in the order of their keys, equal keys in the order they came (stable), and
    /// linear in their number (`radix`).
    pub fn sorted(self) -> ScanCollector {
        self.sorted_in_parts_of(PART)
    }

    fn sorted_in_parts_of(self, files_per_part: usize) -> ScanCollector {
        let mut collected = ScanCollector::default();
        let mut sorter = Sorter { files_per_part, scratch: Vec::new() };
        sorter.sort(self.files, &mut |sorted: &[Keyed]| {
            sorted.iter().for_each(|keyed| collected.push_packed(keyed.file));
        });
        collected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Rng;

    fn id(n: u64) -> PnfsId {
        PnfsId::parse(&format!("{n:024x}")).expect("valid")
    }

    /// Sorts `n` files whose keys `key` makes from a random number, and checks them against
    /// the standard library's stable sort.
    fn sorts_as_the_stable_sort_does(n: u64, key: impl Fn(u64) -> u64) {
        sorts_in_parts_as_the_stable_sort_does(n, PART, key);
    }

    /// The same, with parts of about `files_per_part` files (sorted whole below twice as many).
    fn sorts_in_parts_as_the_stable_sort_does(n: u64, files_per_part: usize, key: impl Fn(u64) -> u64) {
        let mut rng = Rng::seeded(n);
        let keys: Vec<u64> = (0..n).map(|_| key(rng.next_u64())).collect();
        let mut sorting = SortingCollector::default();
        // The size is the file's number, so that the order shows in the sizes.
        keys.iter().enumerate().for_each(|(i, k)| sorting.push(&id(i as u64), i as u64, *k));
        let scanned = sorting.sorted_in_parts_of(files_per_part).finish(1);
        let mut expected: Vec<u64> = (0..n).collect();
        expected.sort_by_key(|&i| keys[i as usize]);
        assert_eq!(scanned.len(), n as usize);
        assert_eq!(scanned.bytes, n * n.saturating_sub(1) / 2, "every size counted once");
        let files: Vec<(PnfsId, u64)> = scanned.files().collect();
        assert!(files.iter().map(|f| f.1).eq(expected.iter().copied()), "sorted by key, stably");
        assert!(files.iter().all(|(file, i)| *file == id(*i)), "each id with its size");
    }

    #[test]
    fn few_files_come_out_by_key_with_equal_keys_in_scan_order() {
        sorts_as_the_stable_sort_does(1000, |r| (r % 7) << 40);
    }

    #[test]
    fn no_files_come_out_as_none() {
        sorts_as_the_stable_sort_does(0, |r| r);
    }

    #[test]
    fn many_files_are_sorted_in_parts_as_they_would_be_whole() {
        // Parted in 2³ parts (as many files as 2⁸ would take are slow to check unoptimised).
        let n = (PART << 3) as u64 + 1000;
        // Sizes of 1 kB to 1 MB: 20 bits, parted by bits 17 to 19.
        sorts_as_the_stable_sort_does(n, |r| 1000 + r % 1_000_000);
        // A few values: parts of equal keys, most parts empty.
        sorts_as_the_stable_sort_does(n, |r| (r % 3) << 40);
        // Times with the sign bit flipped, as `-order=lru` makes them, over the top bits.
        sorts_as_the_stable_sort_does(n, |r| r >> 1 ^ 1 << 63);
        // Keys over all 64 bits, the top one included.
        sorts_as_the_stable_sort_does(n, |r| r);
        // One key for all: nothing differs.
        sorts_as_the_stable_sort_does(n, |_| 42);
        // Bunched: nearly all keys in one part, parted again below, and a few far above.
        sorts_as_the_stable_sort_does(n, |r| if r % 100 == 0 { 1 << 50 | r >> 40 } else { r % 5000 });
    }

    #[test]
    fn so_many_files_that_eight_bits_make_large_parts_are_parted_again() {
        // 2⁹ parts' worth and more: parted by eight bits at most, each part again by the
        // bits below (with 4 096 files a part, that takes 2²¹ files and more).
        let files_per_part = 4;
        let n = (files_per_part << (MOST_PART_BITS + 3)) as u64 + 100;
        sorts_in_parts_as_the_stable_sort_does(n, files_per_part, |r| 1000 + r % 1_000_000);
        sorts_in_parts_as_the_stable_sort_does(n, files_per_part, |r| r);
        sorts_in_parts_as_the_stable_sort_does(n, files_per_part, |r| (r % 3) << 40);
        // Runs of equal keys among many distinct ones, each run's files in scan order.
        sorts_in_parts_as_the_stable_sort_does(n, files_per_part, |r| r % 700);
    }
}
