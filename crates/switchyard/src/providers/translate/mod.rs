//! What every translating provider shares, kept out of any one provider so that none imports
//! another: how tools are offered and their calls mapped back ([`tools`]), what `tool_choice`
//! asks for (`tool_choice`), how the history's items, texts and tool results read (`history`,
//! `content`), tool call ids ([`ids`]), deployment defaults (`defaults`), what the decoders of
//! answers share (`answer`, `lenient`), and the rules of Claude that hold on every route to it
//! ([`claude`]: Anthropic, Anthropic on Vertex AI, Bedrock).
//!
//! The provider folders keep only their own wire format (`wire.rs`), the translation into it
//! (`request.rs`) and the decoder of their answers (`response.rs`).

pub(crate) mod answer;
pub mod claude;
pub(crate) mod content;
pub(crate) mod defaults;
pub(crate) mod history;
pub mod ids;
pub(crate) mod lenient;
pub(crate) mod tool_choice;
pub mod tools;

pub use tools::{CallTarget, ToolMap, ToolNames, chat_function_name};

use crate::error::{Error, ErrorKind};

/// A translated body as a JSON value, for the callers that read it rather than send it.
pub(crate) fn json_value(body: &impl serde::Serialize) -> Result<serde_json::Value, Error> {
    serde_json::to_value(body).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("could not encode the request: {e}"),
        )
    })
}
