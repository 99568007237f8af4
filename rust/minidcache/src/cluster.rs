//! Building the pools: one in-memory repository and one migration [`Runtime`] per pool, wired
//! to the shared services (namespace, pool manager, pin manager) and to each other through an
//! in-process transport and p2p client.
//!
//! Ownership: the [`Cluster`] owns the runtimes. Everything a runtime's host reaches (the
//! [`Registry`], the repositories and their listeners) refers back to a runtime only through a
//! `Weak`, so dropping the cluster stops the pools and frees them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use migration_core::Error;
use migration_core::driver::memory::MemoryRepository;
use migration_core::driver::runtime::{Clock, Options, Runtime, system_clock};
use migration_core::effect::RepositoryEvent;
use migration_core::host::Host;
use migration_core::module::Config;
use migration_core::replica::ReplicaState;
use parking_lot::{Mutex, RwLock};

use crate::namespace::PnfsManager;
use crate::p2p::P2pClient;
use crate::pin_manager::PinManager;
use crate::pool_manager::PoolManager;
use crate::transport::{InProcessTransport, Network};

/// Default pool capacity: 10 GiB.
pub const DEFAULT_CAPACITY: u64 = 10 * 1024 * 1024 * 1024;

/// How to build a cluster.
#[derive(Clone)]
pub struct ClusterConfig {
    /// Pool names, in pool order.
    pub pools: Vec<String>,
    /// Capacity of every pool, bytes.
    pub capacity: u64,
    /// Seed of the pools' randomness and of `populate`.
    pub seed: u64,
    /// The clock of every pool and service.
    pub clock: Clock,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            pools: (1..=4).map(|i| format!("pool{i}")).collect(),
            capacity: DEFAULT_CAPACITY,
            seed: 1,
            clock: Arc::new(system_clock),
        }
    }
}

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

/// One pool as the services see it.
pub struct PoolNode {
    /// The pool's name.
    pub name: String,
    /// Its replicas.
    pub repository: Arc<MemoryRepository>,
    /// Capacity in bytes.
    pub capacity: AtomicU64,
    mode: Mutex<PoolMode>,
    /// Late-bound: the runtime is started after its host (which refers to this node) exists.
    runtime: OnceLock<Weak<Runtime>>,
}

impl PoolNode {
    fn new(name: &str, capacity: u64) -> PoolNode {
        PoolNode {
            name: name.to_string(),
            repository: Arc::new(MemoryRepository::new()),
            capacity: AtomicU64::new(capacity),
            mode: Mutex::new(PoolMode::Enabled),
            runtime: OnceLock::new(),
        }
    }

    /// The pool's migration runtime, while the cluster is alive.
    pub fn runtime(&self) -> Option<Arc<Runtime>> {
        self.runtime.get().and_then(Weak::upgrade)
    }

    /// The current mode.
    pub fn mode(&self) -> PoolMode {
        *self.mode.lock()
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Changes the mode and tells the migration module whether it may accept copies.
    pub fn set_mode(&self, mode: PoolMode) {
        *self.mode.lock() = mode;
        if let Some(runtime) = self.runtime() {
            runtime.with_module_mut(|m| m.set_accepts_copies(mode == PoolMode::Enabled));
        }
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

    /// Pool names, in pool order.
    pub fn names(&self) -> Vec<String> {
        self.pools.read().iter().map(|p| p.name.clone()).collect()
    }

    fn add(&self, node: Arc<PoolNode>) {
        self.pools.write().push(node);
    }
}

/// Hands out fresh PNFS ids: a cluster-wide counter behind a fixed prefix, so a rerun of the
/// same script produces the same ids (`000100000000000000000001`, …).
#[derive(Default)]
pub struct IdGenerator {
    next: AtomicU64,
}

/// The first four hex digits of every id minidcache creates.
pub const ID_PREFIX: &str = "0001";

impl IdGenerator {
    /// The next id.
    pub fn next(&self) -> migration_core::PnfsId {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        migration_core::PnfsId::parse(&format!("{ID_PREFIX}{n:020X}")).expect("24 hex digits are a valid id")
    }
}

/// Several pools and their services in one process.
pub struct Cluster {
    registry: Arc<Registry>,
    namespace: Arc<PnfsManager>,
    pool_manager: Arc<PoolManager>,
    pin_manager: Arc<PinManager>,
    network: Arc<Network>,
    runtimes: Vec<(String, Arc<Runtime>)>,
    clock: Clock,
    ids: IdGenerator,
    rng: Mutex<migration_core::random::Rng>,
}

impl Cluster {
    /// Builds and starts the pools.
    pub fn new(config: ClusterConfig) -> Result<Cluster, Error> {
        let registry = Arc::new(Registry::default());
        let namespace = Arc::new(PnfsManager::new());
        let pool_manager = Arc::new(PoolManager::new(Arc::clone(&registry), Arc::clone(&config.clock)));
        let pin_manager = Arc::new(PinManager::new(Arc::clone(&registry), Arc::clone(&config.clock)));
        let network = Network::start().map_err(|e| {
            Error::new(migration_core::ErrorKind::Internal, format!("cannot start the network thread: {e}"))
        })?;
        let mut cluster = Cluster {
            registry,
            namespace,
            pool_manager,
            pin_manager,
            network,
            runtimes: Vec::new(),
            clock: Arc::clone(&config.clock),
            ids: IdGenerator::default(),
            rng: Mutex::new(migration_core::random::Rng::seeded(config.seed)),
        };
        let mut seen = HashMap::new();
        for (i, name) in config.pools.iter().enumerate() {
            if seen.insert(name.clone(), i).is_some() {
                return Err(Error::new(
                    migration_core::ErrorKind::InvalidArgument,
                    format!("Duplicate pool name: {name}"),
                ));
            }
            cluster.add_pool(name, config.capacity, config.seed.wrapping_add(i as u64 + 1))?;
        }
        Ok(cluster)
    }

    fn add_pool(&mut self, name: &str, capacity: u64, seed: u64) -> Result<(), Error> {
        let node = Arc::new(PoolNode::new(name, capacity));
        self.registry.add(Arc::clone(&node));
        self.pool_manager.pool_added(name);
        let weak = Arc::downgrade(&node);
        let namespace = Arc::clone(&self.namespace);
        node.repository.set_listener(move |event| {
            let Some(node) = weak.upgrade() else { return };
            track_locations(&namespace, &node.name, &event);
            if let Some(runtime) = node.runtime() {
                runtime.repository_event(event);
            }
        });
        let host = Host {
            repository: Arc::clone(&node.repository) as _,
            pool_manager: Arc::clone(&self.pool_manager) as _,
            namespace: Arc::clone(&self.namespace) as _,
            transport: Arc::new(InProcessTransport::new(name, Arc::clone(&self.registry), &self.network)),
            p2p: Arc::new(P2pClient::new(name, Arc::clone(&self.registry), Arc::clone(&self.clock))),
            pin_manager: Arc::clone(&self.pin_manager) as _,
        };
        let options = Options {
            worker_threads: 1,
            seed: Some(seed),
            clock: Arc::clone(&self.clock),
            thread_name: format!("{name}-migration"),
            ..Options::default()
        };
        let runtime = Arc::new(Runtime::start(name, Config::default(), host, options)?);
        node.runtime
            .set(Arc::downgrade(&runtime))
            .map_err(|_| Error::new(migration_core::ErrorKind::Internal, "runtime bound twice"))?;
        runtime.pool_started();
        self.runtimes.push((name.to_string(), runtime));
        Ok(())
    }

    /// The pools and services' registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// A pool by name.
    pub fn pool(&self, name: &str) -> Option<Arc<PoolNode>> {
        self.registry.get(name)
    }

    /// Pool names in pool order.
    pub fn pool_names(&self) -> Vec<String> {
        self.registry.names()
    }

    /// A pool's runtime.
    pub fn runtime(&self, pool: &str) -> Option<&Arc<Runtime>> {
        self.runtimes.iter().find(|(n, _)| n == pool).map(|(_, r)| r)
    }

    /// The namespace.
    pub fn namespace(&self) -> &Arc<PnfsManager> {
        &self.namespace
    }

    /// The pool manager.
    pub fn pool_manager(&self) -> &Arc<PoolManager> {
        &self.pool_manager
    }

    /// The pin manager.
    pub fn pin_manager(&self) -> &Arc<PinManager> {
        &self.pin_manager
    }

    /// The current time, ms since the epoch.
    pub fn now(&self) -> migration_core::Millis {
        (self.clock)()
    }

    /// A fresh PNFS id.
    pub fn next_pnfsid(&self) -> migration_core::PnfsId {
        self.ids.next()
    }

    /// The cluster's seeded randomness (`populate` sizes).
    pub fn rng(&self) -> &Mutex<migration_core::random::Rng> {
        &self.rng
    }

    /// Stops every pool's runtime, then the network. Safe to call more than once.
    pub fn shutdown(&self) {
        for (_, runtime) in &self.runtimes {
            runtime.shutdown();
        }
        self.network.stop();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Keeps the namespace's cache locations current: a replica that becomes readable registers
/// the pool, a removed one unregisters it (dCache's pools send `PnfsAddCacheLocation` and
/// `PnfsClearCacheLocation` the same way).
fn track_locations(namespace: &PnfsManager, pool: &str, event: &RepositoryEvent) {
    if let RepositoryEvent::StateChanged { old, new, entry } = event {
        match new {
            ReplicaState::Cached | ReplicaState::Precious if !old.is_cached_or_precious() => {
                namespace.add_location(entry, pool);
            }
            ReplicaState::Removed | ReplicaState::Destroyed => namespace.remove_location(&entry.pnfsid, pool),
            _ => {}
        }
    }
}
