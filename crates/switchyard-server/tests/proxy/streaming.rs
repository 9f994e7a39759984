//! Stream-specific behaviour: framing, cancellation, keepalives.

use std::time::Duration;

use serde_json::json;

use crate::common::{Harness, KEY, default_models, eventually, final_response, parse_sse};

#[tokio::test]
async fn streams_are_event_streams_without_done() {
    let h = Harness::start().await;
    let r = h
        .post(&json!({"model": "bridged", "input": "hi", "stream": true}))
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let bytes = r.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.starts_with("event: response.created\ndata: {"),
        "{text}"
    );
    assert!(!text.contains("[DONE]"));
    let events = parse_sse(&bytes);
    assert_eq!(events.last().unwrap().kind(), "response.completed");
}

/// A gateway that commits a silent stream after 0.2 s (so the client gets `response.created`
/// while the upstream still pauses before its first output).
async fn committing_harness() -> Harness {
    Harness::with(|mock| {
        format!(
            "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\nswitchyard_settings: {{stream_keepalive_seconds: 0.2}}\n",
            default_models(mock)
        )
    })
    .await
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_request() {
    // The client leaves while the upstream pauses mid-stream, so the gateway has to notice and
    // drop the upstream connection before the upstream would have finished.
    let h = committing_harness().await;
    for group in ["passthrough", "bridged"] {
        let before = h.mock.disconnects();
        let mut r = h
            .post(&json!({"model": group, "input": "slow [[mock:stall=5000]]", "stream": true}))
            .await;
        assert_eq!(r.status(), 200);
        let first = r.chunk().await.unwrap().expect("first bytes");
        assert!(!first.is_empty());
        drop(r);
        assert!(
            eventually(Duration::from_secs(3), || h.mock.disconnects() > before).await,
            "{group}: the upstream stream was not cancelled"
        );
        assert!(eventually(Duration::from_secs(3), || h.mock.in_flight() == 0).await);
    }
}

#[tokio::test]
async fn silent_upstreams_get_keepalive_events() {
    let h = Harness::with(|mock| {
        format!(
            "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\nswitchyard_settings: {{stream_keepalive_seconds: 0.2}}\n",
            default_models(mock)
        )
    })
    .await;
    for group in ["passthrough", "bridged"] {
        let (status, events) = h
            .stream(json!({"model": group, "input": "pause [[mock:stall=900]]"}))
            .await;
        assert_eq!(status, 200);
        let keepalives = events.iter().filter(|e| e.kind() == "keepalive").count();
        assert!(keepalives >= 2, "{group}: {keepalives} keepalives");
        assert_eq!(final_response(&events)["status"], "completed");
    }
}

#[tokio::test]
async fn malformed_upstream_events() {
    let h = Harness::start().await;
    // A Responses upstream's unparsable event is skipped, as clients do.
    let (status, events) = h
        .stream(json!({"model": "passthrough", "input": "x [[mock:malformed]]"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(final_response(&events)["status"], "completed");
    // A chat upstream's unparsable chunk fails the response cleanly.
    let (status, events) = h
        .stream(json!({"model": "bridged", "input": "x [[mock:malformed]]"}))
        .await;
    if status == 200 {
        assert_eq!(final_response(&events)["status"], "failed");
    } else {
        assert_eq!(status, 502);
    }
}

/// Events ready together are written together, but an event never waits for a later one: with
/// the upstream pausing before its first output (and the stream committed at 0.2 s), the
/// events before the pause reach the client long before it ends, and the stream is intact.
#[tokio::test]
async fn events_are_written_as_they_arrive() {
    let h = committing_harness().await;
    for group in ["passthrough", "bridged"] {
        let started = std::time::Instant::now();
        let mut r = h
            .post(&json!({"model": group, "input": "pause [[mock:stall=1500]]", "stream": true}))
            .await;
        assert_eq!(r.status(), 200);
        let mut body = Vec::new();
        let mut first_at = None;
        while let Some(chunk) = r.chunk().await.unwrap() {
            first_at.get_or_insert_with(|| started.elapsed());
            body.extend_from_slice(&chunk);
        }
        let first_at = first_at.expect("some bytes");
        assert!(
            first_at < Duration::from_millis(1000),
            "{group}: first bytes after {first_at:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(1500));
        let events = parse_sse(&body);
        let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
        assert_eq!(kinds.first(), Some(&"response.created"), "{group}");
        assert!(kinds.contains(&"response.output_text.delta"), "{group}");
        assert_eq!(final_response(&events)["status"], "completed", "{group}");
        for (n, event) in events.iter().enumerate() {
            assert_eq!(
                event.sequence_number(),
                Some(n as u64),
                "{group}: {kinds:?}"
            );
        }
    }
}
