//! The module handle (`dcm_module`) and everything a host does with it: create and free it,
//! execute command lines, feed repository events and messages, complete tokens, save and
//! replay setup lines.
//!
//! Live handles are kept in a registry keyed by address. Every function looks the handle up
//! there before touching it, so NULL, freed and foreign pointers are errors, never reads of
//! freed memory; the registry hands out an `Arc` of the module's state, so freeing a module
//! while another thread uses it is safe too.

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use migration_core::driver::pending::{Pending, PendingKind};
use migration_core::driver::runtime::{MAX_WORKER_THREADS, Options, Runtime};
use migration_core::error::Failure;
use migration_core::host::{self, Completion, Host, PoolList};
use migration_core::hotfile::ProtocolInfo;
use migration_core::input::RepositoryEvent;
use migration_core::{Config, Error, ErrorKind};
use parking_lot::Mutex;

use crate::callbacks::{CHost, dcm_host, in_callback_of};
use crate::constants::{DCM_ABI_VERSION, EventKind};
use crate::error::{Result, dcm_error, guard, guard_value, invalid, null};
use crate::strings::{Item, into_raw_string, opt_str_arg, slice_arg, str_arg, write_out};
use crate::types::{
    dcm_failure, dcm_pool_info, dcm_protocol_info, dcm_replica_entry, entry_from_c, failure_from_c, pnfsid_arg,
    strings_from_c,
};

/// The migration module of one pool. Opaque; created by `dcm_module_new`, freed by
/// `dcm_module_free`.
pub struct dcm_module {
    magic: u64,
    id: u64,
}

const MAGIC: u64 = 0x6463_6d5f_6d6f_6475; // "dcm_modu"

/// What a live handle refers to.
struct ModuleState {
    id: u64,
    runtime: Runtime,
    host: Arc<CHost>,
}

impl ModuleState {
    /// Stops the module: cancels its jobs (`pool shutdown`), stops its threads, then closes
    /// the host's tables (each `free` once) and drops outstanding tokens.
    fn close(&self) {
        self.runtime.shutdown();
        self.host.close();
    }
}

static MODULES: Mutex<BTreeMap<usize, Arc<ModuleState>>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn lookup(module: *const dcm_module) -> Result<Arc<ModuleState>> {
    if module.is_null() {
        return Err(null("module"));
    }
    let modules = MODULES.lock();
    let state = modules
        .get(&(module as usize))
        .ok_or_else(|| Error::new(ErrorKind::Closed, "the module was freed (or is not a module handle)"))?;
    // SAFETY: the registry holds the address, so the handle is allocated; it is freed only
    // after its removal, which needs this lock.
    let handle = unsafe { &*module };
    if handle.magic != MAGIC || handle.id != state.id {
        return Err(Error::new(ErrorKind::Internal, "the module handle was overwritten"));
    }
    Ok(Arc::clone(state))
}

/// The version of the ABI this library implements (`DCM_ABI_VERSION` of its header).
///
/// Errors: none. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn dcm_abi_version() -> u32 {
    guard_value(DCM_ABI_VERSION, || DCM_ABI_VERSION)
}

/// Settings of a module. Fill it with `dcm_config_default`, then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dcm_config {
    /// Threads of the module's runtime (1 to 256; default 2).
    pub worker_threads: u32,
    /// Seed of the module's randomness (target selection); 0 draws one from entropy.
    pub seed: u64,
    /// Timeout of requests to other pools, ms (`pool.service.pool.timeout`).
    pub pool_timeout_ms: i64,
    /// Timeout of location queries, ms (`pool.service.pnfsmanager.timeout`).
    pub namespace_timeout_ms: i64,
    /// Timeout of pool lists, ms (`pool.service.poolmanager.timeout`).
    pub pool_manager_timeout_ms: i64,
    /// Timeout of pin moves, ms (`pool.service.pinmanager.timeout`).
    pub pin_manager_timeout_ms: i64,
    /// The pin manager's name: sticky records whose owner starts with it are pins. Borrowed
    /// for the call to `dcm_module_new`; NULL means `PinManager`.
    pub pin_manager: *const c_char,
    /// `pool.migration.concurrency.default`.
    pub concurrency_default: i32,
    /// `pool.migration.refresh.default`, seconds.
    pub refresh_default_s: u64,
    /// `pool.migration.hotfile.replicas`.
    pub hotfile_replicas: i32,
    /// `pool.migration.hotfile.threshold`.
    pub hotfile_threshold: i64,
}

/// Fills `config` with the defaults (dCache's).
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` when `config` is NULL.
///
/// Threads: any.
///
/// # Safety
/// `config` is NULL or valid for writing a `dcm_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_config_default(config: *mut dcm_config) -> *mut dcm_error {
    guard(|| {
        if config.is_null() {
            return Err(null("config"));
        }
        let c = Config::default();
        let o = Options::default();
        let value = dcm_config {
            worker_threads: o.worker_threads as u32,
            seed: 0,
            pool_timeout_ms: c.pool_timeout,
            namespace_timeout_ms: c.namespace_timeout,
            pool_manager_timeout_ms: c.pool_manager_timeout,
            pin_manager_timeout_ms: c.pin_manager_timeout,
            pin_manager: ptr::null(),
            concurrency_default: c.concurrency_default,
            refresh_default_s: c.refresh_default,
            hotfile_replicas: c.hotfile_replicas,
            hotfile_threshold: c.hotfile_threshold,
        };
        // SAFETY: checked non-NULL; valid for writes (caller's contract).
        unsafe { ptr::write(config, value) };
        Ok(())
    })
}

/// The core's settings from a C config (NULL: defaults).
unsafe fn settings(config: *const dcm_config) -> Result<(Config, u32, Option<u64>)> {
    if config.is_null() {
        return Ok((Config::default(), Options::default().worker_threads as u32, None));
    }
    // SAFETY: caller's contract.
    let c = unsafe { &*config };
    if c.worker_threads == 0 || c.worker_threads as usize > MAX_WORKER_THREADS {
        let text = format!("config.worker_threads must be 1 to {MAX_WORKER_THREADS}, not {}", c.worker_threads);
        return Err(invalid(text));
    }
    // SAFETY: caller's contract.
    let pin_manager = unsafe { opt_str_arg(c.pin_manager, "config.pin_manager") }?.unwrap_or("PinManager");
    // The values themselves are checked by `Config::validate`, the same rule as Java's.
    let config = Config {
        pool_timeout: c.pool_timeout_ms,
        namespace_timeout: c.namespace_timeout_ms,
        pool_manager_timeout: c.pool_manager_timeout_ms,
        pin_manager_timeout: c.pin_manager_timeout_ms,
        pin_manager: pin_manager.to_string(),
        concurrency_default: c.concurrency_default,
        refresh_default: c.refresh_default_s,
        hotfile_replicas: c.hotfile_replicas,
        hotfile_threshold: c.hotfile_threshold,
    };
    config.validate()?;
    Ok((config, c.worker_threads, (c.seed != 0).then_some(c.seed)))
}

/// Creates the migration module of pool `pool` and writes its handle to `*out`. Its jobs
/// start only after `dcm_module_pool_started` (replay the saved setup first).
///
/// Ownership: the module takes every `ctx` of `host`, whether this succeeds or not: each
/// table's `free` is called exactly once, by `dcm_module_free`, or before this function
/// returns an error. `host` itself and `config` are only read during the call.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for a NULL `host` or `out`, a NULL required
/// callback, an empty or non-UTF-8 `pool`, an invalid `config`; `DCM_ERROR_INTERNAL` when the
/// module's threads cannot start. `*out` is NULL after an error.
///
/// Threads: any. The module's threads start here; no callback runs before this returns.
///
/// # Safety
/// `pool` is NULL or a NUL-terminated string; `host` and `config` are NULL or valid;
/// `out` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_new(
    pool: *const c_char,
    host: *const dcm_host,
    config: *const dcm_config,
    out: *mut *mut dcm_module,
) -> *mut dcm_error {
    guard(|| {
        // SAFETY: caller's contract.
        unsafe { write_out(out, ptr::null_mut()) };
        if host.is_null() {
            return Err(null("host"));
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // Take the tables first: from here on, an error (or a panic) drops them, which calls
        // every `free` exactly once.
        // SAFETY: `host` is valid for reads (caller's contract); the tables are plain data.
        let chost = Arc::new(CHost::new(id, unsafe { ptr::read(host) })?);
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: caller's contract.
        let pool = unsafe { str_arg(pool, "pool") }?;
        if pool.is_empty() {
            return Err(invalid("pool is empty"));
        }
        // SAFETY: caller's contract.
        let (config, worker_threads, seed) = unsafe { settings(config) }?;
        let options = Options {
            worker_threads: worker_threads as usize,
            seed,
            thread_name: format!("{pool}-migration"),
            ..Options::default()
        };
        let host = Host {
            repository: Arc::clone(&chost) as Arc<dyn host::Repository>,
            pool_manager: Arc::clone(&chost) as Arc<dyn host::PoolManager>,
            pnfs_manager: Arc::clone(&chost) as Arc<dyn host::PnfsManager>,
            transport: Arc::clone(&chost) as Arc<dyn host::Transport>,
            p2p: Arc::clone(&chost) as Arc<dyn host::P2p>,
            pin_manager: Arc::clone(&chost) as Arc<dyn host::PinManager>,
        };
        let runtime = Runtime::start(pool, config, host, options)?;
        let state = Arc::new(ModuleState { id, runtime, host: chost });
        let handle = Box::into_raw(Box::new(dcm_module { magic: MAGIC, id }));
        MODULES.lock().insert(handle as usize, state);
        // SAFETY: checked non-NULL above.
        unsafe { *out = handle };
        Ok(())
    })
}

/// Frees a module: cancels its jobs (reason `pool shutdown`, telling targets to drop their
/// transfers), stops its threads, calls each host table's `free` once (after the callbacks in
/// flight of every table have returned, so that tables may share one context) and drops
/// outstanding tokens; completing them later is an error.
/// When it returns, no callback of the module runs any more.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for NULL; `DCM_ERROR_CLOSED` when freed already
/// (a double free is harmless); `DCM_ERROR_REENTRANT` when called from inside one of the
/// module's own callbacks (the module stays alive).
///
/// Threads: any, except from inside this module's own callbacks; the cancel messages of its
/// jobs go through its callbacks on this thread before it returns.
///
/// # Safety
/// Any pointer value is accepted; only live handles are used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_free(module: *mut dcm_module) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        if in_callback_of(state.id) {
            return Err(Error::new(
                ErrorKind::Reentrant,
                "dcm_module_free called from inside one of the module's own callbacks",
            ));
        }
        // Only the module looked up above: if another thread freed it meanwhile and a new
        // module took its address, that one is not this call's to free.
        let removed = {
            let mut modules = MODULES.lock();
            match modules.get(&(module as usize)) {
                Some(current) if Arc::ptr_eq(current, &state) => modules.remove(&(module as usize)),
                _ => None,
            }
        };
        if removed.is_none() {
            return Err(Error::new(ErrorKind::Closed, "the module was freed (or is not a module handle)"));
        }
        // SAFETY: this thread removed the live address, so it alone frees the box.
        drop(unsafe { Box::from_raw(module) });
        state.close();
        Ok(())
    })
}

/// Reports that the pool finished starting: jobs created so far (e.g. replayed permanent
/// jobs) start.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` (NULL), `DCM_ERROR_CLOSED` (freed handle).
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// Any pointer value is accepted; only live handles are used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_pool_started(module: *mut dcm_module) -> *mut dcm_error {
    guard(|| {
        lookup(module)?.runtime.pool_started();
        Ok(())
    })
}

/// Executes one admin command line (`migration move …`, `migration info 1`, `help …`) and
/// writes its output to `*output` (free it with `dcm_string_free`; pass NULL to discard).
///
/// Errors: the command's own (`DCM_ERROR_SYNTAX`, `DCM_ERROR_NOT_FOUND` for an unknown job,
/// `DCM_ERROR_STATE`, …) with dCache's message; `DCM_ERROR_INVALID_ARGUMENT` for NULL or
/// non-UTF-8 `line`; `DCM_ERROR_CLOSED`. `*output` is NULL after an error.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `line` is NULL or a NUL-terminated string; `output` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_execute(
    module: *mut dcm_module,
    line: *const c_char,
    output: *mut *mut c_char,
) -> *mut dcm_error {
    guard(|| {
        // SAFETY: caller's contract.
        unsafe { write_out(output, ptr::null_mut()) };
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let line = unsafe { str_arg(line, "line") }?;
        let text = state.runtime.execute(line)?;
        if !output.is_null() {
            // SAFETY: caller's contract.
            unsafe { *output = into_raw_string(&text) };
        }
        Ok(())
    })
}

/// Reports a change in the pool's repository (`DCM_EVENT_*`). `before` and `after` are
/// borrowed and copied. For `DCM_EVENT_STATE_CHANGED`, `after` is the entry after the
/// change (state `DCM_STATE_REMOVED` for a deleted replica) and `before` may be NULL for a
/// new replica; the other kinds need both, for the same file.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for an unknown kind, a missing or invalid entry;
/// `DCM_ERROR_CLOSED`.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads. Report a change from inside
/// `set_state`/`set_sticky` like any other.
///
/// # Safety
/// `before` and `after` are NULL or valid entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_repository_event(
    module: *mut dcm_module,
    kind: i32,
    before: *const dcm_replica_entry,
    after: *const dcm_replica_entry,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        let kind = EventKind::try_from(kind)?;
        // SAFETY: caller's contract.
        let before = unsafe { entry_from_c(before, "before") }?;
        // SAFETY: caller's contract.
        let after = unsafe { entry_from_c(after, "after") }?.ok_or_else(|| null("after"))?;
        let event = match kind {
            EventKind::StateChanged => RepositoryEvent::state_changed(before, after)?,
            EventKind::StickyChanged => RepositoryEvent::sticky_changed(before.ok_or_else(|| null("before"))?, after)?,
            EventKind::AccessTimeChanged => {
                RepositoryEvent::access_time_changed(before.ok_or_else(|| null("before"))?, after)?
            }
        };
        state.runtime.repository_event(event);
        Ok(())
    })
}

/// Delivers `len` bytes that the module of pool `from` sent to this one (its transport's
/// `send`). With a non-zero `reply_id` the sender waits for an answer: this module answers
/// later, exactly once, through its transport's `reply(ctx, reply_id, …)`. `reply_id` is the
/// host's own number; the module only hands it back.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` (NULL or non-UTF-8 `from`, NULL `bytes` with
/// `len` > 0); `DCM_ERROR_CLOSED`. Malformed bytes are not an error here: the module answers
/// them with an error reply.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads. The answer (`reply`) may come before this
/// returns.
///
/// # Safety
/// `from` is NULL or a NUL-terminated string; `bytes` is NULL or `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_deliver(
    module: *mut dcm_module,
    from: *const c_char,
    bytes: *const u8,
    len: usize,
    reply_id: u64,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let from = unsafe { str_arg(from, "from") }?;
        // SAFETY: caller's contract.
        let bytes = unsafe { slice_arg(bytes, len, "bytes") }?.to_vec();
        let reply = (reply_id != 0).then(|| {
            let host = Arc::clone(&state.host);
            Completion::new(move |outcome| host.reply(reply_id, outcome))
        });
        state.runtime.deliver(from, bytes, reply);
        Ok(())
    })
}

fn outcome<T>(failure: Option<Failure>, value: impl FnOnce() -> Result<T>) -> Result<std::result::Result<T, Failure>> {
    match failure {
        Some(failure) => Ok(Err(failure)),
        None => value().map(Ok),
    }
}

fn wrong_kind(token: u64) -> Error {
    Error::new(ErrorKind::Internal, format!("token {token} changed kind"))
}

/// Completes a p2p transfer (`p2p.start`) or a pin move (`pin_manager.move_pins`):
/// `failure` NULL is success.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` for an unknown, already completed or other kind of
/// token (it stays outstanding) or an invalid `failure`; `DCM_ERROR_CLOSED`.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads. A token may be completed from inside the
/// callback that received it.
///
/// # Safety
/// `failure` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_complete(
    module: *mut dcm_module,
    token: u64,
    failure: *const dcm_failure,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let result = outcome(unsafe { failure_from_c(failure) }?, || Ok(()))?;
        match state.host.take(token, PendingKind::Done)? {
            Pending::Done(done) => done.complete(result),
            _ => return Err(wrong_kind(token)),
        }
        Ok(())
    })
}

/// Completes a message sent with a token (`transport.send`): the peer's reply (`len` bytes,
/// copied) when `failure` is NULL, else the failure (`DCM_FAILURE_NO_ROUTE`, …).
///
/// Errors: as `dcm_module_complete`; also NULL `bytes` with `len` > 0.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `bytes` is NULL or `len` readable bytes; `failure` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_complete_message(
    module: *mut dcm_module,
    token: u64,
    bytes: *const u8,
    len: usize,
    failure: *const dcm_failure,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let result = outcome(unsafe { failure_from_c(failure) }?, || {
            // SAFETY: caller's contract.
            Ok(unsafe { slice_arg(bytes, len, "bytes") }?.to_vec())
        })?;
        match state.host.take(token, PendingKind::Message)? {
            Pending::Message(done) => done.complete(result),
            _ => return Err(wrong_kind(token)),
        }
        Ok(())
    })
}

/// Completes a location query (`pnfs_manager.cache_locations`) with `count` pool names
/// (copied), or a failure (`DCM_RC_FILE_NOT_FOUND` for a deleted file).
///
/// Errors: as `dcm_module_complete`; also a NULL or non-UTF-8 name.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `pools` is NULL or `count` NUL-terminated strings; `failure` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_complete_locations(
    module: *mut dcm_module,
    token: u64,
    pools: *const *const c_char,
    count: usize,
    failure: *const dcm_failure,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let result = outcome(unsafe { failure_from_c(failure) }?, || unsafe { strings_from_c(pools, count, "pools") })?;
        match state.host.take(token, PendingKind::Locations)? {
            Pending::Locations(done) => done.complete(result),
            _ => return Err(wrong_kind(token)),
        }
        Ok(())
    })
}

/// Completes a pool query (`pool_manager.pools`) with `count` pools (copied), in the pool
/// manager's order, or a failure.
///
/// Errors: as `dcm_module_complete`; also an invalid pool.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `pools` is NULL or `count` valid pools; `failure` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_complete_pools(
    module: *mut dcm_module,
    token: u64,
    pools: *const dcm_pool_info,
    count: usize,
    failure: *const dcm_failure,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let result = outcome(unsafe { failure_from_c(failure) }?, || {
            // SAFETY: caller's contract.
            let items = unsafe { slice_arg(pools, count, "pools") }?;
            let pools = items
                .iter()
                .enumerate()
                // SAFETY: each pool is valid (caller's contract).
                .map(|(i, p)| unsafe { p.copy_in(Item("pools", i, "")) })
                .collect::<Result<Vec<_>>>()?;
            Ok(PoolList { pools })
        })?;
        match state.host.take(token, PendingKind::Pools)? {
            Pending::Pools(done) => done.complete(result),
            _ => return Err(wrong_kind(token)),
        }
        Ok(())
    })
}

/// Completes a pool-group query (`pool_manager.groups_of`) with `count` group names
/// (copied), or a failure.
///
/// Errors: as `dcm_module_complete_locations`.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `groups` is NULL or `count` NUL-terminated strings; `failure` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_complete_groups(
    module: *mut dcm_module,
    token: u64,
    groups: *const *const c_char,
    count: usize,
    failure: *const dcm_failure,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let result =
            outcome(unsafe { failure_from_c(failure) }?, || unsafe { strings_from_c(groups, count, "groups") })?;
        match state.host.take(token, PendingKind::Groups)? {
            Pending::Groups(done) => done.complete(result),
            _ => return Err(wrong_kind(token)),
        }
        Ok(())
    })
}

/// Writes the module's section of the pool's setup file (what `save` writes) to `*output`:
/// lines separated by `\n`, each a command (changed defaults, running permanent jobs).
/// Free it with `dcm_string_free`.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` (NULL `output`), `DCM_ERROR_CLOSED`.
///
/// Threads: any.
///
/// # Safety
/// `output` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_setup_lines(module: *mut dcm_module, output: *mut *mut c_char) -> *mut dcm_error {
    guard(|| {
        // SAFETY: caller's contract.
        unsafe { write_out(output, ptr::null_mut()) };
        let state = lookup(module)?;
        if output.is_null() {
            return Err(null("output"));
        }
        let lines = state.runtime.call(|module, _| module.setup_lines())?;
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        // SAFETY: checked non-NULL above.
        unsafe { *output = into_raw_string(&text) };
        Ok(())
    })
}

fn setup_errors(total: usize, errors: Vec<(String, Error)>) -> Result<()> {
    let Some((_, first)) = errors.first() else { return Ok(()) };
    let kind = first.kind;
    let mut message = format!("{} of {total} setup lines failed:", errors.len());
    for (line, error) in &errors {
        message.push_str(&format!("\n{line}: {error}"));
    }
    Err(Error::new(kind, message))
}

/// The lines of a setup text.
///
/// # Safety
/// `lines` is NULL or a NUL-terminated string.
unsafe fn setup_text(lines: *const c_char) -> Result<Vec<String>> {
    // SAFETY: caller's contract.
    let text = unsafe { str_arg(lines, "lines") }?;
    Ok(text.lines().map(str::to_string).collect())
}

fn commands(lines: &[String]) -> usize {
    lines.iter().filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#')).count()
}

/// Executes saved setup lines at pool start (before `dcm_module_pool_started`): `lines` is
/// the module's section as `dcm_module_setup_lines` wrote it (blank lines and `#` comments
/// are skipped). Every line is tried; lines that succeed take effect even when others fail.
///
/// Errors: when any line fails, one error with the code of the first failure and a message
/// listing each failed line with its error; `DCM_ERROR_INVALID_ARGUMENT`; `DCM_ERROR_CLOSED`.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `lines` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_replay(module: *mut dcm_module, lines: *const c_char) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let lines = unsafe { setup_text(lines) }?;
        let errors = state.runtime.call(|module, now| module.replay(now, &lines))?;
        setup_errors(commands(&lines), errors)
    })
}

/// Re-executes setup lines on a running pool (dCache's `reload`): running permanent jobs
/// are first cancelled (reason `reloading config`) so that none is duplicated; then as
/// `dcm_module_replay`.
///
/// Errors: as `dcm_module_replay`.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `lines` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_reload(module: *mut dcm_module, lines: *const c_char) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let lines = unsafe { setup_text(lines) }?;
        let errors = state.runtime.call(|module, now| module.reload(now, &lines))?;
        setup_errors(commands(&lines), errors)
    })
}

/// Checks setup lines without executing them, as dCache does before a `reload`: every line
/// is parsed and run on a scratch copy of the module, which is then dropped. Nothing in this
/// module changes.
///
/// Errors: as `dcm_module_replay` (one error listing each failing line); NULL means every
/// line is valid.
///
/// Threads: any, also from inside a callback.
///
/// # Safety
/// `lines` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_validate(module: *mut dcm_module, lines: *const c_char) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let lines = unsafe { setup_text(lines) }?;
        let errors = state.runtime.call(|module, _| module.validate(&lines))?;
        setup_errors(commands(&lines), errors)
    })
}

/// The pool's repository finished loading. Call it after `for_each` answered
/// `DCM_REPOSITORY_NOT_LOADED`: jobs that found the repository loading scan it now (they
/// also retry every 10 s, so a late or missing call delays them but loses nothing).
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` (NULL), `DCM_ERROR_CLOSED`.
///
/// Threads: any, also from inside a callback.
///
/// # Safety
/// Any pointer value is accepted; only live handles are used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_repository_loaded(module: *mut dcm_module) -> *mut dcm_error {
    guard(|| {
        lookup(module)?.runtime.repository_loaded();
        Ok(())
    })
}

/// Tells the module whether this pool accepts replicas from other pools (false while the
/// pool is disabled for p2p-client, e.g. `pool disable -rdonly`); copy requests are then
/// refused with `Pool is disabled` without asking the repository's `accepts_copies`. The
/// default is true, and then `accepts_copies` is asked for each request.
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` (NULL), `DCM_ERROR_CLOSED`.
///
/// Threads: any.
///
/// # Safety
/// Any pointer value is accepted; only live handles are used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_set_accepts_copies(module: *mut dcm_module, accepts: bool) -> *mut dcm_error {
    guard(|| {
        lookup(module)?.runtime.call(|module, _| module.set_accepts_copies(accepts))?;
        Ok(())
    })
}

/// Reports a read of `pnfsid` with `readers` concurrent (non-p2p) readers, for hot-file
/// replication: at the threshold (`hotfile set threshold`) the module creates a job that
/// copies the file to pools that may serve its reads. `protocol` may be NULL (unknown).
///
/// Errors: `DCM_ERROR_INVALID_ARGUMENT` (bad id, NULL or non-UTF-8 strings),
/// `DCM_ERROR_CLOSED`.
///
/// Threads: any, also from inside a callback; the callbacks it causes may run on this thread
/// before it returns, or on the module's threads.
///
/// # Safety
/// `pnfsid` is NULL or a NUL-terminated string; `protocol` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dcm_module_report_readers(
    module: *mut dcm_module,
    pnfsid: *const c_char,
    readers: i64,
    protocol: *const dcm_protocol_info,
) -> *mut dcm_error {
    guard(|| {
        let state = lookup(module)?;
        // SAFETY: caller's contract.
        let pnfsid = unsafe { pnfsid_arg(pnfsid, "pnfsid") }?;
        let protocol = if protocol.is_null() {
            None
        } else {
            // SAFETY: caller's contract.
            let p = unsafe { &*protocol };
            // SAFETY: caller's contract.
            let (name, client) =
                unsafe { (str_arg(p.protocol, "protocol.protocol")?, opt_str_arg(p.client, "protocol.client")?) };
            Some(ProtocolInfo::new(name, p.major.into(), p.minor.into(), client.map(str::to_string)))
        };
        state.runtime.call(|module, _| module.report_readers(pnfsid, readers, protocol.as_ref()))?;
        Ok(())
    })
}

/// The number of live module handles.
#[cfg(test)]
pub(crate) fn live_modules() -> usize {
    MODULES.lock().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::{
        dcm_p2p, dcm_pin_manager, dcm_pnfs_manager, dcm_pool_manager, dcm_replica_visitor, dcm_repository,
        dcm_transport,
    };
    use crate::error::{dcm_error_code, dcm_error_free, dcm_error_message};
    use crate::strings::dcm_string_free;
    use crate::types::{dcm_p2p_request, dcm_pin_move, dcm_pool_selection};
    use std::ffi::{CStr, c_void};
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    /// A host that answers nothing: it records the tokens it is given and counts frees.
    #[derive(Default)]
    struct Recorder {
        frees: AtomicUsize,
        pool_tokens: Mutex<Vec<u64>>,
        loading: std::sync::atomic::AtomicBool,
    }

    fn recorder(ctx: *mut c_void) -> &'static Recorder {
        // SAFETY: every test passes a `Recorder` that outlives its module.
        unsafe { &*(ctx as *const Recorder) }
    }

    unsafe extern "C" fn free(ctx: *mut c_void) {
        recorder(ctx).frees.fetch_add(1, Ordering::SeqCst);
    }
    unsafe extern "C" fn for_each(
        ctx: *mut c_void,
        _: dcm_replica_visitor,
        _: *mut c_void,
        _: *mut c_char,
        _: usize,
    ) -> i32 {
        if recorder(ctx).loading.load(Ordering::SeqCst) { crate::DCM_REPOSITORY_NOT_LOADED } else { 0 }
    }
    unsafe extern "C" fn entry(
        _: *mut c_void,
        _: *const c_char,
        _: dcm_replica_visitor,
        _: *mut c_void,
        _: *mut c_char,
        _: usize,
    ) -> i32 {
        0
    }
    unsafe extern "C" fn set_state(
        _: *mut c_void,
        _: *const c_char,
        _: i32,
        _: *const c_char,
        _: *mut c_char,
        _: usize,
    ) -> i32 {
        crate::DCM_REPOSITORY_NOT_FOUND
    }
    unsafe extern "C" fn set_sticky(
        _: *mut c_void,
        _: *const c_char,
        _: *const c_char,
        _: i64,
        _: bool,
        _: *mut c_char,
        _: usize,
    ) -> i32 {
        crate::DCM_REPOSITORY_NOT_FOUND
    }
    unsafe extern "C" fn verify(_: *mut c_void, _: *const c_char, _: *mut c_char, _: usize) -> i32 {
        0
    }
    unsafe extern "C" fn pools(
        ctx: *mut c_void,
        _: *const dcm_pool_selection,
        token: u64,
        _: *mut c_char,
        _: usize,
    ) -> i32 {
        recorder(ctx).pool_tokens.lock().push(token);
        0
    }
    unsafe extern "C" fn groups_of(_: *mut c_void, _: *const c_char, _: u64, errbuf: *mut c_char, size: usize) -> i32 {
        let text = c"no groups here";
        // SAFETY: `errbuf` has `size` bytes.
        unsafe { ptr::copy_nonoverlapping(text.as_ptr(), errbuf, text.to_bytes_with_nul().len().min(size)) };
        crate::DCM_RC_SERVICE_UNAVAILABLE
    }
    unsafe extern "C" fn locations(_: *mut c_void, _: *const c_char, _: u64, _: *mut c_char, _: usize) -> i32 {
        crate::DCM_RC_FILE_NOT_FOUND
    }
    unsafe extern "C" fn send(
        _: *mut c_void,
        _: *const c_char,
        _: *const u8,
        _: usize,
        _: u64,
        _: *mut c_char,
        _: usize,
    ) -> i32 {
        crate::DCM_RC_SERVICE_UNAVAILABLE
    }
    unsafe extern "C" fn reply(_: *mut c_void, _: u64, _: *const u8, _: usize, _: *const dcm_failure) {}
    unsafe extern "C" fn start(_: *mut c_void, _: *const dcm_p2p_request, _: u64, _: *mut c_char, _: usize) -> i32 {
        crate::DCM_RC_POOL_DISABLED
    }
    unsafe extern "C" fn cancel(_: *mut c_void, _: *const c_char) {}
    unsafe extern "C" fn move_pins(_: *mut c_void, _: *const dcm_pin_move, _: u64, _: *mut c_char, _: usize) -> i32 {
        crate::DCM_RC_SERVICE_UNAVAILABLE
    }

    fn host(r: &Recorder) -> dcm_host {
        let ctx = r as *const Recorder as *mut c_void;
        dcm_host {
            repository: dcm_repository {
                ctx,
                for_each: Some(for_each),
                entry: Some(entry),
                set_state: Some(set_state),
                set_sticky: Some(set_sticky),
                verify_checksum: Some(verify),
                accepts_copies: None,
                free: Some(free),
                remove_if_unchanged: None,
                set_state_if_unchanged: None,
            },
            pool_manager: dcm_pool_manager { ctx, pools: Some(pools), groups_of: Some(groups_of), free: Some(free) },
            pnfs_manager: dcm_pnfs_manager { ctx, cache_locations: Some(locations), free: Some(free) },
            transport: dcm_transport { ctx, send: Some(send), reply: Some(reply), free: Some(free) },
            p2p: dcm_p2p { ctx, start: Some(start), cancel: Some(cancel), free: Some(free) },
            pin_manager: dcm_pin_manager { ctx, move_pins: Some(move_pins), free: Some(free) },
        }
    }

    fn new_module(r: &Recorder) -> *mut dcm_module {
        let mut m = ptr::null_mut();
        let e = unsafe { dcm_module_new(c"pool1".as_ptr(), &host(r), ptr::null(), &mut m) };
        assert!(e.is_null(), "{}", message(e));
        m
    }

    /// The message of `e` (freeing it), or "" for success.
    fn message(e: *mut dcm_error) -> String {
        if e.is_null() {
            return String::new();
        }
        let text = unsafe { CStr::from_ptr(dcm_error_message(e)) }.to_string_lossy().into_owned();
        unsafe { dcm_error_free(e) };
        text
    }

    /// The code of `e` (freeing it), 0 for success.
    fn code(e: *mut dcm_error) -> u32 {
        let c = unsafe { dcm_error_code(e) };
        unsafe { dcm_error_free(e) };
        c
    }

    fn execute(m: *mut dcm_module, line: &CStr) -> std::result::Result<String, (u32, String)> {
        let mut out = ptr::null_mut();
        let e = unsafe { dcm_module_execute(m, line.as_ptr(), &mut out) };
        if !e.is_null() {
            let c = unsafe { dcm_error_code(e) };
            return Err((c, message(e)));
        }
        let text = unsafe { CStr::from_ptr(out) }.to_string_lossy().into_owned();
        unsafe { dcm_string_free(out) };
        Ok(text)
    }

    #[test]
    fn a_freed_module_is_closed_and_its_tables_are_freed_once() {
        let r = Recorder::default();
        let m = new_module(&r);
        assert!(live_modules() >= 1);
        assert_eq!(execute(m, c"migration ls"), Ok(String::new()));
        assert_eq!(code(unsafe { dcm_module_free(m) }), 0);
        assert_eq!(r.frees.load(Ordering::SeqCst), 6);
        assert_eq!(execute(m, c"migration ls").map_err(|e| e.0), Err(ErrorKind::Closed.code()));
        assert_eq!(code(unsafe { dcm_module_free(m) }), ErrorKind::Closed.code());
        assert_eq!(code(unsafe { dcm_module_free(ptr::null_mut()) }), ErrorKind::InvalidArgument.code());
        assert_eq!(r.frees.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn a_failed_creation_frees_every_table_once() {
        let r = Recorder::default();
        let mut h = host(&r);
        h.pin_manager.move_pins = None;
        let mut m = ptr::null_mut();
        let e = unsafe { dcm_module_new(c"pool1".as_ptr(), &h, ptr::null(), &mut m) };
        assert_eq!(message(e), "host.pin_manager.move_pins is NULL");
        assert!(m.is_null());
        assert_eq!(r.frees.load(Ordering::SeqCst), 6);

        let r = Recorder::default();
        let e = unsafe { dcm_module_new(c"pool\xff".as_ptr(), &host(&r), ptr::null(), &mut m) };
        assert!(message(e).starts_with("pool is not valid UTF-8"));
        assert_eq!(r.frees.load(Ordering::SeqCst), 6);

        let r = Recorder::default();
        let mut config = unsafe { std::mem::zeroed::<dcm_config>() };
        assert_eq!(code(unsafe { dcm_config_default(&mut config) }), 0);
        config.pool_timeout_ms = 0;
        let e = unsafe { dcm_module_new(c"pool1".as_ptr(), &host(&r), &config, &mut m) };
        assert_eq!(message(e), "config.pool_timeout must be positive, not 0");
        assert_eq!(r.frees.load(Ordering::SeqCst), 6);

        // A default refresh beyond a Java int would be read as a negative one, and every job
        // without -refresh refused.
        let r = Recorder::default();
        assert_eq!(code(unsafe { dcm_config_default(&mut config) }), 0);
        config.refresh_default_s = 1 << 63;
        let e = unsafe { dcm_module_new(c"pool1".as_ptr(), &host(&r), &config, &mut m) };
        assert_eq!(message(e), format!("config.refresh_default must be at most {}, not {}", i32::MAX, 1u64 << 63));
        assert!(m.is_null());
    }

    /// A count no array can have (a negative `int` passed as `size_t`) is an invalid argument,
    /// not an abort of the process (debug) or undefined behaviour (release).
    #[test]
    fn an_impossible_count_is_an_invalid_argument() {
        let r = Recorder::default();
        let m = new_module(&r);
        let e = unsafe { dcm_module_deliver(m, c"pool2".as_ptr(), b"x".as_ptr(), usize::MAX, 0) };
        assert_eq!(code(e), ErrorKind::InvalidArgument.code());
        let groups = [c"g".as_ptr()];
        let e = unsafe { dcm_module_complete_groups(m, 1, groups.as_ptr(), usize::MAX / 2, ptr::null()) };
        assert_eq!(code(e), ErrorKind::InvalidArgument.code());
        unsafe { dcm_error_free(dcm_module_free(m)) };
    }

    #[test]
    fn commands_answer_output_or_dcache_errors() {
        let r = Recorder::default();
        let m = new_module(&r);
        assert_eq!(execute(m, c"migration info 7"), Err((ErrorKind::NotFound.code(), "Job not found".to_string())));
        assert_eq!(execute(m, c"migration frobnicate").map_err(|e| e.0), Err(ErrorKind::Syntax.code()));
        let e = unsafe { dcm_module_execute(m, c"migration ls \xc3\x28".as_ptr(), ptr::null_mut()) };
        assert_eq!(code(e), ErrorKind::InvalidArgument.code());
        assert_eq!(execute(m, c"migration set concurrency-default 4").map(|_| ()), Ok(()));
        let mut lines = ptr::null_mut();
        assert_eq!(code(unsafe { dcm_module_setup_lines(m, &mut lines) }), 0);
        let text = unsafe { CStr::from_ptr(lines) }.to_string_lossy().into_owned();
        assert!(text.contains("migration set concurrency-default 4\n"), "{text}");
        let other = new_module(&r);
        assert_eq!(code(unsafe { dcm_module_replay(other, lines) }), 0);
        assert_eq!(execute(other, c"migration get concurrency-default").map(|s| s.contains('4')), Ok(true));
        let e =
            unsafe { dcm_module_reload(other, c"migration set concurrency-default 2\nmigration nonsense\n".as_ptr()) };
        assert!(message(e).starts_with("1 of 2 setup lines failed:\nmigration nonsense: "));
        assert_eq!(execute(other, c"migration get concurrency-default").map(|s| s.contains('2')), Ok(true));
        unsafe { dcm_string_free(lines) };
        assert_eq!(code(unsafe { dcm_module_free(other) }), 0);
        assert_eq!(code(unsafe { dcm_module_free(m) }), 0);
    }

    #[test]
    fn tokens_complete_once_with_their_own_function_and_die_with_the_module() {
        let r = Recorder::default();
        let m = new_module(&r);
        assert_eq!(code(unsafe { dcm_module_pool_started(m) }), 0);
        let created = execute(m, c"migration copy pool2").expect("job created");
        assert!(created.starts_with("[1]"), "{created}");
        // The job asks for its pools once its scan is done, on one of the module's threads.
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.pool_tokens.lock().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let token = *r.pool_tokens.lock().first().expect("the job asked for its pools");
        let wrong = unsafe { dcm_module_complete(m, token, ptr::null()) };
        assert_eq!(
            message(wrong),
            format!("token {token} must be completed with dcm_module_complete_pools, not dcm_module_complete")
        );
        let bad = dcm_failure { kind: crate::DCM_FAILURE_ERROR, code: 0, cause: ptr::null() };
        assert_eq!(code(unsafe { dcm_module_complete_pools(m, token, ptr::null(), 0, &bad) }), 5);
        assert_eq!(code(unsafe { dcm_module_complete_pools(m, token, ptr::null(), 0, ptr::null()) }), 0);
        let again = unsafe { dcm_module_complete_pools(m, token, ptr::null(), 0, ptr::null()) };
        assert_eq!(message(again), format!("unknown token {token}: never issued, or already completed"));
        // Tokens still outstanding when the module is freed are dropped.
        let outstanding: Vec<u64> = r.pool_tokens.lock().iter().copied().filter(|t| *t != token).collect();
        assert_eq!(code(unsafe { dcm_module_free(m) }), 0);
        for t in outstanding {
            assert_eq!(code(unsafe { dcm_module_complete_pools(m, t, ptr::null(), 0, ptr::null()) }), 6);
        }
    }

    #[test]
    fn events_and_messages_are_validated() {
        let r = Recorder::default();
        let m = new_module(&r);
        let e = unsafe { dcm_module_repository_event(m, 3, ptr::null(), ptr::null()) };
        assert_eq!(message(e), "invalid repository event kind 3");
        let e = unsafe { dcm_module_repository_event(m, crate::DCM_EVENT_STATE_CHANGED, ptr::null(), ptr::null()) };
        assert_eq!(message(e), "after is NULL");
        let e = unsafe { dcm_module_deliver(m, c"pool2".as_ptr(), ptr::null(), 4, 0) };
        assert_eq!(message(e), "bytes is NULL but its count is 4");
        // Malformed bytes are the module's business: it answers them, no error here.
        let e = unsafe { dcm_module_deliver(m, c"pool2".as_ptr(), b"junk".as_ptr(), 4, 9) };
        assert!(e.is_null());
        let e = unsafe { dcm_module_report_readers(m, c"zz".as_ptr(), 100, ptr::null()) };
        assert!(message(e).starts_with("pnfsid: Illegal pnfsid character"));
        assert_eq!(code(unsafe { dcm_module_set_accepts_copies(m, false) }), 0);
        assert_eq!(code(unsafe { dcm_module_free(m) }), 0);
    }
    fn wait_for(m: *mut dcm_module, line: &CStr, expected: &str) -> String {
        wait_until(m, line, |out| out.contains(expected))
    }

    /// `line`'s output once `done` holds for it, or after 10 s.
    fn wait_until(m: *mut dcm_module, line: &CStr, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = execute(m, line).unwrap_or_else(|(_, e)| e);
            if done(&out) || Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_null_verify_callback_refuses_verify_jobs_and_changes_nothing() {
        let r = Recorder::default();
        let mut h = host(&r);
        h.repository.verify_checksum = None;
        let mut m = ptr::null_mut();
        let e = unsafe { dcm_module_new(c"pool1".as_ptr(), &h, ptr::null(), &mut m) };
        assert!(e.is_null(), "{}", message(e));
        let (rc, text) = execute(m, c"migration move pool2").expect_err("move verifies by default");
        assert_eq!(rc, crate::DCM_ERROR_UNSUPPORTED);
        assert!(text.contains("-verify") && text.contains("cannot verify checksums"), "{text}");
        assert!(execute(m, c"migration copy -verify pool2").is_err());
        assert_eq!(execute(m, c"migration ls"), Ok(String::new()));
        assert!(execute(m, c"migration move -verify=false pool2").is_ok());
        assert_eq!(code(unsafe { dcm_module_free(m) }), 0);
    }

    #[test]
    fn validate_reports_bad_lines_and_changes_nothing() {
        let r = Recorder::default();
        let m = new_module(&r);
        let good = c"#\n# MigrationModule\n#\nmigration set concurrency-default 4\nmigration copy -permanent -id=keep pool2\nmigration set concurrency keep 3\n";
        assert_eq!(code(unsafe { dcm_module_validate(m, good.as_ptr()) }), 0);
        let bad = c"migration set concurrency-default 4\nmigration copy -smode=nonsense pool2\nmigration set concurrency nosuchjob 3\n";
        let text = message(unsafe { dcm_module_validate(m, bad.as_ptr()) });
        assert!(text.starts_with("2 of 3 setup lines failed:"), "{text}");
        assert!(
            text.contains("\nmigration copy -smode=nonsense pool2: ")
                && text.contains("\nmigration set concurrency nosuchjob 3: Job not found"),
            "{text}"
        );
        assert_eq!(execute(m, c"migration ls"), Ok(String::new()));
        assert_eq!(execute(m, c"migration get concurrency-default"), Ok("Current default concurrency: 1".to_string()));
        assert_eq!(code(unsafe { dcm_module_validate(m, ptr::null()) }), crate::DCM_ERROR_INVALID_ARGUMENT);
        assert_eq!(code(unsafe { dcm_module_repository_loaded(ptr::null_mut()) }), crate::DCM_ERROR_INVALID_ARGUMENT);
        assert_eq!(code(unsafe { dcm_module_free(m) }), 0);
    }

    #[test]
    fn a_loading_repository_keeps_jobs_waiting_until_it_has_loaded() {
        let r = Recorder::default();
        r.loading.store(true, Ordering::SeqCst);
        let m = new_module(&r);
        assert_eq!(code(unsafe { dcm_module_pool_started(m) }), 0);
        assert!(execute(m, c"migration copy -permanent pool2").is_ok());
        assert!(execute(m, c"migration copy pool2").is_ok());
        let info = wait_for(m, c"migration info 2", "still loading");
        assert!(
            info.contains("State      : INITIALIZING") && info.contains("Repository is still loading; waiting for it"),
            "{info}"
        );
        r.loading.store(false, Ordering::SeqCst);
        assert_eq!(code(unsafe { dcm_module_repository_loaded(m) }), 0);
        // An empty repository: the plain job finishes, the permanent one runs on.
        assert!(wait_for(m, c"migration info 2", "FINISHED").contains("State      : FINISHED"));
        // Job 1 scans on its own: job 2's end does not mean job 1 has left INITIALIZING yet.
        let info = wait_until(m, c"migration info 1", |out| !out.contains("INITIALIZING"));
        assert!(
            info.contains("Command    : migration copy -permanent pool2") && !info.contains("INITIALIZING"),
            "{info}"
        );
        assert_eq!(code(unsafe { dcm_module_free(m) }), 0);
    }
}
