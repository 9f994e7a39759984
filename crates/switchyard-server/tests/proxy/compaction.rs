//! Compaction: `POST /v1/responses/compact`, the `compaction_trigger` item of a streamed
//! create, `context_management`'s threshold, and compaction items coming back in `input`.

use serde_json::{Value, json};
use switchyard::stream::grammar::check_stream;

use crate::common::{Harness, KEY, default_models, final_response, output_text};

fn history() -> Value {
    json!([
        {"role": "user", "content": "My name is Ada and I like graphs."},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Nice to meet you, Ada.", "annotations": []}]},
        {"role": "user", "content": "Remember the number 4417."}
    ])
}

fn compaction_items(output: &Value) -> Vec<Value> {
    output
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "compaction")
        .cloned()
        .collect()
}

#[tokio::test]
async fn compact_summarises_with_the_same_model_and_the_item_stands_for_the_summary() {
    let h = Harness::start().await;
    for group in ["anthropic", "gemini-3", "bedrock", "bridged"] {
        let (status, compacted) = h
            .post_json(
                "/v1/responses/compact",
                &json!({"model": group, "input": history()}),
            )
            .await;
        assert_eq!(status, 200, "{group}: {compacted}");
        assert_eq!(compacted["object"], "response.compaction");
        assert!(compacted["id"].as_str().unwrap().starts_with("resp_"));
        let output = &compacted["output"];
        // The user messages, then exactly one compaction item.
        let items = output.as_array().unwrap();
        assert_eq!(items.len(), 3, "{group}: {output}");
        assert_eq!(items[0]["role"], "user");
        let compaction = compaction_items(output);
        assert_eq!(compaction.len(), 1);
        let blob = compaction[0]["encrypted_content"].as_str().unwrap();
        assert!(blob.starts_with("swys1."), "{blob}");
        assert!(!blob.contains("4417"), "sealed, not readable");
        assert!(compacted["usage"]["input_tokens"].as_u64().unwrap() > 0);
        // The model was asked for a summary of the whole history.
        let asked = h.last_upstream().body.to_string();
        assert!(
            asked.contains("4417") && asked.contains("summary"),
            "{group}: {asked}"
        );

        // The item comes back verbatim, with a new question: the model gets its summary.
        let (status, answer) = h
            .call(json!({"model": group, "input": [compaction[0].clone(),
                {"role": "user", "content": "What was the number?"}]}))
            .await;
        assert_eq!(status, 200, "{group}: {answer}");
        let sent = h.last_upstream().body.to_string();
        assert!(
            sent.contains("A summary of the conversation so far"),
            "{group}: {sent}"
        );
        assert!(
            sent.contains("4417"),
            "{group}: the summary carries the history: {sent}"
        );
        assert!(!sent.contains("swys1."), "{group}: {sent}");
    }
}

#[tokio::test]
async fn a_compaction_item_from_elsewhere_or_altered_is_refused() {
    let h = Harness::start().await;
    let (_, compacted) = h
        .post_json(
            "/v1/responses/compact",
            &json!({"model": "anthropic", "input": history()}),
        )
        .await;
    let mut item = compaction_items(&compacted["output"]).remove(0);
    let blob = item["encrypted_content"].as_str().unwrap().to_string();
    item["encrypted_content"] = json!(format!("{}AA", &blob[..blob.len() - 2]));
    let (status, error) = h
        .call(json!({"model": "anthropic", "input": [item, {"role": "user", "content": "go on"}]}))
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "invalid_compaction");
    // Another gateway's key does not open it either.
    let other = Harness::with(|mock| {
        format!(
            "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\nswitchyard_settings: {{encryption_key: another-key}}\n",
            default_models(mock)
        )
    })
    .await;
    let item = compaction_items(&compacted["output"]).remove(0);
    let (status, _) = other
        .call(json!({"model": "anthropic", "input": [item, {"role": "user", "content": "go on"}]}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn compact_follows_a_stored_chain() {
    let h = Harness::start().await;
    let (_, first) = h
        .call(json!({"model": "gemini-3", "input": "The code word is orchid."}))
        .await;
    let (status, compacted) = h
        .post_json(
            "/v1/responses/compact",
            &json!({"model": "gemini-3", "previous_response_id": first["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{compacted}");
    assert_eq!(compaction_items(&compacted["output"]).len(), 1);
    assert!(h.last_upstream().body.to_string().contains("orchid"));
}

#[tokio::test]
async fn compact_goes_to_an_upstream_with_its_own() {
    let h = Harness::start().await;
    let (status, compacted) = h
        .post_json(
            "/v1/responses/compact",
            &json!({"model": "passthrough", "input": history()}),
        )
        .await;
    assert_eq!(status, 200, "{compacted}");
    assert_eq!(compacted["object"], "response.compaction");
    let item = compaction_items(&compacted["output"]).remove(0);
    assert!(
        item["encrypted_content"]
            .as_str()
            .unwrap()
            .starts_with("mock-compaction:")
    );
    assert!(h.last_upstream().path.ends_with("/responses/compact"));
    // Its item goes back to it as it is; a translated provider leaves it out.
    let (status, _) = h
        .call(json!({"model": "passthrough", "input": [item.clone(), {"role": "user", "content": "go on"}]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.last_upstream().body["input"][0]["type"], "compaction");
    let (status, _) = h
        .call(json!({"model": "anthropic", "input": [item, {"role": "user", "content": "go on"}]}))
        .await;
    assert_eq!(status, 200);
    assert!(
        !h.last_upstream()
            .body
            .to_string()
            .contains("mock-compaction")
    );
}

#[tokio::test]
async fn a_compaction_trigger_answers_exactly_one_compaction_item() {
    let h = Harness::start().await;
    for group in ["anthropic", "gemini-3", "bridged"] {
        let mut input = history().as_array().unwrap().clone();
        input.push(json!({"type": "compaction_trigger"}));
        let (status, events) = h
            .stream(json!({"model": group, "input": input, "store": false}))
            .await;
        assert_eq!(status, 200, "{group}");
        check_stream(&events).unwrap();
        let done: Vec<Value> = events
            .iter()
            .filter(|e| e.kind() == "response.output_item.done")
            .map(|e| serde_json::to_value(e).unwrap()["item"].clone())
            .collect();
        assert_eq!(done.len(), 1, "{group}: {done:?}");
        assert_eq!(done[0]["type"], "compaction");
        let response = final_response(&events);
        assert_eq!(compaction_items(&response["output"]).len(), 1);
        assert_eq!(response["status"], "completed");
        // Codex's next request: the item, then new input.
        let (status, answer) = h
            .call(json!({"model": group, "input": [done[0].clone(), {"role": "user", "content": "the number?"}]}))
            .await;
        assert_eq!(status, 200, "{group}: {answer}");
        assert!(h.last_upstream().body.to_string().contains("4417"));
    }
}

#[tokio::test]
async fn context_management_compacts_past_its_threshold() {
    let h = Harness::start().await;
    let long = "lorem ipsum dolor sit amet ".repeat(400);
    let input = json!([
        {"role": "user", "content": format!("Background: {long}. The secret is 9090.")},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Noted.", "annotations": []}]},
        {"role": "user", "content": "What is the secret?"}
    ]);
    let (status, response) = h
        .call(json!({"model": "anthropic", "input": input.clone(),
            "context_management": [{"type": "compaction", "compact_threshold": 1000}]}))
        .await;
    assert_eq!(status, 200, "{response}");
    let output = response["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "compaction");
    assert_eq!(output[1]["type"], "message");
    assert!(output_text(&response).ends_with("What is the secret?"));
    // The upstream got the summary (the mock's summary echoes what it was given) in place of
    // the history, then the latest question.
    let sent = h.last_upstream().body;
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "the history became one message");
    let text = messages[0].to_string();
    assert!(text.contains("A summary of the conversation so far"));
    // Under the threshold nothing changes.
    let (status, small) = h
        .call(json!({"model": "anthropic", "input": "hi",
            "context_management": [{"type": "compaction", "compact_threshold": 1000}]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(small["output"][0]["type"], "message");
}

#[tokio::test]
async fn the_compacted_window_holds_the_user_messages_as_openai_does() {
    // The history's user messages come back as items of their own, with an id, a status and
    // `input_text` parts, whatever shape they were sent in (a bare `{"role", "content"}` with a
    // string, here): clients read `content` as a list of parts.
    let h = Harness::start().await;
    for group in ["anthropic", "bridged"] {
        let (status, compacted) = h
            .post_json(
                "/v1/responses/compact",
                &json!({"model": group, "input": history()}),
            )
            .await;
        assert_eq!(status, 200, "{group}: {compacted}");
        let output = compacted["output"].as_array().unwrap();
        let users = &output[..output.len() - 1];
        assert_eq!(users.len(), 2, "{group}: {compacted}");
        for (message, text) in users.iter().zip([
            "My name is Ada and I like graphs.",
            "Remember the number 4417.",
        ]) {
            assert_eq!(message["type"], "message", "{group}: {message}");
            assert_eq!(message["role"], "user");
            assert_eq!(message["status"], "completed");
            assert!(
                message["id"].as_str().unwrap().starts_with("msg_"),
                "{message}"
            );
            assert_eq!(
                message["content"],
                json!([{"type": "input_text", "text": text}]),
                "{group}"
            );
        }
    }
}

#[tokio::test]
async fn a_compaction_trigger_goes_to_a_responses_upstream() {
    // OpenAI answers the trigger itself: the gateway relays its one compaction item, and the
    // item goes back to it as it is.
    let h = Harness::start().await;
    let mut input = history().as_array().unwrap().clone();
    input.push(json!({"type": "compaction_trigger"}));
    let (status, events) = h
        .stream(json!({"model": "passthrough", "input": input}))
        .await;
    assert_eq!(status, 200);
    check_stream(&events).unwrap();
    assert_eq!(
        h.last_upstream().body["input"][3]["type"],
        "compaction_trigger"
    );
    let response = final_response(&events);
    let items = compaction_items(&response["output"]);
    assert_eq!(
        response["output"].as_array().unwrap().len(),
        1,
        "{response}"
    );
    assert!(
        items[0]["encrypted_content"]
            .as_str()
            .unwrap()
            .starts_with("mock-compaction:")
    );
    let (status, answer) = h
        .call(json!({"model": "passthrough", "input": [items[0].clone(), {"role": "user", "content": "go on"}]}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(output_text(&answer), "You said: go on");
    assert_eq!(h.last_upstream().body["input"][0], items[0]);
}

/// A group whose OpenAI upstream is down, falling back to Anthropic, and one that falls back
/// to another OpenAI group.
fn fallback_config(mock: &str) -> String {
    format!(
        "model_list:{}
  - {{model_name: down, litellm_params: {{model: openai/gpt-down, api_base: \"http://127.0.0.1:9/v1\", api_key: sk-down}}}}
  - {{model_name: down-to-openai, litellm_params: {{model: openai/gpt-down, api_base: \"http://127.0.0.1:9/v1\", api_key: sk-down}}}}
router_settings: {{fallbacks: [{{down: [anthropic]}}, {{down-to-openai: [passthrough]}}]}}
general_settings: {{master_key: {KEY}}}
",
        default_models(mock)
    )
}

#[tokio::test]
async fn compaction_follows_the_fallbacks_of_a_group_that_compacts_by_itself() {
    // The requested group would compact by itself, but its upstream is down: the request
    // goes on to its fallback, which compacts by itself too (the trigger goes there) or is
    // summarised by the gateway (a translator cannot take the trigger).
    let h = Harness::with(fallback_config).await;
    for (group, sealed) in [("down", true), ("down-to-openai", false)] {
        let (status, compacted) = h
            .post_json(
                "/v1/responses/compact",
                &json!({"model": group, "input": history()}),
            )
            .await;
        assert_eq!(status, 200, "{group}: {compacted}");
        let items = compaction_items(&compacted["output"]);
        assert_eq!(items.len(), 1, "{group}: {compacted}");
        let blob = items[0]["encrypted_content"].as_str().unwrap();
        assert_eq!(blob.starts_with("swys1."), sealed, "{group}: {blob}");
        assert_eq!(
            blob.starts_with("mock-compaction:"),
            !sealed,
            "{group}: {blob}"
        );

        let mut input = history().as_array().unwrap().clone();
        input.push(json!({"type": "compaction_trigger"}));
        for stream in [false, true] {
            let body = json!({"model": group, "input": input.clone(), "stream": stream});
            let response = if stream {
                let (status, events) = h.stream(body).await;
                assert_eq!(status, 200, "{group}");
                check_stream(&events).unwrap();
                final_response(&events)
            } else {
                let (status, response) = h.call(body).await;
                assert_eq!(status, 200, "{group}: {response}");
                response
            };
            assert_eq!(response["status"], "completed", "{group}: {response}");
            let output = response["output"].as_array().unwrap();
            assert_eq!(output.len(), 1, "{group} stream={stream}: {response}");
            let blob = output[0]["encrypted_content"].as_str().unwrap();
            assert_eq!(output[0]["type"], "compaction");
            assert_eq!(blob.starts_with("swys1."), sealed, "{group}: {blob}");
        }
    }
}
