//! Warming a connection up: a `response.create` with `generate: false` (the Responses API's
//! WebSocket mode) completes at once without calling a model. The request is checked and its
//! model resolved as any other, and the response is stored with the request's input, so that
//! the next turn can send only its new items with `previous_response_id` set to it.

use std::time::{SystemTime, UNIX_EPOCH};

use switchyard_types::responses::{CreateResponse, ResponseStreamEvent};

use super::{CallContext, Gateway, validate};
use crate::accounting::RequestLog;
use crate::error::Error;
use crate::ids;
use crate::state::previous_not_found;
use crate::stream::{ResponseBuilder, envelope};

impl Gateway {
    /// Prepares the state of `request` without model output: validates it, resolves its
    /// model and the state it names (`ctx.state`, else the gateway's), and completes an empty
    /// response (`output: []`, zero usage), stored as the request's input. Returns the
    /// response's events, `response.created` first and `response.completed` last. Nothing is
    /// sent upstream; the request is recorded as completed at no cost (or refused).
    pub async fn warm_up(
        &self,
        mut request: CreateResponse,
        ctx: CallContext,
    ) -> Result<Vec<ResponseStreamEvent>, Error> {
        let started = SystemTime::now();
        match self.warm(&mut request, &ctx).await {
            Ok(events) => {
                let response_id = events
                    .last()
                    .and_then(|e| e.response())
                    .map(|r| r.id.clone());
                self.log_warm_up(ctx, request.model.as_deref(), response_id, started);
                Ok(events)
            }
            Err(error) => {
                self.log_rejected(ctx, request.model.as_deref(), true, &error);
                Err(error)
            }
        }
    }

    /// The warm-up's log line and record: a completed request of its model group that no
    /// deployment served, with no tokens and no cost.
    fn log_warm_up(
        &self,
        ctx: CallContext,
        model: Option<&str>,
        response_id: Option<String>,
        started: SystemTime,
    ) {
        let ended = SystemTime::now();
        let model = model.map(|m| crate::text::echo(m).into_owned());
        tracing::info!(
            target: "switchyard::request",
            request_id = %ctx.request_id,
            response_id = response_id.as_deref().unwrap_or(""),
            model = %model.as_deref().unwrap_or(""),
            stream = true,
            status = 200,
            outcome = "completed",
            "warm-up completed without calling a model"
        );
        let unix_ms = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        let meta = ctx.meta;
        self.inner.sinks.emit(RequestLog {
            request_id: ctx.request_id,
            response_id,
            call_type: "responses",
            route: meta.route,
            api_key_hash: meta.api_key_hash,
            end_user: meta.end_user,
            owner: meta.owner,
            model_group: model,
            stream: true,
            status: "success",
            outcome: "completed",
            http_status: 200,
            cost: Some(0.0),
            start_time_ms: unix_ms(started),
            end_time_ms: unix_ms(ended),
            duration_ms: ended
                .duration_since(started)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            request_tags: meta.tags,
            metadata: meta.metadata,
            client_ip: meta.client_ip,
            ..RequestLog::default()
        });
    }

    async fn warm(
        &self,
        request: &mut CreateResponse,
        ctx: &CallContext,
    ) -> Result<Vec<ResponseStreamEvent>, Error> {
        let model = validate(request)?.to_string();
        let target = self.target(&model)?;
        let persist = self.resolve_state(request, ctx, &target).await?;
        // Left in the request only for an upstream that may know it; none is asked here.
        if let Some(unknown) = request.previous_response_id.as_deref() {
            return Err(previous_not_found(unknown));
        }
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut response = envelope(request, ids::response_id(), model, created_at);
        persist.annotate(&mut response);
        let mut builder = ResponseBuilder::new(
            response,
            true,
            request.includes("reasoning.encrypted_content"),
        );
        builder.start();
        builder.complete();
        // Stored before the client sees the end: its next turn chains onto this response.
        persist.save(builder.response()).await;
        Ok(builder.drain().collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;
    use crate::config::{Config, Env};
    use crate::stream::grammar::check_stream;

    fn gateway() -> Gateway {
        let yaml = r#"
model_list:
  - model_name: g
    litellm_params: {model: openai/gpt-x, api_base: "http://127.0.0.1:9/v1", api_key: k}
"#;
        let config = Config::from_yaml_with_env(yaml, &Env::default()).unwrap();
        Gateway::from_config(&config).unwrap().0
    }

    fn request(value: serde_json::Value) -> CreateResponse {
        serde_json::from_value(value).unwrap()
    }

    #[derive(Default)]
    struct Collect(std::sync::Mutex<Vec<std::sync::Arc<RequestLog>>>);

    impl crate::accounting::LogSink for Collect {
        fn record(&self, log: &std::sync::Arc<RequestLog>) {
            self.0.lock().unwrap().push(log.clone());
        }
    }

    #[tokio::test]
    async fn completes_empty_and_chains_with_store_false() {
        let gateway = gateway();
        let collect = std::sync::Arc::new(Collect::default());
        gateway.sinks().add(collect.clone());
        let state = gateway.state().for_connection();
        let ctx = || CallContext {
            state: Some(state.clone()),
            ..CallContext::default()
        };
        let events = gateway
            .warm_up(
                request(json!({"model": "g", "store": false, "input": [
                    {"type": "message", "role": "developer", "content": "base"}
                ]})),
                ctx(),
            )
            .await
            .unwrap();
        check_stream(&events).unwrap();
        assert_eq!(events.first().unwrap().kind(), "response.created");
        let last = events.last().unwrap();
        assert_eq!(last.kind(), "response.completed");
        let done = serde_json::to_value(last.response().unwrap()).unwrap();
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"], json!([]));
        assert_eq!(done["usage"]["input_tokens"], 0);
        assert_eq!(done["usage"]["output_tokens"], 0);
        assert_eq!(done["store"], false);
        let id = done["id"].as_str().unwrap().to_string();
        // One record, completed, at no cost, with no deployment.
        let logs = collect.0.lock().unwrap().clone();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].outcome, "completed");
        assert_eq!(logs[0].response_id.as_deref(), Some(id.as_str()));
        assert_eq!(logs[0].model_group.as_deref(), Some("g"));
        assert_eq!(logs[0].cost, Some(0.0));
        assert!(logs[0].deployment_id.is_none());

        // A continuation on the same connection sees the warm-up's input first.
        let mut next = request(json!({"model": "g", "store": false,
            "previous_response_id": id, "input": "hello"}));
        state
            .resolve(&mut next, &crate::state::Caller::admin(), false)
            .await
            .unwrap();
        let input = serde_json::to_value(&next.input).unwrap();
        assert_eq!(input[0]["content"], "base", "{input}");
        assert_eq!(input.as_array().unwrap().len(), 2, "{input}");

        // The gateway's own store never saw the unstored warm-up.
        let err = gateway
            .state()
            .retrieve(&id, &crate::state::Caller::admin(), false)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 404);
    }

    #[tokio::test]
    async fn refuses_what_a_create_refuses() {
        let gateway = gateway();
        let err = gateway
            .warm_up(
                request(json!({"model": "nope", "input": "x"})),
                CallContext::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), 404, "{err:?}");
        let err = gateway
            .warm_up(
                request(json!({"model": "g", "input": "x", "previous_response_id": "resp_x"})),
                CallContext::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("previous_response_not_found"));
        let err = gateway
            .warm_up(request(json!({"model": "g"})), CallContext::default())
            .await
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input"));
    }
}
