//! A request's state: resolved from the store when the request is admitted (the history its
//! `previous_response_id` or `conversation` stands for), and written back when its response
//! ends, before the client sees the terminal event, so that a continuation sent the next
//! instant, to this gateway or to another on the same database, finds it.

use bytes::Bytes;
use switchyard_types::responses::{CreateResponse, Response, ResponseStatus};

use super::{CallContext, Gateway};
use crate::error::Error;
use crate::router::Target;
use crate::state::{Caller, Resolved, ResponseRecord, State};

/// What one request reads from and writes to the state store.
#[derive(Debug)]
pub(super) struct Persist {
    state: State,
    resolved: Resolved,
    caller: Caller,
    /// The response is kept (`store` is not false, or the state keeps everything).
    keep: bool,
    /// The client's `store` (not false), echoed on the response.
    stored: bool,
    /// A background response: its id, fixed before the work starts (the client has it), and
    /// the signal that cancels it.
    background: Option<BackgroundRun>,
    /// A compaction item (its sealed blob) that leads the response's output: the history was
    /// compacted past `context_management`'s threshold.
    leading_compaction: Option<String>,
}

/// What a background response's work knows of it.
#[derive(Debug)]
pub(super) struct BackgroundRun {
    /// The response id the client was given.
    pub id: String,
    /// Becomes true when the response is to be cancelled.
    pub cancel: tokio::sync::watch::Receiver<bool>,
}

impl Persist {
    /// Echoes the request's state on `response`: the `previous_response_id` it continued and
    /// the conversation it belongs to (both were taken out of the request sent upstream).
    pub fn annotate(&self, response: &mut Response) {
        if let Some(previous) = &self.resolved.previous_response_id {
            response.previous_response_id = Some(previous.clone());
        }
        if let Some(conversation) = &self.resolved.conversation_id {
            response.extra.insert(
                "conversation".into(),
                serde_json::json!({ "id": conversation }),
            );
        }
        response.store = self.stored;
        if let Some(run) = &self.background {
            response.id.clone_from(&run.id);
            response.background = true;
            response.status = ResponseStatus::Queued;
        }
    }

    /// Makes this the state of a background response with `id`, cancelled through `cancel`.
    pub fn run_in_background(&mut self, id: String, cancel: tokio::sync::watch::Receiver<bool>) {
        self.background = Some(BackgroundRun { id, cancel });
        // Background responses are kept whatever `store` says: polling needs them.
        self.keep = true;
    }

    /// Makes the response's output start with the compaction item `blob`.
    pub fn lead_with_compaction(&mut self, blob: String) {
        self.leading_compaction = Some(blob);
    }

    /// The compaction item that leads the response's output, if any.
    pub fn leading_compaction(&self) -> Option<&str> {
        self.leading_compaction.as_deref()
    }

    /// The background run, when this is one.
    pub fn background(&self) -> Option<&BackgroundRun> {
        self.background.as_ref()
    }

    /// Resolves when the background response is to be cancelled; never for others.
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let cancel = self.background.as_ref().map(|run| run.cancel.clone());
        async move {
            match cancel {
                Some(mut cancel) => {
                    let _ = cancel.wait_for(|cancelled| *cancelled).await;
                }
                None => std::future::pending().await,
            }
        }
    }

    /// Stores a background response that is still running, under a lease its runner renews.
    pub async fn save_running(&self, response: &Response, lease_until: u64) {
        let mut record = self.state.record(response, &self.resolved, &self.caller);
        record.lease_until = Some(lease_until);
        if let Err(error) = self.state.save(record).await {
            tracing::error!(
                response_id = %response.id,
                error = %error.message,
                "a background response could not be stored"
            );
        }
    }

    /// The state this request reads and writes.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// True when the response is to be kept.
    pub fn keeps(&self) -> bool {
        self.keep
    }

    /// Stores the finished `response` (with every provider blob). A store that fails does
    /// not fail the response the client already paid for: the failure is logged, and what
    /// needs the stored response later gets a clear 503 or 400 then.
    pub async fn save(&self, response: &Response) {
        self.save_answer(response, false).await;
    }

    /// Stores the finished `response` as [`Self::save`] does and, when the client is to get
    /// exactly what is stored (`shown_as_is`: nothing in it is hidden from the client, and the
    /// stored copy names the same previous response), returns its JSON: one serialisation for
    /// the client's answer and the stored body.
    pub async fn save_answer(&self, response: &Response, shown_as_is: bool) -> Option<Bytes> {
        if !self.keep {
            return None;
        }
        let mut record = self.state.record(response, &self.resolved, &self.caller);
        if shown_as_is && record.response.previous_response_id == response.previous_response_id {
            // Serialising cannot fail for these types; if it did, the store tries again.
            record.json = record.response.to_json().ok().map(Bytes::from);
        }
        let json = record.json.clone();
        self.store(record, &response.id).await;
        json
    }

    async fn store(&self, record: ResponseRecord, response_id: &str) {
        if let Err(error) = self.state.save(record).await {
            tracing::error!(
                response_id = %response_id,
                error = %error.message,
                "the response could not be stored; it cannot be retrieved or continued"
            );
        }
    }
}

impl Persist {
    /// A request that reads and writes no state (health probes).
    pub fn nothing(state: State) -> Persist {
        Persist {
            state,
            resolved: Resolved::default(),
            caller: Caller::admin(),
            keep: false,
            stored: false,
            background: None,
            leading_compaction: None,
        }
    }
}

impl Gateway {
    /// Resolves the state `request` names and rewrites it to carry its whole context (see
    /// [`State::resolve`]). A `previous_response_id` the store does not know goes to a target
    /// that speaks the Responses API as it is: that upstream may hold it.
    pub(super) async fn resolve_state(
        &self,
        request: &mut CreateResponse,
        ctx: &CallContext,
        target: &Target,
    ) -> Result<Persist, Error> {
        let caller = &ctx.caller;
        let state = ctx.state.clone().unwrap_or_else(|| self.state().clone());
        let native = target
            .deployments
            .first()
            .is_some_and(|d| d.provider.is_native_responses());
        let resolved = state.resolve(request, caller, native).await?;
        Ok(Persist {
            resolved,
            caller: caller.clone(),
            keep: request.store != Some(false) || state.keeps_unstored(),
            stored: request.store != Some(false),
            background: None,
            leading_compaction: None,
            state,
        })
    }
}
