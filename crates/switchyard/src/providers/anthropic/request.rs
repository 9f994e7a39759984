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
//! * Thinking requires `temperature` 1 and `top_p` ≥ 0.95 and forbids forcing a tool; a request
//!   asking for both is refused (or, with `drop_params`, the sampling value or the thinking is
//!   dropped). A replayed tool call whose thinking was not sent back (the client did not ask
//!   for `reasoning.encrypted_content`) turns thinking off for that request, as LiteLLM does,
//!   because Anthropic rejects the request otherwise.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use switchyard_types::responses::{
    ContentPart, CreateResponse, InputFilePart, InputImagePart, Item, MessageContent, Role,
    TextFormat, ToolChoice, ToolChoiceMode, ToolOutput,
};

use super::super::gate::Gate;
use super::{OPAQUE_TAG, VERTEX_ANTHROPIC_VERSION, models};
use crate::error::Error;
use crate::providers::base64_data_url;
use crate::providers::opaque;
use crate::providers::openai_chat::request::offered_functions;
use crate::providers::openai_chat::request::{ToolNames, chat_function_name};

/// The tool that carries structured output: the model is made to call it, and the decoder turns
/// its input back into message text.
pub const JSON_TOOL: &str = "json_tool_call";

/// The smallest thinking budget Anthropic accepts.
pub const MIN_THINKING_BUDGET: u64 = 1024;

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

/// How `tool_use` blocks in the answer map back to Responses items.
#[derive(Debug, Clone, Default)]
pub struct ToolMap {
    /// Tool names that do not map one-to-one to a Responses function call.
    pub names: ToolNames,
    /// [`JSON_TOOL`] was offered: its input is the answer text.
    pub json_tool: bool,
}

/// The thinking budget for `effort` on the Claude `model`, on any route to Claude: `None` when
/// thinking stays off (`none`, `minimal`, or a model without extended thinking with
/// `drop_params`); an unknown effort is a 400.
pub(crate) fn thinking_budget(
    effort: &str,
    model: &str,
    gate: &Gate<'_>,
) -> Result<Option<u64>, Error> {
    let budget = match effort {
        "none" | "minimal" => return Ok(None),
        "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        "xhigh" => 8192,
        _ => {
            return Err(Error::invalid_request(
                format!(
                    "Invalid value for 'reasoning.effort': `{effort}`; expected none, minimal, \
                     low, medium, high or xhigh."
                ),
                Some("reasoning.effort"),
            )
            .with_code("invalid_value"));
        }
    };
    if !super::models::supports_thinking(model) {
        gate.conflict(
            "reasoning.effort",
            "this Claude model has no extended thinking (Claude 3.7 and later have it)",
        )?;
        return Ok(None);
    }
    Ok(Some(budget))
}

/// Who forces a tool call, if anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forced {
    No,
    ByClient,
    ByJsonFormat,
}

/// Translates `req` for `target`; also returns what the decoder needs to map tool calls back.
pub fn to_messages(req: &CreateResponse, target: &Target) -> Result<(Value, ToolMap), Error> {
    let gate = Gate {
        label: target.label,
        drop_params: target.drop_params,
    };
    gate.refuse_state(req)?;
    gate.output_options(req)?;
    if req.presence_penalty.is_some() {
        gate.unsupported("presence_penalty")?;
    }
    if req.frequency_penalty.is_some() {
        gate.unsupported("frequency_penalty")?;
    }
    if req.text.as_ref().is_some_and(|t| t.verbosity.is_some()) {
        gate.unsupported("text.verbosity")?;
    }

    let mut thinking = match req.reasoning.as_ref().and_then(|r| r.effort.as_deref()) {
        Some(effort) => thinking_budget(effort, target.model, &gate)?,
        None => None,
    };

    // Tools, tool choice and the structured-output tool.
    let mut map = ToolMap::default();
    let mut tools = Vec::new();
    offered_functions(
        req.tools.as_deref().unwrap_or_default(),
        gate.label,
        &mut map.names,
        &mut |f| {
            let schema = if f.custom {
                f.parameters.unwrap_or_default()
            } else {
                object_schema(f.parameters.as_ref())
            };
            let mut def = Map::new();
            def.insert("name".into(), json!(f.name));
            if let Some(description) = f.description.filter(|d| !d.is_empty()) {
                def.insert("description".into(), json!(description));
            }
            def.insert("input_schema".into(), schema);
            tools.push(with_cache_control(Value::Object(def), f.extra));
        },
    );
    let (mut choice, mut forced) = tool_choice(req, &mut tools)?;
    let json_schema = match req.text.as_ref().and_then(|t| t.format.as_ref()) {
        Some(TextFormat::JsonSchema(format)) => Some((
            format.schema.clone(),
            format.description.clone(),
            format.name.clone(),
        )),
        Some(TextFormat::JsonObject) => {
            Some((json!({"type": "object"}), None, "json_object".to_string()))
        }
        Some(TextFormat::Text) | None => None,
    };
    if let Some((schema, description, name)) = json_schema {
        let mut about = format!(
            "Call this tool to give your final answer as JSON (`{name}`); its input is the \
             answer."
        );
        if let Some(description) = description {
            about.push(' ');
            about.push_str(&description);
        }
        let schema = if schema.is_object() {
            schema
        } else {
            json!({"type": "object"})
        };
        tools.push(json!({"name": JSON_TOOL, "description": about, "input_schema": schema}));
        map.json_tool = true;
        match (forced, tools.len()) {
            (Forced::ByClient, _) if choice_kind(&choice) == Some("tool") => {}
            (_, 1) => {
                choice = Some(json!({"type": "tool", "name": JSON_TOOL}));
                forced = Forced::ByJsonFormat;
            }
            (_, _) if choice_kind(&choice) == Some("none") => {
                choice = Some(json!({"type": "tool", "name": JSON_TOOL}));
                forced = Forced::ByJsonFormat;
            }
            _ => {
                // A user tool or the answer: either way some tool is called.
                choice = Some(json!({"type": "any"}));
                if forced == Forced::No {
                    forced = Forced::ByJsonFormat;
                }
            }
        }
    }

    // Conversation.
    let mut system = Vec::new();
    if let Some(instructions) = req.instructions.as_deref().filter(|s| !s.is_empty()) {
        system.push(json!({"type": "text", "text": instructions}));
    }
    let mut messages = Conversation::default();
    for (i, item) in req.input_items().iter().enumerate() {
        translate_item(item, i, &gate, &mut system, &mut messages)?;
    }
    let messages = messages.0;
    if messages.is_empty() {
        return Err(Error::invalid_request(
            "The input has no message content to send to the model.",
            Some("input"),
        ));
    }

    // Thinking, and what it rules out.
    if thinking.is_some() && forced != Forced::No {
        if forced == Forced::ByJsonFormat {
            // Anthropic refuses a forced tool with thinking: ask for the answer tool instead.
            choice = Some(json!({"type": "auto"}));
            system.push(json!({"type": "text", "text": format!(
                "Give your final answer by calling the `{JSON_TOOL}` tool.")}));
        } else {
            gate.conflict(
                "tool_choice",
                "forcing a tool call is not possible while reasoning is on; use \
                 `tool_choice: auto` or turn reasoning off",
            )?;
            thinking = None;
        }
    }
    if thinking.is_some() && last_tool_turn_lacks_thinking(&messages) {
        tracing::debug!(
            target = target.label,
            "thinking disabled for this request: the replayed tool call has no thinking block \
             (ask for `reasoning.encrypted_content` to keep it)"
        );
        thinking = None;
    }
    let (max_tokens, thinking) = token_limits(req, target, thinking);
    let mut temperature = req.temperature;
    let mut top_p = req.top_p;
    if thinking.is_some() {
        if temperature.is_some_and(|t| t != 1.0) {
            gate.conflict(
                "temperature",
                "reasoning requires the default temperature (1); leave temperature unset",
            )?;
            temperature = None;
        }
        if top_p.is_some_and(|p| p < 0.95) {
            gate.conflict("top_p", "reasoning requires top_p of at least 0.95")?;
            top_p = None;
        }
    }
    if let Some(t) = temperature
        && t > 1.0
    {
        gate.conflict("temperature", "temperature must be between 0 and 1")?;
        temperature = Some(1.0);
    }
    if temperature.is_some() && top_p.is_some() && super::models::exclusive_sampling(target.model) {
        gate.conflict(
            "top_p",
            "this Claude model takes temperature or top_p, not both; set only one",
        )?;
        top_p = None;
    }

    // Parallel calls.
    if req.parallel_tool_calls == Some(false) && !tools.is_empty() {
        let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if choice_kind(&Some(choice.clone())) != Some("none")
            && let Some(object) = choice.as_object_mut()
        {
            object.insert("disable_parallel_tool_use".into(), json!(true));
        }
    }

    let mut body = Map::new();
    if target.vertex {
        body.insert("anthropic_version".into(), json!(VERTEX_ANTHROPIC_VERSION));
    } else {
        body.insert("model".into(), json!(target.model));
    }
    body.insert("max_tokens".into(), json!(max_tokens));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    body.insert(
        "messages".into(),
        Value::Array(
            messages
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = choice {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(budget) = thinking {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(t) = temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(user) = req.safety_identifier.as_deref().or(req.user.as_deref()) {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if target.stream {
        body.insert("stream".into(), json!(true));
    }
    Ok((Value::Object(body), map))
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

fn choice_kind(choice: &Option<Value>) -> Option<&str> {
    choice.as_ref()?.get("type")?.as_str()
}

/// `tool_choice`, and whether it forces a call. `allowed_tools` narrows `tools`.
fn tool_choice(
    req: &CreateResponse,
    tools: &mut Vec<Value>,
) -> Result<(Option<Value>, Forced), Error> {
    let Some(choice) = &req.tool_choice else {
        return Ok((None, Forced::No));
    };
    let tool_name = |t: &Value| t.get("name").and_then(Value::as_str).map(str::to_string);
    Ok(match choice {
        ToolChoice::Mode(ToolChoiceMode::Auto) => (Some(json!({"type": "auto"})), Forced::No),
        ToolChoice::Mode(ToolChoiceMode::None) => (Some(json!({"type": "none"})), Forced::No),
        ToolChoice::Mode(ToolChoiceMode::Required) => {
            (Some(json!({"type": "any"})), Forced::ByClient)
        }
        ToolChoice::Object(map) => match choice.object_kind() {
            Some(kind @ ("function" | "custom")) => {
                let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
                let namespace = map.get("namespace").and_then(Value::as_str);
                let wire = chat_function_name(namespace, name);
                if !tools.iter().any(|t| tool_name(t).as_deref() == Some(&wire)) {
                    return Err(Error::invalid_request(
                        format!("tool_choice names the {kind} `{name}`, which is not in `tools`"),
                        Some("tool_choice"),
                    ));
                }
                (
                    Some(json!({"type": "tool", "name": wire})),
                    Forced::ByClient,
                )
            }
            Some("allowed_tools") => {
                let allowed: Vec<String> = map
                    .get("tools")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|t| {
                                let name = t.get("name")?.as_str()?;
                                let ns = t.get("namespace").and_then(Value::as_str);
                                Some(chat_function_name(ns, name))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                tools.retain(|t| tool_name(t).is_some_and(|n| allowed.contains(&n)));
                if map.get("mode").and_then(Value::as_str) == Some("required") {
                    (Some(json!({"type": "any"})), Forced::ByClient)
                } else {
                    (Some(json!({"type": "auto"})), Forced::No)
                }
            }
            _ => {
                return Err(Error::unsupported_parameter(
                    "tool_choice",
                    "Anthropic (only auto, none, required, a named function and allowed_tools)",
                ));
            }
        },
    })
}

/// Copies a `cache_control` kept among a part's unknown fields onto its block.
fn with_cache_control(mut block: Value, extra: &Map<String, Value>) -> Value {
    if let Some(cache) = extra.get("cache_control")
        && let Some(object) = block.as_object_mut()
    {
        object.insert("cache_control".into(), cache.clone());
    }
    block
}

/// Messages under construction: `(role, blocks)`, consecutive items of a role merged.
#[derive(Default)]
struct Conversation(Vec<(&'static str, Vec<Value>)>);

impl Conversation {
    fn push(&mut self, role: &'static str, blocks: Vec<Value>) {
        if blocks.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => self.0.push((role, blocks)),
        }
    }

    /// A tool result goes into the user message that ends the list, after the results already
    /// there and before any other content (Anthropic wants results first).
    fn push_tool_result(&mut self, block: Value) {
        match self.0.last_mut() {
            Some((role, content)) if *role == "user" => {
                let at = content
                    .iter()
                    .position(|b| b.get("type").and_then(Value::as_str) != Some("tool_result"))
                    .unwrap_or(content.len());
                content.insert(at, block);
            }
            _ => self.0.push(("user", vec![block])),
        }
    }
}

fn translate_item(
    item: &Item,
    i: usize,
    gate: &Gate,
    system: &mut Vec<Value>,
    messages: &mut Conversation,
) -> Result<(), Error> {
    let param = format!("input[{i}]");
    match item {
        Item::Message(m) => {
            let mut blocks = content_blocks(&m.content, m.role, &param, gate)?;
            if let Some(cache) = m.extra.get("cache_control")
                && let Some(Value::Object(last)) = blocks.last_mut()
                && !last.contains_key("cache_control")
            {
                last.insert("cache_control".into(), cache.clone());
            }
            match m.role {
                Role::User => messages.push("user", blocks),
                Role::Assistant => messages.push("assistant", blocks),
                Role::System | Role::Developer => system.extend(blocks),
            }
        }
        Item::FunctionCall(call) => {
            let namespace = call.extra.get("namespace").and_then(Value::as_str);
            let input = if call.arguments.trim().is_empty() {
                json!({})
            } else {
                match serde_json::from_str::<Value>(&call.arguments) {
                    Ok(value @ Value::Object(_)) => value,
                    _ => {
                        return Err(Error::invalid_request(
                            format!(
                                "Invalid '{param}.arguments': Anthropic needs the arguments of \
                                 a replayed function call to be a JSON object."
                            ),
                            Some(&format!("{param}.arguments")),
                        ));
                    }
                }
            };
            let block = json!({"type": "tool_use", "id": tool_use_id(&call.call_id),
                "name": chat_function_name(namespace, &call.name), "input": input});
            messages.push("assistant", vec![block]);
        }
        Item::CustomToolCall(call) => {
            let namespace = call.extra.get("namespace").and_then(Value::as_str);
            let block = json!({"type": "tool_use", "id": tool_use_id(&call.call_id),
                "name": chat_function_name(namespace, &call.name),
                "input": {"input": call.input}});
            messages.push("assistant", vec![block]);
        }
        Item::FunctionCallOutput(out) => {
            let block = tool_result(&out.call_id, &out.output, &param, gate)?;
            messages.push_tool_result(with_cache_control(block, &out.extra));
        }
        Item::CustomToolCallOutput(out) => {
            let block = tool_result(&out.call_id, &out.output, &param, gate)?;
            messages.push_tool_result(with_cache_control(block, &out.extra));
        }
        Item::Reasoning(reasoning) => {
            // Only our own blobs can go back; summaries alone cannot be replayed as thinking
            // (Anthropic checks the signature).
            let block = reasoning
                .encrypted_content
                .as_deref()
                .and_then(|blob| opaque::decode::<Value>(OPAQUE_TAG, blob))
                .filter(|b| {
                    matches!(
                        b.get("type").and_then(Value::as_str),
                        Some("thinking" | "redacted_thinking")
                    )
                });
            match block {
                Some(block) => messages.push("assistant", vec![block]),
                None => tracing::debug!(
                    item = %param,
                    "reasoning item without Anthropic thinking left out"
                ),
            }
        }
        Item::ItemReference(_) => {
            return Err(gate.refuse(
                &param,
                "`item_reference` needs the provider's stored items; send the item itself",
            ));
        }
        Item::Other(_) => {
            gate.unsupported(&format!("{param} (type `{}`)", item.kind()))?;
        }
    }
    Ok(())
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
) -> Result<Value, Error> {
    let content = match output {
        ToolOutput::Text(text) => json!(text),
        ToolOutput::Parts(parts) => {
            let mut blocks = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{param}.output[{j}]");
                match part {
                    ContentPart::InputText(t) => {
                        if !t.text.is_empty() {
                            blocks.push(with_cache_control(
                                json!({"type": "text", "text": t.text}),
                                &t.extra,
                            ));
                        }
                    }
                    ContentPart::OutputText(t) => {
                        if !t.text.is_empty() {
                            blocks.push(json!({"type": "text", "text": t.text}));
                        }
                    }
                    ContentPart::InputImage(image) => {
                        if let Some(block) = image_block(image, &at, gate)? {
                            blocks.push(block);
                        }
                    }
                    ContentPart::InputFile(file) => {
                        if let Some(block) = file_block(file, &at, gate)? {
                            blocks.push(block);
                        }
                    }
                    other => gate
                        .unsupported(&format!("{at} (type `{}` in a tool result)", other.kind()))?,
                }
            }
            Value::Array(blocks)
        }
    };
    Ok(json!({"type": "tool_result", "tool_use_id": tool_use_id(call_id), "content": content}))
}

fn content_blocks(
    content: &MessageContent,
    role: Role,
    param: &str,
    gate: &Gate,
) -> Result<Vec<Value>, Error> {
    let parts = match content {
        MessageContent::Text(text) if text.is_empty() => return Ok(Vec::new()),
        MessageContent::Text(text) => return Ok(vec![json!({"type": "text", "text": text})]),
        MessageContent::Parts(parts) => parts,
    };
    let takes_media = role == Role::User;
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        match part {
            ContentPart::InputText(t)
            | ContentPart::SummaryText(t)
            | ContentPart::ReasoningText(t) => {
                if !t.text.is_empty() {
                    blocks.push(with_cache_control(
                        json!({"type": "text", "text": t.text}),
                        &t.extra,
                    ));
                }
            }
            ContentPart::OutputText(t) => {
                // Anthropic rejects empty text blocks.
                if !t.text.is_empty() {
                    blocks.push(with_cache_control(
                        json!({"type": "text", "text": t.text}),
                        &t.extra,
                    ));
                }
            }
            ContentPart::Refusal(r) => {
                if !r.refusal.is_empty() {
                    blocks.push(json!({"type": "text", "text": r.refusal}));
                }
            }
            ContentPart::InputImage(image) if takes_media => {
                if let Some(block) = image_block(image, &at, gate)? {
                    blocks.push(block);
                }
            }
            ContentPart::InputFile(file) if takes_media => {
                if let Some(block) = file_block(file, &at, gate)? {
                    blocks.push(block);
                }
            }
            other => gate.unsupported(&format!("{at} (type `{}`)", other.kind()))?,
        }
    }
    Ok(blocks)
}

fn image_block(image: &InputImagePart, at: &str, gate: &Gate) -> Result<Option<Value>, Error> {
    let source = match image.image_url.as_deref() {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            json!({"type": "url", "url": url})
        }
        Some(url) => match base64_data_url(url) {
            Some((media_type, data)) => {
                json!({"type": "base64", "media_type": media_type, "data": data})
            }
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
    Ok(Some(with_cache_control(
        json!({"type": "image", "source": source}),
        &image.extra,
    )))
}

fn file_block(file: &InputFilePart, at: &str, gate: &Gate) -> Result<Option<Value>, Error> {
    let block = if let Some(data) = file.file_data.as_deref() {
        // OpenAI wants a data URL; bare base64 is taken as a PDF.
        let (media_type, data) = base64_data_url(data).unwrap_or(("application/pdf", data));
        match media_type {
            "application/pdf" => json!({"type": "document", "source": {"type": "base64",
                "media_type": "application/pdf", "data": data}}),
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
                json!({"type": "document", "source": {"type": "text",
                    "media_type": "text/plain", "data": text}})
            }
            image if image.starts_with("image/") => json!({"type": "image", "source": {
                "type": "base64", "media_type": image, "data": data}}),
            other => {
                gate.unsupported(&format!(
                    "{at}.file_data (media type `{other}`; Anthropic reads PDF, plain text and \
                     images)"
                ))?;
                return Ok(None);
            }
        }
    } else if let Some(url) = file.file_url.as_deref() {
        json!({"type": "document", "source": {"type": "url", "url": url}})
    } else {
        gate.unsupported(&format!("{at}.file_id"))?;
        return Ok(None);
    };
    let mut block = with_cache_control(block, &file.extra);
    if block["type"] == "document"
        && let Some(name) = file.filename.as_deref().filter(|n| !n.is_empty())
        && let Some(object) = block.as_object_mut()
    {
        object.insert("title".into(), json!(name));
    }
    Ok(Some(block))
}

/// True when the last assistant turn calls a tool without starting with a thinking block:
/// Anthropic refuses such a request while thinking is on.
fn last_tool_turn_lacks_thinking(messages: &[(&'static str, Vec<Value>)]) -> bool {
    let Some((_, content)) = messages.iter().rev().find(|(role, _)| *role == "assistant") else {
        return false;
    };
    let kind = |b: &Value| b.get("type").and_then(Value::as_str).map(str::to_string);
    let calls_tool = content
        .iter()
        .any(|b| kind(b).as_deref() == Some("tool_use"));
    let starts_thinking = content
        .first()
        .and_then(kind)
        .is_some_and(|k| k == "thinking" || k == "redacted_thinking");
    calls_tool && !starts_thinking
}

/// A tool's parameter schema as Claude requires it: an object schema with `type: "object"`
/// (clients send `{}` or leave `type` out for argument-less tools).
pub(crate) fn object_schema(parameters: Option<&Value>) -> Value {
    match parameters {
        Some(Value::Object(map)) => {
            let mut map = map.clone();
            map.entry("type").or_insert_with(|| json!("object"));
            Value::Object(map)
        }
        _ => json!({"type": "object", "properties": {}}),
    }
}
