//! Helpers shared by the behaviour tests: a seeded cluster, replica construction, and
//! read-outs of jobs, notes and repository history. Everything runs on simulated time.
#![allow(dead_code)]

use migration_core::driver::sim::{Cluster, replica};
use migration_core::host::Repository;
use migration_core::input::RepositoryEvent;
use migration_core::job::JobState;
use migration_core::replica::{ReplicaEntry, ReplicaState, StickyRecord};
use migration_core::{Config, Error, Millis, PnfsId};

/// One minute of simulated time.
pub const MINUTE: Millis = 60_000;
/// One hour of simulated time.
pub const HOUR: Millis = 60 * MINUTE;

/// A started cluster of the named pools, seeded.
pub fn cluster(seed: u64, pools: &[&str]) -> Cluster {
    let mut c = Cluster::new(seed, Config::default());
    for p in pools {
        c.add_pool(p);
    }
    c
}

/// A started cluster `pool1`, `pool2` (seed 1).
pub fn two_pools() -> Cluster {
    let mut c = cluster(1, &["pool1", "pool2"]);
    c.start();
    c
}

/// The canonical id of a short test id.
pub fn id(short: &str) -> PnfsId {
    PnfsId::parse(short).expect("test ids are valid")
}

/// The canonical printed form of a short test id (24 upper-case hex digits).
pub fn pid(short: &str) -> String {
    id(short).to_string()
}

/// A sticky record.
pub fn sticky(owner: &str, expire: Millis) -> StickyRecord {
    StickyRecord::new(owner, expire)
}

/// Puts a replica of `short` on `pool` (registered in the namespace), last accessed an hour
/// before the cluster's current time.
pub fn put(c: &mut Cluster, pool: &str, short: &str, state: ReplicaState, size: u64, records: Vec<StickyRecord>) {
    let at = c.now() - HOUR;
    c.add_replica(pool, replica(short, state, size, at, records));
}

/// The replica of `short` on `pool`, if any.
pub fn entry(c: &Cluster, pool: &str, short: &str) -> Option<ReplicaEntry> {
    c.repository(pool).entry(&id(short)).expect("the memory repository does not fail")
}

/// The sticky record of `owner` on the replica, if any.
pub fn record(e: &ReplicaEntry, owner: &str) -> Option<StickyRecord> {
    e.sticky.iter().find(|r| r.owner == owner).cloned()
}

/// Runs a command that must succeed.
pub fn ok(c: &mut Cluster, pool: &str, line: &str) -> String {
    c.execute(pool, line).unwrap_or_else(|e| panic!("`{line}` failed: {e}"))
}

/// Runs a command that must fail.
pub fn err(c: &mut Cluster, pool: &str, line: &str) -> Error {
    match c.execute(pool, line) {
        Ok(out) => panic!("`{line}` succeeded with {out:?}"),
        Err(e) => e,
    }
}

/// dCache's part of `migration info <job>` on `pool`: everything before the pace lines
/// (`Started`, `Rate`, `ETA`) that we add after dCache's, which `beyond.rs` checks.
pub fn info(c: &mut Cluster, pool: &str, job: &str) -> String {
    let text = ok(c, pool, &format!("migration info {job}"));
    match text.find("Started    : ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The whole `migration info <job>` on `pool`, pace lines included.
pub fn full_info(c: &mut Cluster, pool: &str, job: &str) -> String {
    ok(c, pool, &format!("migration info {job}"))
}

/// The job's state.
pub fn state(c: &Cluster, pool: &str, job: &str) -> JobState {
    c.job(pool, job).state()
}

/// The texts of the job's notes, oldest first.
pub fn notes(c: &Cluster, pool: &str, job: &str) -> Vec<String> {
    c.job(pool, job).notes().map(|n| n.text.clone()).collect()
}

/// How often a replica of `short` was created on `pool` (a state change out of `NEW`).
pub fn creations(c: &Cluster, pool: &str, short: &str) -> usize {
    let wanted = id(short);
    c.history
        .iter()
        .filter(|(_, p, e)| {
            p == pool
                && matches!(e, RepositoryEvent::StateChanged { old: ReplicaState::New, entry, .. } if entry.pnfsid == wanted)
        })
        .count()
}

/// The order in which replicas were first created on `pool`.
pub fn creation_order(c: &Cluster, pool: &str) -> Vec<PnfsId> {
    let mut order = Vec::new();
    for (_, p, e) in &c.history {
        if let RepositoryEvent::StateChanged { old: ReplicaState::New, entry, .. } = e
            && p == pool
            && !order.contains(&entry.pnfsid)
        {
            order.push(entry.pnfsid);
        }
    }
    order
}

/// Whether `pool` ever saw `short` go to `REMOVED`.
pub fn was_removed(c: &Cluster, pool: &str, short: &str) -> bool {
    let wanted = id(short);
    c.history.iter().any(|(_, p, e)| {
        p == pool
            && matches!(e, RepositoryEvent::StateChanged { new: ReplicaState::Removed, entry, .. } if entry.pnfsid == wanted)
    })
}

/// Advances time in `step` ms increments until `done` holds or `limit` ms have passed;
/// returns whether it held.
pub fn run_until(c: &mut Cluster, limit: Millis, step: Millis, mut done: impl FnMut(&Cluster) -> bool) -> bool {
    let deadline = c.now() + limit;
    while c.now() < deadline {
        if done(c) {
            return true;
        }
        c.run_for(step);
    }
    done(c)
}

/// Delivers the repository events that a direct repository call left pending (any command
/// makes the simulator queue them), so that jobs see a change at the instant it was made.
pub fn flush(c: &mut Cluster, pool: &str) {
    ok(c, pool, "migration ls");
    c.run_for(0);
}

/// `HH:MM:SS` (UTC, the module's documented choice) of a simulated time.
pub fn clock(t: Millis) -> String {
    let s = t.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The line of `text` that starts with `prefix`.
pub fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}
