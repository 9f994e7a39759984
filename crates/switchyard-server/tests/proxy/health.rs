//! Background health checks: probes feed the router's cooldowns and `GET /health` serves the
//! latest round; `model_info.health_check_model` is what probes ask for.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard::Gateway;
use switchyard::config::{Config, Env};
use switchyard::router::state::now_ms;
use switchyard_mock::{MockServer, Reply};

use crate::common::{Harness, KEY, eventually};

/// A closed port: connections are refused at once.
const DEAD: &str = "http://127.0.0.1:9/v1";

fn server_error() -> Reply {
    Reply::error(
        500,
        json!({"error": {"message": "scripted outage", "type": "server_error", "param": null,
            "code": null}}),
    )
}

#[tokio::test]
async fn failed_probes_cool_deployments_and_a_good_probe_ends_the_cooldown() {
    let mock = MockServer::start().await;
    let url = mock.url();
    // The first three probes of `flaky` fail; later ones succeed.
    for _ in 0..3 {
        mock.enqueue("/flaky/v1/chat/completions", server_error());
    }
    let yaml = format!(
        r#"model_list:
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}, model_info: {{id: dead}}}}
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{url}/flaky/v1"}}, model_info: {{id: flaky, health_check_model: tiny}}}}
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{url}/vllm/v1"}}, model_info: {{id: well}}}}
  - {{model_name: solo, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}, model_info: {{id: solo}}}}
general_settings: {{background_health_checks: true, health_check_interval: 0.2}}
router_settings: {{cooldown_time: 1}}
"#
    );
    let config = Config::from_yaml_with_env(&yaml, &Env::default()).unwrap();
    assert!(
        config.warning().is_none(),
        "health keys are acted on: {:?}",
        config.warning()
    );
    let (gateway, _) = Gateway::from_config(&config).unwrap();
    let pool = gateway.registry().target("pool").unwrap().deployments;
    let [dead, flaky, well] = [&pool[0], &pool[1], &pool[2]];
    let solo = gateway.registry().target("solo").unwrap().deployments[0].clone();

    assert!(
        eventually(Duration::from_secs(10), || flaky
            .state
            .cooling_until(now_ms())
            .is_some())
        .await,
        "a failed probe cools `flaky` down"
    );
    // Refused connections cool until the next probe can answer (interval + 60 s), far longer
    // than cooldown_time: only a good probe could end `flaky`'s cooldown this early.
    let until = dead.state.cooling_until(now_ms()).expect("`dead` cooling");
    assert!(until > now_ms() + 30_000);
    assert!(
        eventually(Duration::from_secs(10), || flaky
            .state
            .cooling_until(now_ms())
            .is_none())
        .await,
        "a good probe ends the cooldown early"
    );
    assert!(dead.state.cooling_until(now_ms()).is_some());
    assert!(well.state.cooling_until(now_ms()).is_none());
    assert!(
        solo.state.cooling_until(now_ms()).is_none(),
        "the sole deployment of a group is never cooled"
    );

    // Probes of `flaky` asked for its health_check_model; the others for their own model.
    let probes: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/flaky/v1/chat/completions")
        .collect();
    assert!(probes.len() >= 4, "{}", probes.len());
    assert!(probes.iter().all(|r| r.body["model"] == "tiny"));
    assert!(
        mock.requests()
            .iter()
            .filter(|r| r.path == "/vllm/v1/chat/completions")
            .all(|r| r.body["model"] == "m")
    );

    // The report is the background round's.
    let report = gateway.health().await;
    assert!(report.background);
    let by_id = |id: &str| {
        report
            .checks
            .iter()
            .find(|c| c.deployment.id == id)
            .unwrap()
    };
    assert!(by_id("well").result.is_ok());
    assert!(by_id("flaky").result.is_ok());
    assert_eq!(by_id("flaky").probed_model, "tiny");
    assert_eq!(by_id("dead").result.as_ref().unwrap_err().status(), 502);
    assert!(by_id("solo").result.is_err());

    // Requests avoid the cooling deployment without spending a retry.
    for _ in 0..10 {
        let request = serde_json::from_value(json!({"model": "pool", "input": "hi"})).unwrap();
        let execution = gateway
            .execute(request, switchyard::CallContext::default())
            .await
            .unwrap();
        assert_ne!(execution.deployment.id, "dead");
        assert_eq!(execution.attempted_retries, 0);
    }
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn health_serves_the_background_round_and_probes_wildcards_by_their_model() {
    let h = Harness::with(|mock| {
        format!(
            r#"model_list:
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}, model_info: {{id: dead}}}}
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/live/v1"}}, model_info: {{id: live}}}}
  - {{model_name: "wild/*", litellm_params: {{model: "hosted_vllm/*", api_base: "{mock}/wild/v1"}}, model_info: {{id: wild, health_check_model: "hosted_vllm/probe-m"}}}}
  - {{model_name: "bare/*", litellm_params: {{model: "hosted_vllm/*", api_base: "{mock}/bare/v1"}}}}
router_settings: {{background_health_checks: true, health_check_interval: 300, num_retries: 0}}
general_settings: {{master_key: {KEY}}}
"#
        )
    })
    .await;
    let url = format!("{}/health", h.base);
    let get = || async {
        h.client
            .get(&url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let first = get().await;
    assert_eq!(first["background"], true, "{first}");
    assert_eq!(first["healthy_count"], 2, "{first}");
    assert_eq!(first["unhealthy_endpoints"][0]["model_id"], "dead");
    let wild = first["healthy_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["model_id"] == "wild")
        .cloned()
        .unwrap_or_else(|| panic!("wildcard probed: {first}"));
    assert_eq!(wild["model"], "wild/*");
    assert_eq!(wild["upstream_model"], "probe-m");
    assert!(
        !first.to_string().contains("bare/*"),
        "a wildcard without health_check_model names no model to probe"
    );
    let upstream_calls = h.mock.requests().len();
    let started = Instant::now();
    let second = get().await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(second["checked_at"], first["checked_at"]);
    assert_eq!(
        h.mock.requests().len(),
        upstream_calls,
        "GET /health does not probe again"
    );
    // `dead` failed its probe: every request goes to `live` without a retry.
    for _ in 0..8 {
        let r = h.post(&json!({"model": "pool", "input": "hi"})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-id"), "live");
        assert_eq!(header(&r, "x-litellm-attempted-retries"), "0");
    }
}
