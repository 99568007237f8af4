//! The p2p client of a pool: pulls a replica from another pool's data file into a new
//! replica, on the cluster's transfer threads (never on the caller's thread).
//!
//! The bytes are read once: each buffer is added to the ADLER32 and written to the target's
//! temporary file. The sum is compared with the checksum the namespace recorded when the
//! file was created; a mismatch fails the transfer with `FILE_CORRUPTED` (10004) and leaves
//! the source replica alone. A transfer checks between buffers whether it was cancelled.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::thread::JoinHandle;

use migration_core::driver::runtime::Clock;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{self, Completion, P2pRequest};
use migration_core::message::RequestId;
use migration_core::replica::{Checksum, ReplicaEntry};
use parking_lot::Mutex;

use crate::adler32::Adler32;
use crate::namespace::PnfsManager;
use crate::pool::{PoolMode, PoolNode, Registry};
use crate::repository::{BUFFER, ReserveError, adler32_of};

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// On a transfer thread: which [`TransferPool`] it serves (the address of the pool's
    /// receiver; 0 elsewhere) and the job it runs next, before it looks at the queue.
    static NEXT: (std::cell::Cell<usize>, std::cell::RefCell<Option<Job>>) =
        const { (std::cell::Cell::new(0), std::cell::RefCell::new(None)) };
}

/// Threads that run transfers: they are started when every thread is busy, up to a limit,
/// so a job's concurrency decides how many transfers run at once.
pub struct TransferPool {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Threads waiting for a job.
    idle: Arc<AtomicUsize>,
    /// Jobs queued and not yet taken by a thread.
    pending: Arc<AtomicUsize>,
    max: usize,
}

impl TransferPool {
    /// A pool of at most `max` threads (none started yet).
    pub fn new(max: usize) -> Arc<TransferPool> {
        let (sender, receiver) = mpsc::channel();
        Arc::new(TransferPool {
            sender: Mutex::new(Some(sender)),
            receiver: Arc::new(Mutex::new(receiver)),
            threads: Mutex::new(Vec::new()),
            idle: Arc::new(AtomicUsize::new(0)),
            pending: Arc::new(AtomicUsize::new(0)),
            max: max.max(1),
        })
    }

    /// Runs `job` on a transfer thread. After [`TransferPool::stop`] the job is dropped.
    ///
    /// A job spawned by a job of this pool (a finished transfer whose answer, delivered on
    /// its thread, led the source to ask for the next file) runs next on the same thread,
    /// once the spawning job ends, when no job is queued and the thread has none kept yet.
    /// Handing it to an idle thread instead would cost a wake-up and a context switch for
    /// every file, while the spawning thread goes to sleep with nothing left to do. Behind
    /// queued jobs it queues too: first come, first served, so that a job with more
    /// transfers than threads cannot keep its oldest waiting while newer ones jump ahead.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        let Some(sender) = self.sender.lock().clone() else { return };
        let job: Job = Box::new(job);
        let Some(job) = self.keep_for_this_thread(job) else { return };
        let mut threads = self.threads.lock();
        // More jobs waiting than threads waiting: one more thread, up to the limit.
        let pending = self.pending.fetch_add(1, Ordering::AcqRel) + 1;
        if pending > self.idle.load(Ordering::Acquire) && threads.len() < self.max {
            let (receiver, idle, queued) =
                (Arc::clone(&self.receiver), Arc::clone(&self.idle), Arc::clone(&self.pending));
            let name = format!("p2p-{}", threads.len() + 1);
            match std::thread::Builder::new().name(name).spawn(move || worker(&receiver, &idle, &queued)) {
                Ok(thread) => threads.push(thread),
                Err(e) => tracing::error!(target: "minidcache", "cannot start a transfer thread: {e}"),
            }
        }
        drop(threads);
        if sender.send(job).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Keeps `job` as the calling thread's next one if the thread is one of this pool's, has
    /// none yet and no job is queued; gives it back otherwise.
    fn keep_for_this_thread(&self, job: Job) -> Option<Job> {
        NEXT.with(|(pool, next)| {
            let mut next = next.borrow_mut();
            if pool.get() != self.id() || next.is_some() || self.pending.load(Ordering::Acquire) > 0 {
                return Some(job);
            }
            *next = Some(job);
            None
        })
    }

    fn id(&self) -> usize {
        pool_id(&self.receiver)
    }

    /// Lets the threads finish what is queued, then joins them. Safe to call more than once.
    pub fn stop(&self) {
        self.sender.lock().take();
        let threads = std::mem::take(&mut *self.threads.lock());
        for thread in threads {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// What a transfer thread knows its pool by: the address of the queue's receiver, which the
/// pool and its threads share for as long as any of them lives.
fn pool_id(receiver: &Arc<Mutex<mpsc::Receiver<Job>>>) -> usize {
    Arc::as_ptr(receiver) as usize
}

fn worker(receiver: &Arc<Mutex<mpsc::Receiver<Job>>>, idle: &AtomicUsize, pending: &AtomicUsize) {
    crate::priority::run_in_background();
    crate::transport::deliver_on_this_thread();
    NEXT.with(|(pool, _)| pool.set(pool_id(receiver)));
    loop {
        let job = match NEXT.with(|(_, next)| next.borrow_mut().take()) {
            Some(job) => job,
            None => {
                idle.fetch_add(1, Ordering::AcqRel);
                let job = receiver.lock().recv();
                idle.fetch_sub(1, Ordering::AcqRel);
                let Ok(job) = job else { return };
                pending.fetch_sub(1, Ordering::AcqRel);
                job
            }
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!(target: "minidcache", "a transfer panicked");
        }
    }
}

/// Transfers under way on one pool, by request, with their cancel flags and source pools.
type Running = Mutex<HashMap<RequestId, (Arc<AtomicBool>, migration_core::PoolName)>>;

struct Inner {
    pool: String,
    /// The pool this client belongs to: one start of it. A transfer still queued when the
    /// pool stopped must not land in the pool's next start.
    node: Weak<PoolNode>,
    registry: Arc<Registry>,
    namespace: Arc<PnfsManager>,
    clock: Clock,
    running: Running,
}

/// The p2p client of one pool (the target of the transfers it runs).
pub struct P2pClient {
    inner: Arc<Inner>,
    transfers: Arc<TransferPool>,
}

fn failure(code: ReturnCode, text: impl Into<String>) -> Failure {
    Failure::error(code, text)
}

/// Counts a transfer on a pool's queue while it runs.
struct Active<'a>(&'a std::sync::atomic::AtomicU32);

impl<'a> Active<'a> {
    fn new(counter: &'a std::sync::atomic::AtomicU32) -> Active<'a> {
        counter.fetch_add(1, Ordering::AcqRel);
        Active(counter)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Copies `input` to `output`, adding every byte to an ADLER32; returns the sum and the
/// length. `cancelled` is checked between buffers.
pub fn copy_with_checksum(
    input: &mut impl Read,
    size_hint: u64,
    output: &mut impl Write,
    cancelled: &AtomicBool,
) -> Result<(Adler32, u64), Failure> {
    let io = |e: std::io::Error| failure(ReturnCode::ERROR_IO_DISK, format!("I/O error: {e}"));
    // One read past the end tells that the file is complete.
    let mut buffer = vec![0u8; (size_hint as usize).saturating_add(1).clamp(4096, BUFFER)];
    let mut sum = Adler32::new();
    let mut total = 0u64;
    loop {
        if cancelled.load(Ordering::Acquire) {
            return Err(failure(ReturnCode::DEFAULT_ERROR_CODE, "Transfer was cancelled"));
        }
        let n = input.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        sum.update(&buffer[..n]);
        output.write_all(&buffer[..n]).map_err(io)?;
        total += n as u64;
    }
    Ok((sum, total))
}

impl Inner {
    fn transfer(&self, request: &P2pRequest, cancelled: &AtomicBool) -> Result<(), Failure> {
        let pnfsid = request.attributes.pnfsid;
        let target = self.node.upgrade().filter(|n| n.is_running()).ok_or(Failure::NoRoute)?;
        // An unknown or stopped source cannot be reached at all.
        let source = self.registry.running(&request.source).ok_or(Failure::NoRoute)?;
        // A -strict pool does not serve p2p; a -rdonly one still does.
        if source.mode() == PoolMode::Strict && !request.force_source_mode {
            return Err(failure(ReturnCode::POOL_DISABLED, "Pool is disabled"));
        }
        let opened = source.repository.open_data(&pnfsid).map_err(|e| {
            failure(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, format!("Pool {} cannot read {pnfsid}: {e}", source.name))
        })?;
        // dCache's source pool answers a missing (or unreadable) replica with
        // FileNotInCacheException, return code 10007.
        let Some((original, mut input)) = opened else {
            return Err(failure(
                ReturnCode::FILE_NOT_IN_REPOSITORY,
                format!("Pool {} does not contain {pnfsid}", request.source),
            ));
        };
        let reservation = target.repository.reserve(pnfsid, original.size, target.capacity()).map_err(|e| match e {
            ReserveError::Exists => failure(ReturnCode::FILE_IN_CACHE, "Replica already exists"),
            ReserveError::Full => {
                failure(ReturnCode::ERROR_IO_DISK, format!("Pool {} has no space for {pnfsid}", self.pool))
            }
            ReserveError::Io(e) => failure(ReturnCode::ERROR_IO_DISK, format!("Cannot create {pnfsid}: {e}")),
        })?;
        let (_serving, _receiving) = (Active::new(&source.counters.serving), Active::new(&target.counters.receiving));
        let copied = copy_with_checksum(&mut input, original.size, &mut reservation.file(), cancelled);
        // A source stopped under way is a broken connection to it, not a cancel.
        let (sum, length) = copied.map_err(|f| if source.is_running() { f } else { Failure::NoRoute })?;
        if length != original.size {
            return Err(failure(
                ReturnCode::FILE_CORRUPTED,
                format!("Size mismatch: {length} bytes read from {}, {} expected", source.name, original.size),
            ));
        }
        // The namespace's checksum is the truth; the source's record is the fallback.
        let recorded = self.namespace.file(&pnfsid).map(|f| f.attributes.checksums).unwrap_or_default();
        let checksums = if adler32_of(&recorded).is_some() { recorded } else { original.checksums.clone() };
        let actual = sum.hex();
        let checksums = match adler32_of(&checksums) {
            Some(expected) if !expected.eq_ignore_ascii_case(&actual) => {
                return Err(failure(
                    ReturnCode::FILE_CORRUPTED,
                    format!(
                        "Checksum mismatch: ADLER32 of the copy from {} is {actual}, expected {expected}",
                        source.name
                    ),
                ));
            }
            Some(_) => checksums,
            None => {
                let mut known = checksums;
                known.push(Checksum { kind: "ADLER32".to_string(), value: actual });
                known
            }
        };
        if cancelled.load(Ordering::Acquire) {
            return Err(failure(ReturnCode::DEFAULT_ERROR_CODE, "Transfer was cancelled"));
        }
        let a = &request.attributes;
        let entry = ReplicaEntry {
            pnfsid,
            state: request.state,
            // One record per owner, as `rep set sticky` would leave them: a list naming an
            // owner twice kept both in memory while the database's row per owner kept the
            // last, so a restart changed the replica's records.
            sticky: migration_core::replica::sticky_as_applied(request.state, &request.sticky),
            size: original.size,
            last_access: request.atime.unwrap_or_else(|| (self.clock)()),
            storage_class: a.storage_class.clone().or(original.storage_class),
            cache_class: a.cache_class.clone().or(original.cache_class),
            access_latency: a.access_latency.or(original.access_latency),
            retention_policy: a.retention_policy.or(original.retention_policy),
            checksums,
        };
        target
            .repository
            .commit(vec![(reservation, entry)])
            .map_err(|e| failure(ReturnCode::ERROR_IO_DISK, format!("Cannot store {pnfsid}: {e}")))?;
        target.counters.received(length);
        source.counters.served(length);
        Ok(())
    }
}

impl P2pClient {
    /// The client of `node` (one start of a pool), running transfers on `transfers`.
    pub fn new(
        node: &Arc<PoolNode>,
        registry: Arc<Registry>,
        namespace: Arc<PnfsManager>,
        clock: Clock,
        transfers: Arc<TransferPool>,
    ) -> P2pClient {
        let inner = Inner {
            pool: node.name.clone(),
            node: Arc::downgrade(node),
            registry,
            namespace,
            clock,
            running: Mutex::new(HashMap::new()),
        };
        P2pClient { inner: Arc::new(inner), transfers }
    }

    /// Cancels every transfer under way (the pool stops).
    pub fn cancel_all(&self) {
        for (flag, _) in self.inner.running.lock().values() {
            flag.store(true, Ordering::Release);
        }
    }

    /// Cancels the transfers that read from `source` (that pool stops).
    pub fn cancel_from(&self, source: &str) {
        for (flag, _) in self.inner.running.lock().values().filter(|(_, s)| **s == *source) {
            flag.store(true, Ordering::Release);
        }
    }

    /// Transfers under way (queued or running), all of them or those reading from `source`.
    pub fn running(&self, source: Option<&str>) -> usize {
        self.inner.running.lock().values().filter(|(_, s)| source.is_none_or(|source| **s == *source)).count()
    }
}

impl host::P2p for P2pClient {
    fn start(&self, request: P2pRequest, done: Completion<()>) {
        let cancelled = Arc::new(AtomicBool::new(false));
        self.inner.running.lock().insert(request.id, (Arc::clone(&cancelled), request.source.clone()));
        let inner = Arc::clone(&self.inner);
        self.transfers.spawn(move || {
            // Caught here rather than only by the worker, so that the transfer still leaves
            // the list of those under way: left there, a stop of either pool would wait its
            // whole timeout for it, and the task learns why it failed.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.transfer(&request, &cancelled)))
                .unwrap_or_else(|panic| {
                    let why = migration_core::error::panic_message(&*panic).unwrap_or("no message");
                    Err(failure(ReturnCode::UNEXPECTED_SYSTEM_EXCEPTION, format!("The transfer panicked: {why}")))
                });
            inner.running.lock().remove(&request.id);
            if let Err(failure) = &outcome {
                tracing::debug!(target: "minidcache", pool = %inner.pool, pnfsid = %request.attributes.pnfsid, "p2p failed: {failure}");
            }
            done.complete(outcome);
        });
    }

    fn cancel(&self, id: RequestId) {
        if let Some((flag, _)) = self.inner.running.lock().get(&id) {
            flag.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn a_copy_sums_what_it_writes_and_stops_when_cancelled() {
        let data: Vec<u8> = (0..3 * BUFFER as u32 + 5).map(|i| (i % 253) as u8).collect();
        let mut out = Vec::new();
        let (sum, len) =
            copy_with_checksum(&mut data.as_slice(), 10, &mut out, &AtomicBool::new(false)).expect("copied");
        assert_eq!((sum.value(), len), (crate::adler32::adler32(&data), data.len() as u64));
        assert_eq!(out, data);
        let refused = copy_with_checksum(&mut data.as_slice(), 10, &mut Vec::new(), &AtomicBool::new(true));
        assert_eq!(refused.err(), Some(failure(ReturnCode::DEFAULT_ERROR_CODE, "Transfer was cancelled")));
    }

    #[test]
    fn transfers_run_side_by_side_on_their_own_threads() {
        let pool = TransferPool::new(4);
        // Four jobs that can only finish together: they must run at the same time.
        let barrier = Arc::new(Barrier::new(5));
        let caller = std::thread::current().id();
        let (tx, rx) = mpsc::channel();
        for _ in 0..4 {
            let (barrier, tx) = (Arc::clone(&barrier), tx.clone());
            pool.spawn(move || {
                barrier.wait();
                tx.send(std::thread::current().id() != caller).expect("receiver");
            });
        }
        barrier.wait();
        assert!((0..4).all(|_| rx.recv().expect("done")));
        pool.stop();
    }

    #[test]
    fn a_job_spawned_by_a_job_runs_next_on_its_thread_and_a_second_one_is_queued() {
        let pool = TransferPool::new(4);
        let (tx, rx) = mpsc::channel();
        let spawner = Arc::clone(&pool);
        pool.spawn(move || {
            let first_ended = Arc::new(AtomicBool::new(false));
            let me = std::thread::current().id();
            let (ended, next) = (Arc::clone(&first_ended), tx.clone());
            spawner.spawn(move || {
                let (same_thread, after_it) = (std::thread::current().id() == me, ended.load(Ordering::Acquire));
                next.send(("next", Some((same_thread, after_it)))).expect("receiver");
            });
            // The thread's next job is taken: this one waits in the queue for any thread.
            let queued = tx.clone();
            spawner.spawn(move || queued.send(("queued", None)).expect("receiver"));
            // The job kept for this thread cannot start before this one has ended.
            std::thread::sleep(std::time::Duration::from_millis(20));
            first_ended.store(true, Ordering::Release);
        });
        let mut seen: Vec<_> = (0..2).map(|_| rx.recv().expect("both ran")).collect();
        seen.sort();
        assert_eq!(seen, [("next", Some((true, true))), ("queued", None)]);
        pool.stop();
    }

    #[test]
    fn a_job_spawned_by_a_job_waits_behind_the_queued_ones() {
        let pool = TransferPool::new(1);
        let (order, ran) = mpsc::channel();
        let runs = Arc::new(Barrier::new(2));
        let (spawner, log, queued) = (Arc::clone(&pool), order.clone(), Arc::clone(&runs));
        pool.spawn(move || {
            log.send("first").expect("receiver");
            // The one thread is busy: the test's second job waits in the queue.
            queued.wait();
            queued.wait();
            spawner.spawn(move || log.send("spawned by the first").expect("receiver"));
        });
        runs.wait();
        pool.spawn(move || order.send("queued before").expect("receiver"));
        runs.wait();
        let seen: Vec<_> = (0..3).map(|_| ran.recv().expect("all three ran")).collect();
        assert_eq!(seen, ["first", "queued before", "spawned by the first"]);
        pool.stop();
    }
}
