//! Renders a [`Plan`] as a Gemini answer: one `GenerateContentResponse`, or a stream of them.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::turn::GeminiTurn;
use super::{Route, Service};
use crate::ids;
use crate::plan::{Answer, Finish, Plan};
use crate::reply::Reply;
use crate::split;

/// Every thought signature the mock mints starts with these bytes (before base64), which is
/// how it recognises its own signatures when they come back.
pub(crate) const SIGNATURE_PREFIX: &[u8] = b"swy-mock-thought:";

fn signature() -> String {
    let mut raw = SIGNATURE_PREFIX.to_vec();
    raw.extend_from_slice(ids::alnum(48).as_bytes());
    STANDARD.encode(raw)
}

struct Ctx<'a> {
    route: &'a Route,
    response_id: String,
    create_time: String,
}

impl Ctx<'_> {
    fn vertex(&self) -> bool {
        self.route.service == Service::Vertex
    }

    /// One `GenerateContentResponse` with `parts`, an optional finish and usage.
    fn chunk(&self, parts: Vec<Value>, finish: Option<&str>, usage: Value) -> Value {
        let mut candidate = Map::new();
        if !parts.is_empty() || finish.is_none() {
            candidate.insert("content".into(), json!({"parts": parts, "role": "model"}));
        } else {
            candidate.insert("content".into(), json!({"role": "model"}));
        }
        if let Some(reason) = finish {
            candidate.insert("finishReason".into(), json!(reason));
            if reason == "SAFETY" {
                candidate.insert(
                    "safetyRatings".into(),
                    json!([{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]),
                );
            }
        }
        if !self.vertex() {
            candidate.insert("index".into(), json!(0));
        }
        let mut chunk = Map::new();
        chunk.insert("candidates".into(), json!([Value::Object(candidate)]));
        chunk.insert("usageMetadata".into(), usage);
        chunk.insert("modelVersion".into(), json!(self.route.model));
        if self.vertex() {
            chunk.insert("createTime".into(), json!(self.create_time));
        }
        chunk.insert("responseId".into(), json!(self.response_id));
        Value::Object(chunk)
    }
}

/// `usageMetadata` for `candidates` answer tokens so far (the plan's totals otherwise).
fn usage(plan: &Plan, candidates: Option<u64>, vertex: bool) -> Value {
    let t = plan.tokens;
    let answer = candidates.unwrap_or(t.output.saturating_sub(t.reasoning));
    let mut usage = Map::new();
    usage.insert("promptTokenCount".into(), json!(t.input));
    usage.insert("candidatesTokenCount".into(), json!(answer));
    usage.insert(
        "totalTokenCount".into(),
        json!(t.input + answer + t.reasoning),
    );
    if t.cached > 0 {
        usage.insert("cachedContentTokenCount".into(), json!(t.cached));
    }
    usage.insert(
        "promptTokensDetails".into(),
        json!([{"modality": "TEXT", "tokenCount": t.input}]),
    );
    if t.reasoning > 0 {
        usage.insert("thoughtsTokenCount".into(), json!(t.reasoning));
    }
    if vertex {
        usage.insert("trafficType".into(), json!("ON_DEMAND"));
    }
    Value::Object(usage)
}

/// The parts of the answer, each the content of one stream chunk.
fn pieces(turn: &GeminiTurn, plan: &Plan) -> (Vec<Vec<Value>>, &'static str) {
    let mut out: Vec<Vec<Value>> = Vec::new();
    if let Some(reasoning) = &plan.reasoning
        && turn.include_thoughts
    {
        for word in split::words(reasoning) {
            out.push(vec![json!({"text": word, "thought": true})]);
        }
    }
    let signed = turn.gemini3 || plan.reasoning.is_some();
    let finish = match (&plan.answer, plan.finish) {
        (Answer::Refusal(_), _) => "SAFETY",
        (_, Finish::Length) => "MAX_TOKENS",
        _ => "STOP",
    };
    match &plan.answer {
        Answer::Text(text) => {
            for word in split::words(text) {
                out.push(vec![json!({"text": word})]);
            }
            if signed {
                // Gemini 3 signs a text answer on a trailing empty part.
                out.push(vec![json!({"text": "", "thoughtSignature": signature()})]);
            }
        }
        Answer::Refusal(_) => {}
        Answer::Calls(calls) => {
            // Parallel calls arrive together; only the first carries the signature.
            let parts = calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let args: Value =
                        serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
                    let mut part = json!({"functionCall": {"name": call.name, "args": args}});
                    if i == 0 && signed {
                        part["thoughtSignature"] = json!(signature());
                    }
                    part
                })
                .collect();
            out.push(parts);
        }
    }
    (out, finish)
}

/// The non-streamed answer, or the stream (SSE with `alt=sse`, else a JSON array).
pub(crate) fn reply(route: &Route, turn: &GeminiTurn, plan: &Plan, sse: bool) -> Reply {
    let ctx = Ctx {
        route,
        response_id: ids::alnum(23),
        create_time: "2026-01-01T00:00:00.000000Z".into(),
    };
    let (pieces, finish) = pieces(turn, plan);
    let headers = vec![(
        "content-type".to_string(),
        if route.stream && sse {
            "text/event-stream".to_string()
        } else {
            "application/json; charset=UTF-8".to_string()
        },
    )];
    if !route.stream {
        let parts: Vec<Value> = merge_texts(pieces.into_iter().flatten().collect());
        let body = ctx.chunk(parts, Some(finish), usage(plan, None, ctx.vertex()));
        return Reply::Chunks {
            status: 200,
            headers,
            chunks: vec![(Duration::ZERO, Bytes::from(body.to_string()))],
            then_drop: false,
        };
    }
    let vertex = ctx.vertex();
    let mut chunks: Vec<Value> = Vec::new();
    let mut answered = 0u64;
    let last = pieces.len().saturating_sub(1);
    let mut midstream_at = None;
    for (i, parts) in pieces.into_iter().enumerate() {
        let thought = parts.iter().all(|p| p.get("thought").is_some());
        if !thought {
            answered += parts
                .iter()
                .map(|p| {
                    p.get("text")
                        .and_then(Value::as_str)
                        .map_or(1, |t| t.split_whitespace().count() as u64)
                })
                .sum::<u64>();
        }
        let final_piece = i == last;
        let usage = if vertex && !final_piece {
            json!({"trafficType": "ON_DEMAND"})
        } else if final_piece {
            usage(plan, None, vertex)
        } else {
            usage(plan, Some(answered), vertex)
        };
        if !thought && midstream_at.is_none() {
            midstream_at = Some(chunks.len() + 1);
        }
        chunks.push(ctx.chunk(parts, final_piece.then_some(finish), usage));
    }
    if chunks.is_empty() {
        chunks.push(ctx.chunk(Vec::new(), Some(finish), usage(plan, None, vertex)));
    }
    if plan.faults.midstream_error {
        chunks.truncate(midstream_at.unwrap_or(1).min(chunks.len()));
        chunks.push(json!({"error": {"code": 503,
            "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}));
    }
    if !sse {
        // Without `alt=sse` the stream is one JSON array written piece by piece.
        let count = chunks.len();
        let frames: Vec<Bytes> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let lead = if i == 0 { "[" } else { "\n,\r\n" };
                let tail = if i + 1 == count { "]" } else { "" };
                Bytes::from(format!("{lead}{c}{tail}"))
            })
            .collect();
        return crate::sse::into_reply(frames, &plan.faults, b"\n,\r\n{\"candidates\": [", headers);
    }
    let mut frames: Vec<Bytes> = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let text = format!("data: {chunk}\r\n\r\n");
        if i == 1 {
            // One event's terminator split across two writes, between `\r` and `\n` (not
            // the first event's, where `[[mock:malformed]]` inserts its bad frame).
            let cut = text.len() - 3;
            frames.push(Bytes::from(text[..cut].to_string()));
            frames.push(Bytes::from(text[cut..].to_string()));
        } else {
            frames.push(Bytes::from(text));
        }
    }
    crate::sse::into_reply(
        frames,
        &plan.faults,
        b"data: {\"candidates\": [{\"content\": \r\n\r\n",
        headers,
    )
}

/// Consecutive plain text parts joined into one, as a non-streamed answer has them.
fn merge_texts(parts: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for part in parts {
        let plain = |p: &Value| {
            p.as_object()
                .is_some_and(|m| m.len() == 1 && m.contains_key("text"))
        };
        let thought =
            |p: &Value| p.get("thought").is_some() && p.as_object().is_some_and(|m| m.len() == 2);
        match out.last_mut() {
            Some(prev) if (plain(prev) && plain(&part)) || (thought(prev) && thought(&part)) => {
                let joined = format!(
                    "{}{}",
                    prev["text"].as_str().unwrap_or_default(),
                    part["text"].as_str().unwrap_or_default()
                );
                prev["text"] = json!(joined);
            }
            _ => out.push(part),
        }
    }
    out
}
