//! The HTTP surface: routes, authentication, bad input, limits.

use serde_json::{Value, json};

use crate::common::{Harness, KEY};

fn assert_envelope(body: &Value, kind: &str) {
    let error = &body["error"];
    for key in ["message", "type", "param", "code"] {
        assert!(error.get(key).is_some(), "error.{key} missing: {body}");
    }
    assert_eq!(error["type"], kind, "{body}");
    assert!(!error["message"].as_str().unwrap_or("").is_empty());
}

#[tokio::test]
async fn health_needs_no_key_and_everything_else_does() {
    let h = Harness::start().await;
    for path in [
        "/health/liveliness",
        "/health/liveness",
        "/health/readiness",
    ] {
        let r = h
            .client
            .get(format!("{}{path}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let alive: Value = h
        .client
        .get(format!("{}/health/liveliness", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alive, json!("I'm alive!"));

    for (header, value) in [
        (None, None),
        (Some("authorization"), Some("Bearer wrong")),
        (Some("authorization"), Some("sk-nope")),
    ] {
        let mut request = h
            .client
            .post(format!("{}/v1/responses", h.base))
            .json(&json!({"model": "passthrough", "input": "hi"}));
        if let (Some(name), Some(v)) = (header, value) {
            request = request.header(name, v);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert_envelope(&body, "authentication_error");
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }
    let r = h
        .client
        .get(format!("{}/v1/models", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(h.mock.requests().is_empty(), "nothing reached the upstream");

    // LiteLLM's header is accepted too.
    let r = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .header("x-litellm-api-key", KEY)
        .json(&json!({"model": "passthrough", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_responses_route_works() {
    let h = Harness::start().await;
    for path in [
        "/v1/responses",
        "/responses",
        "/openai/v1/responses",
        "/v1/responses?beta=true",
    ] {
        let r = h
            .client
            .post(format!("{}{path}", h.base))
            .bearer_auth(KEY)
            .json(&json!({"model": "passthrough", "input": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers().contains_key("x-request-id"));
        assert!(r.headers().contains_key("x-litellm-model-id"));
        assert_eq!(r.headers()["x-litellm-model-group"], "passthrough");
    }
}

#[tokio::test]
async fn models_are_listed_in_openai_format() {
    let h = Harness::start().await;
    for path in ["/v1/models", "/models"] {
        let body: Value = h
            .client
            .get(format!("{}{path}", h.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["object"], "list");
        let ids: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(&ids[..3], ["passthrough", "bridged", "openai-chat"]);
        assert_eq!(body["data"][0]["object"], "model");
        assert_eq!(body["data"][1]["owned_by"], "hosted_vllm");
    }
}

#[tokio::test]
async fn bad_input_gets_a_400_naming_the_parameter() {
    let h = Harness::start().await;
    let raw = |body: &'static str| {
        h.client
            .post(format!("{}/v1/responses", h.base))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, param, code) in [
        ("{\"model\": ", Value::Null, "invalid_json"),
        ("not json", Value::Null, "invalid_json"),
        ("[1,2]", Value::Null, "invalid_json"),
        (
            r#"{"input": "hi"}"#,
            json!("model"),
            "missing_required_parameter",
        ),
        (
            r#"{"model": "passthrough"}"#,
            json!("input"),
            "missing_required_parameter",
        ),
        (
            r#"{"model": "passthrough", "input": 7}"#,
            json!("input"),
            "invalid_type",
        ),
        (
            r#"{"model": 7, "input": "hi"}"#,
            json!("model"),
            "invalid_type",
        ),
        (
            r#"{"model": "passthrough", "input": "hi", "temperature": "hot"}"#,
            json!("temperature"),
            "invalid_type",
        ),
        (
            r#"{"model": "passthrough", "input": "hi", "temperature": 9}"#,
            json!("temperature"),
            "invalid_value",
        ),
        (
            r#"{"model": "passthrough", "input": [{"type": "function_call"}]}"#,
            json!("input[0]"),
            "invalid_value",
        ),
        (
            r#"{"model": "passthrough", "input": "hi", "stream": "yes"}"#,
            json!("stream"),
            "invalid_type",
        ),
    ] {
        let r = raw(body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let value: Value = r.json().await.unwrap();
        assert_envelope(&value, "invalid_request_error");
        assert_eq!(value["error"]["param"], param, "{body}: {value}");
        assert_eq!(value["error"]["code"], code, "{body}: {value}");
    }
    assert!(
        h.mock.requests().is_empty(),
        "bad input never reaches the upstream"
    );
}

#[tokio::test]
async fn unknown_model_is_a_404_model_not_found() {
    let h = Harness::start().await;
    for stream in [false, true] {
        let r = h
            .post(&json!({"model": "gpt-9000", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 404);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body: Value = r.json().await.unwrap();
        assert_envelope(&body, "not_found_error");
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["param"], "model");
    }
}

#[tokio::test]
async fn huge_bodies_are_refused_with_413() {
    let h = Harness::with_limit(
        |mock| {
            format!(
                "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n",
                crate::common::default_models(mock)
            )
        },
        64 * 1024,
    )
    .await;
    let big = "x".repeat(100 * 1024);
    let r = h.post(&json!({"model": "passthrough", "input": big})).await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_envelope(&body, "invalid_request_error");
    assert_eq!(body["error"]["code"], "request_too_large");
    // Just under the limit is fine.
    let ok = "x".repeat(32 * 1024);
    assert_eq!(
        h.post(&json!({"model": "passthrough", "input": ok}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_openai_format() {
    let h = Harness::start().await;
    let r = h
        .client
        .get(format!("{}/v1/nothing-here", h.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_envelope(&r.json().await.unwrap(), "not_found_error");
    let r = h
        .client
        .get(format!("{}/v1/responses", h.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_envelope(&r.json().await.unwrap(), "invalid_request_error");
}

#[tokio::test]
async fn open_gateway_without_master_key() {
    let h =
        Harness::with(|mock| format!("model_list:{}", crate::common::default_models(mock))).await;
    let r = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .json(&json!({"model": "passthrough", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
