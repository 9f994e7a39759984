//! Serving one request: admit it (validate, resolve its model, read its routing overrides and
//! fallbacks), then try its group and fall back to other groups as the router and the request
//! say. Retries inside a group are `attempt.rs`'s.
//!
//! The request's record is owned here, in [`Progress`], for the whole request: each attempt
//! borrows it, a primed stream takes it over, and a request that fails is finished with its
//! error here.

use std::collections::VecDeque;
use std::sync::Arc;

use switchyard_types::responses::CreateResponse;

use super::attempt::Answer;
use super::persist::Persist;
use super::record::{self, CallRecord};
use super::{CallContext, Execution, Gateway, Output, validate};
use crate::accounting::{RequestParams, Sinks};
use crate::error::{Error, ErrorKind};
use crate::router::overrides::RequestOverrides;
use crate::router::{self, Deployment, RequestFallback, Target, tags};

/// A request admitted: what it asked for, the same for every target and attempt.
pub(super) struct Plan {
    /// The request, its `previous_response_id` already the upstream's.
    pub request: CreateResponse,
    /// Who asked, and the client's headers.
    pub ctx: CallContext,
    /// The request's own timeouts, retries and fallback limit.
    pub overrides: RequestOverrides,
    /// The state it read, and what it writes when it ends.
    pub persist: Arc<Persist>,
    /// The input, kept for the spend log when prompts are stored (compact JSON).
    pub messages: Option<Box<serde_json::value::RawValue>>,
    /// The deployment that produced `previous_response_id`, when known.
    pub continues_on: Option<String>,
    /// The request body's own `fallbacks`.
    pub fallbacks: Option<Vec<RequestFallback>>,
    /// The most fallback groups it may try.
    pub max_fallbacks: usize,
    /// The group it asked for (after aliases).
    pub requested: String,
}

impl Plan {
    /// The request a fallback to `name` sends: the request's own `fallbacks` entry for it
    /// when that overrides fields, else the request itself.
    fn request_for(&self, name: &str) -> &CreateResponse {
        self.fallbacks
            .as_deref()
            .and_then(|list| list.iter().find(|f| f.model == name))
            .and_then(|f| f.request.as_deref())
            .unwrap_or(&self.request)
    }
}

/// What a request has done so far. Owned by [`Gateway::execute`] and lent to each target and
/// attempt.
#[derive(Default)]
pub(super) struct Progress {
    /// The request's record, started at its first attempt and moved from deployment to
    /// deployment with the attempts.
    record: Option<CallRecord>,
    /// Retries made, over every group tried.
    pub retries: u32,
    /// Fallback groups tried.
    pub fallbacks: u32,
}

impl Progress {
    /// The record for an attempt at `deployment` with `request`: started at the first
    /// attempt, moved to `deployment` at later ones.
    pub fn record_for(
        &mut self,
        deployment: &Deployment,
        request: &CreateResponse,
        plan: &Plan,
        sinks: &Sinks,
    ) -> &mut CallRecord {
        if let Some(record) = &mut self.record {
            record.serve_by(deployment);
        }
        self.record.get_or_insert_with(|| {
            let mut record = CallRecord::start(
                &plan.ctx.request_id,
                deployment,
                plan.request.is_stream(),
                plan.ctx.meta.clone(),
                plan.messages.clone(),
                sinks.clone(),
            );
            record.set_params(RequestParams {
                temperature: request.temperature,
                top_p: request.top_p,
                max_output_tokens: request.max_output_tokens,
            });
            record
        })
    }

    /// Finishes a background request that ended before any output (cancelled, or cut by a
    /// shutdown) with the response it ended as; a failure was finished by [`Self::fail`].
    pub(super) fn end_early(&mut self, response: &switchyard_types::responses::Response) {
        if let Some(record) = self.record.as_mut() {
            match response.status {
                switchyard_types::responses::ResponseStatus::Cancelled => {
                    record.finish_cancelled(response)
                }
                _ => record.finish_cut(response),
            }
        }
    }

    /// Finishes the request with `error`: its record, or, when no deployment was ever tried,
    /// a rejection.
    pub(super) fn fail(&mut self, plan: &Plan, sinks: &Sinks, error: &Error) {
        match self.record.as_mut() {
            Some(record) => record.finish_error(error),
            None => record::log_rejected(
                sinks,
                &plan.ctx.request_id,
                plan.ctx.meta.clone(),
                Some(&plan.requested),
                plan.request.is_stream(),
                error,
            ),
        }
    }
}

/// An attempt that answered, and the deployment that did.
pub(super) struct Answered {
    /// The deployment that answered.
    pub deployment: Arc<Deployment>,
    /// What it answered.
    pub answer: Answer,
}

/// What admitting a request found out, besides the request itself.
struct Admitted {
    target: Target,
    overrides: RequestOverrides,
    persist: Persist,
    continues_on: Option<String>,
    fallbacks: Option<Vec<RequestFallback>>,
}

impl Gateway {
    /// Serves one request: picks a deployment of the requested group, retries inside the group
    /// and falls back to other groups as `router_settings` say. Failures before any output
    /// (including every failure of a non-streamed request) are returned as errors; a stream that
    /// fails later ends with `response.failed`.
    pub async fn execute(
        &self,
        request: CreateResponse,
        ctx: CallContext,
    ) -> Result<Execution, Error> {
        self.inner
            .router
            .start(|| self.inner.registry.deployments().cloned().collect());
        self.start_health_checks();
        // The rarer paths are boxed: an async fn's future is as large as its largest branch,
        // and this one is moved (copied whole) into the handler's future and its box on every
        // request; inline, these two made it 19 KB against 6 KB for the usual path.
        if request.background == Some(true) {
            return Box::pin(self.execute_background(request, ctx)).await;
        }
        // Boxed for the same reason as the attempt's call (attempt.rs): admission's future is
        // the other half of this one's size.
        let (mut plan, target) = Box::pin(self.admit(request, ctx)).await?;
        if super::compaction::ends_with_trigger(&plan.request) {
            return Box::pin(self.serve_trigger(plan, target)).await;
        }
        if let Some(blob) = self.compact_past_threshold(&mut plan, &target).await?
            && let Some(persist) = Arc::get_mut(&mut plan.persist)
        {
            persist.lead_with_compaction(blob);
        }
        let mut progress = Progress::default();
        match self.serve(&plan, target, &mut progress).await {
            Ok(answered) => self.execution(&plan, progress, answered),
            Err(error) => {
                progress.fail(&plan, &self.inner.sinks, &error);
                Err(error)
            }
        }
    }

    /// Admits `request`, or records its refusal and returns the error to answer.
    pub(super) async fn admit(
        &self,
        mut request: CreateResponse,
        ctx: CallContext,
    ) -> Result<(Plan, Target), Error> {
        // The client's own input, before the state it names is added to it.
        let messages = if ctx.meta.store_prompts {
            serde_json::value::to_raw_value(&request.input).ok()
        } else {
            None
        };
        let admitted = match self.read_request(&mut request, &ctx).await {
            Ok(admitted) => admitted,
            Err(error) => {
                let model = request.model.as_deref();
                return Err(self.rejected(ctx, model, request.is_stream(), error));
            }
        };
        let max_fallbacks = admitted
            .overrides
            .max_fallbacks
            .unwrap_or_else(|| self.inner.router.max_fallbacks());
        let plan = Plan {
            requested: admitted.target.name.clone(),
            request,
            ctx,
            overrides: admitted.overrides,
            persist: Arc::new(admitted.persist),
            messages,
            continues_on: admitted.continues_on,
            fallbacks: admitted.fallbacks,
            max_fallbacks,
        };
        Ok((plan, admitted.target))
    }

    /// Validates `request`, reads what routing needs from it and resolves the state it names
    /// (the request then carries its whole context).
    async fn read_request(
        &self,
        request: &mut CreateResponse,
        ctx: &CallContext,
    ) -> Result<Admitted, Error> {
        let target = self.target(validate(request)?)?;
        let overrides = RequestOverrides::read(request, &ctx.client_headers)?;
        let continues_on = match request.previous_response_id.as_deref() {
            Some(previous) => self.produced_by(previous, &target).await,
            None => None,
        };
        let persist = self.resolve_state(request, ctx, &target).await?;
        // The gateway's compaction items stand for their summaries from here on.
        self.open_compactions(request)?;
        self.rewrite_previous(request);
        // Read after the rewrites so that per-target copies carry them too.
        let fallbacks = router::request_fallbacks(request)?;
        Ok(Admitted {
            target,
            overrides,
            persist,
            continues_on,
            fallbacks,
        })
    }

    /// Records a request refused before it reached a deployment; returns the error to answer.
    fn rejected(&self, ctx: CallContext, model: Option<&str>, stream: bool, error: Error) -> Error {
        self.log_rejected(ctx, model, stream, &error);
        error
    }

    /// Tries `target`, then the fallbacks its failure leads to, until one answers.
    pub(super) async fn serve(
        &self,
        plan: &Plan,
        mut target: Target,
        progress: &mut Progress,
    ) -> Result<Answered, Error> {
        let mut fallbacks = Fallbacks::default();
        let mut force_fallback = router::mock_testing_fallbacks(&plan.request);
        // The request as sent to the current target (a fallback entry may override fields).
        let mut request = &plan.request;
        loop {
            let result = if std::mem::take(&mut force_fallback) {
                Err(Error::new(
                    ErrorKind::Upstream,
                    "mock_testing_fallbacks: the requested model group fails on purpose",
                ))
            } else {
                self.try_target(&target, request, plan, progress).await
            };
            let error = match result {
                Ok(answered) => return Ok(answered),
                Err(error) => fallbacks.failed(error),
            };
            let Some((next, its_request)) =
                self.next_fallback(plan, &mut fallbacks, &error, progress)
            else {
                return Err(error);
            };
            tracing::debug!(from = %target.name, to = %next.name, error = %error, "falling back");
            progress.fallbacks += 1;
            request = its_request;
            target = next;
        }
    }

    /// The groups a request that failed with `error` on its requested group falls back to,
    /// in order.
    pub(super) fn fallback_queue(&self, plan: &Plan, error: &Error) -> VecDeque<String> {
        let from_request: Option<Vec<String>> = plan
            .fallbacks
            .as_ref()
            .map(|list| list.iter().map(|f| f.model.clone()).collect());
        self.inner
            .router
            .fallbacks(&plan.requested, error, from_request.as_deref())
    }

    /// The first servable target of `queue`, with the name it was given as; fallbacks naming
    /// nothing servable are skipped.
    pub(super) fn next_in(&self, queue: &mut VecDeque<String>) -> Option<(String, Target)> {
        while let Some(name) = queue.pop_front() {
            match self.target(&name) {
                Ok(found) => return Some((name, found)),
                Err(e) => tracing::warn!(fallback = %name, error = %e, "fallback target skipped"),
            }
        }
        None
    }

    /// The next fallback target after `error` and the request it is sent, while the request
    /// may still fall back; fallbacks naming nothing servable are skipped.
    fn next_fallback<'p>(
        &self,
        plan: &'p Plan,
        fallbacks: &mut Fallbacks,
        error: &Error,
        progress: &Progress,
    ) -> Option<(Target, &'p CreateResponse)> {
        let queue = fallbacks
            .queue
            .get_or_insert_with(|| self.fallback_queue(plan, error));
        if progress.fallbacks as usize >= plan.max_fallbacks {
            return None;
        }
        let (name, found) = self.next_in(queue)?;
        Some((found, plan.request_for(&name)))
    }

    /// The execution of a request that `answered`: a stream takes over the request's record.
    pub(super) fn execution(
        &self,
        plan: &Plan,
        progress: Progress,
        answered: Answered,
    ) -> Result<Execution, Error> {
        let (output, cost, response_json) = match answered.answer {
            Answer::Response(complete) => (
                Output::Response(complete.response),
                complete.cost,
                complete.json,
            ),
            Answer::Stream {
                driver,
                in_flight,
                group_size,
            } => {
                // Every attempt has the record, so an answered one leaves it here.
                let Some(record) = progress.record else {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        "a stream without its record",
                    ));
                };
                let events = driver.into_stream(record);
                (
                    Output::Stream(self.observe(events, in_flight, group_size)),
                    None,
                    None,
                )
            }
        };
        Ok(Execution {
            deployment: answered.deployment,
            output,
            attempted_retries: progress.retries,
            attempted_fallbacks: progress.fallbacks,
            max_fallbacks: plan.max_fallbacks,
            cost,
            response_json,
        })
    }
}

/// Where a failed request may fall back to.
#[derive(Default)]
struct Fallbacks {
    /// The groups left to try, in order; worked out at the first failure.
    queue: Option<VecDeque<String>>,
    /// The failure that started the fallbacks, for when a fallback group is ruled out by
    /// the request's tags (which says nothing about why the request failed).
    first_failure: Option<Error>,
}

impl Fallbacks {
    /// Notes a target's failure; returns the error it stands for.
    fn failed(&mut self, error: Error) -> Error {
        let error = match &self.first_failure {
            Some(first) if error.code.as_deref() == Some(tags::NO_DEPLOYMENT_FOR_TAGS) => {
                first.clone()
            }
            _ => error,
        };
        self.first_failure.get_or_insert_with(|| error.clone());
        error
    }
}
