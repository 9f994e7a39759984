//! Bedrock's wire formats: the Converse JSON answer, ConverseStream event stream frames, and
//! errors with `x-amzn-ErrorType`, as the Bedrock runtime API reference documents them.

use std::time::Duration;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::ids;
use crate::plan::{Answer, Call, Finish, Plan, Tokens};
use crate::reply::Reply;
use crate::split;

/// The suffix of every `x-amzn-ErrorType` value.
pub(crate) const CORAL: &str = ":http://internal.amazon.com/coral/com.amazon.bedrock/";

const EVENTSTREAM: &str = "application/vnd.amazon.eventstream";

/// An HTTP error the way Bedrock sends one.
pub(crate) fn exception_reply(status: u16, exception: &str, message: &str) -> Reply {
    Reply::error(status, json!({"message": message}))
        .with_header("x-amzn-errortype", &format!("{exception}{CORAL}"))
        .with_header("x-amzn-requestid", &ids::uuid())
}

/// The reply for `[[mock:error=CODE]]`, in Bedrock's exceptions.
pub(crate) fn directive_error(code: &str) -> Reply {
    let (status, exception, message) = match code {
        "400" => (
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
        ),
        "401" => (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        "403" => (
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        "404" => (
            404,
            "ResourceNotFoundException",
            "This model version has reached the end of its life. Please refer to the AWS documentation for more details.",
        ),
        "429" => (
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        "500" => (
            500,
            "InternalServerException",
            "The system encountered an unexpected error during processing. Try your request again.",
        ),
        "503" | "529" => (
            503,
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
        "context" => (
            400,
            "ValidationException",
            "Input is too long for requested model.",
        ),
        other => match other.parse::<u16>().ok().filter(|s| (400..600).contains(s)) {
            Some(status) if status >= 500 => (
                status,
                "InternalServerException",
                "switchyard-mock: server error",
            ),
            Some(status) => (
                status,
                "ValidationException",
                "switchyard-mock: client error",
            ),
            None => (
                400,
                "ValidationException",
                "switchyard-mock: unknown error directive",
            ),
        },
    };
    exception_reply(status, exception, message)
}

/// `"p"` padding of a length that varies from event to event, as Bedrock adds.
fn padding() -> String {
    const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    ALPHABET[..fastrand::usize(1..ALPHABET.len())].to_string()
}

fn encode(headers: Vec<Header>, payload: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(err) = write_message_to(&Message::new_from_parts(headers, payload), &mut out) {
        tracing::error!(%err, "failed to encode an event stream message");
    }
    out
}

fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_string().into()))
}

/// One event frame: `:event-type`, `:content-type`, `:message-type` and a padded payload.
pub(crate) fn event_frame(kind: &str, mut payload: Value) -> Vec<u8> {
    if let Value::Object(map) = &mut payload {
        map.insert("p".into(), json!(padding()));
    }
    encode(
        vec![
            string_header(":event-type", kind),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        payload.to_string().into_bytes(),
    )
}

/// One exception frame (`:message-type: exception`).
pub(crate) fn exception_frame(kind: &str, message: &str) -> Vec<u8> {
    encode(
        vec![
            string_header(":exception-type", kind),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        json!({"message": message}).to_string().into_bytes(),
    )
}

/// Cuts a byte stream into HTTP chunks of awkward sizes, so frames (and their preludes) straddle
/// chunk boundaries.
pub(crate) fn chunked(bytes: &[u8]) -> Vec<Bytes> {
    const SIZES: &[usize] = &[37, 5, 101, 13, 64, 1, 200, 9];
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let end = (at + SIZES[i % SIZES.len()]).min(bytes.len());
        out.push(Bytes::copy_from_slice(&bytes[at..end]));
        at = end;
        i += 1;
    }
    out
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

/// Bedrock's accounting: `inputTokens` excludes cache reads.
fn usage(t: &Tokens, with_cache_fields: bool) -> Value {
    let mut usage = json!({"inputTokens": t.input.saturating_sub(t.cached),
        "outputTokens": t.output, "totalTokens": t.total()});
    if with_cache_fields || t.cached > 0 {
        usage["cacheReadInputTokens"] = json!(t.cached);
        usage["cacheReadInputTokenCount"] = json!(t.cached);
        usage["cacheWriteInputTokens"] = json!(0);
        usage["cacheWriteInputTokenCount"] = json!(0);
    }
    usage
}

fn signature() -> String {
    format!("EqQBCkYIBxABGAIiQ{}", ids::alnum(48))
}

fn tool_use_id() -> String {
    format!("tooluse_{}", ids::alnum(22))
}

fn answer_text(plan: &Plan) -> Option<&str> {
    match &plan.answer {
        Answer::Text(text) | Answer::Refusal(text) => Some(text),
        Answer::Calls(_) => None,
    }
}

fn calls(plan: &Plan) -> &[Call] {
    match &plan.answer {
        Answer::Calls(calls) => calls,
        _ => &[],
    }
}

fn tool_input(call: &Call) -> Value {
    serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}))
}

/// The non-streamed Converse answer.
pub(crate) fn json(plan: &Plan, request_id: (String, String)) -> Reply {
    let mut content = Vec::new();
    if let Some(reasoning) = &plan.reasoning {
        content.push(json!({"reasoningContent": {"reasoningText": {"text": reasoning, "signature": signature()}}}));
    }
    if let Some(text) = answer_text(plan) {
        content.push(json!({"text": text}));
    }
    for call in calls(plan) {
        content.push(json!({"toolUse": {"toolUseId": tool_use_id(), "name": call.name, "input": tool_input(call), "type": "tool_use"}}));
    }
    let body = json!({
        "metrics": {"latencyMs": 123},
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(plan.finish),
        "usage": usage(&plan.tokens, true),
    });
    Reply::json(body).with_header(&request_id.0, &request_id.1)
}

/// The ConverseStream answer, with the plan's faults.
pub(crate) fn stream(plan: &Plan, request_id: (String, String)) -> Reply {
    let mut frames = vec![event_frame("messageStart", json!({"role": "assistant"}))];
    let mut index = 0;
    if let Some(reasoning) = &plan.reasoning {
        for piece in split::words(reasoning) {
            frames.push(event_frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": index,
                "delta": {"reasoningContent": {"text": piece}}}),
            ));
        }
        frames.push(event_frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": index,
            "delta": {"reasoningContent": {"signature": signature()}}}),
        ));
        frames.push(event_frame(
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        ));
        index += 1;
    }
    if let Some(text) = answer_text(plan) {
        for piece in split::words(text) {
            frames.push(event_frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": index,
                "delta": {"text": piece}}),
            ));
        }
        frames.push(event_frame(
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        ));
        index += 1;
    }
    for call in calls(plan) {
        frames.push(event_frame(
            "contentBlockStart",
            json!({"contentBlockIndex": index,
            "start": {"toolUse": {"name": call.name, "toolUseId": tool_use_id()}}}),
        ));
        let arguments = tool_input(call).to_string();
        for piece in split::fragments(&arguments) {
            frames.push(event_frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": index,
                "delta": {"toolUse": {"input": piece}}}),
            ));
        }
        frames.push(event_frame(
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        ));
        index += 1;
    }
    frames.push(event_frame(
        "messageStop",
        json!({"stopReason": stop_reason(plan.finish)}),
    ));
    frames.push(event_frame(
        "metadata",
        json!({"metrics": {"latencyMs": 123},
        "usage": usage(&plan.tokens, false)}),
    ));

    let faults = &plan.faults;
    if faults.midstream_error {
        // After the first delta: an exception frame, and nothing more.
        frames.truncate(2.min(frames.len()));
        frames.push(exception_frame(
            "internalServerException",
            "The system encountered an unexpected error during processing. Try your request again.",
        ));
    }
    if faults.malformed {
        // A frame whose message CRC does not match its bytes.
        let mut bad = event_frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "x"}}),
        );
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        frames.insert(1, bad);
    }
    let bytes = frames.concat();
    let mut chunks: Vec<(Duration, Bytes)> = chunked(&bytes)
        .into_iter()
        .map(|c| (Duration::ZERO, c))
        .collect();
    let mut then_drop = false;
    if faults.drop {
        chunks.truncate((chunks.len() / 2).max(1));
        then_drop = true;
    }
    if let Some(stall) = faults.stall
        && let Some(chunk) = chunks.get_mut(2)
    {
        chunk.0 = stall;
    }
    Reply::Chunks {
        status: 200,
        headers: vec![("content-type".into(), EVENTSTREAM.into()), request_id],
        chunks,
        then_drop,
    }
}

/// A stream of the given events (`(event type, payload)`), optionally ended by an exception
/// frame instead of normally, cut into awkward chunks.
pub(crate) fn scripted_stream(
    events: Vec<(String, Value)>,
    exception: Option<(&str, &str)>,
) -> Reply {
    let mut bytes: Vec<u8> = events
        .into_iter()
        .flat_map(|(kind, payload)| event_frame(&kind, payload))
        .collect();
    if let Some((kind, message)) = exception {
        bytes.extend(exception_frame(kind, message));
    }
    Reply::Chunks {
        status: 200,
        headers: vec![("content-type".into(), EVENTSTREAM.into())],
        chunks: chunked(&bytes)
            .into_iter()
            .map(|c| (Duration::ZERO, c))
            .collect(),
        then_drop: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    use bytes::BytesMut;

    fn decode_all(chunks: &[(Duration, Bytes)]) -> Vec<Message> {
        let mut decoder = MessageFrameDecoder::new();
        let mut buffer = BytesMut::new();
        let mut out = Vec::new();
        for (_, chunk) in chunks {
            buffer.extend_from_slice(chunk);
            while let DecodedFrame::Complete(m) = decoder.decode_frame(&mut buffer).unwrap() {
                out.push(m);
            }
        }
        assert!(buffer.is_empty());
        out
    }

    fn header(m: &Message, name: &str) -> String {
        m.headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .map(|h| h.value().as_string().unwrap().as_str().to_string())
            .unwrap()
    }

    #[test]
    fn streams_decode_with_crc_checks_and_padding() {
        let mut plan = Plan::call("get_weather", r#"{"city":"Paris"}"#);
        plan.reasoning = Some("Thinking about it.".into());
        let Reply::Chunks {
            chunks, headers, ..
        } = stream(&plan, ("x-amzn-requestid".into(), "r".into()))
        else {
            panic!()
        };
        assert!(headers.contains(&("content-type".into(), EVENTSTREAM.into())));
        // Frames straddle chunks: there are more chunks than frames and sizes vary.
        let messages = decode_all(&chunks);
        assert!(chunks.len() > messages.len() / 2);
        let kinds: Vec<String> = messages.iter().map(|m| header(m, ":event-type")).collect();
        assert_eq!(kinds.first().map(String::as_str), Some("messageStart"));
        assert_eq!(&kinds[kinds.len() - 2..], ["messageStop", "metadata"]);
        assert!(kinds.contains(&"contentBlockStart".to_string()));
        for m in &messages {
            assert_eq!(header(m, ":message-type"), "event");
            assert_eq!(header(m, ":content-type"), "application/json");
            let payload: Value = serde_json::from_slice(m.payload()).unwrap();
            assert!(payload["p"].is_string());
        }
        let stop: Value = serde_json::from_slice(messages[messages.len() - 2].payload()).unwrap();
        assert_eq!(stop["stopReason"], "tool_use");
    }

    #[test]
    fn midstream_error_is_an_exception_frame() {
        let mut plan = Plan::text("hello there friend");
        plan.faults.midstream_error = true;
        let Reply::Chunks { chunks, .. } = stream(&plan, ("a".into(), "b".into())) else {
            panic!()
        };
        let messages = decode_all(&chunks);
        let last = messages.last().unwrap();
        assert_eq!(header(last, ":message-type"), "exception");
        assert_eq!(header(last, ":exception-type"), "internalServerException");
    }

    #[test]
    fn errors_carry_the_exception_name() {
        let Reply::Json {
            status,
            headers,
            body,
        } = directive_error("429")
        else {
            panic!()
        };
        assert_eq!(status, 429);
        assert!(headers.iter().any(|(k, v)| k == "x-amzn-errortype"
            && v.starts_with("ThrottlingException:http://internal.amazon.com/coral/")));
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("Too many requests")
        );
        let Reply::Json { status, body, .. } = directive_error("context") else {
            panic!()
        };
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Input is too long for requested model.");
    }
}
