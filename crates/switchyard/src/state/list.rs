//! Cursor pages of items, as `GET /responses/{id}/input_items` and
//! `GET /conversations/{id}/items` answer them.

use serde::Serialize;
use switchyard_types::responses::Item;

use super::StoredItem;
use crate::error::Error;

/// The most items one page holds.
pub const MAX_LIMIT: usize = 100;
/// Items per page when the client says nothing.
pub const DEFAULT_LIMIT: usize = 20;

/// Listing order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the API's default).
    #[default]
    Desc,
}

/// What page a client asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Items after this id, in the listing's order.
    pub after: Option<String>,
    /// Items before this id, in the listing's order (older clients send it).
    pub before: Option<String>,
    /// At most this many (1 to [`MAX_LIMIT`]).
    pub limit: usize,
    /// The order.
    pub order: Order,
    /// Show reasoning blobs (`include=reasoning.encrypted_content`).
    pub include_encrypted: bool,
}

impl ListQuery {
    /// Reads `after`, `before`, `limit`, `order` and `include` (or `include[]`, repeated) from
    /// decoded query pairs; a bad value is a 400 naming it.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Error> {
        let mut query = ListQuery {
            limit: DEFAULT_LIMIT,
            ..ListQuery::default()
        };
        for (key, value) in pairs {
            match key {
                "after" if !value.is_empty() => query.after = Some(value.to_string()),
                "before" if !value.is_empty() => query.before = Some(value.to_string()),
                "limit" => {
                    query.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            Error::invalid_request(
                                format!(
                                    "Invalid 'limit': expected an integer between 1 and \
                                     {MAX_LIMIT}, got '{}'.",
                                    crate::text::echo(value)
                                ),
                                Some("limit"),
                            )
                            .with_code("invalid_value")
                        })?;
                }
                "order" => {
                    query.order = match value {
                        "asc" => Order::Asc,
                        "desc" => Order::Desc,
                        other => {
                            return Err(Error::invalid_request(
                                format!(
                                    "Invalid 'order': expected 'asc' or 'desc', got '{}'.",
                                    crate::text::echo(other)
                                ),
                                Some("order"),
                            )
                            .with_code("invalid_value"));
                        }
                    }
                }
                "include" | "include[]" => {
                    query.include_encrypted |= value == "reasoning.encrypted_content";
                }
                _ => {}
            }
        }
        Ok(query)
    }
}

/// One page: OpenAI's list envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemList {
    /// Always `list`.
    pub object: &'static str,
    /// The items of the page.
    pub data: Vec<Item>,
    /// The id of the first item of the page (`null` when empty).
    pub first_id: Option<String>,
    /// The id of the last item of the page (`null` when empty); the next page is the one
    /// `after` it.
    pub last_id: Option<String>,
    /// More items follow.
    pub has_more: bool,
}

/// The page `query` asks for of `items` (oldest first), each shown by `show`. A cursor that
/// names no item of the list starts nowhere: the page is empty.
pub fn page(
    items: &[StoredItem],
    query: &ListQuery,
    show: impl Fn(&StoredItem) -> Item,
) -> ItemList {
    let ordered: Vec<&StoredItem> = match query.order {
        Order::Asc => items.iter().collect(),
        Order::Desc => items.iter().rev().collect(),
    };
    let position = |id: &str| ordered.iter().position(|s| s.id == id);
    let start = match &query.after {
        Some(after) => position(after).map_or(ordered.len(), |i| i + 1),
        None => 0,
    };
    let end = match &query.before {
        Some(before) => position(before).unwrap_or(0),
        None => ordered.len(),
    };
    let window = if start < end {
        &ordered[start..end]
    } else {
        &[][..]
    };
    let taken = &window[..window.len().min(query.limit.max(1))];
    ItemList {
        object: "list",
        data: taken.iter().map(|s| show(s)).collect(),
        first_id: taken.first().map(|s| s.id.clone()),
        last_id: taken.last().map(|s| s.id.clone()),
        has_more: window.len() > taken.len(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::context::with_ids;
    use serde_json::json;

    fn items(n: usize) -> Vec<StoredItem> {
        with_ids(
            (0..n)
                .map(|i| {
                    serde_json::from_value(json!({"type": "message", "id": format!("msg_{i}"),
                        "role": "user", "content": format!("m{i}")}))
                    .unwrap()
                })
                .collect(),
        )
    }

    fn ids(list: &ItemList) -> Vec<String> {
        list.data
            .iter()
            .map(|i| crate::state::context::item_id(i).unwrap().to_string())
            .collect()
    }

    #[test]
    fn pages_follow_after_in_either_order() {
        let all = items(5);
        let show = |s: &StoredItem| s.item.clone();
        let mut query = ListQuery {
            limit: 2,
            ..ListQuery::default()
        };
        let first = page(&all, &query, show);
        assert_eq!(ids(&first), ["msg_4", "msg_3"]);
        assert!(first.has_more);
        query.after = first.last_id.clone();
        let second = page(&all, &query, show);
        assert_eq!(ids(&second), ["msg_2", "msg_1"]);
        query.after = second.last_id.clone();
        let last = page(&all, &query, show);
        assert_eq!(ids(&last), ["msg_0"]);
        assert!(!last.has_more);

        let asc = ListQuery {
            order: Order::Asc,
            before: Some("msg_3".into()),
            limit: 20,
            ..ListQuery::default()
        };
        assert_eq!(ids(&page(&all, &asc, show)), ["msg_0", "msg_1", "msg_2"]);
        let empty = page(&[], &ListQuery::default(), show);
        assert_eq!((empty.first_id, empty.has_more), (None, false));
    }

    #[test]
    fn queries_are_checked() {
        let q = ListQuery::from_pairs([
            ("limit", "5"),
            ("order", "asc"),
            ("include[]", "reasoning.encrypted_content"),
        ])
        .unwrap();
        assert_eq!(
            (q.limit, q.order, q.include_encrypted),
            (5, Order::Asc, true)
        );
        assert_eq!(ListQuery::from_pairs([]).unwrap().limit, DEFAULT_LIMIT);
        let e = ListQuery::from_pairs([("limit", "500")]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limit"));
        let e = ListQuery::from_pairs([("order", "up")]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("order"));
    }
}
