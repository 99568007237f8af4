//! The simulation driver: a cluster of pools, each a [`Module`] over a [`MemoryRepository`],
//! with a namespace, a pool manager, a pin manager and pool-to-pool transfers, all under a
//! simulated clock. It executes the same effects as the production driver, one at a time, in
//! a seeded order; a run is reproduced exactly from its seed. Tests use it to drive timeouts,
//! offline pools and failures in milliseconds of real time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::Millis;
use crate::driver::local;
use crate::driver::memory::MemoryRepository;
use crate::effect::{Answer, Effect, InboundId, Input, RepositoryEvent, Token};
use crate::error::{Error, Failure, Outcome, ReturnCode};
use crate::host::{P2pRequest, PinMove, PoolList, PoolSelection, Repository};
use crate::job::Job;
use crate::message::RequestId;
use crate::module::{Config, Module};
use crate::pnfsid::PnfsId;
use crate::pool_info::{PoolCostInfo, PoolInfo};
use crate::random::Rng;
use crate::replica::{ReplicaEntry, ReplicaState, StickyRecord};

/// One simulated pool.
pub struct SimPool {
    /// Its migration module.
    pub module: Module,
    /// Its repository.
    pub repository: Arc<MemoryRepository>,
    /// Reachable at all (an offline pool answers nothing: `no route`).
    pub online: bool,
    /// Capacity in bytes (for cost data).
    pub capacity: u64,
}

/// Faults the simulation injects.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The namespace does not answer (location queries time out).
    pub namespace_down: bool,
    /// The pin manager does not answer (pin moves time out).
    pub pin_manager_down: bool,
    /// Probability that a message between pools (request or reply) is lost.
    pub lose_messages: f64,
    /// Probability that a p2p transfer fails with an I/O error.
    pub fail_p2p: f64,
    /// Files whose p2p transfers arrive corrupted.
    pub corrupt_transfers: BTreeSet<PnfsId>,
}

enum Delivery {
    Input { pool: String, input: Input },
    P2pDone { pool: String, id: RequestId },
    PinsMoved { pool: String, token: Token, request: PinMove },
}

struct Transfer {
    token: Token,
    request: P2pRequest,
    cancelled: bool,
}

/// A simulated dCache: pools, namespace, pool manager, pin manager, p2p.
pub struct Cluster {
    now: Millis,
    /// Pools by name.
    pub pools: BTreeMap<String, SimPool>,
    /// The namespace: registered locations of each file (deleted files are absent).
    pub namespace: BTreeMap<PnfsId, BTreeSet<String>>,
    /// Pool groups for `-target=pgroup`.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Pools that may serve reads (hot-file replication); empty means every pool.
    pub readers: Vec<String>,
    /// Fault injection.
    pub faults: Faults,
    /// One-way latency of every message.
    pub latency: Millis,
    /// Transfer speed in bytes per ms (p2p duration = size / bandwidth).
    pub bandwidth: u64,
    config: Config,
    rng: Rng,
    queue: BinaryHeap<Reverse<(Millis, u64)>>,
    deliveries: HashMap<u64, Delivery>,
    seq: u64,
    inbound: HashMap<(String, InboundId), (String, Token)>,
    next_inbound: u64,
    transfers: HashMap<(String, RequestId), Transfer>,
    events: Arc<Mutex<Vec<(String, RepositoryEvent)>>>,
    /// Every repository change, in order, for invariant checks: (time, pool, event).
    pub history: Vec<(Millis, String, RepositoryEvent)>,
}

impl Cluster {
    /// An empty cluster at time `start` (ms since the epoch), seeded.
    pub fn new(seed: u64, config: Config) -> Cluster {
        Cluster {
            now: 1_700_000_000_000,
            pools: BTreeMap::new(),
            namespace: BTreeMap::new(),
            groups: BTreeMap::new(),
            readers: Vec::new(),
            faults: Faults::default(),
            latency: 5,
            bandwidth: 100_000,
            config,
            rng: Rng::seeded(seed),
            queue: BinaryHeap::new(),
            deliveries: HashMap::new(),
            seq: 0,
            inbound: HashMap::new(),
            next_inbound: 1,
            transfers: HashMap::new(),
            events: Arc::new(Mutex::new(Vec::new())),
            history: Vec::new(),
        }
    }

    /// The simulated time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Adds a pool with 1 TB capacity.
    pub fn add_pool(&mut self, name: &str) {
        let repository = Arc::new(MemoryRepository::new());
        let events = Arc::clone(&self.events);
        let pool = name.to_string();
        repository.set_listener(move |event| events.lock().push((pool.clone(), event)));
        let seed = self.rng.next_u64();
        let module = Module::new(name, self.config.clone(), seed);
        self.pools.insert(name.to_string(), SimPool { module, repository, online: true, capacity: 1_000_000_000_000 });
    }

    /// A pool.
    pub fn pool(&self, name: &str) -> &SimPool {
        &self.pools[name]
    }

    /// A pool, mutably.
    pub fn pool_mut(&mut self, name: &str) -> &mut SimPool {
        self.pools.get_mut(name).expect("no such pool")
    }

    /// The repository of a pool.
    pub fn repository(&self, name: &str) -> &MemoryRepository {
        &self.pools[name].repository
    }

    /// A job of a pool.
    pub fn job(&self, pool: &str, id: &str) -> &Job {
        self.pools[pool].module.job(id).expect("no such job")
    }

    /// Puts a replica on a pool and registers it in the namespace.
    pub fn add_replica(&mut self, pool: &str, entry: ReplicaEntry) {
        self.namespace.entry(entry.pnfsid).or_default().insert(pool.to_string());
        self.pools[pool].repository.insert(entry);
        self.flush_repository_events();
    }

    /// Deletes a file from the namespace (its replicas stay until removed).
    pub fn delete_from_namespace(&mut self, pnfsid: &PnfsId) {
        self.namespace.remove(pnfsid);
    }

    /// Takes a pool off the network, or brings it back.
    pub fn set_online(&mut self, pool: &str, online: bool) {
        self.pool_mut(pool).online = online;
    }

    /// Tells every module that its pool has started.
    pub fn start(&mut self) {
        let names: Vec<String> = self.pools.keys().cloned().collect();
        for name in names {
            self.input(&name, Input::PoolStarted);
        }
    }

    /// Runs an admin command on a pool, then everything it causes at this instant.
    pub fn execute(&mut self, pool: &str, line: &str) -> Result<String, Error> {
        let now = self.now;
        let result = self.pool_mut(pool).module.execute(now, line);
        self.after(pool);
        result
    }

    /// Calls `f` on a pool's module at the current time, then runs what it caused.
    pub fn call<R>(&mut self, pool: &str, f: impl FnOnce(&mut Module, Millis) -> R) -> R {
        let now = self.now;
        let result = f(&mut self.pool_mut(pool).module, now);
        self.after(pool);
        result
    }

    /// Feeds an input to a pool now.
    pub fn input(&mut self, pool: &str, input: Input) {
        let now = self.now;
        self.pool_mut(pool).module.handle(now, input);
        self.after(pool);
    }

    /// Runs until `until`, delivering everything due and firing every timer on the way.
    pub fn run_until(&mut self, until: Millis) {
        while let Some((at, next)) = self.next_event() {
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            match next {
                Next::Delivery(seq) => {
                    self.queue.pop();
                    if let Some(delivery) = self.deliveries.remove(&seq) {
                        self.deliver(delivery);
                    }
                }
                Next::Timer(pool) => {
                    let now = self.now;
                    self.pool_mut(&pool).module.handle_timeout(now);
                    self.after(&pool);
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `duration` ms of simulated time.
    pub fn run_for(&mut self, duration: Millis) {
        let until = self.now + duration;
        self.run_until(until);
    }

    /// Runs until every non-permanent job on every pool has ended, or `limit` ms have passed;
    /// returns whether they all ended.
    pub fn run_until_jobs_end(&mut self, limit: Millis) -> bool {
        let deadline = self.now + limit;
        // What is due now runs first: it may create the jobs to wait for.
        self.run_until(self.now);
        loop {
            if self.all_jobs_ended() {
                return true;
            }
            let Some((at, _)) = self.next_event() else { return self.all_jobs_ended() };
            if at > deadline {
                self.now = deadline;
                return false;
            }
            self.run_until(at);
        }
    }

    fn all_jobs_ended(&self) -> bool {
        self.pools.values().all(|p| p.module.jobs().all(|j| j.is_permanent() || j.state().is_terminal()))
    }

    fn next_event(&self) -> Option<(Millis, Next)> {
        let delivery = self.queue.peek().map(|Reverse((at, seq))| (*at, Next::Delivery(*seq)));
        let timer = self
            .pools
            .iter()
            .filter(|(_, p)| p.online)
            .filter_map(|(name, p)| p.module.next_deadline().map(|at| (at, Next::Timer(name.clone()))))
            .min_by_key(|(at, _)| *at);
        match (delivery, timer) {
            (Some(d), Some(t)) => Some(if t.0 < d.0 { t } else { d }),
            (d, t) => d.or(t),
        }
    }

    fn schedule(&mut self, after: Millis, delivery: Delivery) {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Reverse((self.now + after, seq)));
        self.deliveries.insert(seq, delivery);
    }

    fn later(&mut self, pool: &str, after: Millis, input: Input) {
        self.schedule(after, Delivery::Input { pool: pool.to_string(), input });
    }

    fn lost(&mut self) -> bool {
        self.faults.lose_messages > 0.0 && self.rng.next_f64() < self.faults.lose_messages
    }

    fn deliver(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Input { pool, input } => {
                if self.pools.get(&pool).is_some_and(|p| p.online) {
                    self.input(&pool, input);
                }
            }
            Delivery::P2pDone { pool, id } => self.finish_transfer(&pool, id),
            Delivery::PinsMoved { pool, token, request } => {
                for pin in &request.pins {
                    if let Some(target) = self.pools.get(&request.target) {
                        let _ = target.repository.set_sticky(&request.pnfsid, pin, true);
                    }
                    if let Some(source) = self.pools.get(&request.source) {
                        source.repository.remove_sticky(&request.pnfsid, &pin.owner);
                    }
                }
                self.flush_repository_events();
                self.input(&pool, Input::Reply { token, outcome: Ok(Answer::Done) });
            }
        }
    }

    /// Processes what a module asked for, then the repository changes that caused.
    fn after(&mut self, pool: &str) {
        loop {
            let effects = self.pool_mut(pool).module.take_effects();
            if effects.is_empty() {
                break;
            }
            for effect in effects {
                self.execute_effect(pool, effect);
            }
        }
        self.flush_repository_events();
    }

    fn flush_repository_events(&mut self) {
        let events: Vec<(String, RepositoryEvent)> = std::mem::take(&mut *self.events.lock());
        for (pool, event) in events {
            // The namespace follows the repositories, as dCache's pools register replicas.
            if let RepositoryEvent::StateChanged { new, entry, .. } = &event {
                match new {
                    ReplicaState::Removed => {
                        if let Some(l) = self.namespace.get_mut(&entry.pnfsid) {
                            l.remove(&pool);
                        }
                    }
                    s if s.is_cached_or_precious() => {
                        if let Some(l) = self.namespace.get_mut(&entry.pnfsid) {
                            l.insert(pool.clone());
                        }
                    }
                    _ => {}
                }
            }
            self.history.push((self.now, pool.clone(), event.clone()));
            self.later(&pool, 0, Input::Repository(event));
        }
    }

    fn execute_effect(&mut self, pool: &str, effect: Effect) {
        let latency = self.latency;
        let repository = Arc::clone(&self.pools[pool].repository);
        match effect {
            Effect::Scan { job, filter, order, now } => {
                let result = local::scan(repository.as_ref(), &filter, order, now);
                self.later(pool, 0, Input::Scanned { job, result });
            }
            Effect::ReadEntry { purpose, pnfsid } => {
                let result = repository.entry(&pnfsid);
                self.later(pool, 0, Input::Entry { purpose, result });
            }
            Effect::Change { purpose, pnfsid, changes } => {
                let result = local::apply_changes(repository.as_ref(), &pnfsid, &changes);
                self.later(pool, 0, Input::Changed { purpose, result });
            }
            Effect::VerifyChecksum { request, pnfsid } => {
                let result = repository.verify_checksum(&pnfsid);
                self.later(pool, 1, Input::Verified { request, result });
            }
            Effect::QueryLocations { token, pnfsid } => {
                if self.faults.namespace_down {
                    return;
                }
                let outcome = match self.namespace.get(&pnfsid) {
                    Some(l) => Ok(Answer::Locations(l.iter().cloned().collect())),
                    None => Err(Failure::error(ReturnCode::FILE_NOT_FOUND, "No such file or directory")),
                };
                self.later(pool, 2 * latency, Input::Reply { token, outcome });
            }
            Effect::QueryPools { token, selection } => {
                let pools = self.pool_list(&selection);
                self.later(pool, 2 * latency, Input::Reply { token, outcome: Ok(Answer::Pools(pools)) });
            }
            Effect::QueryGroups { token, pool: of } => {
                let groups = self.groups.iter().filter(|(_, m)| m.contains(&of)).map(|(g, _)| g.clone()).collect();
                self.later(pool, 2 * latency, Input::Reply { token, outcome: Ok(Answer::Groups(groups)) });
            }
            Effect::Send { to, message, token } => {
                let reachable = self.pools.get(&to).is_some_and(|p| p.online);
                if !reachable {
                    if let Some(token) = token {
                        self.later(pool, latency, Input::Reply { token, outcome: Err(Failure::NoRoute) });
                    }
                    return;
                }
                if self.lost() {
                    return;
                }
                let reply = token.map(|token| {
                    let id = InboundId(self.next_inbound);
                    self.next_inbound += 1;
                    self.inbound.insert((to.clone(), id), (pool.to_string(), token));
                    id
                });
                self.later(&to, latency, Input::Message { from: pool.to_string(), bytes: message, reply });
            }
            Effect::Respond { inbound, reply } => {
                if let Some((origin, token)) = self.inbound.remove(&(pool.to_string(), inbound))
                    && !self.lost()
                {
                    self.later(&origin, latency, Input::Reply { token, outcome: Ok(Answer::Bytes(reply)) });
                }
            }
            Effect::MovePins { token, request } => {
                if !self.faults.pin_manager_down {
                    self.schedule(2 * latency, Delivery::PinsMoved { pool: pool.to_string(), token, request });
                }
            }
            Effect::StartP2p { token, request } => {
                let duration = latency * 2 + (request.attributes.size / self.bandwidth.max(1)) as Millis;
                let id = request.id;
                self.transfers.insert((pool.to_string(), id), Transfer { token, request, cancelled: false });
                self.schedule(duration, Delivery::P2pDone { pool: pool.to_string(), id });
            }
            Effect::CancelP2p { id } => {
                if let Some(t) = self.transfers.get_mut(&(pool.to_string(), id)) {
                    t.cancelled = true;
                    self.schedule(0, Delivery::P2pDone { pool: pool.to_string(), id });
                }
            }
        }
    }

    fn finish_transfer(&mut self, pool: &str, id: RequestId) {
        let Some(transfer) = self.transfers.remove(&(pool.to_string(), id)) else { return };
        let outcome = self.transfer(pool, &transfer);
        self.flush_repository_events();
        self.input(pool, Input::Reply { token: transfer.token, outcome: outcome.map(|()| Answer::Done) });
    }

    /// What a p2p transfer does on the target pool when it ends.
    fn transfer(&mut self, pool: &str, transfer: &Transfer) -> Outcome<()> {
        let r = &transfer.request;
        let pnfsid = r.attributes.pnfsid;
        if !self.pools[pool].online {
            // A pool that went down mid-transfer does not create the replica.
            return Err(Failure::error(ReturnCode::ERROR_IO_DISK, "Pool went offline during the transfer"));
        }
        if transfer.cancelled {
            return Err(Failure::error(ReturnCode::DEFAULT_ERROR_CODE, "Transfer was cancelled"));
        }
        let source = match self.pools.get(&r.source) {
            Some(p) if p.online => p,
            _ => {
                return Err(Failure::error(
                    ReturnCode::SERVICE_UNAVAILABLE,
                    format!("Source pool {} is unreachable", r.source),
                ));
            }
        };
        let Ok(Some(original)) = source.repository.entry(&pnfsid) else {
            return Err(Failure::error(ReturnCode::FILE_NOT_IN_REPOSITORY, "Source replica not found"));
        };
        if self.faults.fail_p2p > 0.0 && self.rng.next_f64() < self.faults.fail_p2p {
            return Err(Failure::error(ReturnCode::ERROR_IO_DISK, "I/O error"));
        }
        if self.faults.corrupt_transfers.contains(&pnfsid) {
            return Err(Failure::error(ReturnCode::FILE_CORRUPTED, "Checksum mismatch"));
        }
        let target = &self.pools[pool];
        if matches!(target.repository.entry(&pnfsid), Ok(Some(_))) {
            return Err(Failure::error(ReturnCode::FILE_IN_CACHE, "Replica already exists"));
        }
        let mut entry = original.clone();
        entry.state = r.state;
        entry.sticky = r.sticky.clone();
        entry.last_access = r.atime.unwrap_or(self.now);
        target.repository.insert(entry);
        Ok(())
    }

    fn pool_list(&self, selection: &PoolSelection) -> PoolList {
        let names: Vec<String> = match selection {
            PoolSelection::Names(names) => names.iter().filter(|n| self.pools.contains_key(*n)).cloned().collect(),
            PoolSelection::Groups(groups) => {
                if groups.iter().all(|g| self.groups.contains_key(g)) {
                    groups.iter().flat_map(|g| self.groups[g].clone()).collect()
                } else {
                    Vec::new()
                }
            }
            PoolSelection::Link(_) | PoolSelection::Hsm(_) => Vec::new(),
            PoolSelection::Readers { .. } if self.readers.is_empty() => self.pools.keys().cloned().collect(),
            PoolSelection::Readers { .. } => self.readers.clone(),
        };
        let pools = names.iter().map(|name| self.pool_info(name)).collect();
        PoolList { pools }
    }

    /// What the pool manager says of a pool now.
    pub fn pool_info(&self, name: &str) -> PoolInfo {
        let p = &self.pools[name];
        if !p.online {
            return PoolInfo::Offline { name: name.to_string() };
        }
        let used = p.repository.used();
        PoolInfo::Online(PoolCostInfo::simple(
            name,
            p.capacity,
            p.capacity.saturating_sub(used),
            p.repository.removable(self.now),
        ))
    }
}

enum Next {
    Delivery(u64),
    Timer(String),
}

/// A complete replica entry for tests: `state`, `size` bytes, storage class
/// `atlas:default@osm`, accessed at `last_access`.
pub fn replica(
    pnfsid: &str,
    state: ReplicaState,
    size: u64,
    last_access: Millis,
    sticky: Vec<StickyRecord>,
) -> ReplicaEntry {
    let mut entry = ReplicaEntry::new(PnfsId::parse(pnfsid).expect("test ids are valid"), state, size, last_access);
    entry.sticky = sticky;
    entry.storage_class = Some("atlas:default@osm".to_string());
    entry
}
