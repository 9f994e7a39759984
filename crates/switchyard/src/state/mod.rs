//! Conversation state: stored responses, conversations and their items.
//!
//! The Responses API is stateful: a client continues with `previous_response_id`, fetches a
//! result with `GET /responses/{id}`, keeps a thread in a conversation. switchyard keeps that
//! state itself, for every provider, as Responses items (never as one provider's messages), so
//! a chain can change provider and nothing is lost in translation:
//!
//! * a stored response holds its own input items and its final `Response`, whose output keeps
//!   the provider's opaque blobs (signatures, redacted thinking) even when the client did not
//!   ask to see them;
//! * a conversation holds its items in order; a response created in it appends its input and
//!   output.
//!
//! [`StateStore`] is the storage interface: [`MemoryStore`] keeps state in the process (the
//! library's default), the `switchyard-store` crate on SQLite or PostgreSQL (the proxy's,
//! shared by replicas). [`context`] turns stored items into the next request's input; [`list`]
//! cuts cursor pages; [`State`] puts the rules of the API (ownership, not-found errors, ids)
//! on top of a store.

pub mod context;
pub mod list;
mod memory;
mod service;

use std::fmt;

use bytes::Bytes;
use switchyard_types::JsonMap;
use switchyard_types::responses::{Item, Response};

use crate::error::{Error, ErrorKind};
use crate::providers::BoxFuture;

pub use list::{ItemList, ListQuery, Order};
pub use memory::MemoryStore;
pub use service::{ConversationObject, Resolved, State, previous_not_found};

/// The default time a stored response is kept (OpenAI's: 30 days).
pub const DEFAULT_RETENTION_DAYS: u64 = 30;

/// Who is asking. Stored state belongs to the key that created it; an administrator (the
/// master key, or anyone when the gateway has no key) sees all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The hashed key of the caller, recorded as the owner of what it creates.
    pub key_hash: Option<String>,
    /// Sees everything.
    pub admin: bool,
}

impl Caller {
    /// An administrator (the master key, or a gateway without one).
    pub fn admin() -> Caller {
        Caller {
            key_hash: None,
            admin: true,
        }
    }

    /// The owner recorded on what this caller creates.
    pub fn owner(&self) -> Option<String> {
        if self.admin {
            None
        } else {
            self.key_hash.clone()
        }
    }

    /// True when something owned by `owner` is visible to this caller.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        self.admin || (owner.is_some() && owner == self.key_hash.as_deref())
    }
}

/// An item in a stored list: its id (the client's, or one minted when it had none) and the
/// item as it was given (without a minted id, so that it goes upstream as the client sent it).
/// Its JSON form, `{"id", "item"}`, is how the SQL store keeps a response's own input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredItem {
    /// The item's id in listings.
    pub id: String,
    /// The item.
    pub item: Item,
}

/// A stored response.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRecord {
    /// The final response, output with provider blobs kept.
    pub response: Response,
    /// The request's own input items (not the ones inherited through the chain).
    pub input: Vec<StoredItem>,
    /// The key that created it (`None`: an administrator).
    pub owner: Option<String>,
    /// The conversation it was created in.
    pub conversation_id: Option<String>,
    /// When it is forgotten (Unix seconds).
    pub expires_at: u64,
    /// A background response still running: until when the gateway instance running it
    /// vouches for it (Unix seconds; it renews this while it runs). Past it, the response is
    /// taken as abandoned.
    pub lease_until: Option<u64>,
    /// `response` already serialised ([`Response::to_json`]), when the gateway had it: the
    /// same bytes answered the client, so a store that writes JSON takes these rather than
    /// serialising again. Whoever changes `response` clears it.
    pub json: Option<Bytes>,
}

impl ResponseRecord {
    /// The response's id.
    pub fn id(&self) -> &str {
        &self.response.id
    }
}

/// A stored conversation (its items are kept apart, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    /// `conv_…`.
    pub id: String,
    /// When it was created (Unix seconds).
    pub created_at: u64,
    /// Up to 16 string pairs.
    pub metadata: JsonMap,
    /// The key that created it (`None`: an administrator).
    pub owner: Option<String>,
}

/// The store cannot be reached or refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        tracing::error!(error = %e.0, "the state store failed");
        Error::new(
            ErrorKind::Overloaded,
            "The gateway's state store is unavailable; stored responses and conversations \
             cannot be read or written right now. Retry later.",
        )
        .with_code("store_unavailable")
    }
}

/// Storage of responses and conversations. Implementations only store and fetch; the rules of
/// the API (who sees what, errors, ids) are [`State`]'s. Every method is one atomic step.
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Stores a finished response. When it belongs to a conversation, its input and output
    /// items are appended to that conversation in the same step.
    fn save_response(&self, record: ResponseRecord) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A stored, unexpired response.
    fn response<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ResponseRecord>, StoreError>>;

    /// A response and the responses it continues, newest first, following
    /// `previous_response_id` for at most `limit` responses; empty when `id` is unknown.
    fn chain<'a>(
        &'a self,
        id: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ResponseRecord>, StoreError>>;

    /// Forgets a response; false when there was none.
    fn delete_response<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The newest stored output item that is a call with `call_id`, with the items its
    /// response produced just before it (reasoning that carries the provider's state), among
    /// responses owned by `owner` (`None`: any owner).
    fn find_call<'a>(
        &'a self,
        call_id: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Vec<Item>>, StoreError>>;

    /// A stored output item with `item_id`, among responses owned by `owner` (`None`: any).
    fn find_output_item<'a>(
        &'a self,
        item_id: &'a str,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Item>, StoreError>>;

    /// Creates a conversation with its first items.
    fn create_conversation(
        &self,
        conversation: ConversationRecord,
        items: Vec<StoredItem>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A conversation.
    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, StoreError>>;

    /// Replaces a conversation's metadata; false when there is no such conversation.
    fn update_conversation<'a>(
        &'a self,
        id: &'a str,
        metadata: JsonMap,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Forgets a conversation and its items; false when there was none.
    fn delete_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Appends items to a conversation; false when there is no such conversation.
    fn append_items<'a>(
        &'a self,
        conversation_id: &'a str,
        items: Vec<StoredItem>,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Every item of a conversation, oldest first.
    fn conversation_items<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<StoredItem>, StoreError>>;

    /// Removes one item; false when the conversation has no such item.
    fn delete_item<'a>(
        &'a self,
        conversation_id: &'a str,
        item_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Forgets responses whose retention ended before `now` (Unix seconds); returns how many.
    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Appends stream events of a background response (sequence number, event JSON).
    fn append_events<'a>(
        &'a self,
        response_id: &'a str,
        events: Vec<(u64, String)>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The stored events of a response with a sequence number above `after` (all of them
    /// with `None`), in order.
    fn events_after<'a>(
        &'a self,
        response_id: &'a str,
        after: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<(u64, String)>, StoreError>>;

    /// Extends the lease of a running background response to `until` (Unix seconds).
    fn renew_lease<'a>(
        &'a self,
        response_id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Asks the gateway instance running a background response to cancel it.
    fn request_cancel<'a>(&'a self, response_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// True when cancelling the response was asked for.
    fn cancel_requested<'a>(
        &'a self,
        response_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
