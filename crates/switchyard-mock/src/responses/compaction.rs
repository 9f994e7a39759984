//! Compaction as OpenAI's Responses upstream does it: `POST /responses/compact` and a create
//! whose last input item is `{"type": "compaction_trigger"}` both answer one `compaction` item
//! standing for everything in the history but the user's messages (which the compact endpoint
//! returns as they are, and which Codex keeps). The item's content is opaque to clients; this
//! mock can read its own back, so that a later request carrying it is answered as if the
//! history it stands for were there (its words count as input, a tool result it ends with is
//! answered).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use switchyard_types::responses::{CreateResponse, Input, Item, Role};

/// What this mock's compaction contents start with.
const PREFIX: &str = "mock-compaction:";

/// True when the request's last input item is a compaction trigger.
pub(crate) fn ends_with_trigger(req: &CreateResponse) -> bool {
    matches!(&req.input, Some(Input::Items(items))
        if items.last().is_some_and(|i| i.kind() == "compaction_trigger"))
}

/// The input with each compaction item this mock made replaced by the items it stands for,
/// and compaction triggers left out.
pub(crate) fn expand(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match &item {
            Item::Other(_) if item.kind() == "compaction_trigger" => {}
            Item::Other(value) if item.kind() == "compaction" => {
                match value
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .and_then(open)
                {
                    Some(history) => out.extend(expand(history)),
                    None => out.push(item),
                }
            }
            _ => out.push(item),
        }
    }
    out
}

/// The compaction item for `history` (the request's input, triggers and all): it stands for
/// every item that is not a user message.
pub(crate) fn item(history: Vec<Item>) -> Item {
    let kept: Vec<Item> = expand(history)
        .into_iter()
        .filter(|i| !matches!(i, Item::Message(m) if m.role == Role::User))
        .collect();
    Item::Other(json!({
        "type": "compaction",
        "id": format!("cmp_{}", crate::ids::request_id()),
        "encrypted_content": seal(&kept),
    }))
}

fn seal(items: &[Item]) -> String {
    let json = serde_json::to_vec(items).unwrap_or_default();
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
}

fn open(content: &str) -> Option<Vec<Item>> {
    let bytes = URL_SAFE_NO_PAD.decode(content.strip_prefix(PREFIX)?).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(value: Value) -> Vec<Item> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_compaction_stands_for_what_it_compacted_but_the_user_messages() {
        let history = items(json!([
            {"type": "message", "role": "user", "content": "list the files"},
            {"type": "function_call", "call_id": "call_1", "name": "ls", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
            {"type": "compaction_trigger"},
        ]));
        let compaction = serde_json::to_value(item(history)).unwrap();
        assert_eq!(compaction["type"], "compaction");
        let content = compaction["encrypted_content"].as_str().unwrap();
        assert!(content.starts_with(PREFIX), "{content}");

        let later = items(json!([
            {"type": "message", "role": "user", "content": "list the files"},
            compaction,
        ]));
        let expanded = expand(later);
        let kinds: Vec<&str> = expanded.iter().map(Item::kind).collect();
        assert_eq!(kinds, ["message", "function_call", "function_call_output"]);
    }

    #[test]
    fn compactions_of_others_stay_as_they_are() {
        let later = items(json!([
            {"type": "compaction", "encrypted_content": "gAAAA-someone-elses"},
            {"type": "compaction", "encrypted_content": "mock-compaction:!!"},
        ]));
        assert_eq!(expand(later.clone()), later);
    }
}
