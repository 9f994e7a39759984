//! The listener: accepts connections under a cap and serves each with hyper's HTTP/1 server,
//! with a deadline on request heads and graceful shutdown.
//!
//! `axum::serve` sets no timer on its connections, so hyper's header-read timeout never fires:
//! a client that opens a connection and sends nothing (or drips a header every few seconds)
//! holds a socket and its buffers forever, and enough of them exhaust the process's file
//! descriptors (slowloris). This loop is axum's, plus what a server facing the open network
//! needs:
//! * a **header-read timeout**: hyper starts it whenever a connection waits for a request head,
//!   on a new connection and between requests of a kept-alive one, so it is also the idle
//!   keep-alive limit;
//! * a **cap on open connections**: past it, new connections wait in the kernel's backlog
//!   (costing the process nothing) and a warning says so, at most every few seconds;
//! * **graceful shutdown**: stop accepting, let open requests finish, close idle connections;
//!   then, if the grace period ends first, drop what is left.
//!
//! The body-read deadline and the early 413 for an oversized `Content-Length` are enforced by
//! the handlers that read bodies (`routes::responses`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

/// Limits on client connections (`switchyard_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a connection has to deliver a complete request head, counted from when it starts
    /// waiting for one (opened, or done with its previous request).
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: default_max_connections(),
        }
    }
}

/// The default header-read timeout (hyper's own default, made effective).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The most connections served by default, when the file-descriptor limit allows it.
pub const MAX_CONNECTIONS_CEILING: usize = 10_000;

/// File descriptors kept back from connections (database pool, Redis, logs, listeners).
const RESERVED_FDS: u64 = 256;

/// How often, at most, the "connection limit reached" warning is logged.
const LIMIT_WARNING_EVERY_MS: u64 = 5_000;

/// The default connection cap: [`MAX_CONNECTIONS_CEILING`], lowered so that every served
/// connection can also hold one upstream connection without hitting the process's
/// open-file limit (a connection past that limit fails in ways clients cannot tell apart from a
/// crash).
pub fn default_max_connections() -> usize {
    let cap = MAX_CONNECTIONS_CEILING as u64;
    let by_fds = open_file_limit().map_or(cap, |n| n.saturating_sub(RESERVED_FDS) / 2);
    by_fds.clamp(16, cap) as usize
}

/// The soft limit on open files, read from `/proc/self/limits` (Linux) without unsafe code;
/// `None` elsewhere or when unlimited.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Why the accept loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep serving.
    Run,
    /// Stop accepting; open requests finish, idle connections close.
    Drain,
    /// Drop every connection now.
    Close,
}

/// What a request learns of the connection it came on (in its extensions): whether the
/// server is stopping, and a share of the connection's place under the connection cap. A
/// request that takes the connection over (a WebSocket, which outlives the HTTP exchange)
/// keeps it for as long as it uses the connection, so that the cap counts it and a shutdown
/// waits for it as for any open request.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    stop: watch::Receiver<Stop>,
    _place: Arc<OwnedSemaphorePermit>,
}

impl ConnectionHandle {
    /// Where the server is now.
    pub fn state(&self) -> Stop {
        *self.stop.borrow()
    }

    /// Resolves once the server is no longer [`Stop::Run`]ning (at once if it is not), with
    /// its state then.
    pub async fn stopping(&mut self) -> Stop {
        match self.stop.wait_for(|s| *s != Stop::Run).await {
            Ok(state) => *state,
            // The server is gone: nothing is served any more.
            Err(_) => Stop::Close,
        }
    }

    /// Resolves once the server drops its connections ([`Stop::Close`]).
    pub async fn closed(&mut self) {
        let _ = self.stop.wait_for(|s| *s == Stop::Close).await;
    }
}

/// A running server: [`Server::drain`] and [`Server::close`] move it towards its end, and
/// [`Server::finished`] waits for the last connection.
#[derive(Debug)]
pub struct Server {
    stop: watch::Sender<Stop>,
    task: tokio::task::JoinHandle<()>,
    done: bool,
}

impl Server {
    /// Starts serving `app` on `listener`.
    pub fn start(listener: TcpListener, app: Router, limits: ConnectionLimits) -> Server {
        let (stop, stopped) = watch::channel(Stop::Run);
        let task = tokio::spawn(accept_loop(listener, app, limits, stopped));
        Server {
            stop,
            task,
            done: false,
        }
    }

    /// Stops accepting new connections and asks the open ones to close once their current
    /// request is done.
    pub fn drain(&self) {
        self.stop.send_if_modified(|stop| {
            let changed = *stop == Stop::Run;
            if changed {
                *stop = Stop::Drain;
            }
            changed
        });
    }

    /// Drops every connection still open.
    pub fn close(&self) {
        let _ = self.stop.send(Stop::Close);
    }

    /// Waits until every connection has closed (after [`Server::drain`] or
    /// [`Server::close`]), or the accept loop failed.
    pub async fn finished(&mut self) {
        if self.done {
            return;
        }
        if let Err(e) = (&mut self.task).await {
            tracing::error!("the server task failed: {e}");
        }
        self.done = true;
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut stopped: watch::Receiver<Stop>,
) {
    let max = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let permits = Arc::new(Semaphore::new(max));
    let last_warning = AtomicU64::new(0);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                warn_limit(&last_warning, max);
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = stopped.wait_for(|s| *s != Stop::Run) => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s != Stop::Run) => break,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning on the error.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Streams are many small writes: without TCP_NODELAY, Nagle's algorithm meets the
        // client's delayed ACK and every stream stalls ~40 ms at its end.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let permit = Arc::new(permit);
        let handle = ConnectionHandle {
            stop: stopped.clone(),
            _place: permit.clone(),
        };
        let service = connection_service(app.clone(), remote, handle);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let conn = http
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        tokio::spawn(serve_connection(conn, remote, stopped.clone(), permit));
    }
    drop(listener);
    // Every connection holds a permit until it closes: all of them back means all closed, so
    // what the connections owned (streams, their accounting records) is gone on return.
    let _ = permits.acquire_many(max as u32).await;
}

/// Drives one connection until it ends, closing it gracefully on [`Stop::Drain`] (hyper
/// finishes the request in progress, then closes) and at once on [`Stop::Close`].
async fn serve_connection<C>(
    conn: C,
    remote: SocketAddr,
    mut stopped: watch::Receiver<Stop>,
    // Released only after the connection (and every request future it owns) is dropped, so
    // that "all permits back" means every request's accounting record is finished (a
    // WebSocket holds a share of it, see `ConnectionHandle`).
    _permit: Arc<OwnedSemaphorePermit>,
) where
    C: Future<Output = Result<(), hyper::Error>> + GracefulClose,
{
    let mut conn = std::pin::pin!(conn);
    let mut state = *stopped.borrow_and_update();
    loop {
        match state {
            Stop::Close => break,
            Stop::Drain => conn.as_mut().close_gracefully(),
            Stop::Run => {}
        }
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection from {remote} ended: {e}");
                }
                break;
            }
            changed = stopped.changed() => {
                // The server is gone: nothing will drain this connection any more.
                state = if changed.is_ok() { *stopped.borrow_and_update() } else { Stop::Close };
            }
        }
    }
}

/// A connection that can be asked to finish its current request and close.
trait GracefulClose {
    fn close_gracefully(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulClose for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close_gracefully(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// The router as one connection's service, with the peer address where axum's `ConnectInfo`
/// extractor looks for it, and the connection's [`ConnectionHandle`].
fn connection_service(
    app: Router,
    remote: SocketAddr,
    handle: ConnectionHandle,
) -> impl tower::Service<
    http::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send {
    tower::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        request.extensions_mut().insert(handle.clone());
        app.clone().oneshot(request.map(axum::body::Body::new))
    })
}

fn warn_limit(last: &AtomicU64, max: usize) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let before = last.load(Ordering::Relaxed);
    if now.saturating_sub(before) >= LIMIT_WARNING_EVERY_MS
        && last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            "connection limit reached: {max} connections open; new connections wait to be \
             accepted (switchyard_settings.max_connections)"
        );
    }
}
