//! Golden tests of the Anthropic provider, both ways. Expected bodies are written by hand from
//! the documented Messages format; the stream fixtures follow the recordings quoted in
//! real Anthropic streams (padding, `ping`, the thinking signature, split tool arguments).

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};
use switchyard_types::responses::{CreateResponse, ResponseStreamEvent};

use super::request::{Target, to_messages};
use super::response::MessagesDecoder;
use super::{AnthropicProvider, OPAQUE_TAG, errors};
use crate::error::{Error, ErrorKind};
use crate::providers::{
    BoxFuture, CallInfo, CountCall, Decoder, InputTokens, Provider, ProviderOptions,
    RequestDefaults, TokenSource, opaque,
};
use crate::secret::Secret;
use crate::stream::{ResponseBuilder, envelope, grammar};

const MODEL: &str = "claude-sonnet-4-5";

fn req(value: Value) -> CreateResponse {
    serde_json::from_value(value).unwrap()
}

fn target(drop_params: bool, explicit_cap: Option<u64>) -> Target<'static> {
    Target {
        label: "Anthropic",
        model: MODEL,
        drop_params,
        stream: false,
        explicit_cap,
        vertex: false,
    }
}

/// Translates with the request's own `max_output_tokens` as the client's cap.
fn translate(request: Value) -> Value {
    try_translate(request, false).unwrap()
}

fn try_translate(request: Value, drop_params: bool) -> Result<Value, Error> {
    let request = req(request);
    let t = target(drop_params, request.max_output_tokens);
    to_messages(&request, &t).map(|(body, _)| body)
}

fn thinking_blob(thinking: &str, signature: &str) -> String {
    opaque::encode(
        OPAQUE_TAG,
        &json!({"type": "thinking", "thinking": thinking, "signature": signature}),
    )
}

// ----- request: matrix rows 1 and 6 -------------------------------------------------------

#[test]
fn text_instructions_and_multi_turn() {
    let body = translate(json!({"model": "g", "instructions": "Be terse.",
        "input": [
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": "Hi"},
            {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
             "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]},
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]}
        ],
        "temperature": 0.2, "safety_identifier": "u-1", "store": false,
        "prompt_cache_key": "k"}));
    assert_eq!(
        body,
        json!({
            "model": MODEL,
            "max_tokens": 64000,
            "system": [{"type": "text", "text": "Be terse."},
                       {"type": "text", "text": "Use metric units."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]}
            ],
            "temperature": 0.2,
            "metadata": {"user_id": "u-1"}
        })
    );
}

#[test]
fn max_tokens_from_request_deployment_model_or_fallback() {
    let body = translate(json!({"model": "g", "input": "x", "max_output_tokens": 300}));
    assert_eq!(body["max_tokens"], 300);
    // No cap anywhere: the model's maximum, or a safe default for an unknown model.
    let request = req(json!({"model": "g", "input": "x"}));
    let unknown = Target {
        model: "claude-next-preview",
        ..target(false, None)
    };
    assert_eq!(
        to_messages(&request, &unknown).unwrap().0["max_tokens"],
        4096
    );
    // The deployment's `max_tokens` arrives through the provider's defaults.
    let provider = AnthropicProvider::new(
        MODEL,
        "http://h".into(),
        None,
        ProviderOptions {
            defaults: RequestDefaults {
                max_output_tokens: Some(777),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let call = provider.prepare(&request, CallInfo::new(true)).unwrap();
    let sent: Value = serde_json::from_slice(&call.request.body).unwrap();
    assert_eq!(sent["max_tokens"], 777);
    assert_eq!(sent["stream"], true);
}

#[test]
fn sampling_limits_and_unsupported_parameters() {
    let err = try_translate(
        json!({"model": "g", "input": "x", "temperature": 1.5}),
        false,
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("temperature"));
    let body = try_translate(
        json!({"model": "g", "input": "x", "temperature": 1.5}),
        true,
    )
    .unwrap();
    assert_eq!(body["temperature"], 1.0);
    for (field, value) in [
        ("presence_penalty", json!(0.5)),
        ("frequency_penalty", json!(0.5)),
        ("top_logprobs", json!(3)),
        ("text", json!({"verbosity": "low"})),
    ] {
        let mut request = json!({"model": "g", "input": "x"});
        request[field] = value;
        let err = try_translate(request.clone(), false).unwrap_err();
        assert_eq!(
            err.code.as_deref(),
            Some("unsupported_parameter"),
            "{field}"
        );
        assert!(try_translate(request, true).is_ok(), "{field}");
    }
    let err = try_translate(
        json!({"model": "g", "input": "x", "previous_response_id": "resp_1"}),
        true,
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("previous_response_id"));
}

// ----- request: row 2 ---------------------------------------------------------------------

#[test]
fn images_files_and_cache_control() {
    let body = translate(json!({"model": "g", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Compare", "cache_control": {"type": "ephemeral"}},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "high"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
        {"type": "input_file", "filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
        {"type": "input_file", "file_url": "https://example.com/b.pdf"},
        {"type": "input_file", "file_data": "data:text/plain;base64,aGVsbG8="}
    ], "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"},
               "cache_control": {"type": "ephemeral"}}]}));
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}, "title": "report.pdf"},
            {"type": "document", "source": {"type": "url", "url": "https://example.com/b.pdf"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"},
             "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ])
    );
    assert_eq!(
        body["tools"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );

    let file_id = json!({"model": "g", "input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": "file-1"}]}]});
    let err = try_translate(file_id, false).unwrap_err();
    assert!(err.message.contains("file_id"), "{}", err.message);
}

// ----- request: row 3 ---------------------------------------------------------------------

#[test]
fn tools_calls_and_merged_results() {
    let body = translate(json!({"model": "g",
        "input": [
            {"role": "user", "content": "Weather in Paris and London?"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "toolu_01A", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call", "call_id": "call.B/2", "name": "get_weather", "arguments": ""},
            {"type": "custom_tool_call", "call_id": "toolu_01C", "name": "apply_patch", "input": "*** Begin"},
            {"type": "function_call_output", "call_id": "toolu_01A", "output": "18C",
             "cache_control": {"type": "ephemeral"}},
            {"type": "function_call_output", "call_id": "call.B/2", "output": [
                {"type": "input_text", "text": "12C"},
                {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/"}]},
            {"type": "custom_tool_call_output", "call_id": "toolu_01C", "output": "ok"},
            {"role": "user", "content": "Thanks"}
        ],
        "tools": [
            {"type": "function", "name": "get_weather", "description": "Weather",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true},
            {"type": "custom", "name": "apply_patch", "description": "Patch files"},
            {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn", "parameters": null}]},
            {"type": "web_search"}
        ],
        "tool_choice": "auto", "parallel_tool_calls": false}));
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and London?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_B_2", "name": "get_weather", "input": {}},
                {"type": "tool_use", "id": "toolu_01C", "name": "apply_patch", "input": {"input": "*** Begin"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18C",
                 "cache_control": {"type": "ephemeral"}},
                {"type": "tool_result", "tool_use_id": "call_B_2", "content": [
                    {"type": "text", "text": "12C"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}]},
                {"type": "tool_result", "tool_use_id": "toolu_01C", "content": "ok"},
                {"type": "text", "text": "Thanks"}
            ]}
        ])
    );
    assert_eq!(
        body["tools"],
        json!([
            {"name": "get_weather", "description": "Weather",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "apply_patch", "description": "Patch files", "input_schema": {"type": "object",
                "properties": {"input": {"type": "string", "description": "The tool input."}},
                "required": ["input"]}},
            {"name": "agents__spawn", "input_schema": {"type": "object", "properties": {}}}
        ])
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
}

#[test]
fn tool_choice_forms() {
    let tools = json!([{"type": "function", "name": "a"}, {"type": "function", "name": "b"}]);
    let choice = |choice: Value| {
        translate(json!({"model": "g", "input": "x", "tools": tools, "tool_choice": choice}))
    };
    assert_eq!(
        choice(json!("none"))["tool_choice"],
        json!({"type": "none"})
    );
    assert_eq!(
        choice(json!("required"))["tool_choice"],
        json!({"type": "any"})
    );
    assert_eq!(
        choice(json!({"type": "function", "name": "b"}))["tool_choice"],
        json!({"type": "tool", "name": "b"})
    );
    let allowed = choice(json!({"type": "allowed_tools", "mode": "required",
        "tools": [{"type": "function", "name": "a"}]}));
    assert_eq!(allowed["tool_choice"], json!({"type": "any"}));
    assert_eq!(allowed["tools"].as_array().unwrap().len(), 1);
    let err = try_translate(
        json!({"model": "g", "input": "x", "tools": tools,
            "tool_choice": {"type": "function", "name": "zzz"}}),
        false,
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
}

// ----- request: row 4 ---------------------------------------------------------------------

#[test]
fn effort_maps_to_thinking_budgets() {
    for (effort, budget) in [
        ("low", 1024),
        ("medium", 2048),
        ("high", 4096),
        ("xhigh", 8192),
    ] {
        let body = translate(json!({"model": "g", "input": "x", "reasoning": {"effort": effort}}));
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": budget}),
            "{effort}"
        );
    }
    for effort in ["none", "minimal"] {
        let body = translate(json!({"model": "g", "input": "x", "reasoning": {"effort": effort}}));
        assert!(body.get("thinking").is_none(), "{effort}");
    }
    let err = try_translate(
        json!({"model": "g", "input": "x", "reasoning": {"effort": "max"}}),
        true,
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("reasoning.effort"));
}

#[test]
fn thinking_fits_the_output_cap() {
    // A client cap covers thinking and answer: the budget shrinks to fit.
    let body = translate(
        json!({"model": "g", "input": "x", "reasoning": {"effort": "high"},
        "max_output_tokens": 3000}),
    );
    assert_eq!(body["max_tokens"], 3000);
    assert_eq!(body["thinking"]["budget_tokens"], 2999);
    // Too small for the minimum budget: no thinking.
    let body = translate(
        json!({"model": "g", "input": "x", "reasoning": {"effort": "low"},
        "max_output_tokens": 1000}),
    );
    assert!(body.get("thinking").is_none());
    // A default cap grows to hold the budget.
    let request = req(json!({"model": "g", "input": "x", "reasoning": {"effort": "high"}}));
    let unknown = Target {
        model: "claude-next",
        ..target(false, None)
    };
    let (body, _) = to_messages(&request, &unknown).unwrap();
    assert_eq!(body["max_tokens"], 4096 + 4096);
}

#[test]
fn thinking_rules_out_sampling_and_forced_tools() {
    let thinking = json!({"effort": "low"});
    let err = try_translate(
        json!({"model": "g", "input": "x", "reasoning": thinking, "temperature": 0.2}),
        false,
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("temperature"));
    let body = try_translate(
        json!({"model": "g", "input": "x", "reasoning": thinking, "temperature": 0.2, "top_p": 0.5}),
        true,
    )
    .unwrap();
    assert!(body.get("temperature").is_none() && body.get("top_p").is_none());
    assert!(body.get("thinking").is_some());
    let body =
        translate(json!({"model": "g", "input": "x", "reasoning": thinking, "temperature": 1.0}));
    assert_eq!(body["temperature"], 1.0);

    let forced = json!({"model": "g", "input": "x", "reasoning": thinking,
        "tools": [{"type": "function", "name": "a"}], "tool_choice": "required"});
    let err = try_translate(forced.clone(), false).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
    let body = try_translate(forced, true).unwrap();
    assert!(
        body.get("thinking").is_none(),
        "drop_params keeps the forced tool"
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
}

#[test]
fn thinking_blocks_are_restored_at_the_head_of_the_assistant_turn() {
    let thinking = thinking_blob("Need the weather.", "EvMCCkYICxgC");
    let redacted = opaque::encode(
        OPAQUE_TAG,
        &json!({"type": "redacted_thinking", "data": "EmwKAhgB"}),
    );
    let body = translate(json!({"model": "g", "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
        "input": [
            {"role": "user", "content": "Weather?"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need the weather."}],
             "encrypted_content": thinking},
            {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": redacted},
            {"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "gAAAAopenai"},
            {"type": "function_call", "call_id": "toolu_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "18C"}
        ],
        "tools": [{"type": "function", "name": "get_weather"}]}));
    assert_eq!(
        body["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "Need the weather.", "signature": "EvMCCkYICxgC"},
            {"type": "redacted_thinking", "data": "EmwKAhgB"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
        ])
    );
    assert_eq!(body["thinking"]["budget_tokens"], 1024);
}

#[test]
fn replayed_tool_call_without_thinking_turns_thinking_off() {
    let body = translate(json!({"model": "g", "reasoning": {"effort": "low"},
        "input": [
            {"role": "user", "content": "Weather?"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need it."}]},
            {"type": "function_call", "call_id": "toolu_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "18C"}
        ],
        "tools": [{"type": "function", "name": "get_weather"}]}));
    assert!(body.get("thinking").is_none());
    assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
}

// ----- request: row 5 ---------------------------------------------------------------------

#[test]
fn structured_output_forces_the_answer_tool() {
    let schema =
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let body = translate(json!({"model": "g", "input": "x",
        "text": {"format": {"type": "json_schema", "name": "count", "schema": schema, "strict": true}}}));
    assert_eq!(body["tools"][0]["name"], "json_tool_call");
    assert_eq!(body["tools"][0]["input_schema"], schema);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "json_tool_call"})
    );

    let body =
        translate(json!({"model": "g", "input": "x", "text": {"format": {"type": "json_object"}}}));
    assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));

    // With the client's own tools, some tool must be called: theirs or the answer.
    let body = translate(
        json!({"model": "g", "input": "x", "tools": [{"type": "function", "name": "a"}],
        "text": {"format": {"type": "json_object"}}}),
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));

    // Thinking cannot be combined with a forced tool: the model is asked instead.
    let body = translate(
        json!({"model": "g", "input": "x", "reasoning": {"effort": "low"},
        "text": {"format": {"type": "json_object"}}}),
    );
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));
    assert!(
        body["system"][0]["text"]
            .as_str()
            .unwrap()
            .contains("json_tool_call")
    );
    assert!(body.get("thinking").is_some());
}

// ----- provider: headers, URLs, Vertex ------------------------------------------------------

#[test]
fn first_party_headers_and_betas_merged() {
    let provider = AnthropicProvider::new(
        MODEL,
        "https://api.anthropic.com".into(),
        Some(Secret::new("sk-ant-test")),
        ProviderOptions {
            extra_headers: vec![
                (
                    "anthropic-beta".into(),
                    "prompt-caching-2024-07-31, files-api-2025-04-14".into(),
                ),
                ("x-team".into(), "blue".into()),
            ],
            ..Default::default()
        },
    )
    .unwrap();
    let mut client = HeaderMap::new();
    client.append(
        "anthropic-beta",
        "files-api-2025-04-14,interleaved-thinking-2025-05-14"
            .parse()
            .unwrap(),
    );
    client.append("authorization", "Bearer sk-gateway".parse().unwrap());
    let call = provider
        .prepare(
            &req(json!({"model": "g", "input": "hi"})),
            CallInfo {
                stream: false,
                client_headers: &client,
            },
        )
        .unwrap();
    let h = &call.request.headers;
    assert_eq!(
        call.request.url.as_str(),
        "https://api.anthropic.com/v1/messages"
    );
    assert_eq!(h["x-api-key"], "sk-ant-test");
    assert_eq!(h["anthropic-version"], "2023-06-01");
    assert_eq!(h["x-team"], "blue");
    assert_eq!(h.get_all("anthropic-beta").iter().count(), 1);
    assert_eq!(
        h["anthropic-beta"],
        "prompt-caching-2024-07-31,files-api-2025-04-14,interleaved-thinking-2025-05-14"
    );
    assert!(
        h.get("authorization").is_none(),
        "the client's key never goes upstream"
    );
    for (base, url) in [
        ("http://h/anthropic/", "http://h/anthropic/v1/messages"),
        ("http://h/v1", "http://h/v1/messages"),
        ("http://h/v1/messages", "http://h/v1/messages"),
    ] {
        let p =
            AnthropicProvider::new(MODEL, base.into(), None, ProviderOptions::default()).unwrap();
        let call = p
            .prepare(
                &req(json!({"model": "g", "input": "hi"})),
                CallInfo::new(false),
            )
            .unwrap();
        assert_eq!(call.request.url.as_str(), url);
    }
}

#[derive(Debug)]
struct StaticToken;

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<Secret, Error>> {
        Box::pin(async { Ok(Secret::new("ya29.test-token")) })
    }
}

#[tokio::test]
async fn vertex_body_url_and_bearer_token() {
    let base = "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5";
    let provider = AnthropicProvider::vertex(
        "claude-sonnet-4-5@20250929",
        base,
        Arc::new(StaticToken),
        ProviderOptions::default(),
    )
    .unwrap();
    assert_eq!(provider.name(), "vertex_ai");
    let request = req(json!({"model": "g", "input": "Hello", "max_output_tokens": 1024}));
    let mut call = provider.prepare(&request, CallInfo::new(true)).unwrap();
    assert_eq!(
        call.request.url.as_str(),
        format!("{base}/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict")
    );
    let body: Value = serde_json::from_slice(&call.request.body).unwrap();
    assert_eq!(
        body,
        json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 1024,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
            "stream": true})
    );
    assert!(call.request.headers.get("x-api-key").is_none());
    assert!(call.request.headers.get("anthropic-version").is_none());
    provider.authorize(&mut call.request).await.unwrap();
    assert_eq!(
        call.request.headers["authorization"],
        "Bearer ya29.test-token"
    );

    let call = provider.prepare(&request, CallInfo::new(false)).unwrap();
    assert!(call.request.url.as_str().ends_with(":rawPredict"));
}

// ----- decoding: rows 3, 4, 6, 7 -----------------------------------------------------------

/// Decodes `body` fed in the pieces `cuts` separate, and builds the Responses stream.
fn decode_cut(
    request: &Value,
    body: &str,
    cuts: &[usize],
) -> Result<Vec<ResponseStreamEvent>, Error> {
    let request = req(request.clone());
    let (_, tools) = to_messages(&request, &target(true, None)).unwrap();
    let mut decoder = MessagesDecoder::new("Anthropic", tools, Vec::new());
    let mut builder = ResponseBuilder::new(
        envelope(&request, "resp_test".into(), "m".into(), 1),
        true,
        true,
    );
    builder.start();
    let mut items = Vec::new();
    let bytes = body.as_bytes();
    let mut last = 0;
    let mut result = Ok(());
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        result = result.and_then(|()| decoder.chunk(&bytes[last..cut], &mut items));
        last = cut;
    }
    result = result.and_then(|()| decoder.end(&mut items));
    builder.apply(&mut items)?;
    result?;
    builder.complete();
    Ok(builder.drain().collect())
}

fn final_response(events: &[ResponseStreamEvent]) -> Value {
    grammar::check_stream(events).unwrap();
    serde_json::to_value(events.last().unwrap().response().unwrap()).unwrap()
}

/// Decodes `body` whole, split at every single byte, and in runs of 1..=7 bytes; all must agree.
fn decode_everywhere(request: &Value, body: &str) -> Value {
    let whole = final_response(&decode_cut(request, body, &[]).unwrap());
    let normalize = |mut v: Value| {
        v["created_at"] = json!(0);
        v["completed_at"] = json!(0);
        v
    };
    for cut in 1..body.len() {
        let split = final_response(&decode_cut(request, body, &[cut]).unwrap());
        assert_eq!(
            normalize(split),
            normalize(whole.clone()),
            "split at byte {cut}"
        );
    }
    for size in 1..=7 {
        let cuts: Vec<usize> = (size..body.len()).step_by(size).collect();
        let pieces = final_response(&decode_cut(request, body, &cuts).unwrap());
        assert_eq!(
            normalize(pieces),
            normalize(whole.clone()),
            "pieces of {size}"
        );
    }
    whole
}

/// A thinking stream shaped like a recorded one: padded JSON, a ping,
/// the empty `thinking_delta` before the signature, cumulative usage in `message_delta`, a
/// multi-byte character split across deltas.
const THINKING_STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-20250514\",\"id\":\"msg_01ALwQ87pTS7hH1PjSdC9wJD\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":43,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"}}    }\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}          }\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"This\"}       }\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\" is a straightforward question — caf\u{e9}.\"}             }\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EvMCCkYICxgCKkCHP2cSuEdcJK/0rFwqES+ecn==\"}             }\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0               }\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}            }\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Here are\"}          }\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"type\":\"char_location\",\"cited_text\":\"x\"}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\" the steps \u{1F6B6}.\"}          }\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1               }\n\n",
    "event: some_future_event\n",
    "data: {\"type\":\"some_future_event\",\"x\":1}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":43,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":282}      }\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"         }\n\n",
);

#[test]
fn thinking_stream_at_every_split() {
    let request = json!({"model": "g", "input": "How do I cross the street?",
        "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"]});
    let response = decode_everywhere(&request, THINKING_STREAM);
    assert_eq!(response["status"], "completed");
    assert_eq!(response["model"], "claude-sonnet-4-20250514");
    let reasoning = &response["output"][0];
    assert_eq!(reasoning["type"], "reasoning");
    assert_eq!(
        reasoning["summary"][0]["text"],
        "This is a straightforward question — café."
    );
    let block: Value =
        opaque::decode(OPAQUE_TAG, reasoning["encrypted_content"].as_str().unwrap()).unwrap();
    assert_eq!(
        block,
        json!({"type": "thinking", "thinking": "This is a straightforward question — café.",
            "signature": "EvMCCkYICxgCKkCHP2cSuEdcJK/0rFwqES+ecn=="})
    );
    assert_eq!(
        response["output"][1]["content"][0]["text"],
        "Here are the steps 🚶."
    );
    assert_eq!(response["usage"]["input_tokens"], 43);
    assert_eq!(response["usage"]["output_tokens"], 282);
    assert_eq!(response["usage"]["total_tokens"], 325);
}

/// Tool use after text, with cache reads and writes, split arguments and a call without
/// arguments (as recorded for a tool use, also one without arguments).
const TOOL_STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\",\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":9511,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check.\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01NRLabsLyVHZPKxbKvkfSMn\",\"name\":\"get_weather\",\"caller\":{\"type\":\"direct\"},\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"locati\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"on\\\": \\\"P\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"aris\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"now\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":65}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

#[test]
fn tool_stream_with_cache_usage_at_every_split() {
    let request = json!({"model": "g", "input": "Weather?", "tools": [
        {"type": "function", "name": "get_weather"}, {"type": "function", "name": "now"}]});
    let response = decode_everywhere(&request, TOOL_STREAM);
    assert_eq!(response["status"], "completed");
    let output = response["output"].as_array().unwrap();
    assert_eq!(output[0]["content"][0]["text"], "Let me check.");
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["call_id"], "toolu_01NRLabsLyVHZPKxbKvkfSMn");
    assert_eq!(output[1]["arguments"], r#"{"location": "Paris"}"#);
    assert_eq!(output[2]["name"], "now");
    assert_eq!(output[2]["arguments"], "{}");
    let usage = &response["usage"];
    assert_eq!(usage["input_tokens"], 3 + 100 + 9511);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 9511);
    assert_eq!(usage["input_tokens_details"]["cache_write_tokens"], 100);
    assert_eq!(usage["output_tokens"], 65);
    assert_eq!(usage["total_tokens"], 3 + 100 + 9511 + 65);
}

fn stream_of(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

fn start(usage: Value) -> Value {
    json!({"type": "message_start", "message": {"model": "claude-x", "id": "msg_1", "type": "message",
        "role": "assistant", "content": [], "usage": usage}})
}

#[test]
fn cumulative_usage_is_replaced_not_added() {
    let body = stream_of(&[
        start(json!({"input_tokens": 43, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Hi"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": null}, "usage": {"output_tokens": 10}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 61, "output_tokens": 20, "output_tokens_details": {"thinking_tokens": 7}}}),
        json!({"type": "message_stop"}),
    ]);
    let response =
        final_response(&decode_cut(&json!({"model": "g", "input": "x"}), &body, &[]).unwrap());
    assert_eq!(response["usage"]["input_tokens"], 61);
    assert_eq!(response["usage"]["output_tokens"], 20);
    assert_eq!(
        response["usage"]["output_tokens_details"]["reasoning_tokens"],
        7
    );
    assert_eq!(response["usage"]["total_tokens"], 81);
}

#[test]
fn stop_reasons_map_to_status() {
    for (reason, status, detail) in [
        ("end_turn", "completed", Value::Null),
        ("stop_sequence", "completed", Value::Null),
        ("pause_turn", "completed", Value::Null),
        (
            "max_tokens",
            "incomplete",
            json!({"reason": "max_output_tokens"}),
        ),
        (
            "model_context_window_exceeded",
            "incomplete",
            json!({"reason": "max_output_tokens"}),
        ),
        ("refusal", "incomplete", json!({"reason": "content_filter"})),
    ] {
        let body = stream_of(&[
            start(json!({"input_tokens": 1, "output_tokens": 1})),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Partial"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": reason}, "usage": {"output_tokens": 5}}),
            json!({"type": "message_stop"}),
        ]);
        let response =
            final_response(&decode_cut(&json!({"model": "g", "input": "x"}), &body, &[]).unwrap());
        assert_eq!(response["status"], status, "{reason}");
        assert_eq!(response["incomplete_details"], detail, "{reason}");
    }
}

#[test]
fn json_answer_tool_becomes_message_text() {
    let request = json!({"model": "g", "input": "x", "text": {"format": {"type": "json_schema",
        "name": "count", "schema": {"type": "object"}}}});
    let body = stream_of(&[
        start(json!({"input_tokens": 5, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use",
            "id": "toolu_9", "name": "json_tool_call", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"n\""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ": 1}"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]);
    let response = final_response(&decode_cut(&request, &body, &[]).unwrap());
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output"].as_array().unwrap().len(), 1);
    assert_eq!(response["output"][0]["type"], "message");
    assert_eq!(response["output"][0]["content"][0]["text"], "{\"n\": 1}");
}

#[test]
fn text_before_the_answer_tool_is_dropped_and_plain_answers_are_kept() {
    let request = json!({"model": "g", "input": "x", "text": {"format": {"type": "json_object"}}});
    let preamble = stream_of(&[
        start(json!({"input_tokens": 5, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Here is the JSON:"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use",
            "id": "toolu_9", "name": "json_tool_call", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"n\": 1}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]);
    let response = final_response(&decode_cut(&request, &preamble, &[]).unwrap());
    assert_eq!(
        response["output"].as_array().unwrap().len(),
        1,
        "{response}"
    );
    assert_eq!(response["output"][0]["content"][0]["text"], "{\"n\": 1}");

    // A model that answers in text after all: the text is sent, not lost.
    let plain = stream_of(&[
        start(json!({"input_tokens": 5, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "{\"n\": 2}"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]);
    let response = final_response(&decode_cut(&request, &plain, &[]).unwrap());
    assert_eq!(response["output"][0]["content"][0]["text"], "{\"n\": 2}");
}

#[test]
fn custom_tool_input_and_redacted_thinking() {
    let request = json!({"model": "g", "input": "x", "include": ["reasoning.encrypted_content"],
        "tools": [{"type": "custom", "name": "apply_patch"}]});
    let body = stream_of(&[
        start(json!({"input_tokens": 5, "output_tokens": 1})),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "redacted_thinking", "data": "EmwKAhgB"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use",
            "id": "toolu_7", "name": "apply_patch", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"input\": \"*** Be"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "gin Patch\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]);
    let response = final_response(&decode_cut(&request, &body, &[]).unwrap());
    let blob = response["output"][0]["encrypted_content"].as_str().unwrap();
    assert_eq!(
        opaque::decode::<Value>(OPAQUE_TAG, blob).unwrap(),
        json!({"type": "redacted_thinking", "data": "EmwKAhgB"})
    );
    assert_eq!(response["output"][1]["type"], "custom_tool_call");
    assert_eq!(response["output"][1]["input"], "*** Begin Patch");
}

#[test]
fn complete_message_body() {
    let body = json!({"model": "claude-opus-4-5-20251101", "id": "msg_01", "type": "message",
        "role": "assistant", "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "CAISqwQK"},
            {"type": "text", "text": "I'll check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "stop_sequence": null, "stop_details": null,
        "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4,
            "output_tokens": 29, "output_tokens_details": {"thinking_tokens": 10}}});
    let request = req(
        json!({"model": "g", "input": "x", "include": ["reasoning.encrypted_content"],
        "tools": [{"type": "function", "name": "get_weather"}]}),
    );
    let (_, tools) = to_messages(&request, &target(false, None)).unwrap();
    let mut decoder = MessagesDecoder::new("Anthropic", tools, Vec::new());
    let mut builder = ResponseBuilder::new(
        envelope(&request, "resp_1".into(), "m".into(), 1),
        false,
        true,
    );
    let mut items = Vec::new();
    decoder
        .body(body.to_string().as_bytes(), &mut items)
        .unwrap();
    builder.apply(&mut items).unwrap();
    builder.complete();
    let response = serde_json::to_value(builder.into_response()).unwrap();
    let output = response["output"].as_array().unwrap();
    assert_eq!(output[0]["summary"][0]["text"], "Let me think.");
    assert_eq!(
        opaque::decode::<Value>(OPAQUE_TAG, output[0]["encrypted_content"].as_str().unwrap())
            .unwrap(),
        json!({"type": "thinking", "thinking": "Let me think.", "signature": "CAISqwQK"})
    );
    assert_eq!(output[1]["content"][0]["text"], "I'll check.");
    assert_eq!(output[2]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(response["model"], "claude-opus-4-5-20251101");
    assert_eq!(response["usage"]["input_tokens"], 16);
    assert_eq!(
        response["usage"]["input_tokens_details"]["cached_tokens"],
        4
    );
    assert_eq!(
        response["usage"]["output_tokens_details"]["reasoning_tokens"],
        10
    );
}

// ----- errors: row 8 ----------------------------------------------------------------------

#[test]
fn midstream_error_and_truncation() {
    let request = json!({"model": "g", "input": "x"});
    let body = format!(
        "{}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}   }}\n\n",
        stream_of(&[
            start(json!({"input_tokens": 1, "output_tokens": 1})),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Hal"}}),
        ])
    );
    let err = decode_cut(&request, &body, &[]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Overloaded);
    assert_eq!(err.response_error_code(), "server_is_overloaded");
    assert_eq!(err.message, "Overloaded");

    let truncated = stream_of(&[start(json!({"input_tokens": 1}))]);
    let err = decode_cut(&request, &truncated, &[]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert!(err.message.contains("closed the stream"));
}

#[test]
fn error_answers_are_classified() {
    let classify = |status: u16, body: &str, headers: HeaderMap| {
        errors::classify("Anthropic", Some(status), &headers, body.as_bytes(), &[])
    };
    let e = classify(
        529,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CZAYwiDg6Eqv7HiBNWoE5"}"#,
        HeaderMap::new(),
    );
    assert_eq!((e.kind, e.status()), (ErrorKind::Overloaded, 503));
    assert!(!e.message.contains("req_011"));
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "7".parse().unwrap());
    let e = classify(
        429,
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
        headers,
    );
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(7)));
    let e = classify(
        400,
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#,
        HeaderMap::new(),
    );
    assert_eq!(e.kind, ErrorKind::ContextLengthExceeded);
    assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
    let key = Secret::new("sk-ant-api03-secretsecretsecret");
    let e = errors::classify("Anthropic", Some(401),
        &HeaderMap::new(),
        br#"{"error":{"message":"invalid x-api-key sk-ant-api03-secretsecretsecret","type":"authentication_error"},"request_id":null,"type":"error"}"#,
        &[&key]);
    assert_eq!((e.kind, e.status()), (ErrorKind::Authentication, 401));
    assert!(!e.message.contains("secretsecret"));
    let e = classify(
        404,
        r#"{"error":{"message":"model: claude-does-not-exist","type":"not_found_error"},"request_id":"req_1","type":"error"}"#,
        HeaderMap::new(),
    );
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(errors::status_for_type("overloaded_error"), 529);
    let e = errors::classify(
        "Anthropic",
        None,
        &HeaderMap::new(),
        br#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
        &[],
    );
    assert_eq!((e.kind, e.status()), (ErrorKind::Upstream, 500));
}

#[test]
fn claude_generation_rules() {
    // Claude 4.1 and later take temperature or top_p, not both.
    let both = json!({"model": "g", "input": "x", "temperature": 0.2, "top_p": 0.9});
    let err = try_translate(both.clone(), false).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("top_p"));
    let body = try_translate(both.clone(), true).unwrap();
    assert_eq!(body["temperature"], 0.2);
    assert!(body.get("top_p").is_none());
    let older = Target {
        model: "claude-sonnet-4-20250514",
        ..target(false, None)
    };
    let body = to_messages(&req(both), &older).unwrap().0;
    assert_eq!(
        (body["temperature"].clone(), body["top_p"].clone()),
        (json!(0.2), json!(0.9))
    );

    // Models without extended thinking: effort is refused by name, or dropped.
    let old = Target {
        model: "claude-3-5-haiku-20241022",
        ..target(false, None)
    };
    let effort = req(json!({"model": "g", "input": "x", "reasoning": {"effort": "low"}}));
    let err = to_messages(&effort, &old).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("reasoning.effort"));
    let dropping = Target {
        drop_params: true,
        ..old
    };
    let body = to_messages(&effort, &dropping).unwrap().0;
    assert!(body.get("thinking").is_none());
}

#[test]
fn tool_schemas_always_declare_an_object() {
    let body = translate(json!({"model": "g", "input": "x", "tools": [
        {"type": "function", "name": "a", "parameters": {}},
        {"type": "function", "name": "b", "parameters": {"properties": {"q": {"type": "string"}}}},
        {"type": "function", "name": "c"}
    ]}));
    for tool in body["tools"].as_array().unwrap() {
        assert_eq!(tool["input_schema"]["type"], "object", "{tool}");
    }
    assert_eq!(
        body["tools"][1]["input_schema"]["properties"]["q"]["type"],
        "string"
    );
}

// ----- input token counts ------------------------------------------------------------------

fn counter(provider: &AnthropicProvider, request: Value, headers: &HeaderMap) -> CountCall {
    let call = CallInfo {
        stream: false,
        client_headers: headers,
    };
    match provider.count_input_tokens(&req(request), call).unwrap() {
        InputTokens::Upstream(counter) => *counter,
        InputTokens::Estimate(_) => panic!("Anthropic counts upstream"),
    }
}

#[test]
fn count_tokens_sends_the_messages_without_the_output_fields() {
    let provider = AnthropicProvider::new(
        MODEL,
        "https://api.anthropic.com".into(),
        Some(Secret::new("sk-ant-test")),
        ProviderOptions::default(),
    )
    .unwrap();
    let mut client = HeaderMap::new();
    client.insert(
        "anthropic-beta",
        "token-efficient-tools-2025-02-19".parse().unwrap(),
    );
    let counter = counter(
        &provider,
        json!({"model": "g", "instructions": "Be terse.", "input": "Weather in Paris?",
            "max_output_tokens": 9000, "stream": true, "user": "u-1",
            "reasoning": {"effort": "low"},
            "tools": [{"type": "function", "name": "get_weather", "description": "Look it up",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": "auto"}),
        &client,
    );
    assert_eq!(
        counter.request.url.as_str(),
        "https://api.anthropic.com/v1/messages/count_tokens"
    );
    let body: Value = serde_json::from_slice(&counter.request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "model": MODEL,
            "system": [{"type": "text", "text": "Be terse."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}],
            "tools": [{"name": "get_weather", "description": "Look it up",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "auto"},
            "thinking": {"type": "enabled", "budget_tokens": 1024}
        })
    );
    let headers = &counter.request.headers;
    assert_eq!(headers["x-api-key"], "sk-ant-test");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        headers["anthropic-beta"],
        "token-efficient-tools-2025-02-19"
    );
    assert_eq!((counter.read)(br#"{"input_tokens": 42}"#), Some(42));
    assert_eq!((counter.read)(br#"{"type": "error"}"#), None);
    assert!(counter.fallback.is_none());
}

#[test]
fn vertex_counts_at_the_publisher_counter_with_the_model_in_the_body() {
    let base = "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5";
    let provider = AnthropicProvider::vertex(
        "claude-sonnet-4-5@20250929",
        base,
        Arc::new(StaticToken),
        ProviderOptions::default(),
    )
    .unwrap();
    let counter = counter(
        &provider,
        json!({"model": "g", "input": "Hello", "max_output_tokens": 1024}),
        &HeaderMap::new(),
    );
    assert_eq!(
        counter.request.url.as_str(),
        format!("{base}/publishers/anthropic/models/count-tokens:rawPredict")
    );
    let body: Value = serde_json::from_slice(&counter.request.body).unwrap();
    assert_eq!(
        body,
        json!({"anthropic_version": "vertex-2023-10-16", "model": "claude-sonnet-4-5@20250929",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]})
    );
    assert!(counter.request.headers.get("x-api-key").is_none());
}
