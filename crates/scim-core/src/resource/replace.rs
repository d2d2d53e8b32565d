//! PUT (RFC 7644 §3.5.1): immutable values may not change and, like writeOnly ones, are kept when the
//! body omits them.

use serde_json::{Map, Value};

use super::{Cleaned, Section, get_ci};
use crate::ScimError;
use crate::schema::{AttributeDef, AttributeType, Mutability};

impl Cleaned<'_> {
    /// PUT: keep immutable and writeOnly values the body omits; refuse a changed immutable value.
    pub(super) fn keep_fixed_values(&mut self, existing: &Value) -> Result<(), ScimError> {
        keep_fixed_in_section(&mut self.core, Some(existing))?;
        for section in &mut self.extensions {
            let block = get_ci(existing, &section.schema.id);
            keep_fixed_in_section(section, block)?;
        }
        Ok(())
    }
}

fn keep_fixed_in_section(section: &mut Section<'_>, existing: Option<&Value>) -> Result<(), ScimError> {
    let Some(existing) = existing else {
        return Ok(());
    };
    for def in &section.schema.attributes {
        let path = section.path_of(&def.name);
        let old = get_ci(existing, &def.name).filter(|v| !v.is_null());
        let new = section.attrs.get_mut(&def.name);
        match (def.mutability, old, new) {
            (Mutability::Immutable, Some(old), Some(new)) if !def.same_value(old, new) => {
                return Err(immutable_error(&path));
            }
            (Mutability::Immutable | Mutability::WriteOnly, Some(old), None) => {
                section.attrs.insert(def.name.clone(), old.clone());
            }
            (Mutability::ReadWrite, Some(old), Some(new))
                if def.attr_type == AttributeType::Complex && !def.multi_valued =>
            {
                keep_fixed_subs(def, old, new, &path)?;
            }
            (Mutability::ReadWrite, Some(old), None)
                if def.attr_type == AttributeType::Complex && !def.multi_valued =>
            {
                let mut kept = Map::new();
                for sub in &def.sub_attributes {
                    if matches!(sub.mutability, Mutability::Immutable | Mutability::WriteOnly) {
                        if let Some(v) = get_ci(old, &sub.name).filter(|v| !v.is_null()) {
                            kept.insert(sub.name.clone(), v.clone());
                        }
                    }
                }
                if !kept.is_empty() {
                    section.attrs.insert(def.name.clone(), Value::Object(kept));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn keep_fixed_subs(def: &AttributeDef, old: &Value, new: &mut Value, path: &str) -> Result<(), ScimError> {
    let Value::Object(new) = new else {
        return Ok(());
    };
    for sub in &def.sub_attributes {
        let old_sub = get_ci(old, &sub.name).filter(|v| !v.is_null());
        match (sub.mutability, old_sub, new.get(&sub.name)) {
            (Mutability::Immutable, Some(o), Some(n)) if !sub.same_value(o, n) => {
                return Err(immutable_error(&format!("{path}.{}", sub.name)));
            }
            (Mutability::Immutable | Mutability::WriteOnly, Some(o), None) => {
                new.insert(sub.name.clone(), o.clone());
            }
            _ => {}
        }
    }
    Ok(())
}

fn immutable_error(path: &str) -> ScimError {
    ScimError::Mutability(format!(
        "attribute {path} is immutable and already has a different value"
    ))
}
