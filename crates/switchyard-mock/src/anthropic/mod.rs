//! Anthropic's Messages API: `POST …/v1/messages`, also the body Vertex AI's `:rawPredict` /
//! `:streamRawPredict` take, and its token counter
//! `POST …/v1/messages/count_tokens` (Vertex: `…/models/count-tokens:rawPredict`).
//!
//! The mock checks what the real API rejects and a gateway could get wrong: a missing
//! `max_tokens`, a thinking budget out of range, a forced tool or a non-default temperature
//! with thinking, and a replayed tool call whose thinking block is missing or whose signature
//! is not one the mock minted.

mod errors;
mod render;
mod request;

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::directive::Directives;
use crate::engine::Planned;
use crate::plan::{Plan, REASONING_TEXT};
use crate::reply::Reply;
use crate::sse;

/// The unparsable event `[[mock:malformed]]` inserts.
const MALFORMED: &[u8] =
    b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":\n\n";

/// The signature the mock gives a thinking block: anything else sent back is refused, as
/// Anthropic refuses thinking it did not sign.
/// Derived from the text (FNV-1a), so a thinking block edited on the way back fails too.
pub(crate) fn signature(thinking: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in thinking.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("EqMockSig{hash:016x}")
}

/// Answers a Messages request from its body. `vertex` is true for Vertex AI paths, whose body
/// carries `anthropic_version` instead of `model`.
pub(crate) fn handle(body: &Value, vertex: bool) -> Planned {
    let facts = match request::read(body, vertex) {
        Ok(facts) => facts,
        Err(reply) => return reply.into(),
    };
    let directives = Directives::parse(&facts.turn.user_text);
    let delay = directives.slow.unwrap_or_default();
    if let Some(code) = &directives.error {
        return Planned {
            delay,
            reply: errors::directive_error(code, &facts.model),
        };
    }
    let mut plan = Plan::decide(&facts.turn, &directives);
    if facts.thinking && plan.reasoning.is_none() {
        // Claude always thinks when thinking is on.
        plan.reasoning = Some(REASONING_TEXT.to_string());
    }
    let request_id = ("request-id".to_string(), errors::request_id());
    let limits = crate::ratelimit::anthropic(&directives);
    let reply = if facts.stream {
        let mut headers = vec![
            request_id,
            (
                "content-type".into(),
                "text/event-stream; charset=utf-8".into(),
            ),
            ("cache-control".into(), "no-cache".into()),
        ];
        headers.extend(limits);
        sse::into_reply(
            render::stream(&facts.model, &plan),
            &plan.faults,
            MALFORMED,
            headers,
        )
    } else {
        let body = serde_json::to_vec(&render::message(&facts.model, &plan)).unwrap_or_default();
        Reply::Chunks {
            status: 200,
            headers: [
                vec![
                    request_id,
                    ("content-type".into(), "application/json".into()),
                ],
                limits,
            ]
            .concat(),
            chunks: vec![(Duration::ZERO, Bytes::from(body))],
            then_drop: false,
        }
    };
    Planned { delay, reply }
}

/// Answers a `count_tokens` request: the input tokens a Messages request with this body would
/// report (the mock counts words). `vertex` for Vertex AI's `count-tokens:rawPredict`.
pub(crate) fn count_tokens(body: &Value, vertex: bool) -> Planned {
    let turn = match request::read_count(body, vertex) {
        Ok(turn) => turn,
        Err(reply) => return reply.into(),
    };
    let directives = Directives::parse(&turn.user_text);
    if let Some(code) = &directives.error {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return errors::directive_error(code, model).into();
    }
    let count = serde_json::json!({"input_tokens": turn.input_words.max(1)});
    Reply::json(count)
        .with_header("request-id", &errors::request_id())
        .into()
}
