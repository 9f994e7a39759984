//! The HTTP server: accepts connections, records requests, and answers each one from the script
//! or the scenario engine.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::Response;
use axum::serve::ListenerExt;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::body;
use crate::engine;
use crate::record::RecordedRequest;
use crate::reply::Reply;
use crate::state::{FlightGuard, Shared, lock};

/// How long [`MockServer::shutdown`] waits for open requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running mock server. It serves in a background task until dropped (or
/// [`MockServer::shutdown`]).
///
/// Requests are answered by the first matching scripted [`Reply`] (see [`MockServer::enqueue`]),
/// otherwise by the scenario engine, which imitates OpenAI Responses, OpenAI Chat Completions
/// and the OpenAI-compatible servers selected by path prefix (see the crate documentation).
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds `127.0.0.1` on an ephemeral port and serves in a background tokio task.
    ///
    /// # Panics
    ///
    /// When the loopback interface cannot be bound, which leaves a test nothing to do.
    #[allow(clippy::expect_used)] // A test helper: failing loudly is the useful report.
    pub async fn start() -> MockServer {
        MockServer::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("switchyard-mock: cannot bind 127.0.0.1:0")
    }

    /// Binds `addr` (port 0 for an ephemeral port) and serves in a background tokio task.
    pub async fn start_on(addr: SocketAddr) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared.recording.store(true, Ordering::SeqCst);
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        // Without NODELAY, Nagle would merge the small SSE events the stream writes one by one.
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(%err, "cannot set TCP_NODELAY");
            }
        });
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(err) = server.await {
                tracing::error!(%err, "switchyard-mock server stopped");
            }
        });
        Ok(MockServer {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues a scripted reply: the next request whose path ends with `path_suffix` (for
    /// example `"/chat/completions"` or `"/responses"`) gets it instead of the scenario engine.
    /// Replies for the same suffix are consumed in the order they were queued.
    pub fn enqueue(&self, path_suffix: &str, reply: Reply) {
        lock(&self.shared.script).push_back((path_suffix.to_string(), reply));
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Turns request recording on or off (on by default). Long benchmarks turn it off so that
    /// memory does not grow with every request.
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::SeqCst);
    }

    /// Number of replies whose client went away before the reply was complete: a streamed body
    /// cut short, a [`Reply::Hang`] or a `[[mock:slow]]` delay abandoned. This is how a test
    /// proves that the gateway cancels upstream requests.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// Number of requests currently being answered.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Stops accepting connections, lets open requests finish for up to two seconds, then cuts
    /// the rest off.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // Stop accepting; connections already open finish on their own tasks.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response<Body> {
    let guard = FlightGuard::new(Arc::clone(&shared));
    let (parts, body) = request.into_parts();
    let raw = match to_bytes(body, usize::MAX).await {
        Ok(raw) => raw,
        Err(err) => {
            tracing::debug!(%err, "failed to read a request body");
            bytes::Bytes::new()
        }
    };
    let json: Value = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).unwrap_or(Value::Null)
    };
    let method = parts.method.as_str();
    let path = parts.uri.path();
    tracing::debug!(method, path, "request");
    let scripted = shared.take_scripted(path);
    let planned = match scripted {
        Some(reply) => engine::Planned::from(reply),
        None => engine::plan(
            &engine::Incoming {
                method,
                path,
                query: parts.uri.query(),
                headers: &parts.headers,
                raw: &raw,
                body: &json,
            },
            &shared,
        ),
    };
    if shared.recording.load(Ordering::Relaxed) {
        let record = RecordedRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_string(), value)
                })
                .collect(),
            body: json,
        };
        lock(&shared.requests).push(record);
    }
    if !planned.delay.is_zero() {
        tokio::time::sleep(planned.delay).await;
    }
    body::respond(planned.reply, guard).await
}
