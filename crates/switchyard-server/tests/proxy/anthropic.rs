//! The Anthropic Messages provider through the proxy, against the mock's Messages API.

use serde_json::{Value, json};
use switchyard_mock::Reply;

use crate::common::{ANTHROPIC_KEY, Harness, final_response, output_text};

const GROUP: &str = "anthropic";

fn weather_tool() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

fn items(response: &Value) -> Vec<Value> {
    response["output"].as_array().cloned().unwrap_or_default()
}

async fn answer(h: &Harness, request: Value, stream: bool) -> Value {
    if stream {
        let (status, events) = h.stream(request).await;
        assert_eq!(status, 200);
        final_response(&events)
    } else {
        let (status, body) = h.call(request).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[tokio::test]
async fn text_streamed_and_not_agree() {
    let h = Harness::start().await;
    let request = json!({"model": GROUP, "input": "hello claude", "instructions": "Be brief.",
        "max_output_tokens": 200});
    let whole = answer(&h, request.clone(), false).await;
    assert_eq!(output_text(&whole), "You said: hello claude");
    assert_eq!(whole["status"], "completed");
    assert_eq!(whole["model"], "claude-sonnet-4-5");
    let sent = h.last_upstream();
    assert_eq!(sent.path, "/anthropic/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert!(sent.header("authorization").is_none());
    assert_eq!(sent.body["max_tokens"], 200);
    assert_eq!(
        sent.body["system"],
        json!([{"type": "text", "text": "Be brief."}])
    );

    let (status, events) = h.stream(request).await;
    assert_eq!(status, 200);
    let streamed = final_response(&events);
    assert_eq!(output_text(&streamed), output_text(&whole));
    assert_eq!(streamed["usage"], whole["usage"]);
    assert!(whole["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let deltas = events
        .iter()
        .filter(|e| e.kind() == "response.output_text.delta")
        .count();
    assert!(deltas > 1);
}

#[tokio::test]
async fn tool_round_trip_streamed_and_not() {
    let h = Harness::start().await;
    for stream in [false, true] {
        let first = json!({"model": GROUP, "input": "Weather in Paris?", "tools": weather_tool()});
        let response = answer(&h, first, stream).await;
        let output = items(&response);
        let call = output
            .iter()
            .find(|i| i["type"] == "function_call")
            .unwrap_or_else(|| panic!("no call: {response}"))
            .clone();
        assert_eq!(call["arguments"], r#"{"city":"x"}"#);
        assert!(call["call_id"].as_str().unwrap().starts_with("toolu_01"));

        let mut input = vec![json!({"role": "user", "content": "Weather in Paris?"})];
        input.extend(output.iter().cloned());
        input.push(
            json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}),
        );
        let second = json!({"model": GROUP, "input": input, "tools": weather_tool()});
        let reply = answer(&h, second, stream).await;
        assert_eq!(
            output_text(&reply),
            "The tool returned: 18C",
            "stream={stream}"
        );
        let messages = h.last_upstream().body["messages"].clone();
        assert_eq!(messages[1]["content"][0]["type"], "tool_use");
        assert_eq!(
            messages[2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": call["call_id"], "content": "18C"})
        );
    }
}

#[tokio::test]
async fn thinking_and_tool_use_survive_the_next_turn() {
    let h = Harness::start().await;
    for (group, stream) in [
        (GROUP, false),
        (GROUP, true),
        ("vertex-claude", false),
        ("vertex-claude", true),
    ] {
        let first = json!({"model": group, "input": "Weather in Paris?", "tools": weather_tool(),
            "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"], "store": false});
        let response = answer(&h, first, stream).await;
        let sent = h.last_upstream().body;
        assert_eq!(
            sent["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024})
        );
        let output = items(&response);
        assert_eq!(output[0]["type"], "reasoning");
        assert_eq!(output[0]["summary"][0]["text"], "Thinking about it.");
        assert!(
            output[0]["encrypted_content"]
                .as_str()
                .unwrap()
                .starts_with("swy1.anthropic.")
        );
        let call = output
            .iter()
            .find(|i| i["type"] == "function_call")
            .unwrap()
            .clone();

        let mut input = vec![json!({"role": "user", "content": "Weather in Paris?"})];
        input.extend(output.iter().cloned());
        input.push(
            json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}),
        );
        let second = json!({"model": group, "input": input, "tools": weather_tool(),
            "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"], "store": false});
        let reply = answer(&h, second, stream).await;
        assert_eq!(
            output_text(&reply),
            "The tool returned: 18C",
            "{group} stream={stream}: {reply}"
        );

        // On the wire: the signed thinking block leads the assistant turn, before the call.
        let sent = h.last_upstream().body;
        assert_eq!(sent["thinking"]["type"], "enabled");
        let assistant = &sent["messages"][1];
        assert_eq!(assistant["role"], "assistant");
        assert_eq!(assistant["content"][0]["type"], "thinking");
        assert_eq!(assistant["content"][0]["thinking"], "Thinking about it.");
        assert!(
            assistant["content"][0]["signature"]
                .as_str()
                .unwrap()
                .starts_with("EqMockSig")
        );
        assert_eq!(assistant["content"][1]["type"], "tool_use");
        assert_eq!(assistant["content"][1]["id"], call["call_id"]);
        assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
    }
}

#[tokio::test]
async fn tool_turn_without_the_thinking_blob_still_works() {
    let h = Harness::start().await;
    // `store: false` and no `include`: the gateway keeps nothing the next turn could use.
    let first = json!({"model": GROUP, "input": "Weather?", "tools": weather_tool(),
        "reasoning": {"effort": "medium"}, "store": false});
    let response = answer(&h, first, true).await;
    let output = items(&response);
    assert_eq!(output[0]["type"], "reasoning");
    assert!(
        output[0]
            .get("encrypted_content")
            .is_none_or(Value::is_null)
    );
    let call = output
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap()
        .clone();
    let mut input = vec![json!({"role": "user", "content": "Weather?"})];
    input.extend(output.iter().cloned());
    input
        .push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}));
    let reply = answer(
        &h,
        json!({"model": GROUP, "input": input, "tools": weather_tool(),
        "reasoning": {"effort": "medium"}}),
        false,
    )
    .await;
    assert_eq!(output_text(&reply), "The tool returned: 18C");
    assert!(h.last_upstream().body.get("thinking").is_none());
}

#[tokio::test]
async fn errors_before_the_stream() {
    let h = Harness::start().await;
    for (directive, status, kind, code) in [
        ("429", 429, "rate_limit_error", "rate_limit_exceeded"),
        ("401", 401, "authentication_error", "invalid_api_key"),
        ("404", 404, "not_found_error", "model_not_found"),
        (
            "context",
            400,
            "invalid_request_error",
            "context_length_exceeded",
        ),
        ("500", 500, "server_error", ""),
        (
            "529",
            503,
            "service_unavailable_error",
            "server_is_overloaded",
        ),
    ] {
        for stream in [false, true] {
            let r = h
                .post(
                    &json!({"model": GROUP, "input": format!("fail [[mock:error={directive}]]"),
                    "stream": stream}),
                )
                .await;
            assert_eq!(r.status(), status, "{directive} stream={stream}");
            if status == 429 {
                assert_eq!(r.headers()["retry-after"], "1");
            }
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["type"], kind, "{directive}: {body}");
            if !code.is_empty() {
                assert_eq!(body["error"]["code"], code, "{directive}: {body}");
            }
            assert!(!body.to_string().contains(ANTHROPIC_KEY));
        }
    }
}

#[tokio::test]
async fn errors_during_the_stream_end_in_response_failed() {
    let h = Harness::start().await;
    for directive in ["midstream-error", "drop"] {
        let (status, events) = h
            .stream(json!({"model": GROUP, "input": format!("go on [[mock:{directive}]]")}))
            .await;
        assert_eq!(status, 200, "{directive}");
        let last = final_response(&events);
        assert_eq!(last["status"], "failed", "{directive}: {last}");
        if directive == "midstream-error" {
            assert_eq!(last["error"]["code"], "server_is_overloaded");
        }
    }
}

#[tokio::test]
async fn client_betas_pass_and_cache_usage_is_counted_once() {
    let h = Harness::start().await;
    let events = [
        r#"event: message_start
data: {"type":"message_start","message":{"model":"claude-sonnet-4-5-20250929","id":"msg_01","type":"message","role":"assistant","content":[],"stop_reason":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":120,"cache_read_input_tokens":9511,"output_tokens":1}}   }"#,
        r#"event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Cached."}}"#,
        r#"event: content_block_stop
data: {"type":"content_block_stop","index":0}"#,
        r#"event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":3,"cache_creation_input_tokens":120,"cache_read_input_tokens":9511,"output_tokens":12}}"#,
        r#"event: message_stop
data: {"type":"message_stop"}"#,
    ];
    h.mock.enqueue("/v1/messages", Reply::sse(events));
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(crate::common::KEY)
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .json(&json!({"model": GROUP, "stream": true, "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "long prompt", "cache_control": {"type": "ephemeral"}}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = crate::common::parse_sse(&response.bytes().await.unwrap());
    let last = final_response(&events);
    assert_eq!(output_text(&last), "Cached.");
    assert_eq!(last["usage"]["input_tokens"], 3 + 120 + 9511);
    assert_eq!(last["usage"]["input_tokens_details"]["cached_tokens"], 9511);
    assert_eq!(
        last["usage"]["input_tokens_details"]["cache_write_tokens"],
        120
    );
    assert_eq!(last["usage"]["output_tokens"], 12);
    let sent = h.last_upstream();
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(
        sent.body["messages"][0]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
}

#[tokio::test]
async fn claude_on_vertex_uses_raw_predict_with_a_service_account_token() {
    let h = Harness::start().await;
    for stream in [false, true] {
        let response = answer(
            &h,
            json!({"model": "vertex-claude", "input": "hello vertex"}),
            stream,
        )
        .await;
        assert_eq!(output_text(&response), "You said: hello vertex");
        let upstream = h.last_upstream();
        let method = if stream {
            "streamRawPredict"
        } else {
            "rawPredict"
        };
        assert_eq!(
            upstream.path,
            format!(
                "/v1/projects/mock-project/locations/us-east5/publishers/anthropic/models/\
                 claude-sonnet-4-5@20250929:{method}"
            )
        );
        assert_eq!(upstream.body["anthropic_version"], "vertex-2023-10-16");
        assert!(upstream.body.get("model").is_none());
        let auth = upstream
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap();
        assert!(
            auth.starts_with("Bearer "),
            "a token from the mock's /token"
        );
        assert!(!upstream.headers.iter().any(|(n, _)| n == "x-api-key"));
    }
}

#[tokio::test]
async fn a_stored_turn_gives_the_thinking_blob_back_to_a_client_that_never_saw_it() {
    let h = Harness::start().await;
    let first = json!({"model": GROUP, "input": "Weather?", "tools": weather_tool(),
        "reasoning": {"effort": "medium"}});
    let response = answer(&h, first, true).await;
    let output = items(&response);
    assert!(
        output[0]
            .get("encrypted_content")
            .is_none_or(Value::is_null),
        "the client did not ask for the blob"
    );
    let call = output
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap()
        .clone();
    // A hand-written loop: the call alone (call_id, name, arguments), then its output.
    let input = json!([
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": call["call_id"], "name": call["name"], "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}
    ]);
    let reply = answer(
        &h,
        json!({"model": GROUP, "input": input, "tools": weather_tool(),
        "reasoning": {"effort": "medium"}}),
        false,
    )
    .await;
    assert_eq!(output_text(&reply), "The tool returned: 18C");
    let sent = h.last_upstream().body;
    assert!(sent.get("thinking").is_some(), "{sent}");
    let assistant = &sent["messages"][1];
    assert_eq!(assistant["role"], "assistant", "{sent}");
    assert_eq!(assistant["content"][0]["type"], "thinking", "{sent}");
    assert!(assistant["content"][0]["signature"].is_string(), "{sent}");
}
