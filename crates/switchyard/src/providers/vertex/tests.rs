//! Vertex URLs, configuration and the service-account token source, against the mock's
//! OAuth endpoint (which verifies the JWT's RS256 signature with the test key's public part).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchyard_mock::{
    MockServer, Reply, TEST_SERVICE_ACCOUNT_KEY, UNTRUSTED_SERVICE_ACCOUNT_KEY,
    service_account_json,
};

use super::*;
use crate::error::ErrorKind;
use crate::providers::TokenSource;

fn source(mock: &MockServer, key: &str) -> ServiceAccountTokenSource {
    let json = service_account_json(key, &format!("{}/token", mock.url()));
    ServiceAccountTokenSource::new(ServiceAccountKey::from_json(&json).unwrap()).unwrap()
}

fn token_requests(mock: &MockServer) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path == "/token")
        .count()
}

#[test]
fn publisher_urls() {
    assert_eq!(default_base("global"), "https://aiplatform.googleapis.com");
    assert_eq!(
        default_base("eu"),
        "https://aiplatform.eu.rep.googleapis.com"
    );
    assert_eq!(
        default_base("us-east5"),
        "https://us-east5-aiplatform.googleapis.com"
    );
    let url = publisher_url(
        &default_base("us-central1"),
        "p",
        "us-central1",
        "google",
        "gemini-2.5-pro",
        "streamGenerateContent?alt=sse",
    )
    .unwrap();
    assert_eq!(
        url.as_str(),
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    );
    let url = publisher_url(
        "http://127.0.0.1:9/v1beta1/",
        "p",
        "global",
        "anthropic",
        "claude-sonnet-4-5@20250929",
        "rawPredict",
    )
    .unwrap();
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:9/v1beta1/projects/p/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    );
}

#[test]
fn credentials_are_checked_without_leaking_the_key() {
    let err =
        ServiceAccountKey::from_json(r#"{"type":"authorized_user","client_id":"x"}"#).unwrap_err();
    assert!(
        err.contains("authorized_user") && err.contains("service-account"),
        "{err}"
    );
    let broken = service_account_json(
        "-----BEGIN PRIVATE KEY-----\nnotakey\n-----END PRIVATE KEY-----\n",
        "http://h/token",
    );
    let err = ServiceAccountKey::from_json(&broken).unwrap_err();
    assert!(!err.contains("notakey"), "{err}");
    let key = ServiceAccountKey::from_json(&service_account_json(
        TEST_SERVICE_ACCOUNT_KEY,
        "http://h/token",
    ))
    .unwrap();
    let debug = format!("{key:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    assert_eq!(key.project_id.as_deref(), Some("mock-project"));
}

#[tokio::test]
async fn tokens_are_cached_and_verified_upstream() {
    let mock = MockServer::start().await;
    let tokens = source(&mock, TEST_SERVICE_ACCOUNT_KEY);
    let first = tokens.token().await.unwrap();
    assert!(first.expose().starts_with("ya29.mock-"));
    let second = tokens.token().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(token_requests(&mock), 1);
    let sent = &mock.requests()[0];
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn tokens_close_to_expiry_are_refreshed() {
    let mock = MockServer::start().await;
    let tokens = source(&mock, TEST_SERVICE_ACCOUNT_KEY);
    // Valid for less than the refresh margin: stale as soon as it arrives.
    mock.enqueue(
        "/token",
        Reply::json(
            json!({"access_token": "short-lived", "expires_in": 200, "token_type": "Bearer"}),
        ),
    );
    assert_eq!(tokens.token().await.unwrap().expose(), "short-lived");
    let next = tokens.token().await.unwrap();
    assert!(next.expose().starts_with("ya29.mock-"));
    assert_eq!(token_requests(&mock), 2);
    tokens.token().await.unwrap();
    assert_eq!(token_requests(&mock), 2, "a fresh token is reused");
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let mock = MockServer::start().await;
    let slow = Reply::Chunks {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        chunks: vec![
            (
                Duration::from_millis(100),
                bytes::Bytes::from_static(b"{\"access_token\":\"shared\","),
            ),
            (
                Duration::ZERO,
                bytes::Bytes::from_static(b"\"expires_in\":3599,\"token_type\":\"Bearer\"}"),
            ),
        ],
        then_drop: false,
    };
    mock.enqueue("/token", slow);
    let tokens = Arc::new(source(&mock, TEST_SERVICE_ACCOUNT_KEY));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let tokens = Arc::clone(&tokens);
            tokio::spawn(async move { tokens.token().await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().expose(), "shared");
    }
    assert_eq!(token_requests(&mock), 1);
}

#[tokio::test]
async fn untrusted_keys_get_a_clear_authentication_error() {
    let mock = MockServer::start().await;
    let tokens = source(&mock, UNTRUSTED_SERVICE_ACCOUNT_KEY);
    let err = tokens.token().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert_eq!(err.status(), 401);
    assert!(
        err.message.contains("Invalid JWT Signature"),
        "{}",
        err.message
    );
    assert!(err.message.contains("switchyard-test@"), "{}", err.message);
    assert!(!err.message.contains("PRIVATE KEY"));
    // A failed refresh is not cached: the next call tries again.
    tokens.token().await.unwrap_err();
    assert_eq!(token_requests(&mock), 2);
}

#[tokio::test]
async fn unreachable_token_endpoint_is_an_upstream_error() {
    let json = service_account_json(TEST_SERVICE_ACCOUNT_KEY, "http://127.0.0.1:1/token");
    let tokens =
        ServiceAccountTokenSource::new(ServiceAccountKey::from_json(&json).unwrap()).unwrap();
    let err = tokens.token().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert!(err.message.contains("token endpoint"), "{}", err.message);
}

#[test]
fn settings_from_config_and_env() {
    let dir = std::env::temp_dir().join(format!("swy-vertex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sa.json");
    std::fs::write(
        &path,
        service_account_json(TEST_SERVICE_ACCOUNT_KEY, "http://h/token"),
    )
    .unwrap();
    let yaml = format!(
        r#"
model_list:
  - model_name: file
    litellm_params: {{model: vertex_ai/gemini-2.5-pro, vertex_credentials: "{}", vertex_location: global}}
  - model_name: inline
    litellm_params:
      model: vertex_ai/gemini-2.5-flash
      vertex_ai_project: other
      vertex_credentials: {}
  - model_name: env
    litellm_params: {{model: vertex_ai/gemini-2.5-flash}}
  - model_name: claude
    litellm_params: {{model: vertex_ai/claude-sonnet-4-5@20250929, vertex_credentials: "{}"}}
"#,
        path.display(),
        service_account_json(TEST_SERVICE_ACCOUNT_KEY, "http://h/token"),
        path.display(),
    );
    let env = crate::config::Env::with_overlay(
        [
            (
                "GOOGLE_APPLICATION_CREDENTIALS".to_string(),
                path.display().to_string(),
            ),
            ("VERTEXAI_LOCATION".to_string(), "europe-west4".to_string()),
        ]
        .into(),
    );
    let config = crate::Config::from_yaml_with_env(&yaml, &env).unwrap();
    let d = |i: usize| &config.deployments[i];
    let s = settings(d(0), &env).unwrap();
    assert_eq!(
        (s.project.as_str(), s.location.as_str()),
        ("mock-project", "global")
    );
    assert_eq!(s.base, "https://aiplatform.googleapis.com");
    let s = settings(d(1), &env).unwrap();
    assert_eq!(
        (s.project.as_str(), s.location.as_str()),
        ("other", "europe-west4")
    );
    let s = settings(d(2), &env).unwrap();
    assert_eq!(s.base, "https://europe-west4-aiplatform.googleapis.com");
    let err = settings(d(2), &crate::config::Env::with_overlay(Default::default()));
    if std::env::var("GOOGLE_APPLICATION_CREDENTIALS").is_err() {
        assert!(err.unwrap_err().contains("GOOGLE_APPLICATION_CREDENTIALS"));
    }
    // Claude on Vertex: the Anthropic translation at the anthropic publisher's rawPredict.
    let (registry, _) = crate::gateway::registry::Registry::from_config(&config).unwrap();
    let request = serde_json::from_value(json!({"model": "claude", "input": "x"})).unwrap();
    let claude = registry.resolve("claude").unwrap();
    let call = claude
        .provider
        .prepare(&request, crate::providers::CallInfo::new(true))
        .unwrap();
    assert_eq!(
        call.request.url.as_str(),
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/mock-project/locations/\
         europe-west4/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    );
    let body: serde_json::Value = serde_json::from_slice(&call.request.body).unwrap();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert!(body.get("model").is_none(), "{body}");
    assert!(call.request.headers.get("x-api-key").is_none());
    std::fs::remove_dir_all(&dir).ok();
}
