//! Wire types spoken by switchyard.
//!
//! * [`responses`]: the OpenAI Responses API, the gateway's hub format. Request types are
//!   lenient (nulls, missing `type` tags, unknown fields are all accepted and kept); output types
//!   serialise every field the specification requires.
//! * [`chat`]: OpenAI Chat Completions, spoken upstream to OpenAI-compatible servers.
//! * [`error`]: the OpenAI error envelope `{"error":{message,type,param,code}}`.
//!
//! Unknown fields are preserved in `extra` maps so that a request forwarded to a provider that
//! speaks the Responses API loses nothing.

pub mod chat;
pub mod error;
pub mod responses;

mod de;

/// A JSON object with insertion order preserved.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;
