//! The rate-limit headers providers send with every answer, so that the gateway's
//! `litellm_remaining_*` metrics have something real to read. Limits are fixed; what is left
//! defaults to one request's worth below them, or what `[[mock:remaining=R,T]]` says.

use crate::directive::Directives;

const REQUESTS: u64 = 10_000;
const TOKENS: u64 = 30_000_000;

fn remaining(d: &Directives) -> [u64; 2] {
    d.remaining.unwrap_or([REQUESTS - 1, TOKENS - 1_000])
}

/// OpenAI's (and Azure OpenAI's) `x-ratelimit-*` headers.
pub(crate) fn openai(d: &Directives) -> Vec<(String, String)> {
    openai_with(remaining(d))
}

/// The same headers on an error answer: a 429 has no requests left (unless the directive says
/// otherwise).
pub(crate) fn openai_error(d: &Directives, code: &str) -> Vec<(String, String)> {
    let [requests, tokens] = remaining(d);
    let requests = if code == "429" && d.remaining.is_none() {
        0
    } else {
        requests
    };
    openai_with([requests, tokens])
}

fn openai_with([requests, tokens]: [u64; 2]) -> Vec<(String, String)> {
    vec![
        ("x-ratelimit-limit-requests".into(), REQUESTS.to_string()),
        ("x-ratelimit-limit-tokens".into(), TOKENS.to_string()),
        (
            "x-ratelimit-remaining-requests".into(),
            requests.to_string(),
        ),
        ("x-ratelimit-remaining-tokens".into(), tokens.to_string()),
        ("x-ratelimit-reset-requests".into(), "6ms".into()),
        ("x-ratelimit-reset-tokens".into(), "2ms".into()),
    ]
}

/// Anthropic's `anthropic-ratelimit-*` headers.
pub(crate) fn anthropic(d: &Directives) -> Vec<(String, String)> {
    let [requests, tokens] = remaining(d);
    let reset = "2026-11-24T20:00:01Z".to_string();
    vec![
        (
            "anthropic-ratelimit-requests-limit".into(),
            REQUESTS.to_string(),
        ),
        (
            "anthropic-ratelimit-requests-remaining".into(),
            requests.to_string(),
        ),
        ("anthropic-ratelimit-requests-reset".into(), reset.clone()),
        (
            "anthropic-ratelimit-tokens-limit".into(),
            TOKENS.to_string(),
        ),
        (
            "anthropic-ratelimit-tokens-remaining".into(),
            tokens.to_string(),
        ),
        ("anthropic-ratelimit-tokens-reset".into(), reset),
    ]
}
