//! What a translated provider does with a request feature its upstream cannot honour: a 400
//! naming the parameter, or, with `drop_params`, drop it and log at debug. Shared by every
//! translator so the wording and the rules are the same for all providers.

use switchyard_types::responses::CreateResponse;

use crate::error::Error;

/// Refuses or drops what one upstream cannot honour.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate<'a> {
    /// The upstream, as named in messages (`Anthropic`, `Mistral`, …).
    pub label: &'a str,
    /// `drop_params`: drop instead of refusing.
    pub drop_params: bool,
}

impl Gate<'_> {
    /// A parameter the upstream has no equivalent for.
    pub(crate) fn unsupported(&self, param: &str) -> Result<(), Error> {
        if self.drop_params {
            tracing::debug!(param, target = self.label, "dropping unsupported parameter");
            Ok(())
        } else {
            Err(Error::unsupported_parameter(param, self.label))
        }
    }

    /// A value the upstream would reject: refused, or dropped with `drop_params`.
    pub(crate) fn conflict(&self, param: &str, why: &str) -> Result<(), Error> {
        if self.drop_params {
            tracing::debug!(param, why, target = self.label, "dropping parameter");
            Ok(())
        } else {
            Err(self.refuse(param, why))
        }
    }

    /// A parameter refused whatever `drop_params` says, with the reason.
    pub(crate) fn refuse(&self, param: &str, why: &str) -> Error {
        Error::invalid_request(
            format!("'{param}' cannot be used with {}: {why}", self.label),
            Some(param),
        )
        .with_code("unsupported_parameter")
    }

    /// Continuation state the gateway cannot reproduce for a translated upstream: always
    /// refused, since dropping it would silently answer a different question. A
    /// `previous_response_id` is OpenAI's 400 `previous_response_not_found`.
    pub(crate) fn refuse_state(&self, req: &CreateResponse) -> Result<(), Error> {
        if let Some(id) = &req.previous_response_id {
            // The store takes out every id it knows before a translator sees the request; one
            // still here was unknown and left for a Responses upstream to resolve, and the
            // request then failed over to this deployment, which has nobody to ask.
            return Err(crate::state::previous_not_found(id));
        }
        if req.conversation.is_some() {
            return Err(self.refuse(
                "conversation",
                "stored conversations are not available; send the whole conversation in `input`",
            ));
        }
        if req.prompt.is_some() {
            return Err(self.refuse("prompt", "stored prompt templates are not available"));
        }
        if req.background == Some(true) {
            return Err(self.refuse("background", "background mode is not available"));
        }
        Ok(())
    }

    /// `presence_penalty` and `frequency_penalty`, for upstreams that have neither.
    pub(crate) fn penalties(&self, req: &CreateResponse) -> Result<(), Error> {
        if req.presence_penalty.is_some() {
            self.unsupported("presence_penalty")?;
        }
        if req.frequency_penalty.is_some() {
            self.unsupported("frequency_penalty")?;
        }
        Ok(())
    }

    /// Output options no translated upstream offers: `truncation: auto` and log probabilities.
    pub(crate) fn output_options(&self, req: &CreateResponse) -> Result<(), Error> {
        if req.truncation.as_deref() == Some("auto") {
            self.unsupported("truncation")?;
        }
        if req.top_logprobs.is_some_and(|n| n > 0) {
            self.unsupported("top_logprobs")?;
        }
        if req.includes("message.output_text.logprobs") {
            self.unsupported("include")?;
        }
        Ok(())
    }
}
