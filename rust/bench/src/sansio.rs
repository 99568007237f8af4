//! Driving the sans-IO [`Module`] directly, on this thread, against a [`BenchRepository`]:
//! the scan runs exactly as the production driver runs it (`driver::repository_effects::scan_for_queue`), pool lists
//! answer at once, and requests that should stay outstanding (entry reads, location queries)
//! are held or answered as the benchmark asks.

use std::time::{Duration, Instant};

use migration_core::driver::repository_effects;
use migration_core::driver::runtime::system_clock;
use migration_core::effect::Effect;
use migration_core::host::{PoolList, PoolSelection};
use migration_core::input::{Answer, Input};
use migration_core::job::JobState;
use migration_core::pool_info::{PoolCostInfo, PoolInfo};
use migration_core::{Config, Millis, Module};

use crate::repo::{BenchRepository, TYPICAL_FILTER};

/// What to do with the entry reads that start tasks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Leave them unanswered: tasks stay in their first step, the queue stays full.
    Hold,
    /// Answer them: tasks are created and wait for their (held) location queries.
    Answer,
}

/// A source pool `src` with one job over a bench repository; the target is `dst`.
pub struct Source {
    /// The module.
    pub module: Module,
    /// Its repository.
    pub repo: BenchRepository,
    /// The time every input is given.
    pub now: Millis,
}

fn pools(selection: &PoolSelection) -> PoolList {
    let names = match selection {
        PoolSelection::Names(names) => names.clone(),
        _ => Vec::new(),
    };
    let pools = names.into_iter().map(|n| PoolInfo::Online(PoolCostInfo::simple(n, 1 << 50, 1 << 49, 0))).collect();
    PoolList { pools }
}

impl Source {
    /// A started pool with `n` replicas and no job.
    pub fn new(n: u64) -> Source {
        let mut module = Module::new("src", Config::default(), 1);
        let now = system_clock();
        module.handle(now, Input::PoolStarted);
        Source { module, repo: BenchRepository::new(n), now }
    }

    /// Executes effects until none is left.
    pub fn pump(&mut self, reads: Reads) {
        loop {
            let effects = self.module.take_effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                match effect {
                    Effect::QueryPools { token, selection } => {
                        let outcome = Ok(Answer::Pools(pools(&selection)));
                        self.module.handle(self.now, Input::Reply { token, outcome });
                    }
                    Effect::Scan { job, filter, order, now, queue_seed, .. } => {
                        let result =
                            repository_effects::scan_for_queue(&self.repo, &filter, order, now, queue_seed, &|| false);
                        self.module.handle(self.now, Input::scanned(job, result));
                    }
                    Effect::ReadEntry { purpose, pnfsid } if reads == Reads::Answer => {
                        let result = migration_core::host::Repository::entry(&self.repo, &pnfsid);
                        self.module.handle(self.now, Input::entry(purpose, result));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Starts `migration copy <filter> [-order=size] -concurrency=<c> dst` and runs it until
    /// the job is RUNNING with its queue filled; returns the time it took.
    pub fn start_job(&mut self, order_by_size: bool, concurrency: u32, reads: Reads) -> Duration {
        let order = if order_by_size { "-order=size " } else { "" };
        let line = format!("migration copy {TYPICAL_FILTER} {order}-concurrency={concurrency} dst");
        let t0 = Instant::now();
        self.module.execute(self.now, &line).expect("the command is valid");
        self.pump(reads);
        let elapsed = t0.elapsed();
        let job = self.module.jobs().last().expect("the job exists");
        assert_eq!(job.state(), JobState::Running, "the job runs");
        elapsed
    }

    /// Files queued in the last job.
    pub fn queued(&self) -> usize {
        self.module.jobs().last().map_or(0, |j| j.queued())
    }
}
