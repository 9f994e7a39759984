//! The stateful Responses API through the proxy: stored responses, `input_items`, chains with
//! `previous_response_id` on every provider (and across providers), conversations.

use serde_json::{Value, json};

use crate::common::{Harness, KEY, UPSTREAM_KEY, default_models, final_response, output_text};

/// One group per upstream shape.
const GROUPS: &[&str] = &[
    "passthrough",
    "bridged",
    "anthropic",
    "gemini-3",
    "bedrock",
    "vertex-claude",
    "azure",
];

async fn create(h: &Harness, body: Value, stream: bool) -> Value {
    if stream {
        let (status, events) = h.stream(body.clone()).await;
        assert_eq!(status, 200, "{body}");
        final_response(&events)
    } else {
        let (status, response) = h.call(body.clone()).await;
        assert_eq!(status, 200, "{body}: {response}");
        response
    }
}

async fn delete(h: &Harness, path: &str) -> (u16, Value) {
    let response = h
        .client
        .delete(format!("{}{path}", h.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_response_is_stored_listed_and_deleted() {
    let h = Harness::start().await;
    for group in GROUPS {
        let response = create(
            &h,
            json!({"model": group, "input": "Tell me a joke", "instructions": "Be brief.",
                "metadata": {"topic": "jokes"}}),
            false,
        )
        .await;
        let id = response["id"].as_str().unwrap();
        let (status, stored) = h.get_json(&format!("/v1/responses/{id}")).await;
        assert_eq!(status, 200, "{group}: {stored}");
        assert_eq!(
            stored, response,
            "{group}: retrieve answers what create answered"
        );

        let (status, items) = h.get_json(&format!("/v1/responses/{id}/input_items")).await;
        assert_eq!(status, 200, "{group}: {items}");
        assert_eq!(items["object"], "list");
        assert_eq!(items["has_more"], false);
        let data = items["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{group}: {items}");
        assert_eq!(data[0]["type"], "message");
        assert_eq!(data[0]["role"], "user");
        assert_eq!(data[0]["status"], "completed");
        assert_eq!(
            data[0]["content"],
            json!([{"type": "input_text", "text": "Tell me a joke"}])
        );
        assert!(data[0]["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(items["first_id"], data[0]["id"]);

        let (status, deleted) = delete(&h, &format!("/v1/responses/{id}")).await;
        assert_eq!(status, 200, "{group}");
        assert_eq!(
            deleted,
            json!({"id": id, "object": "response", "deleted": true})
        );
        let (status, gone) = h.get_json(&format!("/v1/responses/{id}")).await;
        assert_eq!(status, 404, "{group}: {gone}");
        assert_eq!(
            gone["error"]["message"],
            format!("Response with id '{id}' not found.")
        );
        let (status, _) = delete(&h, &format!("/v1/responses/{id}")).await;
        assert_eq!(status, 404);
    }
}

/// A stored answer is serialised once, for the store and the client, only when the client sees
/// it as stored: reasoning blobs a client did not ask for stay out of its answer and in the
/// store (the next turn sends them back), and a continuation's answer names the response it
/// continued. Streamed, the terminal event carries the same response.
#[tokio::test]
async fn a_stored_answer_shows_the_client_what_it_asked_for() {
    let h = Harness::start().await;
    for (group, stream) in GROUPS.iter().flat_map(|g| [(g, false), (g, true)]) {
        for include in [false, true] {
            let mut body =
                json!({"model": group, "input": "alpha", "reasoning": {"effort": "low"}});
            if include {
                body["include"] = json!(["reasoning.encrypted_content"]);
            }
            let first = create(&h, body.clone(), stream).await;
            let id = first["id"].as_str().unwrap();
            let (_, stored) = h.get_json(&format!("/v1/responses/{id}")).await;
            assert_eq!(stored["id"], first["id"], "{group}");
            if !include {
                assert!(
                    !first.to_string().contains("encrypted_content\":\""),
                    "{group}: {first}"
                );
                assert_eq!(
                    stored, first,
                    "{group}, stream {stream}: retrieve answers what create answered"
                );
            }
            body["input"] = json!("beta");
            body["previous_response_id"] = first["id"].clone();
            let second = create(&h, body, stream).await;
            assert_eq!(second["previous_response_id"], first["id"], "{group}");
            let (_, stored) = h
                .get_json(&format!("/v1/responses/{}", second["id"].as_str().unwrap()))
                .await;
            assert_eq!(stored["previous_response_id"], first["id"], "{group}");
            if !include {
                assert_eq!(stored, second, "{group}, stream {stream}: the continuation");
            }
            let sent = h.last_upstream().body.to_string();
            assert!(sent.contains("You said: alpha"), "{group}: {sent}");
            // The first turn's thinking signature went back upstream from the store, whether
            // the client saw it or not.
            if ["anthropic", "bedrock", "vertex-claude"].contains(group) {
                assert!(sent.contains("\"signature\":\"Eq"), "{group}: {sent}");
            }
        }
    }
}

#[tokio::test]
async fn store_false_keeps_nothing() {
    let h = Harness::start().await;
    for stream in [false, true] {
        let response = create(
            &h,
            json!({"model": "anthropic", "input": "hi", "store": false}),
            stream,
        )
        .await;
        assert_eq!(response["store"], false);
        let id = response["id"].as_str().unwrap();
        let (status, _) = h.get_json(&format!("/v1/responses/{id}")).await;
        assert_eq!(status, 404);
        let (status, error) = h
            .call(json!({"model": "anthropic", "input": "more", "previous_response_id": id}))
            .await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["code"], "previous_response_not_found");
        assert_eq!(error["error"]["param"], "previous_response_id");
    }
}

#[tokio::test]
async fn three_turn_chains_on_every_provider_streamed_and_not() {
    let h = Harness::start().await;
    for group in GROUPS {
        for stream in [false, true] {
            let first = create(
                &h,
                json!({"model": group, "input": "alpha", "instructions": "first rules"}),
                stream,
            )
            .await;
            let second = create(
                &h,
                json!({"model": group, "input": "beta", "previous_response_id": first["id"]}),
                stream,
            )
            .await;
            assert_eq!(second["previous_response_id"], first["id"], "{group}");
            assert_eq!(
                second["instructions"],
                Value::Null,
                "{group}: not inherited"
            );
            let third = create(
                &h,
                json!({"model": group, "input": "gamma", "previous_response_id": second["id"]}),
                stream,
            )
            .await;
            assert_eq!(output_text(&third), "You said: gamma", "{group}");
            // The upstream saw the whole history, oldest first, without the first
            // instructions.
            let sent = h.last_upstream().body.to_string();
            let (a, b, c) = (
                sent.find("alpha").unwrap_or(usize::MAX),
                sent.find("beta").unwrap_or(usize::MAX),
                sent.find("gamma").unwrap_or(usize::MAX),
            );
            assert!(a < b && b < c && c != usize::MAX, "{group}: {sent}");
            assert!(sent.contains("You said: alpha"), "{group}: {sent}");
            assert!(!sent.contains("first rules"), "{group}: {sent}");
            // input_items lists only each response's own input.
            let (_, items) = h
                .get_json(&format!(
                    "/v1/responses/{}/input_items",
                    third["id"].as_str().unwrap()
                ))
                .await;
            assert_eq!(items["data"].as_array().unwrap().len(), 1, "{group}");
        }
    }
}

#[tokio::test]
async fn a_chain_can_change_provider() {
    let h = Harness::start().await;
    let mut previous = Value::Null;
    let path = [
        "passthrough",
        "anthropic",
        "gemini-3",
        "bedrock",
        "bridged",
        "passthrough",
    ];
    for (turn, group) in path.iter().enumerate() {
        let response = create(
            &h,
            json!({"model": group, "input": format!("turn {turn} [[mock:reasoning]]"),
                "previous_response_id": previous, "reasoning": {"effort": "low"}}),
            turn % 2 == 0,
        )
        .await;
        assert_eq!(response["status"], "completed", "{group}: {response}");
        previous = response["id"].clone();
    }
    // The last upstream (OpenAI) got every earlier turn, without other providers' reasoning
    // blobs or the gateway's call state.
    let sent = h.last_upstream().body;
    let text = sent.to_string();
    for turn in 0..5 {
        assert!(text.contains(&format!("turn {turn}")), "{text}");
    }
    assert!(!text.contains("swy1."), "{text}");
    assert!(!text.contains("switchyard_call_state"), "{text}");
}

#[tokio::test]
async fn input_items_paginate() {
    let h = Harness::start().await;
    let input: Vec<Value> = (0..5)
        .map(|i| json!({"role": "user", "content": format!("m{i}")}))
        .collect();
    let response = create(&h, json!({"model": "bridged", "input": input}), false).await;
    let id = response["id"].as_str().unwrap();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = h
            .get_json(&format!(
                "/v1/responses/{id}/input_items?limit=2&order=asc{after}"
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        for item in page["data"].as_array().unwrap() {
            seen.push(item["content"][0]["text"].as_str().unwrap().to_string());
        }
        if page["has_more"] == false {
            break;
        }
        after = format!("&after={}", page["last_id"].as_str().unwrap());
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4"]);
    let (_, desc) = h.get_json(&format!("/v1/responses/{id}/input_items")).await;
    assert_eq!(
        desc["data"][0]["content"][0]["text"], "m4",
        "desc by default"
    );
    let (status, bad) = h
        .get_json(&format!("/v1/responses/{id}/input_items?limit=0"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["param"], "limit");
}

#[tokio::test]
async fn conversations_keep_a_thread() {
    let h = Harness::start().await;
    let (status, conv) = h
        .post_json(
            "/v1/conversations",
            &json!({"metadata": {"topic": "demo"}, "items": [{"type": "message", "role": "user", "content": "Hello!"}]}),
        )
        .await;
    assert_eq!(status, 200, "{conv}");
    assert_eq!(conv["object"], "conversation");
    assert_eq!(conv["metadata"]["topic"], "demo");
    let id = conv["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("conv_"));

    for (turn, group) in ["anthropic", "gemini-3", "passthrough"].iter().enumerate() {
        let response = create(
            &h,
            json!({"model": group, "conversation": id, "input": format!("turn {turn}")}),
            turn == 1,
        )
        .await;
        assert_eq!(response["conversation"]["id"], id.as_str(), "{group}");
        let sent = h.last_upstream().body.to_string();
        assert!(sent.contains("Hello!"), "{group}: {sent}");
        if turn > 0 {
            assert!(sent.contains("You said: Hello!"), "{group}: {sent}");
            assert!(sent.contains("turn 0"), "{group}: {sent}");
        }
    }
    let (status, items) = h
        .get_json(&format!("/v1/conversations/{id}/items?order=asc&limit=100"))
        .await;
    assert_eq!(status, 200, "{items}");
    let data = items["data"].as_array().unwrap();
    // The first item, then each turn's input and answer.
    assert_eq!(data.len(), 7, "{items}");
    assert_eq!(data[0]["content"][0]["text"], "Hello!");
    assert_eq!(data[6]["role"], "assistant");

    // Items added by hand, one fetched, one deleted.
    let (status, added) = h
        .post_json(
            &format!("/v1/conversations/{id}/items"),
            &json!({"items": [{"type": "message", "role": "user", "content": "by hand"}]}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    let item_id = added["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(added["first_id"], item_id.as_str());
    let (status, item) = h
        .get_json(&format!("/v1/conversations/{id}/items/{item_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(item["content"][0]["text"], "by hand");
    let (status, after_delete) =
        delete(&h, &format!("/v1/conversations/{id}/items/{item_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(after_delete["object"], "conversation");
    let (status, _) = h
        .get_json(&format!("/v1/conversations/{id}/items/{item_id}"))
        .await;
    assert_eq!(status, 404);

    // Metadata updated, then the conversation deleted.
    let (status, updated) = h
        .post_json(
            &format!("/v1/conversations/{id}"),
            &json!({"metadata": {"topic": "new"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["metadata"]["topic"], "new");
    let (status, deleted) = delete(&h, &format!("/v1/conversations/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "conversation.deleted", "deleted": true})
    );
    let (status, gone) = h.get_json(&format!("/v1/conversations/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(
        gone["error"]["message"],
        format!("Conversation with id '{id}' not found.")
    );
    let (status, _) = h
        .call(json!({"model": "bridged", "conversation": id, "input": "x"}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn state_errors_are_openais() {
    let h = Harness::start().await;
    let (status, empty) = h
        .post_json("/v1/conversations", &json!({"items": []}))
        .await;
    assert_eq!(status, 200, "{empty}");
    let (status, error) = h
        .call(
            json!({"model": "bridged", "input": "x", "conversation": empty["id"],
            "previous_response_id": "resp_x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "mutually_exclusive_parameters");
    let (status, error) = h
        .call(json!({"model": "anthropic", "input": "x", "previous_response_id": "resp_unknown"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Previous response with id 'resp_unknown' not found."
    );
    let (status, _) = h.get_json("/v1/responses/resp_nope/input_items").await;
    assert_eq!(status, 404);
    let (status, error) = h
        .post_json("/v1/responses/resp_nope/cancel", &json!({}))
        .await;
    assert_eq!(status, 404, "{error}");
    // The same routes answer under LiteLLM's other prefixes.
    let (status, _) = h
        .get_json(&format!("/conversations/{}", empty["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    let (status, _) = h
        .get_json(&format!(
            "/openai/v1/conversations/{}",
            empty["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
}

fn replica_config(mock: &str) -> String {
    format!(
        "model_list:{}\ngeneral_settings: {{master_key: {KEY}, proxy_batch_write_at: 0.05}}\n",
        crate::common::default_models(mock)
    )
}

/// Two gateways on one database: what one stores, the other continues at once.
async fn replicas_share_state(url: &str) {
    let (a, _) = Harness::with_accounting(replica_config, url).await;
    let (b, _) = Harness::with_accounting(replica_config, url).await;
    for (group, stream) in [("anthropic", false), ("gemini-3", true), ("bridged", false)] {
        let first = create(&a, json!({"model": group, "input": "on replica a"}), stream).await;
        // The next instant, on the other replica.
        let second = create(
            &b,
            json!({"model": group, "input": "on replica b", "previous_response_id": first["id"]}),
            stream,
        )
        .await;
        assert_eq!(second["previous_response_id"], first["id"], "{group}");
        let sent = b.last_upstream().body.to_string();
        assert!(sent.contains("on replica a"), "{group}: {sent}");
        let (status, stored) = b
            .get_json(&format!("/v1/responses/{}", first["id"].as_str().unwrap()))
            .await;
        assert_eq!(status, 200, "{group}: {stored}");
    }
    let (status, conv) = a.post_json("/v1/conversations", &json!({})).await;
    assert_eq!(status, 200);
    let id = conv["id"].as_str().unwrap();
    create(
        &b,
        json!({"model": "bridged", "conversation": id, "input": "hello"}),
        false,
    )
    .await;
    let (status, items) = a.get_json(&format!("/v1/conversations/{id}/items")).await;
    assert_eq!(status, 200);
    assert_eq!(items["data"].as_array().unwrap().len(), 2, "{items}");
}

#[tokio::test]
async fn replicas_on_one_postgres_database_share_state() {
    let (url, base, name) = crate::accounting::postgres().await;
    replicas_share_state(&url).await;
    crate::accounting::drop_postgres(&base, &name).await;
}

#[tokio::test]
async fn replicas_on_one_sqlite_file_share_state_and_it_survives_a_restart() {
    let (url, dir) = crate::accounting::sqlite();
    replicas_share_state(&url).await;
    let id = {
        let (h, acct) = Harness::with_accounting(replica_config, &url).await;
        let response = create(&h, json!({"model": "anthropic", "input": "before"}), false).await;
        acct.shutdown(std::time::Duration::from_secs(5)).await;
        response["id"].as_str().unwrap().to_string()
    };
    let (h, _) = Harness::with_accounting(replica_config, &url).await;
    let (status, stored) = h.get_json(&format!("/v1/responses/{id}")).await;
    assert_eq!(status, 200, "{stored}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_unknown_id_that_fails_over_to_a_translated_provider_is_not_found() {
    // A Responses deployment that refuses connections, falling back to Anthropic: the id the
    // store does not know is left for the Responses upstream, then reaches Anthropic.
    let h = Harness::with(|mock| {
        format!(
            "model_list:{}\n  - {{model_name: down, litellm_params: {{model: openai/gpt-down, \
             api_base: \"http://127.0.0.1:9/v1\", api_key: {UPSTREAM_KEY}}}}}\n\
             router_settings: {{fallbacks: [{{down: [anthropic]}}]}}\n\
             general_settings: {{master_key: {KEY}}}\n",
            default_models(mock)
        )
    })
    .await;
    for stream in [false, true] {
        let (status, error) = h
            .call(json!({"model": "down", "input": "more", "stream": stream,
                "previous_response_id": "resp_unknown"}))
            .await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["code"], "previous_response_not_found");
        assert_eq!(error["error"]["param"], "previous_response_id");
        assert_eq!(
            error["error"]["message"],
            "Previous response with id 'resp_unknown' not found."
        );
    }
}
