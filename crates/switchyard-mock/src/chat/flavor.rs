//! Which Chat Completions server a path imitates, and the request checks each one enforces
//! (as each vendor documents them).

use serde_json::{Value, json};

use crate::errors::{self, Dialect};
use crate::reply::Reply;

/// A Chat Completions server family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    OpenAi,
    Mistral,
    DeepSeek,
    Groq,
    Ollama,
    Vllm,
    OpenRouter,
    Xai,
    /// Azure OpenAI deployments (`/openai/deployments/{name}/chat/completions`): a first chunk
    /// with empty `choices` carrying prompt filter results, content filter results on choices.
    Azure,
    /// Azure AI Foundry model inference (`/models/chat/completions`): OpenAI's schema with
    /// `reasoning_content` and usage on a final empty-choices chunk.
    AzureAi,
}

impl Flavor {
    /// The flavor served at `path` (which ends in `/chat/completions`), chosen by its first
    /// segment; anything unrecognised behaves like OpenAI.
    pub(crate) fn from_path(path: &str) -> Flavor {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        match first {
            "mistral" => Flavor::Mistral,
            "deepseek" => Flavor::DeepSeek,
            "groq" => Flavor::Groq,
            "ollama" => Flavor::Ollama,
            "vllm" => Flavor::Vllm,
            "openrouter" => Flavor::OpenRouter,
            "xai" => Flavor::Xai,
            "openai" => Flavor::Azure,
            "models" => Flavor::AzureAi,
            _ => Flavor::OpenAi,
        }
    }

    /// The envelope of this server's HTTP errors.
    pub(crate) fn dialect(self) -> Dialect {
        match self {
            Flavor::OpenAi | Flavor::Xai | Flavor::AzureAi => Dialect::OpenAi,
            Flavor::Azure => Dialect::Azure,
            Flavor::Mistral => Dialect::Mistral,
            Flavor::DeepSeek => Dialect::DeepSeek,
            Flavor::Groq => Dialect::Groq,
            Flavor::Ollama => Dialect::Ollama,
            Flavor::Vllm => Dialect::Vllm,
            Flavor::OpenRouter => Dialect::OpenRouter,
        }
    }

    /// Whether tool calls arrive whole in one chunk rather than as argument fragments.
    pub(crate) fn whole_tool_calls(self) -> bool {
        matches!(
            self,
            Flavor::Mistral | Flavor::Groq | Flavor::Ollama | Flavor::Xai
        )
    }

    /// Rejects what this server rejects; `raw` is the request body as sent (for error
    /// positions).
    pub(crate) fn check(self, body: &Value, raw: &[u8]) -> Option<Reply> {
        match self {
            Flavor::Mistral => mistral_extra_fields(body).or_else(|| mistral_tool_ids(body)),
            Flavor::Groq => groq_unknown_property(body),
            Flavor::DeepSeek => deepseek_developer_role(body, raw).or_else(|| {
                let kind = body
                    .pointer("/response_format/type")
                    .and_then(Value::as_str);
                (kind == Some("json_schema")).then(|| {
                    errors::openai(
                        400,
                        "This response_format type is unavailable now",
                        "invalid_request_error",
                        None,
                        Some("invalid_request_error"),
                    )
                })
            }),
            _ => None,
        }
    }
}

/// Top-level fields Mistral's chat endpoint accepts; anything else is `extra_forbidden`.
const MISTRAL_FIELDS: &[&str] = &[
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "prediction",
    "parallel_tool_calls",
    "prompt_mode",
    "safe_prompt",
    "reasoning_effort",
    "prompt_cache_key",
];

/// Message fields Mistral accepts, by role.
fn mistral_message_fields(role: &str) -> &'static [&'static str] {
    match role {
        "assistant" => &["role", "content", "tool_calls", "prefix"],
        "tool" => &["role", "content", "tool_call_id", "name"],
        _ => &["role", "content"],
    }
}

/// Mistral (pydantic) lists every forbidden field in one 422.
fn mistral_extra_fields(body: &Value) -> Option<Reply> {
    let object = body.as_object()?;
    let mut detail = Vec::new();
    let mut forbid = |loc: Value, input: &Value| {
        detail.push(json!({"type": "extra_forbidden", "loc": loc,
            "msg": "Extra inputs are not permitted", "input": input}));
    };
    for (key, value) in object {
        if !MISTRAL_FIELDS.contains(&key.as_str()) {
            forbid(json!(["body", key]), value);
        }
    }
    let messages = object.get("messages").and_then(Value::as_array);
    for (i, message) in messages.into_iter().flatten().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user");
        let allowed = mistral_message_fields(role);
        for (key, value) in message.as_object().into_iter().flatten() {
            if !allowed.contains(&key.as_str()) {
                forbid(json!(["body", "messages", i, role, key]), value);
            }
        }
    }
    if detail.is_empty() {
        return None;
    }
    Some(Reply::error(
        422,
        json!({"object": "error", "message": {"detail": detail},
            "type": "invalid_request_message_error", "param": null, "code": null}),
    ))
}

/// Mistral only takes back tool call ids of exactly nine `[a-zA-Z0-9]`.
fn mistral_tool_ids(body: &Value) -> Option<Reply> {
    let valid = |id: &str| id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    let messages = body.get("messages")?.as_array()?;
    let ids = messages.iter().flat_map(|m| {
        let calls = m.get("tool_calls").and_then(Value::as_array);
        let call_ids = calls
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("id").and_then(Value::as_str));
        call_ids.chain(m.get("tool_call_id").and_then(Value::as_str))
    });
    for id in ids {
        if !valid(id) {
            return Some(Reply::error(
                400,
                json!({"object": "error",
                    "message": format!("Tool call id was {id} but must be a-z, A-Z, 0-9, with a length of 9."),
                    "type": "invalid_request_message_error", "param": null, "code": null}),
            ));
        }
    }
    None
}

/// Top-level properties Groq's chat endpoint accepts.
const GROQ_FIELDS: &[&str] = &[
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "stop",
    "seed",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "service_tier",
    "reasoning_effort",
    "reasoning_format",
    "include_reasoning",
    "search_settings",
    "documents",
    "citation_options",
    "disable_tool_validation",
    "function_call",
    "functions",
];

fn groq_unknown_property(body: &Value) -> Option<Reply> {
    let unknown = body
        .as_object()?
        .keys()
        .find(|k| !GROQ_FIELDS.contains(&k.as_str()))?;
    Some(Reply::error(
        400,
        json!({"error": {"message": format!("property '{unknown}' is unsupported"),
            "type": "invalid_request_error"}}),
    ))
}

/// DeepSeek deserialises roles strictly (serde's wording, with the position in the body).
fn deepseek_developer_role(body: &Value, raw: &[u8]) -> Option<Reply> {
    let messages = body.get("messages")?.as_array()?;
    let index = messages
        .iter()
        .position(|m| m.get("role").and_then(Value::as_str) == Some("developer"))?;
    let (line, column) = position_after(raw, b"\"developer\"");
    let message = format!(
        "Failed to deserialize the JSON body into the target type: messages[{index}].role: \
         unknown variant `developer`, expected one of `system`, `user`, `assistant`, `tool`, \
         `latest_reminder` at line {line} column {column}"
    );
    Some(errors::openai(
        400,
        &message,
        "invalid_request_error",
        None,
        Some("invalid_request_error"),
    ))
}

/// 1-based line and column just past the first occurrence of `needle` in `raw`.
fn position_after(raw: &[u8], needle: &[u8]) -> (usize, usize) {
    let end = raw
        .windows(needle.len())
        .position(|w| w == needle)
        .map_or(raw.len(), |at| at + needle.len());
    let before = &raw[..end];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, end - line_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(reply: Reply) -> (u16, Value) {
        match reply {
            Reply::Json { status, body, .. } => (status, body),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn routes() {
        assert_eq!(
            Flavor::from_path("/mistral/v1/chat/completions"),
            Flavor::Mistral
        );
        assert_eq!(
            Flavor::from_path("/groq/openai/v1/chat/completions"),
            Flavor::Groq
        );
        assert_eq!(Flavor::from_path("/v1/chat/completions"), Flavor::OpenAi);
        assert_eq!(
            Flavor::from_path("/anything/chat/completions"),
            Flavor::OpenAi
        );
    }

    #[test]
    fn mistral_lists_every_extra_field() {
        let body = json!({"model": "m", "stream_options": {"include_usage": true}, "user": "u",
            "messages": [{"role": "assistant", "content": "x", "reasoning_content": "r"}]});
        let (status, body) = body_of(Flavor::Mistral.check(&body, b"").unwrap());
        assert_eq!(status, 422);
        let detail = body["message"]["detail"].as_array().unwrap();
        assert_eq!(detail.len(), 3);
        assert_eq!(detail[0]["type"], "extra_forbidden");
        assert_eq!(detail[0]["loc"], json!(["body", "stream_options"]));
        assert_eq!(
            detail[2]["loc"],
            json!(["body", "messages", 0, "assistant", "reasoning_content"])
        );
    }

    #[test]
    fn mistral_tool_ids_must_be_nine_alphanumerics() {
        let ok = json!({"model": "m", "messages": [
            {"role": "assistant", "content": null, "tool_calls": [{"id": "abcDEF123",
                "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "abcDEF123", "content": "x"}]});
        assert!(Flavor::Mistral.check(&ok, b"").is_none());
        let bad = json!({"model": "m", "messages": [
            {"role": "tool", "tool_call_id": "call_123", "content": "x"}]});
        let (status, body) = body_of(Flavor::Mistral.check(&bad, b"").unwrap());
        assert_eq!(status, 400);
        assert_eq!(
            body["message"],
            "Tool call id was call_123 but must be a-z, A-Z, 0-9, with a length of 9."
        );
    }

    #[test]
    fn groq_and_deepseek() {
        let (status, body) = body_of(
            Flavor::Groq
                .check(&json!({"model": "m", "store": true}), b"")
                .unwrap(),
        );
        assert_eq!(status, 400);
        assert_eq!(body["error"]["message"], "property 'store' is unsupported");
        let raw = br#"{"model":"m","messages":[{"role":"developer","content":"x"}]}"#;
        let body: Value = serde_json::from_slice(raw).unwrap();
        let (status, body) = body_of(Flavor::DeepSeek.check(&body, raw).unwrap());
        assert_eq!(status, 400);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("unknown variant `developer`"), "{message}");
        assert!(message.ends_with("line 1 column 44"), "{message}");
        let schema = json!({"model": "m", "messages": [],
            "response_format": {"type": "json_schema"}});
        let (_, body) = body_of(Flavor::DeepSeek.check(&schema, b"").unwrap());
        assert_eq!(
            body["error"]["message"],
            "This response_format type is unavailable now"
        );
    }
}
