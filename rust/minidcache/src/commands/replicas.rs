//! A pool's `rep …` commands: listing its replicas and their sticky records, removing a
//! replica, and setting its state or a sticky record.

use migration_core::host::{Repository as _, RepositoryError};
use migration_core::replica::{Durability, NEVER_EXPIRES, ReplicaEntry, ReplicaState, StickyRecord};
use migration_core::syntax::ParsedArgs;
use migration_core::{Error, ErrorKind, Millis};

use super::{not_in_repository, parse_pnfsid};
use crate::cluster::Cluster;
use crate::pool::PoolNode;

pub(super) fn rep_ls(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    use crate::replica_listing::{self as listing, Flags, SizeUnit};
    let now = cluster.now();
    let entries = if args.args().is_empty() {
        node.repository.entries()
    } else {
        let mut entries = Vec::new();
        for text in args.args() {
            let pnfsid = parse_pnfsid(text)?;
            match node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))? {
                Some(entry) => entries.push(entry),
                None => return Err(not_in_repository(&pnfsid)),
            }
        }
        entries
    };
    let flags = Flags::parse(args.string("l").unwrap_or_default())?;
    let glob = args.string("storage").map(migration_core::glob::Glob::new);
    let listed: Vec<ReplicaEntry> = entries
        .into_iter()
        .filter(|e| listing::storage_matches(glob.as_ref(), e) && flags.keep(e, now, node.readers_of(&e.pnfsid)))
        .collect();
    if let Some(unit) = args.string("s") {
        return Ok(listing::statistics(&listed, now, SizeUnit::parse(unit)?));
    }
    Ok(listed.iter().map(|e| listing::line(e, now, node.readers_of(&e.pnfsid)) + "\n").collect())
}

pub(super) fn rep_sticky_ls(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let entry = node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?;
    let entry = entry.ok_or_else(|| not_in_repository(&pnfsid))?;
    let now = cluster.now();
    Ok(entry
        .sticky
        .iter()
        .filter(|r| r.is_valid_at(now))
        .map(|r| crate::replica_listing::sticky_line(r) + "\n")
        .collect())
}

pub(super) fn rep_rm(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let entry = node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?;
    let entry = entry.ok_or_else(|| not_in_repository(&pnfsid))?;
    if !args.flag("force").unwrap_or(false) {
        let sticky = entry.is_sticky_at(cluster.now());
        let why = match (entry.state == ReplicaState::Precious, sticky) {
            (true, _) => Some("precious"),
            (false, true) => Some("sticky"),
            _ => None,
        };
        if let Some(why) = why {
            return Err(Error::new(ErrorKind::State, format!("Replica {pnfsid} is {why}; use -force to remove it")));
        }
        // Removed only if still as looked at: a replica made precious or pinned meanwhile (a
        // move's update, its pin move) may be the file's last copy.
        return match node.repository.remove_if_unchanged(&pnfsid, &Durability::of(&entry), "rep rm") {
            Ok(()) => Ok(format!("Removed {pnfsid}")),
            Err(RepositoryError::Changed) => Err(Error::new(
                ErrorKind::State,
                format!("Replica {pnfsid} changed while it was to be removed; nothing was removed"),
            )),
            Err(e) => Err(Error::new(ErrorKind::State, e.to_string())),
        };
    }
    node.repository
        .set_state(&pnfsid, ReplicaState::Removed, "rep rm")
        .map_err(|e| Error::new(ErrorKind::State, e.to_string()))?;
    Ok(format!("Removed {pnfsid}"))
}

pub(super) fn rep_set_state(node: &PoolNode, args: &ParsedArgs, state: ReplicaState) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    if node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?.is_none() {
        return Err(not_in_repository(&pnfsid));
    }
    node.repository.set_state(&pnfsid, state, "rep set").map_err(|e| Error::new(ErrorKind::State, e.to_string()))?;
    Ok(String::new())
}

pub(super) fn rep_set_sticky(cluster: &Cluster, node: &PoolNode, args: &ParsedArgs) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let owner = args.string("o").unwrap_or("system");
    if owner.is_empty() {
        return Err(Error::syntax("Owner must not be empty"));
    }
    let on = match args.arg(1).unwrap_or_default() {
        "on" => true,
        "off" => false,
        other => return Err(Error::syntax(format!("Invalid sticky mode: {other} (expected on or off)"))),
    };
    if node.repository.entry(&pnfsid).map_err(|e| Error::new(ErrorKind::Host, e))?.is_none() {
        return Err(not_in_repository(&pnfsid));
    }
    if on {
        let expire = match args.long("l") {
            None | Some(-1) => NEVER_EXPIRES,
            Some(l) if l < 0 => return Err(Error::syntax(format!("Illegal lifetime: {l}"))),
            Some(l) => cluster.now().saturating_add(l.saturating_mul(1000)),
        };
        node.repository
            .set_sticky(&pnfsid, &StickyRecord::new(owner, expire), true)
            .map_err(|e| Error::new(ErrorKind::State, e.to_string()))?;
    } else {
        node.repository.remove_sticky(&pnfsid, owner).map_err(|e| Error::new(ErrorKind::State, e.to_string()))?;
    }
    Ok(String::new())
}

/// `owner` or `owner(seconds)`; seconds may be -1 (forever).
pub(super) fn parse_sticky(text: &str, now: Millis) -> Result<StickyRecord, Error> {
    let bad = || Error::syntax(format!("Invalid sticky record: {text} (expected <owner>[(<seconds>)])"));
    let (owner, expire) = match text.split_once('(') {
        None => (text, NEVER_EXPIRES),
        Some((owner, rest)) => {
            let secs: i64 = rest.strip_suffix(')').ok_or_else(bad)?.parse().map_err(|_| bad())?;
            match secs {
                -1 => (owner, NEVER_EXPIRES),
                s if s < 0 => return Err(bad()),
                s => (owner, now.saturating_add(s.saturating_mul(1000))),
            }
        }
    };
    if owner.is_empty() {
        return Err(bad());
    }
    Ok(StickyRecord::new(owner, expire))
}
