//! One record per request, finished exactly once: on success, on failure, or — through `Drop` —
//! when a client goes away mid-stream. Finishing computes the cost from the final usage (the
//! one place it is computed for a request), writes one structured log line (target
//! `switchyard::request`, never a key or a prompt) and hands the [`RequestLog`] to the
//! gateway's sinks (spend logs, metrics).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use switchyard_types::responses::{Response, ResponseStatus, Usage};

use crate::accounting::{RateLimits, RequestLog, RequestMeta, RequestParams, Sinks, TokenCounts};
use crate::cost::{self, ModelPrice};
use crate::error::{Error, ErrorKind};
use crate::router::Deployment;

/// What the gateway knows about a request in flight.
#[derive(Debug)]
pub struct CallRecord {
    request_id: String,
    model_group: String,
    model: String,
    deployment_id: String,
    provider: String,
    api_base: String,
    price: Option<Arc<ModelPrice>>,
    meta: RequestMeta,
    messages: Option<Box<RawValue>>,
    params: RequestParams,
    rate_limits: RateLimits,
    /// What the upstream said the request cost (OpenRouter), charged ahead of any price.
    reported_cost: Option<f64>,
    sinks: Sinks,
    stream: bool,
    started: Instant,
    started_at: SystemTime,
    first_output: Option<Instant>,
    attempts: u32,
    finished: bool,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `completed`.
    Completed,
    /// `incomplete` (token limit, content filter).
    Incomplete,
    /// Failed after the response started (`response.failed`).
    Failed,
    /// Failed before any output; answered with an HTTP error.
    Error,
    /// Refused before it reached a deployment (invalid, unknown model, over budget).
    Rejected,
    /// The client went away before the end.
    Disconnected,
    /// The gateway ended it: still open when a shutdown's grace period ran out.
    ServerShutdown,
    /// A background response cancelled through `POST /responses/{id}/cancel`.
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Incomplete => "incomplete",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Rejected => "rejected",
            Outcome::Disconnected => "client_disconnected",
            Outcome::ServerShutdown => "server_shutdown",
            Outcome::Cancelled => "cancelled",
        }
    }

    fn is_success(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::Incomplete)
    }
}

/// The parts of a finished request that vary by ending.
struct Ending<'a> {
    outcome: Outcome,
    status: u16,
    error_class: Option<String>,
    error_code: Option<String>,
    usage: Option<&'a Usage>,
    response: Option<&'a Response>,
}

impl CallRecord {
    /// Starts the record of a request served by `deployment`. `messages` is the request
    /// input, kept only when `meta.store_prompts`.
    pub fn start(
        request_id: &str,
        deployment: &Deployment,
        stream: bool,
        meta: RequestMeta,
        messages: Option<Box<RawValue>>,
        sinks: Sinks,
    ) -> Self {
        CallRecord {
            request_id: request_id.to_string(),
            model_group: deployment.model_name.clone(),
            model: deployment.provider.model().to_string(),
            deployment_id: deployment.id.clone(),
            provider: deployment.provider.name().to_string(),
            api_base: deployment.provider.api_base().to_string(),
            price: deployment.price.clone(),
            messages: messages.filter(|_| meta.store_prompts),
            params: RequestParams::default(),
            rate_limits: RateLimits::default(),
            reported_cost: None,
            meta,
            sinks,
            stream,
            started: Instant::now(),
            started_at: SystemTime::now(),
            first_output: None,
            attempts: 0,
            finished: false,
        }
    }

    /// Notes the client's sampling parameters (for traces).
    pub fn set_params(&mut self, params: RequestParams) {
        self.params = params;
    }

    /// Moves the record to `deployment` (a retry elsewhere or a fallback); the model group
    /// stays the one the client asked for.
    pub fn serve_by(&mut self, deployment: &Deployment) {
        if self.deployment_id != deployment.id {
            // Everything that names the deployment follows it, the price included: the
            // deployment that answers is the one charged. The group stays the one asked for.
            self.deployment_id.clone_from(&deployment.id);
            self.provider = deployment.provider.name().to_string();
            self.model = deployment.provider.model().to_string();
            self.api_base = deployment.provider.api_base().to_string();
            self.price.clone_from(&deployment.price);
            self.rate_limits = RateLimits::default();
        }
    }

    /// Notes the cost the upstream reported for the attempt that ends the request.
    pub fn report_cost(&mut self, cost: Option<f64>) {
        self.reported_cost = cost;
    }

    /// Notes the rate limits an upstream answer reported.
    pub fn set_rate_limits(&mut self, rate_limits: RateLimits) {
        self.rate_limits = rate_limits;
    }

    /// Counts an attempt at the upstream.
    pub fn attempt(&mut self) {
        self.attempts += 1;
    }

    /// Marks the first output (time to first token).
    pub fn output_started(&mut self) {
        if self.first_output.is_none() {
            self.first_output = Some(Instant::now());
        }
    }

    /// Finishes with the final response; returns its cost (`None`: no price).
    pub fn finish_response(&mut self, response: &Response) -> Option<f64> {
        let outcome = match response.status {
            ResponseStatus::Completed => Outcome::Completed,
            ResponseStatus::Incomplete => Outcome::Incomplete,
            _ => Outcome::Failed,
        };
        let status = if outcome == Outcome::Failed { 500 } else { 200 };
        let error_code = response.error.as_ref().map(|e| e.code.clone());
        self.write(Ending {
            outcome,
            status,
            error_class: error_code.as_ref().map(|_| "server_error".to_string()),
            error_code,
            usage: response.usage.as_ref(),
            response: Some(response),
        })
    }

    /// Finishes a request that ended before its answer did (a dropped stream, a dropped
    /// handler), charging the usage the upstream had reported by then: the client's doing,
    /// unless the gateway is cutting open requests at the end of a shutdown.
    pub fn finish_disconnected(&mut self, usage: Option<&Usage>) {
        let ending = if self.sinks.is_cutting() {
            Ending {
                outcome: Outcome::ServerShutdown,
                status: 503,
                error_class: Some(ErrorKind::Overloaded.openai_type().to_string()),
                error_code: Some("server_shutdown".to_string()),
                usage,
                response: None,
            }
        } else {
            Ending {
                outcome: Outcome::Disconnected,
                // 499: the client closed the request, as nginx logs it.
                status: 499,
                error_class: None,
                error_code: None,
                usage,
                response: None,
            }
        };
        self.write(ending);
    }

    /// Finishes a stream the gateway cut while shutting down, with the failed response the
    /// client was sent.
    pub fn finish_cut(&mut self, response: &Response) {
        self.write(Ending {
            outcome: Outcome::ServerShutdown,
            status: 503,
            error_class: Some(ErrorKind::Overloaded.openai_type().to_string()),
            error_code: Some("server_shutdown".to_string()),
            usage: response.usage.as_ref(),
            response: Some(response),
        });
    }

    /// Finishes a background response cancelled by its client, charging what the upstream
    /// had produced by then.
    pub fn finish_cancelled(&mut self, response: &Response) {
        self.write(Ending {
            outcome: Outcome::Cancelled,
            // 499: ended at the client's request, as nginx logs a client that closed.
            status: 499,
            error_class: None,
            error_code: Some("cancelled".to_string()),
            usage: response.usage.as_ref(),
            response: Some(response),
        });
    }

    /// Resolves when the gateway starts cutting open requests (see
    /// [`Sinks::cut_open_requests`]).
    pub fn cut(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.sinks.cut()
    }

    /// Finishes with an error answered before any output.
    pub fn finish_error(&mut self, error: &Error) {
        self.write(Ending {
            outcome: Outcome::Error,
            status: error.status(),
            error_class: Some(error.kind.openai_type().to_string()),
            error_code: error.code.clone(),
            usage: None,
            response: None,
        });
    }

    fn write(&mut self, ending: Ending<'_>) -> Option<f64> {
        if self.finished {
            return None;
        }
        self.finished = true;
        let timing = Timing {
            duration: self.started.elapsed(),
            ttft: self.first_output.map(|t| t - self.started),
        };
        let tokens = token_counts(ending.usage);
        // The upstream's own figure is what it bills. Otherwise, without usage nothing is
        // known to have been spent; with it, the price decides.
        let cost = match (self.reported_cost, ending.usage, &self.price) {
            (Some(reported), _, _) => Some(reported),
            (None, Some(usage), Some(price)) => Some(cost::cost(price, usage)),
            _ => None,
        };
        self.log_line(&ending, &timing, &tokens, cost);
        let log = self.request_log(ending, &timing, tokens, cost);
        self.sinks.emit(log);
        cost
    }

    /// The request's `switchyard::request` log line.
    fn log_line(
        &self,
        ending: &Ending<'_>,
        timing: &Timing,
        tokens: &TokenCounts,
        cost: Option<f64>,
    ) {
        // Formatted on the stack: the fields stay strings (quoted, as they always were).
        let mut ttft_ms = StackText::new();
        if let Some(ttft) = timing.ttft {
            let _ = write!(ttft_ms, "{:.1}", ttft.as_secs_f64() * 1000.0);
        }
        let mut cost_text = StackText::new();
        let _ = match cost {
            Some(c) => write!(cost_text, "{c:.8}"),
            None => cost_text.write_str("unknown"),
        };
        tracing::info!(
            target: "switchyard::request",
            request_id = %self.request_id,
            response_id = ending.response.map_or("", |r| r.id.as_str()),
            model = %self.model_group,
            deployment = %self.deployment_id,
            provider = %self.provider,
            stream = self.stream,
            status = ending.status,
            outcome = ending.outcome.as_str(),
            error = ending.error_code.as_deref().or(ending.error_class.as_deref()).unwrap_or(""),
            attempts = self.attempts,
            latency_ms = format_args!("{:.1}", timing.duration.as_secs_f64() * 1000.0),
            ttft_ms = ttft_ms.as_str(),
            input_tokens = tokens.input_tokens,
            cached_tokens = tokens.cached_tokens,
            cache_write_tokens = tokens.cache_write_tokens,
            output_tokens = tokens.output_tokens,
            reasoning_tokens = tokens.reasoning_tokens,
            cost = cost_text.as_str(),
            "request finished"
        );
    }

    /// The request's record for the sinks; takes what is handed over only once (the caller's
    /// metadata, the stored input).
    fn request_log(
        &mut self,
        ending: Ending<'_>,
        timing: &Timing,
        tokens: TokenCounts,
        cost: Option<f64>,
    ) -> RequestLog {
        let start_ms = unix_ms(self.started_at);
        let meta = std::mem::take(&mut self.meta);
        let store = meta.store_prompts;
        // Finished: nothing reads the record's names again, so they move into the log.
        let take = std::mem::take::<String>;
        RequestLog {
            request_id: take(&mut self.request_id),
            response_id: ending.response.map(|r| r.id.clone()),
            response_model: ending.response.map(|r| r.model.clone()),
            call_type: "responses",
            route: meta.route,
            api_key_hash: meta.api_key_hash,
            end_user: meta.end_user,
            owner: meta.owner,
            model_group: Some(take(&mut self.model_group)),
            model: Some(take(&mut self.model)),
            deployment_id: Some(take(&mut self.deployment_id)),
            provider: Some(take(&mut self.provider)),
            api_base: Some(take(&mut self.api_base)),
            stream: self.stream,
            status: if ending.outcome.is_success() {
                "success"
            } else {
                "failure"
            },
            outcome: ending.outcome.as_str(),
            http_status: ending.status,
            error_class: ending.error_class,
            error_code: ending.error_code,
            attempts: self.attempts,
            usage: tokens,
            cost,
            start_time_ms: start_ms,
            completion_start_time_ms: timing.ttft.map(|t| start_ms + t.as_millis() as i64),
            end_time_ms: start_ms + timing.duration.as_millis() as i64,
            duration_ms: timing.duration.as_secs_f64() * 1000.0,
            ttft_ms: timing.ttft.map(|t| t.as_secs_f64() * 1000.0),
            request_tags: meta.tags,
            metadata: meta.metadata,
            client_ip: meta.client_ip,
            messages: self.messages.take(),
            response: ending
                .response
                .filter(|_| store)
                .and_then(|r| serde_json::value::to_raw_value(&r.output).ok()),
            request_params: self.params,
            rate_limits: self.rate_limits,
        }
    }
}

/// Short text formatted without an allocation (a number for the log line); what does not fit
/// in it is cut, which the numbers it holds never are.
struct StackText {
    bytes: [u8; 40],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            bytes: [0; 40],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `str`s are copied in.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// How long a finished request took.
struct Timing {
    duration: Duration,
    /// Time to the first output, when there was output.
    ttft: Option<Duration>,
}

fn token_counts(usage: Option<&Usage>) -> TokenCounts {
    let Some(u) = usage else {
        return TokenCounts::default();
    };
    TokenCounts {
        input_tokens: u.input_tokens,
        cached_tokens: u.input_tokens_details.cached_tokens,
        cache_write_tokens: u.input_tokens_details.cache_write_tokens,
        output_tokens: u.output_tokens,
        reasoning_tokens: u.output_tokens_details.reasoning_tokens,
        total_tokens: u.total_tokens.max(u.input_tokens + u.output_tokens),
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Logs a request refused before it reached a deployment (invalid, unknown model, over
/// budget), and hands its record to the sinks.
pub fn log_rejected(
    sinks: &Sinks,
    request_id: &str,
    meta: RequestMeta,
    model: Option<&str>,
    stream: bool,
    error: &Error,
) {
    tracing::info!(
        target: "switchyard::request",
        request_id = %request_id,
        model = model.unwrap_or(""),
        stream,
        status = error.status(),
        outcome = Outcome::Rejected.as_str(),
        error = ?error.kind,
        "request rejected"
    );
    let now = unix_ms(SystemTime::now());
    sinks.emit(RequestLog {
        request_id: request_id.to_string(),
        call_type: "responses",
        route: meta.route,
        api_key_hash: meta.api_key_hash,
        end_user: meta.end_user,
        owner: meta.owner,
        model_group: model.map(str::to_string),
        stream,
        status: "failure",
        outcome: Outcome::Rejected.as_str(),
        http_status: error.status(),
        error_class: Some(error.kind.openai_type().to_string()),
        error_code: error.code.clone(),
        start_time_ms: now,
        end_time_ms: now,
        request_tags: meta.tags,
        metadata: meta.metadata,
        client_ip: meta.client_ip,
        ..RequestLog::default()
    });
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.finished {
            self.finish_disconnected(None);
        }
    }
}
