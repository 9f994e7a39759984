//! Identifiers the gateway mints.
//!
//! Responses ids look like OpenAI's: a prefix and 48 lowercase hex digits. Item ids share the
//! response's tail (as OpenAI's do) followed by the item's index, so they are unique within a
//! response, unique across responses, stable for a given response id (golden tests fix the
//! response id), at most 64 characters and within `[A-Za-z0-9_]`.

use std::fmt::Write;

/// `resp_` followed by 48 hex digits: the Unix time in milliseconds (12), then 36 random. As
/// OpenAI's ids (which start with the time in seconds) and the request ids below, they sort by
/// time: stored responses, keyed by id, and their items, keyed by ids that share its tail, are
/// appended to their indexes instead of scattered through them (each save then writes a few
/// pages, not one per index per response).
pub fn response_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut id = format!("resp_{:012x}", ms & 0xffff_ffff_ffff);
    id.push_str(&random_hex(18));
    id
}

/// `req_` followed by 32 hex digits: the id of one gateway request (`x-request-id`). The first
/// 12 are the Unix time in milliseconds and the other 20 random, so ids sort by time (as UUIDv7
/// does): spend-log rows, keyed by request id, are then appended to the key's index rather than
/// scattered through it.
pub fn request_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut id = format!("req_{:012x}", ms & 0xffff_ffff_ffff);
    id.push_str(&random_hex(10));
    id
}

/// The id of output item `index` of `response_id`: `{prefix}_{tail[..40]}{index:08x}`.
pub fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    let tail = response_id
        .split_once('_')
        .map_or(response_id, |(_, tail)| tail);
    let tail: String = tail
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    let mut id = String::with_capacity(prefix.len() + 1 + tail.len() + 8);
    id.push_str(prefix);
    id.push('_');
    id.push_str(&tail);
    let _ = write!(id, "{index:08x}");
    id
}

/// A tool call id for output item `index` of `response_id`, for upstreams that send none:
/// `call_` and 24 alphanumerics (the shape of OpenAI's), unique across responses because the
/// response id is, and stable for a given response id. It takes the last 16 characters of the
/// id's tail: a minted id starts with the time, which two responses of one millisecond share.
pub fn call_id(response_id: &str, index: usize) -> String {
    let tail = response_id
        .split_once('_')
        .map_or(response_id, |(_, tail)| tail);
    let tail: Vec<char> = tail.chars().filter(char::is_ascii_alphanumeric).collect();
    let mut id = String::with_capacity(29);
    id.push_str("call_");
    id.extend(&tail[tail.len().saturating_sub(16)..]);
    let _ = write!(id, "{index:08x}");
    id
}

/// True for response ids every client accepts: `resp_` and at most 64 characters of
/// `[A-Za-z0-9_-]` in all.
pub fn is_client_safe_response_id(id: &str) -> bool {
    id.starts_with("resp_")
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `n` random bytes as `2n` lowercase hex digits.
pub fn random_hex(n: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(n * 2);
    for _ in 0..n {
        let byte = fastrand::u8(..);
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn ids_have_the_right_shape() {
        let resp = response_id();
        assert!(resp.starts_with("resp_") && resp.len() == 53 && valid(&resp));
        let msg = item_id("msg", &resp, 3);
        assert!(msg.starts_with("msg_") && valid(&msg), "{msg}");
        assert!(msg.ends_with("00000003"));
        assert_ne!(msg, item_id("msg", &resp, 4));
        let call = call_id(&resp, 2);
        assert!(
            call.starts_with("call_") && call.len() == 29 && valid(&call),
            "{call}"
        );
        assert_ne!(call, call_id(&response_id(), 2));
        assert!(valid(&request_id()));
    }

    #[test]
    fn request_ids_are_unique_and_sort_by_time() {
        let first = request_id();
        assert_eq!(first.len(), 36, "{first}");
        assert!(first[4..].bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let ids: Vec<String> = (0..1000).map(|_| request_id()).collect();
        assert!(
            ids.iter().all(|id| *id > first),
            "later ids sort after earlier ones"
        );
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn response_ids_sort_by_time_and_their_call_ids_stay_unique() {
        let first = response_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let ids: Vec<String> = (0..10_000).map(|_| response_id()).collect();
        assert!(ids.iter().all(|id| *id > first && id.len() == 53));
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        // Many share a millisecond; their call ids must not.
        let calls: std::collections::HashSet<String> =
            ids.iter().map(|id| call_id(id, 0)).collect();
        assert_eq!(calls.len(), ids.len());
    }

    #[test]
    fn item_ids_are_stable_for_a_response_id() {
        assert_eq!(
            item_id("fc", "resp_abc", 0),
            item_id("fc", "resp_abc", 0),
            "golden tests rely on this"
        );
        assert_eq!(item_id("fc", "resp_abc", 1), "fc_abc00000001");
    }
}
