//! Serde types for Anthropic's Messages API, also served by Vertex AI: the request body, the
//! answer and the stream events. References: <https://docs.anthropic.com/en/api/messages> and
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming>.
//!
//! Requests are written with their fields in the order declared here, absent ones left out.
//! Answers are read leniently: unknown fields are ignored, unknown events and block types are
//! kept by name for the decoder to skip, and a field of the wrong type counts as absent.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::providers::translate::claude::{ClaudeBlock, Thinking};
use crate::providers::translate::lenient;

// ----- request ------------------------------------------------------------------------------

/// A `POST /v1/messages` body (`:rawPredict` on Vertex AI).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessagesRequest {
    /// Vertex AI only: the API version, which it reads from the body instead of a header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<&'static str>,
    /// The model (not on Vertex AI, whose URL names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The output cap, thinking included.
    pub max_tokens: u64,
    /// The system prompt, as text blocks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<ContentBlock>,
    /// The conversation, alternating `user` and `assistant` turns.
    pub messages: Vec<Message>,
    /// The tools offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    /// How the model may use them (only sent with tools).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Extended thinking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    /// Sampling temperature, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Who the end user is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Ask for server-sent events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// A turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Whose turn it is.
    pub role: Role,
    /// Its blocks, in order.
    pub content: Vec<ContentBlock>,
}

/// The two roles of `messages` (the system prompt is a field of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The client's turn; also carries tool results.
    User,
    /// The model's turn; also carries tool calls and thinking.
    Assistant,
}

/// A content block of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text (never empty: Anthropic rejects empty text blocks).
        text: String,
        /// Prompt caching, as the client marked it.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
    },
    /// An image.
    Image {
        /// Where its bytes are.
        source: Source,
        /// Prompt caching, as the client marked it.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
    },
    /// A PDF or plain-text document.
    Document {
        /// Where its content is.
        source: Source,
        /// Prompt caching, as the client marked it.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
        /// The file name.
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// A tool call the model made.
    ToolUse {
        /// The call's id.
        id: String,
        /// The tool called.
        name: String,
        /// The arguments, a JSON object.
        input: Value,
    },
    /// The result of a tool call.
    ToolResult {
        /// The id of the call answered.
        tool_use_id: String,
        /// What the tool returned.
        content: ToolResultContent,
        /// Prompt caching, as the client marked it.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
    },
    /// A thinking block the client carried back, sent as it came.
    #[serde(untagged)]
    Thinking(ReplayedThinking),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>, cache_control: Option<Value>) -> ContentBlock {
        ContentBlock::Text {
            text: text.into(),
            cache_control,
        }
    }

    /// The block's `cache_control`, for the kinds of block that take one.
    pub fn cache_control_mut(&mut self) -> Option<&mut Option<Value>> {
        match self {
            ContentBlock::Text { cache_control, .. }
            | ContentBlock::Image { cache_control, .. }
            | ContentBlock::Document { cache_control, .. }
            | ContentBlock::ToolResult { cache_control, .. } => Some(cache_control),
            ContentBlock::ToolUse { .. } | ContentBlock::Thinking(_) => None,
        }
    }

    /// True for a tool result.
    pub fn is_tool_result(&self) -> bool {
        matches!(self, ContentBlock::ToolResult { .. })
    }
}

impl ClaudeBlock for ContentBlock {
    fn calls_tool(&self) -> bool {
        matches!(self, ContentBlock::ToolUse { .. })
    }

    fn is_thinking(&self) -> bool {
        matches!(self, ContentBlock::Thinking(_))
    }
}

/// Where an image's or a document's content is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// Inline bytes.
    Base64 {
        /// The media type.
        media_type: String,
        /// The bytes, base64.
        data: String,
    },
    /// Inline plain text (documents only).
    Text {
        /// Always `text/plain`.
        media_type: String,
        /// The text.
        data: String,
    },
    /// A URL Anthropic fetches.
    Url {
        /// The URL.
        url: String,
    },
}

/// A tool result's content: text, or blocks (text, images, documents).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// Plain text.
    Text(String),
    /// Blocks.
    Blocks(Vec<ContentBlock>),
}

/// A `thinking` or `redacted_thinking` block from an earlier answer, verbatim (Anthropic checks
/// its signature, so not a byte of it may change).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ReplayedThinking(Value);

impl ReplayedThinking {
    /// The block, when `block` is a thinking block.
    pub fn new(block: Value) -> Option<ReplayedThinking> {
        matches!(
            block.get("type").and_then(Value::as_str),
            Some("thinking" | "redacted_thinking")
        )
        .then_some(ReplayedThinking(block))
    }
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDefinition {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its arguments' JSON Schema, an object schema.
    pub input_schema: Value,
    /// Prompt caching, as the client marked it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolChoice {
    /// The mode.
    #[serde(rename = "type")]
    pub kind: ToolChoiceKind,
    /// With [`ToolChoiceKind::Tool`], the tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At most one tool call per turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

impl ToolChoice {
    /// A choice of `kind` (not [`ToolChoiceKind::Tool`]).
    pub fn of(kind: ToolChoiceKind) -> ToolChoice {
        ToolChoice {
            kind,
            name: None,
            disable_parallel_tool_use: None,
        }
    }

    /// The model must call the tool `name`.
    pub fn tool(name: impl Into<String>) -> ToolChoice {
        ToolChoice {
            name: Some(name.into()),
            ..ToolChoice::of(ToolChoiceKind::Tool)
        }
    }
}

/// The modes of `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceKind {
    /// The model decides.
    Auto,
    /// The model calls some tool.
    Any,
    /// The model calls the named tool.
    Tool,
    /// The model calls no tool.
    None,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    /// An opaque id of the end user.
    pub user_id: String,
}

// ----- answer and stream events ---------------------------------------------------------------

/// One streamed event (`type` decides which fields are present).
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `message_start`, `content_block_delta`, `ping`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `message_start`: the message so far.
    #[serde(default)]
    pub message: Option<AnswerMessage>,
    /// `content_block_start`: the block.
    #[serde(default, deserialize_with = "lenient::optional")]
    pub content_block: Option<AnswerBlock>,
    /// `content_block_delta` and `message_delta`: what changed.
    #[serde(default)]
    pub delta: Option<Delta>,
    /// `message_delta`: the usage so far.
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

/// A `message`: the whole answer, or the start of a stream.
#[derive(Debug, Deserialize)]
pub struct AnswerMessage {
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// The content blocks.
    #[serde(default, deserialize_with = "lenient::elements")]
    pub content: Vec<AnswerBlock>,
    /// Why the answer ended.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

/// A content block of an answer, or the start of one in a stream (`type` decides which fields
/// are present).
#[derive(Debug, Default, Deserialize)]
pub struct AnswerBlock {
    /// `text`, `thinking`, `redacted_thinking`, `tool_use`, or a type added later.
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    /// A text block's text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
    /// A thinking block's thinking.
    #[serde(default, deserialize_with = "lenient::string")]
    pub thinking: Option<String>,
    /// A thinking block's signature.
    #[serde(default, deserialize_with = "lenient::string")]
    pub signature: Option<String>,
    /// A redacted thinking block's data.
    #[serde(default, deserialize_with = "lenient::string")]
    pub data: Option<String>,
    /// A tool call's id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    /// The tool called.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// A tool call's arguments (in a complete answer; streams send them as deltas).
    #[serde(default, deserialize_with = "lenient::any")]
    pub input: Option<Value>,
}

/// A `content_block_delta`'s or `message_delta`'s `delta`.
#[derive(Debug, Default, Deserialize)]
pub struct Delta {
    /// `text_delta`, `thinking_delta`, `signature_delta`, `input_json_delta`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// More text.
    #[serde(default)]
    pub text: Option<String>,
    /// More tool call arguments (a piece of JSON text).
    #[serde(default)]
    pub partial_json: Option<String>,
    /// More thinking.
    #[serde(default)]
    pub thinking: Option<String>,
    /// The thinking block's signature.
    #[serde(default)]
    pub signature: Option<String>,
    /// `message_delta`: why the answer ended.
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// Token counts; every field may be missing or `null` in a `message_delta`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens that were neither read from nor written to the cache.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Prompt tokens written to the cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    /// Prompt tokens read from the cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    /// Output tokens, thinking included.
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// The breakdown of the output.
    #[serde(default)]
    pub output_tokens_details: Option<OutputDetails>,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OutputDetails {
    /// Thinking tokens.
    #[serde(default)]
    pub thinking_tokens: Option<u64>,
}
