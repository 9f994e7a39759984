//! State kept in the process: the library's default store. Bounded: past its capacity the
//! oldest responses are forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use switchyard_types::JsonMap;
use switchyard_types::responses::Item;

use super::context::{call_id, conversation_additions, item_id};
use super::{ConversationRecord, ResponseRecord, StateStore, StoreError, StoredItem, now};
use crate::providers::BoxFuture;

/// Responses kept by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A [`StateStore`] in memory.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    responses: HashMap<String, ResponseRecord>,
    /// Response ids, oldest first, for eviction.
    order: VecDeque<String>,
    conversations: HashMap<String, (ConversationRecord, Vec<StoredItem>)>,
    /// Background responses' stream events.
    events: HashMap<String, Vec<(u64, String)>>,
    /// Background responses whose cancellation was asked for.
    cancels: std::collections::HashSet<String>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemoryStore {
    /// A store keeping at most `capacity` responses.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError("the in-memory store is poisoned".into()))
    }

    fn live(record: &ResponseRecord, now: u64) -> bool {
        record.expires_at > now
    }
}

/// Wraps a result as the store's future.
fn ready<T: Send + 'static>(
    value: Result<T, StoreError>,
) -> BoxFuture<'static, Result<T, StoreError>> {
    Box::pin(std::future::ready(value))
}

impl StateStore for MemoryStore {
    fn save_response(&self, record: ResponseRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        ready(self.lock().map(|mut inner| {
            if let Some(conversation) = record.conversation_id.as_deref()
                && let Some((_, items)) = inner.conversations.get_mut(conversation)
            {
                items.extend(conversation_additions(&record));
            }
            let id = record.id().to_string();
            if inner.responses.insert(id.clone(), record).is_none() {
                inner.order.push_back(id);
            }
            while inner.responses.len() > self.capacity {
                let Some(oldest) = inner.order.pop_front() else {
                    break;
                };
                inner.responses.remove(&oldest);
                inner.events.remove(&oldest);
                inner.cancels.remove(&oldest);
            }
        }))
    }

    fn response<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ResponseRecord>, StoreError>> {
        let now = now();
        ready(self.lock().map(|inner| {
            inner
                .responses
                .get(id)
                .filter(|r| Self::live(r, now))
                .cloned()
        }))
    }

    fn chain<'a>(
        &'a self,
        id: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ResponseRecord>, StoreError>> {
        let now = now();
        ready(self.lock().map(|inner| {
            let mut chain: Vec<ResponseRecord> = Vec::new();
            let mut next = Some(id.to_string());
            while let Some(id) = next.take() {
                if chain.len() >= limit || chain.iter().any(|r| r.id() == id) {
                    break;
                }
                let Some(record) = inner.responses.get(&id).filter(|r| Self::live(r, now)) else {
                    break;
                };
                next.clone_from(&record.response.previous_response_id);
                chain.push(record.clone());
            }
            chain
        }))
    }

    fn delete_response<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.lock().map(|mut inner| {
            let removed = inner.responses.remove(id).is_some();
            if removed {
                inner.order.retain(|o| o != id);
            }
            inner.events.remove(id);
            inner.cancels.remove(id);
            removed
        }))
    }

    fn find_call<'a>(
        &'a self,
        call: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<Item>>, StoreError>> {
        let now = now();
        ready(self.lock().map(|inner| {
            inner.order.iter().rev().find_map(|id| {
                let record = inner.responses.get(id)?;
                if !Self::live(record, now) || (owner.is_some() && record.owner.as_deref() != owner)
                {
                    return None;
                }
                let output = &record.response.output;
                let at = output.iter().position(|i| call_id(i) == Some(call))?;
                let start = output[..at]
                    .iter()
                    .rposition(|i| !matches!(i, Item::Reasoning(_)))
                    .map_or(0, |i| i + 1);
                Some(output[start..=at].to_vec())
            })
        }))
    }

    fn find_output_item<'a>(
        &'a self,
        wanted: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Item>, StoreError>> {
        let now = now();
        ready(self.lock().map(|inner| {
            inner.order.iter().rev().find_map(|id| {
                let record = inner.responses.get(id)?;
                if !Self::live(record, now) || (owner.is_some() && record.owner.as_deref() != owner)
                {
                    return None;
                }
                record
                    .response
                    .output
                    .iter()
                    .find(|i| item_id(i) == Some(wanted))
                    .cloned()
            })
        }))
    }

    fn create_conversation(
        &self,
        conversation: ConversationRecord,
        items: Vec<StoredItem>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        ready(self.lock().map(|mut inner| {
            inner
                .conversations
                .insert(conversation.id.clone(), (conversation, items));
        }))
    }

    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, StoreError>> {
        ready(
            self.lock()
                .map(|inner| inner.conversations.get(id).map(|(c, _)| c.clone())),
        )
    }

    fn update_conversation<'a>(
        &'a self,
        id: &'a str,
        metadata: JsonMap,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(
            self.lock()
                .map(|mut inner| match inner.conversations.get_mut(id) {
                    Some((c, _)) => {
                        c.metadata = metadata;
                        true
                    }
                    None => false,
                }),
        )
    }

    fn delete_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(
            self.lock()
                .map(|mut inner| inner.conversations.remove(id).is_some()),
        )
    }

    fn append_items<'a>(
        &'a self,
        conversation_id: &'a str,
        new: Vec<StoredItem>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.lock().map(
            |mut inner| match inner.conversations.get_mut(conversation_id) {
                Some((_, items)) => {
                    items.extend(new);
                    true
                }
                None => false,
            },
        ))
    }

    fn conversation_items<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<StoredItem>, StoreError>> {
        ready(self.lock().map(|inner| {
            inner
                .conversations
                .get(conversation_id)
                .map(|(_, items)| items.clone())
                .unwrap_or_default()
        }))
    }

    fn delete_item<'a>(
        &'a self,
        conversation_id: &'a str,
        wanted: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.lock().map(|mut inner| {
            let Some((_, items)) = inner.conversations.get_mut(conversation_id) else {
                return false;
            };
            let before = items.len();
            items.retain(|s| s.id != wanted);
            items.len() != before
        }))
    }

    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        ready(self.lock().map(|mut inner| {
            let before = inner.responses.len();
            inner.responses.retain(|_, r| r.expires_at > now);
            let Inner {
                responses,
                order,
                events,
                cancels,
                ..
            } = &mut *inner;
            order.retain(|id| responses.contains_key(id));
            events.retain(|id, _| responses.contains_key(id));
            cancels.retain(|id| responses.contains_key(id));
            (before - responses.len()) as u64
        }))
    }

    fn append_events<'a>(
        &'a self,
        response_id: &'a str,
        events: Vec<(u64, String)>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        ready(self.lock().map(|mut inner| {
            inner
                .events
                .entry(response_id.to_string())
                .or_default()
                .extend(events);
        }))
    }

    fn events_after<'a>(
        &'a self,
        response_id: &'a str,
        after: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<(u64, String)>, StoreError>> {
        ready(self.lock().map(|inner| {
            inner
                .events
                .get(response_id)
                .map(|events| {
                    events
                        .iter()
                        .filter(|(n, _)| after.is_none_or(|a| *n > a))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        }))
    }

    fn renew_lease<'a>(
        &'a self,
        response_id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        ready(self.lock().map(|mut inner| {
            if let Some(record) = inner.responses.get_mut(response_id)
                && record.lease_until.is_some()
            {
                record.lease_until = Some(until);
            }
        }))
    }

    fn request_cancel<'a>(&'a self, response_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        ready(self.lock().map(|mut inner| {
            inner.cancels.insert(response_id.to_string());
        }))
    }

    fn cancel_requested<'a>(
        &'a self,
        response_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.lock().map(|inner| inner.cancels.contains(response_id)))
    }
}

/// A connection's state over the gateway's store (see [`super::State::for_connection`]):
/// its own responses, whatever their `store`, in a small memory store consulted first; what
/// asked to be stored, and everything else, in the shared store.
#[derive(Debug)]
pub(crate) struct ConnectionStore {
    own: MemoryStore,
    shared: std::sync::Arc<dyn StateStore>,
}

/// Responses one connection keeps at most (a long Codex session chains one per turn).
const CONNECTION_CAPACITY: usize = 1_000;

impl ConnectionStore {
    pub(crate) fn new(shared: std::sync::Arc<dyn StateStore>) -> Self {
        ConnectionStore {
            own: MemoryStore::with_capacity(CONNECTION_CAPACITY),
            shared,
        }
    }
}

impl StateStore for ConnectionStore {
    fn save_response(&self, record: ResponseRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if record.response.store {
                self.shared.save_response(record.clone()).await?;
            }
            self.own.save_response(record).await
        })
    }

    fn response<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ResponseRecord>, StoreError>> {
        Box::pin(async move {
            match self.own.response(id).await? {
                Some(found) => Ok(Some(found)),
                None => self.shared.response(id).await,
            }
        })
    }

    fn chain<'a>(
        &'a self,
        id: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ResponseRecord>, StoreError>> {
        Box::pin(async move {
            // The connection's part of the chain, then (where it leads out of the
            // connection) the shared store's.
            let mut chain = self.own.chain(id, limit).await?;
            let next = match chain.last() {
                Some(last) => last.response.previous_response_id.clone(),
                None => Some(id.to_string()),
            };
            if let Some(next) = next
                && chain.len() < limit
            {
                chain.extend(self.shared.chain(&next, limit - chain.len()).await?);
            }
            Ok(chain)
        })
    }

    fn delete_response<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let own = self.own.delete_response(id).await?;
            let shared = self.shared.delete_response(id).await?;
            Ok(own || shared)
        })
    }

    fn find_call<'a>(
        &'a self,
        call: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<Item>>, StoreError>> {
        Box::pin(async move {
            match self.own.find_call(call, owner).await? {
                Some(found) => Ok(Some(found)),
                None => self.shared.find_call(call, owner).await,
            }
        })
    }

    fn find_output_item<'a>(
        &'a self,
        wanted: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Item>, StoreError>> {
        Box::pin(async move {
            match self.own.find_output_item(wanted, owner).await? {
                Some(found) => Ok(Some(found)),
                None => self.shared.find_output_item(wanted, owner).await,
            }
        })
    }

    fn create_conversation(
        &self,
        conversation: ConversationRecord,
        items: Vec<StoredItem>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.shared.create_conversation(conversation, items)
    }

    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, StoreError>> {
        self.shared.conversation(id)
    }

    fn update_conversation<'a>(
        &'a self,
        id: &'a str,
        metadata: JsonMap,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.shared.update_conversation(id, metadata)
    }

    fn delete_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.shared.delete_conversation(id)
    }

    fn append_items<'a>(
        &'a self,
        conversation_id: &'a str,
        items: Vec<StoredItem>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.shared.append_items(conversation_id, items)
    }

    fn conversation_items<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<StoredItem>, StoreError>> {
        self.shared.conversation_items(conversation_id)
    }

    fn delete_item<'a>(
        &'a self,
        conversation_id: &'a str,
        item_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.shared.delete_item(conversation_id, item_id)
    }

    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.own.purge_expired(now)
    }

    fn append_events<'a>(
        &'a self,
        response_id: &'a str,
        events: Vec<(u64, String)>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.shared.append_events(response_id, events)
    }

    fn events_after<'a>(
        &'a self,
        response_id: &'a str,
        after: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<(u64, String)>, StoreError>> {
        self.shared.events_after(response_id, after)
    }

    fn renew_lease<'a>(
        &'a self,
        response_id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.shared.renew_lease(response_id, until)
    }

    fn request_cancel<'a>(&'a self, response_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.shared.request_cancel(response_id)
    }

    fn cancel_requested<'a>(
        &'a self,
        response_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.shared.cancel_requested(response_id)
    }
}
