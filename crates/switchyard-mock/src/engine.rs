//! The scenario engine's entry point: routes a request to the protocol that answers it.

use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::anthropic;
use crate::bedrock;

use crate::chat::{self, Flavor};
use crate::errors;
use crate::gemini::{self, Route};
use crate::oauth;
use crate::reply::Reply;
use crate::responses;
use crate::state::Shared;

/// A reply and how long to wait before sending its headers (`[[mock:slow=MS]]`).
#[derive(Debug)]
pub(crate) struct Planned {
    pub delay: Duration,
    pub reply: Reply,
}

impl From<Reply> for Planned {
    fn from(reply: Reply) -> Self {
        Planned {
            delay: Duration::ZERO,
            reply,
        }
    }
}

/// One request as the engine sees it. `body` is `raw` parsed as JSON (`Null` when it is not
/// JSON).
pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub raw: &'a [u8],
    pub body: &'a Value,
}

/// Answers a request that no scripted reply claimed.
pub(crate) fn plan(req: &Incoming<'_>, shared: &Shared) -> Planned {
    let Incoming {
        method,
        path,
        raw,
        body,
        ..
    } = *req;
    let post = method == "POST";
    if post && path == "/token" {
        let host = req
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        oauth::token(raw, &format!("http://{host}/token"), shared).into()
    } else if post && path.ends_with("/oauth2/v2.0/token") {
        oauth::entra_token(raw, shared).into()
    } else if let Some(route) = Route::parse(path).filter(|_| post) {
        gemini::handle(&route, req.query, req.headers, body, shared)
    } else if post && bedrock::matches(path) {
        bedrock::handle(path, req.headers, raw, body)
    } else if post && bedrock::counts(path) {
        bedrock::count_tokens(path, req.headers, raw, body)
    } else if post && path.ends_with("/v1/messages") {
        anthropic::handle(body, false)
    } else if post && path.ends_with("/v1/messages/count_tokens") {
        anthropic::count_tokens(body, false)
    } else if post && (path.ends_with(":rawPredict") || path.ends_with(":streamRawPredict")) {
        let authorization = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match gemini::vertex_auth(authorization, shared) {
            Some(refusal) => refusal.into(),
            // One counter per location serves every Claude model; the body names the model.
            None if path.ends_with("/publishers/anthropic/models/count-tokens:rawPredict") => {
                anthropic::count_tokens(body, true)
            }
            None => anthropic::handle(body, true),
        }
    } else if post && path.ends_with("/chat/completions") {
        chat::handle(Flavor::from_path(path), raw, body)
    } else if post && path.ends_with("/tokenize") {
        chat::tokenize(body)
    } else if post && path.ends_with("/responses") {
        responses::handle(body)
    } else if post && path.ends_with("/responses/input_tokens") {
        responses::input_tokens(body)
    } else if post && path.ends_with("/responses/compact") {
        responses::compact(body)
    } else if method == "GET" && path.ends_with("/models") {
        Reply::json(
            json!({"object": "list", "data": [{"id": "mock-model", "object": "model",
            "created": 1_700_000_000, "owned_by": "switchyard-mock"}]}),
        )
        .into()
    } else {
        errors::invalid_url(method, path).into()
    }
}
