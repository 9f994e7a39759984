//! A deployment: one `model_list` entry ready to serve, with the limits and live state the
//! router chooses by. The gateway's registry builds them; the router and the gateway share them.

use std::sync::Arc;
use std::time::Duration;

use switchyard_types::JsonMap;

use super::state::{DeploymentState, Limits};
use crate::cost::ModelPrice;
use crate::providers::Provider;

/// A deployment ready to serve.
#[derive(Debug)]
pub struct Deployment {
    /// `model_info.id`, or a stable id derived from the entry.
    pub id: String,
    /// The group it belongs to.
    pub model_name: String,
    /// How to reach it.
    pub provider: Arc<dyn Provider>,
    /// Whole-request timeout.
    pub timeout: Option<Duration>,
    /// Time allowed until a stream's first output.
    pub stream_timeout: Option<Duration>,
    /// Retries on this deployment for failures worth retrying.
    pub max_retries: u32,
    /// `model_info`.
    pub model_info: JsonMap,
    /// Routing limits, weights and prices.
    pub limits: Limits,
    /// Live routing state (in flight, usage this minute, cooldown, latency).
    pub state: DeploymentState,
    /// Its price (catalog, price file and per-deployment prices); `None`: unknown.
    pub price: Option<Arc<ModelPrice>>,
    /// What health probes call instead of the deployment itself: the same entry with
    /// `model_info.health_check_model` as its model. `None`: probe the deployment.
    pub health_probe: Option<Arc<Deployment>>,
}

impl Deployment {
    /// What a health probe of this deployment calls.
    pub fn probed(&self) -> &Deployment {
        self.health_probe.as_deref().unwrap_or(self)
    }
}
