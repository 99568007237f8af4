//! Instant in-process hosts for the production [`Runtime`]: two pools, `src` (a
//! [`BenchRepository`]) and `dst` (an empty repository), whose services answer inside the
//! call: the pool manager, the namespace (every file is on `src`), the pin manager, a p2p
//! client that completes at once without data, and a transport that hands the bytes straight
//! to the other pool's runtime. What is left is the module's own orchestration.
//!
//! With a [`Latency`], the same services answer late, as a real pool's do: every message is
//! delivered, and every query and reply answered, a fixed time later, and a p2p transfer takes
//! its own fixed time ([`crate::latency`]).

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use migration_core::driver::runtime::{Options, Runtime};
use migration_core::error::Failure;
use migration_core::host::{
    Completion, Host, P2p, P2pRequest, PinManager, PinMove, PnfsManager, PoolList, PoolManager, PoolSelection,
    Repository, RepositoryError, Transport,
};
use migration_core::job::JobState;
use migration_core::message::RequestId;
use migration_core::pnfsid::PnfsId;
use migration_core::pool_info::{PoolCostInfo, PoolInfo};
use migration_core::replica::{ReplicaEntry, ReplicaState, StickyRecord};
use migration_core::{Config, PoolName};

use crate::repo::BenchRepository;

/// How late the services answer.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    /// A message's delivery, a reply's, and a namespace or pool-manager answer.
    pub message: Duration,
    /// A pool-to-pool transfer.
    pub p2p: Duration,
}

/// The two runtimes, as the transport finds them.
#[derive(Default)]
struct Net {
    src: OnceLock<Weak<Runtime>>,
    dst: OnceLock<Weak<Runtime>>,
    /// Transfers that may still complete at once; the others wait in `held` (to start a job
    /// and fill its queue before the clock starts, and to stop after a number of files).
    budget: std::sync::atomic::AtomicI64,
    held: parking_lot::Mutex<Vec<Completion<()>>>,
    /// Late answers, when the services have a latency.
    late: Option<(Latency, Delayer)>,
}

impl Net {
    /// Runs `f` now, or a message latency later.
    fn after_message(&self, f: impl FnOnce() + Send + 'static) {
        match &self.late {
            Some((latency, delayer)) => delayer.after(latency.message, f),
            None => f(),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// How long before a delayed answer is due the latency thread stops sleeping and spins.
const SPIN: Duration = Duration::from_micros(300);

/// Runs closures at their time on one thread of its own. A plain thread rather than tokio's
/// timers, whose 1 ms granularity would add up to a millisecond to every 1 ms delay.
#[derive(Clone)]
struct Delayer {
    queue: Arc<(parking_lot::Mutex<Delayed>, parking_lot::Condvar)>,
}

#[derive(Default)]
struct Delayed {
    due: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, u64)>>,
    jobs: std::collections::HashMap<u64, Job>,
    next: u64,
    closed: bool,
}

impl Delayer {
    fn start() -> Delayer {
        let delayer =
            Delayer { queue: Arc::new((parking_lot::Mutex::new(Delayed::default()), parking_lot::Condvar::new())) };
        let queue = Arc::clone(&delayer.queue);
        std::thread::Builder::new()
            .name("bench-latency".into())
            .spawn(move || {
                let (lock, wake) = &*queue;
                let mut delayed = lock.lock();
                while !delayed.closed {
                    let now = Instant::now();
                    match delayed.due.peek().map(|r| r.0) {
                        Some((at, id)) if at <= now => {
                            delayed.due.pop();
                            let job = delayed.jobs.remove(&id).expect("a job per entry");
                            drop(delayed);
                            job();
                            delayed = lock.lock();
                        }
                        // A sleeping thread wakes some 50-500 µs late, a tenth of a 1 ms
                        // delay: it sleeps until shortly before, and spins the rest.
                        Some((at, _)) if at - now > SPIN => {
                            wake.wait_for(&mut delayed, at - now - SPIN);
                        }
                        Some(_) => {
                            drop(delayed);
                            std::hint::spin_loop();
                            std::thread::yield_now();
                            delayed = lock.lock();
                        }
                        None => wake.wait(&mut delayed),
                    }
                }
            })
            .expect("the latency thread starts");
        delayer
    }

    fn after(&self, delay: Duration, f: impl FnOnce() + Send + 'static) {
        let (lock, wake) = &*self.queue;
        let mut delayed = lock.lock();
        let id = delayed.next;
        delayed.next += 1;
        delayed.due.push(std::cmp::Reverse((Instant::now() + delay, id)));
        delayed.jobs.insert(id, Box::new(f));
        wake.notify_one();
    }

    fn close(&self) {
        let (lock, wake) = &*self.queue;
        let mut delayed = lock.lock();
        delayed.closed = true;
        // Unanswered requests are dropped with the jobs, which reports them as failed.
        delayed.jobs.clear();
        wake.notify_one();
    }
}

impl Net {
    fn get(&self, pool: &str) -> Option<Arc<Runtime>> {
        match pool {
            "src" => self.src.get()?.upgrade(),
            "dst" => self.dst.get()?.upgrade(),
            _ => None,
        }
    }
}

struct Services {
    me: PoolName,
    net: Arc<Net>,
}

impl PoolManager for Services {
    fn pools(&self, selection: PoolSelection, done: Completion<PoolList>) {
        let names = match selection {
            PoolSelection::Names(names) => names,
            _ => Vec::new(),
        };
        let pools = names.into_iter().map(|n| PoolInfo::Online(PoolCostInfo::simple(n, 1 << 50, 1 << 49, 0))).collect();
        self.net.after_message(move || done.complete(Ok(PoolList { pools })));
    }

    fn groups_of(&self, _: &str, done: Completion<Vec<String>>) {
        self.net.after_message(move || done.complete(Ok(Vec::new())));
    }
}

impl PnfsManager for Services {
    fn cache_locations(&self, _: PnfsId, done: Completion<Vec<String>>) {
        self.net.after_message(move || done.complete(Ok(vec!["src".to_string()])));
    }
}

impl Transport for Services {
    fn send(&self, to: &str, message: Vec<u8>, reply: Option<Completion<Vec<u8>>>) {
        let Some(runtime) = self.net.get(to) else {
            if let Some(reply) = reply {
                reply.complete(Err(Failure::NoRoute));
            }
            return;
        };
        if self.net.late.is_none() {
            return runtime.deliver(self.me.clone(), message, reply);
        }
        // The answer travels back as late as the message went.
        let net = Arc::clone(&self.net);
        let reply = reply.map(|reply| Completion::new(move |answer| net.after_message(move || reply.complete(answer))));
        let me = self.me.clone();
        self.net.after_message(move || runtime.deliver(me, message, reply));
    }
}

impl P2p for Services {
    fn start(&self, _: P2pRequest, done: Completion<()>) {
        if let Some((latency, delayer)) = &self.net.late {
            return delayer.after(latency.p2p, move || done.complete(Ok(())));
        }
        if self.net.budget.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) > 0 {
            done.complete(Ok(()));
        } else {
            self.net.held.lock().push(done);
        }
    }

    fn cancel(&self, _: RequestId) {}
}

impl PinManager for Services {
    fn move_pins(&self, _: PinMove, done: Completion<()>) {
        self.net.after_message(move || done.complete(Ok(())));
    }
}

/// The target's repository: it never has the file (the instant p2p keeps no data).
struct Empty;

impl Repository for Empty {
    fn for_each(&self, _: &mut dyn FnMut(&ReplicaEntry) -> bool) -> Result<(), RepositoryError> {
        Ok(())
    }
    fn entry(&self, _: &PnfsId) -> Result<Option<ReplicaEntry>, String> {
        Ok(None)
    }
    fn set_state(&self, _: &PnfsId, _: ReplicaState, _: &str) -> Result<(), RepositoryError> {
        Ok(())
    }
    fn set_sticky(&self, _: &PnfsId, _: &StickyRecord, _: bool) -> Result<(), RepositoryError> {
        Ok(())
    }
    fn verifies_checksums(&self) -> bool {
        true
    }
    fn accepts_copies(&self) -> bool {
        true
    }
    fn verify_checksum(&self, _: &PnfsId) -> Result<(), Failure> {
        Ok(())
    }
}

fn host(me: &'static str, net: &Arc<Net>, repository: Arc<dyn Repository>) -> Host {
    let services = Arc::new(Services { me: PoolName::from(me), net: Arc::clone(net) });
    Host {
        repository,
        pool_manager: services.clone(),
        pnfs_manager: services.clone(),
        transport: services.clone(),
        p2p: services.clone(),
        pin_manager: services,
    }
}

/// Two started pools: `src` with `n` replicas, `dst` empty.
pub struct Pair {
    /// The source pool.
    pub src: Arc<Runtime>,
    /// The target pool.
    pub dst: Arc<Runtime>,
    /// The source's repository.
    pub repo: Arc<BenchRepository>,
    net: Arc<Net>,
}

impl Pair {
    /// Starts both runtimes (2 worker threads each, the default).
    pub fn new(n: u64) -> Pair {
        Pair::start(n, false, None)
    }

    /// As [`Pair::new`], with services that answer late.
    pub fn late(n: u64, latency: Latency) -> Pair {
        Pair::start(n, false, Some(latency))
    }

    /// As [`Pair::new`], with transfers held until [`Pair::release`] lets some through.
    pub fn held(n: u64) -> Pair {
        Pair::start(n, true, None)
    }

    fn start(n: u64, hold: bool, latency: Option<Latency>) -> Pair {
        let net = Arc::new(Net { late: latency.map(|l| (l, Delayer::start())), ..Net::default() });
        net.budget.store(if hold { 0 } else { i64::MAX }, std::sync::atomic::Ordering::SeqCst);
        let repo = Arc::new(BenchRepository::new(n));
        let options = || Options { seed: Some(7), ..Options::default() };
        let src = Runtime::start("src", Config::default(), host("src", &net, repo.clone()), options());
        let dst = Runtime::start("dst", Config::default(), host("dst", &net, Arc::new(Empty)), options());
        let src = Arc::new(src.expect("the source starts"));
        let dst = Arc::new(dst.expect("the target starts"));
        let _ = net.src.set(Arc::downgrade(&src));
        let _ = net.dst.set(Arc::downgrade(&dst));
        // The repository reports deletions (the source mode of a move) like a pool's does.
        let weak = Arc::downgrade(&src);
        repo.set_listener(move |event| {
            if let Some(src) = weak.upgrade() {
                src.repository_event(event);
            }
        });
        src.pool_started();
        dst.pool_started();
        Pair { src, dst, repo, net }
    }

    /// Transfers held now.
    pub fn holding(&self) -> usize {
        self.net.held.lock().len()
    }

    /// Lets `files` transfers complete (the held ones first); later ones are held again.
    /// The work this causes runs on this thread until the budget is spent.
    pub fn release(&self, files: u64) {
        let held = std::mem::take(&mut *self.net.held.lock());
        let budget = i64::try_from(files).unwrap_or(i64::MAX) - held.len() as i64;
        self.net.budget.store(budget, std::sync::atomic::Ordering::SeqCst);
        for done in held {
            done.complete(Ok(()));
        }
    }

    /// The state of job `id` on the source.
    pub fn state(&self, id: &str) -> Option<JobState> {
        self.src.with_module(|m| m.job(id).map(|j| j.state()))
    }

    /// Completed files of job `id`.
    pub fn completed(&self, id: &str) -> u64 {
        self.src.with_module(|m| m.job(id).map_or(0, |j| j.statistics().completed_files))
    }

    /// Waits until `done` holds, polling every 0.2 ms; panics after `limit`.
    pub fn wait(&self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) {
        let t0 = Instant::now();
        while !done(self) {
            assert!(t0.elapsed() < limit, "the benchmark did not finish within {limit:?}");
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Files per second of `migration move -concurrency=<concurrency> dst` of every file on
    /// `src`, from the command to FINISHED; checks that every file moved, then stops both.
    pub fn move_rate(self, concurrency: u32) -> f64 {
        let files = self.repo.live();
        let t0 = Instant::now();
        self.src.execute(&format!("migration move -concurrency={concurrency} dst")).expect("the job starts");
        self.wait(Duration::from_secs(600), |p| p.state("1").is_some_and(|s| s.is_terminal()));
        let elapsed = t0.elapsed().as_secs_f64();
        assert_eq!(self.completed("1"), files, "every file moved");
        assert_eq!(self.repo.live(), 0, "the source is empty");
        self.shutdown();
        files as f64 / elapsed
    }

    /// Stops both runtimes.
    pub fn shutdown(&self) {
        if let Some((_, delayer)) = &self.net.late {
            delayer.close();
        }
        self.src.shutdown();
        self.dst.shutdown();
    }
}
