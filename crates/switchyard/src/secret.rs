//! Credentials that never reach a log line, an error message or a debug dump.

use std::fmt;

/// A credential. `Debug` and `Display` print `[REDACTED]`; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for building an upstream request.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no credential is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Removes credentials from text that came from outside (an upstream error body) before it is
/// logged or shown: every occurrence of a known secret, and anything shaped like an API key
/// (`sk-…`, `sk-ant-…`, `AIza…`, `gsk_…`, `xai-…` followed by 16 or more key characters).
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        let s = secret.expose();
        if s.len() >= 8 && out.contains(s) {
            out = out.replace(s, "[REDACTED]");
        }
    }
    redact_key_shapes(&out)
}

fn redact_key_shapes(text: &str) -> String {
    // Static keys, then bearer tokens: JWTs (Entra ID, service accounts) and Google OAuth
    // access tokens, whose parts are joined by dots.
    const PREFIXES: &[(&str, bool)] = &[
        ("sk-", false),
        ("AIza", false),
        ("gsk_", false),
        ("xai-", false),
        ("sk_", false),
        ("eyJ", true),
        ("ya29.", true),
    ];
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for &(prefix, dotted) in PREFIXES {
            if let Some(after) = rest.strip_prefix(prefix) {
                let len = after
                    .find(|c: char| !(is_key_char(c) || (dotted && c == '.')))
                    .unwrap_or(after.len());
                // Keys begin at a word boundary.
                let boundary = out.chars().last().is_none_or(|c| !is_key_char(c));
                if len >= 16 && boundary {
                    out.push_str("[REDACTED]");
                    rest = &after[len..];
                    continue 'outer;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s:?} {s}"), "[REDACTED] [REDACTED]");
    }

    #[test]
    fn redacts_known_secrets_and_key_shapes() {
        let s = Secret::new("my-upstream-token-123");
        let text = "bad key my-upstream-token-123 and sk-abcdefghijklmnopqrstuvwx, task-force ok";
        assert_eq!(
            redact(text, &[&s]),
            "bad key [REDACTED] and [REDACTED], task-force ok"
        );
        assert_eq!(redact("risk-free", &[]), "risk-free");
        let jwt = "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ was bad";
        assert_eq!(redact(jwt, &[]), "token [REDACTED] was bad");
        assert_eq!(
            redact("Bearer ya29.a0AfB_byC-abcdefghijklmnopqrstuvwxyz.", &[]),
            "Bearer [REDACTED]"
        );
    }
}
