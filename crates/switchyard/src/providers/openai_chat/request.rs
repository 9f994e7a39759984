//! Responses request → Chat Completions request.
//!
//! What cannot be expressed is either refused with a 400 naming the parameter or, with
//! `drop_params`, dropped and logged at debug. Three kinds of input are treated differently, and
//! the README documents why:
//! * parameters that change the output (format, sampling, reasoning effort, forced tools…) are
//!   honoured or refused;
//! * hints the gateway honours itself or that only tune caching and accounting (`user`,
//!   `metadata`, `prompt_cache_key`, `safety_identifier`, `store`, `parallel_tool_calls`) are
//!   forwarded where the server accepts them and otherwise left out;
//! * hosted tools in `tools` (`web_search`, `file_search`, …) are offers the model may take up;
//!   a server that cannot run them is not offered them (logged), unless `tool_choice` forces one.
//!
//! Continuation state the bridge cannot reproduce (`previous_response_id`, `conversation`,
//! stored `prompt`s, `item_reference`, `background`) is always refused: dropping it would
//! silently answer a different question.

use std::collections::HashMap;

use serde_json::{Value, json};
use switchyard_types::JsonMap;
use switchyard_types::chat::{
    ChatContent, ChatContentPart, ChatFile, ChatFunctionCall, ChatFunctionDef, ChatImageUrl,
    ChatMessage, ChatRequest, ChatTool, ChatToolCall,
};
use switchyard_types::responses::{
    ContentPart, CreateResponse, CustomToolCallOutputItem, FunctionCallOutputItem, Item,
    MessageContent, Role, TextFormat, Tool, ToolChoice, ToolChoiceMode, ToolOutput,
};

use super::super::gate::Gate;
use super::flavor::{Flavor, MaxTokensField, ToolIdRule};
use crate::error::Error;

/// Where a translated request goes.
#[derive(Debug, Clone, Copy)]
pub struct ChatTarget<'a> {
    /// The server family.
    pub flavor: &'static Flavor,
    /// The upstream model id.
    pub model: &'a str,
    /// Drop unsupported parameters instead of refusing.
    pub drop_params: bool,
    /// Ask for a stream.
    pub stream: bool,
    /// Put the reasoning of a turn back on its assistant message as `reasoning_content`.
    pub replay_reasoning: bool,
}

/// How a chat function name maps back to a Responses tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// A `custom` tool exposed as a function taking `{"input": string}`.
    Custom {
        /// The custom tool's name.
        name: String,
        /// Its `namespace`, if it belongs to one.
        namespace: Option<String>,
    },
    /// A function inside a `namespace` tool, exposed as `{namespace}__{name}`.
    Namespaced {
        /// The namespace.
        namespace: String,
        /// The function's own name.
        name: String,
    },
}

/// Chat function names that do not map one-to-one back to a Responses function call.
pub type ToolNames = HashMap<String, CallTarget>;

/// Translates `req` for `target`; also returns the function names that need mapping back.
pub fn to_chat(
    req: &CreateResponse,
    target: &ChatTarget,
) -> Result<(ChatRequest, ToolNames), Error> {
    let gate = Gate {
        label: target.flavor.label,
        drop_params: target.drop_params,
    };
    let flavor = target.flavor;
    gate.refuse_state(req)?;
    gate.output_options(req)?;

    let (tools, names) = translate_tools(req.tools.as_deref().unwrap_or_default(), &gate)?;
    let mut chat = ChatRequest {
        model: match flavor.model_prefix {
            Some(prefix) if !target.model.starts_with("accounts/") => {
                format!("{prefix}{}", target.model)
            }
            _ => target.model.to_string(),
        },
        messages: translate_input(req, target, &gate)?,
        ..ChatRequest::default()
    };

    // Tools and tool choice.
    let mut tools = tools;
    let mut tool_choice = None;
    if let Some(choice) = &req.tool_choice {
        match choice {
            ToolChoice::Mode(ToolChoiceMode::Auto) => {}
            ToolChoice::Mode(mode) => {
                if flavor.tool_choice {
                    tool_choice = Some(json!(match mode {
                        ToolChoiceMode::None => "none",
                        _ => "required",
                    }));
                } else {
                    gate.unsupported("tool_choice")?;
                }
            }
            ToolChoice::Object(map) => match choice.object_kind() {
                Some(kind @ ("function" | "custom")) => {
                    let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
                    let namespace = map.get("namespace").and_then(Value::as_str);
                    let chat_name = chat_function_name(namespace, name);
                    if !tools.iter().any(|t| t.function.name == chat_name) {
                        return Err(Error::invalid_request(
                            format!(
                                "tool_choice names the {kind} `{name}`, which is not in `tools`"
                            ),
                            Some("tool_choice"),
                        ));
                    }
                    if flavor.tool_choice {
                        tool_choice =
                            Some(json!({"type": "function", "function": {"name": chat_name}}));
                    } else {
                        gate.unsupported("tool_choice")?;
                    }
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
                    tools.retain(|t| allowed.contains(&t.function.name));
                    if map.get("mode").and_then(Value::as_str) == Some("required") {
                        if flavor.tool_choice {
                            tool_choice = Some(json!("required"));
                        } else {
                            gate.unsupported("tool_choice")?;
                        }
                    }
                }
                _ => gate.unsupported("tool_choice")?,
            },
        }
    }
    if !tools.is_empty() {
        chat.tools = Some(tools);
        chat.tool_choice = tool_choice;
        if flavor.parallel_tool_calls {
            chat.parallel_tool_calls = req.parallel_tool_calls;
        }
    } else if tool_choice.is_some() {
        // Forcing a tool that was not offered: the hosted tool it named was dropped above.
        gate.unsupported("tool_choice")?;
    }

    // Output format and verbosity.
    if let Some(text) = &req.text {
        match &text.format {
            Some(TextFormat::JsonSchema(schema)) => {
                if flavor.json_schema {
                    let mut spec = json!({"name": schema.name, "schema": schema.schema});
                    if let Some(strict) = schema.strict {
                        spec["strict"] = json!(strict);
                    }
                    if let Some(description) = &schema.description {
                        spec["description"] = json!(description);
                    }
                    chat.response_format =
                        Some(json!({"type": "json_schema", "json_schema": spec}));
                } else {
                    gate.unsupported("text.format")?;
                    // Dropped: JSON output is still the closest thing the server offers.
                    chat.response_format = Some(json!({"type": "json_object"}));
                }
            }
            Some(TextFormat::JsonObject) => {
                chat.response_format = Some(json!({"type": "json_object"}));
            }
            Some(TextFormat::Text) | None => {}
        }
        if let Some(verbosity) = &text.verbosity {
            if flavor.verbosity {
                chat.verbosity = Some(verbosity.clone());
            } else {
                gate.unsupported("text.verbosity")?;
            }
        }
    }

    // Reasoning, limits and sampling.
    if let Some(effort) = req.reasoning.as_ref().and_then(|r| r.effort.as_deref()) {
        if flavor.reasoning_effort {
            chat.reasoning_effort = Some(flavor.map_effort(effort));
        } else {
            gate.unsupported("reasoning.effort")?;
        }
    }
    match flavor.max_tokens {
        MaxTokensField::MaxCompletionTokens => chat.max_completion_tokens = req.max_output_tokens,
        MaxTokensField::MaxTokens => chat.max_tokens = req.max_output_tokens,
    }
    chat.temperature = req.temperature;
    chat.top_p = req.top_p;
    if req.presence_penalty.is_some() || req.frequency_penalty.is_some() {
        if flavor.penalties {
            chat.presence_penalty = req.presence_penalty;
            chat.frequency_penalty = req.frequency_penalty;
        } else {
            gate.unsupported("presence_penalty")?;
        }
    }
    match req.service_tier.as_deref() {
        None => {}
        Some(tier) if flavor.service_tier => chat.service_tier = Some(tier.to_string()),
        Some("auto" | "default") => {}
        Some(_) => gate.unsupported("service_tier")?,
    }

    // Hints: forwarded where accepted, otherwise honoured by the gateway alone.
    if flavor.user {
        chat.user = req.user.clone();
    }
    if flavor.prompt_cache_key {
        chat.prompt_cache_key = req.prompt_cache_key.clone();
    }
    if flavor.openai_extras {
        chat.safety_identifier = req.safety_identifier.clone();
        if req.store == Some(true) {
            // OpenAI accepts `metadata` only together with `store: true`.
            chat.store = Some(true);
            chat.metadata = req.metadata.clone();
        }
    }

    if target.stream {
        chat.stream = Some(true);
        if flavor.stream_options {
            chat.stream_options = Some(json!({"include_usage": true}));
        }
    }

    for key in flavor.extra_params {
        if let Some(value) = req.extra.get(*key) {
            chat.extra.insert((*key).to_string(), value.clone());
        }
    }
    if flavor.extra_params.contains(&"random_seed")
        && !chat.extra.contains_key("random_seed")
        && let Some(seed) = req.extra.get("seed")
    {
        chat.extra.insert("random_seed".into(), seed.clone());
    }
    Ok((chat, names))
}

/// The chat function name for a Responses function, flattening namespaces as `ns__name`.
pub fn chat_function_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => {
            let joined = format!("{ns}__{name}");
            joined
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(64)
                .collect()
        }
        _ => name.to_string(),
    }
}

fn translate_tools(tools: &[Tool], gate: &Gate) -> Result<(Vec<ChatTool>, ToolNames), Error> {
    let mut out = Vec::new();
    let mut names = ToolNames::new();
    offered_functions(tools, gate.label, &mut names, &mut |f| {
        let parameters = match (f.custom, f.parameters) {
            (true, Some(mut schema)) => {
                schema["additionalProperties"] = json!(false);
                schema
            }
            (_, Some(schema)) => schema,
            (_, None) => json!({"type": "object", "properties": {}}),
        };
        out.push(ChatTool {
            kind: "function".into(),
            function: ChatFunctionDef {
                name: f.name,
                description: f.description,
                parameters: Some(parameters),
                strict: f.strict,
            },
        });
    });
    Ok((out, names))
}

/// A tool as every function-calling upstream is offered it: a `function`, or a `custom` tool
/// as a function taking `{"input": "…"}`.
pub(crate) struct OfferedFunction<'t> {
    /// The upstream name, registered in the [`ToolNames`] so that calls map back.
    pub name: String,
    /// The description (a custom tool's with its grammar appended).
    pub description: Option<String>,
    /// A function's `parameters` as given (`None`: none given), or a custom tool's schema.
    pub parameters: Option<Value>,
    /// A custom tool.
    pub custom: bool,
    /// A function's `strict`.
    pub strict: Option<bool>,
    /// The tool's unknown fields (`cache_control`, …).
    pub extra: &'t JsonMap,
}

/// Calls `offer` with every function and custom tool of `tools`, namespaces flattened
/// (`namespace__name`); hosted tools are left out, since an upstream that cannot run them
/// must not be offered them (logged at debug with `target`).
pub(crate) fn offered_functions(
    tools: &[Tool],
    target: &str,
    names: &mut ToolNames,
    offer: &mut dyn FnMut(OfferedFunction<'_>),
) {
    fn walk(
        tools: &[Tool],
        namespace: Option<&str>,
        target: &str,
        names: &mut ToolNames,
        offer: &mut dyn FnMut(OfferedFunction<'_>),
    ) {
        for tool in tools {
            match tool {
                Tool::Function(f) => offer(OfferedFunction {
                    name: function_name(&f.name, namespace, names),
                    description: f.description.clone(),
                    parameters: f.parameters.clone(),
                    custom: false,
                    strict: f.strict,
                    extra: &f.extra,
                }),
                Tool::Custom(c) => {
                    let custom = custom_as_function(c, namespace, names);
                    offer(OfferedFunction {
                        name: custom.name,
                        description: custom.description,
                        parameters: Some(custom.schema),
                        custom: true,
                        strict: None,
                        extra: &c.extra,
                    });
                }
                Tool::Other(value) if tool.kind() == "namespace" => {
                    let (ns, inner) = namespace_members(value);
                    walk(&inner, Some(ns), target, names, offer);
                }
                Tool::Other(_) => {
                    tracing::debug!(
                        tool = tool.kind(),
                        target,
                        "hosted tool not offered to an upstream that cannot run it"
                    );
                }
            }
        }
    }
    walk(tools, None, target, names, offer);
}

/// The upstream name of the function `name` offered inside `namespace` (if any), registered in
/// `names` so that calls to it map back.
pub(crate) fn function_name(name: &str, namespace: Option<&str>, names: &mut ToolNames) -> String {
    let upstream = chat_function_name(namespace, name);
    if let Some(ns) = namespace {
        names.insert(
            upstream.clone(),
            CallTarget::Namespaced {
                namespace: ns.to_string(),
                name: name.to_string(),
            },
        );
    }
    upstream
}

/// A custom (freeform) tool offered as a function taking `{"input": "…"}`.
pub(crate) struct CustomAsFunction {
    /// The upstream function name, registered to map calls back to a custom tool call.
    pub name: String,
    /// The tool's description with its grammar appended; `None` when empty.
    pub description: Option<String>,
    /// The `{"input": string}` parameter schema.
    pub schema: Value,
}

/// Describes the custom tool `c` (inside `namespace`, if any) as a function, every translator
/// alike.
pub(crate) fn custom_as_function(
    c: &switchyard_types::responses::CustomTool,
    namespace: Option<&str>,
    names: &mut ToolNames,
) -> CustomAsFunction {
    let name = chat_function_name(namespace, &c.name);
    names.insert(
        name.clone(),
        CallTarget::Custom {
            name: c.name.clone(),
            namespace: namespace.map(str::to_string),
        },
    );
    let mut description = c.description.clone().unwrap_or_default();
    if let Some(format) = &c.format
        && format.get("type").and_then(Value::as_str) == Some("grammar")
    {
        let syntax = format.get("syntax").and_then(Value::as_str).unwrap_or("");
        let definition = format
            .get("definition")
            .and_then(Value::as_str)
            .unwrap_or("");
        description.push_str(&format!(
            "\n\nThe `input` must follow this {syntax} grammar:\n{definition}"
        ));
    }
    let description = description.trim();
    CustomAsFunction {
        name,
        description: (!description.is_empty()).then(|| description.to_string()),
        schema: json!({"type": "object",
            "properties": {"input": {"type": "string", "description": "The tool input."}},
            "required": ["input"]}),
    }
}

/// A `namespace` tool's name and member tools (functions offered as `namespace__name`).
pub(crate) fn namespace_members(value: &Value) -> (&str, Vec<Tool>) {
    let ns = value
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let members = value
        .get("tools")
        .cloned()
        .and_then(|t| serde_json::from_value(t).ok())
        .unwrap_or_default();
    (ns, members)
}

fn translate_input(
    req: &CreateResponse,
    target: &ChatTarget,
    gate: &Gate,
) -> Result<Vec<ChatMessage>, Error> {
    let flavor = target.flavor;
    let mut messages = Vec::new();
    if let Some(instructions) = &req.instructions {
        messages.push(text_message("system", instructions.clone()));
    }
    let items = req.input_items();
    let mut pending_reasoning: Option<String> = None;
    let take_reasoning = |pending: &mut Option<String>| {
        if target.replay_reasoning {
            pending.take()
        } else {
            pending.take();
            None
        }
    };
    for (i, item) in items.iter().enumerate() {
        let param = format!("input[{i}]");
        match item {
            Item::Message(m) => match m.role {
                Role::User => messages.push(ChatMessage {
                    role: "user".into(),
                    content: Some(user_content(&m.content, &param, flavor, gate)?),
                    ..ChatMessage::default()
                }),
                Role::System | Role::Developer => {
                    let role = if m.role == Role::Developer && flavor.developer_role {
                        "developer"
                    } else {
                        "system"
                    };
                    messages.push(text_message(role, plain_text(&m.content, &param, gate)?));
                }
                Role::Assistant => {
                    let text = plain_text(&m.content, &param, gate)?;
                    messages.push(ChatMessage {
                        role: "assistant".into(),
                        content: Some(ChatContent::Text(text)),
                        reasoning_content: take_reasoning(&mut pending_reasoning),
                        ..ChatMessage::default()
                    });
                }
            },
            Item::FunctionCall(call) => {
                let namespace = call.extra.get("namespace").and_then(Value::as_str);
                let tool_call = ChatToolCall {
                    id: chat_call_id(&call.call_id, flavor.tool_ids),
                    kind: "function".into(),
                    function: ChatFunctionCall {
                        name: chat_function_name(namespace, &call.name),
                        arguments: call.arguments.clone(),
                    },
                };
                push_tool_call(
                    &mut messages,
                    tool_call,
                    take_reasoning(&mut pending_reasoning),
                );
            }
            Item::CustomToolCall(call) => {
                let namespace = call.extra.get("namespace").and_then(Value::as_str);
                let tool_call = ChatToolCall {
                    id: chat_call_id(&call.call_id, flavor.tool_ids),
                    kind: "function".into(),
                    function: ChatFunctionCall {
                        name: chat_function_name(namespace, &call.name),
                        arguments: json!({"input": call.input}).to_string(),
                    },
                };
                push_tool_call(
                    &mut messages,
                    tool_call,
                    take_reasoning(&mut pending_reasoning),
                );
            }
            Item::FunctionCallOutput(FunctionCallOutputItem {
                call_id, output, ..
            })
            | Item::CustomToolCallOutput(CustomToolCallOutputItem {
                call_id, output, ..
            }) => messages.push(ChatMessage {
                role: "tool".into(),
                tool_call_id: Some(chat_call_id(call_id, flavor.tool_ids)),
                content: Some(ChatContent::Text(tool_output_text(output, &param, gate)?)),
                ..ChatMessage::default()
            }),
            Item::Reasoning(reasoning) => {
                let text: Vec<&str> = reasoning
                    .summary
                    .iter()
                    .chain(reasoning.content.iter().flatten())
                    .filter_map(|p| match p {
                        ContentPart::SummaryText(t) | ContentPart::ReasoningText(t) => {
                            Some(t.text.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                if !text.is_empty() {
                    pending_reasoning = Some(text.join("\n\n"));
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
    }
    Ok(messages)
}

fn text_message(role: &str, text: String) -> ChatMessage {
    ChatMessage {
        role: role.into(),
        content: Some(ChatContent::Text(text)),
        ..ChatMessage::default()
    }
}

/// Appends a tool call to the assistant message that ends the list, or starts one: consecutive
/// calls (and a text reply followed by calls) form one assistant turn, as chat servers expect.
fn push_tool_call(messages: &mut Vec<ChatMessage>, call: ChatToolCall, reasoning: Option<String>) {
    if let Some(last) = messages.last_mut()
        && last.role == "assistant"
    {
        if last.reasoning_content.is_none() {
            last.reasoning_content = reasoning;
        }
        if matches!(&last.content, Some(ChatContent::Text(t)) if t.is_empty()) {
            last.content = None;
        }
        last.tool_calls.get_or_insert_with(Vec::new).push(call);
        return;
    }
    messages.push(ChatMessage {
        role: "assistant".into(),
        content: None,
        reasoning_content: reasoning,
        tool_calls: Some(vec![call]),
        ..ChatMessage::default()
    });
}

/// Text of a system, developer or assistant message; other parts cannot be carried.
pub(crate) fn plain_text(
    content: &MessageContent,
    param: &str,
    gate: &Gate,
) -> Result<String, Error> {
    match content {
        MessageContent::Text(text) => Ok(text.clone()),
        MessageContent::Parts(parts) => {
            let mut texts = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::InputText(t) | ContentPart::SummaryText(t) => {
                        texts.push(t.text.as_str())
                    }
                    ContentPart::OutputText(t) => texts.push(t.text.as_str()),
                    ContentPart::Refusal(r) => texts.push(r.refusal.as_str()),
                    other => gate
                        .unsupported(&format!("{param}.content[{j}] (type `{}`)", other.kind()))?,
                }
            }
            Ok(texts.join("\n\n"))
        }
    }
}

fn user_content(
    content: &MessageContent,
    param: &str,
    flavor: &Flavor,
    gate: &Gate,
) -> Result<ChatContent, Error> {
    let parts = match content {
        MessageContent::Text(text) => return Ok(ChatContent::Text(text.clone())),
        MessageContent::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        match part {
            ContentPart::InputText(t)
            | ContentPart::ReasoningText(t)
            | ContentPart::SummaryText(t) => out.push(ChatContentPart::Text {
                text: t.text.clone(),
            }),
            ContentPart::OutputText(t) => out.push(ChatContentPart::Text {
                text: t.text.clone(),
            }),
            ContentPart::Refusal(r) => out.push(ChatContentPart::Text {
                text: r.refusal.clone(),
            }),
            ContentPart::InputImage(image) => match &image.image_url {
                Some(url) if flavor.append_v1 && !url.starts_with("data:") => {
                    // Ollama only takes inline images.
                    gate.unsupported(&format!(
                        "{at}.image_url (only data: URLs reach {})",
                        flavor.label
                    ))?
                }
                Some(url) => out.push(ChatContentPart::ImageUrl {
                    image_url: ChatImageUrl {
                        url: url.clone(),
                        detail: image.detail.clone(),
                    },
                }),
                None => gate.unsupported(&format!("{at}.file_id"))?,
            },
            ContentPart::InputFile(file) if flavor.openai_extras && file.file_url.is_none() => out
                .push(ChatContentPart::File {
                    file: ChatFile {
                        file_data: file.file_data.clone(),
                        file_id: file.file_id.clone(),
                        filename: file.filename.clone(),
                    },
                }),
            other => gate.unsupported(&format!("{at} (type `{}`)", other.kind()))?,
        }
    }
    // A single text part is sent as a plain string, which every server accepts.
    if let [ChatContentPart::Text { text }] = out.as_slice() {
        return Ok(ChatContent::Text(text.clone()));
    }
    Ok(ChatContent::Parts(out))
}

fn tool_output_text(output: &ToolOutput, param: &str, gate: &Gate) -> Result<String, Error> {
    match output {
        ToolOutput::Text(text) => Ok(text.clone()),
        ToolOutput::Parts(parts) => {
            let mut texts = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::InputText(t) => texts.push(t.text.clone()),
                    ContentPart::OutputText(t) => texts.push(t.text.clone()),
                    other => gate.unsupported(&format!(
                        "{param}.output[{j}] (type `{}` in a tool result)",
                        other.kind()
                    ))?,
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

/// A tool call id the target accepts. Ids that already fit pass unchanged; others are replaced
/// by a deterministic digest, so a call and its result map to the same id on every turn.
pub fn chat_call_id(id: &str, rule: ToolIdRule) -> String {
    let fits_charset = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match rule {
        ToolIdRule::MaxLen(max) if id.len() <= max && !id.is_empty() && fits_charset(id) => {
            id.to_string()
        }
        ToolIdRule::MaxLen(_) => format!("call_{}", base62_digest(id, 24)),
        ToolIdRule::Alnum9 if id.len() == 9 && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
            id.to_string()
        }
        ToolIdRule::Alnum9 => base62_digest(id, 9),
    }
}

/// `len` base-62 characters derived from `input` with FNV-1a (stable across processes and
/// versions, unlike `std`'s hasher).
pub(crate) fn base62_digest(input: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut round: u64 = 0;
    while out.len() < len {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ round;
        for byte in input.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for _ in 0..10 {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(hash % 62) as usize] as char);
            hash /= 62;
        }
        round += 1;
    }
    out
}
