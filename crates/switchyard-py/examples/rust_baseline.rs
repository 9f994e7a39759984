//! The Rust side of the Python package's benchmark (`crates/switchyard-py/bench/run.sh`):
//! the same calls as `bench/bench.py` makes from Python, made with the library directly, so
//! that the package's own cost per call can be told apart from the gateway's.
//!
//! `cargo run --release -p switchyard-py --example rust_baseline -- MOCK_URL CALLS CONCURRENCY`
//! prints one JSON line per case: `{"case", "calls", "seconds", "calls_per_s", "us_per_call"}`.

use std::time::Instant;

use futures_util::StreamExt;
use switchyard::config::{Config, DeploymentConfig};
use switchyard::secret::Secret;
use switchyard::types::responses::CreateResponse;
use switchyard::{CallContext, Gateway, Output};

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mock), Some(calls), Some(concurrency)) = (args.get(1), args.get(2), args.get(3))
    else {
        return Err("usage: rust_baseline MOCK_URL CALLS CONCURRENCY".into());
    };
    let calls: usize = calls.parse().map_err(|e| format!("CALLS: {e}"))?;
    let concurrency: usize = concurrency
        .parse()
        .map_err(|e| format!("CONCURRENCY: {e}"))?;
    let config = Config {
        deployments: vec![DeploymentConfig {
            model_name: "openai/gpt-mock".into(),
            model: "openai/gpt-mock".into(),
            api_base: Some(format!("{mock}/v1")),
            api_key: Some(Secret::new("sk-bench".to_string())),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (gateway, _warnings) = Gateway::from_config(&config).map_err(|e| e.0)?;
    for stream in [false, true] {
        // Warm the connection pool first, as the Python benchmark does.
        run(&gateway, 50, 1, stream).await?;
        let seconds = run(&gateway, calls, 1, stream).await?;
        report(case("sequential", stream), calls, seconds);
        let seconds = run(&gateway, calls, concurrency, stream).await?;
        report(
            case(&format!("{concurrency} concurrent"), stream),
            calls,
            seconds,
        );
    }
    Ok(())
}

fn case(shape: &str, stream: bool) -> String {
    format!("{shape}, {}", if stream { "stream" } else { "json" })
}

/// Makes `calls` calls, `concurrency` at a time; the seconds it took.
async fn run(
    gateway: &Gateway,
    calls: usize,
    concurrency: usize,
    stream: bool,
) -> Result<f64, String> {
    let started = Instant::now();
    let per_worker = calls.div_ceil(concurrency.max(1));
    let workers = (0..concurrency.max(1)).map(|_| {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            for _ in 0..per_worker {
                call(&gateway, stream).await?;
            }
            Ok::<(), String>(())
        })
    });
    for worker in futures_util::future::join_all(workers).await {
        worker.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn call(gateway: &Gateway, stream: bool) -> Result<(), String> {
    let body =
        serde_json::json!({"model": "openai/gpt-mock", "input": "hello there", "stream": stream});
    let request: CreateResponse = serde_json::from_value(body).map_err(|e| e.to_string())?;
    let execution = gateway
        .execute(request, CallContext::default())
        .await
        .map_err(|e| e.message)?;
    match execution.output {
        Output::Response(response) => {
            // The Python package hands the response over as JSON: write it here too.
            serde_json::to_string(&response).map_err(|e| e.to_string())?;
        }
        Output::Stream(mut events) => {
            while let Some(event) = events.next().await {
                serde_json::to_string(&event).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::print_stdout)] // The benchmark reads these lines.
fn report(case: String, calls: usize, seconds: f64) {
    let line = serde_json::json!({
        "case": case,
        "calls": calls,
        "seconds": seconds,
        "calls_per_s": calls as f64 / seconds,
        "us_per_call": seconds * 1e6 / calls as f64,
    });
    println!("{line}");
}
