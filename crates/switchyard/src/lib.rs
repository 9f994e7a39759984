//! switchyard: an LLM gateway that speaks OpenAI's Responses API to clients and each provider's
//! own API upstream.

pub mod error;
pub mod ids;
pub mod providers;
pub mod secret;
pub mod sse;
pub mod stream;

pub use error::{Error, ErrorKind};
pub use switchyard_types as types;
