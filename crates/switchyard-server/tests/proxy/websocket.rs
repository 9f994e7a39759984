//! The Responses API's WebSocket mode (`GET /v1/responses` with `Upgrade: websocket`), with a
//! real WebSocket client: warm-up, chained turns with `store: false` and only the new items,
//! tool round trips, error frames that keep the socket usable, authentication, the socket's
//! lifetime, and a client that leaves mid-response.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchyard::stream::grammar::check_stream;
use switchyard::types::responses::ResponseStreamEvent;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::common::{Harness, KEY, default_models, output_text};

/// A client socket on the proxy.
struct Ws {
    socket: WebSocketStream<TcpStream>,
}

/// What the proxy answered to one `response.create`.
enum Reply {
    /// The response's events, the terminal one last (already checked against the grammar).
    Events(Vec<ResponseStreamEvent>),
    /// An error frame.
    Error(Value),
}

impl Reply {
    fn events(self) -> Vec<ResponseStreamEvent> {
        match self {
            Reply::Events(events) => events,
            Reply::Error(frame) => panic!("expected events, got the error frame {frame}"),
        }
    }

    fn error(self) -> Value {
        match self {
            Reply::Error(frame) => frame,
            Reply::Events(events) => panic!("expected an error frame, got {events:?}"),
        }
    }

    /// The final response, as JSON.
    fn response(self) -> Value {
        let events = self.events();
        serde_json::to_value(events.last().unwrap().response().unwrap()).unwrap()
    }
}

/// Opens a socket on `path` presenting `key` the way Codex does (with its beta header).
async fn open(h: &Harness, path: &str, key: Option<&str>) -> Result<Ws, tungstenite::Error> {
    open_at(&h.base, path, key).await
}

/// [`open`] on the proxy at `base`.
async fn open_at(base: &str, path: &str, key: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let addr = base.trim_start_matches("http://").to_string();
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    let headers = request.headers_mut();
    if let Some(key) = key {
        headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    headers.insert(
        "openai-beta",
        "responses_websockets=2026-02-06".parse().unwrap(),
    );
    let tcp = TcpStream::connect(&addr).await.unwrap();
    let (socket, answer) = client_async(request, tcp).await?;
    assert!(
        answer.headers().get("openai-model").is_none(),
        "the upgrade must not name a model"
    );
    assert!(answer.headers().get("sec-websocket-protocol").is_none());
    Ok(Ws { socket })
}

async fn connect(h: &Harness) -> Ws {
    open(h, "/v1/responses", Some(KEY)).await.expect("upgrade")
}

impl Ws {
    async fn send_text(&mut self, text: String) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// Sends a `response.create` with `body`.
    async fn send(&mut self, body: Value) {
        let mut frame = json!({"type": "response.create"});
        frame
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        self.send_text(frame.to_string()).await;
    }

    /// The next text frame as JSON (`None` once the server closed the socket).
    async fn frame(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("a frame within 20 s");
            match message {
                Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            }
        }
    }

    /// Reads one answer: events until the terminal one, or an error frame.
    async fn reply(&mut self) -> Reply {
        let mut events = Vec::new();
        loop {
            let frame = self.frame().await.expect("the socket closed mid-answer");
            if frame["type"] == "error" {
                assert!(events.is_empty(), "an error frame after events: {frame}");
                return Reply::Error(frame);
            }
            let event: ResponseStreamEvent = serde_json::from_value(frame.clone()).unwrap();
            let terminal = event.is_terminal();
            events.push(event);
            if terminal {
                if let Err(e) = check_stream(&events) {
                    panic!("ungrammatical answer: {e}\n{events:#?}");
                }
                return Reply::Events(events);
            }
        }
    }

    async fn create(&mut self, body: Value) -> Reply {
        self.send(body).await;
        self.reply().await
    }
}

/// Codex's base instructions, as it sends them on its warm-up.
fn base_instructions() -> Value {
    json!({"type": "message", "id": "msg_base", "role": "developer",
        "content": [{"type": "input_text", "text": "You are a coding agent."}],
        "internal_chat_message_metadata_passthrough": {"content_item_kinds": ["model.base_instructions"]}})
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}],
        "internal_chat_message_metadata_passthrough": {"turn_id": "t1"}})
}

fn shell_tool() -> Value {
    json!([{"type": "function", "name": "exec_command", "description": "Runs a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
            "required": ["cmd"]}}])
}

/// The texts of the upstream request's input, whatever its protocol.
fn upstream_texts(body: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    let mut collect = |v: &Value| {
        if let Some(s) = v.as_str() {
            texts.push(s.to_string());
        }
    };
    for key in ["system", "input", "messages"] {
        for entry in body[key].as_array().into_iter().flatten() {
            collect(&entry["text"]);
            collect(&entry["content"]);
            for part in entry["content"].as_array().into_iter().flatten() {
                collect(&part["text"]);
            }
        }
    }
    texts
}

#[tokio::test]
async fn warm_up_then_chained_turns_keep_state_on_the_socket() {
    for group in ["passthrough", "anthropic"] {
        let h = Harness::start().await;
        let mut ws = connect(&h).await;
        let codex = |extra: Value| {
            let mut body = json!({"model": group, "stream": true, "store": false,
                "include": ["reasoning.encrypted_content"], "prompt_cache_key": "thread-1",
                "client_metadata": {"x-codex-window-id": "thread-1:0"}});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body
        };

        // The warm-up completes at once, without the model.
        let warm = ws
            .create(codex(
                json!({"generate": false, "input": [base_instructions()]}),
            ))
            .await
            .events();
        let kinds: Vec<&str> = warm.iter().map(|e| e.kind()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.completed"
            ],
            "{group}"
        );
        let warm = serde_json::to_value(warm.last().unwrap().response().unwrap()).unwrap();
        assert_eq!(warm["status"], "completed");
        assert_eq!(warm["output"], json!([]));
        assert_eq!(warm["usage"]["input_tokens"], 0);
        assert_eq!(warm["usage"]["output_tokens"], 0);
        assert_eq!(warm["store"], false);
        assert!(
            h.mock.requests().is_empty(),
            "{group}: a warm-up calls no model"
        );

        // The first turn sends only its new items; the warm-up's input goes before them.
        let first = ws
            .create(codex(json!({"previous_response_id": warm["id"],
                "input": [user("hello there")]})))
            .await
            .response();
        assert_eq!(output_text(&first), "You said: hello there", "{group}");
        assert_eq!(first["previous_response_id"], warm["id"]);
        assert_eq!(first["store"], false);
        let sent = h.last_upstream().body;
        assert_eq!(
            upstream_texts(&sent),
            ["You are a coding agent.", "hello there"],
            "{group}: {sent}"
        );
        for field in ["generate", "type", "previous_response_id"] {
            assert!(sent.get(field).is_none(), "{group}: {field} went upstream");
        }
        if group != "passthrough" {
            assert!(sent.get("client_metadata").is_none(), "{sent}");
        }

        // The second chains onto the first: its input and output come back.
        let second = ws
            .create(codex(json!({"previous_response_id": first["id"],
                "input": [user("and again")]})))
            .await
            .response();
        assert_eq!(output_text(&second), "You said: and again", "{group}");
        let sent = h.last_upstream().body;
        assert_eq!(
            upstream_texts(&sent),
            [
                "You are a coding agent.",
                "hello there",
                "You said: hello there",
                "and again"
            ],
            "{group}: {sent}"
        );

        // Unstored responses stay with the socket.
        for id in [&warm["id"], &first["id"], &second["id"]] {
            let (status, _) = h
                .get_json(&format!("/v1/responses/{}", id.as_str().unwrap()))
                .await;
            assert_eq!(status, 404, "{group}: {id} must not be stored");
        }
        // Elsewhere the gateway does not know it (a pass-through asks its upstream, which
        // has a say of its own).
        if group != "passthrough" {
            let (status, body) = h
                .post_json(
                    "/v1/responses",
                    &json!({"model": group, "previous_response_id": second["id"], "input": "x"}),
                )
                .await;
            assert_eq!(
                status, 400,
                "{group}: another connection continued it: {body}"
            );
            assert_eq!(body["error"]["code"], "previous_response_not_found");
        }
    }
}

#[tokio::test]
async fn stored_responses_are_shared_with_the_gateway() {
    let h = Harness::start().await;
    // Stored over HTTP, continued on a socket.
    let (status, stored) = h
        .post_json(
            "/v1/responses",
            &json!({"model": "passthrough", "input": "remember me"}),
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    let mut ws = connect(&h).await;
    let next = ws
        .create(
            json!({"model": "passthrough", "previous_response_id": stored["id"],
            "input": "and now"}),
        )
        .await
        .response();
    assert_eq!(output_text(&next), "You said: and now");
    assert_eq!(next["store"], true);
    assert_eq!(
        upstream_texts(&h.last_upstream().body),
        ["remember me", "You said: remember me", "and now"]
    );
    // Stored on the socket, found over HTTP.
    let (status, found) = h
        .get_json(&format!("/v1/responses/{}", next["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(output_text(&found), "You said: and now");
}

#[tokio::test]
async fn a_tool_round_trip_over_the_socket() {
    for group in ["passthrough", "anthropic"] {
        let h = Harness::start().await;
        let mut ws = connect(&h).await;
        let call = ws
            .create(
                json!({"model": group, "store": false, "tools": shell_tool(),
                "input": [user("Run the shell command: `echo ws-ok` and report.")]}),
            )
            .await
            .response();
        let item = call["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "function_call")
            .unwrap_or_else(|| panic!("{group}: no call in {call}"))
            .clone();
        assert_eq!(item["name"], "exec_command");
        let arguments: Value = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments["cmd"], "echo ws-ok");
        // Only the tool's output goes back, chained onto the call.
        let done = ws
            .create(
                json!({"model": group, "store": false, "tools": shell_tool(),
                "previous_response_id": call["id"],
                "input": [{"type": "function_call_output", "id": "fco_1",
                    "call_id": item["call_id"], "output": "ws-ok\n",
                    "internal_chat_message_metadata_passthrough": {"turn_id": "t1"}}]}),
            )
            .await
            .response();
        assert_eq!(
            output_text(&done),
            "The tool returned: ws-ok\n",
            "{group}: {done}"
        );
    }
}

#[tokio::test]
async fn error_frames_keep_the_socket_usable() {
    let h = Harness::start().await;
    let mut ws = connect(&h).await;

    let frame = ws
        .create(json!({"model": "no-such-model", "input": "hi"}))
        .await
        .error();
    assert_eq!(frame["status"], 404, "{frame}");
    assert_eq!(frame["error"]["code"], "model_not_found");
    assert_eq!(frame["error"]["type"], "not_found_error");
    assert!(frame["error"]["message"].is_string());
    assert!(frame["error"].as_object().unwrap().contains_key("param"));

    ws.send_text("{\"type\": \"response.create\", \"model\": ".into())
        .await;
    let frame = ws.reply().await.error();
    assert_eq!(frame["status"], 400, "{frame}");
    assert_eq!(frame["error"]["code"], "invalid_json");

    let frame = ws
        .create(json!({"model": "passthrough", "input": "hi", "background": true}))
        .await
        .error();
    assert_eq!(frame["status"], 400, "{frame}");
    assert_eq!(frame["error"]["param"], "background");

    let frame = ws
        .create(json!({"model": "passthrough", "input": "hi", "temperature": "hot"}))
        .await
        .error();
    assert_eq!(frame["status"], 400, "{frame}");
    assert_eq!(frame["error"]["param"], "temperature");

    let frame = ws
        .create(json!({"model": "passthrough", "previous_response_id": "resp_unknown", "input": "hi", "generate": false}))
        .await
        .error();
    assert_eq!(frame["error"]["code"], "previous_response_not_found");

    // An upstream error before any output.
    let frame = ws
        .create(json!({"model": "anthropic", "input": "[[mock:error=429]] hi"}))
        .await
        .error();
    assert_eq!(frame["status"], 429, "{frame}");

    // Frames of other types are ignored: the next frame answers the create after them.
    ws.send_text(json!({"type": "response.processed", "response_id": "resp_1"}).to_string())
        .await;
    let ok = ws
        .create(json!({"model": "passthrough", "input": "still here"}))
        .await
        .response();
    assert_eq!(output_text(&ok), "You said: still here");
}

#[tokio::test]
async fn responses_follow_one_another_in_order() {
    let h = Harness::start().await;
    let mut ws = open(&h, "/openai/v1/responses", Some(KEY)).await.unwrap();
    // Sent together: served one at a time, in order, each to its terminal event.
    ws.send(json!({"model": "bridged", "input": "[[mock:slow=200]] one"}))
        .await;
    ws.send(json!({"model": "passthrough", "input": "two"}))
        .await;
    let one = ws.reply().await.response();
    let two = ws.reply().await.response();
    assert!(output_text(&one).ends_with(" one"), "{one}");
    assert_eq!(output_text(&two), "You said: two");
    assert_ne!(one["id"], two["id"]);
    // And on the other paths too.
    let mut ws = open(&h, "/responses", Some(KEY)).await.unwrap();
    let three = ws
        .create(json!({"model": "gemini", "input": "three"}))
        .await
        .response();
    assert_eq!(output_text(&three), "You said: three");
}

#[tokio::test]
async fn the_upgrade_needs_the_key() {
    let h = Harness::start().await;
    for key in [None, Some("sk-wrong")] {
        match open(&h, "/v1/responses", key).await {
            Err(tungstenite::Error::Http(answer)) => {
                assert_eq!(answer.status().as_u16(), 401, "{key:?}");
            }
            Err(other) => panic!("{key:?}: {other}"),
            Ok(_) => panic!("{key:?}: upgraded without the key"),
        }
    }
    // A GET that asks for no upgrade is refused as before.
    let r = h
        .client
        .get(format!("{}/v1/responses", h.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn a_socket_past_its_lifetime_is_closed() {
    let h = Harness::with(|mock| {
        format!(
            "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n\
             switchyard_settings: {{websocket_max_lifetime_seconds: 1}}\n",
            default_models(mock)
        )
    })
    .await;
    let mut ws = connect(&h).await;
    let first = ws
        .create(json!({"model": "passthrough", "input": "quick"}))
        .await
        .response();
    assert_eq!(first["status"], "completed");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let frame = ws
        .create(json!({"model": "passthrough", "input": "too late"}))
        .await
        .error();
    assert_eq!(frame["status"], 400, "{frame}");
    assert_eq!(
        frame["error"]["code"], "websocket_connection_limit_reached",
        "{frame}"
    );
    assert!(ws.frame().await.is_none(), "the socket is closed after it");
    assert_eq!(h.mock.requests().len(), 1, "the late request went nowhere");
    // A new socket works.
    let mut ws = connect(&h).await;
    let again = ws
        .create(json!({"model": "passthrough", "input": "again"}))
        .await
        .response();
    assert_eq!(output_text(&again), "You said: again");
}

#[tokio::test]
async fn a_client_that_leaves_mid_response_is_still_accounted() {
    let (url, dir) = crate::accounting::sqlite();
    let (h, _acct) = Harness::with_accounting(
        |mock| {
            format!(
                "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n",
                default_models(mock)
            )
        },
        &url,
    )
    .await;
    let mut ws = connect(&h).await;
    let warm = ws
        .create(
            json!({"model": "passthrough", "input": "ready", "user": "ws-user",
            "generate": false}),
        )
        .await
        .response();
    let done = ws
        .create(json!({"model": "passthrough", "input": "counted", "user": "ws-user"}))
        .await
        .response();
    assert_eq!(done["status"], "completed");
    // A stream that stalls after its first output; the client closes the socket then.
    ws.send(json!({"model": "bridged", "user": "ws-user",
        "input": "[[mock:stall=5000]] [[mock:usage=7,3,0,0]] left early"}))
        .await;
    let first = ws.frame().await.unwrap();
    assert_eq!(first["type"], "response.created");
    ws.socket.close(None).await.unwrap();

    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    let rows = loop {
        let (status, rows) = h.get_json("/spend/logs?end_user=ws-user").await;
        assert_eq!(status, 200, "{rows}");
        let rows = rows.as_array().cloned().unwrap();
        if rows.len() >= 3 || tokio::time::Instant::now() > until {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut outcomes: Vec<&str> = rows
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    outcomes.sort_unstable();
    assert_eq!(
        outcomes,
        ["client_disconnected", "completed", "completed"],
        "{rows:?}"
    );
    // The warm-up is on record, free, with no deployment.
    let warm_row = rows
        .iter()
        .find(|r| r["response_id"] == warm["id"])
        .unwrap_or_else(|| panic!("no row for the warm-up: {rows:?}"));
    assert_eq!(warm_row["spend"], 0.0, "{warm_row}");
    assert_eq!(warm_row["prompt_tokens"], 0, "{warm_row}");
    assert_eq!(warm_row["model_group"], "passthrough", "{warm_row}");
    assert!(
        rows.iter()
            .all(|r| r["stream"] == true && r["route"] == "/v1/responses"),
        "{rows:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_drain_lets_the_response_finish_then_closes_the_socket() {
    use switchyard::Config;
    use switchyard::config::Env;
    use switchyard_server::serve::{ConnectionLimits, Server};
    use switchyard_server::{AppState, app};

    let mock = switchyard_mock::MockServer::start().await;
    let yaml = format!(
        "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n",
        default_models(&mock.url())
    );
    let config = Config::from_yaml_with_env(&yaml, &Env::default()).unwrap();
    let (gateway, _) = switchyard::Gateway::from_config(&config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut server = Server::start(
        listener,
        app(AppState::from_config(gateway, &config)),
        ConnectionLimits::default(),
    );
    let mut idle = open_at(&base, "/v1/responses", Some(KEY)).await.unwrap();
    let mut busy = open_at(&base, "/v1/responses", Some(KEY)).await.unwrap();
    busy.send(json!({"model": "passthrough", "input": "[[mock:slow=600]] finish me"}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.drain();
    assert!(
        idle.frame().await.is_none(),
        "an idle socket is closed at once"
    );
    // The open response holds the server until it ends.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), server.finished())
            .await
            .is_err(),
        "the server finished under an open response"
    );
    let done = busy.reply().await.response();
    assert!(output_text(&done).ends_with("finish me"), "{done}");
    assert!(busy.frame().await.is_none(), "closed after its response");
    tokio::time::timeout(Duration::from_secs(5), server.finished())
        .await
        .expect("the server finishes once its sockets closed");
}

#[tokio::test]
async fn a_client_that_leaves_before_the_first_output_cancels_the_call() {
    let (url, dir) = crate::accounting::sqlite();
    let (h, _acct) = Harness::with_accounting(
        |mock| {
            format!(
                "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n",
                default_models(mock)
            )
        },
        &url,
    )
    .await;
    let mut ws = connect(&h).await;
    // The upstream takes 3 s to answer; the client leaves long before.
    ws.send(json!({"model": "bridged", "user": "ws-early", "input": "[[mock:slow=3000]] hi"}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = tokio::time::Instant::now();
    ws.socket.close(None).await.unwrap();
    let rows = loop {
        let (_, rows) = h.get_json("/spend/logs?end_user=ws-early").await;
        let rows = rows.as_array().cloned().unwrap_or_default();
        if !rows.is_empty() || left.elapsed() > Duration::from_secs(10) {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["outcome"], "client_disconnected", "{rows:?}");
    assert!(
        left.elapsed() < Duration::from_millis(2500),
        "recorded only when the upstream answered: the call was not cancelled"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_the_socket_saying_so() {
    let h = Harness::with_limit(
        |mock| {
            format!(
                "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n",
                default_models(mock)
            )
        },
        4096,
    )
    .await;
    let mut ws = connect(&h).await;
    ws.send(json!({"model": "passthrough", "input": "x".repeat(8192)}))
        .await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .unwrap();
    let frame = closed.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009, "{frame:?}");
}

#[tokio::test]
async fn a_virtual_key_on_a_socket_is_checked_before_each_response() {
    let (url, dir) = crate::accounting::sqlite();
    let (h, _acct) = Harness::with_accounting(
        |m| {
            format!(
                "model_list:{}\ngeneral_settings: {{master_key: {KEY}}}\n",
                crate::common::default_models(m)
            )
        },
        &url,
    )
    .await;
    let (status, made) = h
        .post_json("/key/generate", &json!({"models": ["passthrough"]}))
        .await;
    assert_eq!(status, 200, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    let mut ws = open(&h, "/v1/responses", Some(&key))
        .await
        .expect("upgrade");
    ws.create(json!({"model": "passthrough", "input": "hi"}))
        .await
        .events();
    // Its models hold on the socket as over HTTP.
    let refused = ws
        .create(json!({"model": "bridged", "input": "hi"}))
        .await
        .error();
    assert_eq!(refused["status"], 401, "{refused}");
    assert_eq!(refused["error"]["code"], "key_model_access_denied");
    // A key blocked while its socket is open is refused on its next response.
    let (status, _) = h.post_json("/key/block", &json!({"key": key})).await;
    assert_eq!(status, 200);
    let refused = ws
        .create(json!({"model": "passthrough", "input": "hi"}))
        .await
        .error();
    assert_eq!(refused["error"]["code"], "key_blocked", "{refused}");
    assert!(!refused.to_string().contains(&key));
    let _ = std::fs::remove_dir_all(dir);
}
