//! A batching HTTP exporter shared by the webhook (`generic_api`) and OTLP (`otel`) sinks.
//!
//! A finished request's record is queued (bounded, never waited on: when the queue is full the
//! record is dropped and counted); one task per exporter drains the queue into batches (closed
//! at `batch_size` records or `flush_interval` after their first record), encodes each batch
//! and POSTs it, retrying network errors, 408, 429 and 5xx answers with exponential backoff.
//! Shutdown closes the queue and sends everything still in it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use switchyard::accounting::RequestLog;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::batches::Batches;

/// Turns a batch of records into request bodies (one per POST).
pub trait Encoder: Send + Sync + 'static {
    /// The `content-type` of the bodies.
    fn content_type(&self) -> &'static str;
    /// The bodies for `batch`; most encoders return one.
    fn encode(&self, batch: &[Arc<RequestLog>]) -> Vec<Bytes>;
}

/// Where and how an exporter sends.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The URL batches are POSTed to.
    pub endpoint: String,
    /// Extra request headers (credentials among them: never logged).
    pub headers: HeaderMap,
    /// Records per batch at most.
    pub batch_size: usize,
    /// How long a record waits for its batch at most.
    pub flush_interval: Duration,
    /// Records queued before new ones are dropped.
    pub queue_size: usize,
    /// Attempts per batch (1 = no retry).
    pub max_attempts: u32,
    /// The wait before the first retry; doubled for each next one.
    pub first_backoff: Duration,
    /// The time allowed for one POST.
    pub timeout: Duration,
}

impl BatchOptions {
    /// Defaults for `endpoint`: batches of 100 within 5 s, 10 000 queued, 5 attempts from
    /// 500 ms backoff, 30 s per POST.
    pub fn new(endpoint: impl Into<String>) -> BatchOptions {
        BatchOptions {
            endpoint: endpoint.into(),
            headers: HeaderMap::new(),
            batch_size: 100,
            flush_interval: Duration::from_secs(5),
            queue_size: 10_000,
            max_attempts: 5,
            first_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

type Worker = (oneshot::Sender<()>, JoinHandle<()>);

/// A running exporter.
pub struct BatchExporter {
    name: String,
    queue: mpsc::Sender<Arc<RequestLog>>,
    dropped: AtomicU64,
    worker: Mutex<Option<Worker>>,
}

impl std::fmt::Debug for BatchExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchExporter")
            .field("name", &self.name)
            .finish()
    }
}

impl BatchExporter {
    /// Starts the exporter's task (call inside a Tokio runtime). `name` labels its log lines.
    pub fn start(
        name: &str,
        options: BatchOptions,
        encoder: Arc<dyn Encoder>,
        client: reqwest::Client,
    ) -> BatchExporter {
        let (tx, rx) = mpsc::channel(options.queue_size.max(1));
        let (stop_tx, stop_rx) = oneshot::channel();
        let sender = Sender {
            name: name.to_string(),
            client,
            options,
            encoder,
        };
        let task = tokio::spawn(run(sender, rx, stop_rx));
        BatchExporter {
            name: name.to_string(),
            queue: tx,
            dropped: AtomicU64::new(0),
            worker: Mutex::new(Some((stop_tx, task))),
        }
    }

    /// Queues a record; never waits.
    pub fn push(&self, log: &Arc<RequestLog>) {
        if self.queue.try_send(log.clone()).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // The first drop and then one line per thousand: a stuck endpoint must not flood
            // the log.
            if n == 1 || n.is_multiple_of(1000) {
                tracing::error!(
                    callback = %self.name,
                    dropped_total = n,
                    "logging callback queue full or closed: records dropped"
                );
            }
        }
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Sends everything queued, then stops; waits at most `within`.
    pub async fn shutdown(&self, within: Duration) {
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some((stop, task)) = worker {
            let _ = stop.send(());
            if tokio::time::timeout(within, task).await.is_err() {
                tracing::error!(
                    callback = %self.name,
                    "logging callback did not flush within {}s; unsent records are lost",
                    within.as_secs_f64()
                );
            }
        }
    }
}

struct Sender {
    name: String,
    client: reqwest::Client,
    options: BatchOptions,
    encoder: Arc<dyn Encoder>,
}

async fn run(sender: Sender, rx: mpsc::Receiver<Arc<RequestLog>>, stop: oneshot::Receiver<()>) {
    let size = sender.options.batch_size;
    let mut batches = Batches::new(rx, stop, size, sender.options.flush_interval);
    let mut batch = Vec::with_capacity(size.max(1));
    while batches.next(&mut batch).await {
        for body in sender.encoder.encode(&batch) {
            sender.send(body, batch.len()).await;
        }
    }
}

impl Sender {
    /// POSTs one body, retrying what may succeed later.
    async fn send(&self, body: Bytes, records: usize) {
        let o = &self.options;
        let mut delay = o.first_backoff;
        for attempt in 1..=o.max_attempts.max(1) {
            let result = self
                .client
                .post(&o.endpoint)
                .headers(o.headers.clone())
                .header(http::header::CONTENT_TYPE, self.encoder.content_type())
                .timeout(o.timeout)
                .body(body.clone())
                .send()
                .await;
            let (retry, problem) = match result {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => {
                    let status = response.status();
                    let retry = status.is_server_error()
                        || status == http::StatusCode::TOO_MANY_REQUESTS
                        || status == http::StatusCode::REQUEST_TIMEOUT;
                    (retry, format!("HTTP {}", status.as_u16()))
                }
                // reqwest's error text names the URL, never the headers.
                Err(e) => (true, e.without_url().to_string()),
            };
            if !retry || attempt == o.max_attempts.max(1) {
                tracing::error!(
                    callback = %self.name,
                    "logging callback lost a batch of {records} records after {attempt} attempt(s): {problem}"
                );
                return;
            }
            tracing::warn!(
                callback = %self.name,
                "logging callback batch failed ({problem}); retrying in {}ms",
                delay.as_millis()
            );
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
}
