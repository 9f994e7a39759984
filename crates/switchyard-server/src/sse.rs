//! A [`ResponseStream`] as a `text/event-stream` body.

use std::convert::Infallible;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use switchyard::ResponseStream;
use switchyard::sse::encode_event;

/// Encodes each event as `event: {type}\ndata: {json}\n\n`. The body ends after the terminal
/// event; no `[DONE]` is sent (the Responses protocol has none).
pub fn body(stream: ResponseStream) -> Body {
    Body::from_stream(stream.filter_map(|event| async move {
        match serde_json::to_vec(&event) {
            Ok(json) => Some(Ok::<Bytes, Infallible>(encode_event(event.kind(), &json))),
            Err(e) => {
                tracing::error!(error = %e, event = event.kind(), "could not encode a stream event");
                None
            }
        }
    }))
}
