//! A pool's expired sticky records leave it as they expire, as in dCache, whose repository
//! schedules a task for each replica's next expiry that drops the replica's expired records
//! and reports the sticky change. Until then an expired record still makes its replica
//! sticky (§1.4 of the spec): it shows in `rep sticky ls`, a `-sticky` filter matches it, and
//! the replica is looked at each time the pool's removable space is asked for.
//!
//! One thread a pool sleeps until the pool's next expiry, drops what has expired
//! ([`Expiring::expire_sticky`]) and sleeps again. A change that brings a record expiring
//! sooner wakes it ([`Sweeper::saw`]); it also wakes once a minute, so that a clock set
//! forward is noticed.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use migration_core::Millis;
use migration_core::driver::runtime::Clock;
use migration_core::replica::{NEVER_EXPIRES, ReplicaEntry};
use parking_lot::{Condvar, Mutex};

/// A repository whose sticky records expire.
pub trait Expiring: Send + Sync {
    /// Drops the records expired at `now` (a record is valid until its expiry, not at it),
    /// as dCache's repository does when a record's time comes.
    fn expire_sticky(&self, now: Millis);

    /// When the first record of any replica expires (`None`: none of them expires).
    fn next_sticky_expiry(&self) -> Option<Millis>;
}

/// The longest the thread sleeps.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);

/// The sweeping thread of one repository.
#[derive(Default)]
pub struct Sweeper {
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
    stopped: bool,
}

impl Default for AlarmState {
    fn default() -> AlarmState {
        AlarmState { until: Millis::MAX, stopped: false }
    }
}

impl Sweeper {
    /// Starts the thread, `<pool>-sticky`, for `repository`. It holds the repository only
    /// while it sweeps, and ends at [`Sweeper::stop`] or once the repository is gone.
    pub fn start<R: Expiring + 'static>(&self, repository: Weak<R>, pool: &str, clock: Clock) -> std::io::Result<()> {
        let alarm = Arc::clone(&self.alarm);
        let thread = std::thread::Builder::new()
            .name(format!("{pool}-sticky"))
            .spawn(move || sweep(&repository, &alarm, &clock))?;
        *self.thread.lock() = Some(thread);
        Ok(())
    }

    /// A replica changed to `entry`: if one of its records expires before the time the thread
    /// sleeps until, the thread wakes to sleep until then instead.
    pub fn saw(&self, entry: &ReplicaEntry) {
        let Some(expires) = entry.sticky.iter().map(|r| r.expire).filter(|&t| t != NEVER_EXPIRES).min() else {
            return;
        };
        let state = self.alarm.state.lock();
        if expires < state.until {
            self.alarm.wake.notify_one();
        }
    }

    /// Stops the thread and waits for it (unless it is the caller). Safe to call more than
    /// once, and without a thread.
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
}

fn sweep(repository: &Weak<impl Expiring>, alarm: &Alarm, clock: &Clock) {
    loop {
        match repository.upgrade() {
            Some(repository) if !alarm.state.lock().stopped => repository.expire_sticky(clock()),
            _ => return,
        }
        let mut state = alarm.state.lock();
        // Read under the alarm's lock: a change that comes after this reading waits for the
        // lock to compare its expiry with the new `until`, so its wakeup is not lost.
        let next = match repository.upgrade() {
            Some(repository) if !state.stopped => repository.next_sticky_expiry(),
            _ => return,
        };
        state.until = next.unwrap_or(Millis::MAX);
        let sleep = match next {
            Some(at) => Duration::from_millis(at.saturating_sub(clock()).max(0) as u64).min(LONGEST_SLEEP),
            None => LONGEST_SLEEP,
        };
        if !sleep.is_zero() {
            alarm.wake.wait_for(&mut state, sleep);
        }
    }
}
