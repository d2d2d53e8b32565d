//! Pass 1 of validation: walk a body's keys and gather each value under the schema attribute it names,
//! resolved case-insensitively (RFC 7643 §2.1). Keys that name nothing registered for the resource type
//! are dropped here; so are unknown URIs in `schemas`.

use serde_json::{Map, Value};

use crate::ScimError;
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{
    AttributeDef, ENTERPRISE_URN_WITHOUT_COLON, ENTERPRISE_USER_SCHEMA, Schema, SchemaRegistry,
};

/// Where a gathered value goes: the core section or the `n`th extension section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Core,
    Extension(usize),
}

/// A body's values sorted by the attribute they belong to, not yet checked against its definition.
pub(super) struct Gathered<'r> {
    pub(super) core_schema: &'r Schema,
    /// The extensions registered for the resource type, in registration order, and whether each is required.
    pub(super) extension_schemas: Vec<(&'r Schema, bool)>,
    /// One raw value per (section, attribute); keys naming the same attribute are merged into it.
    pub(super) raw: Vec<(Target, &'r AttributeDef, Value)>,
}

impl<'r> Gathered<'r> {
    /// Gathers the attributes of a `kind` body; a body that is not an object is `invalidSyntax`.
    pub(super) fn from_input(
        registry: &'r SchemaRegistry,
        kind: ResourceKind,
        input: &Value,
    ) -> Result<Self, ScimError> {
        let Value::Object(body) = input else {
            return Err(ScimError::InvalidSyntax(format!(
                "a {} must be a JSON object",
                kind.as_str()
            )));
        };
        let core_schema = registry.core_schema(kind).ok_or_else(|| {
            ScimError::InvalidValue(format!("no core schema registered for {}", kind.as_str()))
        })?;
        let extension_schemas: Vec<(&Schema, bool)> = registry
            .extensions(kind)
            .iter()
            .filter_map(|e| registry.schema(&e.schema).map(|s| (s, e.required)))
            .collect();

        let mut raw: Vec<(Target, &'r AttributeDef, Value)> = Vec::new();
        let mut gather =
            |target: Target, def: &'r AttributeDef, sub: Option<&AttributeDef>, value: &Value| {
                let value = match sub {
                    Some(sub) => Value::Object(Map::from_iter([(sub.name.clone(), value.clone())])),
                    None => value.clone(),
                };
                let existing = raw
                    .iter_mut()
                    .find(|(t, d, _)| *t == target && std::ptr::eq(*d, def));
                match existing {
                    Some((_, _, slot)) => {
                        let path = match target {
                            Target::Core => def.name.clone(),
                            Target::Extension(i) => extension_schemas
                                .get(i)
                                .map_or_else(|| def.name.clone(), |(s, _)| format!("{}:{}", s.id, def.name)),
                        };
                        merge_raw(slot, value, &path)
                    }
                    None => {
                        raw.push((target, def, value));
                        Ok(())
                    }
                }
            };
        let extension_target = |urn: &str| -> Option<(Target, &'r Schema)> {
            let urn = if urn.eq_ignore_ascii_case(ENTERPRISE_URN_WITHOUT_COLON) {
                ENTERPRISE_USER_SCHEMA
            } else {
                urn
            };
            extension_schemas
                .iter()
                .enumerate()
                .find(|(_, (s, _))| s.id.eq_ignore_ascii_case(urn))
                .map(|(i, (s, _))| (Target::Extension(i), *s))
        };
        for (key, value) in body {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if let Some((target, schema)) = extension_target(key) {
                match value {
                    Value::Object(block) => {
                        for (name, v) in block {
                            if let Some(def) = schema.attribute(name) {
                                gather(target, def, None, v)?;
                            }
                        }
                    }
                    Value::Null => {}
                    _ => {
                        return Err(ScimError::InvalidValue(format!(
                            "extension {} must be a JSON object",
                            schema.id
                        )));
                    }
                }
                continue;
            }
            if key.eq_ignore_ascii_case(&core_schema.id) {
                // Core attributes nested under the core URN: read them as if they were top-level.
                if let Value::Object(block) = value {
                    for (name, v) in block {
                        if let Ok(path) = AttrPath::parse(name) {
                            if let Some(resolved) = registry.resolve(kind, &path) {
                                gather(Target::Core, resolved.attr, resolved.sub, v)?;
                            }
                        }
                    }
                }
                continue;
            }
            // A plain or URN-qualified attribute name, possibly with a sub-attribute.
            let Ok(path) = AttrPath::parse(key) else { continue };
            let Some(resolved) = registry.resolve(kind, &path) else {
                continue;
            };
            let target = if resolved.is_core {
                Target::Core
            } else {
                match extension_target(&resolved.schema.id) {
                    Some((target, _)) => target,
                    None => continue,
                }
            };
            gather(target, resolved.attr, resolved.sub, value)?;
        }
        Ok(Gathered {
            core_schema,
            extension_schemas,
            raw,
        })
    }
}

/// Merges a second raw value for the same attribute (`name` and `NAME`, or `name` and `name.givenName`).
fn merge_raw(slot: &mut Value, value: Value, path: &str) -> Result<(), ScimError> {
    match (slot, value) {
        (_, Value::Null) => Ok(()),
        (slot @ Value::Null, value) => {
            *slot = value;
            Ok(())
        }
        (Value::Object(existing), Value::Object(incoming)) => {
            for (key, value) in incoming {
                let found = existing.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&key));
                match found {
                    Some((k, slot)) => {
                        let sub_path = format!("{path}.{k}");
                        merge_raw(slot, value, &sub_path)?;
                    }
                    None => {
                        existing.insert(key, value);
                    }
                }
            }
            Ok(())
        }
        _ => Err(ScimError::InvalidSyntax(format!(
            "attribute {path} is given more than once"
        ))),
    }
}
