//! Responses request → Gemini `generateContent` request (see the Google Gemini API reference,
//! <https://ai.google.dev/api/generate-content>).
//!
//! Choices made here, and why:
//! * Tool parameters and `text.format` schemas go out as JSON Schema (`parametersJsonSchema`,
//!   `responseJsonSchema`) rather than being squeezed into Gemini's OpenAPI subset
//!   (`parameters`, `responseSchema`): both Gemini API and Vertex accept JSON Schema for every
//!   model that matters, and a lossy conversion (`additionalProperties`, `type: [x, "null"]`,
//!   `$ref`) would silently change the contract. Only `$schema`, which they reject, is removed.
//! * Image and file URLs become `fileData` (`gs://` and Files API URIs, and https URLs, which
//!   Vertex and the Gemini API fetch themselves); `data:` URLs and base64 become `inlineData`.
//!   The gateway does no I/O in providers, so it never downloads a URL itself; an upstream that
//!   cannot fetch one answers 400 with its reason.
//! * Function calls have no ids on Gemini: the decoder mints `call_…` ids and this side maps a
//!   `function_call_output` back to its function's name through the `function_call` item with
//!   the same `call_id`. Ids Gemini itself sent (Gemini 3) are sent back.
//! * `thoughtSignature`s come back inside reasoning items' `encrypted_content` (tag `gemini`)
//!   and are restored on the part they came with: the function call they name, else the next
//!   part of the model's turn. Gemini 3 rejects a replayed function call without a signature,
//!   so history without one (another model's, or a client that did not keep
//!   `encrypted_content`) gets Google's documented `skip_thought_signature_validator`.
//! * `parallel_tool_calls`, `store`, `metadata`, `user`, `prompt_cache_key` and `service_tier`
//!   are hints Gemini has no field for; they are left out.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchyard_types::responses::{
    ContentPart, CreateResponse, Item, MessageContent, MessageItem, ReasoningItem, Role,
    TextFormat, ToolOutput,
};

use super::super::gate::Gate;
use super::wire::{
    Blob, Content, FileData, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerateContentRequest, GenerationConfig, Part, ThinkingConfig, ToolConfig,
    ToolDeclarations,
};
use crate::error::Error;
use crate::providers::base64_data_url;
use crate::providers::opaque;
use crate::providers::translate::ToolNames;
use crate::providers::translate::content::{plain_text, tool_output_text};
use crate::providers::translate::history::{
    CallInput, HistoryItem, ReplayedCall, call_name, read_item,
};
use crate::providers::translate::ids::split_call_carrier;
use crate::providers::translate::tool_choice::{Choice, requested_choice};
use crate::providers::translate::tools::{custom_tool_arguments, offered_functions};

/// The tag of Gemini's opaque blobs.
pub const BLOB_TAG: &str = "gemini";

/// The signature Google documents for replayed function calls that have none.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Prefix of the call ids the decoder mints; ids without it came from Gemini and are sent back.
pub const MINTED_ID_PREFIX: &str = "call_";

/// A `thoughtSignature` carried through the client in `encrypted_content`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBlob {
    /// The signature, verbatim.
    #[serde(rename = "sig")]
    pub signature: String,
    /// The function call the signature was attached to; `None` for a text or thought part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

/// Where a translated request goes.
#[derive(Debug, Clone, Copy)]
pub struct GeminiTarget<'a> {
    /// `Gemini` or `Vertex AI`, for messages.
    pub label: &'static str,
    /// The upstream model id.
    pub model: &'a str,
    /// Drop unsupported parameters instead of refusing.
    pub drop_params: bool,
}

/// How the model's thinking is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThinkingStyle {
    /// Gemini 3: `thinkingLevel`.
    Level,
    /// Gemini 2.5 and later aliases: `thinkingBudget`.
    Budget,
    /// Models without thinking (1.x, 2.0, Gemma).
    None,
}

fn thinking_style(model: &str) -> ThinkingStyle {
    let m = model.to_ascii_lowercase();
    if m.contains("gemini-1.") || m.contains("gemini-2.0") || m.contains("gemma") {
        ThinkingStyle::None
    } else if m.contains("gemini-2.5") || m.contains("-latest") {
        ThinkingStyle::Budget
    } else if m.contains("gemini-") {
        // Gemini 3 and whatever comes after it take levels.
        ThinkingStyle::Level
    } else {
        ThinkingStyle::Budget
    }
}

/// True for the models that reject replayed function calls without a signature.
fn requires_signatures(model: &str) -> bool {
    thinking_style(model) == ThinkingStyle::Level
}

/// Translates `req` for `target`; also returns the function names that map back to custom or
/// namespaced tools.
pub fn to_gemini(
    req: &CreateResponse,
    target: &GeminiTarget,
) -> Result<(GenerateContentRequest, ToolNames), Error> {
    let gate = Gate {
        label: target.label,
        drop_params: target.drop_params,
    };
    gate.refuse_state(req)?;
    gate.output_options(req)?;
    let (declarations, names) = declarations(req, &gate);
    let (system_instruction, contents) = translate_input(req, target, &gate)?;
    let (tools, tool_config) = tools_and_config(req, declarations, &gate)?;
    let mut generation_config = GenerationConfig::default();
    output_format(req, &gate, &mut generation_config)?;
    if let Some(reasoning) = &req.reasoning {
        let effort = reasoning.effort.as_deref();
        let summary = reasoning.summary.as_deref();
        if effort.is_some() || summary.is_some_and(|s| s != "none") {
            generation_config.thinking_config =
                thinking_config(target.model, effort, summary, &gate)?;
        }
    }
    limits_and_sampling(req, &mut generation_config);
    let body = GenerateContentRequest {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config,
    };
    Ok((body, names))
}

/// `tools` and `toolConfig`: the declarations under the client's `tool_choice`.
/// `allowedFunctionNames` is only honoured with `ANY`: in auto mode the model is offered just
/// the allowed functions instead.
fn tools_and_config(
    req: &CreateResponse,
    mut declarations: Vec<FunctionDeclaration>,
    gate: &Gate,
) -> Result<(Vec<ToolDeclarations>, Option<ToolConfig>), Error> {
    let choice = requested_choice(req, |name| declarations.iter().any(|d| d.name == name))?;
    let (mode, allowed) = match choice {
        None | Some(Choice::Auto) => (None, Vec::new()),
        Some(Choice::None) => (Some("NONE"), Vec::new()),
        Some(Choice::Required) => (Some("ANY"), Vec::new()),
        Some(Choice::Tool(name)) => (Some("ANY"), vec![name]),
        Some(Choice::Allowed {
            names,
            required: true,
        }) => (Some("ANY"), names),
        Some(Choice::Allowed {
            names,
            required: false,
        }) => {
            declarations.retain(|d| names.contains(&d.name));
            (None, Vec::new())
        }
        Some(Choice::Unsupported) => {
            gate.unsupported("tool_choice")?;
            (None, Vec::new())
        }
    };
    if declarations.is_empty() {
        if mode == Some("ANY") {
            // Forcing a tool that was not offered (a hosted tool Gemini cannot run).
            gate.unsupported("tool_choice")?;
        }
        return Ok((Vec::new(), None));
    }
    let tool_config = mode.map(|mode| ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode: mode.to_string(),
            allowed_function_names: allowed,
        },
    });
    let tools = vec![ToolDeclarations {
        function_declarations: declarations,
    }];
    Ok((tools, tool_config))
}

/// `text.format` → `responseMimeType` and `responseJsonSchema`; `text.verbosity` has no
/// equivalent.
fn output_format(
    req: &CreateResponse,
    gate: &Gate,
    config: &mut GenerationConfig,
) -> Result<(), Error> {
    let Some(text) = &req.text else {
        return Ok(());
    };
    match &text.format {
        Some(TextFormat::JsonSchema(format)) => {
            config.response_mime_type = Some("application/json".into());
            config.response_json_schema = Some(clean_schema(format.schema.clone()));
        }
        Some(TextFormat::JsonObject) => {
            config.response_mime_type = Some("application/json".into());
        }
        Some(TextFormat::Text) | None => {}
    }
    if text.verbosity.is_some() {
        gate.unsupported("text.verbosity")?;
    }
    Ok(())
}

/// The output cap, sampling, penalties, `seed` and `stop`.
fn limits_and_sampling(req: &CreateResponse, config: &mut GenerationConfig) {
    config.max_output_tokens = req.max_output_tokens;
    config.temperature = req.temperature;
    config.top_p = req.top_p;
    config.presence_penalty = req.presence_penalty;
    config.frequency_penalty = req.frequency_penalty;
    config.seed = req.extra.get("seed").and_then(Value::as_i64);
    match req.extra.get("stop") {
        Some(Value::String(stop)) => config.stop_sequences = vec![stop.clone()],
        Some(Value::Array(list)) => {
            config.stop_sequences = list
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
        }
        _ => {}
    }
}

/// `reasoning` → `thinkingConfig`. Budgets follow LiteLLM's defaults so configs behave alike.
fn thinking_config(
    model: &str,
    effort: Option<&str>,
    summary: Option<&str>,
    gate: &Gate,
) -> Result<Option<ThinkingConfig>, Error> {
    let style = thinking_style(model);
    if style == ThinkingStyle::None {
        if effort.is_some_and(|e| e != "none") {
            gate.unsupported("reasoning.effort")?;
        }
        return Ok(None);
    }
    let off = effort == Some("none");
    let mut config = ThinkingConfig {
        include_thoughts: (!off && summary != Some("none")).then_some(true),
        ..ThinkingConfig::default()
    };
    let lower = model.to_ascii_lowercase();
    let flash = lower.contains("flash");
    match (style, effort) {
        (_, None) => {}
        (ThinkingStyle::Level, Some(effort)) => {
            // Gemini 3 Pro knows LOW and HIGH only; Flash also MINIMAL and MEDIUM.
            config.thinking_level = Some(
                match effort {
                    "none" | "minimal" if flash => "MINIMAL",
                    "none" | "minimal" | "low" => "LOW",
                    "medium" if flash => "MEDIUM",
                    "medium" | "high" | "xhigh" => "HIGH",
                    other => return Err(bad_effort(other)),
                }
                .to_string(),
            );
        }
        (_, Some(effort)) => {
            config.thinking_budget = Some(match effort {
                // 2.5 Pro cannot switch thinking off; 128 is its minimum.
                "none" if lower.contains("pro") => 128,
                "none" => 0,
                "minimal" => 128,
                "low" => 1024,
                "medium" => 2048,
                "high" => 4096,
                "xhigh" => 8192,
                other => return Err(bad_effort(other)),
            });
        }
    }
    Ok(Some(config))
}

fn bad_effort(effort: &str) -> Error {
    Error::invalid_request(
        format!(
            "Invalid value for 'reasoning.effort': `{effort}`; expected none, minimal, low, \
             medium, high or xhigh"
        ),
        Some("reasoning.effort"),
    )
}

/// Removes what Gemini's JSON Schema support rejects (`$schema`) anywhere in `schema`.
pub fn clean_schema(mut schema: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("$schema");
                map.values_mut().for_each(walk);
            }
            Value::Array(list) => list.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut schema);
    schema
}

/// The function and custom tools as function declarations (schemas cleaned of what Gemini
/// rejects; a custom tool's own schema is already clean).
fn declarations(req: &CreateResponse, gate: &Gate) -> (Vec<FunctionDeclaration>, ToolNames) {
    let (functions, names) =
        offered_functions(req.tools.as_deref().unwrap_or_default(), gate.label);
    let declarations = functions
        .into_iter()
        .map(|f| FunctionDeclaration {
            name: f.name,
            description: f.description,
            parameters_json_schema: if f.custom {
                f.parameters
            } else {
                f.parameters.map(clean_schema)
            },
        })
        .collect();
    (declarations, names)
}

/// Builds `contents` with consecutive parts of the same role merged into one turn, and
/// restores thought signatures onto the model's parts.
struct Conversation {
    contents: Vec<Content>,
    /// A signature from a reasoning item that names no call: it goes on the next model part.
    pending: Option<String>,
    /// Signatures of function calls, by call id.
    call_signatures: HashMap<String, String>,
}

impl Conversation {
    fn push(&mut self, role: &str, mut part: Part) {
        if role == "model" {
            if part.thought_signature.is_none() {
                part.thought_signature = self.pending.take();
            }
        } else {
            self.flush_pending();
        }
        match self.contents.last_mut() {
            Some(last) if last.role.as_deref() == Some(role) => last.parts.push(part),
            _ => self.contents.push(Content {
                role: Some(role.to_string()),
                parts: vec![part],
            }),
        }
    }

    /// A signature left over at the end of a model turn (Gemini puts one on a trailing empty
    /// text part) goes on the turn's last part without one.
    fn flush_pending(&mut self) {
        let Some(signature) = self.pending.take() else {
            return;
        };
        let part = self
            .contents
            .last_mut()
            .filter(|c| c.role.as_deref() == Some("model"))
            .and_then(|c| {
                c.parts
                    .iter_mut()
                    .rev()
                    .find(|p| p.thought_signature.is_none())
            });
        match part {
            Some(part) => part.thought_signature = Some(signature),
            None => tracing::debug!("dropping a thought signature with no part to carry it"),
        }
    }
}

impl Conversation {
    fn message(
        &mut self,
        m: &MessageItem,
        system: &mut Vec<Part>,
        param: &str,
        gate: &Gate,
    ) -> Result<(), Error> {
        match m.role {
            Role::System | Role::Developer => {
                let text = plain_text(&m.content, param, gate)?;
                if !text.is_empty() {
                    system.push(Part::text(text));
                }
            }
            Role::Assistant => {
                let text = plain_text(&m.content, param, gate)?;
                // Vertex rejects empty text parts.
                if !text.is_empty() {
                    self.push("model", Part::text(text));
                }
            }
            Role::User => {
                for part in user_parts(&m.content, param, gate)? {
                    self.push("user", part);
                }
            }
        }
        Ok(())
    }

    /// Keeps the thought signature of a reasoning item for the part it belongs to.
    fn reasoning(&mut self, reasoning: &ReasoningItem) {
        let blob = reasoning
            .encrypted_content
            .as_deref()
            .and_then(|b| opaque::decode::<SignatureBlob>(BLOB_TAG, b));
        // Thought summaries are not sent back: the signature carries the thinking.
        let Some(blob) = blob else {
            return;
        };
        match blob.call_id {
            Some(call_id) => {
                self.call_signatures.insert(call_id, blob.signature);
            }
            None => {
                // Two signatures in a row: the first belongs on what precedes.
                self.flush_pending();
                self.pending = Some(blob.signature);
            }
        }
    }

    fn tool_call(&mut self, call: ReplayedCall<'_>, param: &str) -> Result<(), Error> {
        let args = match call.input {
            CallInput::Arguments(arguments) => arguments_object(arguments, param)?,
            CallInput::Custom(input) => custom_tool_arguments(input),
        };
        let part = Part {
            function_call: Some(FunctionCall {
                id: native_id(call.call_id),
                name: call.name,
                args: Some(args),
            }),
            // A signature from a reasoning item the client sent back, else the one the gateway
            // kept with the call.
            thought_signature: self.call_signatures.remove(call.call_id).or_else(|| {
                call.state
                    .and_then(|state| opaque::decode::<SignatureBlob>(BLOB_TAG, state))
                    .map(|blob| blob.signature)
            }),
            ..Part::default()
        };
        self.push("model", part);
        Ok(())
    }

    /// Gemini 3 rejects a replayed function call without a signature: the first call of each
    /// model turn that has none gets Google's documented placeholder.
    fn sign_calls(&mut self) {
        for content in self
            .contents
            .iter_mut()
            .filter(|c| c.role.as_deref() == Some("model"))
        {
            if let Some(first_call) = content.parts.iter_mut().find(|p| p.function_call.is_some())
                && first_call.thought_signature.is_none()
            {
                first_call.thought_signature = Some(SKIP_SIGNATURE.to_string());
            }
        }
    }
}

/// The system instruction and the contents of the conversation.
fn translate_input(
    req: &CreateResponse,
    target: &GeminiTarget,
    gate: &Gate,
) -> Result<(Option<Content>, Vec<Content>), Error> {
    let items = req.input_items();
    let mut system: Vec<Part> = Vec::new();
    if let Some(instructions) = req.instructions.as_deref().filter(|s| !s.is_empty()) {
        system.push(Part::text(instructions));
    }
    let call_names = call_names(&items);
    let mut conv = Conversation {
        contents: Vec::new(),
        pending: None,
        call_signatures: HashMap::new(),
    };
    for (i, item) in items.iter().enumerate() {
        let param = format!("input[{i}]");
        match read_item(item, &param, gate)? {
            Some(HistoryItem::Message(m)) => conv.message(m, &mut system, &param, gate)?,
            Some(HistoryItem::Reasoning(reasoning)) => conv.reasoning(reasoning),
            Some(HistoryItem::Call(call)) => conv.tool_call(call, &param)?,
            Some(HistoryItem::Result(result)) => {
                let Some(name) = call_names.get(result.call_id) else {
                    return Err(unanswerable_result(result.call_id, &param, target));
                };
                let part = Part {
                    function_response: Some(FunctionResponse {
                        id: native_id(result.call_id),
                        name: name.clone(),
                        response: tool_response(result.output, &param, gate)?,
                    }),
                    ..Part::default()
                };
                conv.push("user", part);
            }
            None => {}
        }
    }
    conv.flush_pending();
    if requires_signatures(target.model) {
        conv.sign_calls();
    }
    let system = (!system.is_empty()).then_some(Content {
        role: None,
        parts: system,
    });
    Ok((system, conv.contents))
}

/// The function name of every call in the history, by call id, for the results that answer
/// them.
fn call_names(items: &[Item]) -> HashMap<&str, String> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::FunctionCall(call) => Some((&call.call_id, call_name(&call.extra, &call.name))),
            Item::CustomToolCall(call) => Some((&call.call_id, call_name(&call.extra, &call.name))),
            _ => None,
        })
        .map(|(id, name)| (split_call_carrier(id).0, name))
        .collect()
}

/// A tool result whose call is not in the history: Gemini matches results to calls by the
/// function's name, which only the call tells.
fn unanswerable_result(call_id: &str, param: &str, target: &GeminiTarget) -> Error {
    Error::invalid_request(
        format!(
            "{param} answers call_id `{call_id}`, but no function_call with that call_id is in \
             `input`; {} matches a tool result to its call by the function's name, so send the \
             function_call item too",
            target.label
        ),
        Some(&format!("{param}.call_id")),
    )
}

/// The id to send back: Gemini's own, never one the gateway minted or another provider's
/// `call_…` id.
fn native_id(call_id: &str) -> Option<String> {
    (!call_id.starts_with(MINTED_ID_PREFIX) && !call_id.is_empty()).then(|| call_id.to_string())
}

fn arguments_object(arguments: &str, param: &str) -> Result<Value, Error> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Error::invalid_request(
            format!("{param}.arguments must be a JSON object"),
            Some(&format!("{param}.arguments")),
        )),
    }
}

/// A tool result as the JSON object Gemini requires: an object output as is, anything else
/// wrapped as `{"result": …}`.
fn tool_response(output: &ToolOutput, param: &str, gate: &Gate) -> Result<Value, Error> {
    let text = tool_output_text(output, param, gate)?;
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(value @ Value::Object(_)) => value,
        _ => {
            let mut map = Map::new();
            map.insert("result".into(), Value::String(text));
            Value::Object(map)
        }
    })
}

fn user_parts(content: &MessageContent, param: &str, gate: &Gate) -> Result<Vec<Part>, Error> {
    let parts = match content {
        // Vertex refuses empty text parts.
        MessageContent::Text(text) if text.is_empty() => return Ok(Vec::new()),
        MessageContent::Text(text) => return Ok(vec![Part::text(text.clone())]),
        MessageContent::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        match part {
            ContentPart::InputText(t)
            | ContentPart::ReasoningText(t)
            | ContentPart::SummaryText(t) => {
                if !t.text.is_empty() {
                    out.push(Part::text(t.text.clone()));
                }
            }
            ContentPart::OutputText(t) => {
                if !t.text.is_empty() {
                    out.push(Part::text(t.text.clone()));
                }
            }
            ContentPart::Refusal(r) => out.push(Part::text(r.refusal.clone())),
            ContentPart::InputImage(image) => match &image.image_url {
                Some(url) => out.push(media_part(url, None, "image/jpeg", &at)?),
                None => gate.unsupported(&format!("{at}.file_id"))?,
            },
            ContentPart::InputFile(file) => {
                let hint = file.filename.as_deref().and_then(mime_from_name);
                if let Some(data) = &file.file_data {
                    out.push(media_part(data, hint, "application/pdf", &at)?);
                } else if let Some(url) = &file.file_url {
                    out.push(media_part(url, hint, "application/pdf", &at)?);
                } else {
                    gate.unsupported(&format!("{at}.file_id"))?;
                }
            }
            other => gate.unsupported(&format!("{at} (type `{}`)", other.kind()))?,
        }
    }
    Ok(out)
}

/// A `data:` URL or bare base64 → `inlineData`; any other URL → `fileData`.
fn media_part(
    source: &str,
    hint: Option<&'static str>,
    fallback: &'static str,
    at: &str,
) -> Result<Part, Error> {
    if source.starts_with("data:") {
        let Some((mime, data)) = base64_data_url(source) else {
            return Err(Error::invalid_request(
                format!("{at}: only well-formed base64 data: URLs are supported"),
                Some(at),
            ));
        };
        let mime = mime.split(';').next().filter(|m| !m.is_empty());
        return Ok(Part {
            inline_data: Some(Blob {
                mime_type: mime.or(hint).unwrap_or(fallback).to_string(),
                data: data.to_string(),
            }),
            ..Part::default()
        });
    }
    if source.contains("://") {
        let path = source.split(['?', '#']).next().unwrap_or(source);
        return Ok(Part {
            file_data: Some(FileData {
                mime_type: Some(
                    mime_from_name(path)
                        .or(hint)
                        .unwrap_or(fallback)
                        .to_string(),
                ),
                file_uri: source.to_string(),
            }),
            ..Part::default()
        });
    }
    // Bare base64 (`file_data` without the data: prefix).
    Ok(Part {
        inline_data: Some(Blob {
            mime_type: hint.unwrap_or(fallback).to_string(),
            data: source.to_string(),
        }),
        ..Part::default()
    })
}

fn mime_from_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" => "text/html",
        "json" => "application/json",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => return None,
    })
}
