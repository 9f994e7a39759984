//! Items and content parts read in one pass, for the shapes clients send and upstreams stream
//! (`message`, `function_call`, `function_call_output`, `reasoning`; text, refusal, image and
//! file parts).
//!
//! The ordinary parse ([`Item`]'s `Deserialize`) types an item from a `serde_json::Value`
//! taken apart (its `type` removed, the rest read by structs with a flattened `extra`, each
//! part read into a `Value` of its own again), so that an item whose known `type` has a bad
//! shape is kept as it came. These structs name every field of the shapes above and refuse
//! anything else: an unknown field, a field of another type (even `null`, which the ordinary
//! parse keeps in `extra`), a `null` where the typed struct wants a value. A refusal sends the
//! item the ordinary way, so what they give is always what the ordinary parse gives. They read
//! an event's text directly (no `Value` at all) or the `Value` the ordinary parse made.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::JsonMap;
use crate::de::{TextOrList, present, text_or_list};
use crate::responses::item::{
    ContentPart, FunctionCallItem, FunctionCallOutputItem, InputFilePart, InputImagePart, Item,
    ItemStatus, MessageContent, MessageItem, OutputTextPart, ReasoningItem, RefusalPart, Role,
    TextPart, ToolOutput,
};

/// Bit `bit` when the field is there.
fn bit<T>(field: &Option<T>, bit: u16) -> u16 {
    if field.is_some() { bit } else { 0 }
}

/// Text or a list of parts (a message's content, a tool's output).
struct Contents(TextOrList<PartWire>);

impl<'de> Deserialize<'de> for Contents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text_or_list(d, "content").map(Contents)
    }
}

/// An item as [`ItemWire::item`] reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemWire {
    /// A `null` type is not an absent one: such an item is kept as it came.
    #[serde(rename = "type", default, deserialize_with = "present")]
    kind: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    status: Option<Option<ItemStatus>>,
    #[serde(default, deserialize_with = "present")]
    role: Option<Option<Role>>,
    #[serde(default, deserialize_with = "present")]
    content: Option<Option<Contents>>,
    #[serde(default, deserialize_with = "present")]
    phase: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    call_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    arguments: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    output: Option<Option<Contents>>,
    #[serde(default, deserialize_with = "present")]
    summary: Option<Option<Vec<PartWire>>>,
    #[serde(default, deserialize_with = "present")]
    encrypted_content: Option<Option<String>>,
}

/// The item types read here, and a message without `type` (it has a `role`).
fn item_kind_read_here(value: &Value) -> bool {
    match value.get("type") {
        Some(Value::String(kind)) => matches!(
            kind.as_str(),
            "message" | "function_call" | "function_call_output" | "reasoning"
        ),
        Some(_) => false,
        None => value.get("role").is_some(),
    }
}

impl ItemWire {
    const ID: u16 = 1;
    const STATUS: u16 = 1 << 1;
    const ROLE: u16 = 1 << 2;
    const CONTENT: u16 = 1 << 3;
    const PHASE: u16 = 1 << 4;
    const CALL_ID: u16 = 1 << 5;
    const NAME: u16 = 1 << 6;
    const ARGUMENTS: u16 = 1 << 7;
    const OUTPUT: u16 = 1 << 8;
    const SUMMARY: u16 = 1 << 9;
    const ENCRYPTED_CONTENT: u16 = 1 << 10;

    /// The item in `value` when it is of a shape read here (see [`ItemWire::item`]).
    pub(crate) fn from_value(value: &Value) -> Option<Item> {
        // Only a shape that may be read here is tried: a refusal costs an error's message.
        if !item_kind_read_here(value) {
            return None;
        }
        ItemWire::deserialize(value).ok()?.item()
    }

    /// The item in `json` when it is of a shape read here, read from the text.
    pub(crate) fn from_json(json: &str) -> Option<Item> {
        serde_json::from_str::<ItemWire>(json).ok()?.item()
    }

    fn fields(&self) -> u16 {
        bit(&self.id, Self::ID)
            | bit(&self.status, Self::STATUS)
            | bit(&self.role, Self::ROLE)
            | bit(&self.content, Self::CONTENT)
            | bit(&self.phase, Self::PHASE)
            | bit(&self.call_id, Self::CALL_ID)
            | bit(&self.name, Self::NAME)
            | bit(&self.arguments, Self::ARGUMENTS)
            | bit(&self.output, Self::OUTPUT)
            | bit(&self.summary, Self::SUMMARY)
            | bit(&self.encrypted_content, Self::ENCRYPTED_CONTENT)
    }

    /// The typed item, or `None` for any shape not read here.
    pub(crate) fn item(self) -> Option<Item> {
        let fields = self.fields();
        let only = |allowed: u16| fields & !allowed == 0;
        // A message may leave out its `type` (an "easy input message": it has a `role`).
        let kind = match &self.kind {
            Some(kind) => kind.as_deref()?,
            None if self.role.is_some() => "message",
            None => return None,
        };
        let ItemWire {
            id,
            status,
            role,
            content,
            phase,
            call_id,
            name,
            arguments,
            output,
            summary,
            encrypted_content,
            ..
        } = self;
        let (id, status) = (id.flatten(), status.flatten());
        Some(match kind {
            "message"
                if only(Self::ID | Self::STATUS | Self::ROLE | Self::CONTENT | Self::PHASE) =>
            {
                Item::Message(MessageItem {
                    id,
                    status,
                    role: role??,
                    content: match content.flatten() {
                        None => MessageContent::Parts(Vec::new()),
                        Some(Contents(TextOrList::Text(text))) => MessageContent::Text(text),
                        Some(Contents(TextOrList::List(wire))) => {
                            MessageContent::Parts(parts(wire)?)
                        }
                    },
                    phase: phase.flatten(),
                    extra: JsonMap::new(),
                })
            }
            "function_call"
                if only(Self::ID | Self::STATUS | Self::ARGUMENTS | Self::CALL_ID | Self::NAME) =>
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
            "function_call_output"
                if only(Self::ID | Self::STATUS | Self::CALL_ID | Self::OUTPUT) =>
            {
                Item::FunctionCallOutput(FunctionCallOutputItem {
                    id,
                    status,
                    call_id: call_id??,
                    output: match output?? {
                        Contents(TextOrList::Text(text)) => ToolOutput::Text(text),
                        Contents(TextOrList::List(wire)) => ToolOutput::Parts(parts(wire)?),
                    },
                    extra: JsonMap::new(),
                })
            }
            "reasoning"
                if only(
                    Self::ID
                        | Self::STATUS
                        | Self::SUMMARY
                        | Self::CONTENT
                        | Self::ENCRYPTED_CONTENT,
                ) =>
            {
                Item::Reasoning(ReasoningItem {
                    id,
                    summary: match summary.flatten() {
                        Some(wire) => parts(wire)?,
                        None => Vec::new(),
                    },
                    content: match content.flatten() {
                        None => None,
                        Some(Contents(TextOrList::List(wire))) => Some(parts(wire)?),
                        Some(Contents(TextOrList::Text(_))) => return None,
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
    #[serde(default, deserialize_with = "present")]
    image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    file_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    detail: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    file_data: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    file_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    filename: Option<Option<String>>,
}

/// The parts of a list, or `None` when one of them is not of a shape read here.
fn parts(wire: Vec<PartWire>) -> Option<Vec<ContentPart>> {
    wire.into_iter().map(PartWire::part).collect()
}

impl PartWire {
    const TEXT: u16 = 1;
    const ANNOTATIONS: u16 = 1 << 1;
    const LOGPROBS: u16 = 1 << 2;
    const REFUSAL: u16 = 1 << 3;
    const IMAGE_URL: u16 = 1 << 4;
    const FILE_ID: u16 = 1 << 5;
    const DETAIL: u16 = 1 << 6;
    const FILE_DATA: u16 = 1 << 7;
    const FILE_URL: u16 = 1 << 8;
    const FILENAME: u16 = 1 << 9;

    /// The part in `value` when it is of a shape read here (see [`PartWire::part`]).
    pub(crate) fn from_value(value: &Value) -> Option<ContentPart> {
        let Some(Value::String(kind)) = value.get("type") else {
            return None;
        };
        if !matches!(
            kind.as_str(),
            "output_text"
                | "refusal"
                | "input_text"
                | "summary_text"
                | "reasoning_text"
                | "input_image"
                | "input_file"
        ) {
            return None;
        }
        PartWire::deserialize(value).ok()?.part()
    }

    fn fields(&self) -> u16 {
        bit(&self.text, Self::TEXT)
            | bit(&self.annotations, Self::ANNOTATIONS)
            | bit(&self.logprobs, Self::LOGPROBS)
            | bit(&self.refusal, Self::REFUSAL)
            | bit(&self.image_url, Self::IMAGE_URL)
            | bit(&self.file_id, Self::FILE_ID)
            | bit(&self.detail, Self::DETAIL)
            | bit(&self.file_data, Self::FILE_DATA)
            | bit(&self.file_url, Self::FILE_URL)
            | bit(&self.filename, Self::FILENAME)
    }

    /// The typed part, or `None` for any shape not read here.
    pub(crate) fn part(self) -> Option<ContentPart> {
        let fields = self.fields();
        let only = |allowed: u16| fields & !allowed == 0;
        let text = |text: Option<Option<String>>| text.flatten().unwrap_or_default();
        Some(match self.kind.as_str() {
            "output_text" if only(Self::TEXT | Self::ANNOTATIONS | Self::LOGPROBS) => {
                ContentPart::OutputText(OutputTextPart {
                    text: text(self.text),
                    annotations: self.annotations.flatten().unwrap_or_default(),
                    logprobs: self.logprobs.flatten().unwrap_or_default(),
                    extra: JsonMap::new(),
                })
            }
            "refusal" if only(Self::REFUSAL) => ContentPart::Refusal(RefusalPart {
                refusal: text(self.refusal),
                extra: JsonMap::new(),
            }),
            // `text` is required there, `null` refused.
            "input_text" if only(Self::TEXT) => ContentPart::InputText(TextPart::new(self.text??)),
            "summary_text" if only(Self::TEXT) => {
                ContentPart::SummaryText(TextPart::new(self.text??))
            }
            "reasoning_text" if only(Self::TEXT) => {
                ContentPart::ReasoningText(TextPart::new(self.text??))
            }
            "input_image" if only(Self::IMAGE_URL | Self::FILE_ID | Self::DETAIL) => {
                ContentPart::InputImage(InputImagePart {
                    image_url: self.image_url.flatten(),
                    file_id: self.file_id.flatten(),
                    detail: self.detail.flatten(),
                    extra: JsonMap::new(),
                })
            }
            "input_file"
                if only(Self::FILE_ID | Self::FILE_DATA | Self::FILE_URL | Self::FILENAME) =>
            {
                ContentPart::InputFile(InputFilePart {
                    file_id: self.file_id.flatten(),
                    file_data: self.file_data.flatten(),
                    file_url: self.file_url.flatten(),
                    filename: self.filename.flatten(),
                    extra: JsonMap::new(),
                })
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::Tagged;
    use crate::responses::item::{parse_item, parse_part};

    /// What the ordinary parse makes of `value`, typed or kept.
    fn ordinary_item(value: Value) -> Item {
        match parse_item(value) {
            Tagged::Typed(item) => item,
            Tagged::Other(value) | Tagged::Invalid(value, _) => Item::Other(value),
        }
    }

    fn ordinary_part(value: Value) -> ContentPart {
        match parse_part(value) {
            Tagged::Typed(part) => part,
            Tagged::Other(value) | Tagged::Invalid(value, _) => ContentPart::Other(value),
        }
    }

    /// Items the one-pass read takes, and others it must leave to the ordinary parse: read
    /// from the text and from a `Value`, each result equals the ordinary parse's.
    #[test]
    fn items_read_in_one_pass_equal_the_ordinary_parse() {
        let cases = [
            // Read here.
            r#"{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Hello \u00e9 \"q\""}],"role":"assistant"}"#,
            r#"{"type":"message","role":"user","content":"hi"}"#,
            r#"{"role":"user","content":"no type"}"#,
            r#"{"role":"developer","content":[{"type":"input_text","text":"be brief"}]}"#,
            r#"{"type":"message","role":"assistant","phase":null,"id":null,"status":null,"content":null}"#,
            r#"{"type":"message","role":"assistant"}"#,
            r#"{"type":"message","role":"system","phase":"commentary","content":[]}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AA","detail":"high"},{"type":"input_file","file_id":"file_1","filename":null},{"type":"input_image","file_id":"f","image_url":null,"detail":null}]}"#,
            r#"{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"no"},{"type":"output_text","text":null,"annotations":null,"logprobs":[{"token":"a","logprob":-0.1}]},{"type":"refusal","refusal":null}]}"#,
            r#"{"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"a\":1}","call_id":"call_1","name":"f"}"#,
            r#"{"type":"function_call","arguments":null,"call_id":"c","name":"f"}"#,
            r#"{"type":"function_call","call_id":"c","name":"f"}"#,
            r#"{"type":"function_call_output","call_id":"call_1","output":"42"}"#,
            r#"{"type":"function_call_output","id":"fco_1","status":"completed","call_id":"c","output":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"https://x/y.png"}]}"#,
            r#"{"id":"rs_1","type":"reasoning","summary":[]}"#,
            r#"{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"s"}],"encrypted_content":"gAAA","status":"completed","content":[{"type":"reasoning_text","text":"t"}]}"#,
            r#"{"type":"reasoning","summary":null,"content":null,"encrypted_content":null}"#,
            // Left to the ordinary parse.
            r#"{"type":"message","role":null,"content":[]}"#,
            r#"{"type":"message","content":[]}"#,
            r#"{"type":null,"role":"user","content":"x"}"#,
            r#"{"type":7,"role":"user","content":"x"}"#,
            r#"{"type":"message","role":"assistant","content":[],"call_id":null}"#,
            r#"{"type":"message","role":"assistant","content":[],"future":{"a":1}}"#,
            r#"{"type":"message","role":"assistant","role":"user","content":[]}"#,
            r#"{"type":"message","role":"robot","content":[]}"#,
            r#"{"type":"message","role":"assistant","status":"weird","content":[]}"#,
            r#"{"type":"message","role":"assistant","content":5}"#,
            r#"{"type":"message","role":"assistant","content":{"type":"output_text"}}"#,
            r#"{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"no","text":"x"}]}"#,
            r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x","refusal":null}]}"#,
            r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"x","x":1}]}"#,
            r#"{"type":"message","role":"assistant","content":[{"type":"input_audio","data":"x"},{"text":"no type"},3]}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_text","text":null}]}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_text"}]}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_text","text":5}]}"#,
            r#"{"type":"message","role":"user","content":[{"type":"input_image","image_url":"u","text":"t"}]}"#,
            r#"{"type":"function_call","arguments":{"a":1},"call_id":"c","name":"f"}"#,
            r#"{"type":"function_call","call_id":null,"name":"f"}"#,
            r#"{"type":"function_call","call_id":"c"}"#,
            r#"{"type":"function_call","call_id":"c","name":"f","namespace":"ns"}"#,
            r#"{"type":"function_call","call_id":"c","name":"f","role":"assistant"}"#,
            r#"{"type":"function_call_output","call_id":"c"}"#,
            r#"{"type":"function_call_output","call_id":"c","output":null}"#,
            r#"{"type":"function_call_output","call_id":"c","output":{"a":1}}"#,
            r#"{"type":"reasoning","summary":[{"type":"summary_text","text":null}]}"#,
            r#"{"type":"reasoning","summary":[],"status":"weird"}"#,
            r#"{"type":"reasoning","summary":[],"name":null}"#,
            r#"{"type":"reasoning","summary":[],"content":"text"}"#,
            r#"{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search"}}"#,
            r#"{"type":"item_reference","id":"msg_1"}"#,
            r#"{"id":"msg_1"}"#,
            r#"{"content":"neither type nor role"}"#,
            r#""just text""#,
            "null",
            "[1]",
        ];
        let mut read_here = 0;
        for case in cases {
            let value: Value = serde_json::from_str(case).unwrap();
            let ordinary = ordinary_item(value.clone());
            let from_text = serde_json::from_str::<ItemWire>(case)
                .ok()
                .and_then(ItemWire::item);
            let from_value = ItemWire::from_value(&value);
            if let Some(item) = &from_text {
                assert_eq!(item, &ordinary, "{case} (from the text)");
            }
            if let Some(item) = &from_value {
                assert_eq!(item, &ordinary, "{case} (from a value)");
                read_here += 1;
            }
            // A shape read from the text is read from a value too, and the other way round,
            // but for a repeated field: the text refuses it, a value holds the last one.
            if !case.contains(r#""role":"assistant","role""#) {
                assert_eq!(from_text.is_some(), from_value.is_some(), "{case}");
            }
            // The item's own `Deserialize` (which tries this read first) agrees as well.
            assert_eq!(
                serde_json::from_str::<Item>(case).unwrap(),
                ordinary,
                "{case}"
            );
        }
        // The cases above the line, and the repeated role as a value.
        assert_eq!(read_here, 18);
    }

    #[test]
    fn parts_read_in_one_pass_equal_the_ordinary_parse() {
        let cases = [
            (
                r#"{"type":"output_text","text":"x","annotations":[{"type":"url_citation","url":"u"}],"logprobs":[]}"#,
                true,
            ),
            (r#"{"type":"output_text"}"#, true),
            (r#"{"type":"refusal","refusal":"no"}"#, true),
            (r#"{"type":"input_text","text":"a"}"#, true),
            (r#"{"type":"summary_text","text":"s"}"#, true),
            (r#"{"type":"reasoning_text","text":"r"}"#, true),
            (r#"{"type":"input_image","image_url":"u"}"#, true),
            (
                r#"{"type":"input_file","file_data":"data:application/pdf;base64,AA","filename":"a.pdf"}"#,
                true,
            ),
            (r#"{"type":"input_text","text":null}"#, false),
            (
                r#"{"type":"input_text","text":"a","cache_control":{"type":"ephemeral"}}"#,
                false,
            ),
            (r#"{"type":"output_text","text":1}"#, false),
            (r#"{"type":"input_audio","input_audio":{}}"#, false),
            (r#"{"text":"no type"}"#, false),
            // As a value it holds the last one; the text's read refuses the repeat.
            (
                r#"{"type":"refusal","refusal":"no","refusal":"twice"}"#,
                true,
            ),
        ];
        for (case, read_here) in cases {
            let value: Value = serde_json::from_str(case).unwrap();
            let ordinary = ordinary_part(value.clone());
            let from_value = PartWire::from_value(&value);
            assert_eq!(from_value.is_some(), read_here, "{case}");
            if let Some(part) = from_value {
                assert_eq!(part, ordinary, "{case}");
            }
            if let Some(part) = serde_json::from_str::<PartWire>(case)
                .ok()
                .and_then(PartWire::part)
            {
                assert_eq!(part, ordinary, "{case} (from the text)");
            }
            assert_eq!(
                serde_json::from_str::<ContentPart>(case).unwrap(),
                ordinary,
                "{case}"
            );
        }
    }
}
