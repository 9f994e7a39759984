//! What a call tells Python besides its response: the deployment that answered, retries,
//! cost and the accounting record (`meta`), or, for a failure, the error in OpenAI's terms.
//! The Python package turns these dicts into `_hidden_params`, callback arguments and its
//! exception classes.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use switchyard::Error;
use switchyard::accounting::RequestLog;
use switchyard::router::Deployment;

pyo3::create_exception!(
    _native,
    NativeError,
    pyo3::exceptions::PyException,
    "A failure reported by switchyard's gateway. `args[0]` is a dict describing it; the \
     Python package raises its OpenAI-shaped exception from it."
);

/// The deployment that answered a call.
#[derive(Debug, Clone)]
pub struct Answered {
    /// `model_info.id` (or the derived id).
    pub id: String,
    /// Its model group.
    pub group: String,
    /// Its provider (`openai`, `anthropic`, …).
    pub provider: String,
    /// The upstream model.
    pub model: String,
    /// Its base URL.
    pub api_base: String,
}

impl From<&Arc<Deployment>> for Answered {
    fn from(d: &Arc<Deployment>) -> Self {
        Answered {
            id: d.id.clone(),
            group: d.model_name.clone(),
            provider: d.provider.name().to_string(),
            model: d.provider.model().to_string(),
            api_base: d.provider.api_base().to_string(),
        }
    }
}

/// Everything known about a call that succeeded (or a stream that ended).
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// The request id of the call.
    pub request_id: String,
    /// Who answered.
    pub answered: Option<Answered>,
    /// Retries made, over every group tried.
    pub retries: u32,
    /// Fallback groups tried.
    pub fallbacks: u32,
    /// USD, when the model has a price.
    pub cost: Option<f64>,
    /// The accounting record, when the caller wants it (callbacks are registered).
    pub log: Option<Arc<RequestLog>>,
}

impl Meta {
    /// The dict Python reads.
    pub fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("request_id", &self.request_id)?;
        dict.set_item("cost", self.cost.or_else(|| self.log.as_ref()?.cost))?;
        dict.set_item("attempted_retries", self.retries)?;
        dict.set_item("attempted_fallbacks", self.fallbacks)?;
        if let Some(a) = &self.answered {
            dict.set_item("model_id", &a.id)?;
            dict.set_item("model_group", &a.group)?;
            dict.set_item("provider", &a.provider)?;
            dict.set_item("model", &a.model)?;
            dict.set_item("api_base", &a.api_base)?;
        }
        dict.set_item("log", log_json(self.log.as_deref()))?;
        Ok(dict)
    }
}

/// The record as the documented JSON payload.
fn log_json(log: Option<&RequestLog>) -> Option<String> {
    serde_json::to_string(log?).ok()
}

/// A call that failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What went wrong (boxed: failures travel in `Result`s that are mostly `Ok`).
    pub error: Box<Error>,
    /// The request id of the call.
    pub request_id: String,
    /// The accounting record (always taken: it names the provider and model).
    pub log: Option<Arc<RequestLog>>,
    /// Python wants the record itself.
    pub want_log: bool,
}

impl Failure {
    /// A failure outside any request (bad arguments, state look-ups).
    pub fn bare(error: Error) -> Failure {
        Failure {
            error: Box::new(error),
            request_id: String::new(),
            log: None,
            want_log: false,
        }
    }

    /// The dict Python reads.
    pub fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let e = &self.error;
        let dict = PyDict::new(py);
        dict.set_item("kind", format!("{:?}", e.kind))?;
        dict.set_item("status", e.status())?;
        dict.set_item("type", e.kind.openai_type())?;
        dict.set_item("message", &e.message)?;
        dict.set_item("code", e.code.as_deref())?;
        dict.set_item("param", e.param.as_deref())?;
        dict.set_item("retry_after", e.retry_after.map(|d| d.as_secs_f64()))?;
        dict.set_item("upstream_status", e.upstream_status)?;
        dict.set_item("origin", format!("{:?}", e.origin).to_lowercase())?;
        dict.set_item("request_id", &self.request_id)?;
        if let Some(log) = &self.log {
            dict.set_item("provider", log.provider.as_deref())?;
            dict.set_item("model", log.model.as_deref())?;
            dict.set_item("model_group", log.model_group.as_deref())?;
            dict.set_item("model_id", log.deployment_id.as_deref())?;
            dict.set_item("api_base", log.api_base.as_deref())?;
        }
        let log = if self.want_log {
            log_json(self.log.as_deref())
        } else {
            None
        };
        dict.set_item("log", log)?;
        Ok(dict)
    }

    /// The exception to raise.
    pub fn to_err(&self, py: Python<'_>) -> PyErr {
        match self.to_dict(py) {
            Ok(dict) => NativeError::new_err((dict.unbind(),)),
            Err(err) => err,
        }
    }
}
