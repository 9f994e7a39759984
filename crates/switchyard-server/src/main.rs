//! `switchyard`: the gateway's command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use std::sync::Arc;
use std::time::Duration;
use switchyard::{Config, Gateway};

use switchyard_server::observability::{Observability, ObservabilityOptions};
use switchyard_server::serve::{self, ConnectionLimits, Server};
use switchyard_server::spend::{Accounting, AccountingOptions};
use switchyard_server::{AppState, app};

/// How long shutdown waits for the spend-log writer to write what is queued.
const SPEND_FLUSH_LIMIT: Duration = Duration::from_secs(60);
/// How long shutdown waits for each logging callback to send what is queued.
const CALLBACK_FLUSH_LIMIT: Duration = Duration::from_secs(30);
/// How long streams cut at the end of the grace period have to deliver their last event.
const CUT_STREAMS_LIMIT: Duration = Duration::from_secs(2);
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
        LogFormat::Text => builder
            .fmt_fields(switchyard_server::log_format::PlainFields::new())
            .init(),
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
            let url = AccountingOptions::from_config(&config).database_url;
            let counts = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| {
                    rt.block_on(switchyard_server::spend::key_counts(&url))
                        .map_err(|e| e.to_string())
                });
            match counts {
                Ok(Some((keys, teams))) => {
                    println!("virtual keys: {keys}, teams: {teams} (in the database)")
                }
                Ok(None) => println!("virtual keys: 0, teams: 0 (no database yet)"),
                Err(e) => println!("virtual keys: the database cannot be read ({e})"),
            }
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
    // Signals are caught from here on: one arriving while the gateway starts stops it cleanly.
    let mut signals = Signals::new()?;
    let mut state = AppState::from_config(gateway, &config);
    let options = AccountingOptions::from_config(&config);
    let accounting = Arc::new(
        Accounting::start(options)
            .await
            .map_err(|e| format!("spend logs: {e}"))?,
    );
    state = state.with_accounting(accounting.clone());
    let (keys, teams) = accounting.keys().counts();
    if config.master_key.is_none() && keys > 0 {
        tracing::warn!(
            "{keys} virtual keys are in the database; without general_settings.master_key \
             they apply only to callers that present them (everyone else is served openly) \
             and /key/* and /team/* are refused"
        );
    }
    tracing::info!(
        "virtual keys: {keys} keys and {teams} teams loaded; key and team rate limits and \
         budgets {}",
        if accounting.keys().limiter().is_shared() {
            "are shared between replicas through Redis"
        } else {
            "hold per replica (no Redis configured in router_settings)"
        }
    );
    // Stored responses and conversations: the spend-log database unless configured apart.
    let state_database = match &config.switchyard.state_database_url {
        Some(url) => switchyard_store::Database::open(url.expose())
            .await
            .map_err(|e| format!("state database: {e}"))?,
        None => accounting.store().database().clone(),
    };
    switchyard_server::stored::attach(
        state.gateway(),
        &state_database,
        config.switchyard.response_retention_days,
    )?;
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
    let limits = ConnectionLimits {
        header_read_timeout: config.switchyard.header_read_timeout,
        max_connections: config
            .switchyard
            .max_connections
            .unwrap_or_else(serve::default_max_connections),
    };
    tracing::info!(
        "switchyard {} listening on http://{local} ({} model groups; at most {} connections, \
         {}s to send a request head, {}s to send a body)",
        env!("CARGO_PKG_VERSION"),
        state.gateway().models().len(),
        limits.max_connections,
        limits.header_read_timeout.as_secs_f64(),
        config.switchyard.body_read_timeout.as_secs_f64(),
    );
    let gateway = state.gateway().clone();
    let mut server = Server::start(listener, app(state), limits);
    let signal = tokio::select! {
        () = server.finished() => None,
        signal = signals.next() => Some(signal),
    };
    if let Some(signal) = signal {
        stop(
            &mut server,
            &gateway,
            &mut signals,
            signal,
            config.switchyard.shutdown_grace,
        )
        .await;
    }
    // Every request has finished (or been cut off and recorded as such): write what is queued.
    accounting.shutdown(SPEND_FLUSH_LIMIT).await;
    observability.shutdown(CALLBACK_FLUSH_LIMIT).await;
    Ok(())
}

/// A graceful stop: no new connections; open requests get `grace` to finish. When the grace
/// period ends, or a second signal asks to stop now, what is still open is cut.
async fn stop(
    server: &mut Server,
    gateway: &Gateway,
    signals: &mut Signals,
    signal: &'static str,
    grace: Duration,
) {
    tracing::info!(
        "{signal}: shutting down; no new connections, waiting up to {}s for open requests \
         (send the signal again to stop now)",
        grace.as_secs_f64()
    );
    server.drain();
    // Open requests, and background responses (running detached from any connection).
    let drained = async {
        server.finished().await;
        gateway.background_finished().await;
    };
    let cut = tokio::select! {
        () = drained => None,
        () = tokio::time::sleep(grace) => Some("the grace period is over"),
        again = signals.next() => Some(if again == signal { "second signal" } else { again }),
    };
    match cut {
        None => tracing::info!("all requests finished; bye"),
        Some(why) => {
            tracing::warn!("{why}: closing the remaining connections");
            gateway.sinks().cut_open_requests();
            // Cut streams end with `response.failed` and finish their records; give the
            // last events a moment to reach their clients, then drop the connections.
            let _ = tokio::time::timeout(CUT_STREAMS_LIMIT, async {
                server.finished().await;
                gateway.background_finished().await;
            })
            .await;
            server.close();
            server.finished().await;
        }
    }
}

/// The signals that stop the gateway: SIGINT, SIGTERM and SIGHUP (a closed terminal must not
/// kill it without writing its accounting).
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| format!("cannot listen for {name}: {e}"))
            };
            Ok(Signals {
                interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
                terminate: listen(SignalKind::terminate(), "SIGTERM")?,
                hangup: listen(SignalKind::hangup(), "SIGHUP")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.hangup.recv() => "SIGHUP",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        }
    }
}
