//! Pool information as the pool manager reports it (spec §1.5).
//!
//! Plain data with serde derives; field names serialize in dCache's
//! camelCase (`breakEven`, `maxActive`, `moverCostFactor`, ...). Cost data
//! comes from other processes, so nothing here assumes it is sane: NaN,
//! infinities and negative factors must not make anything panic.

use serde::{Deserialize, Serialize};

use crate::PoolName;

/// Performance cost reported when a pool has neither a store queue nor any
/// named mover queue (dCache's sentinel for "no idea": effectively unusable).
pub const NO_QUEUES_COST: f64 = 1_000_000.0;

/// Space figures of a pool, in bytes unless stated otherwise.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PoolSpaceInfo {
    /// Capacity of the pool.
    pub total: u64,
    /// Bytes not used by any replica.
    pub free: u64,
    /// Bytes of precious replicas (not yet flushed to tape).
    pub precious: u64,
    /// Bytes of cached replicas that may be evicted to make room.
    pub removable: u64,
    /// Bytes the pool keeps free; it refuses new data below this.
    pub gap: u64,
    /// Break-even parameter of the cost model; sets the half-life with which
    /// removable space becomes available (see `selection`).
    pub break_even: f64,
    /// Age in seconds of the least-recently-used removable replica.
    pub lru: i64,
}

impl PoolSpaceInfo {
    /// Bytes in use: `total − free`, saturating at 0 if a pool reports more
    /// free than total space.
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.free)
    }
}

/// Counters of one request queue of a pool.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PoolQueueInfo {
    /// Requests being served now.
    pub active: u32,
    /// Limit on concurrently active requests (0: no limit configured).
    pub max_active: u32,
    /// Requests waiting for a slot.
    pub queued: u32,
    /// Active movers reading from the pool.
    pub readers: u32,
    /// Active movers writing to the pool.
    pub writers: u32,
}

/// A mover queue with the name it has in the pool's configuration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedPoolQueueInfo {
    /// Queue name, e.g. `regular`.
    pub name: String,
    /// Its counters.
    pub queue: PoolQueueInfo,
}

/// All queues of a pool; the fixed ones may be missing from a report.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PoolQueues {
    /// Flush-to-tape queue.
    #[serde(default)]
    pub store: Option<PoolQueueInfo>,
    /// Stage-from-tape queue.
    #[serde(default)]
    pub restore: Option<PoolQueueInfo>,
    /// Pool-to-pool transfers this pool serves (source side).
    #[serde(default)]
    pub p2p_server: Option<PoolQueueInfo>,
    /// Pool-to-pool transfers this pool receives (destination side).
    #[serde(default)]
    pub p2p_client: Option<PoolQueueInfo>,
    /// Named mover queues, in the order the pool reported them.
    #[serde(default)]
    pub movers: Vec<NamedPoolQueueInfo>,
}

impl PoolQueues {
    /// Writers over the store, restore, both p2p and all named mover queues,
    /// as used for the load term of proportional selection.
    pub fn total_writers(&self) -> u64 {
        let fixed = [self.store, self.restore, self.p2p_server, self.p2p_client];
        let fixed_sum: u64 = fixed.iter().flatten().map(|q| u64::from(q.writers)).sum();
        let mover_sum: u64 = self.movers.iter().map(|m| u64::from(m.queue.writers)).sum();
        fixed_sum + mover_sum
    }
}

/// Cost information of an online pool.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PoolCostInfo {
    /// Pool name.
    pub name: PoolName,
    /// Space figures.
    pub space: PoolSpaceInfo,
    /// Queue counters.
    pub queues: PoolQueues,
    /// Weight of writers in the load term of proportional selection.
    pub mover_cost_factor: f64,
    /// Pool tags (`hostname`, `rack`, …) from the pool manager's cost module; hot-file
    /// replication keeps at most one pool per tag value (§12.4).
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

impl PoolCostInfo {
    /// A pool with the given space and otherwise idle defaults, for tests and
    /// simulations: precious 0, gap 0, breakEven 0.7, lru 0 s, no store,
    /// restore or p2p queues, one named mover queue `regular` with
    /// maxActive 100 and nothing active or queued, moverCostFactor 0.5.
    pub fn simple(name: impl Into<PoolName>, total: u64, free: u64, removable: u64) -> PoolCostInfo {
        PoolCostInfo {
            name: name.into(),
            space: PoolSpaceInfo { total, free, precious: 0, removable, gap: 0, break_even: 0.7, lru: 0 },
            queues: PoolQueues {
                movers: vec![NamedPoolQueueInfo {
                    name: "regular".to_owned(),
                    queue: PoolQueueInfo { max_active: 100, ..PoolQueueInfo::default() },
                }],
                ..PoolQueues::default()
            },
            mover_cost_factor: 0.5,
            tags: std::collections::BTreeMap::new(),
        }
    }

    /// The performance cost (dCache's `cpuCost`): the mean load over the
    /// store queue and the named mover queues, or [`NO_QUEUES_COST`] when the
    /// pool has none of them.
    ///
    /// Surprising but as in dCache: restore and p2p queues do not count at
    /// all, and a store queue with anything queued counts as fully loaded
    /// (1.0) whatever its limit, while one with nothing queued saturates
    /// gradually as `1 − 0.75^active`.
    pub fn cpu_cost(&self) -> f64 {
        let mut cost = 0.0;
        let mut n = 0u64;
        if let Some(store) = &self.queues.store {
            cost += if store.queued > 0 {
                1.0
            } else {
                // powf, not powi: `active` may not fit an i32.
                1.0 - 0.75f64.powf(f64::from(store.active))
            };
            n += 1;
        }
        for mover in &self.queues.movers {
            let q = &mover.queue;
            if q.max_active > 0 {
                cost += (f64::from(q.queued) + f64::from(q.active)) / f64::from(q.max_active);
            } else if q.queued > 0 {
                // No limit but a backlog: count as full.
                cost += 1.0;
            }
            n += 1;
        }
        if n == 0 { NO_QUEUES_COST } else { cost / n as f64 }
    }
}

/// A pool as the pool manager reports it.
///
/// Serialized internally tagged: `{"state":"online","name":..,"space":..}` or
/// `{"state":"offline","name":..}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "state", rename_all = "lowercase")]
// Pool lists hold tens of pools, not millions: the size difference does not matter and
// boxing would add noise at every use.
#[allow(clippy::large_enum_variant)]
pub enum PoolInfo {
    /// Enabled and with cost data.
    Online(PoolCostInfo),
    /// Disabled or without cost data: only the name is known.
    Offline {
        /// Pool name.
        name: String,
    },
}

impl PoolInfo {
    /// The pool's name, whether online or not.
    pub fn name(&self) -> &str {
        match self {
            PoolInfo::Online(info) => &info.name,
            PoolInfo::Offline { name } => name,
        }
    }

    /// Whether the pool is online (has cost data).
    pub fn is_online(&self) -> bool {
        matches!(self, PoolInfo::Online(_))
    }

    /// The cost data of an online pool.
    pub fn cost_info(&self) -> Option<&PoolCostInfo> {
        match self {
            PoolInfo::Online(info) => Some(info),
            PoolInfo::Offline { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(active: u32, max_active: u32, queued: u32) -> PoolQueueInfo {
        PoolQueueInfo { active, max_active, queued, ..PoolQueueInfo::default() }
    }

    fn named(name: &str, q: PoolQueueInfo) -> NamedPoolQueueInfo {
        NamedPoolQueueInfo { name: name.to_owned(), queue: q }
    }

    #[test]
    fn simple_pool_has_documented_defaults() {
        let p = PoolCostInfo::simple("pool1", 1000, 400, 100);
        assert_eq!(&*p.name, "pool1");
        assert_eq!(p.space.total, 1000);
        assert_eq!(p.space.free, 400);
        assert_eq!(p.space.removable, 100);
        assert_eq!(p.space.gap, 0);
        assert_eq!(p.space.break_even, 0.7);
        assert_eq!(p.space.lru, 0);
        assert_eq!(p.queues.movers.len(), 1);
        assert_eq!(p.queues.movers[0].name, "regular");
        assert_eq!(p.queues.movers[0].queue.max_active, 100);
        assert_eq!(p.mover_cost_factor, 0.5);
        assert_eq!(p.cpu_cost(), 0.0);
    }

    #[test]
    fn used_is_total_minus_free() {
        let p = PoolCostInfo::simple("p", 1000, 400, 0);
        assert_eq!(p.space.used(), 600);
    }

    #[test]
    fn used_saturates_when_free_exceeds_total() {
        let p = PoolCostInfo::simple("p", 100, 400, 0);
        assert_eq!(p.space.used(), 0);
    }

    #[test]
    fn pool_without_queues_costs_one_million() {
        let mut p = PoolCostInfo::simple("p", 1, 1, 0);
        p.queues.movers.clear();
        assert_eq!(p.cpu_cost(), 1_000_000.0);
    }

    #[test]
    fn restore_and_p2p_queues_do_not_count_in_cpu_cost() {
        let mut p = PoolCostInfo::simple("p", 1, 1, 0);
        p.queues.movers.clear();
        p.queues.restore = Some(queue(10, 10, 10));
        p.queues.p2p_server = Some(queue(10, 10, 10));
        p.queues.p2p_client = Some(queue(10, 10, 10));
        assert_eq!(p.cpu_cost(), NO_QUEUES_COST);
    }

    #[test]
    fn store_queue_with_backlog_costs_one() {
        let mut p = PoolCostInfo::simple("p", 1, 1, 0);
        p.queues.movers.clear();
        p.queues.store = Some(queue(0, 0, 1));
        assert_eq!(p.cpu_cost(), 1.0);
    }

    #[test]
    fn store_queue_without_backlog_saturates_with_active() {
        let mut p = PoolCostInfo::simple("p", 1, 1, 0);
        p.queues.movers.clear();
        p.queues.store = Some(queue(2, 0, 0));
        assert!((p.cpu_cost() - (1.0 - 0.5625)).abs() < 1e-12);
        p.queues.store = Some(queue(u32::MAX, 0, 0));
        assert_eq!(p.cpu_cost(), 1.0);
    }

    #[test]
    fn cpu_cost_averages_store_and_mover_queues() {
        let mut p = PoolCostInfo::simple("p", 1, 1, 0);
        p.queues.store = Some(queue(0, 0, 3)); // 1.0
        p.queues.movers = vec![
            named("regular", queue(5, 10, 5)), // (5 + 5) / 10 = 1.0
            named("wan", queue(1, 4, 0)),      // 0.25
            named("nolimit", queue(7, 0, 0)),  // 0.0: unlimited, no backlog
            named("nolimit2", queue(0, 0, 2)), // 1.0: unlimited with backlog
        ];
        assert!((p.cpu_cost() - 3.25 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn mover_queue_may_exceed_one_when_overbooked() {
        let mut p = PoolCostInfo::simple("p", 1, 1, 0);
        p.queues.movers = vec![named("regular", queue(u32::MAX, 1, u32::MAX))];
        let cost = p.cpu_cost();
        assert!(cost.is_finite() && cost > 1.0);
    }

    #[test]
    fn total_writers_sums_every_queue() {
        let mut p = PoolCostInfo::simple("p", 1, 1, 0);
        let w = |writers| PoolQueueInfo { writers, ..PoolQueueInfo::default() };
        p.queues.store = Some(w(1));
        p.queues.restore = Some(w(2));
        p.queues.p2p_server = Some(w(4));
        p.queues.p2p_client = Some(w(8));
        p.queues.movers = vec![named("a", w(16)), named("b", w(u32::MAX))];
        assert_eq!(p.queues.total_writers(), 31 + u64::from(u32::MAX));
    }

    #[test]
    fn cost_info_round_trips_through_json_with_camel_case_names() {
        let mut p = PoolCostInfo::simple("pool1", 10, 5, 2);
        p.queues.p2p_client = Some(queue(1, 2, 3));
        let json = serde_json::to_string(&p).expect("serializes");
        for key in ["breakEven", "moverCostFactor", "maxActive", "p2pClient"] {
            assert!(json.contains(key), "{key} missing in {json}");
        }
        let back: PoolCostInfo = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, p);
    }

    #[test]
    fn missing_queues_deserialize_as_absent() {
        let json = r#"{"name":"p","space":{"total":1,"free":1,"precious":0,
            "removable":0,"gap":0,"breakEven":0.7,"lru":0},"queues":{},
            "moverCostFactor":0.5}"#;
        let p: PoolCostInfo = serde_json::from_str(json).expect("deserializes");
        assert_eq!(p.queues, PoolQueues::default());
        assert_eq!(p.cpu_cost(), NO_QUEUES_COST);
    }

    #[test]
    fn pool_info_reports_name_and_state() {
        let online = PoolInfo::Online(PoolCostInfo::simple("on", 1, 1, 0));
        let offline = PoolInfo::Offline { name: "off".to_owned() };
        assert_eq!(online.name(), "on");
        assert_eq!(offline.name(), "off");
        assert!(online.is_online());
        assert!(!offline.is_online());
        assert!(online.cost_info().is_some());
        assert!(offline.cost_info().is_none());
    }

    #[test]
    fn pool_info_round_trips_through_json_with_state_tag() {
        let pools =
            vec![PoolInfo::Online(PoolCostInfo::simple("on", 1, 1, 0)), PoolInfo::Offline { name: "off".to_owned() }];
        let json = serde_json::to_string(&pools).expect("serializes");
        assert!(json.contains(r#""state":"online""#));
        assert!(json.contains(r#"{"state":"offline","name":"off"}"#));
        let back: Vec<PoolInfo> = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, pools);
    }
}
