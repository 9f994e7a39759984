//! Messages answer → normalized events.
//!
//! A complete message is decoded as the stream it would have been: each content block is
//! started, fed its whole content as one delta and stopped, so both shapes share one state
//! machine. Stream specifics (Anthropic's streaming reference,
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming>, and recorded traffic):
//! `ping` and unknown events are ignored,
//! JSON is padded with spaces, `message_delta.usage` is cumulative (each field replaces the
//! last value seen), `message_start`'s `output_tokens` is a placeholder, and an `event: error`
//! can arrive after the 200.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use switchyard_types::responses::{InputTokensDetails, OutputTokensDetails, Usage};

use super::OPAQUE_TAG;
use super::errors;
use super::wire::{AnswerBlock, AnswerMessage, Delta, Event, TokenUsage};
use crate::error::{Error, ErrorKind};
use crate::providers::translate::answer::{
    SseAnswer, closed_early, end_tool_call, feed_sse, finish_sse,
};
use crate::providers::translate::tools::{JSON_TOOL, ToolMap};
use crate::providers::{Decoder, Upstream, opaque};
use crate::secret::Secret;
use crate::sse::{SseDecoder, SseFrame};
use crate::stream::{FinishReason, StreamEvent, ToolCallKind};

/// Usage merged across `message_start` and `message_delta`s: the last value of each field.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    input: u64,
    cache_write: u64,
    cache_read: u64,
    output: u64,
    thinking: u64,
}

impl Counts {
    fn merge(&mut self, raw: &TokenUsage) {
        let set = |slot: &mut u64, value: Option<u64>| {
            if let Some(value) = value {
                *slot = value;
            }
        };
        set(&mut self.input, raw.input_tokens);
        set(&mut self.cache_write, raw.cache_creation_input_tokens);
        set(&mut self.cache_read, raw.cache_read_input_tokens);
        set(&mut self.output, raw.output_tokens);
        set(
            &mut self.thinking,
            raw.output_tokens_details
                .as_ref()
                .and_then(|d| d.thinking_tokens),
        );
    }

    /// In Responses terms: input includes cache reads and writes (Anthropic's `input_tokens`
    /// counts neither).
    fn usage(&self) -> Usage {
        let input = self.input + self.cache_write + self.cache_read;
        Usage {
            input_tokens: input,
            input_tokens_details: InputTokensDetails {
                cached_tokens: self.cache_read,
                cache_write_tokens: self.cache_write,
                ..Default::default()
            },
            output_tokens: self.output,
            output_tokens_details: OutputTokensDetails {
                reasoning_tokens: self.thinking.min(self.output),
                ..Default::default()
            },
            total_tokens: input + self.output,
            ..Default::default()
        }
    }
}

/// The content block being received.
#[derive(Debug)]
enum Block {
    Text,
    Thinking {
        text: String,
        signature: String,
    },
    /// A client tool call. `custom` collects the wrapper JSON of a custom tool, whose freeform
    /// input is only known at the end.
    ToolUse {
        args_sent: bool,
        custom: Option<String>,
    },
    /// The structured-output tool: its input is answer text.
    JsonAnswer {
        sent: bool,
    },
    /// Server tools, citations' companions and future types: ignored.
    Ignored,
}

/// Decodes a Messages answer, streamed or not.
pub struct MessagesDecoder {
    label: &'static str,
    tools: ToolMap,
    secrets: Vec<Secret>,
    sse: SseDecoder,
    block: Option<Block>,
    counts: Counts,
    finish: Option<FinishReason>,
    started: bool,
    done: bool,
    /// With structured output, text the model writes before it calls the answer tool (a
    /// preamble such as "Here is the JSON:") is held back: dropped when the answer tool comes,
    /// sent when it does not, so the client's `output_text` is the JSON alone.
    held: String,
}

impl MessagesDecoder {
    /// A decoder for an answer from the upstream named `label`, with `tools` mapping tool
    /// names back.
    pub fn new(label: &'static str, tools: ToolMap, secrets: Vec<Secret>) -> Self {
        MessagesDecoder {
            label,
            tools,
            secrets,
            sse: SseDecoder::new(),
            block: None,
            counts: Counts::default(),
            finish: None,
            started: false,
            done: false,
            held: String::new(),
        }
    }

    fn malformed(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::upstream(
            ErrorKind::Upstream,
            format!("{} sent {what}: {e}", self.label),
        )
    }

    fn start(&mut self, message: &AnswerMessage, out: &mut Vec<Upstream>) {
        self.started = true;
        if let Some(model) = message.model.as_deref().filter(|m| !m.is_empty()) {
            out.push(Upstream::Event(StreamEvent::Model(model.to_string())));
        }
        if let Some(usage) = &message.usage {
            self.counts.merge(usage);
        }
    }

    /// Text of a text block: held back while an answer tool may still come.
    fn text(&mut self, text: &str, out: &mut Vec<Upstream>) {
        if self.tools.json_tool {
            self.held.push_str(text);
        } else {
            emit_text(text, out);
        }
    }

    /// Sends text held back, now known not to precede the answer tool.
    fn release_held(&mut self, out: &mut Vec<Upstream>) {
        if !self.held.is_empty() {
            emit_text(&std::mem::take(&mut self.held), out);
        }
    }

    fn block_start(&mut self, block: &AnswerBlock, out: &mut Vec<Upstream>) {
        self.block_stop(out);
        let text = |field: &Option<String>| field.clone().unwrap_or_default();
        let kind = block.kind.as_deref().unwrap_or_default();
        let name = block.name.as_deref().unwrap_or_default();
        let answer_tool = kind == "tool_use" && self.tools.json_tool && name == JSON_TOOL;
        if answer_tool {
            if !self.held.is_empty() {
                tracing::debug!(target = self.label, "dropping text before the answer tool");
                self.held.clear();
            }
        } else if kind != "text" {
            self.release_held(out);
        }
        match kind {
            "text" => {
                self.block = Some(Block::Text);
                self.text(&text(&block.text), out);
            }
            "thinking" => {
                let thinking = text(&block.thinking);
                if !thinking.is_empty() {
                    out.push(Upstream::Event(StreamEvent::ReasoningDelta(
                        thinking.clone(),
                    )));
                }
                self.block = Some(Block::Thinking {
                    text: thinking,
                    signature: text(&block.signature),
                });
            }
            "redacted_thinking" => {
                let blob = opaque::encode(
                    OPAQUE_TAG,
                    &serde_json::json!({"type": "redacted_thinking", "data": text(&block.data)}),
                );
                out.push(Upstream::Event(StreamEvent::ReasoningEncrypted(blob)));
                out.push(Upstream::Event(StreamEvent::ItemDone));
                self.block = Some(Block::Ignored);
            }
            "tool_use" if answer_tool => self.block = Some(Block::JsonAnswer { sent: false }),
            "tool_use" => {
                let call = self.tools.names.resolve(name);
                let kind = call.kind;
                out.push(Upstream::Event(StreamEvent::ToolCallStart {
                    call_id: block.id.clone().filter(|id| !id.is_empty()),
                    name: call.name,
                    kind,
                    namespace: call.namespace,
                }));
                self.block = Some(Block::ToolUse {
                    args_sent: false,
                    custom: (kind == ToolCallKind::Custom).then(String::new),
                });
            }
            _ => self.block = Some(Block::Ignored),
        }
    }

    fn block_delta(&mut self, delta: &Delta, out: &mut Vec<Upstream>) {
        let Some(block) = self.block.as_mut() else {
            return;
        };
        match (delta.kind.as_deref(), block) {
            (Some("text_delta"), Block::Text) => {
                let piece = delta.text.as_deref().unwrap_or_default().to_string();
                self.text(&piece, out);
            }
            (Some("thinking_delta"), Block::Thinking { text, .. }) => {
                if let Some(more) = delta.thinking.as_deref().filter(|t| !t.is_empty()) {
                    text.push_str(more);
                    out.push(Upstream::Event(StreamEvent::ReasoningDelta(more.into())));
                }
            }
            (Some("signature_delta"), Block::Thinking { signature, .. }) => {
                signature.push_str(delta.signature.as_deref().unwrap_or_default());
            }
            (Some("input_json_delta"), Block::ToolUse { args_sent, custom }) => {
                let piece = delta.partial_json.as_deref().unwrap_or_default();
                match custom {
                    Some(buffer) => buffer.push_str(piece),
                    None if !piece.is_empty() => {
                        *args_sent = true;
                        out.push(Upstream::Event(StreamEvent::ToolCallDelta(piece.into())));
                    }
                    None => {}
                }
            }
            (Some("input_json_delta"), Block::JsonAnswer { sent }) => {
                let piece = delta.partial_json.as_deref().unwrap_or_default();
                if !piece.is_empty() {
                    *sent = true;
                    out.push(Upstream::Event(StreamEvent::TextDelta(piece.into())));
                }
            }
            // `citations_delta` and deltas of ignored blocks carry nothing the client reads.
            _ => {}
        }
    }

    fn block_stop(&mut self, out: &mut Vec<Upstream>) {
        match self.block.take() {
            Some(Block::Thinking { text, signature }) => {
                let blob = opaque::encode(
                    OPAQUE_TAG,
                    &serde_json::json!({"type": "thinking", "thinking": text,
                        "signature": signature}),
                );
                out.push(Upstream::Event(StreamEvent::ReasoningEncrypted(blob)));
                out.push(Upstream::Event(StreamEvent::ItemDone));
            }
            // A call without arguments streams only `""`: Responses wants `{}`.
            Some(Block::ToolUse { args_sent, custom }) => end_tool_call(custom, args_sent, out),
            Some(Block::JsonAnswer { sent: false }) => emit_text("{}", out),
            Some(Block::Text | Block::JsonAnswer { sent: true } | Block::Ignored) | None => {}
        }
    }

    fn finish_message(&mut self, out: &mut Vec<Upstream>) {
        if self.done {
            return;
        }
        self.done = true;
        self.block_stop(out);
        self.release_held(out);
        out.push(Upstream::Event(StreamEvent::Usage(self.counts.usage())));
        out.push(Upstream::Event(StreamEvent::Finish(
            self.finish.clone().unwrap_or(FinishReason::Stop),
        )));
        out.push(Upstream::End);
    }

    fn in_band_error(&self, body: &[u8]) -> Error {
        let secrets: Vec<&Secret> = self.secrets.iter().collect();
        errors::classify(self.label, None, &HeaderMap::new(), body, &secrets)
    }
}

fn emit_text(text: &str, out: &mut Vec<Upstream>) {
    if !text.is_empty() {
        out.push(Upstream::Event(StreamEvent::TextDelta(text.into())));
    }
}

/// `stop_reason` → how the response ends.
pub fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        // `end_turn`, `stop_sequence`, `tool_use`, and `pause_turn` (only server tools, which
        // the gateway never offers, pause a turn).
        _ => FinishReason::Stop,
    }
}

impl SseAnswer for MessagesDecoder {
    fn sse(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }

    fn frame(&mut self, frame: SseFrame, out: &mut Vec<Upstream>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        let data = frame.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if frame.event.as_deref() == Some("error") {
            return Err(self.in_band_error(data.as_bytes()));
        }
        let event: Event = serde_json::from_str(data)
            .map_err(|e| self.malformed("a malformed stream event", e))?;
        match event.kind.as_str() {
            "message_start" => {
                if let Some(message) = event.message {
                    self.start(&message, out);
                }
            }
            "content_block_start" => {
                if let Some(block) = &event.content_block {
                    self.block_start(block, out);
                }
            }
            "content_block_delta" => {
                if let Some(delta) = &event.delta {
                    self.block_delta(delta, out);
                }
            }
            "content_block_stop" => self.block_stop(out),
            "message_delta" => {
                if let Some(reason) = event.delta.as_ref().and_then(|d| d.stop_reason.as_deref()) {
                    self.finish = Some(finish_reason(reason));
                }
                if let Some(usage) = &event.usage {
                    self.counts.merge(usage);
                }
            }
            "message_stop" => self.finish_message(out),
            "error" => return Err(self.in_band_error(data.as_bytes())),
            // `ping`, and event types added after this was written.
            _ => {}
        }
        Ok(())
    }
}

impl Decoder for MessagesDecoder {
    fn body(&mut self, body: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| self.malformed("an unreadable message", e))?;
        if value.get("type").and_then(Value::as_str) == Some("error") {
            return Err(self.in_band_error(body));
        }
        // A 200 that is not a message (a proxy's page, another API's answer) must not pass
        // for an empty completed response.
        let is_message = value.get("content").is_some_and(Value::is_array)
            && value
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(|kind| kind == "message");
        if !is_message {
            return Err(self.malformed(
                "an answer that is not a message",
                crate::text::clip(&value.to_string(), 200),
            ));
        }
        let message = AnswerMessage::deserialize(&value)
            .map_err(|e| self.malformed("an unreadable message", e))?;
        self.start(&message, out);
        for block in &message.content {
            // A block's start carries its text, thinking and signature; only a tool call's
            // input needs feeding, as the one delta a stream would have sent.
            self.block_start(block, out);
            if block.kind.as_deref() == Some("tool_use") {
                let delta = Delta {
                    kind: Some("input_json_delta".into()),
                    partial_json: block.input.as_ref().map(Value::to_string),
                    ..Delta::default()
                };
                self.block_delta(&delta, out);
            }
            self.block_stop(out);
        }
        if let Some(reason) = message.stop_reason.as_deref() {
            self.finish = Some(finish_reason(reason));
        }
        self.finish_message(out);
        Ok(())
    }

    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error> {
        feed_sse(self, chunk, out)
    }

    fn end(&mut self, out: &mut Vec<Upstream>) -> Result<(), Error> {
        finish_sse(self, out)?;
        if self.done {
            return Ok(());
        }
        if self.started && self.finish.is_some() {
            // The stop reason already arrived; only `message_stop` is missing.
            self.finish_message(out);
            return Ok(());
        }
        Err(closed_early(self.label))
    }
}
