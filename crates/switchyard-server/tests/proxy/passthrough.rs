//! Native Responses pass-through (`openai/…`).

use serde_json::{Value, json};

use crate::common::{Harness, UPSTREAM_KEY, final_response, output_text};

const REQUIRED: &[&str] = &[
    "id",
    "object",
    "created_at",
    "status",
    "error",
    "incomplete_details",
    "instructions",
    "model",
    "output",
    "parallel_tool_calls",
    "metadata",
    "tool_choice",
    "temperature",
    "top_p",
    "tools",
    "usage",
];

#[tokio::test]
async fn forwards_unknown_fields_and_strips_the_gateways() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(json!({
            "model": "passthrough", "input": "hi", "client_metadata": {"session": "s1"},
            "prompt_cache_key": "pck", "include": ["reasoning.encrypted_content"],
            "reasoning": {"effort": "low", "summary": "auto"}, "store": false,
            "fallbacks": ["other"], "mock_testing_fallbacks": false, "service_tier": "flex"
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    let upstream = h.last_upstream();
    assert_eq!(upstream.path, "/v1/responses");
    assert_eq!(
        upstream.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    let sent = &upstream.body;
    assert_eq!(
        sent["model"], "gpt-mock",
        "the upstream model replaces the group name"
    );
    assert_eq!(sent["client_metadata"], json!({"session": "s1"}));
    assert_eq!(sent["prompt_cache_key"], "pck");
    assert_eq!(sent["service_tier"], "flex");
    assert_eq!(sent["reasoning"]["effort"], "low");
    assert_eq!(sent["store"], false);
    assert!(
        sent.get("fallbacks").is_none() && sent.get("mock_testing_fallbacks").is_none(),
        "{sent}"
    );
    assert!(sent.get("stream").is_none());
}

#[tokio::test]
async fn text_json_and_stream_agree() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(json!({"model": "passthrough", "input": "hello there"}))
        .await;
    assert_eq!(status, 200);
    for key in REQUIRED {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(output_text(&body), "You said: hello there");
    assert!(body["usage"]["input_tokens_details"]["cached_tokens"].is_u64());

    let (status, events) = h
        .stream(json!({"model": "passthrough", "input": "hello there"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.last_upstream().body["stream"], true);
    let streamed = final_response(&events);
    assert_eq!(output_text(&streamed), "You said: hello there");
    assert_eq!(streamed["usage"], body["usage"]);
}

#[tokio::test]
async fn function_call_round_trip() {
    let h = Harness::start().await;
    let tools = json!([{"type": "function", "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    for stream in [false, true] {
        let first = json!({"model": "passthrough", "input": "Weather in Paris?", "tools": tools});
        let response = if stream {
            final_response(&h.stream(first).await.1)
        } else {
            h.call(first).await.1
        };
        let call = response["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "function_call")
            .cloned()
            .unwrap_or_else(|| panic!("no function_call: {response}"));
        assert_eq!(call["name"], "get_weather");
        let mut input = vec![json!({"role": "user", "content": "Weather in Paris?"})];
        input.extend(response["output"].as_array().unwrap().iter().cloned());
        input.push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C and sunny"}));
        let second = json!({"model": "passthrough", "input": input, "tools": tools});
        let answer = if stream {
            final_response(&h.stream(second).await.1)
        } else {
            h.call(second).await.1
        };
        assert_eq!(output_text(&answer), "The tool returned: 18C and sunny");
    }
}

#[tokio::test]
async fn reasoning_with_encrypted_content_passes_through() {
    let h = Harness::start().await;
    let request = json!({"model": "passthrough", "input": "think [[mock:reasoning]]",
        "reasoning": {"effort": "high", "summary": "auto"}, "include": ["reasoning.encrypted_content"]});
    let (_, events) = h.stream(request.clone()).await;
    let response = final_response(&events);
    let reasoning = &response["output"][0];
    assert_eq!(reasoning["type"], "reasoning", "{response}");
    assert!(reasoning["encrypted_content"].is_string(), "{reasoning}");
    assert!(
        events
            .iter()
            .any(|e| e.kind() == "response.reasoning_summary_text.delta")
    );
    let (_, body) = h.call(request).await;
    assert_eq!(body["output"][0]["type"], "reasoning");
}

#[tokio::test]
async fn client_safe_upstream_ids_are_kept() {
    let h = Harness::start().await;
    let (_, body) = h.call(json!({"model": "passthrough", "input": "hi"})).await;
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("resp_") && id.len() <= 64);
    // The gateway keeps the response: a continuation goes upstream as the whole context.
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": "more", "previous_response_id": id}))
        .await;
    assert_eq!(status, 200);
    let sent = h.last_upstream().body;
    assert!(sent.get("previous_response_id").is_none(), "{sent}");
    assert_eq!(sent["input"].as_array().unwrap().len(), 3, "{sent}");
    // An id the gateway never stored (made on the upstream directly) goes there as it is.
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": "more", "previous_response_id": "resp_madeelsewhere"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        h.last_upstream().body["previous_response_id"],
        Value::String("resp_madeelsewhere".to_string())
    );
}
