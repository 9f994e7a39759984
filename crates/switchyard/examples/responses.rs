//! switchyard as a library: a gateway built in code, called once for a whole response and once
//! for a stream of events.
//!
//! ```sh
//! cargo run -p switchyard --example responses
//! ```
//!
//! It starts a local mock upstream, so it needs no API key. To call a real server instead,
//! point `api_base` at it (and set `api_key`), or use `switchyard::responses(...)` with a model
//! string such as `openai/gpt-4o-mini` and `OPENAI_API_KEY` in the environment.

// An example's job is to print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use futures_util::StreamExt;
use serde_json::json;
use switchyard::Gateway;
use switchyard::config::{Config, DeploymentConfig};
use switchyard::types::responses::{CreateResponse, ResponseStreamEvent};
use switchyard_mock::MockServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::start().await;

    // The same model group a `config.yaml` would declare:
    //   - model_name: assistant
    //     litellm_params: {model: hosted_vllm/llama-3.1-8b, api_base: <mock>/vllm/v1}
    let config = Config {
        deployments: vec![DeploymentConfig {
            model_name: "assistant".into(),
            model: "hosted_vllm/llama-3.1-8b".into(),
            api_base: Some(format!("{}/vllm/v1", mock.url())),
            ..DeploymentConfig::default()
        }],
        ..Config::default()
    };
    let (gateway, warnings) = Gateway::from_config(&config)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }

    let request: CreateResponse = serde_json::from_value(json!({
        "model": "assistant",
        "instructions": "Answer briefly.",
        "input": "What is a railway switchyard?"
    }))?;

    // A whole response.
    let response = gateway.responses(request.clone()).await?;
    println!("response {} ({:?}):", response.id, response.status);
    println!("{}", serde_json::to_string_pretty(&response.output)?);

    // The same request as a stream of Responses events.
    let mut stream = gateway.responses_stream(request).await?;
    while let Some(event) = stream.next().await {
        match event {
            ResponseStreamEvent::OutputTextDelta(delta) => print!("{}", delta.delta),
            ResponseStreamEvent::Completed(done) => {
                let usage = done.response.usage.unwrap_or_default();
                println!(
                    "\n[{} input, {} output tokens]",
                    usage.input_tokens, usage.output_tokens
                );
            }
            ResponseStreamEvent::Failed(failed) => {
                let error = failed.response.error.map(|e| e.message).unwrap_or_default();
                return Err(format!("the response failed: {error}").into());
            }
            _ => {}
        }
    }
    Ok(())
}
