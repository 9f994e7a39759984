//! The router through the proxy: retries inside a group, fallbacks of every kind (across
//! protocols too), cooldowns, limits, timeouts, distribution, and state shared through Redis.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_mock::Reply;

use crate::common::{Harness, KEY, UPSTREAM_KEY, default_models, final_response, output_text};

/// A closed port: connections are refused at once.
const DEAD: &str = "http://127.0.0.1:9/v1";

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A config with the default groups, `extra` model_list entries and `router` settings.
fn config(mock: &str, extra: &str, router: &str) -> String {
    format!(
        "model_list:{}{extra}\nrouter_settings: {router}\ngeneral_settings: {{master_key: {KEY}}}\n",
        default_models(mock)
    )
}

fn error_reply(status: u16, code: &str) -> Reply {
    Reply::error(
        status,
        json!({"error": {"message": format!("scripted {code}"), "type": "invalid_request_error",
            "param": null, "code": code}}),
    )
}

#[tokio::test]
async fn retries_move_to_another_deployment_then_the_failing_one_cools_down() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}", order: 1}}, model_info: {{id: dead}}}}
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/live/v1", order: 2}}, model_info: {{id: live}}}}"#
            ),
            "{num_retries: 2}",
        )
    })
    .await;
    for stream in [false, true] {
        let r = h
            .post(&json!({"model": "pool", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200, "stream={stream}");
        assert_eq!(header(&r, "x-litellm-model-id"), "live");
        assert_eq!(header(&r, "x-switchyard-deployment"), "live");
        assert_eq!(header(&r, "x-litellm-model-group"), "pool");
        assert_eq!(
            header(&r, "x-litellm-attempted-retries"),
            "1",
            "stream={stream}"
        );
        assert_eq!(header(&r, "x-switchyard-retries"), "1");
        assert_eq!(header(&r, "x-litellm-attempted-fallbacks"), "0");
        let _ = r.bytes().await;
    }
    // Two failures of two calls this minute: `dead` is cooling, `live` serves without a retry.
    let r = h.post(&json!({"model": "pool", "input": "hi"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-litellm-attempted-retries"), "0");
    assert_eq!(header(&r, "x-litellm-model-id"), "live");
}

fn fallback_config(mock: &str) -> String {
    config(
        mock,
        &format!(
            r#"
  - {{model_name: native, litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: {UPSTREAM_KEY}}}}}
  - {{model_name: broken, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}}}
  - {{model_name: orphan, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}}}
  - {{model_name: limited, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}}}"#
        ),
        r#"{fallbacks: [{native: [openai-chat]}, {broken: [bridged]}, {limited: [broken, bridged]}],
           context_window_fallbacks: [{native: [bridged]}],
           content_policy_fallbacks: [{native: [mistral]}],
           default_fallbacks: [deepseek], max_fallbacks: 1}"#,
    )
}

/// The paths the mock was asked for since the last clear.
fn paths(h: &Harness) -> Vec<String> {
    h.mock.requests().into_iter().map(|r| r.path).collect()
}

#[tokio::test]
async fn fallbacks_pick_the_list_for_the_error_and_translate_for_the_target() {
    let h = Harness::with(fallback_config).await;
    for stream in [false, true] {
        // A pass-through group falls back to a bridged one: the second request is a Chat
        // Completions request built by the bridged deployment's own provider.
        h.mock.clear_requests();
        h.mock
            .enqueue("/v1/responses", error_reply(500, "server_error"));
        let r = h
            .post(&json!({"model": "native", "input": "hello", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200, "stream={stream}");
        assert_eq!(header(&r, "x-litellm-attempted-fallbacks"), "1");
        assert_eq!(header(&r, "x-switchyard-fallbacks"), "1");
        assert_eq!(header(&r, "x-litellm-model-group"), "openai-chat");
        let _ = r.bytes().await;
        assert_eq!(paths(&h), ["/v1/responses", "/v1/chat/completions"]);
        let chat = &h.mock.requests()[1].body;
        assert_eq!(chat["messages"][0]["content"], "hello", "{chat}");
        assert!(chat.get("input").is_none(), "{chat}");

        // Context too long: context_window_fallbacks.
        h.mock.clear_requests();
        h.mock
            .enqueue("/v1/responses", error_reply(400, "context_length_exceeded"));
        let r = h
            .post(&json!({"model": "native", "input": "long", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-group"), "bridged");
        let _ = r.bytes().await;
        assert_eq!(paths(&h), ["/v1/responses", "/vllm/v1/chat/completions"]);

        // Content policy: content_policy_fallbacks.
        h.mock.clear_requests();
        h.mock.enqueue(
            "/v1/responses",
            error_reply(400, "content_policy_violation"),
        );
        let r = h
            .post(&json!({"model": "native", "input": "edgy", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-group"), "mistral");
        let _ = r.bytes().await;

        // Any other 400 is the request's fault: no fallback, one upstream call.
        h.mock.clear_requests();
        h.mock
            .enqueue("/v1/responses", error_reply(400, "invalid_value"));
        let r = h
            .post(&json!({"model": "native", "input": "bad", "stream": stream}))
            .await;
        assert_eq!(r.status(), 400);
        assert_eq!(paths(&h).len(), 1);

        // A group without an entry uses default_fallbacks.
        let r = h
            .post(&json!({"model": "orphan", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-group"), "deepseek");
        let _ = r.bytes().await;

        // The request's own fallbacks replace the configured ones.
        let r = h
            .post(
                &json!({"model": "broken", "input": "hi", "stream": stream, "fallbacks": ["groq"]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-group"), "groq");
        let _ = r.bytes().await;

        // max_fallbacks: 1 stops after `broken`, before `bridged`.
        let r = h
            .post(&json!({"model": "limited", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 502);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_connection_error");
    }
}

#[tokio::test]
async fn mock_testing_fallbacks_takes_the_fallback_path() {
    let h = Harness::with(fallback_config).await;
    h.mock.clear_requests();
    let (status, body) = h
        .call(json!({"model": "native", "input": "hi", "mock_testing_fallbacks": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        paths(&h),
        ["/v1/chat/completions"],
        "the requested group is skipped"
    );
    let sent = &h.last_upstream().body;
    assert!(sent.get("mock_testing_fallbacks").is_none(), "{sent}");
}

#[tokio::test]
async fn no_failover_once_the_stream_has_started() {
    let h = Harness::with(fallback_config).await;
    h.mock.clear_requests();
    let (status, events) = h
        .stream(json!({"model": "native", "input": "go [[mock:midstream-error]]"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(final_response(&events)["status"], "failed");
    assert_eq!(
        paths(&h),
        ["/v1/responses"],
        "no second upstream after the first byte"
    );
}

fn pair_config(mock: &str, router: &str) -> String {
    config(
        mock,
        &format!(
            r#"
  - {{model_name: pair, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/one/v1"}}, model_info: {{id: one}}}}
  - {{model_name: pair, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/two/v1"}}, model_info: {{id: two}}}}"#
        ),
        router,
    )
}

#[tokio::test]
async fn a_group_cooling_down_answers_429_at_once() {
    let h = Harness::with(|mock| pair_config(mock, "{cooldown_time: 30}")).await;
    // 401 cools a deployment at once; each call lands on the deployment still awake.
    for _ in 0..2 {
        let r = h
            .post(&json!({"model": "pair", "input": "x [[mock:error=401]]"}))
            .await;
        assert_eq!(r.status(), 401);
    }
    h.mock.clear_requests();
    let started = Instant::now();
    for stream in [false, true] {
        let r = h
            .post(&json!({"model": "pair", "input": "x", "stream": stream}))
            .await;
        assert_eq!(r.status(), 429);
        let after: u64 = header(&r, "retry-after").parse().unwrap();
        assert!((29..=30).contains(&after), "{after}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert_eq!(body["error"]["code"], "no_deployments_available");
        assert!(body["error"]["message"].as_str().unwrap().contains("pair"));
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(
        h.mock.requests().is_empty(),
        "cooling deployments are not called"
    );
}

#[tokio::test]
async fn a_429_cools_down_for_its_retry_after_and_cooldowns_can_be_disabled() {
    let h = Harness::with(|mock| pair_config(mock, "{}")).await;
    for _ in 0..2 {
        let r = h
            .post(&json!({"model": "pair", "input": "x [[mock:error=429]]"}))
            .await;
        assert_eq!(r.status(), 429);
    }
    let r = h.post(&json!({"model": "pair", "input": "x"})).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        header(&r, "retry-after"),
        "1",
        "the upstream's Retry-After: 1"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = h.post(&json!({"model": "pair", "input": "x"})).await;
    assert_eq!(r.status(), 200, "the cooldown ended");

    let h = Harness::with(|mock| pair_config(mock, "{disable_cooldowns: true}")).await;
    for _ in 0..4 {
        let r = h
            .post(&json!({"model": "pair", "input": "x [[mock:error=401]]"}))
            .await;
        assert_eq!(r.status(), 401);
    }
    assert_eq!(h.mock.requests().len(), 4, "every call reached an upstream");
}

#[tokio::test]
async fn deployment_limits_answer_429_with_retry_after() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: rpm, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", rpm: 2}}}}
  - {{model_name: tpm, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", tpm: 10}}}}
  - {{model_name: parallel, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", max_parallel_requests: 1}}}}"#
            ),
            "{}",
        )
    })
    .await;
    wait_for_minute_headroom().await;
    for _ in 0..2 {
        assert_eq!(h.call(json!({"model": "rpm", "input": "hi"})).await.0, 200);
    }
    let r = h.post(&json!({"model": "rpm", "input": "hi"})).await;
    assert_eq!(r.status(), 429);
    let after: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    // tpm: one call using 20 tokens exhausts 10 tpm.
    let (status, _) = h
        .call(json!({"model": "tpm", "input": "hi [[mock:usage=15,5,0,0]]"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        h.post(&json!({"model": "tpm", "input": "hi"}))
            .await
            .status(),
        429
    );

    // max_parallel_requests: a second call while the first is in flight is refused.
    let slow = {
        let client = h.client.clone();
        let url = format!("{}/v1/responses", h.base);
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(KEY)
                .json(&json!({"model": "parallel", "input": "hi [[mock:slow=800]]"}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = h.post(&json!({"model": "parallel", "input": "hi"})).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "1");
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(
        h.call(json!({"model": "parallel", "input": "hi"})).await.0,
        200
    );
}

#[tokio::test]
async fn a_timed_out_attempt_falls_back() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: sluggish, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/sluggish/v1", timeout: 0.3}}}}
  - {{model_name: sluggish-first-token, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/sluggish/v1", stream_timeout: 0.3}}}}"#
            ),
            "{fallbacks: [{sluggish: [bridged]}, {sluggish-first-token: [bridged]}]}",
        )
    })
    .await;
    for (group, stream) in [
        ("sluggish", false),
        ("sluggish", true),
        ("sluggish-first-token", true),
    ] {
        h.mock.enqueue("/sluggish/v1/chat/completions", Reply::Hang);
        let started = Instant::now();
        let r = h
            .post(&json!({"model": group, "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200, "{group} stream={stream}");
        assert_eq!(header(&r, "x-litellm-model-group"), "bridged");
        let _ = r.bytes().await;
        assert!(started.elapsed() < Duration::from_secs(2), "{group}");
    }
}

#[tokio::test]
async fn least_busy_and_weighted_shuffle_through_the_proxy() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: light, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/a/v1", weight: 1}}, model_info: {{id: a}}}}
  - {{model_name: light, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/b/v1", weight: 3}}, model_info: {{id: b}}}}"#
            ),
            "{}",
        )
    })
    .await;
    // 400 draws at p = 0.75: the standard error is 0.022; ±0.08 is over 3.5 sigma.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..400 {
        let r = h.post(&json!({"model": "light", "input": "hi"})).await;
        assert_eq!(r.status(), 200);
        *counts.entry(header(&r, "x-litellm-model-id")).or_default() += 1;
    }
    let share = counts.get("b").copied().unwrap_or(0) as f64 / 400.0;
    assert!((share - 0.75).abs() < 0.08, "{counts:?}");

    let h = Harness::with(|mock| pair_config(mock, "{routing_strategy: least-busy}")).await;
    let busy = {
        let client = h.client.clone();
        let url = format!("{}/v1/responses", h.base);
        tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(KEY)
                .json(&json!({"model": "pair", "input": "hi [[mock:slow=1000]]"}))
                .send()
                .await
                .unwrap();
            header(&r, "x-litellm-model-id")
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut others = Vec::new();
    for _ in 0..10 {
        let r = h.post(&json!({"model": "pair", "input": "hi"})).await;
        others.push(header(&r, "x-litellm-model-id"));
    }
    let busy = busy.await.unwrap();
    assert!(
        others.iter().all(|id| *id != busy && !id.is_empty()),
        "{busy} was busy: {others:?}"
    );
}

/// Sleeps past a minute boundary when one is near, so per-minute counters do not reset midway.
async fn wait_for_minute_headroom() {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        % 60_000;
    if ms > 55_000 {
        tokio::time::sleep(Duration::from_millis(60_100 - ms)).await;
    }
}

fn redis_url() -> String {
    std::env::var("SWITCHYARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn shared_config(mock: &str, prefix: &str, redis: &str) -> String {
    format!(
        r#"model_list:
  - {{model_name: shared, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", rpm: 3}}, model_info: {{id: shared-1}}}}
  - {{model_name: duo, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/one/v1"}}, model_info: {{id: duo-one}}}}
  - {{model_name: duo, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/two/v1"}}, model_info: {{id: duo-two}}}}
router_settings: {{redis_url: "{redis}", cooldown_time: 30}}
switchyard_settings: {{redis_key_prefix: "{prefix}"}}
general_settings: {{master_key: {KEY}}}
"#
    )
}

/// Waits (up to 5 s) for the gateway's readiness to report Redis connected.
async fn redis_connected(h: &Harness) -> bool {
    for _ in 0..100 {
        if readiness(h).await["redis"] == "connected" {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn readiness(h: &Harness) -> Value {
    h.client
        .get(format!("{}/health/readiness", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_gateways_share_an_rpm_limit_and_cooldowns_through_redis() {
    let prefix = format!("swy-test-{}", switchyard::ids::request_id());
    let url = redis_url();
    let a = Harness::with(|mock| shared_config(mock, &prefix, &url)).await;
    let b = Harness::with(|mock| shared_config(mock, &prefix, &url)).await;
    for h in [&a, &b] {
        assert!(redis_connected(h).await, "Redis at {url} connected");
    }
    wait_for_minute_headroom().await;
    assert_eq!(
        a.call(json!({"model": "shared", "input": "hi"})).await.0,
        200
    );
    assert_eq!(
        a.call(json!({"model": "shared", "input": "hi"})).await.0,
        200
    );
    assert_eq!(
        b.call(json!({"model": "shared", "input": "hi"})).await.0,
        200
    );
    // Three requests of rpm 3 were spent between the two gateways.
    let r = b.post(&json!({"model": "shared", "input": "hi"})).await;
    assert_eq!(r.status(), 429, "b sees a's requests");
    let r = a.post(&json!({"model": "shared", "input": "hi"})).await;
    assert_eq!(r.status(), 429, "a sees b's requests");

    // A 401 cools `duo-one` on a; b stops sending to it once synced.
    let mut cooled = None;
    for _ in 0..2 {
        let r = a
            .post(&json!({"model": "duo", "input": "x [[mock:error=401]]"}))
            .await;
        assert_eq!(r.status(), 401);
        if cooled.is_none() {
            cooled = Some(a.last_upstream().path);
        }
    }
    let cooled_path = cooled.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    b.mock.clear_requests();
    let r = b.post(&json!({"model": "duo", "input": "hi"})).await;
    assert_eq!(r.status(), 429, "b sees both of a's cooldowns");
    assert!(b.mock.requests().is_empty(), "{cooled_path}");
}

#[tokio::test]
async fn an_unreachable_redis_fails_no_request() {
    let prefix = format!("swy-test-{}", switchyard::ids::request_id());
    let h = Harness::with(|mock| shared_config(mock, &prefix, "redis://127.0.0.1:9")).await;
    wait_for_minute_headroom().await;
    for stream in [false, true] {
        let started = Instant::now();
        let r = h
            .post(&json!({"model": "shared", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    // The local rpm limit still holds.
    assert_eq!(
        h.call(json!({"model": "shared", "input": "hi"})).await.0,
        200
    );
    assert_eq!(
        h.post(&json!({"model": "shared", "input": "hi"}))
            .await
            .status(),
        429
    );
    let ready = readiness(&h).await;
    assert_eq!(ready["status"], "healthy");
    assert!(
        ready["redis"].as_str().unwrap().starts_with("unreachable"),
        "{ready}"
    );
    let (status, body) = h.call(json!({"model": "duo", "input": "hi"})).await;
    assert_eq!(status, 200);
    assert!(!output_text(&body).is_empty());
}

#[tokio::test]
async fn health_calls_every_deployment_behind_the_master_key() {
    let h = Harness::with(|mock| {
        format!(
            r#"model_list:
  - {{model_name: ok, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1"}}, model_info: {{id: ok-1}}}}
  - {{model_name: gone, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}, model_info: {{id: gone-1}}}}
general_settings: {{master_key: {KEY}}}
"#
        )
    })
    .await;
    let url = format!("{}/health", h.base);
    let r = h.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401, "master key required");
    let body: Value = h
        .client
        .get(&url)
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["healthy_count"], 1, "{body}");
    assert_eq!(body["healthy_endpoints"][0]["model_id"], "ok-1");
    assert_eq!(body["unhealthy_endpoints"][0]["model_id"], "gone-1");
    assert_eq!(body["unhealthy_endpoints"][0]["status"], 502);
    let sent = &h.last_upstream().body;
    assert_eq!(sent["messages"][0]["content"], "ping", "{sent}");
}

/// `POST /v1/responses` with extra request headers.
async fn post_with(h: &Harness, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(KEY)
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn num_retries_from_a_header_or_the_body_replaces_the_configured_count() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}", order: 1}}, model_info: {{id: dead}}}}
  - {{model_name: pool, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/live/v1", order: 2}}, model_info: {{id: live}}}}"#
            ),
            "{num_retries: 0, disable_cooldowns: true}",
        )
    })
    .await;
    let body = json!({"model": "pool", "input": "hi"});
    let r = h.post(&body).await;
    assert_eq!(r.status(), 502, "no retries configured");
    let r = post_with(&h, &body, &[("x-litellm-num-retries", "1")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-litellm-attempted-retries"), "1");
    assert_eq!(header(&r, "x-litellm-model-id"), "live");
    let r = h
        .post(&json!({"model": "pool", "input": "hi", "num_retries": 1, "stream": true}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-litellm-attempted-retries"), "1");
    let _ = r.bytes().await;
    // The header wins over the body field.
    let r = post_with(
        &h,
        &json!({"model": "pool", "input": "hi", "num_retries": 1}),
        &[("x-litellm-num-retries", "0")],
    )
    .await;
    assert_eq!(r.status(), 502);
    let r = post_with(&h, &body, &[("x-litellm-num-retries", "lots")]).await;
    assert_eq!(r.status(), 400);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["param"], "x-litellm-num-retries");
    // Gateway fields never reach the upstream.
    let r = h
        .post(
            &json!({"model": "passthrough", "input": "hi", "num_retries": 1, "timeout": 30,
            "stream_timeout": 30, "max_fallbacks": 2}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let sent = h.last_upstream().body;
    for field in ["num_retries", "timeout", "stream_timeout", "max_fallbacks"] {
        assert!(sent.get(field).is_none(), "{field} leaked: {sent}");
    }
}

#[tokio::test]
async fn timeouts_from_a_header_or_the_body_bound_each_attempt() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: sluggish, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/sluggish/v1", timeout: 600}}}}"#
            ),
            "{fallbacks: [{sluggish: [bridged]}]}",
        )
    })
    .await;
    let cases: [(Value, &[(&str, &str)]); 4] = [
        (
            json!({"model": "sluggish", "input": "hi"}),
            &[("x-litellm-timeout", "0.3")],
        ),
        (
            json!({"model": "sluggish", "input": "hi", "timeout": 0.3}),
            &[],
        ),
        (
            json!({"model": "sluggish", "input": "hi", "stream": true}),
            &[("x-litellm-stream-timeout", "0.3")],
        ),
        (
            json!({"model": "sluggish", "input": "hi", "stream": true, "stream_timeout": "0.3"}),
            &[],
        ),
    ];
    for (body, headers) in cases {
        h.mock.enqueue("/sluggish/v1/chat/completions", Reply::Hang);
        let started = Instant::now();
        let r = post_with(&h, &body, headers).await;
        assert_eq!(r.status(), 200, "{body} {headers:?}");
        assert_eq!(
            header(&r, "x-litellm-model-group"),
            "bridged",
            "timed out, fell back"
        );
        let _ = r.bytes().await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{body} {headers:?}"
        );
    }
    let r = post_with(
        &h,
        &json!({"model": "sluggish", "input": "hi"}),
        &[("x-litellm-timeout", "-1")],
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn max_fallbacks_per_request_and_in_the_response_headers() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: down, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}}}
  - {{model_name: down-too, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}}}"#
            ),
            "{fallbacks: [{down: [down-too, bridged]}], max_fallbacks: 3}",
        )
    })
    .await;
    let body = json!({"model": "down", "input": "hi"});
    let r = h.post(&body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-litellm-attempted-fallbacks"), "2");
    assert_eq!(header(&r, "x-litellm-max-fallbacks"), "3");
    let r = post_with(&h, &body, &[("x-litellm-max-fallbacks", "1")]).await;
    assert_eq!(r.status(), 502, "only `down-too` may be tried");
    let r = h
        .post(&json!({"model": "down", "input": "hi", "max_fallbacks": 2}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-litellm-max-fallbacks"), "2");
}

#[tokio::test]
async fn model_group_alias_serves_and_lists_the_group() {
    let h = Harness::with(|mock| {
        config(
            mock,
            "",
            "{model_group_alias: {gpt-4: bridged, internal: {model: passthrough, hidden: true}}, \
             fallbacks: [{passthrough: [gpt-4]}]}",
        )
    })
    .await;
    for stream in [false, true] {
        let r = h
            .post(&json!({"model": "gpt-4", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-group"), "bridged");
        let _ = r.bytes().await;
    }
    let r = h.post(&json!({"model": "internal", "input": "hi"})).await;
    assert_eq!(r.status(), 200, "hidden aliases are served");
    assert_eq!(header(&r, "x-litellm-model-group"), "passthrough");
    let (_, models) = h.get_json("/v1/models").await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"gpt-4"), "{ids:?}");
    assert!(!ids.contains(&"internal"), "{ids:?}");
    // A fallback may name an alias too.
    h.mock
        .enqueue("/v1/responses", error_reply(500, "server_error"));
    let r = h
        .post(&json!({"model": "passthrough", "input": "hi"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-litellm-model-group"), "bridged");
}

#[tokio::test]
async fn request_fallback_objects_send_their_own_fields() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: down, litellm_params: {{model: hosted_vllm/m, api_base: "{DEAD}"}}}}"#
            ),
            "{}",
        )
    })
    .await;
    let r = h
        .post(
            &json!({"model": "down", "input": "a very long question", "temperature": 0.5,
            "fallbacks": [{"model": "bridged",
                "messages": [{"role": "user", "content": "a short question"}],
                "max_output_tokens": 33}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-litellm-model-group"), "bridged");
    let sent = h.last_upstream().body;
    let text = sent.to_string();
    assert!(text.contains("a short question"), "{sent}");
    assert!(!text.contains("a very long question"), "{sent}");
    assert_eq!(sent["temperature"], 0.5, "{sent}");
    assert!(
        sent["max_tokens"] == 33 || sent["max_completion_tokens"] == 33,
        "{sent}"
    );
    let r = h
        .post(&json!({"model": "down", "input": "hi",
            "fallbacks": [{"model": "bridged", "max_output_tokens": "many"}]}))
        .await;
    assert_eq!(r.status(), 400);
}

/// A group of two Responses deployments (as two accounts would be).
fn responses_pair_config(mock: &str) -> String {
    config(
        mock,
        &format!(
            r#"
  - {{model_name: rpair, litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/one/v1", api_key: {UPSTREAM_KEY}}}, model_info: {{id: r-one}}}}
  - {{model_name: rpair, litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/two/v1", api_key: {UPSTREAM_KEY}}}, model_info: {{id: r-two}}}}"#
        ),
        "{routing_strategy: simple-shuffle}",
    )
}

/// A `previous_response_id` goes to the deployment that produced that response, where its
/// state lives, streaming or not; requests that store nothing are routed freely; and when the
/// deployment is unavailable the group still answers.
#[tokio::test]
async fn continuations_go_to_the_deployment_that_holds_the_previous_response() {
    let h = Harness::with(responses_pair_config).await;
    for stream in [false, true] {
        let first = h
            .post(&json!({"model": "rpair", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(first.status(), 200);
        let origin = header(&first, "x-litellm-model-id");
        let id = if stream {
            let events = crate::common::parse_sse(&first.bytes().await.unwrap());
            final_response(&events)["id"].as_str().unwrap().to_string()
        } else {
            first.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // 16 continuations all land on the origin (by chance: 1 in 32,768).
        for _ in 0..16 {
            let r = h
                .post(&json!({"model": "rpair", "input": "more", "stream": stream,
                    "previous_response_id": id}))
                .await;
            assert_eq!(r.status(), 200);
            assert_eq!(header(&r, "x-litellm-model-id"), origin, "stream={stream}");
        }
    }
    // store: false keeps nothing upstream, so nothing is pinned: both deployments serve.
    let first = h
        .call(json!({"model": "rpair", "input": "hi", "store": false}))
        .await;
    let id = first.1["id"].as_str().unwrap().to_string();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        let r = h
            .post(&json!({"model": "rpair", "input": "more", "store": false,
                "previous_response_id": id}))
            .await;
        seen.insert(header(&r, "x-litellm-model-id"));
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    // The origin cooling down (a 401 cools at once): the other deployment answers.
    let first = h.post(&json!({"model": "rpair", "input": "hi"})).await;
    let origin = header(&first, "x-litellm-model-id");
    let id = first.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = h
        .post(&json!({"model": "rpair", "input": "x [[mock:error=401]]",
            "previous_response_id": id}))
        .await;
    assert_eq!(failed.status(), 401);
    let r = h
        .post(&json!({"model": "rpair", "input": "more", "previous_response_id": id}))
        .await;
    assert_eq!(r.status(), 200);
    assert_ne!(header(&r, "x-litellm-model-id"), origin);
}

/// Tag routing through the proxy: `x-litellm-tags` and `metadata.tags` pick the deployments
/// whose `litellm_params.tags` share a tag; unmatched tags are a clear 400.
#[tokio::test]
async fn tag_routing_follows_header_and_metadata_tags() {
    let h = Harness::with(|mock| {
        config(
            mock,
            &format!(
                r#"
  - {{model_name: tagged, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/one/v1", tags: [free]}}, model_info: {{id: t-free}}}}
  - {{model_name: tagged, litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/two/v1", tags: [paid]}}, model_info: {{id: t-paid}}}}"#
            ),
            "{enable_tag_filtering: true, fallbacks: [{bridged: [tagged]}]}",
        )
    })
    .await;
    for _ in 0..8 {
        let r = h
            .client
            .post(format!("{}/v1/responses", h.base))
            .bearer_auth(KEY)
            .header("x-litellm-tags", "paid")
            .json(&json!({"model": "tagged", "input": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-id"), "t-paid");
        let r = h
            .post(&json!({"model": "tagged", "input": "hi", "stream": true,
                "metadata": {"tags": "free"}}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-litellm-model-id"), "t-free");
    }
    let (status, error) = h
        .call(json!({"model": "tagged", "input": "hi", "metadata": {"tags": "gold"}}))
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["code"], "no_deployment_for_tags");
    // A fallback group ruled out by the tags leaves the client the error that caused the
    // fallback, not the tag refusal.
    let (status, error) = h
        .call(json!({"model": "bridged", "input": "x [[mock:error=500]]",
            "metadata": {"tags": "gold"}}))
        .await;
    assert!(status >= 500, "{status}: {error}");
    assert_ne!(error["error"]["code"], "no_deployment_for_tags");
}

/// Behind a load balancer, a continuation may reach another gateway instance: with Redis
/// shared, it still goes to the deployment that produced the previous response.
#[tokio::test]
async fn continuations_find_their_deployment_through_redis_on_another_gateway() {
    let prefix = format!("swy-test-{}", switchyard::ids::request_id());
    let url = redis_url();
    let config = |mock: &str| {
        format!(
            r#"model_list:
  - {{model_name: rpair, litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/one/v1", api_key: {UPSTREAM_KEY}}}, model_info: {{id: r-one}}}}
  - {{model_name: rpair, litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/two/v1", api_key: {UPSTREAM_KEY}}}, model_info: {{id: r-two}}}}
router_settings: {{redis_url: "{url}"}}
switchyard_settings: {{redis_key_prefix: "{prefix}"}}
general_settings: {{master_key: {KEY}}}
"#
        )
    };
    let a = Harness::with(config).await;
    let b = Harness::with(config).await;
    for h in [&a, &b] {
        assert!(redis_connected(h).await, "Redis at {url} connected");
    }
    for _ in 0..4 {
        let first = a.post(&json!({"model": "rpair", "input": "hi"})).await;
        assert_eq!(first.status(), 200);
        let origin = header(&first, "x-litellm-model-id");
        let id = first.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        // The write to Redis is off the request path: give it a moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..6 {
            let r = b
                .post(&json!({"model": "rpair", "input": "more", "previous_response_id": id}))
                .await;
            assert_eq!(r.status(), 200);
            assert_eq!(header(&r, "x-litellm-model-id"), origin);
        }
    }
}
