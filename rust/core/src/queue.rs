//! A job's queue: files waiting for a task, FIFO, without duplicates, each with the size
//! recorded when it was enqueued (spec §3.1).

use std::collections::{HashMap, VecDeque};

use crate::pnfsid::PnfsId;

/// Insertion-ordered set of queued files with their sizes.
///
/// Removal from the middle (a replica deleted while queued) is lazy: the id leaves the index
/// at once, and its slot in the order, now stale, is skipped when reached. Each enqueue gets
/// a sequence number so that a file removed and re-added is not found at its old slot.
#[derive(Debug, Default)]
pub struct JobQueue {
    order: VecDeque<(PnfsId, u64)>,
    index: HashMap<PnfsId, (u64, u64)>,
    next_seq: u64,
}

impl JobQueue {
    /// An empty queue.
    pub fn new() -> JobQueue {
        JobQueue::default()
    }

    /// Appends `id` unless it is already queued; returns whether it was added.
    pub fn push_back(&mut self, id: PnfsId, size: u64) -> bool {
        if self.index.contains_key(&id) {
            return false;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.index.insert(id, (size, seq));
        self.order.push_back((id, seq));
        true
    }

    /// Whether `id` is queued.
    pub fn contains(&self, id: &PnfsId) -> bool {
        self.index.contains_key(id)
    }

    /// Number of queued files.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Removes `id`, returning its size.
    pub fn remove(&mut self, id: &PnfsId) -> Option<u64> {
        let (size, _) = self.index.remove(id)?;
        if self.index.is_empty() {
            self.order.clear();
        }
        Some(size)
    }

    fn is_live(&self, (id, seq): &(PnfsId, u64)) -> bool {
        self.index.get(id).is_some_and(|(_, s)| s == seq)
    }

    /// The queued files from the head, in order.
    pub fn iter(&self) -> impl Iterator<Item = (PnfsId, u64)> + '_ {
        self.order.iter().filter(|slot| self.is_live(slot)).map(|(id, _)| (*id, self.index[id].0))
    }

    /// Removes and returns the `skip`-th queued file from the head (0 = head); used to take
    /// the first file that is not locked.
    pub fn take_nth(&mut self, skip: usize) -> Option<(PnfsId, u64)> {
        // Stale slots at the head are dropped for good while we pass.
        while let Some(slot) = self.order.front() {
            if self.is_live(slot) {
                break;
            }
            self.order.pop_front();
        }
        let position = self.order.iter().enumerate().filter(|(_, slot)| self.is_live(slot)).nth(skip)?.0;
        let (id, _) = self.order.remove(position)?;
        let (size, _) = self.index.remove(&id)?;
        Some((id, size))
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.order.clear();
        self.index.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> PnfsId {
        PnfsId::parse(&format!("{n:x}")).expect("valid")
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
}
