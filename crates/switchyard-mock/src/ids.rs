//! Identifiers shaped like the ones each provider mints.
//!
//! Ids are random (clients never rely on their value), but their alphabet and length follow the
//! real ones, so a gateway that validates or rewrites ids sees realistic input.

const HEX: &[u8] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";

fn push_random(out: &mut String, alphabet: &[u8], len: usize) {
    out.reserve(len);
    for _ in 0..len {
        out.push(char::from(alphabet[fastrand::usize(..alphabet.len())]));
    }
}

fn random(prefix: &str, alphabet: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    push_random(&mut out, alphabet, len);
    out
}

/// `len` random lowercase hex digits.
pub(crate) fn hex(len: usize) -> String {
    random("", HEX, len)
}

/// `len` random characters of `[A-Za-z0-9]`.
pub(crate) fn alnum(len: usize) -> String {
    random("", ALNUM, len)
}

/// Ids of one Responses API response: OpenAI's item ids share a 16-digit stem with the response
/// id, followed by 32 digits of their own (48 in all).
#[derive(Debug, Clone)]
pub(crate) struct ResponseIds {
    stem: String,
}

impl ResponseIds {
    pub(crate) fn new() -> Self {
        ResponseIds { stem: hex(16) }
    }

    /// `resp_` + 48 hex.
    pub(crate) fn response(&self) -> String {
        self.with_prefix("resp_")
    }

    /// `{prefix}` + the shared stem + 32 hex (`msg_`, `fc_`, `rs_`).
    pub(crate) fn item(&self, prefix: &str) -> String {
        self.with_prefix(prefix)
    }

    fn with_prefix(&self, prefix: &str) -> String {
        let mut out = String::with_capacity(prefix.len() + 48);
        out.push_str(prefix);
        out.push_str(&self.stem);
        push_random(&mut out, HEX, 32);
        out
    }
}

/// `call_` + 24 alphanumerics: OpenAI's tool call ids.
pub(crate) fn call_id() -> String {
    random("call_", ALNUM, 24)
}

/// `chatcmpl-` + 29 alphanumerics: OpenAI's completion ids.
pub(crate) fn chatcmpl() -> String {
    random("chatcmpl-", ALNUM, 29)
}

/// A random UUID in its canonical text form (DeepSeek, xAI and Groq use these).
pub(crate) fn uuid() -> String {
    let mut out = String::with_capacity(36);
    for (i, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        push_random(&mut out, HEX, len);
    }
    out
}

/// `req_` + 32 hex: an `x-request-id`.
pub(crate) fn request_id() -> String {
    random("req_", HEX, 32)
}

/// Nine alphanumerics: Mistral's tool call ids (the only form it accepts back).
pub(crate) fn mistral_call_id() -> String {
    alnum(9)
}

/// Nine lowercase alphanumerics: Groq's tool call ids.
pub(crate) fn groq_call_id() -> String {
    random("", LOWER_ALNUM, 9)
}

/// `call_` + 8 lowercase alphanumerics: Ollama's tool call ids.
pub(crate) fn ollama_call_id() -> String {
    random("call_", LOWER_ALNUM, 8)
}

/// `chatcmpl-` + three digits: Ollama's completion ids.
pub(crate) fn ollama_chatcmpl() -> String {
    random("chatcmpl-", DIGITS, 3)
}

/// `call_` + 8 digits: xAI's tool call ids.
pub(crate) fn xai_call_id() -> String {
    random("call_", DIGITS, 8)
}

/// `call_{index:02}_` + 24 alphanumerics: DeepSeek's tool call ids.
pub(crate) fn deepseek_call_id(index: usize) -> String {
    let mut out = format!("call_{index:02}_");
    push_random(&mut out, ALNUM, 24);
    out
}

/// `gen-{unix seconds}-` + 20 alphanumerics: OpenRouter's generation ids.
pub(crate) fn openrouter_gen(created: u64) -> String {
    let mut out = format!("gen-{created}-");
    push_random(&mut out, ALNUM, 20);
    out
}

/// Random padding for `obfuscation` fields: OpenAI pads deltas so that their length does not
/// reveal the token; the length varies from event to event.
pub(crate) fn obfuscation() -> String {
    let len = fastrand::usize(4..16);
    alnum(len)
}

/// An opaque `encrypted_content` blob in the shape of OpenAI's (Fernet tokens start `gAAAAA`).
pub(crate) fn encrypted_content() -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = random("gAAAAAB", B64, 120);
    out.push_str("==");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let ids = ResponseIds::new();
        let resp = ids.response();
        let msg = ids.item("msg_");
        assert_eq!(resp.len(), 5 + 48);
        assert_eq!(msg.len(), 4 + 48);
        assert_eq!(resp[5..21], msg[4..20]);
        assert!(resp[5..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(call_id().len(), 5 + 24);
        assert_eq!(mistral_call_id().len(), 9);
        assert_eq!(uuid().len(), 36);
        assert!(deepseek_call_id(3).starts_with("call_03_"));
    }
}
