//! Converse answer → normalized events: the JSON body of `/converse` and the binary
//! `application/vnd.amazon.eventstream` of `/converse-stream` (see the AWS Bedrock Converse
//! and ConverseStream API references).
//!
//! Both shapes go through one block state machine: a complete body is replayed as the stream
//! it would have been (block start, deltas, stop; then the stop reason and usage). Stream
//! quirks handled: text and reasoning blocks have no `contentBlockStart`; every payload carries
//! a random `p` padding field; `messageStop` comes before `metadata`, which holds the usage;
//! a tool without arguments may send no input at all; exceptions arrive as frames after the
//! 200.

use std::collections::HashMap;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Buf, BytesMut};
use serde::Deserialize;
use serde_json::Value;
use switchyard_types::responses::{InputTokensDetails, OutputTokensDetails, Usage};

use super::errors;
use super::request::{BLOB_TAG, ConverseContext, JSON_TOOL, LABEL, ReasoningBlob};
use super::wire::{
    AnswerBlock, AnswerToolUse, BlockDelta, ConverseResponse, EventPayload, ReasoningDelta,
    ToolUseDelta,
};
use crate::error::{Error, ErrorKind};
use crate::providers::translate::answer::{closed_early, end_tool_call};
use crate::providers::{Decoder, Upstream, opaque};
use crate::secret::Secret;
use crate::stream::{FinishReason, StreamEvent, ToolCallKind};

/// The largest eventstream message accepted (AWS caps messages at 16 MiB).
const MAX_FRAME: usize = 16 * 1024 * 1024;
/// Prelude: total length, headers length, prelude CRC.
const PRELUDE: usize = 12;

/// What a content block is, learned from its start or first delta.
#[derive(Debug)]
enum Block {
    Text,
    Reasoning(ReasoningBlob),
    Tool {
        /// Arguments seen so far (to send `{}` for a call that had none).
        any_input: bool,
        /// A custom tool: its wrapped input is collected and unwrapped at the end.
        custom_buffer: Option<String>,
    },
    /// The structured-output tool: its input is the answer text.
    JsonAnswer {
        any_input: bool,
    },
}

/// Decodes a Converse answer.
pub struct ConverseDecoder {
    ctx: ConverseContext,
    secrets: Vec<Secret>,
    buffer: BytesMut,
    frames: MessageFrameDecoder,
    blocks: HashMap<u64, Block>,
    /// The block that last produced output, closed when another one starts.
    open: Option<u64>,
    finish: Option<FinishReason>,
    done: bool,
    /// With structured output, text written before the answer tool (a preamble) is held back:
    /// dropped when the answer tool comes, sent when it does not, so that `output_text` is the
    /// JSON alone.
    held: String,
}

impl ConverseDecoder {
    /// A decoder for an answer to a request translated with `ctx`.
    pub fn new(ctx: ConverseContext, secrets: Vec<Secret>) -> Self {
        ConverseDecoder {
            ctx,
            secrets,
            buffer: BytesMut::new(),
            frames: MessageFrameDecoder::new(),
            blocks: HashMap::new(),
            open: None,
            finish: None,
            done: false,
            held: String::new(),
        }
    }

    fn malformed(&self, what: &str) -> Error {
        Error::upstream(ErrorKind::Upstream, format!("{LABEL} sent {what}"))
    }

    // ----- stream framing -----------------------------------------------------------------

    /// Decodes every whole message in the buffer. The frame decoder is only handed complete
    /// messages (its prelude handling consumes bytes otherwise), which also lets the length be
    /// bounded before anything is buffered without limit.
    fn drain_frames(&mut self, out: &mut Vec<Upstream>) -> Result<(), Error> {
        while self.buffer.len() >= PRELUDE && !self.done {
            let total = u32::from_be_bytes([
                self.buffer[0],
                self.buffer[1],
                self.buffer[2],
                self.buffer[3],
            ]) as usize;
            if !(PRELUDE + 4..=MAX_FRAME).contains(&total) {
                return Err(self.malformed(&format!(
                    "an event stream message of impossible length {total}"
                )));
            }
            if self.buffer.len() < total {
                return Ok(());
            }
            let mut frame = self.buffer.split_to(total);
            let message = match self.frames.decode_frame(&mut frame) {
                Ok(DecodedFrame::Complete(message)) => message,
                Ok(DecodedFrame::Incomplete) => {
                    return Err(self.malformed("an incomplete event stream message"));
                }
                Err(e) => {
                    return Err(self.malformed(&format!("a corrupt event stream message ({e})")));
                }
            };
            debug_assert!(!frame.has_remaining());
            self.message(&message, out)?;
        }
        Ok(())
    }

    fn message(&mut self, message: &Message, out: &mut Vec<Upstream>) -> Result<(), Error> {
        let header = |name: &str| {
            message
                .headers()
                .iter()
                .find(|h| h.name().as_str() == name)
                .and_then(|h| match h.value() {
                    HeaderValue::String(s) => Some(s.as_str().to_string()),
                    _ => None,
                })
        };
        let payload = || serde_json::from_slice::<Value>(message.payload()).unwrap_or(Value::Null);
        match header(":message-type").as_deref() {
            Some("event") => {
                let kind = header(":event-type").unwrap_or_default();
                let payload = EventPayload::deserialize(&payload()).unwrap_or_default();
                self.event(&kind, payload, out)
            }
            Some("exception") => {
                let name = header(":exception-type").unwrap_or_default();
                let body = payload();
                let text = body
                    .get("message")
                    .or_else(|| body.get("Message"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(message.payload()).into_owned());
                let secrets: Vec<&Secret> = self.secrets.iter().collect();
                Err(errors::classify(&name, None, &text, &secrets))
            }
            Some("error") => {
                let code = header(":error-code").unwrap_or_default();
                let text = header(":error-message").unwrap_or_default();
                let secrets: Vec<&Secret> = self.secrets.iter().collect();
                Err(errors::classify(&code, None, &text, &secrets))
            }
            other => {
                tracing::debug!(message_type = ?other, "skipping an unknown event stream message");
                Ok(())
            }
        }
    }

    // ----- events -------------------------------------------------------------------------

    fn event(
        &mut self,
        kind: &str,
        payload: EventPayload,
        out: &mut Vec<Upstream>,
    ) -> Result<(), Error> {
        let index = payload.content_block_index.unwrap_or(0);
        match kind {
            "messageStart" => Ok(()),
            "contentBlockStart" => {
                if let Some(tool) = payload.start.and_then(|s| s.tool_use) {
                    self.start_tool(index, &tool, out);
                }
                Ok(())
            }
            "contentBlockDelta" => {
                self.delta(index, &payload.delta.unwrap_or_default(), out);
                Ok(())
            }
            "contentBlockStop" => {
                self.stop_block(index, out);
                Ok(())
            }
            "messageStop" => self.stop_reason(payload.stop_reason.as_deref().unwrap_or("")),
            "metadata" => {
                if let Some(usage) = &payload.usage {
                    out.push(Upstream::Event(StreamEvent::Usage(converse_usage(usage))));
                }
                // `metadata` is the last event of a stream.
                self.finish(out);
                Ok(())
            }
            other => {
                tracing::debug!(event = other, "skipping an unknown Converse stream event");
                Ok(())
            }
        }
    }

    fn stop_reason(&mut self, reason: &str) -> Result<(), Error> {
        self.finish = Some(match reason {
            "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
            "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
            "malformed_model_output" | "malformed_tool_use" => {
                return Err(Error::upstream(
                    ErrorKind::Upstream,
                    format!("{LABEL} stopped with `{reason}`: the model produced unusable output"),
                ));
            }
            _ => FinishReason::Stop,
        });
        Ok(())
    }

    /// Switches the output to block `index`, closing the one before it.
    fn focus(&mut self, index: u64, out: &mut Vec<Upstream>) {
        if let Some(open) = self.open
            && open != index
        {
            self.stop_block(open, out);
        }
        self.open = Some(index);
    }

    /// Sends text held back, now known not to precede the answer tool, as one message item.
    fn release_held(&mut self, out: &mut Vec<Upstream>) {
        if !self.held.is_empty() {
            let text = std::mem::take(&mut self.held);
            out.push(Upstream::Event(StreamEvent::TextDelta(text)));
            out.push(Upstream::Event(StreamEvent::ItemDone));
        }
    }

    fn start_tool(&mut self, index: u64, tool: &AnswerToolUse, out: &mut Vec<Upstream>) {
        self.focus(index, out);
        let name = tool.name.as_deref().unwrap_or_default();
        if self.ctx.json_tool && name == JSON_TOOL {
            if !self.held.is_empty() {
                tracing::debug!(target = "Bedrock", "dropping text before the answer tool");
                self.held.clear();
            }
            self.blocks
                .insert(index, Block::JsonAnswer { any_input: false });
            return;
        }
        self.release_held(out);
        let call = self.ctx.names.resolve(name);
        let kind = call.kind;
        out.push(Upstream::Event(StreamEvent::ToolCallStart {
            call_id: tool.tool_use_id.clone(),
            name: call.name,
            kind,
            namespace: call.namespace,
        }));
        self.blocks.insert(
            index,
            Block::Tool {
                any_input: false,
                custom_buffer: (kind == ToolCallKind::Custom).then(String::new),
            },
        );
    }

    fn delta(&mut self, index: u64, delta: &BlockDelta, out: &mut Vec<Upstream>) {
        if let Some(text) = &delta.text {
            self.focus(index, out);
            self.blocks.entry(index).or_insert(Block::Text);
            if self.ctx.json_tool {
                self.held.push_str(text);
            } else if !text.is_empty() {
                out.push(Upstream::Event(StreamEvent::TextDelta(text.clone())));
            }
        }
        if let Some(reasoning) = &delta.reasoning_content {
            self.reasoning_delta(index, reasoning, out);
        }
        if let Some(input) = delta.tool_use.as_ref().and_then(|t| t.input.as_deref()) {
            self.tool_input(index, input, out);
        }
    }

    fn reasoning_delta(&mut self, index: u64, reasoning: &ReasoningDelta, out: &mut Vec<Upstream>) {
        self.release_held(out);
        self.focus(index, out);
        let block = self
            .blocks
            .entry(index)
            .or_insert_with(|| Block::Reasoning(ReasoningBlob::default()));
        let Block::Reasoning(blob) = block else {
            return;
        };
        if let Some(text) = &reasoning.text {
            blob.text.get_or_insert_with(String::new).push_str(text);
            if !text.is_empty() {
                out.push(Upstream::Event(StreamEvent::ReasoningDelta(text.clone())));
            }
        }
        if let Some(signature) = &reasoning.signature {
            blob.signature
                .get_or_insert_with(String::new)
                .push_str(signature);
        }
        if let Some(redacted) = &reasoning.redacted_content {
            blob.redacted
                .get_or_insert_with(String::new)
                .push_str(redacted);
        }
    }

    fn tool_input(&mut self, index: u64, input: &str, out: &mut Vec<Upstream>) {
        self.focus(index, out);
        match self.blocks.get_mut(&index) {
            Some(Block::Tool {
                any_input,
                custom_buffer,
            }) => {
                if !input.is_empty() {
                    *any_input = true;
                    match custom_buffer {
                        Some(buffer) => buffer.push_str(input),
                        None => out.push(Upstream::Event(StreamEvent::ToolCallDelta(
                            input.to_string(),
                        ))),
                    }
                }
            }
            Some(Block::JsonAnswer { any_input }) => {
                if !input.is_empty() {
                    *any_input = true;
                    out.push(Upstream::Event(StreamEvent::TextDelta(input.to_string())));
                }
            }
            _ => tracing::debug!(index, "tool input for a block that is not a tool call"),
        }
    }

    fn stop_block(&mut self, index: u64, out: &mut Vec<Upstream>) {
        if self.open == Some(index) {
            self.open = None;
        }
        let Some(block) = self.blocks.remove(&index) else {
            return;
        };
        match block {
            // Held text is closed when it is released.
            Block::Text if self.ctx.json_tool => {}
            Block::Text => out.push(Upstream::Event(StreamEvent::ItemDone)),
            Block::Reasoning(blob) => {
                let replayable = blob.signature.is_some() || blob.redacted.is_some();
                if replayable {
                    out.push(Upstream::Event(StreamEvent::ReasoningEncrypted(
                        opaque::encode(BLOB_TAG, &blob),
                    )));
                }
                out.push(Upstream::Event(StreamEvent::ItemDone));
            }
            Block::Tool {
                any_input,
                custom_buffer,
            } => end_tool_call(custom_buffer, any_input, out),
            Block::JsonAnswer { any_input } => {
                if !any_input {
                    out.push(Upstream::Event(StreamEvent::TextDelta("{}".into())));
                }
                out.push(Upstream::Event(StreamEvent::ItemDone));
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Upstream>) {
        if self.done {
            return;
        }
        self.done = true;
        let mut open: Vec<u64> = self.blocks.keys().copied().collect();
        open.sort_unstable();
        for index in open {
            self.stop_block(index, out);
        }
        self.release_held(out);
        out.push(Upstream::Event(StreamEvent::Finish(
            self.finish.clone().unwrap_or(FinishReason::Stop),
        )));
        out.push(Upstream::End);
    }

    // ----- complete bodies ----------------------------------------------------------------

    /// Replays one content block of a complete answer as stream events.
    fn body_block(&mut self, index: u64, block: AnswerBlock, out: &mut Vec<Upstream>) {
        let delta = if let Some(text) = block.text {
            BlockDelta {
                text: Some(text),
                ..BlockDelta::default()
            }
        } else if let Some(reasoning) = block.reasoning_content {
            let (text, signature) = reasoning
                .reasoning_text
                .map(|r| (r.text, r.signature))
                .unwrap_or_default();
            BlockDelta {
                reasoning_content: Some(ReasoningDelta {
                    text,
                    signature,
                    redacted_content: reasoning.redacted_content,
                }),
                ..BlockDelta::default()
            }
        } else if let Some(tool) = block.tool_use {
            self.start_tool(index, &tool, out);
            let input = match tool.input {
                Some(Value::Null) | None => String::new(),
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
            };
            BlockDelta {
                tool_use: Some(ToolUseDelta { input: Some(input) }),
                ..BlockDelta::default()
            }
        } else {
            tracing::debug!("skipping an unknown Converse content block");
            return;
        };
        self.delta(index, &delta, out);
        self.stop_block(index, out);
    }
}

/// Converse usage in Responses terms: `inputTokens` excludes the cache, so reads and writes are
/// added to get every prompt token.
pub fn converse_usage(usage: &Value) -> Usage {
    let n = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = n("cacheReadInputTokens").max(n("cacheReadInputTokenCount"));
    let cache_write = n("cacheWriteInputTokens").max(n("cacheWriteInputTokenCount"));
    let input = n("inputTokens") + cache_read + cache_write;
    let output = n("outputTokens");
    Usage {
        input_tokens: input,
        input_tokens_details: InputTokensDetails {
            cached_tokens: cache_read,
            cache_write_tokens: cache_write,
            ..Default::default()
        },
        output_tokens: output,
        output_tokens_details: OutputTokensDetails::default(),
        total_tokens: n("totalTokens").max(input + output),
        ..Default::default()
    }
}

impl Decoder for ConverseDecoder {
    fn body(&mut self, body: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error> {
        let answer: Value = serde_json::from_slice(body)
            .map_err(|e| self.malformed(&format!("an unreadable answer: {e}")))?;
        let answer = ConverseResponse::deserialize(&answer).unwrap_or_default();
        let Some(content) = answer
            .output
            .and_then(|o| o.message)
            .and_then(|m| m.content)
        else {
            return Err(self.malformed("an answer without `output.message.content`"));
        };
        for (index, block) in content.into_iter().enumerate() {
            self.body_block(index as u64, block, out);
        }
        self.stop_reason(answer.stop_reason.as_deref().unwrap_or(""))?;
        if let Some(usage) = &answer.usage {
            out.push(Upstream::Event(StreamEvent::Usage(converse_usage(usage))));
        }
        self.finish(out);
        Ok(())
    }

    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        self.buffer.extend_from_slice(chunk);
        self.drain_frames(out)
    }

    fn end(&mut self, out: &mut Vec<Upstream>) -> Result<(), Error> {
        self.drain_frames(out)?;
        if self.done {
            return Ok(());
        }
        if !self.buffer.is_empty() {
            return Err(self.malformed("a stream that ends in the middle of a message"));
        }
        if self.finish.is_some() {
            // `messageStop` said the answer is whole; only the usage is missing.
            self.finish(out);
            return Ok(());
        }
        Err(closed_early(LABEL))
    }
}
