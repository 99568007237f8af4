//! The home directory: everything minidcache keeps lives under it.
//!
//! ```text
//! <home>/
//!   lock               held (flock) while a minidcache runs on this home
//!   minidcache.db      pools, namespace (files, checksums, cache locations), pins, counters
//!   poolmanager.conf   units, unit groups, pool groups and links, written by `save` in PoolManager
//!   history            the interactive shell's history
//!   io/                where relative paths of `put` and `get` point
//!   <pool>/
//!     meta.db          the pool's replicas: state, sticky records, attributes, checksums
//!     data/<pnfsid>    replica data, one file each (a replica once its row in meta.db is)
//!     setup            the pool's setup, written by `save`, replayed on start
//!     tags             the pool's tags (`pool set tag`), written at once
//! ```
//!
//! No command reads or writes outside the home: local paths are resolved by
//! [`Home::resolve_existing`] and [`Home::resolve_new`].

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

use migration_core::{Error, ErrorKind};

/// The home of a running minidcache.
#[derive(Debug)]
pub struct Home {
    root: PathBuf,
    /// Held for the lifetime of the process: two minidcaches on one home would corrupt it.
    _lock: File,
}

/// Where the shell keeps its state when no `--home` is given: `$XDG_DATA_HOME/minidcache`,
/// `~/.local/share/minidcache`, or a directory in the temporary directory.
pub fn default_home() -> PathBuf {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(data) = non_empty("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return data.join("minidcache");
    }
    if let Some(home) = non_empty("HOME").filter(|p| p.is_absolute()) {
        return home.join(".local").join("share").join("minidcache");
    }
    std::env::temp_dir().join("minidcache")
}

/// Names in the home's top level that belong to minidcache itself, with the files SQLite
/// keeps beside its database and the temporary name `poolmanager.conf` is written under
/// ([`write_atomically`]): a pool's directory by one of those names would stop them.
const RESERVED: &[&str] = &[
    "lock",
    "minidcache.db",
    "minidcache.db-wal",
    "minidcache.db-shm",
    "minidcache.db-journal",
    "poolmanager.conf",
    "poolmanager.tmp",
    "history",
    "io",
];

impl Home {
    /// Opens (creating it if needed) the home at `path` and locks it.
    pub fn open(path: &Path) -> Result<Home, Error> {
        let io_error =
            |what: &str, e: io::Error| Error::new(ErrorKind::Host, format!("{what} {}: {e}", path.display()));
        std::fs::create_dir_all(path).map_err(|e| io_error("cannot create the home", e))?;
        let root = path.canonicalize().map_err(|e| io_error("cannot resolve the home", e))?;
        std::fs::create_dir_all(root.join("io")).map_err(|e| io_error("cannot create io/ in", e))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join("lock"))
            .map_err(|e| io_error("cannot open the lock of", e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::State,
                    format!("{} is in use by another minidcache", root.display()),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error("cannot lock", e)),
        }
        Ok(Home { root, _lock: lock })
    }

    /// The home directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cluster's database.
    pub fn database(&self) -> PathBuf {
        self.root.join("minidcache.db")
    }

    /// The pool manager's setup.
    pub fn pool_manager_setup(&self) -> PathBuf {
        self.root.join("poolmanager.conf")
    }

    /// The shell's history file.
    pub fn history(&self) -> PathBuf {
        self.root.join("history")
    }

    /// Where relative `put`/`get` paths point.
    pub fn io(&self) -> PathBuf {
        self.root.join("io")
    }

    /// The directory of a pool (the name was checked by [`check_pool_name`]).
    pub fn pool(&self, pool: &str) -> PathBuf {
        self.root.join(pool)
    }

    /// A local file to read (`put`): relative paths resolve against `<home>/io`; the file
    /// must exist and, with every symbolic link and `..` resolved, lie inside the home.
    pub fn resolve_existing(&self, text: &str) -> Result<PathBuf, Error> {
        let path = self.join(text)?;
        let canonical = path.canonicalize().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::new(ErrorKind::NotFound, format!("No such file: {text}")),
            _ => Error::new(ErrorKind::Host, format!("{text}: {e}")),
        })?;
        self.check_inside(text, &canonical)?;
        if !canonical.is_file() {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("Not a regular file: {text}")));
        }
        Ok(canonical)
    }

    /// A local file to write (`get`): as for reading, but the file need not exist (its
    /// directory must), a symbolic link is never followed, and minidcache's own state (the
    /// home's top level, the pools' directories) is off limits.
    pub fn resolve_new(&self, text: &str, pools: &[String]) -> Result<PathBuf, Error> {
        let path = self.join(text)?;
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name.to_owned(),
            _ => return Err(Error::new(ErrorKind::InvalidArgument, format!("Not a file name: {text}"))),
        };
        let parent = path.parent().unwrap_or(&self.root);
        let parent = parent.canonicalize().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::new(ErrorKind::NotFound, format!("No such directory: {text}")),
            _ => Error::new(ErrorKind::Host, format!("{text}: {e}")),
        })?;
        self.check_inside(text, &parent)?;
        let target = parent.join(&name);
        let forbidden =
            || Error::new(ErrorKind::InvalidArgument, format!("Not allowed to write {text}: minidcache's own state"));
        if parent == self.root {
            return Err(forbidden());
        }
        let relative = target.strip_prefix(&self.root).map_err(|_| forbidden())?;
        // A pool's directory, of this run or of an earlier one with other pools (its
        // database tells), is the pool's.
        if let Some(Component::Normal(first)) = relative.components().next()
            && (pools.iter().any(|p| first == p.as_str())
                || RESERVED.iter().any(|r| first == *r && *r != "io")
                || self.root.join(first).join("meta.db").exists())
        {
            return Err(forbidden());
        }
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                Err(Error::new(ErrorKind::InvalidArgument, format!("Not following the symbolic link {text}")))
            }
            Ok(meta) if !meta.is_file() => {
                Err(Error::new(ErrorKind::InvalidArgument, format!("Not a regular file: {text}")))
            }
            _ => Ok(target),
        }
    }

    fn join(&self, text: &str) -> Result<PathBuf, Error> {
        if text.is_empty() || text.contains('\0') {
            return Err(Error::syntax(format!("Invalid path: {text:?}")));
        }
        let path = Path::new(text);
        Ok(if path.is_absolute() { path.to_path_buf() } else { self.io().join(path) })
    }

    fn check_inside(&self, text: &str, canonical: &Path) -> Result<(), Error> {
        if canonical.starts_with(&self.root) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("Not allowed: {text} is outside the home {}", self.root.display()),
            ))
        }
    }
}

/// Writes `text` to `path` atomically: a temporary file beside it, synced, renamed over it. A
/// crash leaves the old file or the new one, never a mix.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    written.and_then(|()| std::fs::rename(&tmp, path))
}

/// Writes a setup file (`save`): one command a line.
pub fn write_setup(path: &Path, lines: &[String]) -> Result<(), Error> {
    let mut text = lines.join("\n");
    text.push('\n');
    write_atomically(path, &text).map_err(|e| Error::new(ErrorKind::Host, format!("{}: {e}", path.display())))
}

/// A pool name becomes a directory name: letters, digits, `_`, `-` and `.` only, not
/// starting with `.`, and not one of the home's own names.
pub fn check_pool_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !RESERVED.contains(&name)
        && !matches!(name, "PoolManager" | "PinManager" | "PnfsManager");
    if valid { Ok(()) } else { Err(Error::new(ErrorKind::InvalidArgument, format!("Invalid pool name: {name}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_names_are_plain_directory_names() {
        assert!(check_pool_name("pool1").is_ok());
        assert!(check_pool_name("cache_pool-2.a").is_ok());
        for bad in
            ["", "..", ".hidden", "a/b", "io", "lock", "PinManager", "a b", "minidcache.db-wal", "poolmanager.tmp"]
        {
            assert!(check_pool_name(bad).is_err(), "{bad}");
        }
    }
}
