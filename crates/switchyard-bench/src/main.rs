//! `switchyard-load`: a closed-loop load generator for `POST /v1/responses`.
//!
//! `--connections` workers each send one request at a time for `--seconds`, reading every reply
//! to its end. It reports throughput and latency percentiles as one JSON line; for streams it
//! also reports time to first byte. With `--hold N` it instead opens N streams, keeps them open
//! for `--seconds`, and reports how many were open at once (the benchmark reads the gateway's
//! memory meanwhile).
//!
//! Hand-rolled rather than wrk: the same client measures the direct and the gateway path, it
//! understands streams, and it needs nothing beyond the workspace's own crates.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

/// Load generator for the Responses API.
#[derive(Debug, Parser)]
#[command(name = "switchyard-load", version, about)]
struct Args {
    /// Base URL (`http://127.0.0.1:4000/v1` or a mock's `/v1`).
    #[arg(long)]
    url: String,
    /// Model to request.
    #[arg(long)]
    model: String,
    /// Bearer key, if the target needs one.
    #[arg(long, default_value = "")]
    key: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds to run (or to hold streams open).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Request streaming responses.
    #[arg(long)]
    stream: bool,
    /// The user message to send.
    #[arg(
        long,
        default_value = "Tell me about switchyards in a few words please"
    )]
    input: String,
    /// Open this many streams at once and hold them (for memory measurement).
    #[arg(long)]
    hold: Option<usize>,
    /// Path suffix appended to `--url` (`/responses`, `/chat/completions`, or Anthropic's
    /// `/messages`); the body is written in that API's format.
    #[arg(long, default_value = "/responses")]
    path: String,
    /// Total requests per second, spread over the connections (paced). Requests that start late
    /// because the target fell behind are counted as `late_starts`. Without it, each connection
    /// sends its next request as soon as the last one ends.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop after this many requests in all (instead of after `--seconds`), for instruction
    /// counts over a fixed load.
    #[arg(long)]
    requests: Option<usize>,
    /// A JSON object whose fields are added to every request body (`{"store": false}`).
    #[arg(long)]
    extra: Option<String>,
}

#[derive(Default)]
struct Sample {
    latency: Vec<Duration>,
    first_byte: Vec<Duration>,
    errors: usize,
    late: usize,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // reqwest needs a TLS crypto provider even for plain-HTTP clients.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections.max(args.hold.unwrap_or(0)))
        .tcp_nodelay(true)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            report(&json!({"error": format!("client: {e}")}));
            return std::process::ExitCode::FAILURE;
        }
    };
    let url = format!("{}{}", args.url.trim_end_matches('/'), args.path);
    let mut body = if args.path.ends_with("/chat/completions") {
        json!({"model": args.model, "messages": [{"role": "user", "content": args.input}],
               "stream": args.stream, "stream_options": args.stream.then(|| json!({"include_usage": true}))})
    } else if args.path.ends_with("/messages") {
        json!({"model": args.model, "max_tokens": 1024,
               "messages": [{"role": "user", "content": args.input}], "stream": args.stream})
    } else {
        json!({"model": args.model, "input": args.input, "stream": args.stream})
    };
    if let Some(extra) = &args.extra {
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(extra) {
            Ok(fields) => {
                if let Some(object) = body.as_object_mut() {
                    object.extend(fields);
                }
            }
            Err(e) => {
                report(&json!({"error": format!("--extra: {e}")}));
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let body = bytes::Bytes::from(body.to_string());
    let ctx = Arc::new(Ctx {
        client,
        url,
        key: args.key.clone(),
        body,
    });
    let duration = Duration::from_secs_f64(args.seconds);
    if let Some(n) = args.hold {
        return hold(ctx, n, duration).await;
    }
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let remaining = Arc::new(AtomicUsize::new(args.requests.unwrap_or(usize::MAX)));
    let interval = args
        .rate
        .map(|rate| Duration::from_secs_f64(args.connections as f64 / rate.max(0.001)));
    let workers: Vec<_> = (0..args.connections)
        .map(|worker| {
            let ctx = ctx.clone();
            let remaining = remaining.clone();
            tokio::spawn(async move {
                let mut sample = Sample::default();
                // Paced workers start staggered so the offered load is smooth.
                let mut next =
                    interval.map(|i| started + i.mul_f64(worker as f64 / args.connections as f64));
                while Instant::now() < deadline
                    && remaining
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_ok()
                {
                    let scheduled = match (next, interval) {
                        (Some(at), Some(every)) => {
                            tokio::time::sleep_until(at.into()).await;
                            next = Some(at + every);
                            at
                        }
                        _ => Instant::now(),
                    };
                    // tokio's timer has millisecond granularity: a start more than 2 ms behind
                    // schedule means the target did not keep up with the offered rate.
                    if Instant::now() - scheduled > Duration::from_millis(2) {
                        sample.late += 1;
                    }
                    match ctx.once().await {
                        Ok((total, first_byte)) => {
                            sample.latency.push(total);
                            sample.first_byte.push(first_byte);
                        }
                        Err(_) => sample.errors += 1,
                    }
                }
                sample
            })
        })
        .collect();
    let mut all = Sample::default();
    for worker in workers {
        if let Ok(sample) = worker.await {
            all.latency.extend(sample.latency);
            all.first_byte.extend(sample.first_byte);
            all.errors += sample.errors;
            all.late += sample.late;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.latency.sort();
    all.first_byte.sort();
    report(&json!({
        "requests": all.latency.len(),
        "errors": all.errors,
        "late_starts": all.late,
        "rps": all.latency.len() as f64 / elapsed,
        "p50_ms": percentile(&all.latency, 0.50),
        "p90_ms": percentile(&all.latency, 0.90),
        "p99_ms": percentile(&all.latency, 0.99),
        "max_ms": percentile(&all.latency, 1.0),
        "ttfb_p50_ms": percentile(&all.first_byte, 0.50),
        "ttfb_p99_ms": percentile(&all.first_byte, 0.99),
    }));
    if all.errors > 0 && all.latency.is_empty() {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

struct Ctx {
    client: reqwest::Client,
    url: String,
    key: String,
    body: bytes::Bytes,
}

impl Ctx {
    fn request(&self) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body.clone());
        if !self.key.is_empty() {
            request = request.bearer_auth(&self.key);
        }
        request
    }

    /// One request read to its end: (total latency, time to first body byte).
    async fn once(&self) -> Result<(Duration, Duration), String> {
        let start = Instant::now();
        let mut answer = self.request().send().await.map_err(|e| e.to_string())?;
        if !answer.status().is_success() {
            return Err(format!("status {}", answer.status()));
        }
        let mut first = None;
        while let Some(chunk) = answer.chunk().await.map_err(|e| e.to_string())? {
            if first.is_none() && !chunk.is_empty() {
                first = Some(start.elapsed());
            }
        }
        let total = start.elapsed();
        Ok((total, first.unwrap_or(total)))
    }
}

/// Opens `n` streams, reads their first bytes, and holds them for `duration`.
async fn hold(ctx: Arc<Ctx>, n: usize, duration: Duration) -> std::process::ExitCode {
    let open = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + duration;
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let ctx = ctx.clone();
            let open = open.clone();
            let peak = peak.clone();
            tokio::spawn(async move {
                let Ok(mut answer) = ctx.request().send().await else {
                    return;
                };
                if !answer.status().is_success() || answer.chunk().await.ok().flatten().is_none() {
                    return;
                }
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let _ = tokio::time::timeout_at(until.into(), async {
                    while let Ok(Some(_)) = answer.chunk().await {}
                })
                .await;
                open.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    report(&json!({"held_streams": peak.load(Ordering::SeqCst), "requested": n}));
    std::process::ExitCode::SUCCESS
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[allow(clippy::print_stdout)] // the report is the program's output
fn report(value: &serde_json::Value) {
    println!("{value}");
}
