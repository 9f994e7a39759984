//! Anthropic's token counter: `POST /v1/messages/count_tokens` (the Anthropic API reference,
//! "Count tokens in a Message"), and on Vertex AI the publisher's
//! `…/publishers/anthropic/models/count-tokens:rawPredict` (Google Cloud's "Count tokens for
//! Claude models"), both answering `{"input_tokens": N}`.
//!
//! The body is the Messages request a create would send, less what does not shape the input:
//! the output cap, streaming, sampling and metadata, which the counter refuses as extra inputs.
//! Vertex reads the model from the body here (one counter serves every Claude model of the
//! location), besides the `anthropic_version` it always wants.

use serde::Serialize;

use super::wire::{ContentBlock, Message, MessagesRequest, ToolChoice, ToolDefinition};
use crate::providers::translate::claude::Thinking;

/// A `count_tokens` body.
#[derive(Debug, Serialize)]
pub struct CountTokensRequest<'a> {
    /// Vertex AI only: the API version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<&'static str>,
    /// The model counted for.
    pub model: &'a str,
    /// The system prompt.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub system: &'a [ContentBlock],
    /// The conversation.
    pub messages: &'a [Message],
    /// The tools offered.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tools: &'a [ToolDefinition],
    /// How the model may use them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'a ToolChoice>,
    /// Extended thinking, which changes how earlier thinking blocks count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'a Thinking>,
}

impl<'a> CountTokensRequest<'a> {
    /// The count of what `messages` (the create's translation for `model`) would send; `vertex`
    /// for Claude on Vertex AI.
    pub fn new(messages: &'a MessagesRequest, model: &'a str, vertex: bool) -> Self {
        CountTokensRequest {
            anthropic_version: if vertex {
                messages.anthropic_version
            } else {
                None
            },
            model,
            system: &messages.system,
            messages: &messages.messages,
            tools: &messages.tools,
            tool_choice: messages.tool_choice.as_ref(),
            thinking: messages.thinking.as_ref(),
        }
    }
}
