//! The `switchyard` binary's own reports: `check-config` and the startup log say how many
//! virtual keys and teams the database holds, and whether their limits are shared.

// Test support code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const MASTER: &str = "sk-cli-master-0000";

struct Running {
    child: Child,
    base: String,
    log: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check_config(config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["check-config", config.to_str().unwrap()])
        .env_remove("SWITCHYARD_LOG_FORMAT")
        .output()
        .expect("check-config runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Starts the binary; returns once it listens, with the log lines written until then.
fn serve(config: &Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "--config",
            config.to_str().unwrap(),
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
    let mut log = Vec::new();
    let base = loop {
        let line = lines.next().expect("a listening line").unwrap();
        log.push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Running { child, base, log }
}

#[tokio::test]
async fn check_config_and_the_startup_log_count_keys_and_teams() {
    switchyard::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("switchyard-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: m\n    litellm_params: {{model: hosted_vllm/m, api_base: \"http://127.0.0.1:9/v1\"}}\ngeneral_settings: {{master_key: {MASTER}}}\nswitchyard_settings: {{spend_log_path: \"{}\"}}\n",
            dir.join("spend.db").display()
        ),
    )
    .unwrap();
    let report = check_config(&config);
    assert!(report.contains("virtual keys: 0, teams: 0"), "{report}");

    let running = serve(&config);
    let line = running
        .log
        .iter()
        .find(|l| l.contains("virtual keys:"))
        .unwrap_or_else(|| panic!("{:#?}", running.log));
    assert!(line.contains("0 keys and 0 teams loaded"), "{line}");
    assert!(line.contains("hold per replica"), "{line}");
    let client = reqwest::Client::new();
    for (path, body) in [
        ("/team/new", serde_json::json!({"team_id": "t1"})),
        ("/key/generate", serde_json::json!({"team_id": "t1"})),
        ("/key/generate", serde_json::json!({})),
    ] {
        let status = client
            .post(format!("{}{path}", running.base))
            .bearer_auth(MASTER)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{path}");
    }
    drop(running);

    let report = check_config(&config);
    assert!(report.contains("virtual keys: 2, teams: 1"), "{report}");
    let running = serve(&config);
    assert!(
        running
            .log
            .iter()
            .any(|l| l.contains("2 keys and 1 teams loaded")),
        "{:#?}",
        running.log
    );
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}
