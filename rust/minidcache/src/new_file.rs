//! A new replica's data file while it is written: without a name where the file system allows
//! it, so that it gets its name, complete, in one directory operation.
//!
//! Written under a temporary name and renamed, a file costs two operations on the data
//! directory (create, rename), each under the directory's lock. Opened with `O_TMPFILE` it
//! has no name until `linkat` gives it its final one: one operation, which for small files is
//! most of a move's cost (the disk rows of the README's performance table, issue #14). A
//! crash before the link leaves nothing to clean up: the file system frees an unnamed file
//! itself.
//!
//! Where `O_TMPFILE` or `/proc/self/fd` is missing (some network file systems, containers
//! without `/proc`), the file is written under `<name>.tmp` and renamed, as before; a pool
//! deletes such leftovers when it starts. [`unnamed_files_work`] decides once per directory.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A data file being written.
pub enum NewFile {
    /// Opened with `O_TMPFILE`: no name yet.
    Unnamed(File),
    /// Written under a temporary name.
    Named {
        /// The temporary name.
        tmp: PathBuf,
        /// The open file.
        file: File,
    },
}

impl NewFile {
    /// A new, empty file in `dir`; `tmp` is its temporary name when it cannot be unnamed.
    pub fn create(dir: &Path, tmp: &str, unnamed: bool) -> io::Result<NewFile> {
        if unnamed {
            return open_unnamed(dir).map(NewFile::Unnamed);
        }
        let tmp = dir.join(tmp);
        let file = File::create(&tmp)?;
        Ok(NewFile::Named { tmp, file })
    }

    /// The file, to write the data to.
    pub fn file(&self) -> &File {
        match self {
            NewFile::Unnamed(file) | NewFile::Named { file, .. } => file,
        }
    }

    /// Gives the complete file its final name `path`. Like the rename it replaces, it takes
    /// the place of a file already there (a leftover no row claims).
    pub fn name(self, path: &Path) -> io::Result<()> {
        match self {
            NewFile::Named { tmp, file } => {
                drop(file);
                std::fs::rename(&tmp, path).inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
            }
            NewFile::Unnamed(file) => match link(&file, path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    std::fs::remove_file(path)?;
                    link(&file, path)
                }
                linked => linked,
            },
        }
    }

    /// Gives up the file: a named one is deleted, an unnamed one freed by closing it.
    pub fn discard(self) {
        if let NewFile::Named { tmp, file } = self {
            drop(file);
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Whether files can be written unnamed in `dir` and linked in: tried once, with a file that
/// is linked under `probe` and deleted again (as is one a crash left there).
pub fn unnamed_files_work(dir: &Path, probe: &str) -> bool {
    let path = dir.join(probe);
    let _ = std::fs::remove_file(&path);
    let works = open_unnamed(dir).and_then(|file| link(&file, &path)).is_ok();
    let _ = std::fs::remove_file(&path);
    works
}

fn open_unnamed(dir: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).mode(0o644).custom_flags(libc::O_TMPFILE).open(dir)
}

/// Links the unnamed `file` in as `path`. Through `/proc/self/fd`, because linking the file
/// itself (`AT_EMPTY_PATH`) needs a capability a pool does not have.
fn link(file: &File, path: &Path) -> io::Result<()> {
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL in a number");
    let to = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let rc =
        unsafe { libc::linkat(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::AT_SYMLINK_FOLLOW) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("minidcache-new-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a test directory");
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_appears_only_when_named_and_complete() {
        for unnamed in [false, true] {
            let dir = dir(&format!("named-{unnamed}"));
            if unnamed && !unnamed_files_work(&dir, ".probe") {
                eprintln!("skipped: no O_TMPFILE here");
                continue;
            }
            let new = NewFile::create(&dir, "a.tmp", unnamed).expect("created");
            new.file().write_all(b"data").expect("written");
            let before = names(&dir);
            assert_eq!(before, if unnamed { vec![] } else { vec!["a.tmp".to_string()] });
            new.name(&dir.join("a")).expect("named");
            assert_eq!(names(&dir), ["a"]);
            assert_eq!(std::fs::read(dir.join("a")).expect("read"), b"data");
            std::fs::remove_dir_all(&dir).expect("cleanup");
        }
    }

    #[test]
    fn naming_replaces_a_leftover_and_discarding_leaves_nothing() {
        for unnamed in [false, true] {
            let dir = dir(&format!("leftover-{unnamed}"));
            if unnamed && !unnamed_files_work(&dir, ".probe") {
                continue;
            }
            std::fs::write(dir.join("a"), b"stale").expect("leftover");
            let new = NewFile::create(&dir, "a.tmp", unnamed).expect("created");
            new.file().write_all(b"fresh").expect("written");
            new.name(&dir.join("a")).expect("named over the leftover");
            assert_eq!(std::fs::read(dir.join("a")).expect("read"), b"fresh");
            let new = NewFile::create(&dir, "b.tmp", unnamed).expect("created");
            new.file().write_all(b"half").expect("written");
            new.discard();
            assert_eq!(names(&dir), ["a"]);
            std::fs::remove_dir_all(&dir).expect("cleanup");
        }
    }

    #[test]
    fn the_probe_leaves_nothing_behind() {
        let dir = dir("probe");
        let works = unnamed_files_work(&dir, ".probe");
        assert!(names(&dir).is_empty());
        // A probe file left by a crash neither changes the answer nor stays.
        std::fs::write(dir.join(".probe"), b"left").expect("a leftover probe");
        assert_eq!(unnamed_files_work(&dir, ".probe"), works);
        assert!(names(&dir).is_empty());
        assert!(!unnamed_files_work(&dir.join("missing"), ".probe"), "no directory, no unnamed files");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
