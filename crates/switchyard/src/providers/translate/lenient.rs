//! Field readers for the typed views of upstream answers, as forgiving as the upstreams need:
//! a field of the wrong type counts as absent (or empty) instead of failing the whole answer.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A string field; any other value (`null`, a number) counts as absent.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// A non-negative integer field; any other value counts as absent.
pub(crate) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Value::deserialize(d)?.as_u64())
}

/// A field of any JSON value, `null` included (plain `Option<Value>` reads `null` as absent).
pub(crate) fn any<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// An object field that counts as there whatever its value: one that does not read as `T`
/// (`null`, a string) is an empty `T`.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(Some(read(Value::deserialize(d)?)))
}

/// An object field where `null` means absent; any other value that does not read as `T` is an
/// empty `T`.
pub(crate) fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(Option::<Value>::deserialize(d)?.map(read))
}

/// A list field that must be an array; an element that does not read as `T` is an empty `T`.
pub(crate) fn elements<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(Vec::<Value>::deserialize(d)?
        .into_iter()
        .map(read)
        .collect())
}

/// A list field; anything but an array counts as empty, and elements read as [`elements`]
/// reads them.
pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(list_or_none(d)?.unwrap_or_default())
}

/// A list field that may be missing: `None` unless it is an array, whose elements read as
/// [`elements`] reads them.
pub(crate) fn list_or_none<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => Some(items.into_iter().map(read).collect()),
        _ => None,
    })
}

/// `value` as a `T`, or an empty `T` when it does not read as one.
fn read<T: DeserializeOwned + Default>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_default()
}
