//! The normalized events every provider reduces its output to.
//!
//! This is the whole vocabulary between providers and the [`ResponseBuilder`](super::ResponseBuilder):
//! a provider never writes Responses events, it only says "here is text", "a tool call starts",
//! "usage is now…". The builder decides items, indexes, ids and ordering.

use switchyard_types::responses::{Response, ResponseStreamEvent, Usage};

/// The key of a tool call item's extra fields under which the gateway keeps the call's
/// provider state ([`StreamEvent::ToolCallState`]). Removed from everything a client sees.
pub const CALL_STATE: &str = "switchyard_call_state";

/// One unit of provider output, handed to the response builder.
#[derive(Debug)]
pub enum Upstream {
    /// A normalized event from a translated provider.
    Event(StreamEvent),
    /// A native Responses event, relayed.
    Relay(ResponseStreamEvent),
    /// A native, complete (non-streamed) `Response`, relayed.
    RelayResponse(Box<Response>),
    /// The upstream signalled the end of its output; stop reading.
    End,
}

/// One thing a provider observed in its upstream's output.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The model name the upstream reports (replaces the configured one in the response).
    Model(String),
    /// Visible answer text.
    TextDelta(String),
    /// Refusal text.
    RefusalDelta(String),
    /// Reasoning text, presented as a reasoning summary.
    ReasoningDelta(String),
    /// An opaque reasoning blob (a signature, redacted thinking) that must come back on the next
    /// turn; presented as the reasoning item's `encrypted_content` when the client asked for it.
    ReasoningEncrypted(String),
    /// A tool call begins. Closes whatever item was open.
    ToolCallStart {
        /// The upstream's call id; one is minted when absent.
        call_id: Option<String>,
        /// The tool's name.
        name: String,
        /// Function call or custom (freeform) tool call.
        kind: ToolCallKind,
        /// The `namespace` tool the function belongs to, if any.
        namespace: Option<String>,
    },
    /// More arguments (function) or input (custom tool) for the tool call begun last.
    ToolCallDelta(String),
    /// Opaque provider state that belongs to the tool call begun last (a Gemini thought
    /// signature), for a client that does not take reasoning blobs: kept with the call in the
    /// stored response (under [`CALL_STATE`]) so that the next turn can send it back, never
    /// shown to the client.
    ToolCallState(String),
    /// The open item is complete (for upstreams that mark block boundaries).
    ItemDone,
    /// A `compaction` item: the conversation so far, summarised and sealed by the gateway
    /// (the blob is its `encrypted_content`). Closes whatever item was open.
    Compaction(String),
    /// Token usage so far; the latest report wins.
    Usage(Usage),
    /// What the provider says the request cost, in USD (OpenRouter); charged ahead of any
    /// price, never shown to the client except as `usage.cost` when that is asked for.
    ReportedCost(f64),
    /// Why generation stopped.
    Finish(FinishReason),
}

/// The kind of a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolCallKind {
    /// A `function_call` with JSON arguments.
    Function,
    /// A `custom_tool_call` with freeform input.
    Custom,
}

/// Why generation stopped, normalized across providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end, stop sequence, or tool calls issued.
    Stop,
    /// The output token limit was reached.
    Length,
    /// A content filter cut the output.
    ContentFilter,
}
