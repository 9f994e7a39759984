//! The hub: normalized provider events in, Responses events and the final `Response` out.
//!
//! * [`event`]: the normalized vocabulary providers speak ([`StreamEvent`]).
//! * [`builder`]: the one writer of Responses events ([`ResponseBuilder`]).
//! * [`envelope`]: the echo fields of a `Response`.
//! * [`grammar`]: a checker of the Responses stream grammar, for tests.

pub mod builder;
pub mod envelope;
pub mod event;
pub mod grammar;

pub use builder::ResponseBuilder;
pub use envelope::envelope;
pub use event::{CALL_STATE, FinishReason, StreamEvent, ToolCallKind, Upstream};

#[cfg(test)]
mod tests;
