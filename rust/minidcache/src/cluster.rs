//! Building the pools: one on-disk repository and one migration [`Runtime`] per pool, wired
//! to the shared services (namespace, pool manager, pin manager) and to each other through an
//! in-process transport and p2p client, everything kept under one home directory.
//!
//! Start-up order: the home is locked; the database is opened and the namespace and pins
//! loaded; each pool's repository is opened (discarding incomplete replicas); the namespace's
//! cache locations are made exact; every runtime starts; each pool replays its setup file
//! (`save`) and only then reports `pool_started`, so permanent jobs come back with their ids.
//!
//! Stopping and starting one pool (`dcache stop|start <pool>`, as dCache's `dcache` script does
//! for a domain): a stopped pool keeps its place in the [`Registry`] but answers nothing (its
//! messages find no route, the pool manager reports it offline); a started one is a new
//! [`PoolNode`] whose repository is read back from disk, like the pool of a restarted domain.
//!
//! Ownership: the [`Cluster`] owns the runtimes. Everything a runtime's host reaches (the
//! [`Registry`], the repositories and their listeners) refers back to a runtime only through a
//! `Weak`, so dropping the cluster stops the pools and frees them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use migration_core::driver::runtime::{Clock, Options, Runtime, system_clock};
use migration_core::host::Host;
use migration_core::input::RepositoryEvent;
use migration_core::module::Config;
use migration_core::replica::ReplicaState;
use migration_core::{Error, ErrorKind};
use parking_lot::Mutex;
use rusqlite::params;

use crate::home::{self, Home};
use crate::namespace::PnfsManager;
use crate::p2p::{P2pClient, TransferPool};
use crate::pin_manager::PinManager;
pub use crate::pool::{PoolMode, PoolNode, Registry};
use crate::pool_manager::PoolManager;
use crate::repository::DiskRepository;
use crate::store::{self, Store};
use crate::tags;
use crate::transport::{InProcessTransport, Network};

/// Default pool capacity: 10 GiB.
pub const DEFAULT_CAPACITY: u64 = 10 * 1024 * 1024 * 1024;

/// Default pools of a new home.
pub fn default_pools() -> Vec<String> {
    (1..=4).map(|i| format!("pool{i}")).collect()
}

/// The default number of transfer threads: twice the cores, at least 4 and at most 32. A
/// job's concurrency above it queues on them, as movers queue on a dCache pool.
///
/// A copy here is work for the CPU (page-cache copies, checksums, file creation), so more
/// threads than cores add no throughput; they only make every runnable thread, the admin
/// shell's included, wait longer for a core. On a 2-core machine a move of 200 000 small
/// files ran at 2 800 files/s with 4 threads and at 2 200 with 32 (`MILLION_FILES=200000
/// MILLION_TRANSFER_THREADS=32 migration-bench --only million`).
pub fn default_transfer_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    (2 * cores).clamp(4, 32)
}

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
    /// Most copies running at once, one thread each ([`default_transfer_threads`]).
    pub transfer_threads: usize,
    /// The migration module's configuration on every pool (dCache's `pool.service.*.timeout`
    /// and `pool.migration.*` properties); a test bed shortens the timeouts.
    pub module: Config,
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
            transfer_threads: default_transfer_threads(),
            module: Config::default(),
        }
    }

    /// The same with these pools.
    pub fn with_pools(mut self, pools: &[&str]) -> ClusterConfig {
        self.pools = Some(pools.iter().map(|p| p.to_string()).collect());
        self
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pools (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    capacity INTEGER NOT NULL
);
";

/// How long `dcache stop` waits for the transfers of a stopping pool to end: each checks
/// whether it was cancelled between buffers, so they end within milliseconds.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// The runtimes of the running pools (stopped pools have none).
    runtimes: Mutex<Vec<(String, Arc<Runtime>)>>,
    /// The p2p client of each pool's latest start, in pool order: a stopped pool's stays, so
    /// that `dcache stop` and shutdown find the transfers still running on it.
    p2p: Mutex<Vec<(String, Arc<P2pClient>)>>,
    clock: Clock,
    rng: Mutex<migration_core::random::Rng>,
    notes: Vec<String>,
    seed: u64,
    fsync: bool,
    module: Config,
}

fn host_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Host, format!("{what}: {e}"))
}

fn no_such_pool(name: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("Pool not found: {name}"))
}

impl Cluster {
    /// Opens the home, loads and starts the pools (on a thread of their own: `bulk`).
    pub fn new(config: ClusterConfig) -> Result<Cluster, Error> {
        crate::bulk::on_its_own_thread("start", move || Cluster::load(config))
            .map_err(|e| host_error("cannot start the cluster's loading thread", e))?
    }

    fn load(config: ClusterConfig) -> Result<Cluster, Error> {
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
            transfers: TransferPool::new(config.transfer_threads),
            store,
            runtimes: Mutex::new(Vec::new()),
            p2p: Mutex::new(Vec::new()),
            clock: Arc::clone(&config.clock),
            rng: Mutex::new(migration_core::random::Rng::seeded(config.seed)),
            notes: Vec::new(),
            seed: config.seed,
            fsync: config.fsync,
            module: config.module.clone(),
        };
        let mut nodes = Vec::new();
        for (name, capacity) in &pools {
            let (node, notes) = cluster.open_node(name, *capacity, 0)?;
            cluster.notes.extend(notes);
            cluster.registry.add(Arc::clone(&node));
            cluster.pool_manager.pool_added(name);
            nodes.push(node);
        }
        // Pins released while a pool was down (or while minidcache was not running) lose
        // their sticky records, as at `dcache start` of a pool.
        for node in &nodes {
            cluster.pin_manager.pool_started(node);
        }
        let mut runtimes = Vec::new();
        for node in &nodes {
            runtimes.push(cluster.start_runtime(node)?);
        }
        let notes = cluster.replay_pool_manager();
        cluster.notes.extend(notes);
        for (node, runtime) in nodes.iter().zip(&runtimes) {
            let notes = cluster.replay_setup(node, runtime);
            cluster.notes.extend(notes);
        }
        Ok(cluster)
    }

    /// Opens a pool's repository from disk (discarding incomplete replicas), makes the
    /// namespace's locations of the pool exact, and builds its node (not yet registered, no
    /// runtime). Returns what is worth telling.
    fn open_node(&self, name: &str, capacity: u64, generation: u64) -> Result<(Arc<PoolNode>, Vec<String>), Error> {
        let dir = self.home.pool(name);
        let (repository, report) = DiskRepository::open(name, &dir, self.fsync)
            .map_err(|e| host_error(&format!("cannot open pool {name} in {}", dir.display()), e))?;
        let mut notes = Vec::new();
        if report.incomplete > 0 || report.missing > 0 {
            notes.push(format!(
                "{name}: discarded {} incomplete replicas and {} without data",
                report.incomplete, report.missing
            ));
        }
        self.namespace.reconcile(name, &repository.entries());
        let (tags, problems) = tags::load(&dir);
        notes.extend(problems);
        let node = Arc::new(PoolNode::new(name, dir, repository, capacity, tags, generation));
        let weak = Arc::downgrade(&node);
        let namespace = Arc::clone(&self.namespace);
        node.repository.set_listener(move |event| {
            let Some(node) = weak.upgrade() else { return };
            track_locations(&namespace, &node.name, &event);
            if let Some(runtime) = node.runtime() {
                runtime.repository_event(event);
            }
        });
        // After the listener, so that the records that expired while the pool was down leave
        // with their rows written and the namespace told; no runtime is bound yet to hear
        // them, and jobs scan the repository when they start anyway.
        node.repository
            .start_expiring(Arc::clone(&self.clock))
            .map_err(|e| host_error(&format!("cannot start pool {name}'s sticky expiry"), e))?;
        Ok((node, notes))
    }

    /// Starts the migration runtime of a registered node; from then on the pool runs.
    fn start_runtime(&self, node: &Arc<PoolNode>) -> Result<Arc<Runtime>, Error> {
        let name = node.name.as_str();
        let p2p = Arc::new(P2pClient::new(
            node,
            Arc::clone(&self.registry),
            Arc::clone(&self.namespace),
            Arc::clone(&self.clock),
            Arc::clone(&self.transfers),
        ));
        let host = Host {
            repository: Arc::clone(&node.repository) as _,
            pool_manager: Arc::clone(&self.pool_manager) as _,
            pnfs_manager: Arc::clone(&self.namespace) as _,
            transport: Arc::new(InProcessTransport::new(name, Arc::clone(&self.registry), &self.network)),
            p2p: Arc::clone(&p2p) as _,
            pin_manager: Arc::clone(&self.pin_manager) as _,
        };
        // Seeded, so that a replayed script behaves the same; but a new seed on each start of a
        // pool in this process: the module draws its copy requests' uuids from it, and the
        // other pools remember the uuids they served (a repeated one is taken for a duplicate).
        let position = self.registry.position(name).unwrap_or(0) as u64;
        let seed =
            self.seed.wrapping_add(position + 1).wrapping_add(node.generation().wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let options = Options {
            worker_threads: 1,
            seed: Some(seed),
            clock: Arc::clone(&self.clock),
            thread_name: format!("{name}-migration"),
            ..Options::default()
        };
        let runtime = Arc::new(Runtime::start(name, self.module.clone(), host, options)?);
        if !node.bind(&runtime) {
            return Err(Error::new(ErrorKind::Internal, "runtime bound twice"));
        }
        {
            let mut clients = self.p2p.lock();
            match clients.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = p2p,
                None => clients.push((name.to_string(), p2p)),
            }
        }
        self.runtimes.lock().push((name.to_string(), Arc::clone(&runtime)));
        Ok(runtime)
    }

    /// Replays the pool manager's saved setup (`save` in PoolManager).
    fn replay_pool_manager(&self) -> Vec<String> {
        let path = self.home.pool_manager_setup();
        let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
        let mut notes = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Err(e) = crate::pool_manager_cell::execute(&self.pool_manager, &self.registry, &path, line) {
                notes.push(format!("{}: {line}: {}", path.display(), e.message));
            }
        }
        notes
    }

    /// Replays a pool's setup file: the pool's own lines (`hsm set`), then the migration
    /// module's through [`Runtime::call`]; then reports the pool started.
    fn replay_setup(&self, node: &PoolNode, runtime: &Runtime) -> Vec<String> {
        let name = &node.name;
        let mut notes = Vec::new();
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
                        notes.push(format!("{name}: setup: {line}: {}", e.message));
                    }
                }
                Err(e) => notes.push(format!("{name}: setup: {}", e.message)),
            }
        }
        runtime.pool_started();
        notes
    }

    /// `dcache stop <pool>`: the pool stops as when its domain is stopped. From the first
    /// moment nothing reaches it (messages find no route, transfers from and to it fail, the
    /// pool manager reports it offline); its runtime shuts down, which cancels its jobs with
    /// `pool shutdown` (their transfers on other pools are told to stop); transfers it serves
    /// or receives are aborted and awaited; its repository commits and closes. Its replicas
    /// stay registered in the namespace, as in dCache. `Ok(None)`: it was not running;
    /// otherwise the jobs the shutdown ended (id and command line).
    pub fn stop_pool(&self, name: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        let node = self.registry.get(name).ok_or_else(|| no_such_pool(name))?;
        if !node.stop() {
            return Ok(None);
        }
        let runtime = {
            let mut runtimes = self.runtimes.lock();
            let at = runtimes.iter().position(|(n, _)| n == name);
            at.map(|at| runtimes.remove(at).1)
        };
        let mut ended = Vec::new();
        if let Some(runtime) = runtime {
            let active = |m: &migration_core::module::Module| -> Vec<(String, String)> {
                m.jobs()
                    .filter(|j| !j.state().is_terminal())
                    .map(|j| (j.id.clone(), j.definition.command_line.clone()))
                    .collect()
            };
            ended = runtime.with_module(active);
            runtime.shutdown();
        }
        let clients: Vec<Arc<P2pClient>> = self.p2p.lock().iter().map(|(_, c)| Arc::clone(c)).collect();
        let own = self.p2p.lock().iter().find(|(n, _)| n == name).map(|(_, c)| Arc::clone(c));
        if let Some(own) = &own {
            own.cancel_all();
        }
        for client in &clients {
            client.cancel_from(name);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        let busy = || {
            own.as_ref().map_or(0, |p| p.running(None)) + clients.iter().map(|c| c.running(Some(name))).sum::<usize>()
        };
        while busy() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        node.repository.close();
        Ok(Some(ended))
    }

    /// `dcache start <pool>`: the pool comes back as a restarted domain's pool does: its
    /// repository is read from disk, its tags from its directory, its setup (`save`) replayed,
    /// so that permanent jobs return with their ids. It starts enabled, as dCache's pools do.
    /// `Ok(None)`: it was running; otherwise what the start found worth telling.
    pub fn start_pool(&self, name: &str) -> Result<Option<Vec<String>>, Error> {
        let stopped = self.registry.get(name).ok_or_else(|| no_such_pool(name))?;
        if stopped.is_running() {
            return Ok(None);
        }
        let (node, mut notes) = crate::bulk::on_its_own_thread("start", || {
            self.open_node(name, stopped.capacity(), stopped.generation() + 1)
        })
        .map_err(|e| host_error(&format!("cannot start {name}"), e))??;
        self.registry.replace(Arc::clone(&node));
        // Pins released while the pool was down lose their sticky records now, as dCache's
        // pin manager clears them once the pool answers again.
        self.pin_manager.pool_started(&node);
        let runtime = self.start_runtime(&node)?;
        notes.extend(self.replay_setup(&node, &runtime));
        Ok(Some(notes))
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

    /// A running pool's runtime.
    pub fn runtime(&self, pool: &str) -> Option<Arc<Runtime>> {
        self.runtimes.lock().iter().find(|(n, _)| n == pool).map(|(_, r)| Arc::clone(r))
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
        let runtimes: Vec<Arc<Runtime>> = self.runtimes.lock().iter().map(|(_, r)| Arc::clone(r)).collect();
        for runtime in runtimes {
            runtime.shutdown();
        }
        let clients: Vec<Arc<P2pClient>> = self.p2p.lock().iter().map(|(_, c)| Arc::clone(c)).collect();
        for p2p in clients {
            p2p.cancel_all();
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
