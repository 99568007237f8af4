//! A dry run (`-dry-run`, beyond dCache): each file is located, as a task would first, and
//! counted in a plan; nothing is copied or changed.

use super::{Job, Running, Stage};
use crate::context::{Ctx, Route};
use crate::effect::Effect;
use crate::error::{Failure, Outcome, ReturnCode};
use crate::plan::Plan;
use crate::pnfsid::PnfsId;
use crate::replica::ReplicaEntry;

impl Job {
    /// A dry run's file, read as a task would read it: one no longer cached or precious is
    /// counted as a task would drop it, any other is located.
    pub(super) fn plan_file(&mut self, entry: &ReplicaEntry, ctx: &mut Ctx<'_>) {
        if entry.state.is_cached_or_precious() {
            return self.locate(entry.pnfsid, ctx);
        }
        let size = self.running.get(&entry.pnfsid).map_or(entry.size, |r| r.size);
        if let Some(plan) = self.plan.as_mut() {
            plan.in_other_state(size);
        }
        self.release(entry.pnfsid, ctx);
        self.schedule(ctx);
    }

    /// A dry run asks where the file is, as a task would first, and stops there.
    fn locate(&mut self, pnfsid: PnfsId, ctx: &mut Ctx<'_>) {
        if let Some(running) = self.running.get_mut(&pnfsid) {
            running.stage = Stage::Locating;
        }
        let token = ctx.request(Route::Plan { job: self.key, pnfsid }, ctx.config.namespace_timeout);
        ctx.effects.push(Effect::QueryLocations { token, pnfsid });
    }

    /// Where a dry run's file is: counted as already on the targets or to be copied.
    pub fn located(&mut self, pnfsid: PnfsId, outcome: Outcome<Vec<String>>, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::Locating, size, .. }) = self.running.get(&pnfsid) else { return };
        let size = *size;
        // The copies a task would count (§5.5): on the selectable targets, and for a job that
        // is not eager also on offline targets that pass the name filters.
        let counted = |pool: &String| {
            self.selectable.iter().any(|p| *p.name == **pool) || (!self.definition.eager && self.offline.contains(pool))
        };
        // New copies go only to selectable targets that hold none (§5.5's candidates).
        let free =
            |locations: &[String]| self.selectable.iter().filter(|p| !locations.iter().any(|l| **l == *p.name)).count();
        let (replicas, meta_only) = (self.params.replicas, self.params.meta_only);
        if let Some(plan) = self.plan.as_mut() {
            match outcome {
                Ok(locations) => {
                    let existing = locations.iter().filter(|l| counted(l)).count();
                    plan.located(size, existing, free(&locations), replicas, meta_only);
                }
                Err(Failure::Error { code: ReturnCode::FILE_NOT_FOUND, .. }) => plan.deleted += 1,
                Err(_) => plan.unknown += 1,
            }
        }
        self.release(pnfsid, ctx);
        self.schedule(ctx);
    }

    /// Makes this job a dry run (`-dry-run`): it copies nothing and changes nothing.
    pub fn make_dry_run(&mut self) {
        self.plan = Some(Plan::default());
    }

    /// Whether the job is a dry run.
    pub fn is_dry_run(&self) -> bool {
        self.plan.is_some()
    }

    /// A dry run's report; `rate` is the pool's recent bytes per second, if known. The
    /// estimate is held to the job's bandwidth limit, as the job would be.
    pub fn plan_report(&self, rate: Option<f64>) -> Option<String> {
        let limit = self.bandwidth().map(|b| b as f64);
        Some(self.plan.as_ref()?.report(&self.selection_shares(), rate, limit))
    }
}
