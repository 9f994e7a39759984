//! `switchyard._native`: the extension module under switchyard's Python package.
//!
//! It is small on purpose: gateways ([`gateway`]), streams ([`stream`]) and the stored state
//! ([`state`]) as Python sees them, on one process-wide Tokio runtime ([`runtime`]), with the
//! library's logs sent to Python's `logging` ([`logs`]). Everything Python users touch — the
//! `litellm.responses`-style keywords, the OpenAI SDK types, the exception classes,
//! callbacks — is the pure-Python package in `python/switchyard`, which calls in here with
//! JSON text and gets JSON text back.

mod capture;
mod gateway;
mod logs;
mod price;
mod report;
mod runtime;
mod state;
mod stream;

use pyo3::prelude::*;

/// The compiled core of the `switchyard` package; use the package, not this module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logs::install();
    m.add_class::<gateway::NativeGateway>()?;
    m.add_class::<stream::NativeStream>()?;
    m.add_class::<runtime::CallHandle>()?;
    m.add("NativeError", m.py().get_type::<report::NativeError>())?;
    m.add_function(wrap_pyfunction!(state::state_call, m)?)?;
    m.add_function(wrap_pyfunction!(state::state_start, m)?)?;
    m.add_function(wrap_pyfunction!(state::replay_stream, m)?)?;
    m.add_function(wrap_pyfunction!(state::replay_start, m)?)?;
    m.add_function(wrap_pyfunction!(logs::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(logs::flush_logs, m)?)?;
    m.add_function(wrap_pyfunction!(price::completion_cost, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
