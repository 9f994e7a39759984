//! Sends a [`Reply`] over HTTP: headers, a streamed body written one chunk per TCP write, and
//! the abrupt endings the tests need.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use bytes::Bytes;

use crate::reply::Reply;
use crate::state::FlightGuard;

/// Turns `reply` into a response. `guard` lives as long as the reply is being sent, so that a
/// client leaving early is counted as a disconnect.
pub(crate) async fn respond(reply: Reply, mut guard: FlightGuard) -> Response<Body> {
    match reply {
        Reply::Hang => loop {
            // Only the client going away (which drops this future, and `guard` with it) ends it.
            std::future::pending::<()>().await;
        },
        Reply::Json {
            status,
            headers,
            body,
        } => {
            guard.finish();
            let body = serde_json::to_vec(&body).unwrap_or_default();
            build(status, headers, "application/json", Body::from(body))
        }
        Reply::Chunks {
            status,
            headers,
            mut chunks,
            then_drop,
        } => {
            // A single immediate chunk is an ordinary body (sent with a content-length).
            if chunks.len() == 1 && chunks[0].0.is_zero() && !then_drop {
                guard.finish();
                let (_, body) = chunks.remove(0);
                return build(status, headers, "text/event-stream", Body::from(body));
            }
            let body = Body::from_stream(chunk_stream(chunks, then_drop, guard));
            build(status, headers, "text/event-stream", body)
        }
    }
}

/// The body of a [`Reply::Chunks`]. Between chunks the stream yields to the runtime so that
/// hyper flushes each chunk as its own write; `then_drop` ends it with an error, which makes
/// hyper close the connection without the final empty chunk.
fn chunk_stream(
    chunks: Vec<(Duration, Bytes)>,
    then_drop: bool,
    guard: FlightGuard,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send {
    struct State {
        chunks: std::vec::IntoIter<(Duration, Bytes)>,
        then_drop: bool,
        guard: FlightGuard,
        first: bool,
        ended: bool,
    }
    let state = State {
        chunks: chunks.into_iter(),
        then_drop,
        guard,
        first: true,
        ended: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        match state.chunks.next() {
            Some((delay, chunk)) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                } else if !state.first {
                    tokio::task::yield_now().await;
                }
                state.first = false;
                Some((Ok(chunk), state))
            }
            None => {
                state.guard.finish();
                if !state.then_drop {
                    return None;
                }
                // Let the last chunk reach the socket before the connection is torn down.
                tokio::task::yield_now().await;
                state.ended = true;
                let abort = io::Error::new(io::ErrorKind::ConnectionAborted, "mock: dropped");
                Some((Err(abort), state))
            }
        }
    })
}

fn build(
    status: u16,
    headers: Vec<(String, String)>,
    default_type: &'static str,
    body: Body,
) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or_else(|_| {
        tracing::warn!(status, "invalid scripted status; answering 500");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let map = response.headers_mut();
    for (name, value) in headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => tracing::warn!(name, value, "skipping an invalid scripted header"),
        }
    }
    if !map.contains_key(CONTENT_TYPE) {
        map.insert(CONTENT_TYPE, HeaderValue::from_static(default_type));
    }
    response
}
