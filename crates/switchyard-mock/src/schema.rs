//! Minimal values that satisfy a JSON Schema: used for tool-call arguments and for JSON answers.
//!
//! Only `required` properties are filled (strict schemas require all of them anyway), with fixed
//! values per type: string `"x"`, number and integer `1`, boolean `true`, array `[]`, and
//! objects recursively. `enum`/`const` win over the type, unions take their first branch and local
//! `$ref`s are followed, so the value is valid for the schemas real clients send.

use serde_json::{Map, Value};

/// Depth beyond which nested objects are left empty (guards against recursive `$ref`s).
const MAX_DEPTH: usize = 8;

/// An object holding the `required` properties of `schema` (an object schema).
pub(crate) fn required_object(schema: &Value) -> Map<String, Value> {
    match value_for(schema, schema, 0) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A value valid for `schema`; `root` resolves `#/…` references.
pub(crate) fn value_for(schema: &Value, root: &Value, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return Value::String("x".into());
    };
    if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
        return match resolve(root, target) {
            Some(resolved) if depth < MAX_DEPTH => value_for(resolved, root, depth + 1),
            _ => Value::Object(Map::new()),
        };
    }
    if let Some(value) = obj.get("const") {
        return value.clone();
    }
    if let Some(first) = obj
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for union in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = obj
            .get(union)
            .and_then(Value::as_array)
            .and_then(|u| u.first())
        {
            return value_for(first, root, depth + 1);
        }
    }
    let kind = match obj.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        // `["string", "null"]`: the first non-null type.
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        _ if obj.contains_key("properties") => "object",
        _ => "string",
    };
    match kind {
        "number" | "integer" => Value::from(1),
        "boolean" => Value::Bool(true),
        "array" => Value::Array(Vec::new()),
        "null" => Value::Null,
        "object" => Value::Object(object_for(obj, root, depth)),
        _ => Value::String("x".into()),
    }
}

fn object_for(obj: &Map<String, Value>, root: &Value, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    if depth >= MAX_DEPTH {
        return out;
    }
    let properties = obj.get("properties").and_then(Value::as_object);
    let required = obj.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let value = properties
            .and_then(|p| p.get(name))
            .map_or(Value::String("x".into()), |s| value_for(s, root, depth + 1));
        out.insert(name.to_string(), value);
    }
    out
}

/// Follows a local JSON pointer reference (`#/$defs/Name`).
fn resolve<'a>(root: &'a Value, target: &str) -> Option<&'a Value> {
    root.pointer(target.strip_prefix('#')?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_required_properties_by_type() {
        let schema = json!({"type": "object", "properties": {
            "s": {"type": "string"}, "n": {"type": "number"}, "i": {"type": "integer"},
            "b": {"type": "boolean"}, "a": {"type": "array", "items": {"type": "string"}},
            "o": {"type": "object", "properties": {"deep": {"type": "string"}}, "required": ["deep"]},
            "e": {"type": "string", "enum": ["low", "high"]}, "opt": {"type": "string"},
            "u": {"type": ["integer", "null"]}, "r": {"$ref": "#/$defs/Unit"}},
            "required": ["s", "n", "i", "b", "a", "o", "e", "u", "r"],
            "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}}});
        assert_eq!(
            Value::Object(required_object(&schema)),
            json!({"s": "x", "n": 1, "i": 1, "b": true, "a": [], "o": {"deep": "x"},
                "e": "low", "u": 1, "r": "c"})
        );
    }

    #[test]
    fn recursive_refs_terminate() {
        let schema = json!({"$ref": "#/$defs/Node", "$defs": {"Node": {"type": "object",
            "properties": {"next": {"$ref": "#/$defs/Node"}}, "required": ["next"]}}});
        let value = value_for(&schema, &schema, 0);
        assert!(value.is_object());
    }
}
