//! `wait <job>`: returns once a job has ended or completed enough files, showing its progress
//! at a terminal.

use std::time::{Duration, Instant};

use migration_core::syntax::ParsedArgs;
use migration_core::{Error, ErrorKind};

use super::{Progress, human, pool_runtime};
use crate::cluster::Cluster;

/// How often `wait` looks at the job.
pub(super) const WAIT_POLL: Duration = Duration::from_millis(10);

/// How often the progress line is redrawn.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_millis(200);

pub(super) fn wait(
    cluster: &Cluster,
    pool: &str,
    args: &ParsedArgs,
    mut progress: Progress<'_>,
) -> Result<String, Error> {
    let id = args.arg(0).unwrap_or_default();
    let timeout = args.long("timeout").unwrap_or(60);
    if timeout < 0 {
        return Err(Error::syntax(format!("Invalid timeout: {timeout}")));
    }
    let completed = match args.long("completed") {
        Some(n) if n < 0 => return Err(Error::syntax(format!("Invalid number of files: {n}"))),
        Some(n) => Some(n as u64),
        None => None,
    };
    let runtime = pool_runtime(cluster, pool)?;
    let started = Instant::now();
    let deadline = started
        .checked_add(Duration::from_secs(timeout as u64))
        .ok_or_else(|| Error::syntax(format!("Invalid timeout: {timeout}")))?;
    let mut shown = started;
    // The rate is measured from the first progress line on.
    let mut base: Option<(Instant, u64)> = None;
    loop {
        let seen = runtime.with_module(|m| {
            m.job(id).map(|j| (j.state().is_terminal(), j.summary(), j.state().name(), j.statistics(), j.queued()))
        });
        match seen {
            None => return Err(Error::job_not_found()),
            Some((true, summary, ..)) => return Ok(summary),
            Some((false, summary, _, stats, _)) if completed.is_some_and(|n| stats.completed_files >= n) => {
                return Ok(summary);
            }
            Some((false, ..)) if Instant::now() >= deadline => {
                return Err(Error::new(ErrorKind::State, format!("Timed out waiting for job {id}")));
            }
            Some((false, _, state, stats, queued)) => {
                if let Some(show) = progress.as_mut()
                    && shown.elapsed() >= PROGRESS_EVERY
                {
                    shown = Instant::now();
                    let (since, bytes) = *base.get_or_insert((shown, stats.transferred));
                    let secs = since.elapsed().as_secs_f64().max(0.001);
                    let rate = stats.transferred.saturating_sub(bytes) as f64 / secs;
                    show(&format!(
                        "[{id}] {state}: {} files ({} of {}), {queued} queued, {}/s",
                        stats.completed_files,
                        human(stats.transferred),
                        human(stats.total),
                        human(rate as u64)
                    ));
                }
                std::thread::sleep(WAIT_POLL);
            }
        }
    }
}
