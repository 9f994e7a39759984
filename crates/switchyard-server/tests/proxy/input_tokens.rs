//! `POST /v1/responses/input_tokens` through the proxy: on every provider group the count is
//! the upstream's own where it has a counter (and then equals the input tokens a create with
//! the same body reports), an estimate elsewhere; chains and conversations are counted with
//! their whole context; errors are a create's.

use serde_json::{Value, json};

use crate::common::{Harness, KEY, default_models};

/// The groups whose upstream counts: OpenAI and Azure Responses, vLLM, Anthropic (also on
/// Vertex), Gemini (also on Vertex), Bedrock's Claude.
const EXACT: &[&str] = &[
    "passthrough",
    "azure",
    "azure-v1",
    "bridged",
    "anthropic",
    "vertex-claude",
    "gemini",
    "gemini-3",
    "vertex-gemini",
    "bedrock",
];

/// The groups the gateway estimates for: Chat Completions servers without a counter, and a
/// Bedrock model the counter does not serve.
const ESTIMATED: &[&str] = &[
    "openai-chat",
    "mistral",
    "deepseek",
    "groq",
    "ollama",
    "openrouter",
    "xai",
    "together",
    "fireworks",
    "deepinfra",
    "cerebras",
    "azure-chat",
    "azure-ai",
    "bedrock-nova",
];

/// `POST path` with the master key: (status, `x-switchyard-input-tokens`, body).
async fn count_at(h: &Harness, path: &str, body: &Value) -> (u16, String, Value) {
    let response = h
        .client
        .post(format!("{}{path}", h.base))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let source = response
        .headers()
        .get("x-switchyard-input-tokens")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, source, response.json().await.unwrap_or(Value::Null))
}

async fn count(h: &Harness, body: &Value) -> (u16, String, Value) {
    count_at(h, "/v1/responses/input_tokens", body).await
}

/// The input tokens a create with `body` reports.
async fn created_input_tokens(h: &Harness, body: &Value) -> u64 {
    let (status, response) = h.call(body.clone()).await;
    assert_eq!(status, 200, "{body}: {response}");
    response["usage"]["input_tokens"].as_u64().unwrap()
}

fn counted(answer: &Value) -> u64 {
    assert_eq!(answer["object"], "response.input_tokens", "{answer}");
    answer["input_tokens"].as_u64().unwrap()
}

#[tokio::test]
async fn upstream_counters_count_what_a_create_is_charged() {
    let h = Harness::start().await;
    let tool = json!({"type": "function", "name": "get_weather", "description": "Look it up",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}});
    for group in EXACT {
        for body in [
            json!({"model": group, "instructions": "Be brief.", "input": "Tell me a joke"}),
            json!({"model": group, "input": [
                {"role": "user", "content": "What is the weather in Paris?"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                 "arguments": "{\"city\": \"Paris\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "Sunny, 24 C"}],
                "tools": [tool.clone()], "max_output_tokens": 500, "temperature": 0.5}),
        ] {
            h.mock.clear_requests();
            let (status, source, answer) = count(&h, &body).await;
            assert_eq!(status, 200, "{group}: {answer}");
            assert_eq!(source, "exact", "{group}");
            // Vertex fetches its access token from the mock first.
            let requests: Vec<_> = h
                .mock
                .requests()
                .into_iter()
                .filter(|r| r.path != "/token")
                .collect();
            assert_eq!(requests.len(), 1, "{group}: one call to the counter");
            let path = &requests[0].path;
            assert!(
                [
                    "input_tokens",
                    "count_tokens",
                    "count-tokens",
                    "countTokens",
                    "tokenize"
                ]
                .iter()
                .any(|counter| path.contains(counter)),
                "{group}: {path}"
            );
            let expected = created_input_tokens(&h, &body).await;
            assert_eq!(counted(&answer), expected, "{group}: {body}");
        }
    }
}

#[tokio::test]
async fn servers_without_a_counter_get_a_tokenizer_estimate() {
    let h = Harness::start().await;
    let body = |group: &str| json!({"model": group, "instructions": "Be brief.", "input": "Tell me a joke"});
    for group in ESTIMATED {
        h.mock.clear_requests();
        let (status, source, answer) = count(&h, &body(group)).await;
        assert_eq!(status, 200, "{group}: {answer}");
        assert_eq!(source, "estimate", "{group}");
        // o200k_base: two messages of 3 framing tokens, their roles ("system" or "developer",
        // "user": one token each), "Be brief." (3) and "Tell me a joke" (4), 3 to prime the
        // reply.
        assert_eq!(counted(&answer), 3 + 1 + 3 + 3 + 1 + 4 + 3, "{group}");
        let asked: Vec<String> = h
            .mock
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .filter(|path| path != "/token")
            .collect();
        if *group == "bedrock-nova" {
            // Asked, refused (the counter does not serve Nova), then estimated.
            assert_eq!(asked.len(), 1, "{asked:?}");
            assert!(asked[0].ends_with("/count-tokens"), "{asked:?}");
        } else {
            assert!(
                asked.is_empty(),
                "{group}: nothing is sent upstream: {asked:?}"
            );
        }
    }
}

#[tokio::test]
async fn counts_are_served_under_every_prefix_and_follow_aliases_and_wildcards() {
    let h = Harness::with(|mock| {
        format!(
            "model_list:{}  - model_name: \"claude/*\"\n    litellm_params: \
             {{model: \"anthropic/*\", api_base: \"{mock}/anthropic\", api_key: k-ant-0000}}\n\
             router_settings: {{model_group_alias: {{fast: gemini}}}}\n\
             general_settings: {{master_key: {KEY}}}\n",
            default_models(mock)
        )
    })
    .await;
    let body = json!({"model": "anthropic", "input": "hello there"});
    for path in [
        "/v1/responses/input_tokens",
        "/responses/input_tokens",
        "/openai/v1/responses/input_tokens",
    ] {
        let (status, _, answer) = count_at(&h, path, &body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(
            answer,
            json!({"object": "response.input_tokens", "input_tokens": 2})
        );
    }
    let (status, _, answer) = count(&h, &json!({"model": "fast", "input": "hello there"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(counted(&answer), 2);
    assert!(
        h.last_upstream()
            .path
            .ends_with("gemini-2.5-flash:countTokens")
    );
    let (status, _, answer) = count(
        &h,
        &json!({"model": "claude/claude-opus-4-1", "input": "hello there"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(counted(&answer), 2);
    let sent = h.last_upstream();
    assert_eq!(sent.path, "/anthropic/v1/messages/count_tokens");
    assert_eq!(sent.body["model"], "claude-opus-4-1");

    // Instructions alone may be counted; a create would want input.
    let (status, _, answer) = count(
        &h,
        &json!({"model": "passthrough", "instructions": "Be brief and kind."}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(counted(&answer), 4);
}

#[tokio::test]
async fn a_chain_is_counted_with_its_history() {
    let h = Harness::start().await;
    for group in [
        "passthrough",
        "bridged",
        "anthropic",
        "gemini-3",
        "bedrock",
        "vertex-claude",
    ] {
        let (status, first) = h
            .call(json!({"model": group, "instructions": "Be brief.", "input": "Tell me a joke"}))
            .await;
        assert_eq!(status, 200, "{group}: {first}");
        let next = json!({"model": group, "previous_response_id": first["id"],
            "input": "Another one please"});
        let (status, source, answer) = count(&h, &next).await;
        assert_eq!(status, 200, "{group}: {answer}");
        assert_eq!(source, "exact");
        // The history: "Tell me a joke" (4) and "You said: Tell me a joke" (6); instructions
        // are not inherited; then "Another one please" (3).
        assert_eq!(counted(&answer), 4 + 6 + 3, "{group}");
        assert_eq!(
            counted(&answer),
            created_input_tokens(&h, &next).await,
            "{group}"
        );
    }
}

#[tokio::test]
async fn a_conversation_is_counted_with_its_items() {
    let h = Harness::start().await;
    let (status, conv) = h
        .post_json(
            "/v1/conversations",
            &json!({"items": [{"type": "message", "role": "user", "content": "Hello there!"},
                {"type": "message", "role": "assistant", "content": "Hi, how can I help?"}]}),
        )
        .await;
    assert_eq!(status, 200, "{conv}");
    let id = conv["id"].as_str().unwrap();
    for group in ["anthropic", "gemini", "passthrough"] {
        let body = json!({"model": group, "conversation": id, "input": "Tell me a joke"});
        let (status, _, answer) = count(&h, &body).await;
        assert_eq!(status, 200, "{group}: {answer}");
        assert_eq!(counted(&answer), 2 + 5 + 4, "{group}");
    }
    // Counting adds nothing to the conversation.
    let (_, items) = h.get_json(&format!("/v1/conversations/{id}/items")).await;
    assert_eq!(items["data"].as_array().unwrap().len(), 2, "{items}");
    let body = json!({"model": "anthropic", "conversation": {"id": id}, "input": "Tell me a joke"});
    let (_, _, answer) = count(&h, &body).await;
    assert_eq!(counted(&answer), created_input_tokens(&h, &body).await);
}

#[tokio::test]
async fn errors_are_a_creates() {
    let h = Harness::start().await;
    let cases = [
        json!({"input": "hi"}),
        json!({"model": "no-such-model", "input": "hi"}),
        json!({"model": "anthropic", "input": "hi", "previous_response_id": "resp_unknown"}),
        json!({"model": "anthropic", "input": "hi", "conversation": "conv_unknown"}),
        json!({"model": "anthropic", "input": "hi", "conversation": "conv_x",
            "previous_response_id": "resp_x"}),
        json!({"model": "anthropic", "input": "hi", "temperature": 9}),
        json!({"model": "anthropic", "input": "hi", "reasoning": {"effort": "high"},
            "temperature": 0.5}),
        json!({"model": "anthropic", "input": "hi [[mock:error=429]]"}),
        json!({"model": "gemini", "input": "hi [[mock:error=403]]"}),
    ];
    for body in cases {
        let (status, _, counted) = count(&h, &body).await;
        let (create_status, created) = h.call(body.clone()).await;
        assert!(status >= 400, "{body}: {counted}");
        assert_eq!(status, create_status, "{body}: {counted} vs {created}");
        assert_eq!(counted["error"]["type"], created["error"]["type"], "{body}");
        assert_eq!(counted["error"]["code"], created["error"]["code"], "{body}");
        assert_eq!(
            counted["error"]["param"], created["error"]["param"],
            "{body}"
        );
    }
    let (status, _, answer) = count(
        &h,
        &json!({"model": "anthropic", "input": "hi", "previous_response_id": "resp_unknown"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["code"], "previous_response_not_found");
    assert_eq!(answer["error"]["param"], "previous_response_id");

    // Not JSON, and no key.
    let response = h
        .client
        .post(format!("{}/v1/responses/input_tokens", h.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    let response = h
        .client
        .post(format!("{}/v1/responses/input_tokens", h.base))
        .json(&json!({"model": "anthropic", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn a_counter_that_cannot_answer_yields_an_estimate() {
    let h = Harness::with(|mock| {
        format!(
            "model_list:
  - model_name: down
    litellm_params: {{model: anthropic/claude-sonnet-4-5, api_base: 'http://127.0.0.1:9', api_key: sk-ant}}
  - model_name: failing
    litellm_params: {{model: anthropic/claude-sonnet-4-5, api_base: '{mock}', api_key: sk-ant}}
general_settings: {{master_key: {KEY}}}
"
        )
    })
    .await;
    let (status, source, answer) =
        count(&h, &json!({"model": "down", "input": "Tell me a joke"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(source, "estimate");
    assert!(counted(&answer) > 0, "{answer}");
    let failing = json!({"model": "failing", "input": "Tell me a joke [[mock:error=529]]"});
    let (status, source, answer) = count(&h, &failing).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(source, "estimate");
    // A refusal is not an outage: the client hears it.
    let refused = json!({"model": "failing", "input": "Tell me a joke [[mock:error=401]]"});
    let (status, _, answer) = count(&h, &refused).await;
    assert_eq!(status, 401, "{answer}");
}
