//! The invariants. The checker replays the cluster's repository history, with the cause of
//! each change, into its own model of every replica, and judges each change at the moment it
//! happened (after every simulation step); the end of a run adds whole-cluster checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use migration_core::Millis;
use migration_core::PnfsId;
use migration_core::driver::sim::{Cause, Cluster, JobRef, START};
use migration_core::effect::JobKey;
use migration_core::filter::StickyFilter;
use migration_core::host::Repository;
use migration_core::input::RepositoryEvent;
use migration_core::job::JobState;
use migration_core::message::RequestId;
use migration_core::replica::{ReplicaState, StickyRecord};

use crate::scenario::{JobSpec, SourceMode, pool_name};

const PIN_MANAGER: &str = "PinManager";

/// A broken invariant, with where and when.
#[derive(Debug, Clone)]
pub struct Violation {
    /// Which invariant.
    pub invariant: &'static str,
    /// Simulated time.
    pub time: Millis,
    /// The pool concerned, if one.
    pub pool: Option<String>,
    /// The file concerned, if one.
    pub file: Option<PnfsId>,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time - START;
        write!(f, "invariant `{}` violated at t={}.{:03}s", self.invariant, t / 1000, t % 1000)?;
        if let Some(file) = &self.file {
            write!(f, ", file {file}")?;
        }
        if let Some(pool) = &self.pool {
            write!(f, ", pool {pool}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Whether a record of `old` (not a pin) is gone or shorter in `new`.
fn shortened(old: &[StickyRecord], new: &[StickyRecord]) -> bool {
    old.iter().filter(|r| !is_pin(r)).any(|before| {
        new.iter().find(|r| r.owner == before.owner).is_none_or(|a| lifetime(a.expire) < lifetime(before.expire))
    })
}

/// Invariant names.
pub mod names {
    /// No file loses its last complete replica.
    pub const LAST_REPLICA: &str = "no file loses its last replica";
    /// A migration job removes a source only while another pool holds a complete replica.
    pub const CONFIRMED_COPY: &str = "source removed only after a confirmed copy";
    /// A move removes its source only after a pool confirmed the task's copy, and in
    /// `-target-deficit-mode=wait` only after as many pools as `-replicas` asks for did.
    pub const ALL_COPIES_CONFIRMED: &str = "source removed only after -replicas confirmed copies";
    /// The same for the source mode's other ways of lowering a source: made cached from
    /// precious, or its sticky records expired (`-smode=cached|removable`).
    pub const LOWERED_AFTER_COPIES: &str = "source lowered only after -replicas confirmed copies";
    /// Precious never becomes cached except by a job's source mode on its own pool.
    pub const NO_DOWNGRADE: &str = "no replica becomes more volatile (state)";
    /// A job's source mode takes a file's precious replica (deleted or made cached) only while
    /// another pool holds a precious one, or once the file is on tape, or when the job (or an
    /// earlier one on the file) asked for cached copies (`-tmode=cached`).
    pub const PRECIOUS_KEPT: &str = "a precious file keeps a precious replica until it is on tape";
    /// Sticky records only grow, except the source mode's documented changes.
    pub const STICKY_EXTENDED: &str = "no replica becomes more volatile (sticky records)";
    /// Pins are never removed, shortened or copied by a migration job; a pinned source is
    /// never deleted; no pin vanishes.
    pub const PINS: &str = "pins are never lost or moved by a migration job";
    /// A job with `-verify` lowers its source only on copies whose data was checked: no pool
    /// that confirmed the task's copy holds a corrupt replica.
    pub const VERIFIED: &str = "a verifying job lowers its source only on checked copies";
    /// A `-meta-only` job creates no replica.
    pub const META_ONLY: &str = "a -meta-only job creates no replica";
    /// A job with a `-size` or `-pnfsid` filter starts tasks only for the files it selects; one
    /// with `-state` only for a replica that was in that state at some moment since the job
    /// was created, and one with `-sticky` only for a replica whose sticky records passed it at
    /// some such moment.
    pub const FILTERED: &str = "a job starts tasks only for files its filter selects";
    /// A `move` that ended FINISHED left on its pool no replica it found there and selected
    /// (cached or precious from the job's creation to its end) without a note naming the file;
    /// a pinned one it keeps by design (made removable, §1.4).
    pub const ACCOUNTED: &str = "a finished move accounts for every file it left behind";
    /// Copies on a job's targets never exceed `-replicas` (pre-existing ones counted).
    pub const REPLICAS: &str = "reruns never create copies beyond -replicas";
    /// A target that updates a replica it holds never makes a BROKEN one readable (cached or
    /// precious): its data failed a check, and a move would delete its source for it.
    pub const BROKEN_STAYS: &str = "a target never makes a BROKEN replica readable";
    /// A target never confirms a copy on a replica still being written (restored from tape):
    /// a copy request meeting one fails until it is complete.
    pub const INCOMPLETE_STAYS: &str = "no copy is confirmed on a replica still being written";
    /// Every job ends once faults stop; none stays in CANCELLING.
    pub const JOBS_END: &str = "every job ends once faults stop";
    /// A job cancelled while it ran ends CANCELLED, and starts no task after the cancel.
    pub const CANCELLED_STAYS: &str = "a cancelled job starts nothing and ends cancelled";
    /// Once nothing changes any more, permanent jobs stop starting tasks.
    pub const IDLE: &str = "permanent jobs go idle once nothing changes";
    /// After the end nothing stays locked or registered.
    pub const QUIESCENT: &str = "nothing stays locked or registered after the jobs end";
    /// The checker's model matches the repositories (a checker self-test).
    pub const MODEL: &str = "checker model matches the repositories";
}
use names::*;

#[derive(Debug, Clone)]
struct Held {
    state: ReplicaState,
    sticky: Vec<StickyRecord>,
    /// The spec whose copy request created it.
    born_by: Option<usize>,
    /// When it was last seen pinned (a pin set, held or released then).
    last_pinned: Option<Millis>,
    /// The index in the cluster's history of the event that put it in its state: an order
    /// finer than time, since a job's scan and a state change can fall in one millisecond.
    since_event: usize,
    /// The index in the cluster's history of the event by which it last left each state a
    /// filter selects: `[cached, precious]`.
    left_event: [Option<usize>; 2],
    /// The index in the cluster's history of the event that made it complete (cached or
    /// precious), and its time: its creation's for one created complete; `None` while it is
    /// being restored.
    complete_since: Option<(usize, Millis)>,
    /// The owners it had before, each list with the index of the event that replaced it.
    past_owners: Vec<(usize, Vec<String>)>,
}

impl Held {
    fn new(state: ReplicaState, sticky: Vec<StickyRecord>, born: Millis, born_by: Option<usize>, event: usize) -> Held {
        Held {
            state,
            sticky,
            born_by,
            last_pinned: None,
            since_event: event,
            left_event: [None, None],
            complete_since: state.is_cached_or_precious().then_some((event, born)),
            past_owners: Vec::new(),
        }
    }

    /// Gives it `sticky` by the history's `event`, noting the owners it had if they change.
    fn set_sticky(&mut self, sticky: &[StickyRecord], event: usize) {
        if self.sticky == sticky {
            return;
        }
        let old = owners(&self.sticky);
        if old != owners(sticky) {
            self.past_owners.push((event, old));
        }
        self.sticky = sticky.to_vec();
    }

    /// Whether its sticky records passed `filter` at some moment since the history's `event`.
    fn sticky_selected_since(&self, filter: &StickyFilter, event: usize) -> bool {
        sticky_selects(filter, &owners(&self.sticky))
            || self.past_owners.iter().any(|(left, owners)| *left >= event && sticky_selects(filter, owners))
    }

    /// Whether its sticky records have passed `filter` without a break since the history's
    /// `event`: the owners it has now, and every set of owners it had since. An owner added
    /// to a passing set keeps the replica in the job's queue (§7: only one that stops passing
    /// is dropped), so the job still owes a word on it.
    fn sticky_selected_throughout(&self, filter: &StickyFilter, event: usize) -> bool {
        sticky_selects(filter, &owners(&self.sticky))
            && self
                .past_owners
                .iter()
                .filter(|(left, _)| *left >= event)
                .all(|(_, owners)| sticky_selects(filter, owners))
    }

    fn slot(state: ReplicaState) -> Option<usize> {
        match state {
            ReplicaState::Cached => Some(0),
            ReplicaState::Precious => Some(1),
            _ => None,
        }
    }

    /// Moves it to `state` by the history's `event` at `time`, noting that it left the state it
    /// was in.
    fn enter(&mut self, state: ReplicaState, event: usize, time: Millis) {
        if self.state == state {
            return;
        }
        if let Some(slot) = Held::slot(self.state) {
            self.left_event[slot] = Some(event);
        }
        if state.is_cached_or_precious() && self.complete_since.is_none() {
            self.complete_since = Some((event, time));
        }
        self.state = state;
        self.since_event = event;
    }

    /// Whether it has been in `state` at some moment since the history's `event`.
    fn in_state_since(&self, state: ReplicaState, event: usize) -> bool {
        self.state == state || Held::slot(state).and_then(|s| self.left_event[s]).is_some_and(|left| left >= event)
    }

    /// Whether it is still being written: by a client, another pool or a restore from tape
    /// (the simulator places only the last).
    fn incomplete(&self) -> bool {
        matches!(self.state, ReplicaState::FromClient | ReplicaState::FromPool | ReplicaState::FromStore)
    }

    /// Whether it has been in `state` without a break since before the history's `event`.
    fn in_state_throughout(&self, state: ReplicaState, event: usize) -> bool {
        self.state == state && self.since_event < event
    }
}

/// The owners of sticky records, sorted, each once.
fn owners(sticky: &[StickyRecord]) -> Vec<String> {
    let owners: BTreeSet<&str> = sticky.iter().map(|r| r.owner.as_str()).collect();
    owners.into_iter().map(str::to_string).collect()
}

/// Whether a replica whose sticky records have these owners passes a `-sticky` filter, as the
/// spec words it (§7): bare, any record at all; with owners, a record of each plain one and
/// none of any negated one. Written here apart from the module's own reading of it.
fn sticky_selects(filter: &StickyFilter, owners: &[String]) -> bool {
    match filter {
        StickyFilter::Any => !owners.is_empty(),
        StickyFilter::Owners { required, forbidden } => {
            required.iter().all(|o| owners.contains(o)) && !forbidden.iter().any(|o| owners.contains(o))
        }
    }
}

/// What the checker has read of a job's notes, as they came.
#[derive(Default)]
struct Ledger {
    /// `Job::notes_written` when last read.
    read: u64,
    /// More notes came in one step than a job keeps: some were never read, so what the job
    /// said of its files is not known and the job is not judged.
    missed: bool,
    /// The job was judged when it finished.
    judged: bool,
    /// For a job to judge (a non-permanent one that deletes its sources): its pool, when it
    /// was created and its spec.
    judge: Option<Judge>,
    /// The files it named in a note, with the time of the last such note, if it is to be judged.
    noted: HashMap<PnfsId, Millis>,
    /// When it last started a task for each file, if it is to be judged.
    started: HashMap<PnfsId, Millis>,
}

/// The ledger of job `key` of `pool`'s `incarnation`, made on first use: only a non-permanent
/// job that deletes its sources is judged, and that is decided once (it was registered with the
/// command that created it, before any step).
fn ledger_of<'a>(
    ledgers: &'a mut BTreeMap<String, HashMap<(u32, JobKey), Ledger>>,
    (runs, specs): (&HashMap<JobRef, Run>, &[SpecInfo]),
    pool: &str,
    incarnation: u32,
    key: JobKey,
) -> &'a mut Ledger {
    if !ledgers.contains_key(pool) {
        ledgers.insert(pool.to_string(), HashMap::new());
    }
    let ledgers = ledgers.get_mut(pool).expect("inserted above");
    ledgers.entry((incarnation, key)).or_insert_with(|| {
        let job = JobRef { pool: pool.to_string(), incarnation, key };
        let deletes = |run: &&Run| specs[run.spec].smode == SourceMode::Delete && !specs[run.spec].permanent;
        let judge = runs.get(&job).filter(deletes).map(|&run| Judge { pool: pool.to_string(), run });
        Ledger { judge, ..Ledger::default() }
    })
}

/// What judging a finished move needs to know of it beside its notes.
struct Judge {
    pool: String,
    run: Run,
}

/// A job the scenario created: its spec, and when (also as the length of the cluster's
/// history then).
#[derive(Clone, Copy)]
struct Run {
    spec: usize,
    created: Millis,
    created_event: usize,
}

/// What the checker knows of a job spec.
struct SpecInfo {
    targets: BTreeSet<String>,
    replicas: usize,
    wait: bool,
    eager: bool,
    smode: SourceMode,
    smode_owners: Vec<String>,
    tmode_cached: bool,
    move_pins: bool,
    verify: bool,
    meta_only: bool,
    permanent: bool,
    /// The files its filter selects (`-size`, `-pnfsid`); `None`: every file.
    selects: Option<BTreeSet<PnfsId>>,
    /// The state its filter selects (`-state`); `None`: cached or precious.
    state_filter: Option<ReplicaState>,
    /// The sticky records its filter asks for (`-sticky`).
    sticky_filter: Option<StickyFilter>,
    /// When its first run was created.
    first_start: Option<Millis>,
}

/// The invariant checker of one run.
pub struct Checker {
    next_event: usize,
    next_copy: usize,
    model: HashMap<PnfsId, BTreeMap<String, Held>>,
    deleted: BTreeSet<PnfsId>,
    /// Files flushed to tape (a precious replica made cached from outside), or whose precious
    /// replica a job asking for cached copies made cached or deleted: no job need keep one
    /// precious any more.
    released: BTreeSet<PnfsId>,
    uuid_spec: HashMap<RequestId, usize>,
    /// The job whose task sent each copy request.
    uuid_job: HashMap<RequestId, JobRef>,
    /// The file of each copy request.
    uuid_file: HashMap<RequestId, PnfsId>,
    /// The request id of the last task of each job on each file.
    last_task: HashMap<(JobRef, PnfsId), RequestId>,
    next_confirmation: usize,
    next_pin_move: usize,
    /// The pools whose copy-finished message with success for a request reached its source
    /// while the task waited for that pool.
    confirmed: HashMap<RequestId, BTreeSet<String>>,
    /// The pool each request id's last copy request went to: the task's current target.
    target: HashMap<RequestId, String>,
    /// Every job the scenario created (or a restart re-created).
    runs: HashMap<JobRef, Run>,
    specs: Vec<SpecInfo>,
    /// How the `-replicas` bound is checked in this run.
    replicas_bound: ReplicasBound,
    /// Copies made for requests their task had given up on, not counted against `-replicas`.
    pub orphans: u64,
    /// Pins the scenario holds: `(file, owner)` → still pinned.
    pins: BTreeMap<(PnfsId, String), bool>,
    /// Per pool, per (incarnation, job): its notes read so far.
    ledgers: BTreeMap<String, HashMap<(u32, JobKey), Ledger>>,
    next_task_start: usize,
    /// Finished moves judged for the files they left behind, and those not judged because
    /// more notes came in one step than they keep.
    pub moves_judged: u64,
    /// See `moves_judged`.
    pub moves_not_judged: u64,
    /// Tasks started by jobs with a `-size` or `-pnfsid` filter.
    pub filtered_tasks: u64,
    /// Tasks started by jobs with a `-state` filter.
    pub state_filtered_tasks: u64,
    /// Tasks started by jobs with a `-sticky` filter.
    pub sticky_filtered_tasks: u64,
}

fn is_pin(r: &StickyRecord) -> bool {
    r.is_pin(PIN_MANAGER)
}

/// `expire` as an order: never expiring is the largest.
fn lifetime(expire: Millis) -> i128 {
    if expire == -1 { i128::MAX } else { i128::from(expire) }
}

/// How a run checks the `-replicas` bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicasBound {
    /// Every copy made for a job's requests counts.
    Every,
    /// A copy made for a request its task had already given up on (an orphan) does not count:
    /// lost messages, hung or offline pools and crashed sources leave such requests running on
    /// their targets, as in dCache, and the task's next try may pick another target.
    ExceptOrphans,
    /// Not checked: refusing targets make new copies legitimately (§5.5).
    Off,
}

impl Checker {
    /// A checker for these specs, checking the `-replicas` bound as `replicas_bound` says.
    pub fn new(specs: &[JobSpec], replicas_bound: ReplicasBound) -> Checker {
        let specs = specs
            .iter()
            .map(|s| SpecInfo {
                targets: s.targets.iter().map(|&t| pool_name(t)).collect(),
                replicas: s.replicas,
                wait: s.wait,
                eager: s.eager,
                smode: s.smode,
                smode_owners: s.smode_owners.clone(),
                tmode_cached: s.tmode_cached,
                move_pins: s.move_pins,
                verify: s.verify,
                meta_only: s.meta_only,
                permanent: s.permanent,
                selects: s.selects.clone(),
                state_filter: s.state_filter,
                sticky_filter: s.sticky_filter.clone(),
                first_start: None,
            })
            .collect();
        Checker {
            next_event: 0,
            next_copy: 0,
            model: HashMap::new(),
            deleted: BTreeSet::new(),
            released: BTreeSet::new(),
            uuid_spec: HashMap::new(),
            uuid_job: HashMap::new(),
            uuid_file: HashMap::new(),
            last_task: HashMap::new(),
            next_confirmation: 0,
            next_pin_move: 0,
            confirmed: HashMap::new(),
            target: HashMap::new(),
            runs: HashMap::new(),
            specs,
            replicas_bound,
            orphans: 0,
            pins: BTreeMap::new(),
            ledgers: BTreeMap::new(),
            moves_judged: 0,
            moves_not_judged: 0,
            filtered_tasks: 0,
            state_filtered_tasks: 0,
            sticky_filtered_tasks: 0,
            next_task_start: 0,
        }
    }

    /// A job of `spec` was created (or re-created by a restart) at `now`.
    /// `events` is the length of the cluster's history then.
    pub fn register(&mut self, job: JobRef, spec: usize, now: Millis, events: usize) {
        self.runs.insert(job, Run { spec, created: now, created_event: events });
        let info = &mut self.specs[spec];
        if info.first_start.is_none() {
            info.first_start = Some(now);
        }
    }

    /// The scenario deleted a file.
    pub fn deleted(&mut self, file: PnfsId) {
        self.deleted.insert(file);
    }

    /// Whether the scenario deleted a file.
    pub fn was_deleted(&self, file: &PnfsId) -> bool {
        self.deleted.contains(file)
    }

    /// The scenario pinned (`true`) or unpinned a file.
    pub fn pinned(&mut self, file: PnfsId, owner: &str, pinned: bool) {
        self.pins.insert((file, owner.to_string()), pinned);
    }

    /// Pins the scenario holds on `file`.
    pub fn pins_of(&self, file: PnfsId) -> Vec<String> {
        self.pins.iter().filter(|((f, _), alive)| *f == file && **alive).map(|((_, o), _)| o.clone()).collect()
    }

    /// Judges everything that happened since the last call.
    pub fn after_step(&mut self, c: &Cluster) -> Result<(), Violation> {
        // Before the repository's events: the confirmation that lets a source go arrives in
        // the step that removes it. Copies and confirmations are taken in the order they
        // happened, so that each confirmation meets the target its task had then.
        while self.next_confirmation < c.confirmations.len() {
            self.take_pin_moves(c, self.next_confirmation)?;
            let confirmation = &c.confirmations[self.next_confirmation];
            self.next_confirmation += 1;
            self.take_copies(c, confirmation.copies_sent);
            // A task counts only its current target's confirmation: one from a pool it gave
            // up on (timed out, then asked another) is late and ignored, and must not make up
            // for a copy the task never had confirmed.
            if self.target.get(&confirmation.uuid) == Some(&confirmation.from) {
                self.confirmed.entry(confirmation.uuid).or_default().insert(confirmation.from.clone());
            }
            // The model may lag the target's decision by this step's events, but a replica
            // never returns to being written once complete: one found incomplete now was so
            // when the target confirmed.
            let file = self.uuid_file.get(&confirmation.uuid);
            let held = file.and_then(|f| self.model.get(f)).and_then(|m| m.get(&confirmation.from));
            if let (Some(&file), Some(h)) = (file, held.filter(|h| h.incomplete())) {
                return Err(Violation {
                    invariant: INCOMPLETE_STAYS,
                    time: c.now(),
                    pool: Some(confirmation.from.clone()),
                    file: Some(file),
                    detail: format!("{} confirmed a copy on its replica in state {}", confirmation.from, h.state),
                });
            }
        }
        self.take_pin_moves(c, c.confirmations.len())?;
        self.take_copies(c, c.copies.len());
        while self.next_event < c.history.len() {
            let i = self.next_event;
            self.next_event += 1;
            let (time, pool, event) = &c.history[i];
            self.event(c, (i, *time), pool, event, &c.causes[i])?;
        }
        self.read_notes_and_judge_finished_moves(c)
    }

    /// Reads the notes every job wrote in this step and the tasks it started, checks that each
    /// task is for a file the job's filter selects ([`names::FILTERED`]), and judges each `move`
    /// that finished in it ([`names::ACCOUNTED`]).
    fn read_notes_and_judge_finished_moves(&mut self, c: &Cluster) -> Result<(), Violation> {
        let checker = (&self.runs, self.specs.as_slice());
        for start in &c.task_starts[self.next_task_start..] {
            let job = &start.job;
            let filtered = |detail: String| Violation {
                invariant: FILTERED,
                time: start.at,
                pool: Some(job.pool.clone()),
                file: Some(start.pnfsid),
                detail: format!("job {:?} started a task for {detail}", job.key),
            };
            if let Some(run) = self.runs.get(job) {
                let spec = &self.specs[run.spec];
                if let Some(selects) = &spec.selects {
                    self.filtered_tasks += 1;
                    if !selects.contains(&start.pnfsid) {
                        return Err(filtered("a file its filter does not select".to_string()));
                    }
                }
                // A replica removed meanwhile is not judged: the task finds nothing to move.
                let held = self.model.get(&start.pnfsid).and_then(|m| m.get(&job.pool));
                // Every filter selects complete replicas only, and a replica never returns to
                // being written once complete.
                if let Some(h) = held.filter(|h| h.incomplete()) {
                    return Err(filtered(format!("a replica still being written ({})", h.state)));
                }
                if let Some(state) = spec.state_filter {
                    self.state_filtered_tasks += 1;
                    if let Some(h) = held.filter(|h| !h.in_state_since(state, run.created_event)) {
                        let text = format!("a replica not {state} at any moment since the job began (now {})", h.state);
                        return Err(filtered(text));
                    }
                }
                if let Some(filter) = &spec.sticky_filter {
                    self.sticky_filtered_tasks += 1;
                    if let Some(h) = held.filter(|h| !h.sticky_selected_since(filter, run.created_event)) {
                        let text = format!(
                            "a replica whose sticky records never passed its filter since the job began (now {:?})",
                            owners(&h.sticky)
                        );
                        return Err(filtered(text));
                    }
                }
            }
            let ledger = ledger_of(&mut self.ledgers, checker, &job.pool, job.incarnation, job.key);
            if ledger.judge.is_some() {
                ledger.started.insert(start.pnfsid, start.at);
            }
        }
        self.next_task_start = c.task_starts.len();
        for (name, pool) in &c.pools {
            for job in pool.module.jobs() {
                let ledger = ledger_of(&mut self.ledgers, checker, name, pool.incarnation, job.key);
                let written = job.notes_written();
                let finished = job.state() == JobState::Finished && !ledger.judged;
                if ledger.judge.is_none() || (written == ledger.read && !finished) {
                    continue;
                }
                let kept = job.notes().count() as u64;
                let new = written - ledger.read;
                ledger.read = written;
                ledger.missed |= new > kept;
                ledger.judged |= finished;
                for note in job.notes().skip((kept - new.min(kept)) as usize) {
                    if let Some(file) = note.pnfsid {
                        ledger.noted.insert(file, note.time);
                    }
                }
                if finished {
                    if ledger.missed {
                        self.moves_not_judged += 1;
                    } else {
                        self.moves_judged += 1;
                        judge_finished_move(&self.model, &self.deleted, &self.specs, ledger, job.key, c.now())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Judges the pin moves asked before the `confirmations`-th confirmation arrived: a pool
    /// asks one only for a job of its own that moves pins (`-pins=move`), to a pool that
    /// confirmed that job's copy of the file (§9.5).
    fn take_pin_moves(&mut self, c: &Cluster, confirmations: usize) -> Result<(), Violation> {
        while let Some(asked) = c.pin_moves.get(self.next_pin_move).filter(|m| m.confirmations_seen <= confirmations) {
            self.next_pin_move += 1;
            self.take_copies(c, asked.copies_sent);
            let allowed = self.runs.iter().any(|(job, run)| {
                job.pool == asked.pool
                    && self.specs[run.spec].move_pins
                    && self
                        .last_task
                        .get(&(job.clone(), asked.pnfsid))
                        .and_then(|uuid| self.confirmed.get(uuid))
                        .is_some_and(|pools| pools.contains(&asked.target))
            });
            if !allowed {
                return Err(Violation {
                    invariant: PINS,
                    time: c.now(),
                    pool: Some(asked.pool.clone()),
                    file: Some(asked.pnfsid),
                    detail: format!(
                        "pins moved to {} with no job of the pool that moves pins and had its copy confirmed there",
                        asked.target
                    ),
                });
            }
        }
        Ok(())
    }

    /// Takes the copy requests sent before the `upto`-th.
    fn take_copies(&mut self, c: &Cluster, upto: usize) {
        while self.next_copy < upto {
            let copy = &c.copies[self.next_copy];
            self.next_copy += 1;
            if let Some(run) = self.runs.get(&copy.job) {
                self.uuid_spec.insert(copy.uuid, run.spec);
                self.uuid_job.insert(copy.uuid, copy.job.clone());
            }
            self.last_task.insert((copy.job.clone(), copy.pnfsid), copy.uuid);
            self.uuid_file.insert(copy.uuid, copy.pnfsid);
            self.target.insert(copy.uuid, copy.to.clone());
        }
    }

    fn complete_elsewhere(&self, file: &PnfsId, except: &str) -> usize {
        self.model
            .get(file)
            .map_or(0, |m| m.iter().filter(|(p, h)| p.as_str() != except && h.state.is_cached_or_precious()).count())
    }

    /// Whether a source mode may take the precious replica of `file` on `pool` now.
    fn precious_elsewhere(&self, file: &PnfsId, pool: &str, cause: &Cause) -> bool {
        self.released.contains(file)
            || self.spec_of(cause).is_some_and(|s| s.tmode_cached)
            || self
                .model
                .get(file)
                .is_some_and(|m| m.iter().any(|(p, h)| p.as_str() != pool && h.state == ReplicaState::Precious))
    }

    fn spec_of(&self, cause: &Cause) -> Option<&SpecInfo> {
        match cause {
            Cause::SourceMode { job } => self.runs.get(job).map(|run| &self.specs[run.spec]),
            _ => None,
        }
    }

    /// Judges the history's event `index`, at `time`.
    fn event(
        &mut self,
        c: &Cluster,
        (index, time): (usize, Millis),
        pool: &str,
        event: &RepositoryEvent,
        cause: &Cause,
    ) -> Result<(), Violation> {
        let violation = |invariant, file: PnfsId, detail: String| Violation {
            invariant,
            time,
            pool: Some(pool.to_string()),
            file: Some(file),
            detail,
        };
        match event {
            RepositoryEvent::StateChanged { old, new: ReplicaState::Removed, entry } => {
                let file = entry.pnfsid;
                let held = self.model.get_mut(&file).and_then(|m| m.remove(pool));
                // Nothing of the file goes with an incomplete replica that nobody modelled, nor
                // with a broken one that the operator removes.
                if !old.is_cached_or_precious() && (held.is_none() || matches!(cause, Cause::External)) {
                    return Ok(());
                }
                let others = self.complete_elsewhere(&file, pool);
                match cause {
                    Cause::SourceMode { job } => {
                        let Some(spec) = self.spec_of(cause) else {
                            return Err(violation(
                                CONFIRMED_COPY,
                                file,
                                format!("removed by an unknown job ({cause:?})"),
                            ));
                        };
                        if spec.smode != SourceMode::Delete {
                            let text = format!("source deleted by a job with -smode={:?}", spec.smode);
                            return Err(violation(NO_DOWNGRADE, file, text));
                        }
                        if let Some(pin) = entry.sticky.iter().find(|r| is_pin(r)) {
                            let text = format!("pinned source deleted by the source mode (pin {})", pin.owner);
                            return Err(violation(PINS, file, text));
                        }
                        if others == 0 {
                            let text = "the source mode deleted the source while no other pool held a complete replica";
                            return Err(violation(CONFIRMED_COPY, file, text.to_string()));
                        }
                        if let Err(text) = self.copies_confirmed(job, &file, spec, "deleted the source") {
                            return Err(violation(ALL_COPIES_CONFIRMED, file, text));
                        }
                        if let Err(text) = self.copies_verified(c, job, &file, spec, "deleted the source") {
                            return Err(violation(VERIFIED, file, text));
                        }
                        if *old == ReplicaState::Precious && !self.precious_elsewhere(&file, pool, cause) {
                            let text = "the source mode deleted a precious source with no precious copy elsewhere";
                            return Err(violation(PRECIOUS_KEPT, file, text.to_string()));
                        }
                        if *old == ReplicaState::Precious && spec.tmode_cached {
                            self.released.insert(file);
                        }
                    }
                    Cause::External if self.deleted.contains(&file) => {}
                    _ => {
                        return Err(violation(LAST_REPLICA, file, format!("replica removed by {cause:?}")));
                    }
                }
                if others == 0 && !self.deleted.contains(&file) {
                    return Err(violation(LAST_REPLICA, file, format!("last replica removed by {cause:?}")));
                }
            }
            RepositoryEvent::StateChanged { old, new, entry } => {
                let file = entry.pnfsid;
                let existing = self.model.get(&file).and_then(|m| m.get(pool)).cloned();
                match existing {
                    None => {
                        // A new replica.
                        if let Cause::Transfer { request } = cause
                            && let Some(&spec) = self.uuid_spec.get(request)
                            && self.specs[spec].meta_only
                        {
                            let text = format!("job spec {spec} (-meta-only) created a replica");
                            return Err(violation(META_ONLY, file, text));
                        }
                        let born_by = match cause {
                            Cause::Transfer { request } if self.orphan(c, *request) => {
                                self.orphans += 1;
                                None
                            }
                            Cause::Transfer { request } => self.uuid_spec.get(request).copied(),
                            Cause::External => None,
                            other => {
                                return Err(violation(MODEL, file, format!("replica created by {other:?}")));
                            }
                        };
                        if matches!(cause, Cause::Transfer { .. })
                            && let Some(pin) = entry.sticky.iter().find(|r| is_pin(r))
                        {
                            let text = format!(
                                "a new copy carries pin {} (pins move only through the pin manager)",
                                pin.owner
                            );
                            return Err(violation(PINS, file, text));
                        }
                        let held = Held::new(*new, entry.sticky.clone(), time, born_by, index);
                        self.model.entry(file).or_default().insert(pool.to_string(), held);
                        if let Some(spec) = born_by {
                            self.check_replicas(time, pool, file, spec)?;
                        }
                    }
                    Some(_) => {
                        if *old == ReplicaState::Broken
                            && new.is_cached_or_precious()
                            && let Cause::TargetUpdate { request } = cause
                        {
                            let text = format!("a target's update (request {request}) made a BROKEN replica {new}");
                            return Err(violation(BROKEN_STAYS, file, text));
                        }
                        if *old == ReplicaState::Precious && *new == ReplicaState::Cached {
                            if matches!(cause, Cause::External) {
                                self.released.insert(file);
                            } else if let Cause::SourceMode { job } = cause {
                                if let Some(spec) = self.spec_of(cause)
                                    && let Err(text) = self.copies_confirmed(job, &file, spec, "made the source cached")
                                {
                                    return Err(violation(LOWERED_AFTER_COPIES, file, text));
                                }
                                if let Some(spec) = self.spec_of(cause)
                                    && let Err(text) =
                                        self.copies_verified(c, job, &file, spec, "made the source cached")
                                {
                                    return Err(violation(VERIFIED, file, text));
                                }
                                if !self.precious_elsewhere(&file, pool, cause) {
                                    let text =
                                        "the source mode made a precious source cached with no precious copy elsewhere";
                                    return Err(violation(PRECIOUS_KEPT, file, text.to_string()));
                                }
                                if self.spec_of(cause).is_some_and(|s| s.tmode_cached) {
                                    self.released.insert(file);
                                }
                            }
                            let allowed = match cause {
                                Cause::External => true,
                                Cause::SourceMode { .. } => self.spec_of(cause).is_some_and(|s| {
                                    matches!(s.smode, SourceMode::Cached | SourceMode::Removable | SourceMode::Delete)
                                }),
                                _ => false,
                            };
                            if !allowed {
                                return Err(violation(
                                    NO_DOWNGRADE,
                                    file,
                                    format!("precious made cached by {cause:?}"),
                                ));
                            }
                        }
                        if let Some(h) = self.model.get_mut(&file).and_then(|m| m.get_mut(pool)) {
                            h.enter(*new, index, time);
                            h.set_sticky(&entry.sticky, index);
                        }
                    }
                }
            }
            RepositoryEvent::StickyChanged { old, new } => {
                let file = new.pnfsid;
                self.check_sticky(&old.sticky, &new.sticky, cause).map_err(|(inv, text)| violation(inv, file, text))?;
                if let (Cause::SourceMode { job }, Some(spec)) = (cause, self.spec_of(cause))
                    && shortened(&old.sticky, &new.sticky)
                {
                    let what = "shortened the source's sticky records";
                    if let Err(text) = self.copies_confirmed(job, &file, spec, what) {
                        return Err(violation(LOWERED_AFTER_COPIES, file, text));
                    }
                    if let Err(text) = self.copies_verified(c, job, &file, spec, what) {
                        return Err(violation(VERIFIED, file, text));
                    }
                }
                if let Some(h) = self.model.get_mut(&file).and_then(|m| m.get_mut(pool)) {
                    h.set_sticky(&new.sticky, index);
                }
            }
            RepositoryEvent::AccessTimeChanged { .. } => {}
        }
        // A pin set, held or released now: the replica was pinned at this time.
        let pinned = match event {
            RepositoryEvent::StateChanged { entry, .. } => entry.sticky.iter().any(is_pin).then_some(entry.pnfsid),
            RepositoryEvent::StickyChanged { old, new } => {
                (old.sticky.iter().any(is_pin) || new.sticky.iter().any(is_pin)).then_some(new.pnfsid)
            }
            RepositoryEvent::AccessTimeChanged { .. } => None,
        };
        if let Some(h) = pinned.and_then(|file| self.model.get_mut(&file)).and_then(|m| m.get_mut(pool)) {
            h.last_pinned = Some(time);
        }
        Ok(())
    }

    /// Whether the source mode's copies were confirmed before it lowered its source: by a
    /// pool in `-target-deficit-mode=limit` (a task may end with fewer copies than asked for,
    /// never with none), by as many as `-replicas` asks for in `wait` mode. The text says
    /// what fell short.
    fn copies_confirmed(&self, job: &JobRef, file: &PnfsId, spec: &SpecInfo, what: &str) -> Result<(), String> {
        let needed = if spec.wait { spec.replicas } else { 1 };
        let task = self.last_task.get(&(job.clone(), *file));
        let confirmed = task.and_then(|uuid| self.confirmed.get(uuid)).map_or(0, BTreeSet::len);
        if confirmed >= needed {
            return Ok(());
        }
        Err(format!(
            "the source mode {what} after {confirmed} confirmed copies (-replicas={}, {} mode)",
            spec.replicas,
            if spec.wait { "wait" } else { "limit" }
        ))
    }

    /// With `-verify`, whether every pool that confirmed the task's copy holds data that
    /// matches its checksum: a corrupt replica must fail a verifying update, never confirm it.
    fn copies_verified(
        &self,
        c: &Cluster,
        job: &JobRef,
        file: &PnfsId,
        spec: &SpecInfo,
        what: &str,
    ) -> Result<(), String> {
        if !spec.verify {
            return Ok(());
        }
        let task = self.last_task.get(&(job.clone(), *file));
        let mut pools = task.and_then(|uuid| self.confirmed.get(uuid)).into_iter().flatten();
        let corrupt = |pool: &&String| {
            c.pools
                .get(*pool)
                .is_some_and(|p| p.repository.is_corrupt(file) && matches!(p.repository.entry(file), Ok(Some(_))))
        };
        match pools.find(corrupt) {
            Some(pool) => {
                Err(format!("the source mode {what} on the word of {pool}, whose replica is corrupt (-verify)"))
            }
            None => Ok(()),
        }
    }

    fn check_sticky(
        &self,
        old: &[StickyRecord],
        new: &[StickyRecord],
        cause: &Cause,
    ) -> Result<(), (&'static str, String)> {
        if matches!(cause, Cause::External) {
            return Ok(());
        }
        for before in old {
            let after = new.iter().find(|r| r.owner == before.owner);
            let shortened = match after {
                None => true,
                Some(a) => lifetime(a.expire) < lifetime(before.expire),
            };
            if !shortened {
                continue;
            }
            let what = match after {
                None => format!("record {}({}) removed", before.owner, before.expire),
                Some(a) => format!("record {} shortened from {} to {}", before.owner, before.expire, a.expire),
            };
            match cause {
                Cause::PinManager if is_pin(before) && after.is_none() => {}
                Cause::SourceMode { .. } if !is_pin(before) => {
                    let Some(spec) = self.spec_of(cause) else {
                        return Err((STICKY_EXTENDED, format!("{what} by an unknown job")));
                    };
                    let listed = spec.smode_owners.contains(&before.owner);
                    let expired = after.is_some_and(|a| a.expire == 0)
                        && matches!(spec.smode, SourceMode::Removable | SourceMode::Delete);
                    if !(listed || expired) {
                        return Err((STICKY_EXTENDED, format!("{what} by the source mode {:?}", spec.smode)));
                    }
                }
                _ if is_pin(before) => return Err((PINS, format!("pin {what} by {cause:?}"))),
                _ => return Err((STICKY_EXTENDED, format!("{what} by {cause:?}"))),
            }
        }
        for added in new.iter().filter(|r| is_pin(r) && !old.iter().any(|o| o.owner == r.owner)) {
            if !matches!(cause, Cause::PinManager) {
                return Err((PINS, format!("pin {} added by {cause:?}", added.owner)));
            }
        }
        Ok(())
    }

    /// Whether a copy made now for `request` is an orphan that the run does not count against
    /// `-replicas`.
    fn orphan(&self, c: &Cluster, request: RequestId) -> bool {
        self.replicas_bound == ReplicasBound::ExceptOrphans
            && self.uuid_job.get(&request).is_some_and(|job| !c.task_waits_for(job, request))
    }

    /// At the creation of a copy by `spec` on `pool`: on the spec's targets, the replicas that
    /// existed when the spec first ran plus those the spec made never exceed
    /// `max(replicas, pre-existing)`.
    fn check_replicas(&self, time: Millis, pool: &str, file: PnfsId, spec: usize) -> Result<(), Violation> {
        let info = &self.specs[spec];
        if self.replicas_bound == ReplicasBound::Off || info.eager || !info.targets.contains(pool) {
            return Ok(());
        }
        let first = info.first_start.unwrap_or(time);
        let Some(held) = self.model.get(&file) else { return Ok(()) };
        let on_targets =
            held.iter().filter(|(p, h)| info.targets.contains(p.as_str()) && h.state.is_cached_or_precious());
        let mut pre = Vec::new();
        let mut made = Vec::new();
        for (p, h) in on_targets {
            if h.born_by == Some(spec) {
                made.push(p.clone());
            } else if h.complete_since.is_some_and(|(_, at)| at <= first) {
                // Complete by the job's first start: a replica restored since was not there
                // to count when the job chose its targets.
                pre.push(p.clone());
            }
        }
        if pre.len() + made.len() > info.replicas.max(pre.len()) {
            return Err(Violation {
                invariant: REPLICAS,
                time,
                pool: Some(pool.to_string()),
                file: Some(file),
                detail: format!(
                    "job spec {spec} (-replicas={}) made copies on {made:?} while {pre:?} already held the file",
                    info.replicas
                ),
            });
        }
        Ok(())
    }

    /// Whole-cluster checks at the end of a run (all jobs ended, the cluster quiet).
    pub fn at_end(&mut self, c: &Cluster) -> Result<(), Violation> {
        self.after_step(c)?;
        let time = c.now();
        let at = |invariant, pool: Option<&str>, file: Option<PnfsId>, detail: String| Violation {
            invariant,
            time,
            pool: pool.map(str::to_string),
            file,
            detail,
        };
        // The model is the repositories.
        let mut live: HashMap<PnfsId, BTreeMap<String, (ReplicaState, Vec<StickyRecord>)>> = HashMap::new();
        for (name, pool) in &c.pools {
            for entry in pool.repository.entries() {
                live.entry(entry.pnfsid).or_default().insert(name.clone(), (entry.state, entry.sticky.clone()));
            }
        }
        for (file, held) in &self.model {
            for (pool, h) in held {
                let matches =
                    live.get(file).and_then(|m| m.get(pool)).is_some_and(|(s, r)| *s == h.state && *r == h.sticky);
                if !matches {
                    return Err(at(MODEL, Some(pool), Some(*file), "model and repository differ".to_string()));
                }
            }
        }
        let count: usize = live.values().map(BTreeMap::len).sum();
        let modelled: usize = self.model.values().map(BTreeMap::len).sum();
        if count != modelled {
            return Err(at(MODEL, None, None, format!("{count} replicas, {modelled} modelled")));
        }
        // Every file not deleted still has a complete replica.
        for (file, held) in &self.model {
            if !self.deleted.contains(file) && !held.values().any(|h| h.state.is_cached_or_precious()) {
                return Err(at(LAST_REPLICA, None, Some(*file), "no complete replica left".to_string()));
            }
        }
        // No pin vanished.
        for ((file, owner), alive) in &self.pins {
            if !*alive || self.deleted.contains(file) {
                continue;
            }
            let carried = live.get(file).is_some_and(|m| m.values().any(|(_, r)| r.iter().any(|r| r.owner == *owner)));
            if !carried {
                return Err(at(PINS, None, Some(*file), format!("pin {owner} vanished")));
            }
        }
        Ok(())
    }
}

/// A non-permanent job deleting its sources (a `move`) that has just ended FINISHED: every
/// replica on its pool that was there, cached or precious, when the job scanned the pool (at its
/// creation, complete by then) and is still there, of a file not deleted, must be named in one of
/// its notes written since the job last started a task for the file, unless it was pinned since
/// the scan (a move keeps a pinned source, made removable, without a word, as dCache's does).
/// Only files its filter selects are judged: by size and id, and by state or sticky records only
/// replicas that passed from the scan on (one that left the filter while queued was dropped
/// without a note, as dCache drops it; one that left it while its task ran is not judged either,
/// though the job keeps it: a gap). The simulator draws no other filters and no `-stop-when`, so
/// every such replica is one the job took on.
fn judge_finished_move(
    model: &HashMap<PnfsId, BTreeMap<String, Held>>,
    deleted: &BTreeSet<PnfsId>,
    specs: &[SpecInfo],
    ledger: &Ledger,
    key: JobKey,
    now: Millis,
) -> Result<(), Violation> {
    let Some(Judge { pool, run }) = &ledger.judge else { return Ok(()) };
    let spec = &specs[run.spec];
    let (selects, state, sticky) = (spec.selects.as_ref(), spec.state_filter, spec.sticky_filter.as_ref());
    for (file, held) in model {
        let Some(h) = held.get(pool) else { continue };
        if selects.is_some_and(|files| !files.contains(file)) {
            continue;
        }
        // A replica that left the selected state while queued leaves the job without a word,
        // as dCache's does; only one selected throughout is judged.
        if state.is_some_and(|state| !h.in_state_throughout(state, run.created_event)) {
            continue;
        }
        // Likewise a replica whose sticky records stopped passing the filter while queued.
        if sticky.is_some_and(|filter| !h.sticky_selected_throughout(filter, run.created_event)) {
            continue;
        }
        // Complete when the job scanned (so there by then): a replica restored since, or
        // created since, was not found by the scan.
        let complete_at_scan = h.complete_since.is_some_and(|(at, _)| at < run.created_event);
        let found_and_kept = h.state.is_cached_or_precious() && complete_at_scan;
        let pinned_since = h.sticky.iter().any(is_pin) || h.last_pinned.is_some_and(|at| at >= run.created);
        let last_started = ledger.started.get(file).copied().unwrap_or(Millis::MIN);
        let said_since = ledger.noted.get(file).is_some_and(|&at| at >= last_started);
        if !found_and_kept || pinned_since || deleted.contains(file) || said_since {
            continue;
        }
        return Err(Violation {
            invariant: ACCOUNTED,
            time: now,
            pool: Some(pool.clone()),
            file: Some(*file),
            detail: format!("job {key:?} finished and left the {} replica it found without a note", h.state),
        });
    }
    Ok(())
}

/// Checks that nothing is left locked or registered on any pool.
pub fn quiescent(c: &Cluster) -> Result<(), Violation> {
    for (name, pool) in &c.pools {
        let (locks, requests) = (pool.module.locked_files(), pool.module.server_requests());
        if locks > 0 || requests > 0 {
            return Err(Violation {
                invariant: QUIESCENT,
                time: c.now(),
                pool: Some(name.clone()),
                file: None,
                detail: format!("{locks} files locked, {requests} server requests registered"),
            });
        }
    }
    Ok(())
}
