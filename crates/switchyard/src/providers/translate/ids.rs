//! Tool call ids an upstream accepts. Ids that already fit pass unchanged; others are replaced
//! by a deterministic digest, so a call and its result map to the same id on every turn.

/// Constraints on the tool call ids sent to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolIdRule {
    /// Any id of `[A-Za-z0-9_-]` up to `n` characters (OpenAI rejects ids over 40).
    MaxLen(usize),
    /// Mistral: exactly nine `[A-Za-z0-9]`.
    Alnum9,
}

/// A tool call id that follows `rule`: `id` itself when it fits, else a digest of it.
pub fn chat_call_id(id: &str, rule: ToolIdRule) -> String {
    let fits_charset = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match rule {
        ToolIdRule::MaxLen(max) if id.len() <= max && !id.is_empty() && fits_charset(id) => {
            id.to_string()
        }
        ToolIdRule::MaxLen(_) => format!("call_{}", base62_digest(id, 24)),
        ToolIdRule::Alnum9 if id.len() == 9 && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
            id.to_string()
        }
        ToolIdRule::Alnum9 => base62_digest(id, 9),
    }
}

/// `len` base-62 characters derived from `input` with FNV-1a (stable across processes and
/// versions, unlike `std`'s hasher).
pub(crate) fn base62_digest(input: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut round: u64 = 0;
    while out.len() < len {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ round;
        for byte in input.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for _ in 0..10 {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(hash % 62) as usize] as char);
            hash /= 62;
        }
        round += 1;
    }
    out
}

/// What separates a call id from the provider state it carries (see [`split_call_carrier`]);
/// not a character of base64url or of any provider's ids.
pub const CALL_CARRIER: char = '~';

/// A call id and the provider state it carries, when it carries one. With `store: false` and
/// no `reasoning.encrypted_content`, nothing the client keeps could bring a Gemini thought
/// signature back but the call id itself, which every client echoes (a hand-written loop
/// replays only `call_id`, `name` and `arguments`): the signature rides in it, after
/// [`CALL_CARRIER`]. Every translator reads the id through this, so no upstream sees the
/// carrier.
pub fn split_call_carrier(call_id: &str) -> (&str, Option<&str>) {
    match call_id.split_once(CALL_CARRIER) {
        Some((id, carried)) if !carried.is_empty() => (id, Some(carried)),
        _ => (call_id, None),
    }
}
