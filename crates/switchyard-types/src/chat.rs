//! OpenAI Chat Completions, as spoken upstream to OpenAI-compatible servers.
//!
//! Requests are what switchyard sends; responses and chunks are what it reads, so they accept
//! the deviations of compatible servers (string or array `content`, `reasoning` or
//! `reasoning_content`, tool calls without `index`, `null` details, numbers as strings…).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JsonMap;
use crate::de::{lenient_u64, null_default, opt_string_or_number, string_or_json};

/// `POST /chat/completions` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // field names are the wire names
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ChatTool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<Value>,
    /// Provider-specific parameters (`top_k`, `seed`, `stop`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A chat message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text or parts; `null` on tool-call-only assistant messages.
    #[serde(default)]
    pub content: Option<ChatContent>,
    /// The assistant's refusal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Reasoning to replay to servers that want it back (DeepSeek thinking with tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Tool calls of an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall>>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Message content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChatContent {
    /// Plain text.
    Text(String),
    /// Typed parts.
    Parts(Vec<ChatContentPart>),
}

/// A content part of a chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ChatContentPart {
    /// `{"type":"text","text":…}`.
    #[serde(rename = "text")]
    Text {
        /// The text.
        text: String,
    },
    /// `{"type":"image_url","image_url":{"url":…,"detail":…}}`.
    #[serde(rename = "image_url")]
    ImageUrl {
        /// The image.
        image_url: ChatImageUrl,
    },
    /// `{"type":"file","file":{…}}`.
    #[serde(rename = "file")]
    File {
        /// The file.
        file: ChatFile,
    },
    /// Anything else (Mistral `thinking` parts, audio…).
    #[serde(untagged)]
    Other(Value),
}

/// An image reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatImageUrl {
    /// `https:` or `data:` URL.
    pub url: String,
    /// `low`, `high` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A file reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatFile {
    /// Inline data URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// Provider file id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A tool call in an assistant message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatToolCall {
    /// Call id.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// The call.
    pub function: ChatFunctionCall,
}

fn function_type() -> String {
    "function".into()
}

/// A function call's name and arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatFunctionCall {
    /// Function name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default, deserialize_with = "string_or_json")]
    pub arguments: String,
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatTool {
    /// Always `function`.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// The function.
    pub function: ChatFunctionDef,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatFunctionDef {
    /// Function name.
    pub name: String,
    /// What the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Enforce the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A non-streaming completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatCompletion {
    #[serde(default, deserialize_with = "null_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub model: String,
    #[serde(default, deserialize_with = "null_default")]
    pub choices: Vec<ChatChoice>,
    #[serde(default)]
    pub usage: Option<ChatUsage>,
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A choice of a non-streaming completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default, deserialize_with = "null_default")]
    pub message: ChatDelta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A streamed chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatChunk {
    #[serde(default, deserialize_with = "null_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub model: String,
    #[serde(default, deserialize_with = "null_default")]
    pub choices: Vec<ChatChunkChoice>,
    #[serde(default)]
    pub usage: Option<ChatUsage>,
    /// An in-band error (OpenRouter, OpenAI mid-stream).
    #[serde(default)]
    pub error: Option<Value>,
    /// Groq puts usage here too.
    #[serde(default)]
    pub x_groq: Option<Value>,
}

/// A choice of a streamed chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default, deserialize_with = "null_default")]
    pub delta: ChatDelta,
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Some servers put usage on the choice.
    #[serde(default)]
    pub usage: Option<ChatUsage>,
}

/// A message (non-streaming) or a delta (streaming): the same fields in both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatDelta {
    #[serde(default)]
    pub role: Option<String>,
    /// A string, or (Mistral magistral) an array of `text` / `thinking` parts.
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// DeepSeek, xAI, older vLLM.
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// vLLM (since late 2025), Ollama, Groq, OpenRouter.
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tool_calls: Vec<ChatToolCallDelta>,
}

/// A (fragment of a) tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatToolCallDelta {
    /// Missing on Mistral, which sends whole calls.
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub function: ChatFunctionDelta,
}

/// A fragment of a function call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatFunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    /// A JSON text fragment (an object sent by a lenient server is rendered to text).
    #[serde(default, deserialize_with = "string_or_json")]
    pub arguments: String,
}

/// Token usage as compatible servers report it; which counts include reasoning and cached
/// tokens differs by server (the switchyard crate's `UsageRule` says how).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatUsage {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub prompt_tokens: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub completion_tokens: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_tokens: u64,
    #[serde(default, deserialize_with = "null_default")]
    pub prompt_tokens_details: ChatPromptDetails,
    #[serde(default, deserialize_with = "null_default")]
    pub completion_tokens_details: ChatCompletionDetails,
    /// DeepSeek's cache hits.
    #[serde(default)]
    pub prompt_cache_hit_tokens: Option<u64>,
    /// Azure AI (DeepSeek) puts reasoning tokens at the top level.
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
    /// OpenRouter's provider-reported cost in USD.
    #[serde(default)]
    pub cost: Option<f64>,
    /// OpenRouter: the request ran on the caller's own provider key, so `cost` is only
    /// OpenRouter's fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_byok: Option<bool>,
    /// OpenRouter's breakdown; `upstream_inference_cost` is the provider's own charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_details: Option<serde_json::Value>,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatPromptDetails {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub cached_tokens: u64,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChatCompletionDetails {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub reasoning_tokens: u64,
}

/// An error body as compatible servers send it: nested `{"error":{…}}` or flat
/// `{"object":"error","message":…}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct ChatErrorBody {
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(rename = "type", default, deserialize_with = "opt_string_or_number")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub param: Option<String>,
    /// Mistral's 422 validation details.
    #[serde(default)]
    pub detail: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_chunk_with_empty_choices() {
        let chunk: ChatChunk = serde_json::from_value(json!({"id": "c", "choices": [],
            "usage": {"prompt_tokens": 364, "completion_tokens": 40, "total_tokens": 404,
            "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": null}}))
        .unwrap();
        let usage = chunk.usage.unwrap();
        assert_eq!(usage.prompt_tokens_details.cached_tokens, 4);
        assert_eq!(usage.completion_tokens_details.reasoning_tokens, 0);
    }

    #[test]
    fn mistral_tool_call_without_index_and_type() {
        let chunk: ChatChunk = serde_json::from_value(json!({"choices": [{"delta": {
            "tool_calls": [{"id": "abcDEF123", "function": {"name": "f", "arguments": {"x": 1}}}]},
            "finish_reason": "tool_calls"}]}))
        .unwrap();
        let call = &chunk.choices[0].delta.tool_calls[0];
        assert_eq!(call.index, None);
        assert_eq!(call.function.arguments, r#"{"x":1}"#);
    }

    #[test]
    fn request_skips_absent_fields() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![ChatMessage {
                role: "user".into(),
                content: Some(ChatContent::Text("hi".into())),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(req).unwrap(),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        );
    }
}
