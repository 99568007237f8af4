//! The `(local)` cell, the shell's top level: `dcache start|stop|restart|status` start and
//! stop pools as dCache's `dcache` script does for domains (here one pool is one domain).
//!
//! `dcache stop <pool>` shuts the pool down as a stopping domain does: its jobs are cancelled
//! (`pool shutdown`), nothing reaches it any more (no route), the pool manager reports it
//! offline. `dcache start <pool>` brings it back from disk with its saved setup.

use migration_core::syntax::{self, CommandSpec, NO_ARGS, ParsedArgs, args};
use migration_core::{Error, ErrorKind};

use crate::cell::interpret;
use crate::cluster::Cluster;

/// The commands of the `(local)` cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalCommand {
    /// `dcache start`
    Start,
    /// `dcache stop`
    Stop,
    /// `dcache restart`
    Restart,
    /// `dcache status`
    Status,
}

/// Each of [`LocalCommand`] with its schema, in the order `help` lists them.
const LOCAL: [(LocalCommand, CommandSpec); 4] = [
    (
        LocalCommand::Start,
        CommandSpec {
            name: "dcache start",
            options: &[],
            args: args(&["POOL"], 0, true),
            summary: "Start pools.",
            help: "Starts the named pools (without a name: every stopped pool, in pool order). A started pool reads its repository back from disk, replays its setup (what save wrote: HSM instances, the migration module's defaults and permanent jobs) and starts enabled.",
        },
    ),
    (
        LocalCommand::Stop,
        CommandSpec {
            name: "dcache stop",
            options: &[],
            args: args(&["POOL"], 0, true),
            summary: "Stop pools.",
            help: "Stops the named pools (without a name: every running pool, in reverse pool order) as a stopping domain stops: the migration module cancels its jobs (pool shutdown), transfers to and from the pool are aborted, messages to it find no route, and the pool manager reports it offline at once. Its replicas stay on disk and in the namespace.",
        },
    ),
    (
        LocalCommand::Restart,
        CommandSpec {
            name: "dcache restart",
            options: &[],
            args: args(&["POOL"], 0, true),
            summary: "Stop, then start pools.",
            help: "",
        },
    ),
    (
        LocalCommand::Status,
        CommandSpec { name: "dcache status", options: &[], args: NO_ARGS, summary: "Show which pools run.", help: "" },
    ),
];

/// The commands of the `(local)` cell.
pub const LOCAL_COMMANDS: &[CommandSpec] = &syntax::schemas(&LOCAL);

/// The top level's help: the shell's own commands, then the cell's.
const SHELL_HELP: &str = "\\l - list the cells
\\c <cell> - enter a cell (a pool, PoolManager, PinManager or PnfsManager)
\\q - leave the cell (at the top level: exit)
help - this text; inside a cell, 'help' lists the cell's commands and 'help <command>' explains one

In a pool: populate, put, get, rep ls|rm|set, pool disable|enable, pool set|unset tag, info,
hsm set|unset|ls, save, wait, and every migration and hotfile command. Local paths of put/get
are relative to <home>/io.

Here, in the (local) cell:
";

/// Executes `line` in the `(local)` cell.
pub fn execute(cluster: &Cluster, line: &str) -> Result<String, Error> {
    interpret(&LOCAL, SHELL_HELP, line, |command, parsed| match command {
        LocalCommand::Start => Ok(start(cluster, &pools(cluster, parsed, false)?)),
        LocalCommand::Stop => stop(cluster, &pools(cluster, parsed, true)?),
        LocalCommand::Restart => {
            let named = pools(cluster, parsed, true)?;
            let mut out = stop(cluster, &named)?;
            let mut order = named;
            order.reverse();
            out.push_str(&start(cluster, &order));
            Ok(out)
        }
        LocalCommand::Status => Ok(status(cluster)),
    })
}

/// The named pools, checked; without names every pool (in reverse order for a stop, so that
/// pools stop in the opposite order to the one they started in).
fn pools(cluster: &Cluster, parsed: &ParsedArgs, stopping: bool) -> Result<Vec<String>, Error> {
    let known = cluster.pool_names();
    if parsed.args().is_empty() {
        let mut all = known;
        if stopping {
            all.reverse();
        }
        return Ok(all);
    }
    for name in parsed.args() {
        if !known.contains(name) {
            return Err(Error::new(ErrorKind::NotFound, format!("Pool not found: {name}")));
        }
    }
    Ok(parsed.args().to_vec())
}

fn stop(cluster: &Cluster, pools: &[String]) -> Result<String, Error> {
    let mut out = String::new();
    for name in pools {
        match cluster.stop_pool(name)? {
            Some(ended) => {
                out.push_str(&format!("Stopping {name} done\n"));
                for (id, command) in ended {
                    out.push_str(&format!("  job {id} cancelled (pool shutdown): {command}\n"));
                }
            }
            None => out.push_str(&format!("{name} is not running\n")),
        }
    }
    Ok(out)
}

/// Starts each pool; a pool that fails to start is reported and the others still start.
fn start(cluster: &Cluster, pools: &[String]) -> String {
    let mut out = String::new();
    for name in pools {
        match cluster.start_pool(name) {
            Ok(None) => out.push_str(&format!("{name} is already running\n")),
            Ok(Some(notes)) => {
                out.push_str(&format!("Starting {name} done\n"));
                for note in notes {
                    out.push_str(&format!("  {note}\n"));
                }
            }
            Err(e) => out.push_str(&format!("Starting {name} failed: {}\n", e.message)),
        }
    }
    out
}

/// `POOL  STATUS` and one line per pool, as `dcache status` lists domains.
fn status(cluster: &Cluster) -> String {
    let names = cluster.pool_names();
    let width = names.iter().map(String::len).max().unwrap_or(0).max("POOL".len());
    let mut out = format!("{:<width$}  STATUS\n", "POOL");
    for name in names {
        let running = cluster.pool(&name).is_some_and(|p| p.is_running());
        out.push_str(&format!("{name:<width$}  {}\n", if running { "running" } else { "stopped" }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_has_one_row() {
        crate::cell::assert_one_row_each(&LOCAL);
    }
}
