//! The process's one Tokio runtime, and the two ways Python waits on it.
//!
//! Every gateway of the process shares the runtime (its worker threads drive connections,
//! timers and streams). Every call is a task on it: a synchronous call waits for its task with
//! the interpreter detached ([`block_on`]), so other Python threads run meanwhile; an
//! asynchronous call's task reports to Python when it ends ([`spawn_reporting`]).

use std::future::Future;
use std::sync::OnceLock;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How often a synchronous wait looks for a pending signal (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The runtime, started by the first call that needs it.
pub fn runtime() -> PyResult<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("switchyard")
                .build()
                .map_err(|e| format!("cannot start switchyard's runtime: {e}"))
        })
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(e.clone()))
}

/// Runs `future` as a task on the runtime and waits for its output, detached from the
/// interpreter. Every [`SIGNAL_CHECK`] the wait attaches briefly to run Python's signal
/// handlers: when one raises (`KeyboardInterrupt` for Ctrl-C), the task is aborted, which drops
/// the future and closes its upstream connections, and that exception is returned.
///
/// The future runs on a worker thread rather than this one: the connections it uses are
/// driven there, and waking this thread once at the end costs less than a wake-up for each
/// step of the call.
pub fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let runtime = runtime()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        // Blocking a worker on its own runtime can starve the task it waits for.
        return Err(PyRuntimeError::new_err(
            "switchyard's blocking calls cannot be made from inside its own runtime; \
             use the async functions (aresponses, Router.aresponses) there",
        ));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let task = runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    py.detach(move || {
        loop {
            match rx.recv_timeout(SIGNAL_CHECK) {
                Ok(output) => return Ok(output),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(interrupted) = Python::attach(|py| py.check_signals()) {
                        task.abort();
                        return Err(interrupted);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err(
                        "switchyard: the call's task ended without an answer",
                    ));
                }
            }
        }
    })
}

/// A call running on the runtime for an `await` in Python.
#[pyclass(module = "switchyard._native", name = "Call", frozen)]
pub struct CallHandle {
    abort: tokio::task::AbortHandle,
}

#[pymethods]
impl CallHandle {
    /// Stops the call: its task is dropped where it waits, which closes the upstream
    /// connection. The report it would have sent never comes.
    fn cancel(&self) {
        self.abort.abort();
    }

    /// True once the call ended (reported, failed or cancelled).
    fn done(&self) -> bool {
        self.abort.is_finished()
    }
}

/// Runs `future` as a task and hands its output to `notify` (a Python callable taking
/// `(ok, value)`) on the runtime thread that finished it; `report` turns the output into those
/// two arguments while attached. When the interpreter is shutting down the report is dropped.
pub fn spawn_reporting<F, T>(
    future: F,
    notify: Py<PyAny>,
    report: fn(Python<'_>, T) -> (bool, Py<PyAny>),
) -> PyResult<CallHandle>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let task = runtime()?.spawn(async move {
        let output = future.await;
        Python::try_attach(|py| {
            let (ok, value) = report(py, output);
            if let Err(error) = notify.call1(py, (ok, value)) {
                // The event loop was closed under the call: nobody is waiting any more.
                tracing::debug!(target: "switchyard::python", %error, "a call's report was not delivered");
            }
        });
    });
    Ok(CallHandle {
        abort: task.abort_handle(),
    })
}
