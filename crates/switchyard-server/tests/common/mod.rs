//! A proxy on a real socket in front of a mock upstream, and helpers to talk to it.

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::Config;
use switchyard::config::Env;
use switchyard::sse::SseDecoder;
use switchyard::stream::grammar::check_stream;
use switchyard::types::responses::ResponseStreamEvent;
use switchyard_mock::MockServer;
use switchyard_server::serve::{ConnectionLimits, Server};
use switchyard_server::{AppState, app};

/// The master key of every test proxy.
pub const KEY: &str = "sk-test-master";
/// The upstream key of the OpenAI deployments; must never appear in anything a client sees.
pub const UPSTREAM_KEY: &str = "sk-upstream-secret-abcdefghijklmnop";
/// The upstream key of the Anthropic deployment.
pub const ANTHROPIC_KEY: &str = "sk-ant-api03-upstream-secret-0000";

/// The Gemini API key of the Gemini deployments; must never appear in anything a client sees.
pub const GEMINI_KEY: &str = "AIzaSyMockGeminiKey00000000000000000000";

/// A running proxy and its mock upstream.
pub struct Harness {
    pub mock: MockServer,
    pub base: String,
    pub client: reqwest::Client,
}

/// The model groups every harness serves, one per upstream shape.
pub fn default_models(mock: &str) -> String {
    format!(
        r#"
  - model_name: passthrough
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: {UPSTREAM_KEY}}}
  - model_name: bridged
    litellm_params: {{model: hosted_vllm/mock-llama, api_base: "{mock}/vllm/v1"}}
  - model_name: openai-chat
    litellm_params: {{model: openai/gpt-mock, api_base: "{mock}/v1", api_key: {UPSTREAM_KEY}, use_chat_completions_api: true}}
  - model_name: mistral
    litellm_params: {{model: mistral/mistral-small-latest, api_base: "{mock}/mistral/v1", api_key: k-mistral-0000000000}}
  - model_name: deepseek
    litellm_params: {{model: deepseek/deepseek-chat, api_base: "{mock}/deepseek", api_key: k-deepseek-000000000}}
  - model_name: groq
    litellm_params: {{model: groq/llama-3.3-70b-versatile, api_base: "{mock}/groq/openai/v1", api_key: k-groq-00000000000}}
  - model_name: ollama
    litellm_params: {{model: ollama_chat/llama3.1, api_base: "{mock}/ollama"}}
  - model_name: openrouter
    litellm_params: {{model: openrouter/meta-llama/llama-3-8b, api_base: "{mock}/openrouter/api/v1", api_key: k-or-0000000000000}}
  - model_name: xai
    litellm_params: {{model: xai/grok-3-mini, api_base: "{mock}/xai/v1", api_key: k-xai-000000000000}}
  - model_name: together
    litellm_params: {{model: together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo, api_base: "{mock}/v1", api_key: k-together-000000}}
  - model_name: fireworks
    litellm_params: {{model: fireworks_ai/llama-v3p1-8b-instruct, api_base: "{mock}/v1", api_key: k-fireworks-00000}}
  - model_name: deepinfra
    litellm_params: {{model: deepinfra/meta-llama/Llama-3.3-70B-Instruct, api_base: "{mock}/v1", api_key: k-deepinfra-0000}}
  - model_name: cerebras
    litellm_params: {{model: cerebras/llama3.1-8b, api_base: "{mock}/v1", api_key: k-cerebras-00000}}
  - model_name: azure
    litellm_params: {{model: azure/gpt-5-mini-prod, api_base: "{mock}", api_key: k-azure-000000000, api_version: 2025-04-01-preview}}
  - model_name: azure-v1
    litellm_params: {{model: azure/gpt-5-mini-prod, api_base: "{mock}/openai/v1", api_key: k-azure-000000000}}
  - model_name: azure-chat
    litellm_params: {{model: azure/gpt-4o-prod, api_base: "{mock}", api_key: k-azure-000000000, use_chat_completions_api: true}}
  - model_name: azure-ai
    litellm_params: {{model: azure_ai/DeepSeek-R1, api_base: "{mock}/models", api_key: k-azure-ai-0000000}}
  - model_name: bedrock
    litellm_params: {{model: "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0", aws_bedrock_runtime_endpoint: "{mock}", aws_region_name: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY}}
  - model_name: bedrock-nova
    litellm_params: {{model: "bedrock/converse/arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0", api_base: "{mock}", api_key: k-bedrock-api-key-0000}}
  - model_name: anthropic
    litellm_params: {{model: anthropic/claude-sonnet-4-5, api_base: "{mock}/anthropic", api_key: {ANTHROPIC_KEY}}}
  - model_name: gemini
    litellm_params: {{model: gemini/gemini-2.5-flash, api_base: "{mock}", api_key: {GEMINI_KEY}}}
  - model_name: gemini-3
    litellm_params: {{model: gemini/gemini-3-pro-preview, api_base: "{mock}", api_key: {GEMINI_KEY}}}
  - model_name: vertex-gemini
    litellm_params:
      model: vertex_ai/gemini-3-flash-preview
      api_base: "{mock}"
      vertex_project: mock-project
      vertex_location: us-central1
      vertex_credentials: {credentials}
  - model_name: vertex-claude
    litellm_params:
      model: vertex_ai/claude-sonnet-4-5@20250929
      api_base: "{mock}"
      vertex_project: mock-project
      vertex_location: us-east5
      vertex_credentials: {credentials}
"#,
        credentials = switchyard_mock::service_account_json(
            switchyard_mock::TEST_SERVICE_ACCOUNT_KEY,
            &format!("{mock}/token")
        ),
    )
}

impl Harness {
    /// A proxy with the default model groups.
    pub async fn start() -> Harness {
        Harness::with(|mock| {
            format!(
                "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n",
                default_models(mock)
            )
        })
        .await
    }

    /// A proxy with a config built from the mock's base URL.
    pub async fn with(config: impl FnOnce(&str) -> String) -> Harness {
        Harness::with_limit(config, AppState::default_max_body()).await
    }

    /// A proxy with a config and a request body limit.
    pub async fn with_limit(config: impl FnOnce(&str) -> String, max_body: usize) -> Harness {
        let mock = MockServer::start().await;
        let yaml = config(&mock.url());
        let config = Config::from_yaml_with_env(&yaml, &Env::default()).expect("config");
        let (gateway, _) = switchyard::Gateway::from_config(&config).expect("gateway");
        let state = AppState::new(gateway, config.master_key.clone(), max_body)
            .with_body_read_timeout(config.switchyard.body_read_timeout)
            .with_websocket_max_lifetime(config.switchyard.websocket_max_lifetime);
        let limits = ConnectionLimits {
            header_read_timeout: config.switchyard.header_read_timeout,
            max_connections: config.switchyard.max_connections.unwrap_or(1024),
        };
        let base = serve(state, limits).await;
        Harness {
            mock,
            base,
            client: reqwest::Client::new(),
        }
    }

    /// A proxy whose spend logs go to `database_url`; returns the accounting for inspection.
    pub async fn with_accounting(
        config: impl FnOnce(&str) -> String,
        database_url: &str,
    ) -> (
        Harness,
        std::sync::Arc<switchyard_server::spend::Accounting>,
    ) {
        use switchyard_server::spend::{Accounting, AccountingOptions};
        let mock = MockServer::start().await;
        let yaml = config(&mock.url());
        let config = Config::from_yaml_with_env(&yaml, &Env::default()).expect("config");
        let (gateway, _) = switchyard::Gateway::from_config(&config).expect("gateway");
        let mut options = AccountingOptions::from_config(&config);
        options.database_url = database_url.to_string();
        let accounting = std::sync::Arc::new(Accounting::start(options).await.expect("accounting"));
        // Stored responses on the same database, as the binary does.
        switchyard_server::stored::attach(&gateway, accounting.store().database(), 30)
            .expect("state store");
        let state = AppState::new(
            gateway,
            config.master_key.clone(),
            AppState::default_max_body(),
        )
        .with_accounting(accounting.clone());
        let harness = Harness {
            mock,
            base: serve(state, ConnectionLimits::default()).await,
            client: reqwest::Client::new(),
        };
        (harness, accounting)
    }

    /// `GET path` with the master key: (status, JSON body).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with the master key and a JSON body: (status, JSON body).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /v1/responses` with the master key.
    pub async fn post(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/responses", self.base))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST /v1/responses` expecting JSON: (status, body).
    pub async fn call(&self, body: Value) -> (u16, Value) {
        let response = self.post(&body).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, value)
    }

    /// A streamed call: (status, events). Every 200 stream is checked against the grammar.
    pub async fn stream(&self, mut body: Value) -> (u16, Vec<ResponseStreamEvent>) {
        body["stream"] = json!(true);
        let response = self.post(&body).await;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        if status != 200 {
            return (status, Vec::new());
        }
        let events = parse_sse(&bytes);
        if let Err(e) = check_stream(&events) {
            panic!(
                "ungrammatical stream: {e}\n{}",
                String::from_utf8_lossy(&bytes)
            );
        }
        (status, events)
    }

    /// The last request the mock received.
    pub fn last_upstream(&self) -> switchyard_mock::RecordedRequest {
        self.mock
            .requests()
            .pop()
            .expect("the mock received a request")
    }
}

/// Serves `state` on a fresh loopback port with the proxy's own listener; returns its base URL.
/// The server lives as long as the test's runtime.
pub async fn serve(state: AppState, limits: ConnectionLimits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Leaked on purpose: dropping the handle would not stop the server, and tests never do.
    std::mem::forget(Server::start(listener, app(state), limits));
    format!("http://{addr}")
}

/// Parses an SSE body into Responses events, checking `event:` equals `type` and that no
/// `[DONE]` is sent.
pub fn parse_sse(bytes: &[u8]) -> Vec<ResponseStreamEvent> {
    let mut frames = Vec::new();
    let mut decoder = SseDecoder::new();
    decoder.feed(bytes, |f| frames.push(f));
    frames.extend(decoder.finish());
    frames
        .into_iter()
        .map(|frame| {
            assert_ne!(frame.data, "[DONE]", "the Responses protocol has no [DONE]");
            let event: ResponseStreamEvent = serde_json::from_str(&frame.data).expect("event JSON");
            assert_eq!(
                frame.event.as_deref(),
                Some(event.kind()),
                "event name = type"
            );
            event
        })
        .collect()
}

/// The final response of a stream.
pub fn final_response(events: &[ResponseStreamEvent]) -> Value {
    serde_json::to_value(events.last().expect("events").response().expect("terminal"))
        .expect("json")
}

/// The concatenated output text of a response.
pub fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
        .filter(|part| part["type"] == "output_text")
        .filter_map(|part| part["text"].as_str().map(str::to_string))
        .collect()
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < until {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
