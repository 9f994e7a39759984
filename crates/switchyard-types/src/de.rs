//! Deserialisation helpers shared by the wire types.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Treats an explicit JSON `null` exactly like an absent field.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A field that is there (outer `Some`), `null` included (inner `None`): the one-pass reads
/// tell a `null` field, which the ordinary parse keeps in a flattened `extra`, from an absent one.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Accepts a JSON string, or any other JSON value which is then rendered as compact JSON text.
/// Tool-call arguments are strings on the wire, but some clients send the object itself.
pub(crate) fn string_or_json<'de, D>(d: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Option::<Value>::deserialize(d)? {
        None => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    })
}

/// Accepts an integer, or a string holding one (some servers send numeric codes as text and
/// vice versa), and yields it as a string.
pub(crate) fn opt_string_or_number<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// Reads a non-negative token count leniently: null, negative or fractional values never fail
/// a whole response over accounting noise.
pub(crate) fn lenient_u64<'de, D>(d: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f > 0.0).map(|f| f as u64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

/// A bare string or a list, as [`text_or_list`] read it.
pub(crate) enum TextOrList<T> {
    Text(String),
    List(Vec<T>),
}

/// Reads a bare string or a list of `T` by what the value is: the `untagged` enum of the two
/// (`enum_name`) accepts and refuses the same values, with the same message, but buffers the
/// whole value first and tries the string first, formatting an error for every list.
pub(crate) fn text_or_list<'de, D, T>(
    d: D,
    enum_name: &'static str,
) -> Result<TextOrList<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_any(TextOrListVisitor(enum_name, std::marker::PhantomData))
}

struct TextOrListVisitor<T>(&'static str, std::marker::PhantomData<T>);

impl<T> TextOrListVisitor<T> {
    fn mismatch<E: serde::de::Error>(&self) -> Result<TextOrList<T>, E> {
        Err(E::custom(format_args!(
            "data did not match any variant of untagged enum {}",
            self.0
        )))
    }
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for TextOrListVisitor<T> {
    type Value = TextOrList<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a string or a list")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(TextOrList::Text(text.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(TextOrList::Text(text))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // serde's own bound on a preallocation from an untrusted hint.
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(element) = seq.next_element()? {
            list.push(element);
        }
        Ok(TextOrList::List(list))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.mismatch()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.mismatch()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.mismatch()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.mismatch()
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.mismatch()
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.mismatch()
    }
}

/// What [`parse_tagged`] made of an object.
pub(crate) enum Tagged<T> {
    /// A known `type`, well formed.
    Typed(T),
    /// Not an object, no `type`, or a `type` without a typed form: the value, unchanged.
    Other(Value),
    /// A known `type` whose shape does not fit: the value, unchanged, and why.
    Invalid(Value, serde_json::Error),
}

/// Parses an object discriminated by `type`. `implied` names the type of an object without
/// one; `typed` deserialises the object (without its `type`) for the types it knows and
/// returns `None` for the others.
///
/// The typed form is read from a borrowed value, so a malformed or unknown object is given
/// back whole without a copy having been kept for that (rare) case.
pub(crate) fn parse_tagged<T>(
    value: Value,
    implied: impl FnOnce(&crate::JsonMap) -> Option<&'static str>,
    typed: impl FnOnce(&str, &Value) -> Option<Result<T, serde_json::Error>>,
) -> Tagged<T> {
    use serde::de::Error;
    let (tag, map) = match split_tag(value) {
        Ok(parts) => parts,
        Err(other) => return Tagged::Other(other),
    };
    let Some(kind) = tag.as_deref().or_else(|| implied(&map)) else {
        return Tagged::Invalid(
            Value::Object(map),
            serde_json::Error::custom("missing `type`"),
        );
    };
    let object = Value::Object(map);
    let result = typed(kind, &object);
    let whole = |object: Value| match (object, tag) {
        (Value::Object(mut map), Some(tag)) => {
            map.insert("type".into(), Value::String(tag));
            Value::Object(map)
        }
        (object, _) => object,
    };
    match result {
        Some(Ok(typed)) => Tagged::Typed(typed),
        Some(Err(error)) => Tagged::Invalid(whole(object), error),
        None => Tagged::Other(whole(object)),
    }
}

/// Removes the `type` key from an object and returns it with the remaining map, so that an
/// inner struct with a flattened `extra` map does not capture the tag.
pub(crate) fn split_tag(value: Value) -> Result<(Option<String>, crate::JsonMap), Value> {
    match value {
        Value::Object(mut map) => {
            let tag = match map.shift_remove("type") {
                Some(Value::String(s)) => Some(s),
                Some(other) => {
                    map.insert("type".into(), other);
                    return Err(Value::Object(map));
                }
                None => None,
            };
            Ok((tag, map))
        }
        other => Err(other),
    }
}
