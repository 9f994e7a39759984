//! The OpenAI Responses API upstream: `POST …/responses`, and its token
//! counter `POST …/responses/input_tokens`.

mod compaction;
mod object;
mod stream;

use serde::Deserialize;
use serde_json::Value;
use switchyard_types::responses::{
    ContentPart, CreateResponse, Item, MessageContent, Role, TextPart, Usage,
};

pub(crate) use object::{ResponsesCtx, object_json};
pub(crate) use stream::stream;

/// The request's input as the model sees it: this mock's compaction items stand for the
/// history they compacted.
pub(crate) fn input_items(req: &CreateResponse) -> Vec<Item> {
    compaction::expand(req.input_items())
}

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
    // A compaction trigger is answered with exactly one compaction item, and nothing else.
    let output = if compaction::ends_with_trigger(&req) {
        vec![compaction::item(req.input_items())]
    } else {
        object::items(&ctx, &plan)
    };
    let mut headers = vec![errors::request_id_header()];
    headers.extend(crate::ratelimit::openai(&directives));
    let reply = if req.is_stream() {
        headers.push((
            "content-type".into(),
            "text/event-stream; charset=utf-8".into(),
        ));
        let frames = stream::stream_of(&ctx, &plan, output);
        sse::into_reply(frames, &plan.faults, MALFORMED, headers)
    } else {
        headers.push(("content-type".into(), "application/json".into()));
        crate::reply::Reply::Chunks {
            status: 200,
            headers,
            chunks: vec![(
                std::time::Duration::ZERO,
                object::object_bytes_of(&ctx, &plan, output),
            )],
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
/// `compaction` item whose opaque content the mock reads back when it comes in a later input
/// (it holds the other items it compacted).
pub(crate) fn compact(body: &Value) -> Planned {
    let Some(input) = body.get("input").and_then(Value::as_array) else {
        let message = "Missing required parameter: 'input'.";
        return errors::openai(400, message, "invalid_request_error", Some("input"), None).into();
    };
    let items: Vec<Item> = input
        .iter()
        .filter_map(|i| serde_json::from_value(i.clone()).ok())
        .collect();
    // The user messages as items of their own, text in `input_text` parts.
    let mut output: Vec<Value> = items
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) if m.role == Role::User => Some(serde_json::json!({
                "type": "message",
                "id": m.id.clone().unwrap_or_else(|| format!("msg_{}", crate::ids::request_id())),
                "status": "completed",
                "role": "user",
                "content": match &m.content {
                    MessageContent::Text(text) => vec![ContentPart::InputText(TextPart::new(text.clone()))],
                    MessageContent::Parts(parts) => parts.clone(),
                },
            })),
            _ => None,
        })
        .collect();
    output.push(serde_json::to_value(compaction::item(items)).unwrap_or_default());
    let words: u64 = input
        .iter()
        .map(|i| i.to_string().split_whitespace().count() as u64)
        .sum();
    let usage = Usage {
        input_tokens: words,
        output_tokens: 10,
        total_tokens: words + 10,
        ..Usage::default()
    };
    crate::reply::Reply::json(serde_json::json!({
        "id": format!("resp_{}", crate::ids::request_id()),
        "object": "response.compaction",
        "created_at": 1_700_000_000,
        "output": output,
        "usage": usage,
    }))
    .into()
}
