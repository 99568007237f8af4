//! The addresses of the objects this library handed out and that are not freed yet, so that a
//! double free or a use after free is detected by looking the address up, never by reading
//! the freed memory.

use std::collections::BTreeSet;

use parking_lot::Mutex;

/// A set of live addresses of one kind of object.
pub(crate) struct Live {
    addresses: Mutex<BTreeSet<usize>>,
}

impl Live {
    /// An empty set (usable in a `static`).
    pub(crate) const fn new() -> Live {
        Live { addresses: Mutex::new(BTreeSet::new()) }
    }

    /// Records a new object.
    pub(crate) fn insert<T>(&self, p: *const T) {
        self.addresses.lock().insert(p as usize);
    }

    /// Forgets an object; `false` if it was not live (never handed out, or freed already).
    pub(crate) fn remove<T>(&self, p: *const T) -> bool {
        self.addresses.lock().remove(&(p as usize))
    }

    /// Runs `f` while `p` is known to be live: the object cannot be freed meanwhile.
    pub(crate) fn with<T, R>(&self, p: *const T, f: impl FnOnce() -> R) -> Option<R> {
        let addresses = self.addresses.lock();
        addresses.contains(&(p as usize)).then(f)
    }
}
