//! A small HTTP/1.1 client over a raw `TcpStream`: it sees exactly what the mock writes
//! (chunk boundaries, a missing terminator), which an HTTP library would hide.

#![allow(dead_code)]
// each test binary uses a different subset
// Test support: failing loudly is the point (clippy.toml only exempts `#[test]` functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_mock::MockServer;
use switchyard_types::responses::ResponseStreamEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as read off the wire.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body ended properly (content-length reached, or the final empty chunk was seen).
    pub complete: bool,
}

impl Http {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// SSE events as `(event name, data)`; comment lines are skipped.
    pub fn events(&self) -> Vec<(Option<String>, String)> {
        parse_sse(&self.text())
    }

    /// The `data:` payloads parsed as JSON, skipping `[DONE]` and unparsable ones.
    pub fn data_json(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter_map(|(_, data)| serde_json::from_str(&data).ok())
            .collect()
    }
}

pub fn parse_sse(text: &str) -> Vec<(Option<String>, String)> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            } else if let Some(rest) = line.strip_prefix("event: ") {
                name = Some(rest.to_string());
            } else if let Some(rest) = line.strip_prefix("data: ") {
                data.push(rest);
            }
        }
        if !data.is_empty() {
            events.push((name, data.join("\n")));
        }
    }
    events
}

pub fn request_bytes(method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: mock\r\nconnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// Sends a request and reads the whole response until the server closes the connection.
pub async fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Http {
    send_with(addr, method, path, body, &[]).await
}

pub async fn send_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Http {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&request_bytes(method, path, body, headers))
        .await
        .unwrap();
    let mut raw = Vec::new();
    // A connection reset after a deliberate drop still leaves what was read.
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw)).await;
    parse_response(&raw)
}

pub async fn post(mock: &MockServer, path: &str, body: Value) -> Http {
    send(mock.addr(), "POST", path, &body.to_string()).await
}

pub fn parse_response(raw: &[u8]) -> Http {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header block in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let (body, complete) = if chunked {
        dechunk(rest)
    } else {
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse::<usize>().unwrap());
        match len {
            Some(len) => (rest[..len.min(rest.len())].to_vec(), rest.len() >= len),
            None => (rest.to_vec(), true),
        }
    };
    Http {
        status,
        headers,
        body,
        complete,
    }
}

/// Decodes a chunked body; `complete` tells whether the terminating empty chunk arrived.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size_text = std::str::from_utf8(&rest[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (body, true);
        }
        if rest.len() < size {
            body.extend_from_slice(rest);
            return (body, false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// Polls `condition` until it holds or two seconds pass.
pub async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// Checks a Responses event stream against the Responses stream grammar: sequence
/// numbers 0..n, `response.created` first, one terminal event last, items added then done one
/// after another, deltas adding up to the done texts, terminal output equal to the done items.
/// Returns the terminal event.
pub fn check_responses_grammar(events: &[(Option<String>, String)]) -> Value {
    let events: Vec<(String, Value)> = events
        .iter()
        .map(|(name, data)| {
            let value: Value = serde_json::from_str(data).unwrap();
            let name = name
                .clone()
                .expect("every Responses event has an event: line");
            assert_eq!(value["type"], name, "event: line matches type");
            // Every event must also parse as its typed variant of the shared wire types.
            let typed: ResponseStreamEvent = serde_json::from_value(value.clone()).unwrap();
            assert!(
                !matches!(typed, ResponseStreamEvent::Other(_)),
                "untyped {value}"
            );
            (name, value)
        })
        .collect();
    assert!(!events.is_empty());
    for (i, (_, e)) in events.iter().enumerate() {
        assert_eq!(
            e["sequence_number"], i as u64,
            "sequence numbers are contiguous"
        );
    }
    assert_eq!(events[0].0, "response.created");
    assert_eq!(events[0].1["response"]["status"], "in_progress");
    assert_eq!(events[0].1["response"]["output"], serde_json::json!([]));
    assert!(events[0].1["response"]["usage"].is_null());
    let response_id = events[0].1["response"]["id"].as_str().unwrap().to_string();
    assert!(response_id.starts_with("resp_") && response_id.len() == 53);
    let terminal = [
        "response.completed",
        "response.incomplete",
        "response.failed",
    ];
    let last = events.len() - 1;
    for (i, (name, _)) in events.iter().enumerate() {
        assert_eq!(
            terminal.contains(&name.as_str()),
            i == last,
            "{name} at {i}"
        );
    }
    let mut done_items: Vec<Value> = Vec::new();
    let mut open: Option<(u64, String)> = None;
    let mut text = String::new();
    for (name, e) in &events[1..last] {
        match name.as_str() {
            "response.in_progress" => assert_eq!(e["response"]["id"], response_id.as_str()),
            "response.output_item.added" => {
                assert!(open.is_none(), "an item is already open");
                assert_eq!(e["output_index"], done_items.len() as u64);
                let id = e["item"]["id"].as_str().unwrap().to_string();
                open = Some((done_items.len() as u64, id));
                text.clear();
            }
            "response.output_item.done" => {
                let (index, id) = open.take().expect("done without added");
                assert_eq!(e["output_index"], index);
                assert_eq!(e["item"]["id"], id.as_str());
                if e["item"]["type"] == "function_call" {
                    assert_eq!(e["item"]["arguments"], text.as_str());
                }
                done_items.push(e["item"].clone());
            }
            "response.output_text.delta"
            | "response.refusal.delta"
            | "response.reasoning_summary_text.delta"
            | "response.function_call_arguments.delta" => {
                let (_, id) = open.as_ref().expect("delta outside an item");
                assert_eq!(e["item_id"], id.as_str());
                text.push_str(e["delta"].as_str().unwrap());
                if name == "response.output_text.delta" {
                    assert_eq!(e["logprobs"], serde_json::json!([]));
                }
            }
            "response.output_text.done" => {
                assert_eq!(e["text"], text.as_str());
                assert_eq!(e["logprobs"], serde_json::json!([]));
            }
            "response.refusal.done" => assert_eq!(e["refusal"], text.as_str()),
            "response.reasoning_summary_text.done" => assert_eq!(e["text"], text.as_str()),
            "response.function_call_arguments.done" => {
                assert_eq!(e["arguments"], text.as_str())
            }
            "response.content_part.added" | "response.reasoning_summary_part.added" => {
                text.clear();
            }
            "response.content_part.done" | "response.reasoning_summary_part.done" => {}
            "error" => {}
            other => panic!("unexpected event {other}"),
        }
    }
    let terminal = events[last].1.clone();
    if terminal["type"] != "response.failed" {
        assert!(open.is_none(), "item left open");
        assert_eq!(terminal["response"]["output"], Value::Array(done_items));
    }
    terminal
}
