//! Executing the module's local-repository effects: the initial scan and applying changes.
//! Shared by every driver, so that the simulator runs exactly what production runs.

use crate::Millis;
use crate::definition::Order;
use crate::filter::ReplicaFilter;
use crate::host::{Repository, RepositoryError};
use crate::mode::RepositoryChange;
use crate::pnfsid::PnfsId;
use crate::queue::{ScanCollector, ScannedFiles, SortingCollector};
use crate::replica::ReplicaEntry;

/// Scans the repository (§3.2), and packs and indexes the files for a queue keyed by
/// `queue_seed`, on the calling thread: the driver's, not under the module's lock. The scan
/// stops early, with an error, once `closed` says the module was closed: a scan of millions
/// of replicas would otherwise keep its thread (attached to a JVM, say) busy for seconds for
/// nobody.
pub fn scan_for_queue(
    repository: &dyn Repository,
    filter: &ReplicaFilter,
    order: Option<Order>,
    now: Millis,
    queue_seed: u64,
    closed: &dyn Fn() -> bool,
) -> Result<ScannedFiles, RepositoryError> {
    scan(repository, filter, order, now, closed).map(|files| files.finish(queue_seed))
}

/// How many replicas a scan reads between two looks at whether its module was closed.
const CLOSED_EVERY: usize = 1024;

/// Every replica passing `filter` at `now`, in repository order or sorted by `order` (ties
/// keep repository order).
fn scan(
    repository: &dyn Repository,
    filter: &ReplicaFilter,
    order: Option<Order>,
    now: Millis,
    closed: &dyn Fn() -> bool,
) -> Result<ScanCollector, RepositoryError> {
    let stopped = || RepositoryError::Other("the module was closed during the scan".into());
    // Asked once every `CLOSED_EVERY` replicas, not for each: it is a call through a pointer,
    // and a start of 10M replicas takes about 70 ns a replica in all.
    let mut read = 0usize;
    let mut go_on = || {
        read += 1;
        !read.is_multiple_of(CLOSED_EVERY) || !closed()
    };
    let mut collected = ScanCollector::default();
    let Some(order) = order else {
        repository.for_each(&mut |entry| {
            if filter.matches(entry, now) {
                collected.push(&entry.pnfsid, entry.size);
            }
            go_on()
        })?;
        return if closed() { Err(stopped()) } else { Ok(collected) };
    };
    // Gathered in chunks, so that no vector of them all is reallocated as it grows (that
    // held up the threads of its glibc arena, the shell's among them, as [`ScanCollector`]
    // says) and the sort reuses their memory (`queue::sorting`).
    let mut files = SortingCollector::default();
    // Descending orders sort by the complement of the key. (Sorting only each file's key and
    // place in the scan, and then taking the files in that order, was tried: the random reads
    // of the last step made a 10M start 13 % slower.)
    let key = |entry: &ReplicaEntry| match order {
        Order::Size => entry.size,
        Order::SizeDescending => !entry.size,
        Order::Lru => time_key(entry.last_access),
        Order::LruDescending => !time_key(entry.last_access),
    };
    repository.for_each(&mut |entry| {
        if filter.matches(entry, now) {
            files.push(&entry.pnfsid, entry.size, key(entry));
        }
        go_on()
    })?;
    if closed() {
        return Err(stopped());
    }
    Ok(files.sorted())
}

/// A time as an unsigned key in the same order: the sign bit flipped, so that times before
/// 1970 (negative) come before the others.
fn time_key(time: Millis) -> u64 {
    time as u64 ^ 1 << 63
}

/// Applies changes in order, stopping at the first error.
pub fn apply_changes(
    repository: &dyn Repository,
    pnfsid: &PnfsId,
    changes: &[RepositoryChange],
) -> Result<(), RepositoryError> {
    for change in changes {
        match change {
            RepositoryChange::SetState { state, reason } => repository.set_state(pnfsid, *state, reason)?,
            RepositoryChange::SetStateIfUnchanged { seen, state, reason } => {
                repository.set_state_if_unchanged(pnfsid, *seen, *state, reason)?
            }
            RepositoryChange::Remove { seen, reason } => repository.remove_if_unchanged(pnfsid, seen, reason)?,
            RepositoryChange::SetSticky { record, overwrite } => repository.set_sticky(pnfsid, record, *overwrite)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::memory::MemoryRepository;
    use crate::replica::{ReplicaEntry, ReplicaState};

    fn id(n: u16) -> PnfsId {
        let [high, low] = n.to_be_bytes();
        PnfsId::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, high, low]).expect("a valid id")
    }

    /// The ids of a sorted scan, in the order it queues them.
    fn scanned(repository: &MemoryRepository, order: Order) -> Vec<u16> {
        let files =
            scan_for_queue(repository, &ReplicaFilter::default(), Some(order), 0, 7, &|| false).expect("a scan");
        files.files().map(|(id, _)| u16::from_be_bytes([id.as_bytes()[10], id.as_bytes()[11]])).collect()
    }

    #[test]
    fn a_sorted_scan_orders_by_size_or_access_time_and_keeps_repository_order_among_ties() {
        // Access times before 1970 are negative and come first in LRU order; sizes and times
        // repeat, and the ties must come out in repository order (ids 1, 2, … as inserted).
        // 400 files: enough for the radix sort rather than its fallback for small inputs.
        let times = [5, -3, 5, i64::MIN, 0, -3, i64::MAX, 1];
        let sizes = [2, 1, 2, 0, 1 << 40, 1, 3, 2];
        let files: Vec<(u16, u64, i64)> =
            (1..=400u16).map(|n| (n, sizes[n as usize % 8], times[n as usize % 8])).collect();
        let repository = MemoryRepository::new();
        for &(n, size, time) in &files {
            repository.insert(ReplicaEntry::new(id(n), ReplicaState::Cached, size, time));
        }
        let expected = |key: fn(&(u16, u64, i64)) -> i128| {
            let mut sorted = files.clone();
            sorted.sort_by_key(key); // stable
            sorted.iter().map(|f| f.0).collect::<Vec<u16>>()
        };
        assert_eq!(scanned(&repository, Order::Size), expected(|f| i128::from(f.1)));
        assert_eq!(scanned(&repository, Order::SizeDescending), expected(|f| -i128::from(f.1)));
        assert_eq!(scanned(&repository, Order::Lru), expected(|f| i128::from(f.2)));
        assert_eq!(scanned(&repository, Order::LruDescending), expected(|f| -i128::from(f.2)));
    }

    #[test]
    fn a_scan_stops_once_the_module_is_closed() {
        let repository = MemoryRepository::new();
        for n in 1..=5000u16 {
            repository.insert(ReplicaEntry::new(id(n), ReplicaState::Cached, 1, 0));
        }
        for order in [None, Some(Order::Size)] {
            // The scan asks every `CLOSED_EVERY` replicas, and once at its end; the module
            // closes between its first and its second look.
            let asked = std::cell::Cell::new(0);
            let closed = || {
                asked.set(asked.get() + 1);
                asked.get() >= 2
            };
            let result = scan(&repository, &ReplicaFilter::default(), order, 0, &closed);
            let error = result.err().map(|e| e.to_string());
            assert_eq!(error.as_deref(), Some("the module was closed during the scan"), "{order:?}");
            // Had the scan gone on to the end, it would have asked 5 times.
            assert_eq!(asked.get(), 3, "{order:?}: the scan went on after the module closed");
        }
    }
}
