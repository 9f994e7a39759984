//! A [`ResponseStream`] as a `text/event-stream` body.

use std::convert::Infallible;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use switchyard::ResponseStream;
use switchyard::sse::encode_event;

/// Encodes each event as `event: {type}\ndata: {json}\n\n`. The body ends after the terminal
/// event; no `[DONE]` is sent (the Responses protocol has none).
///
/// Events that are ready together (one upstream read often yields several) go out in one
/// write rather than one write each.
pub fn body(stream: ResponseStream) -> Body {
    Body::from_stream(stream.ready_chunks(64).map(|events| {
        let mut out = BytesMut::new();
        for event in events {
            match serde_json::to_vec(&event) {
                Ok(json) => out.extend_from_slice(&encode_event(event.kind(), &json)),
                Err(e) => {
                    tracing::error!(error = %e, event = event.kind(), "could not encode a stream event")
                }
            }
        }
        Ok::<Bytes, Infallible>(out.freeze())
    }))
}
