//! Chat Completions and the flavored OpenAI-compatible servers, over the wire.

// Helpers outside `#[test]` functions unwrap too: failures should be loud.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Http, post};
use serde_json::{Value, json};
use switchyard_mock::MockServer;

fn shell_tool() -> Value {
    json!({"type": "function", "function": {"name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
            "required": ["cmd"]}}})
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

async fn stream(mock: &MockServer, path: &str, mut body: Value) -> Http {
    body["stream"] = json!(true);
    body["model"] = json!("test-model");
    let http = post(mock, path, body).await;
    assert_eq!(http.status, 200, "{path}: {}", http.text());
    assert!(http.complete);
    assert!(
        http.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    http
}

fn ends_with_done(http: &Http) -> bool {
    http.events()
        .last()
        .is_some_and(|(_, data)| data == "[DONE]")
}

/// Concatenated `delta.<field>` strings.
fn joined(chunks: &[Value], field: &str) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"][field].as_str())
        .collect()
}

#[tokio::test]
async fn openai_text_stream() {
    let mock = MockServer::start().await;
    let http = stream(
        &mock,
        "/v1/chat/completions",
        json!({"messages": user("hello big world"), "stream_options": {"include_usage": true}}),
    )
    .await;
    assert!(ends_with_done(&http));
    let chunks = http.data_json();
    assert!(chunks.iter().all(|c| c["obfuscation"].is_string()));
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert!(chunks[0]["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(joined(&chunks, "content"), "You said: hello big world");
    let content_chunks = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert_eq!(content_chunks, 5, "one delta per word");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 3);
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    assert_eq!(usage["usage"]["total_tokens"], 8);

    // Without include_usage there is no usage at all.
    let http = stream(
        &mock,
        "/v1/chat/completions",
        json!({"messages": user("hi")}),
    )
    .await;
    assert!(!http.text().contains("\"usage\""));
    assert!(ends_with_done(&http));
}

#[tokio::test]
async fn openai_non_stream_and_tool_call_fragments() {
    let mock = MockServer::start().await;
    let http = post(
        &mock,
        "/v1/chat/completions",
        json!({"model": "gpt-4o", "messages": user("hi")}),
    )
    .await;
    let body = http.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "You said: hi");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 4);

    let http = stream(
        &mock,
        "/v1/chat/completions",
        json!({"messages": user("do it [[mock:parallel]]"),
            "tools": [shell_tool(), {"type": "function", "function": {"name": "f"}}]}),
    )
    .await;
    let chunks = http.data_json();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    let heads: Vec<&&Value> = calls.iter().filter(|c| c.get("id").is_some()).collect();
    assert_eq!(heads.len(), 2);
    assert_eq!(heads[0]["function"]["arguments"], "");
    assert_eq!(heads[0]["type"], "function");
    assert_eq!(heads[1]["function"]["name"], "f");
    let args0: String = calls
        .iter()
        .filter(|c| c["index"] == 0)
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args0, r#"{"cmd":"echo hello"}"#);
    assert!(calls.iter().filter(|c| c["index"] == 0).count() >= 3);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn tool_messages_and_refusals() {
    let mock = MockServer::start().await;
    let http = post(
        &mock,
        "/v1/chat/completions",
        json!({"model": "m", "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
                "type": "function", "function": {"name": "exec_command", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "done!"}],
            "tools": [shell_tool()]}),
    )
    .await;
    assert_eq!(
        http.json()["choices"][0]["message"]["content"],
        "The tool returned: done!"
    );
    let http = stream(
        &mock,
        "/v1/chat/completions",
        json!({"messages": user("[[mock:refusal]]")}),
    )
    .await;
    assert!(joined(&http.data_json(), "refusal").starts_with("I'm sorry"));
}

#[tokio::test]
async fn midstream_error_and_error_directives() {
    let mock = MockServer::start().await;
    let http = stream(
        &mock,
        "/v1/chat/completions",
        json!({"messages": user("a b c [[mock:midstream-error]]")}),
    )
    .await;
    assert!(!http.text().contains("[DONE]"));
    let last = http.data_json().pop().unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    assert!(last["error"]["code"].is_null());

    let http = post(
        &mock,
        "/v1/chat/completions",
        json!({"model": "m", "stream": true, "messages": user("[[mock:error=429]]")}),
    )
    .await;
    assert_eq!(http.status, 429);
    assert_eq!(http.header("retry-after-ms"), Some("1000"));
    assert_eq!(http.json()["error"]["code"], "rate_limit_exceeded");

    let http = post(
        &mock,
        "/v1/chat/completions",
        json!({"model": "m", "messages": user("[[mock:error=context]]")}),
    )
    .await;
    assert_eq!(http.status, 400);
    assert_eq!(http.json()["error"]["param"], "messages");
    assert_eq!(http.json()["error"]["code"], "context_length_exceeded");
}

#[tokio::test]
async fn mistral() {
    let mock = MockServer::start().await;
    let path = "/mistral/v1/chat/completions";
    let http = post(
        &mock,
        path,
        json!({"model": "m", "stream": true, "messages": user("hi"),
            "stream_options": {"include_usage": true}}),
    )
    .await;
    assert_eq!(http.status, 422);
    let body = http.json();
    assert_eq!(body["object"], "error");
    assert_eq!(body["message"]["detail"][0]["type"], "extra_forbidden");
    assert_eq!(
        body["message"]["detail"][0]["loc"],
        json!(["body", "stream_options"])
    );
    for field in [
        "max_completion_tokens",
        "user",
        "store",
        "metadata",
        "whatever",
    ] {
        let mut request = json!({"model": "m", "messages": user("hi")});
        request[field] = json!(1);
        assert_eq!(post(&mock, path, request).await.status, 422, "{field}");
    }

    let http = post(
        &mock,
        path,
        json!({"model": "m", "messages": [
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_abc",
                "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "x"}]}),
    )
    .await;
    assert_eq!(http.status, 400);
    assert_eq!(
        http.json()["message"],
        "Tool call id was call_abc but must be a-z, A-Z, 0-9, with a length of 9."
    );

    let http = stream(
        &mock,
        path,
        json!({"messages": user("hi"), "tools": [shell_tool()]}),
    )
    .await;
    assert!(ends_with_done(&http));
    let chunks = http.data_json();
    let last = chunks.last().unwrap();
    let call = &last["choices"][0]["delta"]["tool_calls"][0];
    assert!(call.get("index").is_none() && call.get("type").is_none());
    assert_eq!(call["id"].as_str().unwrap().len(), 9);
    assert_eq!(call["function"]["arguments"], r#"{"cmd":"echo hello"}"#);
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(last["usage"]["total_tokens"], 3);

    let http = stream(
        &mock,
        path,
        json!({"messages": user("hi [[mock:reasoning]]")}),
    )
    .await;
    let chunks = http.data_json();
    let thinking = &chunks[1]["choices"][0]["delta"]["content"][0];
    assert_eq!(thinking["type"], "thinking");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last["usage"].is_object(), "usage on the final chunk");
}

#[tokio::test]
async fn deepseek() {
    let mock = MockServer::start().await;
    let path = "/deepseek/chat/completions";
    let http = stream(
        &mock,
        path,
        json!({"messages": user("hi [[mock:reasoning]] [[mock:usage=10,6,4,2]]")}),
    )
    .await;
    assert!(ends_with_done(&http));
    let chunks = http.data_json();
    assert_eq!(joined(&chunks, "reasoning_content"), "Thinking about it.");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["usage"]["prompt_cache_hit_tokens"], 4);
    assert_eq!(last["usage"]["prompt_cache_miss_tokens"], 6);
    assert_eq!(
        last["usage"]["completion_tokens_details"]["reasoning_tokens"],
        2
    );
    assert_eq!(
        chunks.iter().filter(|c| c.get("usage").is_some()).count(),
        1
    );

    let http = post(
        &mock,
        path,
        json!({"model": "m", "messages": [{"role": "developer", "content": "x"}]}),
    )
    .await;
    assert_eq!(http.status, 400);
    assert!(
        http.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown variant `developer`")
    );
    let http = post(
        &mock,
        path,
        json!({"model": "m", "messages": user("x"),
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {}}}}),
    )
    .await;
    assert_eq!(http.status, 400);
    assert_eq!(
        http.json()["error"]["message"],
        "This response_format type is unavailable now"
    );
}

#[tokio::test]
async fn groq() {
    let mock = MockServer::start().await;
    let path = "/groq/openai/v1/chat/completions";
    let http = stream(
        &mock,
        path,
        json!({"messages": user("hi [[mock:reasoning]]"), "tools": [shell_tool()]}),
    )
    .await;
    let chunks = http.data_json();
    assert_eq!(joined(&chunks, "reasoning"), "Thinking about it.");
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls.len(), 1, "whole call in one chunk");
    assert_eq!(calls[0]["index"], 0);
    let last = chunks.last().unwrap();
    assert_eq!(last["usage"], last["x_groq"]["usage"]);
    assert_eq!(
        last["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );
    assert!(chunks[0]["x_groq"]["id"].is_string());

    let http = post(
        &mock,
        path,
        json!({"model": "m", "messages": user("x"), "metadata": {"a": "b"}}),
    )
    .await;
    assert_eq!(http.status, 400);
    assert_eq!(
        http.json()["error"]["message"],
        "property 'metadata' is unsupported"
    );
}

#[tokio::test]
async fn ollama_and_vllm() {
    let mock = MockServer::start().await;
    let http = stream(
        &mock,
        "/ollama/v1/chat/completions",
        json!({"messages": user("hi [[mock:reasoning]]"), "stream_options": {"include_usage": true}}),
    )
    .await;
    let chunks = http.data_json();
    for chunk in &chunks[..chunks.len() - 1] {
        assert_eq!(chunk["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunk["system_fingerprint"], "fp_ollama");
    }
    assert_eq!(joined(&chunks, "reasoning"), "Thinking about it.");
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));

    let http = stream(
        &mock,
        "/ollama/v1/chat/completions",
        json!({"messages": user("x"), "tools": [shell_tool()]}),
    )
    .await;
    let call = http
        .data_json()
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .unwrap();
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["arguments"], r#"{"cmd":"echo hello"}"#);

    let http = stream(
        &mock,
        "/vllm/v1/chat/completions",
        json!({"messages": user("hi [[mock:reasoning]]")}),
    )
    .await;
    assert_eq!(joined(&http.data_json(), "reasoning"), "Thinking about it.");
    assert!(!http.text().contains("reasoning_content"));
    let http = post(
        &mock,
        "/vllm/v1/chat/completions",
        json!({"model": "m", "messages": user("[[mock:error=400]]")}),
    )
    .await;
    assert_eq!(http.json()["error"]["code"], 400);
}

#[tokio::test]
async fn openrouter() {
    let mock = MockServer::start().await;
    let http = stream(
        &mock,
        "/openrouter/api/v1/chat/completions",
        json!({"messages": user("hi")}),
    )
    .await;
    assert!(http.text().starts_with(": OPENROUTER PROCESSING\n"));
    assert!(ends_with_done(&http));
    let chunks = http.data_json();
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"].as_array().unwrap().len(), 1);
    assert_eq!(last["choices"][0]["delta"]["content"], "");
    assert!(last["usage"]["cost"].as_f64().unwrap() > 0.0);
    assert_eq!(joined(&chunks, "content"), "You said: hi");
}

#[tokio::test]
async fn xai() {
    let mock = MockServer::start().await;
    let http = stream(
        &mock,
        "/xai/v1/chat/completions",
        json!({"messages": user("hi [[mock:reasoning]] [[mock:usage=10,8,0,3]]")}),
    )
    .await;
    let chunks = http.data_json();
    let with_choices: Vec<&Value> = chunks
        .iter()
        .filter(|c| !c["choices"].as_array().unwrap().is_empty())
        .collect();
    let (last, intermediate) = with_choices.split_last().unwrap();
    assert!(
        intermediate
            .iter()
            .all(|c| c["choices"][0].get("finish_reason").is_none())
    );
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["completion_tokens"], 5);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 3);
    assert_eq!(usage["total_tokens"], 18);
}

#[tokio::test]
async fn length_and_json_directives() {
    let mock = MockServer::start().await;
    let http = stream(
        &mock,
        "/v1/chat/completions",
        json!({"messages": user("one two three four [[mock:length]]"), "max_tokens": 2}),
    )
    .await;
    let chunks = http.data_json();
    assert_eq!(joined(&chunks, "content"), "You said:");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "length"
    );

    let http = post(
        &mock,
        "/v1/chat/completions",
        json!({"model": "m", "messages": user("[[mock:json]]"),
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "strict": true,
                "schema": {"type": "object", "properties": {"ok": {"type": "boolean"},
                    "tags": {"type": "array", "items": {"type": "string"}}},
                    "required": ["ok", "tags"], "additionalProperties": false}}}}),
    )
    .await;
    let content = http.json()["choices"][0]["message"]["content"].clone();
    let value: Value = serde_json::from_str(content.as_str().unwrap()).unwrap();
    assert_eq!(value, json!({"ok": true, "tags": []}));
}

#[tokio::test]
async fn every_flavor_answers_without_streaming() {
    let mock = MockServer::start().await;
    for path in [
        "/v1/chat/completions",
        "/mistral/v1/chat/completions",
        "/deepseek/chat/completions",
        "/groq/openai/v1/chat/completions",
        "/ollama/v1/chat/completions",
        "/vllm/v1/chat/completions",
        "/openrouter/api/v1/chat/completions",
        "/xai/v1/chat/completions",
    ] {
        let http = post(
            &mock,
            path,
            json!({"model": "m", "messages": user("hi [[mock:reasoning]]")}),
        )
        .await;
        assert_eq!(http.status, 200, "{path}: {}", http.text());
        let body = http.json();
        assert_eq!(body["object"], "chat.completion", "{path}");
        let message = &body["choices"][0]["message"];
        assert_eq!(message["role"], "assistant", "{path}");
        let text = match &message["content"] {
            Value::String(text) => text.clone(),
            // Mistral: a thinking part, then the text part.
            Value::Array(parts) => parts[1]["text"].as_str().unwrap().to_string(),
            other => panic!("{path}: {other}"),
        };
        assert_eq!(text, "You said: hi [[mock:reasoning]]", "{path}");
        assert!(body["usage"]["prompt_tokens"].is_u64(), "{path}");
        assert_eq!(body["choices"][0]["finish_reason"], "stop", "{path}");

        let http = post(
            &mock,
            path,
            json!({"model": "m", "messages": user("go"), "tools": [shell_tool()]}),
        )
        .await;
        let body = http.json();
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "exec_command", "{path}");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls", "{path}");
    }
}

#[tokio::test]
async fn dropped_and_stalled_chat_streams() {
    let mock = MockServer::start().await;
    let http = post(
        &mock,
        "/v1/chat/completions",
        json!({"model": "m", "stream": true, "messages": user("a b c d e f [[mock:drop]]")}),
    )
    .await;
    assert_eq!(http.status, 200);
    assert!(!http.complete, "the connection is cut mid-body");
    assert!(!http.text().contains("[DONE]"));
    assert!(!http.data_json().is_empty());

    let start = std::time::Instant::now();
    let http = stream(
        &mock,
        "/v1/chat/completions",
        json!({"messages": user("a b [[mock:stall=120]] [[mock:malformed]]")}),
    )
    .await;
    assert!(start.elapsed() >= std::time::Duration::from_millis(120));
    assert!(ends_with_done(&http));
    let unparsable = http
        .events()
        .iter()
        .filter(|(_, data)| data != "[DONE]" && serde_json::from_str::<Value>(data).is_err())
        .count();
    assert_eq!(unparsable, 1);
    assert_eq!(
        joined(&http.data_json(), "content"),
        "You said: a b [[mock:stall=120]] [[mock:malformed]]"
    );
}
