//! The router's work per request on the happy path, without network: pick a deployment of a
//! group (1, 4 or 16 deployments, each strategy), hold its in-flight slot, record the success
//! and the tokens used. `cargo bench -p switchyard --bench routing`.

// Bench setup code: a failure is a broken bench.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use switchyard::config::{Config, Env};
use switchyard::gateway::registry::Registry;
use switchyard::router::{Router, Target};

/// A router with `strategy` and a group `g` of `n` deployments with rpm/tpm limits and prices,
/// so every strategy has something to weigh.
fn setup(strategy: &str, n: usize) -> (Router, Target) {
    let mut yaml = String::from("model_list:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{model_name: g, litellm_params: {{model: openai/m, api_key: k, rpm: 1000000000, \
             tpm: 1000000000000, input_cost_per_token: 0.00000{}, output_cost_per_token: 0.000002}}, \
             model_info: {{id: d{i}}}}}\n",
            i % 9 + 1
        ));
    }
    yaml.push_str(&format!(
        "router_settings: {{routing_strategy: {strategy}}}\n"
    ));
    let config = Config::from_yaml_with_env(&yaml, &Env::default()).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    let target = registry.target("g").unwrap();
    // Give latency-based routing samples to compare.
    for (i, d) in target.deployments.iter().enumerate() {
        d.state.note_success(
            switchyard::router::state::now_ms(),
            Duration::from_millis(100 + i as u64),
        );
    }
    (Router::new(config.router.clone()), target)
}

fn happy_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("route");
    for strategy in [
        "simple-shuffle",
        "least-busy",
        "latency-based-routing",
        "usage-based-routing-v2",
        "cost-based-routing",
    ] {
        for n in [1, 4, 16] {
            let (router, target) = setup(strategy, n);
            group.bench_with_input(BenchmarkId::new(strategy, n), &n, |b, _| {
                b.iter(|| {
                    // Without Redis, selection never waits: the future is ready at once.
                    let deployment = router
                        .select(black_box(&target), &[])
                        .now_or_never()
                        .expect("ready")
                        .expect("a deployment");
                    let in_flight = router.begin(&deployment);
                    router.succeeded(&deployment, Duration::from_millis(120));
                    router.used_tokens(&deployment, 300);
                    drop(in_flight);
                    deployment
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, happy_path);
criterion_main!(benches);
