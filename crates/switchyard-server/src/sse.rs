//! A [`ResponseStream`] as a `text/event-stream` body.

use std::convert::Infallible;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use switchyard::ResponseStream;
use switchyard_types::responses::ResponseStreamEvent;

/// A write closes once it holds this much, even if more events are ready.
const MAX_WRITE: usize = 64 * 1024;

/// The first allocation of a write.
const WRITE_CAPACITY: usize = 4096;

/// Scheduler turns to wait for an event that the upstream connection has already received.
/// Its bytes pass through hyper's connection task and reqwest's body on their way here; with
/// one turn a burst still went out one event per write, with three it went out in one
/// (measured: 17 writes per 20-event stream → 1, and 49 % more streams/s); more change nothing.
const HANDOVER_TURNS: usize = 3;

/// Encodes each event as `event: {type}\ndata: {json}\n\n`. The body ends after the terminal
/// event; no `[DONE]` is sent (the Responses protocol has none).
///
/// Events that are ready together go out in one write rather than one write each. An upstream
/// often sends several events in one packet, but the HTTP client hands them over one chunk per
/// task switch: before writing, the stream gives those tasks a few turns (`yield_now`) and
/// takes whatever they deliver. A write per event would cost the gateway and the client a
/// system call and a wake-up each; the turns cost microseconds, and no event ever waits for
/// one that has not arrived.
pub fn body(stream: ResponseStream) -> Body {
    let writes = futures_util::stream::unfold(Some(stream), |stream| async move {
        let mut stream = stream?;
        let first = stream.next().await?;
        // Most writes are a few events of a few hundred bytes; a relayed lifecycle event
        // (the whole response) is a kilobyte or more.
        let mut out = BytesMut::with_capacity(WRITE_CAPACITY);
        encode(&mut out, &first, &stream);
        let mut ended = false;
        'fill: while out.len() < MAX_WRITE {
            // Everything ready now. `now_or_never` polls without a waker to keep; the next
            // round polls again with a real one before waiting, so no wake-up is lost.
            while let Some(next) = stream.next().now_or_never() {
                match next {
                    Some(event) => encode(&mut out, &event, &stream),
                    None => {
                        ended = true;
                        break 'fill;
                    }
                }
                if out.len() >= MAX_WRITE {
                    break 'fill;
                }
            }
            // Nothing ready: give the tasks between us and the upstream socket a few turns.
            for _ in 0..HANDOVER_TURNS {
                tokio::task::yield_now().await;
                match stream.next().now_or_never() {
                    Some(Some(event)) => {
                        encode(&mut out, &event, &stream);
                        continue 'fill;
                    }
                    Some(None) => {
                        ended = true;
                        break 'fill;
                    }
                    None => {}
                }
            }
            break;
        }
        Some((
            Ok::<Bytes, Infallible>(out.freeze()),
            (!ended).then_some(stream),
        ))
    });
    Body::from_stream(writes)
}

/// Appends `event: {type}\ndata: {json}\n\n` to the write, the JSON serialised in place (no
/// buffer of its own per event); an event that cannot be serialised leaves nothing behind.
/// The terminal event's response is written from the bytes the store serialised, when the
/// stream has them ([`ResponseStream::terminal_response_json`]) and the event carries nothing
/// else that [`encode_lifecycle`] would leave out.
fn encode(out: &mut BytesMut, event: &ResponseStreamEvent, stream: &ResponseStream) {
    let terminal = match (event.is_terminal(), event.lifecycle()) {
        (true, Some(lifecycle)) if lifecycle.extra.is_empty() => stream
            .terminal_response_json()
            .map(|json| (lifecycle, json)),
        _ => None,
    };
    match terminal {
        Some((lifecycle, json)) => {
            encode_lifecycle(out, event.kind(), lifecycle.sequence_number, &json)
        }
        None => encode_serialised(out, event),
    }
}

/// The JSON serde writes for a lifecycle event with nothing beside its sequence number and
/// its response, given the response's own JSON.
fn encode_lifecycle(out: &mut BytesMut, kind: &str, sequence_number: u64, response: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: {\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"sequence_number\":");
    // Writing to a BytesMut cannot fail.
    let _ = std::fmt::Write::write_fmt(out, format_args!("{sequence_number}"));
    out.extend_from_slice(b",\"response\":");
    out.extend_from_slice(response);
    out.extend_from_slice(b"}\n\n");
}

fn encode_serialised(out: &mut BytesMut, event: &ResponseStreamEvent) {
    let start = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.kind().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    match serde_json::to_writer((&mut *out).writer(), event) {
        Ok(()) => out.extend_from_slice(b"\n\n"),
        Err(e) => {
            out.truncate(start);
            tracing::error!(error = %e, event = event.kind(), "could not encode a stream event")
        }
    }
}

/// A `text/event-stream` answer of `stream`, with the headers that keep proxies from buffering
/// it.
pub fn response(stream: ResponseStream) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::{HeaderValue, StatusCode, header};
    let mut headers = http::HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    (StatusCode::OK, headers, body(stream)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_types::responses::{LifecycleEvent, Response, ResponseStatus};

    /// The terminal event written from the stored response's bytes is, byte for byte, the
    /// event serde writes.
    #[test]
    fn a_terminal_event_from_stored_bytes_is_the_serialised_event() {
        let response = Response {
            id: "resp_1".into(),
            model: "gpt-x".into(),
            status: ResponseStatus::Completed,
            previous_response_id: Some("resp_0 \"quoted\"".into()),
            ..Response::default()
        };
        let json = response.to_json().unwrap();
        for sequence_number in [0, 7, 12_345] {
            let lifecycle = LifecycleEvent {
                sequence_number,
                response: Box::new(response.clone()),
                extra: Default::default(),
            };
            for event in [
                ResponseStreamEvent::Completed(lifecycle.clone()),
                ResponseStreamEvent::Incomplete(lifecycle.clone()),
                ResponseStreamEvent::Failed(lifecycle),
            ] {
                let mut serialised = BytesMut::new();
                encode_serialised(&mut serialised, &event);
                let mut from_bytes = BytesMut::new();
                encode_lifecycle(&mut from_bytes, event.kind(), sequence_number, &json);
                assert_eq!(
                    String::from_utf8_lossy(&from_bytes),
                    String::from_utf8_lossy(&serialised)
                );
            }
        }
    }
}
