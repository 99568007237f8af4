//! Random scenarios, fully determined by a seed: pools, files with their replicas, sticky
//! records and pins, migration jobs with random options, a fault plan and a timeline of
//! operator and environment actions during a fault window.

use std::collections::BTreeSet;
use std::fmt;

use migration_core::Millis;
use migration_core::PnfsId;
use migration_core::driver::sim::START;
use migration_core::filter::StickyFilter;
use migration_core::random::Rng;
use migration_core::replica::{ReplicaState, StickyRecord};

/// One minute.
pub const MINUTE: Millis = 60_000;
/// One hour.
pub const HOUR: Millis = 60 * MINUTE;

/// The source mode's state part, as the checker needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMode {
    /// `same`
    Same,
    /// `cached`
    Cached,
    /// `precious`
    Precious,
    /// `removable`
    Removable,
    /// `delete`
    Delete,
}

impl SourceMode {
    fn name(self) -> &'static str {
        match self {
            SourceMode::Same => "same",
            SourceMode::Cached => "cached",
            SourceMode::Precious => "precious",
            SourceMode::Removable => "removable",
            SourceMode::Delete => "delete",
        }
    }
}

/// A file and where its replicas are at the start.
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// The file.
    pub id: PnfsId,
    /// Bytes.
    pub size: u64,
    /// `(pool index, state, sticky records)`.
    pub replicas: Vec<(usize, ReplicaState, Vec<StickyRecord>)>,
}

/// A migration job as the operator types it (reruns use the same line).
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The source pool's index.
    pub pool: usize,
    /// The command line without `-id`.
    pub line: String,
    /// Target pool indices.
    pub targets: Vec<usize>,
    /// `-replicas`.
    pub replicas: usize,
    /// `-target-deficit-mode=wait` (the default): a task waits for all `replicas` copies.
    pub wait: bool,
    /// `-eager`.
    pub eager: bool,
    /// `-permanent`.
    pub permanent: bool,
    /// The effective source mode.
    pub smode: SourceMode,
    /// Owners listed in `-smode` (the source mode may overwrite them, even shorten them).
    pub smode_owners: Vec<String>,
    /// `-tmode=cached`: copies are cached whatever the source's state.
    pub tmode_cached: bool,
    /// `-pins=move` (the default of `migration move`): the job moves its sources' pins to a
    /// confirmed copy.
    pub move_pins: bool,
    /// `-verify` (the default of `migration move`): a target checks the checksum of the replica
    /// it already holds before it confirms the copy.
    pub verify: bool,
    /// `-meta-only`: the job only updates replicas that targets already hold.
    pub meta_only: bool,
    /// With `-size` or `-pnfsid`, the files the job's filter selects; `None`: every file.
    /// Both filters are on what no action changes, so the set holds for the whole run.
    pub selects: Option<BTreeSet<PnfsId>>,
    /// `-state=cached|precious`: the state the job's filter selects, which actions change.
    pub state_filter: Option<ReplicaState>,
    /// `-sticky`, `-sticky=<owner>` or `-sticky=-<owner>`: the sticky records the job's filter
    /// asks for, which actions and jobs change.
    pub sticky_filter: Option<StickyFilter>,
}

/// How a replica that a scenario places beside a file's good ones is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// In state BROKEN: a target cannot update it, and the operator removes it once the faults
    /// stop (as `rep rm` would), so that the files it held up can move.
    Broken,
    /// CACHED, but its data no longer matches the checksum: only a verifying update finds out.
    Corrupt,
}

/// Something that happens at a moment of the fault window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create (or re-create) the job of a spec.
    Start(usize),
    /// `migration cancel [-force]` on the current run of a spec.
    Cancel(usize, bool),
    /// A pool leaves the network (partition).
    Offline(usize),
    /// A pool returns.
    Online(usize),
    /// A pool crashes (module state lost).
    Crash(usize),
    /// A crashed pool restarts; its unfinished jobs are re-run by the operator.
    Restart(usize),
    /// A pool hangs (messages to it vanish) or recovers.
    Hang(usize, bool),
    /// A pool becomes full (transfers to it wait) or gets space again.
    Full(usize, bool),
    /// A pool refuses copies (`Pool is disabled`) or accepts them again.
    Refuse(usize, bool),
    /// The namespace stops or resumes answering.
    NamespaceDown(bool),
    /// The pin manager stops or resumes answering.
    PinManagerDown(bool),
    /// A client deletes a file (namespace and all replicas).
    Delete(usize),
    /// A precious replica of a file is flushed to tape and becomes cached.
    Flush(usize),
    /// A cached replica of a file is made precious (an operator's `rep set precious`).
    Precious(usize),
    /// The next time a job changes a replica of the file to apply its source mode, the replica
    /// is pinned right before, after the job's look at it (the read that made its task, or
    /// one to apply the source mode).
    PinAfterLook(usize),
    /// The same, the replica made precious (if it is cached).
    PreciousAfterLook(usize),
    /// A sticky record of a replica is set, extended or removed (not a pin).
    Sticky(usize),
    /// A pin is added to a replica of a file.
    Pin(usize),
    /// A pin of the file is released (unpin or expiry).
    Unpin(usize),
    /// All faults stop: pools back, restarted and online, services answer.
    EndFaults,
    /// A restore from tape of a file onto a pool ends: its `FROM_STORE` replica becomes
    /// cached, and the namespace learns of it. Never in [`Scenario::actions`]: the runner
    /// puts [`Scenario::restoring`]'s ends into the timeline, so that the actions keep the
    /// indices they had before restores were drawn (a `--only` mask names actions by index).
    Restored(usize, usize),
}

/// The fault knobs that hold for the whole fault window.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Probability of losing a message.
    pub lose: f64,
    /// Probability of duplicating a message.
    pub duplicate: f64,
    /// Maximum extra delay per delivery.
    pub delay: Millis,
    /// Probability of a p2p I/O error.
    pub fail_p2p: f64,
    /// Files whose transfers arrive corrupted.
    pub corrupt: Vec<usize>,
}

/// A whole scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The seed it came from.
    pub seed: u64,
    /// Number of pools (`pool1`, `pool2`, …).
    pub pools: usize,
    /// Transfer speed, bytes per ms.
    pub bandwidth: u64,
    /// `migration set max-incoming` of each pool that sets one (a target at its limit answers
    /// busy, 10099): the busy paths of tasks and jobs.
    pub max_incoming: Vec<(usize, u32)>,
    /// The files.
    pub files: Vec<FileSpec>,
    /// The jobs.
    pub specs: Vec<JobSpec>,
    /// Knobs for the fault window.
    pub faults: FaultPlan,
    /// The timeline (absolute simulated times), sorted.
    pub actions: Vec<(Millis, Action)>,
    /// Damaged replicas at the start, `(file index, pool index, damage)`, each on a pool that
    /// holds no other replica of the file.
    pub damaged: Vec<(usize, usize, Damage)>,
    /// Files (indices) whose replica on a target is marked BROKEN between the target's look
    /// at it and its update for a copy request, the first time that happens in the fault
    /// window (`Faults::broken_before_update`).
    pub broken_before_update: Vec<usize>,
    /// Replicas being restored from tape at the start, `(file index, pool index, when the
    /// restore ends)`: in state `FROM_STORE`, each on a pool that holds no other replica of
    /// the file, unknown to the namespace until it ends (a moment of the fault window, as an
    /// [`Action::Restored`]). Incomplete, no job may take it as a source nor a target confirm a
    /// copy on it.
    pub restoring: Vec<(usize, usize, Millis)>,
}

/// Whether `file` has a replica on pool `pool` at the start.
fn holds(file: &FileSpec, pool: usize) -> bool {
    file.replicas.iter().any(|(p, _, _)| *p == pool)
}

/// The name of pool `i`.
pub fn pool_name(i: usize) -> String {
    format!("pool{}", i + 1)
}

struct Gen {
    rng: Rng,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.next_f64() < p
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.rng.below((hi - lo + 1) as usize) as u64
    }

    fn time(&mut self, lo: Millis, hi: Millis) -> Millis {
        lo + self.rng.below((hi - lo + 1) as usize) as Millis
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len())]
    }

    fn lifetime(&mut self) -> String {
        match self.rng.below(4) {
            0 => String::new(),
            1 => "(0)".to_string(),
            2 => "(-1)".to_string(),
            _ => format!("({})", self.between(60, 7200)),
        }
    }

    fn expiry(&mut self) -> Millis {
        match self.rng.below(3) {
            0 => -1,
            _ => START + self.time(MINUTE, 48 * HOUR),
        }
    }
}

impl Scenario {
    /// The scenario of `seed`.
    pub fn generate(seed: u64) -> Scenario {
        let mut g = Gen { rng: Rng::seeded(seed ^ 0x5eed_5eed_5eed_5eed) };
        let pools = g.between(3, 6) as usize;
        let bandwidth = g.pick(&[10_000, 30_000, 100_000, 300_000]);
        let n_files = g.between(10, 200) as usize;

        // Jobs first: where they run decides where files live.
        let n_specs = g.between(1, 3) as usize;
        let mut specs = Vec::new();
        let mut sources: Vec<usize> = Vec::new();
        for _ in 0..n_specs {
            let previous = specs.last().map(|p: &JobSpec| (p.pool, p.targets.clone()));
            let pool = match previous {
                // Two jobs on one pool.
                Some((p, _)) if g.chance(0.3) => p,
                // Two pools moving to each other.
                Some((p, targets)) if g.chance(0.3) => {
                    let back = targets[0];
                    specs.push(spec(&mut g, back, pools, Some(vec![p]), Some("move")));
                    sources.push(back);
                    continue;
                }
                _ => g.rng.below(pools),
            };
            specs.push(spec(&mut g, pool, pools, None, None));
            sources.push(pool);
        }

        let mut files = Vec::new();
        for i in 0..n_files {
            let id = PnfsId::parse(&format!("{:X}", 0xA000 + i)).expect("hex ids are valid");
            let size = match g.rng.below(10) {
                0 => g.between(500_000_000, 2_000_000_000),
                1..=3 => g.between(10_000_000, 500_000_000),
                _ => g.between(1, 10_000_000),
            };
            let home = if g.chance(0.85) { g.pick(&sources) } else { g.rng.below(pools) };
            let mut holders = vec![home];
            if g.chance(0.25) {
                let other = g.rng.below(pools);
                if !holders.contains(&other) {
                    holders.push(other);
                }
            }
            let mut replicas = Vec::new();
            for (n, pool) in holders.into_iter().enumerate() {
                let state = if g.chance(0.5) { ReplicaState::Precious } else { ReplicaState::Cached };
                let mut sticky = Vec::new();
                if g.chance(0.3) {
                    let owner = g.pick(&["foo", "bar", "tape"]);
                    let expire = g.expiry();
                    sticky.push(StickyRecord::new(owner, expire));
                }
                if g.chance(0.2) {
                    let expire = g.expiry();
                    sticky.push(StickyRecord::new(format!("PinManager-f{i}r{n}"), expire));
                }
                replicas.push((pool, state, sticky));
            }
            files.push(FileSpec { id, size, replicas });
        }

        let faults = FaultPlan {
            lose: if g.chance(0.25) { 0.005 + g.rng.next_f64() * 0.1 } else { 0.0 },
            duplicate: if g.chance(0.35) { 0.05 + g.rng.next_f64() * 0.45 } else { 0.0 },
            delay: if g.chance(0.4) { g.time(1, 5_000) } else { 0 },
            fail_p2p: if g.chance(0.3) { 0.05 + g.rng.next_f64() * 0.35 } else { 0.0 },
            corrupt: if g.chance(0.2) { (0..g.between(1, 3)).map(|_| g.rng.below(n_files)).collect() } else { vec![] },
        };

        // Faults must meet running transfers: the window is about as long as the jobs run.
        let window = g.time(2 * MINUTE, 30 * MINUTE);
        let mut actions = Vec::new();
        let at = |g: &mut Gen| START + g.time(0, window);
        for (s, spec) in specs.iter().enumerate() {
            let t = if s == 0 || g.chance(0.5) { START } else { START + g.time(0, window / 2) };
            actions.push((t, Action::Start(s)));
            // The operator runs the same command again (after it ended, or while it runs).
            if !spec.permanent && g.chance(0.3) {
                let again = START + g.time(t - START, window);
                actions.push((again, Action::Start(s)));
            }
        }
        let episode = |g: &mut Gen, actions: &mut Vec<(Millis, Action)>, on: Action, off: Action, max: Millis| {
            let t = START + g.time(0, window);
            let d = g.time(1_000, max);
            actions.push((t, on));
            actions.push(((t + d).min(START + window), off));
        };
        for _ in 0..g.rng.below(4) {
            let p = g.rng.below(pools);
            episode(&mut g, &mut actions, Action::Offline(p), Action::Online(p), 10 * MINUTE);
        }
        if g.chance(0.4) {
            for _ in 0..g.between(1, 2) {
                let p = if g.chance(0.8) { g.pick(&sources) } else { g.rng.below(pools) };
                episode(&mut g, &mut actions, Action::Crash(p), Action::Restart(p), 10 * MINUTE);
            }
        }
        if g.chance(0.2) {
            let p = g.rng.below(pools);
            episode(&mut g, &mut actions, Action::Hang(p, true), Action::Hang(p, false), 10 * MINUTE);
        }
        if g.chance(0.2) {
            let p = g.rng.below(pools);
            episode(&mut g, &mut actions, Action::Full(p, true), Action::Full(p, false), 20 * MINUTE);
        }
        if g.chance(0.2) {
            let p = g.rng.below(pools);
            episode(&mut g, &mut actions, Action::Refuse(p, true), Action::Refuse(p, false), 20 * MINUTE);
        }
        if g.chance(0.15) {
            episode(&mut g, &mut actions, Action::NamespaceDown(true), Action::NamespaceDown(false), 10 * MINUTE);
        }
        if g.chance(0.15) {
            episode(&mut g, &mut actions, Action::PinManagerDown(true), Action::PinManagerDown(false), 10 * MINUTE);
        }
        // (probability, action, most occurrences)
        type FileAction = (f64, fn(usize) -> Action, u64);
        let file_actions: [FileAction; 5] = [
            (0.3, Action::Delete, 5),
            (0.3, Action::Flush, 5),
            (0.3, Action::Sticky, 5),
            (0.4, Action::Pin, 5),
            (0.3, Action::Unpin, 3),
        ];
        for (p, make, max) in file_actions {
            if g.chance(p) {
                for _ in 0..g.between(1, max) {
                    let f = g.rng.below(n_files);
                    let t = at(&mut g);
                    actions.push((t, make(f)));
                }
            }
        }
        if g.chance(0.35) {
            for _ in 0..g.between(1, 2) {
                let s = g.rng.below(specs.len());
                let force = g.chance(0.5);
                let t = at(&mut g);
                actions.push((t, Action::Cancel(s, force)));
            }
        }
        // Drawn after everything else, so that the scenarios of earlier builds' seeds keep
        // all they had.
        if g.chance(0.3) {
            for _ in 0..g.between(1, 5) {
                let f = g.rng.below(n_files);
                let t = at(&mut g);
                actions.push((t, Action::Precious(f)));
            }
        }
        // After those, for the same reason.
        if g.chance(0.3) {
            for _ in 0..g.between(1, 5) {
                let f = g.rng.below(n_files);
                let t = at(&mut g);
                let action = if g.chance(0.5) { Action::PinAfterLook(f) } else { Action::PreciousAfterLook(f) };
                actions.push((t, action));
            }
        }
        actions.push((START + window, Action::EndFaults));
        // Stable: actions at the same time keep their generation order.
        actions.sort_by_key(|(t, _)| *t);
        // Drawn last, so that every draw above stays that of the seeds before it existed.
        let mut max_incoming = Vec::new();
        if g.chance(0.3) {
            for p in 0..pools {
                if g.chance(0.5) {
                    max_incoming.push((p, g.between(1, 2) as u32));
                }
            }
        }
        // After those, for the same reason: damaged replicas beside the good ones, and jobs
        // that verify or only update.
        let mut damaged = Vec::new();
        if g.chance(0.3) {
            for _ in 0..g.between(1, 4) {
                let f = g.rng.below(n_files);
                let pool = g.rng.below(pools);
                let taken = holds(&files[f], pool) || damaged.iter().any(|&(d, p, _)| (d, p) == (f, pool));
                let damage = if g.chance(0.5) { Damage::Broken } else { Damage::Corrupt };
                if !taken {
                    damaged.push((f, pool, damage));
                }
            }
        }
        for spec in &mut specs {
            if g.chance(0.3) {
                spec.set_flag("verify", !spec.verify);
            }
            if g.chance(0.15) {
                spec.set_flag("meta-only", true);
            }
        }
        // After those, for the same reason: filters on a file's size or id.
        for spec in &mut specs {
            if g.chance(0.15) {
                let (option, selects) = if g.chance(0.5) {
                    let pivot = files[g.rng.below(n_files)].size;
                    let below = g.chance(0.5);
                    let selected = |f: &&FileSpec| if below { f.size <= pivot } else { f.size >= pivot };
                    let option = if below { format!("-size=..{pivot}") } else { format!("-size={pivot}..") };
                    (option, files.iter().filter(selected).map(|f| f.id).collect())
                } else {
                    let chosen: BTreeSet<PnfsId> =
                        (0..g.between(1, 8)).map(|_| files[g.rng.below(n_files)].id).collect();
                    let ids: Vec<String> = chosen.iter().map(PnfsId::to_string).collect();
                    (format!("-pnfsid={}", ids.join(",")), chosen)
                };
                spec.insert_option(&option);
                spec.selects = Some(selects);
            }
        }
        // After those, for the same reason: filters on a replica's state.
        for spec in &mut specs {
            if g.chance(0.1) {
                let state = if g.chance(0.5) { ReplicaState::Cached } else { ReplicaState::Precious };
                spec.insert_option(&format!(
                    "-state={}",
                    if state == ReplicaState::Cached { "cached" } else { "precious" }
                ));
                spec.state_filter = Some(state);
            }
        }
        // After those, for the same reason: replicas a checksum scan marks BROKEN while a
        // target updates them. The fault fires only if a target updates a replica of the
        // file it holds (one it held at the start, or a copy a job made).
        let mut broken_before_update = Vec::new();
        if g.chance(0.3) {
            for _ in 0..g.between(1, 3) {
                let f = g.rng.below(n_files);
                if !broken_before_update.contains(&f) {
                    broken_before_update.push(f);
                }
            }
        }
        // After those, for the same reason: filters on a replica's sticky records. The owners
        // are those the scenario's files, its actions (`scn`) and its jobs' modes give.
        for spec in &mut specs {
            if g.chance(0.12) {
                let owner = g.pick(&["foo", "bar", "tape", "scn", "keep", "hold"]).to_string();
                let (option, filter) = match g.rng.below(3) {
                    0 => ("-sticky".to_string(), StickyFilter::Any),
                    1 => {
                        (format!("-sticky={owner}"), StickyFilter::Owners { required: vec![owner], forbidden: vec![] })
                    }
                    _ => {
                        (format!("-sticky=-{owner}"), StickyFilter::Owners { required: vec![], forbidden: vec![owner] })
                    }
                };
                spec.insert_option(&option);
                spec.sticky_filter = Some(filter);
            }
        }
        // After those, for the same reason: replicas being restored from tape, each ending at
        // a moment of the fault window.
        let mut restoring = Vec::new();
        if g.chance(0.25) {
            for _ in 0..g.between(1, 4) {
                let (f, pool) = (g.rng.below(n_files), g.rng.below(pools));
                let t = at(&mut g);
                let taken = holds(&files[f], pool)
                    || damaged.iter().any(|&(d, p, _)| (d, p) == (f, pool))
                    || restoring.iter().any(|&(r, p, _)| (r, p) == (f, pool));
                if !taken {
                    restoring.push((f, pool, t));
                }
            }
        }
        Scenario {
            seed,
            pools,
            bandwidth,
            max_incoming,
            files,
            specs,
            faults,
            actions,
            damaged,
            broken_before_update,
            restoring,
        }
    }
}

impl JobSpec {
    /// Sets `-verify` or `-meta-only` on the command line, before its other options.
    fn set_flag(&mut self, name: &str, value: bool) {
        self.insert_option(&if value { format!("-{name}") } else { format!("-{name}=false") });
        match name {
            "verify" => self.verify = value,
            _ => self.meta_only = value,
        }
    }

    /// Puts `option` on the command line, before its other options.
    fn insert_option(&mut self, option: &str) {
        let at = self.line.find(" -concurrency=").expect("every spec's line has a concurrency");
        self.line.insert_str(at, &format!(" {option}"));
    }
}

impl Scenario {
    /// Whether permanent jobs feed each other for ever, by configuration: in a cycle (a pool
    /// with a permanent job is, directly or through other permanent jobs, a target of its own
    /// job), or two permanent jobs on one pool whose source modes set different states (each
    /// change re-adds the file to the other).
    pub fn permanent_feedback(&self) -> bool {
        let permanent: Vec<&JobSpec> = self.specs.iter().filter(|s| s.permanent).collect();
        let sets_state = |s: &JobSpec| s.smode != SourceMode::Same;
        for a in &permanent {
            for b in &permanent {
                if !std::ptr::eq(*a, *b) && a.pool == b.pool && sets_state(a) && sets_state(b) && a.smode != b.smode {
                    return true;
                }
            }
        }
        let next = |pool: usize| -> Vec<usize> {
            permanent.iter().filter(|s| s.pool == pool).flat_map(|s| s.targets.iter().copied()).collect()
        };
        for start in permanent.iter().map(|s| s.pool) {
            let mut seen = vec![false; self.pools];
            let mut todo = next(start);
            while let Some(pool) = todo.pop() {
                if pool == start {
                    return true;
                }
                if !std::mem::replace(&mut seen[pool], true) {
                    todo.extend(next(pool));
                }
            }
        }
        false
    }
}

/// A random job on `pool` among `pools` pools; `targets`/`verb` force those choices.
fn spec(g: &mut Gen, pool: usize, pools: usize, targets: Option<Vec<usize>>, verb: Option<&'static str>) -> JobSpec {
    let targets = targets.unwrap_or_else(|| {
        let mut others: Vec<usize> = (0..pools).filter(|&p| p != pool).collect();
        g.rng.shuffle(&mut others);
        let n = 1 + g.rng.below(others.len());
        others.truncate(n);
        others.sort_unstable();
        others
    });
    let verb = verb.unwrap_or_else(|| g.pick(&["copy", "copy", "move", "move", "cache"]));
    let mut line = format!("migration {verb}");
    let mut smode = if verb == "move" { SourceMode::Delete } else { SourceMode::Same };
    let mut smode_owners = Vec::new();
    if g.chance(0.4) {
        smode = g.pick(&[
            SourceMode::Same,
            SourceMode::Cached,
            SourceMode::Precious,
            SourceMode::Removable,
            SourceMode::Delete,
        ]);
        let mut value = smode.name().to_string();
        if g.chance(0.3) {
            let owner = g.pick(&["foo", "keep"]);
            value.push_str(&format!("+{owner}{}", g.lifetime()));
            smode_owners.push(owner.to_string());
        }
        line.push_str(&format!(" -smode={value}"));
    }
    // `migration cache` makes cached copies unless told otherwise.
    let mut tmode_cached = verb == "cache";
    if g.chance(0.4) {
        let mut value = g.pick(&["same", "cached", "precious"]).to_string();
        tmode_cached = value == "cached";
        if g.chance(0.3) {
            let owner = g.pick(&["foo", "hold"]);
            value.push_str(&format!("+{owner}{}", g.lifetime()));
        }
        line.push_str(&format!(" -tmode={value}"));
    }
    let mut move_pins = verb == "move";
    if g.chance(0.5) {
        move_pins = g.chance(0.5);
        line.push_str(if move_pins { " -pins=move" } else { " -pins=keep" });
    }
    let wait = g.chance(0.7);
    let mut replicas = match g.rng.below(20) {
        0..=11 => 1,
        12..=16 => 2,
        _ => 3,
    };
    if wait {
        // In `wait` mode a job with fewer targets than replicas waits for ever, as designed.
        replicas = replicas.min(targets.len());
    }
    let eager = g.chance(0.2);
    let permanent = g.chance(0.15);
    let concurrency = g.between(1, 8);
    let refresh = g.pick(&[30, 60, 120, 300]);
    if replicas > 1 || g.chance(0.2) {
        line.push_str(&format!(" -replicas={replicas}"));
    }
    if !wait {
        line.push_str(" -target-deficit-mode=limit");
    } else if g.chance(0.2) {
        line.push_str(" -target-deficit-mode=wait");
    }
    if eager {
        line.push_str(" -eager");
    }
    if permanent {
        line.push_str(" -permanent");
    }
    if g.chance(0.3) {
        line.push_str(" -select=random");
    }
    line.push_str(&format!(" -concurrency={concurrency} -refresh={refresh}"));
    for t in &targets {
        line.push(' ');
        line.push_str(&pool_name(*t));
    }
    JobSpec {
        pool,
        line,
        targets,
        replicas,
        wait,
        eager,
        permanent,
        smode,
        smode_owners,
        tmode_cached,
        move_pins,
        verify: verb == "move",
        meta_only: false,
        selects: None,
        state_filter: None,
        sticky_filter: None,
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario of seed {}: {} pools, bandwidth {} B/ms, {} files",
            self.seed,
            self.pools,
            self.bandwidth,
            self.files.len()
        )?;
        for (p, n) in &self.max_incoming {
            writeln!(f, "  {}: migration set max-incoming {n}", pool_name(*p))?;
        }
        for (i, s) in self.specs.iter().enumerate() {
            writeln!(f, "  job spec {i}: on {}: {}", pool_name(s.pool), s.line)?;
        }
        writeln!(f, "  faults: {:?}", self.faults)?;
        for file in &self.files {
            let replicas: Vec<String> = file
                .replicas
                .iter()
                .map(|(p, s, sticky)| {
                    let records: Vec<String> = sticky.iter().map(|r| format!("{}({})", r.owner, r.expire)).collect();
                    format!("{}:{}{:?}", pool_name(*p), s, records)
                })
                .collect();
            writeln!(f, "  file {} {} B on {}", file.id, file.size, replicas.join(" "))?;
        }
        for (file, pool, damage) in &self.damaged {
            writeln!(f, "  file {} also on {}: {damage:?}", self.files[*file].id, pool_name(*pool))?;
        }
        for file in &self.broken_before_update {
            writeln!(f, "  file {}: a target's replica turns BROKEN before its update", self.files[*file].id)?;
        }
        for (file, pool, t) in &self.restoring {
            let (id, t) = (self.files[*file].id, t - START);
            writeln!(
                f,
                "  file {id}: being restored from tape on {} until {}.{:03}s",
                pool_name(*pool),
                t / 1000,
                t % 1000
            )?;
        }
        for (t, a) in &self.actions {
            let t = t - START;
            writeln!(f, "  at {:>5}.{:03}s {a:?}", t / 1000, t % 1000)?;
        }
        Ok(())
    }
}

/// Which parts of a generated scenario to keep (the rest is dropped): what `--shrink`
/// finds and `--only` replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Only {
    /// Indices of the files kept.
    pub files: Vec<usize>,
    /// Indices of the timeline actions kept.
    pub actions: Vec<usize>,
    /// Indices of the job specs kept.
    pub specs: Vec<usize>,
    /// Fault knobs kept: `lose`, `duplicate`, `delay`, `fail_p2p`, `corrupt`.
    pub faults: Vec<String>,
}

/// The fault knob names of [`Only::faults`].
pub const KNOBS: [&str; 5] = ["lose", "duplicate", "delay", "fail_p2p", "corrupt"];

impl Only {
    /// Everything of `s`.
    pub fn all(s: &Scenario) -> Only {
        Only {
            files: (0..s.files.len()).collect(),
            actions: (0..s.actions.len()).collect(),
            specs: (0..s.specs.len()).collect(),
            faults: KNOBS.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// Parses `files=1,2;actions=0,5;specs=0;faults=delay,duplicate`.
    pub fn parse(text: &str) -> Result<Only, String> {
        let mut only = Only { files: vec![], actions: vec![], specs: vec![], faults: vec![] };
        for part in text.split(';').filter(|p| !p.is_empty()) {
            let (key, values) = part.split_once('=').ok_or_else(|| format!("`{part}`: expected key=values"))?;
            let values: Vec<&str> = values.split(',').filter(|v| !v.is_empty()).collect();
            let numbers = || -> Result<Vec<usize>, String> {
                values.iter().map(|v| v.parse().map_err(|_| format!("`{v}` is not a number"))).collect()
            };
            match key {
                "files" => only.files = numbers()?,
                "actions" => only.actions = numbers()?,
                "specs" => only.specs = numbers()?,
                "faults" => only.faults = values.iter().map(|v| v.to_string()).collect(),
                _ => return Err(format!("unknown key `{key}`")),
            }
        }
        Ok(only)
    }
}

impl fmt::Display for Only {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        write!(
            f,
            "files={};actions={};specs={};faults={}",
            list(&self.files),
            list(&self.actions),
            list(&self.specs),
            self.faults.join(",")
        )
    }
}

impl Scenario {
    /// The timeline: the actions, and the restores' ends among them (after the actions of
    /// the same moment).
    pub fn timeline(&self) -> Vec<(Millis, Action)> {
        let mut timeline = self.actions.clone();
        timeline.extend(self.restoring.iter().map(|&(f, p, t)| (t, Action::Restored(f, p))));
        timeline.sort_by_key(|(t, _)| *t);
        timeline
    }

    /// The scenario restricted to `only`: dropped files, specs and actions vanish, and
    /// actions about a dropped file or spec with them.
    pub fn restrict(&self, only: &Only) -> Scenario {
        let file_index = |i: usize| only.files.iter().position(|&f| f == i);
        let spec_index = |i: usize| only.specs.iter().position(|&s| s == i);
        let files = only.files.iter().filter_map(|&i| self.files.get(i).cloned()).collect();
        let specs = only.specs.iter().filter_map(|&i| self.specs.get(i).cloned()).collect();
        let knob = |k: &str| only.faults.iter().any(|f| f == k);
        let faults = FaultPlan {
            lose: if knob("lose") { self.faults.lose } else { 0.0 },
            duplicate: if knob("duplicate") { self.faults.duplicate } else { 0.0 },
            delay: if knob("delay") { self.faults.delay } else { 0 },
            fail_p2p: if knob("fail_p2p") { self.faults.fail_p2p } else { 0.0 },
            corrupt: if knob("corrupt") {
                self.faults.corrupt.iter().filter_map(|&i| file_index(i)).collect()
            } else {
                vec![]
            },
        };
        let mut actions = Vec::new();
        for (i, (t, action)) in self.actions.iter().enumerate() {
            if !only.actions.contains(&i) && *action != Action::EndFaults {
                continue;
            }
            let mapped = match action {
                Action::Start(s) => spec_index(*s).map(Action::Start),
                Action::Cancel(s, force) => spec_index(*s).map(|s| Action::Cancel(s, *force)),
                Action::Delete(f) => file_index(*f).map(Action::Delete),
                Action::Flush(f) => file_index(*f).map(Action::Flush),
                Action::Precious(f) => file_index(*f).map(Action::Precious),
                Action::PinAfterLook(f) => file_index(*f).map(Action::PinAfterLook),
                Action::PreciousAfterLook(f) => file_index(*f).map(Action::PreciousAfterLook),
                Action::Sticky(f) => file_index(*f).map(Action::Sticky),
                Action::Pin(f) => file_index(*f).map(Action::Pin),
                Action::Unpin(f) => file_index(*f).map(Action::Unpin),
                other => Some(other.clone()),
            };
            if let Some(a) = mapped {
                actions.push((*t, a));
            }
        }
        let damaged = self.damaged.iter().filter_map(|&(f, p, d)| file_index(f).map(|f| (f, p, d))).collect();
        let broken_before_update = self.broken_before_update.iter().filter_map(|&f| file_index(f)).collect();
        let restoring = self.restoring.iter().filter_map(|&(f, p, t)| file_index(f).map(|f| (f, p, t))).collect();
        Scenario {
            seed: self.seed,
            pools: self.pools,
            bandwidth: self.bandwidth,
            max_incoming: self.max_incoming.clone(),
            files,
            specs,
            faults,
            actions,
            damaged,
            broken_before_update,
            restoring,
        }
    }
}
