//! `POST /v1/responses` (also `/responses` and `/openai/v1/responses`; `?beta=true` is
//! accepted and means nothing more).

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::extract::ConnectInfo;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Uri, header};
use switchyard::state::Caller;
use switchyard::types::responses::CreateResponse;
use switchyard::{CallContext, Error, ErrorKind, Execution, Output, ids};

use crate::error::Refusal;
use crate::identity;
use crate::sse;
use crate::state::AppState;

/// Creates a response, as JSON or as a stream of server-sent events.
///
/// The handler's future is boxed here, so that axum's own future around it (which it boxes
/// again, after building it on the stack) holds a pointer rather than this whole state
/// machine, which it would otherwise copy whole on every request.
pub fn create(
    state: State<AppState>,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Pin<Box<dyn Future<Output = Response> + Send>> {
    Box::pin(create_response(state, uri, extensions, headers, body))
}

async fn create_response(
    State(state): State<AppState>,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = ids::request_id();
    let client = client_ip(&extensions);
    let result = async {
        let request = match read_request(&state, &headers, body).await {
            Ok(request) => request,
            Err(error) => {
                // Refused before the body could be read as a request: recorded like any other
                // refusal, with what the headers say of the caller.
                let meta = identity::request_meta(
                    &state,
                    uri.path(),
                    &headers,
                    &CreateResponse::default(),
                    client,
                );
                let ctx = CallContext {
                    request_id: request_id.clone(),
                    client_headers: HeaderMap::new(),
                    meta,
                    caller: Caller::default(),
                    state: None,
                    held: Default::default(),
                };
                state.gateway().log_rejected(ctx, None, false, &error);
                return Err(Refusal::from(error));
            }
        };
        let mut ctx = call_context(
            &state,
            &uri,
            headers,
            &extensions,
            client,
            &request,
            &request_id,
        );
        let mut admitted = match identity::check_key(&state, &extensions, &request, &request_id)
            .await
            .and_then(|admitted| {
                identity::check_budget(&state, ctx.meta.end_user.as_deref())?;
                Ok(admitted)
            }) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                let stream = request.is_stream();
                state
                    .gateway()
                    .log_rejected(ctx, request.model.as_deref(), stream, &refusal.error);
                return Err(refusal);
            }
        };
        // A background response runs on after its answer: its run holds the key's place
        // among the requests in flight until it ends.
        if request.background == Some(true)
            && let Some(in_flight) = admitted.as_mut().and_then(|a| a.in_flight.take())
        {
            ctx.held = switchyard::Held::new(in_flight);
        }
        // Boxed: an awaited future is held twice over by the one awaiting it (the value
        // built and the one polled), and copied whole when built.
        Box::pin(state.gateway().execute(request, ctx))
            .await
            .map(|execution| (execution, admitted))
            .map_err(Refusal::from)
    }
    .await;
    let mut response = match result {
        Ok((execution, admitted)) => held(answer(execution), admitted),
        Err(refusal) => refusal.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The client's IP address, as the spend log records it. Formatted once per request: an
/// address's `Display` costs a thousand instructions.
pub(crate) fn client_ip(extensions: &Extensions) -> Option<String> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The context of a request that creates a response: who asked (for the accounting record
/// and the state it may see; `client`: its address) and the client's headers.
pub(crate) fn call_context(
    state: &AppState,
    uri: &Uri,
    headers: HeaderMap,
    extensions: &Extensions,
    client: Option<String>,
    request: &CreateResponse,
    request_id: &str,
) -> CallContext {
    let mut meta = identity::request_meta(state, uri.path(), &headers, request, client);
    if let Some(auth) = identity::key_auth(extensions) {
        meta.owner = auth.owner();
        // The key's tags count as the request's own (LiteLLM merges them too).
        for tag in &auth.key.tags {
            if !meta.tags.contains(tag) {
                meta.tags.push(tag.clone());
            }
        }
    }
    CallContext {
        request_id: request_id.to_string(),
        client_headers: headers,
        meta,
        caller: caller(extensions),
        state: None,
        held: Default::default(),
    }
}

/// The answer with a virtual key's rate-limit headers; its place among the key's requests in
/// flight is held until the body (a whole stream) has been sent or dropped.
pub(crate) fn held(mut response: Response, admitted: Option<identity::Admitted>) -> Response {
    let Some(admitted) = admitted else {
        return response;
    };
    identity::rate_limit_headers(&admitted.remaining, response.headers_mut());
    let in_flight = admitted.in_flight;
    response.map(move |body| {
        use futures_util::StreamExt;
        let stream = body.into_data_stream().map(move |chunk| {
            let _held = &in_flight;
            chunk
        });
        Body::from_stream(stream)
    })
}

/// Who is asking, as the authentication middleware found out.
pub(crate) fn caller(extensions: &Extensions) -> Caller {
    extensions.get::<Caller>().cloned().unwrap_or_default()
}

/// Checks the content type, reads the body within the limits and parses it.
async fn read_request(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<CreateResponse, Error> {
    read_json(state, headers, body, false).await
}

/// Reads a JSON body of type `T` as [`create`] does (content type, size and time limits,
/// errors naming the parameter at fault); with `empty_is_object`, no body reads as `{}`.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    empty_is_object: bool,
) -> Result<T, Error> {
    require_json(headers)?;
    let bytes = read_body(body, headers, state.max_body(), state.body_read_timeout()).await?;
    if empty_is_object && bytes.iter().all(u8::is_ascii_whitespace) {
        return parse_as(b"{}");
    }
    parse_as(&bytes)
}

/// Refuses bodies that do not say they are JSON. A browser may send `text/plain`, form and
/// multipart bodies to any origin without asking first (a "simple" cross-site request); a JSON
/// content type needs the CORS preflight this server never grants. A body without a content
/// type is taken as JSON (no browser sends one), so `curl --data` style clients keep working
/// only when they say JSON or say nothing.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), Error> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media_type = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media_type == "application/json" || media_type.ends_with("+json") {
        return Ok(());
    }
    Err(Error {
        code: Some("unsupported_media_type".into()),
        ..Error::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Unsupported content type '{}': send the request body as JSON with                  `Content-Type: application/json`.",
                switchyard::text::clip(&media_type, 100)
            ),
        )
    })
}
fn answer(execution: Execution) -> Response {
    let Execution {
        deployment,
        output,
        attempted_retries,
        attempted_fallbacks,
        max_fallbacks,
        cost,
        response_json,
    } = execution;
    let mut response = match (output, response_json) {
        // Serialised once, for the store and the client.
        (Output::Response(_), Some(json)) => json_answer(Body::from(json)),
        (Output::Response(response), None) => match response.to_json() {
            Ok(json) => json_answer(Body::from(json)),
            // What axum's `Json` answers when serialisation fails (it cannot for these types).
            Err(e) => (http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        (Output::Stream(stream), _) => sse::response(stream),
    };
    let headers = response.headers_mut();
    let retries = attempted_retries.to_string();
    let fallbacks = attempted_fallbacks.to_string();
    let max_fallbacks = max_fallbacks.to_string();
    // Streams send their headers before the cost is known: it is in the spend log, and in the
    // final `usage.cost` with `include_cost_in_streaming_usage`.
    if let Some(cost) = cost
        && let Ok(value) = HeaderValue::from_str(&cost.to_string())
    {
        headers.insert("x-litellm-response-cost", value.clone());
        headers.insert("x-switchyard-response-cost", value);
    }
    for (name, value) in [
        ("x-litellm-model-id", deployment.id.as_str()),
        ("x-litellm-model-group", deployment.model_name.as_str()),
        ("x-litellm-attempted-retries", &retries),
        ("x-litellm-attempted-fallbacks", &fallbacks),
        ("x-litellm-max-fallbacks", &max_fallbacks),
        ("x-switchyard-deployment", deployment.id.as_str()),
        ("x-switchyard-retries", &retries),
        ("x-switchyard-fallbacks", &fallbacks),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// A JSON answer with `body`.
fn json_answer(body: Body) -> Response {
    let mut answer = Response::new(body);
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

/// Reads the whole body: at most `limit` bytes (a larger declared `Content-Length` is refused
/// before anything is read), within `deadline` (a client dripping its body holds a connection
/// and a buffer for no one's benefit).
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<bytes::Bytes, Error> {
    let too_large = || Error {
        code: Some("request_too_large".into()),
        ..Error::new(
            ErrorKind::PayloadTooLarge,
            format!("The request body exceeds the limit of {limit} bytes."),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let read = match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(read) => read,
        Err(_) => {
            return Err(Error {
                code: Some("request_timeout".into()),
                ..Error::new(
                    ErrorKind::RequestTimeout,
                    format!(
                        "The request body did not arrive within {} seconds.",
                        deadline.as_secs_f64()
                    ),
                )
            });
        }
    };
    read.map_err(|e| {
        // axum wraps http-body-util's `LengthLimitError`, which is not re-exported; its
        // message is the stable way to recognise it.
        let mut exceeded = false;
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(cause) = source {
            exceeded |= cause.to_string().contains("length limit exceeded");
            source = cause.source();
        }
        if exceeded {
            too_large()
        } else {
            Error::invalid_request(format!("Could not read the request body: {e}."), None)
        }
    })
}

/// Parses a create body, naming the parameter at fault when a field has the wrong type.
#[cfg(test)]
fn parse(bytes: &[u8]) -> Result<CreateResponse, Error> {
    parse_as(bytes)
}

/// Parses a JSON body, naming the parameter at fault when a field has the wrong type.
pub(crate) fn parse_as<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // The path is tracked only once a body has failed: tracking it wraps every value's
    // deserialiser, a cost each valid body would pay for nothing. Parsing is deterministic, so
    // the second pass fails where the first did.
    match serde_json::from_slice(bytes) {
        Ok(parsed) => Ok(parsed),
        Err(_) => parse_tracking_path(bytes),
    }
}

/// [`parse_as`] with the path to the failing value tracked, for the error.
fn parse_tracking_path<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let request: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => Error::invalid_request(
                format!("The request body is not valid JSON: {inner}."),
                None,
            )
            .with_code("invalid_json"),
            Category::Data if path == "." => match duplicate_field(&inner.to_string()) {
                Some(field) => Error::invalid_request(
                    format!("The request body has the key '{field}' more than once."),
                    Some(field),
                )
                .with_code("duplicate_key"),
                None => Error::invalid_request("The request body must be a JSON object.", None)
                    .with_code("invalid_json"),
            },
            Category::Data => {
                let detail = match path.as_str() {
                    "input" => "expected a string or an array of input items".to_string(),
                    "tool_choice" => {
                        "expected \"none\", \"auto\", \"required\" or an object".to_string()
                    }
                    _ => strip_position(&inner.to_string()),
                };
                Error::invalid_request(format!("Invalid type for '{path}': {detail}."), Some(&path))
                    .with_code("invalid_type")
            }
        }
    })?;
    deserializer.end().map_err(|e| {
        Error::invalid_request(format!("The request body is not valid JSON: {e}."), None)
            .with_code("invalid_json")
    })?;
    Ok(request)
}

/// The field serde names in "duplicate field `model`".
fn duplicate_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("duplicate field `")?;
    rest.split_once('`').map(|(field, _)| field)
}

/// serde_json appends " at line 1 column 42", which means nothing to a client.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_parameter() {
        let err = parse(br#"{"model": "m", "input": "x", "temperature": "hot"}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("temperature"));
        assert!(
            err.message.starts_with("Invalid type for 'temperature'"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("line 1"), "{}", err.message);

        let err = parse(br#"{"model": "m", "input": 42}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input"));

        // Items parse leniently; validation names the bad one.
        let parsed =
            parse(br#"{"model": "m", "input": [{"role": "user", "content": 7}]}"#).unwrap();
        let err = switchyard::gateway::validate(&parsed).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[0]"));

        let err = parse(b"{\"model\": ").unwrap_err();
        assert_eq!(err.code.as_deref(), Some("invalid_json"));
        let err = parse(b"[1, 2]").unwrap_err();
        assert_eq!(err.code.as_deref(), Some("invalid_json"));
        let err = parse(br#"{"model": "m"} trailing"#).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("invalid_json"));
    }
}
