//! Which pools of a job's target list are targets, and why the others are not (spec §8.3,
//! §12.4). The job uses the verdicts to build its selectable and offline lists; `migration
//! explain` (beyond dCache, issue #13) prints them, so that "No targets" always has a reason.

use std::collections::HashSet;
use std::fmt;

use crate::definition::JobDefinition;
use crate::expr::Value;
use crate::pool_info::{PoolCostInfo, PoolInfo};

/// Why a pool of the target list is, or is not, a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Online and passes every rule.
    Target,
    /// The source pool itself (always excluded).
    Source,
    /// Matches an `-exclude` glob.
    ExcludedByGlob(String),
    /// Matches none of the `-include` globs.
    NotIncluded,
    /// `-exclude-when` is true for it.
    ExcludedByExpression(String),
    /// `-include-when` is false for it.
    NotIncludedByExpression(String),
    /// Hot-file replication: it shares a tag value with the source or an earlier target.
    TagTaken {
        /// The tag.
        tag: String,
        /// Its value.
        value: String,
    },
    /// Offline; a non-eager job may still count a copy there (§5.5).
    Offline,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Target => f.write_str("target"),
            Verdict::Source => f.write_str("the source pool"),
            Verdict::ExcludedByGlob(glob) => write!(f, "excluded by -exclude={glob}"),
            Verdict::NotIncluded => f.write_str("not matched by -include"),
            Verdict::ExcludedByExpression(e) => write!(f, "excluded by -exclude-when={e} (true)"),
            Verdict::NotIncludedByExpression(e) => write!(f, "not included by -include-when={e} (false)"),
            Verdict::TagTaken { tag, value } => write!(f, "tag {tag}={value} already holds a replica"),
            Verdict::Offline => f.write_str("offline"),
        }
    }
}

/// The verdict on each pool of `pools`, in pool-manager order, with `source` the source
/// pool's own information.
pub fn classify<'a>(
    definition: &JobDefinition,
    source: &PoolCostInfo,
    pools: &'a [PoolInfo],
) -> Vec<(&'a PoolInfo, Verdict)> {
    let by_name = |name: &str| -> Option<Verdict> {
        if name == &*source.name {
            return Some(Verdict::Source);
        }
        if let Some(glob) = definition.exclude.iter().find(|g| g.matches(name)) {
            return Some(Verdict::ExcludedByGlob(glob.to_string()));
        }
        let included = definition.include.is_empty() || definition.include.iter().any(|g| g.matches(name));
        (!included).then_some(Verdict::NotIncluded)
    };
    // Hot-file copies go to distinct hosts and racks: one pool per tag value, none sharing
    // one with the source.
    let mut occupied: HashSet<(&str, &str)> = source.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pools
        .iter()
        .map(|pool| {
            let verdict = match pool {
                PoolInfo::Offline { name } => by_name(name).unwrap_or(Verdict::Offline),
                PoolInfo::Online(target) => by_name(&target.name)
                    .or_else(|| by_expression(definition, source, target))
                    .or_else(|| {
                        definition.hot_file.as_ref()?;
                        let taken = target.tags.iter().find(|(k, v)| occupied.contains(&(k.as_str(), v.as_str())));
                        if let Some((tag, value)) = taken {
                            return Some(Verdict::TagTaken { tag: tag.clone(), value: value.clone() });
                        }
                        occupied.extend(target.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                        None
                    })
                    .unwrap_or(Verdict::Target),
            };
            (pool, verdict)
        })
        .collect()
}

fn by_expression(definition: &JobDefinition, source: &PoolCostInfo, target: &PoolCostInfo) -> Option<Verdict> {
    let env = |name: &str| match name.split_once('.') {
        Some(("source", field)) => pool_symbol(field, source),
        Some(("target", field)) => pool_symbol(field, target),
        _ => None,
    };
    if let Some(e) = definition.exclude_when.as_ref().filter(|e| e.evaluate(&env)) {
        return Some(Verdict::ExcludedByExpression(e.source().to_string()));
    }
    // With -include globs, -include-when is ignored entirely.
    if definition.include.is_empty()
        && let Some(e) = definition.include_when.as_ref().filter(|e| !e.evaluate(&env))
    {
        return Some(Verdict::NotIncludedByExpression(e.source().to_string()));
    }
    None
}

/// `source.*`/`target.*` values of a pool (§10.5).
pub fn pool_symbol(field: &str, pool: &PoolCostInfo) -> Option<Value> {
    Some(match field {
        "name" => Value::String(pool.name.to_string()),
        "cpuCost" => Value::Double(pool.cpu_cost()),
        "free" => Value::Double(pool.space.free as f64),
        "total" => Value::Double(pool.space.total as f64),
        "removable" => Value::Double(pool.space.removable as f64),
        "used" => Value::Double(pool.space.used() as f64),
        _ => return None,
    })
}
