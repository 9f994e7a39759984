//! Attempts inside one target: pick a deployment (the one a continuation belongs to, else the
//! router's choice), call it, report the outcome to the router, and retry as the router allows.
//!
//! An attempt is where a deployment is known and nothing has been sent yet: checks that depend
//! on the deployment belong in [`Gateway::attempt`], before the upstream call.

use std::sync::Arc;
use std::time::Duration;

use switchyard_types::responses::{CreateResponse, Usage};
use tokio::time::Instant;

use super::execute::{Answered, Plan, Progress};
use super::record::CallRecord;
use super::stream::Driver;
use super::upstream::{Call, Complete, Reply};
use super::{DEFAULT_TIMEOUT, Gateway, ResponseStream, affinity};
use crate::accounting::RequestMeta;
use crate::error::{Error, ErrorKind};
use crate::router::{self, Deployment, InFlight, Target};

/// What an attempt that succeeded answered.
pub(super) enum Answer {
    /// A complete response, its record finished.
    Response(Complete),
    /// A primed stream, not yet holding the request's record.
    Stream {
        /// The primed stream.
        driver: Box<Driver>,
        /// The deployment stays in flight while the client reads.
        in_flight: InFlight,
        /// The size of the deployment's group, for the router's reports at the stream's end.
        group_size: usize,
    },
}

impl Gateway {
    /// Tries `target` with `request`, retrying inside it as the router allows. Retries are
    /// counted on `progress`, whose record every attempt reports to.
    pub(super) async fn try_target(
        &self,
        target: &Target,
        request: &CreateResponse,
        plan: &Plan,
        progress: &mut Progress,
    ) -> Result<Answered, Error> {
        let router = &self.inner.router;
        let by_tags = router.for_tags(target, || request_tags(request, &plan.ctx.meta))?;
        let target = by_tags.as_ref().unwrap_or(target);
        let mut tried: Vec<String> = Vec::new();
        let mut last_error: Option<Error> = None;
        loop {
            let continues_on = plan.continues_on.as_deref();
            let selected = match self.continuation(target, continues_on, &tried).await {
                Some(deployment) => Ok(deployment),
                None => router.select(target, &tried).await,
            };
            let deployment = match selected {
                Ok(deployment) => deployment,
                // After a failure here, the upstream's error says more than "all cooling".
                Err(error) => return Err(last_error.unwrap_or(error)),
            };
            tried.push(deployment.id.clone());
            let record = progress.record_for(&deployment, request, plan, &self.inner.sinks);
            let error = match self
                .attempt(target, &deployment, request, plan, record)
                .await
            {
                Ok(answer) => return Ok(Answered { deployment, answer }),
                Err(error) => error,
            };
            let Some(delay) = self.retry_delay(&error, target, &deployment, &tried, plan) else {
                return Err(error);
            };
            tracing::debug!(deployment = %deployment.id, error = %error, ?delay, "retrying");
            progress.retries += 1;
            last_error = Some(error);
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt at `deployment`: counts it on `record`, holds the deployment in flight,
    /// calls its upstream and reports the outcome to the router.
    async fn attempt(
        &self,
        target: &Target,
        deployment: &Arc<Deployment>,
        request: &CreateResponse,
        plan: &Plan,
        record: &mut CallRecord,
    ) -> Result<Answer, Error> {
        record.attempt();
        let router = &self.inner.router;
        let group_size = target.deployments.len();
        let in_flight = router.begin(deployment);
        let started = Instant::now();
        let call = Call {
            deployment,
            request,
            client_headers: &plan.ctx.client_headers,
            timeout: plan
                .overrides
                .timeout
                .or(deployment.timeout)
                .unwrap_or(DEFAULT_TIMEOUT),
            first_output: plan.overrides.stream_timeout.or(deployment.stream_timeout),
            persist: &plan.persist,
        };
        // Boxed: the call's future (request, builder, upstream response, save) is the
        // largest part of the request's. Inline, each enclosing future up to the handler
        // held it twice over (the value built and the one awaited) and was copied whole when
        // built: the handler's future was 50 KB. With this box, admission's (execute.rs) and
        // the handler's own two, the largest is 4 KB (measured with size_of_val); the copies
        // were 12k instructions per request.
        let reply = match Box::pin(self.call(&call, record)).await {
            Ok(reply) => reply,
            Err(error) => {
                drop(in_flight);
                router.failed(deployment, group_size, &error);
                return Err(error);
            }
        };
        if affinity::worth_remembering(request, target) {
            self.remember_deployment(deployment, reply.response_id());
        }
        router.succeeded(deployment, started.elapsed());
        Ok(match reply {
            Reply::Response(complete) => {
                router.used_tokens(deployment, total_tokens(complete.response.usage.as_ref()));
                Answer::Response(complete)
            }
            Reply::Stream(driver) => Answer::Stream {
                driver,
                in_flight,
                group_size,
            },
        })
    }

    /// Whether, and after how long, to retry after `error` on `deployment`: the router
    /// decides, knowing whether another deployment of `target` could take the retry.
    fn retry_delay(
        &self,
        error: &Error,
        target: &Target,
        deployment: &Deployment,
        tried: &[String],
        plan: &Plan,
    ) -> Option<Duration> {
        let now = router::state::now_ms();
        let elsewhere = target
            .deployments
            .iter()
            .any(|d| d.id != deployment.id && d.state.cooling_until(now).is_none());
        let attempt = tried.len() as u32 - 1;
        let retries = plan.overrides.num_retries;
        let router = &self.inner.router;
        router.retry_delay(error, deployment, attempt, elsewhere, retries)
    }

    /// Keeps the deployment in flight while the client reads the stream, and reports how the
    /// stream ended to the router (tokens for tpm; a failure after output counts for cooldowns).
    pub(super) fn observe(
        &self,
        events: ResponseStream,
        in_flight: InFlight,
        group_size: usize,
    ) -> ResponseStream {
        let gateway = self.clone();
        events.observed(move |event| {
            let deployment = in_flight.deployment();
            let router = &gateway.inner.router;
            match event.kind() {
                "response.completed" | "response.incomplete" => {
                    let usage = event.response().and_then(|r| r.usage.as_ref());
                    router.used_tokens(deployment, total_tokens(usage));
                }
                "response.failed" => {
                    let message = event
                        .response()
                        .and_then(|r| r.error.as_ref())
                        .map(|e| e.message.clone())
                        .unwrap_or_default();
                    let error = Error::upstream(ErrorKind::Upstream, message);
                    router.failed(deployment, group_size, &error);
                }
                _ => {}
            }
        })
    }
}

/// The request's tags: the proxy's (`x-litellm-tags`, `metadata.tags`), else, for library
/// callers, `metadata.tags`.
fn request_tags(request: &CreateResponse, meta: &RequestMeta) -> Vec<String> {
    if !meta.tags.is_empty() {
        return meta.tags.clone();
    }
    crate::accounting::tags(None, request.metadata.as_ref().and_then(|m| m.get("tags")))
}

/// Tokens a response used, for tpm accounting.
fn total_tokens(usage: Option<&Usage>) -> u64 {
    usage.map_or(0, |u| u.input_tokens + u.output_tokens)
}
