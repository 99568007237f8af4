//! The operator's commands on a job: suspend, resume, concurrency, bandwidth, attempts,
//! retry and cancel (§2.6, §2.8, §3.5).

use super::{CANCEL_GRACE, Job, JobState, Scan, State, answer_cancel_replies};
use crate::Millis;
use crate::bandwidth::TokenBucket;
use crate::context::Ctx;
use crate::effect::Inbound;
use crate::pnfsid::PnfsId;
use crate::timers::TimerKey;

impl Job {
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

    /// Failed attempts after which a file is quarantined (0: never).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
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
            // Evaluated with the quarantined files counted as queued (a quarantined file is
            // never queued too), since `queue.files` may be what the condition asks about.
            JobState::Finished if self.evaluate_lifetime(true, self.quarantine.len()) => {
                // Revived, it would stop at once and drop the files it took back.
                return Err("Cannot retry: the job's -stop-when condition would hold with its files queued again");
            }
            _ => {}
        }
        let files = self.quarantine.release_all();
        let n = files.len();
        for (pnfsid, size) in files {
            if !self.running.contains_key(&pnfsid) {
                self.queue.push_back(pnfsid, size);
            }
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
        let was_cancelling = matches!(self.state, State::Cancelling { .. });
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
        } else if !was_cancelling {
            // Armed once: a plain cancel repeated (an operator retyping it, a service resending
            // its message) within the grace would otherwise put off its end for ever.
            ctx.timers.cancel(TimerKey::Wake(self.key));
            ctx.timers.set(TimerKey::CancelGrace(self.key), ctx.now + CANCEL_GRACE);
        }
    }

    pub(super) fn cancel_running(&mut self, reason: &str, ctx: &mut Ctx<'_>) {
        // In file order, not hash order: a seeded run must replay exactly.
        let mut ids: Vec<PnfsId> = self.running.keys().copied().collect();
        ids.sort_unstable();
        for pnfsid in ids {
            self.cancel_task(pnfsid, reason, ctx);
        }
    }
}
