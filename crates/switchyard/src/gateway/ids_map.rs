//! Bounded maps keyed by the response ids clients see: the upstream response ids the gateway
//! had to replace (because clients cannot use them), so that a later `previous_response_id`
//! reaches the upstream with the id it knows; and the deployment each response came from, so
//! that the continuation goes where the state is.
//!
//! Bounded and in memory: ids that already suit clients are never replaced and need no entry,
//! which covers OpenAI and every server that mints `resp_…` ids.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

const CAPACITY: usize = 100_000;

/// Gateway response id → upstream response id.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdMap {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, String>,
    order: VecDeque<String>,
}

impl IdMap {
    /// Remembers that `ours` stands for `upstream`, forgetting the oldest entry when full.
    pub fn insert(&self, ours: String, upstream: String) {
        let Ok(mut entries) = self.inner.lock() else {
            return;
        };
        if entries.map.len() >= CAPACITY
            && let Some(oldest) = entries.order.pop_front()
        {
            entries.map.remove(&oldest);
        }
        entries.order.push_back(ours.clone());
        entries.map.insert(ours, upstream);
    }

    /// The upstream id for `ours`, if it was replaced.
    pub fn upstream(&self, ours: &str) -> Option<String> {
        self.inner.lock().ok()?.map.get(ours).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_forgets_the_oldest() {
        let ids = IdMap::default();
        ids.insert("resp_a".into(), "up-a".into());
        assert_eq!(ids.upstream("resp_a").as_deref(), Some("up-a"));
        assert_eq!(ids.upstream("resp_b"), None);
    }
}
