//! Golden tests of the Chat Completions bridge, both ways. Expected bodies are written out by
//! hand from the vendors' documented formats.

use serde_json::{Value, json};
use switchyard_types::responses::{CreateResponse, Item, ResponseStreamEvent};

use super::flavor::{ToolIdRule, flavor};
use super::request::{ChatTarget, chat_call_id, to_chat};
use super::response::ChatDecoder;
use crate::error::ErrorKind;
use crate::providers::Decoder;
use crate::stream::{ResponseBuilder, envelope, grammar};

fn req(value: Value) -> CreateResponse {
    serde_json::from_value(value).unwrap()
}

fn target(name: &str, stream: bool, drop_params: bool) -> ChatTarget<'static> {
    let flavor = flavor(name).unwrap();
    ChatTarget {
        flavor,
        model: "m",
        drop_params,
        stream,
        replay_reasoning: flavor.replay_reasoning,
    }
}

fn translate(name: &str, request: Value) -> Value {
    let (chat, _) = to_chat(&req(request), &target(name, true, false)).unwrap();
    serde_json::to_value(chat).unwrap()
}

/// A conversation exercising every item type the bridge maps.
fn conversation() -> Value {
    json!({
        "model": "group",
        "instructions": "Be terse.",
        "input": [
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "What is in this image, and the weather?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "low"}
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need weather."}],
             "encrypted_content": null, "content": null},
            {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
             "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_AAA", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
            {"type": "function_call", "call_id": "call_BBB", "name": "spawn_agent",
             "namespace": "multi_agent_v1", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_AAA", "output": "21C"},
            {"type": "function_call_output", "call_id": "call_BBB",
             "output": [{"type": "input_text", "text": "agent"}, {"type": "input_text", "text": "started"}]},
            {"type": "custom_tool_call", "call_id": "call_CCC", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "call_CCC", "output": "ok"}
        ],
        "tools": [
            {"type": "function", "name": "get_weather", "description": "Weather",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true},
            {"type": "custom", "name": "apply_patch", "description": "Patch files",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "Agents",
             "tools": [{"type": "function", "name": "spawn_agent", "parameters": null}]},
            {"type": "web_search", "external_web_access": true}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
        "reasoning": {"effort": "low", "summary": "auto"},
        "max_output_tokens": 500,
        "temperature": 0.3,
        "top_p": 0.9,
        "user": "end-user-1",
        "store": true,
        "metadata": {"k": "v"},
        "prompt_cache_key": "pck",
        "include": ["reasoning.encrypted_content"],
        "client_metadata": {"ignored": true},
        "seed": 7
    })
}

#[test]
fn openai_golden_request() {
    let out = translate("openai", conversation());
    assert_eq!(
        out,
        json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "developer", "content": "Use metric units."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image, and the weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR", "detail": "low"}}
                ]},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "call_AAA", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_BBB", "type": "function", "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{}"}}
                ]},
                {"role": "tool", "content": "21C", "tool_call_id": "call_AAA"},
                {"role": "tool", "content": "agent\nstarted", "tool_call_id": "call_BBB"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_CCC", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\"}"}}
                ]},
                {"role": "tool", "content": "ok", "tool_call_id": "call_CCC"}
            ],
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}},
                {"type": "function", "function": {"name": "apply_patch",
                 "description": "Patch files\n\nThe `input` must follow this lark grammar:\nstart: x",
                 "parameters": {"type": "object", "properties": {"input": {"type": "string", "description": "The tool input."}},
                                "required": ["input"], "additionalProperties": false}}},
                {"type": "function", "function": {"name": "multi_agent_v1__spawn_agent",
                 "parameters": {"type": "object", "properties": {}}}}
            ],
            "parallel_tool_calls": false,
            "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}},
            "reasoning_effort": "low",
            "max_completion_tokens": 500,
            "temperature": 0.3,
            "top_p": 0.9,
            "user": "end-user-1",
            "metadata": {"k": "v"},
            "store": true,
            "prompt_cache_key": "pck",
            "stream": true,
            "stream_options": {"include_usage": true},
            "seed": 7
        })
    );
}

#[test]
fn mistral_golden_request() {
    let mut request = conversation();
    request["reasoning"] = Value::Null;
    request["user"] = Value::Null;
    let out = translate("mistral", request);
    // No stream_options, no user/metadata/store, max_tokens, developer as system, seed as
    // random_seed, and every tool call id rewritten to nine alphanumerics, consistently.
    for key in [
        "stream_options",
        "user",
        "metadata",
        "store",
        "max_completion_tokens",
        "seed",
    ] {
        assert!(
            out.get(key).is_none(),
            "{key} must not reach Mistral: {out}"
        );
    }
    assert_eq!(out["max_tokens"], 500);
    assert_eq!(out["random_seed"], 7);
    assert_eq!(out["prompt_cache_key"], "pck");
    assert_eq!(out["messages"][1]["role"], "system");
    let call_id = out["messages"][3]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(call_id.len(), 9);
    assert!(call_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(out["messages"][4]["tool_call_id"], call_id);
    assert_eq!(call_id, chat_call_id("call_AAA", ToolIdRule::Alnum9));
}

#[test]
fn deepseek_replays_reasoning_and_refuses_json_schema() {
    let mut request = conversation();
    request["text"] = Value::Null;
    let out = translate("deepseek", request);
    assert_eq!(out["messages"][3]["reasoning_content"], "Need weather.");
    assert_eq!(out["max_tokens"], 500);

    let err = to_chat(&req(conversation()), &target("deepseek", false, false)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert_eq!(err.param.as_deref(), Some("text.format"));
    assert!(err.message.contains("drop_params"), "{}", err.message);

    let (chat, _) = to_chat(&req(conversation()), &target("deepseek", false, true)).unwrap();
    assert_eq!(
        serde_json::to_value(chat).unwrap()["response_format"],
        json!({"type": "json_object"})
    );
}

#[test]
fn ollama_maps_effort_and_refuses_forced_tools() {
    let mut request = conversation();
    request["reasoning"] = json!({"effort": "minimal"});
    request["text"] = Value::Null;
    let out = translate("ollama_chat", request.clone());
    assert_eq!(out["reasoning_effort"], "low");
    assert!(out.get("parallel_tool_calls").is_none());

    request["tool_choice"] = json!("required");
    let err = to_chat(&req(request.clone()), &target("ollama_chat", true, false)).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
    assert!(to_chat(&req(request), &target("ollama_chat", true, true)).is_ok());
}

#[test]
fn continuation_state_is_always_refused() {
    for (field, value) in [
        ("previous_response_id", json!("resp_1")),
        ("conversation", json!("conv_1")),
        ("background", json!(true)),
    ] {
        let mut request = json!({"model": "m", "input": "hi"});
        request[field] = value;
        for drop_params in [false, true] {
            let err =
                to_chat(&req(request.clone()), &target("openai", false, drop_params)).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(field), "{field}");
        }
    }
    let request = json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]});
    let err = to_chat(&req(request), &target("openai", false, true)).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("input[0]"));
}

#[test]
fn forcing_a_hosted_tool_is_refused_but_offering_one_is_not() {
    let offered = json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]});
    let out = translate("openai", offered);
    assert!(out.get("tools").is_none());
    let forced = json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}],
        "tool_choice": {"type": "web_search_preview"}});
    let err = to_chat(&req(forced), &target("openai", false, false)).unwrap_err();
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
}

#[test]
fn allowed_tools_filter_the_tool_list() {
    let out = translate(
        "openai",
        json!({"model": "m", "input": "hi", "tools": [
            {"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
            "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "b"}]}}),
    );
    assert_eq!(out["tools"].as_array().unwrap().len(), 1);
    assert_eq!(out["tools"][0]["function"]["name"], "b");
    assert_eq!(out["tool_choice"], "required");
}

#[test]
fn named_tool_choice_must_name_an_offered_tool() {
    let err = to_chat(
        &req(
            json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "a"}],
            "tool_choice": {"type": "function", "name": "zzz"}}),
        ),
        &target("openai", false, false),
    )
    .unwrap_err();
    assert_eq!(err.param.as_deref(), Some("tool_choice"));
    let out = translate(
        "openai",
        json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "a"}],
            "tool_choice": {"type": "function", "name": "a"}}),
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "function", "function": {"name": "a"}})
    );
}

#[test]
fn fireworks_model_prefix() {
    let t = ChatTarget {
        model: "llama-v3p1-8b",
        ..target("fireworks_ai", false, false)
    };
    let (chat, _) = to_chat(&req(json!({"model": "g", "input": "hi"})), &t).unwrap();
    assert_eq!(chat.model, "accounts/fireworks/models/llama-v3p1-8b");
}

// ----- decoding ---------------------------------------------------------------------------

/// Decodes `body` (split at `cuts`) and builds the Responses stream.
fn decode(
    name: &str,
    request: Value,
    body: &str,
    cuts: &[usize],
) -> Result<Vec<ResponseStreamEvent>, crate::Error> {
    let request = req(request);
    let (_, tools) = to_chat(&request, &target(name, true, true)).unwrap();
    let mut decoder = ChatDecoder::new(flavor(name).unwrap(), tools, Vec::new());
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
    match result {
        Ok(()) => builder.complete(),
        Err(e) => return Err(e),
    }
    Ok(builder.drain().collect())
}

fn final_response(events: &[ResponseStreamEvent]) -> Value {
    grammar::check_stream(events).unwrap();
    serde_json::to_value(events.last().unwrap().response().unwrap()).unwrap()
}

/// The recorded gpt-4o stream with two parallel tool calls and a trailing usage chunk
/// (as OpenAI documents the stream).
const OPENAI_PARALLEL_TOOLS: &str = concat!(
    "data: {\"id\":\"chatcmpl-C1\",\"object\":\"chat.completion.chunk\",\"created\":1754432618,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_ff25b2783a\",\"usage\":null,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null},\"logprobs\":null,\"finish_reason\":null}],\"obfuscation\":\"jP9abrn9XF3\"}\n\n",
    "data: {\"id\":\"chatcmpl-C1\",\"object\":\"chat.completion.chunk\",\"created\":1754432618,\"model\":\"gpt-4o-2024-08-06\",\"usage\":null,\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_3rqTYrA6H21AYUaRGP4F66oq\",\"type\":\"function\",\"function\":{\"name\":\"get_country\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"obfuscation\":\"8RXlE4Z5NT\"}\n\n",
    "data: {\"id\":\"chatcmpl-C1\",\"object\":\"chat.completion.chunk\",\"created\":1754432618,\"model\":\"gpt-4o-2024-08-06\",\"usage\":null,\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"obfuscation\":\"CNtv\"}\n\n",
    "data: {\"id\":\"chatcmpl-C1\",\"object\":\"chat.completion.chunk\",\"created\":1754432618,\"model\":\"gpt-4o-2024-08-06\",\"usage\":null,\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_Xw9XMKBJU48kAAd78WgIswDx\",\"type\":\"function\",\"function\":{\"name\":\"get_product_name\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"obfuscation\":\"TomlO\"}\n\n",
    "data: {\"id\":\"chatcmpl-C1\",\"object\":\"chat.completion.chunk\",\"created\":1754432618,\"model\":\"gpt-4o-2024-08-06\",\"usage\":null,\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"obfuscation\":\"4Gko\"}\n\n",
    "data: {\"id\":\"chatcmpl-C1\",\"object\":\"chat.completion.chunk\",\"created\":1754432618,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null,\"obfuscation\":\"GtnJ\"}\n\n",
    "data: {\"id\":\"chatcmpl-C1\",\"object\":\"chat.completion.chunk\",\"created\":1754432618,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":364,\"completion_tokens\":40,\"total_tokens\":404,\"prompt_tokens_details\":{\"cached_tokens\":128,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},\"obfuscation\":\"Ohcj4NkgRRFLL\"}\n\n",
    "data: [DONE]\n\n"
);

#[test]
fn recorded_parallel_tool_call_stream() {
    let events = decode(
        "openai",
        json!({"model": "m", "input": "hi"}),
        OPENAI_PARALLEL_TOOLS,
        &[],
    )
    .unwrap();
    let response = final_response(&events);
    assert_eq!(response["model"], "gpt-4o-2024-08-06");
    assert_eq!(response["status"], "completed");
    let output = response["output"].as_array().unwrap();
    assert_eq!(output.len(), 2);
    assert_eq!(output[0]["type"], "function_call");
    assert_eq!(output[0]["call_id"], "call_3rqTYrA6H21AYUaRGP4F66oq");
    assert_eq!(output[0]["name"], "get_country");
    assert_eq!(output[0]["arguments"], "{}");
    assert_eq!(output[1]["call_id"], "call_Xw9XMKBJU48kAAd78WgIswDx");
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 364, "input_tokens_details": {"cached_tokens": 128, "cache_write_tokens": 0},
               "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 404})
    );
}

#[test]
fn chunk_boundaries_do_not_matter() {
    let whole = final_response(
        &decode(
            "openai",
            json!({"model": "m", "input": "hi"}),
            OPENAI_PARALLEL_TOOLS,
            &[],
        )
        .unwrap(),
    );
    let len = OPENAI_PARALLEL_TOOLS.len();
    for step in [1, 7, 64, 333] {
        let cuts: Vec<usize> = (step..len).step_by(step).collect();
        let split = final_response(
            &decode(
                "openai",
                json!({"model": "m", "input": "hi"}),
                OPENAI_PARALLEL_TOOLS,
                &cuts,
            )
            .unwrap(),
        );
        let mut a = whole.clone();
        let mut b = split;
        a["completed_at"] = Value::Null;
        b["completed_at"] = Value::Null;
        assert_eq!(a, b, "step {step}");
    }
}

#[test]
fn reasoning_and_text_in_one_chunk_both_survive() {
    let body = concat!(
        "data: {\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Think.\",\"content\":\"Answer.\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15,\"prompt_cache_hit_tokens\":8,\"completion_tokens_details\":{\"reasoning_tokens\":2}}}\n\n",
        "data: [DONE]\n\n"
    );
    let response = final_response(
        &decode("deepseek", json!({"model": "m", "input": "hi"}), body, &[]).unwrap(),
    );
    assert_eq!(response["output"][0]["type"], "reasoning");
    assert_eq!(response["output"][0]["summary"][0]["text"], "Think.");
    assert_eq!(response["output"][1]["content"][0]["text"], "Answer.");
    // DeepSeek: usage on the finish chunk, cache hits in prompt_cache_hit_tokens.
    assert_eq!(
        response["usage"]["input_tokens_details"]["cached_tokens"],
        8
    );
    assert_eq!(
        response["usage"]["output_tokens_details"]["reasoning_tokens"],
        2
    );
}

#[test]
fn xai_reasoning_tokens_are_added_to_output() {
    // Recorded: prompt 291 + completion 26 + reasoning 196 = total 513.
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":291,\"completion_tokens\":26,\"total_tokens\":513,\"completion_tokens_details\":{\"reasoning_tokens\":196}}}\n\ndata: [DONE]\n\n";
    let response =
        final_response(&decode("xai", json!({"model": "m", "input": "hi"}), body, &[]).unwrap());
    assert_eq!(response["usage"]["output_tokens"], 222);
    assert_eq!(response["usage"]["total_tokens"], 513);
}

#[test]
fn mistral_whole_calls_without_index_and_thinking_arrays() {
    let body = concat!(
        "data: {\"model\":\"magistral-medium\",\"choices\":[{\"index\":0,\"delta\":{\"content\":[{\"type\":\"thinking\",\"thinking\":[{\"type\":\"text\",\"text\":\"hmm\"}]},{\"type\":\"text\",\"text\":\"Calling.\"}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"abcDEF123\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":1}\"}},{\"id\":\"ghiJKL456\",\"function\":{\"name\":\"b\",\"arguments\":{\"y\":2}}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n\n",
        "data: [DONE]\n\n"
    );
    let response = final_response(
        &decode("mistral", json!({"model": "m", "input": "hi"}), body, &[]).unwrap(),
    );
    let kinds: Vec<&str> = response["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["reasoning", "message", "function_call", "function_call"]
    );
    assert_eq!(response["output"][2]["call_id"], "abcDEF123");
    assert_eq!(response["output"][3]["arguments"], "{\"y\":2}");
}

#[test]
fn custom_and_namespaced_calls_map_back() {
    let request = json!({"model": "m", "input": "hi", "tools": [
        {"type": "custom", "name": "apply_patch"},
        {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]}]});
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"apply_patch\",\"arguments\":\"{\\\"inp\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ut\\\":\\\"*** Begin\\\\n\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"function\":{\"name\":\"ns__f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let events = decode("openai", request, body, &[]).unwrap();
    let response = final_response(&events);
    assert_eq!(
        response["output"][0],
        json!({"type": "custom_tool_call", "id": "ctc_test00000000", "status": "completed",
               "call_id": "call_1", "name": "apply_patch", "input": "*** Begin\n"})
    );
    assert_eq!(response["output"][1]["name"], "f");
    assert_eq!(response["output"][1]["namespace"], "ns");
    assert!(
        events
            .iter()
            .any(|e| e.kind() == "response.custom_tool_call_input.delta")
    );
}

#[test]
fn stream_edge_cases() {
    let request = json!({"model": "m", "input": "hi"});
    // Azure's first chunk: empty choices and model; then text; no [DONE] after a finish.
    let azure = "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Capital\"},\"finish_reason\":\"stop\"}],\"model\":\"gpt-5-nano\"}\n\n";
    let response = final_response(&decode("openai", request.clone(), azure, &[]).unwrap());
    assert_eq!(response["model"], "gpt-5-nano");
    assert_eq!(response["output"][0]["content"][0]["text"], "Capital");

    // OpenRouter comments and an in-band error after partial output.
    let openrouter = ": OPENROUTER PROCESSING\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"length\"}]}\n\ndata: {\"error\":{\"code\":400,\"message\":\"Token limit reached\"},\"choices\":[]}\n\ndata: [DONE]\n\n";
    let err = decode("openrouter", request.clone(), openrouter, &[]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert_eq!(err.message, "Token limit reached");

    // Groq's `event: error`.
    let groq = "event: error\ndata: {\"error\":{\"message\":\"tool call validation failed\",\"type\":\"invalid_request_error\",\"code\":\"tool_use_failed\",\"status_code\":400}}\n\n";
    assert_eq!(
        decode("groq", request.clone(), groq, &[]).unwrap_err().kind,
        ErrorKind::InvalidRequest
    );

    // Truncated: no finish reason, no [DONE].
    let truncated = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n";
    assert_eq!(
        decode("openai", request.clone(), truncated, &[])
            .unwrap_err()
            .kind,
        ErrorKind::Upstream
    );

    // Length limit → incomplete.
    let length = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cut\"},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n";
    let response = final_response(&decode("openai", request, length, &[]).unwrap());
    assert_eq!(response["status"], "incomplete");
    assert_eq!(
        response["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[test]
fn non_streamed_completion() {
    let request = req(json!({"model": "m", "input": "hi"}));
    let (_, tools) = to_chat(&request, &target("openai", false, false)).unwrap();
    let mut decoder = ChatDecoder::new(flavor("openai").unwrap(), tools, Vec::new());
    let mut items = Vec::new();
    decoder
        .body(
            br#"{"id":"chatcmpl-D8","object":"chat.completion","model":"gpt-4.1-nano-2025-04-14",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null,
            "tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
            "finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":16,"completion_tokens":363,"total_tokens":379,
            "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#,
            &mut items,
        )
        .unwrap();
    let mut builder = ResponseBuilder::new(
        envelope(&request, "resp_x".into(), "m".into(), 1),
        false,
        false,
    );
    assert!(builder.apply(&mut items).unwrap());
    builder.complete();
    let response = builder.response();
    assert_eq!(response.model, "gpt-4.1-nano-2025-04-14");
    assert!(matches!(&response.output[0], Item::Message(_)));
    assert!(matches!(&response.output[1], Item::FunctionCall(c) if c.arguments == "{\"a\":1}"));
    assert_eq!(response.usage.as_ref().unwrap().total_tokens, 379);
}

#[test]
fn interleaved_tool_arguments_are_an_upstream_error() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c0\",\"function\":{\"name\":\"a\",\"arguments\":\"{\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"c1\",\"function\":{\"name\":\"b\",\"arguments\":\"{\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"}\"}}]}}]}\n\n",
    );
    let err = decode("openai", json!({"model": "m", "input": "hi"}), body, &[]).unwrap_err();
    assert!(err.message.contains("interleaved"));
}

#[test]
fn openrouter_costs_include_the_providers_charge_under_byok() {
    use super::response::reported_cost;
    let usage = |v: Value| serde_json::from_value::<switchyard_types::chat::ChatUsage>(v).unwrap();
    assert_eq!(reported_cost(&usage(json!({"cost": 0.002}))), Some(0.002));
    assert_eq!(
        reported_cost(&usage(json!({"cost": 0.0001, "is_byok": true,
            "cost_details": {"upstream_inference_cost": 0.0019}}))),
        Some(0.0001 + 0.0019)
    );
    // BYOK without the provider's charge: unknown, so the usage is priced here instead.
    assert_eq!(
        reported_cost(&usage(json!({"cost": 0.0001, "is_byok": true,
            "cost_details": {"upstream_inference_cost": null}}))),
        None
    );
    assert_eq!(reported_cost(&usage(json!({"cost": -1.0}))), None);
    assert_eq!(reported_cost(&usage(json!({"prompt_tokens": 3}))), None);
}

// ----- input token counts ------------------------------------------------------------------

fn provider(name: &str, api_base: &str) -> super::ChatProvider {
    super::ChatProvider::new(
        flavor(name).unwrap(),
        "mock-llama",
        api_base.to_string(),
        Some(crate::secret::Secret::new("k-test")),
        None,
        None,
        crate::providers::ProviderOptions::default(),
    )
    .unwrap()
}

#[test]
fn vllm_counts_with_its_tokenizer() {
    use crate::providers::{CallInfo, InputTokens, Provider};
    let request = req(
        json!({"model": "g", "instructions": "Be brief.", "input": "hello there",
        "max_output_tokens": 10, "stream": true,
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}),
    );
    let counted = provider("hosted_vllm", "http://vllm:8000/v1")
        .count_input_tokens(&request, CallInfo::new(false))
        .unwrap();
    let InputTokens::Upstream(counter) = counted else {
        panic!("vLLM has /tokenize")
    };
    assert_eq!(counter.request.url.as_str(), "http://vllm:8000/tokenize");
    let body: Value = serde_json::from_slice(&counter.request.body).unwrap();
    assert_eq!(
        body,
        json!({"model": "mock-llama",
            "messages": [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hello there"}],
            "tools": [{"type": "function", "function": {"name": "f",
                "parameters": {"type": "object"}}}],
            "add_generation_prompt": true})
    );
    assert_eq!(counter.request.headers["authorization"], "Bearer k-test");
    assert_eq!(
        (counter.read)(br#"{"count": 7, "max_model_len": 8192, "tokens": [1,2,3,4,5,6,7]}"#),
        Some(7)
    );
}

#[test]
fn other_servers_are_estimated_over_their_own_translation() {
    use crate::providers::{CallInfo, InputTokens, Provider};
    let request = req(json!({"model": "g", "instructions": "Be brief.", "input": "hello there"}));
    let counted = provider("mistral", "https://api.mistral.ai/v1")
        .count_input_tokens(&request, CallInfo::new(false))
        .unwrap();
    let InputTokens::Estimate(chat) = counted else {
        panic!("Mistral has no counter")
    };
    assert_eq!(chat.model, "mock-llama");
    assert_eq!(chat.messages.len(), 2);
    assert_eq!(chat.stream, None);
    assert_eq!(super::count::estimate(&chat), 3 + 1 + 3 + 3 + 1 + 2 + 3);
}

/// Chunks as compatible servers write them, read in place: escaped text, nulls wherever a
/// field may be null, content of an unexpected shape (ignored), unknown fields (skipped), a
/// chunk without choices, and text that is not valid JSON text (an error, not a panic).
#[test]
fn streamed_chunks_with_nulls_escapes_and_odd_content() {
    let body = concat!(
        "data: {\"id\":null,\"model\":null,\"choices\":null}\n\n",
        "data: {\"id\":7,\"model\":\"m-1\",\"choices\":[{\"index\":0,\"delta\":null}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"say \\\"hi\\\"\\n\\u00e9\",\"refusal\":null,\"reasoning\":null,\"tool_calls\":null},\"finish_reason\":null,\"logprobs\":null}],\"system_fingerprint\":\"fp\"}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":7}},{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":{\"text\":\"an object\"}},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let response =
        final_response(&decode("openai", json!({"model": "m", "input": "hi"}), body, &[]).unwrap());
    assert_eq!(response["model"], "m-1");
    assert_eq!(response["output"].as_array().unwrap().len(), 1);
    assert_eq!(response["output"][0]["content"][0]["text"], "say \"hi\"\né");
    assert_eq!(response["status"], "completed");

    let broken = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\ud800\"}}]}\n\n";
    let error = decode("openai", json!({"model": "m", "input": "hi"}), broken, &[]).unwrap_err();
    assert!(
        error.to_string().contains("malformed stream chunk"),
        "{error}"
    );
}
