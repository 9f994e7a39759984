//! Opaque provider state carried through the client in a reasoning item's `encrypted_content`:
//! thinking signatures, redacted thinking, thought signatures. Clients treat the value as an
//! opaque string and send it back on the next turn, which is what lets multi-turn tool use with
//! thinking work on providers that require their own blobs back.
//!
//! Format: `swy1.<tag>.<base64url(JSON)>`. The tag names the provider family that minted the
//! blob, so a provider skips blobs minted by another (after a fallback or a model switch in the
//! middle of a conversation) instead of sending them where they would be rejected.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

const VERSION: &str = "swy1";

/// Wraps `value` as an opaque blob tagged `tag` (a provider family: `anthropic`, `gemini`, …).
pub fn encode<T: Serialize>(tag: &str, value: &T) -> String {
    // Serialising plain data structures cannot fail; an empty payload decodes to `None`.
    let json = serde_json::to_vec(value).unwrap_or_default();
    format!("{VERSION}.{tag}.{}", URL_SAFE_NO_PAD.encode(json))
}

/// True for a blob minted by [`encode`] (any provider family).
pub fn is_gateway_blob(blob: &str) -> bool {
    blob.strip_prefix(VERSION)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// Unwraps a blob minted by [`encode`] with the same `tag`; `None` for anything else (another
/// provider's blob, an OpenAI `encrypted_content`, a corrupted value).
pub fn decode<T: DeserializeOwned>(tag: &str, blob: &str) -> Option<T> {
    let rest = blob.strip_prefix(VERSION)?.strip_prefix('.')?;
    let payload = rest.strip_prefix(tag)?.strip_prefix('.')?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Thinking {
        signature: String,
    }

    #[test]
    fn round_trips_and_respects_tags() {
        let value = Thinking {
            signature: "EqQBCkYIARgCKkC+/=".into(),
        };
        let blob = encode("anthropic", &value);
        assert!(blob.starts_with("swy1.anthropic."));
        assert_eq!(decode::<Thinking>("anthropic", &blob), Some(value));
        assert_eq!(decode::<Thinking>("gemini", &blob), None);
        assert_eq!(decode::<Thinking>("anthropic", "gAAAAABopenai"), None);
        assert_eq!(decode::<Thinking>("anthropic", "swy1.anthropic.!!"), None);
    }
}
