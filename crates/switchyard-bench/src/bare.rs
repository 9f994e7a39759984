//! `switchyard-bare`: the benchmark's floor, a forwarding proxy on the gateway's own stack.
//!
//! An axum (hyper) server that sends each request's method, path, body and the few headers
//! upstreams read (content type, credentials, Anthropic's version) to `--upstream` with reqwest,
//! and relays the answer's status, content type and body, chunk by chunk as they arrive. It
//! parses nothing, so what it costs is the HTTP work any proxy does: `bench/run.sh` reports the
//! gateway's figures as ratios to it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Response, StatusCode, header};
use axum::serve::ListenerExt;
use clap::Parser;

/// A bare forwarding proxy (the benchmark's floor).
#[derive(Debug, Parser)]
#[command(name = "switchyard-bare", version, about)]
struct Args {
    /// Where to forward: a base URL the request's path is appended to (`http://127.0.0.1:8080`).
    #[arg(long)]
    upstream: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

/// Request headers passed on; everything else stays with the proxy, as in the gateway.
const FORWARDED: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("anthropic-version"),
];

struct Upstream {
    client: reqwest::Client,
    base: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // reqwest needs a TLS crypto provider even for plain-HTTP clients.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("runtime: {e}")),
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

async fn serve(args: Args) -> Result<(), String> {
    // The gateway's upstream client settings: no delayed-ACK stalls, a bounded idle pool.
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(128)
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let upstream = Arc::new(Upstream {
        client,
        base: args.upstream.trim_end_matches('/').to_string(),
    });
    let app = Router::new().fallback(forward).with_state(upstream);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    announce(&format!("switchyard-bare listening on http://{local}"));
    // As the gateway's listener does: no delayed-ACK stall on a response's last write.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("serve: {e}"))
}

async fn forward(State(upstream): State<Arc<Upstream>>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("body: {e}")),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut call = upstream
        .client
        .request(parts.method, format!("{}{path}", upstream.base))
        .body(body);
    for name in &FORWARDED {
        if let Some(value) = parts.headers.get(name) {
            call = call.header(name, value);
        }
    }
    let answer = match call.send().await {
        Ok(answer) => answer,
        Err(e) => return plain(StatusCode::BAD_GATEWAY, format!("upstream: {e}")),
    };
    let mut relayed = Response::builder().status(answer.status());
    if let Some(value) = answer.headers().get(header::CONTENT_TYPE) {
        relayed = relayed.header(header::CONTENT_TYPE, value);
    }
    relayed
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn plain(status: StatusCode, message: String) -> Response<Body> {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response
}

/// The one line bench/run.sh waits for.
#[allow(clippy::print_stdout)] // stdout carries exactly this line
fn announce(line: &str) {
    use std::io::Write;
    println!("{line}");
    let _ = std::io::stdout().flush();
}

#[allow(clippy::print_stderr)] // a command-line tool's error goes to stderr
fn fail(message: &str) -> ExitCode {
    eprintln!("switchyard-bare: {message}");
    ExitCode::FAILURE
}
