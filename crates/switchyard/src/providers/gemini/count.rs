//! Google's token counter, `…/models/{model}:countTokens`, answering `{"totalTokens": N}`.
//!
//! The two services take different bodies (the Gemini API reference, `models.countTokens`;
//! the Vertex AI reference, `projects.locations.publishers.models.countTokens`):
//! * the Gemini API counts `contents` alone, or a whole `generateContentRequest` (model
//!   included) so that the system instruction and the tools count too: the latter is sent;
//! * Vertex AI takes `contents`, `systemInstruction` and `tools` at the top level.
//!
//! Only what shapes the input is sent: the generation config (caps, sampling, thinking) and
//! the tool config do not change the prompt's tokens.

use serde::Serialize;

use super::wire::{Content, GenerateContentRequest, ToolDeclarations};

/// The prompt as the counter reads it: `generateContent`'s input fields.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountedPrompt<'a> {
    /// The Gemini API only: `models/{model}`, which a `generateContentRequest` must name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation.
    pub contents: &'a [Content],
    /// The system prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<&'a Content>,
    /// The function declarations.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tools: &'a [ToolDeclarations],
}

/// A `:countTokens` body on the Gemini API.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiApiCount<'a> {
    /// The request whose input is counted.
    pub generate_content_request: CountedPrompt<'a>,
}

/// The `:countTokens` body for `body` (the create's translation for `model`): the Gemini API's
/// form, or with `vertex` Vertex AI's.
pub fn count_body(
    body: &GenerateContentRequest,
    model: &str,
    vertex: bool,
) -> Result<bytes::Bytes, crate::error::Error> {
    let prompt = |model: Option<String>| CountedPrompt {
        model,
        contents: &body.contents,
        system_instruction: body.system_instruction.as_ref(),
        tools: &body.tools,
    };
    if vertex {
        crate::providers::json_body(&prompt(None))
    } else {
        crate::providers::json_body(&GeminiApiCount {
            generate_content_request: prompt(Some(format!("models/{model}"))),
        })
    }
}

/// `…:countTokens` beside a `…:generateContent` URL.
pub fn count_url(generate_url: &reqwest::Url) -> reqwest::Url {
    let mut url = generate_url.clone();
    let path = url.path().to_string();
    let path = path.strip_suffix(":generateContent").unwrap_or(&path);
    url.set_path(&format!("{path}:countTokens"));
    url.set_query(None);
    url
}
