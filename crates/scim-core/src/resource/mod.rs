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
//!
//! Files: `gather.rs` is pass 1, `clean.rs` pass 2, `required.rs` the required rules, `replace.rs` the PUT
//! rules for immutable and writeOnly values, `members.rs` takes a Group's members out of its document.

mod clean;
mod gather;
mod members;
mod replace;
mod required;

use serde_json::{Map, Value};

use crate::ScimError;
use crate::ids::ResourceKind;
use crate::schema::{Mutability, Schema, SchemaRegistry};
use clean::clean_attr;
use gather::{Gathered, Target};

pub use clean::parse_date_time;
pub use members::take_members;

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

impl<'r> Cleaned<'r> {
    /// Runs both passes over a body.
    fn from_input(
        registry: &'r SchemaRegistry,
        kind: ResourceKind,
        input: &Value,
    ) -> Result<Self, ScimError> {
        let Gathered {
            core_schema,
            extension_schemas,
            raw,
        } = Gathered::from_input(registry, kind, input)?;

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

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
