//! Non-streaming Chat Completions bodies, in each server's shape.

use serde_json::{Map, Value, json};

use super::stream::finish_reason;
use super::usage::usage;
use super::{ChatCtx, Flavor};
use crate::plan::{Answer, Plan};

/// The `chat.completion` object answering `plan`.
pub(crate) fn completion(ctx: &ChatCtx, plan: &Plan) -> Value {
    let flavor = ctx.flavor;
    let finish = finish_reason(plan.finish);
    let mut choice = Map::new();
    choice.insert("index".into(), json!(0));
    choice.insert("message".into(), message(ctx, plan));
    if !matches!(flavor, Flavor::Mistral | Flavor::Ollama | Flavor::Xai) {
        choice.insert("logprobs".into(), Value::Null);
    }
    choice.insert("finish_reason".into(), json!(finish));
    match flavor {
        Flavor::Vllm => {
            choice.insert("stop_reason".into(), Value::Null);
        }
        Flavor::OpenRouter => {
            choice.insert("native_finish_reason".into(), json!(finish));
        }
        _ => {}
    }

    let mut body = Map::new();
    body.insert("id".into(), json!(ctx.id));
    if flavor == Flavor::OpenRouter {
        body.insert("provider".into(), json!("Mock"));
    }
    body.insert("object".into(), json!("chat.completion"));
    body.insert("created".into(), json!(ctx.created));
    body.insert("model".into(), json!(ctx.model));
    body.insert("choices".into(), json!([choice]));
    body.insert("usage".into(), usage(flavor, &plan.tokens));
    match flavor {
        Flavor::OpenAi => {
            body.insert("service_tier".into(), json!("default"));
            body.insert("system_fingerprint".into(), json!(ctx.fingerprint));
        }
        Flavor::DeepSeek | Flavor::Ollama | Flavor::Xai => {
            body.insert("system_fingerprint".into(), json!(ctx.fingerprint));
        }
        Flavor::Groq => {
            body.insert("system_fingerprint".into(), json!(ctx.fingerprint));
            body.insert("x_groq".into(), json!({"id": ctx.groq_request}));
            body.insert("service_tier".into(), json!("on_demand"));
        }
        Flavor::Vllm => {
            body.insert("prompt_logprobs".into(), Value::Null);
        }
        Flavor::Azure => {
            body.insert("system_fingerprint".into(), json!(ctx.fingerprint));
            body.insert(
                "prompt_filter_results".into(),
                super::prompt_filter_results(),
            );
            if let Some(choice) = body
                .get_mut("choices")
                .and_then(|c| c.get_mut(0))
                .and_then(Value::as_object_mut)
            {
                choice.insert(
                    "content_filter_results".into(),
                    super::content_filter_results(),
                );
            }
        }
        Flavor::Mistral | Flavor::OpenRouter | Flavor::AzureAi => {}
    }
    Value::Object(body)
}

fn message(ctx: &ChatCtx, plan: &Plan) -> Value {
    let flavor = ctx.flavor;
    let (content, refusal) = match &plan.answer {
        Answer::Text(text) => (json!(text), Value::Null),
        Answer::Refusal(text) => (Value::Null, json!(text)),
        Answer::Calls(_) => (Value::Null, Value::Null),
    };
    let tool_calls = match &plan.answer {
        Answer::Calls(calls) => Some(Value::Array(
            calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let mut c = json!({"id": ctx.call_id(i), "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments}});
                    if flavor == Flavor::Mistral {
                        c["index"] = json!(i);
                    }
                    c
                })
                .collect(),
        )),
        _ => None,
    };
    let reasoning = plan.reasoning.as_deref();
    let mut m = Map::new();
    m.insert("role".into(), json!("assistant"));
    if flavor == Flavor::Mistral {
        // Magistral returns reasoning as a `thinking` part before the text.
        m.insert(
            "tool_calls".into(),
            tool_calls.clone().unwrap_or(Value::Null),
        );
        let content = match (reasoning, &content) {
            (Some(r), Value::String(text)) => json!([
                {"type": "thinking", "thinking": [{"type": "text", "text": r}]},
                {"type": "text", "text": text}]),
            (Some(r), _) => {
                json!([{"type": "thinking", "thinking": [{"type": "text", "text": r}]}])
            }
            (None, _) => content.clone(),
        };
        m.insert("content".into(), content);
        if !refusal.is_null() {
            m.insert("refusal".into(), refusal);
        }
        return Value::Object(m);
    }
    m.insert("content".into(), content);
    if matches!(flavor, Flavor::OpenAi | Flavor::OpenRouter | Flavor::Xai) || !refusal.is_null() {
        m.insert("refusal".into(), refusal);
    }
    if flavor == Flavor::OpenAi {
        m.insert("annotations".into(), json!([]));
    }
    match flavor {
        Flavor::OpenAi | Flavor::DeepSeek | Flavor::Xai => {
            if let Some(r) = reasoning {
                m.insert("reasoning_content".into(), json!(r));
            }
        }
        Flavor::OpenRouter => {
            m.insert(
                "reasoning".into(),
                reasoning.map_or(Value::Null, |r| json!(r)),
            );
            if let Some(r) = reasoning {
                m.insert(
                    "reasoning_details".into(),
                    json!([{"type": "reasoning.text", "text": r, "format": "unknown",
                        "index": 0}]),
                );
            }
        }
        _ => {
            if let Some(r) = reasoning {
                m.insert("reasoning".into(), json!(r));
            }
        }
    }
    match tool_calls {
        Some(calls) => {
            m.insert("tool_calls".into(), calls);
        }
        // vLLM always sends the (empty) list.
        None if flavor == Flavor::Vllm => {
            m.insert("tool_calls".into(), json!([]));
        }
        None => {}
    }
    Value::Object(m)
}
