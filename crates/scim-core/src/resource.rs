//! Resource validation: turn a client's User or Group body into the document we store, checked against the
//! tenant's [`SchemaRegistry`].
//!
//! The stored and wire form is one JSON object shaped like the SCIM JSON (RFC 7643 §3): core attributes at
//! the top level, extension attributes under their schema URN key, `schemas` listing the core URN plus each
//! extension that has data. `id` and `meta` are not part of it: storage keeps them in columns and adds them
//! when rendering.
//!
//! Strategy, in two passes:
//! 1. **Gather**: walk the body's keys, resolving each case-insensitively (RFC 7643 §2.1) to a schema
//!    attribute: a core or common attribute, an extension block under a registered extension's URN, or a
//!    URN-qualified attribute key. Anything unknown is dropped, never stored: unknown attributes, unknown
//!    URIs in `schemas` (Entra's ADSCIM Group URI), blocks of extensions not registered for the resource
//!    type. Entra's enterprise URN without the colon (`…:enterprise:2.0User`) is read as the enterprise URN.
//! 2. **Clean** each value against its definition: `null` and `[]` mean absent (RFC 7644 §3.5.1 treats
//!    null as unassigned) and are dropped; readOnly attributes and sub-attributes are ignored (RFC 7643 §7);
//!    a single-valued attribute sent as a one-element array is unwrapped (Entra wraps `manager`); a
//!    multi-valued attribute sent as one value is wrapped; a scalar sent for a complex attribute that has a
//!    `value` sub-attribute becomes `{"value": …}` (a bare manager id), and conversely an object with a
//!    `value` member sent for a simple attribute is read as that value (older Entra builds send
//!    `"displayName": [{"$ref": null, "value": "x"}]`); types are checked per RFC 7643 §2.3
//!    and values are stored as sent, except booleans sent as the strings `"true"`/`"false"` (any case),
//!    which become JSON booleans; at most one `primary: true` per multi-valued attribute (§2.4). Keys are
//!    emitted in the schema's canonical case.
//!
//! Then required attributes are enforced (an empty or blank string counts as missing) and, for PUT, the
//! immutable rules of RFC 7644 §3.5.1. Every error names the attribute path at fault.
//!
//! writeOnly attributes (`password`) are accepted, type-checked and then dropped: never stored, so never
//! returned or filterable.
//!
//! Not enforced, deliberately: `canonicalValues` (RFC 7643 §7 lets a provider accept others, and IdPs
//! send types such as `WindowsAzureActiveDirectoryRole`), uniqueness of `type` values within a
//! multi-valued attribute (Entra assumes it but RFC 7643 §2.4 does not require it), string lengths,
//! and `uniqueness` itself (storage enforces it in the database).

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde_json::{Map, Value};

use crate::ScimError;
use crate::ids::{ResourceId, ResourceKind};
use crate::patch::MemberRef;
use crate::path::AttrPath;
use crate::schema::{
    AttributeDef, AttributeType, ENTERPRISE_URN_WITHOUT_COLON, ENTERPRISE_USER_SCHEMA, Mutability, Schema,
    SchemaRegistry,
};

/// Validates a POST body and returns the document to store.
pub fn validate_for_create(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    input: &Value,
) -> Result<Value, ScimError> {
    let cleaned = Cleaned::from_input(registry, kind, input)?;
    cleaned.check_required()?;
    Ok(cleaned.into_document())
}

/// Validates a PUT body against the stored document and returns the document that replaces it.
///
/// RFC 7644 §3.5.1: readOnly values in the body are ignored; an immutable attribute that already has a
/// value may be sent again only with the same value (else `mutability`), and keeps its value when omitted;
/// every other writable attribute takes the body's value, so omitting it clears it (writeOnly values are
/// never stored at all). Immutability is checked on top-level attributes and on sub-attributes of single-valued
/// complex attributes; elements of multi-valued attributes have no identity to compare, so they are not.
pub fn validate_for_replace(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    existing: &Value,
    input: &Value,
) -> Result<Value, ScimError> {
    let mut cleaned = Cleaned::from_input(registry, kind, input)?;
    cleaned.keep_fixed_values(existing)?;
    cleaned.check_required()?;
    Ok(cleaned.into_document())
}

/// Re-checks a whole document (types, required attributes, primary uniqueness), e.g. after PATCH, and
/// returns it cleaned exactly as [`validate_for_create`] would.
pub fn validate_document(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    doc: &Value,
) -> Result<Value, ScimError> {
    validate_for_create(registry, kind, doc)
}

/// Removes `members` from a validated Group document and returns the member references, in order and
/// without duplicate ids. `None` when the document has no members (on PUT that means "no members").
///
/// A member needs an id: `value`, or failing that the last segment of its `$ref` URI
/// (`…/Users/{id}`); otherwise `invalidValue`. A `type` of `user` or `group` in any case comes back as
/// `User` / `Group`; other types are passed through as sent.
pub fn take_members(doc: &mut Value) -> Result<Option<Vec<MemberRef>>, ScimError> {
    let Some(obj) = doc.as_object_mut() else {
        return Err(ScimError::InvalidSyntax(
            "a Group must be a JSON object".to_owned(),
        ));
    };
    let Some(key) = obj.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned() else {
        return Ok(None);
    };
    let items = match obj.remove(&key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    };
    let mut refs: Vec<MemberRef> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let id = member_id(item)
            .ok_or_else(|| ScimError::InvalidValue(format!("members[{index}].value is required")))?;
        let member_type = get_ci(item, "type").and_then(Value::as_str).map(|t| {
            // The canonical values (RFC 7643 §4.2) in their canonical case, so storage can match on them.
            ["User", "Group"]
                .into_iter()
                .find(|c| c.eq_ignore_ascii_case(t))
                .map_or_else(|| t.to_owned(), str::to_owned)
        });
        if !refs.iter().any(|r| r.value.as_str() == id) {
            refs.push(MemberRef {
                value: ResourceId::new(id),
                member_type,
            });
        }
    }
    Ok(Some(refs))
}

fn member_id(item: &Value) -> Option<&str> {
    if let Value::String(id) = item {
        return Some(id.as_str()).filter(|id| !id.is_empty());
    }
    let value = get_ci(item, "value")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    value.or_else(|| {
        get_ci(item, "$ref")
            .and_then(Value::as_str)
            .and_then(|uri| uri.trim_end_matches('/').rsplit('/').next())
            .filter(|id| !id.is_empty())
    })
}

/// Parses an RFC 7643 §2.3.5 dateTime: RFC 3339, or xsd:dateTime without an offset (read as UTC).
pub fn parse_date_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok().or_else(|| {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|naive| naive.and_utc().fixed_offset())
    })
}

/// The member of an object whose key matches `name` case-insensitively.
pub(crate) fn get_ci<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// One schema's cleaned attributes, keyed by canonical name.
#[derive(Debug)]
struct Section<'r> {
    schema: &'r Schema,
    /// Core section: attributes sit at the top of the document. Otherwise under the schema's URN key.
    is_core: bool,
    /// For an extension: whether the resource type declares it required (RFC 7643 §6 `schemaExtensions`).
    required: bool,
    attrs: Map<String, Value>,
}

/// A body after both passes: the core section (core and common attributes) and one section per extension
/// registered for the resource type, in registration order.
#[derive(Debug)]
struct Cleaned<'r> {
    core: Section<'r>,
    extensions: Vec<Section<'r>>,
}

/// Where a gathered value goes: the core section or the `n`th extension section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Core,
    Extension(usize),
}

impl<'r> Cleaned<'r> {
    fn from_input(
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

        // Pass 1: gather raw values per (section, attribute).
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

        // Pass 2: clean each value against its definition.
        let mut cleaned = Cleaned {
            core: Section {
                schema: core_schema,
                is_core: true,
                required: true,
                attrs: Map::new(),
            },
            extensions: extension_schemas
                .iter()
                .map(|(schema, required)| Section {
                    schema,
                    is_core: false,
                    required: *required,
                    attrs: Map::new(),
                })
                .collect(),
        };
        for (target, def, value) in raw {
            let section = match target {
                Target::Core => &mut cleaned.core,
                Target::Extension(i) => match cleaned.extensions.get_mut(i) {
                    Some(section) => section,
                    None => continue,
                },
            };
            let path = section.path_of(&def.name);
            if let Some(value) = clean_attr(def, value, &path)? {
                section.attrs.insert(def.name.clone(), value);
            }
        }
        Ok(cleaned)
    }

    fn sections(&self) -> impl Iterator<Item = &Section<'r>> {
        std::iter::once(&self.core).chain(self.extensions.iter())
    }

    /// Required attributes (RFC 7643 §7) of the core schema, and of each extension that has data or is
    /// declared required; required sub-attributes inside every present complex value.
    fn check_required(&self) -> Result<(), ScimError> {
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

    /// PUT: keep immutable and writeOnly values the body omits; refuse a changed immutable value.
    fn keep_fixed_values(&mut self, existing: &Value) -> Result<(), ScimError> {
        keep_fixed_in_section(&mut self.core, Some(existing))?;
        for section in &mut self.extensions {
            let block = existing
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(&section.schema.id)))
                .map(|(_, v)| v);
            keep_fixed_in_section(section, block)?;
        }
        Ok(())
    }

    fn into_document(mut self) -> Value {
        drop_write_only(&mut self.core);
        let mut doc = Map::new();
        let mut schemas = vec![Value::String(self.core.schema.id.clone())];
        doc.extend(self.core.attrs);
        for mut section in self.extensions {
            drop_write_only(&mut section);
            if !section.attrs.is_empty() {
                schemas.push(Value::String(section.schema.id.clone()));
                doc.insert(section.schema.id.clone(), Value::Object(section.attrs));
            }
        }
        doc.insert("schemas".to_owned(), Value::Array(schemas));
        Value::Object(doc)
    }
}

/// writeOnly values (`password`) are accepted and checked, then dropped: this server provisions identities
/// and never authenticates anyone, so it keeps no secret it would have to protect or could leak.
fn drop_write_only(section: &mut Section<'_>) {
    for def in &section.schema.attributes {
        if def.mutability == Mutability::WriteOnly {
            section.attrs.remove(&def.name);
        }
    }
}

impl Section<'_> {
    /// The attribute's path as errors show it: bare for core, URN-qualified for extensions.
    fn path_of(&self, name: &str) -> String {
        if self.is_core {
            name.to_owned()
        } else {
            format!("{}:{name}", self.schema.id)
        }
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
            (Mutability::Immutable, Some(old), Some(new)) if !same_value(def, old, new) => {
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
            (Mutability::Immutable, Some(o), Some(n)) if !same_value(sub, o, n) => {
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

/// Equality as the attribute's caseExact defines it (RFC 7643 §2.2).
fn same_value(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !def.case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
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

/// Cleans one attribute value; `None` means absent.
fn clean_attr(def: &AttributeDef, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
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
    use serde_json::json;

    use super::*;
    use crate::schema::{GROUP_SCHEMA, USER_SCHEMA};

    const LUCID_URN: &str = "urn:ietf:params:scim:schemas:extension:lucid:2.0:User";

    fn core() -> SchemaRegistry {
        SchemaRegistry::core()
    }

    fn with_lucid() -> SchemaRegistry {
        let json: Value =
            serde_json::from_str(include_str!("../tests/fixtures/lucid-user-extension.json")).unwrap();
        let mut reg = SchemaRegistry::core();
        reg.add_extension(ResourceKind::User, Schema::from_json(&json).unwrap(), false)
            .unwrap();
        reg
    }

    /// A registry whose User has an extension with immutable attributes, to exercise PUT rules.
    fn with_badge() -> SchemaRegistry {
        let schema = Schema::from_json(&json!({
            "id": "urn:example:badge",
            "attributes": [
                {"name": "badgeId", "type": "string", "mutability": "immutable"},
                {"name": "site", "type": "complex", "subAttributes": [
                    {"name": "code", "type": "string", "mutability": "immutable"},
                    {"name": "floor", "type": "integer"}
                ]},
                {"name": "hired", "type": "dateTime"},
                {"name": "score", "type": "decimal"}
            ]
        }))
        .unwrap();
        let mut reg = SchemaRegistry::core();
        reg.add_extension(ResourceKind::User, schema, false).unwrap();
        reg
    }

    fn create_user(reg: &SchemaRegistry, body: Value) -> Result<Value, ScimError> {
        validate_for_create(reg, ResourceKind::User, &body)
    }

    fn invalid_value_detail(result: Result<Value, ScimError>) -> String {
        match result {
            Err(ScimError::InvalidValue(detail)) => detail,
            other => panic!("expected invalidValue, got {other:?}"),
        }
    }

    #[test]
    fn entra_body_a_validates_dropping_meta_empty_roles_and_unused_extension() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,
            "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
            "meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]});
        let doc = create_user(&core(), body).unwrap();
        assert_eq!(
            doc,
            json!({
                "schemas": [USER_SCHEMA],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
                "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
            })
        );
    }

    #[test]
    fn entra_body_c_group_validates_dropping_unknown_schema_uri_and_meta() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}});
        let doc = validate_for_create(&core(), ResourceKind::Group, &body).unwrap();
        assert_eq!(
            doc,
            json!({
                "schemas": [GROUP_SCHEMA],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "displayName"
            })
        );
    }

    #[test]
    fn enterprise_urn_without_colon_and_explicit_nulls_are_accepted() {
        let body = json!({
            "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "userName": "UserName123", "active": true, "displayName": "BobIsAmazing",
            "externalId": "ext-1",
            "addresses": null, "phoneNumbers": null, "preferredLanguage": null, "title": null,
            "department": null, "manager": null,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0User": {"department": "Eng", "manager": null}
        });
        let doc = create_user(&core(), body).unwrap();
        assert_eq!(
            doc,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "UserName123", "active": true, "displayName": "BobIsAmazing",
                "externalId": "ext-1",
                ENTERPRISE_USER_SCHEMA: {"department": "Eng"}
            })
        );
    }

    #[test]
    fn case_insensitive_keys_are_emitted_in_schema_case() {
        // The [R] reference collection's casing.
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "UserName": "bjensen",
            "Emails": [{"Primary": true, "Type": "work", "VALUE": "b@example.com"}],
            "NAME": {"FamilyName": "Jensen"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {
                "Department": "Tour Operations",
                "Manager": {"Value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        });
        let doc = create_user(&core(), body).unwrap();
        assert_eq!(
            doc,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "bjensen",
                "emails": [{"primary": true, "type": "work", "value": "b@example.com"}],
                "name": {"familyName": "Jensen"},
                ENTERPRISE_USER_SCHEMA: {
                    "department": "Tour Operations",
                    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
                }
            })
        );
    }

    #[test]
    fn manager_sent_as_one_element_array_is_unwrapped() {
        let body = json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {
            "manager": [{"$ref": "https://host/scim/Users/00aa", "value": "00aa", "displayName": "Boss"}]
        }});
        let doc = create_user(&core(), body).unwrap();
        // displayName is readOnly, so it is dropped.
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"$ref": "https://host/scim/Users/00aa", "value": "00aa"})
        );
    }

    #[test]
    fn bare_string_manager_becomes_value_object() {
        let doc = create_user(
            &core(),
            json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"manager": "00aa"}}),
        )
        .unwrap();
        assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["manager"], json!({"value": "00aa"}));
    }

    #[test]
    fn urn_qualified_attribute_keys_land_in_their_extension_block() {
        let body = json!({
            "userName": "a",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "00aa",
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "Barbara"
        });
        let doc = create_user(&core(), body).unwrap();
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA],
            json!({"employeeNumber": "701984", "manager": {"value": "00aa"}})
        );
        assert_eq!(doc["name"], json!({"givenName": "Barbara"}));
    }

    #[test]
    fn simple_attribute_sent_as_value_object_in_array_is_unwrapped() {
        // MicrosoftDocs/azure-docs#42220: `displayName` as `[{"$ref": null, "value": "User x"}]`.
        let doc = create_user(
            &core(),
            json!({"userName": "a", "displayName": [{"$ref": null, "value": "User x"}], "active": {"value": "True"}}),
        )
        .unwrap();
        assert_eq!(doc["displayName"], "User x");
        assert_eq!(doc["active"], true);
        let detail = invalid_value_detail(create_user(&core(), json!({"userName": {"text": "a"}})));
        assert!(detail.contains("userName must be a string"), "{detail}");
    }

    #[test]
    fn single_value_for_multi_valued_attribute_is_wrapped() {
        let doc = create_user(
            &core(),
            json!({"userName": "a", "emails": {"value": "a@example.com", "type": "work"}}),
        )
        .unwrap();
        assert_eq!(doc["emails"], json!([{"value": "a@example.com", "type": "work"}]));
    }

    #[test]
    fn single_valued_attribute_with_several_values_is_invalid() {
        let detail = invalid_value_detail(create_user(
            &core(),
            json!({"userName": "a", "title": ["x", "y"]}),
        ));
        assert!(detail.contains("title"), "{detail}");
    }

    #[test]
    fn string_true_in_any_case_becomes_boolean() {
        for (text, expected) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("False", false),
            ("fAlSe", false),
        ] {
            let doc = create_user(&core(), json!({"userName": "a", "active": text})).unwrap();
            assert_eq!(doc["active"], json!(expected), "{text}");
        }
        let detail = invalid_value_detail(create_user(&core(), json!({"userName": "a", "active": "yes"})));
        assert!(detail.contains("active"), "{detail}");
    }

    #[test]
    fn two_primaries_are_invalid_value() {
        let detail = invalid_value_detail(create_user(
            &core(),
            json!({"userName": "a", "emails": [
                {"value": "a@x.com", "primary": true},
                {"value": "b@x.com", "Primary": "True"}
            ]}),
        ));
        assert!(
            detail.contains("emails") && detail.contains("primary"),
            "{detail}"
        );
        // One primary and one explicit false is fine.
        create_user(
            &core(),
            json!({"userName": "a", "emails": [
                {"value": "a@x.com", "primary": true},
                {"value": "b@x.com", "primary": false}
            ]}),
        )
        .unwrap();
    }

    #[test]
    fn missing_or_empty_required_attribute_is_invalid_value_naming_it() {
        for body in [
            json!({}),
            json!({"userName": ""}),
            json!({"userName": "  "}),
            json!({"userName": null}),
        ] {
            let detail = invalid_value_detail(create_user(&core(), body));
            assert!(detail.contains("userName"), "{detail}");
        }
        let detail = invalid_value_detail(validate_for_create(
            &core(),
            ResourceKind::Group,
            &json!({"members": []}),
        ));
        assert!(detail.contains("displayName"), "{detail}");
    }

    #[test]
    fn non_object_body_is_invalid_syntax() {
        for body in [json!([]), json!("user"), json!(null), json!(3)] {
            let result = create_user(&core(), body.clone());
            assert!(
                matches!(result, Err(ScimError::InvalidSyntax(_))),
                "{body}: {result:?}"
            );
        }
    }

    #[test]
    fn wrong_types_are_invalid_value_naming_the_path() {
        let cases = [
            (json!({"userName": 42}), "userName"),
            (json!({"userName": "a", "name": "Barbara"}), "name"),
            (
                json!({"userName": "a", "emails": [{"value": 7}]}),
                "emails[0].value",
            ),
            (
                json!({"userName": "a", "emails": [{"value": "x", "primary": "maybe"}]}),
                "emails[0].primary",
            ),
            (
                json!({"userName": "a", "urn:example:badge": {"hired": "yesterday"}}),
                "urn:example:badge:hired",
            ),
            (
                json!({"userName": "a", "urn:example:badge": {"site": {"floor": 1.5}}}),
                "urn:example:badge:site.floor",
            ),
            (
                json!({"userName": "a", "urn:example:badge": {"score": "high"}}),
                "urn:example:badge:score",
            ),
            (
                json!({"userName": "a", "urn:example:badge": "x"}),
                "urn:example:badge",
            ),
        ];
        for (body, path) in cases {
            let detail = invalid_value_detail(create_user(&with_badge(), body));
            assert!(detail.contains(path), "{path}: {detail}");
        }
    }

    #[test]
    fn typed_values_are_stored_as_sent() {
        let doc = create_user(
            &with_badge(),
            json!({"userName": "MixedCase", "urn:example:badge": {
                "hired": "2024-05-01T12:00:00+02:00", "score": 4.5, "site": {"floor": 3}
            }}),
        )
        .unwrap();
        assert_eq!(doc["userName"], "MixedCase");
        assert_eq!(
            doc["urn:example:badge"],
            json!({"hired": "2024-05-01T12:00:00+02:00", "score": 4.5, "site": {"floor": 3}})
        );
    }

    #[test]
    fn read_only_and_unknown_attributes_are_not_stored() {
        let doc = create_user(
            &core(),
            json!({
                "id": "client-chosen", "meta": {"created": "2020-01-01T00:00:00Z"},
                "userName": "a", "groups": [{"value": "g1"}], "favouriteColour": "blue",
                "name": {"givenName": "A", "nickname": "x"},
                "urn:example:unknown": {"x": 1}
            }),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"schemas": [USER_SCHEMA], "userName": "a", "name": {"givenName": "A"}})
        );
    }

    #[test]
    fn extension_not_registered_for_the_kind_is_dropped() {
        let body = json!({"userName": "a", LUCID_URN: {"billingCode": "B-1"}});
        let doc = create_user(&core(), body.clone()).unwrap();
        assert_eq!(doc, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
        let group = validate_for_create(
            &with_lucid(),
            ResourceKind::Group,
            &json!({"displayName": "g", LUCID_URN: {"billingCode": "B-1"}}),
        )
        .unwrap();
        assert_eq!(group, json!({"schemas": [GROUP_SCHEMA], "displayName": "g"}));
    }

    #[test]
    fn lucid_extension_round_trip() {
        let body = json!({
            "schemas": [USER_SCHEMA, LUCID_URN],
            "userName": "ada@example.com",
            "emails": [{"type": "work", "value": "ada@example.com", "primary": true}],
            LUCID_URN: {
                "billingCode": "ENG-42",
                // Entra's attribute mapping types these as String.
                "productLicenses": {"Lucidchart": "True", "lucidspark": "False", "LucidscaleExplorer": true, "LucidscaleCreator": false}
            }
        });
        let doc = create_user(&with_lucid(), body).unwrap();
        let expected_block = json!({
            "billingCode": "ENG-42",
            "productLicenses": {"Lucidchart": true, "Lucidspark": false, "LucidscaleExplorer": true, "LucidscaleCreator": false}
        });
        assert_eq!(doc["schemas"], json!([USER_SCHEMA, LUCID_URN]));
        assert_eq!(doc[LUCID_URN], expected_block);
        // The stored document validates to itself.
        assert_eq!(
            validate_document(&with_lucid(), ResourceKind::User, &doc).unwrap(),
            doc
        );
    }

    #[test]
    fn required_extension_must_be_present() {
        let json: Value =
            serde_json::from_str(include_str!("../tests/fixtures/lucid-user-extension.json")).unwrap();
        let mut reg = SchemaRegistry::core();
        reg.add_extension(ResourceKind::User, Schema::from_json(&json).unwrap(), true)
            .unwrap();
        let detail = invalid_value_detail(create_user(&reg, json!({"userName": "a"})));
        assert!(detail.contains(LUCID_URN), "{detail}");
        create_user(&reg, json!({"userName": "a", LUCID_URN: {"billingCode": "x"}})).unwrap();
    }

    #[test]
    fn password_is_accepted_but_never_stored() {
        let doc = create_user(&core(), json!({"userName": "a", "password": "t1meMa$heen"})).unwrap();
        assert!(doc.get("password").is_none(), "{doc}");
    }

    #[test]
    fn same_attribute_twice_in_different_case_is_rejected_unless_one_is_null() {
        let result = create_user(&core(), json!({"userName": "a", "title": "x", "Title": "y"}));
        assert!(matches!(result, Err(ScimError::InvalidSyntax(_))), "{result:?}");
        let result = create_user(
            &core(),
            json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"department": "x", "Department": "y"}}),
        );
        assert!(
            matches!(&result, Err(ScimError::InvalidSyntax(d)) if d.contains(&format!("{ENTERPRISE_USER_SCHEMA}:department"))),
            "{result:?}"
        );
        let doc = create_user(&core(), json!({"userName": "a", "title": "x", "Title": null})).unwrap();
        assert_eq!(doc["title"], "x");
    }

    #[test]
    fn group_members_are_validated_and_taken_out() {
        let body = json!({
            "displayName": "Admins",
            "members": [
                {"value": "u1", "type": "user", "display": "Ada"},
                {"$ref": null, "value": "u2"},
                {"value": "u1"},
                {"$ref": "https://host/scim/v2/acme/Groups/g7"},
                "u3"
            ]
        });
        let mut doc = validate_for_create(&core(), ResourceKind::Group, &body).unwrap();
        let members = take_members(&mut doc).unwrap().unwrap();
        assert_eq!(doc, json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins"}));
        let got: Vec<(&str, Option<&str>)> = members
            .iter()
            .map(|m| (m.value.as_str(), m.member_type.as_deref()))
            .collect();
        assert_eq!(
            got,
            [("u1", Some("User")), ("u2", None), ("g7", None), ("u3", None)]
        );
        assert_eq!(take_members(&mut doc).unwrap(), None);
    }

    #[test]
    fn member_without_an_id_is_invalid_value() {
        let mut doc = json!({"displayName": "g", "members": [{"type": "User"}]});
        let result = take_members(&mut doc);
        assert!(matches!(result, Err(ScimError::InvalidValue(d)) if d.contains("members[0].value")));
    }

    #[test]
    fn validate_document_rechecks_required_and_types_after_patch() {
        let detail = invalid_value_detail(validate_document(
            &core(),
            ResourceKind::User,
            &json!({"schemas": [USER_SCHEMA], "name": {"givenName": "A"}}),
        ));
        assert!(detail.contains("userName"), "{detail}");
        let detail = invalid_value_detail(validate_document(
            &core(),
            ResourceKind::User,
            &json!({"userName": "a", "active": 3}),
        ));
        assert!(detail.contains("active"), "{detail}");
    }

    #[test]
    fn replace_rejects_a_changed_immutable_attribute() {
        let reg = with_badge();
        let existing = create_user(
            &reg,
            json!({"userName": "a", "urn:example:badge": {"badgeId": "B1", "site": {"code": "PAR"}}}),
        )
        .unwrap();
        let result = validate_for_replace(
            &reg,
            ResourceKind::User,
            &existing,
            &json!({"userName": "a", "urn:example:badge": {"badgeId": "B2"}}),
        );
        assert!(matches!(result, Err(ScimError::Mutability(d)) if d.contains("urn:example:badge:badgeId")));
        let result = validate_for_replace(
            &reg,
            ResourceKind::User,
            &existing,
            &json!({"userName": "a", "urn:example:badge": {"site": {"code": "LON"}}}),
        );
        assert!(matches!(result, Err(ScimError::Mutability(d)) if d.contains("site.code")));
    }

    #[test]
    fn replace_keeps_omitted_immutable_values_and_clears_the_rest() {
        let reg = with_badge();
        let existing = create_user(
            &reg,
            json!({"userName": "a", "title": "Boss", "password": "secret",
                   "urn:example:badge": {"badgeId": "B1", "site": {"code": "PAR", "floor": 2}}}),
        )
        .unwrap();
        let replaced = validate_for_replace(
            &reg,
            ResourceKind::User,
            &existing,
            &json!({"id": "ignored", "userName": "A", "urn:example:badge": {"BADGEID": "b1"}}),
        )
        .unwrap();
        assert_eq!(
            replaced,
            json!({
                "schemas": [USER_SCHEMA, "urn:example:badge"],
                "userName": "A",
                "urn:example:badge": {"badgeId": "b1", "site": {"code": "PAR"}}
            })
        );
    }

    #[test]
    fn replace_may_set_an_immutable_attribute_that_had_no_value() {
        let reg = with_badge();
        let existing = create_user(&reg, json!({"userName": "a"})).unwrap();
        let replaced = validate_for_replace(
            &reg,
            ResourceKind::User,
            &existing,
            &json!({"userName": "a", "urn:example:badge": {"badgeId": "B9"}}),
        )
        .unwrap();
        assert_eq!(replaced["urn:example:badge"]["badgeId"], "B9");
    }

    #[test]
    fn date_times_parse_with_or_without_offset() {
        assert!(parse_date_time("2024-05-01T12:00:00Z").is_some());
        assert!(parse_date_time("2024-05-01T12:00:00.123+02:00").is_some());
        assert!(parse_date_time("2024-05-01T12:00:00").is_some());
        assert!(parse_date_time("2024-05-01").is_none());
        assert!(parse_date_time("not a date").is_none());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::projection::Projection;

    const KEYS: &[&str] = &[
        "userName",
        "USERNAME",
        "displayName",
        "name",
        "givenName",
        "emails",
        "value",
        "Value",
        "primary",
        "Primary",
        "type",
        "active",
        "manager",
        "department",
        "members",
        "display",
        "$ref",
        "roles",
        "password",
        "id",
        "meta",
        "schemas",
        "x",
        "title",
        "name.givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ];

    fn json_value() -> impl Strategy<Value = Value> {
        // Mostly strings, so that a good share of bodies validate and the fixed-point check bites.
        let leaf = prop_oneof![
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::Bool),
            1 => any::<i64>().prop_map(|n| json!(n)),
            8 => "[a-zA-Z@. ]{0,6}".prop_map(Value::String),
            2 => Just(json!("True")),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|entries| {
                    Value::Object(
                        entries
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }),
            ]
        })
    }

    fn body() -> impl Strategy<Value = Value> {
        prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..10).prop_map(|entries| {
            let mut object: Map<String, Value> =
                entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            object.insert("userName".to_owned(), json!("someone"));
            object.insert("displayName".to_owned(), json!("some group"));
            Value::Object(object)
        })
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_its_output_is_a_fixed_point(input in body()) {
            let reg = SchemaRegistry::core();
            for kind in [ResourceKind::User, ResourceKind::Group] {
                if let Ok(doc) = validate_for_create(&reg, kind, &input) {
                    prop_assert_eq!(validate_document(&reg, kind, &doc), Ok(doc.clone()));
                    let projected = Projection::default().apply(&reg, kind, &doc);
                    prop_assert!(projected.get("password").is_none());
                }
            }
        }

        #[test]
        fn arbitrary_json_never_panics(input in json_value()) {
            let reg = SchemaRegistry::core();
            let _ = validate_for_create(&reg, ResourceKind::User, &input);
            let _ = validate_for_replace(&reg, ResourceKind::User, &input, &input);
            let mut doc = input.clone();
            let _ = take_members(&mut doc);
        }
    }
}
