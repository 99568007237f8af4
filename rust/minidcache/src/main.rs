//! `minidcache`: the admin shell over several pools kept on disk.
//!
//! ```text
//! minidcache [--home DIR] [--pools pool1,pool2,...] [--capacity BYTES] [--seed N] [--fsync] [--pool-timeout S] [--transfer-threads N] [--script FILE]
//! minidcache demo [--home DIR]
//! ```

use std::io::{self, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use minidcache::{Cluster, ClusterConfig, Mode, Shell};

const USAGE: &str =
    "usage: minidcache [--home DIR] [--pools pool1,pool2,...] [--capacity BYTES] [--seed N] [--fsync] [--pool-timeout S] [--transfer-threads N] [--script FILE]
       minidcache demo [--home DIR]

Reads admin commands from the terminal, from standard input, or from FILE.
--home      where pools, namespace and pins are kept (default: $XDG_DATA_HOME/minidcache
            or ~/.local/share/minidcache); everything survives a restart
--pools     the pools to run (default: those of the home, or pool1,pool2,pool3,pool4)
--capacity  capacity of every pool in bytes (default: as recorded, else 10 GiB)
--fsync     sync data and metadata to disk before a replica becomes visible (survives
            power loss, slower); without it, a crash of the process loses nothing committed
--pool-timeout
            seconds the migration module waits for another pool's answer (dCache's
            pool.service.pool.timeout, default 60); a target that stopped under way is
            given up after 4 times this (two pings)
--transfer-threads
            most copies between pools running at once (default: twice the cores, 4 to 32);
            a job's copies beyond it wait for a thread
demo        plays the dCache Book's migration sessions on real files in a new home";

struct Arguments {
    demo: bool,
    home: Option<PathBuf>,
    pools: Option<Vec<String>>,
    capacity: Option<u64>,
    seed: u64,
    fsync: bool,
    pool_timeout: Option<u64>,
    transfer_threads: Option<usize>,
    script: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Arguments>, String> {
    let mut a = Arguments {
        demo: false,
        home: None,
        pools: None,
        capacity: None,
        seed: 1,
        fsync: false,
        pool_timeout: None,
        transfer_threads: None,
        script: None,
    };
    // The shell's own options, which `demo` does not take, as given: refused together at
    // the end, wherever `demo` stands among them.
    let mut shell_only: Vec<String> = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "demo" {
            a.demo = true;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Ok(None);
        }
        if name != "--home" {
            shell_only.push(name.clone());
        }
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "--home" => a.home = Some(PathBuf::from(value()?)),
            "--pools" => {
                let pools: Vec<String> =
                    value()?.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect();
                if pools.is_empty() {
                    return Err("--pools needs at least one pool name".to_string());
                }
                a.pools = Some(pools);
            }
            "--capacity" => {
                let v = value()?;
                a.capacity = Some(v.parse().map_err(|_| format!("--capacity: not a number of bytes: {v}"))?);
            }
            "--seed" => {
                let v = value()?;
                a.seed = v.parse().map_err(|_| format!("--seed: not a number: {v}"))?;
            }
            "--fsync" => a.fsync = true,
            "--pool-timeout" => {
                let v = value()?;
                let secs = v.parse().ok().filter(|s| *s > 0);
                a.pool_timeout =
                    Some(secs.ok_or_else(|| format!("--pool-timeout: not a positive number of seconds: {v}"))?);
            }
            "--transfer-threads" => {
                let v = value()?;
                let threads = v.parse().ok().filter(|n| *n > 0);
                a.transfer_threads =
                    Some(threads.ok_or_else(|| format!("--transfer-threads: not a positive number: {v}"))?);
            }
            "--script" => a.script = Some(value()?),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if a.demo && !shell_only.is_empty() {
        return Err(format!("demo takes only --home, not {}", shell_only.join(", ")));
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    let arguments = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("minidcache: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if arguments.demo {
        let mut stdout = io::stdout().lock();
        return match minidcache::demo::run(arguments.home.as_deref(), &mut stdout) {
            Ok(verified) if verified.mismatches.is_empty() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("minidcache: {}", e.message);
                ExitCode::FAILURE
            }
        };
    }
    let home = arguments.home.clone().unwrap_or_else(minidcache::home::default_home);
    let mut config = ClusterConfig::new(&home);
    config.pools = arguments.pools;
    config.capacity = arguments.capacity;
    config.seed = arguments.seed;
    config.fsync = arguments.fsync;
    if let Some(threads) = arguments.transfer_threads {
        config.transfer_threads = threads;
    }
    if let Some(secs) = arguments.pool_timeout {
        config.module.pool_timeout = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    }
    let cluster = match Cluster::new(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("minidcache: {}", e.message);
            return ExitCode::FAILURE;
        }
    };
    let stdin = io::stdin();
    let interactive = arguments.script.is_none() && stdin.is_terminal() && io::stdout().is_terminal();
    let banner = format!("minidcache: home {} ({})", cluster.home_dir().display(), cluster.pool_names().join(", "));
    if interactive {
        println!("{banner}\nType help for help, \\q to quit.");
    } else {
        eprintln!("{banner}");
    }
    for note in cluster.notes() {
        eprintln!("minidcache: {note}");
    }
    let history = cluster.home().history();
    // Every thread of the pools is started by now; those a command starts later (a pool's,
    // at `dcache start`) get the default slice back.
    minidcache::priority::run_in_short_slices();
    let mut shell = Shell::new(cluster);
    let result = match &arguments.script {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => shell.run(BufReader::new(file), io::stdout().lock(), Mode::Echo),
            Err(e) => {
                eprintln!("minidcache: {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None if interactive => shell.run_terminal(&history),
        None => shell.run(stdin.lock(), io::stdout().lock(), Mode::Echo),
    };
    let _ = io::stdout().flush();
    shell.cluster().shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minidcache: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Option<Arguments>, String> {
        parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn transfer_threads_must_be_a_positive_number() {
        let a = parsed(&["--transfer-threads", "3"]).expect("valid").expect("not help");
        assert_eq!(a.transfer_threads, Some(3));
        let a = parsed(&["--transfer-threads=8"]).expect("valid").expect("not help");
        assert_eq!(a.transfer_threads, Some(8));
        assert_eq!(parsed(&[]).expect("valid").expect("not help").transfer_threads, None);
        for bad in ["0", "-1", "many"] {
            let e = parsed(&["--transfer-threads", bad]).err().expect("refused");
            assert_eq!(e, format!("--transfer-threads: not a positive number: {bad}"));
        }
    }

    #[test]
    fn demo_takes_its_home_before_or_after_it_and_nothing_of_the_shells() {
        for args in [&["demo", "--home", "/tmp/h"][..], &["--home", "/tmp/h", "demo"], &["--home=/tmp/h", "demo"]] {
            let a = parsed(args).expect("valid").expect("not help");
            assert!(a.demo, "{args:?}");
            assert_eq!(a.home, Some(PathBuf::from("/tmp/h")), "{args:?}");
        }
        assert!(parsed(&["demo"]).expect("valid").expect("not help").demo);
        // A home named `demo` is a home, not the command.
        let a = parsed(&["--home", "demo"]).expect("valid").expect("not help");
        assert!(!a.demo);
        assert_eq!(a.home, Some(PathBuf::from("demo")));
        let e = parsed(&["--pools", "a,b", "demo", "--fsync"]).err().expect("refused");
        assert_eq!(e, "demo takes only --home, not --pools, --fsync");
        let e = parsed(&["demo", "--seed=3"]).err().expect("refused");
        assert_eq!(e, "demo takes only --home, not --seed");
        assert_eq!(parsed(&["demo", "--bogus"]).err().expect("refused"), "unknown argument: --bogus");
    }
}
