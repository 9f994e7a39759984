//! Serde types for Chat Completions as the bridge speaks it: the request body as sent upstream,
//! and what the decoder reads. Reference: the OpenAI Chat Completions API reference,
//! <https://platform.openai.com/docs/api-reference/chat>.
//!
//! Messages, tools, answers and chunks are the shared types of [`switchyard_types::chat`]
//! (re-exported here), which also read the deviations of compatible servers. This module adds
//! the typed forms of the request's object fields and of the parts of an answer that vary by
//! server (Mistral's content parts, Groq's usage, in-band errors).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_types::JsonMap;

pub use switchyard_types::chat::{
    ChatChunk, ChatCompletion, ChatContent, ChatContentPart, ChatDelta, ChatFile, ChatFunctionCall,
    ChatFunctionDef, ChatImageUrl, ChatMessage, ChatTool, ChatToolCall, ChatToolCallDelta,
    ChatUsage,
};

use crate::providers::translate::lenient;

// ----- request ------------------------------------------------------------------------------

/// A `POST /chat/completions` body, with its fields in the order they are written.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[allow(missing_docs)] // field names are the wire names
pub struct ChatCompletionsRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ChatTool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ChatToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Provider-specific parameters passed through (`top_k`, `seed`, `stop`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ChatToolChoice {
    /// `"none"` or `"required"` (`"auto"` is the default and never sent).
    Mode(ChatToolMode),
    /// `{"type": "function", "function": {"name": …}}`.
    Function(NamedFunction),
}

/// The string forms of `tool_choice` the bridge sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatToolMode {
    /// Call no tool.
    None,
    /// Call some tool.
    Required,
}

/// A `tool_choice` naming the function to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "function")]
pub struct NamedFunction {
    /// The function.
    pub function: FunctionName,
}

/// `{"name": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionName {
    /// The function's name.
    pub name: String,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// JSON that matches a schema.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaSpec,
    },
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonSchemaSpec {
    /// The schema's name.
    pub name: String,
    /// The JSON Schema.
    pub schema: Value,
    /// Enforce the schema exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// What the output is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `stream_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamOptions {
    /// Send the usage in a last chunk.
    pub include_usage: bool,
}

// ----- answer -------------------------------------------------------------------------------

/// A part of an array `content` (Mistral's reasoning models).
#[derive(Debug, Default, Deserialize)]
pub struct ContentPart {
    /// `text`, `thinking`, or another type (skipped).
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    /// A `text` part's text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
    /// A `thinking` part's texts.
    #[serde(default, deserialize_with = "lenient::list")]
    pub thinking: Vec<ThinkingText>,
}

/// One text of a `thinking` part.
#[derive(Debug, Default, Deserialize)]
pub struct ThinkingText {
    /// The text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
}

/// Groq's `x_groq`, which may carry the usage.
#[derive(Debug, Default, Deserialize)]
pub struct GroqExtras {
    /// The usage, when Groq puts it here.
    #[serde(default)]
    pub usage: Option<ChatUsage>,
}
