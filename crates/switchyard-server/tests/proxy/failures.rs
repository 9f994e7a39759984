//! Upstream failures, timeouts and retries.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_mock::Reply;

use crate::common::{Harness, KEY, UPSTREAM_KEY, default_models, final_response};

#[tokio::test]
async fn upstream_errors_keep_their_meaning() {
    let h = Harness::start().await;
    for group in [
        "passthrough",
        "bridged",
        "mistral",
        "azure",
        "azure-chat",
        "azure-ai",
    ] {
        for (directive, status, kind, code) in [
            ("429", 429, "rate_limit_error", "rate_limit_exceeded"),
            ("401", 401, "authentication_error", "invalid_api_key"),
            ("404", 404, "not_found_error", "model_not_found"),
            ("400", 400, "invalid_request_error", ""),
            (
                "context",
                400,
                "invalid_request_error",
                "context_length_exceeded",
            ),
            ("500", 500, "server_error", ""),
            (
                "503",
                503,
                "service_unavailable_error",
                "server_is_overloaded",
            ),
            (
                "529",
                503,
                "service_unavailable_error",
                "server_is_overloaded",
            ),
        ] {
            for stream in [false, true] {
                let input = format!("fail [[mock:error={directive}]]");
                let r = h
                    .post(&json!({"model": group, "input": input, "stream": stream}))
                    .await;
                assert_eq!(r.status(), status, "{group} {directive} stream={stream}");
                if status == 429 {
                    assert!(
                        r.headers().contains_key("retry-after"),
                        "{group}: Retry-After kept"
                    );
                }
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"]["type"], kind, "{group} {directive}: {body}");
                if !code.is_empty() {
                    assert_eq!(body["error"]["code"], code, "{group} {directive}: {body}");
                }
            }
        }
    }
}

#[tokio::test]
async fn upstream_secrets_never_reach_the_client() {
    let h = Harness::start().await;
    h.mock.enqueue(
        "/responses",
        Reply::error(
            401,
            json!({"error": {"message": format!("Incorrect API key provided: {UPSTREAM_KEY}"),
            "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
        ),
    );
    let r = h
        .post(&json!({"model": "passthrough", "input": "hi"}))
        .await;
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(!text.contains(UPSTREAM_KEY), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
}

fn with_timeouts(mock: &str) -> String {
    format!(
        r#"model_list:{}
  - model_name: quick
    litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", timeout: 0.5}}
  - model_name: quick-first-token
    litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", stream_timeout: 0.5}}
  - model_name: retrying
    litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", max_retries: 2}}
  - model_name: retrying-native
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: k, max_retries: 2}}
general_settings: {{master_key: {KEY}}}
"#,
        default_models(mock)
    )
}

#[tokio::test]
async fn timeouts_are_honoured() {
    let h = Harness::with(with_timeouts).await;
    for (group, stream) in [
        ("quick", false),
        ("quick", true),
        ("quick-first-token", true),
    ] {
        let started = Instant::now();
        let r = h
            .post(&json!({"model": group, "input": "wait [[mock:slow=3000]]", "stream": stream}))
            .await;
        // An upstream that does not answer in time is a gateway timeout (504), not the
        // client's 408.
        assert_eq!(r.status(), 504, "{group} stream={stream}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{group}: answered at the deadline"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "timeout");
    }
    // stream_timeout only bounds the first output: a slow but started stream completes.
    let (status, events) = h
        .stream(json!({"model": "quick-first-token", "input": "go [[mock:stall=800]]"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(events.last().unwrap().kind(), "response.completed");
}

#[tokio::test]
async fn retries_before_the_first_byte_and_never_for_client_errors() {
    let h = Harness::with(with_timeouts).await;
    let server_error = || {
        Reply::error(
            500,
            json!({"error": {"message": "boom", "type": "server_error", "param": null, "code": null}}),
        )
    };
    for (group, suffix) in [
        ("retrying", "/chat/completions"),
        ("retrying-native", "/responses"),
    ] {
        for stream in [false, true] {
            h.mock.clear_requests();
            h.mock.enqueue(suffix, server_error());
            h.mock.enqueue(suffix, server_error());
            let r = h
                .post(&json!({"model": group, "input": "hi", "stream": stream}))
                .await;
            assert_eq!(r.status(), 200, "{group} stream={stream}");
            let _ = r.bytes().await;
            assert_eq!(
                h.mock.requests().len(),
                3,
                "{group}: two failures, then success"
            );
        }
    }
    h.mock.clear_requests();
    h.mock.enqueue("/chat/completions", Reply::error(400, json!({"error": {"message": "bad", "type": "invalid_request_error", "param": null, "code": null}})));
    let r = h.post(&json!({"model": "retrying", "input": "hi"})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(h.mock.requests().len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn failures_after_output_end_the_stream_with_response_failed() {
    let h = Harness::start().await;
    for group in ["passthrough", "bridged", "openai-chat"] {
        for directive in ["midstream-error", "drop"] {
            let (status, events) = h
                .stream(json!({"model": group, "input": format!("go [[mock:{directive}]]")}))
                .await;
            assert_eq!(status, 200, "{group} {directive}");
            let last = final_response(&events);
            assert_eq!(last["status"], "failed", "{group} {directive}: {last}");
            assert!(last["error"]["code"].is_string() && last["error"]["message"].is_string());
        }
    }
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502() {
    let h = Harness::with(|_| {
        format!(
            r#"model_list:
  - model_name: gone
    litellm_params: {{model: hosted_vllm/m, api_base: "http://127.0.0.1:9/v1"}}
general_settings: {{master_key: {KEY}}}
"#
        )
    })
    .await;
    for stream in [false, true] {
        let r = h
            .post(&json!({"model": "gone", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 502);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error");
        assert_eq!(body["error"]["code"], "upstream_connection_error");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("127.0.0.1:9"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn stream_timeout_still_bounds_the_first_output_after_the_stream_started() {
    let h = Harness::with(|mock| {
        format!(
            r#"model_list:
  - model_name: native-first-token
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: k, stream_timeout: 0.6}}
general_settings: {{master_key: {KEY}}}
switchyard_settings: {{stream_keepalive_seconds: 0.2}}
"#
        )
    })
    .await;
    // The upstream sends `response.created`, then nothing for 1.5 s: the stream starts for
    // the client at the keepalive interval, and the first-output deadline then fails it.
    let started = Instant::now();
    let (status, events) = h
        .stream(json!({"model": "native-first-token", "input": "go [[mock:stall=1500]]"}))
        .await;
    assert_eq!(status, 200);
    let last = final_response(&events);
    assert_eq!(last["status"], "failed", "{last}");
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}
