//! Output items and content parts read straight from an event's text, for the shapes upstreams
//! stream (`message` with `output_text` / `refusal` parts, `function_call`, `reasoning`).
//!
//! The ordinary parse ([`Item`]'s `Deserialize`) reads the item into a `serde_json::Value` and
//! types it from there, so that an item whose known `type` has a bad shape is kept as it came:
//! every string is allocated twice and every key hashed into a map. These structs name every
//! field of the shapes above and refuse anything else (an unknown field, a field of another
//! type, a `null` where the typed struct wants a value); a refusal sends the whole event the
//! ordinary way, so what they give is always what the ordinary parse gives.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::JsonMap;
use crate::responses::item::{
    ContentPart, FunctionCallItem, Item, ItemStatus, MessageContent, MessageItem, OutputTextPart,
    ReasoningItem, RefusalPart, Role, TextPart,
};

/// A field that is there (outer `Some`), `null` included (inner `None`): a field of another
/// item type, even `null`, is one the ordinary parse keeps in `extra`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An item as [`ItemWire::item`] reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemWire {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    status: Option<Option<ItemStatus>>,
    #[serde(default, deserialize_with = "present")]
    role: Option<Option<Role>>,
    #[serde(default, deserialize_with = "present")]
    content: Option<Option<Vec<PartWire>>>,
    #[serde(default, deserialize_with = "present")]
    phase: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    call_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    arguments: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    summary: Option<Option<Vec<PartWire>>>,
    #[serde(default, deserialize_with = "present")]
    encrypted_content: Option<Option<String>>,
}

/// A content part as [`PartWire::part`] reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartWire {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "present")]
    text: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    annotations: Option<Option<Vec<Value>>>,
    #[serde(default, deserialize_with = "present")]
    logprobs: Option<Option<Vec<Value>>>,
    #[serde(default, deserialize_with = "present")]
    refusal: Option<Option<String>>,
}

/// The parts of a list, or `None` when one of them is not of a shape read here.
fn parts(wire: Vec<PartWire>) -> Option<Vec<ContentPart>> {
    wire.into_iter().map(PartWire::part).collect()
}

impl PartWire {
    /// The typed part, or `None` for any shape not read here.
    pub(crate) fn part(self) -> Option<ContentPart> {
        let PartWire {
            kind,
            text,
            annotations,
            logprobs,
            refusal,
        } = self;
        Some(match kind.as_str() {
            "output_text" if refusal.is_none() => ContentPart::OutputText(OutputTextPart {
                text: text.flatten().unwrap_or_default(),
                annotations: annotations.flatten().unwrap_or_default(),
                logprobs: logprobs.flatten().unwrap_or_default(),
                extra: JsonMap::new(),
            }),
            "refusal" if text.is_none() && annotations.is_none() && logprobs.is_none() => {
                ContentPart::Refusal(RefusalPart {
                    refusal: refusal.flatten().unwrap_or_default(),
                    extra: JsonMap::new(),
                })
            }
            "input_text" | "summary_text" | "reasoning_text"
                if refusal.is_none() && annotations.is_none() && logprobs.is_none() =>
            {
                // `text` is required there, `null` refused.
                let part = TextPart::new(text??);
                match kind.as_str() {
                    "input_text" => ContentPart::InputText(part),
                    "summary_text" => ContentPart::SummaryText(part),
                    _ => ContentPart::ReasoningText(part),
                }
            }
            _ => return None,
        })
    }
}

impl ItemWire {
    /// The typed item, or `None` for any shape not read here.
    pub(crate) fn item(self) -> Option<Item> {
        let ItemWire {
            kind,
            id,
            status,
            role,
            content,
            phase,
            call_id,
            name,
            arguments,
            summary,
            encrypted_content,
        } = self;
        let id = id.flatten();
        let status = status.flatten();
        Some(match kind.as_str() {
            "message"
                if call_id.is_none()
                    && name.is_none()
                    && arguments.is_none()
                    && summary.is_none()
                    && encrypted_content.is_none() =>
            {
                Item::Message(MessageItem {
                    id,
                    status,
                    role: role??,
                    content: MessageContent::Parts(match content.flatten() {
                        Some(wire) => parts(wire)?,
                        None => Vec::new(),
                    }),
                    phase: phase.flatten(),
                    extra: JsonMap::new(),
                })
            }
            "function_call"
                if role.is_none()
                    && content.is_none()
                    && phase.is_none()
                    && summary.is_none()
                    && encrypted_content.is_none() =>
            {
                Item::FunctionCall(FunctionCallItem {
                    id,
                    status,
                    arguments: arguments.flatten().unwrap_or_default(),
                    call_id: call_id??,
                    name: name??,
                    extra: JsonMap::new(),
                })
            }
            "reasoning"
                if role.is_none()
                    && phase.is_none()
                    && call_id.is_none()
                    && name.is_none()
                    && arguments.is_none() =>
            {
                Item::Reasoning(ReasoningItem {
                    id,
                    summary: match summary.flatten() {
                        Some(wire) => parts(wire)?,
                        None => Vec::new(),
                    },
                    content: match content.flatten() {
                        Some(wire) => Some(parts(wire)?),
                        None => None,
                    },
                    encrypted_content: encrypted_content.flatten(),
                    status,
                    extra: JsonMap::new(),
                })
            }
            _ => return None,
        })
    }
}
