//! What each OpenAI-compatible server accepts, and how it deviates from OpenAI.
//!
//! The facts come from each vendor's API reference and recorded traffic; where a server's
//! behaviour is undocumented the flavor is conservative: a parameter it may reject is not sent
//! (soft hints) or answered with a clear 400 (parameters that change output).

pub use crate::providers::translate::ids::ToolIdRule;

/// Which field carries the output token cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokensField {
    /// `max_completion_tokens` (OpenAI reasoning models reject `max_tokens`).
    MaxCompletionTokens,
    /// `max_tokens`.
    MaxTokens,
}

/// How the server reports usage: which of its counts include reasoning and cached tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageRule {
    /// `completion_tokens` includes reasoning tokens.
    Standard,
    /// xAI: `completion_tokens` excludes reasoning tokens.
    ReasoningExcluded,
    /// DeepSeek: cache hits in `prompt_cache_hit_tokens`.
    DeepSeek,
}

/// One server family's behaviour.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    /// The model-string prefix (`mistral`, `hosted_vllm`, …).
    pub name: &'static str,
    /// Human-readable name for messages.
    pub label: &'static str,
    /// Default base URL; `None` means the deployment must set `api_base`.
    pub default_api_base: Option<&'static str>,
    /// Environment variables holding the API key, in LiteLLM's order.
    pub key_env: &'static [&'static str],
    /// Environment variables holding the base URL.
    pub base_env: &'static [&'static str],
    /// The base URL is the server root and `/v1` must be appended (Ollama).
    pub append_v1: bool,
    /// Whether an API key is required.
    pub key_required: bool,
    /// Output-cap field.
    pub max_tokens: MaxTokensField,
    /// Accepts `stream_options.include_usage` (Mistral rejects it and always sends usage).
    pub stream_options: bool,
    /// Accepts `reasoning_effort`.
    pub reasoning_effort: bool,
    /// Values of `reasoning_effort` it accepts, when narrower than OpenAI's; others are mapped to
    /// the nearest accepted one.
    pub effort_values: Option<&'static [&'static str]>,
    /// Accepts the `developer` role; otherwise developer messages are sent as `system`.
    pub developer_role: bool,
    /// Honours `tool_choice` (Ollama ignores it).
    pub tool_choice: bool,
    /// Accepts `parallel_tool_calls`.
    pub parallel_tool_calls: bool,
    /// Supports `response_format` of type `json_schema`.
    pub json_schema: bool,
    /// Accepts `user`.
    pub user: bool,
    /// Accepts `metadata`/`store`/`safety_identifier` (OpenAI only).
    pub openai_extras: bool,
    /// Accepts `service_tier`.
    pub service_tier: bool,
    /// Accepts `prompt_cache_key`.
    pub prompt_cache_key: bool,
    /// Accepts `verbosity`.
    pub verbosity: bool,
    /// Accepts `presence_penalty` / `frequency_penalty`.
    pub penalties: bool,
    /// Provider-specific top-level parameters forwarded from the request when present.
    pub extra_params: &'static [&'static str],
    /// Tool call id constraint.
    pub tool_ids: ToolIdRule,
    /// Usage arithmetic.
    pub usage: UsageRule,
    /// Assistant messages with tool calls carry the preceding reasoning as `reasoning_content`
    /// by default (DeepSeek thinking mode requires it on tool turns).
    pub replay_reasoning: bool,
    /// Model ids get this prefix unless they already start with it (Fireworks).
    pub model_prefix: Option<&'static str>,
}

const SAMPLING_EXTRAS: &[&str] = &[
    "seed",
    "stop",
    "top_k",
    "min_p",
    "repetition_penalty",
    "logit_bias",
];

const OPENAI: Flavor = Flavor {
    name: "openai",
    label: "OpenAI Chat Completions",
    default_api_base: Some("https://api.openai.com/v1"),
    key_env: &["OPENAI_API_KEY"],
    base_env: &["OPENAI_BASE_URL", "OPENAI_API_BASE"],
    append_v1: false,
    key_required: true,
    max_tokens: MaxTokensField::MaxCompletionTokens,
    stream_options: true,
    reasoning_effort: true,
    effort_values: None,
    developer_role: true,
    tool_choice: true,
    parallel_tool_calls: true,
    json_schema: true,
    user: true,
    openai_extras: true,
    service_tier: true,
    prompt_cache_key: true,
    verbosity: true,
    penalties: true,
    extra_params: &["seed", "stop", "logit_bias"],
    tool_ids: ToolIdRule::MaxLen(40),
    usage: UsageRule::Standard,
    replay_reasoning: false,
    model_prefix: None,
};

/// A generic OpenAI-compatible server: accepts the common core, nothing vendor-specific.
const COMPATIBLE: Flavor = Flavor {
    name: "openai_like",
    label: "the OpenAI-compatible server",
    default_api_base: None,
    key_env: &[],
    base_env: &[],
    append_v1: false,
    key_required: false,
    max_tokens: MaxTokensField::MaxTokens,
    stream_options: true,
    reasoning_effort: true,
    effort_values: None,
    developer_role: false,
    tool_choice: true,
    parallel_tool_calls: true,
    json_schema: true,
    user: false,
    openai_extras: false,
    service_tier: false,
    prompt_cache_key: false,
    verbosity: false,
    penalties: true,
    extra_params: SAMPLING_EXTRAS,
    tool_ids: ToolIdRule::MaxLen(64),
    usage: UsageRule::Standard,
    replay_reasoning: false,
    model_prefix: None,
};

/// Ollama's OpenAI-compatible `/v1` (LiteLLM's `ollama_chat/` and `ollama/` both land here).
const OLLAMA: Flavor = Flavor {
    name: "ollama_chat",
    label: "Ollama",
    default_api_base: Some("http://localhost:11434"),
    key_env: &["OLLAMA_API_KEY"],
    base_env: &["OLLAMA_API_BASE"],
    append_v1: true,
    effort_values: Some(&["none", "low", "medium", "high"]),
    tool_choice: false,
    parallel_tool_calls: false,
    ..COMPATIBLE
};

/// Every flavor, by model-string prefix.
pub const FLAVORS: &[Flavor] = &[
    OPENAI,
    // Azure OpenAI serves OpenAI's models with OpenAI's parameters; the URL and the `api-key`
    // header come from `providers::azure`.
    Flavor {
        name: "azure",
        label: "Azure OpenAI",
        default_api_base: None,
        key_env: &["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"],
        base_env: &["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"],
        key_required: false,
        ..OPENAI
    },
    // Azure AI Foundry model inference hosts other vendors' models (Llama, Mistral, DeepSeek,
    // Phi…): only the common core is assumed; unknown fields reach the model because the
    // provider sends `extra-parameters: pass-through`.
    Flavor {
        name: "azure_ai",
        label: "Azure AI",
        key_env: &["AZURE_AI_API_KEY"],
        base_env: &["AZURE_AI_API_BASE"],
        key_required: true,
        extra_params: &["seed", "stop"],
        ..COMPATIBLE
    },
    Flavor {
        name: "custom_openai",
        ..COMPATIBLE
    },
    COMPATIBLE,
    Flavor {
        name: "hosted_vllm",
        label: "vLLM",
        key_env: &["HOSTED_VLLM_API_KEY"],
        base_env: &["HOSTED_VLLM_API_BASE"],
        ..COMPATIBLE
    },
    OLLAMA,
    Flavor {
        name: "ollama",
        ..OLLAMA
    },
    Flavor {
        name: "groq",
        label: "Groq",
        default_api_base: Some("https://api.groq.com/openai/v1"),
        key_env: &["GROQ_API_KEY"],
        base_env: &["GROQ_API_BASE"],
        key_required: true,
        max_tokens: MaxTokensField::MaxCompletionTokens,
        user: true,
        service_tier: true,
        // Groq rejects unknown properties with a 400.
        extra_params: &["seed", "stop"],
        ..COMPATIBLE
    },
    Flavor {
        name: "deepseek",
        label: "DeepSeek",
        default_api_base: Some("https://api.deepseek.com"),
        key_env: &["DEEPSEEK_API_KEY"],
        base_env: &["DEEPSEEK_API_BASE"],
        key_required: true,
        json_schema: false,
        extra_params: &["stop"],
        usage: UsageRule::DeepSeek,
        replay_reasoning: true,
        ..COMPATIBLE
    },
    Flavor {
        name: "mistral",
        label: "Mistral",
        default_api_base: Some("https://api.mistral.ai/v1"),
        key_env: &["MISTRAL_API_KEY"],
        base_env: &["MISTRAL_API_BASE", "MISTRAL_AZURE_API_BASE"],
        key_required: true,
        stream_options: false,
        // Mistral answers 422 `extra_forbidden` for any field it does not know.
        prompt_cache_key: true,
        extra_params: &["stop", "random_seed"],
        tool_ids: ToolIdRule::Alnum9,
        ..COMPATIBLE
    },
    Flavor {
        name: "xai",
        label: "xAI",
        default_api_base: Some("https://api.x.ai/v1"),
        key_env: &["XAI_API_KEY"],
        base_env: &["XAI_API_BASE"],
        key_required: true,
        user: true,
        extra_params: &["seed", "stop"],
        usage: UsageRule::ReasoningExcluded,
        ..COMPATIBLE
    },
    Flavor {
        name: "openrouter",
        label: "OpenRouter",
        default_api_base: Some("https://openrouter.ai/api/v1"),
        key_env: &["OPENROUTER_API_KEY", "OR_API_KEY"],
        base_env: &["OPENROUTER_API_BASE"],
        key_required: true,
        user: true,
        verbosity: true,
        extra_params: &[
            "seed",
            "stop",
            "top_k",
            "min_p",
            "repetition_penalty",
            "logit_bias",
            "provider",
            "models",
            "route",
            "transforms",
            "plugins",
        ],
        ..COMPATIBLE
    },
    Flavor {
        name: "together_ai",
        label: "Together AI",
        default_api_base: Some("https://api.together.xyz/v1"),
        key_env: &[
            "TOGETHER_API_KEY",
            "TOGETHER_AI_API_KEY",
            "TOGETHERAI_API_KEY",
            "TOGETHER_AI_TOKEN",
        ],
        base_env: &["TOGETHER_AI_API_BASE"],
        key_required: true,
        ..COMPATIBLE
    },
    Flavor {
        name: "fireworks_ai",
        label: "Fireworks AI",
        default_api_base: Some("https://api.fireworks.ai/inference/v1"),
        key_env: &[
            "FIREWORKS_API_KEY",
            "FIREWORKS_AI_API_KEY",
            "FIREWORKSAI_API_KEY",
            "FIREWORKS_AI_TOKEN",
        ],
        base_env: &["FIREWORKS_API_BASE"],
        key_required: true,
        service_tier: true,
        prompt_cache_key: true,
        // Fireworks rejects unknown fields ("Extra inputs are not permitted").
        extra_params: &["seed", "stop", "top_k", "min_p", "repetition_penalty"],
        model_prefix: Some("accounts/fireworks/models/"),
        ..COMPATIBLE
    },
    Flavor {
        name: "deepinfra",
        label: "DeepInfra",
        default_api_base: Some("https://api.deepinfra.com/v1/openai"),
        key_env: &["DEEPINFRA_API_KEY"],
        base_env: &["DEEPINFRA_API_BASE"],
        key_required: true,
        user: true,
        service_tier: true,
        prompt_cache_key: true,
        ..COMPATIBLE
    },
    Flavor {
        name: "cerebras",
        label: "Cerebras",
        default_api_base: Some("https://api.cerebras.ai/v1"),
        key_env: &["CEREBRAS_API_KEY"],
        base_env: &["CEREBRAS_API_BASE"],
        key_required: true,
        max_tokens: MaxTokensField::MaxCompletionTokens,
        effort_values: Some(&["none", "low", "medium", "high"]),
        developer_role: true,
        user: true,
        service_tier: true,
        // Cerebras rejects unknown fields (`top_k` → 400).
        extra_params: &["seed", "stop"],
        ..COMPATIBLE
    },
];

/// The flavor for a model-string prefix.
pub fn flavor(name: &str) -> Option<&'static Flavor> {
    FLAVORS.iter().find(|f| f.name == name)
}

impl Flavor {
    /// `effort` as this server accepts it.
    pub fn map_effort(&self, effort: &str) -> String {
        let Some(accepted) = self.effort_values else {
            return effort.to_string();
        };
        if accepted.contains(&effort) {
            return effort.to_string();
        }
        let nearest = match effort {
            "minimal" => "low",
            "xhigh" | "max" | "ultra" => "high",
            other => other,
        };
        if accepted.contains(&nearest) {
            nearest.to_string()
        } else {
            effort.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_the_issue_has_a_flavor() {
        for name in [
            "openai",
            "hosted_vllm",
            "ollama_chat",
            "groq",
            "deepseek",
            "mistral",
            "xai",
            "openrouter",
            "together_ai",
            "fireworks_ai",
            "deepinfra",
            "cerebras",
        ] {
            assert!(flavor(name).is_some(), "{name}");
        }
    }

    #[test]
    fn ollama_effort_is_mapped_to_what_it_accepts() {
        let f = flavor("ollama_chat").unwrap();
        assert_eq!(f.map_effort("minimal"), "low");
        assert_eq!(f.map_effort("xhigh"), "high");
        assert_eq!(f.map_effort("medium"), "medium");
        assert_eq!(flavor("openai").unwrap().map_effort("xhigh"), "xhigh");
    }
}
