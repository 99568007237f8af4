//! `minidcache`: the admin shell over several in-memory pools.
//!
//! ```text
//! minidcache [--pools pool1,pool2,...] [--capacity BYTES] [--seed N] [--script FILE]
//! ```

use std::io::{self, BufReader, IsTerminal};
use std::process::ExitCode;

use minidcache::{Cluster, ClusterConfig, Mode, Shell};

const USAGE: &str = "usage: minidcache [--pools pool1,pool2,...] [--capacity BYTES] [--seed N] [--script FILE]

Reads admin commands from the terminal, from standard input, or from FILE.
Default pools: pool1,pool2,pool3,pool4; default capacity: 10 GiB per pool.";

struct Arguments {
    config: ClusterConfig,
    script: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Arguments>, String> {
    let mut config = ClusterConfig::default();
    let mut script = None;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Ok(None);
        }
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "--pools" => {
                let pools: Vec<String> =
                    value()?.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect();
                if pools.is_empty() {
                    return Err("--pools needs at least one pool name".to_string());
                }
                config.pools = pools;
            }
            "--capacity" => {
                let v = value()?;
                config.capacity = v.parse().map_err(|_| format!("--capacity: not a number of bytes: {v}"))?;
            }
            "--seed" => {
                let v = value()?;
                config.seed = v.parse().map_err(|_| format!("--seed: not a number: {v}"))?;
            }
            "--script" => script = Some(value()?),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(Arguments { config, script }))
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
    let cluster = match Cluster::new(arguments.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("minidcache: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut shell = Shell::new(cluster);
    let stdout = io::stdout().lock();
    let result = match &arguments.script {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => shell.run(BufReader::new(file), stdout, Mode::Echo),
            Err(e) => {
                eprintln!("minidcache: {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => {
            let stdin = io::stdin();
            let mode = if stdin.is_terminal() { Mode::Interactive } else { Mode::Echo };
            shell.run(stdin.lock(), stdout, mode)
        }
    };
    shell.cluster().shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minidcache: {e}");
            ExitCode::FAILURE
        }
    }
}
