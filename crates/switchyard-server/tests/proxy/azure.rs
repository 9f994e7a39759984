//! Azure OpenAI and Azure AI Foundry: their URLs, credentials and quirks on the wire.

use serde_json::{Value, json};
use switchyard_mock::Reply;

use crate::common::{Harness, KEY, final_response, output_text};

fn header<'a>(request: &'a switchyard_mock::RecordedRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn azure_responses_are_relayed_with_the_api_key_and_version() {
    let h = Harness::start().await;
    for (group, path, query) in [
        (
            "azure",
            "/openai/responses",
            Some("api-version=2025-04-01-preview"),
        ),
        ("azure-v1", "/openai/v1/responses", None),
    ] {
        let (status, body) = h
            .call(json!({"model": group, "input": "hello azure"}))
            .await;
        assert_eq!(status, 200, "{group}: {body}");
        assert_eq!(output_text(&body), "You said: hello azure");
        let upstream = h.last_upstream();
        assert_eq!(upstream.path, path);
        assert_eq!(upstream.query.as_deref(), query);
        assert_eq!(header(&upstream, "api-key"), Some("k-azure-000000000"));
        assert_eq!(
            header(&upstream, "authorization"),
            None,
            "the gateway key never leaks"
        );
        assert_eq!(upstream.body["model"], "gpt-5-mini-prod");

        let (status, events) = h
            .stream(json!({"model": group, "input": "hello azure"}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            output_text(&final_response(&events)),
            "You said: hello azure"
        );
    }
}

#[tokio::test]
async fn azure_chat_survives_the_empty_first_chunk() {
    let h = Harness::start().await;
    let (status, events) = h
        .stream(json!({"model": "azure-chat", "input": "hello deployment"}))
        .await;
    assert_eq!(status, 200);
    let response = final_response(&events);
    assert_eq!(output_text(&response), "You said: hello deployment");
    // The first chunk's empty `model` must not replace the real one.
    assert_eq!(response["model"], "gpt-4o-prod");
    let upstream = h.last_upstream();
    assert_eq!(
        upstream.path,
        "/openai/deployments/gpt-4o-prod/chat/completions"
    );
    assert_eq!(
        upstream.query.as_deref(),
        Some("api-version=2025-04-01-preview")
    );
    assert_eq!(header(&upstream, "api-key"), Some("k-azure-000000000"));
}

#[tokio::test]
async fn azure_content_filter_cut_is_incomplete() {
    let h = Harness::start().await;
    let chunks = [
        json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}),
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant",
            "content": "Here is"}, "finish_reason": null, "content_filter_results": {}}]}),
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o", "choices": [{"index": 0, "delta": {},
            "finish_reason": "content_filter", "content_filter_results":
            {"violence": {"filtered": true, "severity": "medium"}}}]}),
    ];
    h.mock
        .enqueue("/chat/completions", Reply::chat_sse(chunks.clone()));
    let (status, events) = h.stream(json!({"model": "azure-chat", "input": "x"})).await;
    assert_eq!(status, 200);
    let response = final_response(&events);
    assert_eq!(response["status"], "incomplete");
    assert_eq!(response["incomplete_details"]["reason"], "content_filter");
    assert_eq!(output_text(&response), "Here is");
}

#[tokio::test]
async fn azure_rate_limits_keep_retry_after() {
    let h = Harness::start().await;
    // Azure's own 429: a string code and no type.
    h.mock.enqueue(
        "/chat/completions",
        Reply::error(
            429,
            json!({"error": {"code": "429", "message": "Requests to the ChatCompletions_Create \
                Operation under Azure OpenAI API version 2024-08-01-preview have exceeded \
                token rate limit of your current OpenAI S0 pricing tier. Please retry after 7 \
                seconds."}}),
        )
        .with_header("retry-after", "7"),
    );
    let r = h.post(&json!({"model": "azure-chat", "input": "x"})).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
}

#[tokio::test]
async fn foundry_sends_extra_parameters_and_reads_its_usage() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(json!({"model": "azure-ai", "input": "why? [[mock:reasoning]]"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let upstream = h.last_upstream();
    assert_eq!(upstream.path, "/models/chat/completions");
    assert_eq!(header(&upstream, "extra-parameters"), Some("pass-through"));
    assert_eq!(
        header(&upstream, "authorization"),
        Some("Bearer k-azure-ai-0000000")
    );
    assert_eq!(upstream.body["model"], "DeepSeek-R1");
    // Reasoning arrives in `reasoning_content`; its token count sits directly under `usage`.
    assert_eq!(body["output"][0]["type"], "reasoning", "{body}");
    assert!(
        body["usage"]["output_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn azure_reasoning_and_tool_call_survive_the_next_turn() {
    let h = Harness::start().await;
    let tools = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
        "required": ["city"]}}]);
    for stream in [false, true] {
        let first = json!({"model": "azure", "input": "Weather in Paris? [[mock:reasoning]]",
            "tools": tools, "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["reasoning.encrypted_content"], "store": false});
        let response = if stream {
            final_response(&h.stream(first).await.1)
        } else {
            h.call(first).await.1
        };
        let output = response["output"].as_array().unwrap().clone();
        let reasoning = output.iter().find(|i| i["type"] == "reasoning").unwrap();
        let blob = reasoning["encrypted_content"].as_str().unwrap().to_string();
        let call = output
            .iter()
            .find(|i| i["type"] == "function_call")
            .unwrap();

        let mut input = vec![json!({"role": "user", "content": "Weather in Paris?"})];
        input.extend(output.iter().cloned());
        input.push(
            json!({"type": "function_call_output", "call_id": call["call_id"],
            "output": "18C"}),
        );
        let second = json!({"model": "azure", "input": input, "tools": tools,
            "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"],
            "store": false});
        let reply = if stream {
            final_response(&h.stream(second).await.1)
        } else {
            h.call(second).await.1
        };
        assert_eq!(
            output_text(&reply),
            "The tool returned: 18C",
            "stream={stream}"
        );

        // On the wire of the second request: the reasoning item with its blob, then the call.
        let sent = h.last_upstream();
        assert_eq!(sent.path, "/openai/responses");
        let items = sent.body["input"].as_array().unwrap();
        let replayed = items.iter().find(|i| i["type"] == "reasoning").unwrap();
        assert_eq!(replayed["encrypted_content"], blob.as_str());
        assert!(
            items
                .iter()
                .any(|i| i["type"] == "function_call" && i["call_id"] == call["call_id"])
        );
    }
}

#[tokio::test]
async fn entra_client_credentials_fetch_one_token_for_many_requests() {
    let h = Harness::with(|mock| {
        format!(
            r#"
environment_variables: {{AZURE_AUTHORITY_HOST: "{mock}"}}
model_list:
  - model_name: entra
    litellm_params: {{model: azure/gpt-5-mini-prod, api_base: "{mock}", tenant_id: contoso, client_id: app-1, client_secret: s3cret-value}}
  - model_name: entra-bad
    litellm_params: {{model: azure/gpt-5-mini-prod, api_base: "{mock}", tenant_id: contoso, client_id: app-1, client_secret: {bad}}}
general_settings: {{master_key: {KEY}}}
"#,
            bad = switchyard_mock::ENTRA_INVALID_SECRET
        )
    })
    .await;
    for _ in 0..3 {
        let (status, body) = h.call(json!({"model": "entra", "input": "hi"})).await;
        assert_eq!(status, 200, "{body}");
    }
    let requests = h.mock.requests();
    let token_requests: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/contoso/oauth2/v2.0/token")
        .collect();
    assert_eq!(token_requests.len(), 1, "cached across requests");
    let upstream = h.last_upstream();
    let auth = header(&upstream, "authorization").unwrap();
    assert!(
        auth.starts_with("Bearer eyJ0eXAiOiJKV1Qi.mock-entra-"),
        "{auth}"
    );
    assert_eq!(header(&upstream, "api-key"), None);

    let (status, body) = h.call(json!({"model": "entra-bad", "input": "hi"})).await;
    assert_eq!(status, 401, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("AADSTS7000215"), "{message}");
    assert!(
        !message.contains(switchyard_mock::ENTRA_INVALID_SECRET),
        "{message}"
    );
}
