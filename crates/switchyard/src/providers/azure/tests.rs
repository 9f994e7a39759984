#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use switchyard_types::responses::CreateResponse;

use crate::config::{Config, Env};
use crate::gateway::registry::Registry;
use crate::providers::{CallInfo, PreparedCall, UpstreamRequest};

fn prepared(yaml: &str, env: &[(&str, &str)], stream: bool) -> PreparedCall {
    let env = Env::with_overlay(
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let config = Config::from_yaml_with_env(yaml, &env).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    let request: CreateResponse = serde_json::from_value(json!({
        "model": "m", "input": "hi", "reasoning": {"effort": "low"}
    }))
    .unwrap();
    registry
        .resolve("m")
        .unwrap()
        .provider
        .prepare(&request, CallInfo::new(stream))
        .unwrap()
}

fn header<'a>(request: &'a UpstreamRequest, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

fn body(request: &UpstreamRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

const RESOURCE: &str = "https://res.openai.azure.com";

fn azure(params: &str) -> String {
    format!(
        "model_list: [{{model_name: m, litellm_params: {{model: azure/my-gpt5, \
         api_base: \"{RESOURCE}\", {params}}}}}]"
    )
}

#[test]
fn responses_by_default_on_the_dated_url_with_the_api_key_header() {
    let call = prepared(
        &azure("api_key: k-azure, api_version: 2025-03-01-preview"),
        &[],
        false,
    );
    let r = &call.request;
    assert_eq!(
        r.url.as_str(),
        "https://res.openai.azure.com/openai/responses?api-version=2025-03-01-preview"
    );
    assert_eq!(header(r, "api-key"), Some("k-azure"));
    assert_eq!(header(r, "authorization"), None);
    // The Responses API names the deployment in the body.
    assert_eq!(body(r)["model"], "my-gpt5");
    assert_eq!(body(r)["reasoning"]["effort"], "low");
}

#[test]
fn the_v1_api_needs_no_dated_version() {
    for (params, url) in [
        (
            "api_version: v1",
            "https://res.openai.azure.com/openai/v1/responses",
        ),
        (
            "api_version: latest",
            "https://res.openai.azure.com/openai/v1/responses",
        ),
        (
            "api_version: preview",
            "https://res.openai.azure.com/openai/v1/responses?api-version=preview",
        ),
    ] {
        let call = prepared(&azure(&format!("api_key: k, {params}")), &[], false);
        assert_eq!(call.request.url.as_str(), url, "{params}");
    }
    // A base that already ends in /openai/v1 is the v1 API whatever the version says.
    let yaml = "model_list: [{model_name: m, litellm_params: {model: azure/d, api_key: k, \
                api_base: \"https://res.openai.azure.com/openai/v1/\"}}]";
    assert_eq!(
        prepared(yaml, &[], false).request.url.as_str(),
        "https://res.openai.azure.com/openai/v1/responses"
    );
}

#[test]
fn chat_completions_on_the_deployment_url_when_configured() {
    let call = prepared(
        &azure("api_key: k, use_chat_completions_api: true"),
        &[],
        true,
    );
    let r = &call.request;
    assert_eq!(
        r.url.as_str(),
        format!(
            "{RESOURCE}/openai/deployments/my-gpt5/chat/completions?api-version=2025-04-01-preview"
        )
    );
    let body = body(r);
    assert_eq!(
        body["messages"][0],
        json!({"role": "user", "content": "hi"})
    );
    assert_eq!(body["reasoning_effort"], "low");
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(header(r, "accept"), Some("text/event-stream"));

    // Listing only chat completions in supported_endpoints chooses the bridge too; on v1 the
    // deployment goes in the body.
    let yaml = format!(
        "model_list: [{{model_name: m, litellm_params: {{model: azure/my-gpt5, api_key: k, \
         api_base: \"{RESOURCE}\", api_version: v1}}, \
         model_info: {{supported_endpoints: [/v1/chat/completions]}}}}]"
    );
    let call = prepared(&yaml, &[], false);
    assert_eq!(
        call.request.url.as_str(),
        format!("{RESOURCE}/openai/v1/chat/completions")
    );
    assert_eq!(body_of(&call)["model"], "my-gpt5");
}

fn body_of(call: &PreparedCall) -> Value {
    body(&call.request)
}

#[test]
fn environment_fallbacks_and_entra_tokens() {
    let yaml = "model_list: [{model_name: m, litellm_params: {model: azure/d}}]";
    let call = prepared(
        yaml,
        &[
            ("AZURE_API_BASE", RESOURCE),
            ("AZURE_API_VERSION", "2024-10-21"),
            ("AZURE_AD_TOKEN", "eyJ-entra"),
        ],
        false,
    );
    // 2024-10-21 predates the Responses API on Azure: Chat Completions on the deployment.
    assert_eq!(
        call.request.url.as_str(),
        format!("{RESOURCE}/openai/deployments/d/chat/completions?api-version=2024-10-21")
    );
    assert_eq!(
        header(&call.request, "authorization"),
        Some("Bearer eyJ-entra")
    );
    assert_eq!(header(&call.request, "api-key"), None);

    let call = prepared(&azure("azure_ad_token: eyJ-param"), &[], false);
    assert_eq!(
        header(&call.request, "authorization"),
        Some("Bearer eyJ-param")
    );
}

#[test]
fn missing_base_and_unused_params_are_reported() {
    let config = Config::from_yaml_with_env(
        "model_list: [{model_name: m, litellm_params: {model: azure/d, api_key: k}}]",
        &Env::default(),
    )
    .unwrap();
    let err = Registry::from_config(&config).unwrap_err();
    assert!(err.contains("needs `api_base`"), "{err}");

    let config =
        Config::from_yaml_with_env(&azure("aws_region_name: us-east-1"), &Env::default()).unwrap();
    let (_, warnings) = Registry::from_config(&config).unwrap();
    let text = warnings.join("\n");
    assert!(text.contains("has no credential"), "{text}");
    assert!(text.contains("aws_region_name"), "{text}");
}

#[test]
fn entra_client_credentials_are_all_or_nothing() {
    let config = Config::from_yaml_with_env(
        &azure("tenant_id: t, client_id: c, client_secret: not-logged"),
        &Env::default(),
    )
    .unwrap();
    let (_, warnings) = Registry::from_config(&config).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    // The token is fetched before each attempt, not at prepare time.
    let call = prepared(
        &azure("tenant_id: t, client_id: c, client_secret: s"),
        &[],
        false,
    );
    assert_eq!(header(&call.request, "authorization"), None);
    assert_eq!(header(&call.request, "api-key"), None);

    let config =
        Config::from_yaml_with_env(&azure("tenant_id: t, client_id: c"), &Env::default()).unwrap();
    let err = Registry::from_config(&config).unwrap_err();
    assert!(
        err.contains("tenant_id, client_id and client_secret"),
        "{err}"
    );
}

fn foundry(base: &str, extra: &str) -> String {
    format!(
        "model_list: [{{model_name: m, litellm_params: {{model: azure_ai/DeepSeek-R1, \
         api_base: \"{base}\", api_key: k-foundry{extra}}}}}]"
    )
}

#[test]
fn foundry_urls_for_each_endpoint_form() {
    for (base, url) in [
        (
            "https://res.services.ai.azure.com",
            "https://res.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview",
        ),
        (
            "https://res.services.ai.azure.com/models/",
            "https://res.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview",
        ),
        (
            "https://my-endpoint.eastus2.models.ai.azure.com",
            "https://my-endpoint.eastus2.models.ai.azure.com/chat/completions",
        ),
        (
            "https://models.inference.ai.azure.com",
            "https://models.inference.ai.azure.com/chat/completions",
        ),
    ] {
        let call = prepared(&foundry(base, ""), &[], false);
        assert_eq!(call.request.url.as_str(), url, "{base}");
        assert_eq!(
            header(&call.request, "authorization"),
            Some("Bearer k-foundry")
        );
        assert_eq!(body_of(&call)["model"], "DeepSeek-R1");
    }
}

#[test]
fn foundry_extra_parameters_header_follows_drop_params() {
    let base = "https://res.services.ai.azure.com";
    let call = prepared(&foundry(base, ""), &[], false);
    assert_eq!(
        header(&call.request, "extra-parameters"),
        Some("pass-through")
    );
    let call = prepared(&foundry(base, ", drop_params: true"), &[], false);
    assert_eq!(header(&call.request, "extra-parameters"), Some("drop"));
    let call = prepared(
        &foundry(base, ", extra_headers: {Extra-Parameters: error}"),
        &[],
        false,
    );
    let values: Vec<_> = call
        .request
        .headers
        .get_all("extra-parameters")
        .iter()
        .collect();
    assert_eq!(values, ["error"], "the entry's own header wins");
}

fn prepare_with(yaml: &str, request: Value) -> Result<PreparedCall, crate::error::Error> {
    let config = Config::from_yaml_with_env(yaml, &Env::default()).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    let request: CreateResponse = serde_json::from_value(request).unwrap();
    registry
        .resolve("m")
        .unwrap()
        .provider
        .prepare(&request, CallInfo::new(false))
}

fn multimodal() -> Value {
    json!({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Compare"},
        {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "high"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR"},
        {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}
    ]}], "tool_choice": "required", "tools": [{"type": "function", "name": "f",
        "parameters": {"type": "object", "properties": {}}}]})
}

#[test]
fn azure_chat_takes_images_and_pdfs_as_openai_does() {
    let call = prepare_with(
        &azure("api_key: k, use_chat_completions_api: true"),
        multimodal(),
    )
    .unwrap();
    let sent = body_of(&call);
    assert_eq!(
        sent["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "a.pdf"}}
        ])
    );
    assert_eq!(sent["tool_choice"], "required");
}

#[test]
fn foundry_refuses_files_by_name_unless_dropped() {
    let base = "https://res.services.ai.azure.com";
    let err = prepare_with(&foundry(base, ""), multimodal()).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.message.contains("input_file"), "{}", err.message);
    let call = prepare_with(&foundry(base, ", drop_params: true"), multimodal()).unwrap();
    let parts = body_of(&call)["messages"][0]["content"].clone();
    assert_eq!(
        parts.as_array().unwrap().len(),
        3,
        "the file is dropped: {parts}"
    );
}

fn counter(yaml: &str) -> crate::providers::CountCall {
    use crate::providers::InputTokens;
    let config = Config::from_yaml_with_env(yaml, &Env::default()).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    let request: CreateResponse = serde_json::from_value(json!({
        "model": "m", "input": "hi", "max_output_tokens": 50, "stream": true,
        "reasoning": {"effort": "low"}
    }))
    .unwrap();
    match registry
        .resolve("m")
        .unwrap()
        .provider
        .count_input_tokens(&request, CallInfo::new(false))
        .unwrap()
    {
        InputTokens::Upstream(counter) => *counter,
        InputTokens::Estimate(_) => panic!("Azure's Responses API counts upstream"),
    }
}

#[test]
fn responses_deployments_count_at_the_upstream_input_tokens_route() {
    let dated = counter(&azure("api_key: k-azure, api_version: 2025-04-01-preview"));
    assert_eq!(
        dated.request.url.as_str(),
        "https://res.openai.azure.com/openai/responses/input_tokens?api-version=2025-04-01-preview"
    );
    assert_eq!(header(&dated.request, "api-key"), Some("k-azure"));
    assert_eq!(
        body(&dated.request),
        json!({"model": "my-gpt5", "input": "hi", "reasoning": {"effort": "low", "summary": null}})
    );
    let v1 = counter(&azure("api_key: k-azure, api_version: v1"));
    assert_eq!(
        v1.request.url.as_str(),
        "https://res.openai.azure.com/openai/v1/responses/input_tokens"
    );
}

#[test]
fn chat_deployments_are_estimated() {
    use crate::providers::InputTokens;
    let yaml = azure("api_key: k-azure, use_chat_completions_api: true");
    let config = Config::from_yaml_with_env(&yaml, &Env::default()).unwrap();
    let (registry, _) = Registry::from_config(&config).unwrap();
    let request: CreateResponse =
        serde_json::from_value(json!({"model": "m", "input": "hi"})).unwrap();
    let counted = registry
        .resolve("m")
        .unwrap()
        .provider
        .count_input_tokens(&request, CallInfo::new(false))
        .unwrap();
    let InputTokens::Estimate(chat) = counted else {
        panic!("Chat Completions on Azure has no counter")
    };
    assert_eq!(chat.messages.len(), 1);
}
