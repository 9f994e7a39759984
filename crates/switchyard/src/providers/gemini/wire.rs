//! Serde types for the Gemini `generateContent` wire format, shared by the Gemini API and Vertex
//! AI (the Google Gemini API reference, <https://ai.google.dev/api/generate-content>). Requests
//! are written in camelCase; responses are read leniently (every field optional, unknown fields
//! kept where they could matter).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_types::JsonMap;

/// A `generateContent` / `streamGenerateContent` request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    /// The conversation, alternating `user` and `model` turns.
    pub contents: Vec<Content>,
    /// The system prompt (its role is ignored upstream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    /// Function declarations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDeclarations>,
    /// `functionCallingConfig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    /// Sampling, limits, output format and thinking.
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    pub generation_config: GenerationConfig,
}

/// One turn: a role and its parts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// `user` or `model` (absent in `systemInstruction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The parts, in order.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// One part of a turn. Exactly one of the data fields is set; `thought` and `thoughtSignature`
/// qualify it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Text (a thought summary when `thought` is true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The text is a thought summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// The opaque signature of the model's thinking, to be sent back on the same part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
    /// Inline bytes (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Blob>,
    /// A file by URI (`gs://`, Files API, https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData>,
    /// A call the model makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    /// The result of a call, sent by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_response: Option<FunctionResponse>,
    /// Anything else (`executableCode`, `videoMetadata`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Part {
        Part {
            text: Some(text.into()),
            ..Part::default()
        }
    }
}

/// Inline bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    /// The media type.
    pub mime_type: String,
    /// Base64 bytes.
    pub data: String,
}

/// A file referenced by URI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    /// The media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The URI.
    pub file_uri: String,
}

/// `functionCall`: arguments are a JSON object, ids are usually absent (Gemini 3 may send one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCall {
    /// The upstream's call id, when it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function's name.
    #[serde(default)]
    pub name: String,
    /// The arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// `functionResponse`: `response` must be a JSON object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponse {
    /// The id of the call answered, when the call had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function's name (how Gemini matches a result to its call).
    pub name: String,
    /// The result.
    pub response: Value,
}

/// One entry of `tools`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDeclarations {
    /// The functions offered.
    pub function_declarations: Vec<FunctionDeclaration>,
}

/// A function offered to the model; its parameters are given as JSON Schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    /// The name.
    pub name: String,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The arguments' JSON Schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_json_schema: Option<Value>,
}

/// `toolConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// How the model may call functions.
    pub function_calling_config: FunctionCallingConfig,
}

/// `functionCallingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    /// `AUTO`, `ANY` or `NONE`.
    pub mode: String,
    /// With `ANY` (or `AUTO`), the only functions the model may call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_function_names: Vec<String>,
}

/// `generationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    /// Output token cap (thinking included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Sampling seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// `application/json` for structured output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<String>,
    /// The output's JSON Schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<Value>,
    /// Thinking budget or level, and whether thought summaries come back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig {
    /// True when nothing is set (the field is then left out).
    pub fn is_empty(&self) -> bool {
        *self == GenerationConfig::default()
    }
}

/// `thinkingConfig`: a token budget (Gemini 2.5) or a level (Gemini 3).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    /// Return thought summaries as `thought: true` parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_thoughts: Option<bool>,
    /// Thinking tokens allowed (0 turns thinking off where the model allows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<i64>,
    /// `MINIMAL`, `LOW`, `MEDIUM` or `HIGH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_level: Option<String>,
}

/// A `generateContent` answer, or one chunk of a stream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    /// The candidates (switchyard asks for one).
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Why the prompt was blocked, if it was.
    #[serde(default)]
    pub prompt_feedback: Option<PromptFeedback>,
    /// Token counts (cumulative in streams; Vertex sends them only on the last chunk).
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    /// The model that answered.
    #[serde(default)]
    pub model_version: Option<String>,
    /// The upstream's response id.
    #[serde(default)]
    pub response_id: Option<String>,
    /// An in-band error (`google.rpc.Status`).
    #[serde(default)]
    pub error: Option<Value>,
}

/// One candidate answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The model's turn so far.
    #[serde(default)]
    pub content: Option<Content>,
    /// Set on the candidate's last chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Human-readable detail about the finish.
    #[serde(default)]
    pub finish_message: Option<String>,
    /// The candidate's index.
    #[serde(default)]
    pub index: Option<u32>,
}

/// `promptFeedback`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    /// `SAFETY`, `BLOCKLIST`, `PROHIBITED_CONTENT`, …
    #[serde(default)]
    pub block_reason: Option<String>,
}

/// `usageMetadata`; every count may be missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// All prompt tokens, cached ones included.
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    /// Prompt tokens read from the context cache.
    #[serde(default)]
    pub cached_content_token_count: Option<u64>,
    /// Answer tokens, thoughts excluded.
    #[serde(default)]
    pub candidates_token_count: Option<u64>,
    /// Thinking tokens.
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
    /// Tokens of tool-use prompts (built-in tools).
    #[serde(default)]
    pub tool_use_prompt_token_count: Option<u64>,
    /// The total.
    #[serde(default)]
    pub total_token_count: Option<u64>,
}

impl UsageMetadata {
    /// Lays the counts present in `newer` over these ones (streams repeat cumulative counts;
    /// Vertex's intermediate chunks carry none).
    pub fn merge(&mut self, newer: &UsageMetadata) {
        let take = |old: &mut Option<u64>, new: Option<u64>| {
            if new.is_some() {
                *old = new;
            }
        };
        take(&mut self.prompt_token_count, newer.prompt_token_count);
        take(
            &mut self.cached_content_token_count,
            newer.cached_content_token_count,
        );
        take(
            &mut self.candidates_token_count,
            newer.candidates_token_count,
        );
        take(&mut self.thoughts_token_count, newer.thoughts_token_count);
        take(
            &mut self.tool_use_prompt_token_count,
            newer.tool_use_prompt_token_count,
        );
        take(&mut self.total_token_count, newer.total_token_count);
    }

    /// True when some count was reported.
    pub fn has_counts(&self) -> bool {
        *self != UsageMetadata::default()
    }
}
