//! Choosing one deployment of a group: drop those cooling down or at their limits, prefer ones
//! not yet tried for this request, keep the lowest `order`, then apply the strategy.

use std::sync::Arc;
use std::time::Duration;

use super::Deployment;
use super::settings::Strategy;
use super::state::until_next_minute;

/// Why no deployment of a group can take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Every deployment is cooling down; the first cooldown ends after this long.
    Cooling(Duration),
    /// Every deployment not cooling is at its rpm / tpm / parallel limit; the first frees up
    /// after about this long.
    Saturated(Duration),
}

/// The strategy and its parameters.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// How to pick.
    pub strategy: Strategy,
    /// Latency samples older than this do not count.
    pub latency_ttl: Duration,
    /// Deployments within this fraction of the fastest count as equally fast.
    pub lowest_latency_buffer: f64,
}

/// Picks a deployment of `group` at time `now` (ms). `tried` are the ids already tried for this
/// request; `pinned` (a fallback naming one deployment by id) ignores cooldowns.
pub fn choose(
    group: &[Arc<Deployment>],
    policy: &Policy,
    now: u64,
    tried: &[String],
    pinned: bool,
    rng: &mut fastrand::Rng,
) -> Result<Arc<Deployment>, Unavailable> {
    let awake: Vec<&Arc<Deployment>> = group
        .iter()
        .filter(|d| pinned || d.state.cooling_until(now).is_none())
        .collect();
    if awake.is_empty() {
        let first_end = group
            .iter()
            .filter_map(|d| d.state.cooling_until(now))
            .min()
            .unwrap_or(now);
        return Err(Unavailable::Cooling(Duration::from_millis(
            first_end.saturating_sub(now).max(1),
        )));
    }
    let mut free: Vec<&Arc<Deployment>> = awake
        .iter()
        .copied()
        .filter(|d| has_capacity(d, now))
        .collect();
    if free.is_empty() {
        // Parallel slots free up within a request's time; minute windows at the minute's end.
        let minute_bound = awake.iter().any(|d| {
            let (requests, tokens) = d.state.usage(now);
            d.limits.rpm.is_some_and(|l| requests >= l) || d.limits.tpm.is_some_and(|l| tokens >= l)
        });
        let wait = if minute_bound {
            until_next_minute(now)
        } else {
            Duration::from_secs(1)
        };
        return Err(Unavailable::Saturated(wait));
    }
    if free.iter().any(|d| !tried.contains(&d.id)) {
        free.retain(|d| !tried.contains(&d.id));
    }
    if let Some(lowest) = free
        .iter()
        .map(|d| d.limits.order.unwrap_or(i64::MAX))
        .min()
    {
        free.retain(|d| d.limits.order.unwrap_or(i64::MAX) == lowest);
    }
    let index = match policy.strategy {
        Strategy::SimpleShuffle => weighted(&shuffle_weights(&free), rng),
        Strategy::LeastBusy => lowest(&free, rng, |d| f64::from(d.state.in_flight())),
        Strategy::UsageBased => lowest(&free, rng, |d| {
            let (requests, tokens) = d.state.usage(now);
            // Share of capacity used; without limits, raw counts (tokens first).
            match (d.limits.tpm, d.limits.rpm) {
                (Some(tpm), _) if tpm > 0 => tokens as f64 / tpm as f64,
                (_, Some(rpm)) if rpm > 0 => requests as f64 / rpm as f64,
                _ => tokens as f64 + requests as f64 * 1e-6,
            }
        }),
        Strategy::CostBased => lowest(&free, rng, |d| {
            match (d.limits.input_cost, d.limits.output_cost) {
                (None, None) => f64::INFINITY,
                (i, o) => i.unwrap_or(0.0) + o.unwrap_or(0.0),
            }
        }),
        Strategy::LatencyBased => {
            // Unmeasured deployments go first so every one gets measured.
            let latencies: Vec<f64> = free
                .iter()
                .map(|d| d.state.latency(now, policy.latency_ttl).unwrap_or(0.0))
                .collect();
            let best = latencies.iter().copied().fold(f64::INFINITY, f64::min);
            let bound = best * (1.0 + policy.lowest_latency_buffer);
            let near: Vec<usize> = (0..free.len()).filter(|&i| latencies[i] <= bound).collect();
            near[rng.usize(..near.len())]
        }
    };
    Ok(free[index].clone())
}

fn has_capacity(d: &Deployment, now: u64) -> bool {
    let (requests, tokens) = d.state.usage(now);
    d.limits.rpm.is_none_or(|l| requests < l)
        && d.limits.tpm.is_none_or(|l| tokens < l)
        && d.limits
            .max_parallel
            .is_none_or(|l| d.state.in_flight() < l)
}

/// `weight` when any deployment sets it, else `rpm`, else `tpm`, else equal.
fn shuffle_weights(free: &[&Arc<Deployment>]) -> Vec<f64> {
    let pick: [fn(&Deployment) -> Option<f64>; 3] = [
        |d| d.limits.weight,
        |d| d.limits.rpm.map(|v| v as f64),
        |d| d.limits.tpm.map(|v| v as f64),
    ];
    for key in pick {
        if free.iter().any(|d| key(d).is_some()) {
            return free.iter().map(|d| key(d).unwrap_or(0.0)).collect();
        }
    }
    vec![1.0; free.len()]
}

/// A random index with probability proportional to its weight (uniform when all are zero).
pub fn weighted(weights: &[f64], rng: &mut fastrand::Rng) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return rng.usize(..weights.len().max(1));
    }
    let mut point = rng.f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if point < *w {
            return i;
        }
        point -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// The index of the lowest score, ties broken at random.
fn lowest(
    free: &[&Arc<Deployment>],
    rng: &mut fastrand::Rng,
    score: impl Fn(&Deployment) -> f64,
) -> usize {
    let scores: Vec<f64> = free.iter().map(|d| score(d)).collect();
    let best = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let ties: Vec<usize> = (0..scores.len())
        .filter(|&i| scores[i] <= best || (best.is_infinite() && scores[i].is_infinite()))
        .collect();
    ties[rng.usize(..ties.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Env};
    use crate::gateway::registry::Registry;
    use crate::router::state::now_ms;

    fn group(yaml_params: &[&str]) -> Vec<Arc<Deployment>> {
        let mut yaml = String::from("model_list:\n");
        for (i, p) in yaml_params.iter().enumerate() {
            yaml.push_str(&format!(
                "  - {{model_name: g, litellm_params: {{model: openai/m, api_key: k{p}}}, model_info: {{id: d{i}}}}}\n"
            ));
        }
        let config = Config::from_yaml_with_env(&yaml, &Env::default()).unwrap();
        let (registry, _) = Registry::from_config(&config).unwrap();
        registry.target("g").unwrap().deployments
    }

    fn policy(strategy: Strategy) -> Policy {
        Policy {
            strategy,
            latency_ttl: Duration::from_secs(60),
            lowest_latency_buffer: 0.0,
        }
    }

    /// Picks `n` times and returns how often each deployment was picked.
    fn histogram(g: &[Arc<Deployment>], strategy: Strategy, n: usize) -> Vec<usize> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = vec![0; g.len()];
        for _ in 0..n {
            let d = choose(g, &policy(strategy), now_ms(), &[], false, &mut rng).unwrap();
            counts[g.iter().position(|x| x.id == d.id).unwrap()] += 1;
        }
        counts
    }

    /// Observed share within `tolerance` (absolute) of the expected share.
    fn assert_shares(counts: &[usize], expected: &[f64], tolerance: f64) {
        let total: usize = counts.iter().sum();
        for (c, e) in counts.iter().zip(expected) {
            let share = *c as f64 / total as f64;
            assert!(
                (share - e).abs() <= tolerance,
                "share {share:.3} vs expected {e:.3} ({counts:?})"
            );
        }
    }

    #[test]
    fn simple_shuffle_follows_weight_then_rpm_then_tpm() {
        // 20 000 draws: the standard error of a share is below 0.0035, so 0.02 is > 5 sigma.
        let g = group(&[", weight: 1", ", weight: 3", ""]);
        assert_shares(
            &histogram(&g, Strategy::SimpleShuffle, 20_000),
            &[0.25, 0.75, 0.0],
            0.02,
        );
        let g = group(&[", rpm: 100", ", rpm: 300"]);
        assert_shares(
            &histogram(&g, Strategy::SimpleShuffle, 20_000),
            &[0.25, 0.75],
            0.02,
        );
        let g = group(&[", tpm: 1000", ", tpm: 1000", ", tpm: 2000"]);
        assert_shares(
            &histogram(&g, Strategy::SimpleShuffle, 20_000),
            &[0.25, 0.25, 0.5],
            0.02,
        );
        let g = group(&["", "", "", ""]);
        assert_shares(
            &histogram(&g, Strategy::SimpleShuffle, 20_000),
            &[0.25; 4],
            0.02,
        );
    }

    #[test]
    fn least_busy_picks_the_fewest_in_flight() {
        let g = group(&["", "", ""]);
        g[0].state.enter();
        g[0].state.enter();
        g[2].state.enter();
        assert_eq!(histogram(&g, Strategy::LeastBusy, 100), [0, 100, 0]);
        g[1].state.enter();
        g[1].state.enter();
        // d1 and d2 tie at... d2 has 1, d1 has 2: d2 alone.
        assert_eq!(histogram(&g, Strategy::LeastBusy, 100), [0, 0, 100]);
        g[2].state.enter();
        // Now all have 2: uniform.
        assert_shares(
            &histogram(&g, Strategy::LeastBusy, 9_000),
            &[1.0 / 3.0; 3],
            0.03,
        );
    }

    #[test]
    fn latency_prefers_the_fastest_within_the_buffer() {
        let g = group(&["", "", ""]);
        let now = now_ms();
        g[0].state.note_success(now, Duration::from_millis(100));
        g[1].state.note_success(now, Duration::from_millis(120));
        g[2].state.note_success(now, Duration::from_millis(400));
        assert_eq!(histogram(&g, Strategy::LatencyBased, 100), [100, 0, 0]);
        let mut rng = fastrand::Rng::with_seed(1);
        let wide = Policy {
            lowest_latency_buffer: 0.5,
            ..policy(Strategy::LatencyBased)
        };
        let mut seen = [0; 3];
        for _ in 0..1000 {
            let d = choose(&g, &wide, now, &[], false, &mut rng).unwrap();
            seen[g.iter().position(|x| x.id == d.id).unwrap()] += 1;
        }
        assert!(seen[0] > 400 && seen[1] > 400 && seen[2] == 0, "{seen:?}");
        // An unmeasured deployment is tried first.
        let g = group(&["", ""]);
        g[0].state.note_success(now, Duration::from_millis(10));
        assert_eq!(histogram(&g, Strategy::LatencyBased, 50), [0, 50]);
    }

    #[test]
    fn usage_and_cost_strategies() {
        let g = group(&[", tpm: 1000", ", tpm: 10000"]);
        let now = now_ms();
        g[0].state.note_tokens(now, 100);
        g[1].state.note_tokens(now, 500);
        assert_eq!(histogram(&g, Strategy::UsageBased, 50), [0, 50], "5% < 10%");
        let g = group(&[
            ", input_cost_per_token: 0.00001, output_cost_per_token: 0.00003",
            ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000002",
            "",
        ]);
        assert_eq!(histogram(&g, Strategy::CostBased, 50), [0, 50, 0]);
    }

    #[test]
    fn cooldowns_limits_order_and_retries_elsewhere() {
        let g = group(&[", order: 1", ", order: 2", ", order: 2"]);
        assert_eq!(
            histogram(&g, Strategy::SimpleShuffle, 50),
            [50, 0, 0],
            "order 1 first"
        );
        let now = now_ms();
        g[0].state.cool_until(now + 60_000);
        let counts = histogram(&g, Strategy::SimpleShuffle, 1000);
        assert!(
            counts[0] == 0 && counts[1] > 400 && counts[2] > 400,
            "{counts:?}"
        );
        let mut rng = fastrand::Rng::with_seed(3);
        let tried = vec!["d1".to_string()];
        for _ in 0..50 {
            let d = choose(
                &g,
                &policy(Strategy::SimpleShuffle),
                now,
                &tried,
                false,
                &mut rng,
            );
            assert_eq!(d.unwrap().id, "d2", "an untried deployment first");
        }
        g[1].state.cool_until(now + 2_000);
        g[2].state.cool_until(now + 9_000);
        let err = choose(
            &g,
            &policy(Strategy::SimpleShuffle),
            now,
            &[],
            false,
            &mut rng,
        );
        assert_eq!(
            err.unwrap_err(),
            Unavailable::Cooling(Duration::from_millis(2_000))
        );
        let pinned = choose(
            &g[..1],
            &policy(Strategy::SimpleShuffle),
            now,
            &[],
            true,
            &mut rng,
        );
        assert_eq!(
            pinned.unwrap().id,
            "d0",
            "a pinned deployment ignores its cooldown"
        );

        let g = group(&[", rpm: 1", ", max_parallel_requests: 1"]);
        g[0].state.note_request(now);
        g[1].state.enter();
        match choose(
            &g,
            &policy(Strategy::SimpleShuffle),
            now,
            &[],
            false,
            &mut rng,
        ) {
            Err(Unavailable::Saturated(wait)) => assert!(wait <= Duration::from_secs(60)),
            other => panic!("{other:?}"),
        }
        g[1].state.leave();
        let d = choose(
            &g,
            &policy(Strategy::SimpleShuffle),
            now,
            &[],
            false,
            &mut rng,
        )
        .unwrap();
        assert_eq!(d.id, "d1");
    }

    #[test]
    fn weighted_edges() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(weighted(&[0.0, 0.0, 5.0], &mut rng), 2);
        let i = weighted(&[0.0, 0.0], &mut rng);
        assert!(i < 2);
    }
}
