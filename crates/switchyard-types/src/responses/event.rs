//! Streaming events (`text/event-stream` bodies of `POST /responses` with `stream: true`).
//!
//! Every event the gateway emits has a typed variant; events it only relays from a provider that
//! speaks the Responses API natively (hosted tools, audio, MCP…) are kept as [`ResponseStreamEvent::Other`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JsonMap;
use crate::de::{null_default, opt_string_or_number, present};
use crate::responses::item::{ContentPart, Item};
use crate::responses::item_wire::{ItemWire, PartWire};
use crate::responses::response::Response;

/// Runs `$body` with `$e` bound to the typed payload of any variant (they all carry a
/// `sequence_number`), or `$other` with `$o` bound to the JSON of an [`ResponseStreamEvent::Other`].
macro_rules! on_typed {
    ($value:expr, |$e:ident| $body:expr, |$o:ident| $other:expr) => {{
        use ResponseStreamEvent as E;
        match $value {
            E::Created($e)
            | E::Queued($e)
            | E::InProgress($e)
            | E::Completed($e)
            | E::Incomplete($e)
            | E::Failed($e) => $body,
            E::OutputItemAdded($e) | E::OutputItemDone($e) => $body,
            E::ContentPartAdded($e) | E::ContentPartDone($e) => $body,
            E::OutputTextDelta($e) => $body,
            E::OutputTextDone($e) => $body,
            E::RefusalDelta($e) | E::ReasoningTextDelta($e) => $body,
            E::RefusalDone($e) => $body,
            E::ReasoningTextDone($e) => $body,
            E::ReasoningSummaryPartAdded($e) | E::ReasoningSummaryPartDone($e) => $body,
            E::ReasoningSummaryTextDelta($e) => $body,
            E::ReasoningSummaryTextDone($e) => $body,
            E::FunctionCallArgumentsDelta($e) | E::CustomToolCallInputDelta($e) => $body,
            E::FunctionCallArgumentsDone($e) => $body,
            E::CustomToolCallInputDone($e) => $body,
            E::Error($e) => $body,
            E::Keepalive($e) => $body,
            E::Other($o) => $other,
        }
    }};
}

/// One streaming event, discriminated by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(missing_docs)] // each variant is named after its `type`
pub enum ResponseStreamEvent {
    #[serde(rename = "response.created")]
    Created(LifecycleEvent),
    #[serde(rename = "response.queued")]
    Queued(LifecycleEvent),
    #[serde(rename = "response.in_progress")]
    InProgress(LifecycleEvent),
    #[serde(rename = "response.completed")]
    Completed(LifecycleEvent),
    #[serde(rename = "response.incomplete")]
    Incomplete(LifecycleEvent),
    #[serde(rename = "response.failed")]
    Failed(LifecycleEvent),
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded(OutputItemEvent),
    #[serde(rename = "response.output_item.done")]
    OutputItemDone(OutputItemEvent),
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded(ContentPartEvent),
    #[serde(rename = "response.content_part.done")]
    ContentPartDone(ContentPartEvent),
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta(OutputTextDeltaEvent),
    #[serde(rename = "response.output_text.done")]
    OutputTextDone(OutputTextDoneEvent),
    #[serde(rename = "response.refusal.delta")]
    RefusalDelta(ContentDeltaEvent),
    #[serde(rename = "response.refusal.done")]
    RefusalDone(RefusalDoneEvent),
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningTextDelta(ContentDeltaEvent),
    #[serde(rename = "response.reasoning_text.done")]
    ReasoningTextDone(ContentTextDoneEvent),
    #[serde(rename = "response.reasoning_summary_part.added")]
    ReasoningSummaryPartAdded(SummaryPartEvent),
    #[serde(rename = "response.reasoning_summary_part.done")]
    ReasoningSummaryPartDone(SummaryPartEvent),
    #[serde(rename = "response.reasoning_summary_text.delta")]
    ReasoningSummaryTextDelta(SummaryDeltaEvent),
    #[serde(rename = "response.reasoning_summary_text.done")]
    ReasoningSummaryTextDone(SummaryTextDoneEvent),
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta(ItemDeltaEvent),
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone(ArgumentsDoneEvent),
    #[serde(rename = "response.custom_tool_call_input.delta")]
    CustomToolCallInputDelta(ItemDeltaEvent),
    #[serde(rename = "response.custom_tool_call_input.done")]
    CustomToolCallInputDone(CustomInputDoneEvent),
    #[serde(rename = "error")]
    Error(ErrorEvent),
    #[serde(rename = "keepalive")]
    Keepalive(KeepaliveEvent),
    /// Any other event type, relayed verbatim.
    #[serde(untagged)]
    Other(Value),
}

impl ResponseStreamEvent {
    /// The event's `type`, which is also its SSE `event:` name.
    pub fn kind(&self) -> &str {
        use ResponseStreamEvent::*;
        match self {
            Created(_) => "response.created",
            Queued(_) => "response.queued",
            InProgress(_) => "response.in_progress",
            Completed(_) => "response.completed",
            Incomplete(_) => "response.incomplete",
            Failed(_) => "response.failed",
            OutputItemAdded(_) => "response.output_item.added",
            OutputItemDone(_) => "response.output_item.done",
            ContentPartAdded(_) => "response.content_part.added",
            ContentPartDone(_) => "response.content_part.done",
            OutputTextDelta(_) => "response.output_text.delta",
            OutputTextDone(_) => "response.output_text.done",
            RefusalDelta(_) => "response.refusal.delta",
            RefusalDone(_) => "response.refusal.done",
            ReasoningTextDelta(_) => "response.reasoning_text.delta",
            ReasoningTextDone(_) => "response.reasoning_text.done",
            ReasoningSummaryPartAdded(_) => "response.reasoning_summary_part.added",
            ReasoningSummaryPartDone(_) => "response.reasoning_summary_part.done",
            ReasoningSummaryTextDelta(_) => "response.reasoning_summary_text.delta",
            ReasoningSummaryTextDone(_) => "response.reasoning_summary_text.done",
            FunctionCallArgumentsDelta(_) => "response.function_call_arguments.delta",
            FunctionCallArgumentsDone(_) => "response.function_call_arguments.done",
            CustomToolCallInputDelta(_) => "response.custom_tool_call_input.delta",
            CustomToolCallInputDone(_) => "response.custom_tool_call_input.done",
            Error(_) => "error",
            Keepalive(_) => "keepalive",
            Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The event's `sequence_number`.
    pub fn sequence_number(&self) -> Option<u64> {
        on_typed!(self, |e| Some(e.sequence_number), |v| v
            .get("sequence_number")
            .and_then(Value::as_u64))
    }

    /// Sets the event's `sequence_number`.
    pub fn set_sequence_number(&mut self, n: u64) {
        on_typed!(self, |e| e.sequence_number = n, |v| {
            if let Value::Object(map) = v {
                map.insert("sequence_number".into(), Value::from(n));
            }
        })
    }

    /// The `response` of a lifecycle event.
    pub fn response(&self) -> Option<&Response> {
        self.lifecycle().map(|e| &*e.response)
    }

    /// A lifecycle event's payload (`response.created`, `.queued`, `.in_progress` and the
    /// terminal three).
    pub fn lifecycle(&self) -> Option<&LifecycleEvent> {
        use ResponseStreamEvent::*;
        match self {
            Created(e) | Queued(e) | InProgress(e) | Completed(e) | Incomplete(e) | Failed(e) => {
                Some(e)
            }
            _ => None,
        }
    }

    /// Parses one event from JSON text, with the same result as deserializing the enum.
    ///
    /// serde reads an internally tagged enum (`tag = "type"`) into an intermediate tree of the
    /// whole event before it looks at the tag, then deserializes the variant from that tree: for
    /// a relayed stream that cost more than the parse itself. Here the `type` is read first
    /// (a leading `"type"` straight from the text, else by a parse that skips everything
    /// else) and the variant's payload is parsed from the text directly. Anything unusual
    /// (a payload that does not parse, a `type` that is not a plain string) takes serde's own
    /// path, so errors and fallbacks stay exactly its own.
    pub fn from_json(json: &str) -> serde_json::Result<ResponseStreamEvent> {
        match Self::from_json_direct(json) {
            Some(event) => Ok(event),
            None => serde_json::from_str(json),
        }
    }

    fn from_json_direct(json: &str) -> Option<ResponseStreamEvent> {
        use ResponseStreamEvent as E;
        let kind = match leading_type(json) {
            Some(kind) => std::borrow::Cow::Borrowed(kind),
            None => serde_json::from_str::<TypeTag<'_>>(json).ok()?.kind?,
        };
        // The tag is not part of a variant's fields: serde's path takes it out before the
        // payload sees the rest, so it must not stay among the payload's unknown fields.
        macro_rules! payload {
            ($variant:ident) => {{
                let mut payload = serde_json::from_str(json).ok()?;
                untag(&mut payload);
                E::$variant(payload)
            }};
        }
        // A lifecycle event with its response's items read straight from their text.
        macro_rules! lifecycle {
            ($variant:ident) => {
                match LifecycleWire::read(json) {
                    Some(event) => E::$variant(event),
                    None => payload!($variant),
                }
            };
        }
        Some(match kind.as_ref() {
            "response.created" => lifecycle!(Created),
            "response.queued" => lifecycle!(Queued),
            "response.in_progress" => lifecycle!(InProgress),
            "response.completed" => lifecycle!(Completed),
            "response.incomplete" => lifecycle!(Incomplete),
            "response.failed" => lifecycle!(Failed),
            "response.output_item.added" => match ItemEventWire::read(json) {
                Some(event) => E::OutputItemAdded(event),
                None => payload!(OutputItemAdded),
            },
            "response.output_item.done" => match ItemEventWire::read(json) {
                Some(event) => E::OutputItemDone(event),
                None => payload!(OutputItemDone),
            },
            "response.content_part.added" => match PartEventWire::read(json) {
                Some(event) => E::ContentPartAdded(event),
                None => payload!(ContentPartAdded),
            },
            "response.content_part.done" => match PartEventWire::read(json) {
                Some(event) => E::ContentPartDone(event),
                None => payload!(ContentPartDone),
            },
            "response.output_text.delta" => match DeltaWire::read(json).and_then(DeltaWire::text) {
                Some(event) => E::OutputTextDelta(event),
                None => payload!(OutputTextDelta),
            },
            "response.output_text.done" => payload!(OutputTextDone),
            "response.refusal.delta" => payload!(RefusalDelta),
            "response.refusal.done" => payload!(RefusalDone),
            "response.reasoning_text.delta" => payload!(ReasoningTextDelta),
            "response.reasoning_text.done" => payload!(ReasoningTextDone),
            "response.reasoning_summary_part.added" => payload!(ReasoningSummaryPartAdded),
            "response.reasoning_summary_part.done" => payload!(ReasoningSummaryPartDone),
            "response.reasoning_summary_text.delta" => payload!(ReasoningSummaryTextDelta),
            "response.reasoning_summary_text.done" => payload!(ReasoningSummaryTextDone),
            "response.function_call_arguments.delta" => {
                match DeltaWire::read(json).and_then(DeltaWire::call_arguments) {
                    Some(event) => E::FunctionCallArgumentsDelta(event),
                    None => payload!(FunctionCallArgumentsDelta),
                }
            }
            "response.function_call_arguments.done" => payload!(FunctionCallArgumentsDone),
            "response.custom_tool_call_input.delta" => payload!(CustomToolCallInputDelta),
            "response.custom_tool_call_input.done" => payload!(CustomToolCallInputDone),
            "error" => payload!(Error),
            "keepalive" => payload!(Keepalive),
            _ => E::Other(serde_json::from_str(json).ok()?),
        })
    }

    /// True for `response.completed`, `response.incomplete` and `response.failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ResponseStreamEvent::Completed(_)
                | ResponseStreamEvent::Incomplete(_)
                | ResponseStreamEvent::Failed(_)
        )
    }
}

/// `response.created`, `.queued`, `.in_progress`, `.completed`, `.incomplete`, `.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// Position in the stream, from 0.
    #[serde(default)]
    pub sequence_number: u64,
    /// The whole response in its current state.
    pub response: Box<Response>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.output_item.added` and `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputItemEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// The item (initial state on `added`, final on `done`).
    pub item: Item,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.content_part.added` and `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPartEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The message or reasoning item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the part in the item's `content`.
    pub content_index: u32,
    /// The part (empty text on `added`).
    pub part: ContentPart,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.output_text.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputTextDeltaEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The message item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the part in the message's `content`.
    pub content_index: u32,
    /// New text.
    pub delta: String,
    /// Always present, `[]` unless log probabilities were requested.
    #[serde(default, deserialize_with = "null_default")]
    pub logprobs: Vec<Value>,
    /// Fields not modelled here (`obfuscation`).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.output_text.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputTextDoneEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The message item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the part.
    pub content_index: u32,
    /// The complete text of the part.
    pub text: String,
    /// Always present.
    #[serde(default, deserialize_with = "null_default")]
    pub logprobs: Vec<Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.refusal.delta` and `response.reasoning_text.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentDeltaEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the part.
    pub content_index: u32,
    /// New text.
    pub delta: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.refusal.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalDoneEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The message item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the part.
    pub content_index: u32,
    /// The complete refusal.
    pub refusal: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.reasoning_text.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentTextDoneEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The reasoning item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the part.
    pub content_index: u32,
    /// The complete text.
    pub text: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.reasoning_summary_part.added` and `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryPartEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The reasoning item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the part in the item's `summary`.
    pub summary_index: u32,
    /// The `summary_text` part.
    pub part: ContentPart,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.reasoning_summary_text.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryDeltaEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The reasoning item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the summary part.
    pub summary_index: u32,
    /// New text.
    pub delta: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.reasoning_summary_text.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryTextDoneEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The reasoning item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// Index of the summary part.
    pub summary_index: u32,
    /// The complete text.
    pub text: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.function_call_arguments.delta` and `response.custom_tool_call_input.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDeltaEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The call item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// New text.
    pub delta: String,
    /// Fields not modelled here (`obfuscation`).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.function_call_arguments.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgumentsDoneEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The call item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// The complete arguments.
    pub arguments: String,
    /// The function name (required by the spec, omitted by some live traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `response.custom_tool_call_input.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomInputDoneEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The call item.
    pub item_id: String,
    /// Index of the item in `output`.
    pub output_index: u32,
    /// The complete input.
    pub input: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `error`, in the nested form the live API sends (`{"type":"error","error":{…}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
    /// The error (absent in the flat spec form, whose fields land in `extra`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorPayload>,
    /// Fields not modelled here (the flat form's `code`, `message`, `param`).
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ErrorEvent {
    /// The error's code and message, from the nested or the flat form.
    pub fn code_and_message(&self) -> (Option<String>, String) {
        if let Some(payload) = &self.error {
            let code = payload.code.clone().or_else(|| payload.kind.clone());
            return (code, payload.message.clone());
        }
        let text = |key: &str| {
            self.extra.get(key).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        (text("code"), text("message").unwrap_or_default())
    }
}

/// The body of an `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// Error class (`invalid_request_error`, `server_error`, …).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Machine-readable code.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    /// The request parameter at fault.
    #[serde(default)]
    pub param: Option<String>,
}

/// `keepalive`: a transport event clients ignore, sent while an upstream is silent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeepaliveEvent {
    /// Position in the stream.
    #[serde(default)]
    pub sequence_number: u64,
}

/// The `type` of an event whose text starts with it as a plain string (`{"type":"…"`, as
/// every provider writes it), borrowed from the text; `None` for anything else.
fn leading_type(json: &str) -> Option<&str> {
    let rest = json.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix("\"type\"")?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

// The two deltas a stream is mostly made of, read without `#[serde(flatten)]`: serde buffers
// every field a flattened map might take (key and value) before it knows, and hashes each
// into the map. Measured on a 220-byte text delta: 6.4k instructions through `from_json`
// against 8.0k (the struct's own parse 4.4k against 6.7k). The struct knows every field
// upstreams send (the only unknown one, `obfuscation`, goes back into `extra`); any other
// field, or one that does not belong to the event read, sends the event the ordinary way, so
// the result is always the ordinary path's.

/// `response.output_text.delta` and `.function_call_arguments.delta` as upstreams send them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaWire {
    #[serde(rename = "type")]
    _kind: serde::de::IgnoredAny,
    #[serde(default)]
    sequence_number: u64,
    item_id: String,
    output_index: u32,
    /// Text deltas only (a `null` here is a field, not an absence).
    #[serde(default, deserialize_with = "present")]
    content_index: Option<Option<u32>>,
    delta: String,
    /// Text deltas only.
    #[serde(default, deserialize_with = "present")]
    logprobs: Option<Option<Vec<Value>>>,
    #[serde(default, deserialize_with = "present")]
    obfuscation: Option<Option<Value>>,
}

impl DeltaWire {
    fn read(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }

    fn text(self) -> Option<OutputTextDeltaEvent> {
        Some(OutputTextDeltaEvent {
            sequence_number: self.sequence_number,
            item_id: self.item_id,
            output_index: self.output_index,
            // Required: absent or `null`, the ordinary parse says why.
            content_index: self.content_index??,
            delta: self.delta,
            logprobs: self.logprobs.flatten().unwrap_or_default(),
            extra: obfuscation_only(self.obfuscation),
        })
    }

    fn call_arguments(self) -> Option<ItemDeltaEvent> {
        if self.content_index.is_some() || self.logprobs.is_some() {
            return None; // Fields of their own here: `extra`, the ordinary way.
        }
        Some(ItemDeltaEvent {
            sequence_number: self.sequence_number,
            item_id: self.item_id,
            output_index: self.output_index,
            delta: self.delta,
            extra: obfuscation_only(self.obfuscation),
        })
    }
}

/// A lifecycle event with its response's items as text, each then read straight from it
/// where it can be (as [`Response::from_json`] does); the rest as the ordinary parse has it.
#[derive(Deserialize)]
struct LifecycleWire<'a> {
    #[serde(default)]
    sequence_number: u64,
    #[serde(borrow)]
    response: Box<Response<&'a serde_json::value::RawValue>>,
    #[serde(flatten)]
    extra: JsonMap,
}

impl LifecycleWire<'_> {
    fn read(json: &str) -> Option<LifecycleEvent> {
        let wire: LifecycleWire<'_> = serde_json::from_str(json).ok()?;
        let mut event = LifecycleEvent {
            sequence_number: wire.sequence_number,
            response: Box::new(wire.response.typed_output().ok()?),
            extra: wire.extra,
        };
        untag(&mut event);
        Some(event)
    }
}

/// `response.output_item.added` / `.done` with an item [`ItemWire`] reads; anything else goes
/// the ordinary way. A relayed 300-byte `output_item.done` cost 31k instructions through the
/// item's `Value`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemEventWire {
    #[serde(rename = "type")]
    _kind: serde::de::IgnoredAny,
    #[serde(default)]
    sequence_number: u64,
    output_index: u32,
    item: ItemWire,
}

impl ItemEventWire {
    fn read(json: &str) -> Option<OutputItemEvent> {
        let wire: ItemEventWire = serde_json::from_str(json).ok()?;
        Some(OutputItemEvent {
            sequence_number: wire.sequence_number,
            output_index: wire.output_index,
            item: wire.item.item()?,
            extra: JsonMap::new(),
        })
    }
}

/// `response.content_part.added` / `.done` with a part [`PartWire`] reads.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartEventWire {
    #[serde(rename = "type")]
    _kind: serde::de::IgnoredAny,
    #[serde(default)]
    sequence_number: u64,
    item_id: String,
    output_index: u32,
    content_index: u32,
    part: PartWire,
}

impl PartEventWire {
    fn read(json: &str) -> Option<ContentPartEvent> {
        let wire: PartEventWire = serde_json::from_str(json).ok()?;
        Some(ContentPartEvent {
            sequence_number: wire.sequence_number,
            item_id: wire.item_id,
            output_index: wire.output_index,
            content_index: wire.content_index,
            part: wire.part.part()?,
            extra: JsonMap::new(),
        })
    }
}

/// The `extra` of a relayed delta: its `obfuscation` when there (a `null` kept as one).
fn obfuscation_only(obfuscation: Option<Option<Value>>) -> JsonMap {
    let mut extra = JsonMap::new();
    if let Some(value) = obfuscation {
        extra.insert("obfuscation".into(), value.unwrap_or(Value::Null));
    }
    extra
}

/// An event's `type`, everything else skipped.
#[derive(Deserialize)]
struct TypeTag<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// A payload whose unknown fields are kept: the tag is taken out of them (in place, keeping
/// the order of the others).
trait Untag {
    fn untag(&mut self);
}

fn untag(payload: &mut impl Untag) {
    payload.untag();
}

macro_rules! untag_extra {
    ($($ty:ty),*) => {$(
        impl Untag for $ty {
            fn untag(&mut self) {
                self.extra.shift_remove("type");
            }
        }
    )*};
}

untag_extra!(
    LifecycleEvent,
    OutputItemEvent,
    ContentPartEvent,
    OutputTextDeltaEvent,
    OutputTextDoneEvent,
    ContentDeltaEvent,
    RefusalDoneEvent,
    ContentTextDoneEvent,
    SummaryPartEvent,
    SummaryDeltaEvent,
    SummaryTextDoneEvent,
    ItemDeltaEvent,
    ArgumentsDoneEvent,
    CustomInputDoneEvent,
    ErrorEvent
);

impl Untag for KeepaliveEvent {
    fn untag(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relayed_delta_keeps_obfuscation_and_gets_new_sequence_number() {
        let mut event: ResponseStreamEvent = serde_json::from_value(json!({
            "type": "response.output_text.delta", "sequence_number": 9, "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": "Hi", "obfuscation": "abc"}))
        .unwrap();
        assert_eq!(event.kind(), "response.output_text.delta");
        event.set_sequence_number(4);
        assert_eq!(event.sequence_number(), Some(4));
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1",
                "output_index": 0, "content_index": 0, "delta": "Hi", "logprobs": [],
                "obfuscation": "abc"})
        );
    }

    #[test]
    fn unknown_events_are_kept_and_renumbered() {
        let mut event: ResponseStreamEvent = serde_json::from_value(json!({
            "type": "response.web_search_call.searching", "sequence_number": 3,
            "output_index": 0, "item_id": "ws_1"}))
        .unwrap();
        assert_eq!(event.kind(), "response.web_search_call.searching");
        event.set_sequence_number(7);
        assert_eq!(event.sequence_number(), Some(7));
    }

    #[test]
    fn nested_and_flat_error_events() {
        let nested: ResponseStreamEvent = serde_json::from_value(json!({"type": "error",
            "sequence_number": 2, "error": {"type": "insufficient_quota",
            "code": "insufficient_quota", "message": "quota", "param": null}}))
        .unwrap();
        let ResponseStreamEvent::Error(e) = nested else {
            panic!()
        };
        assert_eq!(
            e.code_and_message(),
            (Some("insufficient_quota".into()), "quota".into())
        );
        let flat: ResponseStreamEvent = serde_json::from_value(json!({"type": "error",
            "sequence_number": 2, "code": "x", "message": "m", "param": null}))
        .unwrap();
        let ResponseStreamEvent::Error(e) = flat else {
            panic!()
        };
        assert_eq!(e.code_and_message(), (Some("x".into()), "m".into()));
    }

    #[test]
    fn lifecycle_event_parses_sparse_response() {
        let event: ResponseStreamEvent = serde_json::from_value(json!({"type": "response.created",
            "sequence_number": 0, "response": {"id": "resp_1"}}))
        .unwrap();
        assert_eq!(event.response().unwrap().id, "resp_1");
        assert!(!event.is_terminal());
    }

    /// The shapes OpenAI streams take the direct read (the agreement test below shows it
    /// gives the ordinary result); others do not.
    #[test]
    fn streamed_items_and_parts_are_read_directly() {
        for item in [
            r#"{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Hi"}],"role":"assistant"}"#,
            r#"{"id":"fc_1","type":"function_call","status":"completed","arguments":"{}","call_id":"call_1","name":"f"}"#,
            r#"{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"s"}],"encrypted_content":"gAAA"}"#,
        ] {
            let json = format!(
                r#"{{"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":{item}}}"#
            );
            assert!(ItemEventWire::read(&json).is_some(), "{json}");
        }
        for item in [
            r#"{"type":"message","role":"assistant","content":[],"future":1}"#,
            r#"{"type":"web_search_call","id":"ws_1"}"#,
            r#"{"type":"function_call","name":"f"}"#,
        ] {
            let json =
                format!(r#"{{"type":"response.output_item.done","output_index":0,"item":{item}}}"#);
            assert!(ItemEventWire::read(&json).is_none(), "{json}");
        }
        let part = r#"{"type":"response.content_part.added","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}}"#;
        assert!(PartEventWire::read(part).is_some());
    }

    /// `from_json` agrees with serde's own parse of the enum on every kind of event,
    /// whatever the field order, escapes, unknown fields or malformed payloads.
    #[test]
    fn direct_parse_agrees_with_serde() {
        let cases = [
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","model":"m","output":[]},"x":1}"#,
            r#"{"sequence_number":3,"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","obfuscation":"abc"}"#,
            r#"  { "type" : "response.output_text.delta", "zeta": 1, "item_id":"m","output_index":0,"content_index":0,"delta":"\u00e9\n","alpha": 2}"#,
            r#"{"type":"response.output\u005ftext.delta","item_id":"m","output_index":0,"content_index":0,"delta":"x"}"#,
            // The deltas' own parse: obfuscation (also null), logprobs (also null), the tag
            // anywhere, a duplicate field, an unknown one (the ordinary path), a bad index.
            r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" you","logprobs":[],"obfuscation":"k4A5"}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":1,"content_index":2,"delta":"","logprobs":null,"obfuscation":null}"#,
            r#"{"item_id":"msg_1","output_index":0,"content_index":0,"delta":"a\"b","type":"response.output_text.delta"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","item_id":"n","output_index":0,"content_index":0,"delta":"x"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"x","obfuscation":"o","annotations":[]}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":-1,"content_index":0,"delta":"x"}"#,
            r#"{"type":"response.function_call_arguments.delta","sequence_number":7,"item_id":"fc_1","output_index":1,"delta":"{\"a\":","obfuscation":"zz"}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"1}","call_id":"c"}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"x","content_index":null}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"x","logprobs":null}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":null,"delta":"x"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":1.0,"delta":"x"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"x","logprobs":{}}"#,
            r#"{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"type":"message","id":"msg_1","role":"assistant","content":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}}"#,
            r#"{"type":"response.content_part.added","item_id":"m","output_index":0,"content_index":0,"part":{"type":"output_text","text":""}}"#,
            r#"{"type":"response.completed","sequence_number":9,"response":{"id":"r","status":"completed","usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}}"#,
            // Items and parts read straight from the text (`ItemWire`, `PartWire`) or, for
            // any other shape, the ordinary way.
            r#"{"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Hello \u00e9 \"q\""}],"role":"assistant"}}"#,
            r#"{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant","phase":"final_answer"}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","phase":null,"id":null,"status":null,"content":null}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":null,"content":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","content":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"user","content":"hi"}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[],"call_id":null}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[],"future":{"a":1}}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","role":"user","content":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"robot","content":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","status":"weird","content":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"no"},{"type":"output_text","text":null,"annotations":null,"logprobs":[{"token":"a","logprob":-0.1}]}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"no","text":"x"}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x","refusal":null}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x","x":1}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[{"type":"input_audio","data":"x"},{"text":"no type"}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":null},{"type":"input_text"}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"user","content":[{"type":"input_text","text":5}]}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"a\":1}","call_id":"call_1","name":"f"}}"#,
            r#"{"type":"response.output_item.added","output_index":1,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"f"}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","arguments":{"a":1},"call_id":"c","name":"f"}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","arguments":null,"call_id":"c","name":"f"}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":null,"name":"f"}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"c"}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"c","name":"f","namespace":"ns"}}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"c","name":"f","role":"assistant"}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"s"}],"encrypted_content":"gAAA","status":"completed","content":[{"type":"reasoning_text","text":"t"}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","summary":null,"content":null,"encrypted_content":null}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","summary":[{"type":"summary_text","text":null}]}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","summary":[],"status":"weird"}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","summary":[],"name":null}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search"}}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":7,"role":"user"}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"role":"user","content":"no type"}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":"just text"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","role":"assistant","content":[]},"extra":true}"#,
            r#"{"type":"response.output_item.done","output_index":-1,"item":{"type":"message","role":"assistant","content":[]}}"#,
            r#"{"type":"response.output_item.done","sequence_number":null,"output_index":0,"item":{"type":"message","role":"assistant","content":[]}}"#,
            r#"{"type":"response.output_item.done","output_index":0}"#,
            r#"{"type":"response.content_part.done","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":"Hi"}}"#,
            r#"{"type":"response.content_part.added","item_id":"m","output_index":0,"content_index":1,"part":{"type":"refusal","refusal":""}}"#,
            r#"{"type":"response.content_part.added","item_id":"m","output_index":0,"content_index":1,"part":{"type":"input_text"}}"#,
            r#"{"type":"response.content_part.added","item_id":"m","output_index":0,"part":{"type":"output_text","text":""}}"#,
            r#"{"type":"response.content_part.added","item_id":"m","output_index":0,"content_index":0,"part":{"type":"output_text","text":""},"obfuscation":"x"}"#,
            r#"{"type":"response.content_part.added","item_id":"m","output_index":0,"content_index":0,"part":{"type":"summary_text","text":"s"}}"#,
            r#"{"type":"response.content_part.added","item_id":null,"output_index":0,"content_index":0,"part":{"type":"output_text","text":""}}"#,
            r#"{"type":"response.function_call_arguments.done","item_id":"fc","output_index":0,"arguments":"{}"}"#,
            r#"{"sequence_number":10,"type":"response.completed","response":{"id":"r","status":"completed","output":[{"type":"message","id":"m","status":"completed","role":"assistant","content":[{"type":"output_text","text":"x","annotations":[],"logprobs":[]}]},{"type":"web_search_call","id":"ws"},{"type":"function_call","name":"f"}]},"obfuscation":null}"#,
            r#"{"type":"response.incomplete","response":{"id":"r","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":null}}"#,
            r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"server_error","message":"m"}},"response":{}}"#,
            r#"{"type":"response.completed","response":{"id":"r","output":[{"type":"message"]}}"#,
            r#"{"type":"error","sequence_number":2,"error":{"type":"insufficient_quota","code":"q","message":"quota","param":null}}"#,
            r#"{"type":"error","code":"x","message":"m","param":null}"#,
            r#"{"type":"keepalive","sequence_number":4}"#,
            r#"{"type":"response.web_search_call.searching","sequence_number":3,"output_index":0,"item_id":"ws_1"}"#,
            r#"{"type":7,"sequence_number":1}"#,
            r#"{"type":"response.output_text.delta","sequence_number":"not a number"}"#,
            r#"{"type":"response.created","response":"not an object"}"#,
            r#"{"sequence_number":1}"#,
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"r"}} trailing"#,
            r#"[1, 2]"#,
            r#"{"type":"response.in_progress""#,
        ];
        for json in cases {
            let ours = ResponseStreamEvent::from_json(json);
            let serdes = serde_json::from_str::<ResponseStreamEvent>(json);
            match (&ours, &serdes) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{json}");
                    assert_eq!(
                        serde_json::to_string(a).unwrap(),
                        serde_json::to_string(b).unwrap(),
                        "{json}"
                    );
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{json}"),
                _ => panic!("{json}: ours {ours:?}, serde {serdes:?}"),
            }
        }
    }
}
