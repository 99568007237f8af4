//! A SQLite database with group commit: every change is queued as a closure, and whoever
//! commits takes everything queued so far into one transaction. A writer that waits for its
//! change becomes the committer itself when nobody else is committing (no hand-off to
//! another thread); one that is already committing takes the others' changes along. Changes
//! nobody waits for (access times, cache locations) are committed by a background thread a
//! few milliseconds later, many at a time. Many small changes made at the same time (one per
//! file of a migration job) so cost one commit, not one each.
//! A change nobody waits for can still say what to do once it is committed ([`Store::submit_then`]):
//! a pool frees a removed replica's id that way.
//!
//! Every change goes through one queue, so changes are committed in the order they were
//! queued, whoever commits them.
//!
//! Durability: the database runs in WAL mode. With `synchronous=NORMAL` (the default) a
//! committed transaction survives a crash of the process, since SQLite has written it to
//! the operating system; a power loss may lose the last commits but never corrupts the
//! database. With `--fsync` (`synchronous=FULL`) every commit is on the disk before anyone is
//! told it happened.
//!
//! With `synchronous=NORMAL` the background thread also writes the WAL back to the disk as
//! it grows (`WalWriteback`), so that a checkpoint, which syncs the WAL while it holds the
//! connection, finds little left to write.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;

use migration_core::error::panic_message;

/// Statements to run inside a transaction. A change is all or nothing, so it may run twice:
/// once with the others of its batch and, if one of them fails, again alone (see
/// `commit`). It must touch nothing but the database.
pub type Work = Box<dyn Fn(&Connection) -> rusqlite::Result<()> + Send>;

/// Called before a commit whose batch names files just written (with `--fsync`: sync the data
/// directory, so that the files a transaction refers to are on disk before it is). If it fails,
/// so do those changes, uncommitted: a row must not be durable before its file's name is. The
/// batch's other changes (a state, a sticky record, a deletion) are committed as ever.
pub type BeforeCommit = Box<dyn Fn() -> Result<(), String> + Send>;

/// Where a waiting writer finds the result of its change.
type Slot = Arc<Mutex<Option<Result<(), String>>>>;

/// What to run once a change is committed (or has failed), on the committing thread.
pub type Then = Box<dyn FnOnce(Result<(), String>) + Send>;

/// What to note of a waited-for change's outcome on the committing thread, before its writer
/// hears of it ([`Store::queue_noted`]).
pub type Note = Box<dyn FnOnce(&Result<(), String>) + Send>;

struct Op {
    work: Work,
    done: Done,
    /// Whether its rows name files just written ([`Store::write_naming_files`]), whose names
    /// must be on the disk before the rows are ([`BeforeCommit`]).
    names_files: bool,
}

/// Who hears that a change is committed.
enum Done {
    /// Nobody: written behind.
    Nobody,
    /// A writer waiting for it, told after the note (if any) was taken.
    Waiting(Slot, Option<Note>),
    /// A closure.
    Then(Then),
}

/// Most operations in one transaction.
const MAX_BATCH: usize = 4096;

/// How long changes nobody waits for may gather before they are committed.
const GATHER: Duration = Duration::from_millis(2);

struct Queue {
    ops: VecDeque<Op>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the background committer.
    pending: Condvar,
    /// The connection; whoever holds it commits.
    connection: Mutex<Option<(Connection, Option<BeforeCommit>)>>,
    /// Transactions committed so far, successful or not.
    commits: AtomicU64,
}

/// A database and its committers.
pub struct Store {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    name: String,
}

/// Pages of WAL after which SQLite checkpoints it into the database (its default: 1 000).
const WAL_PAGES: u32 = 8192;

/// Opens (creating if needed) the database at `path` with minidcache's settings.
pub fn open(path: &Path, fsync: bool) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    // One process per home (the home's lock): no file locks per transaction, and the WAL
    // index lives in memory instead of a shared-memory file (set before WAL is entered).
    connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", if fsync { "FULL" } else { "NORMAL" })?;
    // SQLite copies the WAL into the database once it holds this many pages, and syncs both
    // files to the disk each time, stopping this database's commits meanwhile. At its default
    // of 1 000 pages, a pool moving 20 000 small files did it every few hundred commits: 189
    // fsyncs in a move of 20 000 × 4 KiB, 39 at 8 192 pages (a WAL of up to 32 MiB, which
    // keeps that size on disk), and the move 12 % quicker on a journalled ext4
    // (docs/performance.md, seventeenth round). A commit survives a crash of the process
    // either way. Without `--fsync` none is synced by itself, so a power loss or a crash of
    // the system can take back the commits since the last checkpoint (or since the kernel last
    // wrote the WAL back): up to 8 192 pages of them now, against 1 000. With `--fsync` every
    // commit is on the disk before it returns, whatever the checkpoints.
    connection.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    Ok(connection)
}

impl Shared {
    /// Queues `op`, or gives it back if the store is closed.
    fn push(&self, op: Op) -> Result<(), Op> {
        let mut queue = self.queue.lock();
        if queue.closed {
            return Err(op);
        }
        // A writer who waits commits its change itself; only changes nobody waits for need the
        // background committer, and waking it for the others would cost a wake-up (of the
        // other core, often) for a thread that then finds nothing to do.
        let wake = !matches!(op.done, Done::Waiting(..));
        queue.ops.push_back(op);
        if wake {
            self.pending.notify_one();
        }
        Ok(())
    }

    /// Commits what is queued, batch by batch, while holding the connection.
    fn commit_queued(&self) {
        let mut guard = self.connection.lock();
        let Some((connection, before_commit)) = guard.as_mut() else { return };
        loop {
            let batch: Vec<Op> = {
                let mut queue = self.queue.lock();
                let n = queue.ops.len().min(MAX_BATCH);
                queue.ops.drain(..n).collect()
            };
            if batch.is_empty() {
                return;
            }
            commit(connection, before_commit.as_deref(), batch);
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Commits a batch, each change whole or not at all. The batch is one transaction; if a change
/// in it fails, that transaction is rolled back and every change runs again in a transaction of
/// its own, so that a failure takes back its own change whole (a row written before the
/// statement that failed included) and nothing else. The second pass costs nothing unless a
/// change fails.
fn commit(connection: &Connection, before_commit: Option<&(dyn Fn() -> Result<(), String> + Send)>, batch: Vec<Op>) {
    let synced = match before_commit {
        Some(hook) if batch.iter().any(|op| op.names_files) => hook(),
        _ => Ok(()),
    };
    let results: Vec<Result<(), String>> = match synced {
        Ok(()) => committed(connection, &batch.iter().collect::<Vec<_>>()),
        Err(e) => {
            tracing::error!(target: "minidcache", "new replicas not committed: {e}");
            let others: Vec<&Op> = batch.iter().filter(|op| !op.names_files).collect();
            let mut committed_others = committed(connection, &others).into_iter();
            batch
                .iter()
                .map(|op| match op.names_files {
                    true => Err(e.clone()),
                    false => committed_others.next().expect("one result for each of the others"),
                })
                .collect()
        }
    };
    // In queue order, so that a writer who waits for a later change finds the earlier ones'
    // closures run.
    for (op, result) in batch.into_iter().zip(results) {
        match op.done {
            Done::Waiting(slot, note) => {
                if let Some(note) = note {
                    run_caught(|| note(&result));
                }
                *slot.lock() = Some(result);
            }
            Done::Then(then) => run_caught(|| then(result)),
            Done::Nobody => {}
        }
    }
}

/// Runs a closure given with a change: one that panics must not keep the outcomes after it
/// from their writers.
fn run_caught(closure: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(closure)) {
        tracing::error!(target: "minidcache", "a closure run after a commit panicked: {}", panic_message(&*panic).unwrap_or("no message"));
    }
}

/// The batch in one transaction, or each change in one of its own if that fails.
fn committed(connection: &Connection, batch: &[&Op]) -> Vec<Result<(), String>> {
    if batch.is_empty() {
        return Vec::new();
    }
    match transaction(connection, batch.iter().map(|op| &op.work)) {
        Ok(()) => vec![Ok(()); batch.len()],
        Err(_) => batch
            .iter()
            .map(|op| {
                let result = transaction(connection, std::iter::once(&op.work));
                if let Err(e) = &result {
                    tracing::error!(target: "minidcache", "database write failed: {e}");
                }
                result
            })
            .collect(),
    }
}

/// Runs `works` in one transaction: all committed, or all rolled back on the first error.
/// A change that panics fails like one that returns an error: left to unwind, it would leave
/// the transaction open (every later change would then fail) and its batch's writers waiting
/// for an outcome that never comes.
fn transaction<'a>(connection: &Connection, mut works: impl Iterator<Item = &'a Work>) -> Result<(), String> {
    connection.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    let done = works
        .try_for_each(|work| match catch_unwind(AssertUnwindSafe(|| work(connection))) {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(panic) => {
                Err(format!("a database change panicked: {}", panic_message(&*panic).unwrap_or("no message")))
            }
        })
        .and_then(|()| connection.execute_batch("COMMIT").map_err(|e| e.to_string()));
    done.inspect_err(|_| {
        let _ = connection.execute_batch("ROLLBACK");
    })
}

/// Commits after which the background thread writes the WAL back. A commit appends at least
/// one page to the WAL (a pool's commit of one replica, two to three), so this is at least an
/// eighth of the WAL a checkpoint syncs. A pool receiving small files, one commit each, writes
/// back about three times a checkpoint: every 512 or 2 048 commits made the 20 000 × 4 KiB move
/// slower than 1 024 (docs/performance.md, twenty-first round).
const WRITEBACK_COMMITS: u64 = WAL_PAGES as u64 / 8;

/// Writes a database's WAL back to the disk ahead of SQLite's checkpoints.
///
/// A checkpoint (every [`WAL_PAGES`] pages) first syncs the WAL, holding the connection
/// meanwhile. That sync writes the dirty WAL and then flushes the device, and a flush has to
/// write out everything written to the device since the last one, the pool's data files
/// included. On the benchmark's journalled ext4 it took 34–42 ms, three times in a 20 000 × 4
/// KiB move, and every transfer waiting to commit its replica waited as long. Syncing the same
/// file through a descriptor of our own, on the background thread and without the connection,
/// does that work in smaller parts while commits go on, and the checkpoint's sync finds little
/// left. The flush is what matters: `sync_file_range`, which writes the pages without it,
/// gained nothing (docs/performance.md, twenty-first round). It changes nothing SQLite relies
/// on: it only makes durable sooner what the checkpoint would have. Not used with
/// `synchronous=FULL`, where every commit syncs the WAL itself.
struct WalWriteback {
    /// `<database>-wal`, opened once it exists.
    path: PathBuf,
    file: Option<File>,
    /// [`Shared::commits`] at the last writeback.
    commits: u64,
}

impl WalWriteback {
    /// For `connection`'s database, if it is a file synced only at checkpoints.
    fn of(connection: &Connection) -> Option<WalWriteback> {
        let synchronous: i64 = connection.pragma_query_value(None, "synchronous", |row| row.get(0)).ok()?;
        // 1 is NORMAL; 0 (OFF) never syncs, 2 and 3 (FULL, EXTRA) sync every commit.
        if synchronous != 1 {
            return None;
        }
        let database = connection.path().filter(|path| !path.is_empty())?;
        let mut path = OsString::from(database);
        path.push("-wal");
        Some(WalWriteback { path: PathBuf::from(path), file: None, commits: 0 })
    }

    /// Syncs the WAL if [`WRITEBACK_COMMITS`] transactions were committed since the last time.
    fn run(&mut self, commits: u64) {
        if commits < self.commits + WRITEBACK_COMMITS {
            return;
        }
        self.commits = commits;
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        if let Some(file) = &self.file
            && let Err(e) = file.sync_data()
        {
            // Nothing is lost: the checkpoint syncs the WAL itself, and says if it cannot.
            tracing::debug!(target: "minidcache", "writing back {}: {e}", self.path.display());
        }
    }
}

fn background(shared: &Shared, mut writeback: Option<WalWriteback>) {
    crate::priority::run_in_background();
    loop {
        {
            let mut queue = shared.queue.lock();
            while queue.ops.is_empty() && !queue.closed {
                shared.pending.wait(&mut queue);
            }
            if queue.ops.is_empty() && queue.closed {
                return;
            }
        }
        // Let more changes gather; a waiting writer commits them earlier if it comes.
        std::thread::sleep(GATHER);
        shared.commit_queued();
        if let Some(writeback) = writeback.as_mut() {
            writeback.run(shared.commits.load(Ordering::Relaxed));
        }
    }
}

impl Store {
    /// Takes `connection` over; a background thread named `name` commits what nobody waits for.
    pub fn start(name: &str, connection: Connection, before_commit: Option<BeforeCommit>) -> std::io::Result<Store> {
        let writeback = WalWriteback::of(&connection);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { ops: VecDeque::new(), closed: false }),
            pending: Condvar::new(),
            connection: Mutex::new(Some((connection, before_commit))),
            commits: AtomicU64::new(0),
        });
        let background_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("{name}-db"))
            .spawn(move || background(&background_shared, writeback))?;
        Ok(Store { shared, thread: Mutex::new(Some(thread)), name: name.to_string() })
    }

    /// Queues `work` without waiting for its commit. Changes are committed in the order they
    /// were queued.
    pub fn submit(&self, work: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static) {
        self.push_unwaited(Op { work: Box::new(work), done: Done::Nobody, names_files: false });
    }

    /// Queues `work` without waiting for its commit, and runs `then` with the outcome once the
    /// transaction is committed or has failed. `then` runs on the committing thread with the
    /// database held: it must be short and must not use this store. Not run if the store is
    /// closed.
    pub fn submit_then(
        &self,
        work: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
        then: impl FnOnce(Result<(), String>) + Send + 'static,
    ) {
        self.push_unwaited(Op { work: Box::new(work), done: Done::Then(Box::new(then)), names_files: false });
    }

    /// Queues a change nobody waits for; if the store is closed, says so in the log.
    fn push_unwaited(&self, op: Op) {
        if self.shared.push(op).is_err() {
            tracing::error!(target: "minidcache", store = %self.name, "database closed: a change was dropped");
        }
    }

    /// Queues `work` and returns once it is committed (committing it, and whatever else is
    /// queued, on this thread unless another one is doing so already).
    pub fn write(&self, work: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static) -> Result<(), String> {
        self.queue(work).wait()
    }

    /// Queues `work`, to be waited for with [`Pending::wait`]: queued under a caller's lock,
    /// the change keeps its place among that lock's changes, and the wait happens outside it.
    pub fn queue(&self, work: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static) -> Pending<'_> {
        self.queue_op(work, false, None)
    }

    /// [`Store::queue`], with `note` run with the outcome on the committing thread before the
    /// writer is told, so before anyone who waits for a later change (a [`Store::flush`]) is:
    /// whoever finds the change committed finds what the note records of it too. If the store
    /// is closed, `note` runs at once with that error.
    pub fn queue_noted(
        &self,
        work: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
        note: impl FnOnce(&Result<(), String>) + Send + 'static,
    ) -> Pending<'_> {
        self.queue_op(work, false, Some(Box::new(note)))
    }

    /// [`Store::write`] for rows that name files just written: with a [`BeforeCommit`], they
    /// are committed only once it succeeded.
    pub fn write_naming_files(
        &self,
        work: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> Result<(), String> {
        self.queue_op(work, true, None).wait()
    }

    fn queue_op(
        &self,
        work: impl Fn(&Connection) -> rusqlite::Result<()> + Send + 'static,
        names_files: bool,
        note: Option<Note>,
    ) -> Pending<'_> {
        let slot: Slot = Arc::new(Mutex::new(None));
        let done = Done::Waiting(Arc::clone(&slot), note);
        match self.shared.push(Op { work: Box::new(work), done, names_files }) {
            Ok(()) => Pending { store: self, slot: Some(slot) },
            Err(op) => {
                if let Done::Waiting(_, Some(note)) = op.done {
                    note(&Err(self.closed_error()));
                }
                Pending { store: self, slot: None }
            }
        }
    }

    fn closed_error(&self) -> String {
        format!("the database of {} is closed", self.name)
    }

    /// Waits until everything queued so far is committed.
    pub fn flush(&self) -> Result<(), String> {
        self.write(|_| Ok(()))
    }

    /// Commits what is queued and closes the database. Safe to call more than once.
    pub fn close(&self) {
        self.shared.queue.lock().closed = true;
        self.shared.pending.notify_all();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
        self.shared.commit_queued();
        // Dropping the connection checkpoints the WAL into the database file.
        self.shared.connection.lock().take();
    }
}

#[cfg(test)]
impl Store {
    /// Changes queued and not yet taken by a committer.
    pub(crate) fn queued(&self) -> usize {
        self.shared.queue.lock().ops.len()
    }

    /// Holds a transaction open until the returned sender is dropped: what is queued
    /// meanwhile stays in the queue, and is then committed as one batch.
    pub(crate) fn hold(&self) -> std::sync::mpsc::Sender<()> {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (began, has_begun) = std::sync::mpsc::channel::<()>();
        self.submit(move |_| {
            let _ = began.send(());
            let _ = released.recv();
            Ok(())
        });
        has_begun.recv().expect("the held transaction began");
        release
    }
}

/// A change queued with [`Store::queue`].
#[must_use = "a queued change's outcome is known only by waiting for it"]
pub struct Pending<'a> {
    store: &'a Store,
    /// `None` if the store was closed and the change dropped.
    slot: Option<Slot>,
}

impl Pending<'_> {
    /// Returns once the change is committed or has failed.
    pub fn wait(self) -> Result<(), String> {
        let closed = || Err(self.store.closed_error());
        let Some(slot) = self.slot else { return closed() };
        loop {
            if let Some(result) = slot.lock().take() {
                return result;
            }
            // Blocks while another thread commits (possibly our change too).
            self.store.shared.commit_queued();
            if let Some(result) = slot.lock().take() {
                return result;
            }
            if self.store.shared.connection.lock().is_none() {
                return closed();
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store on a new database `<dir>/t.db` with one table `t (n INTEGER)`.
    fn table_store(name: &str) -> (std::path::PathBuf, std::path::PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!("minidcache-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.db");
        let connection = open(&path, false).expect("open");
        connection.execute_batch("CREATE TABLE t (n INTEGER)").expect("table");
        (dir, path, Store::start("t", connection, None).expect("start"))
    }

    /// With `--fsync`, a data directory that cannot be synced fails the rows that name new
    /// files, uncommitted: they would be durable before the names of their files. They were
    /// committed regardless, the failure only logged. Other rows are committed, and once the
    /// sync works again, so are new replicas'.
    #[test]
    fn a_failing_sync_before_the_commit_fails_the_batch_and_commits_nothing() {
        let dir = std::env::temp_dir().join(format!("minidcache-sync-fails-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.db");
        let connection = open(&path, false).expect("open");
        connection.execute_batch("CREATE TABLE t (n INTEGER)").expect("table");
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let hook = {
            let failing = Arc::clone(&failing);
            Box::new(move || match failing.load(std::sync::atomic::Ordering::Acquire) {
                true => Err("cannot sync data: Input/output error".to_string()),
                false => Ok(()),
            }) as BeforeCommit
        };
        let store = Store::start("t", connection, Some(hook)).expect("start");
        let written = store.write_naming_files(|c| c.execute("INSERT INTO t VALUES (1)", []).map(|_| ()));
        assert_eq!(written, Err("cannot sync data: Input/output error".to_string()));
        // A change that names no new file does not wait for the sync.
        store.write(|c| c.execute("INSERT INTO t VALUES (2)", []).map(|_| ())).expect("committed");
        failing.store(false, std::sync::atomic::Ordering::Release);
        store.write_naming_files(|c| c.execute("INSERT INTO t VALUES (3)", []).map(|_| ())).expect("committed");
        store.close();
        let check = Connection::open(&path).expect("reopen");
        let rows: Vec<i64> = check
            .prepare("SELECT n FROM t")
            .expect("select")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("values");
        assert_eq!(rows, [2, 3]);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn writes_are_committed_in_order_and_visible_to_a_new_connection() {
        let (dir, path, store) = table_store("store");
        for n in 0..100 {
            store.submit(move |c| c.execute("INSERT INTO t VALUES (?1)", [n]).map(|_| ()));
        }
        let (sender, outcomes) = std::sync::mpsc::channel();
        store.submit_then(
            |c| c.execute("INSERT INTO t VALUES (100)", []).map(|_| ()),
            move |result| sender.send(result).expect("the test listens"),
        );
        store.write(|c| c.execute("INSERT INTO t VALUES (101)", []).map(|_| ())).expect("committed");
        assert_eq!(
            outcomes.try_recv(),
            Ok(Ok(())),
            "an earlier change's closure has run once a later one is committed"
        );
        let (sender, outcomes) = std::sync::mpsc::channel();
        store.submit_then(
            |c| c.execute("INSERT INTO nowhere VALUES (1)", []).map(|_| ()),
            move |result| sender.send(result).expect("the test listens"),
        );
        store.flush().expect("flushed");
        assert!(matches!(outcomes.try_recv(), Ok(Err(e)) if e.contains("nowhere")), "a failure reaches the closure");
        let failed = store.write(|c| c.execute("INSERT INTO nowhere VALUES (1)", []).map(|_| ()));
        assert!(failed.is_err());
        store.close();
        let check = open(&path, false).expect("reopen");
        let (count, max): (i64, i64) =
            check.query_row("SELECT COUNT(*), MAX(n) FROM t", [], |r| Ok((r.get(0)?, r.get(1)?))).expect("query");
        assert_eq!((count, max), (102, 101));
        drop(check);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    /// A waited-for change's note is taken before anyone waiting for a later change hears of
    /// the commit, even if its own writer has not woken yet; on a closed store it is taken at
    /// once.
    #[test]
    fn a_note_is_taken_before_a_later_flush_returns_and_at_once_when_closed() {
        let (dir, _, store) = table_store("noted");
        let noted = Arc::new(Mutex::new(Vec::new()));
        let note = |noted: &Arc<Mutex<Vec<Result<(), String>>>>| {
            let noted = Arc::clone(noted);
            move |outcome: &Result<(), String>| noted.lock().push(outcome.clone())
        };
        let held = store.hold();
        let failing = store.queue_noted(|c| c.execute("INSERT INTO nowhere VALUES (1)", []).map(|_| ()), note(&noted));
        let written = store.queue_noted(|c| c.execute("INSERT INTO t VALUES (1)", []).map(|_| ()), note(&noted));
        drop(held);
        store.flush().expect("flushed");
        {
            let noted = noted.lock();
            assert_eq!(noted.len(), 2, "both notes were taken before the flush returned: {noted:?}");
            assert!(matches!(&noted[0], Err(e) if e.contains("nowhere")), "in queue order: {noted:?}");
            assert_eq!(noted[1], Ok(()));
        }
        assert!(failing.wait().is_err(), "the writer hears the outcome it noted");
        assert_eq!(written.wait(), Ok(()));
        store.close();
        let dropped = store.queue_noted(|_| Ok(()), note(&noted));
        assert!(matches!(noted.lock().last(), Some(Err(e)) if e.contains("closed")), "{:?}", noted.lock());
        assert!(dropped.wait().is_err());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_change_that_fails_in_a_batch_is_taken_back_whole_and_only_it() {
        let (dir, path, store) = table_store("store-batch");
        // The three changes below queue up behind a held transaction and are committed as
        // one batch.
        let held = store.hold();
        let insert = |n: i64| move |c: &Connection| c.execute("INSERT INTO t VALUES (?1)", [n]).map(|_| ());
        let first = store.queue(insert(1));
        // Its first statement succeeds, its second fails: neither may stay.
        let failing = store.queue(|c| {
            c.execute("INSERT INTO t VALUES (2)", [])?;
            c.execute("INSERT INTO nowhere VALUES (2)", []).map(|_| ())
        });
        let last = store.queue(insert(3));
        drop(held);
        assert_eq!(first.wait(), Ok(()));
        assert!(failing.wait().is_err());
        assert_eq!(last.wait(), Ok(()));
        store.close();
        let check = open(&path, false).expect("reopen");
        let mut rows = check.prepare("SELECT n FROM t ORDER BY n").expect("query");
        let ns: Vec<i64> = rows.query_map([], |r| r.get(0)).expect("rows").map(|n| n.expect("n")).collect();
        assert_eq!(ns, [1, 3]);
        drop(rows);
        drop(check);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_change_or_closure_that_panics_fails_alone_and_the_store_goes_on() {
        let (dir, path, store) = table_store("store-panic");
        let store = Arc::new(store);
        // On its own thread, so that a lost outcome (a writer waiting for ever) fails the
        // test instead of hanging it.
        let (sender, outcomes) = std::sync::mpsc::channel();
        let writer = Arc::clone(&store);
        std::thread::spawn(move || {
            let held = writer.hold();
            let insert = |n: i64| move |c: &Connection| c.execute("INSERT INTO t VALUES (?1)", [n]).map(|_| ());
            let first = writer.queue(insert(1));
            let panicking = writer.queue(|c| {
                c.execute("INSERT INTO t VALUES (2)", [])?;
                panic!("a bug in a change");
            });
            writer.submit_then(insert(3), |_| panic!("a bug in a closure"));
            let last = writer.queue(insert(4));
            drop(held);
            let waited = [first.wait(), panicking.wait(), last.wait(), writer.write(insert(5))];
            sender.send(waited).expect("the test listens");
        });
        let waited = outcomes.recv_timeout(std::time::Duration::from_secs(60)).expect("every writer hears its outcome");
        assert_eq!(waited[0], Ok(()));
        assert!(matches!(&waited[1], Err(e) if e.contains("a bug in a change")), "{:?}", waited[1]);
        assert_eq!(waited[2], Ok(()), "the outcome after a panicking closure reaches its writer");
        assert_eq!(waited[3], Ok(()), "no transaction was left open");
        store.close();
        let check = open(&path, false).expect("reopen");
        let mut rows = check.prepare("SELECT n FROM t ORDER BY n").expect("query");
        let ns: Vec<i64> = rows.query_map([], |r| r.get(0)).expect("rows").map(|n| n.expect("n")).collect();
        assert_eq!(ns, [1, 3, 4, 5]);
        drop(rows);
        drop(check);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn the_wal_is_written_back_only_where_commits_do_not_sync_it() {
        let dir = std::env::temp_dir().join(format!("minidcache-writeback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let normal = open(&dir.join("normal.db"), false).expect("open");
        let mut writeback = WalWriteback::of(&normal).expect("synchronous=NORMAL syncs the WAL only at checkpoints");
        assert_eq!(writeback.path, dir.join("normal.db-wal"));
        normal.execute_batch("CREATE TABLE t (n INTEGER)").expect("table");
        writeback.run(WRITEBACK_COMMITS - 1);
        assert!(writeback.file.is_none(), "no writeback before {WRITEBACK_COMMITS} commits");
        writeback.run(WRITEBACK_COMMITS);
        assert!(writeback.file.is_some(), "the WAL is opened and synced after {WRITEBACK_COMMITS} commits");
        writeback.run(WRITEBACK_COMMITS + 1);
        assert_eq!(writeback.commits, WRITEBACK_COMMITS, "the next writeback waits for as many commits again");
        let full = open(&dir.join("full.db"), true).expect("open");
        assert!(WalWriteback::of(&full).is_none(), "with --fsync every commit syncs the WAL itself");
        let memory = Connection::open_in_memory().expect("memory");
        assert!(WalWriteback::of(&memory).is_none(), "a database in memory has no WAL file");
        drop((normal, full, memory));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
