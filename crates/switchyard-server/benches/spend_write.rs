//! The spend-log writer's cost per row: batches of 500 rows (the writer's batch size) written
//! to a SQLite file, as under sustained load. `SWITCHYARD_BENCH_DATABASE_URL` (a database the
//! bench may fill) adds the same against PostgreSQL.

#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchyard::accounting::{RequestLog, TokenCounts};
use switchyard_server::spend::{BATCH_ROWS, SpendStore, sqlite_url};

fn row(n: u64) -> Arc<RequestLog> {
    let now = 1_790_000_000_000 + n as i64;
    Arc::new(RequestLog {
        request_id: switchyard::ids::request_id(),
        response_id: Some(switchyard::ids::response_id()),
        call_type: "responses",
        route: Some("/v1/responses".into()),
        api_key_hash: Some("5e8ff9bf55ba3508199d22e984129be6".repeat(2)),
        end_user: Some(format!("user-{}", n % 50)),
        model_group: Some("gpt-4.1-mini".into()),
        model: Some("gpt-4.1-mini".into()),
        deployment_id: Some("deployment-1".into()),
        provider: Some("openai".into()),
        api_base: Some("https://api.openai.com/v1".into()),
        stream: n.is_multiple_of(2),
        status: "success",
        outcome: "completed",
        http_status: 200,
        attempts: 1,
        usage: TokenCounts {
            input_tokens: 1200,
            cached_tokens: 1024,
            output_tokens: 300,
            total_tokens: 1500,
            ..TokenCounts::default()
        },
        cost: Some(0.00042),
        start_time_ms: now,
        completion_start_time_ms: Some(now + 150),
        end_time_ms: now + 900,
        duration_ms: 900.0,
        ttft_ms: Some(150.0),
        request_tags: vec!["team-a".into()],
        client_ip: Some("10.0.0.7".into()),
        ..RequestLog::default()
    })
}

fn bench_store(c: &mut Criterion, name: &str, url: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = runtime
        .block_on(SpendStore::open(url))
        .expect("open the store");
    let mut n = 0;
    let mut group = c.benchmark_group("spend_write");
    group.throughput(Throughput::Elements(BATCH_ROWS as u64));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function(format!("{name}: a batch of {BATCH_ROWS} rows"), |b| {
        b.iter_batched(
            || {
                (0..BATCH_ROWS)
                    .map(|_| {
                        n += 1;
                        row(n)
                    })
                    .collect::<Vec<_>>()
            },
            |batch| {
                runtime
                    .block_on(store.write_batch(&batch, true))
                    .expect("write")
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
    runtime.block_on(store.close());
}

fn spend_write(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("switchyard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    bench_store(c, "sqlite", &sqlite_url(&dir.join("spend.db")));
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(url) = std::env::var("SWITCHYARD_BENCH_DATABASE_URL") {
        bench_store(c, "postgres", &url);
    }
}

criterion_group!(benches, spend_write);
criterion_main!(benches);
