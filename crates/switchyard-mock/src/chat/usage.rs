//! Token usage in each server's own accounting.

use serde_json::{Value, json};

use super::Flavor;
use crate::plan::Tokens;

/// The `usage` object `flavor` reports for `tokens` (Responses accounting: input includes
/// cached, output includes reasoning).
pub(crate) fn usage(flavor: Flavor, t: &Tokens) -> Value {
    let total = t.total();
    match flavor {
        Flavor::OpenAi | Flavor::Azure => {
            json!({"prompt_tokens": t.input, "completion_tokens": t.output,
            "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": t.cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": t.reasoning, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})
        }
        Flavor::DeepSeek => {
            let mut usage = json!({"prompt_tokens": t.input, "completion_tokens": t.output,
                "total_tokens": total, "prompt_tokens_details": {"cached_tokens": t.cached}});
            if t.reasoning > 0 {
                usage["completion_tokens_details"] = json!({"reasoning_tokens": t.reasoning});
            }
            usage["prompt_cache_hit_tokens"] = json!(t.cached);
            usage["prompt_cache_miss_tokens"] = json!(t.input.saturating_sub(t.cached));
            usage
        }
        Flavor::Mistral => {
            let mut usage = json!({"prompt_tokens": t.input, "total_tokens": total,
                "completion_tokens": t.output});
            // Unverified for Mistral: reasoning is reported the OpenAI way, and only when there
            // is some, so that reasoning turns carry a count like every other reasoning server.
            if t.reasoning > 0 {
                usage["completion_tokens_details"] = json!({"reasoning_tokens": t.reasoning});
            }
            usage
        }
        Flavor::Groq => {
            let mut usage = json!({"queue_time": 0.012, "prompt_tokens": t.input,
                "prompt_time": 0.003, "completion_tokens": t.output, "completion_time": 0.021,
                "total_tokens": total, "total_time": 0.024});
            if t.cached > 0 {
                usage["prompt_tokens_details"] = json!({"cached_tokens": t.cached});
            }
            if t.reasoning > 0 {
                usage["completion_tokens_details"] = json!({"reasoning_tokens": t.reasoning});
            }
            usage
        }
        // Recorded through Foundry (DeepSeek): details null, reasoning directly under usage.
        Flavor::AzureAi => json!({"prompt_tokens": t.input, "total_tokens": total,
            "completion_tokens": t.output, "prompt_tokens_details": null,
            "reasoning_tokens": t.reasoning}),
        Flavor::Ollama => json!({"prompt_tokens": t.input, "completion_tokens": t.output,
            "total_tokens": total}),
        Flavor::Vllm => {
            let details = if t.cached > 0 {
                json!({"cached_tokens": t.cached})
            } else {
                Value::Null
            };
            let mut usage = json!({"prompt_tokens": t.input, "total_tokens": total,
                "completion_tokens": t.output, "prompt_tokens_details": details});
            if t.reasoning > 0 {
                usage["completion_tokens_details"] = json!({"reasoning_tokens": t.reasoning});
            }
            usage
        }
        Flavor::OpenRouter => {
            let prompt_cost = t.input as f64 * 1e-6;
            let completion_cost = t.output as f64 * 2e-6;
            json!({"prompt_tokens": t.input, "completion_tokens": t.output,
                "total_tokens": total, "cost": prompt_cost + completion_cost, "is_byok": false,
                "prompt_tokens_details": {"cached_tokens": t.cached, "audio_tokens": 0},
                "cost_details": {"upstream_inference_cost": null,
                    "upstream_inference_prompt_cost": prompt_cost,
                    "upstream_inference_completions_cost": completion_cost},
                "completion_tokens_details": {"reasoning_tokens": t.reasoning, "image_tokens": 0}})
        }
        // xAI leaves reasoning out of `completion_tokens` but counts it in the total.
        Flavor::Xai => json!({"prompt_tokens": t.input,
            "completion_tokens": t.output.saturating_sub(t.reasoning), "total_tokens": total,
            "prompt_tokens_details": {"text_tokens": t.input, "audio_tokens": 0,
                "image_tokens": 0, "cached_tokens": t.cached},
            "completion_tokens_details": {"reasoning_tokens": t.reasoning, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
            "num_sources_used": 0, "cost_in_usd_ticks": total * 1000}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Tokens = Tokens {
        input: 10,
        cached: 4,
        output: 7,
        reasoning: 2,
    };

    #[test]
    fn xai_excludes_reasoning_from_completion() {
        let u = usage(Flavor::Xai, &T);
        assert_eq!(u["completion_tokens"], 5);
        assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 2);
        assert_eq!(u["total_tokens"], 17);
    }

    #[test]
    fn deepseek_splits_cache_hits_and_misses() {
        let u = usage(Flavor::DeepSeek, &T);
        assert_eq!(u["prompt_cache_hit_tokens"], 4);
        assert_eq!(u["prompt_cache_miss_tokens"], 6);
        assert_eq!(u["completion_tokens"], 7);
    }
}
