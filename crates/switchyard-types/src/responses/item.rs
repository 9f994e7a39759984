//! Items and content parts: the conversation units of the Responses API.
//!
//! One [`Item`] type serves input and output, because clients send output items back as input
//! (with their `id` and `status`). Deserialisation is lenient: a message without `type`, a string
//! `content`, missing `annotations` are all accepted. An item whose `type` is known but whose
//! shape is not is kept as [`Item::Other`]; [`Item::check`] reports why, so request validation can
//! answer with a precise 400 while relayed upstream output is never rejected.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::JsonMap;
use crate::de::{Tagged, TextOrList, null_default, parse_tagged, string_or_json, text_or_list};
use crate::responses::item_wire::{ItemWire, PartWire};

/// An input or output item, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Item {
    /// `message`: a user, system, developer or assistant message.
    #[serde(rename = "message")]
    Message(MessageItem),
    /// `function_call`: the model asks the client to call a function.
    #[serde(rename = "function_call")]
    FunctionCall(FunctionCallItem),
    /// `function_call_output`: the client's answer to a function call.
    #[serde(rename = "function_call_output")]
    FunctionCallOutput(FunctionCallOutputItem),
    /// `reasoning`: the model's reasoning, as summary parts, raw text and/or an opaque blob.
    #[serde(rename = "reasoning")]
    Reasoning(ReasoningItem),
    /// `custom_tool_call`: a call of a freeform (`custom`) tool.
    #[serde(rename = "custom_tool_call")]
    CustomToolCall(CustomToolCallItem),
    /// `custom_tool_call_output`: the client's answer to a custom tool call.
    #[serde(rename = "custom_tool_call_output")]
    CustomToolCallOutput(CustomToolCallOutputItem),
    /// `item_reference`: a reference to an item stored by the provider.
    #[serde(rename = "item_reference")]
    ItemReference(ItemReference),
    /// Any other item (hosted tool calls, MCP, compaction…), kept verbatim.
    #[serde(untagged)]
    Other(Value),
}

/// The item types that have a typed representation here.
const TYPED_ITEMS: &[&str] = &[
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "custom_tool_call",
    "custom_tool_call_output",
    "item_reference",
];

impl Item {
    /// The item's `type` tag.
    pub fn kind(&self) -> &str {
        match self {
            Item::Message(_) => "message",
            Item::FunctionCall(_) => "function_call",
            Item::FunctionCallOutput(_) => "function_call_output",
            Item::Reasoning(_) => "reasoning",
            Item::CustomToolCall(_) => "custom_tool_call",
            Item::CustomToolCallOutput(_) => "custom_tool_call_output",
            Item::ItemReference(_) => "item_reference",
            Item::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The item's `id`, when it has one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Item::Message(m) => m.id.as_deref(),
            Item::FunctionCall(f) => f.id.as_deref(),
            Item::FunctionCallOutput(f) => f.id.as_deref(),
            Item::Reasoning(r) => r.id.as_deref(),
            Item::CustomToolCall(c) => c.id.as_deref(),
            Item::CustomToolCallOutput(c) => c.id.as_deref(),
            Item::ItemReference(r) => Some(&r.id),
            Item::Other(v) => v.get("id").and_then(Value::as_str),
        }
    }

    /// Explains why an item kept as [`Item::Other`] does not fit the shape of its known `type`.
    /// Returns `Ok` for well-formed items and for item types without a typed representation.
    pub fn check(&self) -> Result<(), String> {
        let Item::Other(value) = self else {
            return Ok(());
        };
        let Some(kind) = value.get("type").and_then(Value::as_str) else {
            return if value.is_object() {
                Err("item has no `type` and is not a message (no `role`)".into())
            } else {
                Err(format!("expected an object, got {}", json_kind(value)))
            };
        };
        if !TYPED_ITEMS.contains(&kind) {
            return Ok(());
        }
        match parse_item(value.clone()) {
            Tagged::Invalid(_, err) => Err(format!("invalid `{kind}` item: {err}")),
            Tagged::Typed(_) | Tagged::Other(_) => Ok(()),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses an item: a known `type` with a bad shape is [`Tagged::Invalid`].
pub(crate) fn parse_item(value: Value) -> Tagged<Item> {
    parse_tagged(
        value,
        // A bare `{role, content}` is an EasyInputMessage; a bare `{id}` an item reference.
        |map| {
            if map.contains_key("role") {
                Some("message")
            } else if map.len() == 1 && map.contains_key("id") {
                Some("item_reference")
            } else {
                None
            }
        },
        |kind, object| {
            Some(match kind {
                "message" => MessageItem::deserialize(object).map(Item::Message),
                "function_call" => FunctionCallItem::deserialize(object).map(Item::FunctionCall),
                "function_call_output" => {
                    FunctionCallOutputItem::deserialize(object).map(Item::FunctionCallOutput)
                }
                "reasoning" => ReasoningItem::deserialize(object).map(Item::Reasoning),
                "custom_tool_call" => {
                    CustomToolCallItem::deserialize(object).map(Item::CustomToolCall)
                }
                "custom_tool_call_output" => {
                    CustomToolCallOutputItem::deserialize(object).map(Item::CustomToolCallOutput)
                }
                "item_reference" => ItemReference::deserialize(object).map(Item::ItemReference),
                _ => return None,
            })
        },
    )
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        // The common shapes in one pass; the same result as `parse_item` (see `ItemWire`).
        if let Some(item) = ItemWire::from_value(&value) {
            return Ok(item);
        }
        Ok(match parse_item(value) {
            Tagged::Typed(item) => item,
            Tagged::Other(value) | Tagged::Invalid(value, _) => Item::Other(value),
        })
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// System instructions.
    System,
    /// Developer instructions (a system message for newer models).
    Developer,
}

/// Lifecycle state of an output item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Still being generated.
    InProgress,
    /// Finished normally.
    Completed,
    /// Cut short (token limit, content filter, failure).
    Incomplete,
}

/// A `message` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    /// Item id (`msg_…`); absent on client-written messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item status; always present on output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// Author of the message.
    pub role: Role,
    /// Text, or a list of content parts.
    #[serde(default, deserialize_with = "null_default")]
    pub content: MessageContent,
    /// `commentary` or `final_answer` on newer assistant messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Fields not modelled here, kept for pass-through.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A message's content: a bare string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// A plain string (input only).
    Text(String),
    /// A list of typed parts.
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match text_or_list(d, "MessageContent")? {
            TextOrList::Text(text) => MessageContent::Text(text),
            TextOrList::List(parts) => MessageContent::Parts(parts),
        })
    }
}

impl<'de> Deserialize<'de> for ToolOutput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match text_or_list(d, "ToolOutput")? {
            TextOrList::Text(text) => ToolOutput::Text(text),
            TextOrList::List(parts) => ToolOutput::Parts(parts),
        })
    }
}

impl Default for MessageContent {
    fn default() -> Self {
        MessageContent::Parts(Vec::new())
    }
}

/// A content part of a message or of a tool output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ContentPart {
    /// `input_text`.
    #[serde(rename = "input_text")]
    InputText(TextPart),
    /// `input_image`: a URL, data URL or file id.
    #[serde(rename = "input_image")]
    InputImage(InputImagePart),
    /// `input_file`: a file by id, URL or inline data.
    #[serde(rename = "input_file")]
    InputFile(InputFilePart),
    /// `output_text`: model text; always serialised with `annotations` and `logprobs`.
    #[serde(rename = "output_text")]
    OutputText(OutputTextPart),
    /// `refusal`: the model declined.
    #[serde(rename = "refusal")]
    Refusal(RefusalPart),
    /// `reasoning_text`: raw reasoning text (in a reasoning item's `content`).
    #[serde(rename = "reasoning_text")]
    ReasoningText(TextPart),
    /// `summary_text`: a reasoning summary part.
    #[serde(rename = "summary_text")]
    SummaryText(TextPart),
    /// Any other part, kept verbatim.
    #[serde(untagged)]
    Other(Value),
}

impl ContentPart {
    /// The part's `type` tag.
    pub fn kind(&self) -> &str {
        match self {
            ContentPart::InputText(_) => "input_text",
            ContentPart::InputImage(_) => "input_image",
            ContentPart::InputFile(_) => "input_file",
            ContentPart::OutputText(_) => "output_text",
            ContentPart::Refusal(_) => "refusal",
            ContentPart::ReasoningText(_) => "reasoning_text",
            ContentPart::SummaryText(_) => "summary_text",
            ContentPart::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// A new `output_text` part.
    pub fn output_text(text: impl Into<String>) -> Self {
        ContentPart::OutputText(OutputTextPart {
            text: text.into(),
            annotations: Vec::new(),
            logprobs: Vec::new(),
            extra: JsonMap::new(),
        })
    }

    /// A new `refusal` part.
    pub fn refusal(text: impl Into<String>) -> Self {
        ContentPart::Refusal(RefusalPart {
            refusal: text.into(),
            extra: JsonMap::new(),
        })
    }
}

/// Parses a content part: a known `type` with a bad shape is [`Tagged::Invalid`].
pub(crate) fn parse_part(value: Value) -> Tagged<ContentPart> {
    parse_tagged(
        value,
        |_| None,
        |kind, object| {
            Some(match kind {
                "input_text" => TextPart::deserialize(object).map(ContentPart::InputText),
                "input_image" => InputImagePart::deserialize(object).map(ContentPart::InputImage),
                "input_file" => InputFilePart::deserialize(object).map(ContentPart::InputFile),
                "output_text" => OutputTextPart::deserialize(object).map(ContentPart::OutputText),
                "refusal" => RefusalPart::deserialize(object).map(ContentPart::Refusal),
                "reasoning_text" => TextPart::deserialize(object).map(ContentPart::ReasoningText),
                "summary_text" => TextPart::deserialize(object).map(ContentPart::SummaryText),
                _ => return None,
            })
        },
    )
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if let Some(part) = PartWire::from_value(&value) {
            return Ok(part);
        }
        Ok(match parse_part(value) {
            Tagged::Typed(part) => part,
            // A part without `type` is kept as it came.
            Tagged::Other(value) | Tagged::Invalid(value, _) => ContentPart::Other(value),
        })
    }
}

/// Explains why a part kept as [`ContentPart::Other`] is malformed, for request validation.
pub fn check_part(part: &ContentPart) -> Result<(), String> {
    let ContentPart::Other(value) = part else {
        return Ok(());
    };
    match value.get("type").and_then(Value::as_str) {
        None => Err("content part has no `type`".into()),
        Some(kind) => match parse_part(value.clone()) {
            Tagged::Invalid(_, err) => Err(format!("invalid `{kind}` part: {err}")),
            Tagged::Typed(_) | Tagged::Other(_) => Ok(()),
        },
    }
}

/// A part holding only text (`input_text`, `reasoning_text`, `summary_text`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPart {
    /// The text.
    pub text: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl TextPart {
    /// A text part with no extra fields.
    pub fn new(text: impl Into<String>) -> Self {
        TextPart {
            text: text.into(),
            extra: JsonMap::new(),
        }
    }
}

/// `input_image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputImagePart {
    /// An `https:` or `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// A provider file id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// `low`, `high`, `auto` (the default when absent) or `original`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `input_file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFilePart {
    /// A provider file id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Inline data, usually a `data:` URL with base64 content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// A URL to fetch the file from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    /// The file's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `output_text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputTextPart {
    /// The text.
    #[serde(default, deserialize_with = "null_default")]
    pub text: String,
    /// Citations; always serialised, `[]` when none.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: Vec<Value>,
    /// Token log probabilities; always serialised, `[]` when none.
    #[serde(default, deserialize_with = "null_default")]
    pub logprobs: Vec<Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `refusal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalPart {
    /// The refusal text.
    #[serde(default, deserialize_with = "null_default")]
    pub refusal: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A `function_call` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// Item id (`fc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// Arguments as JSON text (an object sent by a lenient client is rendered to text).
    #[serde(default, deserialize_with = "string_or_json")]
    pub arguments: String,
    /// The id that the matching `function_call_output` refers to (`call_…`).
    pub call_id: String,
    /// Function name.
    pub name: String,
    /// Fields not modelled here (`namespace`, `caller`…).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A `function_call_output` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutputItem {
    /// Item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// The `call_id` of the answered call.
    pub call_id: String,
    /// The result: text or content parts.
    pub output: ToolOutput,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ToolOutput {
    /// Plain text.
    Text(String),
    /// Text, image and file parts.
    Parts(Vec<ContentPart>),
}

/// A `reasoning` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    /// Item id (`rs_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Summary parts; always serialised, `[]` when none (clients require the key).
    #[serde(default, deserialize_with = "null_default")]
    pub summary: Vec<ContentPart>,
    /// Raw reasoning text parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentPart>>,
    /// An opaque blob that lets the provider resume its reasoning on the next turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    /// Item status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A `custom_tool_call` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallItem {
    /// Item id (`ctc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Item status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// The id the matching output refers to.
    pub call_id: String,
    /// Tool name.
    pub name: String,
    /// Freeform input text.
    #[serde(default, deserialize_with = "null_default")]
    pub input: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A `custom_tool_call_output` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallOutputItem {
    /// Item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `call_id` of the answered call.
    pub call_id: String,
    /// The result.
    pub output: ToolOutput,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// An `item_reference`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemReference {
    /// The referenced item's id.
    pub id: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_without_type_and_with_string_content() {
        let item: Item = serde_json::from_value(json!({"role": "user", "content": "hi"})).unwrap();
        let Item::Message(m) = &item else {
            panic!("expected a message, got {item:?}")
        };
        assert_eq!(m.role, Role::User);
        assert_eq!(m.content, MessageContent::Text("hi".into()));
        assert_eq!(item.check(), Ok(()));
    }

    #[test]
    fn echoed_output_message_round_trips_with_id_and_status() {
        let raw = json!({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "x", "annotations": [], "logprobs": []}]});
        let item: Item = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&item).unwrap(), raw);
    }

    #[test]
    fn short_output_text_gains_annotations_and_logprobs() {
        let item: Item = serde_json::from_value(json!({"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": "x"}]}))
        .unwrap();
        let out = serde_json::to_value(&item).unwrap();
        assert_eq!(
            out["content"][0],
            json!({"type": "output_text", "text": "x", "annotations": [], "logprobs": []})
        );
    }

    #[test]
    fn reasoning_item_keeps_encrypted_content_and_unknown_fields() {
        let raw = json!({"type": "reasoning", "id": "rs_1", "summary": [],
            "encrypted_content": "gAAA", "future_field": 1});
        let item: Item = serde_json::from_value(raw).unwrap();
        let Item::Reasoning(r) = &item else {
            panic!("{item:?}")
        };
        assert_eq!(r.encrypted_content.as_deref(), Some("gAAA"));
        assert_eq!(r.extra.get("future_field"), Some(&json!(1)));
    }

    #[test]
    fn malformed_known_item_is_kept_and_explained() {
        let item: Item =
            serde_json::from_value(json!({"type": "function_call", "name": "f"})).unwrap();
        assert!(matches!(item, Item::Other(_)));
        let err = item.check().unwrap_err();
        assert!(err.contains("call_id"), "{err}");
    }

    #[test]
    fn unknown_item_types_pass_through_verbatim() {
        let raw = json!({"type": "web_search_call", "id": "ws_1", "status": "completed",
            "action": {"type": "search", "query": "q"}});
        let item: Item = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(item.check(), Ok(()));
        assert_eq!(serde_json::to_value(&item).unwrap(), raw);
    }

    #[test]
    fn function_call_arguments_given_as_object_become_text() {
        let item: Item = serde_json::from_value(json!({"type": "function_call", "call_id": "c",
            "name": "f", "arguments": {"a": 1}}))
        .unwrap();
        let Item::FunctionCall(f) = item else {
            panic!()
        };
        assert_eq!(f.arguments, r#"{"a":1}"#);
    }

    /// `MessageContent`, `ToolOutput` and `Input` read a string or a list by what the value
    /// is; serde's `untagged` enum of the same two variants is the reference.
    #[test]
    fn text_or_list_agrees_with_serdes_untagged_enum() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(untagged)]
        enum Reference {
            Text(String),
            Parts(Vec<ContentPart>),
        }
        fn same(
            ours: Result<MessageContent, serde_json::Error>,
            reference: Result<Reference, serde_json::Error>,
            case: &str,
        ) {
            match (ours, reference) {
                (Ok(MessageContent::Text(a)), Ok(Reference::Text(b))) => assert_eq!(a, b, "{case}"),
                (Ok(MessageContent::Parts(a)), Ok(Reference::Parts(b))) => {
                    assert_eq!(a, b, "{case}")
                }
                (Err(a), Err(b)) => {
                    // The same message; where serde_json says it stopped may differ.
                    let message = |e: &serde_json::Error| {
                        let text = e.to_string();
                        text.split(" at line").next().unwrap().to_string()
                    };
                    assert_eq!(
                        message(&a).replace("MessageContent", "Reference"),
                        message(&b),
                        "{case}"
                    );
                }
                (a, b) => panic!("{case}: ours {a:?}, serde's {b:?}"),
            }
        }
        for case in [
            r#""hi""#,
            r#""esc\u00e9\n""#,
            r#""""#,
            "[]",
            r#"[{"type":"input_text","text":"a"},{"type":"output_text","text":"b","annotations":[]}]"#,
            r#"[{"type":"input_text"},{"no":"type"},3,"text",null,[1]]"#,
            r#"[{"type":"input_image","image_url":"data:x","detail":"high","more":{"a":[1,2]}}]"#,
            "null",
            "true",
            "1",
            "-1",
            "1.5",
            r#"{"type":"input_text","text":"a"}"#,
            "{}",
            "[[]]",
        ] {
            same(serde_json::from_str(case), serde_json::from_str(case), case);
            let value: Value = serde_json::from_str(case).unwrap();
            same(
                MessageContent::deserialize(&value),
                Reference::deserialize(&value),
                case,
            );
            same(
                serde_json::from_value(value.clone()),
                serde_json::from_value(value),
                case,
            );
        }
        // The request's `input` and a tool output the same way.
        let input: crate::responses::Input =
            serde_json::from_str(r#"[{"role":"user","content":"x"}]"#).unwrap();
        assert!(matches!(input, crate::responses::Input::Items(ref items) if items.len() == 1));
        let error = serde_json::from_str::<crate::responses::Input>("7").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("data did not match any variant of untagged enum Input"),
            "{error}"
        );
        let output: ToolOutput = serde_json::from_str(r#""done""#).unwrap();
        assert_eq!(output, ToolOutput::Text("done".into()));
    }

    #[test]
    fn null_content_is_an_empty_part_list() {
        let item: Item = serde_json::from_value(
            json!({"type": "message", "role": "assistant", "content": null}),
        )
        .unwrap();
        let Item::Message(m) = item else { panic!() };
        assert_eq!(m.content, MessageContent::Parts(vec![]));
    }
}
