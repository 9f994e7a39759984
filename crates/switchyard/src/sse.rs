//! Server-sent events: bytes in, frames out (decoding), and frames out to bytes (encoding).
//!
//! Hand-written rather than taken from `eventsource-stream`: that crate is a `Stream` adapter
//! (we need a pure push decoder that provider state machines and tests can feed byte slices),
//! it copies the remaining buffer for every line it consumes (quadratic on large reads), and it
//! pulls in `nom`. The WHATWG rules implemented here are short: lines end in `\n`, `\r\n` or
//! `\r` (a `\r` at the end of one read may pair with a `\n` at the start of the next); a line
//! starting with `:` is a comment; `data` lines are joined with `\n`; an empty line dispatches
//! the event; events without data are dropped. Invalid UTF-8 is replaced, never fatal: the JSON
//! parser downstream reports anything that matters.

use bytes::{BufMut, Bytes, BytesMut};

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseFrame {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
}

/// Incremental SSE decoder.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes not yet forming a complete line.
    pending: Vec<u8>,
    /// The previous read ended in `\r`: a leading `\n` in the next read belongs to it.
    skip_lf: bool,
    /// The byte-order mark has been checked.
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes, calling `on_frame` for every event completed by them. Each byte is scanned
    /// once, however the stream is split.
    pub fn feed(&mut self, mut chunk: &[u8], mut on_frame: impl FnMut(SseFrame)) {
        if self.skip_lf && !chunk.is_empty() {
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.skip_lf = false;
        }
        if !self.pending.is_empty() {
            // Complete the partial line left by the previous read before scanning the rest.
            let Some(pos) = memchr::memchr2(b'\n', b'\r', chunk) else {
                self.pending.extend_from_slice(chunk);
                return;
            };
            self.pending.extend_from_slice(&chunk[..pos]);
            chunk = self.after_terminator(chunk, pos);
            let line = std::mem::take(&mut self.pending);
            if let Some(frame) = self.line(&line) {
                on_frame(frame);
            }
        }
        let mut start = 0;
        // memchr's vectorised search: a byte-at-a-time scan was a tenth of a relayed
        // stream's decoding.
        while let Some(offset) = memchr::memchr2(b'\n', b'\r', &chunk[start..]) {
            let end = start + offset;
            let rest = self.after_terminator(&chunk[start..], offset);
            let line = &chunk[start..end];
            start = chunk.len() - rest.len();
            if let Some(frame) = self.line(line) {
                on_frame(frame);
            }
        }
        self.pending.extend_from_slice(&chunk[start..]);
    }

    /// The bytes after the line terminator at `pos` (a `\r\n` pair counts as one); a `\r` that
    /// ends the read may pair with a `\n` starting the next one.
    fn after_terminator<'a>(&mut self, buf: &'a [u8], pos: usize) -> &'a [u8] {
        let rest = &buf[pos + 1..];
        if buf[pos] == b'\r' {
            match rest.first() {
                Some(b'\n') => return &rest[1..],
                None => self.skip_lf = true,
                Some(_) => {}
            }
        }
        rest
    }

    /// Handles one complete line; returns the event an empty line dispatches.
    fn line(&mut self, mut line: &[u8]) -> Option<SseFrame> {
        if !self.started {
            self.started = true;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                // Valid UTF-8, the usual case, is checked by the fast validator; only
                // invalid text takes the slower replacing path.
                match std::str::from_utf8(value) {
                    Ok(text) => self.data.push_str(text),
                    Err(_) => self.data.push_str(&String::from_utf8_lossy(value)),
                }
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {} // `id`, `retry` and unknown fields carry nothing the gateway uses.
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseFrame> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseFrame {
            event,
            data: std::mem::take(&mut self.data),
        })
    }

    /// Ends the stream: a final event whose blank line never came is still delivered (some
    /// servers end the body right after the last `data:` line).
    pub fn finish(&mut self) -> Option<SseFrame> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            if let Some(frame) = self.line(&line) {
                return Some(frame);
            }
        }
        self.dispatch()
    }
}

/// Encodes one event as `event: {name}\ndata: {json}\n\n`.
pub fn encode_event(name: &str, json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(name.len() + json.len() + 16);
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(json);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// A comment line that keeps idle connections open without being an event.
pub const KEEPALIVE_COMMENT: &[u8] = b": keepalive\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], cuts: &[usize]) -> Vec<SseFrame> {
        let mut decoder = SseDecoder::new();
        let mut frames = Vec::new();
        let mut last = 0;
        for &cut in cuts {
            decoder.feed(&body[last..cut], |f| frames.push(f));
            last = cut;
        }
        decoder.feed(&body[last..], |f| frames.push(f));
        frames.extend(decoder.finish());
        frames
    }

    #[test]
    fn framing_variants() {
        let body = "event: a\ndata: {\"x\":1}\n\n: comment\r\ndata: two\r\ndata: lines\r\n\r\ndata: cr\r\rdata: [DONE]\n\n";
        let frames = decode_in_pieces(body.as_bytes(), &[]);
        assert_eq!(
            frames,
            vec![
                SseFrame {
                    event: Some("a".into()),
                    data: "{\"x\":1}".into()
                },
                SseFrame {
                    event: None,
                    data: "two\nlines".into()
                },
                SseFrame {
                    event: None,
                    data: "cr".into()
                },
                SseFrame {
                    event: None,
                    data: "[DONE]".into()
                },
            ]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_frames() {
        let body = "\u{FEFF}event: response.output_text.delta\r\ndata: {\"delta\":\"héllo ✓\"}\r\n\r\n: OPENROUTER PROCESSING\n\ndata: last\n\n".as_bytes();
        let whole = decode_in_pieces(body, &[]);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].data, "{\"delta\":\"héllo ✓\"}");
        for a in 0..body.len() {
            for b in a..body.len() {
                assert_eq!(decode_in_pieces(body, &[a, b]), whole, "cuts {a},{b}");
            }
        }
    }

    #[test]
    fn final_event_without_blank_line_is_delivered() {
        let frames = decode_in_pieces(b"data: a\n\ndata: b", &[]);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].data, "b");
    }

    #[test]
    fn events_without_data_are_dropped() {
        assert!(decode_in_pieces(b"event: ping\n\n", &[]).is_empty());
    }

    #[test]
    fn encodes_one_line_per_field() {
        assert_eq!(
            &encode_event("response.created", b"{}")[..],
            b"event: response.created\ndata: {}\n\n"
        );
    }
}
