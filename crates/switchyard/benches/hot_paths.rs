//! Per-request costs on the gateway's hot paths, without network: decoding upstream streams,
//! building Responses events, translating requests. `cargo bench -p switchyard`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use switchyard::providers::Decoder;
use switchyard::providers::openai_chat::flavor;
use switchyard::providers::openai_chat::request::{ChatTarget, to_chat};
use switchyard::providers::openai_chat::response::ChatDecoder;
use switchyard::providers::openai_responses::ResponsesDecoder;
use switchyard::sse::SseDecoder;
use switchyard::stream::{ResponseBuilder, envelope};
use switchyard::types::responses::{CreateResponse, Response};

/// A chat stream of `n` text deltas with a usage chunk, as OpenAI frames it.
fn chat_stream(n: usize) -> String {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"finish_reason\":null}}],\"obfuscation\":\"abcdef\"}}\n\n"
        ));
    }
    body.push_str(
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    );
    body.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":200,\"total_tokens\":210}}\n\ndata: [DONE]\n\n");
    body
}

/// A native Responses stream of `n` text deltas.
fn responses_stream(n: usize) -> String {
    let response = json!({"id": "resp_1", "object": "response", "status": "in_progress", "output": [], "model": "gpt-5"});
    let mut events = vec![
        json!({"type": "response.created", "sequence_number": 0, "response": response}),
        json!({"type": "response.in_progress", "sequence_number": 1, "response": response}),
        json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
               "item": {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_1", "output_index": 0,
               "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}),
    ];
    let mut text = String::new();
    for i in 0..n {
        let delta = format!("word{i} ");
        text.push_str(&delta);
        events.push(json!({"type": "response.output_text.delta", "sequence_number": 4 + i, "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": delta, "logprobs": [], "obfuscation": "abcdef"}));
    }
    let item = json!({"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]});
    events.push(json!({"type": "response.output_item.done", "sequence_number": 4 + n, "output_index": 0, "item": item}));
    events.push(json!({"type": "response.completed", "sequence_number": 5 + n, "response": {"id": "resp_1",
        "status": "completed", "output": [item], "usage": {"input_tokens": 10, "output_tokens": n, "total_tokens": 10 + n}}}));
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
        .collect()
}

/// Feeds `body` to `decoder` in 512-byte reads through a builder; returns the bytes of the
/// serialized events, as the proxy would write them.
fn decode_and_build(decoder: &mut dyn Decoder, body: &str, start: bool) -> usize {
    let request: CreateResponse =
        serde_json::from_value(json!({"model": "m", "input": "hi"})).unwrap_or_default();
    let mut builder = ResponseBuilder::new(
        envelope(&request, "resp_bench".into(), "m".into(), 0),
        true,
        false,
    );
    if start {
        builder.start();
    }
    let mut items = Vec::new();
    let mut bytes = 0;
    for piece in body.as_bytes().chunks(512) {
        let _ = decoder.chunk(piece, &mut items);
        let _ = builder.apply(&mut items);
        bytes += builder
            .drain()
            .map(|e| serde_json::to_vec(&e).map_or(0, |v| v.len()))
            .sum::<usize>();
    }
    let _ = decoder.end(&mut items);
    let _ = builder.apply(&mut items);
    builder.complete();
    bytes + builder.drain().count()
}

/// A request the size of a Codex turn: long instructions, history with tool calls, many tools.
fn codex_sized_request() -> CreateResponse {
    let mut input = vec![json!({"role": "developer", "content": "x".repeat(17_000)})];
    for i in 0..15 {
        input.push(json!({"role": "user", "content": format!("step {i}: please run the tests")}));
        input.push(
            json!({"type": "function_call", "call_id": format!("call_{i}"), "name": "exec_command",
            "arguments": "{\"cmd\":\"cargo test\"}"}),
        );
        input.push(json!({"type": "function_call_output", "call_id": format!("call_{i}"), "output": "ok ".repeat(200)}));
    }
    let tools: Vec<_> = (0..9)
        .map(|i| json!({"type": "function", "name": format!("tool_{i}"), "description": "does things",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}))
        .collect();
    serde_json::from_value(json!({"model": "m", "input": input, "tools": tools, "stream": true,
        "reasoning": {"summary": "auto"}, "include": ["reasoning.encrypted_content"], "store": false}))
    .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let openai = flavor("openai").unwrap_or(&switchyard::providers::openai_chat::FLAVORS[0]);

    let chat = chat_stream(200);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(chat.len() as u64));
    group.bench_function("sse_frames_200_deltas", |b| {
        b.iter(|| {
            let mut decoder = SseDecoder::new();
            let mut n = 0;
            decoder.feed(black_box(chat.as_bytes()), |_| n += 1);
            n
        })
    });
    group.bench_function("chat_stream_to_responses_events_200_deltas", |b| {
        b.iter(|| {
            let mut decoder = ChatDecoder::new(openai, Default::default(), Vec::new());
            decode_and_build(&mut decoder, &chat, true)
        })
    });
    let native = responses_stream(200);
    group.bench_function("responses_relay_200_deltas", |b| {
        b.iter(|| {
            let mut decoder = ResponsesDecoder::new("openai".into());
            decode_and_build(&mut decoder, &native, false)
        })
    });
    group.finish();

    let big = codex_sized_request();
    let body = serde_json::to_vec(&big).unwrap_or_default();
    let mut group = c.benchmark_group("request");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_codex_sized_request", |b| {
        b.iter(|| {
            serde_json::from_slice::<CreateResponse>(black_box(&body))
                .map(|r| r.tools.map(|t| t.len()))
        })
    });
    group.bench_function("translate_codex_sized_request_to_chat", |b| {
        let target = ChatTarget {
            flavor: openai,
            model: "m",
            drop_params: false,
            stream: true,
            replay_reasoning: false,
        };
        b.iter(|| {
            to_chat(black_box(&big), &target)
                .map(|(chat, _)| serde_json::to_vec(&chat).map(|v| v.len()))
        })
    });
    group.finish();
}

/// A Responses upstream's JSON answer: reasoning, a message and two function calls.
fn relayed_response() -> String {
    let output = json!([
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Plan the calls."}],
         "encrypted_content": "gAAAAB".repeat(60)},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "Running both.".repeat(20), "annotations": [], "logprobs": []}]},
        {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "call_1",
         "name": "exec_command", "arguments": "{\"cmd\":\"cargo test\"}"},
        {"type": "function_call", "id": "fc_2", "status": "completed", "call_id": "call_2",
         "name": "exec_command", "arguments": "{\"cmd\":\"cargo clippy\"}"},
    ]);
    let response = Response {
        id: "resp_1".into(),
        model: "gpt-5".into(),
        output: serde_json::from_value(output).unwrap_or_default(),
        ..Response::default()
    };
    serde_json::to_string(&response).unwrap_or_default()
}

/// Reading a relayed answer: the one-pass read of its items against serde's own parse.
fn bench_response(c: &mut Criterion) {
    let text = relayed_response();
    let mut group = c.benchmark_group("response");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("from_json_4_items", |b| {
        b.iter(|| Response::from_json(black_box(&text)).map(|r| r.output.len()))
    });
    group.bench_function("serde_from_str_4_items", |b| {
        b.iter(|| serde_json::from_str::<Response>(black_box(&text)).map(|r| r.output.len()))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_response);
criterion_main!(benches);
