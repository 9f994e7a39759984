//! What the decoders of upstream answers share: reading server-sent events frame by frame,
//! closing a tool call, and the error for a stream cut short.

use crate::error::{Error, ErrorKind};
use crate::providers::Upstream;
use crate::sse::{SseDecoder, SseFrame};
use crate::stream::StreamEvent;

use super::tools::custom_tool_input;

/// A decoder of an answer streamed as server-sent events, one frame at a time.
pub(crate) trait SseAnswer {
    /// The decoder's frame splitter.
    fn sse(&mut self) -> &mut SseDecoder;
    /// Decodes one frame.
    fn frame(&mut self, frame: SseFrame, out: &mut Vec<Upstream>) -> Result<(), Error>;
}

/// Decodes every frame `chunk` completes.
pub(crate) fn feed_sse(
    answer: &mut impl SseAnswer,
    chunk: &[u8],
    out: &mut Vec<Upstream>,
) -> Result<(), Error> {
    let mut frames = Vec::new();
    answer.sse().feed(chunk, |frame| frames.push(frame));
    for frame in frames {
        answer.frame(frame, out)?;
    }
    Ok(())
}

/// Decodes the frame the end of the stream completes, if any.
pub(crate) fn finish_sse(
    answer: &mut impl SseAnswer,
    out: &mut Vec<Upstream>,
) -> Result<(), Error> {
    match answer.sse().finish() {
        Some(frame) => answer.frame(frame, out),
        None => Ok(()),
    }
}

/// The upstream `label` ended its stream before the answer was whole.
pub(crate) fn closed_early(label: &str) -> Error {
    Error::upstream(
        ErrorKind::Upstream,
        format!("{label} closed the stream before the answer was complete"),
    )
}

/// Ends a tool call: a custom tool's collected arguments become its freeform input, and a
/// call that streamed no arguments gets `{}` (Responses wants a JSON object).
pub(crate) fn end_tool_call(
    custom_arguments: Option<String>,
    arguments_sent: bool,
    out: &mut Vec<Upstream>,
) {
    match custom_arguments {
        Some(arguments) => {
            let input = custom_tool_input(arguments);
            out.push(Upstream::Event(StreamEvent::ToolCallDelta(input)));
        }
        None if !arguments_sent => {
            out.push(Upstream::Event(StreamEvent::ToolCallDelta("{}".into())));
        }
        None => {}
    }
    out.push(Upstream::Event(StreamEvent::ItemDone));
}
