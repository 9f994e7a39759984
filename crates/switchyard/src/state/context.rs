//! Items between the store and a request: the ids listings show, the history a
//! `previous_response_id` stands for, and what a client is shown of a stored item.

use serde_json::Value;
use switchyard_types::responses::{
    ContentPart, Input, Item, ItemStatus, MessageContent, MessageItem, Role, TextPart,
};

use super::{ResponseRecord, StoredItem};
use crate::ids;

/// The request's input as items: a string is one user message.
pub fn input_items(input: Option<&Input>) -> Vec<Item> {
    match input {
        None => Vec::new(),
        Some(Input::Text(text)) => vec![Item::Message(MessageItem {
            id: None,
            status: None,
            role: Role::User,
            content: MessageContent::Text(text.clone()),
            phase: None,
            extra: Default::default(),
        })],
        Some(Input::Items(items)) => items.clone(),
    }
}

/// The items with their ids: the client's own, or one minted with the prefix OpenAI uses for
/// the item's type.
pub fn with_ids(items: Vec<Item>) -> Vec<StoredItem> {
    items
        .into_iter()
        .map(|item| StoredItem {
            id: stored_id(&item),
            item,
        })
        .collect()
}

/// The id `item` is stored under: its own, or one minted with the prefix OpenAI uses for its
/// type.
pub fn stored_id(item: &Item) -> String {
    item_id(item)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}_{}", prefix(item), ids::random_hex(24)))
}

/// An item's own id, if it has one.
pub fn item_id(item: &Item) -> Option<&str> {
    match item {
        Item::Message(m) => m.id.as_deref(),
        Item::FunctionCall(c) => c.id.as_deref(),
        Item::FunctionCallOutput(o) => o.id.as_deref(),
        Item::Reasoning(r) => r.id.as_deref(),
        Item::CustomToolCall(c) => c.id.as_deref(),
        Item::CustomToolCallOutput(o) => o.id.as_deref(),
        Item::ItemReference(r) => Some(r.id.as_str()),
        Item::Other(v) => v.get("id").and_then(Value::as_str),
    }
}

/// The `call_id` of a tool call item.
pub fn call_id(item: &Item) -> Option<&str> {
    match item {
        Item::FunctionCall(c) => Some(c.call_id.as_str()),
        Item::CustomToolCall(c) => Some(c.call_id.as_str()),
        _ => None,
    }
}

/// The id prefix OpenAI uses for an item type.
fn prefix(item: &Item) -> &'static str {
    match item {
        Item::Message(_) => "msg",
        Item::FunctionCall(_) => "fc",
        Item::FunctionCallOutput(_) => "fco",
        Item::Reasoning(_) => "rs",
        Item::CustomToolCall(_) => "ctc",
        Item::CustomToolCallOutput(_) => "ctco",
        Item::ItemReference(_) => "ref",
        Item::Other(v) => match v.get("type").and_then(Value::as_str) {
            Some("compaction") => "cmp",
            Some("web_search_call") => "ws",
            _ => "item",
        },
    }
}

/// What a chain of stored responses (newest first, as [`super::StateStore::chain`] returns
/// it) stands for in the next request, oldest first: each response's own input, then its
/// output. Instructions are not part of it: they are not inherited.
pub fn history(chain: &[ResponseRecord]) -> Vec<Item> {
    let mut items = Vec::new();
    for record in chain.iter().rev() {
        items.extend(record.input.iter().map(|s| s.item.clone()));
        items.extend(record.response.output.iter().cloned());
    }
    items
}

/// A response's own items, borrowed, with the ids they are stored under: (side, position in
/// that side, id, item), its input (ids minted at admission), then its output (each item's own
/// id, or one minted as [`with_ids`] does). Stores write these without cloning the items.
pub fn own_items(
    record: &ResponseRecord,
) -> impl Iterator<Item = (&'static str, usize, String, &Item)> {
    let input = (record.input.iter().enumerate())
        .map(|(position, stored)| ("input", position, stored.id.clone(), &stored.item));
    let output = (record.response.output.iter().enumerate())
        .map(|(position, item)| ("output", position, stored_id(item), item));
    input.chain(output)
}

/// The items a response adds to its conversation: its input, then its output.
pub fn conversation_additions(record: &ResponseRecord) -> Vec<StoredItem> {
    owned(own_items(record))
}

/// [`own_items`] (or what a store collected of them) as owned [`StoredItem`]s.
pub fn owned<'a>(
    items: impl IntoIterator<Item = (&'static str, usize, String, &'a Item)>,
) -> Vec<StoredItem> {
    (items.into_iter())
        .map(|(_, _, id, item)| StoredItem {
            id,
            item: item.clone(),
        })
        .collect()
}

/// A stored item as a listing shows it: with its id, a status where the type has one, and
/// string content as parts. Reasoning blobs are shown only when the client asked for them.
pub fn listed(stored: &StoredItem, include_encrypted: bool) -> Item {
    let mut item = for_client(stored.item.clone(), include_encrypted);
    let id = Some(stored.id.clone());
    let done = Some(ItemStatus::Completed);
    match &mut item {
        Item::Message(m) => {
            m.id = id;
            m.status = m.status.or(done);
            if let MessageContent::Text(text) = &m.content {
                let part = TextPart::new(text.clone());
                m.content = MessageContent::Parts(vec![match m.role {
                    Role::Assistant => {
                        ContentPart::OutputText(switchyard_types::responses::OutputTextPart {
                            text: part.text,
                            annotations: Vec::new(),
                            logprobs: Vec::new(),
                            extra: Default::default(),
                        })
                    }
                    _ => ContentPart::InputText(part),
                }]);
            }
        }
        Item::FunctionCall(c) => {
            c.id = id;
            c.status = c.status.or(done);
        }
        Item::FunctionCallOutput(o) => {
            o.id = id;
            o.status = o.status.or(done);
        }
        Item::Reasoning(r) => r.id = id,
        Item::CustomToolCall(c) => c.id = id,
        Item::CustomToolCallOutput(o) => o.id = id,
        Item::ItemReference(_) => {}
        Item::Other(v) => {
            if let Some(map) = v.as_object_mut() {
                map.entry("id").or_insert(Value::String(stored.id.clone()));
            }
        }
    }
    item
}

/// An output item as the client may see it: a reasoning item's `encrypted_content` is kept
/// only when the client asked for `reasoning.encrypted_content`.
pub fn for_client(mut item: Item, include_encrypted: bool) -> Item {
    if !include_encrypted && let Item::Reasoning(r) = &mut item {
        r.encrypted_content = None;
    }
    crate::stream::builder::hide_call_state(item)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Item {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn ids_are_kept_or_minted_with_the_type_prefix() {
        let items = with_ids(vec![
            item(json!({"type": "message", "role": "user", "content": "hi"})),
            item(json!({"type": "function_call_output", "call_id": "call_1", "output": "4"})),
            item(json!({"type": "message", "id": "msg_mine", "role": "user", "content": "x"})),
        ]);
        assert!(items[0].id.starts_with("msg_"), "{}", items[0].id);
        assert!(items[1].id.starts_with("fco_"), "{}", items[1].id);
        assert_eq!(items[2].id, "msg_mine");
        // The stored item is the client's, without the minted id.
        assert_eq!(item_id(&items[0].item), None);
    }

    #[test]
    fn listings_show_ids_status_and_parts() {
        let stored = with_ids(input_items(Some(&Input::Text("Tell me a joke".into()))));
        let shown = serde_json::to_value(listed(&stored[0], false)).unwrap();
        assert_eq!(shown["type"], "message");
        assert_eq!(shown["role"], "user");
        assert_eq!(shown["status"], "completed");
        assert_eq!(shown["id"], json!(stored[0].id));
        assert_eq!(
            shown["content"],
            json!([{"type": "input_text", "text": "Tell me a joke"}])
        );
    }

    #[test]
    fn reasoning_blobs_are_shown_only_when_asked() {
        let reasoning = item(json!({"type": "reasoning", "id": "rs_1", "summary": [],
            "encrypted_content": "swy1.gemini.x"}));
        let hidden = serde_json::to_value(for_client(reasoning.clone(), false)).unwrap();
        assert!(hidden.get("encrypted_content").is_none());
        let shown = serde_json::to_value(for_client(reasoning, true)).unwrap();
        assert_eq!(shown["encrypted_content"], "swy1.gemini.x");
    }
}
