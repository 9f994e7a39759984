//! The Chat Completions bridge, against each compatible server's quirks.

use serde_json::{Value, json};

use crate::common::{Harness, KEY, default_models, final_response, output_text};

const CHAT_GROUPS: &[&str] = &[
    "bridged",
    "openai-chat",
    "mistral",
    "deepseek",
    "groq",
    "ollama",
    "openrouter",
    "xai",
    "azure-chat",
    "azure-ai",
];

fn tools() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

fn items(response: &Value) -> Vec<Value> {
    response["output"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn text_streamed_and_not_agree_on_every_server() {
    let h = Harness::start().await;
    for group in CHAT_GROUPS {
        let request = json!({"model": group, "input": "hello bridge", "instructions": "Be brief."});
        let (status, body) = h.call(request.clone()).await;
        assert_eq!(status, 200, "{group}: {body}");
        assert_eq!(output_text(&body), "You said: hello bridge", "{group}");
        assert_eq!(body["status"], "completed");
        assert!(
            body["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{group}: {body}"
        );

        let (status, events) = h.stream(request).await;
        assert_eq!(status, 200, "{group}");
        let streamed = final_response(&events);
        assert_eq!(output_text(&streamed), output_text(&body), "{group}");
        assert_eq!(
            streamed["usage"], body["usage"],
            "{group}: usage must not depend on streaming"
        );
        let deltas = events
            .iter()
            .filter(|e| e.kind() == "response.output_text.delta")
            .count();
        assert!(deltas > 1, "{group}: text should stream in several deltas");
    }
}

#[tokio::test]
async fn tool_call_round_trip_on_every_server() {
    let h = Harness::start().await;
    for group in CHAT_GROUPS {
        for stream in [false, true] {
            let first = json!({"model": group, "input": "Weather in Paris?", "tools": tools()});
            let response = if stream {
                final_response(&h.stream(first).await.1)
            } else {
                h.call(first).await.1
            };
            let output = items(&response);
            let call = output
                .iter()
                .find(|i| i["type"] == "function_call")
                .unwrap_or_else(|| panic!("{group}: no call: {response}"))
                .clone();
            assert_eq!(call["name"], "get_weather", "{group}");
            assert_eq!(call["arguments"], r#"{"city":"x"}"#, "{group}");
            assert!(call["call_id"].as_str().is_some_and(|c| !c.is_empty()));
            assert!(call["id"].as_str().unwrap().starts_with("fc_"));

            let mut input = vec![json!({"role": "user", "content": "Weather in Paris?"})];
            input.extend(output.iter().cloned());
            input.push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}));
            let second = json!({"model": group, "input": input, "tools": tools()});
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
            // The second upstream request carries the call and its result as chat messages.
            let sent = h.last_upstream().body;
            let messages = sent["messages"].as_array().unwrap();
            let assistant = messages.iter().find(|m| m["role"] == "assistant").unwrap();
            let tool = messages.iter().find(|m| m["role"] == "tool").unwrap();
            assert_eq!(
                assistant["tool_calls"][0]["id"], tool["tool_call_id"],
                "{group}"
            );
        }
    }
}

#[tokio::test]
async fn parallel_calls_become_consecutive_items() {
    let h = Harness::start().await;
    let two_tools = json!([
        {"type": "function", "name": "a", "parameters": {"type": "object", "properties": {}}},
        {"type": "function", "name": "b", "parameters": {"type": "object", "properties": {}}}]);
    for group in ["bridged", "openai-chat", "mistral", "ollama"] {
        let (_, events) = h
            .stream(json!({"model": group, "input": "both [[mock:parallel]]", "tools": two_tools}))
            .await;
        let response = final_response(&events);
        let calls: Vec<_> = items(&response)
            .into_iter()
            .filter(|i| i["type"] == "function_call")
            .collect();
        assert_eq!(calls.len(), 2, "{group}: {response}");
        assert_ne!(calls[0]["call_id"], calls[1]["call_id"]);
    }
}

#[tokio::test]
async fn reasoning_becomes_a_reasoning_item_first() {
    let h = Harness::start().await;
    for group in [
        "bridged",
        "deepseek",
        "groq",
        "ollama",
        "openrouter",
        "xai",
        "mistral",
    ] {
        let (_, events) = h
            .stream(json!({"model": group, "input": "think [[mock:reasoning]]"}))
            .await;
        let response = final_response(&events);
        let output = items(&response);
        assert_eq!(output[0]["type"], "reasoning", "{group}: {response}");
        assert!(
            !output[0]["summary"][0]["text"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{group}"
        );
        assert_eq!(output[1]["type"], "message", "{group}");
        assert!(
            events
                .iter()
                .any(|e| e.kind() == "response.reasoning_summary_part.added")
        );
        // Ollama reports no reasoning token count; the others do.
        if group != "ollama" {
            assert!(
                response["usage"]["output_tokens_details"]["reasoning_tokens"]
                    .as_u64()
                    .unwrap()
                    > 0,
                "{group}: {response}"
            );
        }
    }
}

#[tokio::test]
async fn wire_format_per_server() {
    let h = Harness::start().await;
    let codex_like = json!({
        "model": "bridged",
        "input": [
            {"type": "message", "id": "msg_a", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
            {"type": "message", "id": "msg_b", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "agents",
             "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {}}}]},
            {"type": "web_search", "external_web_access": true}
        ],
        "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"summary": "auto"},
        "store": false, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "session-1",
        "client_metadata": {"session_id": "s"}, "stream": true
    });
    for group in CHAT_GROUPS {
        let mut request = codex_like.clone();
        request["model"] = json!(group);
        let (status, events) = h.stream(request).await;
        assert_eq!(status, 200, "{group}");
        let response = final_response(&events);
        // The mock calls the shell-like tool.
        assert_eq!(
            items(&response).last().unwrap()["name"],
            "exec_command",
            "{group}"
        );
        let sent = h.last_upstream().body;
        let names: Vec<&str> = sent["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["exec_command", "multi_agent_v1__spawn_agent"],
            "{group}"
        );
        assert!(sent.get("client_metadata").is_none(), "{group}: {sent}");
        assert!(sent.get("include").is_none(), "{group}");
        let first_role = sent["messages"][0]["role"].as_str().unwrap();
        match *group {
            "openai-chat" | "azure-chat" => assert_eq!(first_role, "developer"),
            _ => assert_eq!(first_role, "system", "{group}"),
        }
        match *group {
            "mistral" => assert!(sent.get("stream_options").is_none()),
            _ => assert_eq!(
                sent["stream_options"],
                json!({"include_usage": true}),
                "{group}"
            ),
        }
    }
    // Ollama's root base URL gains /v1.
    let _ = h.call(json!({"model": "ollama", "input": "hi"})).await;
    assert_eq!(h.last_upstream().path, "/ollama/v1/chat/completions");
    // Fireworks model ids gain their account prefix.
    let _ = h.call(json!({"model": "fireworks", "input": "hi"})).await;
    assert_eq!(
        h.last_upstream().body["model"],
        "accounts/fireworks/models/llama-v3p1-8b-instruct"
    );
}

#[tokio::test]
async fn mistral_gets_nine_character_tool_ids() {
    let h = Harness::start().await;
    // A call id minted by another provider: Mistral would refuse it with a 400.
    let input = json!([
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": "call_3rqTYrA6H21AYUaRGP4F66oq", "name": "get_weather", "arguments": "{\"city\":\"x\"}"},
        {"type": "function_call_output", "call_id": "call_3rqTYrA6H21AYUaRGP4F66oq", "output": "18C"}
    ]);
    let (status, body) = h
        .call(json!({"model": "mistral", "input": input, "tools": tools()}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(output_text(&body), "The tool returned: 18C");
    let sent = h.last_upstream().body;
    let id = sent["messages"][1]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(id.len(), 9);
    assert_eq!(sent["messages"][2]["tool_call_id"], id);
}

#[tokio::test]
async fn unsupported_parameters_are_refused_unless_dropped() {
    let h = Harness::with(|mock| {
        format!(
            r#"model_list:{}
  - model_name: mistral-drop
    litellm_params: {{model: mistral/mistral-small-latest, api_base: "{mock}/mistral/v1", api_key: k-mistral-0000000000, drop_params: true}}
general_settings: {{master_key: {KEY}}}
"#,
            default_models(mock)
        )
    })
    .await;
    let request = |group: &str| json!({"model": group, "input": "hi", "text": {"verbosity": "low"}, "top_logprobs": 3});
    for (extra, param) in [
        (json!({"text": {"verbosity": "low"}}), "text.verbosity"),
        (json!({"top_logprobs": 3}), "top_logprobs"),
        (json!({"truncation": "auto"}), "truncation"),
    ] {
        let mut body = json!({"model": "mistral", "input": "hi"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, body) = h.call(body).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "unsupported_parameter");
        assert_eq!(body["error"]["param"], param, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("drop_params")
        );
    }

    let (status, body) = h.call(request("mistral-drop")).await;
    assert_eq!(status, 200, "{body}");
    let sent = h.last_upstream().body;
    assert!(
        sent.get("verbosity").is_none() && sent.get("logprobs").is_none(),
        "{sent}"
    );

    // Continuation state is never dropped silently.
    let (status, body) = h
        .call(json!({"model": "mistral-drop", "input": "hi", "previous_response_id": "resp_123"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn structured_output_and_limits() {
    let h = Harness::start().await;
    let schema = json!({"type": "json_schema", "name": "answer", "strict": true,
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}});
    let (status, body) = h
        .call(
            json!({"model": "bridged", "input": "json please [[mock:json]]",
            "text": {"format": schema}, "max_output_tokens": 50, "temperature": 0.1, "top_p": 0.5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let parsed: Value = serde_json::from_str(&output_text(&body)).expect("JSON output");
    assert!(parsed["city"].is_string());
    let sent = h.last_upstream().body;
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["response_format"]["json_schema"]["name"], "answer");
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(sent["temperature"], 0.1);
    assert_eq!(body["max_output_tokens"], 50, "echoed");

    // DeepSeek has no json_schema: a clear 400 naming the parameter.
    let (status, body) = h
        .call(json!({"model": "deepseek", "input": "x", "text": {"format": schema}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "text.format");

    // A length stop is `incomplete` with the reason.
    let (_, body) = h
        .call(json!({"model": "bridged", "input": "long [[mock:length]]"}))
        .await;
    assert_eq!(body["status"], "incomplete", "{body}");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
}

#[tokio::test]
async fn refusals_are_refusal_parts() {
    let h = Harness::start().await;
    let (_, events) = h
        .stream(json!({"model": "openai-chat", "input": "bad [[mock:refusal]]"}))
        .await;
    let response = final_response(&events);
    assert_eq!(
        response["output"][0]["content"][0]["type"], "refusal",
        "{response}"
    );
    assert!(events.iter().any(|e| e.kind() == "response.refusal.delta"));
}
