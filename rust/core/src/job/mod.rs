//! The job: one bulk operation created by `migration copy|move|cache`, as a state machine on
//! the source pool (spec §3, §4). It owns the queue and the running tasks, runs the scheduler
//! after every event that may change what can be done, and applies the source mode when a
//! task succeeds. It does no I/O: everything goes out as effects through [`Ctx`].
//!
//! Differences from dCache, all from the spec's defect register (§15): terminal states are
//! final (R3, R16, R20); a paused job shows `PAUSED` and re-checks every 10 s (R2, R4); no
//! source replica is changed unless a copy was confirmed (R5); `No targets available` makes
//! the job sleep instead of spinning (R8); `queue.bytes` counts bytes (R1).
//!
//! This file holds the states, the transitions between them and the scheduler, to be read top
//! to bottom. The job's events are handled in its parts, each an `impl Job` of its own:
//! `scan` (starting, and the repository scan), `files` (the queue and the repository's
//! changes), `tasks` (running files and what their outcomes do), `source_mode` (a source
//! changed only once its copies are confirmed), `targets` (the pool lists and `migration
//! explain`), `operator` (the commands on a job) and `dry_run`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustc_hash::FxHashMap;

use crate::Millis;
use crate::bandwidth::TokenBucket;
use crate::context::Ctx;
use crate::definition::{DeficitMode, JobDefinition};
use crate::effect::{Effect, EntryPurpose, Inbound, JobKey};
use crate::expr::Value;
use crate::filter::ReplicaFilter;
use crate::message::{Reply, RequestId};
use crate::plan::Plan;
use crate::pnfsid::PnfsId;
use crate::pool_info::{PoolCostInfo, PoolInfo};
use crate::progress::{self, Progress};
use crate::quarantine::Quarantine;
use crate::queue::JobQueue;
use crate::replica::Durability;
use crate::target_filter;
use crate::task::{Task, TaskAction, TaskParams};
use crate::timers::TimerKey;

mod dry_run;
mod files;
mod operator;
mod scan;
mod source_mode;
mod targets;
mod tasks;

use scan::Scan;
pub use tasks::task_reply_event;

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

/// How far a running file got: the stage that occupies its running slot.
#[derive(Debug)]
enum Stage {
    /// The entry is being read to create the task; `cancelled` if removed meanwhile.
    Reading { cancelled: bool },
    /// The task runs. `source` is the source replica's state and sticky records (pins
    /// included) as the entry the task was made from had them: a move removes the source on
    /// them if they are still its own ([`Job::apply_source_mode`]).
    Task { task: Box<Task>, source: Durability },
    /// The task succeeded; the source mode is being applied. `copied` is what the copies
    /// were asked to be, kept where the source mode could leave the source more volatile
    /// than them (`-tmode=same`). `reads` counts the source's reads made to apply the mode:
    /// each removal the host refused, because the replica had changed since it was read, is
    /// followed by one.
    ApplyingSourceMode { task: u64, note: Option<String>, copied: Option<Durability>, reads: u8 },
    /// A dry run asks the namespace where the file is; nothing else happens to it.
    Locating,
}

#[derive(Debug)]
struct Running {
    size: u64,
    stage: Stage,
    /// Bytes charged to the job's bandwidth limit for the file: its size when its task started,
    /// and again for each further request for a new replica. Handed back if none was taken.
    charged: u64,
    /// Requests for a new replica sent and not refused: each may move the file's bytes.
    copies_asked: u32,
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
    /// Notes written since the job was created, including those no longer kept.
    notes_written: u64,
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
    /// Files whose replica changed while the initial scan ran, and whether each still matched
    /// the filter after its last change (removed: no). The scan reads the repository without
    /// the module's lock, so its result can be older than these events; a file that stopped
    /// matching meanwhile is taken out of it ([`Job::scanned`]).
    changed_while_scanning: FxHashMap<PnfsId, bool>,
    /// Tells the scan in flight that its result is no longer wanted (set on leaving
    /// INITIALIZING), so that a cancelled job does not wait for a scan of millions of replicas.
    scan_stop: Arc<AtomicBool>,
    /// An emptied buffer for a task's actions, kept so that feeding a task allocates none.
    spare_actions: Vec<TaskAction>,
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
            notes_written: 0,
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
            changed_while_scanning: FxHashMap::default(),
            scan_stop: Arc::default(),
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

    /// How many notes the job has written, including those no longer kept: whoever reads the
    /// notes as they come (the simulator's checks) can tell whether it missed one.
    pub fn notes_written(&self) -> u64 {
        self.notes_written
    }

    /// The selectable online targets.
    pub fn targets(&self) -> &[PoolCostInfo] {
        &self.selectable
    }

    /// Whether the job is permanent.
    pub fn is_permanent(&self) -> bool {
        self.definition.permanent
    }

    /// Whether the job was made by a hot file's reads (§12), not by a command: only those
    /// count against the cap of finished hot-file jobs, whatever an operator named a job.
    pub fn is_hot_file(&self) -> bool {
        self.definition.hot_file.is_some()
    }

    /// Whether one of the job's tasks still waits on the copy request `uuid`. A copy made later
    /// for a request no task waits on is an orphan: its task gave up on it (a timeout, a lost
    /// message) and the target went on.
    pub fn has_task_for_request(&self, uuid: RequestId) -> bool {
        self.running.values().any(|r| matches!(&r.stage, Stage::Task { task, .. } if task.uuid == uuid))
    }

    /// The files this job holds locked: those it has running, unless it is a dry run.
    pub(crate) fn locked_files(&self) -> impl Iterator<Item = &PnfsId> {
        self.plan.is_none().then(|| self.running.keys()).into_iter().flatten()
    }

    /// Running tasks as `(task id, pnfsid, state name, target)`, by task id.
    pub fn running_tasks(&self) -> Vec<(u64, PnfsId, &'static str, Option<&str>)> {
        let mut tasks: Vec<_> = self
            .running
            .iter()
            .filter_map(|(id, r)| match &r.stage {
                Stage::Task { task, .. } => Some((task.id, *id, task.state().name(), task.target())),
                _ => None,
            })
            .collect();
        tasks.sort_by_key(|t| t.0);
        tasks
    }

    // ── State changes ──────────────────────────────────────────────────────────────────

    /// The one place the state changes; idle states stop the pace's clock. Returns the state
    /// left, with its data.
    fn set_state(&mut self, next: State, now: Millis) -> State {
        let name = next.name();
        if name != JobState::Initializing {
            self.scan_stop.store(true, Ordering::Relaxed);
        }
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
        ctx.job_ended();
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
        let mut throttled = false;
        // Files found locked in this walk, each sent to the end of the queue once.
        let mut locked = 0;
        while self.state() == JobState::Running && (self.running.len() as i64) < i64::from(self.concurrency) {
            if locked > 0 && locked >= self.queue.len() {
                break; // every file left is locked by another job
            }
            let Some((pnfsid, size)) = self.queue.front() else { break };
            if self.definition.stop_when.is_some() && self.evaluate_lifetime(true, 0) {
                self.stop(ctx);
                break;
            }
            if self.definition.pause_when.is_some() && self.evaluate_lifetime(false, 0) {
                self.enter(State::Paused, ctx);
                break;
            }
            // A dry run takes no lock: it changes nothing, and must not make a target busy.
            if self.plan.is_none() && !ctx.locks.insert(pnfsid) {
                // Another job of this pool works on the file: it goes to the end of the queue
                // and is tried again after the others. dCache leaves it in place; here every
                // file taken after it would leave a dead slot behind it for each later walk to
                // step over, quadratic in a large queue while the file stays locked.
                self.note(ctx, 0, Some(pnfsid), "File is locked".to_string());
                let (pnfsid, size) = self.queue.pop_front().expect("the file was just seen in the queue");
                self.queue.push_back(pnfsid, size);
                self.release_queue_memory(ctx);
                locked += 1;
                continue;
            }
            // A dry run moves no bytes, so it is not held to the limit (its estimate is).
            let bucket = if self.plan.is_none() { self.bandwidth.as_mut() } else { None };
            let charged = match bucket.map(|b| b.take(size, ctx.now)) {
                Some(Err(wait)) => {
                    ctx.locks.remove(&pnfsid);
                    ctx.timers.set(TimerKey::Throttle(self.key), ctx.now.saturating_add(wait));
                    throttled = true;
                    break;
                }
                Some(Ok(())) => size,
                None => 0,
            };
            let (pnfsid, size) = self.queue.pop_front().expect("the file was just seen in the queue");
            self.release_queue_memory(ctx);
            let stage = Stage::Reading { cancelled: false };
            self.running.insert(pnfsid, Running { size, stage, charged, copies_asked: 0 });
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

    /// Evaluates `-stop-when` (`stop`) or `-pause-when` with the symbols of §3.4, as if
    /// `more_queued` files were queued besides the queue's own.
    fn evaluate_lifetime(&self, stop: bool, more_queued: usize) -> bool {
        let expression = if stop { &self.definition.stop_when } else { &self.definition.pause_when };
        let Some(expression) = expression else { return false };
        let source = self.source_info();
        let queue_files = (self.queue.len() + more_queued) as f64;
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

    // ── Notes (§3.8) ───────────────────────────────────────────────────────────────────

    /// Logs a note and keeps it, with the latest [`MAX_NOTES`] of the job's.
    fn note(&mut self, ctx: &Ctx<'_>, task: u64, pnfsid: Option<PnfsId>, text: String) {
        let file = pnfsid.map_or_else(|| "-".to_string(), |p| p.to_string());
        tracing::info!(target: LOG_TARGET, pool = &**ctx.pool, job = %self.id, "[{task}] {file}: {text}");
        if self.notes.len() == MAX_NOTES {
            self.notes.pop_front();
        }
        self.notes.push_back(Note { time: ctx.now, task, pnfsid, text });
        self.notes_written += 1;
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
                if self.evaluate_lifetime(true, 0) {
                    // R4 fixed: a stop is final, the job does not bounce back to RUNNING.
                    self.stop(ctx);
                } else if !self.is_permanent() && self.queue.is_empty() && self.running.is_empty() {
                    // Its files went while it was paused (deleted, or no longer matching): it
                    // is done, as the scheduler's rule 2 would find, which dCache reaches by
                    // passing through RUNNING every 10 s. Kept paused, it never ended.
                    self.terminate(State::Finished, ctx);
                } else if !self.evaluate_lifetime(false, 0) {
                    self.enter(State::Running, ctx);
                } else {
                    // R2 fixed: keep looking every 10 s while paused.
                    ctx.timers.set(TimerKey::Wake(self.key), ctx.now + WAKE_DELAY);
                }
            }
            _ => {}
        }
    }

    // ── Output (§2.3, §2.4) ────────────────────────────────────────────────────────────

    /// `[<id>] <STATE padded to 12> <command>`.
    pub fn summary(&self) -> String {
        format!("[{}] {:<12} {}", self.id, self.state().name(), self.definition.command_line)
    }

    /// When the job started (left NEW), if it has.
    pub fn started(&self) -> Option<Millis> {
        self.progress.started()
    }

    /// The job's rate if it completed a file within the last hour ([`progress::RECENT`]): the
    /// pool's recent pace, which a dry run's estimate goes by.
    pub fn recent_rate(&self, now: Millis) -> Option<progress::Rate> {
        if self.progress.completed_recently(now) { self.rate(now) } else { None }
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
        // The files still to move, not the job's total less what it moved: that would count
        // the files it gave up on or quarantined for ever.
        let running_bytes = self.running.values().fold(0u64, |sum, r| sum.saturating_add(r.size));
        let remaining_bytes = self.queue.bytes().saturating_add(running_bytes);
        progress::eta(self.rate(now)?, remaining_files, remaining_bytes)
    }
}

/// A copy request's id: random, and mixed with the time so that a module restarted with the
/// same seed (a host may fix it) does not send ids its targets remember as done, which they
/// would acknowledge without copying, and with the pool's name so that two pools given the
/// same seed do not send one target the same ids (it knows requests by id alone, so one
/// pool's copy would be taken for the other's duplicate). The time stays below the UUID's
/// variant bits, the name's hash above its version bits.
fn request_id(rng: &mut crate::random::Rng, now: Millis, pool: &str) -> RequestId {
    // FNV-1a: the same in every process and release. Hashed for each task: kept in the
    // context instead, the copy of it into each input's context cost more (callgrind).
    let name = pool.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let salt = u128::from(name >> 16) << 80;
    RequestId(u128::from_be_bytes(rng.uuid()) ^ u128::from(now.max(0) as u64) ^ salt)
}

/// Answers `migration cancel` requests of other pools: the job has ended.
fn answer_cancel_replies(replies: impl IntoIterator<Item = Inbound>, ctx: &mut Ctx<'_>) {
    for inbound in replies {
        ctx.respond(inbound, &Reply::Ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_differ_across_restarts_with_the_same_seed() {
        let (mut first, mut again) = (crate::random::Rng::seeded(7), crate::random::Rng::seeded(7));
        let before = request_id(&mut first, 1_700_000_000_000, "pool1");
        let replayed = request_id(&mut crate::random::Rng::seeded(7), 1_700_000_000_000, "pool1");
        assert_eq!(replayed, before, "replays exactly");
        let after_restart = request_id(&mut again, 1_700_000_060_000, "pool1");
        assert_ne!(after_restart, before);
        // The variant bits of the UUID (the top two of the low half) are untouched.
        assert_eq!(after_restart.0 >> 62 & 0b11, before.0 >> 62 & 0b11);
    }

    #[test]
    fn request_ids_differ_across_pools_with_the_same_seed() {
        let now = 1_700_000_000_000;
        let id = |pool: &str| request_id(&mut crate::random::Rng::seeded(7), now, pool).0;
        let (pool1, pool2) = (id("pool1"), id("pool2"));
        assert_ne!(pool1, pool2);
        // The names change only the top 48 bits: the version and variant bits are as drawn.
        assert_eq!(pool1 & ((1 << 80) - 1), pool2 & ((1 << 80) - 1));
    }
}
