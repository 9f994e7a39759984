//! The OpenAI Responses scenario engine, over the wire.

// Helpers outside `#[test]` functions unwrap too: failures should be loud.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Http, check_responses_grammar, post};
use serde_json::{Value, json};
use switchyard_mock::MockServer;

const REQUIRED_RESPONSE_KEYS: &[&str] = &[
    "id",
    "object",
    "created_at",
    "status",
    "error",
    "incomplete_details",
    "instructions",
    "model",
    "tools",
    "output",
    "parallel_tool_calls",
    "metadata",
    "tool_choice",
    "temperature",
    "top_p",
    "usage",
    "text",
    "reasoning",
    "store",
    "truncation",
];

fn shell_tool() -> Value {
    json!({"type": "function", "name": "exec_command", "description": "Run a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"},
            "workdir": {"type": "string"}}, "required": ["cmd"], "additionalProperties": false}})
}

async fn stream(mock: &MockServer, mut body: Value) -> (Http, Value) {
    body["stream"] = json!(true);
    if body.get("model").is_none() {
        body["model"] = json!("gpt-5");
    }
    let http = post(mock, "/v1/responses", body).await;
    assert_eq!(http.status, 200, "{}", http.text());
    assert!(http.complete, "the stream ends cleanly");
    assert!(
        http.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(!http.text().contains("[DONE]"));
    let terminal = check_responses_grammar(&http.events());
    (http, terminal)
}

fn message_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().unwrap().iter())
        .map(|part| {
            part["text"]
                .as_str()
                .or(part["refusal"].as_str())
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn text_stream_is_grammatical_and_echoes_the_user() {
    let mock = MockServer::start().await;
    let (http, terminal) = stream(
        &mock,
        json!({"input": "hello there", "instructions": "be nice"}),
    )
    .await;
    assert_eq!(terminal["type"], "response.completed");
    let response = &terminal["response"];
    for key in REQUIRED_RESPONSE_KEYS {
        assert!(response.get(key).is_some(), "missing {key}");
    }
    assert_eq!(message_text(response), "You said: hello there");
    assert_eq!(response["instructions"], "be nice");
    assert_eq!(response["model"], "gpt-5");
    assert!(response["completed_at"].is_u64());
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0,
            "cache_write_tokens": 0}, "output_tokens": 4,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 8})
    );
    let ids: Vec<&str> = [
        response["id"].as_str().unwrap(),
        response["output"][0]["id"].as_str().unwrap(),
    ]
    .into();
    assert!(ids[1].starts_with("msg_") && ids[1].len() == 52);
    // Several deltas, each with obfuscation.
    let deltas: Vec<Value> = http
        .data_json()
        .into_iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .collect();
    assert_eq!(deltas.len(), 4);
    assert!(deltas.iter().all(|d| d["obfuscation"].is_string()));
}

#[tokio::test]
async fn non_stream_returns_the_full_response_object() {
    let mock = MockServer::start().await;
    let http = post(
        &mock,
        "/openai/v1/responses",
        json!({"model": "gpt-5", "input": [{"role": "user", "content": [{"type": "input_text",
            "text": "hi"}]}], "tools": [{"type": "function", "name": "f",
            "parameters": {"type": "object", "properties": {}}}], "tool_choice": "none",
            "metadata": {"k": "v"}}),
    )
    .await;
    assert_eq!(http.status, 200);
    assert!(http.header("x-request-id").unwrap().starts_with("req_"));
    let response = http.json();
    for key in REQUIRED_RESPONSE_KEYS {
        assert!(response.get(key).is_some(), "missing {key}");
    }
    assert_eq!(response["object"], "response");
    assert_eq!(response["status"], "completed");
    assert_eq!(response["metadata"], json!({"k": "v"}));
    assert_eq!(response["tools"][0]["strict"], true, "strict is filled in");
    assert_eq!(message_text(&response), "You said: hi");
    assert_eq!(
        response["output"][0]["content"][0]["annotations"],
        json!([])
    );
}

#[tokio::test]
async fn shell_tool_call_streams_arguments_in_fragments() {
    let mock = MockServer::start().await;
    let (http, terminal) = stream(
        &mock,
        json!({"input": "please run `ls -la /tmp`", "tools": [shell_tool()]}),
    )
    .await;
    assert_eq!(terminal["type"], "response.completed");
    let call = &terminal["response"]["output"][0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["arguments"], r#"{"cmd":"ls -la /tmp"}"#);
    assert!(call["id"].as_str().unwrap().starts_with("fc_"));
    let call_id = call["call_id"].as_str().unwrap();
    assert!(call_id.starts_with("call_") && call_id.len() == 29);
    let events = http.data_json();
    let added = events
        .iter()
        .find(|e| e["type"] == "response.output_item.added")
        .unwrap();
    assert_eq!(added["item"]["arguments"], "");
    assert_eq!(added["item"]["call_id"], call_id);
    let deltas = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .count();
    assert!(deltas >= 2);
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "response.content_part.added")
    );
}

#[tokio::test]
async fn parallel_calls_and_run_the_shell_command() {
    let mock = MockServer::start().await;
    let other = json!({"type": "function", "name": "lookup", "parameters": {"type": "object",
        "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q", "n"]}});
    let (_, terminal) = stream(
        &mock,
        json!({"input": "Run the shell command: git status [[mock:parallel]]",
            "tools": [shell_tool(), other]}),
    )
    .await;
    let output = terminal["response"]["output"].as_array().unwrap();
    assert_eq!(output.len(), 2);
    assert_eq!(output[0]["arguments"], r#"{"cmd":"git status"}"#);
    assert_eq!(output[1]["name"], "lookup");
    assert_eq!(output[1]["arguments"], r#"{"q":"x","n":1}"#);
    assert_ne!(output[0]["call_id"], output[1]["call_id"]);
}

#[tokio::test]
async fn tool_output_is_reported_back() {
    let mock = MockServer::start().await;
    let (_, terminal) = stream(
        &mock,
        json!({"input": [
            {"role": "user", "content": "run `date`"},
            {"type": "function_call", "call_id": "call_1", "name": "exec_command",
                "arguments": "{\"cmd\":\"date\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "Tue Jan 1\nok"}],
            "tools": [shell_tool()]}),
    )
    .await;
    assert_eq!(
        message_text(&terminal["response"]),
        "The tool returned: Tue Jan 1\nok"
    );
}

#[tokio::test]
async fn reasoning_with_summary_and_encrypted_content() {
    let mock = MockServer::start().await;
    let (http, terminal) = stream(
        &mock,
        json!({"input": "think [[mock:reasoning]]", "reasoning": {"effort": "low",
            "summary": "auto"}, "include": ["reasoning.encrypted_content"], "store": false}),
    )
    .await;
    let output = terminal["response"]["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "reasoning");
    assert!(output[0]["id"].as_str().unwrap().starts_with("rs_"));
    assert_eq!(
        output[0]["summary"],
        json!([{"type": "summary_text", "text": "Thinking about it."}])
    );
    assert!(
        output[0]["encrypted_content"]
            .as_str()
            .unwrap()
            .starts_with("gAAAA")
    );
    assert_eq!(output[1]["type"], "message");
    assert_eq!(
        terminal["response"]["usage"]["output_tokens_details"]["reasoning_tokens"],
        3
    );
    let events = http.data_json();
    let added = events
        .iter()
        .find(|e| e["type"] == "response.output_item.added")
        .unwrap();
    assert_eq!(added["item"]["summary"], json!([]));
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "response.reasoning_summary_part.added")
    );

    // Without a summary request: an empty summary and no summary events.
    let (http, terminal) = stream(&mock, json!({"input": "[[mock:reasoning]]"})).await;
    assert_eq!(terminal["response"]["output"][0]["summary"], json!([]));
    assert!(
        terminal["response"]["output"][0]
            .get("encrypted_content")
            .is_none()
    );
    assert!(
        !http
            .data_json()
            .iter()
            .any(|e| e["type"] == "response.reasoning_summary_part.added")
    );
}

#[tokio::test]
async fn refusal_and_length() {
    let mock = MockServer::start().await;
    let (http, terminal) = stream(&mock, json!({"input": "bad [[mock:refusal]]"})).await;
    let part = &terminal["response"]["output"][0]["content"][0];
    assert_eq!(part["type"], "refusal");
    assert!(
        http.data_json()
            .iter()
            .any(|e| e["type"] == "response.refusal.delta")
    );

    let (_, terminal) = stream(
        &mock,
        json!({"input": "one two three four five six [[mock:length]]", "max_output_tokens": 3}),
    )
    .await;
    assert_eq!(terminal["type"], "response.incomplete");
    let response = &terminal["response"];
    assert_eq!(response["status"], "incomplete");
    assert_eq!(
        response["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(response["output"][0]["status"], "incomplete");
    assert_eq!(message_text(response), "You said: one");
}

#[tokio::test]
async fn midstream_error_sends_the_nested_error_then_failed() {
    let mock = MockServer::start().await;
    let (http, terminal) = stream(&mock, json!({"input": "hi [[mock:midstream-error]]"})).await;
    assert_eq!(terminal["type"], "response.failed");
    assert_eq!(terminal["response"]["status"], "failed");
    assert_eq!(terminal["response"]["error"]["code"], "server_error");
    let events = http.data_json();
    let error = &events[events.len() - 2];
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "server_error");
    assert_eq!(error["error"]["code"], "server_error");
    assert!(error["error"]["param"].is_null());
    assert!(error["error"]["message"].is_string());
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "response.output_text.delta")
    );
}

#[tokio::test]
async fn http_error_directives() {
    let mock = MockServer::start().await;
    for (code, status, error_code) in [
        ("400", 400, "decimal_above_max_value"),
        ("401", 401, "invalid_api_key"),
        ("403", 403, "unsupported_country_region_territory"),
        ("404", 404, "model_not_found"),
        ("429", 429, "rate_limit_exceeded"),
        ("503", 503, "server_is_overloaded"),
        ("context", 400, "context_length_exceeded"),
    ] {
        let http = post(
            &mock,
            "/v1/responses",
            json!({"model": "gpt-5", "stream": true, "input": format!("[[mock:error={code}]]")}),
        )
        .await;
        assert_eq!(http.status, status, "{code}");
        assert_eq!(http.header("content-type"), Some("application/json"));
        let body = http.json();
        assert_eq!(body["error"]["code"], error_code, "{code}");
        for key in ["message", "type", "param", "code"] {
            assert!(body["error"].get(key).is_some());
        }
        if status == 429 {
            assert_eq!(http.header("retry-after"), Some("1"));
            assert_eq!(http.header("retry-after-ms"), Some("1000"));
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("Please try again in 1s"));
        }
    }
    for (code, status) in [("500", 500), ("529", 529)] {
        let http = post(
            &mock,
            "/v1/responses",
            json!({"model": "m", "input": format!("[[mock:error={code}]]")}),
        )
        .await;
        assert_eq!(http.status, status);
    }
}

#[tokio::test]
async fn dropped_and_malformed_streams() {
    let mock = MockServer::start().await;
    let http = post(
        &mock,
        "/v1/responses",
        json!({"model": "m", "stream": true, "input": "a b c d [[mock:drop]]"}),
    )
    .await;
    assert_eq!(http.status, 200);
    assert!(!http.complete, "no chunked terminator after a drop");
    let events = http.data_json();
    assert!(!events.is_empty());
    assert!(!events.iter().any(|e| e["type"] == "response.completed"));
    assert_eq!(
        mock.disconnects(),
        0,
        "a server-side drop is not a client disconnect"
    );

    let http = post(
        &mock,
        "/v1/responses",
        json!({"model": "m", "stream": true, "input": "hi [[mock:malformed]]"}),
    )
    .await;
    assert!(http.complete);
    let events = http.events();
    let bad: Vec<_> = events
        .iter()
        .filter(|(_, data)| serde_json::from_str::<Value>(data).is_err())
        .collect();
    assert_eq!(bad.len(), 1);
    let good: Vec<_> = events
        .into_iter()
        .filter(|(_, data)| serde_json::from_str::<Value>(data).is_ok())
        .collect();
    let terminal = check_responses_grammar(&good);
    assert_eq!(terminal["type"], "response.completed");
}

#[tokio::test]
async fn json_usage_and_obfuscation_directives() {
    let mock = MockServer::start().await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"},
        "population": {"type": "integer"}}, "required": ["city", "population"],
        "additionalProperties": false});
    let (_, terminal) = stream(
        &mock,
        json!({"input": "[[mock:json]] [[mock:usage=100,20,60,5]]",
            "text": {"format": {"type": "json_schema", "name": "city", "schema": schema,
                "strict": true}},
            "stream_options": {"include_obfuscation": false}}),
    )
    .await;
    let text = message_text(&terminal["response"]);
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value, json!({"city": "x", "population": 1}));
    assert_eq!(
        terminal["response"]["usage"],
        json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60,
            "cache_write_tokens": 0}, "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 120})
    );
    assert_eq!(
        terminal["response"]["text"]["format"]["type"],
        "json_schema"
    );

    let (http, _) = stream(
        &mock,
        json!({"input": "hi", "stream_options": {"include_obfuscation": false}}),
    )
    .await;
    assert!(!http.text().contains("obfuscation"));
}

#[tokio::test]
async fn bad_requests() {
    let mock = MockServer::start().await;
    let http = post(&mock, "/v1/responses", json!({"input": "hi"})).await;
    assert_eq!(http.status, 400);
    assert_eq!(http.json()["error"]["code"], "missing_required_parameter");
    let http = common::send(mock.addr(), "POST", "/v1/responses", "{not json").await;
    assert_eq!(http.status, 400);
    assert!(
        http.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("parse the JSON body")
    );
    // The request is recorded even so, with a Null body.
    assert!(mock.requests()[1].body.is_null());
}
