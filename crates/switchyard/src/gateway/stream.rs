//! Driving a streamed upstream answer through its decoder and the response builder.
//!
//! A stream is *primed* before the client sees anything: the driver reads until the response
//! has its first output item (or ends). A failure up to that point is returned as an error, so
//! the client gets a real HTTP status and the gateway may retry; after it, failures end the
//! stream with `response.failed`. Dropping a [`ResponseStream`] drops the upstream connection,
//! which cancels the upstream request.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use switchyard_types::responses::{ResponseStatus, ResponseStreamEvent};
use tokio::time::{Instant, sleep, timeout_at};

use super::ids_map::IdMap;
use super::record::CallRecord;
use crate::error::{Error, ErrorKind};
use crate::providers::{Decoder, Upstream};
use crate::stream::ResponseBuilder;

/// Reads one upstream stream into Responses events.
pub(crate) struct Driver {
    builder: ResponseBuilder,
    pending: VecDeque<ResponseStreamEvent>,
    body: Option<reqwest::Response>,
    decoder: Box<dyn Decoder>,
    items: Vec<Upstream>,
    native: bool,
    deadline: Instant,
    /// `stream_timeout`: the first output must arrive by then, even after the stream started.
    first_output_by: Option<Instant>,
    keepalive: Option<Duration>,
    record: CallRecord,
    /// The record went back to the caller (priming failed); nothing to finish here.
    record_taken: bool,
    ids: IdMap,
    provider: String,
    /// Resolves when the gateway cuts open streams (a shutdown's grace period ran out);
    /// `None` once it has.
    cut: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    /// The gateway cut this stream.
    was_cut: bool,
}

impl Drop for Driver {
    /// A stream dropped before its end (the client went away): the record is finished with
    /// whatever usage the upstream reported so far, so the tokens already spent are charged.
    fn drop(&mut self) {
        if !self.record_taken {
            self.record.report_cost(self.builder.reported_cost());
            self.record
                .finish_disconnected(self.builder.response().usage.as_ref());
        }
    }
}

impl Driver {
    #[allow(clippy::too_many_arguments)] // one constructor call site, all parts distinct
    pub fn new(
        builder: ResponseBuilder,
        body: reqwest::Response,
        decoder: Box<dyn Decoder>,
        native: bool,
        deadline: Instant,
        keepalive: Option<Duration>,
        record: CallRecord,
        ids: IdMap,
        provider: String,
    ) -> Self {
        let cut: Pin<Box<dyn std::future::Future<Output = ()> + Send>> = Box::pin(record.cut());
        Driver {
            cut: Some(cut),
            was_cut: false,
            builder,
            pending: VecDeque::new(),
            body: Some(body),
            decoder,
            items: Vec::new(),
            native,
            deadline,
            first_output_by: None,
            keepalive,
            record,
            record_taken: false,
            ids,
            provider,
        }
    }

    /// Reads until the response has output or has ended. An error (or a failed ending) before
    /// any output is returned instead of being streamed.
    ///
    /// Priming is bounded by the keepalive interval: a client must not wait for headers longer
    /// than an idle proxy in between would tolerate, so after that the stream is committed (it
    /// starts with `response.created`) and keepalives take over.
    pub async fn prime(&mut self, first_output_by: Option<Instant>) -> Result<(), Error> {
        self.first_output_by = first_output_by;
        let deadline = self.read_deadline();
        let commit_by = self.keepalive.map(|every| Instant::now() + every);
        while !self.builder.has_output() && !self.builder.is_terminal() {
            let until = commit_by.map_or(deadline, |c| c.min(deadline));
            match self.read(until).await {
                Err(e) if e.code.as_deref() == Some("timeout") && Instant::now() < deadline => {
                    // The commit point passed first: stream from here on.
                    self.builder.ensure_started();
                    return Ok(());
                }
                result => result?,
            }
        }
        if self.builder.has_output() {
            self.record.output_started();
        }
        let response = self.builder.response();
        if self.builder.is_terminal()
            && !self.builder.has_output()
            && response.status == ResponseStatus::Failed
        {
            let (code, message) = response
                .error
                .as_ref()
                .map(|e| (e.code.clone(), e.message.clone()))
                .unwrap_or_default();
            return Err(error_from_code(&code, message));
        }
        Ok(())
    }

    /// Until the first output, `stream_timeout` bounds reads; after it, the whole-request timeout.
    fn read_deadline(&self) -> Instant {
        match self.first_output_by {
            Some(t) if !self.builder.has_output() => t.min(self.deadline),
            _ => self.deadline,
        }
    }

    /// Reads and applies one piece of upstream output.
    async fn read(&mut self, deadline: Instant) -> Result<(), Error> {
        let Some(body) = self.body.as_mut() else {
            return Err(Error::new(ErrorKind::Internal, "stream read after its end"));
        };
        let chunk = match timeout_at(deadline, body.chunk()).await {
            Err(_) => return Err(timeout_error(&self.provider)),
            Ok(Err(e)) => return Err(connection_error(&self.provider, &e)),
            Ok(Ok(chunk)) => chunk,
        };
        let ended = match chunk {
            Some(bytes) => {
                self.decoder.chunk(&bytes, &mut self.items)?;
                self.builder.apply(&mut self.items)?
            }
            None => {
                self.decoder.end(&mut self.items)?;
                self.builder.apply(&mut self.items)?;
                true
            }
        };
        if ended {
            self.body = None;
            if !self.builder.is_terminal() {
                if self.native {
                    return Err(Error::upstream(
                        ErrorKind::Upstream,
                        format!(
                            "{} ended the stream before response.completed",
                            self.provider
                        ),
                    ));
                }
                self.builder.complete();
            }
        }
        Ok(())
    }

    /// The next event for the client, or `None` after the terminal event.
    pub async fn next(&mut self) -> Option<ResponseStreamEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.builder.has_events() {
                self.pending.extend(self.builder.drain());
                continue;
            }
            if self.builder.is_terminal() {
                self.finish();
                return None;
            }
            let deadline = self.read_deadline();
            let keepalive = self.keepalive;
            let mut cut = self.cut.take();
            // `None`: the upstream was silent for the keepalive interval.
            let read = tokio::select! {
                biased;
                () = async {
                    match cut.as_mut() {
                        Some(cut) => cut.await,
                        None => std::future::pending().await,
                    }
                } => {
                    cut = None;
                    self.was_cut = true;
                    Some(Err(shutting_down()))
                }
                result = self.read(deadline) => Some(result),
                () = async {
                    match keepalive {
                        Some(every) => sleep(every).await,
                        None => std::future::pending().await,
                    }
                } => None,
            };
            self.cut = cut;
            let result = read.unwrap_or_else(|| {
                self.builder.keepalive();
                Ok(())
            });
            if self.builder.has_output() {
                self.record.output_started();
            }
            if let Err(error) = result {
                self.body = None;
                self.builder.fail(&error);
            }
        }
    }

    fn finish(&mut self) {
        let response = self.builder.response();
        if let Some(upstream) = self.builder.upstream_response_id()
            && upstream != response.id
        {
            self.ids.insert(response.id.clone(), upstream.to_string());
        }
        self.record.report_cost(self.builder.reported_cost());
        if self.was_cut {
            self.record.finish_cut(response);
        } else {
            self.record.finish_response(response);
        }
    }

    /// The id of the response being streamed.
    pub fn response_id(&self) -> &str {
        &self.builder.response().id
    }

    /// Gives back the record of a stream that failed while priming, for a retry.
    pub fn into_record(mut self) -> CallRecord {
        self.record_taken = true;
        std::mem::replace(&mut self.record, CallRecord::placeholder())
    }

    /// Turns the primed driver into the client-facing stream.
    pub fn into_stream(self) -> ResponseStream {
        let stream = futures_util::stream::unfold(self, |mut driver| async move {
            driver.next().await.map(|event| (event, driver))
        });
        ResponseStream {
            inner: Box::pin(stream),
        }
    }
}

/// A stream of Responses events, ending after the terminal event.
pub struct ResponseStream {
    inner: Pin<Box<dyn Stream<Item = ResponseStreamEvent> + Send>>,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream").finish_non_exhaustive()
    }
}

impl ResponseStream {
    /// Calls `observe` with every event before the client gets it; whatever `observe` holds
    /// lives as long as the stream (the router's in-flight guard does).
    pub(crate) fn observed(
        self,
        mut observe: impl FnMut(&ResponseStreamEvent) + Send + 'static,
    ) -> ResponseStream {
        use futures_util::StreamExt;
        ResponseStream {
            inner: Box::pin(self.inner.inspect(move |event| observe(event))),
        }
    }
}

impl Stream for ResponseStream {
    type Item = ResponseStreamEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// How a stream the gateway cuts while shutting down ends: an overload, which clients retry.
fn shutting_down() -> Error {
    Error::new(
        ErrorKind::Overloaded,
        "The gateway is shutting down and ended this response; retry it.",
    )
    .with_code("server_shutdown")
}

pub(crate) fn timeout_error(provider: &str) -> Error {
    Error::upstream(
        ErrorKind::Timeout,
        format!("{provider} did not answer in time"),
    )
    .with_code("timeout")
}

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

/// An error for a `response.error.code` of a relayed response that failed before any output.
pub(crate) fn error_from_code(code: &str, message: String) -> Error {
    let kind = match code {
        "rate_limit_exceeded" | "insufficient_quota" | "slow_down" => ErrorKind::RateLimited,
        "context_length_exceeded" => ErrorKind::ContextLengthExceeded,
        "server_is_overloaded" => ErrorKind::Overloaded,
        "invalid_prompt" | "cyber_policy" | "bio_policy" => ErrorKind::InvalidRequest,
        c if c.starts_with("invalid_") || c.starts_with("image_") => ErrorKind::InvalidRequest,
        _ => ErrorKind::Upstream,
    };
    let message = if message.is_empty() {
        format!("the upstream response failed ({code})")
    } else {
        message
    };
    Error::upstream(kind, message).with_code(if code.is_empty() {
        "server_error"
    } else {
        code
    })
}
