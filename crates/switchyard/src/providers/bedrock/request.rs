//! Responses request → Bedrock Converse request.
//!
//! Decisions where Converse has no direct equivalent (the README repeats them):
//! * image URLs: Converse takes only inline bytes (or `s3://` locations); providers do no I/O,
//!   so an `http(s)` image URL is refused with a 400 naming the part (dropped with
//!   `drop_params`); `data:` URLs become bytes and `s3://` URLs an `s3Location`;
//! * `tool_choice: none`: Converse has no such mode, so tools are left out of the request —
//!   unless the history holds tool calls, which Converse accepts only with a `toolConfig`; then
//!   the tools stay offered with `auto`, the closest mode there is;
//! * structured output (`json_schema`, `json_object`): the forced-tool technique, as LiteLLM
//!   does. A tool `json_tool_call` whose input schema is the requested schema is offered and
//!   forced (when no thinking is requested, since Claude refuses forced tools with thinking);
//!   its input comes back to the client as the message text;
//! * `reasoning.effort` on Claude models: `additionalModelRequestFields.thinking` with a token
//!   budget, under Claude's rules ([`translate::claude`](crate::providers::translate::claude));
//!   other model families get a 400 naming `reasoning.effort` (dropped with `drop_params`),
//!   since Converse has no portable reasoning switch.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_types::responses::{
    ContentPart, CreateResponse, InputFilePart, InputImagePart, MessageContent, MessageItem, Role,
    TextFormat, ToolOutput,
};

use super::super::gate::Gate;
use super::wire::{
    self, AdditionalModelRequestFields, ContentBlock, ConverseRequest, DocumentBlock, Empty,
    ImageBlock, InferenceConfig, MediaSource, Message, ReasoningBlock, ServiceTier, ToolConfig,
    ToolResultBlock, ToolSpec, ToolUseBlock,
};
use crate::error::Error;
use crate::providers::base64_data_url;
use crate::providers::opaque;
use crate::providers::translate::ToolNames;
use crate::providers::translate::claude::{self, MIN_THINKING_BUDGET, Sampling, Thinking};
use crate::providers::translate::content::plain_text;
use crate::providers::translate::history::{CallInput, HistoryItem, ReplayedCall, read_item};
use crate::providers::translate::ids::{ToolIdRule, chat_call_id};
use crate::providers::translate::json_value;
use crate::providers::translate::tool_choice::{Choice, requested_choice};
use crate::providers::translate::tools::{custom_tool_arguments, offered_functions};

pub use crate::providers::translate::tools::{JSON_TOOL, ToolMap};

/// The tag of Bedrock's opaque reasoning blobs.
pub const BLOB_TAG: &str = "bedrock";
/// The label used in error messages.
pub const LABEL: &str = "Bedrock Converse";

/// What the decoder must know about the request it answers: the tool names that map back to
/// custom or namespaced tools, and whether structured output travels through [`JSON_TOOL`].
pub type ConverseContext = ToolMap;

/// A Bedrock reasoning block carried through the client in `encrypted_content`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningBlob {
    /// The reasoning text the signature covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The signature of `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// A redacted block (base64), sent back as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
}

impl ReasoningBlob {
    /// The Converse `reasoningContent` block this blob restores, when it can be replayed.
    fn block(&self) -> Option<ContentBlock> {
        let reasoning = if let Some(redacted) = &self.redacted {
            ReasoningBlock::RedactedContent(redacted.clone())
        } else {
            ReasoningBlock::ReasoningText {
                text: self.text.clone().unwrap_or_default(),
                signature: self.signature.clone()?,
            }
        };
        Some(ContentBlock::ReasoningContent(reasoning))
    }
}

/// Where the translated request goes.
#[derive(Debug, Clone, Copy)]
pub struct ConverseTarget<'a> {
    /// The upstream model id (decides the reasoning dialect).
    pub model: &'a str,
    /// Drop unsupported parameters instead of refusing.
    pub drop_params: bool,
}

impl ConverseTarget<'_> {
    /// Anthropic Claude models take `thinking` through `additionalModelRequestFields`.
    pub fn is_claude(&self) -> bool {
        self.model.to_ascii_lowercase().contains("claude")
    }
}

/// Room left for the answer when the client sets no `max_output_tokens`.
const ANSWER_ROOM: u64 = 4096;

/// Translates `req` into the JSON body; also returns what the decoder needs.
pub fn to_converse(
    req: &CreateResponse,
    target: &ConverseTarget,
) -> Result<(Value, ConverseContext), Error> {
    let (body, ctx) = converse_request(req, target)?;
    Ok((json_value(&body)?, ctx))
}

/// Translates `req`; also returns what the decoder needs.
pub fn converse_request(
    req: &CreateResponse,
    target: &ConverseTarget,
) -> Result<(ConverseRequest, ConverseContext), Error> {
    let gate = Gate {
        label: LABEL,
        drop_params: target.drop_params,
    };
    refuse_unsupported(req, &gate)?;
    let (system, messages) = conversation(req, &gate)?;
    let budget = thinking_budget(req, target, &messages, &gate)?;
    let (inference_config, budget) = inference_config(req, target, budget, &gate)?;
    let (tool_config, ctx) = tool_config(req, budget.is_some(), &messages, &gate)?;
    let service_tier = service_tier(req, &gate)?;
    let body = ConverseRequest {
        messages,
        system,
        inference_config,
        additional_model_request_fields: budget.map(|budget_tokens| AdditionalModelRequestFields {
            thinking: Thinking { budget_tokens },
        }),
        tool_config,
        service_tier,
    };
    Ok((body, ctx))
}

/// Parameters Converse has no equivalent for.
fn refuse_unsupported(req: &CreateResponse, gate: &Gate) -> Result<(), Error> {
    gate.refuse_state(req)?;
    gate.output_options(req)?;
    gate.penalties(req)?;
    Ok(())
}

/// The thinking budget `reasoning.effort` asks for: Claude's, which is left off when the
/// replayed tool call lacks its reasoning block; other models have no reasoning switch.
fn thinking_budget(
    req: &CreateResponse,
    target: &ConverseTarget,
    messages: &[Message],
    gate: &Gate,
) -> Result<Option<u64>, Error> {
    let Some(effort) = req.reasoning.as_ref().and_then(|r| r.effort.as_deref()) else {
        return Ok(None);
    };
    if !target.is_claude() {
        if effort != "none" {
            gate.unsupported("reasoning.effort")?;
        }
        return Ok(None);
    }
    let budget = claude::thinking_budget(effort, target.model, gate)?;
    let last_assistant = messages
        .iter()
        .rev()
        .find(|m| m.role == wire::Role::Assistant);
    let replayed = last_assistant.map(|m| m.content.as_slice());
    Ok(budget.filter(|_| claude::replay_allows_thinking(replayed, LABEL)))
}

/// `inferenceConfig`, and the thinking budget that fits its `maxTokens` (which includes it).
fn inference_config(
    req: &CreateResponse,
    target: &ConverseTarget,
    mut budget: Option<u64>,
    gate: &Gate,
) -> Result<(InferenceConfig, Option<u64>), Error> {
    let max_tokens = match (budget, req.max_output_tokens) {
        (Some(b), Some(max)) => {
            if max <= MIN_THINKING_BUDGET {
                gate.unsupported("reasoning.effort (max_output_tokens leaves no room for the minimum thinking budget of 1024 tokens)")?;
                budget = None;
            } else {
                budget = Some(b.min(max - 1));
            }
            Some(max)
        }
        (Some(b), None) => Some(b + ANSWER_ROOM),
        (None, max) => max,
    };
    let mut sampling = Sampling::of(req);
    if target.is_claude() {
        if budget.is_some() {
            sampling.fit_thinking(gate)?;
        }
        sampling.fit_model(target.model, gate)?;
    }
    let stop_sequences = match req.extra.get("stop") {
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let config = InferenceConfig {
        max_tokens,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        stop_sequences,
    };
    Ok((config, budget))
}

/// `toolConfig`: the client's tools under its `tool_choice`, the answer tool for structured
/// output, and what the history's tool calls require.
fn tool_config(
    req: &CreateResponse,
    thinking: bool,
    messages: &[Message],
    gate: &Gate,
) -> Result<(Option<ToolConfig>, ConverseContext), Error> {
    let (mut tools, names) = client_tools(req);
    let choice = requested_choice(req, |name| tools.iter().any(|t| t.name() == name))?;
    let choice_none = choice == Some(Choice::None);
    let mut tool_choice = converse_choice(choice, &mut tools, gate)?;
    if tool_choice.is_some() && thinking {
        // Claude refuses forced tool use while thinking.
        gate.unsupported(
            "tool_choice (a forced tool cannot be combined with reasoning on Claude)",
        )?;
        tool_choice = None;
    }
    let json_tool = answer_tool(req, &mut tools);
    if json_tool && !thinking && !choice_none {
        tool_choice = Some(match tool_choice {
            // The client's own tools stay callable; the model must call one of them or
            // answer through the JSON tool.
            None if tools.len() > 1 => wire::ToolChoice::Any(Empty {}),
            None => wire::ToolChoice::Tool {
                name: JSON_TOOL.into(),
            },
            Some(c) => c,
        });
    }
    if let Some(verbosity) = req.text.as_ref().and_then(|t| t.verbosity.as_ref())
        && verbosity != "medium"
    {
        gate.unsupported("text.verbosity")?;
    }
    let history_has_tools = messages
        .iter()
        .flat_map(|m| &m.content)
        .any(ContentBlock::is_tool_block);
    if choice_none && !json_tool {
        // Converse has no `none` mode. Tools are left out — unless the history holds tool
        // calls, which Converse only accepts with a `toolConfig`; then they stay offered with
        // `auto`, the closest mode there is.
        if !history_has_tools {
            tools.clear();
        }
        tool_choice = None;
    }
    if tools.is_empty() && history_has_tools {
        // Converse refuses toolUse / toolResult blocks without a `toolConfig`, even when no
        // tool is offered any more (a summarising turn, hosted tools only): declare the tools
        // the history used, with an open schema, and let the model choose.
        tools = history_tool_specs(messages);
        tool_choice = None;
    }
    let config = (!tools.is_empty()).then_some(ToolConfig { tools, tool_choice });
    Ok((config, ToolMap { names, json_tool }))
}

/// The client's function and custom tools as tool specs.
fn client_tools(req: &CreateResponse) -> (Vec<wire::Tool>, ToolNames) {
    let (functions, names) = offered_functions(req.tools.as_deref().unwrap_or_default(), LABEL);
    let tools = functions
        .into_iter()
        .map(|f| {
            wire::Tool::ToolSpec(ToolSpec {
                input_schema: claude::input_schema(f.custom, f.parameters),
                name: f.name,
                description: f.description.filter(|d| !d.is_empty()),
                description_first: false,
            })
        })
        .collect();
    (tools, names)
}

/// The client's `tool_choice` in Converse terms (`none` has none: the caller leaves the tools
/// out instead); `allowed_tools` narrows `tools`.
fn converse_choice(
    choice: Option<Choice>,
    tools: &mut Vec<wire::Tool>,
    gate: &Gate,
) -> Result<Option<wire::ToolChoice>, Error> {
    Ok(match choice {
        None | Some(Choice::Auto | Choice::None) => None,
        Some(Choice::Required) => Some(wire::ToolChoice::Any(Empty {})),
        Some(Choice::Tool(name)) => Some(wire::ToolChoice::Tool { name }),
        Some(Choice::Allowed { names, required }) => {
            tools.retain(|t| names.iter().any(|n| n == t.name()));
            required.then_some(wire::ToolChoice::Any(Empty {}))
        }
        Some(Choice::Unsupported) => {
            gate.unsupported("tool_choice")?;
            None
        }
    })
}

/// Structured output (`text.format`): offers [`JSON_TOOL`] with the requested schema; true
/// when it did.
fn answer_tool(req: &CreateResponse, tools: &mut Vec<wire::Tool>) -> bool {
    let (schema, description) = match req.text.as_ref().and_then(|t| t.format.as_ref()) {
        Some(TextFormat::JsonSchema(schema)) => (
            schema.schema.clone(),
            schema
                .description
                .clone()
                .unwrap_or_else(|| format!("Respond with the `{}` object.", schema.name)),
        ),
        Some(TextFormat::JsonObject) => (
            json!({"type": "object"}),
            "Respond with a JSON object.".to_string(),
        ),
        _ => return false,
    };
    tools.push(wire::Tool::ToolSpec(ToolSpec {
        name: JSON_TOOL.into(),
        description: Some(format!(
            "{description} Always answer by calling this tool with the complete answer as its \
             input."
        )),
        input_schema: schema,
        description_first: true,
    }));
    true
}

/// Tool specs for every tool the history's `toolUse` blocks name.
fn history_tool_specs(messages: &[Message]) -> Vec<wire::Tool> {
    let mut names: Vec<&str> = Vec::new();
    for block in messages.iter().flat_map(|m| &m.content) {
        if let ContentBlock::ToolUse(call) = block
            && !names.contains(&call.name.as_str())
        {
            names.push(&call.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            wire::Tool::ToolSpec(ToolSpec {
                name: name.to_string(),
                description: Some("A tool used earlier in this conversation.".into()),
                input_schema: json!({"type": "object"}),
                description_first: true,
            })
        })
        .collect()
}

/// `serviceTier`: the tiers Converse has (`auto` is its default).
fn service_tier(req: &CreateResponse, gate: &Gate) -> Result<Option<ServiceTier>, Error> {
    Ok(match req.service_tier.as_deref() {
        None | Some("auto") => None,
        Some(tier @ ("default" | "flex" | "priority")) => Some(ServiceTier {
            kind: tier.to_string(),
        }),
        Some(_) => {
            gate.unsupported("service_tier")?;
            None
        }
    })
}

/// Builds the message list, merging consecutive same-role turns (Converse requires roles to
/// alternate) and hoisting system and developer messages into `system`.
#[derive(Default)]
struct Conversation {
    system: Vec<ContentBlock>,
    messages: Vec<Message>,
    /// Reasoning blocks waiting for the next assistant content.
    pending_reasoning: Vec<ContentBlock>,
}

impl Conversation {
    fn push(&mut self, role: wire::Role, mut blocks: Vec<ContentBlock>) {
        if blocks.is_empty() {
            return;
        }
        if role == wire::Role::Assistant && !self.pending_reasoning.is_empty() {
            let mut with_reasoning = std::mem::take(&mut self.pending_reasoning);
            with_reasoning.append(&mut blocks);
            blocks = with_reasoning;
        }
        match self.messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => self.messages.push(Message {
                role,
                content: blocks,
            }),
        }
    }

    fn message(&mut self, m: &MessageItem, param: &str, gate: &Gate) -> Result<(), Error> {
        match m.role {
            Role::User => {
                let blocks = user_blocks(&m.content, param, gate)?;
                self.push(wire::Role::User, blocks);
            }
            Role::System | Role::Developer => {
                let text = plain_text(&m.content, param, gate)?;
                if !text.trim().is_empty() {
                    self.system.push(ContentBlock::Text(text));
                }
            }
            Role::Assistant => {
                let text = plain_text(&m.content, param, gate)?;
                if !text.trim().is_empty() {
                    self.push(wire::Role::Assistant, vec![ContentBlock::Text(text)]);
                }
            }
        }
        Ok(())
    }

    fn tool_call(&mut self, call: ReplayedCall<'_>, param: &str) -> Result<(), Error> {
        let input = match call.input {
            CallInput::Arguments(arguments) => parse_arguments(arguments, param)?,
            CallInput::Custom(input) => custom_tool_arguments(input),
        };
        let block = ContentBlock::ToolUse(ToolUseBlock {
            tool_use_id: tool_use_id(call.call_id),
            name: call.name,
            input,
        });
        self.push(wire::Role::Assistant, vec![block]);
        Ok(())
    }
}

/// The system blocks and the messages of the conversation.
fn conversation(
    req: &CreateResponse,
    gate: &Gate,
) -> Result<(Vec<ContentBlock>, Vec<Message>), Error> {
    let mut conv = Conversation::default();
    if let Some(instructions) = req.instructions.as_ref().filter(|i| !i.trim().is_empty()) {
        conv.system.push(ContentBlock::Text(instructions.clone()));
    }
    for (i, item) in req.input_items().iter().enumerate() {
        let param = format!("input[{i}]");
        match read_item(item, &param, gate)? {
            Some(HistoryItem::Message(m)) => conv.message(m, &param, gate)?,
            Some(HistoryItem::Call(call)) => conv.tool_call(call, &param)?,
            Some(HistoryItem::Result(result)) => {
                let block = ContentBlock::ToolResult(ToolResultBlock {
                    tool_use_id: tool_use_id(result.call_id),
                    content: tool_result_content(result.output, &param, gate)?,
                    status: "success",
                });
                conv.push(wire::Role::User, vec![block]);
            }
            Some(HistoryItem::Reasoning(reasoning)) => {
                // Only Bedrock's own blobs can be replayed; summaries alone cannot (Claude
                // checks the signature), and other providers' blobs mean nothing here.
                if let Some(block) = reasoning
                    .encrypted_content
                    .as_deref()
                    .and_then(|blob| opaque::decode::<ReasoningBlob>(BLOB_TAG, blob))
                    .and_then(|blob| blob.block())
                {
                    conv.pending_reasoning.push(block);
                }
            }
            None => {}
        }
    }
    Ok((conv.system, conv.messages))
}

/// A tool-use id Converse accepts (`[a-zA-Z0-9_-]{1,64}`); others map to a stable digest.
fn tool_use_id(id: &str) -> String {
    chat_call_id(id, ToolIdRule::MaxLen(64))
}

fn parse_arguments(arguments: &str, param: &str) -> Result<Value, Error> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => Ok(value),
        // Converse wants an object; anything else is wrapped rather than lost.
        Ok(other) => Ok(json!({"value": other})),
        Err(_) => Err(Error::invalid_request(
            format!("{param}.arguments is not valid JSON, which Bedrock needs as tool input"),
            Some(&format!("{param}.arguments")),
        )),
    }
}

fn user_blocks(
    content: &MessageContent,
    param: &str,
    gate: &Gate,
) -> Result<Vec<ContentBlock>, Error> {
    let parts = match content {
        MessageContent::Text(text) if text.trim().is_empty() => return Ok(Vec::new()),
        MessageContent::Text(text) => return Ok(vec![ContentBlock::Text(text.clone())]),
        MessageContent::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        out.extend(media_or_text_block(part, &at, gate)?);
    }
    Ok(out)
}

/// One content part as a Converse block; `None` when it was dropped or is empty.
fn media_or_text_block(
    part: &ContentPart,
    at: &str,
    gate: &Gate,
) -> Result<Option<ContentBlock>, Error> {
    // Converse refuses blank text blocks.
    let text = |text: &str| (!text.trim().is_empty()).then(|| ContentBlock::Text(text.into()));
    Ok(match part {
        ContentPart::InputText(t) | ContentPart::ReasoningText(t) | ContentPart::SummaryText(t) => {
            text(&t.text)
        }
        ContentPart::OutputText(t) => text(&t.text),
        ContentPart::Refusal(r) => text(&r.refusal),
        ContentPart::InputImage(image) => image_block(image, at, gate)?,
        ContentPart::InputFile(file) => document_block(file, at, gate)?,
        other => {
            gate.unsupported(&format!("{at} (type `{}`)", other.kind()))?;
            None
        }
    })
}

fn image_block(
    image: &InputImagePart,
    at: &str,
    gate: &Gate,
) -> Result<Option<ContentBlock>, Error> {
    let block = |format, source| Some(ContentBlock::Image(ImageBlock { format, source }));
    Ok(match image.image_url.as_deref() {
        Some(url) if url.starts_with("data:") => {
            match base64_data_url(url) {
                Some((mime, data)) => match image_format(mime) {
                    Some(format) => block(format, MediaSource::Bytes(data.to_string())),
                    None => {
                        gate.unsupported(&format!("{at}.image_url (image type `{mime}`; Bedrock takes png, jpeg, gif or webp)"))?;
                        None
                    }
                },
                None => {
                    return Err(Error::invalid_request(
                        format!("{at}.image_url is not a valid base64 data URL"),
                        Some(&format!("{at}.image_url")),
                    ));
                }
            }
        }
        Some(url) if url.starts_with("s3://") => {
            let format = image_format_from_name(url).unwrap_or("png");
            block(format, MediaSource::S3Location { uri: url.into() })
        }
        Some(_) => {
            gate.unsupported(&format!(
                "{at}.image_url (Bedrock Converse takes images as inline bytes only: send a \
                 data: URL)"
            ))?;
            None
        }
        None => {
            gate.unsupported(&format!("{at}.file_id"))?;
            None
        }
    })
}

fn document_block(
    file: &InputFilePart,
    at: &str,
    gate: &Gate,
) -> Result<Option<ContentBlock>, Error> {
    let Some(data) = file.file_data.as_deref() else {
        let what = if file.file_url.is_some() {
            "file_url"
        } else {
            "file_id"
        };
        gate.unsupported(&format!(
            "{at}.{what} (Bedrock Converse takes documents as inline bytes only: send \
             file_data)"
        ))?;
        return Ok(None);
    };
    let (mime, bytes) = match base64_data_url(data) {
        Some((mime, bytes)) => (Some(mime), bytes),
        None => (None, data),
    };
    let format = mime
        .and_then(document_format)
        .or_else(|| file.filename.as_deref().and_then(document_format_from_name))
        .unwrap_or("pdf");
    Ok(Some(ContentBlock::Document(DocumentBlock {
        format,
        name: document_name(file.filename.as_deref().unwrap_or("document")),
        source: MediaSource::Bytes(bytes.to_string()),
    })))
}

fn tool_result_content(
    output: &ToolOutput,
    param: &str,
    gate: &Gate,
) -> Result<Vec<ContentBlock>, Error> {
    let mut out = Vec::new();
    match output {
        ToolOutput::Text(text) => out.push(ContentBlock::Text(text.clone())),
        ToolOutput::Parts(parts) => {
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{param}.output[{j}]");
                out.extend(media_or_text_block(part, &at, gate)?);
            }
        }
    }
    // Converse rejects an empty result; an empty output is still an answer.
    if out.iter().all(ContentBlock::is_blank_text) {
        out = vec![ContentBlock::Text("(no output)".into())];
    }
    Ok(out)
}

fn image_format(mime: &str) -> Option<&'static str> {
    match mime.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

fn image_format_from_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('.').next()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some("png"),
        "jpg" | "jpeg" => Some("jpeg"),
        "gif" => Some("gif"),
        "webp" => Some("webp"),
        _ => None,
    }
}

fn document_format(mime: &str) -> Option<&'static str> {
    Some(match mime.to_ascii_lowercase().as_str() {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/plain" => "txt",
        "text/markdown" => "md",
        _ => return None,
    })
}

fn document_format_from_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "pdf" => "pdf",
        "csv" => "csv",
        "doc" => "doc",
        "docx" => "docx",
        "xls" => "xls",
        "xlsx" => "xlsx",
        "html" | "htm" => "html",
        "txt" => "txt",
        "md" => "md",
        _ => return None,
    })
}

/// A document name Converse accepts: letters, digits, single spaces, hyphens, parentheses and
/// square brackets only (so `report_v2.pdf` becomes `report-v2-pdf`).
fn document_name(filename: &str) -> String {
    let mut out = String::with_capacity(filename.len());
    for c in filename.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '-'
        };
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        "document".to_string()
    } else {
        trimmed.to_string()
    }
}
