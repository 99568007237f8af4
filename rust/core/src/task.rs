//! The task: the transfer of one replica inside a job, as a state machine on the source pool
//! (spec §5). It does no I/O: [`Task::handle`] takes an event and pushes [`TaskAction`]s that
//! the job turns into messages, queries and timers.
//!
//! Every transition is in the one `match` of `Task::transition`; guards of one event are
//! tried in the order the spec lists them. Events that a state does not list are ignored, so
//! late or duplicated replies are harmless.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::{Failure, Outcome, ReturnCode};
use crate::message::RequestId;
use crate::pnfsid::PnfsId;
use crate::pool_info::PoolCostInfo;
use crate::random::Rng;
use crate::replica::{Durability, FileAttributes, StickyRecord};
use crate::selection::SelectionStrategy;
use crate::{Millis, PoolName};

/// The states of §5.3; printed as `TASK.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Created, not started.
    Queued,
    /// Asking the namespace where copies exist.
    GettingLocations,
    /// Asking a pool that has a copy to update it.
    UpdatingExistingFile,
    /// Asking a newly chosen pool to create a copy.
    InitiatingCopy,
    /// The copy finished before the copy request's reply; more replicas needed.
    WaitingForCopyReplicaReply,
    /// The target is transferring.
    Copying,
    /// Asking the target whether it still works on the request.
    Pinging,
    /// A ping went unanswered; waiting before the next.
    NoResponse,
    /// The target no longer knows the request; waiting for its final message.
    WaitingForCopyFinishedMessage,
    /// Asking the pin manager to move the pins.
    MovingPin,
    /// Cancelling the request on the target.
    Cancelling,
    /// Ended: cancelled.
    Cancelled,
    /// Ended: failed.
    Failed,
    /// Ended: done.
    Done,
}

impl TaskState {
    /// The name dCache prints after `TASK.`.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Queued => "Queued",
            TaskState::GettingLocations => "GettingLocations",
            TaskState::UpdatingExistingFile => "UpdatingExistingFile",
            TaskState::InitiatingCopy => "InitiatingCopy",
            TaskState::WaitingForCopyReplicaReply => "WaitingForCopyReplicaReply",
            TaskState::Copying => "Copying",
            TaskState::Pinging => "Pinging",
            TaskState::NoResponse => "NoResponse",
            TaskState::WaitingForCopyFinishedMessage => "WaitingForCopyFinishedMessage",
            TaskState::MovingPin => "MovingPin",
            TaskState::Cancelling => "Cancelling",
            TaskState::Cancelled => "Cancelled",
            TaskState::Failed => "Failed",
            TaskState::Done => "Done",
        }
    }

    /// Whether the task has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskState::Cancelled | TaskState::Failed | TaskState::Done)
    }
}

/// Job parameters every task of the job shares.
#[derive(Debug, Clone)]
pub struct TaskParams {
    /// Create new copies instead of retrying unreachable existing ones (§5.5).
    pub eager: bool,
    /// Never create replicas.
    pub meta_only: bool,
    /// Verify the checksum when updating an existing replica.
    pub verify: bool,
    /// Let the source deliver even if disabled for p2p.
    pub force_source_mode: bool,
    /// Replicas wanted per file.
    pub replicas: usize,
    /// `-target-deficit-mode=wait`.
    pub wait_for_targets: bool,
    /// How to choose a new target.
    pub select: SelectionStrategy,
    /// `T`: the timeout of requests to pools (§5.2).
    pub pool_timeout: Millis,
}

/// What a task hands the job when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResult {
    /// Copies confirmed; `note` is set when fewer replicas than requested were made.
    Completed {
        /// `File replicas truncated at …`.
        note: Option<String>,
        /// Replicas confirmed by a target (0 is possible in `limit` mode).
        confirmed: usize,
    },
    /// Failed; the file is retried at the end of the queue unless `permanent`.
    Failed {
        /// dCache return code.
        rc: ReturnCode,
        /// The note text.
        message: String,
        /// Drop the file from the job.
        permanent: bool,
    },
    /// Cancelled; the file is dropped from the job.
    Cancelled,
}

/// What a task asks its job to do.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskAction {
    /// Ask the namespace for the file's locations.
    QueryLocations,
    /// Send a copy request to the current target.
    SendCopy {
        /// The pool.
        target: PoolName,
        /// The pool is a known location: it may only update its replica, never create one.
        update_only: bool,
    },
    /// Ping the current target.
    SendPing {
        /// The pool.
        target: PoolName,
    },
    /// Ask the current target to cancel (the target may be unknown: then nothing is sent).
    SendCancel {
        /// The pool, if any.
        target: Option<PoolName>,
        /// Why.
        reason: String,
    },
    /// Ask the pin manager to move the pins to the current target.
    MovePins {
        /// The pool.
        target: PoolName,
    },
    /// Start (or restart) the task's timer.
    StartTimer(Millis),
    /// Stop the task's timer.
    StopTimer,
    /// The task ended.
    Report(TaskResult),
}

/// An input to the task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskEvent {
    /// Start without known locations (what jobs do).
    Start,
    /// Start with the file's locations already known.
    StartWithLocations(Vec<String>),
    /// Reply to the location query.
    Locations(Outcome<Vec<String>>),
    /// Reply to the copy request.
    CopyReply(Outcome<()>),
    /// Reply to a ping.
    PingReply(Outcome<()>),
    /// Reply to a cancel request.
    CancelReply(Outcome<()>),
    /// Reply to the pin move.
    PinsMoved(Outcome<()>),
    /// The target's copy-finished message for this task's request.
    Finished {
        /// 0 on success.
        rc: ReturnCode,
        /// Error text.
        error: Option<String>,
    },
    /// The task's timer fired.
    Timer,
    /// The job cancels the task.
    Cancel(String),
}

/// The target pools as the job currently sees them.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// Selectable online pools (filtered by include/exclude), in pool-manager order.
    pub online: &'a [PoolCostInfo],
    /// Offline pools that pass the name filters (locations for non-eager jobs).
    pub offline: &'a [String],
}

/// One file's transfer.
#[derive(Debug, Clone)]
pub struct Task {
    /// Task id (a counter shared by all jobs of the pool).
    pub id: u64,
    /// The request id sent to targets.
    pub uuid: RequestId,
    /// What the target needs to create the replica.
    pub attributes: FileAttributes,
    /// What each copy is asked to be: its state and sticky records.
    pub copies: Durability,
    /// Pins to move (`-pins=move`); empty otherwise.
    pub pins: Vec<StickyRecord>,
    /// The source's access time (`-atime`).
    pub atime: Option<Millis>,
    params: Arc<TaskParams>,
    state: TaskState,
    target: Option<PoolName>,
    locations: VecDeque<PoolName>,
    replicas_done: Vec<PoolName>,
    confirmed: usize,
    cancel_reason: Option<String>,
    /// A known location that did not answer, skipped for the next one (non-eager only).
    unreachable: Option<(ReturnCode, &'static str)>,
    /// Targets that answered "busy" (`max-incoming`): not asked again by this task.
    busy: Vec<PoolName>,
}

/// Scratch space for one call: where actions go.
struct Step<'a, 'b> {
    targets: Targets<'a>,
    rng: &'b mut Rng,
    actions: &'b mut Vec<TaskAction>,
    /// `copy_nopools`, raised by entering InitiatingCopy; processed after the transition.
    no_pools: bool,
}

impl Task {
    /// A task in state `Queued`.
    pub fn new(
        id: u64,
        uuid: RequestId,
        attributes: FileAttributes,
        copies: Durability,
        pins: Vec<StickyRecord>,
        atime: Option<Millis>,
        params: Arc<TaskParams>,
    ) -> Task {
        Task {
            id,
            uuid,
            attributes,
            copies,
            pins,
            atime,
            params,
            state: TaskState::Queued,
            target: None,
            locations: VecDeque::new(),
            replicas_done: Vec::new(),
            confirmed: 0,
            cancel_reason: None,
            unreachable: None,
            busy: Vec::new(),
        }
    }

    /// Pools a new copy may go to. R6 fixed: pools that already reported are excluded by
    /// name, and so are pools that said they are busy.
    fn candidates<'a>(&self, step: &Step<'a, '_>) -> Vec<&'a PoolCostInfo> {
        step.targets
            .online
            .iter()
            .filter(|p| !self.replicas_done.iter().chain(&self.busy).any(|name| **name == *p.name))
            .collect()
    }

    /// Selects the pool for a new copy among the candidates.
    fn choose_target<'a>(&self, step: &mut Step<'a, '_>) -> Option<&'a PoolCostInfo> {
        let online = step.targets.online;
        if self.replicas_done.is_empty() && self.busy.is_empty() {
            // Nothing to leave out (a task's first copy): the candidates are the online pools
            // as they are, so they need not be collected.
            return self.params.select.select(online, step.rng).map(|i| &online[i]);
        }
        let candidates = self.candidates(step);
        self.params.select.select(&candidates, step.rng).map(|i| candidates[i])
    }

    /// The file.
    pub fn pnfsid(&self) -> PnfsId {
        self.attributes.pnfsid
    }

    /// The job parameters the task was created with.
    pub fn params(&self) -> &TaskParams {
        &self.params
    }

    /// The current state.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// The pool the task currently talks to.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// Pools that confirmed a replica (or reported finishing) for this task.
    pub fn replicas_done(&self) -> &[PoolName] {
        &self.replicas_done
    }

    /// Feeds one event; actions are appended to `actions`.
    pub fn handle(&mut self, event: TaskEvent, targets: Targets<'_>, rng: &mut Rng, actions: &mut Vec<TaskAction>) {
        if let TaskEvent::Cancel(reason) = &event {
            // A second cancel is a no-op (R18: dCache asserts instead).
            if self.cancel_reason.is_some() || self.state.is_terminal() {
                return;
            }
            self.cancel_reason = Some(reason.clone());
        }
        let mut step = Step { targets, rng, actions, no_pools: false };
        self.transition(event, &mut step);
        // copy_nopools is raised by entering InitiatingCopy; it may raise itself again only
        // through another InitiatingCopy entry, which cannot happen from its own handlers.
        while std::mem::take(&mut step.no_pools) {
            self.transition_no_pools(&mut step);
        }
    }

    fn has_more_locations(&self) -> bool {
        !self.locations.is_empty()
    }

    fn needs_more_replicas(&self) -> bool {
        self.replicas_done.len() < self.params.replicas
    }

    fn more_replicas_possible(&self, step: &Step<'_, '_>) -> bool {
        self.params.wait_for_targets || self.replicas_done.len() < step.targets.online.len()
    }

    fn must_move_pins(&self) -> bool {
        !self.pins.is_empty()
    }

    /// `<t>` in the texts: the target in cell-path form.
    fn t(&self) -> String {
        self.target.as_deref().map(|t| format!("[{t}@local]")).unwrap_or_default()
    }

    fn reason(&self) -> String {
        self.cancel_reason.clone().unwrap_or_else(|| "an unknown reason".to_string())
    }

    fn transition(&mut self, event: TaskEvent, step: &mut Step<'_, '_>) {
        use TaskEvent as E;
        use TaskState as S;
        let meta_only = self.params.meta_only;
        let eager = self.params.eager;
        if let E::Finished { rc, .. } = &event {
            // dCache adds the target before looking at the return code; only a successful
            // finish counts as a confirmed replica (used by the R5 safety fix).
            if let Some(t) = &self.target
                && !self.replicas_done.contains(t)
            {
                self.replicas_done.push(t.clone());
                if *rc == ReturnCode::OK {
                    self.confirmed += 1;
                }
            }
        }
        match (self.state, event) {
            // ── Queued ───────────────────────────────────────────────────────────────
            (S::Queued, E::Start) => self.enter(S::GettingLocations, step),
            (S::Queued, E::StartWithLocations(pools)) => {
                self.locations = self.select_locations(&pools, step);
                if self.has_more_locations() {
                    self.enter(S::UpdatingExistingFile, step)
                } else if !meta_only {
                    self.enter(S::InitiatingCopy, step)
                } else {
                    self.perm(
                        ReturnCode::FILE_NOT_IN_REPOSITORY,
                        "File skipped because it has no existing replicas",
                        step,
                    )
                }
            }

            // ── GettingLocations ─────────────────────────────────────────────────────
            (S::GettingLocations, E::Locations(Err(Failure::Timeout))) => {
                self.fail(ReturnCode::TIMEOUT, "PnfsManager failed (no response)", step)
            }
            (S::GettingLocations, E::Locations(Err(Failure::NoRoute))) => {
                self.fail(ReturnCode::SERVICE_UNAVAILABLE, "PnfsManager failed (no route to cell)", step)
            }
            (S::GettingLocations, E::Locations(Err(Failure::Error { code, cause }))) => {
                if code == ReturnCode::FILE_NOT_FOUND {
                    self.perm(code, "File does not exist, skipped", step)
                } else {
                    self.fail(code, &format!("PnfsManager failed ({cause})"), step)
                }
            }
            (S::GettingLocations, E::Cancel(_)) => self.enter(S::Cancelled, step),
            (S::GettingLocations, E::Locations(Ok(pools))) => {
                self.locations = self.select_locations(&pools, step);
                if self.has_more_locations() {
                    self.enter(S::UpdatingExistingFile, step)
                } else if !meta_only && self.more_replicas_possible(step) {
                    self.enter(S::InitiatingCopy, step)
                } else if !meta_only {
                    self.done_with_note(step)
                } else {
                    self.perm(
                        ReturnCode::FILE_NOT_IN_REPOSITORY,
                        "File skipped because it has no existing replicas",
                        step,
                    )
                }
            }

            // ── UpdatingExistingFile ─────────────────────────────────────────────────
            (S::UpdatingExistingFile, E::CopyReply(Err(Failure::Timeout))) => {
                if self.has_more_locations() {
                    self.skip_unreachable(ReturnCode::TIMEOUT, "Remote pool failed (no response)");
                    self.enter(S::UpdatingExistingFile, step)
                } else if eager && !meta_only && self.more_replicas_possible(step) {
                    self.enter(S::InitiatingCopy, step)
                } else {
                    self.fail(ReturnCode::TIMEOUT, "Remote pool failed (no response)", step)
                }
            }
            (S::UpdatingExistingFile, E::CopyReply(Err(Failure::NoRoute))) => {
                if self.has_more_locations() {
                    self.skip_unreachable(ReturnCode::SERVICE_UNAVAILABLE, "Remote pool failed (no route to cell)");
                    self.enter(S::UpdatingExistingFile, step)
                } else if eager && !meta_only && self.more_replicas_possible(step) {
                    self.enter(S::InitiatingCopy, step)
                } else {
                    self.fail(ReturnCode::SERVICE_UNAVAILABLE, "Remote pool failed (no route to cell)", step)
                }
            }
            (S::UpdatingExistingFile, E::CopyReply(Err(Failure::Error { code, cause }))) => {
                if code == ReturnCode::LOCKED {
                    self.fail(code, "Replica is locked on target pool", step)
                } else if code == ReturnCode::TARGET_BUSY {
                    // The pool holding a copy is at its `max-incoming`: the copy is still
                    // there, so a new one elsewhere would be one too many (found by
                    // migration-sim once its pools had a cap). The file waits, as when every
                    // target is busy.
                    let text = format!("Pool {} failed ({cause})", self.t());
                    self.fail(code, &text, step)
                } else if self.has_more_locations() {
                    self.enter(S::UpdatingExistingFile, step)
                } else if !meta_only && self.more_replicas_possible(step) {
                    // An error reply (not a silence) leads to a new copy even when not eager.
                    self.enter(S::InitiatingCopy, step)
                } else {
                    let text = format!("Transfer to {} failed ({cause})", self.t());
                    self.fail(code, &text, step)
                }
            }
            (S::UpdatingExistingFile, E::CopyReply(Ok(()))) => self.enter(S::Copying, step),
            (S::UpdatingExistingFile, E::Cancel(_)) => self.enter(S::Cancelling, step),
            (S::UpdatingExistingFile | S::InitiatingCopy, E::Finished { rc, error }) => {
                let permanent = rc == ReturnCode::FILE_NOT_FOUND
                    || (self.state == S::InitiatingCopy && rc == ReturnCode::FILE_CORRUPTED);
                if rc != ReturnCode::OK {
                    self.transfer_failed(rc, error, permanent, step)
                } else if self.needs_more_replicas() {
                    self.enter(S::WaitingForCopyReplicaReply, step)
                } else if self.must_move_pins() {
                    self.enter(S::MovingPin, step)
                } else {
                    self.done(step)
                }
            }

            // ── InitiatingCopy ───────────────────────────────────────────────────────
            (S::InitiatingCopy, E::CopyReply(Ok(()))) => self.enter(S::Copying, step),
            (S::InitiatingCopy, E::CopyReply(Err(Failure::NoRoute))) => {
                let text = format!("Pool {} failed (no route to cell)", self.t());
                self.fail(ReturnCode::SERVICE_UNAVAILABLE, &text, step)
            }
            (S::InitiatingCopy, E::CopyReply(Err(Failure::Error { code, cause })))
                if code == ReturnCode::TARGET_BUSY =>
            {
                // Not a failure: another target may have room; when none has, the job tries
                // again later without counting it.
                self.busy.extend(self.target.take());
                if self.candidates(step).is_empty() {
                    let text = format!("All target pools are busy ({cause})");
                    self.fail(code, &text, step)
                } else {
                    self.enter(S::InitiatingCopy, step)
                }
            }
            (S::InitiatingCopy, E::CopyReply(Err(Failure::Error { code, cause }))) => {
                let text = format!("Pool {} failed ({cause})", self.t());
                if code == ReturnCode::FILE_CORRUPTED {
                    self.perm(code, &text, step)
                } else {
                    self.fail(code, &text, step)
                }
            }
            (S::InitiatingCopy, E::CopyReply(Err(Failure::Timeout))) => {
                // The request may have arrived: tell the target to drop it, then wait for
                // its final word.
                let reason = format!("Timeout waiting for target pool {}", self.t());
                step.actions.push(TaskAction::SendCancel { target: self.target.clone(), reason });
                self.enter(S::WaitingForCopyFinishedMessage, step)
            }
            (S::InitiatingCopy, E::Cancel(_)) => self.enter(S::Cancelling, step),

            // ── WaitingForCopyReplicaReply ───────────────────────────────────────────
            (S::WaitingForCopyReplicaReply, E::CopyReply(Ok(()))) => {
                if self.has_more_locations() {
                    self.enter(S::UpdatingExistingFile, step)
                } else if !meta_only && self.more_replicas_possible(step) {
                    self.enter(S::InitiatingCopy, step)
                } else if !meta_only {
                    self.done_with_note(step)
                } else {
                    self.perm(
                        ReturnCode::FILE_NOT_IN_REPOSITORY,
                        "File skipped because it does not have enough existing replicas",
                        step,
                    )
                }
            }
            (S::WaitingForCopyReplicaReply, E::CopyReply(Err(failure))) => {
                let t = self.t();
                match failure {
                    Failure::NoRoute => {
                        self.fail(ReturnCode::SERVICE_UNAVAILABLE, &format!("Pool {t} failed (no route to cell)"), step)
                    }
                    Failure::Error { code, cause } => self.fail(code, &format!("Pool {t} failed ({cause})"), step),
                    Failure::Timeout => self.fail(ReturnCode::TIMEOUT, &format!("Pool {t} failed (no response)"), step),
                }
            }
            (S::WaitingForCopyReplicaReply, E::Cancel(_)) => self.enter(S::Cancelled, step),

            // ── Copying ──────────────────────────────────────────────────────────────
            (S::Copying, E::Timer) => self.enter(S::Pinging, step),
            (S::Copying, E::Finished { rc, error }) => {
                let permanent = rc == ReturnCode::FILE_NOT_FOUND || rc == ReturnCode::FILE_CORRUPTED;
                self.finished_while_copying(rc, error, permanent, step)
            }
            (S::Copying | S::Pinging | S::NoResponse, E::Cancel(_)) => self.enter(S::Cancelling, step),

            // ── Pinging ──────────────────────────────────────────────────────────────
            (S::Pinging | S::NoResponse, E::PingReply(Ok(()))) => self.enter(S::Copying, step),
            (S::Pinging | S::NoResponse, E::PingReply(Err(Failure::Error { .. }))) => {
                self.enter(S::WaitingForCopyFinishedMessage, step)
            }
            (S::Pinging, E::PingReply(Err(_))) => self.enter(S::NoResponse, step),
            (S::Pinging | S::NoResponse | S::WaitingForCopyFinishedMessage, E::Finished { rc, error }) => {
                // Only "file not found" is permanent here (§5.4, kept from dCache).
                let permanent = rc == ReturnCode::FILE_NOT_FOUND;
                self.finished_while_copying(rc, error, permanent, step)
            }

            // ── NoResponse ───────────────────────────────────────────────────────────
            (S::NoResponse, E::Timer) => {
                // Ping again; the timer is not re-armed, the reply decides.
                if let Some(target) = self.target.clone() {
                    step.actions.push(TaskAction::SendPing { target });
                }
            }
            (S::NoResponse, E::PingReply(Err(Failure::NoRoute))) => {
                let text = format!("Pool {} failed (no route to cell)", self.t());
                self.fail(ReturnCode::SERVICE_UNAVAILABLE, &text, step)
            }
            (S::NoResponse, E::PingReply(Err(Failure::Timeout))) => {
                let text = format!("Pool {} failed (no response)", self.t());
                self.fail(ReturnCode::TIMEOUT, &text, step)
            }

            // ── WaitingForCopyFinishedMessage (cancel is ignored here, as in dCache) ──
            (S::WaitingForCopyFinishedMessage, E::Timer) => {
                let text = format!("Pool {} failed (no response)", self.t());
                self.fail(ReturnCode::TIMEOUT, &text, step)
            }

            // ── MovingPin ────────────────────────────────────────────────────────────
            (S::MovingPin, E::PinsMoved(Ok(()))) => self.done(step),
            (S::MovingPin, E::PinsMoved(Err(Failure::Error { code, cause }))) => {
                self.fail(code, &format!("Pin manager failed ({cause})"), step)
            }
            (S::MovingPin, E::PinsMoved(Err(Failure::NoRoute))) => {
                self.fail(ReturnCode::SERVICE_UNAVAILABLE, "Pin manager failed (no route to cell)", step)
            }
            (S::MovingPin, E::PinsMoved(Err(Failure::Timeout))) => {
                self.fail(ReturnCode::TIMEOUT, "Pin manager failed (timeout)", step)
            }
            (S::MovingPin, E::Cancel(_)) => {
                let text = format!(
                    "Cancelling task ({}) failed (data migrated but pin movement still underway)",
                    self.reason()
                );
                self.fail(ReturnCode::DEFAULT_ERROR_CODE, &text, step)
            }

            // ── Cancelling ───────────────────────────────────────────────────────────
            (S::Cancelling, E::Timer) => {
                let text = format!("Cancelling task ({}) failed (no response from {})", self.reason(), self.t());
                self.fail(ReturnCode::TIMEOUT, &text, step)
            }
            (S::Cancelling, E::Finished { rc, .. }) => self.finished_while_cancelling(rc, step),
            (S::Cancelling, E::CancelReply(Err(Failure::NoRoute))) => {
                let text = format!("Cancelling task ({}) failed (no route)", self.reason());
                self.fail(ReturnCode::SERVICE_UNAVAILABLE, &text, step)
            }

            // Anything else is ignored: the machine is input-enabled.
            _ => {}
        }
    }

    /// Remembers a known copy that could not be reached. A non-eager task must not create a
    /// new copy elsewhere while one is unreachable (§5.5): with `-replicas` > 1, dCache skips
    /// to the next location and may later create a copy beyond the count (found by
    /// migration-sim).
    fn skip_unreachable(&mut self, rc: ReturnCode, text: &'static str) {
        if !self.params.eager {
            self.unreachable = Some((rc, text));
        }
    }

    /// `copy_nopools`: raised after entering InitiatingCopy without a selectable pool.
    fn transition_no_pools(&mut self, step: &mut Step<'_, '_>) {
        match self.state {
            TaskState::InitiatingCopy | TaskState::WaitingForCopyReplicaReply if !self.busy.is_empty() => {
                // Left without a target only because some said they were busy (one refused a
                // copy before another took one): not a target deficit, which in limit mode
                // would end the task with fewer copies and delete the source, but the same
                // wait as when every target is busy. The file comes back in 10 s and its
                // copies made so far are found as locations.
                let text = format!("No target left but busy ones ({} busy)", self.busy.len());
                self.fail(ReturnCode::TARGET_BUSY, &text, step)
            }
            TaskState::InitiatingCopy | TaskState::WaitingForCopyReplicaReply => {
                if !self.params.wait_for_targets {
                    self.done_with_note(step)
                } else {
                    self.fail(ReturnCode::NO_POOL_ONLINE, "No targets available", step)
                }
            }
            _ => {}
        }
    }

    /// A target's final word while cancelling.
    fn finished_while_cancelling(&mut self, rc: ReturnCode, step: &mut Step<'_, '_>) {
        if rc != ReturnCode::OK {
            self.enter(TaskState::Cancelled, step)
        } else if self.needs_more_replicas() && (self.more_replicas_possible(step) || self.params.meta_only) {
            // Fewer copies than `-replicas` asks for; more could be made, but the task is
            // cancelled, so none will be. The source stays as it is and the copy as an extra
            // one. dCache completes the task: a cancelled `move -replicas=2` deleted its source
            // with one copy.
            self.enter(TaskState::Cancelled, step)
        } else if self.needs_more_replicas() {
            // `-target-deficit-mode=limit` with no other target: as many as there can be.
            self.done_with_note(step)
        } else if self.must_move_pins() {
            let text = format!("Cancelling task ({}) failed (data migrated but still pins to move)", self.reason());
            self.fail(ReturnCode::DEFAULT_ERROR_CODE, &text, step)
        } else {
            // The copy made it after all: done, and the source mode is applied.
            self.done(step)
        }
    }

    /// The rows shared by Copying, Pinging, NoResponse and WaitingForCopyFinishedMessage.
    fn finished_while_copying(
        &mut self,
        rc: ReturnCode,
        error: Option<String>,
        permanent: bool,
        step: &mut Step<'_, '_>,
    ) {
        if self.state == TaskState::WaitingForCopyFinishedMessage && self.cancel_reason.is_some() {
            // The cancel this state ignored (as dCache does) takes effect with the final word;
            // it is remembered as given, so no later one would.
            return self.finished_while_cancelling(rc, step);
        }
        let meta_only = self.params.meta_only;
        if rc != ReturnCode::OK {
            self.transfer_failed(rc, error, permanent, step)
        } else if self.needs_more_replicas() && self.has_more_locations() {
            self.enter(TaskState::UpdatingExistingFile, step)
        } else if self.needs_more_replicas() && !(self.more_replicas_possible(step) || meta_only) {
            self.done_with_note(step)
        } else if self.needs_more_replicas() && !meta_only {
            self.enter(TaskState::InitiatingCopy, step)
        } else if self.needs_more_replicas() {
            self.perm(
                ReturnCode::FILE_NOT_IN_REPOSITORY,
                "File skipped because it does not have enough existing replicas",
                step,
            )
        } else if self.must_move_pins() {
            self.enter(TaskState::MovingPin, step)
        } else {
            self.done(step)
        }
    }

    fn transfer_failed(&mut self, rc: ReturnCode, error: Option<String>, permanent: bool, step: &mut Step<'_, '_>) {
        let err = error.unwrap_or_default();
        if permanent {
            let text = format!("Transfer to {} failed ({err}); will not be retried", self.t());
            self.perm(rc, &text, step)
        } else {
            let text = format!("Transfer to {} failed ({err})", self.t());
            self.fail(rc, &text, step)
        }
    }

    /// Locations: the pools in the namespace answer that are selectable online targets, plus,
    /// unless eager, offline pools that pass the name filters; in target-list order.
    fn select_locations(&self, pools: &[String], step: &Step<'_, '_>) -> VecDeque<PoolName> {
        let holds = |name: &str| pools.iter().any(|p| p == name);
        let online = step.targets.online.iter().map(|p| &*p.name);
        let offline = step.targets.offline.iter().map(String::as_str).filter(|_| !self.params.eager);
        let mut locations = VecDeque::new();
        for name in online.chain(offline) {
            if holds(name) && !locations.iter().any(|l: &PoolName| **l == *name) {
                locations.push_back(name.into());
            }
        }
        locations
    }

    fn enter(&mut self, next: TaskState, step: &mut Step<'_, '_>) {
        use TaskState as S;
        // Leaving a state with a timer stops it.
        if matches!(self.state, S::Copying | S::NoResponse | S::WaitingForCopyFinishedMessage | S::Cancelling) {
            step.actions.push(TaskAction::StopTimer);
        }
        self.state = next;
        let t = self.params.pool_timeout;
        match next {
            S::GettingLocations => step.actions.push(TaskAction::QueryLocations),
            S::UpdatingExistingFile => {
                let target = self.locations.pop_front().expect("entered only with a location left");
                self.target = Some(target.clone());
                step.actions.push(TaskAction::SendCopy { target, update_only: true });
            }
            S::InitiatingCopy => {
                if let Some((rc, text)) = self.unreachable {
                    return self.fail(rc, text, step);
                }
                match self.choose_target(step) {
                    Some(pool) => {
                        let target = pool.name.clone();
                        self.target = Some(target.clone());
                        step.actions.push(TaskAction::SendCopy { target, update_only: false });
                    }
                    None => {
                        self.target = None;
                        step.no_pools = true;
                    }
                }
            }
            S::Copying => step.actions.push(TaskAction::StartTimer(t.saturating_mul(2))),
            S::Pinging => {
                if let Some(target) = self.target.clone() {
                    step.actions.push(TaskAction::SendPing { target });
                }
            }
            S::NoResponse => step.actions.push(TaskAction::StartTimer(t.saturating_mul(2))),
            S::WaitingForCopyFinishedMessage => step.actions.push(TaskAction::StartTimer(t)),
            S::MovingPin => {
                let target = self.target.clone().expect("pins move only after a confirmed copy");
                step.actions.push(TaskAction::MovePins { target });
            }
            S::Cancelling => {
                step.actions.push(TaskAction::StartTimer(t));
                step.actions.push(TaskAction::SendCancel { target: self.target.clone(), reason: self.reason() });
            }
            S::Cancelled => step.actions.push(TaskAction::Report(TaskResult::Cancelled)),
            S::Queued | S::WaitingForCopyReplicaReply | S::Failed | S::Done => {}
        }
    }

    fn done(&mut self, step: &mut Step<'_, '_>) {
        self.enter(TaskState::Done, step);
        step.actions.push(TaskAction::Report(TaskResult::Completed { note: None, confirmed: self.confirmed }));
    }

    fn done_with_note(&mut self, step: &mut Step<'_, '_>) {
        self.enter(TaskState::Done, step);
        let note = format!(
            "File replicas truncated at {} due to pool availability ({} requested)",
            self.replicas_done.len(),
            self.params.replicas
        );
        step.actions.push(TaskAction::Report(TaskResult::Completed { note: Some(note), confirmed: self.confirmed }));
    }

    fn fail(&mut self, rc: ReturnCode, message: &str, step: &mut Step<'_, '_>) {
        self.enter(TaskState::Failed, step);
        step.actions.push(TaskAction::Report(TaskResult::Failed {
            rc,
            message: message.to_string(),
            permanent: false,
        }));
    }

    fn perm(&mut self, rc: ReturnCode, message: &str, step: &mut Step<'_, '_>) {
        self.enter(TaskState::Failed, step);
        step.actions.push(TaskAction::Report(TaskResult::Failed { rc, message: message.to_string(), permanent: true }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::ReplicaState;

    fn params(replicas: usize, wait: bool, eager: bool, meta_only: bool) -> Arc<TaskParams> {
        Arc::new(TaskParams {
            eager,
            meta_only,
            verify: false,
            force_source_mode: false,
            replicas,
            wait_for_targets: wait,
            select: SelectionStrategy::Proportional,
            pool_timeout: 60_000,
        })
    }

    fn task(p: Arc<TaskParams>, pins: Vec<StickyRecord>) -> Task {
        let pnfsid = PnfsId::parse("A").expect("valid");
        let entry = crate::replica::ReplicaEntry::new(pnfsid, ReplicaState::Precious, 10, 0);
        Task::new(
            7,
            RequestId(1),
            entry.attributes(),
            Durability { state: ReplicaState::Precious, sticky: vec![] },
            pins,
            None,
            p,
        )
    }

    struct Fixture {
        online: Vec<PoolCostInfo>,
        offline: Vec<String>,
        rng: Rng,
    }

    impl Fixture {
        fn new(online: &[&str], offline: &[&str]) -> Fixture {
            Fixture {
                online: online.iter().map(|n| PoolCostInfo::simple(*n, 1 << 40, 1 << 39, 0)).collect(),
                offline: offline.iter().map(|s| s.to_string()).collect(),
                rng: Rng::seeded(3),
            }
        }

        fn feed(&mut self, task: &mut Task, event: TaskEvent) -> Vec<TaskAction> {
            let mut actions = Vec::new();
            let targets = Targets { online: &self.online, offline: &self.offline };
            task.handle(event, targets, &mut self.rng, &mut actions);
            actions
        }
    }

    fn finished_ok() -> TaskEvent {
        TaskEvent::Finished { rc: ReturnCode::OK, error: None }
    }

    #[test]
    fn new_copy_goes_through_locations_copy_and_finished_to_done() {
        let mut f = Fixture::new(&["pool2"], &[]);
        let mut t = task(params(1, true, false, false), vec![]);
        assert_eq!(f.feed(&mut t, TaskEvent::Start), vec![TaskAction::QueryLocations]);
        let a = f.feed(&mut t, TaskEvent::Locations(Ok(vec!["pool1".into()])));
        assert_eq!(a, vec![TaskAction::SendCopy { target: "pool2".into(), update_only: false }]);
        assert_eq!(t.state(), TaskState::InitiatingCopy);
        assert_eq!(f.feed(&mut t, TaskEvent::CopyReply(Ok(()))), vec![TaskAction::StartTimer(120_000)]);
        let a = f.feed(&mut t, finished_ok());
        assert_eq!(
            a,
            vec![TaskAction::StopTimer, TaskAction::Report(TaskResult::Completed { note: None, confirmed: 1 })]
        );
        assert_eq!(t.state(), TaskState::Done);
    }

    /// `-replicas=2` on two targets, the first busy when asked: after the other's copy the
    /// task is out of targets only because of the busy one, which is a wait, not the limit
    /// of `-target-deficit-mode=limit` (which would end the task with one copy and let a
    /// move delete its source) nor a deficit counted as a failure in wait mode.
    #[test]
    fn a_target_busy_once_is_waited_for_not_counted_as_missing() {
        for wait in [false, true] {
            let mut f = Fixture::new(&["pool2", "pool3"], &[]);
            let mut t = task(params(2, wait, false, false), vec![]);
            f.feed(&mut t, TaskEvent::Start);
            f.feed(&mut t, TaskEvent::Locations(Ok(vec![])));
            let first = t.target().expect("a target").to_string();
            let busy = Failure::Error { code: ReturnCode::TARGET_BUSY, cause: "busy".into() };
            f.feed(&mut t, TaskEvent::CopyReply(Err(busy)));
            let second = t.target().expect("the other target").to_string();
            assert_ne!(first, second);
            f.feed(&mut t, TaskEvent::CopyReply(Ok(())));
            let a = f.feed(&mut t, finished_ok());
            match a.last() {
                Some(TaskAction::Report(TaskResult::Failed { rc, permanent: false, .. })) => {
                    assert_eq!(*rc, ReturnCode::TARGET_BUSY, "wait={wait}: {a:?}")
                }
                other => panic!("wait={wait}: the task waits for the busy target, not {other:?}"),
            }
        }
    }

    /// A host that sets the pool timeout to "never" (`i64::MAX` ms) gets timers that never
    /// fire, not ones that wrap round and fire at once (or a panic in a debug build).
    #[test]
    fn a_pool_timeout_of_never_does_not_overflow() {
        let mut f = Fixture::new(&["pool2"], &[]);
        let never = Arc::new(TaskParams { pool_timeout: i64::MAX, ..(*params(1, true, false, false)).clone() });
        let mut t = task(never, vec![]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec![])));
        assert_eq!(f.feed(&mut t, TaskEvent::CopyReply(Ok(()))), vec![TaskAction::StartTimer(i64::MAX)]);
    }

    /// The pool holding a copy answers the update busy (at its `max-incoming`): the file
    /// waits rather than being copied to another pool, which would make one copy too many.
    #[test]
    fn a_busy_answer_to_an_update_is_waited_for_not_copied_around() {
        let mut f = Fixture::new(&["pool2", "pool3"], &[]);
        let mut t = task(params(1, true, false, false), vec![]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec!["pool1".into(), "pool3".into()])));
        assert_eq!(t.state(), TaskState::UpdatingExistingFile);
        let busy = Failure::Error { code: ReturnCode::TARGET_BUSY, cause: "Target is busy".into() };
        let a = f.feed(&mut t, TaskEvent::CopyReply(Err(busy)));
        assert!(!a.iter().any(|a| matches!(a, TaskAction::SendCopy { .. })), "no copy elsewhere: {a:?}");
        match a.last() {
            Some(TaskAction::Report(TaskResult::Failed { rc, permanent: false, .. })) => {
                assert_eq!(*rc, ReturnCode::TARGET_BUSY)
            }
            other => panic!("the task waits for the busy pool, not {other:?}"),
        }
    }

    #[test]
    fn existing_copy_is_updated_not_copied_again() {
        let mut f = Fixture::new(&["pool2", "pool3"], &[]);
        let mut t = task(params(1, true, false, false), vec![]);
        f.feed(&mut t, TaskEvent::Start);
        let a = f.feed(&mut t, TaskEvent::Locations(Ok(vec!["pool1".into(), "pool3".into()])));
        assert_eq!(a, vec![TaskAction::SendCopy { target: "pool3".into(), update_only: true }]);
        assert_eq!(t.state(), TaskState::UpdatingExistingFile);
    }

    #[test]
    fn unreachable_offline_holder_fails_transiently_unless_eager() {
        let mut f = Fixture::new(&["pool2"], &["pool3"]);
        let mut t = task(params(1, true, false, false), vec![]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec!["pool3".into()])));
        assert_eq!(t.target(), Some("pool3"));
        let a = f.feed(&mut t, TaskEvent::CopyReply(Err(Failure::NoRoute)));
        assert_eq!(
            a.last(),
            Some(&TaskAction::Report(TaskResult::Failed {
                rc: ReturnCode::SERVICE_UNAVAILABLE,
                message: "Remote pool failed (no route to cell)".into(),
                permanent: false
            }))
        );

        let mut eager = task(params(1, true, true, false), vec![]);
        f.feed(&mut eager, TaskEvent::Start);
        let a = f.feed(&mut eager, TaskEvent::Locations(Ok(vec!["pool3".into()])));
        assert_eq!(
            a,
            vec![TaskAction::SendCopy { target: "pool2".into(), update_only: false }],
            "eager ignores offline holders"
        );
    }

    #[test]
    fn no_selectable_pool_fails_in_wait_mode_and_completes_with_note_in_limit_mode() {
        let mut f = Fixture::new(&[], &[]);
        let mut wait = task(params(1, true, false, false), vec![]);
        f.feed(&mut wait, TaskEvent::Start);
        let a = f.feed(&mut wait, TaskEvent::Locations(Ok(vec![])));
        assert_eq!(
            a,
            vec![TaskAction::Report(TaskResult::Failed {
                rc: ReturnCode::NO_POOL_ONLINE,
                message: "No targets available".into(),
                permanent: false
            })]
        );
        let mut limit = task(params(2, false, false, false), vec![]);
        f.feed(&mut limit, TaskEvent::Start);
        let a = f.feed(&mut limit, TaskEvent::Locations(Ok(vec![])));
        let note = "File replicas truncated at 0 due to pool availability (2 requested)".to_string();
        assert_eq!(a, vec![TaskAction::Report(TaskResult::Completed { note: Some(note), confirmed: 0 })]);
    }

    #[test]
    fn second_replica_goes_to_another_pool() {
        let mut f = Fixture::new(&["pool2", "pool3"], &[]);
        let mut t = task(params(2, true, false, false), vec![]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec![])));
        let first = t.target().expect("chosen").to_string();
        f.feed(&mut t, TaskEvent::CopyReply(Ok(())));
        let a = f.feed(&mut t, finished_ok());
        let TaskAction::SendCopy { target, .. } = &a[1] else { panic!("expected a second copy: {a:?}") };
        assert_ne!(&**target, first, "R6: a pool that already has the replica is not chosen again");
    }

    #[test]
    fn pins_move_only_after_the_copy_is_confirmed() {
        let mut f = Fixture::new(&["pool2"], &[]);
        let mut t = task(params(1, true, false, false), vec![StickyRecord::new("PinManager-1", -1)]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec![])));
        f.feed(&mut t, TaskEvent::CopyReply(Ok(())));
        let a = f.feed(&mut t, finished_ok());
        assert_eq!(a.last(), Some(&TaskAction::MovePins { target: "pool2".into() }));
        let a = f.feed(&mut t, TaskEvent::PinsMoved(Err(Failure::Timeout)));
        assert!(matches!(a.last(), Some(TaskAction::Report(TaskResult::Failed { permanent: false, .. }))));
    }

    #[test]
    fn copying_pings_after_two_t_and_a_lost_target_fails_after_no_response() {
        let mut f = Fixture::new(&["pool2"], &[]);
        let mut t = task(params(1, true, false, false), vec![]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec![])));
        f.feed(&mut t, TaskEvent::CopyReply(Ok(())));
        let a = f.feed(&mut t, TaskEvent::Timer);
        assert_eq!(a, vec![TaskAction::StopTimer, TaskAction::SendPing { target: "pool2".into() }]);
        let a = f.feed(&mut t, TaskEvent::PingReply(Err(Failure::Timeout)));
        assert_eq!(a, vec![TaskAction::StartTimer(120_000)]);
        assert_eq!(t.state(), TaskState::NoResponse);
        assert_eq!(f.feed(&mut t, TaskEvent::Timer), vec![TaskAction::SendPing { target: "pool2".into() }]);
        let a = f.feed(&mut t, TaskEvent::PingReply(Err(Failure::Timeout)));
        assert_eq!(
            a.last(),
            Some(&TaskAction::Report(TaskResult::Failed {
                rc: ReturnCode::TIMEOUT,
                message: "Pool [pool2@local] failed (no response)".into(),
                permanent: false
            }))
        );
    }

    #[test]
    fn corrupted_copy_is_permanent_while_copying_but_not_while_pinging() {
        let corrupted = || TaskEvent::Finished { rc: ReturnCode::FILE_CORRUPTED, error: Some("bad".into()) };
        let mut f = Fixture::new(&["pool2"], &[]);
        let mut t = task(params(1, true, false, false), vec![]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec![])));
        f.feed(&mut t, TaskEvent::CopyReply(Ok(())));
        let a = f.feed(&mut t, corrupted());
        assert!(matches!(a.last(), Some(TaskAction::Report(TaskResult::Failed { permanent: true, .. }))));

        let mut p = task(params(1, true, false, false), vec![]);
        f.feed(&mut p, TaskEvent::Start);
        f.feed(&mut p, TaskEvent::Locations(Ok(vec![])));
        f.feed(&mut p, TaskEvent::CopyReply(Ok(())));
        f.feed(&mut p, TaskEvent::Timer);
        let a = f.feed(&mut p, corrupted());
        assert!(matches!(a.last(), Some(TaskAction::Report(TaskResult::Failed { permanent: false, .. }))));
    }

    #[test]
    fn cancel_while_copying_asks_the_target_and_a_second_cancel_is_ignored() {
        let mut f = Fixture::new(&["pool2"], &[]);
        let mut t = task(params(1, true, false, false), vec![]);
        f.feed(&mut t, TaskEvent::Start);
        f.feed(&mut t, TaskEvent::Locations(Ok(vec![])));
        f.feed(&mut t, TaskEvent::CopyReply(Ok(())));
        let a = f.feed(&mut t, TaskEvent::Cancel("replica deleted".into()));
        assert_eq!(
            a,
            vec![
                TaskAction::StopTimer,
                TaskAction::StartTimer(60_000),
                TaskAction::SendCancel { target: Some("pool2".into()), reason: "replica deleted".into() }
            ]
        );
        assert!(f.feed(&mut t, TaskEvent::Cancel("again".into())).is_empty());
        let a = f.feed(&mut t, TaskEvent::Finished { rc: ReturnCode::DEFAULT_ERROR_CODE, error: None });
        assert_eq!(a.last(), Some(&TaskAction::Report(TaskResult::Cancelled)));
    }

    #[test]
    fn late_and_unexpected_events_are_ignored() {
        let mut f = Fixture::new(&["pool2"], &[]);
        let mut t = task(params(1, true, false, false), vec![]);
        assert!(f.feed(&mut t, TaskEvent::PingReply(Ok(()))).is_empty());
        assert!(f.feed(&mut t, finished_ok()).is_empty());
        assert_eq!(t.state(), TaskState::Queued);
    }
}
