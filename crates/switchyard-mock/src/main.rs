//! `switchyard-mock`: the mock upstream as a standalone server, for the README quickstart,
//! benchmarks and manual testing without an API key.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use switchyard_mock::MockServer;
use tracing_subscriber::EnvFilter;

/// Mock OpenAI Responses, Chat Completions and OpenAI-compatible servers (Mistral, DeepSeek,
/// Groq, Ollama, vLLM, OpenRouter, xAI), steered by `[[mock:…]]` directives in the prompt.
#[derive(Debug, Parser)]
#[command(name = "switchyard-mock", version)]
struct Args {
    /// Address or host name to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let started = match resolve(&args.host, args.port).await {
        Ok(addr) => MockServer::start_on(addr).await,
        Err(err) => Err(err),
    };
    let server = match started {
        Ok(server) => server,
        Err(err) => {
            tracing::error!(%err, host = %args.host, port = args.port, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    // Nobody can read the recordings of a standalone server; keep memory flat.
    server.set_recording(false);
    announce(&server.url());
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// The first address `host` resolves to (an IP address resolves to itself).
async fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} resolves to no address")))
}

/// The one line scripts parse to find the server.
#[allow(clippy::print_stdout)] // stdout carries exactly this line; logs go to stderr.
fn announce(url: &str) {
    use std::io::Write;
    println!("switchyard-mock listening on {url}");
    let _ = std::io::stdout().flush();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
