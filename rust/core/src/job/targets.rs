//! The source and target pool lists (§8): asking the pool manager, filtering the targets, and
//! saying why a pool is or is not one (`migration explain`).

use std::fmt::Write as _;
use std::sync::Arc;

use super::{Job, JobState, State};
use crate::context::{Ctx, ListSlot, Route};
use crate::definition::TargetKind;
use crate::effect::Effect;
use crate::error::Outcome;
use crate::host::{PoolList, PoolSelection};
use crate::pool_info::{PoolCostInfo, PoolInfo};
use crate::target_filter::{self, Verdict};
use crate::timers::TimerKey;

impl Job {
    /// Asks for fresh source and target lists, and arms the next refresh (§8.5).
    pub fn refresh(&mut self, ctx: &mut Ctx<'_>) {
        if self.state().is_terminal() {
            return;
        }
        let source =
            ctx.request(Route::Pools { job: self.key, list: ListSlot::Source }, ctx.config.pool_manager_timeout);
        ctx.effects
            .push(Effect::QueryPools { token: source, selection: PoolSelection::Names(vec![ctx.pool.to_string()]) });
        let definition = Arc::clone(&self.definition);
        let names = definition.targets.clone();
        let selection = match definition.target_kind {
            TargetKind::Pool => Some(PoolSelection::Names(names)),
            TargetKind::PoolGroup if names.is_empty() => match &self.target_list.resolved_group {
                Some(group) => Some(PoolSelection::Groups(vec![group.clone()])),
                None => {
                    let token = ctx.request(Route::Groups { job: self.key }, ctx.config.pool_manager_timeout);
                    ctx.effects.push(Effect::QueryGroups { token, pool: ctx.pool.to_string() });
                    None
                }
            },
            TargetKind::PoolGroup => Some(PoolSelection::Groups(names)),
            TargetKind::Link => Some(PoolSelection::Link(names.first().cloned().unwrap_or_default())),
            TargetKind::Hsm => Some(PoolSelection::Hsm(names)),
            // Without storage info there is nothing to ask: the list stays invalid (§12.2).
            TargetKind::Readers => {
                definition.hot_file.as_ref().filter(|q| q.attributes.storage_class.is_some()).map(|q| {
                    PoolSelection::Readers {
                        attributes: q.attributes.clone(),
                        protocol: q.protocol.clone(),
                        net: q.net.clone(),
                    }
                })
            }
        };
        if let Some(selection) = selection {
            let token =
                ctx.request(Route::Pools { job: self.key, list: ListSlot::Target }, ctx.config.pool_manager_timeout);
            ctx.effects.push(Effect::QueryPools { token, selection });
        }
        let period = i64::try_from(definition.refresh_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        ctx.timers.set(TimerKey::Refresh(self.key), ctx.now.saturating_add(period));
    }

    /// The pool groups of the source pool (for `-target=pgroup` without names, §8.1).
    pub fn groups_answered(&mut self, outcome: Outcome<Vec<String>>, ctx: &mut Ctx<'_>) {
        let Ok(groups) = outcome else { return };
        match groups.as_slice() {
            // No group: the list never becomes valid and the job sleeps.
            [] => {}
            [group] => {
                self.target_list.resolved_group = Some(group.clone());
                let token = ctx
                    .request(Route::Pools { job: self.key, list: ListSlot::Target }, ctx.config.pool_manager_timeout);
                ctx.effects.push(Effect::QueryPools { token, selection: PoolSelection::Groups(vec![group.clone()]) });
            }
            several => {
                self.target_list.broken =
                    Some(format!("Pool {} is a member of multiple pool groups: [{}]", ctx.pool, several.join(", ")));
                self.wake_if_sleeping(ctx);
            }
        }
    }

    /// A pool list answer; a failure leaves the previous list in place (§8.2).
    pub fn pools_answered(&mut self, list: ListSlot, outcome: Outcome<PoolList>, ctx: &mut Ctx<'_>) {
        let Ok(answer) = outcome else { return };
        let state = match list {
            ListSlot::Source => &mut self.source_list,
            ListSlot::Target => &mut self.target_list,
        };
        state.valid = true;
        state.pools = answer.pools;
        self.filter_targets(ctx.pool);
        // Only a job that sleeps for want of a usable list: one that sleeps because every file
        // failed keeps its 10 s pause, whatever its refresh period.
        if self.failures_since_progress == 0 {
            self.wake_if_sleeping(ctx);
        }
    }

    /// A list that became usable wakes a sleeping job at once rather than after 10 s: a
    /// fresh job would otherwise always sleep once before its first task.
    pub(super) fn wake_if_sleeping(&mut self, ctx: &mut Ctx<'_>) {
        if self.state() == JobState::Sleeping {
            ctx.timers.cancel(TimerKey::Wake(self.key));
            self.enter(State::Running, ctx);
        }
    }

    /// Applies include/exclude rules to the target list (§8.3).
    pub(super) fn filter_targets(&mut self, source_pool: &str) {
        self.selectable.clear();
        self.offline.clear();
        let Some(source) = self.source_info().filter(|s| *s.name == *source_pool) else { return };
        for (pool, verdict) in target_filter::classify(&self.definition, source, &self.target_list.pools) {
            match (pool, verdict) {
                (PoolInfo::Online(info), Verdict::Target) => self.selectable.push(info.clone()),
                (PoolInfo::Offline { name }, Verdict::Offline) => self.offline.push(name.clone()),
                _ => {}
            }
        }
    }

    /// `migration explain` (beyond dCache): every pool of the target list with why it is or
    /// is not a target, and each target's share of the selection.
    pub fn explain(&self, source_pool: &str) -> String {
        let mut out = format!("[{}] {}\n", self.id, self.definition.command_line);
        if let Some(broken) = self.source_list.broken.as_ref().or(self.target_list.broken.as_ref()) {
            let _ = writeln!(out, "No targets: {broken}");
            return out;
        }
        if !self.source_list.valid || !self.target_list.valid {
            let _ = writeln!(out, "No targets: the pool manager has not answered yet");
            return out;
        }
        let Some(source) = self.source_info().filter(|s| *s.name == *source_pool) else {
            let _ = writeln!(out, "No targets: the pool manager reports the source pool {source_pool} offline");
            return out;
        };
        let reasons = self.reasons(source);
        if reasons.is_empty() {
            let _ = writeln!(out, "No targets: the pool manager lists none of {}", self.definition.targets.join(","));
            return out;
        }
        let width = reasons.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, reason) in &reasons {
            let _ = writeln!(out, "{name:<width$}  {reason}");
        }
        if self.selection_shares().iter().all(|(_, share)| *share == 0.0) {
            let _ = writeln!(out, "No targets: no pool passes the rules above");
        }
        out
    }

    /// Each pool of the target list with its verdict, targets with their selection share.
    pub(super) fn reasons(&self, source: &PoolCostInfo) -> Vec<(String, String)> {
        let shares = self.selection_shares();
        target_filter::classify(&self.definition, source, &self.target_list.pools)
            .into_iter()
            .map(|(pool, verdict)| {
                let reason = match verdict {
                    Verdict::Target => match shares.iter().find(|(name, _)| name == pool.name()) {
                        Some((_, share)) if *share > 0.0 => format!("target, weight {:.1}%", share * 100.0),
                        _ => "target, but full: weight 0%".to_string(),
                    },
                    other => other.to_string(),
                };
                (pool.name().to_string(), reason)
            })
            .collect()
    }

    /// Beyond dCache's `No targets available`, says once why (until the reason changes).
    pub(super) fn note_why_no_targets(&mut self, ctx: &Ctx<'_>) {
        if !self.source_list.valid || !self.target_list.valid {
            return;
        }
        let Some(source) = self.source_info().filter(|s| *s.name == **ctx.pool) else { return };
        let reasons: Vec<String> =
            self.reasons(source).into_iter().map(|(name, reason)| format!("{name} {reason}")).collect();
        let text = if reasons.is_empty() {
            format!("No targets: the pool manager lists none of {}", self.definition.targets.join(","))
        } else {
            format!("No targets: {}", reasons.join("; "))
        };
        self.note_once(ctx, text);
    }

    /// A job-level `No targets: …` note, unless the latest one says the same.
    pub(super) fn note_once(&mut self, ctx: &Ctx<'_>, text: String) {
        let latest = self.notes.iter().rev().find(|n| n.task == 0 && n.text.starts_with("No targets: "));
        if latest.map(|n| &n.text) != Some(&text) {
            self.note(ctx, 0, None, text);
        }
    }

    /// Each selectable target's share of the selection (§8.6): its weight over the sum for
    /// proportional selection, an equal share of the pools with room for random.
    pub(super) fn selection_shares(&self) -> Vec<(String, f64)> {
        use crate::selection::{SelectionStrategy, has_room_for_random, proportional_weights};
        let weights: Vec<f64> = match self.definition.select {
            SelectionStrategy::Proportional => proportional_weights(&self.selectable),
            SelectionStrategy::Random => {
                self.selectable.iter().map(|p| if has_room_for_random(p) { 1.0 } else { 0.0 }).collect()
            }
        };
        let sum: f64 = weights.iter().sum();
        self.selectable
            .iter()
            .zip(weights)
            .map(|(p, w)| (p.name.to_string(), if sum > 0.0 { w / sum } else { 0.0 }))
            .collect()
    }

    /// The `Targets` value: pool names, or for group-like targets `pool group g, n pools`
    /// (the Book's form, which operators know).
    pub fn targets_description(&self) -> String {
        if !self.target_list.valid {
            return String::new();
        }
        let n = self.selectable.len();
        let count = if n == 1 { "1 pool".to_string() } else { format!("{n} pools") };
        let names = || self.definition.targets.join(", ");
        match self.definition.target_kind {
            TargetKind::Pool => self.selectable.iter().map(|p| &*p.name).collect::<Vec<_>>().join(","),
            TargetKind::PoolGroup => {
                let groups = self.target_list.resolved_group.clone().unwrap_or_else(names);
                format!("pool group {groups}, {count}")
            }
            TargetKind::Link => format!("link {}, {count}", names()),
            TargetKind::Hsm => format!("hsm {}, {count}", names()),
            TargetKind::Readers => self.selectable.iter().map(|p| &*p.name).collect::<Vec<_>>().join(","),
        }
    }
}
