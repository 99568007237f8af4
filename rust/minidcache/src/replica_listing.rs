//! What `rep ls` and `rep sticky ls` print, as dCache's pool prints it: one line per replica
//! (`CacheEntry.toString()`: state letters, link count, size, storage class), the `-l` flag
//! filters (sticky, precious, in use, not cached, error, cached), the `-storage` glob, the
//! `-s` statistics per storage class, and sticky records (`StickyRecord.toString()`).

use std::collections::BTreeMap;

use migration_core::glob::Glob;
use migration_core::replica::{NEVER_EXPIRES, ReplicaEntry, ReplicaState, StickyRecord};
use migration_core::{Error, Millis};

/// What a replica without storage info shows as its storage class.
pub const UNKNOWN_CLASS: &str = "<unknown>";

/// One `rep ls` line, as dCache's `CacheEntryImpl.toString()` writes it; `links` is the
/// number of reads under way (dCache's link count, `L(0)[<links>]`).
pub fn line(entry: &ReplicaEntry, now: Millis, links: u32) -> String {
    let flag = |on: bool, c: char| if on { c } else { '-' };
    let s = entry.state;
    let flags: String = [
        flag(s == ReplicaState::Cached, 'C'),
        flag(s == ReplicaState::Precious, 'P'),
        flag(s == ReplicaState::FromClient, 'C'),
        flag(s == ReplicaState::FromStore, 'S'),
        '-', // to client: no longer used by dCache
        '-', // to store: no longer used by dCache
        flag(s == ReplicaState::Removed, 'R'),
        flag(s == ReplicaState::Destroyed, 'D'),
        flag(entry.is_sticky_at(now), 'X'),
        flag(s == ReplicaState::Broken, 'E'),
        '-', // unused
    ]
    .into_iter()
    .collect();
    // L(<locks>)[<links>]: dCache always prints 0 locks.
    format!("{} <{flags}L(0)[{links}]> {} si={{{}}}", entry.pnfsid, entry.size, storage_class(entry))
}

fn storage_class(entry: &ReplicaEntry) -> &str {
    entry.storage_class.as_deref().unwrap_or(UNKNOWN_CLASS)
}

/// `rep ls -l=<flags>`: a replica is listed when it has any of the flags (dCache's `s`
/// sticky, `p` precious, `l` locked (never: dCache does not look at it either), `u` in use,
/// `nc` not cached, `e` error, `c` cached); no flags lists everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    sticky: bool,
    precious: bool,
    used: bool,
    not_cached: bool,
    broken: bool,
    cached: bool,
    any: bool,
}

impl Flags {
    /// Parses the flags, e.g. `sp`, `nc`, `e`.
    pub fn parse(text: &str) -> Result<Flags, Error> {
        let rest = text.replace("nc", "");
        if let Some(bad) = rest.chars().find(|c| !"spluec".contains(*c)) {
            return Err(Error::syntax(format!("Invalid flag {bad:?} in -l={text} (expected s, p, l, u, nc, e or c)")));
        }
        Ok(Flags {
            sticky: rest.contains('s'),
            precious: rest.contains('p'),
            used: rest.contains('u'),
            not_cached: text.contains("nc"),
            broken: rest.contains('e'),
            cached: rest.contains('c'),
            any: !text.is_empty(),
        })
    }

    /// Whether `entry` is listed.
    pub fn keep(&self, entry: &ReplicaEntry, now: Millis, links: u32) -> bool {
        let s = entry.state;
        !self.any
            || (self.not_cached && s != ReplicaState::Cached)
            || (self.precious && s == ReplicaState::Precious)
            || (self.sticky && entry.is_sticky_at(now))
            || (self.broken && s == ReplicaState::Broken)
            || (self.cached && s == ReplicaState::Cached)
            || (self.used && links > 0)
    }
}

/// `-storage=<glob>`: replicas whose storage class (`<unknown>` without one) matches.
pub fn storage_matches(glob: Option<&Glob>, entry: &ReplicaEntry) -> bool {
    glob.is_none_or(|g| g.matches(storage_class(entry)))
}

/// The unit of `rep ls -s=<unit>`: bytes, or KiB, MiB, GiB, TiB with one decimal; without
/// one, sizes are shown in the largest binary unit that keeps them at 1 or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeUnit {
    /// Bytes.
    Bytes,
    /// 1024^n bytes.
    Binary(u32),
    /// Human-readable.
    Auto,
}

impl SizeUnit {
    /// `b`, `k`, `m`, `g`, `t`, or empty.
    pub fn parse(text: &str) -> Result<SizeUnit, Error> {
        Ok(match text {
            "" => SizeUnit::Auto,
            "b" => SizeUnit::Bytes,
            "k" => SizeUnit::Binary(1),
            "m" => SizeUnit::Binary(2),
            "g" => SizeUnit::Binary(3),
            "t" => SizeUnit::Binary(4),
            other => return Err(Error::syntax(format!("Invalid unit: {other} (expected b, k, m, g or t)"))),
        })
    }

    fn show(self, bytes: u64) -> String {
        const NAMES: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let scaled = |power: u32| bytes as f64 / 1024f64.powi(power as i32);
        match self {
            SizeUnit::Bytes => bytes.to_string(),
            SizeUnit::Binary(power) => format!("{:.1}", scaled(power)),
            SizeUnit::Auto => {
                let power = (0..5u32).rev().find(|p| scaled(*p) >= 1.0).unwrap_or(0);
                if power == 0 {
                    format!("{bytes} B")
                } else {
                    format!("{:.1} {}", scaled(power), NAMES[power as usize])
                }
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    bytes: u64,
    files: u64,
    precious_bytes: u64,
    precious_files: u64,
    sticky_bytes: u64,
    sticky_files: u64,
    other_bytes: u64,
    other_files: u64,
}

/// `rep ls -s`: per storage class, the total, precious, sticky and other (neither precious
/// nor sticky) bytes and files, in dCache's columns.
pub fn statistics(entries: &[ReplicaEntry], now: Millis, unit: SizeUnit) -> String {
    let mut classes: BTreeMap<&str, Counts> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.state.is_cached_or_precious()) {
        let c = classes.entry(storage_class(e)).or_default();
        c.bytes += e.size;
        c.files += 1;
        let precious = e.state == ReplicaState::Precious;
        let sticky = e.is_sticky_at(now);
        if precious {
            c.precious_bytes += e.size;
            c.precious_files += 1;
        }
        if sticky {
            c.sticky_bytes += e.size;
            c.sticky_files += 1;
        }
        if !precious && !sticky {
            c.other_bytes += e.size;
            c.other_files += 1;
        }
    }
    let header = [
        "Storage class",
        "Total: size",
        "files",
        "Precious: size",
        "files",
        "Sticky: size",
        "files",
        "others: size",
        "files",
    ];
    let mut rows: Vec<[String; 9]> = vec![header.map(String::from)];
    for (class, c) in &classes {
        rows.push([
            class.to_string(),
            unit.show(c.bytes),
            c.files.to_string(),
            unit.show(c.precious_bytes),
            c.precious_files.to_string(),
            unit.show(c.sticky_bytes),
            c.sticky_files.to_string(),
            unit.show(c.other_bytes),
            c.other_files.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..9).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = format!("{:<w$}", row[0], w = widths[0]);
        for i in 1..9 {
            // Sizes end with a comma, file counts with a semicolon (but the last), as in dCache.
            let sep = if i % 2 == 1 {
                ","
            } else if i < 8 {
                ";"
            } else {
                ""
            };
            let gap = if i % 2 == 1 { "  " } else { " " };
            line.push_str(&format!("{gap}{:>w$}{sep}", row[i], w = widths[i]));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One `rep sticky ls` line: `<owner> : never expires` or `<owner> : expires <UTC time>`.
pub fn sticky_line(record: &StickyRecord) -> String {
    if record.expire == NEVER_EXPIRES {
        format!("{} : never expires", record.owner)
    } else {
        format!("{} : expires {}", record.owner, migration_core::commands::timestamp(record.expire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migration_core::PnfsId;

    fn entry(n: u32, state: ReplicaState, size: u64, class: Option<&str>) -> ReplicaEntry {
        let mut e = ReplicaEntry::new(PnfsId::parse(&format!("{n:x}")).expect("valid"), state, size, 0);
        e.storage_class = class.map(str::to_string);
        e
    }

    #[test]
    fn lines_show_dcache_state_letters_links_size_and_class() {
        let mut e = entry(1, ReplicaState::Precious, 42, Some("atlas:default@osm"));
        assert_eq!(line(&e, 0, 0), "000000000000000000000001 <-P---------L(0)[0]> 42 si={atlas:default@osm}");
        e.state = ReplicaState::Cached;
        e.sticky.push(StickyRecord::new("system", NEVER_EXPIRES));
        e.storage_class = None;
        assert_eq!(line(&e, 0, 2), "000000000000000000000001 <C-------X--L(0)[2]> 42 si={<unknown>}");
        assert_eq!(
            line(&entry(1, ReplicaState::Broken, 1, None), 0, 0),
            "000000000000000000000001 <---------E-L(0)[0]> 1 si={<unknown>}"
        );
    }

    #[test]
    fn expired_sticky_records_do_not_show() {
        let mut c = entry(1, ReplicaState::Cached, 42, None);
        c.sticky.push(StickyRecord::new("system", 1000));
        assert!(line(&c, 999, 0).contains("<C-------X--L"));
        assert!(line(&c, 1000, 0).contains("<C----------L"));
    }

    #[test]
    fn flags_select_any_of_them() {
        let precious = entry(1, ReplicaState::Precious, 1, None);
        let mut sticky = entry(2, ReplicaState::Cached, 1, None);
        sticky.sticky.push(StickyRecord::new("lhcb", NEVER_EXPIRES));
        let cached = entry(3, ReplicaState::Cached, 1, None);
        let broken = entry(4, ReplicaState::Broken, 1, None);
        let all = [&precious, &sticky, &cached, &broken];
        let listed = |flags: &str| -> Vec<u32> {
            let f = Flags::parse(flags).expect(flags);
            all.iter()
                .filter(|e| f.keep(e, 0, 0))
                .map(|e| u32::from_str_radix(&e.pnfsid.to_string(), 16).expect("hex"))
                .collect()
        };
        assert_eq!(listed(""), [1, 2, 3, 4]);
        assert_eq!(listed("p"), [1]);
        assert_eq!(listed("s"), [2]);
        assert_eq!(listed("sp"), [1, 2]);
        assert_eq!(listed("nc"), [1, 4]);
        assert_eq!(listed("c"), [2, 3]);
        assert_eq!(listed("e"), [4]);
        assert_eq!(listed("l"), Vec::<u32>::new());
        assert!(Flags::parse("x").is_err());
    }

    #[test]
    fn statistics_count_per_storage_class() {
        let mut sticky = entry(2, ReplicaState::Cached, 300, Some("a:b@osm"));
        sticky.sticky.push(StickyRecord::new("lhcb", NEVER_EXPIRES));
        let entries =
            [entry(1, ReplicaState::Precious, 1000, Some("a:b@osm")), sticky, entry(3, ReplicaState::Cached, 5, None)];
        let text = statistics(&entries, 0, SizeUnit::Bytes);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("Storage class  Total: size, files;"), "{text}");
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["<unknown>", "5,", "1;", "0,", "0;", "0,", "0;", "5,", "1"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["a:b@osm", "1300,", "2;", "1000,", "1;", "300,", "1;", "0,", "0"]
        );
        assert!(statistics(&entries, 0, SizeUnit::Auto).contains("1.3 KiB,"));
    }

    #[test]
    fn sticky_records_read_like_dcache() {
        assert_eq!(sticky_line(&StickyRecord::new("lhcb", NEVER_EXPIRES)), "lhcb : never expires");
        assert_eq!(sticky_line(&StickyRecord::new("alice", 1000)), "alice : expires 1970-01-01 00:00:01");
    }
}
