//! The runtime's threads in the JVM: each is attached once when it starts, under a readable
//! name (`migration-<pool>-<n>`), with the facade's class loader as its context loader, and
//! detached when it stops. Attached threads are non-daemon Java threads, so `close()` waits
//! for them to detach: afterwards nothing of the module keeps the JVM alive.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jni::strings::JNIString;
use jni::{AttachConfig, JavaVM};
use parking_lot::{Condvar, Mutex};

thread_local! {
    /// The module whose runtime owns this thread (0: none).
    static OWNER: Cell<u64> = const { Cell::new(0) };
    /// How many calls into Java this thread is inside of.
    static CALLBACK_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// The attached threads of one module's runtime.
pub struct Threads {
    module: u64,
    prefix: String,
    next: AtomicU64,
    live: Mutex<usize>,
    stopped: Condvar,
}

impl Threads {
    /// Threads of module `module`, named after `pool`.
    pub fn new(module: u64, pool: &str) -> Arc<Threads> {
        Arc::new(Threads {
            module,
            prefix: format!("migration-{pool}"),
            next: AtomicU64::new(1),
            live: Mutex::new(0),
            stopped: Condvar::new(),
        })
    }

    /// Runs on each new runtime thread: attach it permanently under its name.
    pub fn on_start(&self) {
        let name = format!("{}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed));
        OWNER.with(|o| o.set(self.module));
        *self.live.lock() += 1;
        let attached = JavaVM::singleton().and_then(|vm| {
            let jname = JNIString::new(&name);
            vm.attach_current_thread_with_config(
                || AttachConfig::new().thread_name(&jname),
                Some(8),
                crate::cache::set_context_class_loader,
            )
        });
        if let Err(e) = attached {
            tracing::error!(target: "migration::jni", thread = name, "cannot attach a runtime thread to the JVM: {e}");
        }
    }

    /// Runs on each runtime thread before it exits: detach it.
    pub fn on_stop(&self) {
        if let Ok(vm) = JavaVM::singleton()
            && let Err(e) = vm.detach_current_thread()
        {
            tracing::warn!(target: "migration::jni", "cannot detach a runtime thread: {e}");
        }
        OWNER.with(|o| o.set(0));
        let mut live = self.live.lock();
        *live = live.saturating_sub(1);
        self.stopped.notify_all();
    }

    /// Threads of this runtime still attached.
    pub fn live(&self) -> usize {
        *self.live.lock()
    }

    /// Waits until every thread stopped, at most `timeout`; `false` on timeout.
    pub fn wait_stopped(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut live = self.live.lock();
        while *live > 0 {
            if self.stopped.wait_until(&mut live, deadline).timed_out() {
                return *live == 0;
            }
        }
        true
    }

    /// Whether the current thread belongs to this runtime.
    pub fn is_current(&self) -> bool {
        OWNER.with(|o| o.get()) == self.module
    }
}

/// Whether the current thread is inside a call into Java made by this layer (a callback).
pub fn in_callback() -> bool {
    CALLBACK_DEPTH.with(|d| d.get()) > 0
}

/// Marks the current thread as inside a callback until the guard drops.
pub struct CallbackScope(());

impl CallbackScope {
    /// Enters a callback.
    pub fn enter() -> CallbackScope {
        CALLBACK_DEPTH.with(|d| d.set(d.get() + 1));
        CallbackScope(())
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        CALLBACK_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}
