//! Building the pools: one on-disk repository and one migration [`Runtime`] per pool, wired
//! to the shared services (namespace, pool manager, pin manager) and to each other through an
//! in-process transport and p2p client, everything kept under one home directory.
//!
//! Start-up order: the home is locked; the database is opened and the namespace and pins
//! loaded; each pool's repository is opened (discarding incomplete replicas); the namespace's
//! cache locations are made exact; every runtime starts; each pool replays its setup file
//! (`save`) and only then reports `pool_started`, so permanent jobs come back with their ids.
//!
//! Ownership: the [`Cluster`] owns the runtimes. Everything a runtime's host reaches (the
//! [`Registry`], the repositories and their listeners) refers back to a runtime only through a
//! `Weak`, so dropping the cluster stops the pools and frees them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use migration_core::driver::runtime::{Clock, Options, Runtime, system_clock};
use migration_core::effect::RepositoryEvent;
use migration_core::host::Host;
use migration_core::module::Config;
use migration_core::replica::ReplicaState;
use migration_core::{Error, ErrorKind, PnfsId};
use parking_lot::{Mutex, RwLock};
use rusqlite::params;

use crate::home::{self, Home};
use crate::namespace::PnfsManager;
use crate::p2p::{P2pClient, TransferPool};
use crate::pin_manager::PinManager;
use crate::pool_manager::PoolManager;
use crate::repository::DiskRepository;
use crate::store::{self, Store};
use crate::transport::{InProcessTransport, Network};

/// Default pool capacity: 10 GiB.
pub const DEFAULT_CAPACITY: u64 = 10 * 1024 * 1024 * 1024;

/// Default pools of a new home.
pub fn default_pools() -> Vec<String> {
    (1..=4).map(|i| format!("pool{i}")).collect()
}

/// Most transfer threads (a job's concurrency above this queues on them).
pub const MAX_TRANSFER_THREADS: usize = 32;

/// How to build a cluster.
#[derive(Clone)]
pub struct ClusterConfig {
    /// The home directory.
    pub home: PathBuf,
    /// Pool names, in pool order; `None`: the pools of the home (or the default four).
    pub pools: Option<Vec<String>>,
    /// Capacity of every pool, bytes; `None`: as recorded in the home (10 GiB for new pools).
    pub capacity: Option<u64>,
    /// Seed of the pools' randomness and of `populate`.
    pub seed: u64,
    /// The clock of every pool and service.
    pub clock: Clock,
    /// Sync data files, directories and database commits to disk (survives power loss).
    pub fsync: bool,
}

impl ClusterConfig {
    /// Defaults for a home.
    pub fn new(home: impl Into<PathBuf>) -> ClusterConfig {
        ClusterConfig {
            home: home.into(),
            pools: None,
            capacity: None,
            seed: 1,
            clock: Arc::new(system_clock),
            fsync: false,
        }
    }

    /// The same with these pools.
    pub fn with_pools(mut self, pools: &[&str]) -> ClusterConfig {
        self.pools = Some(pools.iter().map(|p| p.to_string()).collect());
        self
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
    /// Concurrent `get`s per file.
    readers: Mutex<HashMap<PnfsId, u32>>,
    /// Late-bound: the runtime is started after its host (which refers to this node) exists.
    runtime: OnceLock<Weak<Runtime>>,
    p2p: OnceLock<Arc<P2pClient>>,
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

    /// Pool names, in pool order.
    pub fn names(&self) -> Vec<String> {
        self.pools.read().iter().map(|p| p.name.clone()).collect()
    }

    fn add(&self, node: Arc<PoolNode>) {
        self.pools.write().push(node);
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pools (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    capacity INTEGER NOT NULL
);
";

/// Several pools and their services in one process, kept in a home directory.
pub struct Cluster {
    home: Home,
    registry: Arc<Registry>,
    namespace: Arc<PnfsManager>,
    pool_manager: Arc<PoolManager>,
    pin_manager: Arc<PinManager>,
    network: Arc<Network>,
    transfers: Arc<TransferPool>,
    store: Arc<Store>,
    runtimes: Vec<(String, Arc<Runtime>)>,
    clock: Clock,
    rng: Mutex<migration_core::random::Rng>,
    notes: Vec<String>,
}

fn host_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Host, format!("{what}: {e}"))
}

impl Cluster {
    /// Opens the home, loads and starts the pools.
    pub fn new(config: ClusterConfig) -> Result<Cluster, Error> {
        let home = Home::open(&config.home)?;
        let db = |e: rusqlite::Error| host_error(&format!("{}", home.database().display()), e);
        let connection = store::open(&home.database(), config.fsync).map_err(db)?;
        connection
            .execute_batch(&format!("{SCHEMA}{}{}", crate::namespace::SCHEMA, crate::pin_manager::SCHEMA))
            .map_err(db)?;
        let known: Vec<(String, u64)> = {
            let mut query = connection.prepare("SELECT name, capacity FROM pools ORDER BY position").map_err(db)?;
            let rows = query.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64))).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let names = match &config.pools {
            Some(pools) => pools.clone(),
            None if known.is_empty() => default_pools(),
            None => known.iter().map(|(n, _)| n.clone()).collect(),
        };
        let mut pools: Vec<(String, u64)> = Vec::new();
        for name in names {
            home::check_pool_name(&name)?;
            if pools.iter().any(|(n, _)| *n == name) {
                return Err(Error::new(ErrorKind::InvalidArgument, format!("Duplicate pool name: {name}")));
            }
            let recorded = known.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
            pools.push((name, config.capacity.or(recorded).unwrap_or(DEFAULT_CAPACITY)));
        }
        {
            // The home remembers the pools of the last run (their directories stay either way).
            let tx = connection.unchecked_transaction().map_err(db)?;
            tx.execute("DELETE FROM pools", []).map_err(db)?;
            for (position, (name, capacity)) in pools.iter().enumerate() {
                tx.execute(
                    "INSERT OR REPLACE INTO pools (name, position, capacity) VALUES (?1, ?2, ?3)",
                    params![name, position as i64, *capacity as i64],
                )
                .map_err(db)?;
            }
            tx.commit().map_err(db)?;
        }
        let loaded_namespace = PnfsManager::load(&connection).map_err(db)?;
        let loaded_pins = PinManager::load(&connection).map_err(db)?;
        let store = Arc::new(
            Store::start("minidcache", connection, None).map_err(|e| host_error("cannot start the database", e))?,
        );

        let registry = Arc::new(Registry::default());
        let namespace = Arc::new(PnfsManager::new(loaded_namespace, Arc::clone(&store)));
        let pool_manager = Arc::new(PoolManager::new(Arc::clone(&registry), Arc::clone(&config.clock)));
        let pin_manager = Arc::new(PinManager::new(
            Arc::clone(&registry),
            Arc::clone(&config.clock),
            loaded_pins,
            Arc::clone(&store),
        ));
        let network = Network::start().map_err(|e| host_error("cannot start the network thread", e))?;
        let mut cluster = Cluster {
            home,
            registry,
            namespace,
            pool_manager,
            pin_manager,
            network,
            transfers: TransferPool::new(MAX_TRANSFER_THREADS),
            store,
            runtimes: Vec::new(),
            clock: Arc::clone(&config.clock),
            rng: Mutex::new(migration_core::random::Rng::seeded(config.seed)),
            notes: Vec::new(),
        };
        for (name, capacity) in &pools {
            cluster.open_pool(name, *capacity, config.fsync)?;
        }
        for (i, (name, _)) in pools.iter().enumerate() {
            cluster.start_pool(name, config.seed.wrapping_add(i as u64 + 1))?;
        }
        cluster.replay_pool_manager();
        for (name, _) in &pools {
            cluster.replay_setup(name);
        }
        Ok(cluster)
    }

    fn open_pool(&mut self, name: &str, capacity: u64, fsync: bool) -> Result<(), Error> {
        let dir = self.home.pool(name);
        let (repository, report) = DiskRepository::open(name, &dir, fsync)
            .map_err(|e| host_error(&format!("cannot open pool {name} in {}", dir.display()), e))?;
        if report.incomplete > 0 || report.missing > 0 {
            self.notes.push(format!(
                "{name}: discarded {} incomplete replicas and {} without data",
                report.incomplete, report.missing
            ));
        }
        self.namespace.reconcile(name, &repository.entries());
        let node = Arc::new(PoolNode {
            name: name.to_string(),
            dir,
            repository,
            capacity: AtomicU64::new(capacity),
            counters: Counters::default(),
            mode: Mutex::new(PoolMode::Enabled),
            hsms: Mutex::new(Vec::new()),
            readers: Mutex::new(HashMap::new()),
            runtime: OnceLock::new(),
            p2p: OnceLock::new(),
        });
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
        Ok(())
    }

    fn start_pool(&mut self, name: &str, seed: u64) -> Result<(), Error> {
        let node = self.registry.get(name).expect("opened above");
        let p2p = Arc::new(P2pClient::new(
            name,
            Arc::clone(&self.registry),
            Arc::clone(&self.namespace),
            Arc::clone(&self.clock),
            Arc::clone(&self.transfers),
        ));
        let host = Host {
            repository: Arc::clone(&node.repository) as _,
            pool_manager: Arc::clone(&self.pool_manager) as _,
            namespace: Arc::clone(&self.namespace) as _,
            transport: Arc::new(InProcessTransport::new(name, Arc::clone(&self.registry), &self.network)),
            p2p: Arc::clone(&p2p) as _,
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
        let bound = node.runtime.set(Arc::downgrade(&runtime)).is_ok() && node.p2p.set(p2p).is_ok();
        if !bound {
            return Err(Error::new(ErrorKind::Internal, "runtime bound twice"));
        }
        self.runtimes.push((name.to_string(), runtime));
        Ok(())
    }

    /// Replays the pool manager's saved setup (`save` in PoolManager).
    fn replay_pool_manager(&mut self) {
        let path = self.home.pool_manager_setup();
        let Ok(text) = std::fs::read_to_string(&path) else { return };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Err(e) = crate::commands::execute(self, &crate::commands::Cell::PoolManager, line, None) {
                self.notes.push(format!("{}: {line}: {}", path.display(), e.message));
            }
        }
    }

    /// Replays a pool's setup file: the pool's own lines (`hsm set`), then the migration
    /// module's through [`Runtime::call`]; then reports the pool started.
    fn replay_setup(&mut self, name: &str) {
        let node = self.registry.get(name).expect("opened above");
        let runtime = self.runtime(name).cloned().expect("started above");
        if let Ok(text) = std::fs::read_to_string(node.setup_file()) {
            let mut module_lines = Vec::new();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                match line.strip_prefix("hsm set ") {
                    Some(instance) => {
                        node.attach_hsm(instance.trim());
                    }
                    None => module_lines.push(line.to_string()),
                }
            }
            match runtime.call(|module, now| module.replay(now, &module_lines)) {
                Ok(errors) => {
                    for (line, e) in errors {
                        self.notes.push(format!("{name}: setup: {line}: {}", e.message));
                    }
                }
                Err(e) => self.notes.push(format!("{name}: setup: {}", e.message)),
            }
        }
        runtime.pool_started();
    }

    /// What start-up found worth telling (discarded replicas, setup lines that failed).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The home directory.
    pub fn home_dir(&self) -> &Path {
        self.home.root()
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

    /// The cluster's seeded randomness (`populate` sizes and contents).
    pub fn rng(&self) -> &Mutex<migration_core::random::Rng> {
        &self.rng
    }

    /// Stops every pool: jobs are cancelled (`pool shutdown`), transfers under way are
    /// cancelled and awaited, then the network stops and the databases commit and close.
    /// Safe to call more than once.
    pub fn shutdown(&self) {
        for (_, runtime) in &self.runtimes {
            runtime.shutdown();
        }
        for node in self.registry.all() {
            if let Some(p2p) = node.p2p.get() {
                p2p.cancel_all();
            }
        }
        self.transfers.stop();
        self.network.stop();
        for node in self.registry.all() {
            node.repository.close();
        }
        self.store.close();
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
