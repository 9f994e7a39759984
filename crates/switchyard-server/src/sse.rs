//! A [`ResponseStream`] as a `text/event-stream` body.

use std::convert::Infallible;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use switchyard::ResponseStream;
use switchyard_types::responses::{Response, ResponseStreamEvent};

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
    let writes =
        futures_util::stream::unfold(Some((stream, Encoder::default())), |state| async move {
            let (mut stream, mut encoder) = state?;
            let first = stream.next().await?;
            // Most writes are a few events of a few hundred bytes; a relayed lifecycle event
            // (the whole response) is a kilobyte or more.
            let mut out = BytesMut::with_capacity(WRITE_CAPACITY);
            encoder.encode(&mut out, first, &stream);
            let mut ended = false;
            'fill: while out.len() < MAX_WRITE {
                // Everything ready now. `now_or_never` polls without a waker to keep; the next
                // round polls again with a real one before waiting, so no wake-up is lost.
                while let Some(next) = stream.next().now_or_never() {
                    match next {
                        Some(event) => encoder.encode(&mut out, event, &stream),
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
                            encoder.encode(&mut out, event, &stream);
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
                (!ended).then_some((stream, encoder)),
            ))
        });
    Body::from_stream(writes)
}

/// Writes one stream's events, remembering the JSON of the last non-terminal lifecycle
/// event's response until the first other event: `response.created` and
/// `response.in_progress` (and `.queued`) usually carry the same response, which is then
/// serialised once (comparing two responses costs far less than serialising one).
#[derive(Default)]
struct Encoder {
    lifecycle: Option<(Box<Response>, Vec<u8>)>,
}

impl Encoder {
    /// Appends `event: {type}\ndata: {json}\n\n` to the write, the JSON serialised in place
    /// (no buffer of its own per event); an event that cannot be serialised leaves nothing
    /// behind. A lifecycle event with nothing beside its sequence number and response is
    /// written around bytes already serialised when there are some: for the terminal event
    /// the store's ([`ResponseStream::terminal_response_json`]), for the others those of the
    /// previous lifecycle event when the response is the same.
    fn encode(&mut self, out: &mut BytesMut, event: ResponseStreamEvent, stream: &ResponseStream) {
        if event.is_terminal() {
            match (event.lifecycle(), stream.terminal_response_json()) {
                (Some(lifecycle), Some(json)) if lifecycle.extra.is_empty() => {
                    encode_lifecycle(out, event.kind(), lifecycle.sequence_number, &json)
                }
                _ => encode_serialised(out, &event),
            }
            return;
        }
        self.encode_open(out, event);
    }

    /// [`Self::encode`] for an event other than the terminal one.
    fn encode_open(&mut self, out: &mut BytesMut, event: ResponseStreamEvent) {
        match event.lifecycle() {
            None => {
                // The opening events are over: a stream held open for minutes keeps no copy.
                self.lifecycle = None;
                return encode_serialised(out, &event);
            }
            Some(lifecycle) if !lifecycle.extra.is_empty() => {
                return encode_serialised(out, &event);
            }
            Some(_) => {}
        }
        let (kind, lifecycle) = match event {
            ResponseStreamEvent::Created(l) => ("response.created", l),
            ResponseStreamEvent::Queued(l) => ("response.queued", l),
            ResponseStreamEvent::InProgress(l) => ("response.in_progress", l),
            other => return encode_serialised(out, &other),
        };
        if let Some((response, json)) = &self.lifecycle
            && **response == *lifecycle.response
        {
            return encode_lifecycle(out, kind, lifecycle.sequence_number, json);
        }
        match serde_json::to_vec(&lifecycle.response) {
            Ok(json) => {
                encode_lifecycle(out, kind, lifecycle.sequence_number, &json);
                self.lifecycle = Some((lifecycle.response, json));
            }
            Err(e) => tracing::error!(error = %e, event = kind, "could not encode a stream event"),
        }
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

    /// Lifecycle events that carry the same response share one serialisation; one whose
    /// response changed, or that carries fields of its own, is serialised afresh. Every write
    /// is, byte for byte, the event serde writes.
    #[test]
    fn open_lifecycle_events_reuse_the_previous_json_only_for_the_same_response() {
        let queued = Response {
            id: "resp_1".into(),
            status: ResponseStatus::Queued,
            instructions: Some("say \"hi\"".into()),
            ..Response::default()
        };
        let running = Response {
            status: ResponseStatus::InProgress,
            ..queued.clone()
        };
        let lifecycle = |sequence_number, response: &Response| LifecycleEvent {
            sequence_number,
            response: Box::new(response.clone()),
            extra: Default::default(),
        };
        let mut with_extra = lifecycle(4, &running);
        with_extra.extra.insert("note".into(), "kept".into());
        let events = [
            ResponseStreamEvent::Created(lifecycle(0, &queued)),
            ResponseStreamEvent::Queued(lifecycle(1, &queued)),
            ResponseStreamEvent::InProgress(lifecycle(2, &running)),
            ResponseStreamEvent::InProgress(lifecycle(3, &running)),
            ResponseStreamEvent::InProgress(with_extra),
            ResponseStreamEvent::InProgress(lifecycle(5, &queued)),
        ];
        let mut encoder = Encoder::default();
        for event in events {
            let mut serialised = BytesMut::new();
            encode_serialised(&mut serialised, &event);
            let mut encoded = BytesMut::new();
            encoder.encode_open(&mut encoded, event);
            assert_eq!(
                String::from_utf8_lossy(&encoded),
                String::from_utf8_lossy(&serialised)
            );
        }
        let (response, json) = encoder
            .lifecycle
            .as_ref()
            .expect("a response was remembered");
        assert_eq!(**response, queued);
        assert_eq!(*json, queued.to_json().unwrap());
        let keepalive = serde_json::from_value(serde_json::json!({"type": "keepalive"})).unwrap();
        encoder.encode_open(&mut BytesMut::new(), keepalive);
        assert!(
            encoder.lifecycle.is_none(),
            "nothing kept past the opening events"
        );
    }
}
