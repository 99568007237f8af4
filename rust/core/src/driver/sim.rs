//! The simulation driver: a cluster of pools, each a [`Module`] over a [`MemoryRepository`],
//! with a namespace, a pool manager, a pin manager and pool-to-pool transfers, all under a
//! simulated clock. It executes the same effects as the production driver, one at a time, in
//! a seeded order; a run is reproduced exactly from its seed. Tests use it to drive timeouts,
//! offline pools and failures in milliseconds of real time.
//!
//! Faults ([`Faults`]) cover the network (lost, duplicated and delayed messages, so that they
//! overtake each other; hung pools), the services (namespace and pin manager down), the
//! transfers (I/O errors, corrupted copies, full targets) and the pools themselves
//! ([`Cluster::set_online`] partitions a pool, [`Cluster::crash`] and [`Cluster::restart`]
//! rebuild its module from the saved setup). Every repository change is recorded in
//! [`Cluster::history`] with its [`Cause`], so that invariant checkers can tell what the
//! module did from what the scenario did. [`Cluster::step`] runs one event at a time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::Millis;
use crate::driver::memory::MemoryRepository;
use crate::driver::repository_effects;
use crate::effect::{ChangePurpose, Effect, EntryPurpose, InboundId, JobKey, Token};
use crate::error::{Error, Failure, Outcome, ReturnCode};
use crate::host::{P2pRequest, PinMove, PoolList, PoolSelection, Repository};
use crate::input::{Answer, Input, RepositoryEvent};
use crate::job::Job;
use crate::message::{Message, Reply, RequestId, WireVersion, decode, decode_versioned};
use crate::mode::RepositoryChange;
use crate::module::{Config, Module, Route, TaskReply};
use crate::pnfsid::PnfsId;
use crate::pool_info::{PoolCostInfo, PoolInfo};
use crate::random::Rng;
use crate::replica::{ReplicaEntry, ReplicaState, StickyRecord};

/// The simulated time at which every cluster starts (ms since the epoch).
pub const START: Millis = 1_700_000_000_000;

/// How often a transfer to a full pool looks again for space.
const FULL_POOL_RETRY: Millis = 5_000;

/// One simulated pool.
pub struct SimPool {
    /// Its migration module.
    pub module: Module,
    /// Its repository.
    pub repository: Arc<MemoryRepository>,
    /// Reachable at all (an offline pool answers nothing: `no route`). An offline pool is
    /// partitioned, not dead: its module keeps running and its own repository answers.
    pub online: bool,
    /// Capacity in bytes (for cost data). A transfer to a pool without room for the file
    /// waits until there is room or it is cancelled.
    pub capacity: u64,
    /// Crashed: the module is dead (no timers, no inputs) until [`Cluster::restart`].
    pub crashed: bool,
    /// How often the module was rebuilt by [`Cluster::restart`]; messages and replies for an
    /// earlier incarnation are dropped.
    pub incarnation: u32,
    /// The seed of its module's randomness. A restart reuses it, as a host with a fixed seed
    /// would: request ids must not repeat across restarts all the same.
    pub seed: u64,
}

/// Faults the simulation injects.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The namespace does not answer (location queries time out).
    pub namespace_down: bool,
    /// The pin manager does not answer (pin moves time out).
    pub pin_manager_down: bool,
    /// The next this many pin moves of more than one pin fail after moving the first: the
    /// pin manager stops half way.
    pub pin_moves_failing_half_way: u32,
    /// Probability that a message between pools (request or reply) is lost.
    pub lose_messages: f64,
    /// Probability that a message between pools (request, reply, copy-finished) or an answer
    /// of the namespace, pool manager or pin manager is delivered twice.
    pub duplicate_messages: f64,
    /// Extra delay, uniform in `0..=max_extra_delay` ms, drawn for every delivery of a message
    /// or service answer, so that messages overtake each other.
    pub max_extra_delay: Millis,
    /// Probability that a p2p transfer fails with an I/O error.
    pub fail_p2p: f64,
    /// Files whose p2p transfers arrive corrupted.
    pub corrupt_transfers: BTreeSet<PnfsId>,
    /// Hung pools: the pool manager still lists them, but messages to them and their answers
    /// vanish, so requests to them time out.
    pub unresponsive: BTreeSet<String>,
    /// Pools the pool manager reports offline although they run and answer (right after a
    /// pool start, before the pool manager has heard from them).
    pub unknown_to_pool_manager: BTreeSet<String>,
    /// Changes made to a file's replica right before its module changes it to apply a source
    /// mode, the first before the next such change, the second before the one after, and so
    /// on: a pin, a sticky record or a state that comes between the module's look (the read
    /// that made the task, or one to apply the source mode) and its change of the replica.
    pub changed_before_source_change: BTreeMap<PnfsId, VecDeque<RepositoryChange>>,
    /// Files whose replica a checksum scan marks BROKEN right before the next time a target
    /// changes it to update it for a copy request (§6.3): after the target's look at it, which
    /// found it readable, and before its change.
    pub broken_before_update: BTreeSet<PnfsId>,
    /// A change made to a file's replica right before the next read that starts a task for
    /// it: a state that comes between the file's queueing and its task (a replica found
    /// BROKEN, say).
    pub changed_before_task_read: BTreeMap<PnfsId, RepositoryChange>,
    /// Files whose next read to start a task fails (an I/O error of the repository).
    pub failing_task_reads: BTreeSet<PnfsId>,
    /// Changes made to replicas after the next scan read the repository and before its result
    /// reaches the job: a scan runs outside the module's lock, for minutes on a large pool.
    pub changed_during_scan: BTreeMap<PnfsId, RepositoryChange>,
}

/// Names a job across pool restarts: keys restart at 1 in a rebuilt module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobRef {
    /// The pool that owns the job.
    pub pool: String,
    /// The pool's incarnation when the job ran.
    pub incarnation: u32,
    /// The job's key in that module.
    pub key: JobKey,
}

/// Who made a repository change (aligned with [`Cluster::history`] in [`Cluster::causes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The test or scenario, directly on a repository (or through [`Cluster::add_replica`]).
    External,
    /// A job applying its source mode on its own pool.
    SourceMode {
        /// The job.
        job: JobRef,
    },
    /// The migration server updating an existing replica for a copy request.
    TargetUpdate {
        /// The copy request.
        request: RequestId,
    },
    /// A pool-to-pool transfer creating a replica for a copy request.
    Transfer {
        /// The copy request.
        request: RequestId,
    },
    /// The pin manager moving pins.
    PinManager,
}

/// A copy request a task sent (recorded for invariant checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySent {
    /// When it was sent.
    pub at: Millis,
    /// The job whose task sent it.
    pub job: JobRef,
    /// The target pool.
    pub to: String,
    /// The file.
    pub pnfsid: PnfsId,
    /// The request id (the same for every copy request of one task).
    pub uuid: RequestId,
    /// The wire version it went out in.
    pub wire: WireVersion,
}

/// A task started: its job read the file's entry to make it (recorded for invariant checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStarted {
    /// When the entry was read.
    pub at: Millis,
    /// The job.
    pub job: JobRef,
    /// The file.
    pub pnfsid: PnfsId,
}

/// A copy-finished message reporting success that reached the pool it was sent to (recorded
/// for invariant checks): what lets a task count a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyConfirmed {
    /// The pool that sent it: the target that holds the copy.
    pub from: String,
    /// The request id of the task (unique to it, so the pool it reached is the task's).
    pub uuid: RequestId,
    /// How many copy requests had been sent when it arrived ([`Cluster::copies`]'s length):
    /// the last of them with this request id names the pool the task was waiting for then.
    pub copies_sent: usize,
}

/// A pin move a pool's module asked for (§9.5), for a checker to judge which job may ask it.
#[derive(Debug, Clone)]
pub struct PinMoveAsked {
    /// The pool that asked: the source.
    pub pool: String,
    /// The file.
    pub pnfsid: PnfsId,
    /// The pool the pins go to.
    pub target: String,
    /// How many confirmations had arrived when it was asked ([`Cluster::confirmations`]'s
    /// length), and how many copy requests had been sent ([`Cluster::copies`]'s).
    pub confirmations_seen: usize,
    /// See `confirmations_seen`.
    pub copies_sent: usize,
}

enum Delivery {
    /// An input for a pool; `network` inputs are dropped while the pool is offline.
    Input {
        pool: String,
        incarnation: u32,
        network: bool,
        input: Input,
    },
    P2pDone {
        pool: String,
        id: RequestId,
    },
    PinsMoved {
        pool: String,
        incarnation: u32,
        token: Token,
        request: PinMove,
    },
}

struct Transfer {
    token: Token,
    request: P2pRequest,
    cancelled: bool,
    /// Why the transfer can no longer succeed (a pool it needs went away meanwhile).
    broken: Option<String>,
}

type Events = Arc<Mutex<Vec<(String, RepositoryEvent, Cause)>>>;

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
    /// Answers to inbound requests that a test fed directly with [`Cluster::input`]
    /// (`Input::Message` with a reply slot no pool of the cluster waits for): pool, slot, reply.
    pub direct_answers: Vec<(String, InboundId, Vec<u8>)>,
    /// One-way latency of every message.
    pub latency: Millis,
    /// Transfer speed in bytes per ms (p2p duration = size / bandwidth).
    pub bandwidth: u64,
    config: Config,
    rng: Rng,
    queue: BinaryHeap<Reverse<(Millis, u64)>>,
    deliveries: HashMap<u64, Delivery>,
    seq: u64,
    inbound: HashMap<(String, InboundId), (String, u32, Token)>,
    next_inbound: u64,
    transfers: HashMap<(String, RequestId), Transfer>,
    events: Events,
    cause: Arc<Mutex<Cause>>,
    /// Every repository change, in order, for invariant checks: (time, pool, event).
    pub history: Vec<(Millis, String, RepositoryEvent)>,
    /// Who made each change of [`Cluster::history`] (same index).
    pub causes: Vec<Cause>,
    /// Every copy request a task sent, in order.
    pub copies: Vec<CopySent>,
    /// Every task start, in order.
    pub task_starts: Vec<TaskStarted>,
    /// Every copy-finished message with success that reached its pool, in order.
    pub confirmations: Vec<CopyConfirmed>,
    /// Every pin move a module asked of the pin manager, in order.
    pub pin_moves: Vec<PinMoveAsked>,
    /// Events processed by [`Cluster::step`].
    pub steps: u64,
    /// Replicas marked BROKEN between a target's look and its update, by pool
    /// ([`Faults::broken_before_update`]).
    pub broken_before_updates: Vec<(String, PnfsId)>,
    /// When set, a readable line for every event, effect and repository change.
    pub trace: Option<Vec<String>>,
}

impl Cluster {
    /// An empty cluster at time [`START`], seeded.
    pub fn new(seed: u64, config: Config) -> Cluster {
        Cluster {
            now: START,
            pools: BTreeMap::new(),
            namespace: BTreeMap::new(),
            groups: BTreeMap::new(),
            readers: Vec::new(),
            faults: Faults::default(),
            direct_answers: Vec::new(),
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
            cause: Arc::new(Mutex::new(Cause::External)),
            history: Vec::new(),
            causes: Vec::new(),
            copies: Vec::new(),
            task_starts: Vec::new(),
            confirmations: Vec::new(),
            pin_moves: Vec::new(),
            steps: 0,
            broken_before_updates: Vec::new(),
            trace: None,
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
        let cause = Arc::clone(&self.cause);
        let pool = name.to_string();
        repository.set_listener(move |event| {
            let cause = cause.lock().clone();
            events.lock().push((pool.clone(), event, cause));
        });
        let seed = self.rng.next_u64();
        let module = Module::new(name, self.config.clone(), seed);
        let capacity = 1_000_000_000_000;
        let pool = SimPool { module, repository, online: true, capacity, crashed: false, incarnation: 0, seed };
        self.pools.insert(name.to_string(), pool);
    }

    /// Declares whether a pool's repository can verify checksums, as a host would at start.
    pub fn set_verifies_checksums(&mut self, pool: &str, verifies: bool) {
        let p = self.pool_mut(pool);
        p.repository.set_verifies_checksums(verifies);
        p.module.set_verifies_checksums(verifies);
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

    /// The cluster-wide name of a job of a pool's current module.
    pub fn job_ref(&self, pool: &str, id: &str) -> Option<JobRef> {
        let p = self.pools.get(pool)?;
        let job = p.module.job(id)?;
        Some(JobRef { pool: pool.to_string(), incarnation: p.incarnation, key: job.key })
    }

    /// Whether `job`, in the incarnation it ran in, still has a task waiting on copy request
    /// `uuid` (false once the pool has crashed or restarted since).
    pub fn task_waits_for(&self, job: &JobRef, uuid: RequestId) -> bool {
        self.pools.get(&job.pool).is_some_and(|p| {
            p.incarnation == job.incarnation
                && !p.crashed
                && p.module.jobs.get(&job.key).is_some_and(|j| j.has_task_for_request(uuid))
        })
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

    /// Deletes a file: from the namespace and every replica on every pool.
    pub fn delete_file(&mut self, pnfsid: &PnfsId) {
        self.namespace.remove(pnfsid);
        for pool in self.pools.values() {
            // Removing a missing replica is a no-op; nothing else can fail here.
            let _ = pool.repository.set_state(pnfsid, ReplicaState::Removed, "file deleted");
        }
        self.flush_repository_events();
    }

    /// Records the repository changes made directly on a repository (by a test or scenario)
    /// and tells the modules, now rather than with the next event.
    pub fn flush_events(&mut self) {
        self.flush_repository_events();
    }

    /// Takes a pool off the network, or brings it back. Transfers that need the pool (as
    /// target or as source) fail: their connection is gone.
    pub fn set_online(&mut self, pool: &str, online: bool) {
        self.pool_mut(pool).online = online;
        if !online {
            self.break_transfers(pool, "went offline");
        }
        self.note(|| format!("{pool} {}", if online { "online" } else { "offline" }));
    }

    fn break_transfers(&mut self, pool: &str, what: &str) {
        for ((target, _), t) in self.transfers.iter_mut() {
            if t.broken.is_none() && (target == pool || *t.request.source == *pool) {
                t.broken = Some(format!("Pool {pool} {what} during the transfer"));
            }
        }
    }

    /// Whether a pool is up and reachable.
    pub fn is_up(&self, pool: &str) -> bool {
        self.pools.get(pool).is_some_and(|p| p.online && !p.crashed)
    }

    /// The pool crashes: its module is dead (in-flight requests, tasks and timers are lost),
    /// its transfers vanish, transfers it serves fail, and the answers it owed are never
    /// sent. The repository and the namespace stay. It comes back with [`Cluster::restart`].
    pub fn crash(&mut self, pool: &str) {
        let p = self.pool_mut(pool);
        if p.crashed {
            return;
        }
        p.crashed = true;
        p.online = false;
        self.transfers.retain(|(target, _), _| target != pool);
        self.break_transfers(pool, "crashed");
        self.inbound.retain(|(to, _), _| to != pool);
        self.note(|| format!("{pool} crashed"));
    }

    /// Restarts a pool (crashing it first if it runs): the module is rebuilt from scratch,
    /// the setup lines the old module would have saved are replayed, the pool comes online
    /// and the module is told the pool has started. Returns the replay errors.
    pub fn restart(&mut self, pool: &str) -> Vec<(String, Error)> {
        let lines = self.pools[pool].module.setup_lines();
        self.crash(pool);
        let seed = self.pools[pool].seed;
        let now = self.now;
        let mut module = Module::new(pool, self.config.clone(), seed);
        module.set_verifies_checksums(self.pools[pool].repository.verifies_checksums());
        let errors = module.replay(now, &lines);
        let p = self.pool_mut(pool);
        p.module = module;
        p.incarnation += 1;
        p.crashed = false;
        p.online = true;
        self.note(|| format!("{pool} restarted, replayed {lines:?}"));
        self.after(pool);
        self.input(pool, Input::PoolStarted);
        errors
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
        self.note(|| format!("{pool}$ {line}"));
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
        if self.trace.is_some() {
            let text = describe_input(&input);
            self.note(|| format!("→ {pool}: {text}"));
        }
        self.pool_mut(pool).module.handle(now, input);
        self.after(pool);
    }

    /// Processes the next event due at or before `until` (one delivery, or the due timers of
    /// one pool); returns whether there was one. Invariant checkers call this in a loop and
    /// look at the cluster after every step.
    pub fn step(&mut self, until: Millis) -> bool {
        let Some((at, next)) = self.next_event() else { return false };
        if at > until {
            return false;
        }
        self.now = self.now.max(at);
        self.steps += 1;
        match next {
            Next::Delivery(seq) => {
                self.queue.pop();
                if let Some(delivery) = self.deliveries.remove(&seq) {
                    self.deliver(delivery);
                }
            }
            Next::Timer(pool) => {
                let now = self.now;
                self.note(|| format!("{pool}: timers"));
                self.pool_mut(&pool).module.handle_timeout(now);
                self.after(&pool);
            }
        }
        true
    }

    /// Runs until `until`, delivering everything due and firing every timer on the way.
    pub fn run_until(&mut self, until: Millis) {
        while self.step(until) {}
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

    /// Whether every non-permanent job of every live module has ended.
    pub fn all_jobs_ended(&self) -> bool {
        self.pools.values().all(|p| p.module.jobs().all(|j| j.is_permanent() || j.state().is_terminal()))
    }

    /// When the next event is due, if any.
    pub fn next_event_time(&self) -> Option<Millis> {
        self.next_event().map(|(at, _)| at)
    }

    fn next_event(&self) -> Option<(Millis, Next)> {
        let delivery = self.queue.peek().map(|Reverse((at, seq))| (*at, Next::Delivery(*seq)));
        let timer = self
            .pools
            .iter()
            .filter(|(_, p)| !p.crashed)
            .filter_map(|(name, p)| p.module.next_deadline().map(|at| (at, Next::Timer(name.clone()))))
            .min_by_key(|(at, _)| *at);
        match (delivery, timer) {
            (Some(d), Some(t)) => Some(if t.0 < d.0 { t } else { d }),
            (d, t) => d.or(t),
        }
    }

    /// Adds a line to the trace, if tracing.
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            let t = self.now - START;
            trace.push(format!("{:>5}.{:03}s {}", t.div_euclid(1000), t.rem_euclid(1000), line()));
        }
    }

    fn schedule(&mut self, after: Millis, delivery: Delivery) {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Reverse((self.now + after, seq)));
        self.deliveries.insert(seq, delivery);
    }

    /// An input the pool's own host produces (repository results, `no route`): delivered even
    /// while the pool is offline.
    fn later(&mut self, pool: &str, after: Millis, input: Input) {
        let incarnation = self.pools.get(pool).map_or(0, |p| p.incarnation);
        self.schedule(after, Delivery::Input { pool: pool.to_string(), incarnation, network: false, input });
    }

    /// An input that travels over the network: dropped if the pool is offline when it
    /// arrives, delayed by the jitter fault.
    fn over_network(&mut self, pool: &str, incarnation: u32, after: Millis, input: Input) {
        let after = after + self.jitter();
        self.schedule(after, Delivery::Input { pool: pool.to_string(), incarnation, network: true, input });
    }

    /// A service's answer to `pool`, perhaps duplicated.
    fn answer(&mut self, pool: &str, after: Millis, token: Token, outcome: Outcome<Answer>) {
        let incarnation = self.pools.get(pool).map_or(0, |p| p.incarnation);
        if self.duplicated() {
            self.over_network(pool, incarnation, after, Input::Reply { token, outcome: outcome.clone() });
        }
        self.over_network(pool, incarnation, after, Input::Reply { token, outcome });
    }

    fn lost(&mut self) -> bool {
        self.faults.lose_messages > 0.0 && self.rng.next_f64() < self.faults.lose_messages
    }

    fn duplicated(&mut self) -> bool {
        self.faults.duplicate_messages > 0.0 && self.rng.next_f64() < self.faults.duplicate_messages
    }

    fn jitter(&mut self) -> Millis {
        match usize::try_from(self.faults.max_extra_delay) {
            Ok(max) if max > 0 => self.rng.below(max + 1) as Millis,
            _ => 0,
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Input { pool, incarnation, network, input } => {
                let Some(p) = self.pools.get(&pool) else { return };
                if p.crashed || p.incarnation != incarnation || (network && !p.online) {
                    return;
                }
                if let Input::Message { from, bytes, .. } = &input {
                    self.record_confirmation(from, bytes);
                }
                self.input(&pool, input);
            }
            Delivery::P2pDone { pool, id } => self.finish_transfer(&pool, id),
            Delivery::PinsMoved { pool, incarnation, token, request } => {
                *self.cause.lock() = Cause::PinManager;
                let outcome = self.move_pins(&request);
                *self.cause.lock() = Cause::External;
                self.note(|| {
                    format!("pin manager moved {:?} {} → {}: {outcome:?}", request.pins, request.source, request.target)
                });
                self.flush_repository_events();
                let up = self.pools.get(&pool).is_some_and(|p| !p.crashed && p.online && p.incarnation == incarnation);
                if up {
                    if self.duplicated() {
                        let reply = Input::Reply { token, outcome: outcome.clone().map(|()| Answer::Done) };
                        self.over_network(&pool, incarnation, self.latency, reply);
                    }
                    self.input(&pool, Input::Reply { token, outcome: outcome.map(|()| Answer::Done) });
                }
            }
        }
    }

    /// The pin manager's move (§9.5): each listed pin the source replica still carries is
    /// re-created on the target and then cleared on the source. Pins unknown by now (unpinned
    /// meanwhile) are not resurrected. Without a complete replica on the target, or with a
    /// pool unreachable, the move fails and nothing changes.
    fn move_pins(&mut self, request: &PinMove) -> Outcome<()> {
        for pool in [&request.source, &request.target] {
            if !self.is_up(pool) {
                return Err(Failure::error(ReturnCode::SERVICE_UNAVAILABLE, format!("Pool {pool} is unreachable")));
            }
        }
        let source = &self.pools[&request.source].repository;
        let target = &self.pools[&request.target].repository;
        let complete = |e: &Result<Option<ReplicaEntry>, String>| matches!(e, Ok(Some(entry)) if entry.state.is_cached_or_precious());
        if !complete(&target.entry(&request.pnfsid)) {
            let text = format!("No replica of {} on {}", request.pnfsid, request.target);
            return Err(Failure::error(ReturnCode::FILE_NOT_IN_REPOSITORY, text));
        }
        let Ok(Some(on_source)) = source.entry(&request.pnfsid) else { return Ok(()) };
        let half_way = request.pins.len() > 1 && self.faults.pin_moves_failing_half_way > 0;
        for (moved, pin) in request.pins.iter().enumerate() {
            if half_way && moved == 1 {
                self.faults.pin_moves_failing_half_way -= 1;
                return Err(Failure::error(ReturnCode::DEFAULT_ERROR_CODE, "the pin manager failed half way"));
            }
            let Some(current) = on_source.sticky.iter().find(|r| r.owner == pin.owner) else { continue };
            target
                .set_sticky(&request.pnfsid, current, true)
                .map_err(|e| Failure::error(ReturnCode::DEFAULT_ERROR_CODE, e.to_string()))?;
            source.remove_sticky(&request.pnfsid, &pin.owner);
        }
        Ok(())
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
        let events: Vec<(String, RepositoryEvent, Cause)> = std::mem::take(&mut *self.events.lock());
        for (pool, event, cause) in events {
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
            if self.trace.is_some() {
                let text = describe_event(&event);
                self.note(|| format!("{pool} repository: {text} ({cause:?})"));
            }
            self.history.push((self.now, pool.clone(), event.clone()));
            self.causes.push(cause);
            self.later(&pool, 0, Input::repository(event));
        }
    }

    /// Records the copy-finished messages with success that reach a pool.
    fn record_confirmation(&mut self, from: &str, message: &[u8]) {
        if let Ok((Message::CopyFinished { uuid, rc: ReturnCode::OK, .. }, _)) = decode_versioned::<Message>(message) {
            let copies_sent = self.copies.len();
            self.confirmations.push(CopyConfirmed { from: from.to_string(), uuid, copies_sent });
        }
    }

    /// Records the copy requests tasks send, with the job that sent them.
    fn record_copy(&mut self, pool: &str, to: &str, message: &[u8], token: Option<Token>) {
        let Some(token) = token else { return };
        let p = &self.pools[pool];
        let Some(Route::Task { job, kind: TaskReply::Copy, .. }) = p.module.request_route(token) else {
            return;
        };
        if let Ok((Message::Copy(request), wire)) = decode_versioned::<Message>(message) {
            let job = JobRef { pool: pool.to_string(), incarnation: p.incarnation, key: job };
            let at = self.now;
            let (pnfsid, uuid) = (request.attributes.pnfsid, request.uuid);
            let record = CopySent { at, job, to: to.to_string(), pnfsid, uuid, wire };
            self.copies.push(record);
        }
    }

    fn execute_effect(&mut self, pool: &str, effect: Effect) {
        let latency = self.latency;
        if self.trace.is_some() {
            let text = describe_effect(&effect);
            self.note(|| format!("{pool} ⇒ {text}"));
        }
        let repository = Arc::clone(&self.pools[pool].repository);
        let up = self.is_up(pool);
        match effect {
            Effect::Scan { job, filter, order, now, queue_seed, stop } => {
                let stopped = || stop.load(std::sync::atomic::Ordering::Relaxed);
                let result =
                    repository_effects::scan_for_queue(repository.as_ref(), &filter, order, now, queue_seed, &stopped);
                // Their events reach the job before the scan's result, as they would while a
                // long scan runs.
                for (pnfsid, change) in std::mem::take(&mut self.faults.changed_during_scan) {
                    let _ = repository_effects::apply_changes(repository.as_ref(), &pnfsid, &[change]);
                }
                self.flush_repository_events();
                self.later(pool, 0, Input::scanned(job, result));
            }
            Effect::ReadEntry { purpose, pnfsid } => {
                if let EntryPurpose::StartTask { job, .. } = purpose {
                    let job = JobRef { pool: pool.to_string(), incarnation: self.pools[pool].incarnation, key: job };
                    self.task_starts.push(TaskStarted { at: self.now, job, pnfsid });
                }
                if let EntryPurpose::StartTask { .. } = purpose
                    && let Some(change) = self.faults.changed_before_task_read.remove(&pnfsid)
                {
                    let _ = repository_effects::apply_changes(repository.as_ref(), &pnfsid, &[change]);
                }
                let fails =
                    matches!(purpose, EntryPurpose::StartTask { .. }) && self.faults.failing_task_reads.remove(&pnfsid);
                let result = if fails { Err("I/O error".to_string()) } else { repository.entry(&pnfsid) };
                self.later(pool, 0, Input::entry(purpose, result));
            }
            Effect::InspectCopy { request, pnfsid } => {
                let (accepts_copies, entry) = repository.inspect_copy(&pnfsid);
                self.later(pool, 0, Input::copy_inspected(request, accepts_copies, entry));
            }
            Effect::Change { purpose, pnfsid, changes } => {
                if let ChangePurpose::SourceMode { .. } = purpose
                    && let Some(faults) = self.faults.changed_before_source_change.get_mut(&pnfsid)
                {
                    if let Some(fault) = faults.pop_front() {
                        let _ = repository_effects::apply_changes(repository.as_ref(), &pnfsid, &[fault]);
                    }
                    if faults.is_empty() {
                        self.faults.changed_before_source_change.remove(&pnfsid);
                    }
                }
                if let ChangePurpose::ServerUpdate { .. } = purpose
                    && self.faults.broken_before_update.remove(&pnfsid)
                {
                    let scan =
                        RepositoryChange::SetState { state: ReplicaState::Broken, reason: "checksum scan".into() };
                    if repository_effects::apply_changes(repository.as_ref(), &pnfsid, &[scan]).is_ok() {
                        self.broken_before_updates.push((pool.to_string(), pnfsid));
                    }
                }
                *self.cause.lock() = match purpose {
                    ChangePurpose::SourceMode { job, .. } => {
                        let incarnation = self.pools[pool].incarnation;
                        Cause::SourceMode { job: JobRef { pool: pool.to_string(), incarnation, key: job } }
                    }
                    ChangePurpose::ServerUpdate { request } => Cause::TargetUpdate { request },
                };
                let result = repository_effects::apply_changes(repository.as_ref(), &pnfsid, &changes);
                *self.cause.lock() = Cause::External;
                self.later(pool, 0, Input::Changed { purpose, result });
            }
            Effect::VerifyChecksum { request, pnfsid } => {
                let result = repository.verify_checksum(&pnfsid);
                self.later(pool, 1, Input::Verified { request, result });
            }
            Effect::QueryLocations { token, pnfsid } => {
                if !up {
                    return self.later(pool, latency, Input::Reply { token, outcome: Err(Failure::NoRoute) });
                }
                if self.faults.namespace_down {
                    return;
                }
                let outcome = match self.namespace.get(&pnfsid) {
                    Some(l) => Ok(Answer::Locations(l.iter().cloned().collect())),
                    None => Err(Failure::error(ReturnCode::FILE_NOT_FOUND, "No such file or directory")),
                };
                self.answer(pool, 2 * latency, token, outcome);
            }
            Effect::QueryPools { token, selection } => {
                if !up {
                    return self.later(pool, latency, Input::Reply { token, outcome: Err(Failure::NoRoute) });
                }
                let pools = self.pool_list(&selection);
                self.answer(pool, 2 * latency, token, Ok(Answer::Pools(pools)));
            }
            Effect::QueryGroups { token, pool: of } => {
                if !up {
                    return self.later(pool, latency, Input::Reply { token, outcome: Err(Failure::NoRoute) });
                }
                let groups = self.groups.iter().filter(|(_, m)| m.contains(&of)).map(|(g, _)| g.clone()).collect();
                self.answer(pool, 2 * latency, token, Ok(Answer::Groups(groups)));
            }
            Effect::Send { to, message, token } => {
                self.record_copy(pool, &to, &message, token);
                if !up || !self.is_up(&to) {
                    if let Some(token) = token {
                        self.later(pool, latency, Input::Reply { token, outcome: Err(Failure::NoRoute) });
                    }
                    return;
                }
                if self.faults.unresponsive.contains(&*to) || self.lost() {
                    return;
                }
                let copies = if self.duplicated() { 2 } else { 1 };
                let (origin_incarnation, to_incarnation) = (self.pools[pool].incarnation, self.pools[&*to].incarnation);
                for _ in 0..copies {
                    let reply = token.map(|token| {
                        let id = InboundId(self.next_inbound);
                        self.next_inbound += 1;
                        self.inbound.insert((to.to_string(), id), (pool.to_string(), origin_incarnation, token));
                        id
                    });
                    let input = Input::Message { from: pool.into(), bytes: message.clone(), reply };
                    self.over_network(&to, to_incarnation, latency, input);
                }
            }
            Effect::Respond { inbound, reply } => {
                let Some((origin, incarnation, token)) = self.inbound.remove(&(pool.to_string(), inbound)) else {
                    self.direct_answers.push((pool.to_string(), inbound, reply));
                    return;
                };
                if !up || self.faults.unresponsive.contains(pool) || self.lost() {
                    return;
                }
                if self.duplicated() {
                    let input = Input::Reply { token, outcome: Ok(Answer::Bytes(reply.clone())) };
                    self.over_network(&origin, incarnation, latency, input);
                }
                self.over_network(
                    &origin,
                    incarnation,
                    latency,
                    Input::Reply { token, outcome: Ok(Answer::Bytes(reply)) },
                );
            }
            Effect::MovePins { token, request } => {
                self.pin_moves.push(PinMoveAsked {
                    pool: pool.to_string(),
                    pnfsid: request.pnfsid,
                    target: request.target.clone(),
                    confirmations_seen: self.confirmations.len(),
                    copies_sent: self.copies.len(),
                });
                if !up {
                    return self.later(pool, latency, Input::Reply { token, outcome: Err(Failure::NoRoute) });
                }
                if !self.faults.pin_manager_down {
                    let incarnation = self.pools[pool].incarnation;
                    let after = 2 * latency + self.jitter();
                    self.schedule(after, Delivery::PinsMoved { pool: pool.to_string(), incarnation, token, request });
                }
            }
            Effect::StartP2p { token, request } => {
                let duration = latency * 2 + (request.attributes.size / self.bandwidth.max(1)) as Millis;
                let id = request.id;
                let broken = (!up).then(|| format!("Pool {pool} is offline"));
                self.transfers.insert((pool.to_string(), id), Transfer { token, request, cancelled: false, broken });
                self.schedule(duration, Delivery::P2pDone { pool: pool.to_string(), id });
            }
            Effect::CancelP2p { id } => {
                if let Some(t) = self.transfers.get_mut(&(pool.to_string(), id)) {
                    t.cancelled = true;
                    self.schedule(0, Delivery::P2pDone { pool: pool.to_string(), id });
                }
            }
            Effect::Release(memory) => drop(memory),
        }
    }

    fn finish_transfer(&mut self, pool: &str, id: RequestId) {
        let key = (pool.to_string(), id);
        let Some(transfer) = self.transfers.get(&key) else { return };
        if !transfer.cancelled && transfer.broken.is_none() {
            // A full pool waits for space (dCache's p2p blocks in the space allocation).
            let p = &self.pools[pool];
            if p.repository.used().saturating_add(transfer.request.attributes.size) > p.capacity {
                return self.schedule(FULL_POOL_RETRY, Delivery::P2pDone { pool: pool.to_string(), id });
            }
        }
        let Some(transfer) = self.transfers.remove(&key) else { return };
        *self.cause.lock() = Cause::Transfer { request: id };
        let outcome = self.transfer(pool, &transfer);
        *self.cause.lock() = Cause::External;
        self.note(|| {
            format!(
                "{pool} p2p {} of {} from {}: {outcome:?}",
                short(id),
                transfer.request.attributes.pnfsid,
                transfer.request.source
            )
        });
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
        if let Some(broken) = &transfer.broken {
            return Err(Failure::error(ReturnCode::ERROR_IO_DISK, broken.clone()));
        }
        let source = match self.pools.get(&*r.source) {
            Some(p) if p.online && !p.crashed => p,
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
        // A corrupt source replica fails the target's check of the data against the file's
        // checksum, as a corrupted transfer does.
        if self.faults.corrupt_transfers.contains(&pnfsid) || source.repository.is_corrupt(&pnfsid) {
            return Err(Failure::error(ReturnCode::FILE_CORRUPTED, "Checksum mismatch"));
        }
        let target = &self.pools[pool];
        if matches!(target.repository.entry(&pnfsid), Ok(Some(_))) {
            return Err(Failure::error(ReturnCode::FILE_IN_CACHE, "Replica already exists"));
        }
        let mut entry = original.clone();
        entry.state = r.state;
        entry.sticky = crate::replica::sticky_as_applied(r.state, &r.sticky);
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
        if !p.online || p.crashed || self.faults.unknown_to_pool_manager.contains(name) {
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

// ── Trace text ─────────────────────────────────────────────────────────────────────────

/// The first 8 hex digits of a request id.
fn short(id: RequestId) -> String {
    format!("{:08x}", (id.0 >> 96) as u32)
}

fn records(sticky: &[StickyRecord]) -> String {
    let parts: Vec<String> = sticky.iter().map(|r| format!("{}({})", r.owner, r.expire)).collect();
    format!("[{}]", parts.join(","))
}

fn describe_message(bytes: &[u8]) -> String {
    match decode::<Message>(bytes) {
        Ok(Message::Copy(r)) => format!(
            "copy {} uuid={} {} {}{}",
            r.attributes.pnfsid,
            short(r.uuid),
            r.state,
            records(&r.sticky),
            if r.meta_only { " meta-only" } else { "" }
        ),
        Ok(Message::Ping { uuid, pnfsid, .. }) => format!("ping {pnfsid} uuid={}", short(uuid)),
        Ok(Message::Cancel { uuid, pnfsid, reason, .. }) => {
            format!("cancel {pnfsid} uuid={} ({})", short(uuid), reason.unwrap_or_default())
        }
        Ok(Message::CopyFinished { uuid, pnfsid, rc, error, .. }) => {
            format!("copy-finished {pnfsid} uuid={} rc={rc} {}", short(uuid), error.unwrap_or_default())
        }
        Ok(Message::CancelJob { job, forced, reason }) => format!("cancel job {job} forced={forced} ({reason})"),
        Err(e) => e,
    }
}

fn describe_outcome(outcome: &Outcome<Answer>) -> String {
    match outcome {
        Ok(Answer::Bytes(bytes)) => match decode::<Reply>(bytes) {
            Ok(Reply::Ok) => "ok".to_string(),
            Ok(Reply::Error { code, message }) => format!("error {code} {message}"),
            Err(e) => e,
        },
        Ok(Answer::Locations(l)) => format!("locations {l:?}"),
        Ok(Answer::Pools(list)) => {
            let names: Vec<String> = list
                .pools
                .iter()
                .map(|p| match p {
                    PoolInfo::Online(i) => i.name.to_string(),
                    PoolInfo::Offline { name } => format!("{name}(offline)"),
                })
                .collect();
            format!("pools {names:?}")
        }
        Ok(Answer::Groups(g)) => format!("groups {g:?}"),
        Ok(Answer::Done) => "done".to_string(),
        Err(f) => format!("{f}"),
    }
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::PoolStarted => "pool started".to_string(),
        Input::Repository(event) => format!("repository event {}", describe_event(event)),
        Input::RepositoryLoaded => "repository loaded".to_string(),
        Input::Scanned { job, result } => match result {
            Ok(files) => format!("job {} scanned {} files", job.0, files.len()),
            Err(e) => format!("job {} scan failed: {e}", job.0),
        },
        Input::Entry { purpose, result } => match result {
            Ok(Some(e)) => format!("entry for {purpose:?}: {} {}", e.state, records(&e.sticky)),
            Ok(None) => format!("entry for {purpose:?}: none"),
            Err(e) => format!("entry for {purpose:?}: {e}"),
        },
        Input::Changed { purpose, result } => format!("changed for {purpose:?}: {result:?}"),
        Input::CopyInspected { request, accepts_copies, entry } => match entry {
            _ if !accepts_copies => format!("copy {} inspected: pool disabled", short(*request)),
            Ok(Some(e)) => format!("copy {} inspected: {} {}", short(*request), e.state, records(&e.sticky)),
            Ok(None) => format!("copy {} inspected: no replica", short(*request)),
            Err(e) => format!("copy {} inspected: {e}", short(*request)),
        },
        Input::Verified { request, result } => format!("verified {}: {result:?}", short(*request)),
        Input::Reply { token, outcome } => format!("reply #{}: {}", token.0, describe_outcome(outcome)),
        Input::Message { from, bytes, reply } => {
            let mut text = format!("from {from}: {}", describe_message(bytes));
            if let Some(r) = reply {
                let _ = write!(text, " (answer #{})", r.0);
            }
            text
        }
    }
}

fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Scan { job, .. } => format!("scan for job {}", job.0),
        Effect::ReadEntry { purpose, pnfsid } => format!("read {pnfsid} for {purpose:?}"),
        Effect::InspectCopy { request, pnfsid } => format!("inspect {pnfsid} for {}", short(*request)),
        Effect::Change { purpose, pnfsid, changes } => format!("change {pnfsid} for {purpose:?}: {changes:?}"),
        Effect::VerifyChecksum { request, pnfsid } => format!("verify {pnfsid} for {}", short(*request)),
        Effect::QueryLocations { token, pnfsid } => format!("#{} locations of {pnfsid}", token.0),
        Effect::QueryPools { token, selection } => format!("#{} pools {selection:?}", token.0),
        Effect::QueryGroups { token, pool } => format!("#{} groups of {pool}", token.0),
        Effect::Send { to, message, token } => {
            let token = token.map(|t| format!("#{} ", t.0)).unwrap_or_default();
            format!("{token}send to {to}: {}", describe_message(message))
        }
        Effect::Respond { inbound, reply } => {
            let text = match decode::<Reply>(reply) {
                Ok(Reply::Ok) => "ok".to_string(),
                Ok(Reply::Error { code, message }) => format!("error {code} {message}"),
                Err(e) => e,
            };
            format!("answer #{}: {text}", inbound.0)
        }
        Effect::MovePins { token, request } => {
            format!(
                "#{} move pins {} of {} {} → {}",
                token.0,
                records(&request.pins),
                request.pnfsid,
                request.source,
                request.target
            )
        }
        Effect::StartP2p { token, request } => format!(
            "#{} p2p {} uuid={} from {} as {} {}",
            token.0,
            request.attributes.pnfsid,
            short(request.id),
            request.source,
            request.state,
            records(&request.sticky)
        ),
        Effect::CancelP2p { id } => format!("cancel p2p {}", short(*id)),
        Effect::Release(memory) => format!("release {} bytes", memory.bytes()),
    }
}

fn describe_event(event: &RepositoryEvent) -> String {
    match event {
        RepositoryEvent::StateChanged { old, new, entry } => {
            format!("{} {old} → {new} {}", entry.pnfsid, records(&entry.sticky))
        }
        RepositoryEvent::StickyChanged { old, new } => {
            format!("{} sticky {} → {}", new.pnfsid, records(&old.sticky), records(&new.sticky))
        }
        RepositoryEvent::AccessTimeChanged { new, .. } => format!("{} accessed", new.pnfsid),
    }
}
