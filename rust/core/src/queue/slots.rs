//! The queue's files in queue order, packed, in chunks of [`CHUNK`] slots.
//!
//! Chunks, not one vector, so that the dead prefix a job leaves as it takes files in order
//! is freed by dropping whole chunks: compacting one vector moved every remaining file
//! (13 MB at half a million files) under the module's lock.

use crate::pnfsid::PnfsId;

/// Flag in a slot's length byte: the file left the queue.
const DEAD: u8 = 0x80;

/// Slots per chunk: 108 KiB of files, small next to a large queue, freed in one go.
pub(super) const CHUNK: usize = 4096;

/// One queued file, packed: `[len | flags, 18 id bytes]` and the size, little-endian. The id
/// bytes after its length are zero: [`PackedFile::hash`] and `same_id` read them.
#[derive(Clone, Copy)]
pub(super) struct PackedFile {
    id: [u8; 19],
    size: [u8; 8],
}

impl PackedFile {
    pub(super) fn new(id: &PnfsId, size: u64) -> PackedFile {
        let raw = id.as_bytes();
        let mut packed = [0u8; 19];
        packed[0] = raw.len() as u8;
        packed[1..=raw.len()].copy_from_slice(raw);
        PackedFile { id: packed, size: size.to_le_bytes() }
    }

    pub(super) fn is_live(&self) -> bool {
        self.id[0] & DEAD == 0
    }

    pub(super) fn kill(&mut self) {
        self.id[0] |= DEAD;
    }

    fn len(&self) -> usize {
        usize::from(self.id[0] & !DEAD)
    }

    pub(super) fn pnfsid(&self) -> PnfsId {
        PnfsId::from_bytes(&self.id[1..=self.len()]).expect("a slot holds a valid id")
    }

    pub(super) fn size(&self) -> u64 {
        u64::from_le_bytes(self.size)
    }

    /// Whether the slot holds `id` (dead or alive).
    pub(super) fn holds(&self, id: &[u8]) -> bool {
        self.len() == id.len() && &self.id[1..=id.len()] == id
    }

    /// Whether both slots hold the same id (dead or alive).
    pub(super) fn same_id(&self, other: &PackedFile) -> bool {
        (self.id[0] | DEAD) == (other.id[0] | DEAD) && self.id[1..] == other.id[1..]
    }

    /// [`hash`] of the id, read from the slot in place: the bytes after the id are zero, as
    /// [`hash`] pads them. (Copying the id out first, as [`hash`] must, stalled the loads that
    /// followed the copy: a quarter of building a 10M-file index.)
    pub(super) fn hash(&self, seed: u64) -> u32 {
        let word = |i: usize| u64::from_le_bytes(self.id[i..i + 8].try_into().expect("8 bytes"));
        let tail = u64::from(u16::from_le_bytes([self.id[17], self.id[18]])) | (self.len() as u64) << 56;
        mix([word(1), word(9), tail], seed)
    }
}

impl std::fmt::Debug for PackedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}:{}", if self.is_live() { "" } else { "†" }, self.pnfsid(), self.size())
    }
}

/// A seeded 32-bit hash of an id's bytes (12 or 18 of them).
pub(super) fn hash(id: &[u8], seed: u64) -> u32 {
    let mut padded = [0u8; 24];
    padded[..id.len()].copy_from_slice(id);
    padded[23] = id.len() as u8;
    let word = |i: usize| u64::from_le_bytes(padded[i..i + 8].try_into().expect("8 bytes"));
    mix([word(0), word(8), word(16)], seed)
}

/// The hash of an id given as three little-endian words: its bytes zero-padded to 23, and its
/// length in the last byte.
fn mix(words: [u64; 3], seed: u64) -> u32 {
    let fold = |a: u64, b: u64| {
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ ((product >> 64) as u64)
    };
    let h = fold(words[0] ^ seed, words[1] ^ 0x9E37_79B9_7F4A_7C15);
    let h = fold(h ^ words[2], 0xD6E8_FEB8_6659_FD93 ^ seed);
    (h >> 32) as u32 ^ h as u32
}

/// Slots numbered from 0, every chunk but the last full.
#[derive(Debug, Default, Clone)]
pub(super) struct Slots {
    chunks: Vec<Vec<PackedFile>>,
    len: usize,
}

impl Slots {
    /// Packs `files`, a chunk at a time (a scan of millions is packed in one pass per chunk).
    pub(super) fn pack(files: &[(PnfsId, u64)]) -> Slots {
        let chunks: Vec<Vec<PackedFile>> = files
            .chunks(CHUNK)
            .map(|chunk| chunk.iter().map(|(id, size)| PackedFile::new(id, *size)).collect())
            .collect();
        Slots { chunks, len: files.len() }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn get(&self, n: usize) -> &PackedFile {
        &self.chunks[n / CHUNK][n % CHUNK]
    }

    pub(super) fn get_mut(&mut self, n: usize) -> &mut PackedFile {
        &mut self.chunks[n / CHUNK][n % CHUNK]
    }

    pub(super) fn push(&mut self, file: PackedFile) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::new());
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        if last.len() == last.capacity() {
            // Doubling, as a vector grows, but never past a chunk: full chunks hold no slack.
            last.reserve_exact(last.capacity().max(4).min(CHUNK - last.len()));
        }
        last.push(file);
        self.len += 1;
    }

    /// Appends a slot, allocating its chunk whole: a scan fills every chunk but its last, so
    /// growing each by doubling, as [`Slots::push`] does, would only copy it.
    // Inlined: it is the whole of a scan's work per file but the filter's, and with two
    // callers the compiler called it (8 % of a 10M start).
    #[inline(always)]
    pub(super) fn push_into_whole_chunk(&mut self, file: PackedFile) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(file);
        self.len += 1;
    }

    /// The chunks, in order: chunk `c` holds slots `c * CHUNK` on.
    pub(super) fn chunks(&self) -> &[Vec<PackedFile>] {
        &self.chunks
    }

    /// The slots from `n` on, in order.
    pub(super) fn iter_from(&self, n: usize) -> impl Iterator<Item = &PackedFile> {
        let (first, offset) = (n / CHUNK, n % CHUNK);
        self.chunks
            .get(first..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .flat_map(move |(i, chunk)| &chunk[if i == 0 { offset } else { 0 }..])
    }

    /// Takes out the first `count` chunks, which are full; slot `count * CHUNK` becomes slot 0.
    pub(super) fn split_off_chunks(&mut self, count: usize) -> Slots {
        self.len -= count * CHUNK;
        Slots { chunks: self.chunks.drain(..count).collect(), len: count * CHUNK }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity() * size_of::<PackedFile>()).sum::<usize>()
            + self.chunks.capacity() * size_of::<Vec<PackedFile>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> PnfsId {
        PnfsId::parse(&format!("{n:024x}")).expect("valid")
    }

    fn file(n: u32) -> PackedFile {
        PackedFile::new(&id(n), u64::from(n))
    }

    proptest::proptest! {
        /// A slot hashes its id in place to what the id's bytes hash to, whatever their length
        /// and whether the slot is dead: a difference would hide the file from the index.
        #[test]
        fn a_slot_hashes_as_its_id_does(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 18),
            long in proptest::prelude::any::<bool>(),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let id = PnfsId::from_bytes(&bytes[..if long { 18 } else { 12 }]).expect("12 or 18 bytes");
            let mut slot = PackedFile::new(&id, 7);
            proptest::prop_assert_eq!(slot.hash(seed), hash(id.as_bytes(), seed));
            slot.kill();
            proptest::prop_assert_eq!(slot.hash(seed), hash(id.as_bytes(), seed));
        }
    }

    #[test]
    fn slots_across_chunks_keep_their_order_and_numbers() {
        let files: Vec<(PnfsId, u64)> = (0..3 * CHUNK as u32 + 5).map(|n| (id(n), u64::from(n))).collect();
        let mut slots = Slots::pack(&files);
        let mut pushed = Slots::default();
        files.iter().for_each(|(id, size)| pushed.push(PackedFile::new(id, *size)));
        assert!(slots.iter_from(0).map(|f| f.pnfsid()).eq(pushed.iter_from(0).map(|f| f.pnfsid())));
        assert!(pushed.chunks[..3].iter().all(|c| c.capacity() == CHUNK), "pushes leave no slack in full chunks");
        assert_eq!(slots.len(), 3 * CHUNK + 5);
        assert_eq!(slots.get(CHUNK).size(), CHUNK as u64);
        assert!(slots.iter_from(CHUNK - 1).map(|f| f.size()).eq(CHUNK as u64 - 1..3 * CHUNK as u64 + 5));
        assert_eq!(slots.iter_from(3 * CHUNK + 5).count(), 0);
        assert!(slots.chunks[..3].iter().all(|c| c.capacity() == CHUNK), "no slack in full chunks");
        let front = slots.split_off_chunks(2);
        assert_eq!((front.len(), front.get(2 * CHUNK - 1).size()), (2 * CHUNK, 2 * CHUNK as u64 - 1));
        assert_eq!(slots.len(), CHUNK + 5);
        assert_eq!(slots.get(0).size(), 2 * CHUNK as u64, "renumbered from the first chunk kept");
        slots.get_mut(CHUNK + 4).kill();
        assert!(!slots.get(CHUNK + 4).is_live());
        assert!(slots.get(CHUNK + 4).holds(file(3 * CHUNK as u32 + 4).pnfsid().as_bytes()));
        assert!(slots.get(CHUNK + 4).same_id(&file(3 * CHUNK as u32 + 4)), "dead or alive");
        assert!(!slots.get(0).same_id(&file(1)));
    }
}
