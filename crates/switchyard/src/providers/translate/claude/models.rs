//! What the gateway needs to know per Claude model: the largest `max_tokens` it accepts (used
//! when neither the request nor the deployment sets one; the Messages API requires it), and
//! which request rules its generation follows.

/// Maximum output tokens by model id prefix, most specific first. Vertex ids
/// (`claude-sonnet-4-5@20250929`) and Bedrock-style dated ids match by prefix too.
const MAX_OUTPUT: &[(&str, u64)] = &[
    ("claude-opus-4-5", 64_000),
    ("claude-opus-4-1", 32_000),
    ("claude-opus-4", 32_000),
    ("claude-sonnet-4", 64_000),
    ("claude-haiku-4", 64_000),
    ("claude-3-7-sonnet", 64_000),
    ("claude-3-5-sonnet", 8_192),
    ("claude-3-5-haiku", 8_192),
    ("claude-3-opus", 4_096),
    ("claude-3-haiku", 4_096),
    ("claude-3-sonnet", 4_096),
];

/// Used for a model the table does not know: every Claude model accepts it.
pub const UNKNOWN_MODEL_MAX_OUTPUT: u64 = 4_096;

/// The Claude id inside `model`, without a region or vendor prefix (`us.anthropic.claude-…`,
/// an inference-profile ARN).
fn claude_id(model: &str) -> &str {
    let id = model.rsplit('/').next().unwrap_or(model);
    match id.find("claude-") {
        Some(at) => &id[at..],
        None => id,
    }
}

/// The generation of a Claude model as `(major, minor)`: `claude-3-7-sonnet-…` → (3, 7),
/// `claude-sonnet-4-5@…` → (4, 5), `claude-opus-4-20250514` → (4, 0). `None` for ids that do
/// not parse (fine-tunes, future naming): callers then assume the newest rules.
pub fn generation(model: &str) -> Option<(u32, u32)> {
    let id = claude_id(model).strip_prefix("claude-")?;
    let tokens: Vec<&str> = id.split(['-', '@', '.', ':']).collect();
    // A version is 1–2 digits; 8-digit tokens are dates.
    let version = |t: &&str| (t.len() <= 2).then(|| t.parse::<u32>().ok()).flatten();
    let (first, rest) = tokens.split_first()?;
    let rest = if version(first).is_some() {
        &tokens[..] // claude-3-7-sonnet: the version comes first
    } else {
        rest // claude-sonnet-4-5: a family name, then the version
    };
    let major = version(rest.first()?)?;
    let minor = rest.get(1).and_then(version).unwrap_or(0);
    Some((major, minor))
}

/// Extended thinking exists from Claude 3.7 on.
pub fn supports_thinking(model: &str) -> bool {
    generation(model).is_none_or(|g| g >= (3, 7))
}

/// From Claude 4.1 on, `temperature` and `top_p` cannot both be set.
pub fn exclusive_sampling(model: &str) -> bool {
    generation(model).is_none_or(|g| g >= (4, 1))
}

/// The default `max_tokens` for `model`.
pub fn max_output_tokens(model: &str) -> u64 {
    let id = claude_id(model);
    MAX_OUTPUT
        .iter()
        .find(|(prefix, _)| id.starts_with(prefix))
        .map_or(UNKNOWN_MODEL_MAX_OUTPUT, |(_, max)| *max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_unknown_and_vertex_ids() {
        assert_eq!(max_output_tokens("claude-sonnet-4-5"), 64_000);
        assert_eq!(max_output_tokens("claude-sonnet-4-5@20250929"), 64_000);
        assert_eq!(max_output_tokens("claude-opus-4-1-20250805"), 32_000);
        assert_eq!(max_output_tokens("claude-3-5-haiku-latest"), 8_192);
        assert_eq!(
            max_output_tokens("us.anthropic.claude-3-haiku-20240307"),
            4_096
        );
        assert_eq!(max_output_tokens("my-finetune"), UNKNOWN_MODEL_MAX_OUTPUT);
    }

    #[test]
    fn generations_from_every_naming_scheme() {
        for (id, expected) in [
            ("claude-3-7-sonnet-20250219", (3, 7)),
            ("claude-3-5-haiku-latest", (3, 5)),
            ("claude-3-opus-20240229", (3, 0)),
            ("claude-sonnet-4-20250514", (4, 0)),
            ("claude-opus-4-1-20250805", (4, 1)),
            ("claude-sonnet-4-5@20250929", (4, 5)),
            ("us.anthropic.claude-haiku-4-5-20251001-v1:0", (4, 5)),
            (
                "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-opus-4-5-20251101-v1:0",
                (4, 5),
            ),
        ] {
            assert_eq!(generation(id), Some(expected), "{id}");
        }
        assert!(!supports_thinking("claude-3-5-sonnet-20241022"));
        assert!(supports_thinking("claude-3-7-sonnet-20250219"));
        assert!(
            supports_thinking("claude-next"),
            "unknown ids get the newest rules"
        );
        assert!(!exclusive_sampling("claude-sonnet-4-20250514"));
        assert!(exclusive_sampling("claude-sonnet-4-5"));
    }
}
