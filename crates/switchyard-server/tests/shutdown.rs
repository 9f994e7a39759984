//! The `switchyard` binary on SIGTERM: stops accepting, drains open streams, exits within the
//! grace period.

// Test support code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_mock::MockServer;
use switchyard_server::spend::SpendStore;
use switchyard_server::spend::store::LogFilter;

struct Gateway {
    child: Child,
    base: String,
    /// The spend-log database.
    spend_url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with a config pointing at `mock`; returns once it listens.
fn start(mock: &MockServer, grace_secs: f64) -> Gateway {
    switchyard::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("switchyard-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("config-{}.yaml", mock.addr().port()));
    let spend = dir.join(format!("spend-{}.db", mock.addr().port()));
    let _ = std::fs::remove_file(&spend);
    std::fs::write(
        &path,
        format!(
            "model_list:\n  - model_name: bridged\n    litellm_params: {{model: hosted_vllm/m, api_base: \"{}/vllm/v1\"}}\nswitchyard_settings: {{shutdown_grace_seconds: {grace_secs}, stream_keepalive_seconds: 0, spend_log_path: \"{}\"}}\n",
            mock.url(),
            spend.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "--config",
            path.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .env("RUST_LOG", "info")
        .env_remove("SWITCHYARD_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the switchyard binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("a listening line").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining the log so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Gateway {
        child,
        base,
        spend_url: switchyard_server::spend::sqlite_url(&spend),
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every spend-log row the gateway wrote.
async fn rows(gateway: &Gateway) -> Vec<serde_json::Value> {
    let store = SpendStore::open(&gateway.spend_url).await.unwrap();
    let rows = store
        .logs(&LogFilter {
            limit: 1000,
            ..LogFilter::default()
        })
        .await
        .unwrap();
    store.close().await;
    rows
}

/// Starts `n` requests that would run for 20 s (every other one streamed); returns once each
/// has reached the gateway (streams: their first bytes).
async fn start_slow_requests(gateway: &Gateway, n: usize) -> Vec<tokio::task::JoinHandle<String>> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let base = gateway.base.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tasks.push(tokio::spawn(async move {
            let stream = i % 2 == 0;
            let input = if stream {
                "slow [[mock:stall=20000]]"
            } else {
                "slow [[mock:slow=20000]]"
            };
            let send = reqwest::Client::new()
                .post(format!("{base}/v1/responses"))
                .json(&json!({"model": "bridged", "input": input, "stream": stream}))
                .send();
            if !stream {
                let _ = ready_tx.send(());
                return match send.await {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(e) => e.to_string(),
                };
            }
            let mut response = send.await.unwrap();
            let mut body = response.chunk().await.unwrap().unwrap_or_default().to_vec();
            let _ = ready_tx.send(());
            while let Ok(Some(chunk)) = response.chunk().await {
                body.extend_from_slice(&chunk);
            }
            String::from_utf8_lossy(&body).into_owned()
        }));
        let _ = ready_rx.await;
    }
    // Let the non-streamed requests reach the gateway.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tasks
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_stops_gracefully_and_keeps_every_row() {
    let mock = MockServer::start().await;
    let mut gateway = start(&mock, 10.0);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let r = client
            .post(format!("{}/v1/responses", gateway.base))
            .json(&json!({"model": "bridged", "input": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    signal(&gateway.child, "HUP");
    let status = wait_exit(&mut gateway.child, Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    assert_eq!(rows(&gateway).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_cut_at_the_end_of_the_grace_period_are_recorded_as_cut() {
    let mock = MockServer::start().await;
    let mut gateway = start(&mock, 0.5);
    let tasks = start_slow_requests(&gateway, 6).await;
    signal(&gateway.child, "TERM");
    let status = wait_exit(&mut gateway.child, Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    for (i, task) in tasks.into_iter().enumerate() {
        let body = task.await.unwrap();
        if i % 2 == 0 {
            let events = common::parse_sse(body.as_bytes());
            assert_eq!(events.last().unwrap().kind(), "response.failed", "{body}");
            assert!(body.contains("server_is_overloaded"), "{body}");
        }
    }
    let rows = rows(&gateway).await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    for row in rows {
        assert_eq!(row["outcome"], "server_shutdown", "{row}");
        assert_eq!(row["http_status"], 503, "{row}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_stops_at_once_after_writing_the_rows() {
    let mock = MockServer::start().await;
    let mut gateway = start(&mock, 60.0);
    let _tasks = start_slow_requests(&gateway, 2).await;
    let started = Instant::now();
    signal(&gateway.child, "TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&gateway.child, "INT");
    let status = wait_exit(&mut gateway.child, Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let rows = rows(&gateway).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|r| r["outcome"] == "server_shutdown"),
        "{rows:?}"
    );
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_open_streams_and_refuses_new_connections() {
    let mock = MockServer::start().await;
    let mut gateway = start(&mock, 10.0);
    let client = reqwest::Client::new();
    let mut stream = client
        .post(format!("{}/v1/responses", gateway.base))
        .json(&json!({"model": "bridged", "input": "slow [[mock:stall=1500]]", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut body = stream.chunk().await.unwrap().expect("first bytes").to_vec();

    sigterm(&gateway.child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = reqwest::Client::new()
        .post(format!("{}/v1/responses", gateway.base))
        .json(&json!({"model": "bridged", "input": "hi"}))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "new connections must be refused while draining"
    );

    while let Some(chunk) = stream.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let events = common::parse_sse(&body);
    assert_eq!(
        events.last().unwrap().kind(),
        "response.completed",
        "the open stream finished normally"
    );
    let status =
        wait_exit(&mut gateway.child, Duration::from_secs(5)).expect("exits after draining");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grace_period_bounds_shutdown() {
    let mock = MockServer::start().await;
    let mut gateway = start(&mock, 0.5);
    let mut stream = reqwest::Client::new()
        .post(format!("{}/v1/responses", gateway.base))
        .json(&json!({"model": "bridged", "input": "slow [[mock:stall=20000]]", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let _ = stream.chunk().await.unwrap();
    let started = Instant::now();
    sigterm(&gateway.child);
    let status = wait_exit(&mut gateway.child, Duration::from_secs(5)).expect("exits");
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_background_response_still_running_at_shutdown_ends_failed_not_stuck() {
    let mock = MockServer::start().await;
    let mut gateway = start(&mock, 0.5);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    // One stalled before its first output, one in the middle of its stream.
    for input in ["slow [[mock:slow=20000]]", "slow [[mock:stall=20000]]"] {
        let queued: serde_json::Value = client
            .post(format!("{}/v1/responses", gateway.base))
            .json(&json!({"model": "bridged", "input": input, "background": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(queued["status"], "queued", "{queued}");
        ids.push(queued["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&gateway.child, "TERM");
    let status = wait_exit(&mut gateway.child, Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    let database = switchyard_store::Database::open(&gateway.spend_url)
        .await
        .unwrap();
    let store = switchyard_store::SqlStateStore::new(database.clone());
    for id in ids {
        use switchyard::state::StateStore;
        let record = store.response(&id).await.unwrap().expect("stored");
        assert_eq!(
            record.response.status,
            switchyard::types::responses::ResponseStatus::Failed,
            "{id}: {:?}",
            record.response
        );
        assert_eq!(record.lease_until, None, "{id}: no lease left");
    }
    database.close().await;
    assert_eq!(rows(&gateway).await.len(), 2);
}
