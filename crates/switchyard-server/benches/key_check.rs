//! The cost of a virtual key's checks on the request path, with 10,000 keys (in 100 teams)
//! loaded: hashing the presented key, the lookup and the constant-time comparison, expiry,
//! blocks, the model check, the budget check and a local rate-limit admission (rpm and
//! requests in flight), as `POST /v1/responses` runs them before calling a provider.
//! Criterion's mean, then a p99 over 200,000 single checks timed one by one.
//!
//! Then the same with the limits and budgets shared through Redis, when
//! `SWITCHYARD_BENCH_REDIS_URL` (else `SWITCHYARD_TEST_REDIS_URL`) names one: each check then
//! also pays the budget script (key and team in one call), an rpm script per scope and the
//! requests-in-flight script, each a round trip, and the releases sent in the background.

#![allow(clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard::router::settings::RedisSettings;
use switchyard_server::keys::{KeyStore, Team, VirtualKey};
use switchyard_server::spend::{SpendStore, sqlite_url};

const KEYS: usize = 10_000;
const TEAMS: usize = 100;

fn key_text(n: usize) -> String {
    format!("sk-bench-{n:08}-abcdefghijklmnop")
}

async fn loaded(redis: Option<RedisSettings>) -> Arc<KeyStore> {
    let shared = redis.is_some();
    let dir = std::env::temp_dir().join(format!("swy-key-bench-{}-{shared}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = SpendStore::open(&sqlite_url(&dir.join("keys.db")))
        .await
        .expect("database");
    let keys = KeyStore::start(store.database(), redis)
        .await
        .expect("key store");
    let until = Instant::now() + Duration::from_secs(5);
    while shared && !keys.limiter().connected() {
        assert!(Instant::now() < until, "Redis connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
async fn check(keys: &KeyStore, text: &str, request: usize) {
    let auth = keys.authenticate(text).await.expect("a valid key");
    keys.check_model(&auth, "claude-sonnet-4-5", None)
        .expect("allowed model");
    // Each request reserves its estimated cost on the key's and team's budgets.
    let reserve = switchyard_server::keys::BudgetReserve {
        request_id: format!("bench-request-{request}"),
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
    run(c, "10k keys loaded", None);
    let url = std::env::var("SWITCHYARD_BENCH_REDIS_URL")
        .or_else(|_| std::env::var("SWITCHYARD_TEST_REDIS_URL"));
    match url {
        Ok(url) => {
            let key_prefix = format!("swy-key-bench-{}", std::process::id());
            run(
                c,
                "10k keys loaded, Redis",
                Some(RedisSettings { url, key_prefix }),
            );
        }
        Err(_) => println!("key_check with Redis: skipped (no SWITCHYARD_BENCH_REDIS_URL)"),
    }
}

fn run(c: &mut Criterion, name: &str, redis: Option<RedisSettings>) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let keys = runtime.block_on(loaded(redis));
    assert_eq!(keys.counts(), (KEYS, TEAMS));
    let texts: Vec<String> = (0..KEYS).map(key_text).collect();
    let mut n = 0;
    let mut request = 0;
    let mut group = c.benchmark_group("key_check");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function(name, |b| {
        // Each iteration also pays for one `block_on` (the p99 below does not).
        b.iter(|| {
            n = (n + 7919) % KEYS;
            request += 1;
            runtime.block_on(check(&keys, &texts[n], request))
        })
    });
    group.finish();

    // Criterion reports means; the tail is what a request feels.
    let count = if name.ends_with("Redis") {
        20_000
    } else {
        200_000
    };
    let mut samples: Vec<Duration> = Vec::with_capacity(count);
    runtime.block_on(async {
        for i in 0..count {
            let text = &texts[(i * 7919) % KEYS];
            let started = Instant::now();
            check(&keys, text, usize::MAX - i).await;
            samples.push(started.elapsed());
        }
    });
    samples.sort_unstable();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "key_check, {name} ({count} checks): mean {:?}, p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
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
