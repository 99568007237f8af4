//! The module's timers. The module never reads a clock: callers pass `now`, ask for the next
//! deadline and feed it back when it passes (as quinn-proto does), so simulated time works.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::Millis;
use crate::effect::{JobKey, Token};
use crate::pnfsid::PnfsId;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// No answer to a request in time: it times out.
    Reply(Token),
    /// A task's own timer (ping period, dead timeout, …).
    Task {
        /// The job.
        job: JobKey,
        /// The file.
        pnfsid: PnfsId,
        /// The task.
        task: u64,
    },
    /// A sleeping or paused job looks again (10 s).
    Wake(JobKey),
    /// A job refreshes its pool lists.
    Refresh(JobKey),
    /// A job whose scan found the repository still loading scans again (10 s).
    ScanRetry(JobKey),
    /// A job held back by its bandwidth limit may start its next task.
    Throttle(JobKey),
    /// The 10 minutes a plain `migration cancel` gives running tasks are over.
    CancelGrace(JobKey),
}

/// A set of timers, each key armed at most once.
///
/// The queue is ordered by deadline and then by arming order, so that comparing two entries
/// is comparing two numbers, not two keys: every request a task sends arms a timer and
/// disarms it when answered.
#[derive(Debug, Default)]
pub struct Timers {
    queue: BTreeMap<(Millis, u64), TimerKey>,
    armed: FxHashMap<TimerKey, (Millis, u64)>,
    next_arming: u64,
}

impl Timers {
    /// Arms `key` at `at`, replacing an earlier arming.
    pub fn set(&mut self, key: TimerKey, at: Millis) {
        let slot = (at, self.next_arming);
        self.next_arming += 1;
        if let Some(old) = self.armed.insert(key, slot) {
            self.queue.remove(&old);
        }
        self.queue.insert(slot, key);
    }

    /// Disarms `key`.
    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(slot) = self.armed.remove(&key) {
            self.queue.remove(&slot);
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.queue.first_key_value().map(|((at, _), _)| *at)
    }

    /// Removes and returns a timer due at `now`, earliest first (in arming order among
    /// timers due at the same time).
    pub fn pop_due(&mut self, now: Millis) -> Option<TimerKey> {
        let (&(at, _), _) = self.queue.first_key_value()?;
        if at > now {
            return None;
        }
        let (_, key) = self.queue.pop_first()?;
        self.armed.remove(&key);
        Some(key)
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.armed.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_deadline_order_and_can_be_rearmed_or_cancelled() {
        let mut t = Timers::default();
        t.set(TimerKey::Wake(JobKey(1)), 30);
        t.set(TimerKey::Wake(JobKey(2)), 10);
        t.set(TimerKey::Wake(JobKey(3)), 20);
        t.set(TimerKey::Wake(JobKey(1)), 5);
        t.cancel(TimerKey::Wake(JobKey(3)));
        assert_eq!(t.next_deadline(), Some(5));
        assert_eq!(t.pop_due(100), Some(TimerKey::Wake(JobKey(1))));
        assert_eq!(t.pop_due(9), None);
        assert_eq!(t.pop_due(10), Some(TimerKey::Wake(JobKey(2))));
        assert!(t.is_empty());
    }
}
