//! Chat Completions streams, chunk by chunk, in each server's shape.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::usage::usage;
use super::{ChatCtx, Flavor};
use crate::errors::MIDSTREAM_MESSAGE;
use crate::ids;
use crate::plan::{Answer, Call, Finish, Plan};
use crate::split;
use crate::sse;

pub(super) fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
    }
}

impl ChatCtx {
    /// A delta with the flavor's habits: Ollama and OpenRouter repeat `role` (and `content`)
    /// on every delta, xAI appends `role`.
    fn delta(&self, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
        let mut delta = Map::new();
        if matches!(self.flavor, Flavor::Ollama | Flavor::OpenRouter) {
            delta.insert("role".into(), json!("assistant"));
            delta.insert("content".into(), json!(""));
        }
        for (key, value) in fields {
            delta.insert(key.into(), value);
        }
        if self.flavor == Flavor::Xai && !delta.contains_key("role") {
            delta.insert("role".into(), json!("assistant"));
        }
        Value::Object(delta)
    }

    /// `choices` with one choice; xAI leaves out `finish_reason` until the end.
    fn choices(&self, delta: Value, finish: Option<&str>) -> Value {
        let mut choice = Map::new();
        choice.insert("index".into(), json!(0));
        choice.insert("delta".into(), delta);
        let reason = finish.map_or(Value::Null, |f| json!(f));
        match self.flavor {
            Flavor::OpenAi | Flavor::DeepSeek | Flavor::Groq | Flavor::AzureAi => {
                choice.insert("logprobs".into(), Value::Null);
                choice.insert("finish_reason".into(), reason);
            }
            Flavor::Azure => {
                // Recorded: an empty object on the role chunk, the category verdicts after.
                choice.insert(
                    "content_filter_results".into(),
                    super::content_filter_results(),
                );
                choice.insert("logprobs".into(), Value::Null);
                choice.insert("finish_reason".into(), reason);
            }
            Flavor::Vllm => {
                choice.insert("logprobs".into(), Value::Null);
                choice.insert("finish_reason".into(), reason);
                if finish.is_some() {
                    choice.insert("stop_reason".into(), Value::Null);
                }
            }
            Flavor::Mistral | Flavor::Ollama => {
                choice.insert("finish_reason".into(), reason);
            }
            Flavor::OpenRouter => {
                choice.insert("finish_reason".into(), reason.clone());
                choice.insert("native_finish_reason".into(), reason);
                choice.insert("logprobs".into(), Value::Null);
            }
            Flavor::Xai => {
                if finish.is_some() {
                    choice.insert("finish_reason".into(), reason);
                }
            }
        }
        Value::Array(vec![Value::Object(choice)])
    }

    /// One `data:` frame holding a chunk with these `choices` and extra top-level fields.
    fn frame(
        &self,
        choices: Value,
        extra: impl IntoIterator<Item = (&'static str, Value)>,
    ) -> Bytes {
        let mut chunk = Map::new();
        chunk.insert("id".into(), json!(self.id));
        if self.flavor == Flavor::OpenRouter {
            chunk.insert("provider".into(), json!("Mock"));
            chunk.insert("model".into(), json!(self.model));
            chunk.insert("object".into(), json!("chat.completion.chunk"));
            chunk.insert("created".into(), json!(self.created));
        } else {
            chunk.insert("object".into(), json!("chat.completion.chunk"));
            chunk.insert("created".into(), json!(self.created));
            chunk.insert("model".into(), json!(self.model));
        }
        match self.flavor {
            Flavor::OpenAi => {
                chunk.insert("service_tier".into(), json!("default"));
                chunk.insert("system_fingerprint".into(), json!(self.fingerprint));
                if self.include_usage {
                    chunk.insert("usage".into(), Value::Null);
                }
            }
            Flavor::DeepSeek | Flavor::Groq | Flavor::Ollama => {
                chunk.insert("system_fingerprint".into(), json!(self.fingerprint));
            }
            _ => {}
        }
        chunk.insert("choices".into(), choices);
        for (key, value) in extra {
            chunk.insert(key.into(), value);
        }
        if self.flavor == Flavor::Xai {
            chunk.insert("system_fingerprint".into(), json!(self.fingerprint));
        }
        if self.flavor == Flavor::OpenAi && self.obfuscation {
            chunk.insert("obfuscation".into(), json!(ids::obfuscation()));
        }
        sse::data(&Value::Object(chunk))
    }

    /// A chunk with one delta.
    fn delta_frame(&self, fields: impl IntoIterator<Item = (&'static str, Value)>) -> Bytes {
        self.frame(self.choices(self.delta(fields), None), [])
    }

    /// The delta carrying reasoning text, in the flavor's field.
    fn reasoning_delta(&self, text: &str) -> Bytes {
        match self.flavor {
            Flavor::OpenAi | Flavor::DeepSeek | Flavor::Xai | Flavor::Azure | Flavor::AzureAi => {
                self.delta_frame([("reasoning_content", json!(text))])
            }
            Flavor::Vllm | Flavor::Ollama | Flavor::Groq => {
                self.delta_frame([("reasoning", json!(text))])
            }
            Flavor::OpenRouter => self.delta_frame([
                ("reasoning", json!(text)),
                (
                    "reasoning_details",
                    json!([{"type": "reasoning.text", "text": text, "format": "unknown",
                        "index": 0}]),
                ),
            ]),
            Flavor::Mistral => self.delta_frame([(
                "content",
                json!([{"type": "thinking", "thinking": [{"type": "text", "text": text}]}]),
            )]),
        }
    }

    /// A whole tool call as the servers that send them in one chunk write it.
    fn whole_call(&self, index: usize, call: &Call) -> Value {
        let function = json!({"name": call.name, "arguments": call.arguments});
        let id = self.call_id(index);
        match self.flavor {
            Flavor::Mistral => json!({"id": id, "function": function}),
            Flavor::Ollama => {
                json!({"id": id, "index": index, "type": "function", "function": function})
            }
            Flavor::Xai => {
                json!({"id": id, "function": function, "index": index, "type": "function"})
            }
            _ => json!({"id": id, "type": "function", "function": function, "index": index}),
        }
    }

    /// The in-band error that ends a stream early.
    fn error_frames(&self, out: &mut Vec<Bytes>) {
        let error = json!({"message": MIDSTREAM_MESSAGE, "type": "server_error", "code": null});
        match self.flavor {
            Flavor::Groq => {
                let mut frame = b"event: error\n".to_vec();
                frame.extend_from_slice(&sse::data(&json!({"error": error})));
                out.push(Bytes::from(frame));
            }
            // OpenRouter reports the failure in an ordinary chunk and still ends with [DONE].
            Flavor::OpenRouter => {
                let choices = self.choices(self.delta([]), Some("error"));
                let error = json!({"code": 502, "message": MIDSTREAM_MESSAGE});
                out.push(self.frame(choices, [("error", error)]));
                out.push(Bytes::from_static(sse::DONE));
            }
            _ => out.push(sse::data(&json!({"error": error}))),
        }
    }
}

/// The frames of a complete stream, ending in `data: [DONE]`; with `midstream_error`, the
/// stream stops after the answer's first delta with the flavor's in-band error.
pub(crate) fn stream(ctx: &ChatCtx, plan: &Plan) -> Vec<Bytes> {
    let flavor = ctx.flavor;
    let cut = plan.faults.midstream_error;
    let mut out = Vec::with_capacity(16);
    if flavor == Flavor::OpenRouter {
        // Keepalive comments, the first two without a blank line between them (as recorded).
        out.push(Bytes::from_static(
            b": OPENROUTER PROCESSING\n: OPENROUTER PROCESSING\n\n",
        ));
    }
    if flavor == Flavor::Azure {
        // Azure opens with a chunk that only carries the prompt's filter verdicts: empty
        // `choices`, `id` and `model`, `created: 0` (as recorded from Azure).
        out.push(sse::data(
            &json!({"choices": [], "created": 0, "id": "", "model": "",
            "object": "", "prompt_filter_results": super::prompt_filter_results()}),
        ));
    }
    let calls = matches!(plan.answer, Answer::Calls(_));
    let mut role = vec![("role", json!("assistant"))];
    if !matches!(flavor, Flavor::Xai | Flavor::Ollama | Flavor::OpenRouter) {
        role.push(("content", if calls { Value::Null } else { json!("") }));
    }
    if flavor == Flavor::OpenAi {
        role.push(("refusal", Value::Null));
    }
    out.push(if flavor == Flavor::Groq {
        // Groq names the request (and its seed) on the first chunk.
        let x_groq = json!({"id": ctx.groq_request, "seed": 1_234_567_890});
        ctx.frame(ctx.choices(ctx.delta(role), None), [("x_groq", x_groq)])
    } else {
        ctx.delta_frame(role)
    });
    if let Some(reasoning) = &plan.reasoning {
        for word in split::words(reasoning) {
            out.push(ctx.reasoning_delta(word));
        }
    }
    let finish = finish_reason(plan.finish);
    let usage_value = usage(flavor, &plan.tokens);
    let mut finished = false;
    match &plan.answer {
        Answer::Text(text) | Answer::Refusal(text) => {
            let key = if matches!(plan.answer, Answer::Text(_)) {
                "content"
            } else {
                "refusal"
            };
            for word in split::words(text) {
                out.push(ctx.delta_frame([(key, json!(word))]));
                if cut {
                    ctx.error_frames(&mut out);
                    return out;
                }
            }
        }
        Answer::Calls(calls) if flavor.whole_tool_calls() => {
            let list: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| ctx.whole_call(i, c))
                .collect();
            let delta = ctx.delta([("tool_calls", Value::Array(list))]);
            if flavor == Flavor::Mistral && !cut {
                // Mistral ends the stream with the call itself: finish reason and usage included.
                let choices = ctx.choices(delta, Some(finish));
                out.push(ctx.frame(choices, [("usage", usage_value.clone())]));
                finished = true;
            } else {
                out.push(ctx.frame(ctx.choices(delta, None), []));
            }
            if cut {
                ctx.error_frames(&mut out);
                return out;
            }
        }
        Answer::Calls(calls) => {
            for (i, call) in calls.iter().enumerate() {
                let head = json!([{"index": i, "id": ctx.call_id(i), "type": "function",
                    "function": {"name": call.name, "arguments": ""}}]);
                out.push(ctx.delta_frame([("tool_calls", head)]));
                for fragment in split::fragments(&call.arguments) {
                    let part = json!([{"index": i, "function": {"arguments": fragment}}]);
                    out.push(ctx.delta_frame([("tool_calls", part)]));
                    if cut {
                        ctx.error_frames(&mut out);
                        return out;
                    }
                }
            }
        }
    }
    if !finished {
        finish_frames(ctx, finish, usage_value, &mut out);
    }
    out.push(Bytes::from_static(sse::DONE));
    out
}

/// The finish chunk and the usage report, wherever the flavor puts it.
fn finish_frames(ctx: &ChatCtx, finish: &str, usage: Value, out: &mut Vec<Bytes>) {
    let flavor = ctx.flavor;
    match flavor {
        // Usage rides on the finish chunk itself.
        Flavor::DeepSeek | Flavor::Mistral => {
            let choices = ctx.choices(ctx.delta([("content", json!(""))]), Some(finish));
            out.push(ctx.frame(choices, [("usage", usage)]));
        }
        Flavor::Groq => {
            let x_groq = json!({"id": ctx.groq_request, "usage": usage});
            let choices = ctx.choices(ctx.delta([]), Some(finish));
            out.push(ctx.frame(choices, [("x_groq", x_groq), ("usage", usage)]));
        }
        _ => {
            let fields = if flavor == Flavor::Xai {
                vec![("content", json!(""))]
            } else {
                Vec::new()
            };
            out.push(ctx.frame(ctx.choices(ctx.delta(fields), Some(finish)), []));
            match flavor {
                // OpenRouter always reports usage, in a chunk whose choices are not empty.
                Flavor::OpenRouter => {
                    let choices = ctx.choices(ctx.delta([]), None);
                    out.push(ctx.frame(choices, [("usage", usage)]));
                }
                Flavor::Xai => out.push(ctx.frame(json!([]), [("usage", usage)])),
                _ if ctx.include_usage => out.push(ctx.frame(json!([]), [("usage", usage)])),
                _ => {}
            }
        }
    }
}
