//! Golden tests of the Bedrock Converse translation, both ways. Expected bodies are written by
//! hand from the Converse API reference; stream fixtures are encoded here with the event stream encoder,
//! modelled on the recorded ConverseStream captures (same events, headers and `p` padding).

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde_json::{Value, json};
use switchyard_types::responses::{CreateResponse, Item, ResponseStreamEvent};

use super::request::{BLOB_TAG, ConverseContext, ConverseTarget, ReasoningBlob, to_converse};
use super::response::ConverseDecoder;
use crate::error::ErrorKind;
use crate::providers::{Decoder, Upstream, opaque};
use crate::stream::{FinishReason, ResponseBuilder, StreamEvent, envelope, grammar};

fn req(value: Value) -> CreateResponse {
    serde_json::from_value(value).unwrap()
}

fn target(model: &str) -> ConverseTarget<'_> {
    ConverseTarget {
        model,
        drop_params: false,
    }
}

fn translate(model: &str, request: Value) -> Value {
    to_converse(&req(request), &target(model)).unwrap().0
}

fn translate_err(model: &str, request: Value) -> crate::error::Error {
    to_converse(&req(request), &target(model)).unwrap_err()
}

const NOVA: &str = "us.amazon.nova-micro-v1:0";
const CLAUDE: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";

// ----- request: matrix rows -------------------------------------------------------------

/// Row 1: text, instructions, multi-turn with assistant messages; developer messages join the
/// system prompt; consecutive same-role turns merge. Mirrors the recorded text request.
#[test]
fn text_instructions_and_multi_turn() {
    let out = translate(
        NOVA,
        json!({"model": "g", "instructions": "You are a helpful chatbot.",
            "input": [
                {"role": "developer", "content": "Use metric units."},
                {"role": "user", "content": "What is the capital of France?"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Paris."}]},
                {"role": "user", "content": [{"type": "input_text", "text": "And Spain?"}]},
                {"role": "user", "content": "Be brief."}
            ],
            "temperature": 0.0}),
    );
    assert_eq!(
        out,
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "What is the capital of France?"}]},
                {"role": "assistant", "content": [{"text": "Paris."}]},
                {"role": "user", "content": [{"text": "And Spain?"}, {"text": "Be brief."}]}
            ],
            "system": [{"text": "You are a helpful chatbot."}, {"text": "Use metric units."}],
            "inferenceConfig": {"temperature": 0.0}
        })
    );
}

/// Row 2: base64 images become bytes, PDFs documents, `s3://` images an S3 location; URL
/// images are refused with a 400 naming the part (dropped with `drop_params`).
#[test]
fn images_and_files() {
    let out = translate(
        NOVA,
        json!({"model": "g", "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "Describe"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
            {"type": "input_image", "image_url": "s3://bucket/cat.jpg"},
            {"type": "input_file", "filename": "report_v2.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}
        ]}]}),
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"text": "Describe"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
            {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.jpg"}}}},
            {"document": {"format": "pdf", "name": "report-v2-pdf", "source": {"bytes": "JVBERi0x"}}}
        ])
    );
    let url_image = json!({"model": "g", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Describe"},
        {"type": "input_image", "image_url": "https://example.com/cat.png"}]}]});
    let err = translate_err(NOVA, url_image.clone());
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        err.message.contains("input[0].content[1].image_url"),
        "{}",
        err.message
    );
    assert!(err.message.contains("data: URL"));
    let dropped = to_converse(
        &req(url_image),
        &ConverseTarget {
            model: NOVA,
            drop_params: true,
        },
    )
    .unwrap()
    .0;
    assert_eq!(
        dropped["messages"][0]["content"],
        json!([{"text": "Describe"}])
    );
}

fn weather_tool() -> Value {
    json!({"type": "function", "name": "get_temperature", "description": "Get the temperature in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})
}

/// Row 3: function tools, tool choice (auto, required, named, none), a round trip with the
/// tool-use id preserved, parallel calls merged into one assistant turn. Mirrors the recorded
/// two-turn tool loop.
#[test]
fn tools_choices_and_round_trip() {
    let out = translate(
        NOVA,
        json!({"model": "g", "instructions": "You are a helpful chatbot.",
            "input": [
                {"role": "user", "content": "What is the temperature of the capital of France?"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "call_id": "tooluse_lAG_zP8QRHmSYOwZzzaCqA", "name": "get_temperature", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call", "call_id": "tooluse_second", "name": "get_temperature", "arguments": "{\"city\":\"Lyon\"}"},
                {"type": "function_call_output", "call_id": "tooluse_lAG_zP8QRHmSYOwZzzaCqA", "output": "30°C"},
                {"type": "function_call_output", "call_id": "tooluse_second", "output": [{"type": "input_text", "text": "25°C"}]}
            ],
            "tools": [weather_tool(), {"type": "web_search"}],
            "tool_choice": "auto", "top_p": 0.5}),
    );
    assert_eq!(
        out,
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "What is the temperature of the capital of France?"}]},
                {"role": "assistant", "content": [
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "tooluse_lAG_zP8QRHmSYOwZzzaCqA", "name": "get_temperature", "input": {"city": "Paris"}}},
                    {"toolUse": {"toolUseId": "tooluse_second", "name": "get_temperature", "input": {"city": "Lyon"}}}
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "tooluse_lAG_zP8QRHmSYOwZzzaCqA", "content": [{"text": "30°C"}], "status": "success"}},
                    {"toolResult": {"toolUseId": "tooluse_second", "content": [{"text": "25°C"}], "status": "success"}}
                ]}
            ],
            "system": [{"text": "You are a helpful chatbot."}],
            "inferenceConfig": {"topP": 0.5},
            "toolConfig": {"tools": [{"toolSpec": {"name": "get_temperature", "description": "Get the temperature in a city.",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}]}
        })
    );

    let with_choice = |choice: Value| {
        translate(
            NOVA,
            json!({"model": "g", "input": "hi", "tools": [weather_tool()], "tool_choice": choice}),
        )
    };
    assert_eq!(
        with_choice(json!("required"))["toolConfig"]["toolChoice"],
        json!({"any": {}})
    );
    assert_eq!(
        with_choice(json!({"type": "function", "name": "get_temperature"}))["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "get_temperature"}})
    );
    // No `none` in Converse: the tools are left out.
    assert!(with_choice(json!("none")).get("toolConfig").is_none());
    let err = translate_err(
        NOVA,
        json!({"model": "g", "input": "hi", "tools": [weather_tool()],
            "tool_choice": {"type": "function", "name": "nope"}}),
    );
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
}

/// Row 4: reasoning effort → Claude thinking budget; a preserved Bedrock blob comes back as a
/// `reasoningContent` block leading the assistant turn; other providers' blobs are skipped;
/// non-Claude models refuse `reasoning.effort`.
#[test]
fn reasoning_budget_and_replay() {
    let blob = opaque::encode(
        BLOB_TAG,
        &ReasoningBlob {
            text: Some("Need the weather.".into()),
            signature: Some("EvYBCkgICxAB".into()),
            redacted: None,
        },
    );
    let redacted = opaque::encode(
        BLOB_TAG,
        &ReasoningBlob {
            redacted: Some("RXRrRUNrZ0lC".into()),
            ..ReasoningBlob::default()
        },
    );
    let out = translate(
        CLAUDE,
        json!({"model": "g", "reasoning": {"effort": "medium"},
            "input": [
                {"role": "user", "content": "Weather in Paris?"},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need the weather."}], "encrypted_content": blob},
                {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": redacted},
                {"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "swy1.anthropic.e30"},
                {"type": "function_call", "call_id": "tooluse_1", "name": "get_temperature", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "tooluse_1", "output": "30°C"}
            ],
            "tools": [weather_tool()]}),
    );
    assert_eq!(
        out["messages"][1],
        json!({"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Need the weather.", "signature": "EvYBCkgICxAB"}}},
            {"reasoningContent": {"redactedContent": "RXRrRUNrZ0lC"}},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_temperature", "input": {"city": "Paris"}}}
        ]})
    );
    assert_eq!(
        out["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        "medium: the same budget as through Anthropic's own API"
    );
    assert_eq!(out["inferenceConfig"]["maxTokens"], json!(2048 + 4096));

    // With a cap, the budget stays under it.
    let out = translate(
        CLAUDE,
        json!({"model": "g", "input": "hi", "reasoning": {"effort": "high"}, "max_output_tokens": 2000}),
    );
    assert_eq!(
        out["additionalModelRequestFields"]["thinking"]["budget_tokens"],
        json!(1999)
    );
    assert_eq!(out["inferenceConfig"]["maxTokens"], json!(2000));
    // `none` turns thinking off.
    let out = translate(
        CLAUDE,
        json!({"model": "g", "input": "hi", "reasoning": {"effort": "none"}}),
    );
    assert!(out.get("additionalModelRequestFields").is_none());

    let err = translate_err(
        NOVA,
        json!({"model": "g", "input": "hi", "reasoning": {"effort": "low"}}),
    );
    assert_eq!(err.param.as_deref(), Some("reasoning.effort"));
}

/// Row 5: structured output through the forced `json_tool_call` tool.
#[test]
fn structured_output_uses_a_forced_tool() {
    let out = translate(
        NOVA,
        json!({"model": "g", "input": "Give me a city",
            "text": {"format": {"type": "json_schema", "name": "city", "strict": true,
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}),
    );
    assert_eq!(
        out["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "json_tool_call",
            "description": "Respond with the `city` object. Always answer by calling this tool with the complete answer as its input.",
            "inputSchema": {"json": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}],
            "toolChoice": {"tool": {"name": "json_tool_call"}}})
    );
    let out = translate(
        NOVA,
        json!({"model": "g", "input": "x", "text": {"format": {"type": "json_object"}}, "tools": [weather_tool()]}),
    );
    assert_eq!(out["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(
        out["toolConfig"]["tools"][1]["toolSpec"]["inputSchema"]["json"],
        json!({"type": "object"})
    );
    // Claude with thinking cannot be forced: the tool is offered with `auto`.
    let out = translate(
        CLAUDE,
        json!({"model": "g", "input": "x", "reasoning": {"effort": "low"}, "text": {"format": {"type": "json_object"}}}),
    );
    assert!(out["toolConfig"].get("toolChoice").is_none());
}

/// Row 6: limits and sampling; unsupported knobs are named.
#[test]
fn limits_sampling_and_unsupported() {
    let out = translate(
        NOVA,
        json!({"model": "g", "input": "hi", "max_output_tokens": 512, "temperature": 0.2, "top_p": 0.9,
            "stop": ["END"], "service_tier": "priority", "user": "u1", "store": false, "metadata": {"a": "b"}}),
    );
    assert_eq!(
        out["inferenceConfig"],
        json!({"maxTokens": 512, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]})
    );
    assert_eq!(out["serviceTier"], json!({"type": "priority"}));
    let err = translate_err(
        NOVA,
        json!({"model": "g", "input": "hi", "presence_penalty": 0.5}),
    );
    assert_eq!(err.code.as_deref(), Some("unsupported_parameter"));
    let err = translate_err(
        NOVA,
        json!({"model": "g", "input": "hi", "previous_response_id": "resp_1"}),
    );
    assert_eq!(err.param.as_deref(), Some("previous_response_id"));
}

#[test]
fn custom_and_namespaced_tools() {
    let out = translate(
        NOVA,
        json!({"model": "g", "input": [
                {"role": "user", "content": "patch"},
                {"type": "custom_tool_call", "call_id": "call_C", "name": "apply_patch", "input": "*** Begin Patch"},
                {"type": "custom_tool_call_output", "call_id": "call_C", "output": ""}
            ],
            "tools": [{"type": "custom", "name": "apply_patch", "description": "Patch files"},
                {"type": "namespace", "name": "agents", "tools": [{"type": "function", "name": "spawn", "parameters": null}]}]}),
    );
    assert_eq!(
        out["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "apply_patch"
    );
    assert_eq!(
        out["toolConfig"]["tools"][1]["toolSpec"]["name"],
        "agents__spawn"
    );
    assert_eq!(
        out["messages"][1]["content"][0],
        json!({"toolUse": {"toolUseId": "call_C", "name": "apply_patch", "input": {"input": "*** Begin Patch"}}})
    );
    // An empty tool output still sends a non-blank block.
    assert_eq!(
        out["messages"][2]["content"][0]["toolResult"]["content"],
        json!([{"text": "(no output)"}])
    );
}

// ----- event stream fixtures ------------------------------------------------------------

/// One event frame as Bedrock sends it: the three headers, a JSON payload with `p` padding.
fn event(kind: &str, mut payload: Value) -> Vec<u8> {
    let pad = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let len = 5 + (kind.len() * 7 + payload.to_string().len()) % 50;
    payload["p"] = json!(&pad[..len]);
    frame(
        vec![
            Header::new(":event-type", HeaderValue::String(kind.to_string().into())),
            Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            Header::new(":message-type", HeaderValue::String("event".into())),
        ],
        payload.to_string(),
    )
}

fn exception(kind: &str, message: &str) -> Vec<u8> {
    frame(
        vec![
            Header::new(
                ":exception-type",
                HeaderValue::String(kind.to_string().into()),
            ),
            Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            Header::new(":message-type", HeaderValue::String("exception".into())),
        ],
        json!({"message": message}).to_string(),
    )
}

fn frame(headers: Vec<Header>, payload: String) -> Vec<u8> {
    let mut out = Vec::new();
    write_message_to(
        &Message::new_from_parts(headers, payload.into_bytes()),
        &mut out,
    )
    .unwrap();
    out
}

/// The recorded Nova Micro text stream (shortened).
fn text_stream() -> Vec<u8> {
    [
        event("messageStart", json!({"role": "assistant"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "The"}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": " capital of France is Paris — déjà vu."}})),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event("messageStop", json!({"stopReason": "end_turn"})),
        event("metadata", json!({"metrics": {"latencyMs": 522}, "usage": {"inputTokens": 13, "outputTokens": 82, "serverToolUsage": {}, "totalTokens": 95}})),
    ]
    .concat()
}

/// Claude Sonnet 4 with thinking: reasoning text and signature, then a tool call.
fn reasoning_tool_stream() -> Vec<u8> {
    [
        event("messageStart", json!({"role": "assistant"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "The user wants"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": " the weather."}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "Eu0CCkgIBxABGAIqQJDc"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"name": "get_temperature", "toolUseId": "tooluse_lAG_zP8QRHmSYOwZzzaCqA"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\":"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"Paris\"}"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        event("contentBlockStart", json!({"contentBlockIndex": 2, "start": {"toolUse": {"name": "get_time", "toolUseId": "tooluse_noargs"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 2})),
        event("messageStop", json!({"stopReason": "tool_use"})),
        event("metadata", json!({"metrics": {"latencyMs": 1999}, "usage": {"inputTokens": 36, "outputTokens": 73, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 20, "totalTokens": 229}})),
    ]
    .concat()
}

/// Claude 3.7 redacted reasoning: one block per redaction, then text.
fn redacted_stream() -> Vec<u8> {
    [
        event("messageStart", json!({"role": "assistant"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"redactedContent": "RXRrRUNrZ0lCeEFC"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "RXFBRENrZ0lC"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"text": "Hello"}})),
        event("contentBlockStop", json!({"contentBlockIndex": 2})),
        event("messageStop", json!({"stopReason": "max_tokens"})),
        event("metadata", json!({"usage": {"inputTokens": 5, "outputTokens": 9, "totalTokens": 14}})),
    ]
    .concat()
}

fn decode_split(
    ctx: ConverseContext,
    bytes: &[u8],
    piece: usize,
) -> Result<Vec<StreamEvent>, crate::error::Error> {
    let mut decoder = ConverseDecoder::new(ctx, Vec::new());
    let mut out = Vec::new();
    for chunk in bytes.chunks(piece.max(1)) {
        decoder.chunk(chunk, &mut out)?;
    }
    decoder.end(&mut out)?;
    Ok(events_of(out))
}

/// Splits the stream at every byte boundary (`a | b`) and every three-way split around it.
fn decode_at_every_boundary(ctx: &ConverseContext, bytes: &[u8]) -> Vec<StreamEvent> {
    let whole = decode_split(ctx.clone(), bytes, bytes.len()).unwrap();
    for cut in 1..bytes.len() {
        let mut decoder = ConverseDecoder::new(ctx.clone(), Vec::new());
        let mut out = Vec::new();
        decoder.chunk(&bytes[..cut], &mut out).unwrap();
        decoder.chunk(&bytes[cut..], &mut out).unwrap();
        decoder.end(&mut out).unwrap();
        assert_eq!(events_of(out), whole, "split at byte {cut}");
    }
    for piece in [1, 2, 3, 7, 13, 64] {
        assert_eq!(
            decode_split(ctx.clone(), bytes, piece).unwrap(),
            whole,
            "pieces of {piece}"
        );
    }
    whole
}

fn events_of(out: Vec<Upstream>) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    let mut ended = false;
    for item in out {
        match item {
            Upstream::Event(e) => {
                assert!(!ended, "event after End");
                events.push(e);
            }
            Upstream::End => ended = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(ended, "no End");
    events
}

#[test]
fn recorded_text_stream_shape() {
    // The first frame's layout matches the recorded capture: 82 bytes of headers.
    let first = event("messageStart", json!({"role": "assistant"}));
    assert_eq!(u32::from_be_bytes(first[4..8].try_into().unwrap()), 82);
    let events = decode_at_every_boundary(&ConverseContext::default(), &text_stream());
    assert_eq!(
        events,
        vec![
            StreamEvent::TextDelta("The".into()),
            StreamEvent::TextDelta(" capital of France is Paris — déjà vu.".into()),
            StreamEvent::ItemDone,
            StreamEvent::Usage(super::response::converse_usage(
                &json!({"inputTokens": 13, "outputTokens": 82, "totalTokens": 95})
            )),
            StreamEvent::Finish(FinishReason::Stop),
        ]
    );
}

#[test]
fn reasoning_signature_and_tool_calls_stream() {
    let events = decode_at_every_boundary(&ConverseContext::default(), &reasoning_tool_stream());
    let blob = opaque::encode(
        BLOB_TAG,
        &ReasoningBlob {
            text: Some("The user wants the weather.".into()),
            signature: Some("Eu0CCkgIBxABGAIqQJDc".into()),
            redacted: None,
        },
    );
    assert_eq!(
        events[..9],
        [
            StreamEvent::ReasoningDelta("The user wants".into()),
            StreamEvent::ReasoningDelta(" the weather.".into()),
            StreamEvent::ReasoningEncrypted(blob),
            StreamEvent::ItemDone,
            StreamEvent::ToolCallStart {
                call_id: Some("tooluse_lAG_zP8QRHmSYOwZzzaCqA".into()),
                name: "get_temperature".into(),
                kind: crate::stream::ToolCallKind::Function,
                namespace: None
            },
            StreamEvent::ToolCallDelta("{\"city\":".into()),
            StreamEvent::ToolCallDelta("\"Paris\"}".into()),
            StreamEvent::ItemDone,
            StreamEvent::ToolCallStart {
                call_id: Some("tooluse_noargs".into()),
                name: "get_time".into(),
                kind: crate::stream::ToolCallKind::Function,
                namespace: None
            },
        ]
    );
    // A call without input gets `{}`.
    assert_eq!(events[9], StreamEvent::ToolCallDelta("{}".into()));
    // Usage: inputTokens excludes the cache, so reads and writes are added once.
    let StreamEvent::Usage(usage) = &events[11] else {
        panic!("{:?}", events[11])
    };
    assert_eq!(usage.input_tokens, 36 + 100 + 20);
    assert_eq!(usage.input_tokens_details.cached_tokens, 100);
    assert_eq!(usage.input_tokens_details.cache_write_tokens, 20);
    assert_eq!(usage.output_tokens, 73);
    assert_eq!(usage.total_tokens, 229);
    assert_eq!(events[12], StreamEvent::Finish(FinishReason::Stop));
}

#[test]
fn redacted_reasoning_and_max_tokens() {
    let events = decode_at_every_boundary(&ConverseContext::default(), &redacted_stream());
    let blob = |r: &str| {
        StreamEvent::ReasoningEncrypted(opaque::encode(
            BLOB_TAG,
            &ReasoningBlob {
                redacted: Some(r.into()),
                ..ReasoningBlob::default()
            },
        ))
    };
    assert_eq!(
        events[..6],
        [
            blob("RXRrRUNrZ0lCeEFC"),
            StreamEvent::ItemDone,
            blob("RXFBRENrZ0lC"),
            StreamEvent::ItemDone,
            StreamEvent::TextDelta("Hello".into()),
            StreamEvent::ItemDone,
        ]
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Length))
    );
}

#[test]
fn structured_output_tool_becomes_text() {
    let stream = [
        event("messageStart", json!({"role": "assistant"})),
        event("contentBlockStart", json!({"contentBlockIndex": 0, "start": {"toolUse": {"name": "json_tool_call", "toolUseId": "tooluse_j"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"name\":"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "\"Paris\"}"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event("messageStop", json!({"stopReason": "tool_use"})),
        event("metadata", json!({"usage": {"inputTokens": 5, "outputTokens": 9, "totalTokens": 14}})),
    ]
    .concat();
    let ctx = ConverseContext {
        json_tool: true,
        ..ConverseContext::default()
    };
    let events = decode_at_every_boundary(&ctx, &stream);
    assert_eq!(
        events[..3],
        [
            StreamEvent::TextDelta("{\"name\":".into()),
            StreamEvent::TextDelta("\"Paris\"}".into()),
            StreamEvent::ItemDone
        ]
    );
}

#[test]
fn text_before_the_answer_tool_is_dropped_and_plain_answers_are_kept() {
    let ctx = ConverseContext {
        json_tool: true,
        ..ConverseContext::default()
    };
    let preamble = [
        event("messageStart", json!({"role": "assistant"})),
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "Here is the JSON:"}})),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"name": "json_tool_call", "toolUseId": "tooluse_j"}}})),
        event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}})),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        event("messageStop", json!({"stopReason": "tool_use"})),
    ]
    .concat();
    let events = decode_at_every_boundary(&ctx, &preamble);
    let texts: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
        .collect();
    assert_eq!(texts, [&StreamEvent::TextDelta("{}".into())]);

    let plain = [
        event("messageStart", json!({"role": "assistant"})),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "{\"a\":1}"}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event("messageStop", json!({"stopReason": "end_turn"})),
    ]
    .concat();
    let events = decode_at_every_boundary(&ctx, &plain);
    assert_eq!(
        events[..2],
        [
            StreamEvent::TextDelta("{\"a\":1}".into()),
            StreamEvent::ItemDone
        ]
    );
}

#[test]
fn content_filter_stop_reasons() {
    for reason in ["guardrail_intervened", "content_filtered"] {
        let stream = [
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
            ),
            event("messageStop", json!({"stopReason": reason})),
            event(
                "metadata",
                json!({"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}),
            ),
        ]
        .concat();
        let events = decode_split(ConverseContext::default(), &stream, 5).unwrap();
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finish(FinishReason::ContentFilter))
        );
    }
}

#[test]
fn exception_frames_fail_with_the_right_code() {
    let cases = [
        (
            "throttlingException",
            "Too many tokens, please wait before trying again.",
            "rate_limit_exceeded",
        ),
        (
            "serviceUnavailableException",
            "Bedrock is unable to process your request.",
            "server_is_overloaded",
        ),
        (
            "validationException",
            "Input is too long for requested model.",
            "context_length_exceeded",
        ),
        (
            "modelStreamErrorException",
            "The model stream failed.",
            "server_error",
        ),
        (
            "internalServerException",
            "Internal server error.",
            "server_error",
        ),
    ];
    for (kind, message, code) in cases {
        let stream = [
            event("messageStart", json!({"role": "assistant"})),
            event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "partial"}}),
            ),
            exception(kind, message),
        ]
        .concat();
        for piece in [1, 9, stream.len()] {
            let err = decode_split(ConverseContext::default(), &stream, piece).unwrap_err();
            assert_eq!(err.response_error_code(), code, "{kind}");
            assert!(err.message.contains(message));
        }
    }
}

#[test]
fn corrupt_and_truncated_streams_are_errors() {
    let mut stream = text_stream();
    // Flip a payload byte: the message CRC no longer matches.
    stream[100] ^= 0x01;
    let err = decode_split(ConverseContext::default(), &stream, 10).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert!(err.message.contains("corrupt"), "{}", err.message);

    let mut stream = text_stream();
    // A damaged prelude CRC.
    stream[8] ^= 0xff;
    assert!(decode_split(ConverseContext::default(), &stream, 10).is_err());

    let whole = text_stream();
    let err = decode_split(ConverseContext::default(), &whole[..whole.len() - 3], 7).unwrap_err();
    assert!(
        err.message.contains("middle of a message"),
        "{}",
        err.message
    );

    let cut: Vec<u8> = [event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
    )]
    .concat();
    let err = decode_split(ConverseContext::default(), &cut, 4).unwrap_err();
    assert!(err.message.contains("before the answer was complete"));

    // An absurd length is refused before anything is buffered.
    let mut huge = vec![0xff, 0xff, 0xff, 0xff];
    huge.extend_from_slice(&[0; 12]);
    assert!(decode_split(ConverseContext::default(), &huge, 16).is_err());

    // `messageStop` without `metadata` still completes.
    let no_usage = [
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
        ),
        event("messageStop", json!({"stopReason": "end_turn"})),
    ]
    .concat();
    let events = decode_split(ConverseContext::default(), &no_usage, 3).unwrap();
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Stop))
    );
}

// ----- JSON bodies ----------------------------------------------------------------------

#[test]
fn json_body_with_reasoning_and_tool_use() {
    let body = json!({"metrics": {"latencyMs": 2202},
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"signature": "EvYBCkgICxAB", "text": "Let me count."}}},
            {"text": "There are **3** r's."},
            {"toolUse": {"input": {}, "name": "get_file", "toolUseId": "tooluse_NWwMgZCVDfrdOfWPJnpX3G", "type": "tool_use"}}]}},
        "stopReason": "tool_use",
        "usage": {"cacheReadInputTokenCount": 10, "cacheReadInputTokens": 10, "cacheWriteInputTokenCount": 0,
            "cacheWriteInputTokens": 0, "inputTokens": 51, "outputTokens": 78, "serverToolUsage": {}, "totalTokens": 139}});
    let mut decoder = ConverseDecoder::new(ConverseContext::default(), Vec::new());
    let mut out = Vec::new();
    decoder.body(body.to_string().as_bytes(), &mut out).unwrap();
    let events = events_of(out);
    let blob = opaque::encode(
        BLOB_TAG,
        &ReasoningBlob {
            text: Some("Let me count.".into()),
            signature: Some("EvYBCkgICxAB".into()),
            redacted: None,
        },
    );
    assert_eq!(
        events[0],
        StreamEvent::ReasoningDelta("Let me count.".into())
    );
    assert_eq!(events[1], StreamEvent::ReasoningEncrypted(blob));
    assert_eq!(
        events[3],
        StreamEvent::TextDelta("There are **3** r's.".into())
    );
    assert_eq!(events[6], StreamEvent::ToolCallDelta("{}".into()));
    let StreamEvent::Usage(usage) = &events[8] else {
        panic!("{:?}", events[8])
    };
    // Input = 51 uncached + 10 cache reads, counted once although both spellings are present.
    assert_eq!(usage.input_tokens, 61);
    assert_eq!(usage.input_tokens_details.cached_tokens, 10);
    assert_eq!(usage.total_tokens, 139);
}

#[test]
fn unreadable_json_body_is_an_upstream_error() {
    let mut decoder = ConverseDecoder::new(ConverseContext::default(), Vec::new());
    let err = decoder
        .body(b"{\"output\": 1}", &mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
}

/// Streamed and non-streamed answers build the same Responses output, and the stream follows
/// the Responses grammar with the blob in `encrypted_content` when asked for.
#[test]
fn builder_output_is_grammatical_and_carries_the_blob() {
    let request =
        req(json!({"model": "g", "input": "hi", "include": ["reasoning.encrypted_content"]}));
    let mut builder = ResponseBuilder::new(
        envelope(&request, "resp_1".into(), "m".into(), 1),
        true,
        true,
    );
    builder.start();
    let mut decoder = ConverseDecoder::new(ConverseContext::default(), Vec::new());
    let mut items = Vec::new();
    for chunk in reasoning_tool_stream().chunks(11) {
        decoder.chunk(chunk, &mut items).unwrap();
        builder.apply(&mut items).unwrap();
    }
    decoder.end(&mut items).unwrap();
    builder.apply(&mut items).unwrap();
    builder.complete();
    let events: Vec<ResponseStreamEvent> = builder.drain().collect();
    grammar::check_stream(&events).unwrap();
    let response = builder.into_response();
    let Item::Reasoning(reasoning) = &response.output[0] else {
        panic!("{:?}", response.output)
    };
    let blob: ReasoningBlob =
        opaque::decode(BLOB_TAG, reasoning.encrypted_content.as_deref().unwrap()).unwrap();
    assert_eq!(blob.signature.as_deref(), Some("Eu0CCkgIBxABGAIqQJDc"));
    assert!(
        matches!(&response.output[1], Item::FunctionCall(c) if c.call_id == "tooluse_lAG_zP8QRHmSYOwZzzaCqA" && c.arguments == "{\"city\":\"Paris\"}")
    );
    assert_eq!(response.usage.as_ref().unwrap().input_tokens, 156);
}

/// Claude's request rules hold on Bedrock too (thinking replay, sampling, tool history, blanks).
#[test]
fn claude_rules_on_bedrock() {
    // A replayed tool call without its reasoning block turns thinking off instead of a 400.
    let replay = json!({"model": "g", "reasoning": {"effort": "low"}, "tools": [weather_tool()],
    "input": [
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": "tooluse_1", "name": "get_temperature", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "tooluse_1", "output": "30°C"}
    ]});
    let out = translate(CLAUDE, replay);
    assert!(out.get("additionalModelRequestFields").is_none(), "{out}");

    // Thinking rules out a non-default temperature; 4.1+ take temperature or top_p.
    let err = translate_err(
        CLAUDE,
        json!({"model": "g", "input": "hi", "reasoning": {"effort": "low"}, "temperature": 0.3}),
    );
    assert_eq!(err.param.as_deref(), Some("temperature"));
    let err = translate_err(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        json!({"model": "g", "input": "hi", "temperature": 0.3, "top_p": 0.9}),
    );
    assert_eq!(err.param.as_deref(), Some("top_p"));

    // A history with tool blocks but no tools offered still gets a toolConfig.
    let out = translate(
        CLAUDE,
        json!({"model": "g", "input": [
            {"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "tooluse_1", "name": "get_temperature", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "tooluse_1", "output": "  "},
            {"role": "user", "content": "Summarise. "},
            {"role": "user", "content": [{"type": "input_text", "text": " "}]}
        ]}),
    );
    assert_eq!(
        out["toolConfig"]["tools"][0]["toolSpec"]["name"], "get_temperature",
        "{out}"
    );
    assert!(out["toolConfig"].get("toolChoice").is_none());
    let result = &out["messages"][2]["content"][0]["toolResult"]["content"];
    assert_eq!(
        result,
        &json!([{"text": "(no output)"}]),
        "blank output is still an answer"
    );
    let blank = out.to_string().contains("{\"text\":\" \"}");
    assert!(!blank, "no blank text blocks: {out}");
}

// ----- input token counts ------------------------------------------------------------------

#[test]
fn count_tokens_wraps_the_converse_input_for_the_foundation_model() {
    use crate::providers::{CallInfo, InputTokens, Provider, ProviderOptions};
    let provider = super::BedrockProvider::new(
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "us-east-1",
        None,
        super::auth::BedrockAuth::Bearer(crate::secret::Secret::new("k-bedrock")),
        ProviderOptions::default(),
    )
    .unwrap();
    let request = req(
        json!({"model": "g", "instructions": "Be brief.", "input": "Weather?",
        "max_output_tokens": 2000, "temperature": 0.5,
        "tools": [{"type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}),
    );
    let InputTokens::Upstream(counter) = provider
        .count_input_tokens(&request, CallInfo::new(false))
        .unwrap()
    else {
        panic!("Bedrock counts upstream")
    };
    assert_eq!(
        counter.request.url.as_str(),
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens"
    );
    let body: Value = serde_json::from_slice(&counter.request.body).unwrap();
    assert_eq!(
        body,
        json!({"input": {"converse": {
            "messages": [{"role": "user", "content": [{"text": "Weather?"}]}],
            "system": [{"text": "Be brief."}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather",
                "inputSchema": {"json": {"type": "object",
                    "properties": {"city": {"type": "string"}}}}}}]}
        }}})
    );
    assert_eq!(counter.request.headers["accept"], "application/json");
    assert_eq!((counter.read)(br#"{"inputTokens": 17}"#), Some(17));
    // A model the counter does not serve is estimated from the same request.
    let fallback = counter
        .fallback
        .expect("an estimate for models it cannot count");
    let unsupported = crate::Error::upstream(
        ErrorKind::InvalidRequest,
        "The provided model doesn't support counting tokens. (ValidationException)",
    );
    assert!((fallback.when)(&unsupported));
    assert_eq!(fallback.estimate.messages.len(), 2);
    assert_eq!(fallback.estimate.tools.as_ref().map(Vec::len), Some(1));
}
