//! The job's files (§3.6): queueing and dropping them, and following the repository's
//! changes (§4).

use super::{Job, JobState, Scan, Stage, State};
use crate::context::Ctx;
use crate::effect::Effect;
use crate::input::RepositoryEvent;
use crate::pnfsid::PnfsId;
use crate::replica::ReplicaState;
use crate::task::TaskEvent;
use crate::timers::TimerKey;

impl Job {
    /// Enqueues a file unless it is queued, running or quarantined (a quarantined file waits
    /// for `migration retry`, also when a change of its replica makes a permanent job add it
    /// again).
    pub(super) fn add(&mut self, pnfsid: PnfsId, size: u64, ctx: &mut Ctx<'_>) {
        if self.running.contains_key(&pnfsid) || self.quarantine.holds(&pnfsid) || !self.queue.push_back(pnfsid, size) {
            return;
        }
        self.release_queue_memory(ctx);
        self.stats.total = self.stats.total.saturating_add(size);
        // The queue was empty: tasks may still run (a job sleeps after a busy target while
        // others copy), but no queued file waits out a pause.
        let ran_dry = self.queue.len() == 1;
        if self.state() == JobState::Sleeping && ran_dry && self.failures_since_progress == 0 && self.lists_ready() {
            // An idle permanent job whose queue ran dry sleeps for nothing: dCache lets the new
            // file wait for the next 10 s wake-up. A job sleeping with files queued keeps its
            // pause: every target was busy, every file locked, or every file failed, and waking
            // it for each new file would try them all again each time.
            ctx.timers.cancel(TimerKey::Wake(self.key));
            self.enter(State::Running, ctx);
            return;
        }
        self.schedule(ctx);
    }

    /// Hands the memory the queue let go of to the driver, which frees it after the module's
    /// lock is released ([`Effect::Release`]); called after every change to the queue that
    /// can compact or empty it.
    pub(super) fn release_queue_memory(&mut self, ctx: &mut Ctx<'_>) {
        for memory in self.queue.take_released() {
            ctx.effects.push(Effect::Release(memory));
        }
    }

    /// Drops a file: cancels its running task, or takes it out of the queue.
    pub(super) fn remove(&mut self, pnfsid: PnfsId, reason: &str, ctx: &mut Ctx<'_>) {
        self.quarantine.forget(&pnfsid);
        if self.running.contains_key(&pnfsid) {
            self.cancel_task(pnfsid, reason, ctx);
        } else {
            self.queue.remove(&pnfsid);
            self.release_queue_memory(ctx);
        }
    }

    pub(super) fn cancel_task(&mut self, pnfsid: PnfsId, reason: &str, ctx: &mut Ctx<'_>) {
        let Some(running) = self.running.get_mut(&pnfsid) else { return };
        match &mut running.stage {
            Stage::Reading { cancelled } => *cancelled = true,
            Stage::Task { .. } => self.task_event(pnfsid, None, TaskEvent::Cancel(reason.to_string()), ctx),
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
        if matches!(self.scan_state(), Some(Scan::InFlight { .. })) {
            let (pnfsid, matches) = match event {
                RepositoryEvent::StateChanged { new, entry, .. } => {
                    (entry.pnfsid, *new != ReplicaState::Removed && self.filter.matches(entry, ctx.now))
                }
                RepositoryEvent::StickyChanged { new, .. } | RepositoryEvent::AccessTimeChanged { new, .. } => {
                    (new.pnfsid, self.filter.matches(new, ctx.now))
                }
            };
            self.changed_while_scanning.insert(pnfsid, matches);
        }
        match event {
            RepositoryEvent::StateChanged { new, entry, .. } => {
                if *new == ReplicaState::Removed {
                    self.remove(entry.pnfsid, "replica deleted", ctx);
                } else if !self.filter.matches(entry, ctx.now) {
                    self.drop_unless_running(entry.pnfsid, ctx);
                } else if self.is_permanent() {
                    self.add(entry.pnfsid, entry.size, ctx);
                }
            }
            RepositoryEvent::StickyChanged { old, new } | RepositoryEvent::AccessTimeChanged { old, new } => {
                if !self.filter.matches(new, ctx.now) {
                    self.drop_unless_running(new.pnfsid, ctx);
                } else if self.is_permanent() && !self.filter.matches(old, ctx.now) {
                    self.add(new.pnfsid, new.size, ctx);
                }
            }
        }
    }

    /// A replica that stopped matching the filter leaves the queue, and the quarantine too:
    /// `migration retry` would otherwise migrate a file the job no longer selects. dCache does
    /// not cancel a running transfer when the replica merely stops matching; only deletion
    /// does.
    pub(super) fn drop_unless_running(&mut self, pnfsid: PnfsId, ctx: &mut Ctx<'_>) {
        if !self.running.contains_key(&pnfsid) {
            self.quarantine.forget(&pnfsid);
            self.queue.remove(&pnfsid);
            self.release_queue_memory(ctx);
        }
    }

    /// Puts a file that left the running set at the end of the queue, for another attempt.
    pub(super) fn queue_again(&mut self, pnfsid: PnfsId, size: u64, ctx: &mut Ctx<'_>) {
        self.queue.push_back(pnfsid, size);
        self.release_queue_memory(ctx);
    }

    /// Takes the file out of the running set and releases its lock; returns its size.
    pub(super) fn release(&mut self, pnfsid: PnfsId, ctx: &mut Ctx<'_>) -> u64 {
        if self.plan.is_none() {
            ctx.locks.remove(&pnfsid);
        }
        let Some(running) = self.running.remove(&pnfsid) else { return 0 };
        // No target took a request for a new replica of it (they updated the replicas they
        // held, or the task ended first): the limit is for bytes moved, so its charge goes back.
        if running.copies_asked == 0
            && running.charged > 0
            && let Some(bucket) = self.bandwidth.as_mut()
        {
            bucket.refund(running.charged, ctx.now);
        }
        running.size
    }

    /// The task sent `sent` requests for new replicas, and one was `refused`. Each request
    /// not refused may move the file's bytes (a target that meanwhile found a replica of its
    /// own only updates it: charged all the same, the safe side), so the file is charged its
    /// size once for each, and at least once while it runs (taken when its task started).
    pub(super) fn copies_asked(&mut self, pnfsid: PnfsId, sent: u32, refused: bool, ctx: &Ctx<'_>) {
        let Some(running) = self.running.get_mut(&pnfsid) else { return };
        running.copies_asked = (running.copies_asked + sent).saturating_sub(u32::from(refused));
        let Some(bucket) = self.bandwidth.as_mut() else { return };
        let owed = running.size.saturating_mul(u64::from(running.copies_asked.max(1)));
        match owed.cmp(&running.charged) {
            std::cmp::Ordering::Greater => bucket.charge(owed - running.charged, ctx.now),
            std::cmp::Ordering::Less => bucket.refund(running.charged - owed, ctx.now),
            std::cmp::Ordering::Equal => {}
        }
        running.charged = owed;
    }
}
