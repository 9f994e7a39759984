//! Counting a request's input tokens without running it (`POST /responses/input_tokens`).
//!
//! A provider answers [`Provider::count_input_tokens`](super::Provider::count_input_tokens)
//! from the same translation as a create, so the count is of what a create would send: either
//! a call to its upstream's own counter ([`InputTokens::Upstream`]), or, for an upstream
//! without one, the Chat Completions body the gateway estimates with a real tokenizer
//! ([`InputTokens::Estimate`], see [`super::openai_chat::count`]).

use serde_json::Value;

use super::UpstreamRequest;
use super::openai_chat::wire::ChatCompletionsRequest;
use crate::error::Error;

/// How a provider counts a request's input tokens.
#[derive(Debug)]
pub enum InputTokens {
    /// The upstream counts: send the call and read its answer.
    Upstream(Box<CountCall>),
    /// The upstream has no counter: the gateway estimates the tokens of this body (the request
    /// as the Chat Completions bridge would send it).
    Estimate(Box<ChatCompletionsRequest>),
}

/// A call to an upstream's token counter.
#[derive(Debug)]
pub struct CountCall {
    /// What to send (credentials that need I/O are added by the provider's `authorize`).
    pub request: UpstreamRequest,
    /// Reads the count out of a 2xx answer; `None` when the answer holds none.
    pub read: fn(&[u8]) -> Option<u64>,
    /// When the upstream cannot count for this model, estimate instead.
    pub fallback: Option<CountFallback>,
}

/// An estimate to give instead of the upstream's error, for errors that only say the counter
/// does not serve this model (Bedrock counts for some models only).
#[derive(Debug)]
pub struct CountFallback {
    /// True for such an error.
    pub when: fn(&Error) -> bool,
    /// The body to estimate from.
    pub estimate: Box<ChatCompletionsRequest>,
}

/// The non-negative integer at `pointer` (a JSON pointer such as `/input_tokens`) of a JSON
/// answer: what every counter's reader looks for.
pub fn count_at(body: &[u8], pointer: &str) -> Option<u64> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.pointer(pointer)?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counts_and_nothing_else() {
        assert_eq!(
            count_at(br#"{"input_tokens": 12}"#, "/input_tokens"),
            Some(12)
        );
        assert_eq!(count_at(br#"{"totalTokens": 3}"#, "/totalTokens"), Some(3));
        assert_eq!(count_at(br#"{"input_tokens": -1}"#, "/input_tokens"), None);
        assert_eq!(count_at(br#"{"input_tokens": "7"}"#, "/input_tokens"), None);
        assert_eq!(count_at(b"not json", "/input_tokens"), None);
    }
}
