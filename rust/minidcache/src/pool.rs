//! One pool as the services see it ([`PoolNode`]: its repository, mode, HSM instances, tags,
//! readers and runtime) and the [`Registry`] of every pool. A leaf below the services: the
//! namespace, pool manager, pin manager, transport and p2p client reach other pools through
//! the registry, and the [`crate::cluster`] that builds the pools sits above them all.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use migration_core::PnfsId;
use migration_core::driver::runtime::Runtime;
use parking_lot::{Mutex, RwLock};

use crate::repository::DiskRepository;
use crate::tags::{self, Tags};

/// What a pool serves, as set by `pool enable` / `pool disable` (dCache's `PoolV2Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// Serves everything.
    Enabled,
    /// `pool disable -rdonly`: refuses new replicas (store, stage, p2p-client) but still
    /// serves data, including as the source of a p2p transfer.
    ReadOnly,
    /// `pool disable -strict` (or plain `pool disable`): refuses everything, also as a p2p
    /// source unless the copy forces the source mode.
    Strict,
}

impl PoolMode {
    /// dCache's rendering of the mode, as `pool disable` reports it.
    pub fn describe(self) -> &'static str {
        match self {
            PoolMode::Enabled => "enabled",
            PoolMode::ReadOnly => "disabled(store,stage,p2p-client)",
            PoolMode::Strict => "disabled(fetch,store,stage,p2p-client,p2p-server)",
        }
    }
}

/// Activity counters of a pool (since this process started).
#[derive(Default)]
pub struct Counters {
    /// Transfers this pool serves now (p2p-server queue).
    pub serving: AtomicU32,
    /// Transfers this pool receives now (p2p-client queue).
    pub receiving: AtomicU32,
    /// `get`s reading now (the regular mover queue).
    pub reading: AtomicU32,
    /// Replicas received by p2p.
    pub received_files: AtomicU64,
    /// Bytes received by p2p.
    pub received_bytes: AtomicU64,
    /// Replicas served by p2p.
    pub served_files: AtomicU64,
    /// Bytes served by p2p.
    pub served_bytes: AtomicU64,
}

impl Counters {
    /// A replica of `bytes` arrived.
    pub fn received(&self, bytes: u64) {
        self.received_files.fetch_add(1, Ordering::Relaxed);
        self.received_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A replica of `bytes` was served to another pool.
    pub fn served(&self, bytes: u64) {
        self.served_files.fetch_add(1, Ordering::Relaxed);
        self.served_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// One pool as the services see it.
pub struct PoolNode {
    /// The pool's name.
    pub name: String,
    /// The pool's directory.
    pub dir: PathBuf,
    /// Its replicas.
    pub repository: Arc<DiskRepository>,
    /// Capacity in bytes.
    pub capacity: AtomicU64,
    /// Activity.
    pub counters: Counters,
    mode: Mutex<PoolMode>,
    hsms: Mutex<Vec<String>>,
    tags: Mutex<Tags>,
    /// Concurrent `get`s per file.
    readers: Mutex<HashMap<PnfsId, u32>>,
    /// Late-bound: the runtime is started after its host (which refers to this node) exists.
    runtime: OnceLock<Weak<Runtime>>,
    /// Set once the runtime is bound, cleared by `dcache stop`: from then on nothing reaches
    /// the pool (no route, offline in the pool manager), as when its domain is stopped.
    running: AtomicBool,
    /// How many times the pool was started before in this process (0 for the first start).
    generation: u64,
}

/// A `get` in progress: counted as a reader of its file until dropped.
pub struct ReadGuard<'a> {
    node: &'a PoolNode,
    pnfsid: PnfsId,
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        let mut readers = self.node.readers.lock();
        if let Some(n) = readers.get_mut(&self.pnfsid) {
            *n -= 1;
            if *n == 0 {
                readers.remove(&self.pnfsid);
            }
        }
        self.node.counters.reading.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PoolNode {
    /// A pool opened from `dir`, enabled, not running yet: its `generation`-th start in this
    /// process (0 for the first).
    pub fn new(
        name: &str,
        dir: PathBuf,
        repository: Arc<DiskRepository>,
        capacity: u64,
        tags: Tags,
        generation: u64,
    ) -> PoolNode {
        PoolNode {
            name: name.to_string(),
            dir,
            repository,
            capacity: AtomicU64::new(capacity),
            counters: Counters::default(),
            mode: Mutex::new(PoolMode::Enabled),
            hsms: Mutex::new(Vec::new()),
            tags: Mutex::new(tags),
            readers: Mutex::new(HashMap::new()),
            runtime: OnceLock::new(),
            running: AtomicBool::new(false),
            generation,
        }
    }

    /// Binds the pool's runtime, from then on the pool runs; `false` if one was bound before.
    pub fn bind(&self, runtime: &Arc<Runtime>) -> bool {
        if self.runtime.set(Arc::downgrade(runtime)).is_err() {
            return false;
        }
        self.running.store(true, Ordering::Release);
        true
    }

    /// `dcache stop`: from now on nothing reaches the pool. Returns whether it was running.
    pub fn stop(&self) -> bool {
        self.running.swap(false, Ordering::AcqRel)
    }

    /// How many times the pool was started before in this process.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The pool's migration runtime, while the pool runs.
    pub fn runtime(&self) -> Option<Arc<Runtime>> {
        if !self.is_running() {
            return None;
        }
        self.runtime.get().and_then(Weak::upgrade)
    }

    /// Whether the pool runs (it was not stopped with `dcache stop`).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// The current mode.
    pub fn mode(&self) -> PoolMode {
        *self.mode.lock()
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Changes the mode. The repository answers it on every copy request; the module is also
    /// told at once, so that it refuses without asking.
    pub fn set_mode(&self, mode: PoolMode) {
        *self.mode.lock() = mode;
        self.repository.set_accepts_copies(mode == PoolMode::Enabled);
        if let Some(runtime) = self.runtime() {
            runtime.with_module_mut(|m| m.set_accepts_copies(mode == PoolMode::Enabled));
        }
    }

    /// The HSM instances attached to the pool.
    pub fn hsms(&self) -> Vec<String> {
        self.hsms.lock().clone()
    }

    /// Attaches an HSM instance; `false` if it was attached already.
    pub fn attach_hsm(&self, instance: &str) -> bool {
        let mut hsms = self.hsms.lock();
        if hsms.iter().any(|h| h == instance) {
            return false;
        }
        hsms.push(instance.to_string());
        true
    }

    /// Detaches an HSM instance; `false` if it was not attached.
    pub fn detach_hsm(&self, instance: &str) -> bool {
        let mut hsms = self.hsms.lock();
        let before = hsms.len();
        hsms.retain(|h| h != instance);
        hsms.len() != before
    }

    /// The pool's tags (`pool set tag`).
    pub fn tags(&self) -> Tags {
        self.tags.lock().clone()
    }

    /// Sets (`Some`) or removes (`None`) a tag and writes the tags to the pool's directory;
    /// returns whether the tag existed before.
    pub fn set_tag(&self, name: &str, value: Option<&str>) -> std::io::Result<bool> {
        let mut tags = self.tags.lock();
        let mut changed = tags.clone();
        let existed = match value {
            Some(value) => changed.insert(name.to_string(), value.to_string()).is_some(),
            None => changed.remove(name).is_some(),
        };
        // Written before it takes effect: a tag the pool reports is one a restart keeps.
        tags::store(&self.dir, &changed)?;
        *tags = changed;
        Ok(existed)
    }

    /// Counts a reader of `pnfsid`; returns the guard and how many read it now, this one
    /// included.
    pub fn start_reading(&self, pnfsid: PnfsId) -> (ReadGuard<'_>, u32) {
        let mut readers = self.readers.lock();
        let n = readers.entry(pnfsid).or_insert(0);
        *n += 1;
        let count = *n;
        self.counters.reading.fetch_add(1, Ordering::AcqRel);
        (ReadGuard { node: self, pnfsid }, count)
    }

    /// How many `get`s read `pnfsid` now (dCache's link count).
    pub fn readers_of(&self, pnfsid: &PnfsId) -> u32 {
        self.readers.lock().get(pnfsid).copied().unwrap_or(0)
    }

    /// The pool's setup file, written by `save`.
    pub fn setup_file(&self) -> PathBuf {
        self.dir.join("setup")
    }
}

/// Every pool by name, in pool order; shared by the services that must reach another pool.
#[derive(Default)]
pub struct Registry {
    pools: RwLock<Vec<Arc<PoolNode>>>,
}

impl Registry {
    /// A pool by name.
    pub fn get(&self, name: &str) -> Option<Arc<PoolNode>> {
        self.pools.read().iter().find(|p| p.name == name).cloned()
    }

    /// Every pool, in pool order.
    pub fn all(&self) -> Vec<Arc<PoolNode>> {
        self.pools.read().clone()
    }

    /// A pool by name if it runs: what a message, a transfer or a pin can reach.
    pub fn running(&self, name: &str) -> Option<Arc<PoolNode>> {
        self.get(name).filter(|p| p.is_running())
    }

    /// Pool names, in pool order.
    pub fn names(&self) -> Vec<String> {
        self.pools.read().iter().map(|p| p.name.clone()).collect()
    }

    /// The position of a pool in pool order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.pools.read().iter().position(|p| p.name == name)
    }

    pub(crate) fn add(&self, node: Arc<PoolNode>) {
        self.pools.write().push(node);
    }

    /// Puts a restarted pool in the place of its stopped predecessor.
    pub(crate) fn replace(&self, node: Arc<PoolNode>) {
        let mut pools = self.pools.write();
        if let Some(slot) = pools.iter_mut().find(|p| p.name == node.name) {
            *slot = node;
        }
    }
}
