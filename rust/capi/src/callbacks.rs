//! The host's services as C callback tables (`dcm_host`), and `CHost`, which implements the
//! core's six host traits over them.
//!
//! Each table is `{ void *ctx; callbacks…; void (*free)(void *ctx) }`. A table lives in a
//! `TableCell`: callbacks run under its read lock, and closing the module takes the write lock,
//! so `free` runs exactly once and only after every callback in flight has returned; after
//! that no callback is called again.
//!
//! Asynchronous requests (p2p, messages, pin moves, location and pool queries) get a token
//! from `CHost`'s table of outstanding completions; the host answers with a
//! `dcm_module_complete*` function. A callback that refuses to start a request (returns a
//! non-zero code) fails the request at once, as if the service had answered with that code.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use migration_core::PnfsId;
use migration_core::error::{Failure, Outcome, ReturnCode};
use migration_core::host::{
    self, Completion, P2pRequest, PinMove, PoolList, PoolSelection, Repository, RepositoryError,
};
use migration_core::message::RequestId;
use migration_core::replica::{Durability, ReplicaEntry, ReplicaState, StickyRecord};
use parking_lot::RwLock;

use crate::constants::{RepositoryStatus, State};
use migration_core::driver::pending::{Pending, PendingKind, PendingTable, TakeError};

use crate::error::{Result, invalid};
use crate::strings::{CPnfsId, ErrBuf, cstring};
use crate::types::{
    OwnedFailure, OwnedP2pRequest, OwnedPinMove, OwnedSelection, OwnedSticky, dcm_failure, dcm_p2p_request,
    dcm_pin_move, dcm_pool_selection, dcm_replica_entry, dcm_sticky_record,
};

/// Releases a callback table's context; called exactly once, when the module is freed (or
/// when `dcm_module_new` fails). NULL when there is nothing to release.
pub type dcm_free_fn = Option<unsafe extern "C" fn(ctx: *mut c_void)>;

/// Receives one replica from the repository (`for_each`, `entry`). `entry` and everything it
/// points to is borrowed for the call; the library copies it. For `for_each`, return false
/// to stop early; the library also returns false when the entry is invalid, and the scan
/// then fails with that error. For `entry`, the return value is ignored.
pub type dcm_replica_visitor =
    Option<unsafe extern "C" fn(visit_ctx: *mut c_void, entry: *const dcm_replica_entry) -> bool>;

/// The pool's local repository. Calls are synchronous and should be quick, except
/// `verify_checksum`, which runs on a thread of its own. Every callback gets an `errbuf` of
/// `errbuf_size` bytes to write a NUL-terminated error message into when it fails.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_repository {
    /// Passed to every callback of this table.
    pub ctx: *mut c_void,
    /// Calls `visit(visit_ctx, entry)` for every replica, in repository order, until it
    /// returns false. Returns 0, `DCM_REPOSITORY_NOT_LOADED` while the repository is still
    /// loading, or another non-zero value when it cannot be listed.
    pub for_each: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            visit: dcm_replica_visitor,
            visit_ctx: *mut c_void,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Calls `receive(receive_ctx, entry)` once with the replica of `pnfsid`, or not at all
    /// when there is no such replica. Returns 0, or non-zero when the repository fails.
    pub entry: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            pnfsid: *const c_char,
            receive: dcm_replica_visitor,
            receive_ctx: *mut c_void,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Changes the state of a replica (`DCM_STATE_*`); `DCM_STATE_REMOVED` deletes it.
    /// Returns a `DCM_REPOSITORY_*` status. Report the change with
    /// `dcm_module_repository_event` as for any other change.
    pub set_state: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            pnfsid: *const c_char,
            state: i32,
            reason: *const c_char,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Sets a sticky record with dCache's semantics: without `overwrite`, an existing
    /// record of `owner` is extended, never shortened. Returns a `DCM_REPOSITORY_*` status.
    pub set_sticky: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            pnfsid: *const c_char,
            owner: *const c_char,
            expire: i64,
            overwrite: bool,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Verifies the replica's checksum without touching its access time; may be slow.
    /// Returns 0, or a dCache return code (`DCM_RC_FILE_CORRUPTED` on a mismatch).
    /// NULL declares that this pool cannot verify checksums: jobs with `-verify` (the default
    /// of `migration move`) are then refused, and copy requests that would verify an existing
    /// replica fail, rather than a move deleting its source after a verification nobody did.
    pub verify_checksum: Option<
        unsafe extern "C" fn(ctx: *mut c_void, pnfsid: *const c_char, errbuf: *mut c_char, errbuf_size: usize) -> i32,
    >,
    /// Whether the pool accepts copies from other pools right now (its mode: not disabled
    /// for p2p-client). Asked on every copy request, so that a disable the host did not
    /// report with `dcm_module_set_accepts_copies` still counts. NULL: only what
    /// `dcm_module_set_accepts_copies` said counts.
    pub accepts_copies: Option<unsafe extern "C" fn(ctx: *mut c_void) -> bool>,
    /// Releases `ctx` (may be NULL).
    pub free: dcm_free_fn,
    /// Deletes the replica only if it is still in `state` (`DCM_STATE_*`) with exactly the
    /// `sticky_count` records of `sticky` (owners and expiries, in any order), and returns
    /// `DCM_REPOSITORY_OK`; returns `DCM_REPOSITORY_CHANGED`, changing nothing, if it is not.
    /// The module read the replica so and decided on that to delete it (a move deleting its
    /// source). Look and remove in one step, under the lock that guards the replica's
    /// changes, so that a pin set since is never lost with the replica: on
    /// `DCM_REPOSITORY_CHANGED` the module reads it again and decides anew. Report the
    /// removal as `set_state` does. `sticky` is NULL when `sticky_count` is 0. NULL: the
    /// module calls `entry`, then `set_state` with `DCM_STATE_REMOVED`, and a change between
    /// the two calls is lost.
    pub remove_if_unchanged: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            pnfsid: *const c_char,
            state: i32,
            sticky: *const dcm_sticky_record,
            sticky_count: usize,
            reason: *const c_char,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Changes the replica's state to `state` only if it is still in state `seen`
    /// (`DCM_STATE_*`), and returns `DCM_REPOSITORY_OK`; returns `DCM_REPOSITORY_CHANGED`,
    /// changing nothing, if it is not. With `state == seen` it only checks. A target updating
    /// a replica it already holds makes its last change this way, and confirms the copy only
    /// if it succeeds: a replica marked broken since the module read it is then neither made
    /// precious nor confirmed (and a move does not delete its source for it). Look and change
    /// in one step, under the lock that guards the replica's changes; report a change as
    /// `set_state` does. NULL: the module calls `entry` and then, if the state is to change,
    /// `set_state`, and a change between the two calls is missed. (Version 4.)
    pub set_state_if_unchanged: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            pnfsid: *const c_char,
            seen: i32,
            state: i32,
            reason: *const c_char,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
}

/// The pool manager. Both calls are asynchronous: answer `token` with
/// `dcm_module_complete_pools` / `dcm_module_complete_groups`, from any thread, before or
/// after returning. Return 0 when the request was taken, or a dCache return code (with a
/// message in `errbuf`) to fail it at once; do not complete a token you failed this way.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_pool_manager {
    /// Passed to every callback of this table.
    pub ctx: *mut c_void,
    /// The pools of `selection` with their cost data.
    pub pools: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            selection: *const dcm_pool_selection,
            token: u64,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// The pool groups that contain `pool`.
    pub groups_of: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            pool: *const c_char,
            token: u64,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Releases `ctx` (may be NULL).
    pub free: dcm_free_fn,
}

/// The PnfsManager (dCache's namespace service).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_pnfs_manager {
    /// Passed to every callback of this table.
    pub ctx: *mut c_void,
    /// The pools registered as holding a replica of `pnfsid`: answer `token` with
    /// `dcm_module_complete_locations`; a file deleted from the namespace is the failure
    /// `DCM_RC_FILE_NOT_FOUND`. Returns 0, or a return code to fail the request at once.
    pub cache_locations: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            pnfsid: *const c_char,
            token: u64,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Releases `ctx` (may be NULL).
    pub free: dcm_free_fn,
}

/// Carries bytes between the migration modules of pools. The format is the library's own;
/// the host only delivers them, with `dcm_module_deliver` on the receiving pool.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_transport {
    /// Passed to every callback of this table.
    pub ctx: *mut c_void,
    /// Sends `len` bytes to the module of pool `to`. With `token` 0 no reply is expected;
    /// otherwise answer it with `dcm_module_complete_message` (the peer's reply, or a
    /// failure such as `DCM_FAILURE_NO_ROUTE`); the module enforces its own timeouts.
    /// Returns 0, or a dCache return code (e.g. `DCM_RC_SERVICE_UNAVAILABLE`) to fail the
    /// send at once.
    pub send: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            to: *const c_char,
            bytes: *const u8,
            len: usize,
            token: u64,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// The module's answer to a message delivered with a non-zero `reply_id`: `len` bytes
    /// to carry back to the sender, or (when `failure` is not NULL; then `bytes` is NULL)
    /// the module could not answer, e.g. because it was freed.
    pub reply: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            reply_id: u64,
            bytes: *const u8,
            len: usize,
            failure: *const dcm_failure,
        ),
    >,
    /// Releases `ctx` (may be NULL).
    pub free: dcm_free_fn,
}

/// The pool's p2p client: pulls replicas from other pools into this one.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_p2p {
    /// Passed to every callback of this table.
    pub ctx: *mut c_void,
    /// Starts a transfer; answer `token` with `dcm_module_complete` once the new replica is
    /// in the repository (and reported with `dcm_module_repository_event`), or with a
    /// failure (`DCM_RC_FILE_IN_CACHE` when the replica appeared meanwhile,
    /// `DCM_RC_FILE_CORRUPTED` on a checksum mismatch). Returns 0, or a return code to fail
    /// the transfer at once.
    pub start: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            request: *const dcm_p2p_request,
            token: u64,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Aborts the running transfer `request_id`; its token is then completed with a failure.
    pub cancel: Option<unsafe extern "C" fn(ctx: *mut c_void, request_id: *const c_char)>,
    /// Releases `ctx` (may be NULL).
    pub free: dcm_free_fn,
}

/// The pin manager.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_pin_manager {
    /// Passed to every callback of this table.
    pub ctx: *mut c_void,
    /// Moves the pins of `request` from its source to its target pool; afterwards the file
    /// is no longer pinned on the source. Answer `token` with `dcm_module_complete`.
    /// Returns 0, or a return code to fail the request at once.
    pub move_pins: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            request: *const dcm_pin_move,
            token: u64,
            errbuf: *mut c_char,
            errbuf_size: usize,
        ) -> i32,
    >,
    /// Releases `ctx` (may be NULL).
    pub free: dcm_free_fn,
}

/// Every service a module needs from its pool. `dcm_module_new` copies the struct and takes
/// ownership of every `ctx` in it; every callback is required except `free` and those a
/// table says may be NULL.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_host {
    /// The local repository.
    pub repository: dcm_repository,
    /// The pool manager.
    pub pool_manager: dcm_pool_manager,
    /// The namespace (PnfsManager).
    pub pnfs_manager: dcm_pnfs_manager,
    /// Messages to other pools' modules.
    pub transport: dcm_transport,
    /// The p2p client.
    pub p2p: dcm_p2p,
    /// The pin manager.
    pub pin_manager: dcm_pin_manager,
}

// ---------------------------------------------------------------------------------------

/// What every callback table has: a context, its free function, and required callbacks.
pub(crate) trait Table: Copy {
    fn ctx(&self) -> *mut c_void;
    fn free_fn(&self) -> dcm_free_fn;
    /// The name of the first required callback that is NULL.
    fn missing(&self) -> Option<&'static str>;
}

macro_rules! table {
    ($ty:ident, $name:literal, [$($callback:ident),+]) => {
        impl Table for $ty {
            fn ctx(&self) -> *mut c_void {
                self.ctx
            }
            fn free_fn(&self) -> dcm_free_fn {
                self.free
            }
            fn missing(&self) -> Option<&'static str> {
                $(if self.$callback.is_none() {
                    return Some(concat!($name, ".", stringify!($callback)));
                })+
                None
            }
        }
    };
}

// `verify_checksum`, `accepts_copies`, `remove_if_unchanged` and `set_state_if_unchanged` may
// be NULL: each NULL has a documented meaning.
table!(dcm_repository, "repository", [for_each, entry, set_state, set_sticky]);
table!(dcm_pool_manager, "pool_manager", [pools, groups_of]);
table!(dcm_pnfs_manager, "pnfs_manager", [cache_locations]);
table!(dcm_transport, "transport", [send, reply]);
table!(dcm_p2p, "p2p", [start, cancel]);
table!(dcm_pin_manager, "pin_manager", [move_pins]);

thread_local! {
    /// The modules whose callbacks this thread is inside, innermost last.
    static IN_CALLBACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Marks this thread as inside a callback of a module while it lives.
struct Reentry;

impl Reentry {
    fn enter(module: u64) -> Reentry {
        IN_CALLBACK.with(|c| c.borrow_mut().push(module));
        Reentry
    }
}

impl Drop for Reentry {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| c.borrow_mut().pop());
    }
}

/// Whether this thread is inside one of `module`'s callbacks.
pub(crate) fn in_callback_of(module: u64) -> bool {
    IN_CALLBACK.with(|c| c.borrow().contains(&module))
}

/// One callback table, until the module closes it.
pub(crate) struct TableCell<T: Table> {
    table: RwLock<Option<T>>,
}

// SAFETY: the header requires every callback and context to be usable from any thread; the
// library never touches `ctx` itself.
unsafe impl<T: Table> Send for TableCell<T> {}
// SAFETY: as above.
unsafe impl<T: Table> Sync for TableCell<T> {}

impl<T: Table> TableCell<T> {
    fn new(table: T) -> TableCell<T> {
        TableCell { table: RwLock::new(Some(table)) }
    }

    /// Runs `f` on the table unless it was closed. The read lock is recursive: a callback
    /// may cause another callback of the same table on the same thread.
    fn call<R>(&self, module: u64, f: impl FnOnce(&T) -> R) -> Option<R> {
        let table = self.table.read_recursive();
        let table = table.as_ref()?;
        let _inside = Reentry::enter(module);
        Some(f(table))
    }

    /// Waits for the callbacks in flight, then calls `free` (once, ever).
    fn close(&self) {
        free(self.take());
    }

    /// Waits for the callbacks in flight and takes the table out: none is called again.
    fn take(&self) -> Option<T> {
        self.table.write().take()
    }
}

/// Calls the table's `free`, if it has one.
fn free<T: Table>(table: Option<T>) {
    if let Some(table) = table
        && let Some(free) = table.free_fn()
    {
        // SAFETY: `free` and `ctx` come from the host, which handed them over for this.
        unsafe { free(table.ctx()) };
    }
}

impl<T: Table> Drop for TableCell<T> {
    fn drop(&mut self) {
        self.close();
    }
}

/// The function that completes a token of this kind.
pub(crate) fn completed_by(kind: PendingKind) -> &'static str {
    match kind {
        PendingKind::Message => "dcm_module_complete_message",
        PendingKind::Done => "dcm_module_complete",
        PendingKind::Locations => "dcm_module_complete_locations",
        PendingKind::Pools => "dcm_module_complete_pools",
        PendingKind::Groups => "dcm_module_complete_groups",
    }
}

/// The host of one module: its six callback tables and its outstanding tokens.
pub(crate) struct CHost {
    module: u64,
    repository: TableCell<dcm_repository>,
    pool_manager: TableCell<dcm_pool_manager>,
    pnfs_manager: TableCell<dcm_pnfs_manager>,
    transport: TableCell<dcm_transport>,
    p2p: TableCell<dcm_p2p>,
    pin_manager: TableCell<dcm_pin_manager>,
    tokens: PendingTable,
}

fn closed_text(what: &str) -> String {
    format!("cannot call the host's {what}: the module is closed")
}

fn missing_text(what: &str) -> String {
    format!("the host's {what} callback is NULL")
}

impl CHost {
    /// Takes ownership of the tables (their `free` runs when this is closed or dropped) and
    /// checks that every required callback is there.
    pub(crate) fn new(module: u64, host: dcm_host) -> Result<CHost> {
        let chost = CHost {
            module,
            repository: TableCell::new(host.repository),
            pool_manager: TableCell::new(host.pool_manager),
            pnfs_manager: TableCell::new(host.pnfs_manager),
            transport: TableCell::new(host.transport),
            p2p: TableCell::new(host.p2p),
            pin_manager: TableCell::new(host.pin_manager),
            tokens: PendingTable::new(),
        };
        let missing = [
            host.repository.missing(),
            host.pool_manager.missing(),
            host.pnfs_manager.missing(),
            host.transport.missing(),
            host.p2p.missing(),
            host.pin_manager.missing(),
        ];
        if let Some(name) = missing.into_iter().flatten().next() {
            return Err(invalid(format!("host.{name} is NULL")));
        }
        Ok(chost)
    }

    /// Removes a token for completion; it must be one `completed_by` `function`. A token of
    /// the wrong kind stays outstanding.
    pub(crate) fn take(&self, token: u64, kind: PendingKind) -> Result<Pending> {
        let function = completed_by(kind);
        self.tokens.take_kind(token, kind).map_err(|e| match e {
            TakeError::Unknown => invalid(format!("unknown token {token}: never issued, or already completed")),
            TakeError::WrongKind(k) => {
                invalid(format!("token {token} must be completed with {}, not {function}", completed_by(k)))
            }
        })
    }

    /// Drops every outstanding request: they fail into the (closed) module.
    fn drain(&self) {
        self.tokens.drop_owner(self.module);
    }

    /// Closes every table: waits for callbacks in flight, calls each `free` once, and drops
    /// the outstanding tokens. Callbacks are never called again.
    pub(crate) fn close(&self) {
        self.drain();
        // Every table is closed, its callbacks in flight returned, before any `free` runs: a
        // host may give several tables one context, which any of their `free`s may release
        // while another table's callback still used it.
        let repository = self.repository.take();
        let pool_manager = self.pool_manager.take();
        let pnfs_manager = self.pnfs_manager.take();
        let transport = self.transport.take();
        let p2p = self.p2p.take();
        let pin_manager = self.pin_manager.take();
        free(repository);
        free(pool_manager);
        free(pnfs_manager);
        free(transport);
        free(p2p);
        free(pin_manager);
        self.drain();
    }

    /// Registers `pending` under a new token and calls `start` with it. A non-zero code from
    /// the callback (or a closed table) fails the request at once.
    fn issue(&self, what: &str, pending: Pending, start: impl FnOnce(u64, &mut ErrBuf) -> Option<i32>) {
        let token = match self.tokens.register(self.module, pending) {
            Ok(token) => token,
            Err(pending) => {
                return pending.fail(Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, closed_text(what)));
            }
        };
        let mut buf = ErrBuf::new();
        let failure = match start(token, &mut buf) {
            Some(0) => return,
            Some(rc) => Failure::error(
                ReturnCode(rc),
                buf.message(|| format!("the host's {what} failed with return code {rc}")),
            ),
            None => Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, closed_text(what)),
        };
        tracing::debug!(target: "migration", module = self.module, "{what} refused: {failure}");
        // The host may have completed the token before refusing; then there is nothing left.
        let pending = self.tokens.take(token);
        if let Some(pending) = pending {
            pending.fail(failure);
        }
    }

    /// Carries the module's answer to an inbound message back through the transport.
    pub(crate) fn reply(&self, reply_id: u64, outcome: Outcome<Vec<u8>>) {
        let failure = outcome.as_ref().err().map(OwnedFailure::new);
        let failure = failure.as_ref().map(OwnedFailure::view);
        let failure_ptr = failure.as_ref().map_or(ptr::null(), |f| f as *const dcm_failure);
        let (bytes, len) = match &outcome {
            Ok(bytes) => (bytes.as_ptr(), bytes.len()),
            Err(_) => (ptr::null(), 0),
        };
        let called = self.transport.call(self.module, |t| {
            if let Some(reply) = t.reply {
                // SAFETY: the host's callback, with pointers valid for the call.
                unsafe { reply(t.ctx, reply_id, bytes, len, failure_ptr) };
            }
        });
        if called.is_none() {
            tracing::debug!(target: "migration", module = self.module, reply_id, "reply dropped: module closed");
        }
    }
}

/// The state of one `for_each` call, reached through `visit_ctx`.
struct Visit<'a> {
    visit: &'a mut dyn FnMut(&ReplicaEntry) -> bool,
    error: Option<String>,
}

/// The `visit` function handed to the host's `for_each`.
unsafe extern "C" fn visit_entry(visit_ctx: *mut c_void, entry: *const dcm_replica_entry) -> bool {
    if visit_ctx.is_null() {
        return false;
    }
    // SAFETY: `visit_ctx` is the `Visit` that `for_each` passed, alive for the call.
    let visit = unsafe { &mut *(visit_ctx as *mut Visit<'_>) };
    if visit.error.is_some() {
        return false;
    }
    let step = catch_unwind(AssertUnwindSafe(|| {
        if entry.is_null() {
            return Err("the repository's for_each visited a NULL entry".to_string());
        }
        // SAFETY: the host passes a valid entry, borrowed for this call.
        match unsafe { (*entry).copy_in("entry") } {
            Ok(entry) => Ok((visit.visit)(&entry)),
            Err(e) => Err(format!("the repository's for_each visited an invalid entry: {}", e.message)),
        }
    }));
    match step {
        Ok(Ok(more)) => more,
        Ok(Err(error)) => {
            visit.error = Some(error);
            false
        }
        Err(_) => {
            visit.error = Some("internal error (panic) while visiting a replica".to_string());
            false
        }
    }
}

/// The state of one `entry` call, reached through `receive_ctx`.
#[derive(Default)]
struct Receive {
    entry: Option<std::result::Result<ReplicaEntry, String>>,
}

/// The `receive` function handed to the host's `entry`.
unsafe extern "C" fn receive_entry(receive_ctx: *mut c_void, entry: *const dcm_replica_entry) -> bool {
    if receive_ctx.is_null() {
        return false;
    }
    // SAFETY: `receive_ctx` is the `Receive` that `entry` passed, alive for the call.
    let receive = unsafe { &mut *(receive_ctx as *mut Receive) };
    if receive.entry.is_none() {
        let copied = catch_unwind(AssertUnwindSafe(|| {
            if entry.is_null() {
                return Err("the repository's entry received a NULL entry".to_string());
            }
            // SAFETY: the host passes a valid entry, borrowed for this call.
            unsafe { (*entry).copy_in("entry") }
                .map_err(|e| format!("the repository's entry returned an invalid entry: {}", e.message))
        }));
        receive.entry = Some(copied.unwrap_or_else(|_| Err("internal error (panic) while copying an entry".into())));
    }
    false
}

fn repository_error(status: i32, buf: &ErrBuf, what: &str) -> RepositoryError {
    let message = || buf.message(|| format!("the repository's {what} failed with status {status}"));
    match RepositoryStatus::try_from(status) {
        Ok(RepositoryStatus::Ok) => RepositoryError::Other(String::new()), // not reached: 0 is success
        Ok(RepositoryStatus::NotFound) => RepositoryError::NotFound,
        Ok(RepositoryStatus::IllegalTransition) => RepositoryError::IllegalTransition(message()),
        Ok(RepositoryStatus::Other) => RepositoryError::Other(message()),
        // Only a scan may answer that the repository is still loading (`for_each`, which
        // maps it itself); from a change it would read as "nothing to change" (the replica
        // gone), so that a move whose removal was never made would report the file moved.
        Ok(RepositoryStatus::NotLoaded) => {
            RepositoryError::Other(format!("{what} answered DCM_REPOSITORY_NOT_LOADED: {}", message()))
        }
        // Only the conditional changes answer it, and map it themselves: from another call it
        // is no answer that call can give.
        Ok(RepositoryStatus::Changed) => {
            RepositoryError::Other(format!("{what} answered DCM_REPOSITORY_CHANGED: {}", message()))
        }
        Err(e) => RepositoryError::Other(format!("{what}: {}: {}", e.message, message())),
    }
}

impl Repository for CHost {
    fn for_each(&self, visit: &mut dyn FnMut(&ReplicaEntry) -> bool) -> std::result::Result<(), RepositoryError> {
        let mut state = Visit { visit, error: None };
        let mut buf = ErrBuf::new();
        let rc = self
            .repository
            .call(self.module, |t| {
                let f = t.for_each.ok_or_else(|| missing_text("repository.for_each"))?;
                let visit_ctx = &mut state as *mut Visit<'_> as *mut c_void;
                // SAFETY: the host's callback; `visit_ctx` outlives the call.
                Ok(unsafe { f(t.ctx, Some(visit_entry), visit_ctx, buf.ptr(), buf.size()) })
            })
            .unwrap_or_else(|| Err(closed_text("repository.for_each")))
            .map_err(RepositoryError::Other)?;
        if let Some(error) = state.error {
            return Err(RepositoryError::Other(error));
        }
        match rc {
            0 => Ok(()),
            crate::constants::DCM_REPOSITORY_NOT_LOADED => Err(RepositoryError::NotLoaded),
            _ => Err(RepositoryError::Other(
                buf.message(|| format!("the repository's for_each failed with status {rc}")),
            )),
        }
    }

    fn verifies_checksums(&self) -> bool {
        self.repository.call(self.module, |t| t.verify_checksum.is_some()).unwrap_or(false)
    }

    fn accepts_copies(&self) -> bool {
        self.repository
            .call(self.module, |t| match t.accepts_copies {
                // SAFETY: the host's callback with its own context.
                Some(f) => unsafe { f(t.ctx) },
                None => true,
            })
            // A closed module accepts nothing.
            .unwrap_or(false)
    }

    fn entry(&self, pnfsid: &PnfsId) -> std::result::Result<Option<ReplicaEntry>, String> {
        let id = CPnfsId::new(pnfsid);
        let mut receive = Receive::default();
        let mut buf = ErrBuf::new();
        let rc = self
            .repository
            .call(self.module, |t| {
                let f = t.entry.ok_or_else(|| missing_text("repository.entry"))?;
                let receive_ctx = &mut receive as *mut Receive as *mut c_void;
                // SAFETY: the host's callback; `id` and `receive_ctx` outlive the call.
                Ok(unsafe { f(t.ctx, id.as_ptr(), Some(receive_entry), receive_ctx, buf.ptr(), buf.size()) })
            })
            .unwrap_or_else(|| Err(closed_text("repository.entry")))?;
        if rc != 0 {
            return Err(buf.message(|| format!("the repository's entry failed with status {rc}")));
        }
        // An entry of another file is refused by the module, for every host.
        match receive.entry {
            None => Ok(None),
            Some(result) => result.map(Some),
        }
    }

    fn set_state(
        &self,
        pnfsid: &PnfsId,
        state: ReplicaState,
        reason: &str,
    ) -> std::result::Result<(), RepositoryError> {
        let id = CPnfsId::new(pnfsid);
        let reason = cstring(reason);
        let mut buf = ErrBuf::new();
        let status = self
            .repository
            .call(self.module, |t| {
                let f = t.set_state.ok_or_else(|| missing_text("repository.set_state"))?;
                // SAFETY: the host's callback with strings that outlive the call.
                Ok(unsafe { f(t.ctx, id.as_ptr(), State::from(state).code(), reason.as_ptr(), buf.ptr(), buf.size()) })
            })
            .unwrap_or_else(|| Err(closed_text("repository.set_state")))
            .map_err(RepositoryError::Other)?;
        if status == 0 { Ok(()) } else { Err(repository_error(status, &buf, "set_state")) }
    }

    fn remove_if_unchanged(
        &self,
        pnfsid: &PnfsId,
        seen: &Durability,
        reason: &str,
    ) -> std::result::Result<(), RepositoryError> {
        let id = CPnfsId::new(pnfsid);
        let reason_text = cstring(reason);
        let records = OwnedSticky::new(&seen.sticky);
        let mut buf = ErrBuf::new();
        let called = self
            .repository
            .call(self.module, |t| {
                let f = t.remove_if_unchanged?;
                let state = State::from(seen.state).code();
                let (id, reason) = (id.as_ptr(), reason_text.as_ptr());
                // SAFETY: the host's callback with strings and records that outlive the call.
                Some(unsafe { f(t.ctx, id, state, records.ptr(), records.len(), reason, buf.ptr(), buf.size()) })
            })
            .ok_or_else(|| RepositoryError::Other(closed_text("repository.remove_if_unchanged")))?;
        // NULL: the two calls of a host that cannot look and remove at once.
        let Some(status) = called else { return host::remove_if_unchanged_in_two_steps(self, pnfsid, seen, reason) };
        match status {
            0 => Ok(()),
            crate::constants::DCM_REPOSITORY_CHANGED => Err(RepositoryError::Changed),
            _ => Err(repository_error(status, &buf, "remove_if_unchanged")),
        }
    }

    fn set_state_if_unchanged(
        &self,
        pnfsid: &PnfsId,
        seen: ReplicaState,
        state: ReplicaState,
        reason: &str,
    ) -> std::result::Result<(), RepositoryError> {
        let id = CPnfsId::new(pnfsid);
        let reason_text = cstring(reason);
        let mut buf = ErrBuf::new();
        let called = self
            .repository
            .call(self.module, |t| {
                let f = t.set_state_if_unchanged?;
                let (seen, state) = (State::from(seen).code(), State::from(state).code());
                // SAFETY: the host's callback with strings that outlive the call.
                Some(unsafe { f(t.ctx, id.as_ptr(), seen, state, reason_text.as_ptr(), buf.ptr(), buf.size()) })
            })
            .ok_or_else(|| RepositoryError::Other(closed_text("repository.set_state_if_unchanged")))?;
        // NULL: the two calls of a host that cannot look and change at once.
        let Some(status) = called else {
            return host::set_state_if_unchanged_in_two_steps(self, pnfsid, seen, state, reason);
        };
        match status {
            0 => Ok(()),
            crate::constants::DCM_REPOSITORY_CHANGED => Err(RepositoryError::Changed),
            _ => Err(repository_error(status, &buf, "set_state_if_unchanged")),
        }
    }

    fn set_sticky(
        &self,
        pnfsid: &PnfsId,
        record: &StickyRecord,
        overwrite: bool,
    ) -> std::result::Result<(), RepositoryError> {
        let id = CPnfsId::new(pnfsid);
        let owner = cstring(&record.owner);
        let mut buf = ErrBuf::new();
        let status = self
            .repository
            .call(self.module, |t| {
                let f = t.set_sticky.ok_or_else(|| missing_text("repository.set_sticky"))?;
                // SAFETY: the host's callback with strings that outlive the call.
                Ok(unsafe { f(t.ctx, id.as_ptr(), owner.as_ptr(), record.expire, overwrite, buf.ptr(), buf.size()) })
            })
            .unwrap_or_else(|| Err(closed_text("repository.set_sticky")))
            .map_err(RepositoryError::Other)?;
        if status == 0 { Ok(()) } else { Err(repository_error(status, &buf, "set_sticky")) }
    }

    fn verify_checksum(&self, pnfsid: &PnfsId) -> std::result::Result<(), Failure> {
        let id = CPnfsId::new(pnfsid);
        let mut buf = ErrBuf::new();
        let unexpected = |text: String| Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, text);
        let rc = self
            .repository
            .call(self.module, |t| {
                let f = t.verify_checksum.ok_or_else(|| missing_text("repository.verify_checksum"))?;
                // SAFETY: the host's callback with a string that outlives the call.
                Ok(unsafe { f(t.ctx, id.as_ptr(), buf.ptr(), buf.size()) })
            })
            .unwrap_or_else(|| Err(closed_text("repository.verify_checksum")))
            .map_err(unexpected)?;
        if rc == 0 {
            return Ok(());
        }
        Err(Failure::error(ReturnCode(rc), buf.message(|| format!("checksum verification failed with code {rc}"))))
    }
}

impl host::PoolManager for CHost {
    fn pools(&self, selection: PoolSelection, done: Completion<PoolList>) {
        let selection = OwnedSelection::new(&selection);
        self.issue("pool_manager.pools", Pending::Pools(done), |token, buf| {
            self.pool_manager
                .call(self.module, |t| {
                    let f = t.pools?;
                    // SAFETY: the host's callback; the selection outlives the call.
                    Some(unsafe { f(t.ctx, &selection.view(), token, buf.ptr(), buf.size()) })
                })
                .flatten()
        });
    }

    fn groups_of(&self, pool: &str, done: Completion<Vec<String>>) {
        let pool = cstring(pool);
        self.issue("pool_manager.groups_of", Pending::Groups(done), |token, buf| {
            self.pool_manager
                .call(self.module, |t| {
                    let f = t.groups_of?;
                    // SAFETY: the host's callback; the string outlives the call.
                    Some(unsafe { f(t.ctx, pool.as_ptr(), token, buf.ptr(), buf.size()) })
                })
                .flatten()
        });
    }
}

impl host::PnfsManager for CHost {
    fn cache_locations(&self, pnfsid: PnfsId, done: Completion<Vec<String>>) {
        let id = CPnfsId::new(&pnfsid);
        self.issue("pnfs_manager.cache_locations", Pending::Locations(done), |token, buf| {
            self.pnfs_manager
                .call(self.module, |t| {
                    let f = t.cache_locations?;
                    // SAFETY: the host's callback; the string outlives the call.
                    Some(unsafe { f(t.ctx, id.as_ptr(), token, buf.ptr(), buf.size()) })
                })
                .flatten()
        });
    }
}

impl CHost {
    fn send_bytes(&self, to: &CString, message: &[u8], token: u64, buf: &mut ErrBuf) -> Option<i32> {
        self.transport
            .call(self.module, |t| {
                let f = t.send?;
                // SAFETY: the host's callback; the bytes and name outlive the call.
                Some(unsafe { f(t.ctx, to.as_ptr(), message.as_ptr(), message.len(), token, buf.ptr(), buf.size()) })
            })
            .flatten()
    }
}

impl host::Transport for CHost {
    fn send(&self, to: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
        let to_c = cstring(to);
        match reply {
            Some(done) => self.issue("transport.send", Pending::Message(done), |token, buf| {
                self.send_bytes(&to_c, &message, token, buf)
            }),
            None => {
                // Nobody waits for a one-way message: a refusal is only logged; the peer's
                // own timeouts (pings) notice what went missing.
                let mut buf = ErrBuf::new();
                match self.send_bytes(&to_c, &message, 0, &mut buf) {
                    Some(0) => {}
                    rc => tracing::warn!(
                        target: "migration",
                        to,
                        "one-way message not sent ({rc:?}): {}",
                        buf.message(|| "the module is closed".to_string())
                    ),
                }
            }
        }
    }
}

impl host::P2p for CHost {
    fn start(&self, request: P2pRequest, done: Completion<()>) {
        let request = OwnedP2pRequest::new(&request);
        self.issue("p2p.start", Pending::Done(done), |token, buf| {
            self.p2p
                .call(self.module, |t| {
                    let f = t.start?;
                    let view: dcm_p2p_request = request.view();
                    // SAFETY: the host's callback; the request outlives the call.
                    Some(unsafe { f(t.ctx, &view, token, buf.ptr(), buf.size()) })
                })
                .flatten()
        });
    }

    fn cancel(&self, id: RequestId) {
        let id = cstring(&id.to_string());
        self.p2p.call(self.module, |t| {
            if let Some(f) = t.cancel {
                // SAFETY: the host's callback; the string outlives the call.
                unsafe { f(t.ctx, id.as_ptr()) };
            }
        });
    }
}

impl host::PinManager for CHost {
    fn move_pins(&self, request: PinMove, done: Completion<()>) {
        let request = OwnedPinMove::new(&request);
        self.issue("pin_manager.move_pins", Pending::Done(done), |token, buf| {
            self.pin_manager
                .call(self.module, |t| {
                    let f = t.move_pins?;
                    let view: dcm_pin_move = request.view();
                    // SAFETY: the host's callback; the request outlives the call.
                    Some(unsafe { f(t.ctx, &view, token, buf.ptr(), buf.size()) })
                })
                .flatten()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Still loading" answers a scan only: from a change it read as the replica being gone,
    /// and a move whose removal was never made reported the file moved.
    #[test]
    fn not_loaded_from_a_change_is_an_error() {
        let buf = ErrBuf::new();
        for what in ["set_state", "set_sticky", "remove_if_unchanged", "set_state_if_unchanged"] {
            match repository_error(4, &buf, what) {
                RepositoryError::Other(text) => assert!(text.contains("DCM_REPOSITORY_NOT_LOADED"), "{text}"),
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}
