//! The commands of minidcache's cells: a pool's own commands (`rep ls|rm|set|sticky ls`,
//! `pool disable|enable|set tag|unset tag`, `populate`, `put`, `get`, `wait`, `save`, `info`,
//! `hsm …`, `debug readers`; `migration …` and `hotfile …` go to the module), the pin
//! manager's and the namespace's; the pool manager's are in [`crate::pool_manager_cell`], the
//! `(local)` cell's in [`crate::local_cell`]. Schemas, parsing and help pages use the core's
//! dCache command-line conventions.
//!
//! This file finds a line's command and runs it, with the pool's smaller commands; the tables
//! of commands are in `schema.rs`, and the larger commands in `replicas.rs` (`rep …`),
//! `files.rs` (`populate`, `put`, `get`), `wait.rs` and `services.rs` (the PinManager's and the
//! PnfsManager's cells).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use migration_core::driver::replica_index::ReplicaCounts;
use migration_core::host::Repository as _;
use migration_core::hotfile::ProtocolInfo;
use migration_core::replica::ReplicaState;
use migration_core::syntax::{self, ParsedArgs, Word, lookup_by};
use migration_core::{Error, ErrorKind, PnfsId};

use crate::cell::{help_of, interpret, syntax, unknown, words_of};
use crate::cluster::Cluster;
use crate::pool::{PoolMode, PoolNode};

mod files;
mod replicas;
mod schema;
mod services;
mod wait;

use files::{get, populate, put};
use replicas::{rep_ls, rep_rm, rep_set_state, rep_set_sticky, rep_sticky_ls};
use schema::{PIN_MANAGER, PNFS_MANAGER, POOL, PoolCommand};
pub use schema::{PIN_MANAGER_COMMANDS, PNFS_MANAGER_COMMANDS, POOL_COMMANDS};
use services::{pin_manager_command, pnfs_manager_command};
use wait::{WAIT_POLL, wait};

/// Reports a command's progress (a line to show in place); only given at a terminal.
pub type Progress<'a> = Option<&'a mut dyn FnMut(&str)>;

/// The cell a command is executed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// A pool.
    Pool(String),
    /// The pool manager.
    PoolManager,
    /// The pin manager.
    PinManager,
    /// The namespace.
    PnfsManager,
}

impl Cell {
    /// The cell's name as `\l` lists it.
    pub fn name(&self) -> &str {
        match self {
            Cell::Pool(name) => name,
            Cell::PoolManager => "PoolManager",
            Cell::PinManager => crate::pin_manager::CELL,
            Cell::PnfsManager => "PnfsManager",
        }
    }
}

/// Storage class of `populate` without `-storage`.
pub const DEFAULT_STORAGE_CLASS: &str = "atlas:default@osm";

/// Executes `line` in `cell`; `progress`, when given, shows how long work is going.
pub fn execute(cluster: &Cluster, cell: &Cell, line: &str, progress: Progress<'_>) -> Result<String, Error> {
    match cell {
        Cell::Pool(pool) => pool_cell(cluster, pool, line, progress),
        Cell::PinManager => {
            interpret(&PIN_MANAGER, "", line, |command, args| pin_manager_command(cluster, command, args))
        }
        Cell::PnfsManager => {
            interpret(&PNFS_MANAGER, "", line, |command, args| pnfs_manager_command(cluster, command, args))
        }
        Cell::PoolManager => {
            let setup = cluster.home().pool_manager_setup();
            crate::pool_manager_cell::execute(cluster.pool_manager(), cluster.registry(), &setup, line)
        }
    }
}

/// A pool's cell: its own commands, and the migration module's, which go to its runtime.
fn pool_cell(cluster: &Cluster, pool: &str, line: &str, progress: Progress<'_>) -> Result<String, Error> {
    let words = words_of(line)?;
    let Some(first) = words.first() else { return Ok(String::new()) };
    // Like the cell of a stopped domain, a stopped pool answers nothing.
    pool_node(cluster, pool)?;
    if first.text() == "help" {
        let topic = words[1..].iter().map(Word::text).collect::<Vec<_>>().join(" ");
        return help(cluster, pool, &topic, line);
    }
    if matches!(first.text(), "migration" | "hotfile") {
        return pool_runtime(cluster, pool)?.execute(line);
    }
    let Some(((command, spec), n)) = lookup_by(&POOL, |(_, spec)| spec.name, &words) else {
        return Err(unknown(line));
    };
    let parsed = syntax::parse(spec, &words[n..]).map_err(syntax)?;
    pool_command(cluster, pool, *command, &parsed, progress)
}

fn help(cluster: &Cluster, pool: &str, topic: &str, line: &str) -> Result<String, Error> {
    let ours = help_of(POOL_COMMANDS, topic);
    if topic.is_empty() {
        // The module's commands first, then the pool's own.
        let module = pool_runtime(cluster, pool)?.execute("help")?;
        return Ok(module + &ours.unwrap_or_default());
    }
    match ours {
        Some(text) => Ok(text),
        None => pool_runtime(cluster, pool)?.execute(line),
    }
}

/// What a command to a stopped pool gets.
pub fn stopped(pool: &str) -> Error {
    Error::new(ErrorKind::Closed, format!("No route to cell {pool}: the pool is stopped"))
}

/// A running pool's node.
fn pool_node(cluster: &Cluster, pool: &str) -> Result<std::sync::Arc<PoolNode>, Error> {
    let node = cluster.pool(pool).ok_or_else(|| Error::new(ErrorKind::NotFound, format!("Cell not found: {pool}")))?;
    if !node.is_running() {
        return Err(stopped(pool));
    }
    Ok(node)
}

fn pool_runtime(
    cluster: &Cluster,
    pool: &str,
) -> Result<std::sync::Arc<migration_core::driver::runtime::Runtime>, Error> {
    cluster.runtime(pool).ok_or_else(|| stopped(pool))
}

fn parse_pnfsid(text: &str) -> Result<PnfsId, Error> {
    PnfsId::parse(text).map_err(|e| Error::syntax(format!("{text}: {e}")))
}

fn not_in_repository(pnfsid: &PnfsId) -> Error {
    Error::new(ErrorKind::NotFound, format!("Entry not in repository : {pnfsid}"))
}

fn pool_command(
    cluster: &Cluster,
    pool: &str,
    command: PoolCommand,
    args: &ParsedArgs,
    progress: Progress<'_>,
) -> Result<String, Error> {
    let node = pool_node(cluster, pool)?;
    match command {
        PoolCommand::RepLs => rep_ls(cluster, &node, args),
        PoolCommand::RepStickyLs => rep_sticky_ls(cluster, &node, args),
        PoolCommand::RepRm => rep_rm(cluster, &node, args),
        PoolCommand::RepSetSticky => rep_set_sticky(cluster, &node, args),
        PoolCommand::RepSetPrecious => rep_set_state(&node, args, ReplicaState::Precious),
        PoolCommand::RepSetCached => rep_set_state(&node, args, ReplicaState::Cached),
        PoolCommand::PoolDisable => {
            let rdonly = args.flag("rdonly").unwrap_or(false);
            let strict = args.flag("strict").unwrap_or(false);
            // Plain `pool disable` is as strict as it gets, as in dCache; -strict wins.
            let mode = if rdonly && !strict { PoolMode::ReadOnly } else { PoolMode::Strict };
            node.set_mode(mode);
            Ok(format!("Pool {} {}", node.name, mode.describe()))
        }
        PoolCommand::PoolEnable => {
            node.set_mode(PoolMode::Enabled);
            Ok(format!("Pool {} {}", node.name, PoolMode::Enabled.describe()))
        }
        PoolCommand::PoolSetTag | PoolCommand::PoolUnsetTag => {
            let tag = args.arg(0).unwrap_or_default();
            crate::tags::check("name", tag)?;
            let value = args.arg(1);
            if let Some(value) = value {
                crate::tags::check("value", value)?;
            }
            let existed = node.set_tag(tag, value).map_err(|e| io_error(crate::tags::file(&node.dir).display(), e))?;
            if value.is_none() && !existed {
                return Err(Error::new(ErrorKind::NotFound, format!("No such tag: {tag}")));
            }
            Ok(String::new())
        }
        PoolCommand::Populate => populate(cluster, &node, args),
        PoolCommand::Put => put(cluster, &node, args),
        PoolCommand::Get => get(cluster, &node, args),
        PoolCommand::Wait => wait(cluster, pool, args, progress),
        PoolCommand::Save => save_pool(cluster, &node),
        PoolCommand::Info => Ok(info(cluster, &node)),
        PoolCommand::HsmSet => {
            let instance = hsm_instance(args)?;
            node.attach_hsm(instance);
            Ok(String::new())
        }
        PoolCommand::HsmUnset => {
            let instance = hsm_instance(args)?;
            if node.detach_hsm(instance) {
                Ok(String::new())
            } else {
                Err(Error::new(ErrorKind::NotFound, format!("No such HSM instance: {instance}")))
            }
        }
        PoolCommand::HsmLs => Ok(node.hsms().iter().map(|h| format!("{h}\n")).collect()),
        PoolCommand::DebugReaders => debug_readers(cluster, &node, args),
    }
}

fn io_error(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Host, format!("{what}: {e}"))
}

fn debug_readers(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let text = args.arg(1).unwrap_or_default();
    let readers: i64 = text
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::syntax(format!("Invalid number of readers: {text}")))?;
    let protocol = crate::protocol::from_options(args)?;
    if node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?.is_none() {
        return Err(not_in_repository(&pnfsid));
    }
    let runtime = pool_runtime(cluster, &node.name)?;
    let id = migration_core::hotfile::job_id(&pnfsid);
    let job = |m: &migration_core::module::Module| m.job(&id).map(|j| (j.key, j.state().is_terminal()));
    let before = runtime.with_module(job);
    let replicates = readers >= runtime.with_module(|m| m.defaults().hotfile_threshold)
        && before.is_none_or(|(_, terminal)| terminal);
    runtime.call(|module, _| module.report_readers(pnfsid, readers, protocol.as_ref()))?;
    // The module creates the hot-file job once it has read the file's entry: a script's next
    // line (`wait hotfile-…`) must find it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while replicates && runtime.with_module(job) == before && Instant::now() < deadline {
        std::thread::sleep(WAIT_POLL);
    }
    let unit = protocol.as_ref().map_or_else(|| "*/*".to_string(), ProtocolInfo::unit);
    let net = protocol.and_then(|p| p.client).map(|c| format!(" from {c}")).unwrap_or_default();
    Ok(format!("Reported {readers} readers of {pnfsid} ({unit}{net})"))
}

fn hsm_instance(args: &ParsedArgs) -> Result<&str, Error> {
    let instance = args.arg(0).unwrap_or_default();
    if instance.is_empty() || instance.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::syntax(format!("Invalid HSM instance: {instance:?}")));
    }
    Ok(instance)
}

/// Writes `lines` to `path` atomically (a temporary file renamed over it).
fn save_pool(cluster: &Cluster, node: &PoolNode) -> Result<String, Error> {
    let mut lines = vec!["#".to_string(), format!("# Pool {} (minidcache)", node.name), "#".to_string()];
    lines.extend(node.hsms().iter().map(|h| format!("hsm set {h}")));
    lines.extend(pool_runtime(cluster, &node.name)?.with_module(|m| m.setup_lines()));
    crate::home::write_setup(&node.setup_file(), &lines)?;
    Ok(String::new())
}

/// `1.2 GB`: decimal units, as `df -H` and most transfer tools print them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn info(cluster: &Cluster, node: &PoolNode) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let now = cluster.now();
    let ReplicaCounts { files, precious, sticky, bytes: used } = node.repository.counts(now);
    let total = node.capacity();
    let (removable, _) = node.repository.removable(now);
    let c = &node.counters;
    let hsms = node.hsms();
    let mut out = String::new();
    let failed = if node.repository.has_failed_metadata() { "; metadata not written, refusing copies" } else { "" };
    let _ = writeln!(out, "Pool       : {} ({}{failed})", node.name, node.mode().describe());
    let _ = writeln!(out, "Files      : {files} ({precious} precious, {sticky} sticky)");
    let _ = writeln!(out, "Bytes      : {used} ({})", human(used));
    let _ = writeln!(out, "Free       : {} of {}", total.saturating_sub(node.repository.used()), total);
    let _ = writeln!(out, "Removable  : {removable}");
    let _ = writeln!(
        out,
        "P2P in     : {} files; {} bytes",
        c.received_files.load(Relaxed),
        c.received_bytes.load(Relaxed)
    );
    let _ =
        writeln!(out, "P2P out    : {} files; {} bytes", c.served_files.load(Relaxed), c.served_bytes.load(Relaxed));
    let _ = writeln!(out, "HSM        : {}", if hsms.is_empty() { "none".to_string() } else { hsms.join(",") });
    let _ = writeln!(out, "Tags       : {}", crate::tags::describe(&node.tags()));
    let _ = write!(out, "Directory  : {}", node.dir.display());
    out
}

/// `YYYY-MM-DD HH:MM:SS` in UTC: the module's rendering, so that a pin's expiry and a job's
/// times read alike.
pub use migration_core::commands::timestamp as utc;

#[cfg(test)]
mod tests {
    use super::*;
    use files::parse_size;
    use migration_core::replica::{NEVER_EXPIRES, StickyRecord};
    use migration_core::syntax::lookup;
    use replicas::parse_sticky;

    #[test]
    fn sizes_and_sticky_options_parse() {
        assert_eq!(parse_size("10").expect("ok"), (10, 10));
        assert_eq!(parse_size("10..20").expect("ok"), (10, 20));
        assert!(parse_size("20..10").is_err());
        assert!(parse_size("x").is_err());
        assert_eq!(parse_sticky("lhcb", 0).expect("ok"), StickyRecord::new("lhcb", NEVER_EXPIRES));
        assert_eq!(parse_sticky("lhcb(10)", 5).expect("ok"), StickyRecord::new("lhcb", 10_005));
        assert!(parse_sticky("lhcb(x)", 0).is_err());
    }

    #[test]
    fn negative_numbers_are_arguments() {
        let words = words_of("pin 1 -1").expect("ok");
        let (spec, n) = lookup(PIN_MANAGER_COMMANDS, &words).expect("found");
        let parsed = syntax::parse(spec, &words[n..]).expect("parsed");
        assert_eq!(parsed.args(), ["1", "-1"]);
    }

    #[test]
    fn utc_formats_the_epoch_and_a_leap_day() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000 + 3_723_000), "2000-02-29 01:02:03");
    }

    #[test]
    fn human_sizes_use_decimal_units() {
        assert_eq!(human(999), "999 bytes");
        assert_eq!(human(1_234_567), "1.2 MB");
        assert_eq!(human(1_200_000_000), "1.2 GB");
    }

    #[test]
    fn each_command_has_one_row() {
        crate::cell::assert_one_row_each(&POOL);
        crate::cell::assert_one_row_each(&PIN_MANAGER);
        crate::cell::assert_one_row_each(&PNFS_MANAGER);
    }
}
