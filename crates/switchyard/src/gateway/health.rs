//! Health probes: a tiny request ("ping", at most 16 output tokens) to every deployment, on
//! demand for `GET /health`, or every `health_check_interval` in the background when
//! `background_health_checks` is on. Background results feed the router (a failed probe cools
//! a deployment down, a successful one ends its cooldown) and are what `GET /health` serves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_types::responses::{CreateResponse, Input};
use tokio::sync::watch;

use super::persist::Persist;
use super::record::CallRecord;
use super::upstream::{Call, timeout_error};
use super::{DEFAULT_TIMEOUT, Gateway};
use crate::accounting::{RequestMeta, Sinks};
use crate::error::Error;
use crate::ids;
use crate::router::{Deployment, PROBE_LIMIT};

/// How one deployment answered its probe.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// The deployment checked (for a wildcard entry, a deployment standing for it, named by
    /// the entry's pattern).
    pub deployment: Arc<Deployment>,
    /// The upstream model the probe asked for (`model_info.health_check_model` when set).
    pub probed_model: String,
    /// Whether it answered.
    pub result: Result<(), Error>,
}

/// One round of probes.
#[derive(Debug, Clone)]
pub struct HealthReport {
    /// When the round ended (Unix seconds).
    pub checked_at: u64,
    /// The round ran in the background (`background_health_checks`), not for this caller.
    pub background: bool,
    /// Every deployment's result, in config order.
    pub checks: Vec<HealthCheck>,
}

/// The background prober's state: started once, its latest report.
#[derive(Debug)]
pub(super) struct Background {
    started: AtomicBool,
    latest: watch::Sender<Option<Arc<HealthReport>>>,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            started: AtomicBool::new(false),
            latest: watch::channel(None).0,
        }
    }
}

impl Gateway {
    /// Probes every configured deployment (and every wildcard entry with a
    /// `model_info.health_check_model`) at once, each bounded by its timeout and by 60 s. A
    /// deployment with a `health_check_model` is probed with that model instead of its own.
    pub async fn check_health(&self) -> Vec<HealthCheck> {
        let targets: Vec<Arc<Deployment>> = self.inner.registry.health_targets().cloned().collect();
        let checks = targets.into_iter().map(|deployment| async move {
            let probe: &Arc<Deployment> = deployment.health_probe.as_ref().unwrap_or(&deployment);
            let request = CreateResponse {
                model: Some(deployment.model_name.clone()),
                input: Some(Input::Text("ping".into())),
                max_output_tokens: Some(16),
                ..CreateResponse::default()
            };
            // Health probes are not requests anyone pays for: no sinks, no spend rows.
            let mut record = CallRecord::start(
                &ids::request_id(),
                probe,
                false,
                RequestMeta::default(),
                None,
                Sinks::default(),
            );
            record.attempt();
            let limit = probe.timeout.unwrap_or(DEFAULT_TIMEOUT).min(PROBE_LIMIT);
            let no_headers = http::HeaderMap::new();
            let persist = Arc::new(Persist::nothing(self.state().clone()));
            let call = Call {
                persist: &persist,
                deployment: probe,
                request: &request,
                client_headers: &no_headers,
                timeout: limit,
                first_output: None,
            };
            let result = match tokio::time::timeout(limit, self.respond(&call, &mut record)).await {
                Ok(result) => result.map(|_| ()),
                Err(_) => Err(timeout_error(probe.provider.name())),
            };
            if let Err(error) = &result {
                record.finish_error(error);
            }
            HealthCheck {
                probed_model: probe.provider.model().to_string(),
                deployment,
                result,
            }
        });
        futures_util::future::join_all(checks).await
    }

    /// What `GET /health` reports: with `background_health_checks`, the latest background
    /// round (waiting for the first one if it is still running); otherwise a round run now.
    pub async fn health(&self) -> Arc<HealthReport> {
        if self.inner.router.settings().background_health_checks {
            self.start_health_checks();
            let mut latest = self.inner.health.latest.subscribe();
            // The first round ends within the probe limit; past it, probe for this caller.
            let first = tokio::time::timeout(
                PROBE_LIMIT + Duration::from_secs(5),
                latest.wait_for(Option::is_some),
            )
            .await;
            if let Ok(Ok(report)) = first
                && let Some(report) = report.as_ref()
            {
                return report.clone();
            }
        }
        Arc::new(HealthReport {
            checks: self.check_health().await,
            checked_at: unix_now(),
            background: false,
        })
    }

    /// Starts the background prober when `background_health_checks` is on and a Tokio runtime
    /// is at hand (the first request starts it otherwise); it runs once per gateway and ends
    /// when the gateway is dropped.
    pub(super) fn start_health_checks(&self) {
        let settings = self.inner.router.settings();
        if !settings.background_health_checks
            || tokio::runtime::Handle::try_current().is_err()
            || self.inner.health.started.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let interval = settings.health_check_interval;
        let gateway = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = gateway.upgrade() else {
                    break;
                };
                Gateway { inner }.probe_in_background().await;
                tokio::time::sleep(interval).await;
            }
        });
    }

    /// One background round: probe, tell the router, publish the report.
    async fn probe_in_background(&self) {
        let checks = self.check_health().await;
        let registry = &self.inner.registry;
        for check in &checks {
            let group_size = registry.group_size(&check.deployment.model_name);
            self.inner.router.probed(
                &check.deployment,
                group_size,
                check.result.as_ref().map(|_| ()),
            );
            if let Err(error) = &check.result {
                tracing::warn!(
                    deployment = %check.deployment.id,
                    model_group = %check.deployment.model_name,
                    error = %error,
                    "health probe failed"
                );
            }
        }
        self.inner
            .health
            .latest
            .send_replace(Some(Arc::new(HealthReport {
                checks,
                checked_at: unix_now(),
                background: true,
            })));
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
