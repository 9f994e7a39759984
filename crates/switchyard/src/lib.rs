//! switchyard: an LLM gateway that speaks OpenAI's Responses API to clients and each provider's
//! own API upstream.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard::{Gateway, types::responses::CreateResponse};
//!
//! let gateway = Gateway::from_config_file("config.yaml")?;
//! let request: CreateResponse = serde_json::from_value(serde_json::json!({
//!     "model": "gpt-4o", "input": "Say hello."
//! }))?;
//! let response = gateway.responses(request).await?;
//! println!("{}", serde_json::to_string(&response)?);
//! # Ok(()) }
//! ```

pub mod config;
pub mod error;
pub mod gateway;
pub mod ids;
pub mod providers;
pub mod secret;
pub mod sse;
pub mod stream;

pub use config::{Config, ConfigError};
pub use error::{Error, ErrorKind};
pub use gateway::{
    CallContext, Execution, Gateway, ModelEntry, Output, ResponseStream, responses,
    responses_stream,
};
pub use switchyard_types as types;

/// Installs the TLS crypto provider (ring) for this process, as every `reqwest` client needs
/// one. The gateway does it itself; call it before building other clients first. Installing it
/// again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
