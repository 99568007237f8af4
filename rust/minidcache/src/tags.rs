//! Pool tags (`hostname`, `rack`, …): name/value pairs the pool manager reports with a pool's
//! cost data, so that hot-file replication keeps at most one replica per tag value (spec
//! §12.4). dCache sets them in the pool's layout (`pool.tags=rack=r1 …`); here `pool set tag`
//! sets them at run time and `<pool>/tags` keeps them, one `name=value` a line, written at
//! once, so that they survive a restart without `save` as the layout does.
//!
//! No tag is set by default. dCache tags every pool with its `hostname`; minidcache's pools
//! share one host, and that tag would leave hot-file replication without any target.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use migration_core::{Error, ErrorKind};

/// A pool's tags, by name.
pub type Tags = BTreeMap<String, String>;

/// The file in the pool's directory that keeps its tags.
pub fn file(pool_dir: &Path) -> PathBuf {
    pool_dir.join("tags")
}

/// A tag name or value: not empty, no white space, control characters or `=` (the layout's
/// `name=value` syntax could not carry them).
pub fn check(what: &str, text: &str) -> Result<(), Error> {
    let valid = !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '=');
    if valid { Ok(()) } else { Err(Error::new(ErrorKind::InvalidArgument, format!("Invalid tag {what}: {text:?}"))) }
}

/// The tags kept in `pool_dir` (none when there is no file); lines that are not `name=value`
/// are reported and skipped.
pub fn load(pool_dir: &Path) -> (Tags, Vec<String>) {
    let path = file(pool_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (Tags::new(), Vec::new()),
        Err(e) => return (Tags::new(), vec![format!("{}: {e}", path.display())]),
    };
    let mut tags = Tags::new();
    let mut problems = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        match line.split_once('=') {
            Some((name, value)) if check("name", name).is_ok() && check("value", value).is_ok() => {
                tags.insert(name.to_string(), value.to_string());
            }
            _ => problems.push(format!("{}: not a tag: {line}", path.display())),
        }
    }
    (tags, problems)
}

/// Writes `tags` to `pool_dir` atomically.
pub fn store(pool_dir: &Path, tags: &Tags) -> io::Result<()> {
    let text: String = tags.iter().map(|(name, value)| format!("{name}={value}\n")).collect();
    crate::home::write_atomically(&file(pool_dir), &text)
}

/// `rack=r1,room=a`, or `none`.
pub fn describe(tags: &Tags) -> String {
    if tags.is_empty() {
        return "none".to_string();
    }
    tags.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_survive_a_reload_and_bad_lines_are_reported() {
        let dir = std::env::temp_dir().join(format!("minidcache-tags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(load(&dir), (Tags::new(), Vec::new()));
        let tags: Tags = [("rack", "r1"), ("room", "a")].map(|(n, v)| (n.to_string(), v.to_string())).into();
        store(&dir, &tags).expect("stored");
        assert_eq!(load(&dir), (tags.clone(), Vec::new()));
        assert_eq!(describe(&tags), "rack=r1,room=a");
        std::fs::write(file(&dir), "rack=r2\nnonsense\n").expect("written");
        let (loaded, problems) = load(&dir);
        assert_eq!(loaded.get("rack").map(String::as_str), Some("r2"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn names_and_values_are_single_words_without_equals() {
        assert!(check("name", "rack").is_ok());
        for bad in ["", "a b", "a=b", "tab\t"] {
            assert!(check("name", bad).is_err(), "{bad:?}");
        }
    }
}
