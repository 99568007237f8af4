//! The production driver: executes a module's effects against its [`Host`] on a tokio
//! runtime, fires its timers on the wall clock, and feeds results back.
//!
//! The module's lock is held only while the module handles one input; every host call happens
//! after it is released, so a host may call back into the module from inside a callback.
//! Work produced on a thread that is already driving a module is queued on that thread and
//! handled in a loop, not by recursion: a host that answers synchronously (an instant p2p, an
//! in-process transport) cannot grow the stack with every file.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};

use rustc_hash::FxHashMap;

use crate::driver::repository_effects;
use crate::effect::{Effect, InboundId, Token};
use crate::error::{Error, ErrorKind, Failure, Outcome, ReturnCode};
use crate::host::{Completion, Host, RepositoryError, Sink};
use crate::input::{Answer, Input, RepositoryEvent};
use crate::module::{Config, Module};
use crate::{Millis, PoolName};

/// A clock in ms since the epoch.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// The wall clock, in ms since the epoch.
///
/// On Linux it is the kernel's coarse clock, which lags by at most a tick (1–10 ms). The
/// module's timeouts are seconds long and its times are shown in seconds, so a tick does not
/// matter; the precise clock does: it is read once a step, about eight times a file when
/// files go one at a time, and at 36 ns a reading on a virtual machine (its time stamp
/// counter is slow to read) against 5 ns, it cost about 6 % of such a file's time.
pub fn system_clock() -> Millis {
    #[cfg(target_os = "linux")]
    {
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `now` is a valid timespec for the call to write. The clock id is one the
        // kernel has had since 2.6.32; should the call fail all the same, the precise clock
        // below answers.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) };
        if rc == 0 {
            return now.tv_sec as Millis * 1000 + now.tv_nsec as Millis / 1_000_000;
        }
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
}

/// The most worker threads a runtime takes ([`Options::worker_threads`]): far more than a pool
/// needs, and few enough that a mistaken count (`Integer.MAX_VALUE` from Java) is refused
/// instead of aborting the process in tokio's allocations.
pub const MAX_WORKER_THREADS: usize = 256;

/// `n` as a count of worker threads, if it is one: 1 to [`MAX_WORKER_THREADS`]. Wide enough
/// for any binding's integer, so that a negative count is refused with the count given.
pub fn worker_threads(n: i128) -> Result<usize, Error> {
    match usize::try_from(n) {
        Ok(count) if (1..=MAX_WORKER_THREADS).contains(&count) => Ok(count),
        _ => {
            let text = format!("worker threads must be 1 to {MAX_WORKER_THREADS}, not {n}");
            Err(Error::new(ErrorKind::InvalidArgument, text))
        }
    }
}

/// How to build a [`Runtime`].
#[derive(Clone)]
pub struct Options {
    /// Worker threads of the tokio runtime: 1 to [`MAX_WORKER_THREADS`].
    pub worker_threads: usize,
    /// Seed of the module's randomness (`None`: from entropy).
    pub seed: Option<u64>,
    /// The clock.
    pub clock: Clock,
    /// Name of the runtime's threads.
    pub thread_name: String,
    /// Called on each runtime thread when it starts (JNI attaches it to the JVM here).
    pub on_thread_start: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Called on each runtime thread before it stops; [`Runtime::shutdown`] waits for it.
    pub on_thread_stop: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// How long [`Runtime::shutdown`] waits for the runtime's threads to stop.
pub const THREAD_STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for Options {
    fn default() -> Self {
        Options {
            worker_threads: 2,
            seed: None,
            clock: Arc::new(system_clock),
            thread_name: "migration-worker".to_string(),
            on_thread_start: None,
            on_thread_stop: None,
        }
    }
}

/// One unit of work for [`drive`]. The input is held inline, not boxed: every file passes
/// through about ten inputs, and a heap allocation each cost more than moving the input.
enum Work {
    Input(Input),
    Effects(Vec<Effect>),
    Timeout,
}

struct Inner {
    module: Mutex<Module>,
    host: Host,
    handle: tokio::runtime::Handle,
    clock: Clock,
    wake: tokio::sync::Notify,
    inbound: Mutex<FxHashMap<InboundId, Completion<Vec<u8>>>>,
    next_inbound: AtomicU64,
    closed: AtomicBool,
    /// Set when `shutdown` begins, before the jobs' cancels go out: from then on no command,
    /// input or message from another pool is taken, so that nothing starts that the
    /// shutdown would not cancel.
    closing: AtomicBool,
    /// The deadline the timer loop sleeps until (`i64::MAX`: none), written and read under
    /// the module's lock. Only an earlier deadline needs to wake it: waking it for every
    /// request (each arms a reply timer) cost a futex wake-up and a context switch per step.
    armed: AtomicI64,
}

impl Inner {
    /// Wakes the timer loop if `module`, locked by the caller, now has a deadline earlier than
    /// the one the loop sleeps until. A later deadline or none needs no wake-up: the loop
    /// looks again when it wakes. Waking it for every command cost more than a futex call: on
    /// a machine with every core busy, the woken thread took the core of the shell that had
    /// just woken it, and an operator's `migration info` waited for the core to come back
    /// (docs/performance.md, the twenty-second round).
    fn rearm_if_earlier(&self, module: &Module) {
        if module.next_deadline().is_some_and(|at| at < self.armed.load(Ordering::Relaxed)) {
            self.wake.notify_one();
        }
    }
}

/// Work waiting to be handled on this thread, with the module it is for.
type Queue = VecDeque<(Arc<Inner>, Work)>;

thread_local! {
    /// Work queued on this thread while it drives a module; `None` when it drives none.
    static PUMP: RefCell<Option<Queue>> = const { RefCell::new(None) };
    /// Emptied effect buffers, handed back to modules so that a step allocates none.
    static SPARE_EFFECTS: RefCell<Vec<Vec<Effect>>> = const { RefCell::new(Vec::new()) };
    /// The runtime this thread belongs to (0: none), so that a module closed from one of its
    /// own threads (a host callback) does not wait for itself.
    static RUNTIME_OF: Cell<u64> = const { Cell::new(0) };
}

fn spare_effects() -> Vec<Effect> {
    SPARE_EFFECTS.with(|s| s.borrow_mut().pop()).unwrap_or_default()
}

fn recycle_effects(buffer: Vec<Effect>) {
    debug_assert!(buffer.is_empty());
    SPARE_EFFECTS.with(|s| {
        let mut spares = s.borrow_mut();
        if spares.len() < 4 {
            spares.push(buffer);
        }
    });
}

static NEXT_RUNTIME: AtomicU64 = AtomicU64::new(1);

/// The live threads of one runtime. Counted here, after the binding's stop hook, so that
/// when [`Runtime::shutdown`] returns every hook has run (JNI has detached every thread) and
/// no binding needs a count of its own.
struct Threads {
    id: u64,
    live: Mutex<usize>,
    stopped: Condvar,
}

impl Threads {
    fn started(&self) {
        RUNTIME_OF.with(|r| r.set(self.id));
        *self.live.lock() += 1;
    }

    fn stopped(&self) {
        RUNTIME_OF.with(|r| r.set(0));
        let mut live = self.live.lock();
        *live = live.saturating_sub(1);
        if *live == 0 {
            self.stopped.notify_all();
        }
    }

    fn is_current(&self) -> bool {
        RUNTIME_OF.with(|r| r.get()) == self.id
    }

    /// Waits until every thread stopped, at most until `deadline`; the threads still alive.
    fn wait(&self, deadline: Instant) -> usize {
        let mut live = self.live.lock();
        while *live > 0 && !self.stopped.wait_until(&mut live, deadline).timed_out() {}
        *live
    }
}

/// A module running in production: commands, messages and repository events go in, the host
/// is called, timers fire on their own.
pub struct Runtime {
    inner: Arc<Inner>,
    tokio: Mutex<Option<tokio::runtime::Runtime>>,
    threads: Arc<Threads>,
}

impl Runtime {
    /// Starts the module of pool `pool` with its host. The pool still has to report that it
    /// has started ([`Runtime::pool_started`]) before jobs run.
    pub fn start(pool: &str, config: Config, host: Host, options: Options) -> Result<Runtime, Error> {
        config.validate()?;
        let workers = worker_threads(options.worker_threads as i128)?;
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers).thread_name(options.thread_name.clone()).enable_time();
        let threads = Arc::new(Threads {
            id: NEXT_RUNTIME.fetch_add(1, Ordering::Relaxed),
            live: Mutex::new(0),
            stopped: Condvar::new(),
        });
        let (counted, start) = (Arc::clone(&threads), options.on_thread_start.clone());
        builder.on_thread_start(move || {
            counted.started();
            if let Some(start) = &start {
                start();
            }
        });
        let (counted, stop) = (Arc::clone(&threads), options.on_thread_stop.clone());
        builder.on_thread_stop(move || {
            if let Some(stop) = &stop {
                stop();
            }
            counted.stopped();
        });
        let tokio =
            builder.build().map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the runtime: {e}")))?;
        let seed = options.seed.unwrap_or_else(|| crate::random::Rng::from_entropy().next_u64());
        let mut module = Module::new(pool, config, seed);
        module.set_verifies_checksums(host.repository.verifies_checksums());
        let inner = Arc::new(Inner {
            module: Mutex::new(module),
            host,
            handle: tokio.handle().clone(),
            clock: options.clock,
            wake: tokio::sync::Notify::new(),
            inbound: Mutex::new(FxHashMap::default()),
            next_inbound: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            armed: AtomicI64::new(i64::MAX),
        });
        tokio.spawn(timer_loop(Arc::clone(&inner)));
        Ok(Runtime { inner, tokio: Mutex::new(Some(tokio)), threads })
    }

    /// The pool's repository finished loading (after [`Repository::for_each`] answered
    /// `NotLoaded`): jobs waiting for it scan it now.
    ///
    /// [`Repository::for_each`]: crate::host::Repository::for_each
    pub fn repository_loaded(&self) {
        self.input(Input::RepositoryLoaded);
    }

    /// Executes one admin command line.
    pub fn execute(&self, line: &str) -> Result<String, Error> {
        self.check_open()?;
        let (result, effects) = {
            let mut module = self.inner.module.lock();
            // Read once the lock is held: a wait for it would otherwise arm timers early.
            let now = (self.inner.clock)();
            let result = module.execute(now, line);
            self.inner.rearm_if_earlier(&module);
            (result, module.take_effects())
        };
        self.hand_off(effects);
        result
    }

    /// Runs the effects of a command on the runtime, so that the caller (an operator's shell,
    /// a JNI thread) gets its answer at once however much work the command starts.
    fn hand_off(&self, effects: Vec<Effect>) {
        if effects.is_empty() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        self.inner.handle.spawn(async move { drive(&inner, Work::Effects(effects)) });
    }

    /// Feeds an input (repository events, pool start, …).
    pub fn input(&self, input: Input) {
        if !self.inner.closing.load(Ordering::Acquire) {
            drive(&self.inner, Work::Input(input));
        }
    }

    /// The pool finished starting: jobs created so far start.
    pub fn pool_started(&self) {
        self.input(Input::PoolStarted);
    }

    /// A change in the local repository.
    pub fn repository_event(&self, event: RepositoryEvent) {
        self.input(Input::repository(event));
    }

    /// Bytes another pool's module sent; `reply` receives the answer, if one is expected.
    /// A host that keeps its peers' names as [`PoolName`]s passes a clone, which saves
    /// copying the name for every message.
    pub fn deliver(&self, from: impl Into<PoolName>, bytes: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
        if self.inner.closing.load(Ordering::Acquire) {
            return; // dropping `reply` reports a failure to the sender
        }
        let reply = match reply {
            Some(completion) => {
                let id = InboundId(self.inner.next_inbound.fetch_add(1, Ordering::Relaxed));
                self.inner.inbound.lock().insert(id, completion);
                // A shutdown since the check above has cleared the table already, and would
                // leave this one unanswered until the module is dropped: fail it now.
                if self.inner.closing.load(Ordering::Acquire) {
                    let late = self.inner.inbound.lock().remove(&id);
                    drop(late);
                    return;
                }
                Some(id)
            }
            None => None,
        };
        drive(&self.inner, Work::Input(Input::Message { from: from.into(), bytes, reply }));
    }

    /// Reads the module's state (for `info`, JSON, tests).
    pub fn with_module<R>(&self, f: impl FnOnce(&Module) -> R) -> R {
        f(&self.inner.module.lock())
    }

    /// Calls `f` on the module at the current time, then executes what it caused (e.g.
    /// `Module::report_readers`, `Module::reload`, `Module::set_accepts_copies`).
    pub fn call<R>(&self, f: impl FnOnce(&mut Module, Millis) -> R) -> Result<R, Error> {
        self.check_open()?;
        let (result, effects) = {
            let mut module = self.inner.module.lock();
            let now = (self.inner.clock)();
            let result = f(&mut module, now);
            self.inner.rearm_if_earlier(&module);
            (result, module.take_effects())
        };
        self.hand_off(effects);
        Ok(result)
    }

    /// Changes the module's state directly when it causes no effects (e.g. whether the pool
    /// accepts copies); prefer [`Runtime::call`] otherwise.
    pub fn with_module_mut<R>(&self, f: impl FnOnce(&mut Module) -> R) -> R {
        let mut module = self.inner.module.lock();
        let r = f(&mut module);
        self.inner.rearm_if_earlier(&module);
        r
    }

    /// Whether [`Runtime::shutdown`] has sent the jobs' cancels and closed the module (while
    /// it is still sending them, commands are already refused but this is false).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// The host this runtime calls.
    pub fn host(&self) -> &Host {
        &self.inner.host
    }

    /// The clock's current time.
    pub fn now(&self) -> Millis {
        (self.inner.clock)()
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Closed, "the migration module is closed"));
        }
        Ok(())
    }

    /// Cancels every job with force (reason `pool shutdown`, as dCache does when a pool
    /// stops), tells targets to drop running transfers, then stops the timers and the
    /// runtime's threads, waiting for them (and their `on_thread_stop`) up to
    /// [`THREAD_STOP_TIMEOUT`]: afterwards a JVM or a C program can exit cleanly. From one of
    /// the runtime's own threads it does not wait: they stop once the caller returns. Safe to
    /// call more than once and from any thread.
    pub fn shutdown(&self) {
        if self.inner.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        // Inline, not handed off: the cancel requests to targets go out before the runtime stops.
        let effects = {
            let mut module = self.inner.module.lock();
            module.shutdown((self.inner.clock)());
            module.take_effects()
        };
        drive_now(&self.inner, Work::Effects(effects));
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake.notify_one();
        // Failed outside the lock: a completion's callback is the host's (a reply sent back
        // through its transport), and may take its own locks or deliver to this module.
        let unanswered = std::mem::take(&mut *self.inner.inbound.lock());
        drop(unanswered);
        let Some(tokio) = self.tokio.lock().take() else { return };
        if self.threads.is_current() {
            // A callback closing its own module: waiting would wait for this very thread.
            tokio.shutdown_background();
            return;
        }
        let deadline = Instant::now() + THREAD_STOP_TIMEOUT;
        if tokio::runtime::Handle::try_current().is_ok() {
            // On another runtime's thread, tokio refuses to block; the count waits instead.
            tokio.shutdown_background();
        } else {
            tokio.shutdown_timeout(THREAD_STOP_TIMEOUT);
        }
        let live = self.threads.wait(deadline);
        if live > 0 {
            tracing::warn!(target: "migration", threads = live, "module threads still running after shutdown (a callback does not return)");
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn timer_loop(inner: Arc<Inner>) {
    while !inner.closed.load(Ordering::Acquire) {
        let deadline = {
            let module = inner.module.lock();
            let deadline = module.next_deadline();
            inner.armed.store(deadline.unwrap_or(i64::MAX), Ordering::Relaxed);
            deadline
        };
        let now = (inner.clock)();
        match deadline {
            Some(at) if at <= now => drive(&inner, Work::Timeout),
            Some(at) => {
                let wait = Duration::from_millis((at - now).clamp(1, 60_000) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = inner.wake.notified() => {}
                }
            }
            // Looked at again within a minute even when nothing is armed: a deadline armed by
            // a batch that panicked before re-arming the loop would otherwise wait for the
            // next unrelated input.
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                    _ = inner.wake.notified() => {}
                }
            }
        }
    }
}

/// Handles `work` and everything it leads to, on this thread, without recursion.
fn drive(inner: &Arc<Inner>, work: Work) {
    let queued = PUMP.with(|p| match p.borrow_mut().as_mut() {
        Some(queue) => {
            queue.push_back((Arc::clone(inner), work));
            None
        }
        None => Some(work),
    });
    let Some(first) = queued else { return };
    PUMP.with(|p| *p.borrow_mut() = Some(VecDeque::new()));
    // However the loop below ends, this thread must not be left looking like it drives a
    // module: its later work would be queued and never handled.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            PUMP.with(|p| *p.borrow_mut() = None);
        }
    }
    let _reset = Reset;
    let mut next = Some((Arc::clone(inner), first));
    // A host callback that panics (a bug in a host written in Rust) is caught here, once per
    // call into the module rather than once per effect (a catch around each effect cost 1.7 %
    // more instructions in the instant-host bench), and the loop goes on with the work queued:
    // let through, the panic would drop it all (other files' replies, a timer's whole round).
    // What waited for the call is answered with an error: by its input for a call answered at
    // once ([`host_call`]), by the dropped [`Completion`] for one answered later; the effects
    // after it are queued again by [`Rest`].
    while let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        while let Some((inner, work)) = next {
            step(&inner, work);
            next = queued_work();
        }
    })) {
        let message = crate::error::panic_message(&*panic).unwrap_or("no message");
        tracing::error!(target: "migration", "a panic while driving the module (a host callback's, most likely): {message}");
        next = queued_work();
    }
}

/// The next work queued on this thread.
fn queued_work() -> Option<(Arc<Inner>, Work)> {
    PUMP.with(|p| p.borrow_mut().as_mut().and_then(VecDeque::pop_front))
}

/// Handles `work` and everything it leads to before returning, even on a thread that is
/// already driving (inside a host callback of this or another module), where [`drive`] would
/// only queue it. A module that shuts down from there is closed when its effects come up in
/// that queue, so they would be dropped: its jobs' cancel messages would never go out.
fn drive_now(inner: &Arc<Inner>, work: Work) {
    let outer = PUMP.with(|p| p.borrow_mut().take());
    // Put back whatever happens, as `drive`'s own guard does: the outer loop goes on with it.
    struct Restore(Option<Queue>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            PUMP.with(|p| *p.borrow_mut() = outer);
        }
    }
    let _restore = Restore(outer);
    drive(inner, work);
}

fn step(inner: &Arc<Inner>, work: Work) {
    if inner.closed.load(Ordering::Acquire) {
        return;
    }
    let mut effects = match work {
        Work::Effects(effects) => effects,
        Work::Input(input) => {
            let mut effects = spare_effects();
            let mut module = inner.module.lock();
            // Read once the lock is held: a wait for it (behind another batch, a command)
            // would otherwise arm this batch's timers early by as long.
            let now = (inner.clock)();
            module.handle(now, input);
            // The inputs queued behind this one for the same module are handled under the
            // same lock and clock reading before any effect runs: a file's path is about ten
            // inputs, and reading the clock and taking the lock for each was a tenth of the
            // time. The batch is pure computation, so its `now` stays accurate; the effects
            // still run in order, and what they feed back is queued behind.
            for _ in 1..INPUT_BATCH {
                let Some(input) = next_input_for(inner) else { break };
                module.handle(now, input);
            }
            inner.rearm_if_earlier(&module);
            module.take_effects_into(&mut effects);
            effects
        }
        Work::Timeout => {
            let mut effects = spare_effects();
            let mut module = inner.module.lock();
            let now = (inner.clock)();
            module.handle_timeout(now);
            module.take_effects_into(&mut effects);
            effects
        }
    };
    let mut rest = Rest { inner, effects: effects.drain(..) };
    for effect in rest.effects.by_ref() {
        execute(inner, effect);
        // Closed by this effect's callback (its shutdown sent every task's cancel then): the
        // rest are dropped, so that no copy request follows the cancel of its task to the
        // target and starts a copy nobody waits for. (Looked at after the effect, not before:
        // a check between taking an effect and running it made the compiler copy each one,
        // 1.7 % more instructions in the instant-host bench.)
        if inner.closed.load(Ordering::Acquire) {
            break;
        }
    }
    drop(rest);
    recycle_effects(effects);
}

/// The effects of a step not yet executed. If a host callback panics while one runs, they are
/// queued again, first, as the driving loop catches the panic and goes on ([`drive`]):
/// dropped, a transfer's start would leave its copy request registered for ever.
struct Rest<'a> {
    inner: &'a Arc<Inner>,
    effects: std::vec::Drain<'a, Effect>,
}

impl Drop for Rest<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() && self.effects.len() > 0 {
            let rest = Work::Effects(self.effects.by_ref().collect());
            PUMP.with(|p| {
                if let Some(queue) = p.borrow_mut().as_mut() {
                    queue.push_front((Arc::clone(self.inner), rest));
                }
            });
        }
    }
}

/// Most inputs handled under one taking of the module's lock.
const INPUT_BATCH: usize = 32;

/// The next queued work of this thread if it is an input for `inner`'s module.
fn next_input_for(inner: &Arc<Inner>) -> Option<Input> {
    PUMP.with(|p| {
        let mut pump = p.borrow_mut();
        let queue = pump.as_mut()?;
        if !matches!(queue.front(), Some((next, Work::Input(_))) if Arc::ptr_eq(next, inner)) {
            return None;
        }
        match queue.pop_front() {
            Some((_, Work::Input(input))) => Some(input),
            _ => unreachable!("the front of the queue is an input for this module"),
        }
    })
}

/// Runs `work`, a slow call to the host, on a blocking thread and feeds the input it returns.
/// If it panics (a host's bug), `failed` makes the input from the panic's message instead:
/// otherwise what waits for it (a job's scan, a copy request's verification) would wait for
/// ever.
fn run_blocking(
    inner: &Arc<Inner>,
    work: impl FnOnce() -> Input + Send + 'static,
    failed: impl FnOnce(&str) -> Input + Send + 'static,
) {
    let feed = input_later(inner);
    inner.handle.spawn_blocking(move || {
        let input = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .unwrap_or_else(|panic| failed(crate::error::panic_message(&*panic).unwrap_or("no message")));
        feed(input);
    });
}

fn input_later(inner: &Arc<Inner>) -> impl Fn(Input) + Send + Sync + 'static {
    let inner = Arc::clone(inner);
    move |input| drive(&inner, Work::Input(input))
}

/// The completion of a request sent with `token` for every file (locations, a message to
/// another pool, a transfer, a pin move): its outcome comes back as an input, through the
/// runtime's [`Sink`] of that kind rather than a boxed closure.
fn reply<T>(inner: &Arc<Inner>, token: Token) -> Completion<T>
where
    Inner: Sink<T>,
{
    Completion::shared(Arc::clone(inner) as Arc<dyn Sink<T>>, token.0)
}

/// The answer to a request sent with `token`, as an input.
fn answered(inner: &Arc<Inner>, token: u64, outcome: Outcome<Answer>) {
    drive(inner, Work::Input(Input::Reply { token: Token(token), outcome }));
}

/// Cache locations.
impl Sink<Vec<String>> for Inner {
    fn complete(self: Arc<Self>, token: u64, outcome: Outcome<Vec<String>>) {
        answered(&self, token, outcome.map(Answer::Locations));
    }
}

/// A reply message from another pool.
impl Sink<Vec<u8>> for Inner {
    fn complete(self: Arc<Self>, token: u64, outcome: Outcome<Vec<u8>>) {
        answered(&self, token, outcome.map(Answer::Bytes));
    }
}

/// A transfer or a pin move.
impl Sink<()> for Inner {
    fn complete(self: Arc<Self>, token: u64, outcome: Outcome<()>) {
        answered(&self, token, outcome.map(|()| Answer::Done));
    }
}

/// A call to the host answered at once, whose panic becomes an error text for its input.
fn host_call<T>(what: &str, call: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(|panic| {
        let message = crate::error::panic_message(&*panic).unwrap_or("no message");
        format!("the {what} panicked: {message}")
    })
}

/// Executes one effect; never called with the module's lock held.
fn execute(inner: &Arc<Inner>, effect: Effect) {
    let host = &inner.host;
    match effect {
        Effect::Scan { job, filter, order, now, queue_seed, stop } => {
            let repository = Arc::clone(&host.repository);
            let scanning = Arc::clone(inner);
            run_blocking(
                inner,
                move || {
                    let closed = || scanning.closed.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed);
                    let result = repository_effects::scan_for_queue(
                        repository.as_ref(),
                        &filter,
                        order,
                        now,
                        queue_seed,
                        &closed,
                    );
                    Input::scanned(job, result)
                },
                move |panic| Input::scanned(job, Err(RepositoryError::Other(format!("the scan panicked: {panic}")))),
            );
        }
        Effect::ReadEntry { purpose, pnfsid } => {
            let result = host_call("repository's read", || host.repository.entry(&pnfsid)).and_then(|r| r);
            drive(inner, Work::Input(Input::entry(purpose, result)));
        }
        Effect::InspectCopy { request, pnfsid } => {
            let (accepts_copies, entry) = host_call("repository's read", || host.repository.inspect_copy(&pnfsid))
                .unwrap_or_else(|e| (true, Err(e)));
            drive(inner, Work::Input(Input::copy_inspected(request, accepts_copies, entry)));
        }
        Effect::Change { purpose, pnfsid, changes } => {
            let result = host_call("repository's change", || {
                repository_effects::apply_changes(host.repository.as_ref(), &pnfsid, &changes)
            })
            .unwrap_or_else(|e| Err(RepositoryError::Other(e)));
            drive(inner, Work::Input(Input::Changed { purpose, result }));
        }
        Effect::VerifyChecksum { request, pnfsid } => {
            let repository = Arc::clone(&host.repository);
            run_blocking(
                inner,
                move || Input::Verified { request, result: repository.verify_checksum(&pnfsid) },
                move |panic| {
                    let cause = format!("the checksum verification panicked: {panic}");
                    Input::Verified {
                        request,
                        result: Err(Failure::error(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, cause)),
                    }
                },
            );
        }
        Effect::QueryLocations { token, pnfsid } => {
            host.pnfs_manager.cache_locations(pnfsid, reply(inner, token));
        }
        // Rare (a job's refresh): a closure, since group names and locations share a type.
        Effect::QueryPools { token, selection } => {
            let feed = input_later(inner);
            host.pool_manager.pools(
                selection,
                Completion::new(move |o| feed(Input::Reply { token, outcome: o.map(Answer::Pools) })),
            );
        }
        Effect::QueryGroups { token, pool } => {
            let feed = input_later(inner);
            host.pool_manager.groups_of(
                &pool,
                Completion::new(move |o| feed(Input::Reply { token, outcome: o.map(Answer::Groups) })),
            );
        }
        Effect::Send { to, message, token } => {
            let completion = token.map(|token| reply(inner, token));
            host.transport.send(&to, message, completion);
        }
        Effect::Respond { inbound, reply } => {
            let completion = inner.inbound.lock().remove(&inbound);
            if let Some(completion) = completion {
                completion.complete(Ok(reply));
            }
        }
        Effect::MovePins { token, request } => {
            host.pin_manager.move_pins(request, reply(inner, token));
        }
        Effect::StartP2p { token, request } => {
            host.p2p.start(request, reply(inner, token));
        }
        Effect::CancelP2p { id } => host.p2p.cancel(id),
        // The lock is released by now (see `step`): dropping it here is the point.
        Effect::Release(memory) => drop(memory),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::memory::MemoryRepository;
    use crate::host::{
        P2p, P2pRequest, PinManager, PinMove, PnfsManager, PoolList, PoolManager, PoolSelection, Transport,
    };
    use crate::message::RequestId;
    use crate::pnfsid::PnfsId;

    /// A host whose PnfsManager panics; the other services do nothing.
    struct Panicky;
    impl PnfsManager for Panicky {
        fn cache_locations(&self, _: PnfsId, _: Completion<Vec<String>>) {
            panic!("host callback failed");
        }
    }
    impl PoolManager for Panicky {
        fn pools(&self, _: PoolSelection, done: Completion<PoolList>) {
            done.complete(Ok(PoolList::default()));
        }
        fn groups_of(&self, _: &str, done: Completion<Vec<String>>) {
            done.complete(Ok(Vec::new()));
        }
    }
    impl Transport for Panicky {
        fn send(&self, _: &str, _: Vec<u8>, _: Option<Completion<Vec<u8>>>) {}
    }
    impl P2p for Panicky {
        fn start(&self, _: P2pRequest, _: Completion<()>) {}
        fn cancel(&self, _: RequestId) {}
    }
    impl PinManager for Panicky {
        fn move_pins(&self, _: PinMove, _: Completion<()>) {}
    }

    fn panicky_host() -> Host {
        Host {
            repository: Arc::new(MemoryRepository::new()),
            pool_manager: Arc::new(Panicky),
            pnfs_manager: Arc::new(Panicky),
            transport: Arc::new(Panicky),
            p2p: Arc::new(Panicky),
            pin_manager: Arc::new(Panicky),
        }
    }

    /// A thread count out of range is refused before any thread starts: tokio would abort the
    /// process allocating for `Integer.MAX_VALUE` of them (a Java builder's mistake).
    #[test]
    fn a_worker_count_out_of_range_is_refused() {
        for workers in [0, MAX_WORKER_THREADS + 1, i32::MAX as usize] {
            let options = Options { worker_threads: workers, ..Options::default() };
            let e = Runtime::start("pool1", Config::default(), panicky_host(), options).err().expect("refused");
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{workers}: {e:?}");
            assert_eq!(e.message, format!("worker threads must be 1 to 256, not {workers}"));
        }
        // A binding's negative count is refused with the count it gave.
        let negative = worker_threads(-5).expect_err("refused");
        assert_eq!(negative.message, "worker threads must be 1 to 256, not -5");
        let options = Options { worker_threads: MAX_WORKER_THREADS, ..Options::default() };
        Runtime::start("pool1", Config::default(), panicky_host(), options).expect("256 start").shutdown();
    }

    #[test]
    fn shutdown_returns_after_every_thread_ran_its_stop_hook() {
        let started = Arc::new(AtomicU64::new(0));
        let stopped = Arc::new(AtomicU64::new(0));
        let (s, t) = (Arc::clone(&started), Arc::clone(&stopped));
        let options = Options {
            worker_threads: 3,
            on_thread_start: Some(Arc::new(move || {
                s.fetch_add(1, Ordering::SeqCst);
            })),
            // A slow hook (JNI detaching from the JVM): the bindings rely on it having run.
            on_thread_stop: Some(Arc::new(move || {
                std::thread::sleep(Duration::from_millis(50));
                t.fetch_add(1, Ordering::SeqCst);
            })),
            ..Options::default()
        };
        let runtime = Runtime::start("pool1", Config::default(), panicky_host(), options).expect("starts");
        runtime.execute("migration copy pool2").expect("works");
        runtime.shutdown();
        assert!(started.load(Ordering::SeqCst) >= 3);
        assert_eq!(stopped.load(Ordering::SeqCst), started.load(Ordering::SeqCst));
        assert_eq!(*runtime.threads.live.lock(), 0);
    }

    #[test]
    fn a_command_wakes_the_timer_loop_only_for_an_earlier_deadline() {
        // A job that finds the repository still loading keeps a deadline: its next scan.
        let repository = Arc::new(MemoryRepository::new());
        repository.set_loading(true);
        let host = Host { repository, ..panicky_host() };
        let runtime = Runtime::start("pool1", Config::default(), host, Options::default()).expect("starts");
        runtime.pool_started();
        runtime.execute("migration copy pool2").expect("works");
        let armed = || runtime.inner.armed.load(Ordering::Relaxed);
        let next = || runtime.with_module(Module::next_deadline).unwrap_or(i64::MAX);
        // Whether the loop, within 5 s (half the time to the job's next scan), sleeps until
        // the module's next deadline.
        let looked = || {
            let give_up = Instant::now() + Duration::from_secs(5);
            while armed() != next() && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(5));
            }
            armed() == next()
        };
        let give_up = Instant::now() + Duration::from_secs(10);
        while next() == i64::MAX {
            assert!(Instant::now() < give_up, "the job has no deadline");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(looked(), "the loop sleeps until the job's deadline");

        // The loop is taken to sleep until earlier than that: commands that arm nothing earlier
        // leave it asleep (a loop that wakes writes the deadline it finds over this one).
        const EARLIER: i64 = 42;
        runtime.inner.armed.store(EARLIER, Ordering::Relaxed);
        for _ in 0..10 {
            runtime.execute("migration ls").expect("works");
            runtime.call(|module, _| module.jobs().count()).expect("works");
            runtime.with_module_mut(|module| module.set_accepts_copies(true));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(armed(), EARLIER, "a command woke the loop with nothing earlier to wait for");

        // The loop is taken to sleep without a deadline: a command wakes it to look.
        runtime.inner.armed.store(i64::MAX, Ordering::Relaxed);
        runtime.execute("migration ls").expect("works");
        assert!(looked() && armed() < i64::MAX, "the command did not wake the loop");
    }

    #[test]
    fn the_system_clock_is_the_wall_clock_to_within_a_tick() {
        let precise = || SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis() as Millis;
        for _ in 0..1_000 {
            let before = precise();
            let now = system_clock();
            let after = precise();
            // A coarse clock lags by a tick: 10 ms at the slowest kernel tick (100 Hz).
            assert!(now <= after && now + 10 >= before, "{now} is not within a tick of {before}..{after}");
        }
    }

    #[test]
    fn a_batch_takes_only_the_inputs_queued_next_for_the_same_module() {
        let a = Runtime::start("pool1", Config::default(), panicky_host(), Options::default()).expect("starts");
        let b = Runtime::start("pool2", Config::default(), panicky_host(), Options::default()).expect("starts");
        let (a_inner, b_inner) = (Arc::clone(&a.inner), Arc::clone(&b.inner));
        let queue: Queue = [
            (Arc::clone(&a_inner), Work::Input(Input::PoolStarted)),
            (Arc::clone(&b_inner), Work::Input(Input::RepositoryLoaded)),
            (Arc::clone(&a_inner), Work::Timeout),
            (Arc::clone(&a_inner), Work::Input(Input::RepositoryLoaded)),
        ]
        .into_iter()
        .collect();
        PUMP.with(|p| *p.borrow_mut() = Some(queue));
        assert!(matches!(next_input_for(&a_inner), Some(Input::PoolStarted)));
        // Another module's input is next: the batch ends, and nothing is taken out of turn.
        assert!(next_input_for(&a_inner).is_none());
        assert!(matches!(next_input_for(&b_inner), Some(Input::RepositoryLoaded)));
        // A timeout is not an input: it is handled in its own step.
        assert!(next_input_for(&a_inner).is_none());
        let left = PUMP.with(|p| p.borrow_mut().take()).expect("still pumping");
        assert_eq!(left.len(), 2);
        a.shutdown();
        b.shutdown();
    }

    #[test]
    fn a_scan_that_panics_fails_its_job_instead_of_leaving_it_initializing() {
        let repository = crate::test_util::MisbehavingRepository { scan_panics: true, ..Default::default() };
        let host = Host { repository: Arc::new(repository), ..panicky_host() };
        let runtime = Runtime::start("pool1", Config::default(), host, Options::default()).expect("starts");
        runtime.pool_started();
        runtime.execute("migration copy pool2").expect("works");
        let started = Instant::now();
        let mut info = runtime.execute("migration info 1").expect("the job");
        while !info.contains("FAILED") && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
            info = runtime.execute("migration info 1").expect("the job");
        }
        assert!(info.contains("State      : FAILED"), "{info}");
        assert!(info.contains("Repository scan failed: the scan panicked: the host's index is corrupt"), "{info}");
        runtime.shutdown();
    }

    /// §3.2: a cancelled job's scan stops early (within the 1 024 replicas between two looks
    /// at whether it is still wanted), instead of reading the whole repository first.
    #[test]
    fn cancelling_a_job_stops_its_scan() {
        use std::sync::atomic::Ordering::Relaxed;
        const REPLICAS: usize = 20_000;
        let repository = Arc::new(crate::test_util::MisbehavingRepository {
            scan_delay: Some(Duration::from_micros(100)),
            ..Default::default()
        });
        for i in 0..REPLICAS {
            let id = format!("{i:024X}");
            let entry = crate::driver::sim::replica(&id, crate::replica::ReplicaState::Cached, 1, 0, vec![]);
            repository.replicas.insert(entry);
        }
        let host = Host { repository: Arc::clone(&repository) as Arc<dyn crate::host::Repository>, ..panicky_host() };
        let runtime = Runtime::start("pool1", Config::default(), host, Options::default()).expect("starts");
        runtime.pool_started();
        runtime.execute("migration copy pool2").expect("works");
        let started = Instant::now();
        while repository.scanned.load(Relaxed) == 0 && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        runtime.execute("migration cancel 1").expect("cancelled");
        let mut info = runtime.execute("migration info 1").expect("the job");
        while !info.contains("CANCELLED") && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(10));
            info = runtime.execute("migration info 1").expect("the job");
        }
        assert!(info.contains("State      : CANCELLED"), "{info}");
        let scanned = repository.scanned.load(Relaxed);
        assert!(scanned < 3 * 1024, "the scan stopped after {scanned} of {REPLICAS} replicas");
        runtime.shutdown();
    }

    /// Records the messages a module sends.
    struct Sent(Arc<Mutex<Vec<Vec<u8>>>>);
    impl Transport for Sent {
        fn send(&self, _: &str, message: Vec<u8>, _: Option<Completion<Vec<u8>>>) {
            self.0.lock().push(message);
        }
    }

    #[test]
    fn a_checksum_verification_that_panics_fails_its_copy_request_instead_of_leaving_it_waiting() {
        use crate::message::{CopyRequest, Message, decode, encode};
        use crate::replica::ReplicaState;
        // The target holds the replica, so a request that asks for verification verifies it.
        let existing = crate::driver::sim::replica("A", ReplicaState::Cached, 40, 0, vec![]);
        let repository = crate::test_util::MisbehavingRepository { verify_panics: true, ..Default::default() };
        repository.replicas.insert(existing.clone());
        let sent = Arc::new(Mutex::new(Vec::new()));
        let transport = Arc::new(Sent(Arc::clone(&sent)));
        let host = Host { repository: Arc::new(repository), transport, ..panicky_host() };
        let runtime = Runtime::start("pool2", Config::default(), host, Options::default()).expect("starts");
        runtime.pool_started();
        let request = CopyRequest {
            uuid: RequestId(7),
            source: "pool1".into(),
            attributes: existing.attributes(),
            state: ReplicaState::Cached,
            sticky: vec![],
            verify: true,
            force_source_mode: false,
            atime: None,
            meta_only: false,
        };
        runtime.deliver("pool1", encode(&Message::Copy(request)), None);
        let finished = || {
            sent.lock().iter().find_map(|bytes| match decode::<Message>(bytes) {
                Ok(Message::CopyFinished { rc, error, .. }) => Some((rc, error)),
                _ => None,
            })
        };
        let started = Instant::now();
        while finished().is_none() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let (rc, error) = finished().expect("the request finished");
        assert_eq!(rc, ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION);
        let error = error.expect("an error text");
        assert!(error.contains("the checksum verification panicked: the checksum module is broken"), "{error}");
        runtime.shutdown();
    }

    /// Answers every pool query with the pools asked for, online; knows no file's locations.
    struct Pools;
    impl PoolManager for Pools {
        fn pools(&self, selection: PoolSelection, done: Completion<PoolList>) {
            let names = match selection {
                PoolSelection::Names(names) => names,
                _ => Vec::new(),
            };
            let online =
                |n| crate::pool_info::PoolInfo::Online(crate::pool_info::PoolCostInfo::simple(n, 1 << 40, 1 << 39, 0));
            done.complete(Ok(PoolList { pools: names.into_iter().map(online).collect() }));
        }
        fn groups_of(&self, _: &str, done: Completion<Vec<String>>) {
            done.complete(Ok(Vec::new()));
        }
    }
    impl PnfsManager for Pools {
        fn cache_locations(&self, _: PnfsId, done: Completion<Vec<String>>) {
            done.complete(Ok(Vec::new()));
        }
    }

    /// Records the messages a module sends, and keeps their requests waiting for an answer.
    struct Unanswered(Arc<Mutex<Vec<Vec<u8>>>>, Mutex<Vec<Completion<Vec<u8>>>>);
    impl Transport for Unanswered {
        fn send(&self, _: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
            self.0.lock().push(message);
            self.1.lock().extend(reply);
        }
    }

    #[test]
    fn a_module_shut_down_from_inside_a_callback_still_tells_its_targets() {
        use crate::message::{Message, decode};
        use crate::replica::ReplicaState;
        let repository = MemoryRepository::new();
        repository.insert(crate::driver::sim::replica("A", ReplicaState::Cached, 40, 0, vec![]));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let host = Host {
            repository: Arc::new(repository),
            pool_manager: Arc::new(Pools),
            pnfs_manager: Arc::new(Pools),
            transport: Arc::new(Unanswered(Arc::clone(&sent), Mutex::new(Vec::new()))),
            ..panicky_host()
        };
        let runtime = Runtime::start("pool1", Config::default(), host, Options::default()).expect("starts");
        runtime.pool_started();
        runtime.execute("migration move pool2").expect("works");
        let sent_one = |wanted: fn(&Message) -> bool| {
            sent.lock().iter().any(|bytes| decode::<Message>(bytes).is_ok_and(|m| wanted(&m)))
        };
        let started = Instant::now();
        while !sent_one(|m| matches!(m, Message::Copy(_))) {
            assert!(started.elapsed() < Duration::from_secs(20), "no copy request was sent");
            std::thread::sleep(Duration::from_millis(5));
        }
        // This thread is inside a host callback of another module: it is driving that module,
        // and work handed to `drive` would wait in its queue.
        PUMP.with(|p| *p.borrow_mut() = Some(VecDeque::new()));
        runtime.shutdown();
        let left = PUMP.with(|p| p.borrow_mut().take()).expect("the outer loop's queue is back");
        assert!(left.is_empty(), "the shutdown left its work in the outer queue, where it would be dropped");
        assert!(sent_one(|m| matches!(m, Message::Cancel { .. })), "the target was not told to drop its transfer");
    }

    /// Records what it sends; when it sends a cancel, runs a command on its own module, as a
    /// host thread might while the pool shuts down.
    struct CommandDuringCancel {
        sent: Arc<Mutex<Vec<Vec<u8>>>>,
        runtime: Arc<std::sync::OnceLock<std::sync::Weak<Runtime>>>,
        answer: Arc<Mutex<Option<Result<String, Error>>>>,
        /// Requests kept waiting, as [`Unanswered`] keeps them: the copy stays under way.
        waiting: Mutex<Vec<Completion<Vec<u8>>>>,
    }
    impl Transport for CommandDuringCancel {
        fn send(&self, _: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
            use crate::message::{Message, decode};
            let cancel = matches!(decode::<Message>(&message), Ok(Message::Cancel { .. }));
            self.sent.lock().push(message);
            self.waiting.lock().extend(reply);
            if cancel && let Some(runtime) = self.runtime.get().and_then(std::sync::Weak::upgrade) {
                let answer = runtime.execute("migration copy pool2");
                self.answer.lock().get_or_insert(answer);
            }
        }
    }

    /// A command that arrives while the shutdown sends its cancels is refused: accepted, its
    /// job would start after the jobs were cancelled, and nothing would cancel it.
    #[test]
    fn a_command_during_shutdown_is_refused() {
        use crate::message::{Message, decode};
        use crate::replica::ReplicaState;
        let repository = MemoryRepository::new();
        repository.insert(crate::driver::sim::replica("A", ReplicaState::Cached, 40, 0, vec![]));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let handle = Arc::new(std::sync::OnceLock::new());
        let answer = Arc::new(Mutex::new(None));
        let transport = CommandDuringCancel {
            sent: Arc::clone(&sent),
            runtime: Arc::clone(&handle),
            answer: Arc::clone(&answer),
            waiting: Mutex::new(Vec::new()),
        };
        let host = Host {
            repository: Arc::new(repository),
            pool_manager: Arc::new(Pools),
            pnfs_manager: Arc::new(Pools),
            transport: Arc::new(transport),
            ..panicky_host()
        };
        let runtime = Arc::new(Runtime::start("pool1", Config::default(), host, Options::default()).expect("starts"));
        handle.set(Arc::downgrade(&runtime)).expect("set once");
        runtime.pool_started();
        runtime.execute("migration move pool2").expect("works");
        assert!(wait_for(|| sent.lock().iter().any(|b| matches!(decode::<Message>(b), Ok(Message::Copy(_))))));
        runtime.shutdown();
        let answer = answer.lock().take().expect("the command ran during the shutdown");
        assert_eq!(answer.map_err(|e| e.kind), Err(ErrorKind::Closed));
    }

    /// Waits up to 20 s for `done`.
    fn wait_for(done: impl Fn() -> bool) -> bool {
        let started = Instant::now();
        while !done() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        done()
    }

    #[test]
    fn a_host_callback_that_panics_fails_what_waited_for_it_and_the_work_queued_behind_goes_on() {
        // The pnfs manager panics when asked for a file's locations, with the completion in
        // its hands: the task waiting for the answer fails with the dropped completion's text.
        let repository = MemoryRepository::new();
        repository.insert(crate::driver::sim::replica("A", crate::replica::ReplicaState::Cached, 40, 0, vec![]));
        let host = Host { repository: Arc::new(repository), pool_manager: Arc::new(Pools), ..panicky_host() };
        let runtime = Runtime::start("pool1", Config::default(), host, Options::default()).expect("starts");
        runtime.pool_started();
        runtime.execute("migration copy pool2").expect("the panic does not reach the command");
        let info = || runtime.execute("migration info 1").expect("the job");
        assert!(wait_for(|| info().contains("the host dropped the request without answering")), "{}", info());
        // The thread that ran the callback is not left looking like it drives a module (its
        // later work would be queued and never handled).
        assert!(PUMP.with(|p| p.borrow().is_none()));
        assert_eq!(
            runtime.execute("migration get concurrency-default").expect("works"),
            "Current default concurrency: 1"
        );
        runtime.shutdown();
    }

    #[test]
    fn the_effects_after_one_whose_callback_panics_still_run() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let host = Host { transport: Arc::new(Sent(Arc::clone(&sent))), ..panicky_host() };
        let runtime = Runtime::start("pool1", Config::default(), host, Options::default()).expect("starts");
        let query =
            Effect::QueryLocations { token: crate::effect::Token(1), pnfsid: PnfsId::parse("1").expect("valid") };
        let message = Effect::Send { to: "pool2".into(), message: b"after".to_vec(), token: None };
        drive(&runtime.inner, Work::Effects(vec![query, message]));
        assert_eq!(*sent.lock(), vec![b"after".to_vec()], "the send after the panicking query was dropped");
        assert!(PUMP.with(|p| p.borrow().is_none()));
        runtime.shutdown();
    }

    #[test]
    fn a_repository_read_that_panics_refuses_its_copy_request_instead_of_leaving_it_registered() {
        use crate::message::{CopyRequest, Message, Reply, decode, encode};
        use crate::replica::ReplicaState;
        let repository = crate::test_util::MisbehavingRepository { read_panics: true, ..Default::default() };
        let runtime = Runtime::start(
            "pool2",
            Config::default(),
            Host { repository: Arc::new(repository), ..panicky_host() },
            Options::default(),
        )
        .expect("starts");
        runtime.pool_started();
        let request = CopyRequest {
            uuid: RequestId(7),
            source: "pool1".into(),
            attributes: crate::driver::sim::replica("A", ReplicaState::Cached, 40, 0, vec![]).attributes(),
            state: ReplicaState::Cached,
            sticky: vec![],
            verify: false,
            force_source_mode: false,
            atime: None,
            meta_only: false,
        };
        let answer = Arc::new(Mutex::new(None));
        let answered = Arc::clone(&answer);
        let reply = Completion::new(move |outcome: Outcome<Vec<u8>>| *answered.lock() = Some(outcome));
        runtime.deliver("pool1", encode(&Message::Copy(request)), Some(reply));
        assert!(wait_for(|| answer.lock().is_some()), "the request was not answered");
        let bytes = answer.lock().take().expect("answered").expect("a reply message");
        let Ok(Reply::Error { code, message }) = decode::<Reply>(&bytes) else { panic!("not a refusal") };
        assert_eq!(code, ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION);
        assert_eq!(message, "the repository's read panicked: the repository's database is gone");
        assert_eq!(runtime.with_module(Module::server_requests), 0, "nothing left registered for pings to find");
        runtime.shutdown();
    }
}
