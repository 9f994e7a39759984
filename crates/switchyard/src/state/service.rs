//! The rules of the stateful API on top of a [`StateStore`]: who sees what, OpenAI's
//! not-found errors, minted ids, the history a create request stands for, and what is written
//! when a response ends.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use switchyard_types::JsonMap;
use switchyard_types::responses::{
    CreateResponse, Input, Item, Response, ResponseError, ResponseStatus, metadata_problem,
};

use super::context::{self, call_id, item_id};
use super::list::{self, ItemList, ListQuery};
use super::{Caller, ConversationRecord, ResponseRecord, StateStore, StoredItem, now};
use crate::error::{Error, ErrorKind};
use crate::ids;
use crate::stream::CALL_STATE;

/// The longest chain of responses a `previous_response_id` is followed through.
pub const MAX_CHAIN: usize = 10_000;

/// Items a conversation is created with, or added at once, at most (OpenAI's limit is 20;
/// the Agents SDK sends more in one call, so more are taken).
pub const MAX_ITEMS_PER_CALL: usize = 1_000;

/// Stored responses and conversations, as the API presents them.
#[derive(Debug, Clone)]
pub struct State {
    store: Arc<dyn StateStore>,
    retention_secs: u64,
    /// Responses created with `store: false` are kept too (a WebSocket's own state).
    keeps_unstored: bool,
}

/// A conversation as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationObject {
    /// `conv_…`.
    pub id: String,
    /// Always `conversation`.
    pub object: &'static str,
    /// When it was created (Unix seconds).
    pub created_at: u64,
    /// Its metadata.
    pub metadata: JsonMap,
}

impl From<ConversationRecord> for ConversationObject {
    fn from(c: ConversationRecord) -> Self {
        ConversationObject {
            id: c.id,
            object: "conversation",
            created_at: c.created_at,
            metadata: c.metadata,
        }
    }
}

/// What a create request stands for once its state is resolved.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// The request's own input items, with ids (what `input_items` lists).
    pub own_input: Vec<StoredItem>,
    /// The response it continues.
    pub previous_response_id: Option<String>,
    /// The conversation it is created in.
    pub conversation_id: Option<String>,
}

fn not_found(what: &str, id: &str) -> Error {
    Error {
        code: None,
        param: None,
        ..Error::new(
            ErrorKind::NotFound,
            format!("{what} with id '{}' not found.", crate::text::echo(id)),
        )
    }
}

/// The 400 OpenAI answers for a `previous_response_id` it does not know.
pub fn previous_not_found(id: &str) -> Error {
    Error::invalid_request(
        format!(
            "Previous response with id '{}' not found.",
            crate::text::echo(id)
        ),
        Some("previous_response_id"),
    )
    .with_code("previous_response_not_found")
}

/// The conversation id a create request names (`"conv_…"` or `{"id": "conv_…"}`).
fn conversation_id(value: &Value) -> Result<String, Error> {
    let id = match value {
        Value::String(s) => Some(s.as_str()),
        Value::Object(map) => map.get("id").and_then(Value::as_str),
        _ => None,
    };
    id.filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::invalid_request(
                "Invalid 'conversation': expected a conversation id or {\"id\": …}.",
                Some("conversation"),
            )
            .with_code("invalid_type")
        })
}

impl State {
    /// State kept in `store`, responses for `retention_days`.
    pub fn new(store: Arc<dyn StateStore>, retention_days: u64) -> State {
        State {
            store,
            retention_secs: retention_days.max(1).saturating_mul(86_400),
            keeps_unstored: false,
        }
    }

    /// The state of one WebSocket connection: every response it creates is kept in memory
    /// for the life of the connection, `store: false` ones included (the point of the mode: a
    /// continuation sends only new items, and nothing is retained), and looked up before the
    /// gateway's own store, which gets the responses that asked to be stored.
    pub fn for_connection(&self) -> State {
        State {
            store: Arc::new(super::memory::ConnectionStore::new(self.store.clone())),
            retention_secs: self.retention_secs,
            keeps_unstored: true,
        }
    }

    /// True when responses created with `store: false` are kept as well.
    pub fn keeps_unstored(&self) -> bool {
        self.keeps_unstored
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The owner filter for look-ups on behalf of `caller`.
    fn scope(caller: &Caller) -> Option<&str> {
        if caller.admin {
            None
        } else {
            Some(caller.key_hash.as_deref().unwrap_or(""))
        }
    }

    async fn visible_response(&self, id: &str, caller: &Caller) -> Result<ResponseRecord, Error> {
        match self.store.response(id).await? {
            Some(record) if caller.may_see(record.owner.as_deref()) => {
                Ok(self.settle_abandoned(record).await)
            }
            _ => Err(not_found("Response", id)),
        }
    }

    /// A background response still marked running whose lease ran out was abandoned (the
    /// gateway instance running it stopped): it is failed, for good.
    async fn settle_abandoned(&self, mut record: ResponseRecord) -> ResponseRecord {
        let running = matches!(
            record.response.status,
            ResponseStatus::Queued | ResponseStatus::InProgress
        );
        if !running || record.lease_until.is_none_or(|until| until >= now()) {
            return record;
        }
        record.response.status = ResponseStatus::Failed;
        record.response.error = Some(ResponseError {
            code: "server_error".into(),
            message: "The gateway instance running this background response stopped before \
                      it finished; create it again."
                .into(),
        });
        record.lease_until = None;
        record.json = None;
        if let Err(e) = self.store.save_response(record.clone()).await {
            tracing::warn!(response_id = %record.response.id, error = %e, "could not fail an abandoned response");
        }
        record
    }

    /// The stored record of a response `caller` may see (with its lease).
    pub async fn record_of(&self, id: &str, caller: &Caller) -> Result<ResponseRecord, Error> {
        self.visible_response(id, caller).await
    }

    /// `GET /responses/{id}`: the stored response as its creator saw it (reasoning blobs only
    /// with `include_encrypted`).
    pub async fn retrieve(
        &self,
        id: &str,
        caller: &Caller,
        include_encrypted: bool,
    ) -> Result<Response, Error> {
        let record = self.visible_response(id, caller).await?;
        let mut response = record.response;
        response.output = response
            .output
            .into_iter()
            .map(|item| context::for_client(item, include_encrypted))
            .collect();
        Ok(response)
    }

    /// `DELETE /responses/{id}`.
    pub async fn delete(&self, id: &str, caller: &Caller) -> Result<Value, Error> {
        self.visible_response(id, caller).await?;
        self.store.delete_response(id).await?;
        Ok(serde_json::json!({"id": id, "object": "response", "deleted": true}))
    }

    /// `GET /responses/{id}/input_items`: the request's own input items.
    pub async fn input_items(
        &self,
        id: &str,
        caller: &Caller,
        query: &ListQuery,
    ) -> Result<ItemList, Error> {
        let record = self.visible_response(id, caller).await?;
        Ok(list::page(&record.input, query, |s| {
            context::listed(s, query.include_encrypted)
        }))
    }

    /// Resolves the state a create request names: the history of `previous_response_id` or
    /// the items of `conversation` go before the request's own input, and items the client
    /// replays without the provider's blobs get them back from the store. The request is
    /// rewritten to carry its whole context; `previous_response_id` and `conversation` are
    /// taken out of it (they are answered from [`Resolved`]).
    ///
    /// A `previous_response_id` the store does not know is left in the request when
    /// `unknown_goes_upstream` (an upstream that keeps state of its own may know it);
    /// otherwise it is OpenAI's 400 `previous_response_not_found`.
    pub async fn resolve(
        &self,
        request: &mut CreateResponse,
        caller: &Caller,
        unknown_goes_upstream: bool,
    ) -> Result<Resolved, Error> {
        if request.previous_response_id.is_some() && request.conversation.is_some() {
            return Err(Error::invalid_request(
                "Mutually exclusive parameters: provide only one of 'previous_response_id' or \
                 'conversation'.",
                None,
            )
            .with_code("mutually_exclusive_parameters"));
        }
        let mut own = context::input_items(request.input.as_ref());
        let rehydrated = self.rehydrate(&mut own, caller).await?;
        let mut resolved = Resolved {
            own_input: context::with_ids(own.clone()),
            ..Resolved::default()
        };
        let mut context_items = Vec::new();
        if let Some(previous) = request.previous_response_id.clone() {
            let chain = self.store.chain(&previous, MAX_CHAIN).await?;
            match chain.first() {
                Some(head) if caller.may_see(head.owner.as_deref()) => {
                    context_items = context::history(&chain);
                    request.previous_response_id = None;
                    resolved.previous_response_id = Some(previous);
                }
                // The upstream may know it: it goes there as it is.
                _ if unknown_goes_upstream => resolved.previous_response_id = Some(previous),
                _ => return Err(previous_not_found(&previous)),
            }
        }
        if let Some(value) = request.conversation.take() {
            let id = conversation_id(&value)?;
            self.visible_conversation(&id, caller).await?;
            context_items = self
                .store
                .conversation_items(&id)
                .await?
                .into_iter()
                .map(|s| s.item)
                .collect();
            resolved.conversation_id = Some(id);
        }
        if !context_items.is_empty() || resolved.conversation_id.is_some() {
            context_items.extend(own);
            request.input = Some(Input::Items(context_items));
        } else if rehydrated {
            request.input = Some(Input::Items(own));
        }
        Ok(resolved)
    }

    /// Gives replayed items back what the store knows of them: a reasoning item sent by id
    /// without its blob, an `item_reference`, a tool call sent without the reasoning that
    /// preceded it (a hand-written loop replays only `call_id`, `name` and `arguments`).
    /// Returns true when an item changed.
    async fn rehydrate(&self, items: &mut Vec<Item>, caller: &Caller) -> Result<bool, Error> {
        let owner = Self::scope(caller);
        let needs = |item: &Item| match item {
            Item::Reasoning(r) => r.encrypted_content.is_none() && r.id.is_some(),
            Item::ItemReference(_) | Item::FunctionCall(_) | Item::CustomToolCall(_) => true,
            _ => false,
        };
        if !items.iter().any(needs) {
            return Ok(false);
        }
        let before = items.clone();
        let mut out = Vec::with_capacity(items.len());
        for item in std::mem::take(items) {
            match item {
                Item::Reasoning(mut r) if r.encrypted_content.is_none() && r.id.is_some() => {
                    let id = r.id.clone().unwrap_or_default();
                    if let Some(Item::Reasoning(stored)) =
                        self.store.find_output_item(&id, owner).await?
                    {
                        r.encrypted_content = stored.encrypted_content;
                    }
                    out.push(Item::Reasoning(r));
                }
                Item::ItemReference(reference) => {
                    match self.store.find_output_item(&reference.id, owner).await? {
                        Some(found) => out.push(found),
                        None => out.push(Item::ItemReference(reference)),
                    }
                }
                mut call @ (Item::FunctionCall(_) | Item::CustomToolCall(_)) => {
                    let preceded = matches!(out.last(), Some(Item::Reasoning(_)));
                    if let Some(id) = call_id(&call).map(str::to_string) {
                        let found = self.store.find_call(&id, owner).await?.unwrap_or_default();
                        if !preceded {
                            out.extend(reasoning_before_call(&found, &out));
                        }
                        if let Some(stored) = found.last() {
                            restore_call_state(&mut call, stored);
                        }
                    }
                    out.push(call);
                }
                other => out.push(other),
            }
        }
        *items = out;
        Ok(*items != before)
    }

    /// The record to store for a finished response.
    pub fn record(
        &self,
        response: &Response,
        resolved: &Resolved,
        caller: &Caller,
    ) -> ResponseRecord {
        let mut response = response.clone();
        response
            .previous_response_id
            .clone_from(&resolved.previous_response_id);
        ResponseRecord {
            response,
            input: resolved.own_input.clone(),
            owner: caller.owner(),
            conversation_id: resolved.conversation_id.clone(),
            expires_at: now().saturating_add(self.retention_secs),
            lease_until: None,
            json: None,
        }
    }

    /// Stores a finished response (and appends it to its conversation).
    pub async fn save(&self, record: ResponseRecord) -> Result<(), Error> {
        self.store.save_response(record).await.map_err(Error::from)
    }

    async fn visible_conversation(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<ConversationRecord, Error> {
        match self.store.conversation(id).await? {
            Some(c) if caller.may_see(c.owner.as_deref()) => Ok(c),
            _ => Err(not_found("Conversation", id)),
        }
    }

    /// `POST /conversations`.
    pub async fn create_conversation(
        &self,
        items: Vec<Item>,
        metadata: JsonMap,
        caller: &Caller,
    ) -> Result<ConversationObject, Error> {
        check_metadata(&metadata)?;
        check_count(items.len())?;
        let record = ConversationRecord {
            id: format!("conv_{}", ids::random_hex(24)),
            created_at: now(),
            metadata,
            owner: caller.owner(),
        };
        self.store
            .create_conversation(record.clone(), context::with_ids(items))
            .await?;
        Ok(record.into())
    }

    /// `GET /conversations/{id}`.
    pub async fn conversation(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<ConversationObject, Error> {
        Ok(self.visible_conversation(id, caller).await?.into())
    }

    /// `POST /conversations/{id}`: replaces the metadata.
    pub async fn update_conversation(
        &self,
        id: &str,
        metadata: JsonMap,
        caller: &Caller,
    ) -> Result<ConversationObject, Error> {
        check_metadata(&metadata)?;
        let mut record = self.visible_conversation(id, caller).await?;
        self.store.update_conversation(id, metadata.clone()).await?;
        record.metadata = metadata;
        Ok(record.into())
    }

    /// `DELETE /conversations/{id}`.
    pub async fn delete_conversation(&self, id: &str, caller: &Caller) -> Result<Value, Error> {
        self.visible_conversation(id, caller).await?;
        self.store.delete_conversation(id).await?;
        Ok(serde_json::json!({"id": id, "object": "conversation.deleted", "deleted": true}))
    }

    /// `POST /conversations/{id}/items`: answers the created items.
    pub async fn add_items(
        &self,
        id: &str,
        items: Vec<Item>,
        caller: &Caller,
        include_encrypted: bool,
    ) -> Result<ItemList, Error> {
        check_count(items.len())?;
        self.visible_conversation(id, caller).await?;
        let stored = context::with_ids(items);
        if !self.store.append_items(id, stored.clone()).await? {
            return Err(not_found("Conversation", id));
        }
        let query = ListQuery {
            limit: stored.len().max(1),
            order: list::Order::Asc,
            ..ListQuery::default()
        };
        Ok(list::page(&stored, &query, |s| {
            context::listed(s, include_encrypted)
        }))
    }

    /// `GET /conversations/{id}/items`.
    pub async fn list_items(
        &self,
        id: &str,
        caller: &Caller,
        query: &ListQuery,
    ) -> Result<ItemList, Error> {
        self.visible_conversation(id, caller).await?;
        let items = self.store.conversation_items(id).await?;
        Ok(list::page(&items, query, |s| {
            context::listed(s, query.include_encrypted)
        }))
    }

    /// `GET /conversations/{id}/items/{item_id}`.
    pub async fn item(
        &self,
        id: &str,
        item: &str,
        caller: &Caller,
        include_encrypted: bool,
    ) -> Result<Item, Error> {
        self.visible_conversation(id, caller).await?;
        self.store
            .conversation_items(id)
            .await?
            .iter()
            .find(|s| s.id == item)
            .map(|s| context::listed(s, include_encrypted))
            .ok_or_else(|| not_found("Item", item))
    }

    /// `DELETE /conversations/{id}/items/{item_id}`: answers the conversation.
    pub async fn delete_item(
        &self,
        id: &str,
        item: &str,
        caller: &Caller,
    ) -> Result<ConversationObject, Error> {
        let record = self.visible_conversation(id, caller).await?;
        if !self.store.delete_item(id, item).await? {
            return Err(not_found("Item", item));
        }
        Ok(record.into())
    }

    /// Forgets expired responses.
    pub async fn purge(&self) -> Result<u64, Error> {
        self.store.purge_expired(now()).await.map_err(Error::from)
    }
}

/// The reasoning items stored before a call (`found` ends with the call), minus those the
/// request already carries.
fn reasoning_before_call(found: &[Item], already: &[Item]) -> Vec<Item> {
    let present =
        |id: Option<&str>| id.is_some_and(|id| already.iter().any(|i| item_id(i) == Some(id)));
    found
        .iter()
        .filter(|i| matches!(i, Item::Reasoning(r) if r.encrypted_content.is_some()))
        .filter(|i| !present(item_id(i)))
        .cloned()
        .collect()
}

/// Copies the provider state the gateway kept with a stored call onto the client's replay
/// of it (which never carries it: clients are not shown it).
fn restore_call_state(call: &mut Item, stored: &Item) {
    let state = match stored {
        Item::FunctionCall(c) => c.extra.get(CALL_STATE),
        Item::CustomToolCall(c) => c.extra.get(CALL_STATE),
        _ => None,
    };
    let Some(state) = state.cloned() else { return };
    let extra = match call {
        Item::FunctionCall(c) => &mut c.extra,
        Item::CustomToolCall(c) => &mut c.extra,
        _ => return,
    };
    extra.entry(CALL_STATE).or_insert(state);
}

fn check_metadata(metadata: &JsonMap) -> Result<(), Error> {
    match metadata_problem(metadata) {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_request(
            format!("Invalid 'metadata': {problem}."),
            Some("metadata"),
        )
        .with_code("invalid_value")),
    }
}

fn check_count(n: usize) -> Result<(), Error> {
    if n > MAX_ITEMS_PER_CALL {
        return Err(Error::invalid_request(
            format!("Invalid 'items': at most {MAX_ITEMS_PER_CALL} items at once, got {n}."),
            Some("items"),
        )
        .with_code("invalid_value"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::state::MemoryStore;
    use serde_json::json;

    fn state() -> State {
        State::new(Arc::new(MemoryStore::default()), 30)
    }

    fn request(value: Value) -> CreateResponse {
        serde_json::from_value(value).unwrap()
    }

    fn response(id: &str, output: Value) -> Response {
        serde_json::from_value(json!({"id": id, "object": "response", "created_at": 1,
            "status": "completed", "model": "m", "output": output}))
        .unwrap()
    }

    fn texts(request: &CreateResponse) -> Vec<String> {
        let Some(Input::Items(items)) = &request.input else {
            panic!("items expected")
        };
        items
            .iter()
            .map(|i| {
                serde_json::to_value(i).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_chain_stands_for_every_earlier_input_and_output() {
        let state = state();
        let caller = Caller::admin();
        let mut first = request(json!({"model": "m", "input": "hi", "instructions": "be brief"}));
        let resolved = state.resolve(&mut first, &caller, false).await.unwrap();
        let out = json!([{"type": "function_call", "id": "fc_1", "call_id": "call_1",
            "name": "f", "arguments": "{}"}]);
        state
            .save(state.record(&response("resp_1", out), &resolved, &caller))
            .await
            .unwrap();

        let mut second = request(json!({"model": "m", "previous_response_id": "resp_1",
            "input": [{"type": "function_call_output", "call_id": "call_1", "output": "4"}]}));
        let resolved = state.resolve(&mut second, &caller, false).await.unwrap();
        assert_eq!(resolved.previous_response_id.as_deref(), Some("resp_1"));
        assert_eq!(second.previous_response_id, None);
        assert_eq!(
            texts(&second),
            ["message", "function_call", "function_call_output"]
        );
        // Its own input is only the new item.
        assert_eq!(resolved.own_input.len(), 1);

        let mut unknown =
            request(json!({"model": "m", "previous_response_id": "resp_x", "input": "x"}));
        let e = state
            .resolve(&mut unknown, &caller, false)
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("previous_response_not_found"));
        assert_eq!(e.param.as_deref(), Some("previous_response_id"));
        assert_eq!(e.status(), 400);
    }

    #[tokio::test]
    async fn other_keys_cannot_see_or_continue_a_response() {
        let state = state();
        let alice = Caller {
            key_hash: Some("alice".into()),
            admin: false,
        };
        let bob = Caller {
            key_hash: Some("bob".into()),
            admin: false,
        };
        let mut r = request(json!({"model": "m", "input": "hi"}));
        let resolved = state.resolve(&mut r, &alice, false).await.unwrap();
        state
            .save(state.record(&response("resp_a", json!([])), &resolved, &alice))
            .await
            .unwrap();
        assert!(state.retrieve("resp_a", &alice, false).await.is_ok());
        assert!(
            state
                .retrieve("resp_a", &Caller::admin(), false)
                .await
                .is_ok()
        );
        let e = state.retrieve("resp_a", &bob, false).await.unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(e.message, "Response with id 'resp_a' not found.");
        let mut cont =
            request(json!({"model": "m", "previous_response_id": "resp_a", "input": "x"}));
        assert!(state.resolve(&mut cont, &bob, false).await.is_err());
    }

    #[tokio::test]
    async fn a_bare_replayed_call_gets_its_reasoning_back() {
        let state = state();
        let caller = Caller::admin();
        let mut r = request(json!({"model": "m", "input": "hi"}));
        let resolved = state.resolve(&mut r, &caller, false).await.unwrap();
        let out = json!([
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "swy1.gemini.sig"},
            {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "f", "arguments": "{}"}
        ]);
        state
            .save(state.record(&response("resp_1", out), &resolved, &caller))
            .await
            .unwrap();
        // A hand-written loop: the call alone, then its output, no previous_response_id.
        let mut next = request(json!({"model": "m", "store": false, "input": [
            {"role": "user", "content": "hi"},
            {"type": "function_call", "call_id": "call_9", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_9", "output": "4"}
        ]}));
        state.resolve(&mut next, &caller, false).await.unwrap();
        let Some(Input::Items(items)) = &next.input else {
            panic!()
        };
        let Item::Reasoning(reasoning) = &items[1] else {
            panic!("reasoning restored before the call: {items:?}")
        };
        assert_eq!(
            reasoning.encrypted_content.as_deref(),
            Some("swy1.gemini.sig")
        );
        assert!(matches!(items[2], Item::FunctionCall(_)));

        // A reasoning item replayed by id without its blob gets the blob.
        let mut by_id = request(json!({"model": "m", "input": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "call_9", "name": "f", "arguments": "{}"}
        ]}));
        state.resolve(&mut by_id, &caller, false).await.unwrap();
        let Some(Input::Items(items)) = &by_id.input else {
            panic!()
        };
        assert_eq!(items.len(), 2, "no duplicate reasoning: {items:?}");
        let Item::Reasoning(reasoning) = &items[0] else {
            panic!()
        };
        assert_eq!(
            reasoning.encrypted_content.as_deref(),
            Some("swy1.gemini.sig")
        );
    }

    #[tokio::test]
    async fn conversations_collect_each_response() {
        let state = state();
        let caller = Caller::admin();
        let conv = state
            .create_conversation(Vec::new(), JsonMap::new(), &caller)
            .await
            .unwrap();
        let mut r = request(json!({"model": "m", "conversation": conv.id, "input": "hi"}));
        let resolved = state.resolve(&mut r, &caller, false).await.unwrap();
        assert_eq!(resolved.conversation_id.as_deref(), Some(conv.id.as_str()));
        let out = json!([{"type": "message", "id": "msg_out", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "hello", "annotations": []}]}]);
        state
            .save(state.record(&response("resp_c", out), &resolved, &caller))
            .await
            .unwrap();
        let query = ListQuery {
            limit: 20,
            order: list::Order::Asc,
            ..ListQuery::default()
        };
        let items = state.list_items(&conv.id, &caller, &query).await.unwrap();
        assert_eq!(items.data.len(), 2);
        let mut next =
            request(json!({"model": "m", "conversation": {"id": conv.id}, "input": "again"}));
        state.resolve(&mut next, &caller, false).await.unwrap();
        assert_eq!(texts(&next), ["message", "message", "message"]);
        let both = request(json!({"model": "m", "conversation": conv.id,
            "previous_response_id": "resp_c", "input": "x"}));
        let e = state
            .resolve(&mut both.clone(), &caller, false)
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("mutually_exclusive_parameters"));
        let e = state
            .conversation("conv_missing", &caller)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 404);
    }

    #[tokio::test]
    async fn a_connection_keeps_its_unstored_responses_to_itself() {
        let shared = state();
        let connection = shared.for_connection();
        let caller = Caller::admin();
        let mut r = request(json!({"model": "m", "input": "hi", "store": false}));
        let resolved = connection.resolve(&mut r, &caller, false).await.unwrap();
        let mut unstored = response("resp_ws", json!([]));
        unstored.store = false;
        connection
            .save(connection.record(&unstored, &resolved, &caller))
            .await
            .unwrap();
        let mut next = request(json!({"model": "m", "previous_response_id": "resp_ws",
            "input": "more", "store": false}));
        connection.resolve(&mut next, &caller, false).await.unwrap();
        assert_eq!(texts(&next), ["message", "message"]);
        // Nothing reached the gateway's store.
        assert!(shared.retrieve("resp_ws", &caller, false).await.is_err());
        let mut elsewhere =
            request(json!({"model": "m", "previous_response_id": "resp_ws", "input": "x"}));
        assert!(
            shared
                .resolve(&mut elsewhere, &caller, false)
                .await
                .is_err()
        );
        // A stored response of the connection is in both.
        let stored = response("resp_kept", json!([]));
        connection
            .save(connection.record(&stored, &resolved, &caller))
            .await
            .unwrap();
        assert!(shared.retrieve("resp_kept", &caller, false).await.is_ok());
    }
}
