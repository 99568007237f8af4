//! The pool manager: every pool with its cost figures (from the pools' real usage) and tags,
//! and the pool selection unit ([`crate::selection_unit`]: units, unit groups, pool groups,
//! links with preferences); the HSM instances attached to pools come from the pools
//! (`hsm set`).
//!
//! As in a fresh dCache installation, every pool is a member of the pool group `default`,
//! and the link `default-link` is attached to that group. `save` in the PoolManager cell
//! writes the rest as `psu` commands, replayed on start.

use std::sync::Arc;

use migration_core::driver::runtime::Clock;
use migration_core::error::{Failure, ReturnCode};
use migration_core::host::{self, Completion, PoolList, PoolSelection};
use migration_core::pool_info::{PoolCostInfo, PoolInfo, PoolQueueInfo};
use parking_lot::Mutex;

use crate::pool::{PoolMode, PoolNode, Registry};
pub use crate::selection_unit::{DEFAULT_GROUP, DEFAULT_LINK};
use crate::selection_unit::{Direction, Preferences, PsuError, Request, SelectionUnit, UnitKind};

/// The pool manager shared by every pool.
pub struct PoolManager {
    registry: Arc<Registry>,
    clock: Clock,
    psu: Mutex<SelectionUnit>,
}

impl PoolManager {
    /// A pool manager over the pools of `registry`.
    pub fn new(registry: Arc<Registry>, clock: Clock) -> PoolManager {
        PoolManager { registry, clock, psu: Mutex::new(SelectionUnit::new()) }
    }

    /// A new pool registered: it joins the default group.
    pub fn pool_added(&self, pool: &str) {
        self.psu.lock().pool_added(pool);
    }

    /// `psu create unit`.
    pub fn create_unit(&self, kind: UnitKind, name: &str) -> Result<(), PsuError> {
        self.psu.lock().create_unit(kind, name)
    }

    /// `psu create ugroup`.
    pub fn create_ugroup(&self, ugroup: &str) -> Result<(), PsuError> {
        self.psu.lock().create_ugroup(ugroup)
    }

    /// `psu addto ugroup`.
    pub fn add_to_ugroup(&self, ugroup: &str, unit: &str) -> Result<(), PsuError> {
        self.psu.lock().add_to_ugroup(ugroup, unit)
    }

    /// `psu create pgroup`.
    pub fn create_group(&self, group: &str) -> Result<(), PsuError> {
        self.psu.lock().create_group(group)
    }

    /// `psu addto pgroup`: adding a member twice changes nothing.
    pub fn add_to_group(&self, group: &str, pool: &str) -> Result<(), PsuError> {
        if self.registry.get(pool).is_none() {
            return Err(PsuError::NoSuchPool(pool.to_string()));
        }
        self.psu.lock().add_to_group(group, pool)
    }

    /// `psu removefrom pgroup`.
    pub fn remove_from_group(&self, group: &str, pool: &str) -> Result<(), PsuError> {
        self.psu.lock().remove_from_group(group, pool)
    }

    /// `psu create link <link> <ugroup>...`.
    pub fn create_link(&self, link: &str, ugroups: &[String]) -> Result<(), PsuError> {
        self.psu.lock().create_link(link, ugroups)
    }

    /// `psu set link`: the preferences given change, the others stay.
    pub fn set_link(&self, link: &str, change: impl FnOnce(&mut Preferences)) -> Result<(), PsuError> {
        let mut psu = self.psu.lock();
        let mut preferences = psu.preferences(link)?;
        change(&mut preferences);
        psu.set_link(link, preferences)
    }

    /// `psu add link <link> <pgroup>`.
    pub fn attach_group(&self, link: &str, group: &str) -> Result<(), PsuError> {
        self.psu.lock().attach_group(link, group)
    }

    /// Pool groups with their members.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.psu.lock().groups()
    }

    /// `psu ls link [-l]`.
    pub fn list_links(&self, long: bool) -> String {
        self.psu.lock().list_links(long)
    }

    /// `psu ls unit [-l]`.
    pub fn list_units(&self, long: bool) -> String {
        self.psu.lock().list_units(long)
    }

    /// `psu ls ugroup [-l]`.
    pub fn list_ugroups(&self, long: bool) -> String {
        self.psu.lock().list_ugroups(long)
    }

    /// The `psu` commands that rebuild the setup (what `save` writes), leaving out what every
    /// installation has.
    pub fn setup_lines(&self) -> Vec<String> {
        self.psu.lock().setup_lines()
    }

    /// Whether a pool may take part in a request of `direction` (dCache: active, and the
    /// pool's mode allows it; staging also needs the file's HSM attached).
    fn usable(&self, pool: &str, direction: Direction, hsm: Option<&str>) -> bool {
        let Some(node) = self.registry.running(pool) else { return false };
        match direction {
            Direction::Read => node.mode() != PoolMode::Strict,
            Direction::Write | Direction::P2p => node.mode() == PoolMode::Enabled,
            Direction::Cache => {
                node.mode() == PoolMode::Enabled && hsm.is_some_and(|h| node.hsms().iter().any(|i| i == h))
            }
        }
    }

    /// `psu match`: the preference levels of a request, highest first.
    pub fn match_levels(&self, request: &Request<'_>) -> Result<Vec<Vec<String>>, PsuError> {
        let hsm = request.store.rsplit_once('@').map(|(_, h)| h);
        let psu = self.psu.lock().clone();
        psu.match_levels(request, |pool| self.usable(pool, request.direction, hsm))
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
    /// keeps them); an error where dCache's pool manager refuses the query.
    pub fn select(&self, selection: &PoolSelection) -> Result<Vec<String>, PsuError> {
        Ok(match selection {
            PoolSelection::Names(names) => names.clone(),
            PoolSelection::Groups(groups) => self.members(groups),
            PoolSelection::Link(link) => {
                let groups = self.psu.lock().link_groups(link).map(<[String]>::to_vec);
                groups.map(|groups| self.members(&groups)).unwrap_or_default()
            }
            // The active pools (running, not strictly disabled) with any of the instances
            // attached.
            PoolSelection::Hsm(instances) => self
                .registry
                .all()
                .into_iter()
                .filter(|node| node.is_running() && node.mode() != PoolMode::Strict)
                .filter(|node| node.hsms().iter().any(|i| instances.contains(i)))
                .map(|node| node.name.clone())
                .collect(),
            // dCache's PoolMgrQueryPoolsMsg: a read match with the file's storage and cache
            // class, the protocol unit and the net unit; the first non-empty level is the
            // answer (the module then asks for those pools by name, as here).
            PoolSelection::Readers { attributes, protocol, net } => {
                let request = Request {
                    direction: Direction::Read,
                    store: attributes.storage_class.as_deref().unwrap_or_default(),
                    dcache: attributes.cache_class.as_deref(),
                    net: Some(net),
                    protocol: Some(protocol),
                };
                self.match_levels(&request)?.into_iter().find(|level| !level.is_empty()).unwrap_or_default()
            }
        })
    }

    /// The members of pool groups, concatenated; nothing if any group is unknown (§8.1).
    fn members(&self, groups: &[String]) -> Vec<String> {
        let psu = self.psu.lock();
        if groups.iter().any(|g| psu.members(g).is_none()) {
            return Vec::new();
        }
        groups.iter().flat_map(|g| psu.members(g).into_iter().flatten().cloned()).collect()
    }
}

impl host::PoolManager for PoolManager {
    fn pools(&self, selection: PoolSelection, done: Completion<PoolList>) {
        // Pools unknown to the registry are left out. A stopped pool is offline at once: dCache
        // waits for its heartbeats to lapse, which only delays what jobs see by a few minutes.
        let names = match self.select(&selection) {
            Ok(names) => names,
            // dCache answers an IllegalArgumentException of the selection unit as an error.
            Err(e) => return done.complete(Err(Failure::error(ReturnCode::INVALID_ARGS, e.to_string()))),
        };
        let pools = names
            .iter()
            .filter_map(|name| self.registry.get(name))
            .map(
                |node| if node.is_running() { self.info(&node) } else { PoolInfo::Offline { name: node.name.clone() } },
            )
            .collect();
        done.complete(Ok(PoolList { pools }));
    }

    fn groups_of(&self, pool: &str, done: Completion<Vec<String>>) {
        let groups =
            self.psu.lock().groups().into_iter().filter(|(_, m)| m.iter().any(|p| p == pool)).map(|(g, _)| g).collect();
        done.complete(Ok(groups));
    }
}
