//! Hostile and careless clients: model names that would steer upstream URLs, slow clients,
//! bodies that are not JSON, upstream errors that echo credentials, refusals that must still
//! be recorded.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_mock::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{ANTHROPIC_KEY, GEMINI_KEY, Harness, KEY, UPSTREAM_KEY, default_models};

/// Model names a client could use to send a wildcard deployment's credential elsewhere.
const HOSTILE: &[&str] = &[
    "../../../v1beta/files#",
    "../../x",
    "a?key=evil&x=1",
    "x#frag",
    "x:streamGenerateContent?alt=sse&",
    "gemini-x/../../../../../../evil?",
    "a%2Fb",
    "x\r\nHost: evil.example",
    "..",
];

fn wildcard_config(mock: &str) -> String {
    let credentials = switchyard_mock::service_account_json(
        switchyard_mock::TEST_SERVICE_ACCOUNT_KEY,
        &format!("{mock}/token"),
    );
    format!(
        r#"
model_list:
  - model_name: "g/*"
    litellm_params: {{model: "gemini/*", api_base: "{mock}", api_key: {GEMINI_KEY}}}
  - model_name: "v/*"
    litellm_params:
      model: "vertex_ai/*"
      api_base: "{mock}"
      vertex_project: mock-project
      vertex_location: us-central1
      vertex_credentials: {credentials}
  - model_name: "az/*"
    litellm_params: {{model: "azure/*", api_base: "{mock}", api_key: k-azure-000000000, api_version: 2025-04-01-preview, use_chat_completions_api: true}}
  - model_name: "br/*"
    litellm_params: {{model: "bedrock/*", aws_bedrock_runtime_endpoint: "{mock}", aws_region_name: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY}}
general_settings: {{master_key: {KEY}}}
"#
    )
}

#[tokio::test]
async fn client_model_names_never_steer_upstream_urls() {
    let h = Harness::with(wildcard_config).await;
    for prefix in ["g", "v", "az"] {
        for hostile in HOSTILE {
            let model = format!("{prefix}/{hostile}");
            let (status, body) = h.call(json!({"model": model, "input": "hi"})).await;
            assert_eq!(status, 400, "{model:?}: {body}");
            assert_eq!(body["error"]["code"], "invalid_model", "{model:?}: {body}");
            assert_eq!(body["error"]["param"], "model", "{model:?}: {body}");
        }
    }
    // Only the token endpoint (Vertex credentials) may have been called: no model request.
    let upstream: Vec<String> = h
        .mock
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| p != "/token")
        .collect();
    assert!(
        upstream.is_empty(),
        "requests reached upstream: {upstream:?}"
    );

    // Bedrock encodes the model as one segment, so `?`, `#`, `%` and `:` stay inside it;
    // navigation and control characters are refused.
    for hostile in HOSTILE {
        h.mock.clear_requests();
        let model = format!("br/{hostile}");
        let (status, body) = h.call(json!({"model": model, "input": "hi"})).await;
        if *hostile == ".." || hostile.contains('\r') {
            assert_eq!(status, 400, "{model:?}: {body}");
            assert_eq!(body["error"]["code"], "invalid_model", "{model:?}: {body}");
            assert!(h.mock.requests().is_empty(), "{model:?} reached upstream");
            continue;
        }
        for request in h.mock.requests() {
            let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
            assert_eq!(segments.len(), 3, "{model:?} → {}", request.path);
            assert_eq!(segments[0], "model", "{model:?} → {}", request.path);
            assert_eq!(segments[2], "converse", "{model:?} → {}", request.path);
            assert_eq!(request.query, None, "{model:?} → {:?}", request.query);
        }
    }
}

#[tokio::test]
async fn model_names_are_bounded() {
    let h = Harness::start().await;
    let long = "m".repeat(10_000);
    let (status, body) = h.call(json!({"model": long, "input": "hi"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "model");
    assert!(
        body.to_string().len() < 1_000,
        "the name is not echoed whole"
    );
    // Up to the limit, an unknown name is an ordinary 404.
    let name = format!("unknown-{}", "x".repeat(240));
    let (status, body) = h.call(json!({"model": name, "input": "hi"})).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found", "{body}");
}

fn slow_config(mock: &str) -> String {
    format!(
        "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\nswitchyard_settings: {{header_read_timeout_seconds: 1, body_read_timeout_seconds: 1, max_connections: 3}}\n",
        default_models(mock)
    )
}

/// Reads until the server closes the connection or `within` passes; returns what arrived and
/// whether the connection was closed in time.
async fn read_until_closed(tcp: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&received).into_owned(), true);
            }
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

fn authority(base: &str) -> &str {
    base.trim_start_matches("http://")
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let h = Harness::with(slow_config).await;
    let addr = authority(&h.base);

    // Nothing sent at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "a silent connection is closed");
    assert!(started.elapsed() < Duration::from_secs(4));

    // A request head dripped one header at a time, slower than the deadline allows in all.
    let mut drip = TcpStream::connect(addr).await.unwrap();
    drip.write_all(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if drip
            .write_all(format!("x-drip-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            closed = true;
            break;
        }
    }
    if !closed {
        closed = read_until_closed(&mut drip, Duration::from_secs(2)).await.1;
    }
    assert!(closed, "a dripped head is cut off");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A body that stops arriving: 408, with an OpenAI error.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(
            format!(
                "POST /v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\""
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");

    // A declared body over the limit: 413 at once, before any of it is sent.
    let mut huge = TcpStream::connect(addr).await.unwrap();
    huge.write_all(
        format!(
            "POST /v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let (answer, _) = read_until_closed(&mut huge, Duration::from_millis(800)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(started.elapsed() < Duration::from_millis(800));

    // A kept-alive connection that goes idle is closed after the deadline.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health/liveliness HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle kept-alive connection is closed");
}

#[tokio::test]
async fn connections_past_the_cap_wait_their_turn() {
    let h = Harness::with(slow_config).await;
    let addr = authority(&h.base);
    // The cap is 3: hold all three with connections that send nothing.
    let mut holders = Vec::new();
    for _ in 0..3 {
        holders.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let waited = quick
        .get(format!("{}/health/liveliness", h.base))
        .send()
        .await;
    assert!(waited.is_err(), "a fourth connection is not served yet");
    // The holders are cut off by the header deadline, and the next client is served.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let served = patient
        .get(format!("{}/health/liveliness", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    drop(holders);
}

#[tokio::test]
async fn only_json_bodies_are_read() {
    let h = Harness::start().await;
    let body = r#"{"model": "bridged", "input": "hi"}"#;
    for (content_type, expected) in [
        (Some("text/plain"), 415),
        (Some("application/x-www-form-urlencoded"), 415),
        (Some("multipart/form-data; boundary=x"), 415),
        (Some("application/json"), 200),
        (Some("application/json; charset=utf-8"), 200),
        (Some("Application/JSON"), 200),
        (None, 200),
    ] {
        let mut request = h
            .client
            .post(format!("{}/v1/responses", h.base))
            .bearer_auth(KEY)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, expected, "{content_type:?}: {answer}");
        if expected == 415 {
            assert_eq!(answer["error"]["code"], "unsupported_media_type");
            assert_eq!(answer["error"]["type"], "invalid_request_error");
        }
    }
}

#[tokio::test]
async fn a_key_given_twice_is_named() {
    let h = Harness::start().await;
    let response = h
        .client
        .post(format!("{}/v1/responses", h.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(r#"{"model": "bridged", "input": "hi", "model": "other"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "duplicate_key", "{body}");
    assert_eq!(body["error"]["param"], "model", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'model' more than once"),
        "{body}"
    );
}

/// A secret of each keyed test deployment and the group that uses it.
const KEYED: &[(&str, &str)] = &[
    ("passthrough", UPSTREAM_KEY),
    ("azure", "k-azure-000000000"),
    ("openai-chat", UPSTREAM_KEY),
    ("mistral", "k-mistral-0000000000"),
    ("anthropic", ANTHROPIC_KEY),
    ("gemini", GEMINI_KEY),
];

/// A mid-stream failure echoing `key`, in the wire format of `group`'s upstream, queued after
/// some output so that it reaches the client in-band.
fn echoing_stream(h: &Harness, group: &str, key: &str) {
    let boom = format!("boom key=Bearer {key}");
    match group {
        "passthrough" | "azure" => {
            let response = json!({"id": "resp_up", "object": "response", "status": "in_progress", "output": []});
            h.mock.enqueue(
                "/responses",
                Reply::responses_sse([
                    json!({"type": "response.created", "sequence_number": 0, "response": response}),
                    json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
                           "item": {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress", "content": []}}),
                    json!({"type": "response.content_part.added", "sequence_number": 2, "output_index": 0, "content_index": 0,
                           "item_id": "msg_1", "part": {"type": "output_text", "text": "", "annotations": []}}),
                    json!({"type": "response.output_text.delta", "sequence_number": 3, "output_index": 0, "content_index": 0,
                           "item_id": "msg_1", "delta": "partial"}),
                    json!({"type": "error", "sequence_number": 4, "code": "server_error", "message": boom, "param": null}),
                    json!({"type": "response.failed", "sequence_number": 5, "response": {
                        "id": "resp_up", "object": "response", "status": "failed", "output": [],
                        "error": {"code": "server_error", "message": boom}}}),
                ]),
            );
        }
        "openai-chat" | "mistral" => {
            h.mock.enqueue(
                "/chat/completions",
                Reply::sse([
                    json!({"id": "c1", "object": "chat.completion.chunk", "model": "m",
                           "choices": [{"index": 0, "delta": {"role": "assistant", "content": "partial"}}]})
                    .to_string(),
                    json!({"error": {"message": boom, "type": "server_error", "code": "server_error"}}).to_string(),
                ]
                .map(|data| format!("data: {data}"))),
            );
        }
        "anthropic" => {
            h.mock.enqueue(
                "/v1/messages",
                Reply::sse([
                    format!("event: message_start\ndata: {}", json!({"type": "message_start", "message": {
                        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [],
                        "stop_reason": null, "usage": {"input_tokens": 3, "output_tokens": 1}}})),
                    format!("event: content_block_start\ndata: {}", json!({"type": "content_block_start", "index": 0,
                        "content_block": {"type": "text", "text": ""}})),
                    format!("event: content_block_delta\ndata: {}", json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": "partial"}})),
                    format!("event: error\ndata: {}", json!({"type": "error", "error": {"type": "api_error", "message": boom}})),
                ]),
            );
        }
        "gemini" => {
            h.mock.enqueue(
                ":streamGenerateContent",
                Reply::sse([
                    format!("data: {}", json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "partial"}]}, "index": 0}]})),
                    format!("data: {}", json!({"error": {"code": 500, "message": boom, "status": "INTERNAL"}})),
                ]),
            );
        }
        other => panic!("no stream script for {other}"),
    }
}

/// A non-streamed error echoing `key`, in the wire format of `group`'s upstream.
fn echoing_error(h: &Harness, group: &str, key: &str) {
    let boom = format!("bad credential: Bearer {key}");
    let (suffix, body) = match group {
        "passthrough" | "azure" => (
            "/responses",
            json!({"error": {"message": boom, "type": "invalid_request_error", "param": null, "code": null}}),
        ),
        "openai-chat" | "mistral" => (
            "/chat/completions",
            json!({"error": {"message": boom, "type": "invalid_request_error", "param": null, "code": null}}),
        ),
        "anthropic" => (
            "/v1/messages",
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": boom}}),
        ),
        "gemini" => (
            ":generateContent",
            json!({"error": {"code": 400, "message": boom, "status": "INVALID_ARGUMENT"}}),
        ),
        other => panic!("no error script for {other}"),
    };
    h.mock.enqueue(suffix, Reply::error(400, body));
}

#[tokio::test]
async fn upstream_text_is_redacted_on_every_path() {
    let h = Harness::start().await;
    for (group, key) in KEYED {
        echoing_stream(&h, group, key);
        let response = h
            .post(&json!({"model": group, "input": "hi", "stream": true}))
            .await;
        assert_eq!(response.status(), 200, "{group}");
        let text = response.text().await.unwrap();
        assert!(!text.contains(key), "{group} streamed the key: {text}");
        assert!(
            text.contains("response.failed"),
            "{group} ends failed: {text}"
        );

        echoing_error(&h, group, key);
        let response = h.post(&json!({"model": group, "input": "hi"})).await;
        assert_eq!(response.status(), 400, "{group}");
        let text = response.text().await.unwrap();
        assert!(!text.contains(key), "{group} answered the key: {text}");
        assert!(text.contains("[REDACTED]"), "{group}: {text}");
    }
}

/// The spend-log row of `request_id`, once written.
async fn row_of(h: &Harness, request_id: &str) -> Value {
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, rows) = h
            .get_json(&format!("/spend/logs?request_id={request_id}"))
            .await;
        assert_eq!(status, 200, "{rows}");
        if let Some(row) = rows.as_array().and_then(|r| r.first()) {
            return row.clone();
        }
        assert!(
            tokio::time::Instant::now() < until,
            "no row for {request_id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn refused_requests_are_recorded() {
    let dir = std::env::temp_dir().join(format!(
        "swy-refused-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = switchyard_server::spend::sqlite_url(&dir.join("spend.db"));
    let (h, _accounting) = Harness::with_accounting(
        |mock| {
            format!(
                "model_list:{}\ngeneral_settings: {{master_key: {KEY}, proxy_batch_write_at: 0.05}}\n",
                default_models(mock)
            )
        },
        &url,
    )
    .await;
    let post = |body: &'static str, content_type: &'static str, key: Option<&'static str>| {
        let mut request = h
            .client
            .post(format!("{}/v1/responses", h.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let cases = [
        (
            post("{\"model\": ", "application/json", Some(KEY)),
            400,
            "invalid_request_error",
        ),
        (
            post(
                r#"{"model": "bridged", "input": "hi", "temperature": "hot"}"#,
                "application/json",
                Some(KEY),
            ),
            400,
            "invalid_request_error",
        ),
        (
            post("{}", "application/json", None),
            401,
            "authentication_error",
        ),
        (
            post("{}", "application/json", Some("sk-wrong")),
            401,
            "authentication_error",
        ),
        (
            post("model=x", "application/x-www-form-urlencoded", Some(KEY)),
            415,
            "invalid_request_error",
        ),
    ];
    for (request, status, class) in cases {
        let response = request.await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let row = row_of(&h, &request_id).await;
        assert_eq!(row["status"], "failure", "{row}");
        assert_eq!(row["outcome"], "rejected", "{row}");
        assert_eq!(row["http_status"], status, "{row}");
        assert_eq!(row["error_class"], class, "{row}");
        assert_eq!(row["route"], "/v1/responses", "{row}");
    }

    // A declared body over the limit, refused before it is read, is recorded too.
    let mut tcp = TcpStream::connect(authority(&h.base)).await.unwrap();
    tcp.write_all(
        format!(
            "POST /v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (answer, _) = read_until_closed(&mut tcp, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let request_id = answer
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .trim()
        .to_string();
    let row = row_of(&h, &request_id).await;
    assert_eq!(row["http_status"], 413, "{row}");
    assert_eq!(row["outcome"], "rejected", "{row}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_plain_sqlite_url_creates_its_file() {
    use switchyard_server::spend::{Accounting, AccountingOptions};
    let dir = std::env::temp_dir().join(format!(
        "swy-fresh-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let file = dir.join("nested").join("spend.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let yaml = format!(
        "general_settings: {{database_url: \"sqlite://{}\"}}\n",
        file.display()
    );
    let config =
        switchyard::Config::from_yaml_with_env(&yaml, &switchyard::config::Env::default()).unwrap();
    let options = AccountingOptions::from_config(&config);
    let accounting = Accounting::start(options)
        .await
        .expect("starts on a fresh file");
    assert!(file.exists());
    accounting.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(dir);
}

fn keepalive_config(mock: &str) -> String {
    format!(
        r#"model_list:{}
  - model_name: hanging
    litellm_params: {{model: hosted_vllm/m, api_base: "{mock}/vllm/v1", timeout: 1.5}}
general_settings: {{master_key: {KEY}}}
switchyard_settings: {{stream_keepalive_seconds: 0.3}}
"#,
        default_models(mock)
    )
}

#[tokio::test]
async fn a_stream_starts_before_the_upstream_answers() {
    let h = Harness::with(keepalive_config).await;
    for group in ["bridged", "passthrough"] {
        let started = Instant::now();
        let mut response = h
            .post(&json!({"model": group, "input": "hi [[mock:slow=1500]]", "stream": true}))
            .await;
        assert_eq!(response.status(), 200, "{group}");
        let first = response.chunk().await.unwrap().unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "{group}: first bytes after {:?}",
            started.elapsed()
        );
        assert!(
            String::from_utf8_lossy(&first).contains("response.created"),
            "{group}"
        );
        let mut body = first.to_vec();
        while let Some(chunk) = response.chunk().await.unwrap() {
            body.extend_from_slice(&chunk);
        }
        let events = crate::common::parse_sse(&body);
        switchyard::stream::grammar::check_stream(&events).unwrap();
        assert!(events.iter().any(|e| e.kind() == "keepalive"), "{group}");
        assert_eq!(
            events.last().unwrap().kind(),
            "response.completed",
            "{group}"
        );
    }
    // An upstream that never answers: the stream, already started, fails at the timeout.
    h.mock.enqueue("/chat/completions", Reply::Hang);
    let (status, events) = h.stream(json!({"model": "hanging", "input": "hi"})).await;
    assert_eq!(status, 200);
    let last = events.last().unwrap();
    assert_eq!(last.kind(), "response.failed");
    let error = &last.response().unwrap().error;
    assert!(error.is_some(), "{events:?}");
}

#[tokio::test]
async fn a_200_that_is_not_an_answer_is_an_upstream_error() {
    let h = Harness::start().await;
    for (group, suffix) in [
        ("anthropic", "/v1/messages"),
        ("gemini", ":generateContent"),
    ] {
        for body in [json!({}), json!({"hello": "world"}), json!([])] {
            h.mock.enqueue(suffix, Reply::json(body.clone()));
            let (status, answer) = h.call(json!({"model": group, "input": "hi"})).await;
            assert_eq!(status, 502, "{group} {body}: {answer}");
            assert_eq!(answer["error"]["type"], "server_error", "{group}: {answer}");
        }
    }
}
