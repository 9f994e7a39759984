//! Bedrock Converse through the proxy: SigV4 (checked in full by the mock for the example
//! keys) and bearer auth, an ARN model id in the path, JSON and event stream answers, errors
//! before and during a stream, and the reasoning round trip across two turns.

use serde_json::{Value, json};
use switchyard_mock::Reply;

use crate::common::{Harness, KEY, final_response, output_text};

const ARN_PATH: &str = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.nova-micro-v1%3A0/converse";

#[tokio::test]
async fn text_through_an_arn_with_a_bedrock_api_key() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(
            json!({"model": "bedrock-nova", "instructions": "Be brief.", "input": "hello there",
            "max_output_tokens": 100, "temperature": 0.1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(output_text(&body), "You said: hello there");
    assert_eq!(body["status"], "completed");
    let upstream = h.last_upstream();
    assert_eq!(upstream.path, ARN_PATH);
    let auth = upstream
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap();
    assert_eq!(auth.1, "Bearer k-bedrock-api-key-0000");
    assert_eq!(
        upstream.body,
        json!({"messages": [{"role": "user", "content": [{"text": "hello there"}]}],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.1}})
    );
    // Usage: the mock's words, in Responses accounting.
    assert_eq!(body["usage"]["input_tokens"], 4);
    assert_eq!(body["usage"]["output_tokens"], 4);

    // The same through the stream endpoint.
    let (status, events) = h
        .stream(json!({"model": "bedrock-nova", "input": "hello again"}))
        .await;
    assert_eq!(status, 200);
    let response = final_response(&events);
    assert_eq!(output_text(&response), "You said: hello again");
    assert!(h.last_upstream().path.ends_with("%3A0/converse-stream"));
}

#[tokio::test]
async fn sigv4_signed_stream_with_reasoning_cache_usage_and_tools() {
    let h = Harness::start().await;
    let (status, events) = h
        .stream(
            json!({"model": "bedrock", "input": "think [[mock:usage=50,9,30,0]]",
            "reasoning": {"effort": "low", "summary": "auto"}}),
        )
        .await;
    assert_eq!(status, 200);
    let upstream = h.last_upstream();
    assert_eq!(
        upstream.path,
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream"
    );
    let header = |name: &str| {
        upstream
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    assert!(header("authorization").contains("/us-east-1/bedrock/aws4_request"));
    assert_eq!(
        upstream.body["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})
    );
    let response = final_response(&events);
    assert_eq!(response["output"][0]["type"], "reasoning");
    assert_eq!(
        response["output"][0]["summary"][0]["text"],
        "Thinking about it."
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind() == "response.reasoning_summary_text.delta")
    );
    // Bedrock's inputTokens (20) excludes the 30 cached; the client sees all 50 once.
    assert_eq!(response["usage"]["input_tokens"], 50);
    assert_eq!(
        response["usage"]["input_tokens_details"]["cached_tokens"],
        30
    );
    assert_eq!(response["usage"]["output_tokens"], 9);

    // Tools, streamed arguments, non-streamed too.
    let tools = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    for stream in [false, true] {
        let request = json!({"model": "bedrock", "input": "weather?", "tools": tools, "tool_choice": "required"});
        let response = if stream {
            let (status, events) = h.stream(request).await;
            assert_eq!(status, 200);
            assert!(
                events
                    .iter()
                    .any(|e| e.kind() == "response.function_call_arguments.delta")
            );
            final_response(&events)
        } else {
            let (status, body) = h.call(request).await;
            assert_eq!(status, 200, "{body}");
            body
        };
        let call = &response["output"][0];
        assert_eq!(call["type"], "function_call");
        assert_eq!(call["name"], "get_weather");
        assert_eq!(call["arguments"], "{\"city\":\"x\"}");
        assert!(call["call_id"].as_str().unwrap().starts_with("tooluse_"));
        assert_eq!(
            h.last_upstream().body["toolConfig"]["toolChoice"],
            json!({"any": {}})
        );
    }
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_signature_check() {
    let h = Harness::with(|mock| {
        format!(
            "model_list:\n  - model_name: bad\n    litellm_params: {{model: \"bedrock/amazon.nova-micro-v1:0\", \
             aws_bedrock_runtime_endpoint: \"{mock}\", aws_region_name: eu-west-1, \
             aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: not-the-right-secret-000}}\n\
             general_settings: {{master_key: {KEY}}}\n"
        )
    })
    .await;
    for stream in [false, true] {
        let r = h
            .post(&json!({"model": "bad", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "authentication_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("InvalidSignatureException")
        );
        assert!(!body.to_string().contains("not-the-right-secret-000"));
    }
}

#[tokio::test]
async fn errors_before_the_stream_keep_their_meaning() {
    let h = Harness::start().await;
    for (directive, status, kind, code) in [
        ("429", 429, "rate_limit_error", "rate_limit_exceeded"),
        ("401", 401, "authentication_error", "invalid_api_key"),
        ("403", 403, "permission_error", ""),
        ("404", 404, "not_found_error", "model_not_found"),
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
    ] {
        for stream in [false, true] {
            let input = format!("fail [[mock:error={directive}]]");
            let r = h
                .post(&json!({"model": "bedrock-nova", "input": input, "stream": stream}))
                .await;
            assert_eq!(r.status(), status, "{directive} stream={stream}");
            if status == 429 {
                // Bedrock sent none; the gateway still gives a hint.
                assert_eq!(r.headers()["retry-after"], "1");
            }
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["type"], kind, "{directive}: {body}");
            if !code.is_empty() {
                assert_eq!(body["error"]["code"], code, "{directive}: {body}");
            }
        }
    }
    // A throttle with Retry-After keeps it.
    h.mock.enqueue(
        "/converse",
        Reply::bedrock_error(
            429,
            "ThrottlingException",
            "Too many tokens, please wait before trying again.",
        )
        .with_header("retry-after", "3"),
    );
    let r = h
        .post(&json!({"model": "bedrock-nova", "input": "hi"}))
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
}

#[tokio::test]
async fn errors_during_the_stream_fail_the_response() {
    let h = Harness::start().await;
    let (status, events) = h
        .stream(json!({"model": "bedrock-nova", "input": "go on and on [[mock:midstream-error]]"}))
        .await;
    assert_eq!(status, 200);
    let last = events.last().unwrap();
    assert_eq!(last.kind(), "response.failed");
    assert_eq!(final_response(&events)["error"]["code"], "server_error");

    // A throttling exception frame after some output.
    h.mock.enqueue(
        "/converse-stream",
        Reply::bedrock_stream(
            [
                ("messageStart".to_string(), json!({"role": "assistant"})),
                (
                    "contentBlockDelta".to_string(),
                    json!({"contentBlockIndex": 0, "delta": {"text": "Partial"}}),
                ),
            ],
            Some((
                "throttlingException",
                "Too many tokens, please wait before trying again.",
            )),
        ),
    );
    let (status, events) = h
        .stream(json!({"model": "bedrock-nova", "input": "hi"}))
        .await;
    assert_eq!(status, 200);
    let response = final_response(&events);
    assert_eq!(response["status"], "failed");
    assert_eq!(response["error"]["code"], "rate_limit_exceeded");
    assert!(
        events
            .iter()
            .any(|e| e.kind() == "response.output_text.delta")
    );

    // A stream cut off mid-frame.
    let (status, events) = h
        .stream(
            json!({"model": "bedrock-nova", "input": "one two three four five six [[mock:drop]]"}),
        )
        .await;
    if status == 200 {
        assert_eq!(events.last().unwrap().kind(), "response.failed");
    } else {
        assert!(status >= 500, "{status}");
    }
}

/// Turn one: a tool call with reasoning and its signature. Turn two: the tool result and the
/// preserved reasoning, which must reach Bedrock as a signed `reasoningContent` block leading
/// the assistant turn (the mock refuses the turn otherwise, as Claude does).
#[tokio::test]
async fn reasoning_round_trip_across_tool_use() {
    let h = Harness::start().await;
    let tools = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let (status, events) = h
        .stream(json!({"model": "bedrock", "input": "Weather in Paris?", "tools": tools,
            "reasoning": {"effort": "medium"}, "include": ["reasoning.encrypted_content"], "store": false}))
        .await;
    assert_eq!(status, 200);
    let first = final_response(&events);
    let output = first["output"].as_array().unwrap().clone();
    assert_eq!(output[0]["type"], "reasoning");
    let blob = output[0]["encrypted_content"].as_str().unwrap();
    assert!(blob.starts_with("swy1.bedrock."), "{blob}");
    assert_eq!(output[1]["type"], "function_call");
    let call_id = output[1]["call_id"].as_str().unwrap().to_string();

    let mut input = vec![json!({"role": "user", "content": "Weather in Paris?"})];
    input.extend(output.iter().cloned());
    input.push(
        json!({"type": "function_call_output", "call_id": call_id, "output": "21°C and sunny"}),
    );
    for stream in [false, true] {
        let request = json!({"model": "bedrock", "input": input, "tools": tools,
            "reasoning": {"effort": "medium"}, "include": ["reasoning.encrypted_content"]});
        let text = if stream {
            let (status, events) = h.stream(request).await;
            assert_eq!(status, 200);
            output_text(&final_response(&events))
        } else {
            let (status, body) = h.call(request).await;
            assert_eq!(status, 200, "{body}");
            output_text(&body)
        };
        assert_eq!(text, "The tool returned: 21°C and sunny");
        let wire = h.last_upstream().body;
        let messages = wire["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        let assistant = &messages[1];
        assert_eq!(assistant["role"], "assistant");
        let reasoning = &assistant["content"][0]["reasoningContent"]["reasoningText"];
        assert_eq!(reasoning["text"], "Thinking about it.");
        assert!(
            reasoning["signature"]
                .as_str()
                .unwrap()
                .starts_with("EqQBCkYI")
        );
        assert_eq!(
            assistant["content"][1]["toolUse"]["toolUseId"],
            call_id.as_str()
        );
        assert_eq!(
            assistant["content"][1]["toolUse"]["input"],
            json!({"city": "x"})
        );
        assert_eq!(
            messages[2]["content"][0]["toolResult"],
            json!({"toolUseId": call_id, "content": [{"text": "21°C and sunny"}], "status": "success"})
        );
    }

    // Without the preserved reasoning (a client that did not ask for encrypted_content), the
    // turn still works: thinking is turned off for it instead of Claude refusing the replay.
    let stripped: Vec<Value> = input
        .iter()
        .filter(|i| i["type"] != "reasoning")
        .cloned()
        .collect();
    let (status, body) = h
        .call(json!({"model": "bedrock", "input": stripped, "tools": tools, "reasoning": {"effort": "medium"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = h.last_upstream().body;
    assert!(sent.get("additionalModelRequestFields").is_none(), "{sent}");
}

#[tokio::test]
async fn structured_output_and_unsupported_inputs() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(json!({"model": "bedrock-nova", "input": "a city please",
            "text": {"format": {"type": "json_schema", "name": "city", "strict": true,
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let text = output_text(&body);
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, json!({"name": "x"}));
    assert_eq!(body["output"][0]["type"], "message");

    let (status, body) = h
        .call(
            json!({"model": "bedrock-nova", "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": "https://example.com/cat.png"}]}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("image_url"),
        "{body}"
    );

    let (status, body) = h
        .call(json!({"model": "bedrock-nova", "input": "hi", "reasoning": {"effort": "high"}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "reasoning.effort");

    let (status, _) = h
        .call(json!({"model": "bedrock-nova", "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "summarize"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}]}]}))
        .await;
    assert_eq!(status, 200);
    let content = &h.last_upstream().body["messages"][0]["content"];
    assert_eq!(content[1]["image"]["format"], "png");
    assert_eq!(content[2]["document"]["format"], "pdf");
}

#[tokio::test]
async fn length_stop_is_incomplete() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(json!({"model": "bedrock-nova", "input": "one two three four [[mock:length]]", "max_output_tokens": 2}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
}
