//! A stable sort by a `u64` key whose cost per item does not grow with the number of items: a
//! least-significant-digit radix sort, with one pass over the items for each byte in which
//! their keys differ. A job's sorted scan (`-order=size`, `-order=lru`) sorts every file of a
//! repository, up to tens of millions, and the queue's index sorts the hashes of as many ids.
//! A comparison sort moves each item about log₂ n times, more for every doubling of the
//! repository, where this moves it once per differing byte: three passes for sizes of up to
//! 16 MB, five or six for access times spread over years (docs/performance.md, seventeenth
//! round, has what it saved). Both callers part many items by their keys' top bits first and
//! sort each part here, within the cache (`queue::sorting`, `queue::index`): a pass over
//! memory the cache does not hold costs several passes over memory it does.

/// Below this many items the standard library's stable sort is quicker: a radix sort's
/// counting costs a fixed 16 KiB of counters whatever the number of items.
const SMALL: usize = 256;

/// Sorts `items` by `key`, keeping items with equal keys in the order they came in.
pub fn sort_by_key<T: Copy>(items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    if items.len() < SMALL {
        items.sort_by_key(|item| key(item));
        return;
    }
    let mut counts = count_bytes(items, &key);
    let mut spare: Vec<T> = Vec::new();
    for (byte, count) in counts.iter_mut().enumerate() {
        if count.contains(&items.len()) {
            continue; // every key has the same value in this byte: nothing to reorder
        }
        if spare.is_empty() {
            spare = items.clone();
        }
        scatter(items, &mut spare, byte, count, &key);
        std::mem::swap(items, &mut spare);
    }
}

/// [`sort_by_key`] within a slice, with `scratch` (as long as `items`) as working space: for
/// sorting many parts of one large vector without allocating for each.
pub fn sort_slice_by_key<T: Copy>(items: &mut [T], scratch: &mut [T], key: impl Fn(&T) -> u64) {
    assert_eq!(items.len(), scratch.len(), "scratch as long as the items");
    if items.len() < SMALL {
        items.sort_by_key(|item| key(item));
        return;
    }
    let mut counts = count_bytes(items, &key);
    let mut in_scratch = false;
    for (byte, count) in counts.iter_mut().enumerate() {
        if count.contains(&items.len()) {
            continue;
        }
        if in_scratch {
            scatter(scratch, items, byte, count, &key);
        } else {
            scatter(items, scratch, byte, count, &key);
        }
        in_scratch = !in_scratch;
    }
    if in_scratch {
        items.copy_from_slice(scratch);
    }
}

/// How many keys have each value of each byte, all bytes counted in one pass.
fn count_bytes<T>(items: &[T], key: &impl Fn(&T) -> u64) -> [[usize; 256]; 8] {
    let mut counts = [[0usize; 256]; 8];
    for item in items {
        let k = key(item);
        for (byte, count) in counts.iter_mut().enumerate() {
            count[(k >> (8 * byte)) as usize & 0xFF] += 1;
        }
    }
    counts
}

/// One pass: `from` into `to` in the order of `byte` of the key, equal values in input order.
fn scatter<T: Copy>(from: &[T], to: &mut [T], byte: usize, count: &mut [usize; 256], key: &impl Fn(&T) -> u64) {
    // Each value's first place in the output; items then go there in input order: stable.
    let mut next = 0;
    for slot in count.iter_mut() {
        let n = *slot;
        *slot = next;
        next += n;
    }
    for item in from {
        let value = (key(item) >> (8 * byte)) as usize & 0xFF;
        to[count[value]] = *item;
        count[value] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The same order as the standard library's stable sort, equal keys included: each
        /// item carries its place in the input, so a swap of two equal keys would show. The
        /// same within a slice, whether its passes end in the slice or in the scratch.
        #[test]
        fn sorts_as_the_stable_sort_does(
            keys in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..2000),
            narrow in 0u32..64,
        ) {
            // Keys narrowed to a few bits repeat, and leave most bytes equal (passes skipped).
            let mut items: Vec<(u64, usize)> =
                keys.iter().enumerate().map(|(i, k)| (k >> narrow, i)).collect();
            let mut expected = items.clone();
            expected.sort_by_key(|item| item.0);
            let mut in_slice = items.clone();
            sort_by_key(&mut items, |item| item.0);
            proptest::prop_assert_eq!(&items, &expected);
            let mut scratch = vec![(0, 0); in_slice.len()];
            sort_slice_by_key(&mut in_slice, &mut scratch, |item| item.0);
            proptest::prop_assert_eq!(in_slice, expected);
        }
    }

    #[test]
    fn many_equal_keys_stay_in_input_order() {
        // Every byte the same in every key: no pass runs, and nothing moves.
        let mut items: Vec<(u64, usize)> = (0..1000).map(|i| (u64::MAX, i)).collect();
        let expected = items.clone();
        sort_by_key(&mut items, |item| item.0);
        assert_eq!(items, expected);
    }

    #[test]
    fn a_key_made_of_a_field_sorts_by_that_field_only() {
        // The queue's index sorts `hash << 32 | slot` by its hash alone, slots in input order.
        let mut keys: Vec<u64> = (0..1000u64).map(|slot| (slot * 7919 % 13) << 32 | slot).collect();
        sort_by_key(&mut keys, |k| k >> 32);
        for pair in keys.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(a >> 32 < b >> 32 || (a >> 32 == b >> 32 && a < b), "{a:#x} before {b:#x}");
        }
    }
}
