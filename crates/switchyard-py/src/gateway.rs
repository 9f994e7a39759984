//! `_native.Gateway`: a [`Gateway`] for Python, with its calls in the three shapes Python
//! needs — a blocking call, a blocking stream start, and a task that reports to an `await`.
//!
//! Requests and responses cross the boundary as JSON text (`json.loads` on the Python side
//! is faster than building the objects field by field from Rust).

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, OnceLock};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use switchyard::config::Config;
use switchyard::error::ErrorKind;
use switchyard::state::{DEFAULT_RETENTION_DAYS, MemoryStore, State};
use switchyard::types::responses::CreateResponse;
use switchyard::{CallContext, Error, Gateway, Output};

use crate::capture::{Capture, CaptureSink};
use crate::report::{Answered, Failure, Meta};
use crate::runtime::{self, CallHandle};
use crate::stream::NativeStream;

/// Stored responses and conversations, shared by every gateway of the process, so that a
/// response created through one (a module-level call, a `Router`) can be retrieved or
/// continued through any other.
pub fn shared_state() -> &'static State {
    static STATE: LazyLock<State> =
        LazyLock::new(|| State::new(Arc::new(MemoryStore::default()), DEFAULT_RETENTION_DAYS));
    &STATE
}

/// A gateway of no config on the process's state, for the routes that act on a stored
/// response rather than create one: cancelling a background response (signalled through the
/// state to the gateway that runs it) and replaying one's events. Built on first use, on the
/// runtime.
pub fn state_gateway() -> Result<Gateway, Error> {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    if let Some(gateway) = GATEWAY.get() {
        return Ok(gateway.clone());
    }
    let gateway = Gateway::adhoc()?;
    let _ = gateway.set_state(shared_state().clone());
    Ok(GATEWAY.get_or_init(|| gateway).clone())
}

/// A gateway: a config's model groups, or `provider/model` strings with credentials from the
/// environment.
#[pyclass(module = "switchyard._native", name = "Gateway", frozen)]
pub struct NativeGateway {
    gateway: Gateway,
}

impl NativeGateway {
    /// Gives `gateway` the process's state and the capture sink.
    fn adopt(gateway: Gateway) -> NativeGateway {
        // A new gateway has served nothing, so its state is still open.
        let _ = gateway.set_state(shared_state().clone());
        gateway.sinks().add(Arc::new(CaptureSink));
        NativeGateway { gateway }
    }

    /// Builds the gateway of `config` inside the runtime (the router connects to Redis and
    /// health checks start there); returns it with the config's warnings.
    fn from_config(config: &Config) -> PyResult<(NativeGateway, Vec<String>)> {
        let _entered = runtime::runtime()?.enter();
        let (gateway, mut warnings) =
            Gateway::from_config(config).map_err(|e| PyValueError::new_err(e.0))?;
        if let Some(warning) = config.warning() {
            warnings.insert(0, warning);
        }
        Ok((NativeGateway::adopt(gateway), warnings))
    }
}

#[pymethods]
impl NativeGateway {
    /// A gateway without a config: `model` is a `provider/model` string and credentials come
    /// from the provider's usual environment variables.
    #[staticmethod]
    fn adhoc() -> PyResult<NativeGateway> {
        let _entered = runtime::runtime()?.enter();
        let gateway = Gateway::adhoc().map_err(|e| PyValueError::new_err(e.message))?;
        Ok(NativeGateway::adopt(gateway))
    }

    /// The gateway of a LiteLLM-style config given as YAML (or JSON) text, with the config's
    /// warnings.
    #[staticmethod]
    fn from_yaml(text: &str) -> PyResult<(NativeGateway, Vec<String>)> {
        let config = Config::from_yaml(text).map_err(|e| PyValueError::new_err(e.0))?;
        NativeGateway::from_config(&config)
    }

    /// The gateway of the config file at `path`, with the config's warnings.
    #[staticmethod]
    fn from_file(path: PathBuf) -> PyResult<(NativeGateway, Vec<String>)> {
        let config = Config::from_file(&path).map_err(|e| PyValueError::new_err(e.0))?;
        NativeGateway::from_config(&config)
    }

    /// `(model group, provider)` pairs, as `GET /v1/models` lists them.
    fn models(&self) -> Vec<(String, String)> {
        self.gateway
            .models()
            .into_iter()
            .map(|m| (m.id, m.owned_by))
            .collect()
    }

    /// Creates a response and waits for it: `(response JSON, meta)`. Raises `NativeError`.
    fn responses<'py>(
        &self,
        py: Python<'py>,
        body: String,
        want_log: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let gateway = self.gateway.clone();
        // Parsed detached too: a large request takes a while.
        let call = async move { respond(gateway, parse_request(&body, false)?, want_log).await };
        let (json, meta) = runtime::block_on(py, call)?.map_err(|f| f.to_err(py))?;
        PyTuple::new(
            py,
            [
                json.into_pyobject(py)?.into_any(),
                meta.to_dict(py)?.into_any(),
            ],
        )
    }

    /// Starts a stream and waits until it is primed (its first output, or its end). Raises
    /// `NativeError` for failures before any output.
    fn stream(&self, py: Python<'_>, body: String, want_log: bool) -> PyResult<NativeStream> {
        let gateway = self.gateway.clone();
        let call = async move { open_stream(gateway, parse_request(&body, true)?, want_log).await };
        runtime::block_on(py, call)?.map_err(|f| f.to_err(py))
    }

    /// Starts the call as a task; `notify(ok, value)` is called from a runtime thread when it
    /// ends, with `(response JSON, meta)` or a `Stream` when `ok`, the failure's dict when
    /// not.
    fn start(
        &self,
        body: String,
        stream: bool,
        want_log: bool,
        notify: Py<PyAny>,
    ) -> PyResult<CallHandle> {
        let gateway = self.gateway.clone();
        if stream {
            let call =
                async move { open_stream(gateway, parse_request(&body, true)?, want_log).await };
            runtime::spawn_reporting(call, notify, report_stream)
        } else {
            let call =
                async move { respond(gateway, parse_request(&body, false)?, want_log).await };
            runtime::spawn_reporting(call, notify, report_response)
        }
    }
}

/// Reads a request body, naming the parameter at fault when a field has the wrong type.
fn parse_request(body: &str, stream: bool) -> Result<CreateResponse, Failure> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let mut request: CreateResponse =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let detail = e.into_inner().to_string();
            let param = (path != ".").then_some(path.as_str());
            let error = match param {
                Some(param) => Error::invalid_request(
                    format!("Invalid type for '{param}': {detail}."),
                    Some(param),
                ),
                None => Error::invalid_request(format!("Invalid request: {detail}."), None),
            };
            Failure::bare(error.with_code("invalid_type"))
        })?;
    request.stream = stream.then_some(true);
    Ok(request)
}

/// The context of a call made under `capture`'s request id.
fn context(capture: &Capture) -> CallContext {
    CallContext {
        request_id: capture.request_id().to_string(),
        ..CallContext::default()
    }
}

/// A whole response, as JSON, and what is known about it.
async fn respond(
    gateway: Gateway,
    request: CreateResponse,
    want_log: bool,
) -> Result<(String, Meta), Failure> {
    let capture = Capture::start();
    let failure = |error: Error, capture: &Capture| Failure {
        error: Box::new(error),
        request_id: capture.request_id().to_string(),
        log: capture.take(),
        want_log,
    };
    let execution = match gateway.execute(request, context(&capture)).await {
        Ok(execution) => execution,
        Err(error) => return Err(failure(error, &capture)),
    };
    let Output::Response(response) = execution.output else {
        let error = Error::new(
            ErrorKind::Internal,
            "a stream answered a call without stream",
        );
        return Err(failure(error, &capture));
    };
    // Serialised already when the gateway stored it.
    let stored_json = execution
        .response_json
        .as_deref()
        .and_then(|json| std::str::from_utf8(json).ok());
    let json = match stored_json {
        Some(json) => Ok(json.to_owned()),
        None => serde_json::to_string(&response),
    }
    .map_err(|e| {
        let error = Error::new(
            ErrorKind::Internal,
            format!("cannot write the response: {e}"),
        );
        failure(error, &capture)
    })?;
    let meta = Meta {
        request_id: capture.request_id().to_string(),
        answered: Some(Answered::from(&execution.deployment)),
        retries: execution.attempted_retries,
        fallbacks: execution.attempted_fallbacks,
        cost: execution.cost,
        log: if want_log { capture.take() } else { None },
    };
    Ok((json, meta))
}

/// A primed stream.
async fn open_stream(
    gateway: Gateway,
    request: CreateResponse,
    want_log: bool,
) -> Result<NativeStream, Failure> {
    let capture = Capture::start();
    match gateway.execute(request, context(&capture)).await {
        Ok(execution) => {
            let meta = Meta {
                request_id: capture.request_id().to_string(),
                answered: Some(Answered::from(&execution.deployment)),
                retries: execution.attempted_retries,
                fallbacks: execution.attempted_fallbacks,
                cost: None,
                log: None,
            };
            match execution.output {
                Output::Stream(events) => Ok(NativeStream::new(events, capture, meta, want_log)),
                Output::Response(_) => Err(Failure::bare(Error::new(
                    ErrorKind::Internal,
                    "a whole response answered a stream",
                ))),
            }
        }
        Err(error) => Err(Failure {
            error: Box::new(error),
            request_id: capture.request_id().to_string(),
            log: capture.take(),
            want_log,
        }),
    }
}

/// `(ok, value)` for Python; a value that cannot be built is reported as a failure.
pub fn reported(py: Python<'_>, value: PyResult<Bound<'_, PyAny>>) -> (bool, Py<PyAny>) {
    match value {
        Ok(value) => (true, value.unbind()),
        Err(err) => failed(
            py,
            &Failure::bare(Error::new(ErrorKind::Internal, err.to_string())),
        ),
    }
}

/// `(false, the failure's dict)`.
pub fn failed(py: Python<'_>, failure: &Failure) -> (bool, Py<PyAny>) {
    match failure.to_dict(py) {
        Ok(dict) => (false, dict.into_any().unbind()),
        Err(err) => (false, err.value(py).clone().into_any().unbind()),
    }
}

fn report_response(py: Python<'_>, outcome: Result<(String, Meta), Failure>) -> (bool, Py<PyAny>) {
    match outcome {
        Ok((json, meta)) => {
            let value = meta.to_dict(py).and_then(|meta: Bound<'_, PyDict>| {
                let pair = PyTuple::new(py, [json.into_pyobject(py)?.into_any(), meta.into_any()])?;
                Ok(pair.into_any())
            });
            reported(py, value)
        }
        Err(failure) => failed(py, &failure),
    }
}

fn report_stream(py: Python<'_>, outcome: Result<NativeStream, Failure>) -> (bool, Py<PyAny>) {
    match outcome {
        Ok(stream) => reported(py, Bound::new(py, stream).map(Bound::into_any)),
        Err(failure) => failed(py, &failure),
    }
}
