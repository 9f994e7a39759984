//! Request parameters a `model_list` entry sets by default (`litellm_params.temperature`, …),
//! which every provider applies to the requests it translates.

use switchyard_types::responses::CreateResponse;

/// Request parameters a deployment sets by default (`litellm_params.temperature`, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestDefaults {
    /// Default `temperature`.
    pub temperature: Option<f64>,
    /// Default `top_p`.
    pub top_p: Option<f64>,
    /// Default `max_output_tokens` (`max_tokens` in LiteLLM configs).
    pub max_output_tokens: Option<u64>,
    /// Default `reasoning.effort`.
    pub reasoning_effort: Option<String>,
}

impl RequestDefaults {
    /// Fills unset fields of `request` from these defaults.
    pub fn apply(&self, request: &mut CreateResponse) {
        if request.temperature.is_none() {
            request.temperature = self.temperature;
        }
        if request.top_p.is_none() {
            request.top_p = self.top_p;
        }
        if request.max_output_tokens.is_none() {
            request.max_output_tokens = self.max_output_tokens;
        }
        if let Some(effort) = &self.reasoning_effort {
            let reasoning = request.reasoning.get_or_insert_with(Default::default);
            if reasoning.effort.is_none() {
                reasoning.effort = Some(effort.clone());
            }
        }
    }

    /// True when no default is set.
    pub fn is_empty(&self) -> bool {
        *self == RequestDefaults::default()
    }
}
