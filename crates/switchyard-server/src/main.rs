//! `switchyard`: the gateway's command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use std::sync::Arc;
use std::time::Duration;
use switchyard::{Config, Gateway};

use switchyard_server::observability::{Observability, ObservabilityOptions};
use switchyard_server::spend::{Accounting, AccountingOptions};
use switchyard_server::{AppState, app};

/// How long shutdown waits for the spend-log writer to write what is queued.
const SPEND_FLUSH_LIMIT: Duration = Duration::from_secs(60);
/// How long shutdown waits for each logging callback to send what is queued.
const CALLBACK_FLUSH_LIMIT: Duration = Duration::from_secs(30);
use tracing_subscriber::EnvFilter;

/// An LLM gateway: the OpenAI Responses API in front of any model provider, configured with a
/// LiteLLM proxy config.yaml.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    /// The config file (LiteLLM proxy format).
    #[arg(long, short, env = "SWITCHYARD_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,
    /// Port to listen on.
    #[arg(long, short, default_value_t = 4000)]
    port: u16,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "SWITCHYARD_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a config file and print what was understood.
    CheckConfig {
        /// The config file.
        path: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if let Some(Command::CheckConfig { path }) = &cli.command {
        return check_config(path);
    }
    let Some(config_path) = cli.config.clone() else {
        tracing::error!("no config given: run `switchyard --config config.yaml` (see --help)");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config_path, &cli.host, cli.port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Loads the config and builds the gateway, logging every warning once.
fn load(path: &PathBuf) -> Result<(Config, Gateway), String> {
    let config = Config::from_file(path).map_err(|e| e.to_string())?;
    if let Some(warning) = config.warning() {
        tracing::warn!("{warning}");
    }
    let (gateway, warnings) = Gateway::from_config(&config).map_err(|e| e.to_string())?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok((config, gateway))
}

#[allow(clippy::print_stdout)] // check-config reports on stdout by design
fn check_config(path: &PathBuf) -> ExitCode {
    match load(path) {
        Ok((config, gateway)) => {
            let (callbacks, warnings) = ObservabilityOptions::from_config(&config);
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            print!("{}", config.describe());
            let names: Vec<&str> = callbacks
                .callbacks
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            if !names.is_empty() {
                println!("logging callbacks: {}", names.join(", "));
            }
            println!("model groups: {}", gateway.models().len());
            println!("config OK");
            ExitCode::SUCCESS
        }
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config_path: PathBuf, host: &str, port: u16) -> Result<(), String> {
    let (config, gateway) = load(&config_path)?;
    if config.master_key.is_none() {
        tracing::warn!(
            "no general_settings.master_key: the gateway serves anyone who can reach it"
        );
    }
    let max_body = config
        .max_request_size_mb
        .map_or(switchyard_server::AppState::default_max_body(), |mb| {
            (mb * 1024.0 * 1024.0) as usize
        });
    let mut state = AppState::new(gateway, config.master_key.clone(), max_body);
    let options = AccountingOptions::from_config(&config);
    let accounting = Arc::new(
        Accounting::start(options)
            .await
            .map_err(|e| format!("spend logs: {e}"))?,
    );
    state = state.with_accounting(accounting.clone());
    // Logging callbacks: environment variables (OTEL_*, GENERIC_LOGGER_*) are read here, once.
    let (callbacks, warnings) = ObservabilityOptions::from_config(&config);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let observability = Arc::new(Observability::start(callbacks)?);
    state = state.with_observability(observability.clone());
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or(())
        })
        .map_err(|()| format!("cannot listen on {host}:{port}: not an address"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        "switchyard {} listening on http://{local} ({} model groups)",
        env!("CARGO_PKG_VERSION"),
        state.gateway().models().len()
    );

    // Streams are many small writes: without TCP_NODELAY, Nagle's algorithm meets the client's
    // delayed ACK and every stream stalls ~40 ms at its end.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop_rx.await;
    })
    .into_future();
    let mut server = tokio::spawn(server);
    tokio::select! {
        result = &mut server => {
            accounting.shutdown(SPEND_FLUSH_LIMIT).await;
            observability.shutdown(CALLBACK_FLUSH_LIMIT).await;
            return result
                .map_err(|e| format!("the server task failed: {e}"))?
                .map_err(|e| format!("the server failed: {e}"));
        }
        () = shutdown_signal() => {}
    }
    let grace = config.switchyard.shutdown_grace;
    tracing::info!(
        "shutting down: no new connections, waiting up to {}s for open requests",
        grace.as_secs_f64()
    );
    let _ = stop_tx.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(_) => tracing::info!("all requests finished; bye"),
        Err(_) => tracing::warn!("grace period over; closing the remaining connections"),
    }
    // Every request has finished (or been cut off and recorded as such): write what is queued.
    accounting.shutdown(SPEND_FLUSH_LIMIT).await;
    observability.shutdown(CALLBACK_FLUSH_LIMIT).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
