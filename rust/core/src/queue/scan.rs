//! A repository scan's files on their way into a job's queue: packed as they come
//! ([`ScanCollector`]), then indexed beside the module's lock ([`ScannedFiles`]), for an empty
//! queue to adopt whole. A sorted scan gathers them in `sorting.rs` first.

use super::index::Index;
use super::slots::{PackedFile, Slots};
use super::{INDEX_MIN, RELEASE_LATER};
use crate::effect::Released;
use crate::pnfsid::PnfsId;

/// The files of a repository scan, packed and indexed beside the scan, off the module's
/// lock: indexing a million files takes tens of milliseconds, and holding the lock that long
/// would stall `migration info` and every message to the pool. A job whose queue is still
/// empty adopts them whole ([`JobQueue::extend_scanned`](super::JobQueue::extend_scanned)).
#[derive(Debug, Clone)]
pub struct ScannedFiles {
    pub(super) slots: Slots,
    /// Built for `seed` when there are enough files to index; duplicates already dead.
    pub(super) index: Option<Index>,
    pub(super) seed: u64,
    pub(super) live: usize,
    pub(super) bytes: u64,
}

impl ScannedFiles {
    /// Packs `files` (in queue order) and indexes them for a queue keyed by `seed`.
    pub fn new(files: Vec<(PnfsId, u64)>, seed: u64) -> ScannedFiles {
        let slots = Slots::pack(&files);
        let bytes = slots.live_from(0).fold(0, |bytes: u64, file| bytes.saturating_add(file.size()));
        ScannedFiles::index(slots, bytes, seed)
    }

    /// Indexes packed files of `bytes` in all.
    fn index(mut slots: Slots, mut bytes: u64, seed: u64) -> ScannedFiles {
        let mut live = slots.len();
        let index = (slots.len() >= INDEX_MIN && u32::try_from(slots.len()).is_ok()).then(|| {
            let (index, killed) = Index::build(&mut slots, seed);
            live -= killed.len();
            bytes = killed.iter().fold(bytes, |bytes, &n| bytes.saturating_sub(slots.get(n).size()));
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
    pub fn files(&self) -> impl ExactSizeIterator<Item = (PnfsId, u64)> + '_ {
        let live = self.slots.live_from(0).map(|s| (s.pnfsid(), s.size()));
        Exactly { files: live, left: self.live }
    }

    /// Its memory, once its files were taken one by one, for the driver to free after the
    /// module's lock when it is large ([`Released`]); `None` when it was freed at once.
    pub fn release(self) -> Option<Released> {
        let bytes = self.slots.heap_bytes() + self.index.as_ref().map_or(0, Index::bytes);
        (bytes >= RELEASE_LATER).then(|| Released::new(self, bytes))
    }
}

/// A repository scan's files as they come, packed into the queue's chunks at once. Gathered
/// in one vector instead, a scan of a million files reallocated it by doubling, and glibc
/// copies a reallocated block below its mmap threshold (up to 32 MiB) with its arena's lock
/// held: the threads sharing that arena, the admin shell's among them, waited for the copy
/// and its page faults (`migration info` answered in 40 ms at the start of a million-file move).
#[derive(Debug, Default)]
pub struct ScanCollector {
    slots: Slots,
    bytes: u64,
}

impl ScanCollector {
    /// Appends a file, in queue order.
    pub fn push(&mut self, id: &PnfsId, size: u64) {
        self.push_packed(PackedFile::new(id, size));
    }

    /// Appends a packed file, in queue order.
    pub(super) fn push_packed(&mut self, file: PackedFile) {
        self.bytes = self.bytes.saturating_add(file.size());
        self.slots.push_into_whole_chunk(file);
    }

    /// The chunks filled so far, for tests.
    #[cfg(test)]
    pub(super) fn slots(&self) -> &Slots {
        &self.slots
    }

    /// The files, indexed for a queue keyed by `seed`.
    pub fn finish(self, seed: u64) -> ScannedFiles {
        ScannedFiles::index(self.slots, self.bytes, seed)
    }
}

/// The live files of a scan, whose number is known: [`JobQueue::extend`](super::JobQueue::extend) indexes a long
/// iterator in one pass.
struct Exactly<I> {
    files: I,
    left: usize,
}

impl<I: Iterator<Item = (PnfsId, u64)>> Iterator for Exactly<I> {
    type Item = (PnfsId, u64);

    fn next(&mut self) -> Option<(PnfsId, u64)> {
        let file = self.files.next()?;
        self.left -= 1;
        Some(file)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<I: Iterator<Item = (PnfsId, u64)>> ExactSizeIterator for Exactly<I> {}
