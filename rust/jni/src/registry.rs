//! The open modules, by handle. Java holds a `jlong` id, never a pointer: an id that was closed
//! or never existed finds nothing and the call throws `MigrationException(CLOSED)`. A call in
//! flight keeps its module alive through an `Arc` while `close()` removes it from the table,
//! so closing concurrently with other calls is safe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use jni::objects::JObject;
use jni::refs::Global;
use migration_core::driver::runtime::{Options, Runtime};
use migration_core::{Config, Error, ErrorKind};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::host::JavaHost;
use crate::pending;
use crate::threads::{self, Threads};

/// One open module.
pub struct ModuleHandle {
    /// Its id (the Java handle).
    pub id: u64,
    /// The pool's name.
    pub pool: String,
    /// The running module.
    pub runtime: Runtime,
}

static MODULES: LazyLock<Mutex<FxHashMap<u64, Arc<ModuleHandle>>>> = LazyLock::new(|| Mutex::new(FxHashMap::default()));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Starts the module of `pool`, whose services `bridge` (a `HostBridge`) provides.
pub fn open(
    pool: &str,
    config: Config,
    bridge: Global<JObject<'static>>,
    worker_threads: usize,
    seed: Option<u64>,
) -> Result<u64, Error> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let threads = Threads::new(pool);
    let host = JavaHost::new(id, bridge).into_host();
    let (on_start, on_stop) = (Arc::clone(&threads), Arc::clone(&threads));
    let options = Options {
        worker_threads,
        seed,
        // The OS keeps 15 bytes of a thread name; the JVM shows the full `migration-<pool>-<n>`.
        thread_name: "migration-rt".to_string(),
        on_thread_start: Some(Arc::new(move || on_start.on_start())),
        on_thread_stop: Some(Arc::new(move || on_stop.on_stop())),
        ..Options::default()
    };
    let runtime = Runtime::start(pool, config, host, options)?;
    let handle = Arc::new(ModuleHandle { id, pool: pool.to_string(), runtime });
    MODULES.lock().insert(id, handle);
    tracing::info!(target: "migration::jni", pool, "migration module started");
    Ok(id)
}

/// The module with handle `id`.
pub fn get(id: u64) -> Result<Arc<ModuleHandle>, Error> {
    MODULES.lock().get(&id).cloned().ok_or_else(|| Error::new(ErrorKind::Closed, "the migration module is closed"))
}

/// Closes the module: its jobs are cancelled (`pool shutdown`), its runtime stops, waiting
/// requests fail, and its threads detach; `Runtime::shutdown` waits for them, except when
/// called from one of them (they then detach as they exit). `false` if the module was already
/// closed.
pub fn close(id: u64) -> bool {
    let Some(handle) = MODULES.lock().remove(&id) else { return false };
    handle.runtime.shutdown();
    pending::drop_module(id);
    if threads::in_callback() {
        tracing::debug!(target: "migration::jni", pool = handle.pool, "closed from a callback");
    }
    tracing::info!(target: "migration::jni", pool = handle.pool, "migration module closed");
    true
}
