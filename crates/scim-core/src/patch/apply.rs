//! Applying a [`PatchRequest`] to a resource document (RFC 7644 §3.5.2.1 add, §3.5.2.2 remove, §3.5.2.3
//! replace).
//!
//! Strategy: every operation's path is resolved against the schema registry (`target.rs`), then the
//! operation is applied to a clone of the document by the rules in `write.rs`; the clone replaces the
//! original only if all operations succeed, so a failing operation leaves the resource untouched (§3.5.2:
//! "the PATCH operation MUST be atomic"). Keys are written in the schema's case; extension attributes live
//! under their schema URN.
//!
//! Unknown attributes are `invalidPath`; readOnly ones (`id`, `meta`, `groups`, `manager.displayName`) are
//! `mutability`. In a path-less value object, unknown keys and readOnly attributes are ignored, as RFC 7643
//! §2.2 asks of readOnly input on create. A Group's `members` become [`MemberOp`]s, never document writes.

use serde_json::{Map, Value};

use super::members;
use super::selector::ElementFilter;
use super::target::{PathResolver, Target};
use super::write::{Selection, canonical_key, elements, sub_attribute, whole_attribute};
use super::{MemberOp, PatchOpKind, PatchOperation, PatchOptions, PatchOutcome, PatchRequest};
use crate::ScimError;
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{Mutability, SchemaRegistry};

/// Applies `request` to `doc` (a `kind` resource in SCIM JSON shape) atomically: on error `doc` is
/// unchanged. Group member changes are returned as [`MemberOp`]s and never written to `doc`.
pub fn apply(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    doc: &mut Value,
    request: &PatchRequest,
    options: PatchOptions,
) -> Result<PatchOutcome, ScimError> {
    let Value::Object(original) = doc else {
        return Err(ScimError::InvalidValue(
            "the resource to patch is not a JSON object".to_owned(),
        ));
    };
    let mut engine = Engine {
        resolver: PathResolver { registry, kind },
        options,
        member_ops: Vec::new(),
        touched_extensions: Vec::new(),
    };
    let mut working = original.clone();
    for (index, operation) in request.operations.iter().enumerate() {
        engine
            .operation(&mut working, operation)
            .map_err(|e| e.with_context(&format!("operation {index} ({})", operation.op)))?;
    }
    engine.tidy_extensions(&mut working);
    let document_changed = working != *original;
    if document_changed {
        *original = working;
    }
    Ok(PatchOutcome {
        document_changed,
        member_ops: engine.member_ops,
    })
}

/// One request being applied: resolves each path, writes the working copy and collects member changes.
struct Engine<'r> {
    resolver: PathResolver<'r>,
    options: PatchOptions,
    member_ops: Vec<MemberOp>,
    /// Extension URNs written to, so their blocks and `schemas` entries can be tidied at the end.
    touched_extensions: Vec<&'r str>,
}

impl<'r> Engine<'r> {
    fn operation(
        &mut self,
        doc: &mut Map<String, Value>,
        operation: &PatchOperation,
    ) -> Result<(), ScimError> {
        let value = operation.value.as_ref();
        let Some(path) = &operation.path else {
            return match (operation.op, value) {
                (PatchOpKind::Remove, _) => Err(ScimError::NoTarget(
                    "a \"remove\" operation needs a \"path\" (RFC 7644 §3.5.2.2)".to_owned(),
                )),
                (_, None) => Err(missing_value(operation.op)),
                (op, Some(value)) => self.pathless(doc, op, value),
            };
        };
        if let Some(urn) = self.resolver.whole_extension(path) {
            return match (operation.op, value) {
                // Emptying the block lets `tidy_extensions` drop it and its `schemas` entry.
                (PatchOpKind::Remove, _) => {
                    if doc.contains_key(urn) {
                        doc.insert(urn.to_owned(), Value::Object(Map::new()));
                        self.touched_extensions.push(urn);
                    }
                    Ok(())
                }
                (_, None) => Err(missing_value(operation.op)),
                (op, Some(value)) => {
                    let mut wrapped = Map::new();
                    wrapped.insert(urn.to_owned(), value.clone());
                    self.pathless(doc, op, &Value::Object(wrapped))
                }
            };
        }
        let target = self.resolver.target(path)?;
        if self.resolver.is_members(&target.attr) {
            return self.members(operation.op, &target, value);
        }
        for def in std::iter::once(target.attr.attr).chain(target.sub) {
            if def.mutability == Mutability::ReadOnly {
                return Err(ScimError::Mutability(format!(
                    "{} is readOnly and cannot be patched",
                    path.attr
                )));
            }
        }
        match (operation.op, value) {
            (PatchOpKind::Remove, value) => self.write(doc, PatchOpKind::Remove, &target, value),
            (op, Some(value)) => self.write(doc, op, &target, Some(value)),
            (op, None) => Err(missing_value(op)),
        }
    }

    fn members(
        &mut self,
        op: PatchOpKind,
        target: &Target<'_, '_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if op != PatchOpKind::Remove && value.is_none() {
            return Err(missing_value(op));
        }
        let member_types = target
            .attr
            .attr
            .sub_attribute("type")
            .map_or(&[][..], |def| def.canonical_values.as_slice());
        if let Some(member_op) = members::member_op(
            op,
            target.filter,
            target.sub.is_some(),
            value,
            self.options,
            member_types,
        )? {
            self.member_ops.push(member_op);
        }
        Ok(())
    }

    /// A path-less `add`/`replace`: each key of the value object is an attribute path (plain, dotted,
    /// URN-qualified) or an extension URN whose value holds that extension's attributes
    /// (entra-requests.md §4 item 3).
    fn pathless(
        &mut self,
        doc: &mut Map<String, Value>,
        op: PatchOpKind,
        value: &Value,
    ) -> Result<(), ScimError> {
        let Value::Object(entries) = value else {
            return Err(ScimError::InvalidValue(
                "without a \"path\", the value must be an object of attributes".to_owned(),
            ));
        };
        for (key, value) in entries {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if let Some(schema) = self.resolver.schema_for_urn_key(key) {
                match value {
                    Value::Object(block) => {
                        for (name, value) in block {
                            if let Ok(mut path) = AttrPath::parse(name)
                                && path.urn.is_none()
                            {
                                path.urn = Some(schema.to_owned());
                                self.pathless_entry(doc, op, &path, value)?;
                            }
                        }
                    }
                    Value::Null => {}
                    _ => {
                        return Err(ScimError::InvalidValue(format!(
                            "the value of {key} must be an object of its attributes"
                        )));
                    }
                }
                continue;
            }
            // Keys that are not attribute paths are ignored, as unknown attributes are on create.
            if let Ok(path) = AttrPath::parse(key) {
                self.pathless_entry(doc, op, &path, value)?;
            }
        }
        Ok(())
    }

    fn pathless_entry(
        &mut self,
        doc: &mut Map<String, Value>,
        op: PatchOpKind,
        path: &AttrPath,
        value: &Value,
    ) -> Result<(), ScimError> {
        let Some(attr) = self.resolver.resolve(path) else {
            return Ok(());
        };
        if attr.attr.mutability == Mutability::ReadOnly
            || attr.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
        {
            return Ok(());
        }
        let target = Target {
            sub: attr.sub,
            attr,
            filter: None,
        };
        if self.resolver.is_members(&target.attr) {
            return self.members(op, &target, Some(value));
        }
        self.write(doc, op, &target, Some(value))
    }

    /// Applies one add/replace/remove to the document at `target`.
    fn write(
        &mut self,
        doc: &mut Map<String, Value>,
        op: PatchOpKind,
        target: &Target<'r, '_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let container = if target.attr.is_core {
            doc
        } else {
            let urn = target.attr.schema.id.as_str();
            if !self.touched_extensions.contains(&urn) {
                self.touched_extensions.push(urn);
            }
            canonical_key(doc, urn);
            if op == PatchOpKind::Remove && !doc.contains_key(urn) {
                return Ok(());
            }
            let block = doc
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !block.is_object() {
                *block = Value::Object(Map::new());
            }
            match block.as_object_mut() {
                Some(block) => block,
                None => return Ok(()),
            }
        };
        let attr = target.attr.attr;
        canonical_key(container, &attr.name);
        match (target.filter, target.sub, attr.multi_valued) {
            (None, None, _) => whole_attribute(container, attr, op, value),
            (None, Some(sub), false) => sub_attribute(container, attr, sub, op, value),
            (None, Some(sub), true) => elements(container, attr, &Selection::All, Some(sub), op, value),
            (Some(filter), sub, true) => {
                let filter =
                    ElementFilter::new(self.resolver.registry, self.resolver.kind, &target.attr, filter)?;
                elements(
                    container,
                    attr,
                    &Selection::Matching(Box::new(filter)),
                    sub,
                    op,
                    value,
                )
            }
            (Some(_), _, false) => Err(ScimError::InvalidPath(format!(
                "a value filter needs a multi-valued attribute, and {} is not one",
                attr.name
            ))),
        }
    }

    /// Drops extension blocks the request emptied and keeps `schemas` in step with the blocks present
    /// (RFC 7643 §3: `schemas` lists the extensions a resource uses).
    fn tidy_extensions(&self, doc: &mut Map<String, Value>) {
        for urn in &self.touched_extensions {
            // An extension declared in `schemas` without a block (entra-requests.md §1 body A) is left as
            // it is; only a block this request emptied takes its `schemas` entry with it.
            let emptied = match doc.get(*urn) {
                Some(Value::Object(block)) if block.is_empty() => {
                    doc.remove(*urn);
                    true
                }
                Some(_) => false,
                None => continue,
            };
            let Some(Value::Array(schemas)) = doc.get_mut("schemas") else {
                continue;
            };
            let listed = schemas
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
            if emptied {
                schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
            } else if !listed {
                schemas.push(Value::String((*urn).to_owned()));
            }
        }
    }
}

fn missing_value(op: PatchOpKind) -> ScimError {
    ScimError::InvalidValue(format!("an \"{op}\" operation needs a \"value\""))
}
