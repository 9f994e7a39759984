//! Background responses (`background: true`): the create answers at once with the response
//! queued, and the work goes on detached from the client in a task of the gateway that
//! received it.
//!
//! The task streams the upstream answer whatever the client asked for, keeps every event
//! (with its sequence number) in the state store, so that any replica can replay the stream
//! from any point, and stores the response when it ends like any other. While it runs it
//! renews a lease on the stored response; a response whose lease ran out (the instance running
//! it stopped without finishing it) reads as failed, so none stays `in_progress` forever.
//! Cancelling reaches the task through a local signal, or, from another replica, through a
//! flag in the store that the task polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use switchyard_types::responses::{CreateResponse, Response, ResponseStatus, ResponseStreamEvent};
use tokio::sync::{Notify, mpsc, watch};

use super::execute::{Plan, Progress};
use super::stream::ResponseStream;
use super::{CallContext, Execution, Gateway, Output};
use crate::error::{Error, ErrorKind};
use crate::ids;
use crate::router::Target;
use crate::state::{Caller, State};
use crate::stream::{ResponseBuilder, envelope};

/// How long a running response's lease lasts; renewed at a third of it.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a running response looks for a cancellation asked on another replica.
const CANCEL_POLL: Duration = Duration::from_millis(500);
/// Events are written in batches at most this far apart.
const EVENT_FLUSH: Duration = Duration::from_millis(100);
/// Events a client stream may fall behind by before it is cut off (it can resume from the
/// store).
const CLIENT_BUFFER: usize = 1_024;

/// The background responses running on this gateway, and the caps on them.
#[derive(Debug)]
pub(super) struct Runs {
    running: Mutex<HashMap<String, Running>>,
    /// Notified when a run ends.
    ended: Notify,
    max_total: usize,
    max_per_key: usize,
}

#[derive(Debug)]
struct Running {
    owner: Option<String>,
    cancel: watch::Sender<bool>,
}

impl Runs {
    /// Room for `max_total` background responses at once, `max_per_key` of any one key.
    pub fn new(max_total: usize, max_per_key: usize) -> Runs {
        Runs {
            running: Mutex::new(HashMap::new()),
            ended: Notify::new(),
            max_total: max_total.max(1),
            max_per_key: max_per_key.max(1),
        }
    }

    /// Registers a run for `owner`, or refuses it with a 429 past a cap.
    fn admit(&self, id: &str, owner: Option<String>) -> Result<watch::Receiver<bool>, Error> {
        let Ok(mut running) = self.running.lock() else {
            return Err(Error::new(
                ErrorKind::Internal,
                "background registry poisoned",
            ));
        };
        let too_many = |what: &str, cap: usize| {
            Error::new(
                ErrorKind::RateLimited,
                format!(
                    "Too many background responses in progress {what} (at most {cap}); wait \
                     for one to finish or cancel one."
                ),
            )
            .with_code("too_many_background_responses")
            .with_retry_after(Some(Duration::from_secs(1)))
        };
        if running.len() >= self.max_total {
            return Err(too_many("on this gateway", self.max_total));
        }
        if owner.is_some()
            && running.values().filter(|r| r.owner == owner).count() >= self.max_per_key
        {
            return Err(too_many("for this key", self.max_per_key));
        }
        let (cancel, cancelled) = watch::channel(false);
        running.insert(id.to_string(), Running { owner, cancel });
        Ok(cancelled)
    }

    fn finished(&self, id: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(id);
        }
        self.ended.notify_waiters();
    }

    /// Signals the run of `id`, when it runs here; false otherwise.
    fn cancel(&self, id: &str) -> bool {
        let Ok(running) = self.running.lock() else {
            return false;
        };
        match running.get(id) {
            Some(run) => {
                run.cancel.send_replace(true);
                true
            }
            None => false,
        }
    }

    /// How many runs are in progress here.
    pub fn count(&self) -> usize {
        self.running.lock().map_or(0, |r| r.len())
    }
}

impl Gateway {
    /// Starts a background response: admitted like any request (a bad one is refused at once),
    /// stored queued, then worked on by a task of its own. Answers the queued response, or,
    /// when the client asked for a stream, the live stream of its events.
    pub(super) async fn execute_background(
        &self,
        mut request: CreateResponse,
        ctx: CallContext,
    ) -> Result<Execution, Error> {
        let client_streams = request.is_stream();
        let id = ids::response_id();
        let cancelled = self.inner.runs.admit(&id, ctx.caller.owner())?;
        // The work is a stream, whatever the client reads; the upstream is not asked for a
        // background response: the gateway runs it.
        request.stream = Some(true);
        request.background = None;
        let admitted = self.admit(request, ctx).await;
        let (mut plan, target) = match admitted {
            Ok(admitted) => admitted,
            Err(error) => {
                self.inner.runs.finished(&id);
                return Err(error);
            }
        };
        match Arc::get_mut(&mut plan.persist) {
            Some(persist) => persist.run_in_background(id.clone(), cancelled),
            None => {
                self.inner.runs.finished(&id);
                return Err(Error::new(
                    ErrorKind::Internal,
                    "a request's state is shared",
                ));
            }
        }
        let queued = queued_response(&plan, &target);
        plan.persist
            .save_running(&queued, crate::state::now() + LEASE.as_secs())
            .await;
        let deployment =
            target.deployments.first().cloned().ok_or_else(|| {
                Error::new(ErrorKind::Internal, "a model group without deployments")
            })?;
        let (feed, events) = mpsc::channel(CLIENT_BUFFER);
        let feed = client_streams.then_some(feed);
        let mut keeper = Keeper::new(id.clone(), plan.persist.state().clone(), feed);
        // The stream opens at once, whatever the upstream does.
        let mut opening = ResponseBuilder::new(queued.clone(), true, false);
        opening.announce_queued();
        for event in opening.drain() {
            keeper.push(event);
        }
        keeper.flush().await;
        let gateway = self.clone();
        let snapshot = queued.clone();
        tokio::spawn(async move {
            gateway.run_background(plan, target, snapshot, keeper).await;
            gateway.inner.runs.finished(&id);
        });
        let output = if client_streams {
            Output::Stream(ResponseStream::from_channel(events))
        } else {
            Output::Response(Box::new(queued))
        };
        Ok(Execution {
            deployment,
            output,
            attempted_retries: 0,
            attempted_fallbacks: 0,
            max_fallbacks: 0,
            cost: None,
            response_json: None,
        })
    }

    /// The work of one background response, to its end.
    async fn run_background(
        &self,
        plan: Plan,
        target: Target,
        queued: Response,
        mut keeper: Keeper,
    ) {
        let mut progress = Progress::default();
        let cancelled = plan.persist.cancelled();
        let cut = self.inner.sinks.cut();
        let answered = tokio::select! {
            biased;
            () = cancelled => Err(Ended::Cancelled),
            () = cut => Err(Ended::Cut),
            () = keeper.remote_cancel() => Err(Ended::Cancelled),
            answered = self.serve(&plan, target, &mut progress) => answered.map_err(Ended::Failed),
        };
        let answered = match answered {
            Ok(answered) => answered,
            Err(ended) => {
                if let Ended::Failed(error) = &ended {
                    progress.fail(&plan, &self.inner.sinks, error);
                }
                let response = end_without_output(&plan, queued, ended, &mut keeper).await;
                progress.end_early(&response);
                return;
            }
        };
        let events = match self.execution(&plan, progress, answered) {
            Ok(Execution {
                output: Output::Stream(events),
                ..
            }) => events,
            Ok(_) => return,
            Err(error) => {
                end_without_output(&plan, queued, Ended::Failed(error), &mut keeper).await;
                return;
            }
        };
        keeper.follow(events, &self.inner.runs).await;
    }

    /// Cancels the background response `id` for `caller`: its run is signalled (here, or
    /// through the store on the replica running it), and the answer is the response once it
    /// has ended, as cancelled. A response that already ended answers as it is; one that is
    /// not a background response is a 400.
    pub async fn cancel(&self, id: &str, caller: &Caller) -> Result<Response, Error> {
        let state = self.state();
        let response = state.retrieve(id, caller, false).await?;
        if !response.background {
            return Err(Error::invalid_request(
                "Only background responses can be cancelled.",
                None,
            ));
        }
        if has_ended(response.status) {
            return Ok(response);
        }
        if !self.inner.runs.cancel(id) {
            state.store().request_cancel(id).await?;
        }
        // The run stores the cancelled response within a poll or two.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let current = state.retrieve(id, caller, false).await?;
            if has_ended(current.status) || tokio::time::Instant::now() >= deadline {
                return Ok(current);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The stream of a background response `caller` may see, replayed from the store: every
    /// event after sequence number `after` (all of them, from `response.created`, with
    /// `None`), then the live ones as the run stores them, to the terminal event. Works on any
    /// replica sharing the store, while the response runs and after it ended.
    pub async fn replay(
        &self,
        id: &str,
        caller: &Caller,
        after: Option<u64>,
    ) -> Result<ResponseStream, Error> {
        let state = self.state().clone();
        let record = state.record_of(id, caller).await?;
        if !record.response.background {
            return Err(Error::invalid_request(
                "Streaming a stored response is only possible for background responses.",
                Some("stream"),
            )
            .with_code("invalid_value"));
        }
        let replay = Replay {
            id: id.to_string(),
            caller: caller.clone(),
            state,
            after,
            ended_at: None,
            done: false,
        };
        let events = futures_util::stream::unfold(replay, |mut replay| async move {
            let batch = replay.next_batch().await?;
            Some((futures_util::stream::iter(batch), replay))
        })
        .flatten();
        Ok(ResponseStream::new(Box::pin(events)))
    }

    /// How many background responses run on this gateway.
    pub fn background_running(&self) -> usize {
        self.inner.runs.count()
    }

    /// Resolves once no background response runs on this gateway.
    pub async fn background_finished(&self) {
        loop {
            let ended = self.inner.runs.ended.notified();
            if self.inner.runs.count() == 0 {
                return;
            }
            ended.await;
        }
    }
}

/// The response as the client first sees it: queued, with the gateway's id.
fn queued_response(plan: &Plan, target: &Target) -> Response {
    let model = target
        .deployments
        .first()
        .map(|d| d.provider.model().to_string())
        .unwrap_or_default();
    let mut response = envelope(&plan.request, String::new(), model, crate::state::now());
    plan.persist.annotate(&mut response);
    response
}

/// Ends a response that produced nothing (every attempt failed, or it was cancelled or cut
/// before its first output): its events and its stored state say how.
async fn end_without_output(
    plan: &Plan,
    queued: Response,
    ended: Ended,
    keeper: &mut Keeper,
) -> Response {
    let mut builder = ResponseBuilder::new(queued, true, false).after_queued();
    builder.start();
    match ended {
        Ended::Cancelled => builder.cancel(),
        Ended::Cut => builder.fail(&Error::new(
            ErrorKind::Overloaded,
            "The gateway shut down before this background response started; retry it.",
        )),
        Ended::Failed(error) => builder.fail(&error),
    }
    let events: Vec<ResponseStreamEvent> = builder.drain().collect();
    plan.persist.save(builder.response()).await;
    for event in events {
        keeper.push(event);
    }
    keeper.flush().await;
    builder.into_response()
}

/// True once a response has its final status.
fn has_ended(status: ResponseStatus) -> bool {
    !matches!(status, ResponseStatus::Queued | ResponseStatus::InProgress)
}

/// Why a background response ended before its stream began.
enum Ended {
    Cancelled,
    Cut,
    Failed(Error),
}

/// Keeps a background response's events: in the store (batched), for a client reading the
/// stream live (while it keeps up), and the lease on the stored response.
struct Keeper {
    id: String,
    state: State,
    feed: Option<mpsc::Sender<ResponseStreamEvent>>,
    pending: Vec<(u64, String)>,
}

impl Keeper {
    fn new(id: String, state: State, feed: Option<mpsc::Sender<ResponseStreamEvent>>) -> Keeper {
        Keeper {
            id,
            state,
            feed,
            pending: Vec::new(),
        }
    }

    /// Resolves when another replica asked for this response to be cancelled.
    async fn remote_cancel(&self) {
        let mut every = tokio::time::interval(CANCEL_POLL);
        loop {
            every.tick().await;
            if matches!(
                self.state.store().cancel_requested(&self.id).await,
                Ok(true)
            ) {
                return;
            }
        }
    }

    fn push(&mut self, event: ResponseStreamEvent) {
        if let Ok(json) = serde_json::to_string(&event) {
            self.pending
                .push((event.sequence_number().unwrap_or_default(), json));
        }
        if let Some(feed) = &self.feed
            && feed.try_send(event).is_err()
        {
            // The client went away or fell behind: the work goes on; it can resume.
            self.feed = None;
        }
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending);
        if let Err(e) = self.state.store().append_events(&self.id, events).await {
            tracing::warn!(response_id = %self.id, error = %e, "could not keep stream events");
        }
    }

    /// Reads `events` to their end: keeps each, renews the lease, and passes on a
    /// cancellation asked on another replica (a local one reaches the stream directly).
    async fn follow(mut self, mut events: ResponseStream, runs: &Runs) {
        let mut flush = tokio::time::interval(EVENT_FLUSH);
        let mut lease = tokio::time::interval(LEASE / 3);
        let mut cancel_poll = tokio::time::interval(CANCEL_POLL);
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(event) => {
                        let terminal = event.is_terminal();
                        self.push(event);
                        if terminal {
                            break;
                        }
                    }
                    None => break,
                },
                _ = flush.tick() => self.flush().await,
                _ = lease.tick() => {
                    let until = crate::state::now() + LEASE.as_secs();
                    let _ = self.state.store().renew_lease(&self.id, until).await;
                }
                _ = cancel_poll.tick() => {
                    if matches!(self.state.store().cancel_requested(&self.id).await, Ok(true)) {
                        runs.cancel(&self.id);
                    }
                }
            }
        }
        self.flush().await;
    }
}

/// How often a replay looks for new events.
const REPLAY_POLL: Duration = Duration::from_millis(100);
/// How long a replay waits, once the response has ended, for its last events to be stored.
const REPLAY_SETTLE: Duration = Duration::from_secs(2);

/// A replay of a background response's events in progress.
struct Replay {
    id: String,
    caller: Caller,
    state: State,
    /// The last sequence number sent.
    after: Option<u64>,
    /// When the response was first seen ended without its terminal event stored.
    ended_at: Option<tokio::time::Instant>,
    done: bool,
}

impl Replay {
    /// The next events to send; `None` once the terminal event was sent.
    async fn next_batch(&mut self) -> Option<Vec<ResponseStreamEvent>> {
        if self.done {
            return None;
        }
        loop {
            let stored = self
                .state
                .store()
                .events_after(&self.id, self.after)
                .await
                .unwrap_or_default();
            let mut batch = Vec::new();
            for (sequence, json) in stored {
                let Ok(event) = ResponseStreamEvent::from_json(&json) else {
                    continue;
                };
                self.after = Some(sequence);
                let terminal = event.is_terminal();
                batch.push(event);
                if terminal {
                    self.done = true;
                    break;
                }
            }
            if !batch.is_empty() {
                return Some(batch);
            }
            // Nothing new: still running, or ended with its last events yet to be stored (or
            // lost with the instance that ran it).
            let record = self.state.record_of(&self.id, &self.caller).await.ok()?;
            if has_ended(record.response.status) {
                let since = *self.ended_at.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= REPLAY_SETTLE {
                    self.done = true;
                    let next = self.after.map_or(0, |n| n + 1);
                    let mut response = record.response;
                    response.output = response
                        .output
                        .into_iter()
                        .map(|item| crate::state::context::for_client(item, false))
                        .collect();
                    return Some(vec![ResponseBuilder::terminal_event(response, next)]);
                }
            }
            tokio::time::sleep(REPLAY_POLL).await;
        }
    }
}

impl ResponseStream {
    /// A stream of the events a background run sends.
    pub(super) fn from_channel(events: mpsc::Receiver<ResponseStreamEvent>) -> ResponseStream {
        ResponseStream::new(Box::pin(tokio_stream_from(events)))
    }
}

/// The receiver as a stream.
fn tokio_stream_from(
    mut events: mpsc::Receiver<ResponseStreamEvent>,
) -> impl futures_core::Stream<Item = ResponseStreamEvent> + Send {
    futures_util::stream::poll_fn(move |cx| events.poll_recv(cx))
}
