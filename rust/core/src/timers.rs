//! The module's timers. The module never reads a clock: callers pass `now`, ask for the next
//! deadline and feed it back when it passes (as quinn-proto does), so simulated time works.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::Millis;
use crate::effect::JobKey;
use crate::pnfsid::PnfsId;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
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
/// A task arms its timer and disarms it at every step, so arming and disarming are what must
/// be cheap; a timer rarely fires. (Requests wait for their answers in `requests.rs`, which
/// needs no keys since a request's deadline never moves.) The deadlines are a binary heap of
/// small entries, from which disarming removes nothing: an entry whose arming is no longer in
/// `keys` is dead and is skipped when it comes to the top. Pushing a deadline later than all
/// the others (the usual case: a task's timer waits one of a few fixed times) is one
/// comparison, where a B-tree of deadlines allocated, split and merged nodes on both sides.
#[derive(Debug, Default)]
pub struct Timers {
    /// (deadline, arming), earliest first and in arming order among equal deadlines, with
    /// the disarmed entries left in. Kept so that the top, if any, is live, and at most about
    /// twice as long as `keys`.
    queue: BinaryHeap<Reverse<(Millis, u64)>>,
    /// The key of each live arming.
    keys: FxHashMap<u64, TimerKey>,
    /// The live arming of each armed key.
    armed: FxHashMap<TimerKey, u64>,
    next_arming: u64,
}

/// Entries a deadline queue may hold beyond twice its live ones before it drops the dead ones.
pub(crate) const SLACK: usize = 64;

impl Timers {
    /// Arms `key` at `at`, replacing an earlier arming.
    pub fn set(&mut self, key: TimerKey, at: Millis) {
        let arming = self.next_arming;
        self.next_arming += 1;
        self.keys.insert(arming, key);
        self.queue.push(Reverse((at, arming)));
        if let Some(replaced) = self.armed.insert(key, arming) {
            self.keys.remove(&replaced);
            self.forget_disarmed();
        }
    }

    /// Disarms `key`.
    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(arming) = self.armed.remove(&key) {
            self.keys.remove(&arming);
            self.forget_disarmed();
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.queue.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns a timer due at `now`, earliest first (in arming order among
    /// timers due at the same time).
    pub fn pop_due(&mut self, now: Millis) -> Option<TimerKey> {
        let &Reverse((at, arming)) = self.queue.peek()?;
        if at > now {
            return None;
        }
        self.queue.pop();
        let key = self.keys.remove(&arming).expect("the queue's top is live");
        self.armed.remove(&key);
        self.forget_disarmed();
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

    /// Restores the queue's promises after a timer was disarmed, re-armed or fired.
    fn forget_disarmed(&mut self) {
        let keys = &self.keys;
        drop_dead(&mut self.queue, keys.len(), |arming| keys.contains_key(arming));
    }
}

/// Restores the promises of a deadline queue from which entries are not removed but left to
/// die (the timers' armings, the requests' tokens): its top, if any, is live, and the dead
/// entries are dropped once they outnumber the `live` ones (each entry is dropped at most
/// once, so this costs a constant per entry).
pub(crate) fn drop_dead<K: Ord>(
    queue: &mut BinaryHeap<Reverse<(Millis, K)>>,
    live: usize,
    is_live: impl Fn(&K) -> bool,
) {
    if queue.len() > 2 * live + SLACK {
        queue.retain(|Reverse((_, key))| is_live(key));
    }
    while queue.peek().is_some_and(|Reverse((_, key))| !is_live(key)) {
        queue.pop();
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

    #[test]
    fn disarmed_timers_do_not_pile_up() {
        let mut t = Timers::default();
        t.set(TimerKey::Wake(JobKey(0)), 1_000_000);
        for i in 0..100_000u64 {
            t.set(TimerKey::Throttle(JobKey(i + 2)), i as Millis + 1_000);
            t.cancel(TimerKey::Throttle(JobKey(i + 2)));
            t.set(TimerKey::Refresh(JobKey(1)), i as Millis + 2_000);
        }
        assert_eq!(t.len(), 2);
        assert!(t.queue.len() <= 2 * t.len() + SLACK, "{} entries for 2 timers", t.queue.len());
        assert_eq!(t.next_deadline(), Some(99_999 + 2_000));
        assert_eq!(t.pop_due(i64::MAX), Some(TimerKey::Refresh(JobKey(1))));
        assert_eq!(t.pop_due(i64::MAX), Some(TimerKey::Wake(JobKey(0))));
        assert_eq!(t.pop_due(i64::MAX), None);
        assert_eq!(t.next_deadline(), None);
    }

    /// What the timers must do, written the obvious way.
    #[derive(Default)]
    struct Model {
        armed: Vec<(Millis, u64, TimerKey)>,
        next: u64,
    }

    impl Model {
        fn set(&mut self, key: TimerKey, at: Millis) {
            self.cancel(key);
            self.armed.push((at, self.next, key));
            self.next += 1;
        }
        fn cancel(&mut self, key: TimerKey) {
            self.armed.retain(|(_, _, k)| *k != key);
        }
        fn next_deadline(&self) -> Option<Millis> {
            self.armed.iter().map(|(at, _, _)| *at).min()
        }
        fn pop_due(&mut self, now: Millis) -> Option<TimerKey> {
            let first = self
                .armed
                .iter()
                .enumerate()
                .filter(|(_, (at, _, _))| *at <= now)
                .min_by_key(|(_, (at, n, _))| (*at, *n))?
                .0;
            Some(self.armed.remove(first).2)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u64, Millis),
        Cancel(u64),
        Pop(Millis),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0..12u64, 0..50 as Millis).prop_map(|(k, at)| Op::Set(k, at)),
            (0..12u64).prop_map(Op::Cancel),
            (0..60 as Millis).prop_map(Op::Pop),
        ]
    }

    proptest::proptest! {
        #[test]
        fn timers_behave_like_a_list_of_armed_keys(ops in proptest::collection::vec(op(), 0..400)) {
            let mut t = Timers::default();
            let mut m = Model::default();
            for op in ops {
                match op {
                    Op::Set(k, at) => {
                        t.set(TimerKey::Wake(JobKey(k)), at);
                        m.set(TimerKey::Wake(JobKey(k)), at);
                    }
                    Op::Cancel(k) => {
                        t.cancel(TimerKey::Wake(JobKey(k)));
                        m.cancel(TimerKey::Wake(JobKey(k)));
                    }
                    Op::Pop(now) => proptest::prop_assert_eq!(t.pop_due(now), m.pop_due(now)),
                }
                proptest::prop_assert_eq!(t.next_deadline(), m.next_deadline());
                proptest::prop_assert_eq!(t.len(), m.armed.len());
            }
        }
    }
}
