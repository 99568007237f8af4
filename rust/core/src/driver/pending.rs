//! Host calls waiting for a binding's host to answer them by token (the C ABI's
//! `dcm_module_complete*`, Java's `Completion` objects). The JNI binding keeps one table for
//! all modules, the C ABI one per module. A token is taken out before it is completed, so it
//! completes at most once, the lock is never held while a completion runs, and a closed
//! module's tokens fail into the closed module. Tokens are unique in the process, whichever
//! table issues them: a host that completes a freed module's token through the module that
//! replaced it (a pool restarted while a transfer ran) gets an error, not another request's
//! completion.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::Failure;
use crate::host::{Completion, PoolList};

/// A core completion, by the type of its answer.
pub enum Pending {
    /// Cache locations (pool names).
    Locations(Completion<Vec<String>>),
    /// Pool group names.
    Groups(Completion<Vec<String>>),
    /// A pool list with cost information.
    Pools(Completion<PoolList>),
    /// A reply message from another pool.
    Message(Completion<Vec<u8>>),
    /// Success without a value (p2p transfers, pin moves).
    Done(Completion<()>),
}

/// Which kind of answer a token waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    /// [`Pending::Locations`].
    Locations,
    /// [`Pending::Groups`].
    Groups,
    /// [`Pending::Pools`].
    Pools,
    /// [`Pending::Message`].
    Message,
    /// [`Pending::Done`].
    Done,
}

impl Pending {
    /// The kind of answer it waits for.
    pub fn kind(&self) -> PendingKind {
        match self {
            Pending::Locations(_) => PendingKind::Locations,
            Pending::Groups(_) => PendingKind::Groups,
            Pending::Pools(_) => PendingKind::Pools,
            Pending::Message(_) => PendingKind::Message,
            Pending::Done(_) => PendingKind::Done,
        }
    }

    /// Completes with a failure.
    pub fn fail(self, failure: Failure) {
        match self {
            Pending::Locations(c) | Pending::Groups(c) => c.complete(Err(failure)),
            Pending::Pools(c) => c.complete(Err(failure)),
            Pending::Message(c) => c.complete(Err(failure)),
            Pending::Done(c) => c.complete(Err(failure)),
        }
    }
}

/// Its kind only: the completion inside has nothing to show.
impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pending").field(&self.kind()).finish()
    }
}

/// Why a token could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeError {
    /// Never issued, already completed, or its module closed.
    Unknown,
    /// It waits for another kind of answer; it stays outstanding.
    WrongKind(PendingKind),
}

struct Entry {
    owner: u64,
    pending: Pending,
}

#[derive(Default)]
struct Table {
    /// Tokens grow, so new entries go to the end.
    entries: BTreeMap<u64, Entry>,
    /// Modules whose calls were dropped: they register none any more (module ids are never
    /// reused, so one closed stays closed).
    closed: BTreeSet<u64>,
}

/// The last token issued by any table.
static LAST_TOKEN: AtomicU64 = AtomicU64::new(0);

/// Outstanding host calls by token (never 0), each with the module that owns it.
#[derive(Default)]
pub struct PendingTable {
    table: Mutex<Table>,
}

impl PendingTable {
    /// An empty table (usable in a `static`).
    pub const fn new() -> PendingTable {
        PendingTable { table: Mutex::new(Table { entries: BTreeMap::new(), closed: BTreeSet::new() }) }
    }

    /// Registers a call of module `owner`; returns its token, or gives the call back if the
    /// module's calls were dropped ([`PendingTable::drop_owner`]). A call registered after that
    /// (by a thread of the module still running while it closes) would stay in the table, with
    /// the module it keeps alive, until the host answered it, if ever.
    pub fn register(&self, owner: u64, pending: Pending) -> Result<u64, Pending> {
        let mut table = self.table.lock();
        if table.closed.contains(&owner) {
            return Err(pending);
        }
        // Drawn under the table's lock, so that each table's tokens still grow.
        let token = LAST_TOKEN.fetch_add(1, Ordering::Relaxed) + 1;
        table.entries.insert(token, Entry { owner, pending });
        Ok(token)
    }

    /// Takes a call out, whatever it waits for.
    pub fn take(&self, token: u64) -> Option<Pending> {
        self.table.lock().entries.remove(&token).map(|e| e.pending)
    }

    /// Takes a call out if it waits for `kind`; a call of another kind stays outstanding.
    pub fn take_kind(&self, token: u64, kind: PendingKind) -> Result<Pending, TakeError> {
        let mut table = self.table.lock();
        match table.entries.get(&token).map(|e| e.pending.kind()) {
            None => Err(TakeError::Unknown),
            Some(k) if k != kind => Err(TakeError::WrongKind(k)),
            Some(_) => table.entries.remove(&token).map(|e| e.pending).ok_or(TakeError::Unknown),
        }
    }

    /// Drops every call of module `owner`: each fails into the (closed) module. Later calls
    /// of it are refused.
    pub fn drop_owner(&self, owner: u64) {
        let dropped: Vec<Entry> = {
            let mut table = self.table.lock();
            table.closed.insert(owner);
            let tokens: Vec<u64> = table.entries.iter().filter(|(_, e)| e.owner == owner).map(|(t, _)| *t).collect();
            tokens.into_iter().filter_map(|t| table.entries.remove(&t)).collect()
        };
        // Completions run after the lock is released: they may call back into a binding.
        drop(dropped);
    }

    /// Calls waiting for module `owner`.
    pub fn count(&self, owner: u64) -> usize {
        self.table.lock().entries.values().filter(|e| e.owner == owner).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::recorder;

    #[test]
    fn a_token_is_taken_once_and_only_by_its_kind() {
        let table = PendingTable::new();
        let (seen, completion) = recorder();
        let token = table.register(7, Pending::Locations(completion)).expect("registered");
        assert_ne!(token, 0);
        assert_eq!(
            table.take_kind(token, PendingKind::Pools).err(),
            Some(TakeError::WrongKind(PendingKind::Locations))
        );
        let Ok(Pending::Locations(c)) = table.take_kind(token, PendingKind::Locations) else { panic!("taken") };
        c.complete(Ok(vec!["pool2".into()]));
        assert!(matches!(table.take_kind(token, PendingKind::Locations), Err(TakeError::Unknown)));
        assert!(table.take(token).is_none());
        assert_eq!(*seen.lock(), vec![Ok(vec!["pool2".to_string()])]);
    }

    #[test]
    fn a_token_of_one_table_is_unknown_to_another() {
        // A C module's table, and the one of the module that replaced it after a restart.
        let (freed, replacement) = (PendingTable::new(), PendingTable::new());
        let (_, a) = recorder();
        let (seen, b) = recorder();
        let stale = freed.register(1, Pending::Done(a)).expect("registered");
        let live = replacement.register(2, Pending::Done(b)).expect("registered");
        freed.drop_owner(1);
        assert_ne!(stale, live);
        assert!(matches!(replacement.take_kind(stale, PendingKind::Done), Err(TakeError::Unknown)));
        assert_eq!(replacement.count(2), 1, "the live call is still outstanding");
        assert!(seen.lock().is_empty());
    }

    #[test]
    fn closing_a_module_fails_only_its_calls() {
        let table = PendingTable::new();
        let (seen, a) = recorder();
        let (other, b) = recorder();
        table.register(1, Pending::Groups(a)).expect("registered");
        let kept = table.register(2, Pending::Groups(b)).expect("registered");
        table.drop_owner(1);
        assert_eq!((table.count(1), table.count(2)), (0, 1));
        assert!(matches!(seen.lock()[0], Err(Failure::Error { .. })), "a dropped completion reports a failure");
        assert!(other.lock().is_empty());
        table.take(kept).expect("still there").fail(Failure::Timeout);
        assert_eq!(*other.lock(), vec![Err(Failure::Timeout)]);
    }

    /// A call a closing module's thread makes after its calls were dropped is given back, not
    /// kept: nothing would drop it again, and it would keep the module alive until the host
    /// answered it.
    #[test]
    fn a_closed_module_registers_no_more_calls() {
        let table = PendingTable::new();
        table.drop_owner(1);
        let (_, late) = recorder();
        let Err(Pending::Done(_)) = table.register(1, Pending::Done(late)) else { panic!("refused") };
        assert_eq!(table.count(1), 0);
        let (_, other) = recorder();
        assert!(table.register(2, Pending::Done(other)).is_ok(), "other modules are not affected");
    }
}
