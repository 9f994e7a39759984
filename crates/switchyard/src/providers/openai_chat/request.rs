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

use serde_json::json;
use switchyard_types::responses::{
    ContentPart, CreateResponse, MessageContent, MessageItem, ReasoningItem, Role, TextFormat,
};

use super::super::gate::Gate;
use super::flavor::{Flavor, MaxTokensField};
use super::wire::{
    ChatCompletionsRequest, ChatContent, ChatContentPart, ChatFile, ChatFunctionCall,
    ChatFunctionDef, ChatImageUrl, ChatMessage, ChatTool, ChatToolCall, ChatToolChoice,
    ChatToolMode, FunctionName, JsonSchemaSpec, NamedFunction, ResponseFormat, StreamOptions,
};
use crate::error::Error;
use crate::providers::translate::ToolNames;
use crate::providers::translate::content::{plain_text, tool_output_text};
use crate::providers::translate::history::{CallInput, HistoryItem, ReplayedCall, read_item};
use crate::providers::translate::tool_choice::{Choice, requested_choice};
use crate::providers::translate::tools::{custom_tool_arguments, offered_functions};

pub use crate::providers::translate::ids::chat_call_id;

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

/// Translates `req` for `target`; also returns the function names that need mapping back.
pub fn to_chat(
    req: &CreateResponse,
    target: &ChatTarget,
) -> Result<(ChatCompletionsRequest, ToolNames), Error> {
    let flavor = target.flavor;
    let gate = Gate {
        label: flavor.label,
        drop_params: target.drop_params,
    };
    gate.refuse_state(req)?;
    gate.output_options(req)?;
    let (tools, names) = chat_tools(req, &gate);
    let mut chat = ChatCompletionsRequest {
        model: upstream_model(flavor, target.model),
        messages: messages(req, target, &gate)?,
        ..ChatCompletionsRequest::default()
    };
    tools_and_choice(req, flavor, &gate, tools, &mut chat)?;
    output_format(req, flavor, &gate, &mut chat)?;
    reasoning_and_sampling(req, flavor, &gate, &mut chat)?;
    hints(req, flavor, &mut chat);
    if target.stream {
        chat.stream = Some(true);
        if flavor.stream_options {
            chat.stream_options = Some(StreamOptions {
                include_usage: true,
            });
        }
    }
    pass_through(req, flavor, &mut chat);
    Ok((chat, names))
}

/// The model as the server names it (Fireworks wants its account path in front).
fn upstream_model(flavor: &Flavor, model: &str) -> String {
    match flavor.model_prefix {
        Some(prefix) if !model.starts_with("accounts/") => format!("{prefix}{model}"),
        _ => model.to_string(),
    }
}

/// The function tools, custom tools as functions taking `{"input": …}` whose schema forbids
/// anything else.
fn chat_tools(req: &CreateResponse, gate: &Gate) -> (Vec<ChatTool>, ToolNames) {
    let (functions, names) =
        offered_functions(req.tools.as_deref().unwrap_or_default(), gate.label);
    let tools = functions
        .into_iter()
        .map(|f| {
            let parameters = match (f.custom, f.parameters) {
                (true, Some(mut schema)) => {
                    schema["additionalProperties"] = json!(false);
                    schema
                }
                (_, Some(schema)) => schema,
                (_, None) => json!({"type": "object", "properties": {}}),
            };
            ChatTool {
                kind: "function".into(),
                function: ChatFunctionDef {
                    name: f.name,
                    description: f.description,
                    parameters: Some(parameters),
                    strict: f.strict,
                },
            }
        })
        .collect();
    (tools, names)
}

/// `tools`, `tool_choice` and `parallel_tool_calls`; `allowed_tools` narrows the tools.
fn tools_and_choice(
    req: &CreateResponse,
    flavor: &Flavor,
    gate: &Gate,
    mut tools: Vec<ChatTool>,
    chat: &mut ChatCompletionsRequest,
) -> Result<(), Error> {
    let choice = requested_choice(req, |name| tools.iter().any(|t| t.function.name == name))?;
    // Ollama ignores `tool_choice`: a choice it cannot honour is refused (or dropped).
    let honoured = |choice: ChatToolChoice| -> Result<Option<ChatToolChoice>, Error> {
        if flavor.tool_choice {
            Ok(Some(choice))
        } else {
            gate.unsupported("tool_choice")?;
            Ok(None)
        }
    };
    let tool_choice = match choice {
        None | Some(Choice::Auto) => None,
        Some(Choice::None) => honoured(ChatToolChoice::Mode(ChatToolMode::None))?,
        Some(Choice::Required) => honoured(ChatToolChoice::Mode(ChatToolMode::Required))?,
        Some(Choice::Tool(name)) => honoured(ChatToolChoice::Function(NamedFunction {
            function: FunctionName { name },
        }))?,
        Some(Choice::Allowed { names, required }) => {
            tools.retain(|t| names.contains(&t.function.name));
            if required {
                honoured(ChatToolChoice::Mode(ChatToolMode::Required))?
            } else {
                None
            }
        }
        Some(Choice::Unsupported) => {
            gate.unsupported("tool_choice")?;
            None
        }
    };
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
    Ok(())
}

/// `text.format` → `response_format`, and `text.verbosity`.
fn output_format(
    req: &CreateResponse,
    flavor: &Flavor,
    gate: &Gate,
    chat: &mut ChatCompletionsRequest,
) -> Result<(), Error> {
    let Some(text) = &req.text else {
        return Ok(());
    };
    match &text.format {
        Some(TextFormat::JsonSchema(schema)) if flavor.json_schema => {
            chat.response_format = Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchemaSpec {
                    name: schema.name.clone(),
                    schema: schema.schema.clone(),
                    strict: schema.strict,
                    description: schema.description.clone(),
                },
            });
        }
        Some(TextFormat::JsonSchema(_)) => {
            gate.unsupported("text.format")?;
            // Dropped: JSON output is still the closest thing the server offers.
            chat.response_format = Some(ResponseFormat::JsonObject);
        }
        Some(TextFormat::JsonObject) => chat.response_format = Some(ResponseFormat::JsonObject),
        Some(TextFormat::Text) | None => {}
    }
    if let Some(verbosity) = &text.verbosity {
        if flavor.verbosity {
            chat.verbosity = Some(verbosity.clone());
        } else {
            gate.unsupported("text.verbosity")?;
        }
    }
    Ok(())
}

/// Reasoning effort, the output cap, sampling, penalties and the service tier.
fn reasoning_and_sampling(
    req: &CreateResponse,
    flavor: &Flavor,
    gate: &Gate,
    chat: &mut ChatCompletionsRequest,
) -> Result<(), Error> {
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
    Ok(())
}

/// Hints: forwarded where accepted, otherwise honoured by the gateway alone.
fn hints(req: &CreateResponse, flavor: &Flavor, chat: &mut ChatCompletionsRequest) {
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
}

/// The server's own parameters the client set (`seed`, `stop`, …), passed through as sent;
/// Mistral's `random_seed` also from `seed`.
fn pass_through(req: &CreateResponse, flavor: &Flavor, chat: &mut ChatCompletionsRequest) {
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
}

/// The message list under construction.
struct Messages<'t> {
    target: &'t ChatTarget<'t>,
    list: Vec<ChatMessage>,
    /// The reasoning of the turn being read, for the assistant message that ends it.
    pending_reasoning: Option<String>,
}

impl Messages<'_> {
    /// The pending reasoning, when the server wants it replayed.
    fn take_reasoning(&mut self) -> Option<String> {
        let reasoning = self.pending_reasoning.take();
        reasoning.filter(|_| self.target.replay_reasoning)
    }

    fn message(&mut self, m: &MessageItem, param: &str, gate: &Gate) -> Result<(), Error> {
        let flavor = self.target.flavor;
        let message = match m.role {
            Role::User => ChatMessage {
                role: "user".into(),
                content: Some(user_content(&m.content, param, flavor, gate)?),
                ..ChatMessage::default()
            },
            Role::System | Role::Developer => {
                let role = if m.role == Role::Developer && flavor.developer_role {
                    "developer"
                } else {
                    "system"
                };
                text_message(role, plain_text(&m.content, param, gate)?)
            }
            Role::Assistant => {
                let text = plain_text(&m.content, param, gate)?;
                ChatMessage {
                    reasoning_content: self.take_reasoning(),
                    ..text_message("assistant", text)
                }
            }
        };
        self.list.push(message);
        Ok(())
    }

    /// Appends a tool call to the assistant message that ends the list, or starts one:
    /// consecutive calls (and a text reply followed by calls) form one assistant turn, as chat
    /// servers expect.
    fn tool_call(&mut self, call: ReplayedCall<'_>) {
        let arguments = match call.input {
            CallInput::Arguments(arguments) => arguments.to_string(),
            CallInput::Custom(input) => custom_tool_arguments(input).to_string(),
        };
        let call = ChatToolCall {
            id: chat_call_id(call.call_id, self.target.flavor.tool_ids),
            kind: "function".into(),
            function: ChatFunctionCall {
                name: call.name,
                arguments,
            },
        };
        let reasoning = self.take_reasoning();
        if let Some(last) = self.list.last_mut()
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
        self.list.push(ChatMessage {
            role: "assistant".into(),
            content: None,
            reasoning_content: reasoning,
            tool_calls: Some(vec![call]),
            ..ChatMessage::default()
        });
    }

    /// Keeps the text of a reasoning item for the assistant message that follows.
    fn reasoning(&mut self, reasoning: &ReasoningItem) {
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
            self.pending_reasoning = Some(text.join("\n\n"));
        }
    }
}

/// The instructions and the input as chat messages.
fn messages(
    req: &CreateResponse,
    target: &ChatTarget,
    gate: &Gate,
) -> Result<Vec<ChatMessage>, Error> {
    let mut messages = Messages {
        target,
        list: Vec::new(),
        pending_reasoning: None,
    };
    if let Some(instructions) = &req.instructions {
        messages
            .list
            .push(text_message("system", instructions.clone()));
    }
    for (i, item) in req.input_items().iter().enumerate() {
        let param = format!("input[{i}]");
        match read_item(item, &param, gate)? {
            Some(HistoryItem::Message(m)) => messages.message(m, &param, gate)?,
            Some(HistoryItem::Call(call)) => messages.tool_call(call),
            Some(HistoryItem::Result(result)) => messages.list.push(ChatMessage {
                role: "tool".into(),
                tool_call_id: Some(chat_call_id(result.call_id, target.flavor.tool_ids)),
                content: Some(ChatContent::Text(tool_output_text(
                    result.output,
                    &param,
                    gate,
                )?)),
                ..ChatMessage::default()
            }),
            Some(HistoryItem::Reasoning(reasoning)) => messages.reasoning(reasoning),
            None => {}
        }
    }
    Ok(messages.list)
}

fn text_message(role: &str, text: String) -> ChatMessage {
    ChatMessage {
        role: role.into(),
        content: Some(ChatContent::Text(text)),
        ..ChatMessage::default()
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
        let text = |text: &str| ChatContentPart::Text {
            text: text.to_string(),
        };
        match part {
            ContentPart::InputText(t)
            | ContentPart::ReasoningText(t)
            | ContentPart::SummaryText(t) => out.push(text(&t.text)),
            ContentPart::OutputText(t) => out.push(text(&t.text)),
            ContentPart::Refusal(r) => out.push(text(&r.refusal)),
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
