//! The PinManager's and the PnfsManager's cells: pins, and what the namespace knows of a file.

use migration_core::replica::{AccessLatency, NEVER_EXPIRES, RetentionPolicy};
use migration_core::syntax::ParsedArgs;
use migration_core::{Error, ErrorKind};

use super::schema::{PinCommand, PnfsCommand};
use super::{parse_pnfsid, utc};
use crate::cluster::Cluster;

pub(super) fn pin_manager_command(cluster: &Cluster, command: PinCommand, args: &ParsedArgs) -> Result<String, Error> {
    let pins = cluster.pin_manager();
    match command {
        PinCommand::Pin => {
            let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
            let text = args.arg(1).unwrap_or_default();
            let secs: i64 = text.parse().map_err(|_| Error::syntax(format!("Invalid lifetime: {text}")))?;
            Ok(pins.pin(pnfsid, secs)?.id.to_string())
        }
        PinCommand::Unpin => {
            let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
            match pins.unpin(&pnfsid) {
                0 => Err(Error::new(ErrorKind::NotFound, format!("File is not pinned: {pnfsid}"))),
                _ => Ok(String::new()),
            }
        }
        PinCommand::Ls => Ok(pins
            .pins()
            .iter()
            .map(|p| {
                let expiry = if p.expire == NEVER_EXPIRES { "never".to_string() } else { utc(p.expire) };
                format!("{} {} {} {expiry}\n", p.id, p.pnfsid, p.pool)
            })
            .collect()),
    }
}

pub(super) fn pnfs_manager_command(
    cluster: &Cluster,
    command: PnfsCommand,
    args: &ParsedArgs,
) -> Result<String, Error> {
    let pnfsid = parse_pnfsid(args.arg(0).unwrap_or_default())?;
    let no_such_file = || Error::new(ErrorKind::NotFound, format!("No such file: {pnfsid}"));
    match command {
        PnfsCommand::CacheInfoOf => {
            let locations = cluster.namespace().locations(&pnfsid).ok_or_else(no_such_file)?;
            Ok(locations.join(" "))
        }
        PnfsCommand::StorageInfoOf => {
            let file = cluster.namespace().file(&pnfsid).ok_or_else(no_such_file)?;
            Ok(storage_info(&file.attributes))
        }
    }
}

/// `size=…;new=false;stored=false;sClass=…;cClass=…;hsm=…;accessLatency=…;retentionPolicy=…;`,
/// dCache's `GenericStorageInfo.toString()`; nothing is on tape here, so `stored=false`.
pub(super) fn storage_info(a: &migration_core::replica::FileAttributes) -> String {
    let (class, hsm) = match a.storage_class.as_deref() {
        Some(sc) => sc.rsplit_once('@').unwrap_or((sc, "-")),
        None => ("-", "-"),
    };
    let upper = |name: Option<&str>| name.map_or_else(|| "-".to_string(), str::to_ascii_uppercase);
    format!(
        "size={};new=false;stored=false;sClass={class};cClass={};hsm={hsm};accessLatency={};retentionPolicy={};",
        a.size,
        a.cache_class.as_deref().unwrap_or("-"),
        upper(a.access_latency.map(AccessLatency::name)),
        upper(a.retention_policy.map(RetentionPolicy::name)),
    )
}
