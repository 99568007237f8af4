//! The module's timers. The module never reads a clock: callers pass `now`, ask for the next
//! deadline and feed it back when it passes (as quinn-proto does), so simulated time works.

use std::collections::{BTreeSet, HashMap};

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
#[derive(Debug, Default)]
pub struct Timers {
    queue: BTreeSet<(Millis, TimerKey)>,
    armed: HashMap<TimerKey, Millis>,
}

impl Timers {
    /// Arms `key` at `at`, replacing an earlier arming.
    pub fn set(&mut self, key: TimerKey, at: Millis) {
        if let Some(old) = self.armed.insert(key, at) {
            self.queue.remove(&(old, key));
        }
        self.queue.insert((at, key));
    }

    /// Disarms `key`.
    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(at) = self.armed.remove(&key) {
            self.queue.remove(&(at, key));
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns a timer due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Millis) -> Option<TimerKey> {
        let &(at, key) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.pop_first();
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
