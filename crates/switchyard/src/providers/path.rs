//! Model names in upstream URLs.
//!
//! Gemini, Vertex AI, Azure (dated API) and Bedrock put the model in the URL path, and a
//! wildcard deployment (`model_name: "*"`, `model: gemini/*`) lets the client choose it. A
//! name like `../../v1beta/files#` or `x?key=evil` must not steer where the deployment's
//! credential is sent, so every model name that reaches a path is checked here, at the one
//! place each provider builds its URLs: names that cannot be a model of that provider are
//! refused (a 400 for the client), and the rest go in as exactly one path segment.

/// The longest model name accepted in a URL.
pub const MAX_MODEL_IN_PATH: usize = 256;

/// How a provider writes the model into its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathModel {
    /// Written as it is, followed by `:method` (Google) or `/…` (Azure): only the characters
    /// model and deployment names use (letters, digits, `-`, `_`, `.`, and `@` for Vertex
    /// versions).
    Verbatim,
    /// Percent-encoded as one segment (Bedrock, whose ids and ARNs carry `:` and `/`): any
    /// printable text.
    Encoded,
}

/// Checks `model` before it is put in a URL path as `kind`; the error says why it cannot be.
pub(crate) fn check_model_in_path(model: &str, kind: PathModel) -> Result<(), String> {
    let shown = crate::text::echo(model);
    if model.is_empty() {
        return Err("the model name is empty".to_string());
    }
    if model.chars().count() > MAX_MODEL_IN_PATH {
        return Err(format!(
            "the model name `{shown}` is longer than {MAX_MODEL_IN_PATH} characters"
        ));
    }
    // `.` and `..` are path navigation wherever they stand as a whole segment.
    if model == "." || model == ".." {
        return Err(format!("`{shown}` is not a model name"));
    }
    let allowed = |c: char| match kind {
        PathModel::Verbatim => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'),
        PathModel::Encoded => !c.is_control() && !c.is_whitespace(),
    };
    match model.chars().find(|&c| !allowed(c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "the model name `{shown}` contains {}, which no model name of this provider has",
            describe(c)
        )),
    }
}

fn describe(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", c as u32)
    } else {
        format!("`{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_steer_a_url_are_refused() {
        for hostile in [
            "../../../v1beta/files#",
            "../../x",
            "a?key=evil&x=1",
            "x#frag",
            "x:streamGenerateContent?alt=sse&",
            "gemini-x/../../evil?",
            "a%2Fb",
            "x\r\nHost: evil",
            "..",
            ".",
            "",
        ] {
            assert!(
                check_model_in_path(hostile, PathModel::Verbatim).is_err(),
                "{hostile:?}"
            );
        }
        for name in [
            "gemini-2.5-flash",
            "gemini-2.0-flash-001",
            "claude-sonnet-4-5@20250929",
            "gpt-4o_prod.eu",
        ] {
            assert!(
                check_model_in_path(name, PathModel::Verbatim).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn encoded_names_may_carry_arn_characters_but_not_navigation() {
        let arn =
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0";
        assert!(check_model_in_path(arn, PathModel::Encoded).is_ok());
        assert!(check_model_in_path("..", PathModel::Encoded).is_err());
        assert!(check_model_in_path("a\r\nb", PathModel::Encoded).is_err());
        assert!(check_model_in_path(&"m".repeat(300), PathModel::Encoded).is_err());
    }
}
