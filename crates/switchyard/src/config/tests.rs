use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::with_overlay(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A representative LiteLLM proxy config, as a LiteLLM user would have it.
const LITELLM_CONFIG: &str = r#"
model_list:
  - model_name: gpt-4o                      # the name clients send as "model"
    litellm_params:
      model: azure/gpt-4o-eastus
      api_base: os.environ/AZURE_API_BASE
      api_key: os.environ/AZURE_API_KEY
      api_version: "2025-04-01-preview"
      rpm: 600
      tpm: 200000
    model_info:
      id: azure-eastus-gpt4o
      base_model: azure/gpt-4o
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      rpm: 300
  - model_name: claude-sonnet
    litellm_params:
      model: bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0
      aws_region_name: us-east-1
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
  - model_name: local-llama
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://vllm:8000/v1
      timeout: 30
      stream_timeout: "5"
      max_retries: 2
      temperature: 0.2
      max_tokens: 512
    model_info:
      supported_endpoints: ["/v1/chat/completions"]

litellm_settings:
  drop_params: true
  callbacks: ["prometheus"]
  num_retries: 3
  request_timeout: 600

router_settings:
  routing_strategy: simple-shuffle
  num_retries: 2
  fallbacks: [{"gpt-4o": ["claude-sonnet"]}]
  redis_host: os.environ/REDIS_HOST

general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
"#;

fn litellm_env() -> Env {
    env(&[
        ("AZURE_API_BASE", "https://x.openai.azure.com"),
        ("AZURE_API_KEY", "az-key"),
        ("OPENAI_API_KEY", "sk-openai"),
        ("AWS_ACCESS_KEY_ID", "AKIA"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-value"),
        ("REDIS_HOST", "localhost"),
        ("LITELLM_MASTER_KEY", "sk-master"),
        ("DATABASE_URL", "postgres://db"),
    ])
}

#[test]
fn reads_a_litellm_config_as_it_is() {
    let config = Config::from_yaml_with_env(LITELLM_CONFIG, &litellm_env()).unwrap();
    assert_eq!(config.deployments.len(), 4);
    let azure = &config.deployments[0];
    assert_eq!(azure.model_name, "gpt-4o");
    assert_eq!(azure.model, "azure/gpt-4o-eastus");
    assert_eq!(
        azure.api_base.as_deref(),
        Some("https://x.openai.azure.com")
    );
    assert_eq!(azure.api_key.as_ref().unwrap().expose(), "az-key");
    assert_eq!(azure.id.as_deref(), Some("azure-eastus-gpt4o"));
    assert_eq!(azure.routing_params["rpm"], 600);

    let llama = &config.deployments[3];
    assert_eq!(llama.timeout, Some(Duration::from_secs(30)));
    assert_eq!(llama.stream_timeout, Some(Duration::from_secs(5)));
    assert_eq!(llama.max_retries, Some(2));
    assert_eq!(llama.defaults.temperature, Some(0.2));
    assert_eq!(llama.defaults.max_output_tokens, Some(512));
    assert_eq!(
        llama.supported_endpoints.as_deref(),
        Some(&["/v1/chat/completions".to_string()][..])
    );

    assert!(config.drop_params);
    assert_eq!(config.request_timeout, Some(Duration::from_secs(600)));
    assert_eq!(config.master_key.as_ref().unwrap().expose(), "sk-master");

    assert_eq!(config.logging.callbacks, ["prometheus"]);
    let warning = config.warning().unwrap_or_default();
    assert!(!warning.contains("callbacks"), "callbacks in: {warning}");
    // The router acts on its keys; router_settings wins over litellm_settings.
    for key in [
        "num_retries",
        "routing_strategy",
        "fallbacks",
        "redis_host",
        "rpm",
    ] {
        assert!(!warning.contains(key), "{key} in: {warning}");
    }
    assert_eq!(config.router.num_retries, 2);
    assert_eq!(config.router.fallbacks["gpt-4o"], ["claude-sonnet"]);
    assert_eq!(
        config.router.redis.as_ref().map(|r| r.url.as_str()),
        Some("redis://localhost:6379")
    );
    // Acted on by the accounting.
    assert!(!warning.contains("database_url"), "{warning}");
    assert_eq!(
        config.accounting.database_url.as_ref().unwrap().expose(),
        "postgres://db"
    );
    // Provider credentials and regions go to the provider, which acts on them.
    assert!(!warning.contains("aws_region_name"), "{warning}");
    assert_eq!(
        config.deployments[2]
            .provider_param("aws_region_name")
            .as_deref(),
        Some("us-east-1")
    );
    assert!(config.unknown.is_empty(), "{:?}", config.unknown);
}

#[test]
fn a_missing_variable_is_named_with_its_path() {
    let err = Config::from_yaml_with_env(LITELLM_CONFIG, &env(&[])).unwrap_err();
    assert!(
        err.0.contains("AZURE_API_BASE") && err.0.contains("model_list[0].litellm_params.api_base"),
        "{err}"
    );
}

#[test]
fn environment_variables_feed_references() {
    let config = Config::from_yaml_with_env(
        r#"
environment_variables:
  MY_KEY: sk-from-config
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/MY_KEY}
"#,
        &env(&[]),
    )
    .unwrap();
    assert_eq!(
        config.deployments[0].api_key.as_ref().unwrap().expose(),
        "sk-from-config"
    );
    assert_eq!(config.env.get("MY_KEY").as_deref(), Some("sk-from-config"));
}

#[test]
fn unknown_keys_are_listed_not_fatal() {
    let config = Config::from_yaml_with_env(
        r#"
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o, frobnicate: 1}
    mystery: true
litellm_settings: {drop_params: "true", made_up_setting: 1}
totally_new_section: {}
"#,
        &env(&[]),
    )
    .unwrap();
    assert!(config.drop_params);
    assert_eq!(
        config.unknown,
        [
            "litellm_settings.made_up_setting",
            "model_list[0].litellm_params.frobnicate",
            "model_list[0].mystery",
            "totally_new_section"
        ]
    );
}

#[test]
fn wrong_types_name_the_key() {
    for (yaml, key) in [
        ("model_list: {}", "model_list"),
        (
            "model_list: [{litellm_params: {model: x}}]",
            "model_list[0].model_name",
        ),
        (
            "model_list: [{model_name: m, litellm_params: {}}]",
            "model_list[0].litellm_params.model",
        ),
        (
            "model_list: [{model_name: m, litellm_params: {model: x, timeout: soon}}]",
            "model_list[0].litellm_params.timeout",
        ),
        (
            "litellm_settings: {drop_params: maybe}",
            "litellm_settings.drop_params",
        ),
        ("general_settings: [1]", "general_settings"),
    ] {
        let err = Config::from_yaml_with_env(yaml, &env(&[])).unwrap_err();
        assert!(err.0.contains(key), "{yaml}: {err}");
    }
}

#[test]
fn yaml_anchors_and_merges_work() {
    let config = Config::from_yaml_with_env(
        r#"
x-common: &common
  api_base: http://local:8000/v1
  timeout: 12
model_list:
  - model_name: a
    litellm_params:
      <<: *common
      model: hosted_vllm/a
"#,
        &env(&[]),
    )
    .unwrap();
    let d = &config.deployments[0];
    assert_eq!(d.api_base.as_deref(), Some("http://local:8000/v1"));
    assert_eq!(d.timeout, Some(Duration::from_secs(12)));
    assert_eq!(config.unknown, ["x-common"]);
}

#[test]
fn describe_never_prints_secrets() {
    let config = Config::from_yaml_with_env(LITELLM_CONFIG, &litellm_env()).unwrap();
    let text = config.describe();
    assert!(text.contains("local-llama -> hosted_vllm/meta-llama/Llama-3.1-8B-Instruct"));
    for secret in ["az-key", "sk-openai", "sk-master", "aws-secret-value"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn switchyard_settings() {
    let config = Config::from_yaml_with_env(
        "switchyard_settings: {stream_keepalive_seconds: 0, shutdown_grace_seconds: 3}",
        &env(&[]),
    )
    .unwrap();
    assert_eq!(config.switchyard.stream_keepalive, None);
    assert_eq!(config.switchyard.shutdown_grace, Duration::from_secs(3));
}

#[test]
fn websocket_lifetime_defaults_to_an_hour() {
    let config = Config::from_yaml_with_env("model_list: []", &env(&[])).unwrap();
    assert_eq!(
        config.switchyard.websocket_max_lifetime,
        Duration::from_secs(3600)
    );
    let config = Config::from_yaml_with_env(
        "switchyard_settings: {websocket_max_lifetime_seconds: 1.5}",
        &env(&[]),
    )
    .unwrap();
    assert_eq!(
        config.switchyard.websocket_max_lifetime,
        Duration::from_millis(1500)
    );
    assert!(
        Config::from_yaml_with_env(
            "switchyard_settings: {websocket_max_lifetime_seconds: 0}",
            &env(&[])
        )
        .is_err()
    );
}

#[test]
fn reads_the_accounting_settings() {
    let yaml = r#"
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-5, input_cost_per_token: 0.000001, output_cost_per_token: "2e-6"}
    model_info: {base_model: gpt-5, cache_read_input_token_cost: 1e-7}
litellm_settings:
  include_cost_in_streaming_usage: true
  max_end_user_budget: 2.5
general_settings:
  store_prompts_in_spend_logs: true
  proxy_batch_write_at: 2
  user_header_mappings:
    - {header_name: X-OpenWebUI-User-Id, litellm_user_role: internal_user}
    - {header_name: X-OpenWebUI-User-Email, litellm_user_role: customer}
    - X-End-User
switchyard_settings:
  model_cost_map_path: /etc/prices.json
  spend_log_path: /var/lib/switchyard/spend.db
"#;
    let config = Config::from_yaml_with_env(yaml, &env(&[])).unwrap();
    let a = &config.accounting;
    assert!(a.include_cost_in_usage && a.store_prompts && !a.disable_spend_logs);
    assert_eq!(a.max_end_user_budget, Some(2.5));
    assert_eq!(a.batch_interval, Some(Duration::from_secs(2)));
    assert_eq!(
        a.user_header_mappings,
        vec!["x-openwebui-user-email", "x-end-user"]
    );
    assert_eq!(
        a.model_cost_map_path.as_deref(),
        Some(std::path::Path::new("/etc/prices.json"))
    );
    assert_eq!(config.deployments[0].prices.len(), 2);
    assert!(config.warning().is_none(), "{:?}", config.warning());
}

#[test]
fn reads_logging_callbacks_and_redaction() {
    let yaml = r#"
litellm_settings:
  callbacks: ["otel", "langfuse"]
  success_callback: generic_api
  failure_callback: ["sentry", null]
  turn_off_message_logging: true
  require_auth_for_metrics_endpoint: false
general_settings:
  redact_user_api_key_info: true
callback_settings:
  my_hook:
    callback_type: generic_api
    endpoint: https://logs.example/ingest
"#;
    let config = Config::from_yaml_with_env(yaml, &env(&[])).unwrap();
    let l = &config.logging;
    assert_eq!(l.callbacks, ["otel", "langfuse"]);
    assert_eq!(l.success_callback, ["generic_api"]);
    assert_eq!(l.failure_callback, ["sentry"]);
    assert!(l.turn_off_message_logging && l.redact_user_api_key_info);
    assert_eq!(l.require_auth_for_metrics_endpoint, Some(false));
    assert_eq!(
        l.callback_settings["my_hook"]["endpoint"],
        "https://logs.example/ingest"
    );
    assert_eq!(l.all_names(), ["otel", "langfuse", "generic_api", "sentry"]);
    assert!(config.warning().is_none(), "{:?}", config.warning());

    let bad = Config::from_yaml_with_env("litellm_settings:\n  callbacks: 3\n", &env(&[]));
    assert!(bad.unwrap_err().0.contains("litellm_settings.callbacks"));
}
