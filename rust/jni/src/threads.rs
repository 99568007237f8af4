//! The runtime's threads in the JVM: each is attached once when it starts, under a readable
//! name (`migration-<pool>-<n>`), with the facade's class loader as its context loader, and
//! detached when it stops. Attached threads are non-daemon Java threads; the core's
//! `Runtime::shutdown` waits for every thread's stop hook, so after `close()` nothing of the
//! module keeps the JVM alive.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jni::strings::JNIString;
use jni::{AttachConfig, JavaVM};

thread_local! {
    /// How many calls into Java this thread is inside of.
    static CALLBACK_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Attaches and detaches the threads of one module's runtime.
pub struct Threads {
    prefix: String,
    next: AtomicU64,
}

impl Threads {
    /// Threads named after `pool`.
    pub fn new(pool: &str) -> Arc<Threads> {
        Arc::new(Threads { prefix: format!("migration-{pool}"), next: AtomicU64::new(1) })
    }

    /// Runs on each new runtime thread: attach it permanently under its name.
    pub fn on_start(&self) {
        let name = format!("{}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed));
        let attached = JavaVM::singleton().and_then(|vm| {
            let jname = JNIString::new(&name);
            vm.attach_current_thread_with_config(
                || AttachConfig::new().thread_name(&jname),
                Some(8),
                |env| {
                    // SAFETY: this thread stays attached until `on_stop`, which forgets it first.
                    unsafe { crate::raw::remember(env.get_raw()) };
                    crate::cache::set_context_class_loader(env)
                },
            )
        });
        if let Err(e) = attached {
            tracing::error!(target: "migration::jni", thread = name, "cannot attach a runtime thread to the JVM: {e}");
        }
    }

    /// Runs on each runtime thread before it exits: detach it.
    pub fn on_stop(&self) {
        crate::raw::forget();
        if let Ok(vm) = JavaVM::singleton()
            && let Err(e) = vm.detach_current_thread()
        {
            tracing::warn!(target: "migration::jni", "cannot detach a runtime thread: {e}");
        }
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
