//! Bedrock's token counter, the `CountTokens` API (the AWS Bedrock API reference,
//! `API_runtime_CountTokens`): `POST /model/{modelId}/count-tokens` with the Converse request
//! under `{"input": {"converse": …}}`, answering `{"inputTokens": N}`, signed like Converse.
//!
//! Only some models can be counted, and only under their foundation-model id: a cross-region
//! inference profile (`us.anthropic.…`) is counted as the model it routes to, and a model the
//! counter does not serve (Nova, an ARN) answers a `ValidationException` saying so, for which
//! the gateway gives an estimate instead.

use serde::Serialize;

use super::wire::{
    AdditionalModelRequestFields, ContentBlock, ConverseRequest, Message, ToolConfig,
};
use crate::error::{Error, ErrorKind};

/// The geographic prefixes of cross-region inference profile ids.
const PROFILE_PREFIXES: &[&str] = &["us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"];

/// A `CountTokens` body.
#[derive(Debug, Serialize)]
pub struct CountTokensRequest<'a> {
    /// What is counted.
    pub input: CountTokensInput<'a>,
}

/// `input`: a Converse request (the API also counts raw `invokeModel` bodies).
#[derive(Debug, Serialize)]
pub struct CountTokensInput<'a> {
    /// The Converse request's input fields.
    pub converse: ConverseTokens<'a>,
}

/// `ConverseTokensRequest`: the fields of a Converse request that make its input.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseTokens<'a> {
    /// The conversation.
    pub messages: &'a [Message],
    /// The system prompt.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub system: &'a [ContentBlock],
    /// The tools offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<&'a ToolConfig>,
    /// Claude's thinking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<&'a AdditionalModelRequestFields>,
}

impl<'a> CountTokensRequest<'a> {
    /// The count of what `converse` (a create's translation) would send.
    pub fn new(converse: &'a ConverseRequest) -> Self {
        CountTokensRequest {
            input: CountTokensInput {
                converse: ConverseTokens {
                    messages: &converse.messages,
                    system: &converse.system,
                    tool_config: converse.tool_config.as_ref(),
                    additional_model_request_fields: converse
                        .additional_model_request_fields
                        .as_ref(),
                },
            },
        }
    }
}

/// The model id the counter is asked about: a cross-region profile's foundation model
/// (`us.anthropic.claude-…` → `anthropic.claude-…`), anything else as it is.
pub fn counted_model(model: &str) -> &str {
    match model.split_once('.') {
        Some((prefix, rest)) if PROFILE_PREFIXES.contains(&prefix) && rest.contains('.') => rest,
        _ => model,
    }
}

/// True for the error of a model the counter does not serve ("The provided model doesn't
/// support counting tokens").
pub fn cannot_count(error: &Error) -> bool {
    let message = error.message.to_ascii_lowercase();
    error.kind == ErrorKind::InvalidRequest
        && message.contains("support")
        && ["counting tokens", "token counting", "count tokens"]
            .iter()
            .any(|phrase| message.contains(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_count_as_their_model() {
        assert_eq!(
            counted_model("us.anthropic.claude-sonnet-4-20250514-v1:0"),
            "anthropic.claude-sonnet-4-20250514-v1:0"
        );
        assert_eq!(
            counted_model("global.anthropic.claude-haiku-4-5-20251001-v1:0"),
            "anthropic.claude-haiku-4-5-20251001-v1:0"
        );
        assert_eq!(
            counted_model("anthropic.claude-3-5-haiku-20241022-v1:0"),
            "anthropic.claude-3-5-haiku-20241022-v1:0"
        );
        let arn =
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0";
        assert_eq!(counted_model(arn), arn);
    }

    #[test]
    fn knows_the_unsupported_model_error() {
        let unsupported = Error::upstream(
            ErrorKind::InvalidRequest,
            "The provided model doesn't support counting tokens. (ValidationException)",
        );
        assert!(cannot_count(&unsupported));
        let other = Error::upstream(ErrorKind::InvalidRequest, "messages: Field required");
        assert!(!cannot_count(&other));
        let account = Error::upstream(
            ErrorKind::InvalidRequest,
            "Your account does not support this model.",
        );
        assert!(!cannot_count(&account));
        let throttled =
            Error::upstream(ErrorKind::RateLimited, "Too many requests to count tokens");
        assert!(!cannot_count(&throttled));
    }
}
