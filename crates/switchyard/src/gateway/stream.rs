//! Driving a streamed upstream answer through its decoder and the response builder.
//!
//! A stream is *primed* before the client sees anything: the driver reads until the response
//! has its first output item (or ends). A failure up to that point is returned as an error, so
//! the client gets a real HTTP status and the gateway may retry; after it, failures end the
//! stream with `response.failed`. Dropping a [`ResponseStream`] drops the upstream connection,
//! which cancels the upstream request.
//!
//! The request's record stays with the gateway's attempt loop while the stream primes (a retry
//! goes on with it) and passes to the [`ResponseStream`] once primed, which finishes it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use switchyard_types::responses::{ResponseStatus, ResponseStreamEvent};
use tokio::time::{Instant, Sleep, sleep, sleep_until};

use super::ids_map::IdMap;
use super::persist::Persist;
use super::record::CallRecord;
use super::upstream::{Sent, connection_error, timeout_error};
use crate::accounting::RateLimits;
use crate::error::{Error, ErrorKind};
use crate::providers::{BoxFuture, Decoder, Upstream};
use crate::router::Deployment;
use crate::stream::ResponseBuilder;

/// Reads one upstream stream into Responses events.
pub(crate) struct Driver {
    builder: ResponseBuilder,
    pending: VecDeque<ResponseStreamEvent>,
    body: UpstreamBody,
    /// Rate limits of an answer that arrived while streaming, for the record.
    rate_limits: Option<RateLimits>,
    decoder: Box<dyn Decoder>,
    items: Vec<Upstream>,
    native: bool,
    deadline: Instant,
    /// `stream_timeout`: the first output must arrive by then, even after the stream started.
    first_output_by: Option<Instant>,
    /// Bounds each read (see [`Self::read_deadline`]). One timer for the whole stream, moved
    /// only when the deadline moves: a timer per read is registered with the runtime's timer
    /// wheel and taken out again for every chunk.
    read_timer: Pin<Box<Sleep>>,
    keepalive: Option<Duration>,
    ids: IdMap,
    provider: String,
    /// Resolves when the gateway cuts open streams (a shutdown's grace period ran out); set
    /// once the stream takes over its record, `None` once it has fired.
    cut: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    /// The gateway cut this stream.
    was_cut: bool,
    /// Resolves when a background response is cancelled; `None` for other streams and once
    /// it has fired.
    cancel: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    /// The stream was cancelled.
    was_cancelled: bool,
    /// Writes the finished response to the state store before the terminal event goes out;
    /// taken when it has.
    persist: Option<Arc<Persist>>,
    /// The terminal event's response as the store serialised it, when that is exactly what
    /// the event carries (shared with the [`ResponseStream`]: see
    /// [`ResponseStream::terminal_response_json`]).
    terminal_json: Arc<OnceLock<Bytes>>,
}

/// The upstream's side of a stream.
pub(crate) enum UpstreamBody {
    /// The request is sent; its headers have not arrived yet.
    Waiting(BoxFuture<'static, Sent>),
    /// The answer's body is being read.
    Open(reqwest::Response),
    /// The body ended (or failed).
    Ended,
}

/// A stream being primed and the record it reports to. Dropped before priming settles (the
/// client went away while waiting), it charges what the upstream reported so far, as a
/// stream dropped later does.
struct Priming<'a> {
    driver: &'a mut Driver,
    record: &'a mut CallRecord,
    settled: bool,
}

impl Drop for Priming<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.driver.charge_disconnected(self.record);
        }
    }
}

impl Driver {
    /// A driver reading `body` from `deployment` through `decoder` into `builder`, until
    /// `deadline`, with a keepalive every `keepalive` of upstream silence.
    pub fn new(
        builder: ResponseBuilder,
        body: UpstreamBody,
        decoder: Box<dyn Decoder>,
        deployment: &Deployment,
        deadline: Instant,
        keepalive: Option<Duration>,
        ids: IdMap,
    ) -> Self {
        Driver {
            builder,
            pending: VecDeque::new(),
            body,
            rate_limits: None,
            decoder,
            items: Vec::new(),
            native: deployment.provider.is_native_responses(),
            deadline,
            first_output_by: None,
            read_timer: Box::pin(sleep_until(deadline)),
            keepalive,
            ids,
            provider: deployment.provider.name().to_string(),
            cut: None,
            was_cut: false,
            cancel: None,
            was_cancelled: false,
            persist: None,
            terminal_json: Arc::default(),
        }
    }

    /// The same driver, storing the response (see [`Persist`]) before its terminal event.
    pub fn persisting(mut self, persist: Arc<Persist>) -> Self {
        if persist.background().is_some() {
            self.cancel = Some(Box::pin(persist.cancelled()));
        }
        self.persist = persist.keeps().then_some(persist);
        self
    }

    /// Reads until the response has output or has ended, noting the first output on
    /// `record`. An error (or a failed ending) before any output is returned instead of being
    /// streamed, and leaves `record` to the caller's retry.
    pub async fn prime(
        &mut self,
        record: &mut CallRecord,
        first_output_by: Option<Instant>,
    ) -> Result<(), Error> {
        let mut priming = Priming {
            driver: self,
            record,
            settled: false,
        };
        let result = priming
            .driver
            .read_first_output(priming.record, first_output_by)
            .await;
        priming.settled = true;
        result
    }

    /// Priming proper. It is bounded by the keepalive interval: a client must not wait for
    /// headers longer than an idle proxy in between would tolerate, so after that the stream is
    /// committed (it starts with `response.created`) and keepalives take over.
    async fn read_first_output(
        &mut self,
        record: &mut CallRecord,
        first_output_by: Option<Instant>,
    ) -> Result<(), Error> {
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
            record.output_started();
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

    /// Sets the `stream_timeout` deadline of a stream committed without priming.
    pub fn note_first_output_by(&mut self, first_output_by: Option<Instant>) {
        self.first_output_by = first_output_by;
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
        if let UpstreamBody::Waiting(sending) = &mut self.body {
            // The headers come first; their own deadline is inside the sending future.
            let sent = sending.as_mut().await;
            self.rate_limits = Some(sent.rate_limits);
            match sent.answer {
                Ok(answer) => self.body = UpstreamBody::Open(answer),
                Err(error) => {
                    self.body = UpstreamBody::Ended;
                    return Err(error);
                }
            }
        }
        let UpstreamBody::Open(body) = &mut self.body else {
            return Err(Error::new(ErrorKind::Internal, "stream read after its end"));
        };
        if self.read_timer.deadline() != deadline {
            self.read_timer.as_mut().reset(deadline);
        }
        let read = tokio::select! {
            biased;
            read = body.chunk() => Some(read),
            () = self.read_timer.as_mut() => None,
        };
        let chunk = match read {
            None => return Err(timeout_error(&self.provider)),
            Some(Err(e)) => return Err(connection_error(&self.provider, &e)),
            Some(Ok(chunk)) => chunk,
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
            self.body = UpstreamBody::Ended;
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

    /// The next event for the client, or `None` after the terminal event (which finishes
    /// `record`).
    async fn next(&mut self, record: &mut CallRecord) -> Option<ResponseStreamEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if event.is_terminal()
                    && let Some(persist) = self.persist.take()
                {
                    // A continuation sent the moment the client sees the end must find it.
                    // The event's response is the builder's as the client sees it; when that
                    // is the stored copy as it is, the store's serialisation serves both.
                    let shown_as_is = self.builder.shown_as_is();
                    let stored = persist.save_answer(self.builder.response(), shown_as_is);
                    if let Some(json) = stored.await {
                        let _ = self.terminal_json.set(json);
                    }
                }
                return Some(event);
            }
            if self.builder.has_events() {
                self.pending.extend(self.builder.drain());
                continue;
            }
            if self.builder.is_terminal() {
                self.finish(record);
                return None;
            }
            let deadline = self.read_deadline();
            let keepalive = self.keepalive;
            let mut cut = self.cut.take();
            let mut cancel = self.cancel.take();
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
                () = async {
                    match cancel.as_mut() {
                        Some(cancel) => cancel.await,
                        None => std::future::pending().await,
                    }
                } => {
                    cancel = None;
                    self.was_cancelled = true;
                    // Dropping the body ends the upstream call.
                    self.body = UpstreamBody::Ended;
                    self.builder.cancel();
                    Some(Ok(()))
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
            self.cancel = cancel;
            let result = read.unwrap_or_else(|| {
                self.builder.keepalive();
                Ok(())
            });
            if self.builder.has_output() {
                record.output_started();
            }
            if let Some(rate_limits) = self.rate_limits.take() {
                record.set_rate_limits(rate_limits);
            }
            if let Err(error) = result {
                self.body = UpstreamBody::Ended;
                self.builder.fail(&error);
            }
        }
    }

    fn finish(&self, record: &mut CallRecord) {
        let response = self.builder.response();
        if let Some(upstream) = self.builder.upstream_response_id()
            && upstream != response.id
        {
            self.ids.insert(response.id.clone(), upstream.to_string());
        }
        record.report_cost(self.builder.reported_cost());
        if self.was_cut {
            record.finish_cut(response);
        } else if self.was_cancelled {
            record.finish_cancelled(response);
        } else {
            record.finish_response(response);
        }
    }

    /// Finishes `record` for a client that went away, charging the usage the upstream had
    /// reported by then (nothing when the record is already finished).
    fn charge_disconnected(&self, record: &mut CallRecord) {
        record.report_cost(self.builder.reported_cost());
        record.finish_disconnected(self.builder.response().usage.as_ref());
    }

    /// The id of the response being streamed.
    pub fn response_id(&self) -> &str {
        &self.builder.response().id
    }

    /// Turns the primed driver into the client-facing stream, which takes over the request's
    /// `record` and finishes it.
    pub fn into_stream(mut self, record: CallRecord) -> ResponseStream {
        self.cut = Some(Box::pin(record.cut()));
        let terminal_json = self.terminal_json.clone();
        // Boxed: `unfold` moves its state into each event's future and back out, and a
        // driver with its record is large (those two copies per event showed up as a
        // twentieth of a relayed stream's instructions); a box moves as one pointer.
        let streaming = Box::new(Streaming {
            driver: self,
            record,
        });
        let stream = futures_util::stream::unfold(streaming, |mut streaming| async move {
            let event = streaming.driver.next(&mut streaming.record).await;
            event.map(|event| (event, streaming))
        });
        ResponseStream {
            inner: Box::pin(stream),
            terminal_json,
        }
    }
}

/// A primed stream and the request's record.
struct Streaming {
    driver: Driver,
    record: CallRecord,
}

impl Drop for Streaming {
    /// A stream dropped before its end (the client went away): the record is finished with
    /// whatever usage the upstream reported so far, so the tokens already spent are charged.
    fn drop(&mut self) {
        self.driver.charge_disconnected(&mut self.record);
    }
}

/// A stream of Responses events, ending after the terminal event.
pub struct ResponseStream {
    inner: Pin<Box<dyn Stream<Item = ResponseStreamEvent> + Send>>,
    terminal_json: Arc<OnceLock<Bytes>>,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream").finish_non_exhaustive()
    }
}

impl ResponseStream {
    /// A stream of `events`.
    pub(crate) fn new(events: Pin<Box<dyn Stream<Item = ResponseStreamEvent> + Send>>) -> Self {
        ResponseStream {
            inner: events,
            terminal_json: Arc::default(),
        }
    }

    /// The `response` of the terminal event as JSON, once that event has been yielded, when
    /// the gateway serialised it to store it and the event carries exactly that response
    /// (nothing hidden from the client); `None` otherwise. A server writes the terminal event
    /// around these bytes instead of serialising the whole response a second time (when the
    /// event has no fields beside `sequence_number` and `response`).
    pub fn terminal_response_json(&self) -> Option<Bytes> {
        self.terminal_json.get().cloned()
    }

    /// Calls `observe` with every event before the client gets it; whatever `observe` holds
    /// lives as long as the stream (the router's in-flight guard does).
    pub(crate) fn observed(
        self,
        mut observe: impl FnMut(&ResponseStreamEvent) + Send + 'static,
    ) -> ResponseStream {
        use futures_util::StreamExt;
        ResponseStream {
            inner: Box::pin(self.inner.inspect(move |event| observe(event))),
            terminal_json: self.terminal_json,
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
