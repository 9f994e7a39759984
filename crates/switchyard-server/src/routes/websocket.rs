//! `GET /v1/responses` with `Upgrade: websocket` (also `/responses`, `/openai/v1/responses`):
//! the Responses API's WebSocket mode, which Codex CLI's built-in provider uses first.
//!
//! The client sends text frames `{"type": "response.create", …a create body…}`; each is
//! answered with the events of its response, one JSON text frame each, exactly as the SSE
//! stream carries them, the terminal event last. Frames are served one at a time, in order.
//! A request refused before its stream starts (invalid, unknown model, over budget, an
//! upstream error before any output) is answered with an `error` frame carrying the HTTP
//! `status` it would have had (Codex ignores an error frame without one), and the socket
//! stays usable. Frames of other types are ignored.
//!
//! State lives with the socket ([`switchyard::state::State::for_connection`]): a turn may send
//! only its new items with `previous_response_id`, `store: false` included, while responses
//! asked to be stored still reach the gateway's store. `generate: false` warms up without
//! calling a model ([`switchyard::Gateway::warm_up`]). A socket serves requests for
//! `websocket_max_lifetime_seconds` (OpenAI's 60 minutes): a `response.create` after that is
//! refused with `websocket_connection_limit_reached` and the socket closed.
//!
//! Authentication is the middleware's, as for `POST`; the upgrade names no subprotocol and
//! sends no `openai-model` header (Codex reads one that differs from the requested model as
//! a reroute and warns).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{Extensions, HeaderMap, Method, Uri, header};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard::state::Caller;
use switchyard::types::error::ErrorEnvelope;
use switchyard::types::responses::CreateResponse;
use switchyard::{CallContext, Error, ErrorKind, Output, ids};
use tokio::time::Instant;

use super::responses::{caller, parse_as};
use crate::error::Refusal;
use crate::identity;
use crate::serve::{ConnectionHandle, Stop};
use crate::state::AppState;

/// Frames a client may send ahead while a response streams; past it the socket is not read
/// until the response ends (a client that floods it waits, and holds no more memory).
const MAX_QUEUED_FRAMES: usize = 16;

/// How long a socket past its lifetime stays open without a request before it is closed (a
/// client busy between two turns still gets the clear `websocket_connection_limit_reached`).
const IDLE_AFTER_LIFETIME: Duration = Duration::from_secs(60);

/// Upgrades to a WebSocket; a `GET` that asks for no upgrade is refused as before.
pub async fn upgrade(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    // After the upgrade, which takes the connection's upgrade handle out of them.
    extensions: Extensions,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) if asks_for_websocket(&headers) => return rejection.into_response(),
        Err(_) => return super::method_not_allowed(method, uri).await,
    };
    let socket = Socket {
        path: uri.path().to_string(),
        caller: caller(&extensions),
        key: identity::key_auth(&extensions).map(|auth| auth.key.token.clone()),
        client: extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        handle: extensions.get::<ConnectionHandle>().cloned(),
        connection_state: state.gateway().state().for_connection(),
        opened: Instant::now(),
        lifetime: state.websocket_max_lifetime(),
        headers,
        state: state.clone(),
        responses: 0,
    };
    let limit = state.max_body();
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |ws| socket.run(ws))
}

/// The request says `Upgrade: websocket`.
fn asks_for_websocket(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        })
}

/// One client socket and what its requests share.
struct Socket {
    state: AppState,
    path: String,
    /// The upgrade request's headers: every request on the socket is made with them.
    headers: HeaderMap,
    caller: Caller,
    /// The hash of the socket's virtual key, checked again before each response.
    key: Option<String>,
    client: Option<String>,
    /// Whether the server is stopping; also holds the connection's place under the cap.
    handle: Option<ConnectionHandle>,
    /// The socket's own responses, in front of the gateway's store.
    connection_state: switchyard::state::State,
    opened: Instant,
    lifetime: Duration,
    /// Responses served (for the closing log line).
    responses: u64,
}

/// A frame read from the client and not yet served.
enum Incoming {
    Text(Utf8Bytes),
    Binary,
}

/// What serving a frame left of the socket.
enum Served {
    /// Ready for the next frame.
    Open,
    /// Closed by the server (the lifetime is over).
    Closed,
    /// The client went away.
    Gone,
}

/// The part of a frame read before anything else: its type.
#[derive(Deserialize)]
struct FrameKind {
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl Socket {
    async fn run(mut self, mut ws: WebSocket) {
        tracing::info!(
            target: "switchyard::websocket",
            route = %self.path,
            "websocket opened"
        );
        let mut queued = VecDeque::new();
        let ending = loop {
            let frame = match queued.pop_front() {
                Some(frame) => frame,
                None => match self.next_frame(&mut ws).await {
                    Ok(frame) => frame,
                    Err(ending) => break ending,
                },
            };
            match self.serve(&mut ws, frame, &mut queued).await {
                Served::Open => {}
                Served::Closed => break "lifetime",
                Served::Gone => break "client",
            }
            if self.stopping() {
                close(&mut ws, close_code::AWAY, "the server is shutting down").await;
                break "shutdown";
            }
        };
        tracing::info!(
            target: "switchyard::websocket",
            route = %self.path,
            responses = self.responses,
            seconds = self.opened.elapsed().as_secs(),
            closed_by = ending,
            "websocket closed"
        );
    }

    /// True once the server drains or closes its connections.
    fn stopping(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| h.state() != Stop::Run)
    }

    /// Waits for the client's next frame. `Err` says why the socket ends: the client closed
    /// it, the server is stopping, or it outlived its lifetime without a request.
    async fn next_frame(&mut self, ws: &mut WebSocket) -> Result<Incoming, &'static str> {
        let idle_until = self.opened + self.lifetime + IDLE_AFTER_LIFETIME;
        loop {
            let frame = tokio::select! {
                frame = ws.recv() => frame,
                _ = stop_signal(self.handle.as_mut()) => {
                    close(ws, close_code::AWAY, "the server is shutting down").await;
                    return Err("shutdown");
                }
                () = tokio::time::sleep_until(idle_until) => {
                    close(ws, close_code::NORMAL, "websocket connection limit reached").await;
                    return Err("lifetime");
                }
            };
            match frame {
                Some(Ok(Message::Text(text))) => return Ok(Incoming::Text(text)),
                Some(Ok(Message::Binary(_))) => return Ok(Incoming::Binary),
                // Pings are answered by the socket itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(e)) => {
                    refuse_broken(ws, &e).await;
                    return Err("client");
                }
                Some(Ok(Message::Close(_))) | None => return Err("client"),
            }
        }
    }

    /// Serves one frame: a `response.create` is answered with its events (or an error
    /// frame); other types are ignored.
    async fn serve(
        &mut self,
        ws: &mut WebSocket,
        frame: Incoming,
        queued: &mut VecDeque<Incoming>,
    ) -> Served {
        let Incoming::Text(text) = frame else {
            let error = Error::invalid_request(
                "Binary frames are not supported: send each message as a JSON text frame.",
                None,
            )
            .with_code("invalid_message");
            return self.refuse(ws, None, &Refusal::from(error)).await;
        };
        let kind = match serde_json::from_str::<FrameKind>(text.as_str()) {
            Ok(FrameKind { kind: Some(kind) }) => kind,
            Ok(FrameKind { kind: None }) => {
                let error = Error::invalid_request(
                    "Missing required parameter: 'type' (send {\"type\": \"response.create\", …}).",
                    Some("type"),
                )
                .with_code("missing_required_parameter");
                return self.refuse(ws, None, &Refusal::from(error)).await;
            }
            // Not JSON, not an object, or a `type` that is not a string: the create parser
            // says which, naming the parameter.
            Err(_) => match parse_as::<CreateResponse>(text.as_bytes()) {
                Err(error) => return self.refuse(ws, None, &Refusal::from(error)).await,
                Ok(_) => {
                    let error = Error::invalid_request("Invalid 'type': expected a string.", None)
                        .with_param("type")
                        .with_code("invalid_type");
                    return self.refuse(ws, None, &Refusal::from(error)).await;
                }
            },
        };
        if kind != "response.create" {
            // Newer clients send acknowledgements (`response.processed`); nothing to do.
            tracing::debug!(
                target: "switchyard::websocket",
                kind = %switchyard::text::echo(&kind),
                "websocket frame ignored"
            );
            return Served::Open;
        }
        if self.opened.elapsed() >= self.lifetime {
            let refused = self.refuse(ws, None, &Refusal::from(self.expired())).await;
            if !matches!(refused, Served::Gone) {
                close(ws, close_code::NORMAL, "websocket connection limit reached").await;
            }
            return Served::Closed;
        }
        let (request, generate) = match read_create(text.as_bytes()) {
            Ok(read) => read,
            Err(error) => return self.refuse(ws, None, &Refusal::from(error)).await,
        };
        self.responses += 1;
        let mut ctx = self.context(&request);
        // The key as it is now (a block or a deletion since the upgrade counts), then its
        // models, budgets and limits, as for an HTTP request.
        let key = match (&self.key, self.state.keys()) {
            (Some(token), Some(keys)) => match keys.authorize(token).await {
                Ok(auth) => Some(auth),
                Err(refusal) => return self.refuse(ws, Some((ctx, &request)), &refusal).await,
            },
            _ => None,
        };
        if let Some(auth) = &key {
            ctx.meta.owner = auth.owner();
        }
        let _admitted = match identity::check_auth(
            &self.state,
            key.as_ref(),
            &request,
            &ctx.request_id,
        )
        .await
        {
            Ok(admitted) => admitted,
            Err(refusal) => return self.refuse(ws, Some((ctx, &request)), &refusal).await,
        };
        if let Err(refusal) = identity::check_budget(&self.state, ctx.meta.end_user.as_deref()) {
            return self.refuse(ws, Some((ctx, &request)), &refusal).await;
        }
        let gateway = self.state.gateway();
        if !generate {
            let warming = gateway.warm_up(request, ctx);
            let Some(warmed) = listening(warming, ws, queued, &mut self.handle).await else {
                return Served::Gone;
            };
            return match warmed {
                Ok(events) => {
                    let events = futures_util::stream::iter(events);
                    forward(ws, events, queued, &mut self.handle).await
                }
                Err(error) => send_error(ws, &Refusal::from(error)).await,
            };
        }
        // Priming may take a while (a model thinking before its first output): a client that
        // leaves meanwhile cancels it too.
        let executing = gateway.execute(request, ctx);
        let Some(executed) = listening(executing, ws, queued, &mut self.handle).await else {
            return Served::Gone;
        };
        match executed {
            Ok(execution) => match execution.output {
                Output::Stream(stream) => forward(ws, stream, queued, &mut self.handle).await,
                // `stream` is forced on: the gateway answers with events.
                Output::Response(_) => {
                    let error = Error::new(ErrorKind::Internal, "the response was not streamed");
                    send_error(ws, &Refusal::from(error)).await
                }
            },
            Err(error) => send_error(ws, &Refusal::from(error)).await,
        }
    }

    /// The context of one request on this socket: its own id and accounting, the socket's
    /// caller, headers and state.
    fn context(&self, request: &CreateResponse) -> CallContext {
        CallContext {
            request_id: ids::request_id(),
            client_headers: self.headers.clone(),
            meta: identity::request_meta(
                &self.state,
                &self.path,
                &self.headers,
                request,
                self.client.clone(),
            ),
            caller: self.caller.clone(),
            state: Some(self.connection_state.clone()),
            held: Default::default(),
        }
    }

    /// Records a request refused here, as the gateway records its own refusals, and answers
    /// it with an error frame. `ctx` is the request's, when it was read.
    async fn refuse(
        &self,
        ws: &mut WebSocket,
        ctx: Option<(CallContext, &CreateResponse)>,
        refusal: &Refusal,
    ) -> Served {
        let (ctx, model) = match ctx {
            Some((ctx, request)) => (ctx, request.model.clone()),
            None => (self.context(&CreateResponse::default()), None),
        };
        self.state
            .gateway()
            .log_rejected(ctx, model.as_deref(), true, &refusal.error);
        send_error(ws, refusal).await
    }

    /// The refusal of a request past the socket's lifetime (the code Codex reconnects on).
    fn expired(&self) -> Error {
        let secs = self.lifetime.as_secs();
        let lifetime = if secs > 0 && secs.is_multiple_of(60) {
            format!("{} minutes", secs / 60)
        } else {
            format!("{} seconds", self.lifetime.as_secs_f64())
        };
        Error::invalid_request(
            format!(
                "Responses websocket connection limit reached ({lifetime}). Create a new \
                 websocket connection to continue."
            ),
            None,
        )
        .with_code("websocket_connection_limit_reached")
    }
}

/// Reads a `response.create` frame as a create request, and whether it generates: `type` is
/// the frame's, `stream` is implied (and ignored when sent), `background` cannot be served
/// on a socket, `generate: false` asks for a warm-up. None of them goes upstream.
fn read_create(bytes: &[u8]) -> Result<(CreateResponse, bool), Error> {
    let mut request: CreateResponse = parse_as(bytes)?;
    request.extra.shift_remove("type");
    let generate = match request.extra.shift_remove("generate") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(generate)) => generate,
        Some(_) => {
            return Err(Error::invalid_request(
                "Invalid type for 'generate': expected a boolean.",
                Some("generate"),
            )
            .with_code("invalid_type"));
        }
    };
    if request.background == Some(true) {
        return Err(Error::invalid_request(
            "'background' is not supported over WebSocket: create background responses with \
             POST /v1/responses.",
            Some("background"),
        )
        .with_code("unsupported_parameter"));
    }
    request.stream = Some(true);
    Ok((request, generate))
}

/// Sends `events` to the client, one text frame each, until the terminal one; see
/// [`listening`] for what the client does meanwhile.
async fn forward(
    ws: &mut WebSocket,
    events: impl futures_core::Stream<Item = impl serde::Serialize> + Unpin,
    queued: &mut VecDeque<Incoming>,
    handle: &mut Option<ConnectionHandle>,
) -> Served {
    let mut events = events;
    loop {
        let Some(event) = listening(events.next(), ws, queued, handle).await else {
            return Served::Gone;
        };
        let Some(event) = event else {
            return Served::Open;
        };
        let text = match serde_json::to_string(&event) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(error = %e, "an event could not be serialized");
                continue;
            }
        };
        if ws.send(Message::Text(text.into())).await.is_err() {
            return Served::Gone;
        }
    }
}

/// Waits for `work` (a response being prepared or streamed) while reading the socket: frames
/// the client sends meanwhile are queued for after the response; a client that closes the
/// socket (or a server that drops its connections) drops `work`, which cancels the upstream
/// call. `None` then.
async fn listening<T>(
    work: impl std::future::Future<Output = T>,
    ws: &mut WebSocket,
    queued: &mut VecDeque<Incoming>,
    handle: &mut Option<ConnectionHandle>,
) -> Option<T> {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return Some(done),
            frame = ws.recv(), if queued.len() < MAX_QUEUED_FRAMES => match frame {
                Some(Ok(Message::Text(text))) => queued.push_back(Incoming::Text(text)),
                Some(Ok(Message::Binary(_))) => queued.push_back(Incoming::Binary),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(e)) => {
                    refuse_broken(ws, &e).await;
                    return None;
                }
                Some(Ok(Message::Close(_))) | None => return None,
            },
            () = closed_signal(handle.as_mut()) => return None,
        }
    }
}

/// Closes the socket after a read error with the code that says why, when it is a message
/// over the size limit (the client may fix that); other errors leave nothing to tell.
async fn refuse_broken(ws: &mut WebSocket, error: &axum::Error) {
    // tungstenite's capacity error is not re-exported by axum; its text is stable.
    if error.to_string().contains("Message too long") {
        close(ws, close_code::SIZE, "message over the request size limit").await;
    }
}

/// Resolves once the server stops serving (drains or closes); never without a handle.
async fn stop_signal(handle: Option<&mut ConnectionHandle>) -> Stop {
    match handle {
        Some(handle) => handle.stopping().await,
        None => std::future::pending().await,
    }
}

/// Resolves once the server drops its connections (a drain lets a response finish).
async fn closed_signal(handle: Option<&mut ConnectionHandle>) {
    match handle {
        Some(handle) => handle.closed().await,
        None => std::future::pending().await,
    }
}

/// Sends the error frame of `refusal`; the socket stays open.
async fn send_error(ws: &mut WebSocket, refusal: &Refusal) -> Served {
    match ws.send(Message::Text(error_frame(refusal).into())).await {
        Ok(()) => Served::Open,
        Err(_) => Served::Gone,
    }
}

/// `{"type": "error", "status": …, "error": {type, code, message, param}}`, with the retry
/// delay under `headers` as an HTTP answer would carry it.
fn error_frame(refusal: &Refusal) -> String {
    let error = &refusal.error;
    let envelope = ErrorEnvelope::new(
        error.message.clone(),
        refusal.error_type.unwrap_or(error.kind.openai_type()),
        error.param.clone(),
        error.code.clone(),
    );
    let mut frame = json!({
        "type": "error",
        "status": error.status(),
        "error": envelope.error,
    });
    if let Some(after) = error.retry_after {
        frame["headers"] = json!({
            "retry-after": after.as_millis().div_ceil(1000).to_string(),
            "retry-after-ms": after.as_millis().to_string(),
        });
    }
    frame.to_string()
}

/// Sends a Close frame; the client may be gone already.
async fn close(ws: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = ws.send(Message::Close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_create_frame() {
        let (request, generate) = read_create(
            br#"{"type": "response.create", "model": "m", "input": "hi", "stream": false,
                 "generate": false, "client_metadata": {"k": "v"}}"#,
        )
        .unwrap();
        assert!(!generate);
        assert_eq!(request.stream, Some(true));
        assert!(!request.extra.contains_key("type"));
        assert!(!request.extra.contains_key("generate"));
        let (_, generate) =
            read_create(br#"{"type": "response.create", "model": "m", "input": "hi"}"#).unwrap();
        assert!(generate);
        let err = read_create(br#"{"model": "m", "input": "x", "background": true}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("background"));
        let err = read_create(br#"{"model": "m", "input": "x", "generate": "no"}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("generate"));
    }

    #[test]
    fn error_frames_carry_the_status() {
        let error = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(Duration::from_millis(1500)));
        let frame: Value = serde_json::from_str(&error_frame(&Refusal::from(error))).unwrap();
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["status"], 429);
        assert_eq!(frame["error"]["type"], "rate_limit_error");
        assert_eq!(frame["error"]["message"], "slow down");
        assert!(frame["error"].get("param").is_some());
        assert!(frame["error"].get("code").is_some());
        assert_eq!(frame["headers"]["retry-after"], "2");
    }

    #[test]
    fn recognises_an_upgrade() {
        let mut headers = HeaderMap::new();
        assert!(!asks_for_websocket(&headers));
        headers.insert(header::UPGRADE, "WebSocket".parse().unwrap());
        assert!(asks_for_websocket(&headers));
    }
}
