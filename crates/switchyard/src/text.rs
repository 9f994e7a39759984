//! Bounds on client-chosen text that the gateway repeats (in errors, log lines, spend rows and
//! metric labels), so that a megabyte model name costs a megabyte once, not once per echo.

use std::borrow::Cow;

/// The longest piece of client text repeated anywhere, in characters.
pub const ECHO_LIMIT: usize = 256;

/// `text` cut to at most `max` characters (on a character boundary), marked with `…` when
/// cut.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// [`clip`] at [`ECHO_LIMIT`].
pub fn echo(text: &str) -> Cow<'_, str> {
    clip(text, ECHO_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_on_character_boundaries() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("ééééé", 2), "éé…");
        assert_eq!(echo(&"x".repeat(1_000_000)).chars().count(), ECHO_LIMIT + 1);
    }
}
