//! The upstream call: one attempt's request to one deployment. The provider translates and
//! adds its credentials, the request goes out under the attempt's deadline, and the answer is
//! read into a [`Response`] or a primed stream. This is the gateway's only network I/O.
//!
//! A call knows nothing of routing: which deployment, how often and where to fall back are the
//! attempt loop's (`attempt.rs`, `execute.rs`); the record it reports to is lent by that loop.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use switchyard_types::responses::{CreateResponse, Response};
use tokio::time::{Instant, timeout_at};

use super::Gateway;
use super::persist::Persist;
use super::record::CallRecord;
use super::stream::{Driver, UpstreamBody};
use crate::accounting::RateLimits;
use crate::error::{Error, ErrorKind};
use crate::ids;
use crate::providers::{BoxFuture, CallInfo, PreparedCall, UpstreamRequest};
use crate::router::Deployment;
use crate::stream::{ResponseBuilder, StreamEvent, envelope};

/// How much of an upstream error body is read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// One call to a deployment's upstream.
pub(super) struct Call<'a> {
    /// Where it goes.
    pub deployment: &'a Arc<Deployment>,
    /// The request as this deployment gets it (a fallback entry may override fields).
    pub request: &'a CreateResponse,
    /// The client's headers, for the few a provider passes on.
    pub client_headers: &'a http::HeaderMap,
    /// The whole-request timeout.
    pub timeout: Duration,
    /// `stream_timeout`: the time a stream has until its first output.
    pub first_output: Option<Duration>,
    /// The request's state: echoed on the response, written when it ends.
    pub persist: &'a Arc<Persist>,
}

/// What an upstream call got back.
pub(super) enum Reply {
    /// A complete response (the record finished with it).
    Response(Complete),
    /// A primed stream.
    Stream(Box<Driver>),
}

/// A complete response, its record finished.
pub(super) struct Complete {
    pub response: Box<Response>,
    /// Its cost (`None`: no price).
    pub cost: Option<f64>,
    /// Its JSON, when it was serialised to be stored and the client sees it as stored (see
    /// [`Persist::save_answer`](super::persist::Persist::save_answer)).
    pub json: Option<Bytes>,
}

impl Reply {
    /// The id of the response the client gets.
    pub fn response_id(&self) -> &str {
        match self {
            Reply::Response(complete) => &complete.response.id,
            Reply::Stream(driver) => driver.response_id(),
        }
    }
}

impl Call<'_> {
    /// The provider's translation of the request, and the decoder for its answer.
    fn prepare(&self, stream: bool) -> Result<PreparedCall, Error> {
        let call = CallInfo {
            stream,
            client_headers: self.client_headers,
        };
        self.deployment.provider.prepare(self.request, call)
    }
}

impl Gateway {
    /// Makes `call`: a stream when the request asks for one, else a complete response.
    pub(super) async fn call(
        &self,
        call: &Call<'_>,
        record: &mut CallRecord,
    ) -> Result<Reply, Error> {
        if call.request.is_stream() {
            let driver = self.open_stream(call, record).await?;
            Ok(Reply::Stream(Box::new(driver)))
        } else {
            Ok(Reply::Response(self.respond(call, record).await?))
        }
    }

    /// Calls the upstream for a complete response and finishes `record` with it.
    pub(super) async fn respond(
        &self,
        call: &Call<'_>,
        record: &mut CallRecord,
    ) -> Result<Complete, Error> {
        let prepared = call.prepare(false)?;
        let deadline = Instant::now() + call.timeout;
        let deployment = call.deployment;
        let answer = self
            .send(deployment, prepared.request, deadline, record)
            .await?;
        let provider = deployment.provider.name();
        let body = match timeout_at(deadline, answer.bytes()).await {
            Err(_) => return Err(timeout_error(provider)),
            Ok(Err(e)) => return Err(connection_error(provider, &e)),
            Ok(Ok(body)) => body,
        };
        let mut decoder = prepared.decoder;
        let mut items = Vec::new();
        decoder.body(&body, &mut items)?;
        let mut builder = self.builder(call, false);
        builder.apply(&mut items)?;
        builder.complete();
        // Stored before the client has the answer, blobs and all.
        let json = call
            .persist
            .save_answer(builder.response(), builder.shown_as_is())
            .await;
        if let Some(upstream) = builder.upstream_response_id()
            && upstream != builder.response().id
        {
            self.inner
                .ids
                .insert(builder.response().id.clone(), upstream.to_string());
        }
        record.report_cost(builder.reported_cost());
        let response = Box::new(builder.into_response());
        record.output_started();
        let cost = record.finish_response(&response);
        Ok(Complete {
            response,
            cost,
            json,
        })
    }

    /// Calls the upstream for a stream and primes it (see `stream.rs`); `record` notes the
    /// first output. The primed driver is not yet the client's stream: it becomes one with
    /// the request's record.
    ///
    /// An upstream that sends no headers within the keepalive interval does not leave the
    /// client without a byte: the stream is committed there and then (it starts with
    /// `response.created`, keepalives follow) and goes on waiting for the headers; a failure
    /// from then on ends it with `response.failed`.
    async fn open_stream(&self, call: &Call<'_>, record: &mut CallRecord) -> Result<Driver, Error> {
        let prepared = call.prepare(true)?;
        let start = Instant::now();
        let deadline = start + call.timeout;
        let first_output_by = call.first_output.map(|t| start + t);
        let headers_by = first_output_by.map_or(deadline, |t| t.min(deadline));
        let deployment = call.deployment;
        let mut sending = self.dispatch(deployment, prepared.request, headers_by);
        let sent = match self.inner.keepalive {
            Some(every) => tokio::time::timeout(every, &mut sending).await.ok(),
            None => Some(sending.as_mut().await),
        };
        let body = match sent {
            Some(sent) => {
                record.set_rate_limits(sent.rate_limits);
                UpstreamBody::Open(sent.answer?)
            }
            None => UpstreamBody::Waiting(sending),
        };
        let waiting = matches!(body, UpstreamBody::Waiting(_));
        let mut builder = self.builder(call, true);
        if !deployment.provider.is_native_responses() {
            builder.start();
        } else if waiting || call.persist.background().is_some() {
            // The gateway's own `response.created`; the upstream's, when it comes, is
            // folded into it.
            builder.ensure_started();
        }
        let mut driver = Driver::new(
            builder,
            body,
            prepared.decoder,
            deployment,
            deadline,
            self.inner.keepalive,
            self.inner.ids.clone(),
        )
        .persisting(call.persist.clone());
        if waiting {
            driver.note_first_output_by(first_output_by);
        } else {
            driver.prime(record, first_output_by).await?;
        }
        Ok(driver)
    }

    /// The builder of one attempt's response.
    fn builder(&self, call: &Call<'_>, streaming: bool) -> ResponseBuilder {
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let deployment = call.deployment;
        let mut envelope = envelope(
            call.request,
            ids::response_id(),
            deployment.provider.model().to_string(),
            created_at,
        );
        call.persist.annotate(&mut envelope);
        let builder = ResponseBuilder::new(
            envelope,
            streaming,
            call.request.includes("reasoning.encrypted_content"),
        )
        .with_cost_in_usage(self.inner.cost_in_usage, deployment.price.clone());
        let builder = match call.persist.leading_compaction() {
            Some(blob) => builder.leading_with(StreamEvent::Compaction(blob.to_string())),
            None => builder,
        };
        if call.persist.background().is_some() {
            builder.after_queued()
        } else {
            builder
        }
    }

    /// Sends `request`; a non-2xx answer becomes the provider's [`Error`]. The rate limits of
    /// any answer go on `record` (a 429 says most about them).
    async fn send(
        &self,
        deployment: &Arc<Deployment>,
        request: UpstreamRequest,
        deadline: Instant,
        record: &mut CallRecord,
    ) -> Result<reqwest::Response, Error> {
        let sent = self.dispatch(deployment, request, deadline).await;
        record.set_rate_limits(sent.rate_limits);
        sent.answer
    }

    /// [`Gateway::send`] as a future that owns what it needs, so that a stream can be handed
    /// to the client while it still waits for the upstream's headers.
    pub(super) fn dispatch(
        &self,
        deployment: &Arc<Deployment>,
        mut request: UpstreamRequest,
        deadline: Instant,
    ) -> BoxFuture<'static, Sent> {
        let deployment = deployment.clone();
        let client = self.inner.client.clone();
        Box::pin(async move {
            let provider = deployment.provider.name();
            let failed = |error| Sent {
                answer: Err(error),
                rate_limits: RateLimits::default(),
            };
            match timeout_at(deadline, deployment.provider.authorize(&mut request)).await {
                Err(_) => return failed(timeout_error(provider)),
                Ok(Err(error)) => return failed(error),
                Ok(Ok(())) => {}
            }
            let call = client
                .post(request.url)
                .headers(request.headers)
                .body(request.body)
                .send();
            let answer = match timeout_at(deadline, call).await {
                Err(_) => return failed(timeout_error(provider)),
                Ok(Err(e)) => return failed(connection_error(provider, &e)),
                Ok(Ok(answer)) => answer,
            };
            let rate_limits = RateLimits::from_headers(answer.headers());
            let status = answer.status().as_u16();
            if (200..300).contains(&status) {
                return Sent {
                    answer: Ok(answer),
                    rate_limits,
                };
            }
            let headers = answer.headers().clone();
            let body = read_limited(answer, deadline).await;
            Sent {
                answer: Err(deployment.provider.error_from(status, &headers, &body)),
                rate_limits,
            }
        })
    }
}

/// What sending a request got: the answer (2xx) or the error it stands for, and the rate
/// limits the upstream reported either way.
pub(super) struct Sent {
    /// The successful answer, or the error.
    pub answer: Result<reqwest::Response, Error>,
    /// The rate limits of the answer.
    pub rate_limits: RateLimits,
}

/// Reads at most [`ERROR_BODY_LIMIT`] bytes of an error answer, whatever arrives in time.
async fn read_limited(mut answer: reqwest::Response, deadline: Instant) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match timeout_at(deadline, answer.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(ERROR_BODY_LIMIT);
    body
}

/// The error for an upstream that did not answer (or finish answering) by the deadline.
pub(crate) fn timeout_error(provider: &str) -> Error {
    Error::upstream(
        ErrorKind::Timeout,
        format!("{provider} did not answer in time"),
    )
    .with_code("timeout")
}

/// The error for a connection to the upstream that failed or broke.
pub(crate) fn connection_error(provider: &str, error: &reqwest::Error) -> Error {
    // The URL is left out: it says nothing the operator does not know and may carry a secret.
    let detail = error.without_url_ref();
    Error::upstream(
        ErrorKind::Upstream,
        format!("lost the connection to {provider}: {detail}"),
    )
    .with_code("upstream_connection_error")
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "the upstream");
        }
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
