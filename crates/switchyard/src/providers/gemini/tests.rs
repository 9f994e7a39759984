//! Golden tests of the Gemini translation, both ways. Expected bodies are written by hand from
//! the documented format.

use serde_json::{Value, json};
use switchyard_types::responses::{CreateResponse, ResponseStreamEvent};

use super::request::{BLOB_TAG, GeminiTarget, SKIP_SIGNATURE, SignatureBlob, to_gemini};
use super::response::GeminiDecoder;
use crate::error::ErrorKind;
use crate::providers::{Decoder, opaque};
use crate::stream::{ResponseBuilder, envelope, grammar};

fn req(value: Value) -> CreateResponse {
    serde_json::from_value(value).unwrap()
}

fn target(model: &str, drop_params: bool) -> GeminiTarget<'_> {
    GeminiTarget {
        label: "Gemini",
        model,
        drop_params,
    }
}

fn translate(model: &str, request: Value) -> Value {
    let (body, _) = to_gemini(&req(request), &target(model, false)).unwrap();
    serde_json::to_value(body).unwrap()
}

fn translate_err(model: &str, request: Value) -> crate::Error {
    to_gemini(&req(request), &target(model, false)).unwrap_err()
}

fn sig_blob(signature: &str, call_id: Option<&str>) -> String {
    opaque::encode(
        BLOB_TAG,
        &SignatureBlob {
            signature: signature.into(),
            call_id: call_id.map(str::to_string),
        },
    )
}

#[test]
fn golden_conversation_with_tools_reasoning_and_format() {
    let out = translate(
        "gemini-2.5-flash",
        json!({
            "model": "g",
            "instructions": "Be terse.",
            "input": [
                {"role": "developer", "content": "Use metric units."},
                {"role": "user", "content": [
                    {"type": "input_text", "text": "Weather here?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBOR"},
                    {"type": "input_image", "image_url": "gs://bucket/cat.webp"},
                    {"type": "input_file", "filename": "doc.pdf", "file_data": "data:application/pdf;base64,JVBER"}
                ]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need weather."}],
                 "encrypted_content": sig_blob("SIG_CALL", Some("call_A"))},
                {"type": "function_call", "call_id": "call_A", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call", "call_id": "g3id", "name": "get_time", "arguments": ""},
                {"type": "function_call_output", "call_id": "call_A", "output": "18C"},
                {"type": "function_call_output", "call_id": "g3id", "output": "{\"time\":\"noon\"}"},
                {"type": "reasoning", "summary": [], "encrypted_content": sig_blob("SIG_TEXT", None)},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "18C at noon."}]},
                {"role": "user", "content": "Thanks"}
            ],
            "tools": [
                {"type": "function", "name": "get_weather", "description": "Weather",
                 "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                                "properties": {"city": {"type": ["string", "null"]}}, "additionalProperties": false}},
                {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}},
                {"type": "web_search"}
            ],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
            "reasoning": {"effort": "low", "summary": "auto"},
            "max_output_tokens": 500,
            "temperature": 0.3,
            "top_p": 0.9,
            "stop": ["END"],
            "include": ["reasoning.encrypted_content"],
            "store": false,
            "user": "u1"
        }),
    );
    assert_eq!(
        out,
        json!({
            "contents": [
                {"role": "user", "parts": [
                    {"text": "Weather here?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                    {"fileData": {"mimeType": "image/webp", "fileUri": "gs://bucket/cat.webp"}},
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}}
                ]},
                {"role": "model", "parts": [
                    {"thoughtSignature": "SIG_CALL", "functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"id": "g3id", "name": "get_time", "args": {}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}},
                    {"functionResponse": {"id": "g3id", "name": "get_time", "response": {"time": "noon"}}}
                ]},
                {"role": "model", "parts": [{"text": "18C at noon.", "thoughtSignature": "SIG_TEXT"}]},
                {"role": "user", "parts": [{"text": "Thanks"}]}
            ],
            "systemInstruction": {"parts": [{"text": "Be terse."}, {"text": "Use metric units."}]},
            "tools": [{"functionDeclarations": [
                {"name": "get_weather", "description": "Weather",
                 "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": ["string", "null"]}},
                                          "additionalProperties": false}},
                {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {}}}
            ]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {
                "maxOutputTokens": 500, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"],
                "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
                "thinkingConfig": {"includeThoughts": true, "thinkingBudget": 1024}
            }
        })
    );
}

#[test]
fn tool_choice_modes() {
    let tools = json!([{"type": "function", "name": "f", "parameters": {"type": "object"}},
                       {"type": "function", "name": "g"}]);
    let choice = |choice: Value| {
        translate(
            "gemini-2.5-pro",
            json!({"input": "x", "tools": tools, "tool_choice": choice}),
        )["toolConfig"]
            .clone()
    };
    assert_eq!(choice(json!("auto")), Value::Null);
    assert_eq!(
        choice(json!("none")),
        json!({"functionCallingConfig": {"mode": "NONE"}})
    );
    assert_eq!(
        choice(json!({"type": "function", "name": "g"})),
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}})
    );
    // allowedFunctionNames only counts with ANY: in auto mode only the allowed functions are
    // offered.
    let allowed_auto = json!({"type": "allowed_tools", "mode": "auto",
        "tools": [{"type": "function", "name": "f"}]});
    assert_eq!(choice(allowed_auto.clone()), Value::Null);
    let offered = translate(
        "gemini-2.5-pro",
        json!({"input": "x", "tools": tools, "tool_choice": allowed_auto}),
    )["tools"][0]["functionDeclarations"]
        .clone();
    let names: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["f"]);
    let err = translate_err(
        "gemini-2.5-pro",
        json!({"input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "zz"}}),
    );
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
}

#[test]
fn reasoning_effort_per_model_family() {
    let thinking = |model: &str, effort: &str| {
        translate(
            model,
            json!({"input": "x", "reasoning": {"effort": effort}}),
        )["generationConfig"]["thinkingConfig"]
            .clone()
    };
    assert_eq!(
        thinking("gemini-3-pro-preview", "medium"),
        json!({"includeThoughts": true, "thinkingLevel": "HIGH"})
    );
    assert_eq!(
        thinking("gemini-3-flash-preview", "minimal"),
        json!({"includeThoughts": true, "thinkingLevel": "MINIMAL"})
    );
    assert_eq!(
        thinking("gemini-2.5-flash", "high"),
        json!({"includeThoughts": true, "thinkingBudget": 4096})
    );
    assert_eq!(
        thinking("gemini-2.5-flash", "none"),
        json!({"thinkingBudget": 0})
    );
    assert_eq!(
        thinking("gemini-2.5-pro", "none"),
        json!({"thinkingBudget": 128})
    );
    let err = translate_err(
        "gemini-2.0-flash",
        json!({"input": "x", "reasoning": {"effort": "high"}}),
    );
    assert_eq!(err.code.as_deref(), Some("unsupported_parameter"));
    let err = translate_err(
        "gemini-2.5-flash",
        json!({"input": "x", "reasoning": {"effort": "extreme"}}),
    );
    assert_eq!(err.param.as_deref(), Some("reasoning.effort"));
}

#[test]
fn json_object_urls_and_files() {
    let out = translate(
        "gemini-2.5-flash",
        json!({"input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://example.com/a.png?x=1"},
            {"type": "input_file", "file_url": "https://example.com/report.pdf"},
            {"type": "input_file", "filename": "notes.txt", "file_data": "aGVsbG8="}
        ]}], "text": {"format": {"type": "json_object"}}}),
    );
    assert_eq!(
        out["contents"][0]["parts"],
        json!([
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a.png?x=1"}},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/report.pdf"}},
            {"inlineData": {"mimeType": "text/plain", "data": "aGVsbG8="}}
        ])
    );
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let err = translate_err(
        "gemini-2.5-flash",
        json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]}),
    );
    assert_eq!(err.code.as_deref(), Some("unsupported_parameter"));
}

#[test]
fn tool_output_without_its_call_is_a_clear_400() {
    let err = translate_err(
        "gemini-2.5-flash",
        json!({"input": [{"type": "function_call_output", "call_id": "call_X", "output": "1"}]}),
    );
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert_eq!(err.param.as_deref(), Some("input[0].call_id"));
    assert!(err.message.contains("call_X"), "{}", err.message);
}

#[test]
fn gemini3_history_without_signatures_uses_the_documented_escape() {
    let request = json!({"input": [
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_2", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a"},
        {"type": "function_call_output", "call_id": "call_2", "output": "b"}
    ]});
    let out = translate("gemini-3-pro-preview", request.clone());
    let parts = &out["contents"][1]["parts"];
    assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE);
    assert_eq!(parts[1].get("thoughtSignature"), None);
    let out = translate("gemini-2.5-flash", request);
    assert_eq!(out["contents"][1]["parts"][0].get("thoughtSignature"), None);
}

#[test]
fn unsupported_parameters_are_named_or_dropped() {
    let request = json!({"input": "x", "top_logprobs": 3, "text": {"verbosity": "low"}});
    let err = translate_err("gemini-2.5-flash", request.clone());
    assert_eq!(err.param.as_deref(), Some("top_logprobs"));
    assert!(to_gemini(&req(request), &target("gemini-2.5-flash", true)).is_ok());
    let err = translate_err(
        "gemini-2.5-flash",
        json!({"input": "x", "previous_response_id": "resp_1"}),
    );
    assert_eq!(err.param.as_deref(), Some("previous_response_id"));
}

// ----- decoding ---------------------------------------------------------------------------

fn decode_with(
    request: Value,
    body: &[u8],
    cuts: &[usize],
    stream: bool,
) -> Result<Vec<ResponseStreamEvent>, crate::Error> {
    let request = req(request);
    let (_, tools) = to_gemini(&request, &target("gemini-3-pro-preview", true)).unwrap();
    let mut decoder = GeminiDecoder::new(
        "Gemini",
        tools,
        Vec::new(),
        request.includes("reasoning.encrypted_content"),
    );
    let mut builder = ResponseBuilder::new(
        envelope(&request, "resp_test".into(), "m".into(), 1),
        true,
        request.includes("reasoning.encrypted_content"),
    );
    builder.start();
    let mut items = Vec::new();
    let result = if stream {
        let mut last = 0;
        let mut result = Ok(());
        for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
            result = result.and_then(|()| decoder.chunk(&body[last..cut], &mut items));
            last = cut;
        }
        result.and_then(|()| decoder.end(&mut items))
    } else {
        decoder.body(body, &mut items)
    };
    builder.apply(&mut items)?;
    result?;
    builder.complete();
    Ok(builder.drain().collect())
}

fn final_response(events: &[ResponseStreamEvent]) -> Value {
    grammar::check_stream(events).unwrap();
    serde_json::to_value(events.last().unwrap().response().unwrap()).unwrap()
}

const INCLUDE: &str = "reasoning.encrypted_content";

/// Thoughts, then a function call with a signature, in CRLF-framed SSE (shape of the recorded
/// stream, with a thought summary in front).
fn tool_call_stream() -> String {
    [
        r#"{"candidates": [{"content": {"parts": [{"text": "Thinking about the ", "thought": true}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 29,"candidatesTokenCount": 0,"totalTokenCount": 129,"thoughtsTokenCount": 100},"modelVersion": "gemini-3-pro-preview","responseId": "QUVVadTSNJ6_qtsPvN7J8Q0"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": "country ✓", "thought": true}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 29,"candidatesTokenCount": 0,"totalTokenCount": 231,"thoughtsTokenCount": 202},"modelVersion": "gemini-3-pro-preview","responseId": "QUVVadTSNJ6_qtsPvN7J8Q0"}"#,
        r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_country","args": {}},"thoughtSignature": "EpwICpkIAXLI2nx"},{"functionCall": {"name": "get_time","args": {"tz": "UTC"}}}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 29,"candidatesTokenCount": 10,"totalTokenCount": 241,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 29}],"thoughtsTokenCount": 202},"modelVersion": "gemini-3-pro-preview","responseId": "QUVVadTSNJ6_qtsPvN7J8Q0"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 29,"candidatesTokenCount": 10,"totalTokenCount": 241,"cachedContentTokenCount": 8,"thoughtsTokenCount": 202},"modelVersion": "gemini-3-pro-preview","responseId": "QUVVadTSNJ6_qtsPvN7J8Q0"}"#,
    ]
    .iter()
    .map(|c| format!("data: {c}\r\n\r\n"))
    .collect()
}

#[test]
fn crlf_stream_split_at_every_byte_gives_the_same_response() {
    let body = tool_call_stream();
    let bytes = body.as_bytes();
    let request = json!({"input": "where?", "include": [INCLUDE]});
    let whole = final_response(&decode_with(request.clone(), bytes, &[], true).unwrap());
    for cut in 1..bytes.len() {
        let split = final_response(&decode_with(request.clone(), bytes, &[cut], true).unwrap());
        assert_eq!(split["output"], whole["output"], "cut at {cut}");
        assert_eq!(split["usage"], whole["usage"], "cut at {cut}");
    }
    // Odd-sized pieces throughout, including inside the multi-byte ✓.
    let cuts: Vec<usize> = (1..bytes.len()).step_by(7).collect();
    let pieces = final_response(&decode_with(request, bytes, &cuts, true).unwrap());
    assert_eq!(pieces["output"], whole["output"]);

    let output = whole["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(
        output[0]["summary"][0]["text"],
        "Thinking about the country ✓"
    );
    let blob: SignatureBlob =
        opaque::decode(BLOB_TAG, output[0]["encrypted_content"].as_str().unwrap()).unwrap();
    assert_eq!(blob.signature, "EpwICpkIAXLI2nx");
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["name"], "get_country");
    assert_eq!(output[1]["arguments"], "{}");
    assert_eq!(blob.call_id.as_deref(), output[1]["call_id"].as_str());
    assert_eq!(output[2]["name"], "get_time");
    assert_eq!(output[2]["arguments"], r#"{"tz":"UTC"}"#);
    let (a, b) = (
        output[1]["call_id"].as_str().unwrap(),
        output[2]["call_id"].as_str().unwrap(),
    );
    assert!(a.starts_with("call_") && b.starts_with("call_") && a != b);
    assert_eq!(whole["status"], "completed");
    assert_eq!(whole["model"], "gemini-3-pro-preview");
    assert_eq!(
        whole["usage"],
        json!({"input_tokens": 29, "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
               "output_tokens": 212, "output_tokens_details": {"reasoning_tokens": 202},
               "total_tokens": 241})
    );
    // The same stream decoded again mints the same ids (derived from the response id).
    let again = final_response(
        &decode_with(
            json!({"input": "x", "include": [INCLUDE]}),
            bytes,
            &[],
            true,
        )
        .unwrap(),
    );
    assert_eq!(again["output"][1]["call_id"], output[1]["call_id"]);
}

#[test]
fn lf_framing_and_signature_round_trip_into_the_next_request() {
    let body = tool_call_stream().replace("\r\n", "\n");
    let response = final_response(
        &decode_with(
            json!({"input": "where?", "include": [INCLUDE]}),
            body.as_bytes(),
            &[],
            true,
        )
        .unwrap(),
    );
    let output = response["output"].as_array().unwrap().clone();
    let mut input = vec![json!({"role": "user", "content": "where?"})];
    input.extend(output.iter().cloned());
    input.push(json!({"type": "function_call_output", "call_id": output[1]["call_id"], "output": "Mexico"}));
    input.push(
        json!({"type": "function_call_output", "call_id": output[2]["call_id"], "output": "noon"}),
    );
    let next = translate("gemini-3-pro-preview", json!({"input": input}));
    assert_eq!(
        next["contents"],
        json!([
            {"role": "user", "parts": [{"text": "where?"}]},
            {"role": "model", "parts": [
                {"thoughtSignature": "EpwICpkIAXLI2nx", "functionCall": {"name": "get_country", "args": {}}},
                {"functionCall": {"name": "get_time", "args": {"tz": "UTC"}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_country", "response": {"result": "Mexico"}}},
                {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}}
            ]}
        ])
    );
}

#[test]
fn signatures_are_left_out_unless_the_client_keeps_them() {
    let body = tool_call_stream();
    let response =
        final_response(&decode_with(json!({"input": "x"}), body.as_bytes(), &[], true).unwrap());
    let output = response["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[0].get("encrypted_content"), None);
    assert_eq!(output.len(), 3);
}

#[test]
fn json_body_text_with_trailing_signature_and_gemini_ids() {
    let body = json!({"candidates": [{"content": {"parts": [
            {"text": "Hello"}, {"functionCall": {"id": "fc-9", "name": "f", "args": {"a": 1}}},
            {"text": "", "thoughtSignature": "SIG"}], "role": "model"},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash", "responseId": "r1"});
    let events = decode_with(
        json!({"input": "x", "include": [INCLUDE]}),
        body.to_string().as_bytes(),
        &[],
        false,
    )
    .unwrap();
    let response = final_response(&events);
    let output = response["output"].as_array().unwrap();
    assert_eq!(output[0]["content"][0]["text"], "Hello");
    assert_eq!(output[1]["call_id"], "fc-9");
    assert_eq!(output[2]["type"], "reasoning");
    let blob: SignatureBlob =
        opaque::decode(BLOB_TAG, output[2]["encrypted_content"].as_str().unwrap()).unwrap();
    assert_eq!(
        blob,
        SignatureBlob {
            signature: "SIG".into(),
            call_id: None
        }
    );
    assert_eq!(response["usage"]["output_tokens"], 3);
}

#[test]
fn finish_reasons_and_blocked_prompts() {
    let finish = |reason: &str| {
        let body = json!({"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"},
            "finishReason": reason, "index": 0}]});
        decode_with(
            json!({"input": "x"}),
            body.to_string().as_bytes(),
            &[],
            false,
        )
    };
    let r = final_response(&finish("MAX_TOKENS").unwrap());
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
    for reason in [
        "SAFETY",
        "RECITATION",
        "PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
    ] {
        let r = final_response(&finish(reason).unwrap());
        assert_eq!(
            r["incomplete_details"]["reason"], "content_filter",
            "{reason}"
        );
    }
    let e = finish("MALFORMED_FUNCTION_CALL").unwrap_err();
    assert!(e.message.contains("MALFORMED_FUNCTION_CALL"));
    let blocked = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}});
    let r = final_response(
        &decode_with(
            json!({"input": "x"}),
            blocked.to_string().as_bytes(),
            &[],
            false,
        )
        .unwrap(),
    );
    assert_eq!(r["incomplete_details"]["reason"], "content_filter");
    assert_eq!(r["usage"]["input_tokens"], 7);
}

#[test]
fn vertex_usage_only_on_the_last_chunk_and_array_bodies() {
    let chunks = [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
               "usageMetadata": {"trafficType": "ON_DEMAND"}, "createTime": "2026-01-01T00:00:00Z", "responseId": "v1"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6, "trafficType": "ON_DEMAND"},
               "responseId": "v1"}),
    ];
    let sse: String = chunks
        .iter()
        .map(|c| format!("data: {c}\r\n\r\n"))
        .collect();
    let r =
        final_response(&decode_with(json!({"input": "x"}), sse.as_bytes(), &[3], true).unwrap());
    assert_eq!(r["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(r["usage"]["input_tokens"], 4);
    assert_eq!(r["usage"]["output_tokens"], 2);
    // Without alt=sse a stream is a JSON array.
    let array = format!("[{}\n,\r\n{}]", chunks[0], chunks[1]);
    let r =
        final_response(&decode_with(json!({"input": "x"}), array.as_bytes(), &[], false).unwrap());
    assert_eq!(r["output"][0]["content"][0]["text"], "Hello");
}

#[test]
fn truncated_streams_and_in_band_errors_fail() {
    let body = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}], \"role\": \"model\"}}]}\r\n\r\n";
    let e = decode_with(json!({"input": "x"}), body.as_bytes(), &[], true).unwrap_err();
    assert!(e.message.contains("before the answer was complete"));
    let body = format!(
        "{body}data: {{\"error\": {{\"code\": 503, \"message\": \"The model is overloaded. Please try again later.\", \"status\": \"UNAVAILABLE\"}}}}\r\n\r\n"
    );
    let e = decode_with(json!({"input": "x"}), body.as_bytes(), &[], true).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Overloaded);
}

// ----- input token counts ------------------------------------------------------------------

fn counted(
    endpoint: super::GeminiEndpoint,
    auth: super::GeminiAuth,
) -> crate::providers::CountCall {
    use crate::providers::{CallInfo, InputTokens, Provider, ProviderOptions};
    let provider = super::GeminiProvider::new(
        endpoint,
        "gemini-2.5-flash",
        auth,
        ProviderOptions::default(),
    );
    let request = req(
        json!({"model": "g", "instructions": "Be brief.", "input": "Weather?",
        "max_output_tokens": 100, "temperature": 0.3, "reasoning": {"effort": "low"},
        "tools": [{"type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": "required"}),
    );
    match provider
        .count_input_tokens(&request, CallInfo::new(false))
        .unwrap()
    {
        InputTokens::Upstream(counter) => *counter,
        InputTokens::Estimate(_) => panic!("Gemini counts upstream"),
    }
}

fn prompt_fields() -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": "Weather?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"functionDeclarations": [{"name": "get_weather",
            "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]}]
    })
}

#[test]
fn gemini_api_counts_a_whole_generate_content_request() {
    let (generate_url, stream_url) = super::method_urls(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash",
    )
    .unwrap();
    let endpoint = super::GeminiEndpoint {
        name: "gemini",
        label: "Gemini",
        api_base: "https://generativelanguage.googleapis.com".into(),
        generate_url,
        stream_url,
    };
    let counter = counted(
        endpoint,
        super::GeminiAuth::ApiKey(crate::secret::Secret::new("AIza-test")),
    );
    assert_eq!(
        counter.request.url.as_str(),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens"
    );
    let mut inner = prompt_fields();
    inner["model"] = json!("models/gemini-2.5-flash");
    let body: Value = serde_json::from_slice(&counter.request.body).unwrap();
    assert_eq!(body, json!({"generateContentRequest": inner}));
    assert_eq!(counter.request.headers["x-goog-api-key"], "AIza-test");
    assert!(counter.request.headers.get("accept").is_none());
    assert_eq!(
        (counter.read)(br#"{"totalTokens": 31, "promptTokensDetails": []}"#),
        Some(31)
    );
}

#[test]
fn vertex_counts_the_prompt_fields_at_the_top_level() {
    let url = |method: &str| {
        crate::providers::vertex::publisher_url(
            "https://us-central1-aiplatform.googleapis.com",
            "p",
            "us-central1",
            "google",
            "gemini-2.5-flash",
            method,
        )
        .unwrap()
    };
    let endpoint = super::GeminiEndpoint {
        name: "vertex_ai",
        label: "Vertex AI",
        api_base: "https://us-central1-aiplatform.googleapis.com".into(),
        generate_url: url("generateContent"),
        stream_url: url("streamGenerateContent?alt=sse"),
    };
    let counter = counted(endpoint, super::GeminiAuth::None);
    assert_eq!(
        counter.request.url.as_str(),
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens"
    );
    let body: Value = serde_json::from_slice(&counter.request.body).unwrap();
    assert_eq!(body, prompt_fields());
}
