//! The pool manager's pool selection unit (dCache's `PoolSelectionUnitV2`, the `psu`
//! commands): units, unit groups, pool groups and links, and the match that turns a request
//! (store unit, cache class, client address, protocol) into preference levels of pools.
//!
//! A request matches a link when each of the link's unit groups holds one of the request's
//! units; the matching links are sorted by their preference for the direction (highest first,
//! then by name), links with a preference below 1 are dropped, and each preference value makes
//! one level: the usable pools of the links' pool groups. Unit lookup follows dCache:
//!
//! * store unit `<class>@<hsm>`: the unit of that name, else `*@<hsm>`, else `*@*`;
//! * protocol `<protocol>/<version>`: that unit, else `<protocol>/*`, else `*/*`;
//! * cache class: the dCache unit of that name (a file with a cache class and no such unit
//!   matches nothing: dCache refuses the request);
//! * client address: the net unit with the longest prefix containing it. An empty address is
//!   the loopback address, as Java's `InetAddress.getByName("")` makes it: a hot-file read
//!   without a client matches the world-net unit.
//!
//! Each value selects one unit, the most specific: once `DCap/*` exists, a DCap request no
//! longer carries `*/*`, and links over `any-protocol` stop matching it unless `DCap/*` joins
//! that unit group too (dCache's well-known pitfall, kept).
//!
//! Every installation starts with dCache's default setup: units `*@*`, `0.0.0.0/0.0.0.0`,
//! `::/0` and `*/*` in the unit groups `any-store`, `world-net` and `any-protocol`, the pool
//! group `default` (every pool joins it) and the link `default-link` over those three unit
//! groups and `default`, with read, write and cache preference 10 and p2p preference -1.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// The pool group every pool joins.
pub const DEFAULT_GROUP: &str = "default";
/// The link attached to [`DEFAULT_GROUP`].
pub const DEFAULT_LINK: &str = "default-link";

/// The default units: (kind, name, unit group).
const DEFAULT_UNITS: [(UnitKind, &str, &str); 4] = [
    (UnitKind::Store, "*@*", "any-store"),
    (UnitKind::Net, "0.0.0.0/0.0.0.0", "world-net"),
    (UnitKind::Net, "::/0", "world-net"),
    (UnitKind::Protocol, "*/*", "any-protocol"),
];

/// The unit groups of [`DEFAULT_LINK`], in dCache's order.
const DEFAULT_LINK_UGROUPS: [&str; 3] = ["any-protocol", "world-net", "any-store"];

/// Preferences of [`DEFAULT_LINK`].
const DEFAULT_LINK_PREFERENCES: Preferences = Preferences { read: 10, write: 10, cache: 10, p2p: -1 };

/// What a unit matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A storage class `<class>@<hsm>`, with `*` wildcards.
    Store,
    /// Client addresses: a network with a prefix length.
    Net,
    /// A protocol `<protocol>/<version>`, with `*` wildcards.
    Protocol,
    /// A cache class.
    Dcache,
}

impl UnitKind {
    /// The option of `psu create unit`.
    pub fn option(self) -> &'static str {
        match self {
            UnitKind::Store => "store",
            UnitKind::Net => "net",
            UnitKind::Protocol => "protocol",
            UnitKind::Dcache => "dcache",
        }
    }

    /// dCache's name of the kind (`psu ls unit -l`).
    pub fn label(self) -> &'static str {
        match self {
            UnitKind::Store => "Store",
            UnitKind::Net => "Net",
            UnitKind::Protocol => "Protocol",
            UnitKind::Dcache => "dCache",
        }
    }
}

/// The direction of a request (dCache's `DirectionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read a cached replica.
    Read,
    /// Write a new file.
    Write,
    /// Stage a file from tape.
    Cache,
    /// A pool-to-pool transfer (its destination).
    P2p,
}

impl Direction {
    /// `read`, `write`, `cache` or `p2p`.
    pub fn parse(text: &str) -> Option<Direction> {
        Some(match text {
            "read" => Direction::Read,
            "write" => Direction::Write,
            "cache" => Direction::Cache,
            "p2p" => Direction::P2p,
            _ => return None,
        })
    }
}

/// A link's preference per direction; below 1 the link is not used for it (`-p2ppref=-1`:
/// the read preference is used for p2p).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    /// `-readpref`.
    pub read: i32,
    /// `-writepref`.
    pub write: i32,
    /// `-cachepref`.
    pub cache: i32,
    /// `-p2ppref`.
    pub p2p: i32,
}

impl Preferences {
    /// dCache's defaults of a new link.
    pub const NEW_LINK: Preferences = Preferences { read: 0, write: 0, cache: 0, p2p: -1 };

    fn of(self, direction: Direction) -> i32 {
        match direction {
            Direction::Read => self.read,
            Direction::Write => self.write,
            Direction::Cache => self.cache,
            Direction::P2p if self.p2p < 0 => self.read,
            Direction::P2p => self.p2p,
        }
    }
}

#[derive(Debug, Clone)]
struct Unit {
    kind: UnitKind,
    /// A net unit's network and prefix length.
    net: Option<(IpAddr, u8)>,
}

#[derive(Debug, Clone)]
struct Link {
    ugroups: Vec<String>,
    pgroups: Vec<String>,
    preferences: Preferences,
}

/// Why a change or a match was refused; the texts are dCache's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsuError {
    /// No such pool.
    NoSuchPool(String),
    /// No such pool group.
    NoSuchGroup(String),
    /// No such link.
    NoSuchLink(String),
    /// No such unit group.
    NoSuchUnitGroup(String),
    /// No such unit (also: no unit matches a request's value).
    NoSuchUnit(String),
    /// The name is taken.
    Exists(String),
    /// A malformed argument.
    Invalid(String),
}

impl std::fmt::Display for PsuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PsuError::NoSuchPool(n) => write!(f, "Pool not found: {n}"),
            PsuError::NoSuchGroup(n) => write!(f, "Pool group not found: {n}"),
            PsuError::NoSuchLink(n) => write!(f, "Link not found: {n}"),
            PsuError::NoSuchUnitGroup(n) => write!(f, "uGroup not found : {n}"),
            PsuError::NoSuchUnit(n) => write!(f, "Unit not found : {n}"),
            PsuError::Exists(n) => write!(f, "Duplicated entry: {n}"),
            PsuError::Invalid(m) => f.write_str(m),
        }
    }
}

/// What a request asks for (`None`: that kind of unit is not part of the request).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The direction.
    pub direction: Direction,
    /// `<class>@<hsm>`.
    pub store: &'a str,
    /// The cache class.
    pub dcache: Option<&'a str>,
    /// The client's address (empty: the loopback address).
    pub net: Option<&'a str>,
    /// `<protocol>/<version>`.
    pub protocol: Option<&'a str>,
}

/// Units, unit groups, pool groups and links.
#[derive(Debug, Clone)]
pub struct SelectionUnit {
    units: BTreeMap<String, Unit>,
    /// Unit group → member units, in the order they were added.
    ugroups: BTreeMap<String, Vec<String>>,
    /// Pool group → members, in the order they were added.
    groups: BTreeMap<String, Vec<String>>,
    links: BTreeMap<String, Link>,
}

impl Default for SelectionUnit {
    fn default() -> Self {
        SelectionUnit::new()
    }
}

/// A net unit's name: an address, `<address>/<prefix length>` or `<address>/<netmask>`.
fn parse_net(name: &str) -> Result<(IpAddr, u8), PsuError> {
    let bad = || PsuError::Invalid(format!("Not a network: {name}"));
    let (address, mask) = match name.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (name, None),
    };
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match mask {
        None => max,
        Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
            m.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?
        }
        Some(m) => match (address, m.parse::<Ipv4Addr>()) {
            (IpAddr::V4(_), Ok(mask)) => {
                let bits = u32::from(mask);
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return Err(bad());
                }
                bits.leading_ones() as u8
            }
            _ => return Err(bad()),
        },
    };
    Ok((address, prefix))
}

/// Whether `address` lies in the network `(net, prefix)` (same address family only).
fn contains((net, prefix): (IpAddr, u8), address: IpAddr) -> bool {
    match (net, address) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl SelectionUnit {
    /// dCache's default setup, without pools.
    pub fn new() -> SelectionUnit {
        let mut psu = SelectionUnit {
            units: BTreeMap::new(),
            ugroups: BTreeMap::new(),
            groups: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        for (kind, name, ugroup) in DEFAULT_UNITS {
            psu.create_unit(kind, name).expect("default units are valid");
            if !psu.ugroups.contains_key(ugroup) {
                psu.create_ugroup(ugroup).expect("new");
            }
            psu.add_to_ugroup(ugroup, name).expect("both exist");
        }
        psu.groups.insert(DEFAULT_GROUP.to_string(), Vec::new());
        psu.create_link(DEFAULT_LINK, &DEFAULT_LINK_UGROUPS.map(String::from)).expect("default unit groups exist");
        psu.set_link(DEFAULT_LINK, DEFAULT_LINK_PREFERENCES).expect("exists");
        psu.attach_group(DEFAULT_LINK, DEFAULT_GROUP).expect("exists");
        psu
    }

    /// A new pool joins the default group.
    pub fn pool_added(&mut self, pool: &str) {
        let members = self.groups.entry(DEFAULT_GROUP.to_string()).or_default();
        if !members.iter().any(|m| m == pool) {
            members.push(pool.to_string());
        }
    }

    /// `psu create unit -store|-net|-protocol|-dcache <name>`.
    pub fn create_unit(&mut self, kind: UnitKind, name: &str) -> Result<(), PsuError> {
        if self.units.contains_key(name) {
            return Err(PsuError::Exists(name.to_string()));
        }
        let net = match kind {
            UnitKind::Net => Some(parse_net(name)?),
            UnitKind::Store if !name.contains('@') => {
                return Err(PsuError::Invalid(format!("Not a store unit: {name} (expected <class>@<hsm>)")));
            }
            UnitKind::Protocol if !matches!(name.find('/'), Some(i) if i > 0 && i + 1 < name.len()) => {
                return Err(PsuError::Invalid(format!("Not a valid protocol specification : {name}")));
            }
            _ => None,
        };
        self.units.insert(name.to_string(), Unit { kind, net });
        Ok(())
    }

    /// `psu create ugroup`.
    pub fn create_ugroup(&mut self, ugroup: &str) -> Result<(), PsuError> {
        if self.ugroups.contains_key(ugroup) {
            return Err(PsuError::Exists(ugroup.to_string()));
        }
        self.ugroups.insert(ugroup.to_string(), Vec::new());
        Ok(())
    }

    /// `psu addto ugroup <ugroup> <unit>`: adding a member twice changes nothing.
    pub fn add_to_ugroup(&mut self, ugroup: &str, unit: &str) -> Result<(), PsuError> {
        if !self.units.contains_key(unit) {
            return Err(PsuError::NoSuchUnit(unit.to_string()));
        }
        let members = self.ugroups.get_mut(ugroup).ok_or_else(|| PsuError::NoSuchUnitGroup(ugroup.to_string()))?;
        if !members.iter().any(|m| m == unit) {
            members.push(unit.to_string());
        }
        Ok(())
    }

    /// `psu create pgroup`.
    pub fn create_group(&mut self, group: &str) -> Result<(), PsuError> {
        if self.groups.contains_key(group) {
            return Err(PsuError::Exists(group.to_string()));
        }
        self.groups.insert(group.to_string(), Vec::new());
        Ok(())
    }

    /// `psu addto pgroup` (the pool was checked by the caller): adding a member twice changes
    /// nothing.
    pub fn add_to_group(&mut self, group: &str, pool: &str) -> Result<(), PsuError> {
        let members = self.groups.get_mut(group).ok_or_else(|| PsuError::NoSuchGroup(group.to_string()))?;
        if !members.iter().any(|m| m == pool) {
            members.push(pool.to_string());
        }
        Ok(())
    }

    /// `psu removefrom pgroup`.
    pub fn remove_from_group(&mut self, group: &str, pool: &str) -> Result<(), PsuError> {
        let members = self.groups.get_mut(group).ok_or_else(|| PsuError::NoSuchGroup(group.to_string()))?;
        let before = members.len();
        members.retain(|m| m != pool);
        if members.len() == before {
            return Err(PsuError::NoSuchPool(pool.to_string()));
        }
        Ok(())
    }

    /// `psu create link <link> <ugroup>...`: every unit group must exist.
    pub fn create_link(&mut self, link: &str, ugroups: &[String]) -> Result<(), PsuError> {
        if self.links.contains_key(link) {
            return Err(PsuError::Exists(link.to_string()));
        }
        if let Some(missing) = ugroups.iter().find(|g| !self.ugroups.contains_key(*g)) {
            return Err(PsuError::NoSuchUnitGroup(missing.clone()));
        }
        let mut unique: Vec<String> = Vec::new();
        for g in ugroups {
            if !unique.contains(g) {
                unique.push(g.clone());
            }
        }
        self.links.insert(
            link.to_string(),
            Link { ugroups: unique, pgroups: Vec::new(), preferences: Preferences::NEW_LINK },
        );
        Ok(())
    }

    /// `psu set link <link> -readpref=… -writepref=… -cachepref=… -p2ppref=…`.
    pub fn set_link(&mut self, link: &str, preferences: Preferences) -> Result<(), PsuError> {
        let l = self.links.get_mut(link).ok_or_else(|| PsuError::NoSuchLink(link.to_string()))?;
        l.preferences = preferences;
        Ok(())
    }

    /// A link's preferences.
    pub fn preferences(&self, link: &str) -> Result<Preferences, PsuError> {
        self.links.get(link).map(|l| l.preferences).ok_or_else(|| PsuError::NoSuchLink(link.to_string()))
    }

    /// `psu add link <link> <pgroup>`.
    pub fn attach_group(&mut self, link: &str, group: &str) -> Result<(), PsuError> {
        if !self.groups.contains_key(group) {
            return Err(PsuError::NoSuchGroup(group.to_string()));
        }
        let l = self.links.get_mut(link).ok_or_else(|| PsuError::NoSuchLink(link.to_string()))?;
        if !l.pgroups.iter().any(|g| g == group) {
            l.pgroups.push(group.to_string());
        }
        Ok(())
    }

    /// The members of a pool group.
    pub fn members(&self, group: &str) -> Option<&[String]> {
        self.groups.get(group).map(Vec::as_slice)
    }

    /// Pool groups with their members.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.groups.iter().map(|(g, m)| (g.clone(), m.clone())).collect()
    }

    /// The pool groups of the links (`None`: no such link).
    pub fn link_groups(&self, link: &str) -> Option<&[String]> {
        self.links.get(link).map(|l| l.pgroups.as_slice())
    }

    /// `psu ls link`: names; with `long`, dCache's detail lines.
    pub fn list_links(&self, long: bool) -> String {
        let mut out = String::new();
        for (name, link) in &self.links {
            out.push_str(name);
            out.push('\n');
            if long {
                let p = link.preferences;
                out.push_str(&format!(
                    " readPref  : {}\n cachePref : {}\n writePref : {}\n p2pPref   : {}\n UGroups   : {}\n pgroups   : {}\n",
                    p.read,
                    p.cache,
                    p.write,
                    p.p2p,
                    link.ugroups.join(","),
                    link.pgroups.join(",")
                ));
            }
        }
        out
    }

    /// `psu ls unit`: names; with `long`, the kind and unit groups.
    pub fn list_units(&self, long: bool) -> String {
        self.units
            .iter()
            .map(|(name, unit)| {
                if !long {
                    return format!("{name}\n");
                }
                let ugroups: Vec<&str> =
                    self.ugroups.iter().filter(|(_, m)| m.contains(name)).map(|(g, _)| g.as_str()).collect();
                format!("{name}  (type={};ugroups={})\n", unit.kind.label(), ugroups.join(","))
            })
            .collect()
    }

    /// `psu ls ugroup`: names; with `long`, the member units.
    pub fn list_ugroups(&self, long: bool) -> String {
        self.ugroups
            .iter()
            .map(|(g, m)| if long { format!("{g} : {}\n", m.join(",")) } else { format!("{g}\n") })
            .collect()
    }

    /// The unit a request's store value selects.
    fn store_unit(&self, store: &str) -> Result<&str, PsuError> {
        if self.units.contains_key(store) {
            return Ok(self.units.get_key_value(store).expect("checked").0);
        }
        match store.rfind('@') {
            Some(i) if i > 0 && i + 1 < store.len() => {
                let hsm = format!("*@{}", &store[i + 1..]);
                [hsm.as_str(), "*@*"]
                    .into_iter()
                    .find_map(|n| self.units.get_key_value(n).map(|(k, _)| k.as_str()))
                    .ok_or_else(|| PsuError::NoSuchUnit(store.to_string()))
            }
            _ => Err(PsuError::Invalid(format!("IllegalUnitFormat : {store}"))),
        }
    }

    fn protocol_unit(&self, protocol: &str) -> Result<&str, PsuError> {
        let Some(slash) = protocol.find('/').filter(|i| *i > 0 && i + 1 < protocol.len()) else {
            return Err(PsuError::Invalid(format!("Not a valid protocol specification : {protocol}")));
        };
        let any_version = format!("{}/*", &protocol[..slash]);
        [protocol, any_version.as_str(), "*/*"]
            .into_iter()
            .find_map(|n| {
                self.units.get_key_value(n).filter(|(_, u)| u.kind == UnitKind::Protocol).map(|(k, _)| k.as_str())
            })
            .ok_or_else(|| PsuError::NoSuchUnit(protocol.to_string()))
    }

    fn net_unit(&self, net: &str) -> Result<&str, PsuError> {
        let address: IpAddr = if net.is_empty() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            net.parse().map_err(|_| PsuError::Invalid(format!("NetUnit not resolved : {net}")))?
        };
        self.units
            .iter()
            .filter_map(|(name, u)| u.net.filter(|n| contains(*n, address)).map(|(_, prefix)| (prefix, name)))
            // Longest prefix first; among equals, the first name.
            .max_by(|(p1, n1), (p2, n2)| p1.cmp(p2).then(n2.cmp(n1)))
            .map(|(_, name)| name.as_str())
            .ok_or_else(|| PsuError::NoSuchUnit(format!("{net} (not matched by any net unit)")))
    }

    /// The preference levels of a request, highest first: per level the pools of its links'
    /// pool groups that `usable` accepts (duplicates kept, as dCache keeps them).
    pub fn match_levels(
        &self,
        request: &Request<'_>,
        usable: impl Fn(&str) -> bool,
    ) -> Result<Vec<Vec<String>>, PsuError> {
        let mut units: Vec<&str> = vec![self.store_unit(request.store)?];
        if let Some(protocol) = request.protocol {
            units.push(self.protocol_unit(protocol)?);
        }
        if let Some(dcache) = request.dcache {
            if !self.units.get(dcache).is_some_and(|u| u.kind == UnitKind::Dcache) {
                return Err(PsuError::NoSuchUnit(dcache.to_string()));
            }
            units.push(dcache);
        }
        if let Some(net) = request.net {
            units.push(self.net_unit(net)?);
        }
        // A link matches when the request's units reach it through as many of its unit groups
        // as it has (each unit counts once per link), as dCache's LinkMap counts.
        let mut hits: BTreeMap<&str, usize> = BTreeMap::new();
        for unit in &units {
            for (name, link) in &self.links {
                if link.ugroups.iter().any(|g| self.ugroups.get(g).is_some_and(|m| m.iter().any(|u| u == unit))) {
                    *hits.entry(name.as_str()).or_default() += 1;
                }
            }
        }
        let mut matched: Vec<(&str, i32)> = hits
            .into_iter()
            .filter(|(name, n)| *n >= self.links[*name].ugroups.len())
            .map(|(name, _)| (name, self.links[name].preferences.of(request.direction)))
            .filter(|(_, pref)| *pref >= 1)
            .collect();
        matched.sort_by(|(n1, p1), (n2, p2)| p2.cmp(p1).then(n1.cmp(n2)));
        let mut levels: Vec<(i32, Vec<String>)> = Vec::new();
        for (name, pref) in matched {
            if levels.last().is_none_or(|(p, _)| *p != pref) {
                levels.push((pref, Vec::new()));
            }
            let level = &mut levels.last_mut().expect("pushed above").1;
            for group in &self.links[name].pgroups {
                level.extend(self.groups.get(group).into_iter().flatten().filter(|p| usable(p)).cloned());
            }
        }
        Ok(levels.into_iter().map(|(_, pools)| pools).collect())
    }

    /// The `psu` commands that rebuild this setup from dCache's default one (what `save`
    /// writes), in an order that replays.
    pub fn setup_lines(&self) -> Vec<String> {
        let default = SelectionUnit::new();
        let mut lines = vec!["#".to_string(), "# PoolManager (minidcache)".to_string(), "#".to_string()];
        for (name, unit) in &self.units {
            if !default.units.contains_key(name) {
                lines.push(format!("psu create unit -{} {name}", unit.kind.option()));
            }
        }
        for (ugroup, members) in &self.ugroups {
            let known = default.ugroups.get(ugroup);
            if known.is_none() {
                lines.push(format!("psu create ugroup {ugroup}"));
            }
            for unit in members.iter().filter(|u| !known.is_some_and(|k| k.contains(u))) {
                lines.push(format!("psu addto ugroup {ugroup} {unit}"));
            }
        }
        for (group, members) in &self.groups {
            if group == DEFAULT_GROUP {
                continue;
            }
            lines.push(format!("psu create pgroup {group}"));
            lines.extend(members.iter().map(|pool| format!("psu addto pgroup {group} {pool}")));
        }
        for (name, link) in &self.links {
            let known = default.links.get(name);
            if known.is_none() {
                let ugroups: String = link.ugroups.iter().map(|g| format!(" {g}")).collect();
                lines.push(format!("psu create link {name}{ugroups}"));
            }
            let p = link.preferences;
            if p != known.map_or(Preferences::NEW_LINK, |k| k.preferences) {
                lines.push(format!(
                    "psu set link {name} -readpref={} -writepref={} -cachepref={} -p2ppref={}",
                    p.read, p.write, p.cache, p.p2p
                ));
            }
            for group in link.pgroups.iter().filter(|g| !known.is_some_and(|k| k.pgroups.contains(g))) {
                lines.push(format!("psu add link {name} {group}"));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn psu() -> SelectionUnit {
        let mut psu = SelectionUnit::new();
        for pool in ["pool1", "pool2", "pool3", "pool4"] {
            psu.pool_added(pool);
        }
        psu
    }

    fn read<'a>(store: &'a str, net: &'a str, protocol: &'a str) -> Request<'a> {
        Request { direction: Direction::Read, store, dcache: None, net: Some(net), protocol: Some(protocol) }
    }

    #[test]
    fn the_default_setup_reads_from_every_pool() {
        let levels = psu().match_levels(&read("atlas:default@osm", "10.0.0.7", "DCap/3"), |_| true).expect("match");
        assert_eq!(levels, [["pool1", "pool2", "pool3", "pool4"]]);
        // A read without protocol info or client: */* and the loopback address.
        let levels = psu().match_levels(&read("a:b@osm", "", "*/*"), |_| true).expect("match");
        assert_eq!(levels.len(), 1);
        // Unusable pools (stopped, disabled) are left out of their level.
        let levels = psu().match_levels(&read("a:b@osm", "::1", "NFS/4.1"), |p| p != "pool2").expect("match");
        assert_eq!(levels, [["pool1", "pool3", "pool4"]]);
    }

    #[test]
    fn a_preferred_link_for_a_protocol_and_network_makes_the_first_level() {
        let mut psu = psu();
        psu.create_unit(UnitKind::Protocol, "DCap/*").expect("unit");
        psu.create_unit(UnitKind::Net, "10.0.0.0/255.0.0.0").expect("unit");
        psu.create_ugroup("dcap").expect("ugroup");
        psu.add_to_ugroup("dcap", "DCap/*").expect("added");
        psu.create_ugroup("campus").expect("ugroup");
        psu.add_to_ugroup("campus", "10.0.0.0/255.0.0.0").expect("added");
        psu.create_group("fast").expect("group");
        psu.add_to_group("fast", "pool3").expect("added");
        psu.add_to_group("fast", "pool4").expect("added");
        let ugroups = ["any-store", "dcap", "campus"].map(String::from);
        psu.create_link("dcap-link", &ugroups).expect("link");
        psu.set_link("dcap-link", Preferences { read: 20, ..Preferences::NEW_LINK }).expect("set");
        psu.attach_group("dcap-link", "fast").expect("attached");

        // Each request value selects its most specific unit only: a DCap read from the campus
        // no longer reaches the default link, whose unit groups hold */* and the world.
        let dcap = psu.match_levels(&read("a:b@osm", "10.1.2.3", "DCap/3"), |_| true).expect("match");
        assert_eq!(dcap, [["pool3", "pool4"]]);
        assert_eq!(psu.match_levels(&read("a:b@osm", "10.1.2.3", "xrootd/2"), |_| true).expect("match").len(), 0);
        // As dCache's operators do, the new units join the default unit groups too.
        psu.add_to_ugroup("any-protocol", "DCap/*").expect("added");
        psu.add_to_ugroup("world-net", "10.0.0.0/255.0.0.0").expect("added");
        let dcap = psu.match_levels(&read("a:b@osm", "10.1.2.3", "DCap/3"), |_| true).expect("match");
        assert_eq!(dcap, vec![vec!["pool3", "pool4"], vec!["pool1", "pool2", "pool3", "pool4"]]);
        // Another protocol, or a client outside the network, only matches the default link.
        for request in [read("a:b@osm", "10.1.2.3", "xrootd/2"), read("a:b@osm", "192.168.1.1", "DCap/3")] {
            assert_eq!(psu.match_levels(&request, |_| true).expect("match").len(), 1, "{request:?}");
        }
        // Writes do not use a link whose write preference is 0.
        let write = Request { direction: Direction::Write, ..read("a:b@osm", "10.1.2.3", "DCap/3") };
        assert_eq!(psu.match_levels(&write, |_| true).expect("match").len(), 1);
        // The setup replays to the same links.
        let lines = psu.setup_lines();
        assert!(lines.contains(&"psu create link dcap-link any-store dcap campus".to_string()), "{lines:?}");
        assert!(
            lines.contains(&"psu set link dcap-link -readpref=20 -writepref=0 -cachepref=0 -p2ppref=-1".to_string())
        );
        assert!(lines.contains(&"psu addto ugroup world-net 10.0.0.0/255.0.0.0".to_string()), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("default-link") || l.contains("*@*")), "{lines:?}");
    }

    #[test]
    fn unknown_classes_and_formats_are_refused_as_dcache_refuses_them() {
        let mut psu = psu();
        let cached = Request { dcache: Some("hot"), ..read("a:b@osm", "", "*/*") };
        assert_eq!(psu.match_levels(&cached, |_| true), Err(PsuError::NoSuchUnit("hot".to_string())));
        assert!(matches!(psu.match_levels(&read("nohsm", "", "*/*"), |_| true), Err(PsuError::Invalid(_))));
        assert!(psu.match_levels(&read("a:b@osm", "not-an-ip", "*/*"), |_| true).is_err());
        // Without *@* only the classes with a unit of their own (or of their HSM) match.
        psu.create_unit(UnitKind::Store, "*@enstore").expect("unit");
        psu.units.remove("*@*");
        assert!(psu.match_levels(&read("a:b@osm", "", "*/*"), |_| true).is_err());
        assert_eq!(psu.store_unit("x:y@enstore"), Ok("*@enstore"));
    }

    #[test]
    fn net_units_take_cidr_masks_and_single_addresses() {
        assert_eq!(parse_net("10.0.0.0/8"), Ok(("10.0.0.0".parse().expect("ip"), 8)));
        assert_eq!(parse_net("10.0.0.0/255.255.0.0"), Ok(("10.0.0.0".parse().expect("ip"), 16)));
        assert_eq!(parse_net("::/0"), Ok(("::".parse().expect("ip"), 0)));
        assert_eq!(parse_net("131.169.1.2"), Ok(("131.169.1.2".parse().expect("ip"), 32)));
        for bad in ["10.0.0.0/33", "10.0.0.0/255.0.255.0", "x/8", "10.0.0.0/"] {
            assert!(parse_net(bad).is_err(), "{bad}");
        }
        let mut psu = SelectionUnit::new();
        psu.create_unit(UnitKind::Net, "10.1.0.0/16").expect("unit");
        assert_eq!(psu.net_unit("10.1.2.3"), Ok("10.1.0.0/16"));
        assert_eq!(psu.net_unit("10.2.2.3"), Ok("0.0.0.0/0.0.0.0"));
        assert_eq!(psu.net_unit("fe80::1"), Ok("::/0"));
    }
}
