//! The items of a conversation as every translator reads them: messages, the tool calls to
//! replay (under the names they were offered with), their results, and reasoning. Items no
//! translated upstream can take are handled here once: an `item_reference` is always refused
//! (only the provider that stored the item could resolve it), an item of unknown type is
//! refused or, with `drop_params`, dropped.

use serde_json::Value;
use switchyard_types::JsonMap;
use switchyard_types::responses::{
    CustomToolCallOutputItem, FunctionCallOutputItem, Item, MessageItem, ReasoningItem, ToolOutput,
};

use super::ids::split_call_carrier;
use super::tools::chat_function_name;
use crate::error::Error;
use crate::providers::gate::Gate;

/// One item of the conversation.
pub(crate) enum HistoryItem<'a> {
    /// A message.
    Message(&'a MessageItem),
    /// A tool call the model made.
    Call(ReplayedCall<'a>),
    /// The result of a tool call.
    Result(ToolResult<'a>),
    /// The model's reasoning.
    Reasoning(&'a ReasoningItem),
}

/// A tool call from the history, to send back to the upstream.
pub(crate) struct ReplayedCall<'a> {
    /// The call's id.
    pub call_id: &'a str,
    /// The function called, under the name it was offered with (namespaces flattened).
    pub name: String,
    /// What it was called with.
    pub input: CallInput<'a>,
    /// The provider state the gateway kept with the call (see `stream::CALL_STATE`).
    pub state: Option<&'a str>,
}

/// What a replayed tool call was called with.
#[derive(Clone, Copy)]
pub(crate) enum CallInput<'a> {
    /// A function call's arguments (JSON text).
    Arguments(&'a str),
    /// A custom tool call's freeform input, which upstreams receive as the `{"input": …}`
    /// argument of the function the tool is offered as.
    Custom(&'a str),
}

/// The result of a tool call (a function's or a custom tool's).
pub(crate) struct ToolResult<'a> {
    /// The id of the call answered.
    pub call_id: &'a str,
    /// What the tool returned.
    pub output: &'a ToolOutput,
    /// The item's unknown fields (`cache_control`, …).
    pub extra: &'a JsonMap,
}

/// Reads `item`, named `param` in errors. `None`: an item of unknown type, dropped.
pub(crate) fn read_item<'a>(
    item: &'a Item,
    param: &str,
    gate: &Gate,
) -> Result<Option<HistoryItem<'a>>, Error> {
    Ok(Some(match item {
        Item::Message(m) => HistoryItem::Message(m),
        Item::FunctionCall(call) => {
            let (call_id, carried) = split_call_carrier(&call.call_id);
            HistoryItem::Call(ReplayedCall {
                call_id,
                name: call_name(&call.extra, &call.name),
                input: CallInput::Arguments(&call.arguments),
                state: call_state(&call.extra).or(carried),
            })
        }
        Item::CustomToolCall(call) => {
            let (call_id, carried) = split_call_carrier(&call.call_id);
            HistoryItem::Call(ReplayedCall {
                call_id,
                name: call_name(&call.extra, &call.name),
                input: CallInput::Custom(&call.input),
                state: call_state(&call.extra).or(carried),
            })
        }
        Item::FunctionCallOutput(FunctionCallOutputItem {
            call_id,
            output,
            extra,
            ..
        })
        | Item::CustomToolCallOutput(CustomToolCallOutputItem {
            call_id,
            output,
            extra,
            ..
        }) => HistoryItem::Result(ToolResult {
            call_id: split_call_carrier(call_id).0,
            output,
            extra,
        }),
        Item::Reasoning(reasoning) => HistoryItem::Reasoning(reasoning),
        Item::ItemReference(_) => {
            return Err(gate.refuse(
                param,
                "`item_reference` needs the provider's stored items; send the item itself",
            ));
        }
        // A compaction item the gateway did not seal is another service's (OpenAI's): its
        // content cannot be read here, so the history goes on without it. The gateway's own
        // were turned into their summaries before translation.
        Item::Other(_) if item.kind() == "compaction" => {
            tracing::debug!(
                param,
                "dropping a compaction item this provider cannot read"
            );
            return Ok(None);
        }
        Item::Other(_) => {
            gate.unsupported(&format!("{param} (type `{}`)", item.kind()))?;
            return Ok(None);
        }
    }))
}

/// The upstream name of a replayed call to `name`, inside the `namespace` its item names.
pub(crate) fn call_name(extra: &JsonMap, name: &str) -> String {
    let namespace = extra.get("namespace").and_then(Value::as_str);
    chat_function_name(namespace, name)
}

/// The provider state kept with a tool call item.
fn call_state(extra: &switchyard_types::JsonMap) -> Option<&str> {
    extra
        .get(crate::stream::CALL_STATE)
        .and_then(serde_json::Value::as_str)
}
