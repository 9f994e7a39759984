//! Tag routing (`router_settings.enable_tag_filtering`), with LiteLLM's rules: a request with
//! tags goes to the deployments whose `litellm_params.tags` share one of them (all of them with
//! `tag_filtering_match_any: false`), else to the deployments tagged `default`; a request
//! without tags goes to the `default` deployments when there are any, else anywhere in the
//! group. Tagged requests that match nothing are refused rather than sent somewhere untagged.
//!
//! One departure: a group none of whose deployments has tags is not filtered (LiteLLM refuses
//! tagged requests to it), so tags sent for spend tracking keep working on the groups that do
//! not route by tags.

use super::Deployment;
use super::Target;
use crate::error::Error;

/// The error code of a request whose tags no deployment of the group serves.
pub const NO_DEPLOYMENT_FOR_TAGS: &str = "no_deployment_for_tags";

/// The tag that marks the deployments serving requests whose tags match nothing, and
/// requests without tags.
const DEFAULT_TAG: &str = "default";

fn has(deployment: &Deployment, tag: &str) -> bool {
    deployment.limits.tags.iter().any(|t| t == tag)
}

fn matches(deployment: &Deployment, tags: &[String], match_any: bool) -> bool {
    if match_any {
        tags.iter().any(|tag| has(deployment, tag))
    } else {
        tags.iter().all(|tag| has(deployment, tag))
    }
}

/// The part of `target` that may serve a request with `tags`; `None`: all of it.
pub(crate) fn filter(
    target: &Target,
    tags: &[String],
    match_any: bool,
) -> Result<Option<Target>, Error> {
    // A deployment named by id (a pinned fallback) is taken as named; a group that does not
    // route by tags is not filtered.
    if target.pinned || target.deployments.iter().all(|d| d.limits.tags.is_empty()) {
        return Ok(None);
    }
    let keep = |pick: &dyn Fn(&Deployment) -> bool| -> Vec<_> {
        target
            .deployments
            .iter()
            .filter(|d| pick(d))
            .cloned()
            .collect()
    };
    let defaults = keep(&|d| has(d, DEFAULT_TAG));
    let deployments = if tags.is_empty() {
        if defaults.is_empty() {
            return Ok(None);
        }
        defaults
    } else {
        let matching = keep(&|d| matches(d, tags, match_any));
        match (matching.is_empty(), defaults.is_empty()) {
            (false, _) => matching,
            (true, false) => defaults,
            (true, true) => {
                return Err(Error::invalid_request(
                    format!(
                        "no deployment of `{}` serves the request's tags {tags:?} (tag routing \
                         is on: router_settings.enable_tag_filtering)",
                        target.name
                    ),
                    None,
                )
                .with_code(NO_DEPLOYMENT_FOR_TAGS));
            }
        }
    };
    if deployments.len() == target.deployments.len() {
        return Ok(None);
    }
    Ok(Some(Target {
        name: target.name.clone(),
        deployments,
        pinned: false,
    }))
}
