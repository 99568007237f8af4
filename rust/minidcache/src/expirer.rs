//! A pool's sticky records leave it as they expire, as in dCache, whose repository schedules a
//! task for each replica's next expiry that drops the replica's expired records and reports
//! the sticky change. Until then an expired record still makes its replica sticky (§1.4 of
//! the spec): a `-sticky` filter matches it, and the replica is looked at each time the pool's
//! removable space is asked for.
//!
//! One thread a pool sleeps until the pool's next expiry, drops what has expired
//! ([`Expiring::expire_sticky`], one batch at a time) and sleeps again. A change that brings a
//! record expiring sooner wakes it ([`Expirer::changed`]); it also wakes once a minute, so
//! that a clock set forward is noticed.
//!
//! Its changes are reported after their rows are committed, outside the index's lock, as
//! every writer's here are: a change another writer makes to the same replica meanwhile may
//! be reported before it, as between any two writers of this repository.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use migration_core::Millis;
use migration_core::driver::runtime::Clock;
use migration_core::replica::ReplicaEntry;
use parking_lot::{Condvar, Mutex};

/// The longest the thread sleeps.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);

/// How long after an expiry the thread wakes for it (and then drops every record expired by
/// then): dCache's repository runs its expiry task a second late
/// (`EXPIRATION_CLOCKSHIFT_EXTRA_TIME`), to allow for small shifts of the clock.
const CLOCK_SHIFT: Millis = 1000;

/// A repository whose sticky records expire.
pub trait Expiring: Send + Sync {
    /// Drops the records expired at `now` (a record is valid until its expiry, not at it)
    /// from one batch of replicas, those whose records expired first; returns whether more
    /// replicas have records expired at `now`.
    fn expire_sticky(&self, now: Millis) -> bool;

    /// When the first record of any replica expires (`None`: none of them expires).
    fn next_sticky_expiry(&self) -> Option<Millis>;
}

/// The expiring thread of one repository.
#[derive(Default)]
pub struct Expirer {
    alarm: Arc<Alarm>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Alarm {
    state: Mutex<AlarmState>,
    wake: Condvar,
}

struct AlarmState {
    /// The expiry the thread sleeps until.
    until: Millis,
    /// Whether the thread sleeps (tests wait for it).
    sleeping: bool,
    stopped: bool,
}

impl Default for AlarmState {
    fn default() -> AlarmState {
        AlarmState { until: Millis::MAX, sleeping: false, stopped: false }
    }
}

impl Expirer {
    /// Starts the thread, `<pool>-expiry`, for `repository`, once. It holds the repository
    /// only while it drops records, and ends at [`Expirer::stop`] or once the repository is
    /// gone.
    pub fn start<R: Expiring + 'static>(&self, repository: Weak<R>, pool: &str, clock: Clock) -> std::io::Result<()> {
        let mut thread = self.thread.lock();
        debug_assert!(thread.is_none(), "{pool}'s expirer started twice");
        let alarm = Arc::clone(&self.alarm);
        *thread = Some(
            std::thread::Builder::new()
                .name(format!("{pool}-expiry"))
                .spawn(move || expire(&repository, &alarm, &clock))?,
        );
        Ok(())
    }

    /// A replica changed to `entry`: if one of its records expires before the time the thread
    /// sleeps until, the thread wakes to sleep until then instead.
    pub fn changed(&self, entry: &ReplicaEntry) {
        let Some(expires) = entry.first_expiry() else { return };
        let state = self.alarm.state.lock();
        if expires < state.until {
            self.alarm.wake.notify_one();
        }
    }

    /// Stops the thread (between two batches) and waits for it, unless it is the caller. Safe
    /// to call more than once, and without a thread.
    pub fn stop(&self) {
        self.alarm.state.lock().stopped = true;
        self.alarm.wake.notify_one();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }

    /// Whether the thread sleeps, waiting for its time or a change.
    #[cfg(test)]
    pub fn sleeping(&self) -> bool {
        self.alarm.state.lock().sleeping
    }
}

fn expire(repository: &Weak<impl Expiring>, alarm: &Alarm, clock: &Clock) {
    loop {
        // Read before the repository is called: dropping records reports changes, which come
        // back to `changed` on this thread and take the alarm's lock.
        let stopped = alarm.state.lock().stopped;
        let Some(repository) = repository.upgrade().filter(|_| !stopped) else { return };
        if repository.expire_sticky(clock()) {
            continue;
        }
        let mut state = alarm.state.lock();
        // Read under the alarm's lock: a change that comes after this reading waits for the
        // lock to compare its expiry with the new `until`, so its wakeup is not lost.
        if state.stopped {
            return;
        }
        let next = repository.next_sticky_expiry();
        drop(repository);
        state.until = next.unwrap_or(Millis::MAX);
        let sleep = match next {
            Some(at) => {
                let late = at.saturating_add(CLOCK_SHIFT).saturating_sub(clock()).max(0);
                Duration::from_millis(late as u64).min(LONGEST_SLEEP)
            }
            None => LONGEST_SLEEP,
        };
        if !sleep.is_zero() {
            state.sleeping = true;
            alarm.wake.wait_for(&mut state, sleep);
            state.sleeping = false;
        }
    }
}
