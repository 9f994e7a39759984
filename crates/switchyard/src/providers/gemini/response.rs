//! Gemini answer → normalized events (see the Google Gemini API reference,
//! <https://ai.google.dev/api/generate-content>).
//!
//! A complete body and each stream chunk have the same shape (`GenerateContentResponse`), so one
//! function handles both. Streams are SSE with `\r\n\r\n` between events (`alt=sse`); a body
//! that is a JSON array (a stream without `alt=sse`) is read chunk by chunk. Gemini has no end
//! marker: a chunk with `finishReason` completes the answer, and the end of the body without
//! one is a truncated stream.

use serde_json::Value;
use switchyard_types::responses::{InputTokensDetails, OutputTokensDetails, Usage};

use super::errors::classify_google_error;
use super::request::{BLOB_TAG, SignatureBlob};
use super::wire::{GenerateContentResponse, Part, UsageMetadata};
use crate::error::{Error, ErrorKind};
use crate::providers::translate::ToolNames;
use crate::providers::translate::answer::{SseAnswer, closed_early, feed_sse, finish_sse};
use crate::providers::translate::ids::base62_digest;
use crate::providers::{Decoder, Upstream, opaque};
use crate::secret::Secret;
use crate::sse::{SseDecoder, SseFrame};
use crate::stream::{FinishReason, StreamEvent, ToolCallKind};

/// Decodes a Gemini answer.
pub struct GeminiDecoder {
    label: &'static str,
    tools: ToolNames,
    secrets: Vec<Secret>,
    /// Emit thought signatures (the client asked for `reasoning.encrypted_content`; without
    /// it they could not come back, and would only add empty reasoning items).
    signatures: bool,
    /// Nothing keeps a call's signature for the next turn (`store: false`, no blobs): it rides
    /// in the call id (see `translate::ids::split_call_carrier`).
    carry_in_call_id: bool,
    sse: SseDecoder,
    model_seen: bool,
    response_id: Option<String>,
    calls: u32,
    usage: UsageMetadata,
    finish: Option<FinishReason>,
    done: bool,
}

impl GeminiDecoder {
    /// A decoder for an answer from `label` (`Gemini`, `Vertex AI`).
    pub fn new(
        label: &'static str,
        tools: ToolNames,
        secrets: Vec<Secret>,
        signatures: bool,
    ) -> Self {
        GeminiDecoder {
            label,
            tools,
            secrets,
            signatures,
            carry_in_call_id: false,
            sse: SseDecoder::new(),
            model_seen: false,
            response_id: None,
            calls: 0,
            usage: UsageMetadata::default(),
            finish: None,
            done: false,
        }
    }

    fn response(
        &mut self,
        chunk: GenerateContentResponse,
        out: &mut Vec<Upstream>,
    ) -> Result<(), Error> {
        if let Some(error) = &chunk.error {
            return Err(self.in_band_error(error));
        }
        if !self.model_seen
            && let Some(model) = chunk.model_version.as_deref().filter(|m| !m.is_empty())
        {
            self.model_seen = true;
            out.push(Upstream::Event(StreamEvent::Model(model.to_string())));
        }
        if self.response_id.is_none() {
            self.response_id = chunk.response_id.clone();
        }
        if let Some(usage) = &chunk.usage_metadata {
            self.usage.merge(usage);
        }
        let candidate = chunk.candidates.iter().find(|c| c.index.unwrap_or(0) == 0);
        let Some(candidate) = candidate else {
            if let Some(reason) = chunk
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_deref())
            {
                tracing::debug!(reason, "prompt blocked upstream");
                self.finish = Some(FinishReason::ContentFilter);
            }
            return Ok(());
        };
        for part in candidate.content.iter().flat_map(|c| &c.parts) {
            self.part(part, out);
        }
        if let Some(reason) = candidate.finish_reason.as_deref() {
            self.finish = Some(self.finish_reason(reason, candidate.finish_message.as_deref())?);
        }
        Ok(())
    }

    /// `finishReason` → how the response ends; the reasons that mean the model produced
    /// unusable tool calls fail the answer.
    fn finish_reason(&self, reason: &str, message: Option<&str>) -> Result<FinishReason, Error> {
        Ok(match reason {
            "MAX_TOKENS" => FinishReason::Length,
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION" => FinishReason::ContentFilter,
            "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" | "TOO_MANY_TOOL_CALLS" => {
                let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
                return Err(Error::upstream(
                    ErrorKind::Upstream,
                    format!("{} stopped with {reason}{detail}", self.label),
                ));
            }
            // STOP, LANGUAGE, OTHER, FINISH_REASON_UNSPECIFIED and future reasons.
            _ => FinishReason::Stop,
        })
    }

    fn part(&mut self, part: &Part, out: &mut Vec<Upstream>) {
        let mut call_id = part.function_call.as_ref().map(|call| match &call.id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => self.mint_call_id(&call.name),
        });
        let signature = part
            .thought_signature
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|signature| {
                opaque::encode(
                    BLOB_TAG,
                    &SignatureBlob {
                        signature: signature.to_string(),
                        call_id: call_id.clone(),
                    },
                )
            });
        // For a client that takes blobs, the reasoning item goes before the part it belongs to,
        // and names the call. For the others, a call's signature is kept with the call itself
        // (the state store gives it back on the next turn); a text part's is not needed back.
        let call_state = match signature {
            Some(blob) if self.signatures => {
                out.push(Upstream::Event(StreamEvent::ReasoningEncrypted(blob)));
                None
            }
            Some(blob) if self.carry_in_call_id && call_id.is_some() => {
                if let Some(id) = call_id.as_mut() {
                    id.push(crate::providers::translate::ids::CALL_CARRIER);
                    id.push_str(&blob);
                }
                None
            }
            other => other.filter(|_| part.function_call.is_some()),
        };
        if let Some(text) = part.text.as_deref().filter(|t| !t.is_empty()) {
            let event = if part.thought == Some(true) {
                StreamEvent::ReasoningDelta(text.to_string())
            } else {
                StreamEvent::TextDelta(text.to_string())
            };
            out.push(Upstream::Event(event));
        }
        if let (Some(call), Some(call_id)) = (&part.function_call, call_id) {
            let resolved = self.tools.resolve(&call.name);
            let kind = resolved.kind;
            out.push(Upstream::Event(StreamEvent::ToolCallStart {
                call_id: Some(call_id),
                name: resolved.name,
                kind,
                namespace: resolved.namespace,
            }));
            let args = call
                .args
                .clone()
                .unwrap_or_else(|| Value::Object(Default::default()));
            let delta = match kind {
                ToolCallKind::Custom => match args.get("input") {
                    Some(Value::String(input)) => input.clone(),
                    _ => args.to_string(),
                },
                ToolCallKind::Function => args.to_string(),
            };
            out.push(Upstream::Event(StreamEvent::ToolCallDelta(delta)));
            if let Some(state) = call_state {
                out.push(Upstream::Event(StreamEvent::ToolCallState(state)));
            }
            out.push(Upstream::Event(StreamEvent::ItemDone));
        }
    }

    /// The same decoder, carrying each call's thought signature in its call id (for a
    /// request that keeps nothing: `store: false` and no `reasoning.encrypted_content`).
    pub fn carrying_signatures_in_call_ids(mut self, on: bool) -> Self {
        self.carry_in_call_id = on && !self.signatures;
        self
    }

    /// A call id for a call Gemini sent without one: derived from the response id (or the
    /// function's name) and the call's position, so it is stable for the same answer and
    /// unique within it.
    fn mint_call_id(&mut self, name: &str) -> String {
        let n = self.calls;
        self.calls += 1;
        let seed = match &self.response_id {
            Some(id) => format!("{id}\u{0}{n}"),
            None => format!("{name}\u{0}{n}\u{0}{}", fastrand::u64(..)),
        };
        format!("call_{}", base62_digest(&seed, 24))
    }

    fn in_band_error(&self, error: &Value) -> Error {
        let status = error
            .get("code")
            .and_then(Value::as_u64)
            .filter(|c| (400..600).contains(c))
            .unwrap_or(500) as u16;
        let body = serde_json::json!({"error": error}).to_string();
        let secrets: Vec<&Secret> = self.secrets.iter().collect();
        classify_google_error(
            self.label,
            status,
            &http::HeaderMap::new(),
            body.as_bytes(),
            &secrets,
        )
    }

    fn finish(&mut self, out: &mut Vec<Upstream>) {
        if self.done {
            return;
        }
        self.done = true;
        if self.usage.has_counts() {
            out.push(Upstream::Event(StreamEvent::Usage(gemini_usage(
                &self.usage,
            ))));
        }
        out.push(Upstream::Event(StreamEvent::Finish(
            self.finish.clone().unwrap_or(FinishReason::Stop),
        )));
        out.push(Upstream::End);
    }

    fn unreadable(&self, e: impl std::fmt::Display) -> Error {
        Error::upstream(
            ErrorKind::Upstream,
            format!("{} returned an unreadable answer: {e}", self.label),
        )
    }
}

/// Gemini usage in Responses terms: `promptTokenCount` already includes cached tokens; thoughts
/// are not in `candidatesTokenCount`, so they are added to the output.
pub fn gemini_usage(usage: &UsageMetadata) -> Usage {
    let input =
        usage.prompt_token_count.unwrap_or(0) + usage.tool_use_prompt_token_count.unwrap_or(0);
    let reasoning = usage.thoughts_token_count.unwrap_or(0);
    let output = usage.candidates_token_count.unwrap_or(0) + reasoning;
    Usage {
        input_tokens: input,
        input_tokens_details: InputTokensDetails {
            cached_tokens: usage.cached_content_token_count.unwrap_or(0),
            ..Default::default()
        },
        output_tokens: output,
        output_tokens_details: OutputTokensDetails {
            reasoning_tokens: reasoning,
            ..Default::default()
        },
        total_tokens: usage.total_token_count.unwrap_or(0).max(input + output),
        ..Default::default()
    }
}

impl SseAnswer for GeminiDecoder {
    fn sse(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }

    fn frame(&mut self, frame: SseFrame, out: &mut Vec<Upstream>) -> Result<(), Error> {
        let data = frame.data.trim();
        if data.is_empty() || self.done {
            return Ok(());
        }
        let chunk: GenerateContentResponse = serde_json::from_str(data).map_err(|e| {
            Error::upstream(
                ErrorKind::Upstream,
                format!("{} sent a malformed stream chunk: {e}", self.label),
            )
        })?;
        self.response(chunk, out)
    }
}

impl Decoder for GeminiDecoder {
    fn body(&mut self, body: &[u8], out: &mut Vec<Upstream>) -> Result<(), Error> {
        let value: Value = serde_json::from_slice(body).map_err(|e| self.unreadable(e))?;
        // A stream requested without `alt=sse` arrives as an array of chunks.
        let chunks = match value {
            Value::Array(list) => list,
            other => vec![other],
        };
        let mut answered = false;
        for chunk in chunks {
            let text = chunk.to_string();
            let chunk: GenerateContentResponse =
                serde_json::from_value(chunk).map_err(|e| self.unreadable(e))?;
            // A 200 that carries neither candidates nor a prompt verdict is not an answer (a
            // proxy's page, another API's body): it must not pass for an empty completion.
            if chunk.candidates.is_empty()
                && chunk.prompt_feedback.is_none()
                && chunk.error.is_none()
            {
                return Err(self.unreadable(format!(
                    "no candidates in {}",
                    crate::text::clip(&text, 200)
                )));
            }
            answered = true;
            self.response(chunk, out)?;
        }
        if !answered {
            return Err(self.unreadable("an empty list of answers"));
        }
        self.finish(out);
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
        if self.finish.is_some() {
            self.finish(out);
            return Ok(());
        }
        Err(closed_early(self.label))
    }
}
