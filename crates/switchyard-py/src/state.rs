//! Stored responses and conversations from Python: the routes the proxy serves under
//! `/v1/responses/{id}` and `/v1/conversations`, on the process's shared state (see
//! [`crate::gateway::shared_state`]). Every call from Python acts as an administrator: the
//! process owns its state.
//!
//! One entry point takes the operation's name and its arguments as a JSON object and answers
//! JSON, as the proxy would; Python builds the objects. Replaying a background response's
//! events answers a stream instead ([`replay_stream`]).

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde::Deserialize;
use serde_json::Value;
use switchyard::Error;
use switchyard::error::ErrorKind;
use switchyard::state::{Caller, ListQuery};
use switchyard::types::JsonMap;
use switchyard::types::responses::Item;

use crate::capture::Capture;
use crate::gateway::{failed, reported, shared_state, state_gateway};
use crate::report::Failure;
use crate::report::Meta;
use crate::runtime::{self, CallHandle};
use crate::stream::NativeStream;

/// The arguments of every operation; each reads the ones it needs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Args {
    /// The response or conversation.
    id: String,
    /// An item of a conversation.
    item_id: String,
    /// Items to add.
    items: Vec<Item>,
    /// Conversation metadata.
    metadata: JsonMap,
    /// List parameters as query pairs (`after`, `before`, `limit`, `order`, `include`).
    query: Vec<(String, String)>,
    /// Show reasoning blobs (`include=["reasoning.encrypted_content"]`).
    include_encrypted: bool,
}

/// Runs `op` with `args` (JSON) and waits: the answer as JSON. Raises `NativeError`.
#[pyfunction]
pub fn state_call(py: Python<'_>, op: &str, args: &str) -> PyResult<String> {
    let op = op.to_string();
    let args = args.to_string();
    runtime::block_on(py, run(op, args))?.map_err(|f| f.to_err(py))
}

/// Runs `op` with `args` in a task; `notify(ok, value)` gets the answer or the failure.
#[pyfunction]
pub fn state_start(op: String, args: String, notify: Py<PyAny>) -> PyResult<CallHandle> {
    runtime::spawn_reporting(run(op, args), notify, report)
}

/// The events of the background response `id` after sequence number `after` (from its
/// `response.created` without one), as a stream that goes on live while the response runs.
/// Waits until the stream is open. Raises `NativeError` (not found, not a background one).
#[pyfunction]
#[pyo3(signature = (id, after=None))]
pub fn replay_stream(py: Python<'_>, id: String, after: Option<u64>) -> PyResult<NativeStream> {
    runtime::block_on(py, replay(id, after))?.map_err(|f| f.to_err(py))
}

/// `replay_stream` in a task; `notify(ok, value)` gets the `Stream` or the failure.
#[pyfunction]
#[pyo3(signature = (id, after, notify))]
pub fn replay_start(id: String, after: Option<u64>, notify: Py<PyAny>) -> PyResult<CallHandle> {
    runtime::spawn_reporting(replay(id, after), notify, report_replay)
}

async fn replay(id: String, after: Option<u64>) -> Result<NativeStream, Failure> {
    let gateway = state_gateway().map_err(Failure::bare)?;
    let events = gateway
        .replay(&id, &Caller::admin(), after)
        .await
        .map_err(Failure::bare)?;
    // A replay calls no model: no record, no cost, nobody answering.
    let capture = Capture::start();
    let meta = Meta {
        request_id: capture.request_id().to_string(),
        ..Meta::default()
    };
    Ok(NativeStream::new(events, capture, meta, false))
}

fn report_replay(py: Python<'_>, outcome: Result<NativeStream, Failure>) -> (bool, Py<PyAny>) {
    match outcome {
        Ok(stream) => reported(py, Bound::new(py, stream).map(Bound::into_any)),
        Err(failure) => failed(py, &failure),
    }
}

fn report(py: Python<'_>, outcome: Result<String, Failure>) -> (bool, Py<PyAny>) {
    match outcome {
        Ok(json) => reported(py, Ok(PyString::new(py, &json).into_any())),
        Err(failure) => failed(py, &failure),
    }
}

async fn run(op: String, args: String) -> Result<String, Failure> {
    let args: Args = serde_json::from_str(&args).map_err(|e| {
        Failure::bare(Error::invalid_request(
            format!("Invalid arguments: {e}."),
            None,
        ))
    })?;
    let answer = operate(&op, args).await.map_err(Failure::bare)?;
    serde_json::to_string(&answer).map_err(|e| {
        Failure::bare(Error::new(
            ErrorKind::Internal,
            format!("cannot write the answer: {e}"),
        ))
    })
}

async fn operate(op: &str, args: Args) -> Result<Value, Error> {
    let state = shared_state();
    let caller = Caller::admin();
    let query = || ListQuery::from_pairs(args.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let value = match op {
        "responses.retrieve" => json(
            state
                .retrieve(&args.id, &caller, args.include_encrypted)
                .await?,
        ),
        "responses.delete" => state.delete(&args.id, &caller).await?,
        "responses.cancel" => json(state_gateway()?.cancel(&args.id, &caller).await?),
        "responses.input_items" => json(state.input_items(&args.id, &caller, &query()?).await?),
        "conversations.create" => json(
            state
                .create_conversation(args.items, args.metadata, &caller)
                .await?,
        ),
        "conversations.retrieve" => json(state.conversation(&args.id, &caller).await?),
        "conversations.update" => json(
            state
                .update_conversation(&args.id, args.metadata, &caller)
                .await?,
        ),
        "conversations.delete" => state.delete_conversation(&args.id, &caller).await?,
        "conversations.items.create" => json(
            state
                .add_items(&args.id, args.items, &caller, args.include_encrypted)
                .await?,
        ),
        "conversations.items.list" => json(state.list_items(&args.id, &caller, &query()?).await?),
        "conversations.items.retrieve" => json(
            state
                .item(&args.id, &args.item_id, &caller, args.include_encrypted)
                .await?,
        ),
        "conversations.items.delete" => {
            json(state.delete_item(&args.id, &args.item_id, &caller).await?)
        }
        other => {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("unknown state operation `{other}`"),
            ));
        }
    };
    Ok(value)
}

fn json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
