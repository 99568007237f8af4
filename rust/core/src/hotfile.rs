//! Hot-file replication (spec §12): when a file has more concurrent readers than the
//! threshold, a job copies it to pools that may serve its reads, on different hosts.

use rustc_hash::FxHashMap;

use crate::definition::{DeficitMode, HotFileQuery, JobDefinition, TargetKind};
use crate::filter::ReplicaFilter;
use crate::mode::{Mode, ModeState};
use crate::pnfsid::PnfsId;
use crate::replica::ReplicaEntry;
use crate::selection::SelectionStrategy;

/// Terminal hot-file jobs kept; older ones are dropped when a new one is created.
pub const MAX_FINISHED_HOT_FILE_JOBS: usize = 50;

/// How a read reached the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolInfo {
    /// e.g. `DCap`, `xrootd`, `NFS`.
    pub protocol: String,
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// The client's IP address, if known.
    pub client: Option<String>,
}

impl ProtocolInfo {
    /// The protocol of a read as a binding receives it. A version that is no `u32` (Java has
    /// no unsigned int) counts as 0.
    pub fn new(protocol: impl Into<String>, major: i64, minor: i64, client: Option<String>) -> ProtocolInfo {
        let version = |v: i64| u32::try_from(v).unwrap_or(0);
        ProtocolInfo { protocol: protocol.into(), major: version(major), minor: version(minor), client }
    }

    /// `<protocol>/<major>` or `<protocol>/<major>.<minor>` (the pool manager's protocol unit).
    pub fn unit(&self) -> String {
        if self.minor == 0 {
            format!("{}/{}", self.protocol, self.major)
        } else {
            format!("{}/{}.{}", self.protocol, self.major, self.minor)
        }
    }
}

/// Reports waiting for the file's entry: protocol unit and net unit.
pub type PendingReports = FxHashMap<PnfsId, (String, String)>;

/// The id of the hot-file job of `pnfsid`.
pub fn job_id(pnfsid: &PnfsId) -> String {
    format!("hotfile-{pnfsid}")
}

/// The definition of the hot-file job of `entry` (§12.3): `replicas` cached copies (0 or
/// negative behave like 1, as in dCache) on the pools that may serve reads with `protocol`
/// from `net`, refreshed every `refresh` seconds.
pub fn definition(entry: &ReplicaEntry, protocol: String, net: String, replicas: i32, refresh: u64) -> JobDefinition {
    let pnfsid = entry.pnfsid;
    JobDefinition {
        command_line: format!("hotfile replication for {pnfsid}"),
        filter: ReplicaFilter::default().with_pnfsids(vec![pnfsid]),
        source_mode: Mode::plain(ModeState::Same),
        target_mode: Mode::plain(ModeState::Cached),
        move_pins: false,
        verify: false,
        atime: true,
        force_source_mode: false,
        eager: false,
        meta_only: false,
        permanent: false,
        // dCache: 0 or negative behave like 1.
        replicas: usize::try_from(replicas).unwrap_or(0).max(1),
        deficit: DeficitMode::Limit,
        target_kind: TargetKind::Readers,
        targets: Vec::new(),
        include: Vec::new(),
        exclude: Vec::new(),
        include_when: None,
        exclude_when: None,
        pause_when: None,
        stop_when: None,
        refresh_secs: refresh,
        select: SelectionStrategy::Proportional,
        order: None,
        hot_file: Some(HotFileQuery { attributes: entry.attributes(), protocol, net }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_a_binding_cannot_express_as_u32_counts_as_zero() {
        assert_eq!(ProtocolInfo::new("NFS", 4, 1, None).unit(), "NFS/4.1");
        assert_eq!(ProtocolInfo::new("DCap", 3, -1, None).unit(), "DCap/3");
        assert_eq!(ProtocolInfo::new("xrootd", i64::from(u32::MAX) + 1, 0, None).major, 0);
    }
}
