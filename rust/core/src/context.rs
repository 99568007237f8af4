//! What a job and the migration server may touch while they handle one event: the module's
//! configuration, the file locks, the timers, the outstanding requests and where their answers
//! go. A leaf: the module owns it and lends it out as a [`Ctx`]; jobs and the server use it
//! without knowing the module.

use rustc_hash::FxHashSet;

use crate::effect::{Effect, Inbound, JobKey, Token};
use crate::message::{Message, Reply, RequestId, WireVersion, encode_as};
use crate::pnfsid::PnfsId;
use crate::random::Rng;
use crate::requests::Outstanding;
use crate::timers::Timers;
use crate::{Millis, PoolName};

/// Timeouts, names and initial defaults (spec §16).
#[derive(Debug, Clone)]
pub struct Config {
    /// `T`: timeout of requests to pools (`pool.service.pool.timeout`).
    pub pool_timeout: Millis,
    /// Location queries (`pool.service.pnfsmanager.timeout`).
    pub namespace_timeout: Millis,
    /// Pool lists (`pool.service.poolmanager.timeout`).
    pub pool_manager_timeout: Millis,
    /// Pin moves (`pool.service.pinmanager.timeout`).
    pub pin_manager_timeout: Millis,
    /// The pin manager's cell name: sticky records whose owner starts with it are pins.
    pub pin_manager: String,
    /// `pool.migration.concurrency.default`.
    pub concurrency_default: i32,
    /// `pool.migration.refresh.default`, seconds.
    pub refresh_default: u64,
    /// `pool.migration.hotfile.replicas`.
    pub hotfile_replicas: i32,
    /// `pool.migration.hotfile.threshold`.
    pub hotfile_threshold: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pool_timeout: 60_000,
            namespace_timeout: 300_000,
            pool_manager_timeout: 120_000,
            pin_manager_timeout: 120_000,
            pin_manager: "PinManager".to_string(),
            concurrency_default: 1,
            refresh_default: 300,
            hotfile_replicas: 1,
            hotfile_threshold: 50,
        }
    }
}

impl Config {
    /// The one rule for every front end (C, Java, minidcache): timeouts, default concurrency
    /// and refresh period positive, a pin manager name. `Runtime::start` refuses anything
    /// else, so no binding keeps a copy of these checks.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let invalid = |text: String| Err(crate::Error::new(crate::ErrorKind::InvalidArgument, text));
        for (value, name) in [
            (self.pool_timeout, "pool_timeout"),
            (self.namespace_timeout, "namespace_timeout"),
            (self.pool_manager_timeout, "pool_manager_timeout"),
            (self.pin_manager_timeout, "pin_manager_timeout"),
        ] {
            if value <= 0 {
                return invalid(format!("config.{name} must be positive, not {value}"));
            }
        }
        if self.concurrency_default < 1 {
            return invalid(format!("config.concurrency_default must be positive, not {}", self.concurrency_default));
        }
        if self.refresh_default < 1 {
            return invalid("config.refresh_default must be positive, not 0".to_string());
        }
        // Seconds in a Java int, as dCache's `-refresh`: a larger default would be read back as
        // a negative refresh, and every job without `-refresh` refused.
        if self.refresh_default > i32::MAX as u64 {
            return invalid(format!(
                "config.refresh_default must be at most {}, not {}",
                i32::MAX,
                self.refresh_default
            ));
        }
        if self.pin_manager.is_empty() {
            return invalid("config.pin_manager is empty".to_string());
        }
        Ok(())
    }
}

/// Which of a job's pool lists an answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSlot {
    /// The source pool's own information.
    Source,
    /// The targets.
    Target,
}

/// Which request of a task an answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskReply {
    /// The location query.
    Locations,
    /// The copy request.
    Copy,
    /// A ping.
    Ping,
    /// A cancel request.
    Cancel,
    /// The pin move.
    PinMove,
}

/// Where the answer to a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To a task.
    Task {
        /// The job.
        job: JobKey,
        /// The file.
        pnfsid: PnfsId,
        /// The task.
        task: u64,
        /// Which request.
        kind: TaskReply,
    },
    /// To a job's pool list.
    Pools {
        /// The job.
        job: JobKey,
        /// Which list.
        list: ListSlot,
    },
    /// To a job looking up the groups of its pool.
    Groups {
        /// The job.
        job: JobKey,
    },
    /// To a dry run asking where a file is.
    Plan {
        /// The job.
        job: JobKey,
        /// The file.
        pnfsid: PnfsId,
    },
    /// To the server's pool-to-pool transfer.
    ServerP2p {
        /// The copy request.
        request: RequestId,
    },
}

/// Module state that jobs and the server share, lent out as a [`Ctx`].
///
/// The module's maps hash with FxHash rather than SipHash: their keys are its own counters
/// and the ids of files and requests from pools of the same dCache, not input an attacker
/// chooses, and SipHash was a seventh of the work of orchestrating a copy (issue #14).
#[derive(Debug)]
pub struct Shared {
    /// This pool's name.
    pub pool: PoolName,
    /// Configuration.
    pub config: Config,
    /// Files a local task works on (shared by all jobs and consulted by the server).
    pub locks: FxHashSet<PnfsId>,
    /// Armed timers.
    pub timers: Timers,
    /// Outstanding requests, with their deadlines.
    requests: Outstanding<Route>,
    /// Randomness for selection and request ids.
    pub rng: Rng,
    /// Whether the repository can verify checksums (`-verify`).
    pub verifies_checksums: bool,
    /// The wire version of the requests this pool sends (`migration set wire-version`).
    pub wire: WireVersion,
    next_task_id: u64,
    /// How many jobs have ended, ever: the module looks for finished hot-file jobs to drop
    /// only after one did.
    pub jobs_ended: u64,
    effects: Vec<Effect>,
}

/// What a job or the server may touch while it handles one event.
pub struct Ctx<'a> {
    /// The time of the event.
    pub now: Millis,
    /// This pool's name.
    pub pool: &'a PoolName,
    /// Configuration.
    pub config: &'a Config,
    /// Where effects go.
    pub effects: &'a mut Vec<Effect>,
    /// Timers.
    pub timers: &'a mut Timers,
    /// The module-wide file locks.
    pub locks: &'a mut FxHashSet<PnfsId>,
    /// Randomness.
    pub rng: &'a mut Rng,
    /// Whether the repository can verify checksums.
    pub verifies_checksums: bool,
    /// The wire version of the requests this pool sends.
    pub wire: WireVersion,
    requests: &'a mut Outstanding<Route>,
    next_task_id: &'a mut u64,
    jobs_ended: &'a mut u64,
}

impl Ctx<'_> {
    /// Registers an outstanding request that times out after `timeout`.
    pub fn request(&mut self, route: Route, timeout: Millis) -> Token {
        self.requests.register(route, Some(self.now.saturating_add(timeout)))
    }

    /// Registers an outstanding request without a timeout (a p2p transfer may take hours).
    pub fn request_untimed(&mut self, route: Route) -> Token {
        self.requests.register(route, None)
    }

    /// Sends `message` to the module of pool `to`; `token` routes its reply, if one is
    /// expected. Jobs and the server speak in messages; the bytes on the wire are made here.
    /// The message goes out in this pool's wire version (`migration set wire-version`).
    pub fn send(&mut self, to: PoolName, message: &Message, token: Option<Token>) {
        self.send_as(self.wire, to, message, token);
    }

    /// As [`Ctx::send`], in wire version `wire` (a copy-finished goes out in the version of
    /// its copy request).
    pub fn send_as(&mut self, wire: WireVersion, to: PoolName, message: &Message, token: Option<Token>) {
        self.effects.push(Effect::Send { to, message: encode_as(message, wire), token });
    }

    /// Answers the inbound request `inbound` with `reply`, in the version it came in.
    pub fn respond(&mut self, inbound: Inbound, reply: &Reply) {
        self.effects.push(inbound.respond(reply));
    }

    /// The route of an outstanding request, which is no longer outstanding.
    pub fn take_route(&mut self, token: Token) -> Option<Route> {
        self.requests.take(token)
    }

    /// The route of a request that timed out at `now` or before, earliest first; it is no
    /// longer outstanding.
    pub fn take_timed_out(&mut self, now: Millis) -> Option<Route> {
        self.requests.pop_due(now)
    }

    /// Counts a job that ended.
    pub fn job_ended(&mut self) {
        *self.jobs_ended += 1;
    }

    /// The next task id (one counter for all jobs of the pool, starting at 0).
    pub fn next_task_id(&mut self) -> u64 {
        let id = *self.next_task_id;
        *self.next_task_id += 1;
        id
    }
}

impl Shared {
    pub(crate) fn new(pool: String, config: Config, seed: u64) -> Shared {
        Shared {
            pool: pool.into(),
            config,
            locks: FxHashSet::default(),
            timers: Timers::default(),
            requests: Outstanding::default(),
            rng: Rng::seeded(seed),
            verifies_checksums: true,
            wire: WireVersion::default(),
            next_task_id: 0,
            jobs_ended: 0,
            effects: Vec::new(),
        }
    }

    /// Where the answer to an outstanding request goes.
    pub fn route(&self, token: Token) -> Option<Route> {
        self.requests.route(token)
    }

    /// The earliest deadline: of a timer, or of a request's answer.
    pub fn next_deadline(&self) -> Option<Millis> {
        [self.timers.next_deadline(), self.requests.next_deadline()].into_iter().flatten().min()
    }

    /// Takes the effects produced so far.
    pub(crate) fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Where effects go (for module-level work outside a job).
    pub fn effects_mut(&mut self) -> &mut Vec<Effect> {
        &mut self.effects
    }

    /// Lends the shared state for one event at `now`.
    pub fn ctx(&mut self, now: Millis) -> Ctx<'_> {
        Ctx {
            now,
            pool: &self.pool,
            config: &self.config,
            effects: &mut self.effects,
            timers: &mut self.timers,
            locks: &mut self.locks,
            rng: &mut self.rng,
            verifies_checksums: self.verifies_checksums,
            wire: self.wire,
            requests: &mut self.requests,
            next_task_id: &mut self.next_task_id,
            jobs_ended: &mut self.jobs_ended,
        }
    }
}
