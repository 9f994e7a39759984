//! Counting a request's input tokens without running it (`POST /responses/input_tokens`).
//!
//! The request is admitted like a create: validated, its model resolved through aliases,
//! groups and wildcards, and the state it names (`previous_response_id`, `conversation`)
//! resolved into its whole context, so the count is of what a create would send. One
//! deployment of the group is picked (the one holding a continuation's state, else the
//! router's choice) and its provider says how to count: through the upstream's own counter,
//! or, where there is none, an estimate with a real tokenizer. A count is not a paid call: it
//! is neither retried nor charged, and leaves the request log line only.

use std::sync::Arc;
use std::time::Duration;

use switchyard_types::responses::{CreateResponse, Input};
use tokio::time::{Instant, timeout_at};

use super::upstream::{connection_error, timeout_error};
use super::{CallContext, Gateway, validate};
use crate::error::{Error, ErrorKind};
use crate::providers::openai_chat;
use crate::providers::openai_chat::count::estimate;
use crate::providers::openai_chat::wire::ChatCompletionsRequest;
use crate::providers::{CallInfo, CountCall, InputTokens, UpstreamRequest};
use crate::router::Deployment;

/// The most of a counter's answer that is read (vLLM lists every token id).
const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// The longest a count waits for its upstream when the deployment sets no timeout: a counter
/// answers at once or not at all.
pub const COUNT_TIMEOUT: Duration = Duration::from_secs(60);

/// A request's input tokens.
#[derive(Debug, Clone)]
pub struct InputTokenCount {
    /// The count.
    pub input_tokens: u64,
    /// True when the upstream counted; false for the gateway's estimate.
    pub exact: bool,
    /// The deployment counted for.
    pub deployment: Arc<Deployment>,
}

impl Gateway {
    /// Counts the input tokens of `request` (the body of a create) as the deployment that
    /// would serve it counts them. Errors are the ones a create would answer (an unknown
    /// model, an unknown `previous_response_id`), or the upstream counter's.
    pub async fn count_input_tokens(
        &self,
        mut request: CreateResponse,
        ctx: CallContext,
    ) -> Result<InputTokenCount, Error> {
        self.inner
            .router
            .start(|| self.inner.registry.deployments().cloned().collect());
        let started = Instant::now();
        let result = self.count(&mut request, &ctx).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(count) => tracing::info!(
                target: "switchyard::request",
                request_id = %ctx.request_id,
                model = %count.deployment.model_name,
                deployment = %count.deployment.id,
                provider = count.deployment.provider.name(),
                status = 200,
                outcome = "counted",
                input_tokens = count.input_tokens,
                exact = count.exact,
                latency_ms = format_args!("{latency_ms:.1}"),
                "input tokens counted"
            ),
            Err(error) => tracing::info!(
                target: "switchyard::request",
                request_id = %ctx.request_id,
                model = %crate::text::echo(request.model.as_deref().unwrap_or("")),
                status = error.status(),
                outcome = "error",
                error = error.code.as_deref().unwrap_or(error.kind.openai_type()),
                latency_ms = format_args!("{latency_ms:.1}"),
                "input tokens not counted"
            ),
        }
        result
    }

    async fn count(
        &self,
        request: &mut CreateResponse,
        ctx: &CallContext,
    ) -> Result<InputTokenCount, Error> {
        if request.input.is_none()
            && request.previous_response_id.is_none()
            && request.conversation.is_none()
            && request.prompt.is_none()
        {
            // A create needs input; a count may be of the instructions and tools alone.
            request.input = Some(Input::Items(Vec::new()));
        }
        let target = self.target(validate(request)?)?;
        let continues_on = match request.previous_response_id.as_deref() {
            Some(previous) => self.produced_by(previous, &target).await,
            None => None,
        };
        // Read for the whole context only: a count stores nothing.
        self.resolve_state(request, ctx, &target).await?;
        self.rewrite_previous(request);
        request.stream = None;
        let deployment = match self
            .continuation(&target, continues_on.as_deref(), &[])
            .await
        {
            Some(deployment) => deployment,
            None => self.inner.router.select(&target, &[]).await?,
        };
        let call = CallInfo {
            stream: false,
            client_headers: &ctx.client_headers,
        };
        let (input_tokens, exact) = match deployment.provider.count_input_tokens(request, call)? {
            InputTokens::Estimate(body) => (estimate_off_thread(*body).await?, false),
            InputTokens::Upstream(counter) => match self.ask(&deployment, *counter).await {
                // A count is advice: an upstream counter that is down, slow or failing
                // yields the gateway's estimate rather than an error (a create would have
                // fallen back; a count has nothing to fall back to but the tokenizer).
                Err(error) if counter_unavailable(&error) => {
                    tracing::debug!(
                        deployment = %deployment.id,
                        error = %error.message,
                        "the upstream counter is unavailable; estimating"
                    );
                    let body = openai_chat::count::generic_body(request)?;
                    (estimate_off_thread(body).await?, false)
                }
                counted => counted?,
            },
        };
        Ok(InputTokenCount {
            input_tokens,
            exact,
            deployment,
        })
    }

    /// Asks `deployment`'s counter; its fallback estimate when the counter cannot count for
    /// the model. Returns the count and whether the upstream made it.
    async fn ask(
        &self,
        deployment: &Arc<Deployment>,
        counter: CountCall,
    ) -> Result<(u64, bool), Error> {
        let CountCall {
            request,
            read,
            fallback,
        } = counter;
        match self.send_count(deployment, request, read).await {
            Ok(count) => Ok((count, true)),
            Err(error) => match fallback {
                Some(fallback) if (fallback.when)(&error) => {
                    tracing::debug!(
                        deployment = %deployment.id,
                        error = %error.message,
                        "the upstream cannot count for this model; estimating"
                    );
                    Ok((estimate_off_thread(*fallback.estimate).await?, false))
                }
                _ => Err(error),
            },
        }
    }

    /// Sends a count request under the deployment's timeout and reads the count.
    async fn send_count(
        &self,
        deployment: &Arc<Deployment>,
        mut request: UpstreamRequest,
        read: fn(&[u8]) -> Option<u64>,
    ) -> Result<u64, Error> {
        let provider = deployment.provider.name();
        let deadline = Instant::now() + deployment.timeout.unwrap_or(COUNT_TIMEOUT);
        match timeout_at(deadline, deployment.provider.authorize(&mut request)).await {
            Err(_) => return Err(timeout_error(provider)),
            Ok(result) => result?,
        }
        let sent = self
            .inner
            .client
            .post(request.url)
            .headers(request.headers)
            .body(request.body)
            .send();
        let mut answer = match timeout_at(deadline, sent).await {
            Err(_) => return Err(timeout_error(provider)),
            Ok(Err(e)) => return Err(connection_error(provider, &e)),
            Ok(Ok(answer)) => answer,
        };
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let mut body = Vec::new();
        while body.len() < ANSWER_LIMIT {
            match timeout_at(deadline, answer.chunk()).await {
                Err(_) => return Err(timeout_error(provider)),
                Ok(Err(e)) => return Err(connection_error(provider, &e)),
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                Ok(Ok(None)) => break,
            }
        }
        if !(200..300).contains(&status) {
            return Err(deployment.provider.error_from(status, &headers, &body));
        }
        read(&body).ok_or_else(|| {
            Error::upstream(
                ErrorKind::Upstream,
                format!("{provider} answered the token count without a count"),
            )
        })
    }
}

/// The estimate of `body`, off the async threads: the first one builds the tokenizer, and a
/// long input takes a while to encode.
async fn estimate_off_thread(body: ChatCompletionsRequest) -> Result<u64, Error> {
    tokio::task::spawn_blocking(move || estimate(&body))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("the token estimate failed: {e}"),
            )
        })
}

/// True for a counter that could not answer (unreachable, timed out, overloaded, failing),
/// as opposed to one that refused the request.
fn counter_unavailable(error: &Error) -> bool {
    matches!(
        error.kind,
        ErrorKind::Upstream | ErrorKind::Timeout | ErrorKind::Overloaded
    )
}
