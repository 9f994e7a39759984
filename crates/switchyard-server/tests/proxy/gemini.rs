//! Gemini through the Gemini API and Vertex AI (service-account tokens from the mock's OAuth
//! endpoint), streaming and not.

use serde_json::{Value, json};
use switchyard::providers::gemini::request::{BLOB_TAG, SignatureBlob};
use switchyard::providers::opaque;

use crate::common::{GEMINI_KEY, Harness, KEY, final_response, output_text};

const GROUPS: &[&str] = &["gemini", "gemini-3", "vertex-gemini"];

fn tools() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": false}}])
}

fn items(response: &Value) -> Vec<Value> {
    response["output"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn text_streamed_and_not_agree() {
    let h = Harness::start().await;
    for group in GROUPS {
        let request = json!({"model": group, "input": "hello gemini", "instructions": "Be brief.",
                             "max_output_tokens": 50, "temperature": 0.2});
        let (status, body) = h.call(request.clone()).await;
        assert_eq!(status, 200, "{group}: {body}");
        assert_eq!(output_text(&body), "You said: hello gemini", "{group}");
        assert_eq!(body["status"], "completed");
        let sent = h.last_upstream();
        assert!(sent.path.ends_with(":generateContent"), "{}", sent.path);
        assert_eq!(
            sent.body["systemInstruction"]["parts"][0]["text"],
            "Be brief."
        );
        assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 50);
        if *group == "vertex-gemini" {
            assert!(sent.path.starts_with(
                "/v1/projects/mock-project/locations/us-central1/publishers/google/models/"
            ));
            assert!(
                sent.header("authorization")
                    .unwrap()
                    .starts_with("Bearer ya29.mock-")
            );
            assert_eq!(sent.header("x-goog-api-key"), None);
        } else {
            assert!(sent.path.starts_with("/v1beta/models/"));
            assert_eq!(sent.header("x-goog-api-key"), Some(GEMINI_KEY));
        }

        let (status, events) = h.stream(request).await;
        assert_eq!(status, 200, "{group}");
        let streamed = final_response(&events);
        assert_eq!(output_text(&streamed), output_text(&body), "{group}");
        assert_eq!(streamed["usage"], body["usage"], "{group}");
        assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
        let deltas = events
            .iter()
            .filter(|e| e.kind() == "response.output_text.delta")
            .count();
        assert!(deltas > 1, "{group}: text should stream in several deltas");
        let sent = h.last_upstream();
        assert!(sent.path.ends_with(":streamGenerateContent"));
        assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    }
    // One token was fetched for the Vertex deployment and reused.
    let token_requests = h
        .mock
        .requests()
        .iter()
        .filter(|r| r.path == "/token")
        .count();
    assert_eq!(token_requests, 1);
}

#[tokio::test]
async fn tool_call_round_trip_with_thoughts_and_signatures() {
    let h = Harness::start().await;
    for group in GROUPS {
        for stream in [false, true] {
            let first = json!({"model": group, "input": "Weather in Paris? [[mock:reasoning]]",
                "tools": tools(), "reasoning": {"effort": "low", "summary": "auto"},
                "include": ["reasoning.encrypted_content"]});
            let response = if stream {
                final_response(&h.stream(first).await.1)
            } else {
                h.call(first).await.1
            };
            let output = items(&response);
            let reasoning = output
                .iter()
                .find(|i| i["type"] == "reasoning")
                .unwrap_or_else(|| panic!("{group}: no reasoning: {response}"));
            assert_eq!(reasoning["summary"][0]["text"], "Thinking about it.");
            let blob: SignatureBlob =
                opaque::decode(BLOB_TAG, reasoning["encrypted_content"].as_str().unwrap())
                    .expect("a gemini signature blob");
            let call = output
                .iter()
                .find(|i| i["type"] == "function_call")
                .unwrap();
            assert_eq!(call["name"], "get_weather", "{group}");
            assert_eq!(call["arguments"], r#"{"city":"x"}"#);
            assert_eq!(blob.call_id.as_deref(), call["call_id"].as_str());
            let sent = h.last_upstream().body;
            assert_eq!(
                sent["generationConfig"]["thinkingConfig"]["includeThoughts"],
                true
            );
            assert_eq!(
                sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["additionalProperties"],
                false
            );

            let mut input =
                vec![json!({"role": "user", "content": "Weather in Paris? [[mock:reasoning]]"})];
            input.extend(output.iter().cloned());
            input.push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}));
            let second = json!({"model": group, "input": input, "tools": tools(),
                "include": ["reasoning.encrypted_content"]});
            let answer = if stream {
                final_response(&h.stream(second).await.1)
            } else {
                h.call(second).await.1
            };
            assert_eq!(
                output_text(&answer),
                "The tool returned: 18C",
                "{group} stream={stream}: {answer}"
            );
            // The second upstream request: the call with its signature restored, and the result
            // under the function's name (Gemini has no call ids to match on).
            let sent = h.last_upstream().body;
            let contents = sent["contents"].as_array().unwrap();
            assert_eq!(contents.len(), 3, "{sent}");
            let model_part = &contents[1]["parts"][0];
            assert_eq!(contents[1]["role"], "model");
            assert_eq!(model_part["functionCall"]["name"], "get_weather");
            assert_eq!(model_part["functionCall"]["args"], json!({"city": "x"}));
            assert_eq!(model_part["functionCall"].get("id"), None);
            assert_eq!(model_part["thoughtSignature"], blob.signature.as_str());
            let result = &contents[2]["parts"][0]["functionResponse"];
            assert_eq!(contents[2]["role"], "user");
            assert_eq!(result["name"], "get_weather");
            assert_eq!(result["response"], json!({"result": "18C"}));
        }
    }
}

#[tokio::test]
async fn gemini3_history_without_encrypted_content_still_works() {
    let h = Harness::start().await;
    // The client did not ask for encrypted_content and `store: false` keeps nothing: the
    // signature rides in the call id, which every client echoes.
    for stream in [false, true] {
        let first =
            json!({"model": "gemini-3", "input": "Weather?", "tools": tools(), "store": false});
        let response = if stream {
            let (_, events) = h.stream(first).await;
            final_response(&events)
        } else {
            h.call(first).await.1
        };
        let call = items(&response)
            .into_iter()
            .find(|i| i["type"] == "function_call")
            .unwrap();
        assert!(call["call_id"].as_str().unwrap().contains('~'), "{call}");
        // A hand-written loop: the call rebuilt from call_id, name, arguments.
        let bare = json!({"type": "function_call", "call_id": call["call_id"],
            "name": call["name"], "arguments": call["arguments"]});
        let input = json!([{"role": "user", "content": "Weather?"}, bare,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]);
        let (status, answer) = h
            .call(json!({"model": "gemini-3", "input": input, "tools": tools(), "store": false}))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(output_text(&answer), "The tool returned: sunny");
        let sent = h.last_upstream().body;
        let part = &sent["contents"][1]["parts"][0];
        // The mock accepts only the signatures it minted (or Google's placeholder).
        assert!(part["thoughtSignature"].is_string(), "{sent}");
        assert_ne!(
            part["thoughtSignature"], "skip_thought_signature_validator",
            "{sent}"
        );
        // No upstream sees the carrier.
        assert!(!sent.to_string().contains('~'), "{sent}");
    }
    // A call id from elsewhere, without a signature: Google's placeholder.
    let input = json!([{"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": "call_from_elsewhere", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call_output", "call_id": "call_from_elsewhere", "output": "sunny"}]);
    let (status, answer) = h
        .call(json!({"model": "gemini-3", "input": input, "tools": tools(), "store": false}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        h.last_upstream().body["contents"][1]["parts"][0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
}

#[tokio::test]
async fn gemini3_tool_loops_get_the_real_signature_back_without_the_clients_help() {
    let h = Harness::start().await;
    for stream in [false, true] {
        let first = json!({"model": "gemini-3", "input": "Weather?", "tools": tools()});
        let response = if stream {
            let (_, events) = h.stream(first).await;
            final_response(&events)
        } else {
            h.call(first).await.1
        };
        let call = items(&response)
            .into_iter()
            .find(|i| i["type"] == "function_call")
            .unwrap();
        assert!(
            call.get("switchyard_call_state").is_none(),
            "hidden: {call}"
        );
        // openai-python's hand-written loop: the call rebuilt from call_id, name, arguments.
        let bare = json!({"type": "function_call", "call_id": call["call_id"],
            "name": call["name"], "arguments": call["arguments"]});
        let input = json!([{"role": "user", "content": "Weather?"}, bare,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]);
        let (status, answer) = h
            .call(json!({"model": "gemini-3", "input": input, "tools": tools()}))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(output_text(&answer), "The tool returned: sunny");
        // The mock rejects signatures it did not mint: a 200 means the real one went back.
        let sent = h.last_upstream().body;
        let signature = &sent["contents"][1]["parts"][0]["thoughtSignature"];
        assert!(signature.is_string(), "{sent}");
        assert_ne!(signature, "skip_thought_signature_validator", "{sent}");

        // The Agents SDK with auto_previous_response_id: only the tool output is sent.
        let (status, answer) = h
            .call(json!({"model": "gemini-3", "previous_response_id": response["id"], "tools": tools(),
                "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]}))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(output_text(&answer), "The tool returned: sunny");
        assert_eq!(answer["previous_response_id"], response["id"]);
        let chained = h.last_upstream().body;
        assert_eq!(
            chained["contents"][1]["parts"][0]["thoughtSignature"], *signature,
            "{chained}"
        );
    }
}

#[tokio::test]
async fn parallel_calls_json_output_and_limits() {
    let h = Harness::start().await;
    let two = json!([
        {"type": "function", "name": "a", "parameters": {"type": "object", "properties": {}}},
        {"type": "function", "name": "b", "parameters": {"type": "object", "properties": {}}}]);
    for group in GROUPS {
        let (_, events) = h
            .stream(json!({"model": group, "input": "both [[mock:parallel]]", "tools": two}))
            .await;
        let calls: Vec<Value> = items(&final_response(&events))
            .into_iter()
            .filter(|i| i["type"] == "function_call")
            .collect();
        assert_eq!(calls.len(), 2, "{group}");
        assert_ne!(calls[0]["call_id"], calls[1]["call_id"]);

        let schema =
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        let (_, body) = h
            .call(json!({"model": group, "input": "[[mock:json]]",
                "text": {"format": {"type": "json_schema", "name": "o", "schema": schema}}}))
            .await;
        assert_eq!(output_text(&body), r#"{"n":1}"#, "{group}");
        let sent = h.last_upstream().body;
        assert_eq!(
            sent["generationConfig"]["responseMimeType"],
            "application/json"
        );
        assert_eq!(sent["generationConfig"]["responseJsonSchema"], schema);

        let (_, body) = h
            .call(
                json!({"model": group, "input": "one two three four [[mock:length]]",
                "max_output_tokens": 2}),
            )
            .await;
        assert_eq!(body["status"], "incomplete");
        assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");

        let (_, events) = h
            .stream(json!({"model": group, "input": "no [[mock:refusal]]"}))
            .await;
        let last = final_response(&events);
        assert_eq!(
            last["incomplete_details"]["reason"], "content_filter",
            "{group}"
        );

        let (_, body) = h
            .call(json!({"model": group, "input": "count [[mock:usage=100,20,40,5]]"}))
            .await;
        assert_eq!(
            body["usage"],
            json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 0},
                   "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5},
                   "total_tokens": 120}),
            "{group}"
        );
    }
}

#[tokio::test]
async fn upstream_errors_before_and_during_the_stream() {
    let h = Harness::start().await;
    for group in GROUPS {
        for stream in [false, true] {
            let post = |directive: &str| {
                let body = json!({"model": group, "input": format!("x [[mock:error={directive}]]"),
                                  "stream": stream});
                let h = &h;
                async move { h.post(&body).await }
            };
            let r = post("429").await;
            assert_eq!(r.status(), 429, "{group}");
            assert_eq!(
                r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
                Some("1"),
                "{group}: RetryInfo becomes Retry-After"
            );
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["type"], "rate_limit_error");

            let r = post("503").await;
            assert_eq!(r.status(), 503, "{group}");
            let r = post("context").await;
            assert_eq!(r.status(), 400);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "context_length_exceeded");
            let r = post("401").await;
            assert_eq!(r.status(), 401, "{group}");
            let text = r.text().await.unwrap();
            assert!(!text.contains(GEMINI_KEY), "{text}");
            let r = post("404").await;
            assert_eq!(r.status(), 404);
        }
        let (status, events) = h
            .stream(json!({"model": group, "input": "go on [[mock:midstream-error]]"}))
            .await;
        assert_eq!(status, 200);
        let last = final_response(&events);
        assert_eq!(last["status"], "failed", "{group}: {last}");
        assert_eq!(last["error"]["code"], "server_is_overloaded");
        for directive in ["drop", "malformed"] {
            let (_, events) = h
                .stream(json!({"model": group, "input": format!("go on [[mock:{directive}]]")}))
                .await;
            assert_eq!(
                final_response(&events)["status"],
                "failed",
                "{group} {directive}"
            );
        }
    }
}

#[tokio::test]
async fn vertex_with_an_untrusted_service_account_is_a_401() {
    let h = Harness::with(|mock| {
        format!(
            r#"model_list:
  - model_name: v
    litellm_params:
      model: vertex_ai/gemini-2.5-flash
      api_base: "{mock}"
      vertex_credentials: {credentials}
general_settings: {{master_key: {KEY}}}
"#,
            credentials = switchyard_mock::service_account_json(
                switchyard_mock::UNTRUSTED_SERVICE_ACCOUNT_KEY,
                &format!("{mock}/token")
            )
        )
    })
    .await;
    for stream in [false, true] {
        let r = h
            .post(&json!({"model": "v", "input": "hi", "stream": stream}))
            .await;
        assert_eq!(r.status(), 401);
        let text = r.text().await.unwrap();
        assert!(text.contains("Invalid JWT Signature"), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
    // No Vertex call was made without a token.
    assert!(h.mock.requests().iter().all(|r| r.path == "/token"));
}

#[tokio::test]
async fn a_carried_signature_never_reaches_another_provider() {
    let h = Harness::start().await;
    let (_, response) = h
        .call(json!({"model": "gemini-3", "input": "Weather?", "tools": tools(), "store": false}))
        .await;
    let call = items(&response)
        .into_iter()
        .find(|i| i["type"] == "function_call")
        .unwrap();
    for group in ["anthropic", "bedrock", "bridged", "passthrough"] {
        let input = json!([{"role": "user", "content": "Weather?"}, call,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]);
        let (status, answer) = h
            .call(json!({"model": group, "input": input, "tools": tools(), "store": false}))
            .await;
        assert_eq!(status, 200, "{group}: {answer}");
        let sent = h.last_upstream().body.to_string();
        assert!(!sent.contains('~'), "{group}: {sent}");
    }
}
