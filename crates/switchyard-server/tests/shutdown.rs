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

struct Gateway {
    child: Child,
    base: String,
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
    std::fs::write(
        &path,
        format!(
            "model_list:\n  - model_name: bridged\n    litellm_params: {{model: hosted_vllm/m, api_base: \"{}/vllm/v1\"}}\nswitchyard_settings: {{shutdown_grace_seconds: {grace_secs}, stream_keepalive_seconds: 0, spend_log_path: \"{}\"}}\n",
            mock.url(),
            dir.join(format!("spend-{}.db", mock.addr().port())).display()
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
    Gateway { child, base }
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
