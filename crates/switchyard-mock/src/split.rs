//! How generated text is cut into stream deltas.

/// Splits `text` before every space, so each piece is one word with its leading space
/// (`"You said: hi"` → `"You"`, `" said:"`, `" hi"`) and the pieces concatenate back to `text`.
pub(crate) fn words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' && i > start {
            pieces.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Cuts tool-call arguments into fragments of at most eight characters, and always at least two
/// when there are two characters to split, the way OpenAI streams arguments.
pub(crate) fn fragments(arguments: &str) -> Vec<&str> {
    let chars = arguments.chars().count();
    let size = if chars <= 8 { chars.div_ceil(2) } else { 8 }.max(1);
    let mut pieces = Vec::new();
    let mut start = 0;
    for (n, (i, _)) in arguments.char_indices().enumerate() {
        if n > 0 && n % size == 0 {
            pieces.push(&arguments[start..i]);
            start = i;
        }
    }
    if start < arguments.len() || pieces.is_empty() {
        pieces.push(&arguments[start..]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        assert_eq!(words("You said: hi"), vec!["You", " said:", " hi"]);
        assert_eq!(words(" a  b"), vec![" a", " ", " b"]);
        assert_eq!(words(""), Vec::<&str>::new());
        assert_eq!(words("héllo wörld").concat(), "héllo wörld");
    }

    #[test]
    fn fragments_round_trip() {
        assert_eq!(fragments("{}"), vec!["{", "}"]);
        let args = r#"{"cmd":"echo héllo wörld"}"#;
        let pieces = fragments(args);
        assert!(pieces.len() >= 2);
        assert_eq!(pieces.concat(), args);
        assert_eq!(fragments(""), vec![""]);
    }
}
