//! AWS Bedrock through the Converse API (`bedrock/<model id>`): `POST
//! https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse` and
//! `/converse-stream`, signed with SigV4 (or a Bedrock API key as a bearer token).
//!
//! References: the AWS Bedrock Converse API reference,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html> (and
//! `ConverseStream`), AWS Signature Version 4 for the signing, and the AWS event stream
//! encoding (`application/vnd.amazon.eventstream`) for streamed answers.

pub mod auth;
pub mod count;
pub mod errors;
pub mod request;
pub mod response;
pub mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderMap;
use switchyard_types::responses::CreateResponse;

use super::path::{PathModel, check_model_in_path};
use super::translate::defaults::with_defaults;
use super::{
    BoxFuture, BuiltProvider, CallInfo, CountCall, CountFallback, InputTokens, PreparedCall,
    Provider, ProviderConfig, ProviderOptions, UpstreamRequest, headers, join_url, json_body,
};
use crate::error::Error;
use crate::secret::Secret;
use auth::{AwsKeys, BedrockAuth, encode_path_segment};
use request::{ConverseTarget, converse_request};
use response::ConverseDecoder;

/// The region used when neither the deployment, the environment nor an ARN names one.
const DEFAULT_REGION: &str = "us-east-1";

/// `litellm_params` keys LiteLLM uses for AWS credential sources this version does not act on.
const UNHANDLED_PARAMS: &[&str] = &[
    "aws_role_name",
    "aws_session_name",
    "aws_profile_name",
    "aws_web_identity_token",
];

/// A Bedrock deployment.
#[derive(Debug)]
pub struct BedrockProvider {
    model: String,
    api_base: String,
    region: String,
    converse_url: reqwest::Url,
    stream_url: reqwest::Url,
    count_url: reqwest::Url,
    auth: BedrockAuth,
    options: ProviderOptions,
}

impl BedrockProvider {
    /// A provider for `model` (a model id, inference profile id or ARN) in `region`, reached at
    /// `api_base` (the regional runtime endpoint unless overridden).
    pub fn new(
        model: &str,
        region: &str,
        api_base: Option<String>,
        auth: BedrockAuth,
        options: ProviderOptions,
    ) -> Result<Self, String> {
        let api_base =
            api_base.unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
        check_model_in_path(model, PathModel::Encoded)?;
        let segment = encode_path_segment(model);
        let converse_url = join_url(&api_base, &format!("model/{segment}/converse"))?;
        let stream_url = join_url(&api_base, &format!("model/{segment}/converse-stream"))?;
        let counted = encode_path_segment(count::counted_model(model));
        let count_url = join_url(&api_base, &format!("model/{counted}/count-tokens"))?;
        Ok(BedrockProvider {
            model: model.to_string(),
            api_base,
            region: region.to_string(),
            converse_url,
            stream_url,
            count_url,
            auth,
            options,
        })
    }

    fn secrets(&self) -> Vec<Secret> {
        self.auth.secrets()
    }

    /// Request headers: JSON in, `accept` for the answer, the extra headers.
    fn headers(&self, accept: &str) -> HeaderMap {
        let mut pairs: Vec<(&str, &str)> =
            vec![("content-type", "application/json"), ("accept", accept)];
        pairs.extend(
            self.options
                .extra_headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        headers(pairs)
    }
}

impl Provider for BedrockProvider {
    fn name(&self) -> &str {
        "bedrock"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn api_base(&self) -> &str {
        &self.api_base
    }

    fn prepare(&self, request: &CreateResponse, call: CallInfo<'_>) -> Result<PreparedCall, Error> {
        let request = with_defaults(&self.options.defaults, request);
        let target = ConverseTarget {
            model: &self.model,
            drop_params: self.options.drop_params,
        };
        let (body, ctx) = converse_request(&request, &target)?;
        let body = json_body(&body)?;
        let accept = if call.stream {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        };
        let url = if call.stream {
            self.stream_url.clone()
        } else {
            self.converse_url.clone()
        };
        Ok(PreparedCall {
            request: UpstreamRequest {
                url,
                headers: self.headers(accept),
                body,
            },
            decoder: Box::new(ConverseDecoder::new(ctx, self.secrets())),
        })
    }

    fn count_input_tokens(
        &self,
        request: &CreateResponse,
        _call: CallInfo<'_>,
    ) -> Result<InputTokens, Error> {
        let defaulted = with_defaults(&self.options.defaults, request);
        let target = ConverseTarget {
            model: &self.model,
            drop_params: self.options.drop_params,
        };
        let (converse, _) = converse_request(&defaulted, &target)?;
        let estimate = super::openai_chat::count::generic_body(&defaulted)?;
        Ok(InputTokens::Upstream(Box::new(CountCall {
            request: UpstreamRequest {
                url: self.count_url.clone(),
                headers: self.headers("application/json"),
                body: json_body(&count::CountTokensRequest::new(&converse))?,
            },
            read: |answer| super::count::count_at(answer, "/inputTokens"),
            fallback: Some(CountFallback {
                when: count::cannot_count,
                estimate: Box::new(estimate),
            }),
        })))
    }

    fn authorize<'a>(
        &'a self,
        request: &'a mut UpstreamRequest,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let result = auth::authorize(&self.auth, &self.region, request, SystemTime::now());
        Box::pin(std::future::ready(result))
    }

    fn error_from(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
        let secrets = self.secrets();
        let refs: Vec<&Secret> = secrets.iter().collect();
        errors::classify_http(status, headers, body, &refs)
    }
}

/// Builds a Bedrock deployment from its config entry.
///
/// Model strings: `bedrock/<id>` and `bedrock/converse/<id>`, where `<id>` is a model id
/// (`anthropic.claude-3-5-haiku-20241022-v1:0`), a cross-region profile (`us.anthropic.…`) or
/// an ARN. Credentials, first found wins: `api_key` (a Bedrock API key, bearer), the
/// deployment's `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`),
/// `AWS_BEARER_TOKEN_BEDROCK`, then `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+
/// `AWS_SESSION_TOKEN`). Region: `aws_region_name`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the
/// region of an ARN model id, else `us-east-1`. Host: `aws_bedrock_runtime_endpoint` or
/// `api_base`, else the regional endpoint.
pub fn build(cfg: ProviderConfig<'_>) -> Result<BuiltProvider, String> {
    let d = cfg.deployment;
    let env = cfg.env;
    let mut warnings = Vec::new();
    let model = match cfg.model.strip_prefix("converse/") {
        Some(rest) => rest,
        None => match cfg.model.strip_prefix("invoke/") {
            Some(rest) => {
                warnings.push(format!(
                    "model_list entry `{}`: `bedrock/invoke/` models are called through the \
                     Converse API",
                    d.model_name
                ));
                rest
            }
            None => cfg.model,
        },
    };
    if model.is_empty() {
        return Err(format!(
            "model_list entry `{}` names no Bedrock model id",
            d.model_name
        ));
    }
    let param = |key: &str| d.provider_param(key);
    let region = param("aws_region_name")
        .or_else(|| env.first(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
        .or_else(|| arn_region(model).map(str::to_string))
        .unwrap_or_else(|| {
            warnings.push(format!(
                "model_list entry `{}` names no AWS region (aws_region_name or AWS_REGION); \
                 using {DEFAULT_REGION}",
                d.model_name
            ));
            DEFAULT_REGION.to_string()
        });
    let keys =
        |id: Option<String>, secret: Option<String>, token: Option<String>| match (id, secret) {
            (Some(id), Some(secret)) => Some(AwsKeys {
                access_key_id: Secret::new(id),
                secret_access_key: Secret::new(secret),
                session_token: token.map(Secret::new),
            }),
            _ => None,
        };
    let configured_keys = keys(
        param("aws_access_key_id"),
        param("aws_secret_access_key"),
        param("aws_session_token"),
    );
    let auth = if let Some(key) = d.api_key.clone() {
        BedrockAuth::Bearer(key)
    } else if let Some(keys) = configured_keys {
        BedrockAuth::SigV4(keys)
    } else if let Some(token) = env.get("AWS_BEARER_TOKEN_BEDROCK") {
        BedrockAuth::Bearer(Secret::new(token))
    } else if let Some(keys) = keys(
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
        env.get("AWS_SESSION_TOKEN"),
    ) {
        BedrockAuth::SigV4(keys)
    } else {
        warnings.push(format!(
            "model_list entry `{}` has no AWS credentials (set aws_access_key_id and \
             aws_secret_access_key, an api_key, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / \
             AWS_BEARER_TOKEN_BEDROCK); requests to it are refused",
            d.model_name
        ));
        BedrockAuth::Missing
    };
    if param("aws_access_key_id").is_some() != param("aws_secret_access_key").is_some() {
        warnings.push(format!(
            "model_list entry `{}` sets only one of aws_access_key_id and \
             aws_secret_access_key; both are needed for SigV4",
            d.model_name
        ));
    }
    let unhandled: Vec<&str> = UNHANDLED_PARAMS
        .iter()
        .copied()
        .filter(|k| param(k).is_some())
        .collect();
    if !unhandled.is_empty() {
        warnings.push(format!(
            "model_list entry `{}` sets {}, which this version does not act on (only static \
             keys, session tokens and Bedrock API keys are supported)",
            d.model_name,
            unhandled.join(", ")
        ));
    }
    let api_base = param("aws_bedrock_runtime_endpoint").or_else(|| d.api_base.clone());
    let provider = BedrockProvider::new(model, &region, api_base, auth, cfg.options)
        .map_err(|e| format!("model_list entry `{}`: {e}", d.model_name))?;
    let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
    Ok((Arc::new(provider), warning))
}

/// The region of an ARN model id (`arn:aws:bedrock:us-east-1:123:inference-profile/…`).
fn arn_region(model: &str) -> Option<&str> {
    let mut parts = model.strip_prefix("arn:")?.split(':');
    let _partition = parts.next()?;
    let _service = parts.next()?;
    parts.next().filter(|r| !r.is_empty())
}
