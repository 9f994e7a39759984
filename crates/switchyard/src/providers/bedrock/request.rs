//! Responses request → Bedrock Converse request (`providers.md` §6.2).
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
//!   budget; other model families get a 400 naming `reasoning.effort` (dropped with
//!   `drop_params`), since Converse has no portable reasoning switch.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchyard_types::responses::{
    ContentPart, CreateResponse, CustomToolCallOutputItem, FunctionCallOutputItem, Item,
    MessageContent, Role, TextFormat, Tool, ToolChoice, ToolChoiceMode, ToolOutput,
};

use super::super::gate::Gate;
use crate::error::Error;
use crate::providers::base64_data_url;
use crate::providers::openai_chat::flavor::ToolIdRule;
use crate::providers::openai_chat::request::{ToolNames, chat_call_id, chat_function_name};
use crate::providers::openai_chat::request::{offered_functions, plain_text};
use crate::providers::{anthropic, opaque};

/// The tag of Bedrock's opaque reasoning blobs.
pub const BLOB_TAG: &str = "bedrock";
/// The tool that carries structured output.
pub const JSON_TOOL: &str = "json_tool_call";
/// The label used in error messages.
pub const LABEL: &str = "Bedrock Converse";

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
    fn block(&self) -> Option<Value> {
        if let Some(redacted) = &self.redacted {
            return Some(json!({"reasoningContent": {"redactedContent": redacted}}));
        }
        let signature = self.signature.as_ref()?;
        Some(json!({"reasoningContent": {"reasoningText": {
            "text": self.text.clone().unwrap_or_default(), "signature": signature}}}))
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

/// What the decoder must know about the request it answers.
#[derive(Debug, Clone, Default)]
pub struct ConverseContext {
    /// Converse tool names that map back to custom or namespaced tools.
    pub tools: ToolNames,
    /// Structured output travels through [`JSON_TOOL`].
    pub json_tool: bool,
}

/// Room left for the answer when the client sets no `max_output_tokens`.
const ANSWER_ROOM: u64 = 4096;

/// Translates `req`; also returns what the decoder needs.
pub fn to_converse(
    req: &CreateResponse,
    target: &ConverseTarget,
) -> Result<(Value, ConverseContext), Error> {
    let gate = Gate {
        label: LABEL,
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

    let mut body = Map::new();
    let mut ctx = ConverseContext::default();

    // Messages and system prompt.
    let (system, messages) = translate_input(req, &gate)?;
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }

    // Reasoning.
    // Claude's budgets and rules are the Anthropic provider's, whichever route reaches Claude.
    let effort = req.reasoning.as_ref().and_then(|r| r.effort.as_deref());
    let mut budget = None;
    if let Some(effort) = effort {
        if target.is_claude() {
            budget = anthropic::request::thinking_budget(effort, target.model, &gate)?;
        } else if effort != "none" {
            gate.unsupported("reasoning.effort")?;
        }
    }
    if budget.is_some() && last_tool_turn_lacks_reasoning(&body["messages"]) {
        // Claude refuses a replayed tool call that does not start with its thinking block.
        tracing::debug!(
            target = LABEL,
            "thinking disabled for this request: the replayed tool call has no reasoning block \
             (ask for `reasoning.encrypted_content` to keep it)"
        );
        budget = None;
    }

    // Inference configuration.
    let mut inference = Map::new();
    match (budget, req.max_output_tokens) {
        (Some(b), Some(max)) => {
            // `maxTokens` includes the thinking budget, which must stay below it.
            if max <= 1024 {
                gate.unsupported("reasoning.effort (max_output_tokens leaves no room for the minimum thinking budget of 1024 tokens)")?;
                budget = None;
            } else {
                budget = Some(b.min(max - 1));
            }
            inference.insert("maxTokens".into(), json!(max));
        }
        (Some(b), None) => {
            inference.insert("maxTokens".into(), json!(b + ANSWER_ROOM));
        }
        (None, Some(max)) => {
            inference.insert("maxTokens".into(), json!(max));
        }
        (None, None) => {}
    }
    let (mut temperature, mut top_p) = (req.temperature, req.top_p);
    if target.is_claude() {
        if budget.is_some() && temperature.is_some_and(|t| t != 1.0) {
            gate.conflict(
                "temperature",
                "reasoning requires the default temperature (1); leave temperature unset",
            )?;
            temperature = None;
        }
        if budget.is_some() && top_p.is_some_and(|p| p < 0.95) {
            gate.conflict("top_p", "reasoning requires top_p of at least 0.95")?;
            top_p = None;
        }
        if temperature.is_some()
            && top_p.is_some()
            && anthropic::models::exclusive_sampling(target.model)
        {
            gate.conflict(
                "top_p",
                "this Claude model takes temperature or top_p, not both; set only one",
            )?;
            top_p = None;
        }
    }
    if let Some(t) = temperature {
        inference.insert("temperature".into(), json!(t));
    }
    if let Some(p) = top_p {
        inference.insert("topP".into(), json!(p));
    }
    if let Some(stop) = req.extra.get("stop").filter(|s| !s.is_null()) {
        let list = match stop {
            Value::String(s) => vec![Value::String(s.clone())],
            Value::Array(items) => items.clone(),
            _ => Vec::new(),
        };
        if !list.is_empty() {
            inference.insert("stopSequences".into(), Value::Array(list));
        }
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if let Some(budget) = budget {
        body.insert(
            "additionalModelRequestFields".into(),
            json!({"thinking": {"type": "enabled", "budget_tokens": budget}}),
        );
    }

    // Tools, tool choice and structured output.
    let (mut tools, names) = translate_tools(req.tools.as_deref().unwrap_or_default());
    ctx.tools = names;
    let mut choice: Option<Value> = None;
    let mut choice_none = false;
    match &req.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => {}
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => choice_none = true,
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => choice = Some(json!({"any": {}})),
        Some(c @ ToolChoice::Object(map)) => match c.object_kind() {
            Some(kind @ ("function" | "custom")) => {
                let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
                let namespace = map.get("namespace").and_then(Value::as_str);
                let converse_name = chat_function_name(namespace, name);
                if !tools.iter().any(|t| tool_name(t) == Some(&converse_name)) {
                    return Err(Error::invalid_request(
                        format!("tool_choice names the {kind} `{name}`, which is not in `tools`"),
                        Some("tool_choice"),
                    ));
                }
                choice = Some(json!({"tool": {"name": converse_name}}));
            }
            Some("allowed_tools") => {
                let allowed: Vec<String> = map
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        let name = t.get("name")?.as_str()?;
                        let ns = t.get("namespace").and_then(Value::as_str);
                        Some(chat_function_name(ns, name))
                    })
                    .collect();
                tools.retain(|t| tool_name(t).is_some_and(|n| allowed.iter().any(|a| a == n)));
                if map.get("mode").and_then(Value::as_str) == Some("required") {
                    choice = Some(json!({"any": {}}));
                }
            }
            _ => gate.unsupported("tool_choice")?,
        },
    }
    if choice.is_some() && budget.is_some() {
        // Claude refuses forced tool use while thinking.
        gate.unsupported(
            "tool_choice (a forced tool cannot be combined with reasoning on Claude)",
        )?;
        choice = None;
    }

    let format = req.text.as_ref().and_then(|t| t.format.as_ref());
    let json_schema = match format {
        Some(TextFormat::JsonSchema(schema)) => Some((
            schema.schema.clone(),
            schema
                .description
                .clone()
                .unwrap_or_else(|| format!("Respond with the `{}` object.", schema.name)),
        )),
        Some(TextFormat::JsonObject) => Some((
            json!({"type": "object"}),
            "Respond with a JSON object.".to_string(),
        )),
        _ => None,
    };
    if let Some((schema, description)) = json_schema {
        ctx.json_tool = true;
        tools.push(json!({"toolSpec": {
            "name": JSON_TOOL,
            "description": format!("{description} Always answer by calling this tool with the complete answer as its input."),
            "inputSchema": {"json": schema}}}));
        if budget.is_none() && !choice_none {
            choice = Some(match choice {
                // The client's own tools stay callable; the model must call one of them or
                // answer through the JSON tool.
                None if tools.len() > 1 => json!({"any": {}}),
                None => json!({"tool": {"name": JSON_TOOL}}),
                Some(c) => c,
            });
        }
    }
    if let Some(verbosity) = req.text.as_ref().and_then(|t| t.verbosity.as_ref())
        && verbosity != "medium"
    {
        gate.unsupported("text.verbosity")?;
    }

    let history_has_tools = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .any(|b| b.get("toolUse").is_some() || b.get("toolResult").is_some());
    if choice_none && !ctx.json_tool {
        // Converse has no `none` mode. Tools are left out — unless the history holds tool
        // calls, which Converse only accepts with a `toolConfig`; then they stay offered with
        // `auto`, the closest mode there is.
        if !history_has_tools {
            tools.clear();
        }
        choice = None;
    }
    if tools.is_empty() && history_has_tools {
        // Converse refuses toolUse / toolResult blocks without a `toolConfig`, even when no
        // tool is offered any more (a summarising turn, hosted tools only): declare the tools
        // the history used, with an open schema, and let the model choose.
        tools = history_tool_specs(&body["messages"]);
        choice = None;
    }
    if !tools.is_empty() {
        let mut config = Map::new();
        config.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = choice {
            config.insert("toolChoice".into(), choice);
        }
        body.insert("toolConfig".into(), Value::Object(config));
    }

    // Service tier.
    if let Some(tier) = req.service_tier.as_deref() {
        match tier {
            "auto" => {}
            "default" | "flex" | "priority" => {
                body.insert("serviceTier".into(), json!({"type": tier}));
            }
            _ => gate.unsupported("service_tier")?,
        }
    }
    Ok((Value::Object(body), ctx))
}

/// True when the last assistant turn calls a tool without leading with its reasoning block.
fn last_tool_turn_lacks_reasoning(messages: &Value) -> bool {
    let Some(content) = messages
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|m| m["role"] == "assistant")
        .and_then(|m| m["content"].as_array())
    else {
        return false;
    };
    let calls_tool = content.iter().any(|b| b.get("toolUse").is_some());
    let leads_with_reasoning = content
        .first()
        .is_some_and(|b| b.get("reasoningContent").is_some());
    calls_tool && !leads_with_reasoning
}

/// Tool specs for every tool the history's `toolUse` blocks name.
fn history_tool_specs(messages: &Value) -> Vec<Value> {
    let mut names: Vec<&str> = Vec::new();
    for block in messages
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
    {
        if let Some(name) = block.pointer("/toolUse/name").and_then(Value::as_str)
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            json!({"toolSpec": {"name": name, "description": "A tool used earlier in this conversation.",
                "inputSchema": {"json": {"type": "object"}}}})
        })
        .collect()
}

fn tool_name(tool: &Value) -> Option<&String> {
    match tool.pointer("/toolSpec/name") {
        Some(Value::String(name)) => Some(name),
        _ => None,
    }
}

fn translate_tools(tools: &[Tool]) -> (Vec<Value>, ToolNames) {
    let mut out = Vec::new();
    let mut names = ToolNames::new();
    offered_functions(tools, LABEL, &mut names, &mut |f| {
        let schema = if f.custom {
            f.parameters.unwrap_or_default()
        } else {
            anthropic::request::object_schema(f.parameters.as_ref())
        };
        let mut spec = json!({"name": f.name, "inputSchema": {"json": schema}});
        if let Some(description) = f.description.filter(|d| !d.is_empty()) {
            spec["description"] = json!(description);
        }
        out.push(json!({"toolSpec": spec}));
    });
    (out, names)
}

/// Builds the message list, merging consecutive same-role turns (Converse requires roles to
/// alternate) and hoisting system and developer messages into `system`.
struct Conversation {
    system: Vec<Value>,
    messages: Vec<Value>,
    /// Reasoning blocks waiting for the next assistant content.
    pending_reasoning: Vec<Value>,
}

impl Conversation {
    fn push(&mut self, role: &str, blocks: Vec<Value>) {
        if blocks.is_empty() {
            return;
        }
        let mut blocks = blocks;
        if role == "assistant" && !self.pending_reasoning.is_empty() {
            let mut with_reasoning = std::mem::take(&mut self.pending_reasoning);
            with_reasoning.append(&mut blocks);
            blocks = with_reasoning;
        }
        if let Some(last) = self.messages.last_mut()
            && last["role"] == role
            && let Some(content) = last["content"].as_array_mut()
        {
            content.extend(blocks);
            return;
        }
        self.messages
            .push(json!({"role": role, "content": Value::Array(blocks)}));
    }
}

fn translate_input(req: &CreateResponse, gate: &Gate) -> Result<(Vec<Value>, Vec<Value>), Error> {
    let mut conv = Conversation {
        system: Vec::new(),
        messages: Vec::new(),
        pending_reasoning: Vec::new(),
    };
    if let Some(instructions) = req.instructions.as_ref().filter(|i| !i.trim().is_empty()) {
        conv.system.push(json!({"text": instructions}));
    }
    for (i, item) in req.input_items().iter().enumerate() {
        let param = format!("input[{i}]");
        match item {
            Item::Message(m) => match m.role {
                Role::User => {
                    let blocks = user_blocks(&m.content, &param, gate)?;
                    conv.push("user", blocks);
                }
                Role::System | Role::Developer => {
                    let text = plain_text(&m.content, &param, gate)?;
                    if !text.trim().is_empty() {
                        conv.system.push(json!({"text": text}));
                    }
                }
                Role::Assistant => {
                    let text = plain_text(&m.content, &param, gate)?;
                    if !text.trim().is_empty() {
                        conv.push("assistant", vec![json!({"text": text})]);
                    }
                }
            },
            Item::FunctionCall(call) => {
                let namespace = call.extra.get("namespace").and_then(Value::as_str);
                let input = parse_arguments(&call.arguments, &param)?;
                conv.push(
                    "assistant",
                    vec![json!({"toolUse": {
                        "toolUseId": tool_use_id(&call.call_id),
                        "name": chat_function_name(namespace, &call.name),
                        "input": input}})],
                );
            }
            Item::CustomToolCall(call) => {
                let namespace = call.extra.get("namespace").and_then(Value::as_str);
                conv.push(
                    "assistant",
                    vec![json!({"toolUse": {
                        "toolUseId": tool_use_id(&call.call_id),
                        "name": chat_function_name(namespace, &call.name),
                        "input": {"input": call.input}}})],
                );
            }
            Item::FunctionCallOutput(FunctionCallOutputItem {
                call_id, output, ..
            })
            | Item::CustomToolCallOutput(CustomToolCallOutputItem {
                call_id, output, ..
            }) => {
                let content = tool_result_content(output, &param, gate)?;
                conv.push(
                    "user",
                    vec![json!({"toolResult": {
                        "toolUseId": tool_use_id(call_id),
                        "content": content,
                        "status": "success"}})],
                );
            }
            Item::Reasoning(reasoning) => {
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

fn user_blocks(content: &MessageContent, param: &str, gate: &Gate) -> Result<Vec<Value>, Error> {
    let parts = match content {
        MessageContent::Text(text) if text.trim().is_empty() => return Ok(Vec::new()),
        MessageContent::Text(text) => return Ok(vec![json!({"text": text})]),
        MessageContent::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        if let Some(block) = media_or_text_block(part, &at, gate)? {
            out.push(block);
        }
    }
    Ok(out)
}

/// One content part as a Converse block; `None` when it was dropped or is empty.
fn media_or_text_block(part: &ContentPart, at: &str, gate: &Gate) -> Result<Option<Value>, Error> {
    Ok(match part {
        ContentPart::InputText(t) | ContentPart::ReasoningText(t) | ContentPart::SummaryText(t) => {
            // Converse refuses blank text blocks.
            (!t.text.trim().is_empty()).then(|| json!({"text": t.text}))
        }
        ContentPart::OutputText(t) => (!t.text.trim().is_empty()).then(|| json!({"text": t.text})),
        ContentPart::Refusal(r) => {
            (!r.refusal.trim().is_empty()).then(|| json!({"text": r.refusal}))
        }
        ContentPart::InputImage(image) => match image.image_url.as_deref() {
            Some(url) if url.starts_with("data:") => match base64_data_url(url) {
                Some((mime, data)) => match image_format(mime) {
                    Some(format) => {
                        Some(json!({"image": {"format": format, "source": {"bytes": data}}}))
                    }
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
            },
            Some(url) if url.starts_with("s3://") => {
                let format = image_format_from_name(url).unwrap_or("png");
                Some(json!({"image": {"format": format, "source": {"s3Location": {"uri": url}}}}))
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
        },
        ContentPart::InputFile(file) => match file.file_data.as_deref() {
            Some(data) => {
                let (mime, bytes) = match base64_data_url(data) {
                    Some((mime, bytes)) => (Some(mime), bytes),
                    None => (None, data),
                };
                let format = mime
                    .and_then(document_format)
                    .or_else(|| file.filename.as_deref().and_then(document_format_from_name))
                    .unwrap_or("pdf");
                let name = document_name(file.filename.as_deref().unwrap_or("document"));
                Some(
                    json!({"document": {"format": format, "name": name, "source": {"bytes": bytes}}}),
                )
            }
            None => {
                let what = if file.file_url.is_some() {
                    "file_url"
                } else {
                    "file_id"
                };
                gate.unsupported(&format!(
                    "{at}.{what} (Bedrock Converse takes documents as inline bytes only: send \
                     file_data)"
                ))?;
                None
            }
        },
        other => {
            gate.unsupported(&format!("{at} (type `{}`)", other.kind()))?;
            None
        }
    })
}

fn tool_result_content(output: &ToolOutput, param: &str, gate: &Gate) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    match output {
        ToolOutput::Text(text) => out.push(json!({"text": text})),
        ToolOutput::Parts(parts) => {
            for (j, part) in parts.iter().enumerate() {
                let at = format!("{param}.output[{j}]");
                if let Some(block) = media_or_text_block(part, &at, gate)? {
                    out.push(block);
                }
            }
        }
    }
    // Converse rejects an empty result; an empty output is still an answer.
    if out.is_empty()
        || out.iter().all(|b| {
            b.get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| t.trim().is_empty())
        })
    {
        out = vec![json!({"text": "(no output)"})];
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
