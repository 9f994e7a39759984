//! Serde types for the Bedrock Converse API: the `Converse` / `ConverseStream` request body,
//! the `Converse` answer and the payloads of the `ConverseStream` events. References: the AWS
//! Bedrock Converse API reference,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>, and
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>.
//!
//! Requests are written in camelCase with their fields in the order declared here, absent ones
//! left out. Answers are read leniently: unknown fields are ignored (stream payloads carry a
//! random `p` padding field), and a field of the wrong type counts as absent.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::providers::translate::claude::{ClaudeBlock, Thinking};
use crate::providers::translate::lenient;

// ----- request ------------------------------------------------------------------------------

/// A `Converse` / `ConverseStream` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest {
    /// The conversation, alternating `user` and `assistant` turns.
    pub messages: Vec<Message>,
    /// The system prompt, as text blocks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<ContentBlock>,
    /// Limits and sampling.
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    pub inference_config: InferenceConfig,
    /// Fields in the model's own format (Claude's `thinking`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<AdditionalModelRequestFields>,
    /// The tools offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    /// The processing tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<ServiceTier>,
}

/// A turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Whose turn it is.
    pub role: Role,
    /// Its blocks, in order.
    pub content: Vec<ContentBlock>,
}

/// The two roles of `messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The client's turn; also carries tool results.
    User,
    /// The model's turn; also carries tool calls and reasoning.
    Assistant,
}

/// A content block: an object with one key naming what it holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContentBlock {
    /// Text (never blank: Converse refuses blank text blocks).
    Text(String),
    /// An image.
    Image(ImageBlock),
    /// A document.
    Document(DocumentBlock),
    /// A tool call the model made.
    ToolUse(ToolUseBlock),
    /// The result of a tool call.
    ToolResult(ToolResultBlock),
    /// The model's reasoning, replayed.
    ReasoningContent(ReasoningBlock),
}

impl ContentBlock {
    /// True for a tool call or a tool result (which Converse accepts only with a `toolConfig`).
    pub fn is_tool_block(&self) -> bool {
        matches!(self, ContentBlock::ToolUse(_) | ContentBlock::ToolResult(_))
    }

    /// True for text that is only white space.
    pub fn is_blank_text(&self) -> bool {
        matches!(self, ContentBlock::Text(text) if text.trim().is_empty())
    }
}

impl ClaudeBlock for ContentBlock {
    fn calls_tool(&self) -> bool {
        matches!(self, ContentBlock::ToolUse(_))
    }

    fn is_thinking(&self) -> bool {
        matches!(self, ContentBlock::ReasoningContent(_))
    }
}

/// `image`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageBlock {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: &'static str,
    /// Where its bytes are.
    pub source: MediaSource,
}

/// `document`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentBlock {
    /// `pdf`, `csv`, `docx`, …
    pub format: &'static str,
    /// A name in the characters Converse allows.
    pub name: String,
    /// Where its bytes are.
    pub source: MediaSource,
}

/// Where an image's or a document's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MediaSource {
    /// Inline, base64.
    Bytes(String),
    /// An S3 object.
    S3Location {
        /// `s3://bucket/key`.
        uri: String,
    },
}

/// `toolUse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock {
    /// The call's id.
    pub tool_use_id: String,
    /// The tool called.
    pub name: String,
    /// The arguments, a JSON object.
    pub input: Value,
}

/// `toolResult`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock {
    /// The id of the call answered.
    pub tool_use_id: String,
    /// What the tool returned (text, images, documents).
    pub content: Vec<ContentBlock>,
    /// Always `success`: the Responses API has no failed tool results.
    pub status: &'static str,
}

/// `reasoningContent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasoningBlock {
    /// Reasoning text and the signature that covers it.
    ReasoningText {
        /// The text.
        text: String,
        /// Its signature.
        signature: String,
    },
    /// Redacted reasoning, base64, as it came.
    RedactedContent(String),
}

/// `inferenceConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig {
    /// The output cap (thinking included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences, as the client sent them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<Value>,
}

impl InferenceConfig {
    /// True when nothing is set (the field is then left out).
    pub fn is_empty(&self) -> bool {
        *self == InferenceConfig::default()
    }
}

/// `additionalModelRequestFields` for Claude models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AdditionalModelRequestFields {
    /// Extended thinking.
    pub thinking: Thinking,
}

/// `toolConfig`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// The tools.
    pub tools: Vec<Tool>,
    /// How the model may use them (`auto` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
}

/// A tool of `toolConfig.tools`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Tool {
    /// A function the model may call.
    ToolSpec(ToolSpec),
}

impl Tool {
    /// The tool's name.
    pub fn name(&self) -> &str {
        match self {
            Tool::ToolSpec(spec) => &spec.name,
        }
    }
}

/// `toolSpec`. The client's tools have always been written with their description after the
/// schema and the gateway's own tools with it before; [`ToolSpec::description_first`] keeps
/// both orders, so request bodies stay byte for byte what they were.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// Its arguments' JSON Schema (sent as `inputSchema.json`).
    pub input_schema: Value,
    /// Write `description` before `inputSchema`.
    pub description_first: bool,
}

impl Serialize for ToolSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct InputSchema<'a> {
            json: &'a Value,
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        let description = self.description.as_ref();
        if let Some(description) = description.filter(|_| self.description_first) {
            map.serialize_entry("description", description)?;
        }
        map.serialize_entry(
            "inputSchema",
            &InputSchema {
                json: &self.input_schema,
            },
        )?;
        if let Some(description) = description.filter(|_| !self.description_first) {
            map.serialize_entry("description", description)?;
        }
        map.end()
    }
}

/// `toolChoice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolChoice {
    /// The model calls some tool.
    Any(Empty),
    /// The model calls the named tool.
    Tool {
        /// The tool.
        name: String,
    },
}

/// `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// `serviceTier`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceTier {
    /// `default`, `flex` or `priority`.
    #[serde(rename = "type")]
    pub kind: String,
}

// ----- answer and stream events ---------------------------------------------------------------

/// A `Converse` answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    /// The output.
    #[serde(default, deserialize_with = "lenient::present")]
    pub output: Option<Output>,
    /// Why the answer ended.
    #[serde(default, deserialize_with = "lenient::string")]
    pub stop_reason: Option<String>,
    /// Token counts, read by [`converse_usage`](super::response::converse_usage).
    #[serde(default, deserialize_with = "lenient::any")]
    pub usage: Option<Value>,
}

/// `output`.
#[derive(Debug, Default, Deserialize)]
pub struct Output {
    /// The model's message.
    #[serde(default, deserialize_with = "lenient::present")]
    pub message: Option<OutputMessage>,
}

/// `output.message`.
#[derive(Debug, Default, Deserialize)]
pub struct OutputMessage {
    /// Its blocks; absent means the answer is malformed.
    #[serde(default, deserialize_with = "lenient::list_or_none")]
    pub content: Option<Vec<AnswerBlock>>,
}

/// A content block of an answer: one of the fields is set.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerBlock {
    /// Text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
    /// Reasoning.
    #[serde(default, deserialize_with = "lenient::present")]
    pub reasoning_content: Option<AnswerReasoning>,
    /// A tool call.
    #[serde(default, deserialize_with = "lenient::present")]
    pub tool_use: Option<AnswerToolUse>,
}

/// `reasoningContent` of an answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerReasoning {
    /// The reasoning text and its signature.
    #[serde(default, deserialize_with = "lenient::present")]
    pub reasoning_text: Option<ReasoningText>,
    /// Redacted reasoning.
    #[serde(default, deserialize_with = "lenient::string")]
    pub redacted_content: Option<String>,
}

/// `reasoningText`.
#[derive(Debug, Default, Deserialize)]
pub struct ReasoningText {
    /// The text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
    /// Its signature.
    #[serde(default, deserialize_with = "lenient::string")]
    pub signature: Option<String>,
}

/// `toolUse` of an answer, or of a `contentBlockStart`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerToolUse {
    /// The call's id.
    #[serde(default, deserialize_with = "lenient::string")]
    pub tool_use_id: Option<String>,
    /// The tool called.
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    /// The arguments (an object in an answer; absent at a stream's block start).
    #[serde(default)]
    pub input: Option<Value>,
}

/// The payload of a stream event (the event type decides which fields are present).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    /// The block the event is about.
    #[serde(default, deserialize_with = "lenient::count")]
    pub content_block_index: Option<u64>,
    /// `contentBlockStart`: what starts.
    #[serde(default, deserialize_with = "lenient::present")]
    pub start: Option<BlockStart>,
    /// `contentBlockDelta`: what the block gains.
    #[serde(default, deserialize_with = "lenient::present")]
    pub delta: Option<BlockDelta>,
    /// `messageStop`: why the answer ended.
    #[serde(default, deserialize_with = "lenient::string")]
    pub stop_reason: Option<String>,
    /// `metadata`: token counts, read by
    /// [`converse_usage`](super::response::converse_usage).
    #[serde(default, deserialize_with = "lenient::any")]
    pub usage: Option<Value>,
}

/// `contentBlockStart.start`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStart {
    /// A tool call starts.
    #[serde(default, deserialize_with = "lenient::present")]
    pub tool_use: Option<AnswerToolUse>,
}

/// `contentBlockDelta.delta`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockDelta {
    /// More text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
    /// More reasoning.
    #[serde(default, deserialize_with = "lenient::present")]
    pub reasoning_content: Option<ReasoningDelta>,
    /// More tool call arguments.
    #[serde(default, deserialize_with = "lenient::present")]
    pub tool_use: Option<ToolUseDelta>,
}

/// `delta.reasoningContent`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningDelta {
    /// More reasoning text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub text: Option<String>,
    /// The signature (arrives in pieces).
    #[serde(default, deserialize_with = "lenient::string")]
    pub signature: Option<String>,
    /// Redacted reasoning (base64).
    #[serde(default, deserialize_with = "lenient::string")]
    pub redacted_content: Option<String>,
}

/// `delta.toolUse`.
#[derive(Debug, Default, Deserialize)]
pub struct ToolUseDelta {
    /// A piece of the arguments' JSON text.
    #[serde(default, deserialize_with = "lenient::string")]
    pub input: Option<String>,
}
