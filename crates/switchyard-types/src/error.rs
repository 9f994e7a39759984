//! The OpenAI error envelope: `{"error":{"message","type","param","code"}}`.

use serde::{Deserialize, Serialize};

use crate::JsonMap;
use crate::de::{null_default, opt_string_or_number};

/// `{"error": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorObject,
}

/// The error object. All four keys are always serialised; `param` and `code` may be `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// Human-readable message.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    /// Error class: `invalid_request_error`, `authentication_error`, `rate_limit_error`, …
    #[serde(rename = "type", default, deserialize_with = "opt_string_or_number")]
    pub kind: Option<String>,
    /// The request parameter at fault.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub param: Option<String>,
    /// Machine-readable code (`model_not_found`, `rate_limit_exceeded`, …). Upstreams sometimes
    /// send numbers here; they are read as text.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub code: Option<String>,
    /// Fields not modelled here (`innererror`, `metadata`, `failed_generation`…).
    #[serde(flatten, skip_serializing)]
    pub extra: JsonMap,
}

impl ErrorEnvelope {
    /// Builds an envelope.
    pub fn new(
        message: impl Into<String>,
        kind: impl Into<String>,
        param: Option<String>,
        code: Option<String>,
    ) -> Self {
        ErrorEnvelope {
            error: ErrorObject {
                message: message.into(),
                kind: Some(kind.into()),
                param,
                code,
                extra: JsonMap::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_all_four_keys() {
        let e = ErrorEnvelope::new("bad", "invalid_request_error", None, None);
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            json!({"error": {"message": "bad", "type": "invalid_request_error", "param": null,
                "code": null}})
        );
    }

    #[test]
    fn reads_numeric_codes() {
        let e: ErrorEnvelope =
            serde_json::from_value(json!({"error": {"message": "m", "code": 429}})).unwrap();
        assert_eq!(e.error.code.as_deref(), Some("429"));
    }
}
