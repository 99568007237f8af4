//! Target pool selection strategies of the migration module (spec §8.6).
//!
//! Candidates are online pools; a strategy returns the index of the chosen
//! candidate or `None` when no candidate can take data. Cost data comes from
//! the pools, so NaN, infinities and negative factors are tolerated: they
//! may skew a choice but never panic.

use std::borrow::Borrow;
use std::f64::consts::LN_2;
use std::fmt;
use std::str::FromStr;

use crate::pool_info::{PoolCostInfo, PoolSpaceInfo};
use crate::random::Rng;

/// Exponent applied to available space in proportional weights.
pub const SPACE_COST_FACTOR: f64 = 1.0;
/// Scales the writer load term in proportional weights.
pub const PERFORMANCE_COST_FACTOR: f64 = 1.0;
/// One week in seconds: the time scale of removable-space decay.
const WEEK_SECONDS: f64 = 604_800.0;

/// How the migration module picks a target among candidate pools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SelectionStrategy {
    /// Roulette wheel over weighted available space (dCache's default).
    #[default]
    Proportional,
    /// Uniform over pools with room.
    Random,
}

impl SelectionStrategy {
    /// Picks one of `candidates` (owned or borrowed pool infos), or `None`
    /// when none can take data.
    pub fn select<P: Borrow<PoolCostInfo>>(&self, candidates: &[P], rng: &mut Rng) -> Option<usize> {
        match self {
            SelectionStrategy::Proportional => select_proportional(candidates, rng),
            SelectionStrategy::Random => select_random(candidates, rng),
        }
    }
}

impl fmt::Display for SelectionStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelectionStrategy::Proportional => "proportional",
            SelectionStrategy::Random => "random",
        })
    }
}

/// The name given to [`SelectionStrategy::from_str`] is not a strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown selection strategy: {}", self.0)
    }
}

impl std::error::Error for UnknownStrategy {}

impl FromStr for SelectionStrategy {
    type Err = UnknownStrategy;

    /// Parses the `-select=` value: `proportional` or `random`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "proportional" => Ok(SelectionStrategy::Proportional),
            "random" => Ok(SelectionStrategy::Random),
            other => Err(UnknownStrategy(other.to_owned())),
        }
    }
}

/// `free + removable` without overflow.
fn reclaimable(space: &PoolSpaceInfo) -> u128 {
    u128::from(space.free) + u128::from(space.removable)
}

/// Whether `random` may pick the pool: `free + removable ≥ gap`.
pub fn has_room_for_random(info: &PoolCostInfo) -> bool {
    reclaimable(&info.space) >= u128::from(info.space.gap)
}

/// Whether `proportional` treats the pool as full: `free + removable ≤ gap`.
///
/// Note the boundary differs from [`has_room_for_random`]: a pool with
/// exactly `gap` bytes reclaimable is eligible for `random` but full here.
pub fn is_full_for_proportional(info: &PoolCostInfo) -> bool {
    // The file size is 0 for migration, so `free + removable − 0 ≤ gap`.
    reclaimable(&info.space) <= u128::from(info.space.gap)
}

/// The part of the removable space counted as available: removable space
/// decays into availability with a half-life set by `breakEven`, measured
/// against the age of the least-recently-used replica.
///
/// Recently used removable space (small `lru`) counts for almost nothing;
/// space whose LRU replica is many half-lives old counts almost fully. A
/// `breakEven` ≤ 0 (or NaN) makes all removable space count at once.
pub fn decayed_removable(space: &PoolSpaceInfo) -> f64 {
    let r = space.removable as f64;
    let b = space.break_even;
    let half_life = if b >= 1.0 {
        2.0 * WEEK_SECONDS
    } else if b > 0.0 {
        // ln b < 0 here, so the half-life is positive; b → 1 makes it huge.
        WEEK_SECONDS * -LN_2 / b.ln()
    } else {
        // b ≤ 0 and NaN alike.
        return r;
    };
    let l = space.lru as f64;
    let undecayed = if l > 0.0 {
        // 1 − 2^(−l/H) via expm1: with a huge H the direct form cancels to 0
        // and would wrongly make all removable space available.
        let fraction = -(-(l / half_life) * LN_2).exp_m1();
        r * half_life * fraction / (l * LN_2)
    } else {
        r
    };
    let decayed = r - undecayed;
    if decayed.is_finite() { decayed.clamp(0.0, r) } else { 0.0 }
}

/// Available space as `proportional` sees it: 0 for a full pool, else
/// `free + decayedRemovable` (the gap is not subtracted).
pub fn available_space(info: &PoolCostInfo) -> f64 {
    if is_full_for_proportional(info) { 0.0 } else { info.space.free as f64 + decayed_removable(&info.space) }
}

/// Writer load: `performanceFactor × moverCostFactor × writers`, forced
/// finite so weights stay comparable (a NaN factor counts as no load).
pub fn writer_load(info: &PoolCostInfo) -> f64 {
    let load = PERFORMANCE_COST_FACTOR * info.mover_cost_factor * info.queues.total_writers() as f64;
    if load.is_nan() { 0.0 } else { load.clamp(-f64::MAX, f64::MAX) }
}

/// Proportional weights, one per candidate: `available^s / 2^(load − minLoad)`
/// for pools that are not full, 0 for full ones (all 0 if all are full).
pub fn proportional_weights<P: Borrow<PoolCostInfo>>(candidates: &[P]) -> Vec<f64> {
    let pools = || candidates.iter().map(Borrow::borrow);
    let min_load = pools().filter(|p| !is_full_for_proportional(p)).map(writer_load).fold(f64::INFINITY, f64::min);
    pools()
        .map(|p| {
            if is_full_for_proportional(p) {
                return 0.0;
            }
            // Loads are finite, so the difference is ≥ 0 or +inf (weight 0).
            let excess = writer_load(p) - min_load;
            let w = available_space(p).powf(SPACE_COST_FACTOR) / excess.exp2();
            if w.is_finite() && w > 0.0 { w } else { 0.0 }
        })
        .collect()
}

fn select_proportional<P: Borrow<PoolCostInfo>>(candidates: &[P], rng: &mut Rng) -> Option<usize> {
    let is_open = |i: &usize| !is_full_for_proportional(candidates[*i].borrow());
    let open = (0..candidates.len()).filter(is_open).count();
    match open {
        0 => return None,
        // Whatever its weight, the only open pool is the one the wheel stops at: no weights
        // to compute and nothing to draw (a job with one target pool does this per file).
        1 => return (0..candidates.len()).find(is_open),
        _ => {}
    }
    let weights = proportional_weights(candidates);
    let total: f64 = weights.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        // Every open pool weighs 0 (e.g. no free space and only freshly used
        // removable space). dCache's roulette would fall off the wheel; the
        // pools do have room, so pick uniformly among them instead.
        return (0..candidates.len()).filter(is_open).nth(rng.below(open));
    }
    let threshold = rng.next_f64() * total;
    let mut cumulative = 0.0;
    for (i, w) in weights.iter().enumerate() {
        cumulative += w;
        if cumulative > threshold {
            return Some(i);
        }
    }
    // Only reachable if rounding put the threshold at the very top.
    weights.iter().rposition(|&w| w > 0.0)
}

fn select_random<P: Borrow<PoolCostInfo>>(candidates: &[P], rng: &mut Rng) -> Option<usize> {
    let eligible: Vec<usize> = (0..candidates.len()).filter(|&i| has_room_for_random(candidates[i].borrow())).collect();
    if eligible.is_empty() { None } else { Some(eligible[rng.below(eligible.len())]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool_info::PoolQueueInfo;

    const TIB: u64 = 1 << 40;
    const DRAWS: usize = 100_000;
    /// Chi-square critical values at p = 0.001 for 1..=9 degrees of freedom.
    const CHI2_CRITICAL_P001: [f64; 9] = [10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877];
    /// Largest allowed |observed − expected| frequency of any one pool. With
    /// 100 000 draws the standard deviation of a frequency is at most
    /// 0.0016, so 0.01 is over 6 sigma: a failure means a real skew.
    const FREQUENCY_TOLERANCE: f64 = 0.01;

    fn pool(name: &str, free: u64) -> PoolCostInfo {
        PoolCostInfo::simple(name, TIB, free, 0)
    }

    fn with_writers(mut p: PoolCostInfo, writers: u32) -> PoolCostInfo {
        p.queues.movers[0].queue.writers = writers;
        p
    }

    fn draw(strategy: SelectionStrategy, pools: &[PoolCostInfo], seed: u64) -> Vec<usize> {
        let mut rng = Rng::seeded(seed);
        let mut counts = vec![0; pools.len()];
        for _ in 0..DRAWS {
            let i = strategy.select(pools, &mut rng).expect("a pool is eligible");
            counts[i] += 1;
        }
        counts
    }

    /// Checks observed counts against expected probabilities: pools with
    /// probability 0 must never be drawn, every frequency must be within
    /// [`FREQUENCY_TOLERANCE`], and the chi-square statistic over the
    /// possible pools must stay below the p = 0.001 critical value.
    fn assert_distribution(counts: &[usize], expected: &[f64]) {
        let n: usize = counts.iter().sum();
        let mut chi2 = 0.0;
        let mut possible = 0;
        for (&c, &p) in counts.iter().zip(expected) {
            let freq = c as f64 / n as f64;
            assert!(
                (freq - p).abs() <= FREQUENCY_TOLERANCE,
                "frequency {freq} vs expected {p}; counts {counts:?}, expected {expected:?}"
            );
            if p == 0.0 {
                assert_eq!(c, 0, "impossible pool drawn; counts {counts:?}");
                continue;
            }
            let e = p * n as f64;
            chi2 += (c as f64 - e).powi(2) / e;
            possible += 1;
        }
        assert!(possible >= 2, "need two possible outcomes for chi-square");
        let critical = CHI2_CRITICAL_P001[possible - 2];
        assert!(chi2 < critical, "chi2 {chi2} ≥ {critical}; counts {counts:?}, expected {expected:?}");
    }

    fn normalized(weights: &[f64]) -> Vec<f64> {
        let total: f64 = weights.iter().sum();
        weights.iter().map(|w| w / total).collect()
    }

    fn assert_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-9, "{actual:?} vs {expected:?}");
        }
    }

    #[test]
    fn proportional_picks_equal_pools_uniformly() {
        let pools: Vec<_> = (0..4).map(|i| pool(&format!("p{i}"), TIB / 2)).collect();
        let expected = normalized(&proportional_weights(&pools));
        assert_close(&expected, &[0.25; 4]);
        assert_distribution(&draw(SelectionStrategy::Proportional, &pools, 1), &expected);
    }

    #[test]
    fn proportional_follows_free_space_one_two_seven() {
        let pools = [pool("a", 100 << 30), pool("b", 200 << 30), pool("c", 700 << 30)];
        let expected = normalized(&proportional_weights(&pools));
        assert_close(&expected, &[0.1, 0.2, 0.7]);
        assert_distribution(&draw(SelectionStrategy::Proportional, &pools, 2), &expected);
    }

    #[test]
    fn proportional_halves_weight_per_unit_of_writer_load() {
        // moverCostFactor 0.5: 2 writers = load 1 = half weight, 4 = quarter.
        let pools = [
            with_writers(pool("idle", TIB / 2), 0),
            with_writers(pool("busy", TIB / 2), 2),
            with_writers(pool("busier", TIB / 2), 4),
        ];
        let expected = normalized(&proportional_weights(&pools));
        assert_close(&expected, &[4.0 / 7.0, 2.0 / 7.0, 1.0 / 7.0]);
        assert_distribution(&draw(SelectionStrategy::Proportional, &pools, 3), &expected);
    }

    #[test]
    fn proportional_load_is_relative_to_least_loaded_pool() {
        let pools = [with_writers(pool("a", TIB / 2), 100), with_writers(pool("b", TIB / 2), 100)];
        assert_close(&proportional_weights(&pools), &[(TIB / 2) as f64; 2]);
    }

    #[test]
    fn proportional_counts_writers_of_every_queue() {
        let mut busy = pool("busy", TIB / 2);
        let one_writer = PoolQueueInfo { writers: 1, ..PoolQueueInfo::default() };
        busy.queues.store = Some(one_writer);
        busy.queues.restore = Some(one_writer);
        busy.queues.p2p_server = Some(one_writer);
        busy.queues.p2p_client = Some(one_writer);
        let weights = proportional_weights(&[pool("idle", TIB / 2), busy]);
        // 4 writers × 0.5 = load 2.
        assert_close(&normalized(&weights), &[0.8, 0.2]);
    }

    #[test]
    fn proportional_never_picks_a_full_pool() {
        let mut full = pool("full", 10 << 30);
        full.space.gap = 20 << 30;
        full.space.removable = 5 << 30;
        let pools = [pool("a", 100 << 30), full, pool("b", 300 << 30)];
        let expected = normalized(&proportional_weights(&pools));
        assert_close(&expected, &[0.25, 0.0, 0.75]);
        assert_distribution(&draw(SelectionStrategy::Proportional, &pools, 4), &expected);
    }

    #[test]
    fn pool_with_free_equal_gap_is_full_for_proportional() {
        let mut p = pool("edge", 4 << 30);
        p.space.removable = 1 << 30;
        p.space.gap = 5 << 30;
        assert!(is_full_for_proportional(&p));
        assert!(has_room_for_random(&p));
        assert_eq!(available_space(&p), 0.0);
        let mut rng = Rng::seeded(5);
        assert_eq!(SelectionStrategy::Proportional.select(&[&p], &mut rng), None);
        assert_eq!(SelectionStrategy::Random.select(&[&p], &mut rng), Some(0));
    }

    #[test]
    fn the_only_open_pool_is_picked_without_a_draw() {
        let mut full = pool("full", 10 << 30);
        full.space.gap = 20 << 30;
        // An open pool of weight 0 (no free space, only fresh removable space) counts too.
        let mut weightless = PoolCostInfo::simple("weightless", TIB, 0, 1 << 30);
        weightless.space.lru = 0;
        assert_eq!(proportional_weights(&[&weightless]), vec![0.0]);
        for (pools, expected) in [
            (vec![full.clone(), pool("open", 1 << 30), full.clone()], 1),
            (vec![full.clone(), weightless], 1),
            (vec![pool("alone", 1 << 30)], 0),
        ] {
            let mut rng = Rng::seeded(8);
            assert_eq!(SelectionStrategy::Proportional.select(&pools, &mut rng), Some(expected));
            assert_eq!(rng.next_u64(), Rng::seeded(8).next_u64(), "nothing was drawn");
        }
    }

    #[test]
    fn proportional_returns_none_when_all_pools_are_full() {
        let pools = [pool("a", 0), pool("b", 0)];
        let mut rng = Rng::seeded(6);
        assert_eq!(SelectionStrategy::Proportional.select(&pools, &mut rng), None);
        assert_eq!(proportional_weights(&pools), vec![0.0, 0.0]);
    }

    #[test]
    fn no_candidates_select_nothing() {
        let pools: [PoolCostInfo; 0] = [];
        let mut rng = Rng::seeded(7);
        assert_eq!(SelectionStrategy::Proportional.select(&pools, &mut rng), None);
        assert_eq!(SelectionStrategy::Random.select(&pools, &mut rng), None);
        assert!(proportional_weights(&pools).is_empty());
    }

    #[test]
    fn removable_space_decays_with_half_life_from_break_even() {
        let mut space = pool("p", 0).space;
        space.removable = 1_000_000;
        // breakEven 0.5 → half-life one week; lru one week:
        // undecayed = r × W × (1 − ½) / (W ln 2) = r / (2 ln 2).
        space.break_even = 0.5;
        space.lru = 604_800;
        let expected = 1_000_000.0 * (1.0 - 0.5 / LN_2);
        assert!((decayed_removable(&space) - expected).abs() < 1e-6);
        // breakEven ≥ 1 → half-life two weeks; lru two weeks gives the same.
        space.break_even = 1.0;
        space.lru = 2 * 604_800;
        assert!((decayed_removable(&space) - expected).abs() < 1e-6);
    }

    #[test]
    fn fresh_removable_space_counts_nothing_and_old_counts_almost_all() {
        let mut space = pool("p", 0).space;
        space.removable = 1_000_000;
        space.break_even = 0.7;
        space.lru = 0;
        assert_eq!(decayed_removable(&space), 0.0);
        space.lru = 1;
        assert!(decayed_removable(&space) < 1.0);
        space.lru = 1_000 * 604_800;
        assert!(decayed_removable(&space) > 990_000.0);
    }

    #[test]
    fn non_positive_break_even_counts_all_removable_space() {
        let mut space = pool("p", 0).space;
        space.removable = 1234;
        for b in [0.0, -1.0, f64::NEG_INFINITY, f64::NAN] {
            space.break_even = b;
            assert_eq!(decayed_removable(&space), 1234.0, "breakEven {b}");
        }
    }

    #[test]
    fn break_even_just_below_one_does_not_cancel_to_full_availability() {
        let mut space = pool("p", 0).space;
        space.removable = 1_000_000;
        space.break_even = 1.0 - f64::EPSILON;
        space.lru = 3600;
        assert!(decayed_removable(&space) < 1.0);
    }

    #[test]
    fn proportional_weighs_removable_space_by_lru_and_break_even() {
        let gib = 1u64 << 30;
        let mut fresh = PoolCostInfo::simple("fresh", TIB, 100 * gib, 400 * gib);
        fresh.space.lru = 60;
        let mut old = PoolCostInfo::simple("old", TIB, 100 * gib, 400 * gib);
        old.space.lru = 8 * 604_800;
        let mut no_decay = PoolCostInfo::simple("nodecay", TIB, 100 * gib, 400 * gib);
        no_decay.space.break_even = 0.0;
        let mut slow = PoolCostInfo::simple("slow", TIB, 100 * gib, 400 * gib);
        slow.space.break_even = 1.5;
        slow.space.lru = 2 * 604_800;
        let pools = [fresh, old, no_decay, slow];
        let weights = proportional_weights(&pools);
        for (p, w) in pools.iter().zip(&weights) {
            let expected = p.space.free as f64 + decayed_removable(&p.space);
            assert!((w - expected).abs() < 1.0, "{}: {w} vs {expected}", p.name);
        }
        assert!(weights[0] < weights[3] && weights[3] < weights[1] && weights[1] < weights[2]);
        let expected = normalized(&weights);
        assert_distribution(&draw(SelectionStrategy::Proportional, &pools, 8), &expected);
    }

    #[test]
    fn random_is_uniform_over_pools_with_room() {
        // Very different sizes and loads must not matter to `random`.
        let pools =
            [pool("a", 1), pool("b", TIB), with_writers(pool("c", 100 << 30), 50), pool("d", 7 << 30), pool("e", 0)];
        let expected = [0.2; 5];
        assert_distribution(&draw(SelectionStrategy::Random, &pools, 9), &expected);
    }

    #[test]
    fn random_skips_pools_below_gap_but_takes_pool_at_gap() {
        let mut below = pool("below", 1 << 30);
        below.space.gap = 2 << 30;
        let mut at_gap = pool("at", 1 << 30);
        at_gap.space.removable = 1 << 30;
        at_gap.space.gap = 2 << 30;
        let pools = [pool("a", TIB), below, at_gap, pool("b", 1)];
        let third = 1.0 / 3.0;
        assert_distribution(&draw(SelectionStrategy::Random, &pools, 10), &[third, 0.0, third, third]);
    }

    #[test]
    fn random_returns_none_when_every_pool_is_below_gap() {
        let mut p = pool("p", 1);
        p.space.gap = 2;
        let mut rng = Rng::seeded(11);
        assert_eq!(SelectionStrategy::Random.select(&[p], &mut rng), None);
    }

    #[test]
    fn open_pools_of_zero_weight_are_picked_uniformly() {
        // No free space, removable space used a second ago: not full, but
        // available ≈ 0, so every weight is 0.
        let mut pools = Vec::new();
        for name in ["a", "b"] {
            let mut p = PoolCostInfo::simple(name, TIB, 0, 1 << 30);
            p.space.lru = 0;
            pools.push(p);
        }
        pools.push(pool("full", 0));
        assert_eq!(proportional_weights(&pools), vec![0.0; 3]);
        assert_distribution(&draw(SelectionStrategy::Proportional, &pools, 12), &[0.5, 0.5, 0.0]);
    }

    #[test]
    fn insane_cost_data_does_not_panic() {
        let mut pools = Vec::new();
        let factors = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -3.0, f64::MAX];
        let break_evens = [f64::NAN, f64::INFINITY, -0.5, f64::MIN_POSITIVE, 1e-300];
        let lrus = [i64::MIN, i64::MAX, -1, 0, 1];
        for (i, ((&mcf, &b), &lru)) in factors.iter().zip(&break_evens).zip(&lrus).enumerate() {
            let mut p = PoolCostInfo::simple(format!("p{i}"), u64::MAX, u64::MAX, u64::MAX);
            p.mover_cost_factor = mcf;
            p.space.break_even = b;
            p.space.lru = lru;
            p.space.gap = u64::MAX;
            p.queues.movers[0].queue = PoolQueueInfo {
                active: u32::MAX,
                max_active: 0,
                queued: u32::MAX,
                readers: u32::MAX,
                writers: u32::MAX,
            };
            pools.push(p);
        }
        for w in proportional_weights(&pools) {
            assert!(w.is_finite() && w >= 0.0);
        }
        let mut rng = Rng::seeded(13);
        for _ in 0..1000 {
            for strategy in [SelectionStrategy::Proportional, SelectionStrategy::Random] {
                if let Some(i) = strategy.select(&pools, &mut rng) {
                    assert!(i < pools.len());
                }
            }
        }
        for p in &pools {
            let _ = p.cpu_cost();
        }
    }

    #[test]
    fn same_seed_gives_same_choices() {
        let pools = [pool("a", 1 << 30), pool("b", 2 << 30), pool("c", 3 << 30)];
        let picks = |seed| {
            let mut rng = Rng::seeded(seed);
            (0..100).map(|_| SelectionStrategy::Proportional.select(&pools, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(picks(14), picks(14));
    }

    #[test]
    fn select_accepts_borrowed_candidates() {
        let a = pool("a", 0);
        let b = pool("b", 1 << 30);
        let borrowed: Vec<&PoolCostInfo> = vec![&a, &b];
        let mut rng = Rng::seeded(15);
        assert_eq!(SelectionStrategy::Proportional.select(&borrowed, &mut rng), Some(1));
    }

    #[test]
    fn strategy_names_round_trip() {
        for s in [SelectionStrategy::Proportional, SelectionStrategy::Random] {
            assert_eq!(s.to_string().parse::<SelectionStrategy>(), Ok(s));
        }
        assert_eq!(SelectionStrategy::default(), SelectionStrategy::Proportional);
        assert!("best".parse::<SelectionStrategy>().is_err());
    }
}
