//! Starting a job (§3.2): the repository scan of an INITIALIZING job, which may find the
//! repository still loading, or the known entries of a hot-file job.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{Job, JobState, LOG_TARGET, State, WAKE_DELAY};
use crate::context::Ctx;
use crate::effect::Effect;
use crate::host::RepositoryError;
use crate::queue::ScannedFiles;
use crate::replica::ReplicaEntry;
use crate::timers::TimerKey;

impl Job {
    /// Starts a `NEW` job: refresh the pool lists and scan the repository (§3.2).
    pub fn start(&mut self, ctx: &mut Ctx<'_>) {
        if self.state() != JobState::New {
            return;
        }
        self.set_state(State::Initializing { scan: Scan::InFlight { retry: false, loaded_meanwhile: false } }, ctx.now);
        self.progress.start(ctx.now);
        tracing::info!(target: LOG_TARGET, pool = &**ctx.pool, job = %self.id, "Job {} started: {}", self.id, self.definition.command_line);
        self.refresh(ctx);
        self.scan(false, ctx);
    }

    pub(super) fn scan(&mut self, retry: bool, ctx: &mut Ctx<'_>) {
        self.set_scan(Scan::InFlight { retry, loaded_meanwhile: false });
        // A new scan reads the repository as it is now: earlier changes are in it.
        self.changed_while_scanning.clear();
        self.scan_stop = Arc::new(AtomicBool::new(false));
        ctx.effects.push(Effect::Scan {
            job: self.key,
            filter: Arc::clone(&self.filter),
            order: self.definition.order,
            now: ctx.now,
            queue_seed: self.queue.seed(),
            stop: Arc::clone(&self.scan_stop),
        });
    }

    /// Where the scan stands, while INITIALIZING.
    pub(super) fn scan_state(&self) -> Option<Scan> {
        match self.state {
            State::Initializing { scan } => Some(scan),
            _ => None,
        }
    }

    /// Records where the scan of an INITIALIZING job stands.
    pub(super) fn set_scan(&mut self, next: Scan) {
        if let State::Initializing { scan } = &mut self.state {
            *scan = next;
        }
    }

    /// The repository finished loading: a job that found it loading scans it now.
    pub fn repository_loaded(&mut self, ctx: &mut Ctx<'_>) {
        match self.scan_state() {
            Some(Scan::WaitingForLoad) => {
                ctx.timers.cancel(TimerKey::ScanRetry(self.key));
                self.scan(true, ctx);
            }
            Some(Scan::InFlight { retry, .. }) => self.set_scan(Scan::InFlight { retry, loaded_meanwhile: true }),
            None => {}
        }
    }

    /// The retry timer of a job waiting for its repository to load.
    pub fn retry_scan(&mut self, ctx: &mut Ctx<'_>) {
        if self.scan_state() == Some(Scan::WaitingForLoad) {
            self.scan(true, ctx);
        }
    }

    /// Starts a `NEW` job with known entries and no scan (hot-file jobs, §3.2).
    pub fn start_with_entries(&mut self, entries: &[ReplicaEntry], ctx: &mut Ctx<'_>) {
        if self.state() != JobState::New {
            return;
        }
        // No scan: the entries are known.
        self.set_state(State::Initializing { scan: Scan::InFlight { retry: false, loaded_meanwhile: false } }, ctx.now);
        self.progress.start(ctx.now);
        self.refresh(ctx);
        let filter = Arc::clone(&self.filter);
        let now = ctx.now;
        for entry in entries.iter().filter(|e| filter.matches(e, now)) {
            self.add(entry.pnfsid, entry.size, ctx);
        }
        self.scan_finished(ctx);
    }

    /// The result of the initial scan.
    pub fn scanned(&mut self, result: Result<ScannedFiles, RepositoryError>, ctx: &mut Ctx<'_>) {
        match result {
            Ok(files) => {
                if self.state() == JobState::Initializing {
                    if self.running.is_empty() {
                        // What `add` does for each file, at once: nothing runs yet and the
                        // scheduler does nothing while initializing, so only the queue and
                        // the total change. The queue indexes a whole scan in one pass.
                        let (_, bytes) = self.queue.extend_scanned(files);
                        self.stats.total = self.stats.total.saturating_add(bytes);
                    } else {
                        for (id, size) in files.files() {
                            self.add(id, size, ctx);
                        }
                        ctx.effects.extend(files.release().map(Effect::Release));
                    }
                    self.drop_files_that_left_while_scanning(ctx);
                } else {
                    // Not wanted (the job was cancelled while it scanned): freed after the
                    // module's lock, as every large piece of memory is.
                    ctx.effects.extend(files.release().map(Effect::Release));
                }
                self.scan_finished(ctx);
            }
            Err(RepositoryError::NotLoaded) if self.state() == JobState::Initializing => {
                // dCache's scan ends quietly here and a non-permanent job then finishes with
                // nothing; a permanent job restored at pool start would copy only what the
                // load-time events bring. Waiting keeps every job whole: events seen while
                // loading are queued (permanent jobs), and the scan after loading adds the rest.
                match self.scan_state() {
                    Some(Scan::InFlight { loaded_meanwhile: true, .. }) => self.scan(true, ctx),
                    Some(Scan::InFlight { retry, .. }) => {
                        if !retry {
                            self.note(ctx, 0, None, "Repository is still loading; waiting for it".to_string());
                        }
                        self.set_scan(Scan::WaitingForLoad);
                        ctx.timers.set(TimerKey::ScanRetry(self.key), ctx.now + WAKE_DELAY);
                    }
                    Some(Scan::WaitingForLoad) | None => {}
                }
            }
            Err(error) if self.state() == JobState::Initializing => {
                self.note(ctx, 0, None, format!("Repository scan failed: {error}"));
                self.terminate(State::Failed, ctx);
            }
            Err(_) => self.scan_finished(ctx),
        }
    }

    /// Takes out of the queue the files the scan found that stopped matching, or were removed,
    /// while it ran: it read them before their change. dCache adds each entry under the job's
    /// lock with its listener registered, so no change slips between its read and its add.
    fn drop_files_that_left_while_scanning(&mut self, ctx: &mut Ctx<'_>) {
        let changed = std::mem::take(&mut self.changed_while_scanning);
        for (pnfsid, _) in changed.into_iter().filter(|(_, matches)| !matches) {
            self.drop_unless_running(pnfsid, ctx);
        }
    }

    pub(super) fn scan_finished(&mut self, ctx: &mut Ctx<'_>) {
        match self.state() {
            JobState::Initializing => self.enter(State::Running, ctx),
            JobState::Cancelling => self.schedule(ctx),
            _ => {}
        }
    }
}

/// The repository scan of an INITIALIZING job, which may find the repository still loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// Asked. `retry`: an earlier scan found the repository loading (already noted).
    /// `loaded_meanwhile`: the host reported it loaded since, so a "still loading" answer is
    /// stale and the job scans again at once.
    InFlight { retry: bool, loaded_meanwhile: bool },
    /// The repository was still loading: the job scans again when the host reports it loaded,
    /// or when [`TimerKey::ScanRetry`] fires, in case the host never says so.
    WaitingForLoad,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use crate::context::Config;
    use crate::effect::Effect;
    use crate::host::RepositoryError;
    use crate::input::Input;
    use crate::job::JobState;
    use crate::module::Module;

    /// §3.2: "The scan stops early if the state is no longer INITIALIZING (e.g. cancelled)".
    /// A cancelled job no longer waits for a scan of millions of replicas to end.
    #[test]
    fn cancelling_an_initializing_job_tells_its_scan_to_stop() {
        let mut module = Module::new("pool1", Config::default(), 1);
        module.handle(0, Input::PoolStarted);
        module.execute(0, "migration copy pool2").expect("valid");
        let (job, stop) = module
            .take_effects()
            .into_iter()
            .find_map(|e| match e {
                Effect::Scan { job, stop, .. } => Some((job, stop)),
                _ => None,
            })
            .expect("the job scans");
        assert!(!stop.load(Ordering::Relaxed), "wanted while the job initializes");

        module.execute(1, "migration cancel 1").expect("valid");
        assert!(stop.load(Ordering::Relaxed), "told to stop once cancelled");
        // The stopped scan's answer ends the cancel.
        module.handle(2, Input::scanned(job, Err(RepositoryError::Other("stopped".into()))));
        assert_eq!(module.job("1").map(|j| j.state()), Some(JobState::Cancelled));
    }
}
