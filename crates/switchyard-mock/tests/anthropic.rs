//! The Anthropic Messages mock, over the wire.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::post;
use serde_json::{Value, json};
use switchyard_mock::MockServer;

const PATH: &str = "/anthropic/v1/messages";

fn request(text: &str) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]})
}

#[tokio::test]
async fn thinking_stream_is_framed_like_anthropic() {
    let mock = MockServer::start().await;
    let mut body = request("hello there");
    body["stream"] = json!(true);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let http = post(&mock, PATH, body).await;
    assert_eq!(http.status, 200);
    assert!(http.header("request-id").unwrap().starts_with("req_011"));
    let text = http.text();
    assert!(text.contains("event: ping\ndata: {\"type\": \"ping\"}\n\n"));
    assert!(text.contains("   }"), "padded JSON: {text}");
    let events = http.events();
    for (name, data) in &events {
        let value: Value = serde_json::from_str(data).unwrap();
        assert_eq!(name.as_deref(), value["type"].as_str());
    }
    let kinds: Vec<String> = events.iter().map(|(n, _)| n.clone().unwrap()).collect();
    assert_eq!(kinds.first().unwrap(), "message_start");
    assert_eq!(kinds.last().unwrap(), "message_stop");
    let data: Vec<Value> = http.data_json();
    let deltas: Vec<&Value> = data
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .collect();
    let signature = deltas
        .iter()
        .position(|d| d["delta"]["type"] == "signature_delta")
        .unwrap();
    assert_eq!(
        deltas[signature - 1]["delta"],
        json!({"type": "thinking_delta", "thinking": ""})
    );
    let text: String = deltas
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "You said: hello there");
    // message_start's output count is a placeholder; message_delta's is the whole.
    let start = &data[0]["message"]["usage"];
    assert_eq!(start["output_tokens"], 1);
    let end = data.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(end["delta"]["stop_reason"], "end_turn");
    assert!(end["usage"]["output_tokens"].as_u64().unwrap() > 1);
}

#[tokio::test]
async fn tool_call_arguments_arrive_in_pieces() {
    let mock = MockServer::start().await;
    let mut body = request("weather?");
    body["stream"] = json!(true);
    body["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object",
        "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let data = post(&mock, PATH, body).await.data_json();
    let start = data
        .iter()
        .find(|e| e["type"] == "content_block_start")
        .unwrap();
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["input"], json!({}));
    assert!(
        start["content_block"]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_01")
    );
    let pieces: Vec<&str> = data
        .iter()
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(pieces[0], "");
    assert!(pieces.len() > 2);
    assert_eq!(pieces.concat(), r#"{"city":"x"}"#);
    let end = data.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(end["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn errors_use_anthropic_envelope_and_statuses() {
    let mock = MockServer::start().await;
    let http = post(&mock, PATH, request("[[mock:error=529]]")).await;
    assert_eq!(http.status, 529);
    assert_eq!(
        http.json()["error"],
        json!({"type": "overloaded_error", "message": "Overloaded"})
    );
    assert_eq!(http.json()["type"], "error");
    let http = post(&mock, PATH, request("[[mock:error=429]]")).await;
    assert_eq!(http.status, 429);
    assert_eq!(http.header("retry-after"), Some("1"));
    let http = post(&mock, PATH, json!({"model": "m", "messages": []})).await;
    assert_eq!(http.status, 400);
    assert_eq!(
        http.json()["error"]["message"],
        "max_tokens: Field required"
    );

    let mut body = request("go [[mock:midstream-error]]");
    body["stream"] = json!(true);
    let http = post(&mock, PATH, body).await;
    assert_eq!(http.status, 200);
    let (name, data) = http.events().pop().unwrap();
    assert_eq!(name.as_deref(), Some("error"));
    assert!(data.contains("overloaded_error"));
}

#[tokio::test]
async fn thinking_rules_are_enforced() {
    let mock = MockServer::start().await;
    let mut body = request("x");
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 4096});
    let http = post(&mock, PATH, body.clone()).await;
    assert_eq!(http.status, 400, "budget must be below max_tokens");
    body["max_tokens"] = json!(8192);
    body["messages"] = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]}]);
    let http = post(&mock, PATH, body.clone()).await;
    assert_eq!(http.status, 400);
    assert!(http.text().contains("must start with a thinking block"));
    body["messages"][1]["content"]
        .as_array_mut()
        .unwrap()
        .insert(
            0,
            json!({"type": "thinking", "thinking": "hmm", "signature": "forged"}),
        );
    let http = post(&mock, PATH, body).await;
    assert_eq!(http.status, 400);
    assert!(http.text().contains("Invalid `signature`"));

    // A complete answer with its signed thinking.
    let mut body = request("x");
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let message = post(&mock, PATH, body).await.json();
    assert_eq!(message["content"][0]["type"], "thinking");
    assert!(
        message["content"][0]["signature"]
            .as_str()
            .unwrap()
            .starts_with("EqMockSig")
    );
    assert_eq!(message["content"][1]["text"], "You said: x");
}
