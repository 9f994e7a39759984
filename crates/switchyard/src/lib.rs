//! switchyard: an LLM gateway that speaks OpenAI's Responses API to clients and each provider's
//! own API upstream.
//!
//! Build a [`Gateway`] from a LiteLLM-style `config.yaml` ([`Gateway::from_config_file`]) or
//! in code, then call [`Gateway::responses`] for a whole [`types::responses::Response`] or
//! [`Gateway::responses_stream`] for its events. Without any config, [`responses`] serves
//! `provider/model` strings with credentials from the environment, like `litellm.responses`.
//!
//! ```
//! use switchyard::config::{Config, DeploymentConfig};
//! use switchyard::types::responses::CreateResponse;
//! use switchyard::Gateway;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let mock = switchyard_mock::MockServer::start().await;
//! # let api_base = format!("{}/v1", mock.url());
//! // One model group, "fast", served by an OpenAI-compatible server at `api_base`.
//! let config = Config {
//!     deployments: vec![DeploymentConfig {
//!         model_name: "fast".into(),
//!         model: "openai/chat_completions/gpt-4o-mini".into(),
//!         api_base: Some(api_base),
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let (gateway, _warnings) = Gateway::from_config(&config).unwrap();
//! let request: CreateResponse =
//!     serde_json::from_value(serde_json::json!({"model": "fast", "input": "Hi!"})).unwrap();
//! let response = gateway.responses(request).await.unwrap();
//! assert_eq!(response.status, switchyard::types::responses::ResponseStatus::Completed);
//! # });
//! ```
//!
//! See `ARCHITECTURE.md` for how the pieces fit.

pub mod accounting;
pub mod config;
pub mod cost;
pub mod error;
pub mod gateway;
pub mod ids;
pub mod providers;
pub mod router;
pub mod seal;
pub mod secret;
pub mod sse;
pub mod state;
pub mod stream;
pub mod text;

pub use config::{Config, ConfigError};
pub use error::{Error, ErrorKind};
pub use gateway::{
    CallContext, Execution, Gateway, Held, ModelEntry, Output, ResponseStream, responses,
    responses_stream,
};
pub use switchyard_types as types;

/// Installs the TLS crypto provider (ring) for this process, as every `reqwest` client needs
/// one. The gateway does it itself; call it before building other clients first. Installing it
/// again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
