//! A [`Plan`] in the Messages wire format: the complete `message` object, or the event stream
//! with Anthropic's framing (`event:` + `data:`), a `ping`, JSON padded with spaces before its
//! closing brace, the empty `thinking_delta` before the `signature_delta`, arguments split into
//! `input_json_delta` pieces, and cumulative usage in `message_delta`, as recorded from the real API.

use bytes::Bytes;
use serde_json::{Value, json};

use super::errors::midstream_event;
use super::signature;
use crate::ids;
use crate::plan::{Answer, Finish, Plan, Tokens};
use crate::split;

fn message_id() -> String {
    format!("msg_01{}", ids::alnum(22))
}

fn tool_id() -> String {
    format!("toolu_01{}", ids::alnum(22))
}

fn stop_reason(plan: &Plan) -> &'static str {
    match (&plan.answer, plan.finish) {
        (_, Finish::Length) => "max_tokens",
        (Answer::Refusal(_), _) => "refusal",
        (_, Finish::ToolCalls) => "tool_use",
        (_, Finish::Stop) => "end_turn",
    }
}

/// Usage in Anthropic's accounting: `input_tokens` excludes cache reads.
fn usage(t: &Tokens, output: u64) -> Value {
    let mut usage = json!({"input_tokens": t.input.saturating_sub(t.cached),
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": t.cached,
        "output_tokens": output});
    if t.reasoning > 0 && output > 1 {
        usage["output_tokens_details"] = json!({"thinking_tokens": t.reasoning});
    }
    usage
}

/// The non-streamed answer.
pub(super) fn message(model: &str, plan: &Plan) -> Value {
    let mut content = Vec::new();
    if let Some(thinking) = &plan.reasoning {
        content.push(json!({"type": "thinking", "thinking": thinking,
            "signature": signature(thinking)}));
    }
    match &plan.answer {
        Answer::Text(text) | Answer::Refusal(text) => {
            content.push(json!({"type": "text", "text": text}));
        }
        Answer::Calls(calls) => {
            for call in calls {
                let input: Value = serde_json::from_str(&call.arguments).unwrap_or(json!({}));
                content.push(
                    json!({"type": "tool_use", "id": tool_id(), "name": call.name,
                    "input": input}),
                );
            }
        }
    }
    let mut full = usage(&plan.tokens, plan.tokens.output);
    full["cache_creation"] =
        json!({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0});
    full["service_tier"] = json!("standard");
    json!({"model": model, "id": message_id(), "type": "message", "role": "assistant",
        "content": content, "stop_reason": stop_reason(plan), "stop_sequence": null,
        "usage": full})
}

/// Writes events with Anthropic's padding.
struct Frames {
    out: Vec<Bytes>,
}

impl Frames {
    fn event(&mut self, payload: Value) {
        let name = payload["type"].as_str().unwrap_or("message").to_string();
        let mut text = payload.to_string();
        // Anthropic pads its JSON with a varying run of spaces before the closing brace.
        let pad = (self.out.len() * 7) % 16;
        if pad > 0 && text.ends_with('}') {
            text.pop();
            text.push_str(&" ".repeat(pad));
            text.push('}');
        }
        self.out
            .push(Bytes::from(format!("event: {name}\ndata: {text}\n\n")));
    }

    fn block_start(&mut self, index: usize, block: Value) {
        self.event(json!({"type": "content_block_start", "index": index, "content_block": block}));
    }

    fn delta(&mut self, index: usize, delta: Value) {
        self.event(json!({"type": "content_block_delta", "index": index, "delta": delta}));
    }

    fn block_stop(&mut self, index: usize) {
        self.event(json!({"type": "content_block_stop", "index": index}));
    }

    fn ping(&mut self) {
        // Written with a space after the colon, as recorded.
        self.out.push(Bytes::from_static(
            b"event: ping\ndata: {\"type\": \"ping\"}\n\n",
        ));
    }
}

/// The streamed answer; with `midstream_error` it stops after the answer's first delta with an
/// `event: error`.
pub(super) fn stream(model: &str, plan: &Plan) -> Vec<Bytes> {
    let cut = plan.faults.midstream_error;
    let mut f = Frames { out: Vec::new() };
    let mut start_usage = usage(&plan.tokens, 1);
    start_usage["cache_creation"] =
        json!({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0});
    start_usage["service_tier"] = json!("standard");
    f.event(
        json!({"type": "message_start", "message": {"model": model, "id": message_id(),
        "type": "message", "role": "assistant", "content": [], "stop_reason": null,
        "stop_sequence": null, "usage": start_usage}}),
    );
    let mut index = 0;
    if let Some(thinking) = &plan.reasoning {
        f.block_start(
            index,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        );
        f.ping();
        for word in split::words(thinking) {
            f.delta(index, json!({"type": "thinking_delta", "thinking": word}));
        }
        f.delta(index, json!({"type": "thinking_delta", "thinking": ""}));
        f.delta(
            index,
            json!({"type": "signature_delta", "signature": signature(thinking)}),
        );
        f.block_stop(index);
        index += 1;
    }
    match &plan.answer {
        Answer::Text(text) | Answer::Refusal(text) => {
            f.block_start(index, json!({"type": "text", "text": ""}));
            if plan.reasoning.is_none() {
                f.ping();
            }
            for word in split::words(text) {
                f.delta(index, json!({"type": "text_delta", "text": word}));
                if cut {
                    f.out.push(midstream_event());
                    return f.out;
                }
            }
            f.block_stop(index);
        }
        Answer::Calls(calls) => {
            for call in calls {
                f.block_start(
                    index,
                    json!({"type": "tool_use", "id": tool_id(),
                    "name": call.name, "input": {}}),
                );
                f.delta(
                    index,
                    json!({"type": "input_json_delta", "partial_json": ""}),
                );
                for piece in split::fragments(&call.arguments) {
                    f.delta(
                        index,
                        json!({"type": "input_json_delta", "partial_json": piece}),
                    );
                    if cut {
                        f.out.push(midstream_event());
                        return f.out;
                    }
                }
                f.block_stop(index);
                index += 1;
            }
        }
    }
    f.event(json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason(plan), "stop_sequence": null},
        "usage": usage(&plan.tokens, plan.tokens.output)}));
    f.event(json!({"type": "message_stop"}));
    f.out
}
