//! Responses request → Messages request.
//!
//! Like the Chat Completions bridge, what cannot be expressed is refused with a 400 naming the
//! parameter or, with `drop_params`, dropped and logged at debug. Anthropic-specific choices:
//! * `instructions` and every `system` / `developer` message become the top-level `system`
//!   blocks (the Messages API has no system role inside `messages`).
//! * Consecutive items of one role merge into one message: tool calls join the assistant turn
//!   that precedes them, and all `tool_result` blocks answering a turn share one user message,
//!   ahead of any text in it.
//! * Unknown fields named `cache_control` on content parts, messages, tool outputs and tools
//!   are passed through (on a message, to its last block).
//! * Claude's thinking rules ([`translate::claude`](crate::providers::translate::claude)):
//!   a request asking for thinking and a sampling value or a forced tool it rules out is
//!   refused (or, with `drop_params`, the value or the thinking is dropped). A replayed tool
//!   call whose thinking was not sent back (the client did not ask for
//!   `reasoning.encrypted_content`) turns thinking off for that request, as LiteLLM does,
//!   because Anthropic rejects the request otherwise.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use switchyard_types::JsonMap;
use switchyard_types::responses::{
    ContentPart, CreateResponse, InputFilePart, InputImagePart, MessageContent, MessageItem, Role,
    TextFormat, ToolOutput,
};

use super::super::gate::Gate;
use super::wire::{
    self, ContentBlock, Message, MessagesRequest, Metadata, ReplayedThinking, Source,
    ToolChoiceKind, ToolDefinition, ToolResultContent,
};
use super::{OPAQUE_TAG, VERTEX_ANTHROPIC_VERSION, models};
use crate::error::Error;
use crate::providers::base64_data_url;
use crate::providers::opaque;
use crate::providers::translate::claude::{self, Sampling, Thinking};
use crate::providers::translate::history::{CallInput, HistoryItem, ReplayedCall, read_item};
use crate::providers::translate::json_value;
use crate::providers::translate::tool_choice::{Choice, requested_choice};
use crate::providers::translate::tools::{custom_tool_arguments, offered_functions};

pub use crate::providers::translate::claude::MIN_THINKING_BUDGET;
pub use crate::providers::translate::tools::{JSON_TOOL, ToolMap};

/// Where a translated request goes.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Names the upstream in messages (`Anthropic`, `Anthropic on Vertex AI`).
    pub label: &'a str,
    /// The upstream model id.
    pub model: &'a str,
    /// Drop unsupported parameters instead of refusing.
    pub drop_params: bool,
    /// Ask for a stream.
    pub stream: bool,
    /// `max_output_tokens` as the client sent it (before deployment defaults).
    pub explicit_cap: Option<u64>,
    /// Vertex AI: no `model` in the body, `anthropic_version` in it instead.
    pub vertex: bool,
}

/// Who forces a tool call, if anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forced {
    No,
    ByClient,
    ByJsonFormat,
}

/// The tools offered and how the model may use them.
struct Tools {
    offered: Vec<ToolDefinition>,
    choice: Option<wire::ToolChoice>,
    forced: Forced,
    map: ToolMap,
}

/// Translates `req` for `target` into the JSON body; also returns what the decoder needs to
/// map tool calls back.
pub fn to_messages(req: &CreateResponse, target: &Target) -> Result<(Value, ToolMap), Error> {
    let (body, map) = messages_request(req, target)?;
    Ok((json_value(&body)?, map))
}

/// Translates `req` for `target`; also returns what the decoder needs to map tool calls back.
pub fn messages_request(
    req: &CreateResponse,
    target: &Target,
) -> Result<(MessagesRequest, ToolMap), Error> {
    let gate = Gate {
        label: target.label,
        drop_params: target.drop_params,
    };
    refuse_unsupported(req, &gate)?;
    let budget = match req.reasoning.as_ref().and_then(|r| r.effort.as_deref()) {
        Some(effort) => claude::thinking_budget(effort, target.model, &gate)?,
        None => None,
    };
    let mut tools = offered_tools(req, &gate)?;
    structured_output(req, &mut tools);
    let (mut system, messages) = conversation(req, &gate)?;
    let budget = fit_thinking(budget, &mut tools, &mut system, &messages, &gate)?;
    let (max_tokens, budget) = token_limits(req, target, budget);
    let sampling = sampling(req, budget.is_some(), target.model, &gate)?;
    limit_parallel_calls(req, &mut tools);
    let Tools {
        offered,
        choice,
        map,
        ..
    } = tools;
    let body = MessagesRequest {
        anthropic_version: target.vertex.then_some(VERTEX_ANTHROPIC_VERSION),
        model: (!target.vertex).then(|| target.model.to_string()),
        max_tokens,
        system,
        messages,
        tool_choice: choice.filter(|_| !offered.is_empty()),
        tools: offered,
        thinking: budget.map(|budget_tokens| Thinking { budget_tokens }),
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        metadata: req
            .safety_identifier
            .as_deref()
            .or(req.user.as_deref())
            .map(|user| Metadata {
                user_id: user.to_string(),
            }),
        stream: target.stream.then_some(true),
    };
    Ok((body, map))
}

/// Parameters the Messages API has no equivalent for.
fn refuse_unsupported(req: &CreateResponse, gate: &Gate) -> Result<(), Error> {
    gate.refuse_state(req)?;
    gate.output_options(req)?;
    gate.penalties(req)?;
    if req.text.as_ref().is_some_and(|t| t.verbosity.is_some()) {
        gate.unsupported("text.verbosity")?;
    }
    Ok(())
}

/// The client's tools and its `tool_choice`, which `allowed_tools` narrows them to.
fn offered_tools(req: &CreateResponse, gate: &Gate) -> Result<Tools, Error> {
    let (functions, names) =
        offered_functions(req.tools.as_deref().unwrap_or_default(), gate.label);
    let mut offered: Vec<ToolDefinition> = functions
        .into_iter()
        .map(|f| ToolDefinition {
            input_schema: claude::input_schema(f.custom, f.parameters),
            name: f.name,
            description: f.description.filter(|d| !d.is_empty()),
            cache_control: f.cache_control,
        })
        .collect();
    let choice = requested_choice(req, |name| offered.iter().any(|t| t.name == name))?;
    let of = |kind| Some(wire::ToolChoice::of(kind));
    let (choice, forced) = match choice {
        None => (None, Forced::No),
        Some(Choice::Auto) => (of(ToolChoiceKind::Auto), Forced::No),
        Some(Choice::None) => (of(ToolChoiceKind::None), Forced::No),
        Some(Choice::Required) => (of(ToolChoiceKind::Any), Forced::ByClient),
        Some(Choice::Tool(name)) => (Some(wire::ToolChoice::tool(name)), Forced::ByClient),
        Some(Choice::Allowed { names, required }) => {
            offered.retain(|t| names.contains(&t.name));
            if required {
                (of(ToolChoiceKind::Any), Forced::ByClient)
            } else {
                (of(ToolChoiceKind::Auto), Forced::No)
            }
        }
        Some(Choice::Unsupported) => {
            return Err(Error::unsupported_parameter(
                "tool_choice",
                "Anthropic (only auto, none, required, a named function and allowed_tools)",
            ));
        }
    };
    Ok(Tools {
        offered,
        choice,
        forced,
        map: ToolMap {
            names,
            json_tool: false,
        },
    })
}

/// Structured output (`text.format`): the answer tool [`JSON_TOOL`], offered with the
/// requested schema and forced when nothing else forces a call.
fn structured_output(req: &CreateResponse, tools: &mut Tools) {
    let (schema, description, name) = match req.text.as_ref().and_then(|t| t.format.as_ref()) {
        Some(TextFormat::JsonSchema(format)) => (
            format.schema.clone(),
            format.description.clone(),
            format.name.clone(),
        ),
        Some(TextFormat::JsonObject) => (json!({"type": "object"}), None, "json_object".into()),
        Some(TextFormat::Text) | None => return,
    };
    let mut about = format!(
        "Call this tool to give your final answer as JSON (`{name}`); its input is the answer."
    );
    if let Some(description) = description {
        about.push(' ');
        about.push_str(&description);
    }
    tools.offered.push(ToolDefinition {
        name: JSON_TOOL.to_string(),
        description: Some(about),
        input_schema: if schema.is_object() {
            schema
        } else {
            json!({"type": "object"})
        },
        cache_control: None,
    });
    tools.map.json_tool = true;
    let kind = tools.choice.as_ref().map(|c| c.kind);
    match (tools.forced, tools.offered.len()) {
        (Forced::ByClient, _) if kind == Some(ToolChoiceKind::Tool) => {}
        (_, 1) => force_answer_tool(tools),
        (_, _) if kind == Some(ToolChoiceKind::None) => force_answer_tool(tools),
        _ => {
            // A user tool or the answer: either way some tool is called.
            tools.choice = Some(wire::ToolChoice::of(ToolChoiceKind::Any));
            if tools.forced == Forced::No {
                tools.forced = Forced::ByJsonFormat;
            }
        }
    }
}

fn force_answer_tool(tools: &mut Tools) {
    tools.choice = Some(wire::ToolChoice::tool(JSON_TOOL));
    tools.forced = Forced::ByJsonFormat;
}

/// The thinking budget that survives what thinking rules out: a forced tool call (the answer
/// tool is then asked for instead of forced) and a replayed tool call without its thinking.
fn fit_thinking(
    budget: Option<u64>,
    tools: &mut Tools,
    system: &mut Vec<ContentBlock>,
    messages: &[Message],
    gate: &Gate,
) -> Result<Option<u64>, Error> {
    if budget.is_none() {
        return Ok(None);
    }
    match tools.forced {
        Forced::No => {}
        Forced::ByJsonFormat => {
            // Anthropic refuses a forced tool with thinking: ask for the answer tool instead.
            tools.choice = Some(wire::ToolChoice::of(ToolChoiceKind::Auto));
            system.push(ContentBlock::text(
                format!("Give your final answer by calling the `{JSON_TOOL}` tool."),
                None,
            ));
        }
        Forced::ByClient => {
            gate.conflict(
                "tool_choice",
                "forcing a tool call is not possible while reasoning is on; use \
                 `tool_choice: auto` or turn reasoning off",
            )?;
            return Ok(None);
        }
    }
    let last_assistant = messages
        .iter()
        .rev()
        .find(|m| m.role == wire::Role::Assistant);
    let replayed = last_assistant.map(|m| m.content.as_slice());
    Ok(budget.filter(|_| claude::replay_allows_thinking(replayed, gate.label)))
}

/// `max_tokens` and the thinking budget that fits it. A cap the client set is the limit for
/// thinking and answer together, so the budget shrinks to fit (and thinking is dropped when
/// not even the minimum fits); a default cap grows to leave the answer its room.
fn token_limits(
    req: &CreateResponse,
    target: &Target,
    thinking: Option<u64>,
) -> (u64, Option<u64>) {
    match (target.explicit_cap, thinking) {
        (Some(cap), None) => (cap, None),
        (Some(cap), Some(budget)) => {
            if cap <= MIN_THINKING_BUDGET {
                tracing::debug!(
                    cap,
                    "thinking disabled: max_output_tokens leaves no room for the minimum budget"
                );
                (cap, None)
            } else {
                (cap, Some(budget.min(cap - 1)))
            }
        }
        (None, thinking) => {
            let cap = req
                .max_output_tokens
                .unwrap_or_else(|| models::max_output_tokens(target.model));
            match thinking {
                Some(budget) if cap <= budget => (cap + budget, Some(budget)),
                _ => (cap, thinking),
            }
        }
    }
}

/// `temperature` and `top_p` as Claude takes them: fitted to thinking, within 0 to 1, and not
/// both on the models that take only one.
fn sampling(
    req: &CreateResponse,
    thinking: bool,
    model: &str,
    gate: &Gate,
) -> Result<Sampling, Error> {
    let mut sampling = Sampling::of(req);
    if thinking {
        sampling.fit_thinking(gate)?;
    }
    if let Some(t) = sampling.temperature
        && t > 1.0
    {
        gate.conflict("temperature", "temperature must be between 0 and 1")?;
        sampling.temperature = Some(1.0);
    }
    sampling.fit_model(model, gate)?;
    Ok(sampling)
}

/// `parallel_tool_calls: false`: at most one tool call per turn.
fn limit_parallel_calls(req: &CreateResponse, tools: &mut Tools) {
    if req.parallel_tool_calls != Some(false) || tools.offered.is_empty() {
        return;
    }
    let choice = tools
        .choice
        .get_or_insert_with(|| wire::ToolChoice::of(ToolChoiceKind::Auto));
    if choice.kind != ToolChoiceKind::None {
        choice.disable_parallel_tool_use = Some(true);
    }
}

/// Messages under construction, consecutive items of a role merged.
#[derive(Default)]
struct Conversation(Vec<Message>);

impl Conversation {
    fn push(&mut self, role: wire::Role, blocks: Vec<ContentBlock>) {
        if blocks.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => self.0.push(Message {
                role,
                content: blocks,
            }),
        }
    }

    /// A tool result goes into the user message that ends the list, after the results already
    /// there and before any other content (Anthropic wants results first).
    fn push_tool_result(&mut self, block: ContentBlock) {
        match self.0.last_mut() {
            Some(last) if last.role == wire::Role::User => {
                let at = last
                    .content
                    .iter()
                    .position(|b| !b.is_tool_result())
                    .unwrap_or(last.content.len());
                last.content.insert(at, block);
            }
            _ => self.0.push(Message {
                role: wire::Role::User,
                content: vec![block],
            }),
        }
    }
}

/// The system blocks and the messages of the conversation.
fn conversation(
    req: &CreateResponse,
    gate: &Gate,
) -> Result<(Vec<ContentBlock>, Vec<Message>), Error> {
    let mut system = Vec::new();
    if let Some(instructions) = req.instructions.as_deref().filter(|s| !s.is_empty()) {
        system.push(ContentBlock::text(instructions, None));
    }
    let mut messages = Conversation::default();
    for (i, item) in req.input_items().iter().enumerate() {
        let param = format!("input[{i}]");
        match read_item(item, &param, gate)? {
            Some(HistoryItem::Message(m)) => {
                let blocks = message_blocks(m, &param, gate)?;
                match m.role {
                    Role::User => messages.push(wire::Role::User, blocks),
                    Role::Assistant => messages.push(wire::Role::Assistant, blocks),
                    Role::System | Role::Developer => system.extend(blocks),
                }
            }
            Some(HistoryItem::Call(call)) => {
                messages.push(wire::Role::Assistant, vec![tool_use(call, &param)?]);
            }
            Some(HistoryItem::Result(result)) => {
                let mut block = tool_result(result.call_id, result.output, &param, gate)?;
                copy_cache_control(&mut block, result.extra);
                messages.push_tool_result(block);
            }
            Some(HistoryItem::Reasoning(reasoning)) => {
                // Only our own blobs can go back; summaries alone cannot be replayed as
                // thinking (Anthropic checks the signature).
                let block = reasoning
                    .encrypted_content
                    .as_deref()
                    .and_then(|blob| opaque::decode::<Value>(OPAQUE_TAG, blob))
                    .and_then(ReplayedThinking::new);
                match block {
                    Some(block) => {
                        messages.push(wire::Role::Assistant, vec![ContentBlock::Thinking(block)])
                    }
                    None => tracing::debug!(
                        item = %param,
                        "reasoning item without Anthropic thinking left out"
                    ),
                }
            }
            None => {}
        }
    }
    if messages.0.is_empty() {
        return Err(Error::invalid_request(
            "The input has no message content to send to the model.",
            Some("input"),
        ));
    }
    Ok((system, messages.0))
}

/// A message's blocks; a `cache_control` on the message goes to its last block.
fn message_blocks(m: &MessageItem, param: &str, gate: &Gate) -> Result<Vec<ContentBlock>, Error> {
    let mut blocks = content_blocks(&m.content, m.role, param, gate)?;
    if let Some(cache) = m.extra.get("cache_control")
        && let Some(slot) = blocks.last_mut().and_then(ContentBlock::cache_control_mut)
        && slot.is_none()
    {
        *slot = Some(cache.clone());
    }
    Ok(blocks)
}

/// A replayed tool call as a `tool_use` block.
fn tool_use(call: ReplayedCall<'_>, param: &str) -> Result<ContentBlock, Error> {
    let input = match call.input {
        CallInput::Custom(input) => custom_tool_arguments(input),
        CallInput::Arguments(arguments) if arguments.trim().is_empty() => json!({}),
        CallInput::Arguments(arguments) => match serde_json::from_str::<Value>(arguments) {
            Ok(value @ Value::Object(_)) => value,
            _ => {
                return Err(Error::invalid_request(
                    format!(
                        "Invalid '{param}.arguments': Anthropic needs the arguments of a replayed \
                         function call to be a JSON object."
                    ),
                    Some(&format!("{param}.arguments")),
                ));
            }
        },
    };
    Ok(ContentBlock::ToolUse {
        id: tool_use_id(call.call_id),
        name: call.name,
        input,
    })
}

/// Copies a `cache_control` kept among a part's unknown fields onto its block.
fn copy_cache_control(block: &mut ContentBlock, extra: &JsonMap) {
    if let Some(cache) = extra.get("cache_control")
        && let Some(slot) = block.cache_control_mut()
    {
        *slot = Some(cache.clone());
    }
}

/// A tool call id Anthropic accepts (`^[a-zA-Z0-9_-]+$`): other characters become `_`, the
/// same way for the call and its result.
pub fn tool_use_id(id: &str) -> String {
    if id.is_empty() {
        return "toolu_empty".into();
    }
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn tool_result(
    call_id: &str,
    output: &ToolOutput,
    param: &str,
    gate: &Gate,
) -> Result<ContentBlock, Error> {
    let content = match output {
        ToolOutput::Text(text) => ToolResultContent::Text(text.clone()),
        ToolOutput::Parts(parts) => {
            let mut blocks = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{param}.output[{j}]");
                let block = match part {
                    ContentPart::InputText(t) => text_block(&t.text, Some(&t.extra)),
                    ContentPart::OutputText(t) => text_block(&t.text, None),
                    ContentPart::InputImage(image) => image_block(image, &at, gate)?,
                    ContentPart::InputFile(file) => file_block(file, &at, gate)?,
                    other => {
                        gate.unsupported(&format!(
                            "{at} (type `{}` in a tool result)",
                            other.kind()
                        ))?;
                        None
                    }
                };
                blocks.extend(block);
            }
            ToolResultContent::Blocks(blocks)
        }
    };
    Ok(ContentBlock::ToolResult {
        tool_use_id: tool_use_id(call_id),
        content,
        cache_control: None,
    })
}

/// A text block, with the `cache_control` among `extra`; `None` for empty text, which
/// Anthropic rejects.
fn text_block(text: &str, extra: Option<&JsonMap>) -> Option<ContentBlock> {
    let cache_control = extra.and_then(|e| e.get("cache_control")).cloned();
    (!text.is_empty()).then(|| ContentBlock::text(text, cache_control))
}

fn content_blocks(
    content: &MessageContent,
    role: Role,
    param: &str,
    gate: &Gate,
) -> Result<Vec<ContentBlock>, Error> {
    let parts = match content {
        MessageContent::Text(text) => return Ok(text_block(text, None).into_iter().collect()),
        MessageContent::Parts(parts) => parts,
    };
    let takes_media = role == Role::User;
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        let block = match part {
            ContentPart::InputText(t)
            | ContentPart::SummaryText(t)
            | ContentPart::ReasoningText(t) => text_block(&t.text, Some(&t.extra)),
            ContentPart::OutputText(t) => text_block(&t.text, Some(&t.extra)),
            ContentPart::Refusal(r) => text_block(&r.refusal, None),
            ContentPart::InputImage(image) if takes_media => image_block(image, &at, gate)?,
            ContentPart::InputFile(file) if takes_media => file_block(file, &at, gate)?,
            other => {
                gate.unsupported(&format!("{at} (type `{}`)", other.kind()))?;
                None
            }
        };
        blocks.extend(block);
    }
    Ok(blocks)
}

fn image_block(
    image: &InputImagePart,
    at: &str,
    gate: &Gate,
) -> Result<Option<ContentBlock>, Error> {
    let source = match image.image_url.as_deref() {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Source::Url {
            url: url.to_string(),
        },
        Some(url) => match base64_data_url(url) {
            Some((media_type, data)) => Source::Base64 {
                media_type: media_type.to_string(),
                data: data.to_string(),
            },
            None => {
                gate.unsupported(&format!(
                    "{at}.image_url (only https and base64 data URLs reach Anthropic)"
                ))?;
                return Ok(None);
            }
        },
        None => {
            gate.unsupported(&format!("{at}.file_id"))?;
            return Ok(None);
        }
    };
    Ok(Some(ContentBlock::Image {
        source,
        cache_control: image.extra.get("cache_control").cloned(),
    }))
}

fn file_block(file: &InputFilePart, at: &str, gate: &Gate) -> Result<Option<ContentBlock>, Error> {
    let cache_control = file.extra.get("cache_control").cloned();
    let document = |source| ContentBlock::Document {
        source,
        cache_control: cache_control.clone(),
        title: file.filename.clone().filter(|n| !n.is_empty()),
    };
    let Some(data) = file.file_data.as_deref() else {
        if let Some(url) = file.file_url.as_deref() {
            return Ok(Some(document(Source::Url {
                url: url.to_string(),
            })));
        }
        gate.unsupported(&format!("{at}.file_id"))?;
        return Ok(None);
    };
    // OpenAI wants a data URL; bare base64 is taken as a PDF.
    let (media_type, data) = base64_data_url(data).unwrap_or(("application/pdf", data));
    Ok(Some(match media_type {
        "application/pdf" => document(Source::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        }),
        "text/plain" => {
            let Some(text) = STANDARD
                .decode(data.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
            else {
                return Err(Error::invalid_request(
                    format!("Invalid '{at}.file_data': not base64-encoded UTF-8 text."),
                    Some(&format!("{at}.file_data")),
                ));
            };
            document(Source::Text {
                media_type: media_type.to_string(),
                data: text,
            })
        }
        image if image.starts_with("image/") => ContentBlock::Image {
            source: Source::Base64 {
                media_type: image.to_string(),
                data: data.to_string(),
            },
            cache_control,
        },
        other => {
            gate.unsupported(&format!(
                "{at}.file_data (media type `{other}`; Anthropic reads PDF, plain text and \
                 images)"
            ))?;
            return Ok(None);
        }
    }))
}
