//! Continuation routing. An upstream that keeps state behind response ids (the Responses API)
//! can continue a `previous_response_id` only on the deployment that produced it, and only
//! under the id it minted. The gateway remembers both: which deployment answered (in memory,
//! bounded, and shared through Redis when the router shares state), and the upstream's id when
//! clients were given another (`ids_map.rs`).

use std::sync::Arc;

use switchyard_types::responses::CreateResponse;

use super::Gateway;
use crate::router::{Deployment, Target};

impl Gateway {
    /// For a request continuing `previous`: the deployment that produced it, when known.
    /// Redis is asked only for a group with a choice of deployments (a fallback group's
    /// responses are found locally, or not at all).
    pub(super) async fn produced_by(&self, previous: &str, target: &Target) -> Option<String> {
        match self.inner.affinity.upstream(previous) {
            Some(found) => Some(found),
            None if target.deployments.len() > 1 => {
                self.inner.router.shared_response_deployment(previous).await
            }
            None => None,
        }
    }

    /// Rewrites a `previous_response_id` that goes upstream as it is (the store did not know
    /// it) to the id the upstream minted, when clients were given another.
    pub(super) fn rewrite_previous(&self, request: &mut CreateResponse) {
        if let Some(previous) = request.previous_response_id.as_deref()
            && let Some(upstream) = self.inner.ids.upstream(previous)
        {
            request.previous_response_id = Some(upstream);
        }
    }

    /// The deployment a continuation goes to: `continues_on`, when it is in `target`, not yet
    /// tried, and available (not cooling down, not at its limits). Otherwise `None` and the
    /// router picks as usual: a group whose deployments share one account still answers, and
    /// any other gets the upstream's own error.
    pub(super) async fn continuation(
        &self,
        target: &Target,
        continues_on: Option<&str>,
        tried: &[String],
    ) -> Option<Arc<Deployment>> {
        let id = continues_on?;
        if tried.iter().any(|t| t == id) {
            return None;
        }
        let deployment = target.deployments.iter().find(|d| d.id == id)?;
        let only = Target {
            name: target.name.clone(),
            deployments: vec![deployment.clone()],
            pinned: false,
        };
        self.inner.router.select(&only, tried).await.ok()
    }

    /// Notes that `deployment` produced `response_id`, for continuations, when the request
    /// asked for it (see [`worth_remembering`]) and the upstream keeps state behind its ids.
    pub(super) fn remember_deployment(&self, deployment: &Deployment, response_id: &str) {
        if deployment.provider.is_native_responses() {
            self.inner
                .affinity
                .insert(response_id.to_string(), deployment.id.clone());
            self.inner
                .router
                .share_response_deployment(response_id, &deployment.id);
        }
    }
}

/// Which deployment answers `request` matters to a later continuation only where the upstream
/// keeps the response (`store` is not off) and `target` has a choice of deployments.
pub(super) fn worth_remembering(request: &CreateResponse, target: &Target) -> bool {
    request.store != Some(false) && target.deployments.len() > 1
}
