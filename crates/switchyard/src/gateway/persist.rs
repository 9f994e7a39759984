//! A request's state: resolved from the store when the request is admitted (the history its
//! `previous_response_id` or `conversation` stands for), and written back when its response
//! ends, before the client sees the terminal event, so that a continuation sent the next
//! instant, to this gateway or to another on the same database, finds it.

use switchyard_types::responses::{CreateResponse, Response};

use super::{CallContext, Gateway};
use crate::error::Error;
use crate::router::Target;
use crate::state::{Caller, Resolved, State};

/// What one request reads from and writes to the state store.
#[derive(Debug)]
pub(super) struct Persist {
    state: State,
    resolved: Resolved,
    caller: Caller,
    /// The client asked for the response to be stored (`store` is not false).
    stored: bool,
    /// The response is written to the state: stored, or kept by a connection's own state
    /// (which keeps `store: false` responses too, and only for itself).
    keep: bool,
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
        // What the client asked for, whether or not a connection keeps it for itself: a
        // connection's store passes on to the gateway's only the responses marked stored.
        response.store = self.stored;
    }

    /// True when the response is to be kept.
    pub fn keeps(&self) -> bool {
        self.keep
    }

    /// Stores the finished `response` (with every provider blob). A store that fails does
    /// not fail the response the client already paid for: the failure is logged, and what
    /// needs the stored response later gets a clear 503 or 400 then.
    pub async fn save(&self, response: &Response) {
        if !self.keep {
            return;
        }
        let record = self.state.record(response, &self.resolved, &self.caller);
        if let Err(error) = self.state.save(record).await {
            tracing::error!(
                response_id = %response.id,
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
            stored: false,
            keep: false,
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
        let stored = request.store != Some(false);
        Ok(Persist {
            resolved,
            caller: caller.clone(),
            stored,
            keep: stored || state.keeps_unstored(),
            state,
        })
    }
}
