//! One record per request, finished exactly once: on success, on failure, or — through `Drop` —
//! when a client goes away mid-stream. It is written as one structured log line (target
//! `switchyard::request`) with the model, deployment, status, latency and tokens; never a key or
//! a prompt.

use std::time::Instant;

use switchyard_types::responses::{Response, ResponseStatus, Usage};

use super::registry::Deployment;
use crate::error::Error;

/// What the gateway knows about a request in flight.
#[derive(Debug)]
pub struct CallRecord {
    request_id: String,
    model_group: String,
    deployment_id: String,
    provider: String,
    stream: bool,
    started: Instant,
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
    /// The client went away before the end.
    Disconnected,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Incomplete => "incomplete",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Disconnected => "client_disconnected",
        }
    }
}

impl CallRecord {
    /// Starts the record of a request served by `deployment`.
    pub fn start(request_id: &str, deployment: &Deployment, stream: bool) -> Self {
        CallRecord {
            request_id: request_id.to_string(),
            model_group: deployment.model_name.clone(),
            deployment_id: deployment.id.clone(),
            provider: deployment.provider.name().to_string(),
            stream,
            started: Instant::now(),
            first_output: None,
            attempts: 0,
            finished: false,
        }
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

    /// Finishes with the final response.
    pub fn finish_response(&mut self, response: &Response) {
        let outcome = match response.status {
            ResponseStatus::Completed => Outcome::Completed,
            ResponseStatus::Incomplete => Outcome::Incomplete,
            _ => Outcome::Failed,
        };
        let status = if outcome == Outcome::Failed { 500 } else { 200 };
        let error = response.error.as_ref().map(|e| e.code.as_str());
        self.write(
            outcome,
            status,
            error,
            response.usage.as_ref(),
            Some(&response.id),
        );
    }

    /// Finishes with an error answered before any output.
    pub fn finish_error(&mut self, error: &Error) {
        let kind = format!("{:?}", error.kind);
        self.write(Outcome::Error, error.status(), Some(&kind), None, None);
    }

    fn write(
        &mut self,
        outcome: Outcome,
        status: u16,
        error: Option<&str>,
        usage: Option<&Usage>,
        response_id: Option<&str>,
    ) {
        if self.finished {
            return;
        }
        self.finished = true;
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let ttft_ms = self
            .first_output
            .map(|t| (t - self.started).as_secs_f64() * 1000.0);
        let tokens = usage.cloned().unwrap_or_default();
        tracing::info!(
            target: "switchyard::request",
            request_id = %self.request_id,
            response_id = response_id.unwrap_or(""),
            model = %self.model_group,
            deployment = %self.deployment_id,
            provider = %self.provider,
            stream = self.stream,
            status,
            outcome = outcome.as_str(),
            error = error.unwrap_or(""),
            attempts = self.attempts,
            latency_ms = format_args!("{latency_ms:.1}"),
            ttft_ms = ttft_ms.map(|t| format!("{t:.1}")).unwrap_or_default(),
            input_tokens = tokens.input_tokens,
            cached_tokens = tokens.input_tokens_details.cached_tokens,
            output_tokens = tokens.output_tokens,
            reasoning_tokens = tokens.output_tokens_details.reasoning_tokens,
            "request finished"
        );
    }
}

/// Logs a request refused before it reached a deployment (invalid, unknown model).
pub fn log_rejected(request_id: &str, model: Option<&str>, stream: bool, error: &Error) {
    tracing::info!(
        target: "switchyard::request",
        request_id = %request_id,
        model = model.unwrap_or(""),
        stream,
        status = error.status(),
        outcome = Outcome::Error.as_str(),
        error = ?error.kind,
        "request rejected"
    );
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.finished {
            // 499: the client closed the request, as nginx logs it.
            self.write(Outcome::Disconnected, 499, None, None, None);
        }
    }
}
