//! The commands of the `PoolManager` cell: dCache's `psu` commands over the pool selection
//! unit (pools, pool groups, units, unit groups, links and their preferences, `psu match`),
//! and `save`.

use std::path::Path;

use migration_core::syntax::{self, CommandSpec, NO_ARGS, OptionKind, ParsedArgs, args, opt};
use migration_core::{Error, ErrorKind};

use crate::cell::interpret;
use crate::home::write_setup;
use crate::pool::{PoolMode, Registry};
use crate::pool_manager::PoolManager;
use crate::selection_unit::{Direction, PsuError, Request, UnitKind};

const LONG: [migration_core::syntax::OptionSpec; 1] = [opt("l", OptionKind::Flag, "", "Show details.")];

/// The pool manager's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PsuCommand {
    /// `psu ls pool`
    PsuLsPool,
    /// `psu ls pgroup`
    PsuLsPoolGroup,
    /// `psu ls link`
    PsuLsLink,
    /// `psu ls unit`
    PsuLsUnit,
    /// `psu ls ugroup`
    PsuLsUnitGroup,
    /// `psu create pgroup`
    PsuCreatePoolGroup,
    /// `psu addto pgroup`
    PsuAddtoPoolGroup,
    /// `psu removefrom pgroup`
    PsuRemovefromPoolGroup,
    /// `psu create unit`
    PsuCreateUnit,
    /// `psu create ugroup`
    PsuCreateUnitGroup,
    /// `psu addto ugroup`
    PsuAddtoUnitGroup,
    /// `psu create link`
    PsuCreateLink,
    /// `psu set link`
    PsuSetLink,
    /// `psu add link`
    PsuAddLink,
    /// `psu match`
    PsuMatch,
    /// `save`
    Save,
}

/// Each of [`PsuCommand`] with its schema, in the order `help` lists them.
const POOL_MANAGER: [(PsuCommand, CommandSpec); 16] = [
    (
        PsuCommand::PsuLsPool,
        CommandSpec {
            name: "psu ls pool",
            options: &LONG,
            args: NO_ARGS,
            summary: "List pools.",
            help: "With -l: whether the pool is active (it runs; 'no' once stopped, as dCache shows a pool whose heartbeats stopped), its pool groups, HSM instances and mode (disabled(dead) when stopped).",
        },
    ),
    (
        PsuCommand::PsuLsPoolGroup,
        CommandSpec { name: "psu ls pgroup", options: &LONG, args: NO_ARGS, summary: "List pool groups.", help: "" },
    ),
    (
        PsuCommand::PsuLsLink,
        CommandSpec { name: "psu ls link", options: &LONG, args: NO_ARGS, summary: "List links.", help: "" },
    ),
    (
        PsuCommand::PsuLsUnit,
        CommandSpec { name: "psu ls unit", options: &LONG, args: NO_ARGS, summary: "List units.", help: "" },
    ),
    (
        PsuCommand::PsuLsUnitGroup,
        CommandSpec { name: "psu ls ugroup", options: &LONG, args: NO_ARGS, summary: "List unit groups.", help: "" },
    ),
    (
        PsuCommand::PsuCreatePoolGroup,
        CommandSpec {
            name: "psu create pgroup",
            options: &[],
            args: args(&["GROUP"], 1, false),
            summary: "Create a pool group.",
            help: "",
        },
    ),
    (
        PsuCommand::PsuAddtoPoolGroup,
        CommandSpec {
            name: "psu addto pgroup",
            options: &[],
            args: args(&["GROUP", "POOL"], 2, false),
            summary: "Add a pool to a pool group.",
            help: "",
        },
    ),
    (
        PsuCommand::PsuRemovefromPoolGroup,
        CommandSpec {
            name: "psu removefrom pgroup",
            options: &[],
            args: args(&["GROUP", "POOL"], 2, false),
            summary: "Remove a pool from a pool group.",
            help: "",
        },
    ),
    (
        PsuCommand::PsuCreateUnit,
        CommandSpec {
            name: "psu create unit",
            options: &[
                opt("store", OptionKind::Flag, "", "A store unit: <storage class>@<hsm>, either part may be *."),
                opt("net", OptionKind::Flag, "", "A net unit: an address, <address>/<bits> or <address>/<netmask>."),
                opt("protocol", OptionKind::Flag, "", "A protocol unit: <protocol>/<version>, the version may be *."),
                opt("dcache", OptionKind::Flag, "", "A dCache unit: a cache class."),
            ],
            args: args(&["NAME"], 1, false),
            summary: "Create a unit.",
            help: "A unit is a predicate on requests; units are put in unit groups, and links select the pools of requests that match every unit group of the link.",
        },
    ),
    (
        PsuCommand::PsuCreateUnitGroup,
        CommandSpec {
            name: "psu create ugroup",
            options: &[],
            args: args(&["UGROUP"], 1, false),
            summary: "Create a unit group.",
            help: "",
        },
    ),
    (
        PsuCommand::PsuAddtoUnitGroup,
        CommandSpec {
            name: "psu addto ugroup",
            options: &[],
            args: args(&["UGROUP", "UNIT"], 2, false),
            summary: "Add a unit to a unit group.",
            help: "",
        },
    ),
    (
        PsuCommand::PsuCreateLink,
        CommandSpec {
            name: "psu create link",
            options: &[],
            args: args(&["LINK", "UGROUP"], 1, true),
            summary: "Create a link over unit groups.",
            help: "A request matches the link when each of its unit groups holds one of the request's units. A new link has every preference 0 (not used) and p2p preference -1 (the read preference).",
        },
    ),
    (
        PsuCommand::PsuSetLink,
        CommandSpec {
            name: "psu set link",
            options: &[
                opt("readpref", OptionKind::Int, "n", "Preference for reads (0: not used)."),
                opt("writepref", OptionKind::Int, "n", "Preference for writes (0: not used)."),
                opt("cachepref", OptionKind::Int, "n", "Preference for staging (0: not used)."),
                opt("p2ppref", OptionKind::Int, "n", "Preference for p2p destinations (-1: the read preference)."),
            ],
            args: args(&["LINK"], 1, false),
            summary: "Set a link's preferences.",
            help: "Among the links a request matches, those with the highest preference make the first level of pools, the next preference the second level, and so on. Hot-file replication uses the first level that has usable pools.",
        },
    ),
    (
        PsuCommand::PsuAddLink,
        CommandSpec {
            name: "psu add link",
            options: &[],
            args: args(&["LINK", "GROUP"], 2, false),
            summary: "Attach a pool group to a link.",
            help: "",
        },
    ),
    (
        PsuCommand::PsuMatch,
        CommandSpec {
            name: "psu match",
            options: &[],
            args: args(&["read|write|cache|p2p", "STORE", "DCACHE|*", "NET|*", "PROTOCOL|*"], 5, false),
            summary: "Show the preference levels of a request.",
            help: "As dCache's psu match: the levels (numbered from 0, highest preference first) with their usable pools. * leaves that kind of unit out of the request. Hot-file replication asks for read with the file's storage and cache class, the client's address (empty: the loopback address) and the protocol unit (*/* without one).",
        },
    ),
    (
        PsuCommand::Save,
        CommandSpec {
            name: "save",
            options: &[],
            args: NO_ARGS,
            summary: "Save the pool selection setup.",
            help: "Writes <home>/poolmanager.conf as psu commands (what differs from the default setup); a restarted minidcache replays it.",
        },
    ),
];

/// The pool manager's commands.
pub const POOL_MANAGER_COMMANDS: &[CommandSpec] = &syntax::schemas(&POOL_MANAGER);

fn refused(e: PsuError) -> Error {
    Error::new(ErrorKind::InvalidArgument, e.to_string())
}

/// Executes `line` in the `PoolManager` cell, over the pools of `registry`; `save` writes
/// `setup`. Below the cluster, which replays the saved setup through it at start-up.
pub fn execute(pm: &PoolManager, registry: &Registry, setup: &Path, line: &str) -> Result<String, Error> {
    interpret(&POOL_MANAGER, "", line, |command, args| run(pm, registry, setup, command, args))
}

fn run(
    pm: &PoolManager,
    registry: &Registry,
    setup: &Path,
    command: PsuCommand,
    args: &ParsedArgs,
) -> Result<String, Error> {
    let arg = |i| args.arg(i).unwrap_or_default();
    let done = |r: Result<(), PsuError>| r.map(|()| String::new()).map_err(refused);
    let long = || args.flag("l").unwrap_or(false);
    match command {
        PsuCommand::PsuLsPool => Ok(list_pools(pm, registry, long())),
        PsuCommand::PsuLsPoolGroup => Ok(pm
            .groups()
            .into_iter()
            .map(|(g, m)| if long() { format!("{g} : {}\n", m.join(",")) } else { format!("{g}\n") })
            .collect()),
        PsuCommand::PsuLsLink => Ok(pm.list_links(long())),
        PsuCommand::PsuLsUnit => Ok(pm.list_units(long())),
        PsuCommand::PsuLsUnitGroup => Ok(pm.list_ugroups(long())),
        PsuCommand::PsuCreatePoolGroup => done(pm.create_group(arg(0))),
        PsuCommand::PsuAddtoPoolGroup => done(pm.add_to_group(arg(0), arg(1))),
        PsuCommand::PsuRemovefromPoolGroup => done(pm.remove_from_group(arg(0), arg(1))),
        PsuCommand::PsuCreateUnit => {
            let kinds = [UnitKind::Store, UnitKind::Net, UnitKind::Protocol, UnitKind::Dcache];
            let chosen: Vec<UnitKind> = kinds.into_iter().filter(|k| args.flag(k.option()).unwrap_or(false)).collect();
            match chosen.as_slice() {
                [kind] => done(pm.create_unit(*kind, arg(0))),
                _ => Err(Error::syntax("Unit type missing net/store/dcache/protocol")),
            }
        }
        PsuCommand::PsuCreateUnitGroup => done(pm.create_ugroup(arg(0))),
        PsuCommand::PsuAddtoUnitGroup => done(pm.add_to_ugroup(arg(0), arg(1))),
        PsuCommand::PsuCreateLink => done(pm.create_link(arg(0), &args.args()[1..])),
        PsuCommand::PsuSetLink => done(pm.set_link(arg(0), |p| {
            p.read = args.int("readpref").unwrap_or(p.read);
            p.write = args.int("writepref").unwrap_or(p.write);
            p.cache = args.int("cachepref").unwrap_or(p.cache);
            p.p2p = args.int("p2ppref").unwrap_or(p.p2p);
        })),
        PsuCommand::PsuAddLink => done(pm.attach_group(arg(0), arg(1))),
        PsuCommand::PsuMatch => psu_match(pm, args),
        PsuCommand::Save => write_setup(setup, &pm.setup_lines()).map(|()| String::new()),
    }
}

/// `psu ls pool [-l]`, with dCache's `Pool.toString()` fields that minidcache has.
fn list_pools(pm: &PoolManager, registry: &Registry, long: bool) -> String {
    let groups = pm.groups();
    let mut out = String::new();
    for name in registry.names() {
        if !long {
            out.push_str(&format!("{name}\n"));
            continue;
        }
        let Some(node) = registry.get(&name) else { continue };
        let pgroups = groups.iter().filter(|(_, m)| m.contains(&name)).count();
        let (active, mode) = if node.is_running() {
            ("0", node.mode().describe())
        } else {
            // A pool without heartbeats: dCache shows it inactive and dead.
            ("no", "disabled(dead)")
        };
        let rdonly = node.is_running() && node.mode() == PoolMode::ReadOnly;
        out.push_str(&format!(
            "{name}  (enabled=true;active={active};rdOnly={rdonly};pgroups={pgroups};hsm=[{}];mode={mode})\n",
            node.hsms().join(",")
        ));
    }
    out
}

/// `psu match read|write|cache|p2p <store> <dcache>|* <net>|* <protocol>|*`, printed as dCache
/// prints it.
fn psu_match(pm: &PoolManager, args: &ParsedArgs) -> Result<String, Error> {
    let arg = |i| args.arg(i).unwrap_or_default();
    let optional = |i| Some(arg(i)).filter(|v| *v != "*");
    let direction = Direction::parse(arg(0))
        .ok_or_else(|| Error::syntax(format!("Invalid direction: {} (expected read, write, cache or p2p)", arg(0))))?;
    let request = Request { direction, store: arg(1), dcache: optional(2), net: optional(3), protocol: optional(4) };
    let levels = pm.match_levels(&request).map_err(refused)?;
    let mut out = String::new();
    for (i, pools) in levels.iter().enumerate() {
        out.push_str(&format!("Preference : {i}\n       Tag : NONE\n"));
        for pool in pools {
            out.push_str(&format!("  {pool}\n"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_has_one_row() {
        crate::cell::assert_one_row_each(&POOL_MANAGER);
    }
}
