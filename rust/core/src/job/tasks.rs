//! Running files: a task made from the file's entry, fed its events, its actions turned into
//! effects, and what the job does with its outcome (§3.6's outcome table).

use std::sync::Arc;

use super::{Job, JobState, Running, Stage, State, WAKE_DELAY, request_id};
use crate::Millis;
use crate::context::{Ctx, Route, TaskReply};
use crate::effect::{Effect, JobKey};
use crate::error::{Failure, Outcome, ReturnCode};
use crate::host::PinMove;
use crate::input::EntryResult;
use crate::message::{CopyRequest, Message, Reply, RequestId};
use crate::mode::ModeState;
use crate::pnfsid::PnfsId;
use crate::replica::{Durability, ReplicaEntry, ReplicaState};
use crate::task::{Targets, Task, TaskAction, TaskEvent, TaskResult, TaskState};
use crate::timers::TimerKey;

/// The most a job whose file was locked on its target sleeps beyond [`WAKE_DELAY`].
const LOCKED_JITTER: Millis = 2_000;

impl Job {
    /// The entry read to create a task (scheduler rule 5, sub-steps 5–6).
    pub fn entry_for_task(&mut self, pnfsid: PnfsId, result: EntryResult, ctx: &mut Ctx<'_>) {
        let Some(running) = self.running.get(&pnfsid) else { return };
        // A job that ended while the entry was read (another file's read failed it) starts
        // no more tasks: a FAILED move that went on moving and deleting files would not be
        // what its state says. dCache's walk stops at the failure.
        let cancelled = matches!(running.stage, Stage::Reading { cancelled: true }) || self.state().is_terminal();
        if !matches!(running.stage, Stage::Reading { .. }) {
            return;
        }
        match result {
            Ok(Some(entry)) if !cancelled && self.plan.is_some() => self.plan_file(&entry, ctx),
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

    // Boxed as the input carries it: the task takes the attributes out of the box, which
    // unboxing first would copy whole (measured: ~120 instructions per file).
    #[allow(clippy::boxed_local)]
    pub(super) fn create_task(&mut self, mut entry: Box<ReplicaEntry>, ctx: &mut Ctx<'_>) {
        let definition = Arc::clone(&self.definition);
        let pin_manager = ctx.config.pin_manager.as_str();
        let pnfsid = entry.pnfsid;
        let source_state = entry.state;
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
        let source = Durability { state: source_state, sticky: std::mem::take(&mut entry.sticky) };
        let task_id = ctx.next_task_id();
        let uuid = request_id(ctx.rng, ctx.now, ctx.pool);
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
            running.stage = Stage::Task { task: Box::new(task), source };
        }
        if !source_state.is_cached_or_precious() {
            // The replica changed state since it was queued (e.g. became BROKEN): dCache
            // would send a request every target refuses, forever, and with an explicit
            // `-tmode` would then apply the source mode to it. Drop it with a note.
            let text = format!("Cannot migrate a replica in state {source_state}");
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
        let Some(Running { stage: Stage::Task { task: t, .. }, .. }) = self.running.get_mut(&pnfsid) else { return };
        if task.is_some_and(|id| id != t.id) {
            return;
        }
        let task_id = t.id;
        // A request for a new replica that its target refused (an error, or no route to it)
        // moved nothing; one that timed out may have.
        let refused = t.state() == TaskState::InitiatingCopy
            && matches!(event, TaskEvent::CopyReply(Err(Failure::Error { .. } | Failure::NoRoute)));
        let mut actions = std::mem::take(&mut self.spare_actions);
        let targets = Targets { online: &self.selectable, offline: &self.offline };
        t.handle(event, targets, ctx.rng, &mut actions);
        let t: &Task = t;
        let mut ended = None;
        let mut asked = 0;
        for action in actions.drain(..) {
            match action {
                TaskAction::Report(result) => ended = Some(result),
                action => {
                    asked += u32::from(matches!(action, TaskAction::SendCopy { update_only: false, .. }));
                    perform(self.key, t, action, ctx);
                }
            }
        }
        // Given back before the task's end is handled, which may feed the next task.
        self.spare_actions = actions;
        if asked > 0 || refused {
            self.copies_asked(pnfsid, asked, refused, ctx);
        }
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
        let matches = matches!(self.running.get(&pnfsid), Some(Running { stage: Stage::Task { task: t, .. }, .. })
            if t.uuid == uuid && t.target() == Some(from));
        if matches {
            self.task_event(pnfsid, None, TaskEvent::Finished { rc, error }, ctx);
        }
    }

    /// A task ended (§3.6 outcome table).
    pub(super) fn task_ended(&mut self, pnfsid: PnfsId, task: u64, result: TaskResult, ctx: &mut Ctx<'_>) {
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
                } else if let Some(running) = self.running.get_mut(&pnfsid)
                    && let Stage::Task { task: t, source } = &mut running.stage
                {
                    let copied = (self.definition.target_mode.state == ModeState::Same && mode.may_lower_source())
                        .then(|| Durability { state: t.copies.state, sticky: std::mem::take(&mut t.copies.sticky) });
                    let source = Durability { state: source.state, sticky: std::mem::take(&mut source.sticky) };
                    running.stage = Stage::ApplyingSourceMode { task, note, copied, reads: 0 };
                    self.apply_source_mode(pnfsid, source, ctx);
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
                // No target (R8): either targets with room all hold a copy already (the file's
                // own dead end), or every target is full or offline, which is not the file's
                // fault, as a busy target is not: it waits for room without counting towards
                // quarantine.
                let no_target = rc == ReturnCode::NO_POOL_ONLINE;
                let room_on_targets = no_target && self.selection_shares().iter().any(|(_, share)| *share > 0.0);
                let targets_unusable = no_target && !room_on_targets;
                if permanent {
                    // It leaves the job: a later event that adds it again starts its count over.
                    self.quarantine.forget(&pnfsid);
                } else if !self.state().is_terminal() {
                    if !targets_unusable && self.quarantine.failed(pnfsid, size, rc, &message, self.max_attempts) {
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
                if room_on_targets {
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
                    if rc == ReturnCode::LOCKED {
                        // Two pools moving the same file to each other refuse each other's copy
                        // while their own task holds the file, so both fail at the same moment;
                        // waking both exactly 10 s later would repeat that for ever (found by
                        // the simulator). A random extra of up to 2 s sets their tries apart.
                        let jitter = ctx.rng.below(LOCKED_JITTER as usize) as Millis;
                        ctx.timers.set(TimerKey::Wake(self.key), ctx.now + WAKE_DELAY + jitter);
                    }
                }
                self.schedule(ctx);
                self.note(ctx, task, Some(pnfsid), message);
            }
            TaskResult::Cancelled => {
                self.quarantine.forget(&pnfsid);
                self.release(pnfsid, ctx);
                self.schedule(ctx);
            }
        }
    }

    pub(super) fn complete(&mut self, pnfsid: PnfsId, task: u64, note: Option<String>, ctx: &mut Ctx<'_>) {
        self.failures_since_progress = 0;
        self.quarantine.forget(&pnfsid);
        let size = self.release(pnfsid, ctx);
        self.stats.completed_files += 1;
        self.stats.transferred = self.stats.transferred.saturating_add(size);
        self.progress.completed(ctx.now, self.stats.completed_files, self.stats.transferred);
        self.schedule(ctx);
        if let Some(note) = note {
            self.note(ctx, task, Some(pnfsid), note);
        }
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
            ctx.timers.set(TimerKey::Task { job, pnfsid, task: task.id }, ctx.now.saturating_add(after));
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
