//! Background responses: created queued, polled, streamed and resumed from any sequence
//! number, cancelled, capped, and shared by replicas on one database.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::stream::grammar::check_stream;

use crate::common::{Harness, KEY, default_models, output_text, parse_sse};

/// The groups of every upstream shape.
const GROUPS: &[&str] = &[
    "passthrough",
    "bridged",
    "anthropic",
    "gemini-3",
    "bedrock",
    "azure",
];

/// Polls `GET /v1/responses/{id}` until its status is final.
async fn settled(h: &Harness, id: &str) -> Value {
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, response) = h.get_json(&format!("/v1/responses/{id}")).await;
        assert_eq!(status, 200, "{response}");
        let s = response["status"].as_str().unwrap_or_default();
        if !matches!(s, "queued" | "in_progress") {
            return response;
        }
        assert!(tokio::time::Instant::now() < until, "still {s}: {response}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET path` as an SSE body: the events.
async fn replay(h: &Harness, path: &str) -> Vec<switchyard::types::responses::ResponseStreamEvent> {
    let response = h
        .client
        .get(format!("{}{path}", h.base))
        .bearer_auth(KEY)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    parse_sse(&response.bytes().await.unwrap())
}

#[tokio::test]
async fn a_background_response_is_queued_then_polled_and_replayed() {
    let h = Harness::start().await;
    for group in GROUPS {
        let (status, queued) = h
            .call(json!({"model": group, "input": "hello there", "background": true}))
            .await;
        assert_eq!(status, 200, "{group}: {queued}");
        assert_eq!(queued["background"], true, "{group}");
        assert!(
            matches!(queued["status"].as_str(), Some("queued")),
            "{group}: {queued}"
        );
        let id = queued["id"].as_str().unwrap().to_string();
        let done = settled(&h, &id).await;
        assert_eq!(done["status"], "completed", "{group}: {done}");
        assert_eq!(done["background"], true, "{group}");
        assert_eq!(done["id"], id.as_str());
        assert_eq!(output_text(&done), "You said: hello there", "{group}");

        // The whole stream, from response.created, as a client that reads it after the fact.
        let events = replay(&h, &format!("/v1/responses/{id}?stream=true")).await;
        check_stream(&events).unwrap_or_else(|e| panic!("{group}: {e}"));
        assert_eq!(events[0].kind(), "response.created");
        assert_eq!(events[1].kind(), "response.queued", "{group}");
        assert_eq!(events.last().unwrap().kind(), "response.completed");
        // Resumed after event 2: the rest, with their own sequence numbers.
        let resumed = replay(
            &h,
            &format!("/v1/responses/{id}?stream=true&starting_after=2"),
        )
        .await;
        assert_eq!(resumed.len(), events.len() - 3, "{group}");
        assert_eq!(resumed[0].sequence_number(), Some(3));
        assert_eq!(
            serde_json::to_value(&resumed).unwrap(),
            serde_json::to_value(&events[3..]).unwrap()
        );
    }
}

#[tokio::test]
async fn a_streamed_background_response_goes_on_without_its_client() {
    let h = Harness::start().await;
    let mut stream = h
        .post(
            &json!({"model": "bridged", "input": "one two three four [[mock:stall=600]]",
            "background": true, "stream": true}),
        )
        .await;
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    let head = parse_sse(&first);
    assert_eq!(head[0].kind(), "response.created");
    let id = head[0].response().unwrap().id.clone();
    let last_seen = head.last().unwrap().sequence_number().unwrap();
    drop(stream);
    let done = settled(&h, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        output_text(&done).starts_with("You said: one two three four"),
        "{done}"
    );
    let rest = replay(
        &h,
        &format!("/v1/responses/{id}?stream=true&starting_after={last_seen}"),
    )
    .await;
    assert_eq!(rest[0].sequence_number(), Some(last_seen + 1));
    assert_eq!(rest.last().unwrap().kind(), "response.completed");
}

#[tokio::test]
async fn a_background_response_can_be_cancelled() {
    let h = Harness::start().await;
    // The Anthropic mock stalls before its first output, the vLLM one after it: a cancel
    // before the stream began, and one in the middle of it.
    for (group, stream) in [
        ("anthropic", false),
        ("anthropic", true),
        ("bridged", false),
        ("bridged", true),
    ] {
        let body = json!({"model": group, "input": "slow [[mock:stall=5000]]",
            "background": true, "stream": stream});
        let id = if stream {
            let mut live = h.post(&body).await;
            let first = live.chunk().await.unwrap().unwrap();
            parse_sse(&first)[0].response().unwrap().id.clone()
        } else {
            let (_, queued) = h.call(body).await;
            queued["id"].as_str().unwrap().to_string()
        };
        // Let it reach the upstream.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, cancelled) = h
            .post_json(&format!("/v1/responses/{id}/cancel"), &json!({}))
            .await;
        assert_eq!(status, 200, "{cancelled}");
        assert_eq!(
            cancelled["status"], "cancelled",
            "{group} stream={stream}: {cancelled}"
        );
        // A cancellation is no error: OpenAI's error codes have none for it, and a client
        // validating the response (openai-python's strict mode) refuses any other.
        assert_eq!(cancelled["error"], Value::Null, "{cancelled}");
        let (_, again) = h
            .post_json(&format!("/v1/responses/{id}/cancel"), &json!({}))
            .await;
        assert_eq!(again["status"], "cancelled", "idempotent");
        let (_, stored) = h.get_json(&format!("/v1/responses/{id}")).await;
        assert_eq!(stored["status"], "cancelled");
        let events = replay(&h, &format!("/v1/responses/{id}?stream=true")).await;
        check_stream(&events).unwrap();
        assert_eq!(events.last().unwrap().kind(), "response.failed");
        let last = events.last().unwrap().response().unwrap();
        assert!(last.error.is_none(), "{group}: {:?}", last.error);
    }
    // A foreground response cannot be cancelled; an unknown one is not found.
    let (_, foreground) = h.call(json!({"model": "bridged", "input": "hi"})).await;
    let (status, error) = h
        .post_json(
            &format!(
                "/v1/responses/{}/cancel",
                foreground["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    let (status, _) = h
        .post_json("/v1/responses/resp_nothing/cancel", &json!({}))
        .await;
    assert_eq!(status, 404);
    // Replaying a foreground response is refused.
    let response = h
        .client
        .get(format!(
            "{}/v1/responses/{}?stream=true",
            h.base,
            foreground["id"].as_str().unwrap()
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn background_responses_are_capped() {
    let h = Harness::with(|mock| {
        format!(
            "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\nswitchyard_settings: {{max_background_responses: 2}}\n",
            default_models(mock)
        )
    })
    .await;
    let slow = json!({"model": "bridged", "input": "x [[mock:slow=1500]]", "background": true});
    for _ in 0..2 {
        let (status, _) = h.call(slow.clone()).await;
        assert_eq!(status, 200);
    }
    let (status, error) = h.call(slow.clone()).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["code"], "too_many_background_responses");
    // Room again once they end.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _) = h.call(slow).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_bad_background_request_is_refused_at_once() {
    let h = Harness::start().await;
    let (status, error) = h
        .call(json!({"model": "no-such-model", "input": "x", "background": true}))
        .await;
    assert_eq!(status, 404, "{error}");
    let (status, error) = h
        .call(json!({"model": "bridged", "input": "x", "background": true, "temperature": 9}))
        .await;
    assert_eq!(status, 400, "{error}");
    // An upstream failure ends the response failed, with the error.
    let (_, queued) = h
        .call(json!({"model": "bridged", "input": "x [[mock:error=400]]", "background": true}))
        .await;
    let done = settled(&h, queued["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"]["message"].is_string(), "{done}");
}

fn replica_config(mock: &str) -> String {
    format!(
        "model_list:{}\ngeneral_settings: {{master_key: {KEY}, proxy_batch_write_at: 0.05}}\n",
        default_models(mock)
    )
}

#[tokio::test]
async fn replicas_read_stream_and_cancel_each_others_background_responses() {
    let (url, dir) = crate::accounting::sqlite();
    let (a, _) = Harness::with_accounting(replica_config, &url).await;
    let (b, _) = Harness::with_accounting(replica_config, &url).await;
    // Created on A, finished; read and replayed on B.
    let (_, queued) = a
        .call(json!({"model": "bridged", "input": "shared work", "background": true}))
        .await;
    let id = queued["id"].as_str().unwrap().to_string();
    let done = settled(&b, &id).await;
    assert_eq!(output_text(&done), "You said: shared work");
    let events = replay(&b, &format!("/v1/responses/{id}?stream=true")).await;
    check_stream(&events).unwrap();
    // A slow one on A, cancelled from B.
    let (_, queued) = a
        .call(json!({"model": "bridged", "input": "slow [[mock:stall=8000]]", "background": true}))
        .await;
    let id = queued["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, cancelled) = b
        .post_json(&format!("/v1/responses/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let (_, seen_on_a) = a.get_json(&format!("/v1/responses/{id}")).await;
    assert_eq!(seen_on_a["status"], "cancelled");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_response_abandoned_by_its_instance_ends_failed() {
    use switchyard::state::{ResponseRecord, StateStore};
    let (url, dir) = crate::accounting::sqlite();
    let (h, accounting) = Harness::with_accounting(replica_config, &url).await;
    // What an instance that died mid-run leaves behind: in progress, its lease run out.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let response = serde_json::from_value(json!({"id": "resp_abandoned", "object": "response",
        "created_at": now, "status": "in_progress", "background": true, "model": "m", "output": []}))
    .unwrap();
    let store = switchyard_store::SqlStateStore::new(accounting.store().database().clone());
    store
        .save_response(ResponseRecord {
            response,
            input: Vec::new(),
            owner: None,
            conversation_id: None,
            expires_at: now + 3600,
            lease_until: Some(now - 1),
            json: None,
        })
        .await
        .unwrap();
    let (status, read) = h.get_json("/v1/responses/resp_abandoned").await;
    assert_eq!(status, 200);
    assert_eq!(read["status"], "failed", "{read}");
    let events = replay(&h, "/v1/responses/resp_abandoned?stream=true").await;
    assert_eq!(events.last().unwrap().kind(), "response.failed");
    let _ = std::fs::remove_dir_all(dir);
}
