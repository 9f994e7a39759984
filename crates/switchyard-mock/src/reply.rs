//! Scripted replies: what a test queues with [`MockServer::enqueue`](crate::MockServer::enqueue),
//! and the builders for the common cases.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::chat::{self, ChatCtx};
use crate::plan::Plan;
use crate::responses::{self, ResponsesCtx};

/// One reply the mock sends instead of consulting its scenario engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A complete JSON body with status and headers (`content-type: application/json` unless
    /// the headers set another).
    Json {
        /// HTTP status code.
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Value,
    },
    /// Raw body bytes sent in the given chunks, each after its delay and in its own TCP write.
    /// `content-type` is `text/event-stream` unless the headers set another. With `then_drop`
    /// the connection is closed abruptly after the last chunk instead of ending the body
    /// cleanly, the way a connection dropped mid-stream looks to the client.
    Chunks {
        /// HTTP status code.
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        /// `(delay before the chunk, chunk)`.
        chunks: Vec<(Duration, Bytes)>,
        /// Abort the connection after the last chunk.
        then_drop: bool,
    },
    /// Never answer: the request is held open until the client goes away.
    Hang,
}

impl Reply {
    /// `200` with a JSON body.
    pub fn json(body: Value) -> Reply {
        Reply::Json {
            status: 200,
            headers: Vec::new(),
            body,
        }
    }

    /// An error status with a JSON body, e.g.
    /// `Reply::error(429, json!({"error": {"message": "slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}))`.
    pub fn error(status: u16, body: Value) -> Reply {
        Reply::Json {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// `200` with a `text/event-stream` body of the given events, each sent as its own chunk.
    /// Every string is one complete SSE event (`"data: {…}"` or `"event: x\ndata: {…}"`); the
    /// blank line that ends it is added when missing.
    pub fn sse(events: impl IntoIterator<Item = impl Into<String>>) -> Reply {
        let frames = events.into_iter().map(|event| {
            let mut event: String = event.into();
            if !event.ends_with("\n\n") {
                event.push_str(if event.ends_with('\n') { "\n" } else { "\n\n" });
            }
            Bytes::from(event)
        });
        Reply::stream(frames.collect())
    }

    /// A Chat Completions stream of the given chunks (`data: {json}` each), ended by
    /// `data: [DONE]`.
    pub fn chat_sse(chunks: impl IntoIterator<Item = Value>) -> Reply {
        let mut events: Vec<String> = chunks.into_iter().map(|c| format!("data: {c}")).collect();
        events.push("data: [DONE]".into());
        Reply::sse(events)
    }

    /// A Responses stream of the given events, framed as `event: {type}` plus `data: {json}`.
    /// Events are sent as given: the caller owns sequence numbers and grammar.
    pub fn responses_sse(events: impl IntoIterator<Item = Value>) -> Reply {
        Reply::sse(events.into_iter().map(|event| {
            let kind = event
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("message");
            format!("event: {kind}\ndata: {event}")
        }))
    }

    /// A complete, grammatical OpenAI Responses stream answering `text` (created, in_progress,
    /// one message item with its deltas, completed with usage).
    pub fn responses_text(text: &str) -> Reply {
        let ctx = ResponsesCtx::canned();
        Reply::stream(responses::stream(&ctx, &Plan::text(text)))
    }

    /// The non-streaming OpenAI Responses `Response` object answering `text`.
    pub fn responses_json(text: &str) -> Reply {
        let ctx = ResponsesCtx::canned();
        Reply::json(responses::object_json(&ctx, &Plan::text(text)))
    }

    /// A complete OpenAI Responses stream in which the model calls function `name` with
    /// `arguments` (JSON text), streamed in fragments.
    pub fn responses_tool_call(name: &str, arguments: &str) -> Reply {
        let ctx = ResponsesCtx::canned();
        Reply::stream(responses::stream(&ctx, &Plan::call(name, arguments)))
    }

    /// A non-streaming OpenAI Chat Completions answer with `text`.
    pub fn chat_text(text: &str) -> Reply {
        Reply::json(chat::completion(&ChatCtx::canned(), &Plan::text(text)))
    }

    /// An OpenAI Chat Completions stream answering `text`: a role chunk, one chunk per word, the
    /// finish chunk, a usage chunk (`choices: []`) and `data: [DONE]`.
    pub fn chat_text_stream(text: &str) -> Reply {
        Reply::stream(chat::stream(&ChatCtx::canned(), &Plan::text(text)))
    }

    /// An OpenAI Chat Completions stream in which the model calls function `name` with
    /// `arguments` (JSON text), streamed in fragments.
    pub fn chat_tool_call_stream(name: &str, arguments: &str) -> Reply {
        Reply::stream(chat::stream(
            &ChatCtx::canned(),
            &Plan::call(name, arguments),
        ))
    }

    /// A Bedrock Converse answer with `text`: the JSON body, or (`stream`) the binary event
    /// stream.
    pub fn bedrock_text(text: &str, stream: bool) -> Reply {
        crate::bedrock::text_reply(text, stream)
    }

    /// A Bedrock error: `status`, `x-amzn-ErrorType: {exception}:http://internal.amazon.com/…`
    /// and `{"message": message}`.
    pub fn bedrock_error(status: u16, exception: &str, message: &str) -> Reply {
        crate::bedrock::exception_reply(status, exception, message)
    }

    /// A ConverseStream body of the given `(event type, payload)` events (padding added), ended
    /// by an exception frame `(exception type, message)` when one is given; cut into awkward
    /// chunks.
    pub fn bedrock_stream(
        events: impl IntoIterator<Item = (String, Value)>,
        exception: Option<(&str, &str)>,
    ) -> Reply {
        crate::bedrock::scripted_stream(events.into_iter().collect(), exception)
    }

    /// Adds a response header (ignored for [`Reply::Hang`]).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Json { headers, .. } | Reply::Chunks { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// Replaces the status code (ignored for [`Reply::Hang`]).
    pub fn with_status(mut self, code: u16) -> Reply {
        if let Reply::Json { status, .. } | Reply::Chunks { status, .. } = &mut self {
            *status = code;
        }
        self
    }

    /// Keeps only the first `n` chunks of a [`Reply::Chunks`] and then drops the connection:
    /// a stream cut off mid-way.
    pub fn truncated(mut self, n: usize) -> Reply {
        if let Reply::Chunks {
            chunks, then_drop, ..
        } = &mut self
        {
            chunks.truncate(n);
            *then_drop = true;
        }
        self
    }

    /// `200` event stream of `frames`, no delays.
    pub(crate) fn stream(frames: Vec<Bytes>) -> Reply {
        Reply::Chunks {
            status: 200,
            headers: Vec::new(),
            chunks: frames.into_iter().map(|f| (Duration::ZERO, f)).collect(),
            then_drop: false,
        }
    }
}
