//! The token counters of the mock, over the wire: each answers the input count that a
//! generation with the same input reports, in its provider's shapes, and refuses what the
//! real counter refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{post, send_with};
use serde_json::{Value, json};
use switchyard_mock::MockServer;

#[tokio::test]
async fn responses_input_tokens_match_a_create() {
    let mock = MockServer::start().await;
    let body = json!({"model": "gpt-5", "instructions": "Be brief.",
        "input": [{"role": "user", "content": "Tell me a joke"}]});
    let created = post(&mock, "/v1/responses", body.clone()).await.json();
    let counted = post(&mock, "/v1/responses/input_tokens", body.clone()).await;
    assert_eq!(counted.status, 200);
    assert_eq!(
        counted.json(),
        json!({"object": "response.input_tokens", "input_tokens": 6})
    );
    assert_eq!(created["usage"]["input_tokens"], 6);

    let mut with_stream = body;
    with_stream["stream"] = json!(false);
    let refused = post(&mock, "/v1/responses/input_tokens", with_stream).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"]["code"], "unknown_parameter");
    assert_eq!(refused.json()["error"]["param"], "stream");
}

#[tokio::test]
async fn anthropic_count_tokens_refuses_the_output_fields() {
    let mock = MockServer::start().await;
    let messages = json!([{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]);
    let body = json!({"model": "claude-sonnet-4-5", "system": [{"type": "text", "text": "Be brief."}],
        "messages": messages});
    let counted = post(&mock, "/anthropic/v1/messages/count_tokens", body.clone()).await;
    assert_eq!(counted.status, 200);
    assert_eq!(counted.json(), json!({"input_tokens": 4}));

    let mut create = body.clone();
    create["max_tokens"] = json!(100);
    let created = post(&mock, "/anthropic/v1/messages", create.clone())
        .await
        .json();
    assert_eq!(created["usage"]["input_tokens"], 4);
    let refused = post(&mock, "/anthropic/v1/messages/count_tokens", create).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens: Extra inputs are not permitted")
    );
}

#[tokio::test]
async fn gemini_count_tokens_takes_a_generate_content_request() {
    let mock = MockServer::start().await;
    let prompt = json!({"contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]}});
    let path = "/v1beta/models/gemini-2.5-flash:countTokens";
    let addr = mock.addr();
    let send = move |body: Value| async move {
        let raw = body.to_string();
        send_with(
            addr,
            "POST",
            path,
            &raw,
            &[
                ("x-goog-api-key", "k"),
                ("content-type", "application/json"),
            ],
        )
        .await
    };
    let mut request = prompt.clone();
    request["model"] = json!("models/gemini-2.5-flash");
    let counted = send(json!({"generateContentRequest": request})).await;
    assert_eq!(counted.status, 200, "{}", counted.text());
    assert_eq!(counted.json()["totalTokens"], 4);
    let contents_only = send(json!({"contents": prompt["contents"]})).await;
    assert_eq!(contents_only.json()["totalTokens"], 2);
    let unnamed = send(json!({"generateContentRequest": prompt.clone()})).await;
    assert_eq!(unnamed.status, 400);
    let flat = send(prompt.clone()).await;
    assert_eq!(flat.status, 400, "the Gemini API wants the prompt wrapped");
}

#[tokio::test]
async fn bedrock_counts_anthropic_models_only() {
    let mock = MockServer::start().await;
    let converse = json!({"system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": "hello there"}]}]});
    let addr = mock.addr();
    let send = move |model: &'static str, body: Value| async move {
        let raw = body.to_string();
        send_with(
            addr,
            "POST",
            &format!("/model/{model}/count-tokens"),
            &raw,
            &[
                ("authorization", "Bearer k"),
                ("content-type", "application/json"),
            ],
        )
        .await
    };
    let counted = send(
        "anthropic.claude-sonnet-4-20250514-v1%3A0",
        json!({"input": {"converse": converse}}),
    )
    .await;
    assert_eq!(counted.status, 200, "{}", counted.text());
    assert_eq!(counted.json(), json!({"inputTokens": 4}));
    for model in [
        "us.anthropic.claude-sonnet-4-20250514-v1%3A0",
        "amazon.nova-micro-v1%3A0",
    ] {
        let refused = send(model, json!({"input": {"converse": converse}})).await;
        assert_eq!(refused.status, 400);
        assert!(
            refused
                .header("x-amzn-errortype")
                .unwrap()
                .starts_with("ValidationException")
        );
        assert_eq!(
            refused.json()["message"],
            "The provided model doesn't support counting tokens."
        );
    }
    let mut with_config = converse.clone();
    with_config["inferenceConfig"] = json!({"maxTokens": 10});
    let refused = send(
        "anthropic.claude-sonnet-4-20250514-v1%3A0",
        json!({"input": {"converse": with_config}}),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(refused.text().contains("extraneous key [inferenceConfig]"));
}

#[tokio::test]
async fn vllm_tokenize_counts_chat_messages() {
    let mock = MockServer::start().await;
    let counted = post(
        &mock,
        "/vllm/tokenize",
        json!({"model": "mock-llama", "add_generation_prompt": true,
            "messages": [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hello there"}]}),
    )
    .await;
    assert_eq!(counted.status, 200);
    let answer = counted.json();
    assert_eq!(answer["count"], 4);
    assert_eq!(answer["tokens"].as_array().unwrap().len(), 4);
    assert!(answer["max_model_len"].as_u64().unwrap() > 0);
}
