//! OpenAI Chat Completions and the OpenAI-compatible servers that imitate it, each with its
//! documented deviations, and vLLM's `POST /tokenize`.

mod complete;
mod flavor;
mod stream;
mod usage;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use switchyard_types::chat::ChatRequest;

pub(crate) use complete::completion;
pub(crate) use flavor::Flavor;
pub(crate) use stream::stream;

use crate::directive::Directives;
use crate::engine::Planned;
use crate::errors;
use crate::ids;
use crate::plan::Plan;
use crate::reply::Reply;
use crate::sse;
use crate::turn::Turn;

/// The unparsable line `[[mock:malformed]]` inserts.
const MALFORMED: &[u8] =
    b"data: {\"id\":\"chatcmpl-malformed\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":\n\n";

/// Per-response facts shared by every chunk.
#[derive(Debug, Clone)]
pub(crate) struct ChatCtx {
    pub flavor: Flavor,
    /// The completion id, in the flavor's format.
    pub id: String,
    pub model: String,
    pub created: u64,
    /// `stream_options.include_usage` was requested.
    pub include_usage: bool,
    /// Add `obfuscation` to OpenAI chunks.
    pub obfuscation: bool,
    /// `system_fingerprint`, for the flavors that send one.
    pub fingerprint: String,
    /// Groq's `x_groq.id`.
    pub groq_request: String,
}

impl ChatCtx {
    pub(crate) fn new(flavor: Flavor, model: &str, include_usage: bool, obfuscation: bool) -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let id = match flavor {
            Flavor::OpenAi | Flavor::Azure => ids::chatcmpl(),
            Flavor::AzureAi => ids::hex(32),
            Flavor::Mistral => ids::hex(32),
            Flavor::DeepSeek | Flavor::Xai => ids::uuid(),
            Flavor::Groq => format!("chatcmpl-{}", ids::uuid()),
            Flavor::Ollama => ids::ollama_chatcmpl(),
            Flavor::Vllm => format!("chatcmpl-{}", ids::hex(32)),
            Flavor::OpenRouter => ids::openrouter_gen(created),
        };
        let fingerprint = match flavor {
            Flavor::Ollama => "fp_ollama".to_string(),
            Flavor::DeepSeek => format!("fp_{}_prod0820_fp8_kvcache", ids::hex(10)),
            _ => format!("fp_{}", ids::hex(10)),
        };
        ChatCtx {
            flavor,
            id,
            model: model.to_string(),
            created,
            include_usage,
            obfuscation,
            fingerprint,
            groq_request: ids::request_id(),
        }
    }

    /// OpenAI with usage, for canned replies.
    pub(crate) fn canned() -> ChatCtx {
        ChatCtx::new(Flavor::OpenAi, "mock-model", true, true)
    }

    /// The id of tool call `index`, in the flavor's format.
    pub(crate) fn call_id(&self, index: usize) -> String {
        match self.flavor {
            Flavor::Mistral => ids::mistral_call_id(),
            Flavor::Groq => ids::groq_call_id(),
            Flavor::Ollama => ids::ollama_call_id(),
            Flavor::Xai => ids::xai_call_id(),
            Flavor::DeepSeek => ids::deepseek_call_id(index),
            Flavor::Vllm => format!("chatcmpl-tool-{}", ids::hex(32)),
            Flavor::OpenAi | Flavor::OpenRouter | Flavor::Azure | Flavor::AzureAi => ids::call_id(),
        }
    }
}

/// Azure's verdicts on the prompt: nothing filtered.
fn prompt_filter_results() -> Value {
    serde_json::json!([{"prompt_index": 0, "content_filter_results": content_filter_results()}])
}

/// Azure's per-category content filter verdicts: all safe.
fn content_filter_results() -> Value {
    let safe = serde_json::json!({"filtered": false, "severity": "safe"});
    serde_json::json!({"hate": safe, "jailbreak": {"filtered": false, "detected": false},
        "self_harm": safe, "sexual": safe, "violence": safe})
}

/// Answers a Chat Completions request to the `flavor` server.
pub(crate) fn handle(flavor: Flavor, raw: &[u8], body: &Value) -> Planned {
    if !body.is_object() {
        return errors::unparsable_body().into();
    }
    if body.get("model").is_none_or(Value::is_null) {
        return errors::missing_parameter("model").into();
    }
    if body.get("messages").is_none_or(Value::is_null) {
        return errors::missing_parameter("messages").into();
    }
    if let Some(rejection) = flavor.check(body, raw) {
        return rejection.into();
    }
    let req = match ChatRequest::deserialize(body) {
        Ok(req) => req,
        Err(err) => {
            let message = format!("Invalid request body: {err}");
            return errors::openai(400, &message, "invalid_request_error", None, None).into();
        }
    };
    let turn = Turn::from_chat(&req);
    let directives = Directives::parse(&turn.user_text);
    let delay = directives.slow.unwrap_or_default();
    let request_id = errors::request_id_header();
    if let Some(code) = &directives.error {
        let reply = errors::directive_error(flavor.dialect(), code, &req.model)
            .with_header(&request_id.0, &request_id.1);
        return Planned { delay, reply };
    }
    let plan = Plan::decide(&turn, &directives);
    let options = req.stream_options.as_ref();
    let option = |name: &str| options.and_then(|o| o.get(name)).and_then(Value::as_bool);
    let ctx = ChatCtx::new(
        flavor,
        &req.model,
        option("include_usage").unwrap_or(false),
        option("include_obfuscation").unwrap_or(true),
    );
    let mut headers = vec![request_id];
    if matches!(flavor, Flavor::OpenAi | Flavor::Azure) {
        headers.extend(crate::ratelimit::openai(&directives));
    }
    let reply = if req.stream.unwrap_or(false) {
        let content_type = if flavor == Flavor::OpenAi {
            "text/event-stream; charset=utf-8"
        } else {
            "text/event-stream"
        };
        headers.push(("content-type".into(), content_type.into()));
        sse::into_reply(stream(&ctx, &plan), &plan.faults, MALFORMED, headers)
    } else {
        headers.push(("content-type".into(), "application/json".into()));
        let body = serde_json::to_vec(&completion(&ctx, &plan)).unwrap_or_default();
        Reply::Chunks {
            status: 200,
            headers,
            chunks: vec![(Duration::ZERO, Bytes::from(body))],
            then_drop: false,
        }
    };
    Planned { delay, reply }
}

/// The context length vLLM reports beside a count.
const VLLM_MAX_MODEL_LEN: u64 = 32_768;

/// Answers vLLM's `POST /tokenize` (a chat's `messages`, or a `prompt`): the prompt tokens a
/// completion of these messages would report (the mock counts words), with one id per token.
pub(crate) fn tokenize(body: &Value) -> Planned {
    let Some(fields) = body.as_object() else {
        return errors::unparsable_body().into();
    };
    let count = if let Some(prompt) = fields.get("prompt").and_then(Value::as_str) {
        prompt.split_whitespace().count() as u64
    } else {
        if fields.get("messages").is_none_or(Value::is_null) {
            return errors::missing_parameter("messages").into();
        }
        let mut chat = body.clone();
        if chat.get("model").is_none_or(Value::is_null) {
            chat["model"] = Value::String(String::new());
        }
        let req = match ChatRequest::deserialize(&chat) {
            Ok(req) => req,
            Err(err) => {
                let message = format!("Invalid request body: {err}");
                return errors::openai(400, &message, "BadRequestError", None, None).into();
            }
        };
        let turn = Turn::from_chat(&req);
        let directives = Directives::parse(&turn.user_text);
        if let Some(code) = &directives.error {
            return errors::directive_error(Flavor::Vllm.dialect(), code, &req.model).into();
        }
        turn.input_words
    }
    .max(1);
    Reply::json(serde_json::json!({
        "count": count,
        "max_model_len": VLLM_MAX_MODEL_LEN,
        "tokens": (0..count).collect::<Vec<u64>>(),
        "token_strs": null,
    }))
    .into()
}
