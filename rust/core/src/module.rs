//! The migration module of one pool, sans-IO: it owns the jobs, the migration server, the
//! outstanding requests and the timers, takes [`Input`]s and admin commands, and leaves
//! [`Effect`]s for its driver. Nothing here blocks, reads a clock or calls a host.

use std::collections::BTreeMap;

pub use crate::context::{Config, Ctx, ListSlot, Route, Shared, TaskReply};
use crate::effect::{ChangePurpose, Effect, EntryPurpose, Inbound, JobKey, Token};
use crate::error::{Failure, Outcome};
use crate::input::{Answer, Input, entry_of};
use crate::job::{Job, task_reply_event};
use crate::message::{Message, Reply, WireVersion, decode_naming, version_of};
use crate::replica::ReplicaEntry;
use crate::server::{Admission, Server};
use crate::task::TaskEvent;
use crate::timers::TimerKey;
use crate::{Millis, PoolName};

/// The migration module of one pool.
#[derive(Debug)]
pub struct Module {
    pub(crate) shared: Shared,
    /// Jobs by creation order.
    pub(crate) jobs: BTreeMap<JobKey, Job>,
    pub(crate) server: Server,
    pub(crate) started: bool,
    pub(crate) accepts_copies: bool,
    pub(crate) next_key: u64,
    pub(crate) next_job_number: u64,
    pub(crate) defaults: Defaults,
    pub(crate) hot_reports: crate::hotfile::PendingReports,
    /// Hot-file jobs in the list (an upper bound; exact after each prune).
    pub(crate) hot_jobs: usize,
    /// [`Shared::jobs_ended`](crate::context::Shared::jobs_ended) when the finished hot-file
    /// jobs were last pruned.
    pub(crate) hot_pruned_at: u64,
}

/// Values changeable at run time with `migration set …` and `hotfile set …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// Default concurrency of new jobs.
    pub concurrency: i32,
    /// Default refresh period of new jobs, seconds.
    pub refresh: u64,
    /// Hot-file replicas.
    pub hotfile_replicas: i32,
    /// Hot-file threshold.
    pub hotfile_threshold: i64,
    /// `-max-attempts` of jobs created without it; 0 retries for ever (beyond dCache).
    pub max_attempts: u32,
    /// Copy requests from other pools served at once; 0: no limit (beyond dCache).
    pub max_incoming: u32,
}

/// The initial `migration set max-incoming`: well above one job's usual concurrency, low
/// enough that many sources cannot bury one pool (dCache #7578).
pub const MAX_INCOMING_DEFAULT: u32 = 100;

impl Module {
    /// A module for pool `pool`; `seed` makes its randomness reproducible.
    pub fn new(pool: impl Into<String>, config: Config, seed: u64) -> Module {
        let defaults = Defaults {
            concurrency: config.concurrency_default,
            refresh: config.refresh_default,
            hotfile_replicas: config.hotfile_replicas,
            hotfile_threshold: config.hotfile_threshold,
            max_attempts: 0,
            max_incoming: MAX_INCOMING_DEFAULT,
        };
        Module {
            shared: Shared::new(pool.into(), config, seed),
            jobs: BTreeMap::new(),
            server: Server::default(),
            started: false,
            accepts_copies: true,
            next_key: 1,
            next_job_number: 1,
            defaults,
            hot_reports: Default::default(),
            hot_jobs: 0,
            hot_pruned_at: 0,
        }
    }

    /// This pool's name.
    pub fn pool(&self) -> &str {
        &self.shared.pool
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The current run-time defaults.
    pub fn defaults(&self) -> Defaults {
        self.defaults
    }

    /// Takes the effects produced so far.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        self.shared.take_effects()
    }

    /// Moves the effects produced so far into `into` (which should be empty), leaving its
    /// allocation to the module: a driver that recycles one buffer allocates nothing per step.
    pub fn take_effects_into(&mut self, into: &mut Vec<Effect>) {
        debug_assert!(into.is_empty(), "effects would be lost");
        std::mem::swap(self.shared.effects_mut(), into);
    }

    /// Where the answer to an outstanding request will go (for drivers and the simulator,
    /// which attribute requests to jobs).
    pub fn request_route(&self, token: Token) -> Option<Route> {
        self.shared.route(token)
    }

    /// A key for a new job; keys are never reused.
    pub(crate) fn new_job_key(&mut self) -> JobKey {
        let key = JobKey(self.next_key);
        self.next_key += 1;
        key
    }

    /// The one way a job joins the module: it is listed, and started at once if the pool has
    /// started (by a scan, or with `entries` when they are known, as for hot files).
    pub(crate) fn add_job(&mut self, job: Job, now: Millis, entries: Option<&[ReplicaEntry]>) -> JobKey {
        let key = job.key;
        self.jobs.insert(key, job);
        if self.started {
            let mut ctx = self.shared.ctx(now);
            let job = self.jobs.get_mut(&key).expect("just inserted");
            match entries {
                Some(entries) => job.start_with_entries(entries, &mut ctx),
                None => job.start(&mut ctx),
            }
        }
        key
    }

    /// The earliest timer deadline, if any.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.shared.next_deadline()
    }

    /// The jobs, in creation order (dry runs are not jobs: `migration info dry-run-N` shows
    /// them, nothing else lists, saves or counts them).
    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values().filter(|j| !j.is_dry_run())
    }

    /// A job by id.
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.values().find(|j| j.id == id)
    }

    /// Requests the migration server currently serves.
    pub fn server_requests(&self) -> usize {
        self.server.len()
    }

    /// Files locked by local tasks.
    pub fn locked_files(&self) -> usize {
        self.shared.locks.len()
    }

    /// Removes a job and releases the locks of the files it still has running. A job that
    /// failed may have tasks still under way (§3.5); dropping it without its locks would keep
    /// those files locked for every other job, and refused to incoming copies (10020), until
    /// the pool restarts. Their later answers find no job and are ignored.
    pub(crate) fn remove_job(&mut self, key: JobKey) {
        if let Some(job) = self.jobs.remove(&key) {
            for pnfsid in job.locked_files() {
                self.shared.locks.remove(pnfsid);
            }
        }
    }

    /// Whether this pool accepts copies from other pools (a `-strict`-disabled pool does not).
    /// `false` refuses copy requests at once; `true` still asks the repository's
    /// [`crate::host::Repository::accepts_copies`] for each request.
    pub fn set_accepts_copies(&mut self, accepts: bool) {
        self.accepts_copies = accepts;
    }

    /// Whether the repository can verify checksums. Without it, jobs with `-verify` are
    /// refused and copy requests that would verify an existing replica fail: a move must never
    /// delete its source on the strength of a verification nobody did. The drivers set it from
    /// [`crate::host::Repository::verifies_checksums`].
    pub fn set_verifies_checksums(&mut self, verifies: bool) {
        self.shared.verifies_checksums = verifies;
    }

    /// Whether the repository can verify checksums.
    pub fn verifies_checksums(&self) -> bool {
        self.shared.verifies_checksums
    }

    /// The pool stops: every job is cancelled with force, reason `pool shutdown`.
    pub fn shutdown(&mut self, now: Millis) {
        let mut ctx = self.shared.ctx(now);
        for job in self.jobs.values_mut() {
            job.cancel(true, "pool shutdown", None, &mut ctx);
        }
        self.prune_hot_file_jobs();
    }

    pub(crate) fn job_key(&self, id: &str) -> Option<JobKey> {
        self.jobs.iter().find(|(_, j)| j.id == id).map(|(k, _)| *k)
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.fire_timers(now);
        self.prune_hot_file_jobs();
    }

    /// Fires what is due, earliest first: requests that time out and timers. At the same
    /// deadline the requests go first.
    fn fire_timers(&mut self, now: Millis) {
        loop {
            let timer_due = self.shared.timers.next_deadline().filter(|&at| at <= now);
            let mut ctx = self.shared.ctx(now);
            if let Some(route) = ctx.take_timed_out(timer_due.unwrap_or(now)) {
                route_answer(&mut self.jobs, &mut self.server, route, Err(Failure::Timeout), &mut ctx);
                continue;
            }
            let Some(key) = ctx.timers.pop_due(now) else { break };
            match key {
                TimerKey::Task { job, pnfsid, task } => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.task_event(pnfsid, Some(task), TaskEvent::Timer, &mut ctx);
                    }
                }
                TimerKey::Wake(job) => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.wake(&mut ctx);
                    }
                }
                TimerKey::Refresh(job) => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.refresh(&mut ctx);
                    }
                }
                TimerKey::ScanRetry(job) => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.retry_scan(&mut ctx);
                    }
                }
                TimerKey::CancelGrace(job) => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.cancel_grace_over(&mut ctx);
                    }
                }
                TimerKey::Throttle(job) => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.schedule(&mut ctx);
                    }
                }
            }
        }
    }

    /// Feeds one input at time `now`.
    pub fn handle(&mut self, now: Millis, input: Input) {
        self.dispatch(now, input);
        self.prune_hot_file_jobs();
    }

    fn dispatch(&mut self, now: Millis, input: Input) {
        let mut ctx = self.shared.ctx(now);
        match input {
            Input::PoolStarted => {
                self.started = true;
                for job in self.jobs.values_mut() {
                    job.start(&mut ctx);
                }
            }
            Input::Repository(event) => {
                for job in self.jobs.values_mut() {
                    job.repository_event(&event, &mut ctx);
                }
            }
            Input::RepositoryLoaded => {
                for job in self.jobs.values_mut() {
                    job.repository_loaded(&mut ctx);
                }
            }
            Input::Scanned { job, result } => {
                if let Some(job) = self.jobs.get_mut(&job) {
                    job.scanned(result.map(|files| *files), &mut ctx);
                }
            }
            Input::Entry { purpose, result } => match purpose {
                EntryPurpose::StartTask { job, pnfsid } => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.entry_for_task(pnfsid, entry_of(&pnfsid, result), &mut ctx);
                    }
                }
                EntryPurpose::SourceMode { job, pnfsid } => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.entry_for_source_mode(pnfsid, entry_of(&pnfsid, result), &mut ctx);
                    }
                }
                EntryPurpose::HotFile { pnfsid } => {
                    self.hot_file_entry(now, pnfsid, entry_of(&pnfsid, result).map(|entry| entry.map(|e| *e)))
                }
            },
            Input::Changed { purpose, result } => match purpose {
                ChangePurpose::SourceMode { job, pnfsid } => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        job.source_mode_applied(pnfsid, result, &mut ctx);
                    }
                }
                ChangePurpose::ServerUpdate { request } => self.server.updated(request, result, &mut ctx),
            },
            Input::CopyInspected { request, accepts_copies, entry } => {
                self.server.inspected(request, accepts_copies, entry, &mut ctx)
            }
            Input::Verified { request, result } => self.server.verified(request, result, &mut ctx),
            Input::Reply { token, outcome } => {
                // A reply for a request that timed out or whose task ended is dropped.
                if let Some(route) = ctx.take_route(token) {
                    route_answer(&mut self.jobs, &mut self.server, route, outcome, &mut ctx);
                }
            }
            Input::Message { from, bytes, reply } => {
                let accepts = self.accepts_copies;
                match decode_naming::<Message>(&bytes, &[&from, ctx.pool]) {
                    Ok((message, wire)) => {
                        let reply = reply.map(|id| Inbound { id, wire });
                        self.message(from, message, reply, wire, accepts, now)
                    }
                    Err(e) => {
                        tracing::warn!(target: "org.dcache.pool.migration.MigrationModuleServer", from = &*from, "refusing a malformed message: {e}");
                        if let Some(id) = reply {
                            let inbound = Inbound { id, wire: version_of(&bytes) };
                            let reply = Reply::Error { code: crate::error::ReturnCode::INVALID_ARGS, message: e };
                            self.shared.effects_mut().push(inbound.respond(&reply));
                        }
                    }
                }
            }
        }
    }

    /// `from` is owned: a copy request keeps it as the address of its copy-finished message.
    fn message(
        &mut self,
        from: PoolName,
        message: Message,
        reply: Option<Inbound>,
        wire: WireVersion,
        accepts: bool,
        now: Millis,
    ) {
        let mut ctx = self.shared.ctx(now);
        match message {
            Message::Copy(request) => {
                let max_incoming = self.defaults.max_incoming as usize;
                let admission = Admission { accepts_copies: accepts, max_incoming };
                self.server.copy(from, request, (reply, wire), admission, &mut ctx)
            }
            Message::Ping { uuid, .. } => self.server.ping(uuid, reply, &mut ctx),
            Message::Cancel { uuid, reason, .. } => self.server.cancel(uuid, reason, reply, &mut ctx),
            Message::CopyFinished { uuid, pool, pnfsid, rc, error } => {
                if pool == *ctx.pool {
                    for job in self.jobs.values_mut() {
                        job.copy_finished(&from, pnfsid, uuid, rc, error.clone(), &mut ctx);
                    }
                }
                // One-way in dCache; a host that delivers it with a reply slot still gets an
                // answer, or its sender would wait until this pool shut down.
                if let Some(inbound) = reply {
                    ctx.effects.push(inbound.respond(&Reply::Ok));
                }
            }
            Message::CancelJob { job, forced, reason } => match self.jobs.values_mut().find(|j| j.id == job) {
                Some(job) => {
                    let reason = format!("as requested by {from}: {reason}");
                    job.cancel(forced, &reason, reply, &mut ctx);
                }
                None => {
                    if let Some(inbound) = reply {
                        ctx.effects.push(inbound.respond(&Reply::Ok));
                    }
                }
            },
        }
    }
}

fn route_answer(
    jobs: &mut BTreeMap<JobKey, Job>,
    server: &mut Server,
    route: Route,
    outcome: Outcome<Answer>,
    ctx: &mut Ctx<'_>,
) {
    match route {
        Route::Task { job, pnfsid, task, kind } => {
            if let Some(job) = jobs.get_mut(&job) {
                job.task_event(pnfsid, Some(task), task_reply_event(kind, outcome), ctx);
            }
        }
        Route::Pools { job, list } => {
            if let Some(job) = jobs.get_mut(&job) {
                let outcome = Answer::expect(outcome, "a pool list", |a| match a {
                    Answer::Pools(list) => Some(list),
                    _ => None,
                });
                job.pools_answered(list, outcome, ctx);
            }
        }
        Route::Groups { job } => {
            if let Some(job) = jobs.get_mut(&job) {
                let outcome = Answer::expect(outcome, "pool groups", |a| match a {
                    Answer::Groups(groups) => Some(groups),
                    _ => None,
                });
                job.groups_answered(outcome, ctx);
            }
        }
        Route::Plan { job, pnfsid } => {
            if let Some(job) = jobs.get_mut(&job) {
                let outcome = Answer::expect(outcome, "locations", |a| match a {
                    Answer::Locations(l) => Some(l),
                    _ => None,
                });
                job.located(pnfsid, outcome, ctx);
            }
        }
        Route::ServerP2p { request } => {
            let outcome = Answer::expect(outcome, "a transfer", |a| matches!(a, Answer::Done).then_some(()));
            server.transferred(request, outcome, ctx)
        }
    }
}
