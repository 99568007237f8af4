//! What the embedding pool provides: one trait per service a dCache pool talks to (design,
//! "The host"). Calls that can take long complete asynchronously through a [`Completion`];
//! the module never holds a lock while it calls a host, so a host may call back into it.
//! A call that panics (a bug in a host written in Rust) fails what waited for it, as an error
//! would, and is logged; the module's other work goes on.

use std::fmt;
use std::sync::Arc;

use crate::error::{Failure, Outcome, ReturnCode};
use crate::message::RequestId;
use crate::pnfsid::PnfsId;
use crate::pool_info::PoolInfo;
use crate::replica::{Durability, FileAttributes, ReplicaEntry, ReplicaState, StickyRecord};
use crate::{Millis, PoolName};

/// The one-shot answer to an asynchronous host call. Call [`Completion::complete`] exactly
/// once, from any thread; dropping it unanswered reports a failure, so a forgetful host
/// makes a task retry instead of hang.
pub struct Completion<T> {
    callback: Option<Callback<T>>,
}

enum Callback<T> {
    /// A closure (a host's, a test's).
    Closure(Box<dyn FnOnce(Outcome<T>) + Send>),
    /// The outcome of one of the module's requests, which the driver routes by the
    /// request's token. The driver sends several requests per file: sharing its sink
    /// instead of boxing a closure for each saves an allocation per request.
    Shared { sink: Arc<dyn Sink<T>>, token: u64 },
}

/// Where a driver takes the outcomes of the module's requests of one kind.
pub(crate) trait Sink<T>: Send + Sync {
    /// The outcome of the request sent with `token`.
    fn complete(self: Arc<Self>, token: u64, outcome: Outcome<T>);
}

impl<T> Completion<T> {
    /// A completion that hands the outcome to `callback`.
    pub fn new(callback: impl FnOnce(Outcome<T>) + Send + 'static) -> Self {
        Completion { callback: Some(Callback::Closure(Box::new(callback))) }
    }

    /// A completion that hands the outcome to `sink` with the request's `token`.
    pub(crate) fn shared(sink: Arc<dyn Sink<T>>, token: u64) -> Self {
        Completion { callback: Some(Callback::Shared { sink, token }) }
    }

    /// Reports the outcome.
    pub fn complete(mut self, outcome: Outcome<T>) {
        if let Some(callback) = self.callback.take() {
            callback.call(outcome);
        }
    }
}

impl<T> Callback<T> {
    fn call(self, outcome: Outcome<T>) {
        match self {
            Callback::Closure(callback) => callback(outcome),
            Callback::Shared { sink, token } => sink.complete(token, outcome),
        }
    }
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        if let Some(callback) = self.callback.take() {
            callback.call(Err(Failure::error(
                ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION,
                "the host dropped the request without answering",
            )));
        }
    }
}

impl<T> fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Completion")
    }
}

/// Why the repository refused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryError {
    /// The replica is not (or no longer) there.
    NotFound,
    /// The repository is still loading at pool start: it cannot be listed yet. Replicas
    /// arrive as state-change events while it loads; the host then calls
    /// `Module::repository_loaded` (dCache's repository throws `IllegalStateException`).
    NotLoaded,
    /// The state change is not allowed from the replica's state.
    IllegalTransition(String),
    /// The replica changed after the module read it, so a change decided on that read was
    /// not made ([`Repository::remove_if_unchanged`], [`Repository::set_state_if_unchanged`]).
    Changed,
    /// Anything else (I/O error, …).
    Other(String),
}

impl fmt::Display for RepositoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepositoryError::NotFound => f.write_str("replica not found"),
            RepositoryError::NotLoaded => f.write_str("the repository is still loading"),
            RepositoryError::Changed => f.write_str("the replica changed after it was read"),
            RepositoryError::IllegalTransition(m) | RepositoryError::Other(m) => f.write_str(m),
        }
    }
}

/// The pool's local repository. Calls are synchronous and local; the module calls them from
/// its own threads and never while holding its lock.
pub trait Repository: Send + Sync {
    /// Visits every replica in repository order; `visit` returns `false` to stop early.
    /// [`RepositoryError::NotLoaded`] while the pool is still loading its repository: jobs
    /// then wait for it instead of failing.
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError>;

    /// The entry of one replica, `None` if there is no such replica.
    fn entry(&self, pnfsid: &PnfsId) -> Result<Option<ReplicaEntry>, String>;

    /// Changes a replica's state (§1.3).
    fn set_state(&self, pnfsid: &PnfsId, state: ReplicaState, reason: &str) -> Result<(), RepositoryError>;

    /// Sets a sticky record with dCache's `overwrite` semantics (§1.4).
    fn set_sticky(&self, pnfsid: &PnfsId, record: &StickyRecord, overwrite: bool) -> Result<(), RepositoryError>;

    /// Whether this repository can verify checksums ([`Repository::verify_checksum`]).
    /// There is deliberately no default: a move with `-verify` deletes its source after the
    /// target "verified" an existing copy, so a host that cannot verify must say so, and the
    /// module then refuses `-verify` instead of pretending.
    fn verifies_checksums(&self) -> bool;

    /// Verifies a replica's checksum without touching its access time; may be slow. Only
    /// called when [`Repository::verifies_checksums`] is true.
    fn verify_checksum(&self, pnfsid: &PnfsId) -> Result<(), Failure>;

    /// Whether the pool accepts copies from other pools right now (dCache's pool mode: not
    /// disabled for p2p-client, as after `pool disable -rdonly`/`-strict` or an automatic
    /// disable on an I/O fault). Asked on every copy request, because dCache's pool mode has
    /// no listener; `Module::set_accepts_copies(false)` refuses earlier without asking.
    fn accepts_copies(&self) -> bool;

    /// A target's look at a copy request: whether the pool accepts copies and, only if it
    /// does, its entry of the file (`(false, Ok(None))` when it refuses). A host behind a
    /// boundary may answer both in one call (the JNI host does: a crossing into Java is the
    /// dearest part of a file's path there); it must answer as the two calls would.
    fn inspect_copy(&self, pnfsid: &PnfsId) -> (bool, Result<Option<ReplicaEntry>, String>) {
        inspect_copy_separately(self, pnfsid)
    }

    /// Removes a replica only if it is still as `seen` (its state and sticky records when the
    /// module read it, and decided on them to delete it); [`RepositoryError::Changed`] if it
    /// is not, and then nothing changes. A move deletes its source this way, so that a pin, a
    /// sticky record or a state set after the module's look is never lost with the replica:
    /// the module reads the entry again and decides anew.
    ///
    /// The look and the removal must be one step, under the repository's lock. The default
    /// ([`remove_if_unchanged_in_two_steps`]) makes them two calls, one right after the
    /// other: a change between the two is still lost. A host that can hold its lock across
    /// both should override it, as minidcache's and the in-memory repository do.
    fn remove_if_unchanged(&self, pnfsid: &PnfsId, seen: &Durability, reason: &str) -> Result<(), RepositoryError> {
        remove_if_unchanged_in_two_steps(self, pnfsid, seen, reason)
    }

    /// Changes a replica's state to `state` only if it is still in state `seen`, the state
    /// the module read and decided on; [`RepositoryError::Changed`] if it is not, and then
    /// nothing changes. With `state == seen` it changes nothing and only checks.
    ///
    /// A target confirms an existing replica this way (§6.3): its last change is conditional
    /// on the state it read, so that a replica marked BROKEN (or changed otherwise) since the
    /// read is neither made precious nor confirmed, and a move does not delete its source for
    /// a copy that is not readable: the module reads the entry again and decides anew.
    ///
    /// As for [`Repository::remove_if_unchanged`], the look and the change must be one step
    /// under the repository's lock; the default ([`set_state_if_unchanged_in_two_steps`]) is
    /// a read and then a change, and a change between the two is still missed.
    fn set_state_if_unchanged(
        &self,
        pnfsid: &PnfsId,
        seen: ReplicaState,
        state: ReplicaState,
        reason: &str,
    ) -> Result<(), RepositoryError> {
        set_state_if_unchanged_in_two_steps(self, pnfsid, seen, state, reason)
    }
}

/// [`Repository::set_state_if_unchanged`] as a read and then a change: the default for a host
/// that cannot do both at once.
pub fn set_state_if_unchanged_in_two_steps<R: Repository + ?Sized>(
    repository: &R,
    pnfsid: &PnfsId,
    seen: ReplicaState,
    state: ReplicaState,
    reason: &str,
) -> Result<(), RepositoryError> {
    match repository.entry(pnfsid).map_err(RepositoryError::Other)? {
        None => Err(RepositoryError::NotFound),
        Some(entry) if entry.pnfsid != *pnfsid => Err(RepositoryError::Other(another_file(&entry.pnfsid, pnfsid))),
        Some(entry) if entry.state != seen => Err(RepositoryError::Changed),
        Some(_) if state == seen => Ok(()),
        Some(_) => repository.set_state(pnfsid, state, reason),
    }
}

/// [`Repository::remove_if_unchanged`] as a read and then a removal: the default for a host
/// that cannot do both at once.
pub fn remove_if_unchanged_in_two_steps<R: Repository + ?Sized>(
    repository: &R,
    pnfsid: &PnfsId,
    seen: &Durability,
    reason: &str,
) -> Result<(), RepositoryError> {
    match repository.entry(pnfsid).map_err(RepositoryError::Other)? {
        None => Err(RepositoryError::NotFound),
        Some(entry) if entry.pnfsid != *pnfsid => Err(RepositoryError::Other(another_file(&entry.pnfsid, pnfsid))),
        Some(entry) if !seen.matches(&entry) => Err(RepositoryError::Changed),
        Some(_) => repository.set_state(pnfsid, ReplicaState::Removed, reason),
    }
}

/// The error of a read of `asked` that the repository answered with the entry of `answered`
/// ([`entry_of`](crate::input::entry_of)).
pub fn another_file(answered: &PnfsId, asked: &PnfsId) -> String {
    format!("the repository's entry answered {answered} for {asked}")
}

/// [`Repository::inspect_copy`] as its two questions, one after the other: the default, and
/// what a host that answers both at once falls back to when that fails.
pub fn inspect_copy_separately<R: Repository + ?Sized>(
    repository: &R,
    pnfsid: &PnfsId,
) -> (bool, Result<Option<ReplicaEntry>, String>) {
    if !repository.accepts_copies() {
        return (false, Ok(None));
    }
    (true, repository.entry(pnfsid))
}

/// Which pools a pool-manager query asks for (§8.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PoolSelection {
    /// Pools by name; unknown names are left out.
    Names(Vec<String>),
    /// Members of pool groups, concatenated in order (duplicates kept); empty if any group is
    /// unknown.
    Groups(Vec<String>),
    /// Members of the pool groups attached to a link; empty if the link is unknown.
    Link(String),
    /// Active pools that have any of these HSM instances attached.
    Hsm(Vec<String>),
    /// The pools that may serve reads of a file (hot-file replication, §12.2): the pool
    /// manager answers the first non-empty preference level, with cost data.
    Readers {
        /// The file, with its storage info.
        attributes: FileAttributes,
        /// `<protocol>/<major>[.<minor>]`, or `*/*` when unknown.
        protocol: String,
        /// The client's address, or empty.
        net: String,
    },
}

/// A pool list from the pool manager: online pools with cost data, offline pools by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolList {
    /// Pools in the order the pool manager returned them.
    pub pools: Vec<PoolInfo>,
}

/// The pool manager: pool lists with cost information.
pub trait PoolManager: Send + Sync {
    /// Answers a pool selection.
    fn pools(&self, selection: PoolSelection, done: Completion<PoolList>);

    /// The pool groups that contain `pool` (for `-target=pgroup` without names).
    fn groups_of(&self, pool: &str, done: Completion<Vec<String>>);
}

/// The PnfsManager (dCache's namespace service): where replicas of a file exist.
pub trait PnfsManager: Send + Sync {
    /// The pools registered as holding a replica of `pnfsid`. A file deleted from the
    /// namespace answers `Failure::Error` with `FILE_NOT_FOUND` (10001).
    fn cache_locations(&self, pnfsid: PnfsId, done: Completion<Vec<String>>);
}

/// Carries bytes to the migration module of another pool.
pub trait Transport: Send + Sync {
    /// Delivers `message` to pool `to`. With `reply`, the peer's answer (bytes) or a failure
    /// (no route, …) must be reported; the module enforces its own timeouts.
    fn send(&self, to: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>);
}

/// A pool-to-pool transfer on the target pool (§6.4).
#[derive(Debug, Clone, PartialEq)]
pub struct P2pRequest {
    /// Identifies the transfer; used to cancel it.
    pub id: RequestId,
    /// The pool that has the data.
    pub source: PoolName,
    /// The file.
    pub attributes: FileAttributes,
    /// Final state of the new replica.
    pub state: ReplicaState,
    /// Sticky records of the new replica.
    pub sticky: Vec<StickyRecord>,
    /// Access time to give the new replica, if copied from the source.
    pub atime: Option<Millis>,
    /// Let the source deliver even if it is disabled for p2p.
    pub force_source_mode: bool,
}

/// The pool's p2p client: pulls a replica from another pool.
pub trait P2p: Send + Sync {
    /// Starts the transfer; `done` reports the outcome (e.g. `FILE_IN_CACHE` when the
    /// replica appeared meanwhile, `FILE_CORRUPTED` on a checksum mismatch).
    fn start(&self, request: P2pRequest, done: Completion<()>);

    /// Aborts a running transfer; its completion then reports an error.
    fn cancel(&self, id: RequestId);
}

/// A request to the pin manager to move a file's pins (§9.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinMove {
    /// The file.
    pub pnfsid: PnfsId,
    /// The pin records on the source.
    pub pins: Vec<StickyRecord>,
    /// The source pool.
    pub source: String,
    /// The pool that now has a copy.
    pub target: String,
}

/// The pin manager.
pub trait PinManager: Send + Sync {
    /// Moves the pins; afterwards the file is no longer pinned on the source.
    fn move_pins(&self, request: PinMove, done: Completion<()>);
}

/// Every service the module needs from its pool.
#[derive(Clone)]
pub struct Host {
    /// The local repository.
    pub repository: Arc<dyn Repository>,
    /// The pool manager.
    pub pool_manager: Arc<dyn PoolManager>,
    /// The PnfsManager (namespace).
    pub pnfs_manager: Arc<dyn PnfsManager>,
    /// Messages to other pools.
    pub transport: Arc<dyn Transport>,
    /// The p2p client.
    pub p2p: Arc<dyn P2p>,
    /// The pin manager.
    pub pin_manager: Arc<dyn PinManager>,
}
