//! Item 5 of issue #8: real data in minidcache. `migration move` between two on-disk pools on
//! the same disk (ADLER32 of every copy checked against the namespace by minidcache's p2p),
//! side by side in the same run with `cp -r` of the same files followed by ADLER32 of every
//! copy, and with `rsync -a --remove-source-files`. All three read the same files, freshly
//! written and so in the page cache; none syncs to disk (minidcache without `--fsync`).
//! minidcache is used as it stands, through its binary and admin shell; when it does not
//! build, this part is skipped with the reason.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Options;
use crate::start::{data_dir, output, print_where_files_are};
use crate::table::{Row, Target};

/// One data set: `files` files of `size` bytes, and the move's concurrency.
struct Set {
    files: u64,
    size: u64,
    concurrency: u32,
    /// The move's targets; `None` for a set shown for information.
    goals: Option<Goals>,
}

/// The move's throughput against cp+ADLER32, and against rsync (issue #14).
struct Goals {
    cp: f64,
    rsync: f64,
}

/// ADLER32 (RFC 1950), as dCache and minidcache compute it.
fn adler32(mut a: u32, mut b: u32, data: &[u8]) -> (u32, u32) {
    const MOD: u32 = 65_521;
    // 5552 bytes is the most that can be summed before the 32-bit sums may overflow.
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (a, b)
}

/// ADLER32 of every file under `dir`; returns the number of files.
fn checksum_tree(dir: &Path) -> u64 {
    let mut buffer = vec![0u8; 1 << 20];
    let mut count = 0;
    let mut sum = 0u64;
    for entry in std::fs::read_dir(dir).expect("the copy is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            count += checksum_tree(&path);
            continue;
        }
        let mut file = std::fs::File::open(&path).expect("the copy is readable");
        let (mut a, mut b) = (1, 0);
        loop {
            let n = file.read(&mut buffer).expect("the copy is readable");
            if n == 0 {
                break;
            }
            (a, b) = adler32(a, b, &buffer[..n]);
        }
        sum = sum.wrapping_add(u64::from((b << 16) | a));
        count += 1;
    }
    std::hint::black_box(sum);
    count
}

/// Lets the file system settle before a timed part: writes what is dirty and waits for a
/// journal to commit (ext4 commits every 5 s). A tool timed right after tens of thousands of
/// deletions (the previous tool's copy) was measured 2-3 times slower, whichever tool it was.
/// On an ext4 without a journal (this project's machine) that does not settle: there, ext4
/// skips every inode freed in the last 60 s when it creates a file (`recently_deleted`), so
/// the disk rows vary with what ran in the minute before; `MIGRATION_BENCH_DIR` can put the
/// files on another file system.
fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_secs(6));
}

fn seconds(f: impl FnOnce()) -> f64 {
    let t0 = Instant::now();
    f();
    t0.elapsed().as_secs_f64()
}

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The minidcache binary as it stands, built in release mode.
pub fn minidcache() -> Result<PathBuf, String> {
    // MIGRATION_BENCH_MINIDCACHE names a binary to run instead, to compare two builds in turn.
    if let Some(binary) = std::env::var_os("MIGRATION_BENCH_MINIDCACHE") {
        return Ok(PathBuf::from(binary));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    output(Command::new(cargo).current_dir(&root).args(["build", "--release", "--quiet", "-p", "minidcache"]))
        .map_err(|e| format!("minidcache does not build: {}", e.lines().take(6).collect::<Vec<_>>().join(" / ")))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release/minidcache"))
}

/// The admin shell of a minidcache process, fed through a pipe. In that mode it echoes
/// each command after its prompt before running it, one line at a time, so the echo of the
/// next command marks the end of the previous one.
pub struct Session {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Session {
    /// Starts `binary` on `home` with pools `pool1` and `pool2`, a large capacity and the
    /// `extra` arguments.
    pub fn start(binary: &Path, home: &Path, extra: &[String]) -> Session {
        let mut child = Command::new(binary)
            .arg("--home")
            .arg(home)
            .args(["--pools", "pool1,pool2", "--capacity", &(64u64 << 30).to_string()])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("minidcache starts");
        let stdout = child.stdout.take().expect("piped");
        Session { child, lines: BufReader::new(stdout).lines() }
    }

    /// The process id (for its peak RSS).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Quits the shell and waits for the process to end.
    pub fn quit(mut self) {
        self.send("\\q");
        self.send("\\q");
        let _ = self.until_echo("\\q");
        let _ = self.child.wait();
    }

    /// Sends one line.
    pub fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("piped");
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).expect("minidcache reads its input");
    }

    /// Reads output until the echo of `command`; returns what came before it.
    pub fn until_echo(&mut self, command: &str) -> String {
        let mut text = String::new();
        for line in self.lines.by_ref() {
            let line = line.expect("minidcache writes its output");
            if line.ends_with(&format!("> {command}")) {
                return text;
            }
            text.push_str(&line);
            text.push('\n');
        }
        panic!("minidcache ended before `{command}`: {text}");
    }
}

/// Deletes a bench's directory left by an earlier run, unless a minidcache still runs on the
/// home in it (another bench started meanwhile, whose pools would lose their files under it).
pub fn clear(root: &Path) {
    let lock = std::fs::File::options().write(true).open(root.join("home").join("lock"));
    if let Ok(lock) = lock
        && let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock()
    {
        eprintln!("{} is in use by a minidcache of another bench run: not deleting it", root.display());
        std::process::exit(1);
    }
    let _ = std::fs::remove_dir_all(root);
}

/// Runs one data set; returns (move, cp+ADLER32, rsync) in MB/s (rsync `None` when missing).
fn measure(set: &Set, root: &Path, binary: &Path) -> (f64, f64, Option<f64>) {
    clear(root);
    let home = root.join("home");
    std::fs::create_dir_all(&home).expect("the bench directory can be created");
    let mut session = Session::start(binary, &home, &[]);
    session.send("\\c pool1");
    session.send(&format!("populate -files={} -size={}", set.files, set.size));
    session.send("\\l");
    session.until_echo("\\l");
    let data = home.join("pool1/data");
    let bytes = (set.files * set.size) as f64;

    // cp -r, then ADLER32 of every copy.
    let copy = root.join("cp");
    settle();
    let cp = seconds(|| {
        output(Command::new("cp").arg("-r").arg(&data).arg(&copy)).expect("cp works");
        assert_eq!(checksum_tree(&copy), set.files);
    });
    let _ = std::fs::remove_dir_all(&copy);

    // rsync -a --remove-source-files, from a staged copy of the same files.
    let rsync = have("rsync").then(|| {
        let staged = root.join("rsync-source");
        output(Command::new("cp").arg("-r").arg(&data).arg(&staged)).expect("cp works");
        let target = root.join("rsync-target");
        settle();
        let s = seconds(|| {
            let source = format!("{}/", staged.display());
            output(Command::new("rsync").args(["-a", "--remove-source-files", &source]).arg(&target))
                .expect("rsync works");
        });
        let _ = std::fs::remove_dir_all(&staged);
        let _ = std::fs::remove_dir_all(&target);
        s
    });

    // migration move, from the command to FINISHED (the echo of the command after `wait`).
    let command = format!("migration move -concurrency={} pool2", set.concurrency);
    settle();
    session.send(&command);
    session.send("wait 1 -timeout=600");
    session.send("migration info 1");
    session.until_echo(&command);
    let t0 = Instant::now();
    session.until_echo("migration info 1");
    let moved = t0.elapsed().as_secs_f64();
    session.send("\\q");
    session.send("\\q");
    let info = session.until_echo("\\q");
    let _ = session.child.wait();
    assert!(info.contains("State      : FINISHED\n"), "{info}");
    assert!(info.contains(&format!("Completed  : {} files;", set.files)), "{info}");
    assert_eq!(std::fs::read_dir(home.join("pool2/data")).map_or(0, |d| d.count()) as u64, set.files);
    let _ = std::fs::remove_dir_all(root);
    let mb = |s: f64| bytes / s / 1e6;
    (mb(moved), mb(cp), rsync.map(mb))
}

/// Runs item 5.
pub fn run(options: &Options, rows: &mut Vec<Row>) {
    if !have("cp") {
        println!("disk skipped: no cp");
        return;
    }
    let scale = if options.quick { 20 } else { 1 };
    let sets = [
        Set { files: 2_000 / scale, size: 1 << 20, concurrency: 4, goals: Some(Goals { cp: 0.8, rsync: 1.5 }) },
        Set { files: 20_000 / scale, size: 4 << 10, concurrency: 4, goals: Some(Goals { cp: 1.5, rsync: 1.0 }) },
        // dCache's default concurrency: one file after the other, so every cost on the way
        // from one file to the next (a thread hand-off, a commit) shows undivided.
        Set { files: 20_000 / scale, size: 4 << 10, concurrency: 1, goals: None },
    ];
    let binary = match minidcache() {
        Ok(b) => b,
        Err(why) => {
            println!("disk skipped: {why}");
            return;
        }
    };
    let root: PathBuf = data_dir().join("disk");
    println!("real data in minidcache (two on-disk pools, same disk), MB/s, same files for each:");
    print_where_files_are();
    for set in &sets {
        let files = format!("{} × {}", set.files, if set.size >= 1 << 20 { "1 MiB" } else { "4 KiB" });
        // With `--repeat N`, N rounds of the three tools in turn (`measure`: cp, rsync, move): a slow spell of the disk
        // falls on one round, and each row is the median of its rounds' ratios.
        let (mut to_cp, mut to_rsync) = (Vec::new(), Vec::new());
        for round in 1..=options.repeat {
            let (moved, cp, rsync) = measure(set, &root, &binary);
            let rsync_text = rsync.map_or("skipped (no rsync)".to_string(), |r| format!("{r:.0} MB/s"));
            let of = if options.repeat > 1 { format!(" (round {round} of {})", options.repeat) } else { String::new() };
            println!(
                "  {files:<16} migration move -concurrency={}: {moved:>7.0} MB/s   cp -r + ADLER32: {cp:>7.0} MB/s   rsync: {rsync_text}{of}",
                set.concurrency
            );
            to_cp.push(moved / cp);
            to_rsync.extend(rsync.map(|r| moved / r));
        }
        // A set shown for information is named with its concurrency, unlike the targets' sets.
        let label = match set.goals {
            Some(_) => files.clone(),
            None => format!("{files} at concurrency {}", set.concurrency),
        };
        // The goals are set for the full sizes; a quick run only checks that it all works.
        let goal = |g: fn(&Goals) -> f64| match &set.goals {
            Some(goals) if !options.quick => Target::AtLeast(g(goals)),
            _ => Target::None,
        };
        let median = crate::throughput::median;
        rows.push(Row::new("disk", format!("move {label} ÷ cp -r + ADLER32"), median(&to_cp), "×", goal(|g| g.cp)));
        if !to_rsync.is_empty() {
            rows.push(Row::new(
                "disk",
                format!("move {label} ÷ rsync -a --remove-source-files"),
                median(&to_rsync),
                "×",
                goal(|g| g.rsync),
            ));
        }
    }
}
