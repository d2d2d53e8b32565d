//! Pass 2 of validation: check each gathered value against its attribute definition (RFC 7643 §2.3 types)
//! and bring it to the stored form, tolerating the shapes Entra sends (see the module doc of `resource`).

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde_json::{Map, Value};

use crate::ScimError;
use crate::schema::{AttributeDef, AttributeType, Mutability};

/// Parses an RFC 7643 §2.3.5 dateTime: RFC 3339, or xsd:dateTime without an offset (read as UTC).
pub fn parse_date_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok().or_else(|| {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|naive| naive.and_utc().fixed_offset())
    })
}

/// Cleans one attribute value; `None` means absent.
pub(super) fn clean_attr(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    if def.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    if def.multi_valued {
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            if let Some(item) = clean_single(def, item, &format!("{path}[{index}]"))? {
                out.push(item);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        if def.attr_type == AttributeType::Complex {
            let primaries = out
                .iter()
                .filter(|item| item.get("primary") == Some(&Value::Bool(true)))
                .count();
            if primaries > 1 {
                return Err(ScimError::InvalidValue(format!(
                    "attribute {path} has {primaries} values with primary true; at most one is allowed"
                )));
            }
        }
        return Ok(Some(Value::Array(out)));
    }
    let value = match value {
        Value::Array(mut items) if items.len() <= 1 => match items.pop() {
            Some(item) => item,
            None => return Ok(None),
        },
        Value::Array(items) => {
            return Err(ScimError::InvalidValue(format!(
                "attribute {path} is single-valued but {} values were sent",
                items.len()
            )));
        }
        other => other,
    };
    clean_single(def, value, path)
}

/// Cleans one value (one element of a multi-valued attribute) against the attribute's type.
fn clean_single(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    let type_error = |expected: &str| {
        Err(ScimError::InvalidValue(format!(
            "attribute {path} must be {expected}"
        )))
    };
    match (def.attr_type, value) {
        (_, Value::Null) => Ok(None),
        (AttributeType::Complex, value) => clean_complex(def, value, path),
        // Older Entra builds send a simple attribute as `[{"$ref": null, "value": "User x"}]`
        // (entra-requests.md §4 item 8); the array is unwrapped by the caller, the object here.
        (_, Value::Object(object)) => match object.into_iter().find(|(k, _)| k.eq_ignore_ascii_case("value"))
        {
            Some((_, inner)) if !inner.is_object() && !inner.is_array() => clean_single(def, inner, path),
            Some(_) | None => type_error(simple_type_name(def.attr_type)),
        },
        (AttributeType::String | AttributeType::Reference | AttributeType::Binary, value) => match value {
            Value::String(_) => Ok(Some(value)),
            _ => type_error(simple_type_name(def.attr_type)),
        },
        (AttributeType::Boolean, value) => match value {
            Value::Bool(_) => Ok(Some(value)),
            Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => type_error(simple_type_name(def.attr_type)),
        },
        (AttributeType::Integer, value) => match &value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(value)),
            _ => type_error(simple_type_name(def.attr_type)),
        },
        (AttributeType::Decimal, value) => match value {
            Value::Number(_) => Ok(Some(value)),
            _ => type_error(simple_type_name(def.attr_type)),
        },
        (AttributeType::DateTime, value) => match &value {
            Value::String(text) if parse_date_time(text).is_some() => Ok(Some(value)),
            _ => type_error(simple_type_name(def.attr_type)),
        },
    }
}

fn simple_type_name(attr_type: AttributeType) -> &'static str {
    match attr_type {
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => "a string",
        AttributeType::Boolean => "a boolean",
        AttributeType::Integer => "an integer",
        AttributeType::Decimal => "a decimal number",
        AttributeType::DateTime => "a dateTime (RFC 3339, e.g. 2024-05-01T12:00:00Z)",
        AttributeType::Complex => "a complex object",
    }
}

fn clean_complex(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    let object = match value {
        Value::Object(object) => object,
        // A bare id for a complex attribute with a `value` sub-attribute (e.g. `"manager": "123"`).
        scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) => match def.sub_attribute("value") {
            Some(value_def) => Map::from_iter([(value_def.name.clone(), scalar)]),
            None => {
                return Err(ScimError::InvalidValue(format!(
                    "attribute {path} must be a complex object"
                )));
            }
        },
        _ => {
            return Err(ScimError::InvalidValue(format!(
                "attribute {path} must be a complex object"
            )));
        }
    };
    let mut out = Map::new();
    for (key, value) in object {
        let Some(sub) = def.sub_attribute(&key) else {
            continue;
        };
        let sub_path = format!("{path}.{}", sub.name);
        if let Some(value) = clean_attr(sub, value, &sub_path)? {
            if out.contains_key(&sub.name) {
                return Err(ScimError::InvalidSyntax(format!(
                    "attribute {sub_path} is given more than once"
                )));
            }
            out.insert(sub.name.clone(), value);
        }
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_parse_with_or_without_offset() {
        assert!(parse_date_time("2024-05-01T12:00:00Z").is_some());
        assert!(parse_date_time("2024-05-01T12:00:00.123+02:00").is_some());
        assert!(parse_date_time("2024-05-01T12:00:00").is_some());
        assert!(parse_date_time("2024-05-01").is_none());
        assert!(parse_date_time("not a date").is_none());
    }
}
