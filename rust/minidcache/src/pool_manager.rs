//! The pool manager: every pool with its cost figures (from the pools' real usage), and a
//! small pool-selection data model (pool groups with members, links attached to groups; the
//! HSM instances attached to pools come from the pools, `hsm set`).
//!
//! As in a fresh dCache installation, every pool is a member of the pool group `default`,
//! and the link `default-link` is attached to that group. `save` in the PoolManager cell
//! writes the other groups and links as `psu` commands, replayed on start.

use std::collections::BTreeMap;
use std::sync::Arc;

use migration_core::driver::runtime::Clock;
use migration_core::host::{self, Completion, PoolList, PoolSelection};
use migration_core::pool_info::{PoolCostInfo, PoolInfo, PoolQueueInfo};
use parking_lot::Mutex;

use crate::cluster::{PoolNode, Registry};

/// The pool group every pool joins.
pub const DEFAULT_GROUP: &str = "default";
/// The link attached to [`DEFAULT_GROUP`].
pub const DEFAULT_LINK: &str = "default-link";

/// Pool groups and links.
#[derive(Debug, Default, Clone)]
struct Topology {
    /// Group → members, in the order they were added.
    groups: BTreeMap<String, Vec<String>>,
    /// Link → attached pool groups, in order.
    links: BTreeMap<String, Vec<String>>,
}

/// Why a pool-selection change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopologyError {
    /// No such pool.
    NoSuchPool(String),
    /// No such pool group.
    NoSuchGroup(String),
    /// No such link.
    NoSuchLink(String),
    /// The name is taken.
    Exists(String),
}

impl std::fmt::Display for TopologyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopologyError::NoSuchPool(n) => write!(f, "Pool not found: {n}"),
            TopologyError::NoSuchGroup(n) => write!(f, "Pool group not found: {n}"),
            TopologyError::NoSuchLink(n) => write!(f, "Link not found: {n}"),
            TopologyError::Exists(n) => write!(f, "Duplicated entry: {n}"),
        }
    }
}

/// The pool manager shared by every pool.
pub struct PoolManager {
    registry: Arc<Registry>,
    clock: Clock,
    topology: Mutex<Topology>,
}

impl PoolManager {
    /// A pool manager over the pools of `registry`.
    pub fn new(registry: Arc<Registry>, clock: Clock) -> PoolManager {
        let mut topology = Topology::default();
        topology.groups.insert(DEFAULT_GROUP.to_string(), Vec::new());
        topology.links.insert(DEFAULT_LINK.to_string(), vec![DEFAULT_GROUP.to_string()]);
        PoolManager { registry, clock, topology: Mutex::new(topology) }
    }

    /// A new pool registered: it joins the default group.
    pub fn pool_added(&self, pool: &str) {
        let mut t = self.topology.lock();
        let members = t.groups.entry(DEFAULT_GROUP.to_string()).or_default();
        if !members.iter().any(|m| m == pool) {
            members.push(pool.to_string());
        }
    }

    /// `psu create pgroup`.
    pub fn create_group(&self, group: &str) -> Result<(), TopologyError> {
        let mut t = self.topology.lock();
        if t.groups.contains_key(group) {
            return Err(TopologyError::Exists(group.to_string()));
        }
        t.groups.insert(group.to_string(), Vec::new());
        Ok(())
    }

    /// `psu addto pgroup`: adding a member twice changes nothing.
    pub fn add_to_group(&self, group: &str, pool: &str) -> Result<(), TopologyError> {
        if self.registry.get(pool).is_none() {
            return Err(TopologyError::NoSuchPool(pool.to_string()));
        }
        let mut t = self.topology.lock();
        let members = t.groups.get_mut(group).ok_or_else(|| TopologyError::NoSuchGroup(group.to_string()))?;
        if !members.iter().any(|m| m == pool) {
            members.push(pool.to_string());
        }
        Ok(())
    }

    /// `psu removefrom pgroup`.
    pub fn remove_from_group(&self, group: &str, pool: &str) -> Result<(), TopologyError> {
        let mut t = self.topology.lock();
        let members = t.groups.get_mut(group).ok_or_else(|| TopologyError::NoSuchGroup(group.to_string()))?;
        let before = members.len();
        members.retain(|m| m != pool);
        if members.len() == before {
            return Err(TopologyError::NoSuchPool(pool.to_string()));
        }
        Ok(())
    }

    /// `psu create link`.
    pub fn create_link(&self, link: &str) -> Result<(), TopologyError> {
        let mut t = self.topology.lock();
        if t.links.contains_key(link) {
            return Err(TopologyError::Exists(link.to_string()));
        }
        t.links.insert(link.to_string(), Vec::new());
        Ok(())
    }

    /// `psu add link <link> <pgroup>`.
    pub fn attach_group(&self, link: &str, group: &str) -> Result<(), TopologyError> {
        let mut t = self.topology.lock();
        if !t.groups.contains_key(group) {
            return Err(TopologyError::NoSuchGroup(group.to_string()));
        }
        let groups = t.links.get_mut(link).ok_or_else(|| TopologyError::NoSuchLink(link.to_string()))?;
        if !groups.iter().any(|g| g == group) {
            groups.push(group.to_string());
        }
        Ok(())
    }

    /// Pool groups with their members.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.topology.lock().groups.iter().map(|(g, m)| (g.clone(), m.clone())).collect()
    }

    /// Links with their pool groups.
    pub fn links(&self) -> Vec<(String, Vec<String>)> {
        self.topology.lock().links.iter().map(|(l, g)| (l.clone(), g.clone())).collect()
    }

    /// The `psu` commands that rebuild the groups and links (what `save` writes), leaving
    /// out what every installation has.
    pub fn setup_lines(&self) -> Vec<String> {
        let t = self.topology.lock();
        let mut lines = vec!["#".to_string(), "# PoolManager (minidcache)".to_string(), "#".to_string()];
        for (group, members) in &t.groups {
            if group != DEFAULT_GROUP {
                lines.push(format!("psu create pgroup {group}"));
            }
            for pool in members.iter().filter(|_| group != DEFAULT_GROUP) {
                lines.push(format!("psu addto pgroup {group} {pool}"));
            }
        }
        for (link, groups) in &t.links {
            if link != DEFAULT_LINK {
                lines.push(format!("psu create link {link}"));
            }
            for group in groups.iter().filter(|g| link != DEFAULT_LINK || *g != DEFAULT_GROUP) {
                lines.push(format!("psu add link {link} {group}"));
            }
        }
        lines
    }

    /// Cost information of a pool at this moment, from its repository and its queues: total
    /// is the capacity, free what replicas (and transfers under way) leave of it, removable
    /// the cached replicas without a sticky record; `get`s count on the mover queue (and so
    /// in the cpu cost), transfers on the p2p queues.
    pub fn info(&self, node: &PoolNode) -> PoolInfo {
        use std::sync::atomic::Ordering::Relaxed;
        let now = (self.clock)();
        let total = node.capacity();
        let free = total.saturating_sub(node.repository.used());
        let (removable, oldest) = node.repository.removable(now);
        let mut info = PoolCostInfo::simple(node.name.clone(), total, free, removable);
        info.tags = node.tags();
        info.space.precious = node.repository.precious();
        info.space.lru = oldest.map_or(0, |t| (now - t).max(0) / 1000);
        let c = &node.counters;
        let queue = |active: u32| PoolQueueInfo { active, max_active: 100, ..PoolQueueInfo::default() };
        info.queues.p2p_server = Some(queue(c.serving.load(Relaxed)));
        info.queues.p2p_client = Some(queue(c.receiving.load(Relaxed)));
        if let Some(regular) = info.queues.movers.first_mut() {
            regular.queue.active = c.reading.load(Relaxed);
        }
        PoolInfo::Online(info)
    }

    /// Names selected by `selection`, in pool-manager order (duplicates kept where dCache
    /// keeps them).
    pub fn select(&self, selection: &PoolSelection) -> Vec<String> {
        let t = self.topology.lock();
        let members = |groups: &[String]| -> Vec<String> {
            if groups.iter().any(|g| !t.groups.contains_key(g)) {
                return Vec::new();
            }
            groups.iter().flat_map(|g| t.groups[g].iter().cloned()).collect()
        };
        match selection {
            PoolSelection::Names(names) => names.clone(),
            PoolSelection::Groups(groups) => members(groups),
            PoolSelection::Link(link) => t.links.get(link).map(|groups| members(groups)).unwrap_or_default(),
            // The active pools (running, not strictly disabled) with any of the instances
            // attached.
            PoolSelection::Hsm(instances) => self
                .registry
                .all()
                .into_iter()
                .filter(|node| node.is_running() && node.mode() != crate::cluster::PoolMode::Strict)
                .filter(|node| node.hsms().iter().any(|i| instances.contains(i)))
                .map(|node| node.name.clone())
                .collect(),
            // Every pool may serve reads of any file (there are no unit selections yet), except
            // a stopped or strictly disabled one.
            PoolSelection::Readers { .. } => self
                .registry
                .all()
                .into_iter()
                .filter(|node| node.is_running() && node.mode() != crate::cluster::PoolMode::Strict)
                .map(|node| node.name.clone())
                .collect(),
        }
    }
}

impl host::PoolManager for PoolManager {
    fn pools(&self, selection: PoolSelection, done: Completion<PoolList>) {
        // Pools unknown to the registry are left out. A stopped pool is offline at once: dCache
        // waits for its heartbeats to lapse, which only delays what jobs see by a few minutes.
        let pools = self
            .select(&selection)
            .iter()
            .filter_map(|name| self.registry.get(name))
            .map(
                |node| if node.is_running() { self.info(&node) } else { PoolInfo::Offline { name: node.name.clone() } },
            )
            .collect();
        done.complete(Ok(PoolList { pools }));
    }

    fn groups_of(&self, pool: &str, done: Completion<Vec<String>>) {
        let groups = self
            .topology
            .lock()
            .groups
            .iter()
            .filter(|(_, m)| m.iter().any(|p| p == pool))
            .map(|(g, _)| g.clone())
            .collect();
        done.complete(Ok(groups));
    }
}
