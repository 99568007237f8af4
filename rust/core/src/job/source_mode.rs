//! The source mode (§9), applied once a task's copies are confirmed. A move removes its source
//! only if it is still as the read its decision was made on found it: the task's own read,
//! or a new one when the source changed since or the mode changes it otherwise.

use super::{Job, JobState, Running, Stage, State};
use crate::context::Ctx;
use crate::effect::{ChangePurpose, Effect, EntryPurpose};
use crate::host::RepositoryError;
use crate::input::EntryResult;
use crate::mode::{ModeState, RepositoryChange, outgrown_copies, source_mode_changes};
use crate::pnfsid::PnfsId;
use crate::replica::{Durability, ReplicaEntry, ReplicaState};

/// Reads of a source to apply the source mode, after which a removal refused because the
/// source had changed since it was read leaves the source as it is
/// ([`Job::source_mode_applied`]). A removal decided on the task's own read is not one.
const MAX_SOURCE_READS: u8 = 3;

impl Job {
    /// Applies the source mode once a task's copies are confirmed, to the source as the task
    /// read it (`seen`) when that is safe without reading it again, and otherwise reads it.
    ///
    /// Only a removal is safe so: the host makes it only if the replica is still as `seen`
    /// ([`Repository::remove_if_unchanged`](crate::host::Repository::remove_if_unchanged)),
    /// so a source unchanged since the task's read is removed on the decision a new read would
    /// make, and one that changed (pinned, made precious or sticky) is refused, read again and
    /// decided anew ([`Job::source_mode_applied`]). Every other change is made whatever the
    /// replica is by then, so it is decided on a new read. A move saves a read of each file.
    pub(super) fn apply_source_mode(&mut self, pnfsid: PnfsId, seen: Durability, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::ApplyingSourceMode { copied, .. }, .. }) = self.running.get(&pnfsid) else {
            return;
        };
        if self.definition.source_mode.state == ModeState::Delete
            && let Ok(changes) = self.source_mode_decision(&seen, copied.as_ref(), ctx)
            && let [RepositoryChange::Remove { .. }] = changes.as_slice()
        {
            let purpose = ChangePurpose::SourceMode { job: self.key, pnfsid };
            ctx.effects.push(Effect::Change { purpose, pnfsid, changes });
        } else {
            self.read_source(pnfsid, ctx);
        }
    }

    /// Reads the source replica to apply the source mode to it ([`Job::entry_for_source_mode`]).
    fn read_source(&mut self, pnfsid: PnfsId, ctx: &mut Ctx<'_>) {
        if let Some(Running { stage: Stage::ApplyingSourceMode { reads, .. }, .. }) = self.running.get_mut(&pnfsid) {
            *reads = reads.saturating_add(1);
        }
        ctx.effects.push(Effect::ReadEntry { purpose: EntryPurpose::SourceMode { job: self.key, pnfsid }, pnfsid });
    }

    /// What the source mode does to a source that is as `source`: these changes, or, if the
    /// source became more durable than its copies while they were made, why it is kept.
    fn source_mode_decision(
        &self,
        source: &Durability,
        copied: Option<&Durability>,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<RepositoryChange>, String> {
        let outgrown = match copied {
            Some(copied) => outgrown_copies(copied, source, &ctx.config.pin_manager, ctx.now),
            // Copied as cached under an explicit `-tmode=cached`, whose copies are not kept
            // for the check above; but a job told to take no precious replica (`-state=cached`)
            // that lowered this one could leave the file on cached copies only, before it
            // reaches tape. It no longer matches the filter, so the job leaves it.
            None if self.became_precious_outside_filter(source.state) => {
                Some("it became precious while it was copied".to_string())
            }
            None => None,
        };
        match outgrown {
            Some(why) => Err(why),
            None => Ok(source_mode_changes(&self.definition.source_mode, source, &ctx.config.pin_manager)),
        }
    }

    /// The source entry read to apply the source mode.
    pub fn entry_for_source_mode(&mut self, pnfsid: PnfsId, result: EntryResult, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::ApplyingSourceMode { task, note, copied, .. }, .. }) =
            self.running.get(&pnfsid)
        else {
            return;
        };
        let (task, note) = (*task, note.clone());
        match result {
            Ok(Some(entry)) => match self.source_mode_decision(&Durability::of(&entry), copied.as_ref(), ctx) {
                Err(why) => self.keep_outgrown_source(&entry, task, why, ctx),
                Ok(changes) if changes.is_empty() => self.complete(pnfsid, task, note, ctx),
                Ok(changes) => ctx.effects.push(Effect::Change {
                    purpose: ChangePurpose::SourceMode { job: self.key, pnfsid },
                    pnfsid,
                    changes,
                }),
            },
            // The replica vanished: nothing to change.
            Ok(None) => self.complete(pnfsid, task, note, ctx),
            Err(error) => {
                self.note(ctx, task, Some(pnfsid), format!("Failed to apply source mode: {error}"));
                self.terminate(State::Failed, ctx);
                self.complete(pnfsid, task, note, ctx);
            }
        }
    }

    /// Whether a source now `state` is precious although the job's `-state` filter takes
    /// cached replicas only, its copies were asked to be cached, and its source mode could
    /// lower it.
    fn became_precious_outside_filter(&self, state: ReplicaState) -> bool {
        state == ReplicaState::Precious
            && self.filter.state.is_some_and(|wanted| wanted != ReplicaState::Precious)
            && self.definition.target_mode.state == ModeState::Cached
            && self.definition.source_mode.may_lower_source()
    }

    /// Leaves a source replica that became more durable than its copies while they were made
    /// ([`outgrown_copies`]) as it is.
    pub(super) fn keep_outgrown_source(&mut self, entry: &ReplicaEntry, task: u64, why: String, ctx: &mut Ctx<'_>) {
        let pnfsid = entry.pnfsid;
        let ending = self.state().is_terminal() || matches!(self.state(), JobState::Cancelling | JobState::Stopping);
        if ending {
            // No next pass to bring the copies up to date: the file leaves the job unmoved.
            self.release(pnfsid, ctx);
            self.schedule(ctx);
            self.note(ctx, task, Some(pnfsid), format!("Source kept: {why}"));
        } else if self.filter.matches(entry, ctx.now) {
            // Once more, so that the copies are made what the source is now (a target
            // upgrades a replica it holds, §6.3); the source mode follows that pass.
            let size = self.release(pnfsid, ctx);
            self.queue_again(pnfsid, size, ctx);
            self.schedule(ctx);
            self.note(ctx, task, Some(pnfsid), format!("Source kept and file queued again: {why}"));
        } else {
            // The job leaves it, as it leaves a file that stops matching while queued; the
            // copies stay as extra copies.
            let text = format!("Source kept: {why}, and it no longer matches the job's filter");
            self.complete(pnfsid, task, Some(text), ctx);
        }
    }

    /// The source mode was applied (or failed).
    pub fn source_mode_applied(&mut self, pnfsid: PnfsId, result: Result<(), RepositoryError>, ctx: &mut Ctx<'_>) {
        let Some(Running { stage: Stage::ApplyingSourceMode { task, note, reads, .. }, .. }) =
            self.running.get(&pnfsid)
        else {
            return;
        };
        let (task, note) = (*task, note.clone());
        if let Err(RepositoryError::Changed) = result {
            if *reads < MAX_SOURCE_READS {
                // Pinned, made precious or sticky between the read and the removal: the
                // replica stayed, and what the source mode does to it is decided again on a
                // new read (which also asks whether it outgrew its copies).
                self.read_source(pnfsid, ctx);
                return;
            }
            // A replica that changes under every look (or a host that refuses every removal)
            // is left as it is rather than looked at for ever; its copies stay as extra ones.
            let text =
                format!("Source kept: it changed each of the {MAX_SOURCE_READS} times it was read to be deleted");
            self.note(ctx, task, Some(pnfsid), text);
            self.complete(pnfsid, task, note, ctx);
            return;
        }
        if let Err(RepositoryError::Other(error)) = result {
            // Vanished replicas and illegal transitions are ignored, anything else fails the job.
            self.note(ctx, task, Some(pnfsid), format!("Failed to apply source mode: {error}"));
            self.terminate(State::Failed, ctx);
        }
        self.complete(pnfsid, task, note, ctx);
    }
}
