//! The module's state as data, for monitoring and a REST frontend (spec §13), and for the
//! `-json` forms of `migration ls` and `migration info`. The numbers are the ones
//! `migration info` prints.

use serde::Serialize;

use crate::job::{Job, JobState, Note, Statistics};
use crate::module::Module;
use crate::progress::Rate;

/// One job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Job id.
    pub id: String,
    /// State.
    pub state: JobState,
    /// The recorded command line.
    pub command: String,
    /// The summary line of `migration ls`.
    pub summary: String,
    /// Permanent job.
    pub permanent: bool,
    /// Concurrency.
    pub concurrency: i32,
    /// Queued files.
    pub queued: usize,
    /// Counters.
    #[serde(flatten)]
    pub statistics: Statistics,
    /// `floor(100 × transferred / total)`, when anything was enqueued.
    pub percent: Option<u64>,
    /// Selectable target pools.
    pub targets: Vec<String>,
    /// The `Targets` value of `migration info`.
    pub targets_description: String,
    /// Running tasks.
    pub running_tasks: Vec<TaskStatus>,
    /// The most recent notes, oldest first.
    pub notes: Vec<Note>,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// When the job started (left NEW), ms since the epoch (beyond dCache).
    pub started: Option<i64>,
    /// Files and bytes per second over the last minute of active time (beyond dCache).
    pub rate: Option<Rate>,
    /// Milliseconds the remaining files need at that rate (beyond dCache).
    pub eta_millis: Option<i64>,
    /// Files no longer retried after `-max-attempts` failures, with their last error (beyond
    /// dCache).
    pub quarantined: Vec<QuarantineStatus>,
}

/// A quarantined file.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineStatus {
    /// The file.
    pub pnfsid: String,
    /// Its failed attempts and last error.
    #[serde(flatten)]
    pub quarantined: crate::quarantine::Quarantined,
}

/// One running task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    /// Task id.
    pub id: u64,
    /// The file.
    pub pnfsid: String,
    /// `Copying`, `Pinging`, …
    pub state: &'static str,
    /// Current target pool.
    pub target: Option<String>,
}

/// dCache's `migrationData` object (§13.1) plus every job in full.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleStatus {
    /// Always `Migration`.
    pub label: &'static str,
    /// One summary line per job.
    pub job_info: Vec<String>,
    /// Requests the migration server currently serves.
    pub server_requests: usize,
    /// Every job.
    pub jobs: Vec<JobStatus>,
}

impl JobStatus {
    /// The status of `job` at `now`.
    pub fn of(job: &Job, now: i64) -> JobStatus {
        let s = job.statistics();
        JobStatus {
            id: job.id.clone(),
            state: job.state(),
            command: job.definition.command_line.clone(),
            summary: job.summary(),
            permanent: job.is_permanent(),
            concurrency: job.concurrency,
            queued: job.queued(),
            statistics: s,
            percent: (s.total > 0).then(|| (u128::from(s.transferred) * 100 / u128::from(s.total)) as u64),
            targets: job.targets().iter().map(|p| p.name.clone()).collect(),
            targets_description: job.targets_description(),
            running_tasks: job
                .running_tasks()
                .into_iter()
                .map(|(id, pnfsid, state, target)| TaskStatus {
                    id,
                    pnfsid: pnfsid.to_string(),
                    state,
                    target: target.map(str::to_string),
                })
                .collect(),
            notes: job.notes().cloned().collect(),
            created: job.created,
            started: job.started(),
            rate: job.rate(now),
            eta_millis: job.eta(now),
            quarantined: job
                .quarantined()
                .map(|(id, q)| QuarantineStatus { pnfsid: id.to_string(), quarantined: q.clone() })
                .collect(),
        }
    }
}

impl Module {
    /// The module's status (§13.1) at `now`.
    pub fn status(&self, now: i64) -> ModuleStatus {
        ModuleStatus {
            label: "Migration",
            job_info: self.jobs().map(Job::summary).collect(),
            server_requests: self.server_requests(),
            jobs: self.jobs().map(|j| JobStatus::of(j, now)).collect(),
        }
    }
}
