//! Required attributes (RFC 7643 §7 `required`): checked on every validated document, after cleaning.

use serde_json::Value;

use super::Cleaned;
use crate::ScimError;
use crate::schema::{AttributeDef, Mutability};

impl Cleaned<'_> {
    /// Required attributes (RFC 7643 §7) of the core schema, and of each extension that has data or is
    /// declared required; required sub-attributes inside every present complex value.
    pub(super) fn check_required(&self) -> Result<(), ScimError> {
        for section in self.sections() {
            if !section.is_core && section.attrs.is_empty() {
                if section.required {
                    return Err(ScimError::InvalidValue(format!(
                        "extension {} is required",
                        section.schema.id
                    )));
                }
                // An unused optional extension: its required attributes bind only once it is used.
                continue;
            }
            for def in &section.schema.attributes {
                if def.mutability == Mutability::ReadOnly {
                    continue;
                }
                let path = section.path_of(&def.name);
                let value = section.attrs.get(&def.name);
                if def.required && value.is_none_or(is_blank) {
                    return Err(ScimError::InvalidValue(format!("attribute {path} is required")));
                }
                if let Some(value) = value {
                    check_required_subs(def, value, &path)?;
                }
            }
        }
        Ok(())
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn check_required_subs(def: &AttributeDef, value: &Value, path: &str) -> Result<(), ScimError> {
    let required: Vec<&AttributeDef> = def
        .sub_attributes
        .iter()
        .filter(|s| s.required && s.mutability != Mutability::ReadOnly)
        .collect();
    if required.is_empty() {
        return Ok(());
    }
    let elements: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for (index, element) in elements.into_iter().enumerate() {
        for sub in &required {
            if element.get(&sub.name).is_none_or(is_blank) {
                let at = if def.multi_valued {
                    format!("{path}[{index}].{}", sub.name)
                } else {
                    format!("{path}.{}", sub.name)
                };
                return Err(ScimError::InvalidValue(format!("attribute {at} is required")));
            }
        }
    }
    Ok(())
}
