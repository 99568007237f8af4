//! What the integration tests share: a temporary home per test, removed afterwards, and a
//! shell over a cluster in it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use minidcache::{Cluster, ClusterConfig, Reply, Shell};

/// A directory under the temporary directory, removed (with everything in it) on drop.
pub struct TempHome {
    path: PathBuf,
}

impl TempHome {
    /// A new, empty directory.
    pub fn new() -> TempHome {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("minidcache-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temporary home");
        TempHome { path }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A shell over a cluster in a temporary home. Fields drop in order: the cluster stops
/// before its home is removed.
pub struct Session {
    pub shell: Shell,
    pub home: TempHome,
}

impl std::ops::Deref for Session {
    type Target = Shell;
    fn deref(&self) -> &Shell {
        &self.shell
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Shell {
        &mut self.shell
    }
}

/// A shell over `pools` in a new temporary home.
pub fn session(pools: &[&str]) -> Session {
    let home = TempHome::new();
    let shell = open(home.path(), pools);
    Session { shell, home }
}

/// A shell over a cluster built from `config` (its home is replaced by a new temporary one).
pub fn session_with(mut config: ClusterConfig) -> Session {
    let home = TempHome::new();
    config.home = home.path().to_path_buf();
    let shell = Shell::new(Cluster::new(config).expect("cluster starts"));
    Session { shell, home }
}

/// A shell over `pools` in `home` (which may hold a previous run's state).
pub fn open(home: &Path, pools: &[&str]) -> Shell {
    Shell::new(Cluster::new(ClusterConfig::new(home).with_pools(pools)).expect("cluster starts"))
}

/// Runs one command and returns its output (errors included, as printed).
pub fn run(shell: &mut Shell, line: &str) -> String {
    match shell.execute(line) {
        Reply::Output(text) => text,
        other => panic!("{line}: unexpected {other:?}"),
    }
}
