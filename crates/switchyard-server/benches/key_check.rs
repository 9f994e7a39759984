//! The cost of a virtual key's checks on the request path, with 10,000 keys (in 100 teams)
//! loaded: hashing the presented key, the lookup and the constant-time comparison, expiry,
//! blocks, the model check, the budget check and a local rate-limit admission (rpm and
//! requests in flight), as `POST /v1/responses` runs them before calling a provider.
//! Criterion's mean, then a p99 over 200,000 single checks timed one by one.

#![allow(clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_server::keys::{KeyStore, Team, VirtualKey};
use switchyard_server::spend::{SpendStore, sqlite_url};

const KEYS: usize = 10_000;
const TEAMS: usize = 100;

fn key_text(n: usize) -> String {
    format!("sk-bench-{n:08}-abcdefghijklmnop")
}

async fn loaded() -> Arc<KeyStore> {
    let dir = std::env::temp_dir().join(format!("swy-key-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = SpendStore::open(&sqlite_url(&dir.join("keys.db")))
        .await
        .expect("database");
    let keys = KeyStore::start(store.database(), None)
        .await
        .expect("key store");
    for t in 0..TEAMS {
        keys.cache_team(Team {
            team_id: format!("team-{t}"),
            models: vec!["gpt-4o".into(), "claude-*".into()],
            max_budget: Some(1000.0),
            rpm_limit: Some(1_000_000_000),
            ..Team::default()
        });
    }
    for n in 0..KEYS {
        let text = key_text(n);
        keys.cache_key(
            VirtualKey {
                token: switchyard_server::keys::hash_key(&text),
                team_id: Some(format!("team-{}", n % TEAMS)),
                models: vec!["gpt-4o".into(), "claude-*".into()],
                max_budget: Some(100.0),
                rpm_limit: Some(1_000_000_000),
                max_parallel_requests: Some(1_000_000),
                expires: Some(i64::MAX / 2),
                ..VirtualKey::default()
            },
            None,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    keys
}

/// One request's checks, as `identity::check_key` and the middleware make them.
async fn check(keys: &KeyStore, text: &str) {
    let auth = keys.authenticate(text).await.expect("a valid key");
    keys.check_model(&auth, "claude-sonnet-4-5", None)
        .expect("allowed model");
    // Each request reserves its estimated cost on the key's and team's budgets.
    let reserve = switchyard_server::keys::BudgetReserve {
        request_id: "bench-request".into(),
        cost: 1e-6,
    };
    let hold = keys
        .check_budget(&auth, Some(reserve))
        .await
        .expect("within budget");
    let admitted = keys.admit(&auth).await.expect("within limits");
    drop((admitted, hold));
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let keys = runtime.block_on(loaded());
    assert_eq!(keys.counts(), (KEYS, TEAMS));
    let texts: Vec<String> = (0..KEYS).map(key_text).collect();
    let mut n = 0;
    let mut group = c.benchmark_group("key_check");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("10k keys loaded", |b| {
        // Each iteration also pays for one `block_on` (the p99 below does not).
        b.iter(|| {
            n = (n + 7919) % KEYS;
            runtime.block_on(check(&keys, &texts[n]))
        })
    });
    group.finish();

    // Criterion reports means; the tail is what a request feels.
    let mut samples: Vec<Duration> = Vec::with_capacity(200_000);
    runtime.block_on(async {
        for i in 0..200_000 {
            let text = &texts[(i * 7919) % KEYS];
            let started = Instant::now();
            check(&keys, text).await;
            samples.push(started.elapsed());
        }
    });
    samples.sort_unstable();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "key_check, {KEYS} keys loaded: mean {:?}, p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        mean,
        at(0.50),
        at(0.99),
        at(0.999),
        samples[samples.len() - 1]
    );
    keys.stop();
}

criterion_group!(benches, bench);
criterion_main!(benches);
