//! How a `migration copy|move|cache` line becomes a job's definition: every option checked
//! in the order of §2.1, so that the first failing check is the one dCache reports.

use super::{JobKind, syntax};
use crate::Millis;
use crate::definition::{DeficitMode, JobDefinition, Order, TargetKind};
use crate::error::Error;
use crate::expr::{Expression, Symbols};
use crate::filter::{Range, ReplicaFilter, StickyFilter};
use crate::glob::Glob;
use crate::mode::{Mode, ModeState};
use crate::pnfsid::PnfsId;
use crate::replica::{AccessLatency, ReplicaState, RetentionPolicy};
use crate::selection::SelectionStrategy;
use crate::syntax::ParsedArgs;

/// Builds the job definition from a parsed `migration copy|move|cache`, checking in the
/// order of §2.1 so that the first failing check is the one dCache would report.
pub(super) fn parse_definition(
    now: Millis,
    kind: JobKind,
    args: &ParsedArgs,
    recorded: String,
    refresh_default: u64,
) -> Result<JobDefinition, Error> {
    let (smode, tmode, pins, verify, atime) = match kind {
        JobKind::Move => ("delete", "same", "move", true, true),
        JobKind::Cache => ("same", "cached", "keep", false, false),
        JobKind::Copy => ("same", "same", "keep", false, false),
    };
    // 1. Framework checks left: PnfsId syntax.
    let pnfsids = match args.list("pnfsid") {
        None => None,
        Some(ids) => Some(ids.iter().map(|s| PnfsId::parse(s).map_err(syntax)).collect::<Result<Vec<_>, _>>()?),
    };
    let permanent = args.flag("permanent").unwrap_or(false);
    // 2., 3.
    if permanent && args.is_present("order") {
        return Err(Error::syntax("Permanent jobs cannot be ordered"));
    }
    if permanent && args.is_present("stop-when") {
        return Err(Error::syntax("Permanent jobs cannot have a stop condition."));
    }
    // 4.
    let replicas = args.int("replicas").unwrap_or(1);
    if replicas < 1 {
        return Err(Error::syntax("Number of replicas must be positive."));
    }
    // 5., 6.
    let pool_expression = |name: &str| -> Result<Option<Expression>, Error> {
        args.string(name).map(|t| Expression::parse(t, &Symbols::pool_predicate()).map_err(syntax)).transpose()
    };
    let exclude_when = pool_expression("exclude-when")?;
    let include_when = pool_expression("include-when")?;
    // 7., 8.
    let target_kind = match args.string("target").unwrap_or("pool") {
        "pgroup" => TargetKind::PoolGroup,
        "link" => TargetKind::Link,
        "hsm" => TargetKind::Hsm,
        _ => TargetKind::Pool,
    };
    let targets: Vec<String> = args.args().to_vec();
    if targets.is_empty() && target_kind != TargetKind::PoolGroup {
        return Err(Error::syntax(format!("target(s) required when target type is {}", target_kind.name())));
    }
    if target_kind == TargetKind::Link && targets.len() != 1 {
        return Err(Error::syntax(format!("[{}]: Only one target supported for -type=link", targets.join(", "))));
    }
    // 9. Filters.
    let state = args.string("state").map(|s| match s {
        "cached" => ReplicaState::Cached,
        _ => ReplicaState::Precious,
    });
    let size = args.string("size").map(Range::parse).transpose().map_err(Error::syntax)?;
    let accessed = args.string("accessed").map(Range::parse).transpose().map_err(Error::syntax)?;
    let sticky = args.list("sticky").map(|owners| {
        if owners.is_empty() {
            StickyFilter::Any
        } else {
            let (forbidden, required): (Vec<&String>, Vec<&String>) = owners.iter().partition(|o| o.starts_with('-'));
            StickyFilter::Owners {
                required: required.into_iter().cloned().collect(),
                forbidden: forbidden.into_iter().map(|o| o[1..].to_string()).collect(),
            }
        }
    });
    let mut filter = ReplicaFilter {
        state,
        storage_class: args.string("storage").map(str::to_string),
        cache_class: args.string("cache").map(str::to_string),
        pnfsids: None,
        sticky,
        size,
        accessed,
        access_latency: args.string("al").and_then(AccessLatency::parse),
        retention_policy: args.string("rp").and_then(RetentionPolicy::parse),
    };
    if let Some(ids) = pnfsids {
        filter = filter.with_pnfsids(ids);
    }
    // 10.
    let source_mode = Mode::parse(args.string("smode").unwrap_or(smode), now).map_err(Error::syntax)?;
    let tmode_text = args.string("tmode").unwrap_or(tmode);
    let target_mode = Mode::parse(tmode_text, now).map_err(Error::syntax)?;
    // 11.
    let order = match args.string("order") {
        None => None,
        Some(o) => Some(Order::parse(o).ok_or_else(|| Error::syntax(format!("{o}: Invalid value for option -order")))?),
    };
    // 12.
    let lifetime_expression = |name: &str| -> Result<Option<Expression>, Error> {
        args.string(name).map(|t| Expression::parse(t, &Symbols::lifetime_predicate()).map_err(syntax)).transpose()
    };
    let pause_when = lifetime_expression("pause-when")?;
    let stop_when = lifetime_expression("stop-when")?;
    // 13.
    if matches!(target_mode.state, ModeState::Delete | ModeState::Removable) {
        return Err(Error::syntax(format!("{tmode_text}: Invalid value")));
    }
    // R12 fixed: a non-positive refresh is refused before anything is created.
    let refresh = args.int("refresh").map_or(refresh_default as i64, i64::from);
    if refresh <= 0 {
        return Err(Error::syntax("Refresh interval must be positive."));
    }
    let globs = |name: &str| args.list(name).unwrap_or_default().iter().map(|g| Glob::new(g)).collect();
    Ok(JobDefinition {
        command_line: recorded,
        filter,
        source_mode,
        target_mode,
        move_pins: args.string("pins").unwrap_or(pins) == "move",
        verify: args.flag("verify").unwrap_or(verify),
        atime: args.flag("atime").unwrap_or(atime),
        force_source_mode: args.flag("force-source-mode").unwrap_or(false),
        eager: args.flag("eager").unwrap_or(false),
        meta_only: args.flag("meta-only").unwrap_or(false),
        permanent,
        replicas: replicas as usize,
        deficit: if args.string("target-deficit-mode") == Some("limit") {
            DeficitMode::Limit
        } else {
            DeficitMode::Wait
        },
        target_kind,
        targets,
        include: globs("include"),
        exclude: globs("exclude"),
        include_when,
        exclude_when,
        pause_when,
        stop_when,
        refresh_secs: refresh as u64,
        select: if args.string("select") == Some("random") {
            SelectionStrategy::Random
        } else {
            SelectionStrategy::Proportional
        },
        order,
        hot_file: None,
    })
}
