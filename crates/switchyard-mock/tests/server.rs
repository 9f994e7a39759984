//! The server itself: scripted replies, recording, disconnect counting, timing, the binary.

// Helpers outside `#[test]` functions unwrap too: failures should be loud.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{eventually, post, request_bytes, send, send_with};
use serde_json::json;
use switchyard_mock::{MockServer, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn scripted_replies_are_consumed_fifo_per_suffix() {
    let mock = MockServer::start().await;
    mock.enqueue("/chat/completions", Reply::json(json!({"n": 1})));
    mock.enqueue("/responses", Reply::error(503, json!({"n": "r"})));
    mock.enqueue(
        "/chat/completions",
        Reply::json(json!({"n": 2})).with_status(201),
    );
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let first = post(&mock, "/v1/chat/completions", body.clone()).await;
    assert_eq!(first.json(), json!({"n": 1}));
    let second = post(&mock, "/groq/openai/v1/chat/completions", body.clone()).await;
    assert_eq!((second.status, second.json()), (201, json!({"n": 2})));
    // The queue is empty: the scenario engine answers.
    let third = post(&mock, "/v1/chat/completions", body).await;
    assert_eq!(third.json()["object"], "chat.completion");
    let responses = post(&mock, "/v1/responses", json!({"model": "m", "input": "x"})).await;
    assert_eq!(responses.status, 503);
}

#[tokio::test]
async fn canned_builders_produce_complete_streams() {
    let mock = MockServer::start().await;
    mock.enqueue("/responses", Reply::responses_text("hi there"));
    mock.enqueue("/responses", Reply::responses_tool_call("f", r#"{"a":1}"#));
    mock.enqueue("/responses", Reply::responses_json("plain"));
    mock.enqueue("/chat/completions", Reply::chat_text_stream("hey you"));
    mock.enqueue("/chat/completions", Reply::chat_tool_call_stream("f", "{}"));
    mock.enqueue("/chat/completions", Reply::chat_text("ok"));
    let http = post(&mock, "/v1/responses", json!({})).await;
    let terminal = common::check_responses_grammar(&http.events());
    assert_eq!(
        terminal["response"]["output"][0]["content"][0]["text"],
        "hi there"
    );
    let http = post(&mock, "/v1/responses", json!({})).await;
    let terminal = common::check_responses_grammar(&http.events());
    assert_eq!(terminal["response"]["output"][0]["arguments"], r#"{"a":1}"#);
    let http = post(&mock, "/v1/responses", json!({})).await;
    assert_eq!(http.json()["output"][0]["content"][0]["text"], "plain");
    let http = post(&mock, "/v1/chat/completions", json!({})).await;
    assert!(http.text().ends_with("data: [DONE]\n\n"));
    let http = post(&mock, "/v1/chat/completions", json!({})).await;
    assert!(http.text().contains("\"tool_calls\""));
    let http = post(&mock, "/v1/chat/completions", json!({})).await;
    assert_eq!(http.json()["choices"][0]["message"]["content"], "ok");

    mock.enqueue(
        "/x",
        Reply::sse(["data: 1", "event: e\ndata: 2\n"]).with_header("x-test", "yes"),
    );
    let http = send(mock.addr(), "GET", "/x", "").await;
    assert_eq!(http.text(), "data: 1\n\nevent: e\ndata: 2\n\n");
    assert_eq!(http.header("x-test"), Some("yes"));
    assert_eq!(http.header("content-type"), Some("text/event-stream"));
}

#[tokio::test]
async fn requests_are_recorded() {
    let mock = MockServer::start().await;
    send_with(
        mock.addr(),
        "POST",
        "/v1/chat/completions?api-version=2024",
        r#"{"model":"m","messages":[]}"#,
        &[("Authorization", "Bearer sk-test"), ("X-Custom", "1")],
    )
    .await;
    send(mock.addr(), "GET", "/v1/models", "").await;
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/chat/completions");
    assert_eq!(first.query.as_deref(), Some("api-version=2024"));
    assert_eq!(first.header("authorization"), Some("Bearer sk-test"));
    assert!(
        first
            .headers
            .iter()
            .any(|(n, v)| n == "x-custom" && v == "1")
    );
    assert_eq!(first.body, json!({"model": "m", "messages": []}));
    assert_eq!(requests[1].method, "GET");
    assert!(requests[1].body.is_null());
    mock.clear_requests();
    mock.set_recording(false);
    send(mock.addr(), "GET", "/v1/models", "").await;
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn client_leaving_a_hung_request_counts_as_a_disconnect() {
    let mock = MockServer::start().await;
    mock.enqueue("/responses", Reply::Hang);
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    let request = request_bytes("POST", "/v1/responses", "{}", &[]);
    stream.write_all(&request).await.unwrap();
    assert!(eventually(|| mock.in_flight() == 1).await);
    assert_eq!(mock.disconnects(), 0);
    drop(stream);
    assert!(eventually(|| mock.disconnects() == 1).await);
    assert!(eventually(|| mock.in_flight() == 0).await);
}

#[tokio::test]
async fn client_leaving_mid_stream_counts_as_a_disconnect() {
    let mock = MockServer::start().await;
    mock.enqueue(
        "/chat/completions",
        Reply::Chunks {
            status: 200,
            headers: vec![],
            chunks: vec![
                (Duration::ZERO, Bytes::from_static(b"data: {\"a\":1}\n\n")),
                (
                    Duration::from_secs(30),
                    Bytes::from_static(b"data: [DONE]\n\n"),
                ),
            ],
            then_drop: false,
        },
    );
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    stream
        .write_all(&request_bytes("POST", "/v1/chat/completions", "{}", &[]))
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("{\"a\":1}") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    assert_eq!(mock.in_flight(), 1);
    drop(stream);
    assert!(eventually(|| mock.disconnects() == 1).await);
    assert!(eventually(|| mock.in_flight() == 0).await);

    // A stream read to the end is no disconnect.
    let http = post(
        &mock,
        "/v1/chat/completions",
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert!(http.complete);
    assert!(eventually(|| mock.in_flight() == 0).await);
    assert_eq!(mock.disconnects(), 1);
}

#[tokio::test]
async fn then_drop_cuts_the_body_without_a_terminator() {
    let mock = MockServer::start().await;
    mock.enqueue(
        "/responses",
        Reply::responses_text("one two three four").truncated(3),
    );
    let http = post(&mock, "/v1/responses", json!({})).await;
    assert_eq!(http.status, 200);
    assert!(!http.complete);
    assert_eq!(http.events().len(), 3, "the chunks before the drop arrive");
    assert!(eventually(|| mock.in_flight() == 0).await);
    assert_eq!(mock.disconnects(), 0);
}

#[tokio::test]
async fn slow_delays_headers_and_stall_pauses_the_stream() {
    let mock = MockServer::start().await;
    let start = Instant::now();
    let http = post(
        &mock,
        "/v1/responses",
        json!({"model": "m", "input": "[[mock:slow=150]]"}),
    )
    .await;
    assert_eq!(http.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));

    // The first events arrive before the stall, the rest after it.
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    let body = json!({"model": "m", "stream": true, "input": "hi [[mock:stall=300]]"});
    stream
        .write_all(&request_bytes(
            "POST",
            "/v1/responses",
            &body.to_string(),
            &[],
        ))
        .await
        .unwrap();
    let start = Instant::now();
    let mut buf = vec![0u8; 65536];
    let mut seen = String::new();
    while !seen.contains("response.in_progress") {
        let n = stream.read(&mut buf).await.unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let first_events = start.elapsed();
    assert!(!seen.contains("response.completed"));
    while !seen.contains("response.completed") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        first_events < Duration::from_millis(250),
        "{first_events:?}"
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn events_are_written_separately() {
    let mock = MockServer::start().await;
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    let body = json!({"model": "m", "stream": true,
        "input": "a b c d e f g h [[mock:stall=100]]"});
    stream
        .write_all(&request_bytes(
            "POST",
            "/v1/responses",
            &body.to_string(),
            &[],
        ))
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let mut reads = 0;
    while stream.read(&mut buf).await.unwrap() > 0 {
        reads += 1;
    }
    // Headers and the events before the stall, then the rest: never one write.
    assert!(reads >= 2, "{reads} reads");
}

#[tokio::test]
async fn unknown_paths_and_models() {
    let mock = MockServer::start().await;
    let http = send(mock.addr(), "POST", "/v1/nope", "{}").await;
    assert_eq!(http.status, 404);
    assert_eq!(
        http.json()["error"]["message"],
        "Invalid URL (POST /v1/nope)"
    );
    let http = send(mock.addr(), "GET", "/v1/models", "").await;
    assert_eq!(http.json()["data"][0]["id"], "mock-model");
    assert!(mock.url().starts_with("http://127.0.0.1:"));
    assert!(!mock.url().ends_with('/'));
}

#[cfg(unix)]
#[tokio::test]
async fn binary_announces_serves_and_stops_on_sigterm() {
    use std::process::Stdio;
    use tokio::io::AsyncBufReadExt;
    use tokio::process::Command;

    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-mock"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = line
        .strip_prefix("switchyard-mock listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let addr = url.parse().unwrap();
    let http = send(
        addr,
        "POST",
        "/v1/responses",
        r#"{"model":"m","input":"ping"}"#,
    )
    .await;
    assert_eq!(
        http.json()["output"][0]["content"][0]["text"],
        "You said: ping"
    );
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        lines.next_line().await.unwrap(),
        None,
        "exactly one stdout line"
    );
}
