//! Helpers for tests of the core and of the hosts and bindings built on it (feature
//! `test-util`): one shared recorder of completions instead of one per crate.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Outcome;
use crate::host::Completion;

/// The outcomes a [`recorder`]'s completion received, in order.
pub type Seen<T> = Arc<Mutex<Vec<Outcome<T>>>>;

/// A completion that records its outcome, and where to read it: dropping it unanswered
/// records the failure a forgetful host causes.
pub fn recorder<T: Send + 'static>() -> (Seen<T>, Completion<T>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    (seen, Completion::new(move |o| s.lock().push(o)))
}
