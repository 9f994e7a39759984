//! Server-sent event framing, and the stream faults shared by every protocol.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::plan::Faults;
use crate::reply::Reply;

/// Frames `payload` as `event: {name}` + `data: {json}` (Responses style).
pub(crate) fn named<T: Serialize>(name: &str, payload: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_slice(b"event: ");
    buf.put_slice(name.as_bytes());
    buf.put_slice(b"\ndata: ");
    write_json(&mut buf, payload);
    buf.put_slice(b"\n\n");
    buf.freeze()
}

/// Frames `payload` as `data: {json}` (Chat Completions style).
pub(crate) fn data<T: Serialize>(payload: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_slice(b"data: ");
    write_json(&mut buf, payload);
    buf.put_slice(b"\n\n");
    buf.freeze()
}

fn write_json<T: Serialize>(buf: &mut BytesMut, payload: &T) {
    let mut writer = buf.writer();
    // Serialising plain data into memory cannot fail; should a bug make it fail, the frame is
    // left visibly truncated rather than tearing down the server.
    if let Err(err) = serde_json::to_writer(&mut writer, payload) {
        tracing::error!(%err, "failed to serialise a stream event");
    }
}

/// The Chat Completions terminator.
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// Turns the frames of a complete stream into a reply, applying the injected faults:
/// `malformed` inserts `bad_frame` after the first frame, `stall` delays the third frame and
/// `drop` cuts the stream in half and aborts the connection.
pub(crate) fn into_reply(
    mut frames: Vec<Bytes>,
    faults: &Faults,
    bad_frame: &'static [u8],
    headers: Vec<(String, String)>,
) -> Reply {
    if faults.malformed {
        frames.insert(frames.len().min(1), Bytes::from_static(bad_frame));
    }
    let mut then_drop = false;
    if faults.drop {
        frames.truncate((frames.len() / 2).max(1));
        then_drop = true;
    }
    let mut chunks: Vec<(Duration, Bytes)> =
        frames.into_iter().map(|f| (Duration::ZERO, f)).collect();
    if let Some(stall) = faults.stall
        && let Some(chunk) = chunks.get_mut(2)
    {
        chunk.0 = stall;
    }
    Reply::Chunks {
        status: 200,
        headers,
        chunks,
        then_drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn framing() {
        assert_eq!(
            &named("response.created", &json!({"a": 1}))[..],
            b"event: response.created\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(&data(&json!([1]))[..], b"data: [1]\n\n");
    }

    #[test]
    fn faults() {
        let frames: Vec<Bytes> = (0..6).map(|i| Bytes::from(format!("{i}"))).collect();
        let faults = Faults {
            stall: Some(Duration::from_millis(5)),
            drop: true,
            malformed: true,
            midstream_error: false,
        };
        let Reply::Chunks {
            chunks, then_drop, ..
        } = into_reply(frames, &faults, b"bad", vec![])
        else {
            panic!()
        };
        assert!(then_drop);
        let bodies: Vec<&[u8]> = chunks.iter().map(|c| &c.1[..]).collect();
        assert_eq!(bodies, vec![&b"0"[..], b"bad", b"1"]);
        assert_eq!(chunks[2].0, Duration::from_millis(5));
    }
}
