//! The job: one bulk operation created by `migration copy|move|cache`, as a state machine on
//! the source pool (spec §3, §4). It owns the queue and the running tasks, runs the scheduler
//! after every event that may change what can be done, and applies the source mode when a
//! task succeeds. It does no I/O: everything goes out as effects through [`Ctx`].
//!
//! Differences from dCache, all from the spec's defect register (§15): terminal states are
//! final (R3, R16, R20); a paused job shows `PAUSED` and re-checks every 10 s (R2, R4); no
//! source replica is changed unless a copy was confirmed (R5); `No targets available` makes
//! the job sleep instead of spinning (R8); `queue.bytes` counts bytes (R1).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::Millis;
use crate::bandwidth::TokenBucket;
use crate::context::{Ctx, ListSlot, Route, TaskReply};
use crate::definition::{DeficitMode, JobDefinition, TargetKind};
use crate::effect::{ChangePurpose, Effect, EntryPurpose, Inbound, JobKey};
use crate::error::{Failure, Outcome, ReturnCode};
use crate::expr::Value;
use crate::filter::ReplicaFilter;
use crate::host::{PinMove, PoolList, PoolSelection, RepositoryError};
use crate::input::{EntryResult, RepositoryEvent};
use crate::message::{CopyRequest, Message, Reply, RequestId};
use crate::mode::{ModeState, outgrown_copies, source_mode_changes};
use crate::plan::Plan;
use crate::pnfsid::PnfsId;
use crate::pool_info::{PoolCostInfo, PoolInfo};
use crate::progress::{self, Progress};
use crate::quarantine::Quarantine;
use crate::queue::{JobQueue, ScannedFiles};
use crate::replica::{Durability, ReplicaEntry, ReplicaState};
use crate::target_filter::{self, Verdict};
use crate::task::{Targets, Task, TaskAction, TaskEvent, TaskParams, TaskResult};
use crate::timers::TimerKey;

/// The logger name of job events (dCache's class, so existing log configurations apply).
pub const LOG_TARGET: &str = "org.dcache.pool.migration.Job";

/// How long a sleeping or paused job waits before it looks again.
pub const WAKE_DELAY: Millis = 10_000;
/// How long a plain `migration cancel` lets running tasks finish before it cancels them as
/// `-force` would. dCache waits for ever, so a job whose transfers wait for space on a full
/// target stays CANCELLING with its files locked (dCache #7124).
pub const CANCEL_GRACE: Millis = 600_000;

/// Notes kept per job.
pub const MAX_NOTES: usize = 15;

/// The states of §3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Created; the pool has not finished starting.
    New,
    /// Scanning the repository.
    Initializing,
    /// Scheduling tasks.
    Running,
    /// No task could be started; looks again in 10 s.
    Sleeping,
    /// The pause expression is true.
    Paused,
    /// Suspended by the operator.
    Suspended,
    /// The stop expression became true; waiting for running tasks.
    Stopping,
    /// Cancelled; waiting for running tasks.
    Cancelling,
    /// Ended: cancelled.
    Cancelled,
    /// Ended: done.
    Finished,
    /// Ended: failed.
    Failed,
}

impl JobState {
    /// The name dCache prints.
    pub fn name(self) -> &'static str {
        match self {
            JobState::New => "NEW",
            JobState::Initializing => "INITIALIZING",
            JobState::Running => "RUNNING",
            JobState::Sleeping => "SLEEPING",
            JobState::Paused => "PAUSED",
            JobState::Suspended => "SUSPENDED",
            JobState::Stopping => "STOPPING",
            JobState::Cancelling => "CANCELLING",
            JobState::Cancelled => "CANCELLED",
            JobState::Finished => "FINISHED",
            JobState::Failed => "FAILED",
        }
    }

    /// `CANCELLED`, `FINISHED` or `FAILED`.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Cancelled | JobState::Finished | JobState::Failed)
    }
}

/// The job's state with the data that belongs to it; [`JobState`] is its name, what operators
/// and the other modules see.
#[derive(Debug)]
enum State {
    New,
    /// Scanning the repository.
    Initializing {
        scan: Scan,
    },
    Running,
    Sleeping,
    Paused,
    Suspended,
    Stopping,
    Cancelling {
        /// Why a plain cancel was given, for the tasks it cancels when its grace period ends
        /// (`None` while only `-force` cancels came: they cancelled the tasks at once).
        reason: Option<String>,
        /// Cancel requests from other pools, answered once the job has ended.
        replies: Vec<Inbound>,
    },
    Cancelled,
    Finished,
    Failed,
}

impl State {
    fn name(&self) -> JobState {
        match self {
            State::New => JobState::New,
            State::Initializing { .. } => JobState::Initializing,
            State::Running => JobState::Running,
            State::Sleeping => JobState::Sleeping,
            State::Paused => JobState::Paused,
            State::Suspended => JobState::Suspended,
            State::Stopping => JobState::Stopping,
            State::Cancelling { .. } => JobState::Cancelling,
            State::Cancelled => JobState::Cancelled,
            State::Finished => JobState::Finished,
            State::Failed => JobState::Failed,
        }
    }
}

/// A job note (§3.8).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// When, ms since the epoch.
    pub time: Millis,
    /// The task, 0 for job-level notes.
    pub task: u64,
    /// The file, if any.
    pub pnfsid: Option<PnfsId>,
    /// The text.
    pub text: String,
}

/// Counters of §3.7.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    /// Tasks started.
    pub attempts: u64,
    /// Tasks that completed.
    pub completed_files: u64,
    /// Bytes of completed files (sizes recorded at enqueue time).
    pub transferred: u64,
    /// Bytes of every file ever enqueued.
    pub total: u64,
    /// Tasks that failed (beyond dCache: for metrics).
    pub failures: u64,
}

/// A pool list as last answered by the pool manager (§8.2).
#[derive(Debug, Clone, Default)]
pub struct PoolListState {
    /// A successful answer arrived.
    pub valid: bool,
    /// The pools, online and offline, in pool-manager order.
    pub pools: Vec<PoolInfo>,
    /// Why the list can never become valid (the job then fails).
    pub broken: Option<String>,
    /// For `-target=pgroup` without names: the group found.
    pub resolved_group: Option<String>,
}

/// Removals of a source refused because it had changed since it was read, after which the
/// job leaves the source as it is ([`Job::source_mode_applied`]).
const MAX_CHANGED_REMOVALS: u8 = 3;

/// How far a running file got: the stage that occupies its running slot.
#[derive(Debug)]
enum Stage {
    /// The entry is being read to create the task; `cancelled` if removed meanwhile.
    Reading { cancelled: bool },
    /// The task runs.
    Task(Box<Task>),
    /// The task succeeded; the source mode is being applied. `copied` is what the copies
    /// were asked to be, kept where the source mode could leave the source more volatile
    /// than them (`-tmode=same`). `changed` counts the removals refused because the replica
    /// had changed since it was read.
    ApplyingSourceMode { task: u64, note: Option<String>, copied: Option<Durability>, changed: u8 },
    /// A dry run asks the namespace where the file is; nothing else happens to it.
    Locating,
}

#[derive(Debug)]
struct Running {
    size: u64,
    stage: Stage,
}

/// One migration job.
#[derive(Debug)]
pub struct Job {
    /// Internal identity.
    pub key: JobKey,
    /// The id operators see.
    pub id: String,
    /// What the command fixed.
    pub definition: Arc<JobDefinition>,
    /// Parallel tasks (not validated, as in dCache).
    pub concurrency: i32,
    /// When the job was created.
    pub created: Millis,
    state: State,
    filter: Arc<ReplicaFilter>,
    params: Arc<TaskParams>,
    queue: JobQueue,
    running: FxHashMap<PnfsId, Running>,
    stats: Statistics,
    notes: VecDeque<Note>,
    source_list: PoolListState,
    target_list: PoolListState,
    /// Online targets that pass include/exclude, recomputed when a list is replaced.
    selectable: Vec<PoolCostInfo>,
    /// Offline targets that pass the name filters.
    offline: Vec<String>,
    /// Transient failures since the last completed task or wake-up.
    failures_since_progress: usize,
    /// When it started, and its pace over active time.
    progress: Progress,
    /// Failed attempts per file, and the files no longer retried (`-max-attempts`, 0: none).
    quarantine: Quarantine,
    max_attempts: u32,
    /// `-bandwidth`: bytes per second the job's transfers may start.
    bandwidth: Option<TokenBucket>,
    /// `-dry-run`: what the job found instead of copying.
    plan: Option<Plan>,
    /// An emptied buffer for a task's actions, kept so that feeding a task allocates none.
    spare_actions: Vec<TaskAction>,
}

/// The repository scan of an INITIALIZING job, which may find the repository still loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Asked. `retry`: an earlier scan found the repository loading (already noted).
    /// `loaded_meanwhile`: the host reported it loaded since, so a "still loading" answer is
    /// stale and the job scans again at once.
    InFlight { retry: bool, loaded_meanwhile: bool },
    /// The repository was still loading: the job scans again when the host reports it loaded,
    /// or when [`TimerKey::ScanRetry`] fires, in case the host never says so.
    WaitingForLoad,
}

impl Job {
    /// A job in state `NEW`.
    pub fn new(
        key: JobKey,
        id: String,
        definition: JobDefinition,
        concurrency: i32,
        created: Millis,
        pool_timeout: Millis,
    ) -> Job {
        let params = Arc::new(TaskParams {
            eager: definition.eager,
            meta_only: definition.meta_only,
            verify: definition.verify,
            force_source_mode: definition.force_source_mode,
            replicas: definition.replicas,
            wait_for_targets: definition.deficit == DeficitMode::Wait,
            select: definition.select,
            pool_timeout,
        });
        Job {
            key,
            id,
            filter: Arc::new(definition.filter.clone()),
            definition: Arc::new(definition),
            concurrency,
            created,
            state: State::New,
            params,
            queue: JobQueue::new(),
            running: FxHashMap::default(),
            stats: Statistics::default(),
            notes: VecDeque::new(),
            source_list: PoolListState::default(),
            target_list: PoolListState::default(),
            selectable: Vec::new(),
            offline: Vec::new(),
            failures_since_progress: 0,
            progress: Progress::default(),
            quarantine: Quarantine::default(),
            spare_actions: Vec::new(),
            max_attempts: 0,
            bandwidth: None,
            plan: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> JobState {
        self.state.name()
    }

    /// The counters.
    pub fn statistics(&self) -> Statistics {
        self.stats
    }

    /// Files waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Tasks running (or being set up) now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// The notes, oldest first.
    pub fn notes(&self) -> impl Iterator<Item = &Note> {
        self.notes.iter()
    }

    /// The selectable online targets.
    pub fn targets(&self) -> &[PoolCostInfo] {
        &self.selectable
    }

    /// Whether the job is permanent.
    pub fn is_permanent(&self) -> bool {
        self.definition.permanent
    }

    /// Running tasks as `(task id, pnfsid, state name, target)`, by task id.
    pub fn running_tasks(&self) -> Vec<(u64, PnfsId, &'static str, Option<&str>)> {
        let mut tasks: Vec<_> = self
            .running
            .iter()
            .filter_map(|(id, r)| match &r.stage {
                Stage::Task(t) => Some((t.id, *id, t.state().name(), t.target())),
                _ => None,
            })
            .collect();
        tasks.sort_by_key(|t| t.0);
        tasks
    }

    // ── Lifecycle ──────────────────────────────────────────────────────────────────────

    /// Starts a `NEW` job: refresh the pool lists and scan the repository (§3.2).
    pub fn start(&mut self, ctx: &mut Ctx<'_>) {
        if self.state() != JobState::New {
            return;
        }
        self.set_state(State::Initializing { scan: Scan::InFlight { retry: false, loaded_meanwhile: false } }, ctx.now);
        self.progress.start(ctx.now);
        tracing::info!(target: LOG_TARGET, pool = &**ctx.pool, job = %self.id, "Job {} started: {}", self.id, self.definition.command_line);
        self.refresh(ctx);
        self.scan(false, ctx);
    }

    fn scan(&mut self, retry: bool, ctx: &mut Ctx<'_>) {
        self.set_scan(Scan::InFlight { retry, loaded_meanwhile: false });
        ctx.effects.push(Effect::Scan {
            job: self.key,
            filter: Arc::clone(&self.filter),
            order: self.definition.order,
            now: ctx.now,
            queue_seed: self.queue.seed(),
        });
    }

    /// Where the scan stands, while INITIALIZING.
    fn scan_state(&self) -> Option<Scan> {
        match self.state {
            State::Initializing { scan } => Some(scan),
            _ => None,
        }
    }

    /// Records where the scan of an INITIALIZING job stands.
    fn set_scan(&mut self, next: Scan) {
        if let State::Initializing { scan } = &mut self.state {
            *scan = next;
        }
    }

    /// The repository finished loading: a job that found it loading scans it now.
    pub fn repository_loaded(&mut self, ctx: &mut Ctx<'_>) {
        match self.scan_state() {
            Some(Scan::WaitingForLoad) => {
                ctx.timers.cancel(TimerKey::ScanRetry(self.key));
                self.scan(true, ctx);
            }
            Some(Scan::InFlight { retry, .. }) => self.set_scan(Scan::InFlight { retry, loaded_meanwhile: true }),
            None => {}
        }
    }

    /// The retry timer of a job waiting for its repository to load.
    pub fn retry_scan(&mut self, ctx: &mut Ctx<'_>) {
        if self.scan_state() == Some(Scan::WaitingForLoad) {
            self.scan(true, ctx);
        }
    }

    /// Starts a `NEW` job with known entries and no scan (hot-file jobs, §3.2).
    pub fn start_with_entries(&mut self, entries: &[ReplicaEntry], ctx: &mut Ctx<'_>) {
        if self.state() != JobState::New {
            return;
        }
        // No scan: the entries are known.
        self.set_state(State::Initializing { scan: Scan::InFlight { retry: false, loaded_meanwhile: false } }, ctx.now);
        self.progress.start(ctx.now);
        self.refresh(ctx);
        let filter = Arc::clone(&self.filter);
        let now = ctx.now;
        for entry in entries.iter().filter(|e| filter.matches(e, now)) {
            self.add(entry.pnfsid, entry.size, ctx);
        }
        self.scan_finished(ctx);
    }

    /// The result of the initial scan.
    pub fn scanned(&mut self, result: Result<ScannedFiles, RepositoryError>, ctx: &mut Ctx<'_>) {
        match result {
            Ok(files) => {
                if self.state() == JobState::Initializing {
                    if self.running.is_empty() {
                        // What `add` does for each file, at once: nothing runs yet and the
                        // scheduler does nothing while initializing, so only the queue and
                        // the total change. The queue indexes a whole scan in one pass.
                        let (_, bytes) = self.queue.extend_scanned(files);
                        self.stats.total += bytes;
                    } else {
                        for (id, size) in files.files() {
                            self.add(id, size, ctx);
                        }
                        ctx.effects.extend(files.release().map(Effect::Release));
                    }
                }
                self.scan_finished(ctx);
            }
            Err(RepositoryError::NotLoaded) if self.state() == JobState::Initializing => {
                // dCache's scan ends quietly here and a non-permanent job then finishes with
                // nothing; a permanent job restored at pool start would copy only what the
                // load-time events bring. Waiting keeps every job whole: events seen while
                // loading are queued (permanent jobs), and the scan after loading adds the rest.
                match self.scan_state() {
                    Some(Scan::InFlight { loaded_meanwhile: true, .. }) => self.scan(true, ctx),
                    Some(Scan::InFlight { retry, .. }) => {
                        if !retry {
                            self.note(ctx, 0, None, "Repository is still loading; waiting for it".to_string());
                        }
                        self.set_scan(Scan::WaitingForLoad);
                        ctx.timers.set(TimerKey::ScanRetry(self.key), ctx.now + WAKE_DELAY);
                    }
                    Some(Scan::WaitingForLoad) | None => {}
                }
            }
            Err(error) if self.state() == JobState::Initializing => {
                self.note(ctx, 0, None, format!("Repository scan failed: {error}"));
                self.terminate(State::Failed, ctx);
            }
            Err(_) => self.scan_finished(ctx),
        }
    }

    fn scan_finished(&mut self, ctx: &mut Ctx<'_>) {
        match self.state() {
            JobState::Initializing => self.enter(State::Running, ctx),
            JobState::Cancelling => self.schedule(ctx),
            _ => {}
        }
    }

    /// The one place the state changes; idle states stop the pace's clock. Returns the state
    /// left, with its data.
    fn set_state(&mut self, next: State, now: Millis) -> State {
        let name = next.name();
        // An ended job keeps the pace it had when it ended.
        self.progress.set_idle(matches!(name, JobState::Suspended | JobState::Paused) || name.is_terminal(), now);
        std::mem::replace(&mut self.state, next)
    }

    /// Moves to `next`; entering SLEEPING or PAUSED arms the 10 s timer, entering RUNNING runs
    /// the scheduler.
    fn enter(&mut self, next: State, ctx: &mut Ctx<'_>) {
        let name = next.name();
        if name.is_terminal() {
            self.terminate(next, ctx);
            return;
        }
        let changed = self.state() != name;
        self.set_state(next, ctx.now);
        match name {
            JobState::Sleeping | JobState::Paused if changed => {
                ctx.timers.set(TimerKey::Wake(self.key), ctx.now + WAKE_DELAY);
            }
            JobState::Running => self.schedule(ctx),
            _ => {}
        }
    }

    /// Enters a terminal state: the queue is dropped, timers stop, deferred cancel replies
    /// are answered. Running tasks go on; their outcomes are still processed.
    fn terminate(&mut self, end: State, ctx: &mut Ctx<'_>) {
        if self.state().is_terminal() {
            return;
        }
        let state = end.name();
        let left = self.set_state(end, ctx.now);
        let s = &self.stats;
        tracing::info!(
            target: LOG_TARGET,
            pool = &**ctx.pool,
            job = %self.id,
            "Job {} {}: {} files, {} of {} bytes, {} attempts",
            self.id,
            state.name(),
            s.completed_files,
            s.transferred,
            s.total,
            s.attempts
        );
        self.queue.clear();
        self.release_queue_memory(ctx);
        ctx.timers.cancel(TimerKey::Wake(self.key));
        ctx.timers.cancel(TimerKey::Refresh(self.key));
        ctx.timers.cancel(TimerKey::ScanRetry(self.key));
        ctx.timers.cancel(TimerKey::Throttle(self.key));
        ctx.timers.cancel(TimerKey::CancelGrace(self.key));
        if let State::Cancelling { replies, .. } = left {
            answer_cancel_replies(replies, ctx);
        }
    }

    // ── The scheduler (§3.3) ───────────────────────────────────────────────────────────

    /// Runs the scheduler rules in order; the first that applies wins.
    pub fn schedule(&mut self, ctx: &mut Ctx<'_>) {
        let nothing_running = self.running.is_empty();
        match self.state() {
            // R3 fixed: terminal states are final.
            s if s.is_terminal() => {}
            JobState::Cancelling if nothing_running => self.terminate(State::Cancelled, ctx),
            JobState::New | JobState::Initializing => {}
            _ if !self.is_permanent() && self.queue.is_empty() && nothing_running => {
                self.terminate(State::Finished, ctx)
            }
            JobState::Stopping if nothing_running => self.terminate(State::Finished, ctx),
            JobState::Running if !self.lists_ready() => {
                match self.source_list.broken.clone().or_else(|| self.target_list.broken.clone()) {
                    Some(broken) => {
                        self.note(ctx, 0, None, broken);
                        self.terminate(State::Failed, ctx);
                    }
                    None => {
                        if self.selectable.is_empty() {
                            self.note_why_no_targets(ctx);
                        }
                        self.enter(State::Sleeping, ctx)
                    }
                }
            }
            JobState::Running => self.walk_queue(ctx),
            _ => {}
        }
    }

    /// Rule 4's condition, negated: both lists valid, the source pool reported online and, in
    /// `wait` mode, a target online. As in dCache, the target list is not usable until the
    /// pool manager knows the source (right after a pool start it often does not): in `limit`
    /// mode the tasks would otherwise see no targets and drop their files.
    fn lists_ready(&self) -> bool {
        self.source_list.valid
            && self.source_info().is_some()
            && self.target_list.valid
            && (self.definition.deficit == DeficitMode::Limit || !self.selectable.is_empty())
    }

    /// Rule 5: start tasks from the head of the queue while slots are free.
    fn walk_queue(&mut self, ctx: &mut Ctx<'_>) {
        let mut skip = 0;
        let mut throttled = false;
        while self.state() == JobState::Running && (self.running.len() as i64) < i64::from(self.concurrency) {
            let Some((pnfsid, size)) = self.queue.iter().nth(skip) else { break };
            if self.definition.stop_when.is_some() && self.evaluate_lifetime(true) {
                self.stop(ctx);
                break;
            }
            if self.definition.pause_when.is_some() && self.evaluate_lifetime(false) {
                self.enter(State::Paused, ctx);
                break;
            }
            // A dry run takes no lock: it changes nothing, and must not make a target busy.
            if self.plan.is_none() && !ctx.locks.insert(pnfsid) {
                // Another job of this pool works on the file; leave it queued.
                self.note(ctx, 0, Some(pnfsid), "File is locked".to_string());
                skip += 1;
                continue;
            }
            if let Some(Err(wait)) = self.bandwidth.as_mut().map(|b| b.take(size, ctx.now)) {
                if self.plan.is_none() {
                    ctx.locks.remove(&pnfsid);
                }
                ctx.timers.set(TimerKey::Throttle(self.key), ctx.now + wait);
                throttled = true;
                break;
            }
            let (pnfsid, size) = self.queue.take_nth(skip).expect("the file was just seen in the queue");
            self.release_queue_memory(ctx);
            self.running.insert(pnfsid, Running { size, stage: Stage::Reading { cancelled: false } });
            ctx.effects.push(Effect::ReadEntry { purpose: EntryPurpose::StartTask { job: self.key, pnfsid }, pnfsid });
        }
        // A job held back by its bandwidth limit keeps running: its timer calls it back.
        if self.running.is_empty() && self.state() == JobState::Running && !throttled {
            if !self.is_permanent() && self.queue.is_empty() {
                self.terminate(State::Finished, ctx);
            } else {
                self.enter(State::Sleeping, ctx);
            }
        }
    }

    fn stop(&mut self, ctx: &mut Ctx<'_>) {
        if self.running.is_empty() {
            self.terminate(State::Finished, ctx);
        } else {
            self.set_state(State::Stopping, ctx.now);
        }
    }

    /// Evaluates `-stop-when` (`stop`) or `-pause-when` with the symbols of §3.4.
    fn evaluate_lifetime(&self, stop: bool) -> bool {
        let expression = if stop { &self.definition.stop_when } else { &self.definition.pause_when };
        let Some(expression) = expression else { return false };
        let source = self.source_info();
        let queue_files = self.queue.len() as f64;
        // R1 fixed: bytes not yet transferred, not bytes minus a file count.
        let queue_bytes = self.stats.total.saturating_sub(self.stats.transferred) as f64;
        let targets = self.selectable.len() as f64;
        expression.evaluate(&|name: &str| match name {
            "queue.files" => Some(Value::Double(queue_files)),
            "queue.bytes" => Some(Value::Double(queue_bytes)),
            "targets" => Some(Value::Double(targets)),
            _ => target_filter::pool_symbol(name.strip_prefix("source.")?, source?),
        })
    }

    fn source_info(&self) -> Option<&PoolCostInfo> {
        self.source_list.pools.iter().find_map(|p| match p {
            PoolInfo::Online(info) => Some(info),
            PoolInfo::Offline { .. } => None,
        })
    }

    // ── Operator commands ──────────────────────────────────────────────────────────────

    /// `migration suspend` (§2.6).
    pub fn suspend(&mut self, now: Millis) -> Result<(), &'static str> {
        match self.state() {
            JobState::Running | JobState::Suspended | JobState::Sleeping | JobState::Paused => {
                self.set_state(State::Suspended, now);
                Ok(())
            }
            _ => Err("Cannot suspend a job that does not run"),
        }
    }

    /// `migration resume` (§2.6).
    pub fn resume(&mut self, ctx: &mut Ctx<'_>) -> Result<(), &'static str> {
        if self.state() != JobState::Suspended {
            return Err("Cannot resume a job that does not run");
        }
        self.enter(State::Running, ctx);
        Ok(())
    }

    /// `migration set concurrency` (§2.8): takes effect at once; terminal jobs stay as they
    /// are (R3).
    pub fn set_concurrency(&mut self, concurrency: i32, ctx: &mut Ctx<'_>) {
        self.concurrency = concurrency;
        self.schedule(ctx);
    }

    /// `-bandwidth` and `migration set bandwidth` (beyond dCache): at most `rate` bytes per
    /// second of transfers start; 0 removes the limit.
    pub fn set_bandwidth(&mut self, rate: u64, ctx: &mut Ctx<'_>) {
        match (&mut self.bandwidth, rate) {
            (_, 0) => self.bandwidth = None,
            (Some(bucket), rate) => bucket.set_rate(rate, ctx.now),
            (None, rate) => self.bandwidth = Some(TokenBucket::new(rate, ctx.now)),
        }
        if self.bandwidth.is_none() {
            ctx.timers.cancel(TimerKey::Throttle(self.key));
        }
        self.schedule(ctx);
    }

    /// The bandwidth limit, bytes per second.
    pub fn bandwidth(&self) -> Option<u64> {
        self.bandwidth.as_ref().map(TokenBucket::rate)
    }

    /// Files that failed `max_attempts` times in a row wait in quarantine instead of being
    /// retried for ever (0: no limit, dCache's behaviour).
    pub fn set_max_attempts(&mut self, max_attempts: u32) {
        self.max_attempts = max_attempts;
    }

    /// The files the job no longer retries, with their last error.
    pub fn quarantined(&self) -> impl Iterator<Item = (&PnfsId, &crate::quarantine::Quarantined)> {
        self.quarantine.files()
    }

    /// `migration retry` (beyond dCache): quarantined files go back to the queue for another
    /// `max_attempts` tries. A job that finished with quarantined files runs again: that is
    /// the operator's explicit wish, unlike the spontaneous revivals R3 forbids.
    pub fn retry(&mut self, ctx: &mut Ctx<'_>) -> Result<usize, &'static str> {
        match self.state() {
            JobState::Cancelled | JobState::Failed => return Err("Cannot retry files of a cancelled or failed job"),
            JobState::Cancelling | JobState::Stopping => return Err("Cannot retry files of a job that is ending"),
            _ => {}
        }
        let files = self.quarantine.release_all();
        let n = files.len();
        for (pnfsid, size) in files {
            self.queue.push_back(pnfsid, size);
        }
        self.release_queue_memory(ctx);
        if n > 0 && self.state() == JobState::Finished {
            self.set_state(State::Running, ctx.now);
            self.refresh(ctx);
            self.schedule(ctx);
        } else {
            self.wake_if_sleeping(ctx);
            self.schedule(ctx);
        }
        Ok(n)
    }

    /// `migration cancel` (§3.5); `reply` is answered once the job has ended.
    pub fn cancel(&mut self, force: bool, reason: &str, reply: Option<Inbound>, ctx: &mut Ctx<'_>) {
        if self.state().is_terminal() {
            answer_cancel_replies(reply, ctx);
            return;
        }
        let scan_pending = self.scan_state().is_some_and(|scan| scan != Scan::WaitingForLoad);
        // A job cancelled again keeps the replies it owes, and its reason if forced now.
        let (earlier_reason, mut replies) = match &mut self.state {
            State::Cancelling { reason, replies } => (reason.take(), std::mem::take(replies)),
            _ => (None, Vec::new()),
        };
        replies.extend(reply);
        if !scan_pending && self.running.is_empty() {
            // Also plain for a NEW job (R16).
            self.terminate(State::Cancelled, ctx);
            answer_cancel_replies(replies, ctx);
            return;
        }
        let kept_reason = if force { earlier_reason } else { Some(reason.to_string()) };
        self.set_state(State::Cancelling { reason: kept_reason, replies }, ctx.now);
        if force {
            self.cancel_running(reason, ctx);
        } else {
            ctx.timers.cancel(TimerKey::Wake(self.key));
            ctx.timers.set(TimerKey::CancelGrace(self.key), ctx.now + CANCEL_GRACE);
        }
    }

    fn cancel_running(&mut self, reason: &str, ctx: &mut Ctx<'_>) {
        // In file order, not hash order: a seeded run must replay exactly.
        let mut ids: Vec<PnfsId> = self.running.keys().copied().collect();
        ids.sort_unstable();
        for pnfsid in ids {
            self.cancel_task(pnfsid, reason, ctx);
        }
    }

    // ── Files (§3.6) ───────────────────────────────────────────────────────────────────

    /// Enqueues a file unless it is queued or running.
    fn add(&mut self, pnfsid: PnfsId, size: u64, ctx: &mut Ctx<'_>) {
        if self.running.contains_key(&pnfsid) || !self.queue.push_back(pnfsid, size) {
            return;
        }
        self.release_queue_memory(ctx);
        self.stats.total += size;
        if self.state() == JobState::Sleeping && self.failures_since_progress == 0 && self.lists_ready() {
            // An idle permanent job sleeps only because its queue ran dry; dCache lets the new
            // file wait for the next 10 s wake-up, for nothing. A job sleeping after failures
            // keeps its pause.
            ctx.timers.cancel(TimerKey::Wake(self.key));
            self.enter(State::Running, ctx);
            return;
        }
        self.schedule(ctx);
    }

    /// Hands the memory the queue let go of to the driver, which frees it after the module's
    /// lock is released ([`Effect::Release`]); called after every change to the queue that
    /// can compact or empty it.
    fn release_queue_memory(&mut self, ctx: &mut Ctx<'_>) {
        for memory in self.queue.take_released() {
            ctx.effects.push(Effect::Release(memory));
        }
    }

    /// Drops a file: cancels its running task, or takes it out of the queue.
    fn remove(&mut self, pnfsid: PnfsId, reason: &str, ctx: &mut Ctx<'_>) {
        self.quarantine.forget(&pnfsid);
        if self.running.contains_key(&pnfsid) {
            self.cancel_task(pnfsid, reason, ctx);
        } else {
            self.queue.remove(&pnfsid);
            self.release_queue_memory(ctx);
        }
    }

    fn cancel_task(&mut self, pnfsid: PnfsId, reason: &str, ctx: &mut Ctx<'_>) {
        let Some(running) = self.running.get_mut(&pnfsid) else { return };
        match &mut running.stage {
            Stage::Reading { cancelled } => *cancelled = true,
            Stage::Task(_) => self.task_event(pnfsid, None, TaskEvent::Cancel(reason.to_string()), ctx),
            Stage::ApplyingSourceMode { .. } => {}
            Stage::Locating => {
                // Nothing to undo: the answer, when it comes, finds no file.
                self.release(pnfsid, ctx);
                self.schedule(ctx);
            }
        }
    }

    /// A repository change (§4); only started, non-terminal jobs listen.
    pub fn repository_event(&mut self, event: &RepositoryEvent, ctx: &mut Ctx<'_>) {
        if matches!(self.state(), JobState::New) || self.state().is_terminal() {
            return;
        }
        match event {
            RepositoryEvent::StateChanged { new, entry, .. } => {
                if *new == ReplicaState::Removed {
                    self.remove(entry.pnfsid, "replica deleted", ctx);
                } else if !self.filter.matches(entry, ctx.now) {
                    // dCache does not cancel a running transfer when the replica merely stops
                    // matching; only deletion does.
                    if !self.running.contains_key(&entry.pnfsid) {
                        self.queue.remove(&entry.pnfsid);
                        self.release_queue_memory(ctx);
                    }
                } else if self.is_permanent() {
                    self.add(entry.pnfsid, entry.size, ctx);
                }
            }
            RepositoryEvent::StickyChanged { old, new } | RepositoryEvent::AccessTimeChanged { old, new } => {
                if !self.filter.matches(new, ctx.now) {
                    if !self.running.contains_key(&new.pnfsid) {
                        self.queue.remove(&new.pnfsid);
                        self.release_queue_memory(ctx);
                    }
                } else if self.is_permanent() && !self.filter.matches(old, ctx.now) {
                    self.add(new.pnfsid, new.size, ctx);
                }
            }
        }
    }

    // ── Tasks ──────────────────────────────────────────────────────────────────────────

    /// The entry read to create a task (scheduler rule 5, sub-steps 5–6).
    pub fn entry_for_task(&mut self, pnfsid: PnfsId, result: EntryResult, ctx: &mut Ctx<'_>) {
        let Some(running) = self.running.get(&pnfsid) else { return };
        let cancelled = matches!(running.stage, Stage::Reading { cancelled: true });
        if !matches!(running.stage, Stage::Reading { .. }) {
            return;
        }
        match result {
            Ok(Some(_)) if !cancelled && self.plan.is_some() => self.locate(pnfsid, ctx),
            Ok(Some(entry)) if !cancelled => self.create_task(entry, ctx),
            Ok(_) => {
                // Deleted meanwhile: the file silently leaves the job.
                self.release(pnfsid, ctx);
                self.schedule(ctx);
            }
            Err(error) => {
                self.release(pnfsid, ctx);
                self.note(ctx, 0, Some(pnfsid), format!("Failed to read the replica: {error}"));
                self.terminate(State::Failed, ctx);
            }
        }
    }

    /// A dry run asks where the file is, as a task would first, and stops there.
    fn locate(&mut self, pnfsid: PnfsId, ctx: &mut Ctx<'_>) {
        if let Some(running) = self.running.get_mut(&pnfsid) {
            running.stage = Stage::Locating;
        }
        let token = ctx.request(Route::Plan { job: self.key, pnfsid }, ctx.config.namespace_timeout);
        ctx.effects.push(Effect::QueryLocations { token, pnfsid });
    }

    /// Where a dry run's file is: counted as already on the targets or to be copied.
    pub fn located(&mut self, pnfsid: PnfsId, outcome: Outcome<Vec<String>>, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::Locating, size }) = self.running.get(&pnfsid) else { return };
        let size = *size;
        // The copies a task would count (§5.5): on the selectable targets, and for a job that
        // is not eager also on offline targets that pass the name filters.
        let counted = |pool: &String| {
            self.selectable.iter().any(|p| *p.name == **pool) || (!self.definition.eager && self.offline.contains(pool))
        };
        let replicas = self.params.replicas;
        if let Some(plan) = self.plan.as_mut() {
            match outcome {
                Ok(locations) => plan.located(size, locations.iter().filter(|l| counted(l)).count(), replicas),
                Err(Failure::Error { code: ReturnCode::FILE_NOT_FOUND, .. }) => plan.deleted += 1,
                Err(_) => plan.unknown += 1,
            }
        }
        self.release(pnfsid, ctx);
        self.schedule(ctx);
    }

    /// Makes this job a dry run (`-dry-run`): it copies nothing and changes nothing.
    pub fn make_dry_run(&mut self) {
        self.plan = Some(Plan::default());
    }

    /// Whether the job is a dry run.
    pub fn is_dry_run(&self) -> bool {
        self.plan.is_some()
    }

    /// A dry run's report; `rate` is the pool's recent bytes per second, if known.
    pub fn plan_report(&self, rate: Option<f64>) -> Option<String> {
        Some(self.plan.as_ref()?.report(&self.selection_shares(), rate))
    }

    // Boxed as the input carries it: the task takes the attributes out of the box, which
    // unboxing first would copy whole (measured: ~120 instructions per file).
    #[allow(clippy::boxed_local)]
    fn create_task(&mut self, entry: Box<ReplicaEntry>, ctx: &mut Ctx<'_>) {
        let definition = Arc::clone(&self.definition);
        let pin_manager = ctx.config.pin_manager.as_str();
        let pnfsid = entry.pnfsid;
        let state = match definition.target_mode.state {
            ModeState::Cached => ReplicaState::Cached,
            ModeState::Precious => ReplicaState::Precious,
            _ => entry.state,
        };
        let mut sticky = Vec::new();
        if definition.target_mode.state == ModeState::Same {
            sticky.extend(entry.sticky.iter().filter(|r| !r.is_pin(pin_manager)).cloned());
        }
        sticky.extend(definition.target_mode.sticky.iter().cloned());
        let pins = if definition.move_pins {
            entry.sticky.iter().filter(|r| r.is_pin(pin_manager)).cloned().collect()
        } else {
            Vec::new()
        };
        let atime = definition.atime.then_some(entry.last_access);
        let task_id = ctx.next_task_id();
        let uuid = request_id(ctx.rng, ctx.now);
        let task = Task::new(
            task_id,
            uuid,
            entry.into_attributes(),
            Durability { state, sticky },
            pins,
            atime,
            Arc::clone(&self.params),
        );
        self.stats.attempts += 1;
        if let Some(running) = self.running.get_mut(&pnfsid) {
            running.stage = Stage::Task(Box::new(task));
        }
        if !state.is_cached_or_precious() {
            // The replica changed state since it was queued (e.g. became BROKEN): dCache
            // would send a request every target refuses, forever. Drop it with a note.
            let text = format!("Cannot migrate a replica in state {state}");
            self.task_ended(
                pnfsid,
                task_id,
                TaskResult::Failed { rc: ReturnCode::DEFAULT_ERROR_CODE, message: text, permanent: true },
                ctx,
            );
            return;
        }
        self.task_event(pnfsid, Some(task_id), TaskEvent::Start, ctx);
    }

    /// Feeds an event to the running task for `pnfsid` (if `task` is given it must match).
    pub fn task_event(&mut self, pnfsid: PnfsId, task: Option<u64>, event: TaskEvent, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::Task(t), .. }) = self.running.get_mut(&pnfsid) else { return };
        if task.is_some_and(|id| id != t.id) {
            return;
        }
        let task_id = t.id;
        let mut actions = std::mem::take(&mut self.spare_actions);
        let targets = Targets { online: &self.selectable, offline: &self.offline };
        t.handle(event, targets, ctx.rng, &mut actions);
        let t: &Task = t;
        let mut ended = None;
        for action in actions.drain(..) {
            match action {
                TaskAction::Report(result) => ended = Some(result),
                action => perform(self.key, t, action, ctx),
            }
        }
        // Given back before the task's end is handled, which may feed the next task.
        self.spare_actions = actions;
        if let Some(result) = ended {
            ctx.timers.cancel(TimerKey::Task { job: self.key, pnfsid, task: task_id });
            self.task_ended(pnfsid, task_id, result, ctx);
        }
    }

    /// A copy-finished message from pool `from` (§2.12): handed to the task for the file,
    /// which ignores it unless the request id is its own and it comes from the pool the task
    /// asked. A finished message is what lets a move delete its source, so nobody else may
    /// send one.
    pub fn copy_finished(
        &mut self,
        from: &str,
        pnfsid: PnfsId,
        uuid: RequestId,
        rc: ReturnCode,
        error: Option<String>,
        ctx: &mut Ctx<'_>,
    ) {
        let matches = matches!(self.running.get(&pnfsid), Some(Running { stage: Stage::Task(t), .. })
            if t.uuid == uuid && t.target() == Some(from));
        if matches {
            self.task_event(pnfsid, None, TaskEvent::Finished { rc, error }, ctx);
        }
    }

    /// A task ended (§3.6 outcome table).
    fn task_ended(&mut self, pnfsid: PnfsId, task: u64, result: TaskResult, ctx: &mut Ctx<'_>) {
        match result {
            TaskResult::Completed { note, confirmed } => {
                if confirmed == 0 && note.as_deref().is_some_and(|n| n.contains("truncated at 0")) {
                    // `-target-deficit-mode=limit` with no target at all: say why.
                    self.note_why_no_targets(ctx);
                }
                let mode = &self.definition.source_mode;
                let trivial = mode.state == ModeState::Same && mode.sticky.is_empty();
                // R5 fixed: without a confirmed copy the source is left untouched.
                if confirmed == 0 || trivial {
                    self.complete(pnfsid, task, note, ctx);
                } else if let Some(running) = self.running.get_mut(&pnfsid) {
                    let copied = match &mut running.stage {
                        Stage::Task(t)
                            if self.definition.target_mode.state == ModeState::Same && mode.may_lower_source() =>
                        {
                            Some(Durability { state: t.copies.state, sticky: std::mem::take(&mut t.copies.sticky) })
                        }
                        _ => None,
                    };
                    running.stage = Stage::ApplyingSourceMode { task, note, copied, changed: 0 };
                    self.read_source(pnfsid, ctx);
                }
            }
            TaskResult::Failed { rc, message, .. } if rc == ReturnCode::TARGET_BUSY => {
                // Every target is at its `max-incoming`: not the file's fault, so neither a
                // failure nor an attempt towards quarantine; the job looks again in 10 s.
                let size = self.release(pnfsid, ctx);
                if !self.state().is_terminal() {
                    self.queue_again(pnfsid, size, ctx);
                }
                if self.state() == JobState::Running {
                    self.enter(State::Sleeping, ctx);
                }
                self.schedule(ctx);
                self.note(ctx, task, Some(pnfsid), message);
            }
            TaskResult::Failed { rc, message, permanent } => {
                self.stats.failures += 1;
                let size = self.release(pnfsid, ctx);
                if !permanent && !self.state().is_terminal() {
                    if self.quarantine.failed(pnfsid, size, rc, &message, self.max_attempts) {
                        let text = format!("Quarantined after {} failed attempts", self.max_attempts);
                        self.note(ctx, task, Some(pnfsid), text);
                    } else {
                        self.queue_again(pnfsid, size, ctx);
                        self.failures_since_progress += 1;
                    }
                }
                // dCache retries a failed file at once, at the end of the queue. When every
                // file of the job has failed since the last success (one bad file alone, or a
                // target that refuses everything) that would spin: the job sleeps 10 s before
                // the next pass instead. R8 (no usable target) sleeps at once.
                let whole_pass_failed = self.failures_since_progress >= self.queue.len() + self.running.len();
                let no_target = rc == ReturnCode::NO_POOL_ONLINE;
                if no_target && self.selection_shares().iter().any(|(_, share)| *share > 0.0) {
                    // Targets exist, so the task left out those that hold a copy already.
                    self.note_once(
                        ctx,
                        "No targets: every usable target already has a replica of the file".to_string(),
                    );
                } else if no_target {
                    self.note_why_no_targets(ctx);
                }
                if (no_target || (!permanent && whole_pass_failed)) && self.state() == JobState::Running {
                    self.enter(State::Sleeping, ctx);
                }
                self.schedule(ctx);
                self.note(ctx, task, Some(pnfsid), message);
            }
            TaskResult::Cancelled => {
                self.release(pnfsid, ctx);
                self.schedule(ctx);
            }
        }
    }

    /// Reads the source replica to apply the source mode to it ([`Job::entry_for_source_mode`]).
    fn read_source(&self, pnfsid: PnfsId, ctx: &mut Ctx<'_>) {
        ctx.effects.push(Effect::ReadEntry { purpose: EntryPurpose::SourceMode { job: self.key, pnfsid }, pnfsid });
    }

    /// The source entry read to apply the source mode.
    pub fn entry_for_source_mode(&mut self, pnfsid: PnfsId, result: EntryResult, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::ApplyingSourceMode { task, note, copied, .. }, .. }) =
            self.running.get(&pnfsid)
        else {
            return;
        };
        let (task, note) = (*task, note.clone());
        let outgrown = match (&result, copied) {
            (Ok(Some(entry)), Some(copied)) => outgrown_copies(copied, entry, &ctx.config.pin_manager, ctx.now),
            _ => None,
        };
        match result {
            Ok(Some(entry)) if let Some(why) = outgrown => self.keep_outgrown_source(&entry, task, why, ctx),
            Ok(Some(entry)) => {
                let changes = source_mode_changes(&self.definition.source_mode, &entry, &ctx.config.pin_manager);
                if changes.is_empty() {
                    self.complete(pnfsid, task, note, ctx);
                } else {
                    ctx.effects.push(Effect::Change {
                        purpose: ChangePurpose::SourceMode { job: self.key, pnfsid },
                        pnfsid,
                        changes,
                    });
                }
            }
            // The replica vanished: nothing to change.
            Ok(None) => self.complete(pnfsid, task, note, ctx),
            Err(error) => {
                self.note(ctx, task, Some(pnfsid), format!("Failed to apply source mode: {error}"));
                self.terminate(State::Failed, ctx);
                self.complete(pnfsid, task, note, ctx);
            }
        }
    }

    /// Leaves a source replica that became more durable than its copies while they were made
    /// ([`outgrown_copies`]) as it is.
    fn keep_outgrown_source(&mut self, entry: &ReplicaEntry, task: u64, why: String, ctx: &mut Ctx<'_>) {
        let pnfsid = entry.pnfsid;
        let ending = self.state().is_terminal() || matches!(self.state(), JobState::Cancelling | JobState::Stopping);
        if ending {
            // No next pass to bring the copies up to date: the file leaves the job unmoved.
            self.release(pnfsid, ctx);
            self.schedule(ctx);
            self.note(ctx, task, Some(pnfsid), format!("Source kept: {why}"));
        } else if self.filter.matches(entry, ctx.now) {
            // Once more, so that the copies are made what the source is now (a target
            // upgrades a replica it holds, §6.3); the source mode follows that pass.
            let size = self.release(pnfsid, ctx);
            self.queue_again(pnfsid, size, ctx);
            self.schedule(ctx);
            self.note(ctx, task, Some(pnfsid), format!("Source kept and file queued again: {why}"));
        } else {
            // The job leaves it, as it leaves a file that stops matching while queued; the
            // copies stay as extra copies.
            let text = format!("Source kept: {why}, and it no longer matches the job's filter");
            self.complete(pnfsid, task, Some(text), ctx);
        }
    }

    /// The source mode was applied (or failed).
    pub fn source_mode_applied(&mut self, pnfsid: PnfsId, result: Result<(), RepositoryError>, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::ApplyingSourceMode { task, note, changed, .. }, .. }) =
            self.running.get_mut(&pnfsid)
        else {
            return;
        };
        let (task, note) = (*task, note.clone());
        if let Err(RepositoryError::Changed) = result {
            *changed += 1;
            if *changed < MAX_CHANGED_REMOVALS {
                // Pinned, made precious or sticky between the read and the removal: the
                // replica stayed, and what the source mode does to it is decided again on a
                // new read (which also asks whether it outgrew its copies).
                self.read_source(pnfsid, ctx);
                return;
            }
            // A replica that changes under every look (or a host that refuses every removal)
            // is left as it is rather than looked at for ever; its copies stay as extra ones.
            let text = format!("Source kept: it changed each of the {MAX_CHANGED_REMOVALS} times it was to be deleted");
            self.note(ctx, task, Some(pnfsid), text);
            self.complete(pnfsid, task, note, ctx);
            return;
        }
        if let Err(RepositoryError::Other(error)) = result {
            // Vanished replicas and illegal transitions are ignored, anything else fails the job.
            self.note(ctx, task, Some(pnfsid), format!("Failed to apply source mode: {error}"));
            self.terminate(State::Failed, ctx);
        }
        self.complete(pnfsid, task, note, ctx);
    }

    fn complete(&mut self, pnfsid: PnfsId, task: u64, note: Option<String>, ctx: &mut Ctx<'_>) {
        self.failures_since_progress = 0;
        self.quarantine.forget(&pnfsid);
        let size = self.release(pnfsid, ctx);
        self.stats.completed_files += 1;
        self.stats.transferred += size;
        self.progress.completed(ctx.now, self.stats.completed_files, self.stats.transferred);
        self.schedule(ctx);
        if let Some(note) = note {
            self.note(ctx, task, Some(pnfsid), note);
        }
    }

    /// Puts a file that left the running set at the end of the queue, for another attempt.
    fn queue_again(&mut self, pnfsid: PnfsId, size: u64, ctx: &mut Ctx<'_>) {
        self.queue.push_back(pnfsid, size);
        self.release_queue_memory(ctx);
    }

    /// Takes the file out of the running set and releases its lock; returns its size.
    fn release(&mut self, pnfsid: PnfsId, ctx: &mut Ctx<'_>) -> u64 {
        if self.plan.is_none() {
            ctx.locks.remove(&pnfsid);
        }
        self.running.remove(&pnfsid).map_or(0, |r| r.size)
    }

    fn note(&mut self, ctx: &Ctx<'_>, task: u64, pnfsid: Option<PnfsId>, text: String) {
        let file = pnfsid.map_or_else(|| "-".to_string(), |p| p.to_string());
        tracing::info!(target: LOG_TARGET, pool = &**ctx.pool, job = %self.id, "[{task}] {file}: {text}");
        if self.notes.len() == MAX_NOTES {
            self.notes.pop_front();
        }
        self.notes.push_back(Note { time: ctx.now, task, pnfsid, text });
    }

    // ── Timers ─────────────────────────────────────────────────────────────────────────

    /// The grace period of a plain cancel is over (#7124): running tasks are cancelled as
    /// `-force` would.
    pub fn cancel_grace_over(&mut self, ctx: &mut Ctx<'_>) {
        let State::Cancelling { reason, .. } = &self.state else { return };
        let reason = reason.clone().unwrap_or_default();
        let text = format!("Cancelled running tasks after waiting {} s for them to finish", CANCEL_GRACE / 1000);
        self.note(ctx, 0, None, text);
        self.cancel_running(&reason, ctx);
    }

    /// The 10 s timer of SLEEPING and PAUSED.
    pub fn wake(&mut self, ctx: &mut Ctx<'_>) {
        match self.state() {
            JobState::Sleeping => {
                self.failures_since_progress = 0;
                self.enter(State::Running, ctx)
            }
            JobState::Paused => {
                if self.evaluate_lifetime(true) {
                    // R4 fixed: a stop is final, the job does not bounce back to RUNNING.
                    self.stop(ctx);
                } else if !self.evaluate_lifetime(false) {
                    self.enter(State::Running, ctx);
                } else {
                    // R2 fixed: keep looking every 10 s while paused.
                    ctx.timers.set(TimerKey::Wake(self.key), ctx.now + WAKE_DELAY);
                }
            }
            _ => {}
        }
    }

    /// Asks for fresh source and target lists, and arms the next refresh (§8.5).
    pub fn refresh(&mut self, ctx: &mut Ctx<'_>) {
        if self.state().is_terminal() {
            return;
        }
        let source =
            ctx.request(Route::Pools { job: self.key, list: ListSlot::Source }, ctx.config.pool_manager_timeout);
        ctx.effects
            .push(Effect::QueryPools { token: source, selection: PoolSelection::Names(vec![ctx.pool.to_string()]) });
        let definition = Arc::clone(&self.definition);
        let names = definition.targets.clone();
        let selection = match definition.target_kind {
            TargetKind::Pool => Some(PoolSelection::Names(names)),
            TargetKind::PoolGroup if names.is_empty() => match &self.target_list.resolved_group {
                Some(group) => Some(PoolSelection::Groups(vec![group.clone()])),
                None => {
                    let token = ctx.request(Route::Groups { job: self.key }, ctx.config.pool_manager_timeout);
                    ctx.effects.push(Effect::QueryGroups { token, pool: ctx.pool.to_string() });
                    None
                }
            },
            TargetKind::PoolGroup => Some(PoolSelection::Groups(names)),
            TargetKind::Link => Some(PoolSelection::Link(names.first().cloned().unwrap_or_default())),
            TargetKind::Hsm => Some(PoolSelection::Hsm(names)),
            // Without storage info there is nothing to ask: the list stays invalid (§12.2).
            TargetKind::Readers => {
                definition.hot_file.as_ref().filter(|q| q.attributes.storage_class.is_some()).map(|q| {
                    PoolSelection::Readers {
                        attributes: q.attributes.clone(),
                        protocol: q.protocol.clone(),
                        net: q.net.clone(),
                    }
                })
            }
        };
        if let Some(selection) = selection {
            let token =
                ctx.request(Route::Pools { job: self.key, list: ListSlot::Target }, ctx.config.pool_manager_timeout);
            ctx.effects.push(Effect::QueryPools { token, selection });
        }
        let period = i64::try_from(definition.refresh_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        ctx.timers.set(TimerKey::Refresh(self.key), ctx.now.saturating_add(period));
    }

    /// The pool groups of the source pool (for `-target=pgroup` without names, §8.1).
    pub fn groups_answered(&mut self, outcome: Outcome<Vec<String>>, ctx: &mut Ctx<'_>) {
        let Ok(groups) = outcome else { return };
        match groups.as_slice() {
            // No group: the list never becomes valid and the job sleeps.
            [] => {}
            [group] => {
                self.target_list.resolved_group = Some(group.clone());
                let token = ctx
                    .request(Route::Pools { job: self.key, list: ListSlot::Target }, ctx.config.pool_manager_timeout);
                ctx.effects.push(Effect::QueryPools { token, selection: PoolSelection::Groups(vec![group.clone()]) });
            }
            several => {
                self.target_list.broken =
                    Some(format!("Pool {} is a member of multiple pool groups: [{}]", ctx.pool, several.join(", ")));
                self.wake_if_sleeping(ctx);
            }
        }
    }

    /// A pool list answer; a failure leaves the previous list in place (§8.2).
    pub fn pools_answered(&mut self, list: ListSlot, outcome: Outcome<PoolList>, ctx: &mut Ctx<'_>) {
        let Ok(answer) = outcome else { return };
        let state = match list {
            ListSlot::Source => &mut self.source_list,
            ListSlot::Target => &mut self.target_list,
        };
        state.valid = true;
        state.pools = answer.pools;
        self.filter_targets(ctx.pool);
        // Only a job that sleeps for want of a usable list: one that sleeps because every file
        // failed keeps its 10 s pause, whatever its refresh period.
        if self.failures_since_progress == 0 {
            self.wake_if_sleeping(ctx);
        }
    }

    /// A list that became usable wakes a sleeping job at once rather than after 10 s: a
    /// fresh job would otherwise always sleep once before its first task.
    fn wake_if_sleeping(&mut self, ctx: &mut Ctx<'_>) {
        if self.state() == JobState::Sleeping {
            ctx.timers.cancel(TimerKey::Wake(self.key));
            self.enter(State::Running, ctx);
        }
    }

    /// Applies include/exclude rules to the target list (§8.3).
    fn filter_targets(&mut self, source_pool: &str) {
        self.selectable.clear();
        self.offline.clear();
        let Some(source) = self.source_info().filter(|s| *s.name == *source_pool) else { return };
        for (pool, verdict) in target_filter::classify(&self.definition, source, &self.target_list.pools) {
            match (pool, verdict) {
                (PoolInfo::Online(info), Verdict::Target) => self.selectable.push(info.clone()),
                (PoolInfo::Offline { name }, Verdict::Offline) => self.offline.push(name.clone()),
                _ => {}
            }
        }
    }

    /// `migration explain` (beyond dCache): every pool of the target list with why it is or
    /// is not a target, and each target's share of the selection.
    pub fn explain(&self, source_pool: &str) -> String {
        let mut out = format!("[{}] {}\n", self.id, self.definition.command_line);
        if let Some(broken) = self.source_list.broken.as_ref().or(self.target_list.broken.as_ref()) {
            let _ = writeln!(out, "No targets: {broken}");
            return out;
        }
        if !self.source_list.valid || !self.target_list.valid {
            let _ = writeln!(out, "No targets: the pool manager has not answered yet");
            return out;
        }
        let Some(source) = self.source_info().filter(|s| *s.name == *source_pool) else {
            let _ = writeln!(out, "No targets: the pool manager reports the source pool {source_pool} offline");
            return out;
        };
        let reasons = self.reasons(source);
        if reasons.is_empty() {
            let _ = writeln!(out, "No targets: the pool manager lists none of {}", self.definition.targets.join(","));
            return out;
        }
        let width = reasons.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, reason) in &reasons {
            let _ = writeln!(out, "{name:<width$}  {reason}");
        }
        if self.selection_shares().iter().all(|(_, share)| *share == 0.0) {
            let _ = writeln!(out, "No targets: no pool passes the rules above");
        }
        out
    }

    /// Each pool of the target list with its verdict, targets with their selection share.
    fn reasons(&self, source: &PoolCostInfo) -> Vec<(String, String)> {
        let shares = self.selection_shares();
        target_filter::classify(&self.definition, source, &self.target_list.pools)
            .into_iter()
            .map(|(pool, verdict)| {
                let reason = match verdict {
                    Verdict::Target => match shares.iter().find(|(name, _)| name == pool.name()) {
                        Some((_, share)) if *share > 0.0 => format!("target, weight {:.1}%", share * 100.0),
                        _ => "target, but full: weight 0%".to_string(),
                    },
                    other => other.to_string(),
                };
                (pool.name().to_string(), reason)
            })
            .collect()
    }

    /// Beyond dCache's `No targets available`, says once why (until the reason changes).
    fn note_why_no_targets(&mut self, ctx: &Ctx<'_>) {
        if !self.source_list.valid || !self.target_list.valid {
            return;
        }
        let Some(source) = self.source_info().filter(|s| *s.name == **ctx.pool) else { return };
        let reasons: Vec<String> =
            self.reasons(source).into_iter().map(|(name, reason)| format!("{name} {reason}")).collect();
        let text = if reasons.is_empty() {
            format!("No targets: the pool manager lists none of {}", self.definition.targets.join(","))
        } else {
            format!("No targets: {}", reasons.join("; "))
        };
        self.note_once(ctx, text);
    }

    /// A job-level `No targets: …` note, unless the latest one says the same.
    fn note_once(&mut self, ctx: &Ctx<'_>, text: String) {
        let latest = self.notes.iter().rev().find(|n| n.task == 0 && n.text.starts_with("No targets: "));
        if latest.map(|n| &n.text) != Some(&text) {
            self.note(ctx, 0, None, text);
        }
    }

    /// Each selectable target's share of the selection (§8.6): its weight over the sum for
    /// proportional selection, an equal share of the pools with room for random.
    fn selection_shares(&self) -> Vec<(String, f64)> {
        use crate::selection::{SelectionStrategy, has_room_for_random, proportional_weights};
        let weights: Vec<f64> = match self.definition.select {
            SelectionStrategy::Proportional => proportional_weights(&self.selectable),
            SelectionStrategy::Random => {
                self.selectable.iter().map(|p| if has_room_for_random(p) { 1.0 } else { 0.0 }).collect()
            }
        };
        let sum: f64 = weights.iter().sum();
        self.selectable
            .iter()
            .zip(weights)
            .map(|(p, w)| (p.name.to_string(), if sum > 0.0 { w / sum } else { 0.0 }))
            .collect()
    }

    // ── Output (§2.3, §2.4) ────────────────────────────────────────────────────────────

    /// `[<id>] <STATE padded to 12> <command>`.
    pub fn summary(&self) -> String {
        format!("[{}] {:<12} {}", self.id, self.state().name(), self.definition.command_line)
    }

    /// The `Targets` value: pool names, or for group-like targets `pool group g, n pools`
    /// (the Book's form, which operators know).
    pub fn targets_description(&self) -> String {
        if !self.target_list.valid {
            return String::new();
        }
        let n = self.selectable.len();
        let count = if n == 1 { "1 pool".to_string() } else { format!("{n} pools") };
        let names = || self.definition.targets.join(", ");
        match self.definition.target_kind {
            TargetKind::Pool => self.selectable.iter().map(|p| &*p.name).collect::<Vec<_>>().join(","),
            TargetKind::PoolGroup => {
                let groups = self.target_list.resolved_group.clone().unwrap_or_else(names);
                format!("pool group {groups}, {count}")
            }
            TargetKind::Link => format!("link {}, {count}", names()),
            TargetKind::Hsm => format!("hsm {}, {count}", names()),
            TargetKind::Readers => self.selectable.iter().map(|p| &*p.name).collect::<Vec<_>>().join(","),
        }
    }

    /// When the job started (left NEW), if it has.
    pub fn started(&self) -> Option<Millis> {
        self.progress.started()
    }

    /// Files and bytes per second over the last minute of active time (beyond dCache).
    pub fn rate(&self, now: Millis) -> Option<progress::Rate> {
        self.progress.rate(now, self.stats.completed_files, self.stats.transferred)
    }

    /// The time the queued and running files still need at the current rate; `None` for an
    /// ended job, one with nothing left, or one that has not moved anything yet.
    pub fn eta(&self, now: Millis) -> Option<Millis> {
        let remaining_files = (self.queue.len() + self.running.len()) as u64;
        if self.state().is_terminal() || remaining_files == 0 {
            return None;
        }
        let remaining_bytes = self.stats.total.saturating_sub(self.stats.transferred);
        progress::eta(self.rate(now)?, remaining_files, remaining_bytes)
    }
}

/// A copy request's id: random, and mixed with the time so that a module restarted with the
/// same seed (a host may fix it) does not send ids its targets remember as done, which they
/// would acknowledge without copying. The time stays below the UUID's variant bits.
fn request_id(rng: &mut crate::random::Rng, now: Millis) -> RequestId {
    RequestId(u128::from_be_bytes(rng.uuid()) ^ u128::from(now.max(0) as u64))
}

/// Answers `migration cancel` requests of other pools: the job has ended.
fn answer_cancel_replies(replies: impl IntoIterator<Item = Inbound>, ctx: &mut Ctx<'_>) {
    for inbound in replies {
        ctx.respond(inbound, &Reply::Ok);
    }
}

/// Turns one task action into effects, requests and timers.
fn perform(job: JobKey, task: &Task, action: TaskAction, ctx: &mut Ctx<'_>) {
    let pnfsid = task.pnfsid();
    let route = |kind| Route::Task { job, pnfsid, task: task.id, kind };
    let pool_timeout = ctx.config.pool_timeout;
    match action {
        TaskAction::QueryLocations => {
            let token = ctx.request(route(TaskReply::Locations), ctx.config.namespace_timeout);
            ctx.effects.push(Effect::QueryLocations { token, pnfsid });
        }
        TaskAction::SendCopy { target, update_only } => {
            let message = Message::Copy(CopyRequest {
                uuid: task.uuid,
                source: ctx.pool.clone(),
                attributes: task.attributes.clone(),
                state: task.copies.state,
                sticky: task.copies.sticky.clone(),
                verify: task.params().verify,
                force_source_mode: task.params().force_source_mode,
                atime: task.atime,
                // A known location is asked to update only: if its replica vanished since the
                // namespace answered, it must not quietly create a copy the job does not count.
                meta_only: task.params().meta_only || update_only,
            });
            let token = ctx.request(route(TaskReply::Copy), pool_timeout);
            ctx.send(target, &message, Some(token));
        }
        TaskAction::SendPing { target } => {
            let message = Message::Ping { uuid: task.uuid, source: ctx.pool.clone(), pnfsid };
            let token = ctx.request(route(TaskReply::Ping), pool_timeout);
            ctx.send(target, &message, Some(token));
        }
        TaskAction::SendCancel { target: Some(target), reason } => {
            let message = Message::Cancel { uuid: task.uuid, source: ctx.pool.clone(), pnfsid, reason: Some(reason) };
            let token = ctx.request(route(TaskReply::Cancel), pool_timeout);
            ctx.send(target, &message, Some(token));
        }
        TaskAction::SendCancel { target: None, .. } => {}
        TaskAction::MovePins { target } => {
            let request =
                PinMove { pnfsid, pins: task.pins.clone(), source: ctx.pool.to_string(), target: target.to_string() };
            let token = ctx.request(route(TaskReply::PinMove), ctx.config.pin_manager_timeout);
            ctx.effects.push(Effect::MovePins { token, request });
        }
        TaskAction::StartTimer(after) => {
            ctx.timers.set(TimerKey::Task { job, pnfsid, task: task.id }, ctx.now + after);
        }
        TaskAction::StopTimer => ctx.timers.cancel(TimerKey::Task { job, pnfsid, task: task.id }),
        TaskAction::Report(_) => unreachable!("reports are handled by the job"),
    }
}

/// Converts an answer for a task into the task's event.
pub fn task_reply_event(kind: TaskReply, outcome: Outcome<crate::input::Answer>) -> TaskEvent {
    use crate::input::Answer;
    // Requests to other pools are answered with a reply message, which carries the outcome.
    let reply = |o: Outcome<Answer>, wanted: &str| -> Outcome<()> {
        let bytes = Answer::expect(o, wanted, |a| match a {
            Answer::Bytes(bytes) => Some(bytes),
            _ => None,
        })?;
        match crate::message::decode::<Reply>(&bytes) {
            Ok(reply) => reply.into_outcome(),
            Err(e) => Err(Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, e)),
        }
    };
    match kind {
        TaskReply::Locations => TaskEvent::Locations(Answer::expect(outcome, "locations", |a| match a {
            Answer::Locations(l) => Some(l),
            _ => None,
        })),
        TaskReply::Copy => TaskEvent::CopyReply(reply(outcome, "a copy reply")),
        TaskReply::Ping => TaskEvent::PingReply(reply(outcome, "a ping reply")),
        TaskReply::Cancel => TaskEvent::CancelReply(reply(outcome, "a cancel reply")),
        TaskReply::PinMove => {
            TaskEvent::PinsMoved(Answer::expect(outcome, "a pin move", |a| matches!(a, Answer::Done).then_some(())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_differ_across_restarts_with_the_same_seed() {
        let (mut first, mut again) = (crate::random::Rng::seeded(7), crate::random::Rng::seeded(7));
        let before = request_id(&mut first, 1_700_000_000_000);
        assert_eq!(request_id(&mut crate::random::Rng::seeded(7), 1_700_000_000_000), before, "replays exactly");
        let after_restart = request_id(&mut again, 1_700_000_060_000);
        assert_ne!(after_restart, before);
        // The variant bits of the UUID (the top two of the low half) are untouched.
        assert_eq!(after_restart.0 >> 62 & 0b11, before.0 >> 62 & 0b11);
    }
}
