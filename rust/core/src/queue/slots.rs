//! The queue's files in queue order, packed, in chunks of [`CHUNK`] slots.
//!
//! Chunks, not one vector, so that the dead prefix a job leaves as it takes files in order
//! is freed by dropping whole chunks: compacting one vector moved every remaining file
//! (13 MB at half a million files) under the module's lock.
//!
//! A file that leaves the queue is marked dead in its chunk's bitmap, not in its slot: a
//! size takes 63 bits and the id's length one more, so a flag in the slot would cost it a
//! byte, where the bitmap costs an eighth of one.

use crate::pnfsid::PnfsId;
use crate::replica::MAX_FILE_SIZE;

/// The top bit of a slot's size word: the id is 18 bytes long, not 12.
const LONG_ID: u64 = 1 << 63;

/// Slots per chunk: 104 KiB of files, small next to a large queue, freed in one go.
pub(super) const CHUNK: usize = 4096;

/// One queued file, packed: the id's bytes, zero-padded to 18, and a little-endian word of
/// the size (63 bits) and [`LONG_ID`]; 26 bytes, no padding. The zeros after a 12-byte id
/// are read by [`PackedFile::hash`] and `same_id`.
#[derive(Clone, Copy)]
pub(super) struct PackedFile {
    id: [u8; 18],
    word: [u8; 8],
}

impl PackedFile {
    /// Packs `id` and `size`. A size above [`MAX_FILE_SIZE`] (dCache's sizes are Java
    /// `long`s, and no message carries a larger one) is recorded as that.
    pub(super) fn new(id: &PnfsId, size: u64) -> PackedFile {
        let raw = id.as_bytes();
        let mut packed = [0u8; 18];
        packed[..raw.len()].copy_from_slice(raw);
        let long = if raw.len() == 18 { LONG_ID } else { 0 };
        PackedFile { id: packed, word: (size.min(MAX_FILE_SIZE) | long).to_le_bytes() }
    }

    fn word(&self) -> u64 {
        u64::from_le_bytes(self.word)
    }

    fn len(&self) -> usize {
        if self.word() & LONG_ID == 0 { 12 } else { 18 }
    }

    pub(super) fn pnfsid(&self) -> PnfsId {
        PnfsId::from_bytes(&self.id[..self.len()]).expect("a slot holds a valid id")
    }

    pub(super) fn size(&self) -> u64 {
        self.word() & !LONG_ID
    }

    /// Whether the slot holds `id`.
    pub(super) fn holds(&self, id: &[u8]) -> bool {
        self.len() == id.len() && &self.id[..id.len()] == id
    }

    /// Whether both slots hold the same id.
    pub(super) fn same_id(&self, other: &PackedFile) -> bool {
        (self.word() ^ other.word()) & LONG_ID == 0 && self.id == other.id
    }

    /// [`hash`] of the id, read from the slot in place: the bytes after the id are zero, as
    /// [`hash`] pads them. (Copying the id out first, as [`hash`] must, stalled the loads that
    /// followed the copy: a quarter of building a 10M-file index.)
    pub(super) fn hash(&self, seed: u64) -> u32 {
        let word = |i: usize| u64::from_le_bytes(self.id[i..i + 8].try_into().expect("8 bytes"));
        let tail = u64::from(u16::from_le_bytes([self.id[16], self.id[17]])) | (self.len() as u64) << 56;
        mix([word(0), word(8), tail], seed)
    }
}

impl std::fmt::Debug for PackedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.pnfsid(), self.size())
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

/// Up to [`CHUNK`] slots, and which of them are dead.
#[derive(Debug, Clone)]
pub(super) struct Chunk {
    files: Vec<PackedFile>,
    /// Bit `i % 64` of word `i / 64`: slot `i` of the chunk is dead.
    dead: [u64; CHUNK / 64],
}

impl Chunk {
    fn with_capacity(capacity: usize) -> Chunk {
        Chunk { files: Vec::with_capacity(capacity), dead: [0; CHUNK / 64] }
    }

    fn is_live(&self, i: usize) -> bool {
        self.dead[i / 64] & 1 << (i % 64) == 0
    }

    /// The live slots, with their numbers within the chunk.
    pub(super) fn live(&self) -> impl Iterator<Item = (usize, &PackedFile)> {
        self.files.iter().enumerate().filter(|&(i, _)| self.is_live(i))
    }

    /// Slots held, live or dead (the last chunk may hold fewer than [`CHUNK`]).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.files.capacity()
    }
}

/// Slots numbered from 0, every chunk but the last full.
#[derive(Debug, Default, Clone)]
pub(super) struct Slots {
    chunks: Vec<Chunk>,
    len: usize,
}

impl Slots {
    /// Packs `files`, a chunk at a time (a scan of millions is packed in one pass per chunk).
    pub(super) fn pack(files: &[(PnfsId, u64)]) -> Slots {
        let chunks: Vec<Chunk> = files
            .chunks(CHUNK)
            .map(|chunk| Chunk {
                files: chunk.iter().map(|(id, size)| PackedFile::new(id, *size)).collect(),
                dead: [0; CHUNK / 64],
            })
            .collect();
        Slots { chunks, len: files.len() }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slot `n`, live or dead.
    pub(super) fn get(&self, n: usize) -> &PackedFile {
        &self.chunks[n / CHUNK].files[n % CHUNK]
    }

    pub(super) fn is_live(&self, n: usize) -> bool {
        self.chunks[n / CHUNK].is_live(n % CHUNK)
    }

    /// Marks slot `n` dead: its file left the queue. The slot keeps its file until its chunk
    /// is dropped or the slots are compacted.
    pub(super) fn kill(&mut self, n: usize) {
        let (chunk, i) = (n / CHUNK, n % CHUNK);
        self.chunks[chunk].dead[i / 64] |= 1 << (i % 64);
    }

    /// Appends a live slot.
    pub(super) fn push(&mut self, file: PackedFile) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Chunk::with_capacity(0));
        }
        let last = &mut self.chunks.last_mut().expect("a chunk with room").files;
        if last.len() == last.capacity() {
            // Doubling, as a vector grows, but never past a chunk: full chunks hold no slack.
            last.reserve_exact(last.capacity().max(4).min(CHUNK - last.len()));
        }
        last.push(file);
        self.len += 1;
    }

    /// Appends a live slot, allocating its chunk whole: a scan fills every chunk but its last,
    /// so growing each by doubling, as [`Slots::push`] does, would only copy it.
    // Inlined: it is the whole of a scan's work per file but the filter's, and with two
    // callers the compiler called it (8 % of a 10M start).
    #[inline(always)]
    pub(super) fn push_into_whole_chunk(&mut self, file: PackedFile) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Chunk::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").files.push(file);
        self.len += 1;
    }

    /// The chunks, in order: chunk `c` holds slots `c * CHUNK` on.
    pub(super) fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The slots from `n` on, in order, each with whether it is live.
    pub(super) fn iter_from(&self, n: usize) -> impl Iterator<Item = (&PackedFile, bool)> {
        let (first, offset) = (n / CHUNK, n % CHUNK);
        self.chunks.get(first..).unwrap_or_default().iter().enumerate().flat_map(move |(c, chunk)| {
            let from = if c == 0 { offset } else { 0 };
            chunk.files[from..].iter().enumerate().map(move |(i, file)| (file, chunk.is_live(from + i)))
        })
    }

    /// The live slots from `n` on, in order.
    pub(super) fn live_from(&self, n: usize) -> impl Iterator<Item = &PackedFile> {
        self.iter_from(n).filter_map(|(file, live)| live.then_some(file))
    }

    /// Takes out the first `count` chunks, which are full; slot `count * CHUNK` becomes slot 0.
    pub(super) fn split_off_chunks(&mut self, count: usize) -> Slots {
        self.len -= count * CHUNK;
        Slots { chunks: self.chunks.drain(..count).collect(), len: count * CHUNK }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.files.capacity() * size_of::<PackedFile>()).sum::<usize>()
            + self.chunks.capacity() * size_of::<Chunk>()
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
        /// A slot hashes its id in place to what the id's bytes hash to, whatever their length:
        /// a difference would hide the file from the index.
        #[test]
        fn a_slot_hashes_as_its_id_does(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 18),
            long in proptest::prelude::any::<bool>(),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let id = PnfsId::from_bytes(&bytes[..if long { 18 } else { 12 }]).expect("12 or 18 bytes");
            let slot = PackedFile::new(&id, 7);
            proptest::prop_assert_eq!(slot.hash(seed), hash(id.as_bytes(), seed));
        }
    }

    #[test]
    fn slots_across_chunks_keep_their_order_and_numbers() {
        let files: Vec<(PnfsId, u64)> = (0..3 * CHUNK as u32 + 5).map(|n| (id(n), u64::from(n))).collect();
        let mut slots = Slots::pack(&files);
        let mut pushed = Slots::default();
        files.iter().for_each(|(id, size)| pushed.push(PackedFile::new(id, *size)));
        assert!(slots.live_from(0).map(|f| f.pnfsid()).eq(pushed.live_from(0).map(|f| f.pnfsid())));
        assert!(pushed.chunks[..3].iter().all(|c| c.capacity() == CHUNK), "pushes leave no slack in full chunks");
        assert_eq!(slots.len(), 3 * CHUNK + 5);
        assert_eq!(slots.get(CHUNK).size(), CHUNK as u64);
        assert!(slots.live_from(CHUNK - 1).map(|f| f.size()).eq(CHUNK as u64 - 1..3 * CHUNK as u64 + 5));
        assert_eq!(slots.iter_from(3 * CHUNK + 5).count(), 0);
        assert!(slots.chunks[..3].iter().all(|c| c.capacity() == CHUNK), "no slack in full chunks");
        // A slot killed before the split stays dead under its new number, and alone.
        slots.kill(2 * CHUNK + 63);
        slots.kill(2 * CHUNK + 64);
        let front = slots.split_off_chunks(2);
        assert_eq!((front.len(), front.get(2 * CHUNK - 1).size()), (2 * CHUNK, 2 * CHUNK as u64 - 1));
        assert!((0..2 * CHUNK).all(|n| front.is_live(n)));
        assert_eq!(slots.len(), CHUNK + 5);
        assert_eq!(slots.get(0).size(), 2 * CHUNK as u64, "renumbered from the first chunk kept");
        let dead: Vec<usize> = (0..slots.len()).filter(|&n| !slots.is_live(n)).collect();
        assert_eq!(dead, [63, 64]);
        assert_eq!(slots.live_from(0).count(), CHUNK + 3);
        assert!(slots.iter_from(62).take(4).map(|(_, live)| live).eq([true, false, false, true]));
        slots.kill(CHUNK + 4);
        assert!(!slots.is_live(CHUNK + 4) && slots.is_live(CHUNK + 3));
        assert!(slots.get(CHUNK + 4).holds(file(3 * CHUNK as u32 + 4).pnfsid().as_bytes()));
        assert!(slots.get(CHUNK + 4).same_id(&file(3 * CHUNK as u32 + 4)), "dead or alive");
        assert!(!slots.get(0).same_id(&file(1)));
    }

    /// A slot gives back its id, of either length, and its size, up to the largest a file
    /// can have; an id of 12 bytes is not one of 18 ending in zeros.
    #[test]
    fn a_slot_keeps_its_id_and_size_whole() {
        let short = PnfsId::parse(&format!("{:024X}", 0xABCDu32)).expect("valid");
        let long = PnfsId::parse(&format!("{:024X}000000000000", 0xABCDu32)).expect("valid");
        assert_eq!(size_of::<PackedFile>(), 26);
        for id in [short, long] {
            for size in [0, 1, 1 << 62, MAX_FILE_SIZE] {
                let slot = PackedFile::new(&id, size);
                assert_eq!((slot.pnfsid(), slot.size()), (id, size));
            }
            assert_eq!(PackedFile::new(&id, u64::MAX).size(), MAX_FILE_SIZE, "capped, the id kept");
            assert_eq!(PackedFile::new(&id, u64::MAX).pnfsid(), id);
        }
        let (a, b) = (PackedFile::new(&short, 1), PackedFile::new(&long, 1));
        assert!(!a.same_id(&b) && !b.same_id(&a));
        assert!(a.holds(short.as_bytes()) && !a.holds(long.as_bytes()) && !b.holds(short.as_bytes()));
        assert!(a.same_id(&PackedFile::new(&short, 9)), "whatever the sizes");
    }
}
