//! The OpenAI Responses API upstream: `POST …/responses`, and its token
//! counter `POST …/responses/input_tokens`.

mod object;
mod stream;

use serde::Deserialize;
use serde_json::Value;
use switchyard_types::responses::CreateResponse;

pub(crate) use object::{ResponsesCtx, object_bytes, object_json};
pub(crate) use stream::stream;

use crate::directive::Directives;
use crate::engine::Planned;
use crate::errors::{self, Dialect};
use crate::plan::Plan;
use crate::sse;
use crate::turn::Turn;

/// The unparsable line `[[mock:malformed]]` inserts.
const MALFORMED: &[u8] =
    b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\n\n";

/// Answers a Responses request from its body.
pub(crate) fn handle(body: &Value) -> Planned {
    if !body.is_object() {
        return errors::unparsable_body().into();
    }
    if body.get("model").is_none_or(Value::is_null) {
        return errors::missing_parameter("model").into();
    }
    let req = match CreateResponse::deserialize(body) {
        Ok(req) => req,
        Err(err) => {
            let message = format!("Invalid request body: {err}");
            return errors::openai(400, &message, "invalid_request_error", None, None).into();
        }
    };
    let turn = Turn::from_responses(&req);
    let directives = Directives::parse(&turn.user_text);
    let delay = directives.slow.unwrap_or_default();
    let model = req.model.as_deref().unwrap_or_default();
    if let Some(code) = &directives.error {
        let mut reply = errors::directive_error(Dialect::Responses, code, model)
            .with_header("x-request-id", &crate::ids::request_id());
        for (name, value) in crate::ratelimit::openai_error(&directives, code) {
            reply = reply.with_header(&name, &value);
        }
        return Planned { delay, reply };
    }
    let plan = Plan::decide(&turn, &directives);
    let ctx = ResponsesCtx::from_request(&req);
    let mut headers = vec![errors::request_id_header()];
    headers.extend(crate::ratelimit::openai(&directives));
    let reply = if req.is_stream() {
        headers.push((
            "content-type".into(),
            "text/event-stream; charset=utf-8".into(),
        ));
        sse::into_reply(stream(&ctx, &plan), &plan.faults, MALFORMED, headers)
    } else {
        headers.push(("content-type".into(), "application/json".into()));
        crate::reply::Reply::Chunks {
            status: 200,
            headers,
            chunks: vec![(std::time::Duration::ZERO, object_bytes(&ctx, &plan))],
            then_drop: false,
        }
    };
    Planned { delay, reply }
}

/// The fields `POST /responses/input_tokens` takes; OpenAI refuses any other.
const INPUT_TOKENS_FIELDS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "previous_response_id",
    "conversation",
    "text",
    "reasoning",
    "truncation",
];

/// Answers `POST /responses/input_tokens`: the input tokens a create with this body would
/// report (the mock counts words).
pub(crate) fn input_tokens(body: &Value) -> Planned {
    let Some(fields) = body.as_object() else {
        return errors::unparsable_body().into();
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !INPUT_TOKENS_FIELDS.contains(&k.as_str()))
    {
        let message = format!("Unknown parameter: '{unknown}'.");
        return errors::openai(
            400,
            &message,
            "invalid_request_error",
            Some(unknown),
            Some("unknown_parameter"),
        )
        .into();
    }
    let req = match CreateResponse::deserialize(body) {
        Ok(req) => req,
        Err(err) => {
            let message = format!("Invalid request body: {err}");
            return errors::openai(400, &message, "invalid_request_error", None, None).into();
        }
    };
    let turn = Turn::from_responses(&req);
    let directives = Directives::parse(&turn.user_text);
    if let Some(code) = &directives.error {
        let model = req.model.as_deref().unwrap_or_default();
        return errors::directive_error(Dialect::Responses, code, model).into();
    }
    let count = serde_json::json!({
        "object": "response.input_tokens",
        "input_tokens": turn.input_words.max(1),
    });
    crate::reply::Reply::json(count)
        .with_header("x-request-id", &crate::ids::request_id())
        .into()
}

/// Answers `POST /responses/compact` as OpenAI does: the input's user messages, then one
/// `compaction` item whose opaque content the mock recognises when it comes back (it holds the
/// number of items compacted).
pub(crate) fn compact(body: &Value) -> Planned {
    let Some(input) = body.get("input").and_then(Value::as_array) else {
        let message = "Missing required parameter: 'input'.";
        return errors::openai(400, message, "invalid_request_error", Some("input"), None).into();
    };
    let mut output: Vec<Value> = input
        .iter()
        .filter(|i| i.get("role").and_then(Value::as_str) == Some("user"))
        .cloned()
        .collect();
    output.push(serde_json::json!({
        "type": "compaction",
        "id": format!("cmp_{}", crate::ids::request_id()),
        "encrypted_content": format!("mock-compaction:{}", input.len()),
    }));
    let words: usize = input
        .iter()
        .map(|i| i.to_string().split_whitespace().count())
        .sum();
    crate::reply::Reply::json(serde_json::json!({
        "id": format!("resp_{}", crate::ids::request_id()),
        "object": "response.compaction",
        "created_at": 1_700_000_000,
        "output": output,
        "usage": {"input_tokens": words, "output_tokens": 10, "total_tokens": words + 10,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 0}},
    }))
    .into()
}
