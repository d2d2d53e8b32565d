//! Coercing PATCH values to the type of the attribute they are written to (RFC 7643 §2.3).
//!
//! Strategy: accept the shapes identity providers are known to send and turn them into the canonical JSON
//! for the attribute's definition, or refuse with `invalidValue` naming the attribute. Everything else is
//! stored exactly as sent ("store values exactly as sent", entra-requests.md §2): strings are not trimmed
//! or case-folded.
//! - `"True"` / `"False"` in any case become booleans (entra-requests.md §4 item 2).
//! - A one-element array around a single value is unwrapped (item 8: `manager` as
//!   `[{"$ref":…,"value":…}]`); a `{"value": …}` object sent for a simple attribute is unwrapped (old
//!   clients sent `displayName` as `[{"$ref":null,"value":"x"}]`).
//! - A bare string for a complex attribute with a `value` sub-attribute becomes `{"value": s}` (enterprise
//!   `manager` as a plain id).
//! - Null sub-attributes (`"$ref": null`, item 9) are dropped, as are readOnly sub-attributes
//!   (`manager.displayName`, RFC 7643 §4.3) and unknown ones (as on POST). Sub-attribute keys are written
//!   in the schema's case (`"Primary"` → `primary`, item 14).
//! - Integers and decimals may arrive as numeric strings.
//! - Role values that are JSON-encoded strings (item 10) are strings to the schema and are stored as sent;
//!   decoding them would guess at a structure the schema does not declare.

use serde_json::{Map, Number, Value};

use crate::ScimError;
use crate::schema::{AttributeDef, AttributeType, Mutability};

/// Coerces a value for a whole attribute: a list for a multi-valued one, a single value otherwise.
/// `None` means "no value" (null, an empty array for a single-valued attribute, an object of nulls).
/// For a multi-valued attribute a lone element is accepted as a list of one.
pub(super) fn attribute_value(def: &AttributeDef, value: &Value) -> Result<Option<Value>, ScimError> {
    if def.multi_valued {
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        let mut coerced = Vec::with_capacity(items.len());
        for item in items {
            if let Some(item) = element_value(def, item)? {
                coerced.push(item);
            }
        }
        Ok(Some(Value::Array(coerced)))
    } else {
        element_value(def, value)
    }
}

/// Coerces one value of `def`: the attribute's value if it is single-valued, one element if multi-valued.
pub(super) fn element_value(def: &AttributeDef, value: &Value) -> Result<Option<Value>, ScimError> {
    let value = match value {
        Value::Array(items) => match items.as_slice() {
            [] => return Ok(None),
            [only] => only,
            _ => {
                return Err(ScimError::InvalidValue(format!(
                    "{} takes a single value, but {} values were sent",
                    def.name,
                    items.len()
                )));
            }
        },
        other => other,
    };
    if def.attr_type == AttributeType::Complex {
        complex_value(def, value)
    } else {
        simple_value(def, value)
    }
}

fn complex_value(def: &AttributeDef, value: &Value) -> Result<Option<Value>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(object) => {
            let coerced = sub_attributes(def, object)?;
            Ok((!coerced.is_empty()).then_some(Value::Object(coerced)))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => match def.sub_attribute("value") {
            // A bare id for `manager` (entra-requests.md §4 item 8) or for any complex with a `value`.
            Some(value_def) => Ok(simple_value(value_def, value)?.map(|v| {
                let mut object = Map::new();
                object.insert(value_def.name.clone(), v);
                Value::Object(object)
            })),
            None => Err(type_error(def, value)),
        },
        Value::Array(_) => Err(type_error(def, value)),
    }
}

/// The known, writable, non-null sub-attributes of `object`, under their canonical names.
fn sub_attributes(def: &AttributeDef, object: &Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
    let mut coerced = Map::new();
    for (key, value) in object {
        let Some(sub) = def.sub_attribute(key) else {
            continue;
        };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let value = if sub.multi_valued {
            attribute_value(sub, value)?
        } else {
            element_value(sub, value)?
        };
        if let Some(value) = value {
            coerced.insert(sub.name.clone(), value);
        }
    }
    Ok(coerced)
}

fn simple_value(def: &AttributeDef, value: &Value) -> Result<Option<Value>, ScimError> {
    let value = match value {
        Value::Null => return Ok(None),
        // `{"$ref": null, "value": "x"}` for a simple attribute means "x".
        Value::Object(object) => match object.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")) {
            Some((_, Value::Object(_) | Value::Array(_))) | None => return Err(type_error(def, value)),
            Some((_, inner)) => inner,
        },
        other => other,
    };
    let coerced = match (def.attr_type, value) {
        (_, Value::Null) => return Ok(None),
        (
            AttributeType::String
            | AttributeType::Reference
            | AttributeType::DateTime
            | AttributeType::Binary,
            Value::String(_),
        )
        | (AttributeType::Boolean, Value::Bool(_)) => value.clone(),
        (AttributeType::Boolean, Value::String(text)) => match bool_from_str(text) {
            Some(flag) => Value::Bool(flag),
            None => return Err(type_error(def, value)),
        },
        (AttributeType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
        (AttributeType::Integer, Value::String(text)) => match text.trim().parse::<i64>() {
            Ok(n) => Value::Number(n.into()),
            Err(_) => return Err(type_error(def, value)),
        },
        (AttributeType::Decimal, Value::Number(_)) => value.clone(),
        (AttributeType::Decimal, Value::String(text)) => {
            match text.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Value::Number(n),
                None => return Err(type_error(def, value)),
            }
        }
        _ => return Err(type_error(def, value)),
    };
    Ok(Some(coerced))
}

/// `"true"` / `"false"` in any case (Entra's non-flag mode sends `"False"`; zitadel#8140 accepts any case).
pub(super) fn bool_from_str(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn type_error(def: &AttributeDef, value: &Value) -> ScimError {
    let kind = match def.attr_type {
        AttributeType::String => "a string",
        AttributeType::Boolean => "a boolean",
        AttributeType::Decimal => "a decimal number",
        AttributeType::Integer => "an integer",
        AttributeType::DateTime => "a dateTime string",
        AttributeType::Binary => "a base64 string",
        AttributeType::Reference => "a reference string",
        AttributeType::Complex => "an object",
    };
    let mut shown = value.to_string();
    if shown.len() > 80 {
        let cut = (0..=80).rev().find(|&i| shown.is_char_boundary(i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    ScimError::InvalidValue(format!("{} must be {kind}, not {shown}", def.name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{Returned, Uniqueness};

    fn def(name: &str, attr_type: AttributeType) -> AttributeDef {
        AttributeDef {
            name: name.to_owned(),
            attr_type,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    fn manager() -> AttributeDef {
        AttributeDef {
            sub_attributes: vec![
                def("value", AttributeType::String),
                def("$ref", AttributeType::Reference),
                AttributeDef {
                    mutability: Mutability::ReadOnly,
                    ..def("displayName", AttributeType::String)
                },
            ],
            ..def("manager", AttributeType::Complex)
        }
    }

    #[test]
    fn booleans_accept_strings_in_any_case() {
        let active = def("active", AttributeType::Boolean);
        for (sent, stored) in [
            (json!("False"), false),
            (json!("TRUE"), true),
            (json!(" true "), true),
            (json!(false), false),
            (json!(["True"]), true),
        ] {
            assert_eq!(
                element_value(&active, &sent).unwrap(),
                Some(json!(stored)),
                "{sent}"
            );
        }
        assert!(element_value(&active, &json!("yes")).is_err());
        assert!(element_value(&active, &json!(1)).is_err());
    }

    #[test]
    fn numbers_accept_numeric_strings() {
        let count = def("count", AttributeType::Integer);
        assert_eq!(element_value(&count, &json!("42")).unwrap(), Some(json!(42)));
        assert_eq!(element_value(&count, &json!(42)).unwrap(), Some(json!(42)));
        assert!(element_value(&count, &json!(4.5)).is_err());
        let ratio = def("ratio", AttributeType::Decimal);
        assert_eq!(element_value(&ratio, &json!("0.5")).unwrap(), Some(json!(0.5)));
        assert!(element_value(&ratio, &json!("NaN")).is_err());
    }

    #[test]
    fn complex_values_drop_nulls_read_only_and_unknown_subs() {
        let sent = json!({"Value": "m1", "$ref": null, "displayName": "Boss", "extra": 1});
        assert_eq!(
            element_value(&manager(), &sent).unwrap(),
            Some(json!({"value": "m1"}))
        );
        assert_eq!(element_value(&manager(), &json!({"$ref": null})).unwrap(), None);
        assert_eq!(
            element_value(&manager(), &json!("m2")).unwrap(),
            Some(json!({"value": "m2"}))
        );
        assert_eq!(
            element_value(
                &manager(),
                &json!([{"$ref": "https://x/Users/m3", "value": "m3"}])
            )
            .unwrap(),
            Some(json!({"$ref": "https://x/Users/m3", "value": "m3"}))
        );
        assert!(element_value(&manager(), &json!([{"value": "a"}, {"value": "b"}])).is_err());
    }

    #[test]
    fn simple_values_unwrap_value_objects() {
        let display = def("displayName", AttributeType::String);
        assert_eq!(
            element_value(&display, &json!([{"$ref": null, "value": "User x"}])).unwrap(),
            Some(json!("User x"))
        );
        assert!(element_value(&display, &json!({"other": "x"})).is_err());
        assert!(element_value(&display, &json!(12)).is_err());
    }

    #[test]
    fn multi_valued_wraps_a_lone_element_and_drops_nulls() {
        let emails = AttributeDef {
            multi_valued: true,
            sub_attributes: vec![
                def("value", AttributeType::String),
                def("primary", AttributeType::Boolean),
            ],
            ..def("emails", AttributeType::Complex)
        };
        assert_eq!(
            attribute_value(&emails, &json!({"value": "a@x", "Primary": "True"})).unwrap(),
            Some(json!([{"value": "a@x", "primary": true}]))
        );
        assert_eq!(
            attribute_value(&emails, &json!([null, {"value": null}, {"value": "b@x"}])).unwrap(),
            Some(json!([{"value": "b@x"}]))
        );
        assert_eq!(attribute_value(&emails, &json!(null)).unwrap(), None);
    }

    #[test]
    fn long_values_are_shortened_in_errors_on_a_char_boundary() {
        let active = def("active", AttributeType::Boolean);
        let err = element_value(&active, &json!("é".repeat(100))).unwrap_err();
        assert!(err.detail().ends_with('…'), "{err:?}");
    }
}
