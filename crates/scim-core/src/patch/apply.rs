//! Applying a [`PatchRequest`] to a resource document (RFC 7644 §3.5.2.1 add, §3.5.2.2 remove, §3.5.2.3
//! replace).
//!
//! Strategy: every operation is resolved against the schema registry, then applied to a clone of the
//! document; the clone replaces the original only if all operations succeed, so a failing operation
//! leaves the resource untouched (§3.5.2: "the PATCH operation MUST be atomic"). Keys are written in the
//! schema's case; extension attributes live under their schema URN.
//!
//! A path names an attribute `A`, optionally a value filter `F`, optionally a sub-attribute `S`:
//! - `A` alone: the whole attribute. `add` on a single-valued attribute replaces it (§3.5.2.1), on a
//!   complex one merges sub-attributes, on a multi-valued one appends the values not already present.
//!   `replace` sets a simple value, merges a complex one ("sub-attributes that are not specified … are
//!   left unchanged", §3.5.2.3) and replaces a multi-valued list whole. `remove` unsets; with a value on a
//!   multi-valued attribute it removes only the listed elements (the rule entra-requests.md §4 item 4 asks
//!   for members, applied to every multi-valued attribute for consistency).
//! - `A.S` on a single-valued complex: that sub-attribute. On a multi-valued one: that sub-attribute of
//!   every element (and of a new element if there is none).
//! - `A[F]` / `A[F].S`: the matching elements, or their sub-attribute. `remove` matching nothing is a
//!   no-op (removing what is absent is idempotent). `replace`/`add` matching nothing create the element
//!   the filter describes when `F` is a conjunction of `eq` comparisons (item 7: Entra's
//!   `emails[type eq "work"].value` on a user with no work email); any other filter is `noTarget`
//!   (§3.5.2.3).
//!
//! Other rules: a `null` value on `replace` removes; on `add` it adds nothing. Unknown attributes are
//! `invalidPath`; readOnly ones (`id`, `meta`, `groups`, `manager.displayName`) are `mutability`, and
//! immutable ones are `mutability` once they hold a different value. In a path-less value object,
//! unknown keys and readOnly attributes are ignored, as RFC 7643 §2.2 asks of readOnly input on create.
//! After each change to a multi-valued attribute at most one element has `primary: true`; the value the
//! operation wrote wins (RFC 7643 §2.4 allows the server to clear the others).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::selector::ElementFilter;
use super::{MemberOp, PatchOpKind, PatchOperation, PatchOptions, PatchOutcome, PatchPath, PatchRequest};
use super::{coerce, members};
use crate::ScimError;
use crate::filter::Filter;
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{
    AttributeDef, AttributeType, ENTERPRISE_URN_WITHOUT_COLON, ENTERPRISE_USER_SCHEMA, Mutability,
    ResolvedAttr, SchemaRegistry,
};

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
        registry,
        kind,
        options,
        member_ops: Vec::new(),
        touched_extensions: Vec::new(),
    };
    let mut working = original.clone();
    for (index, operation) in request.operations.iter().enumerate() {
        engine
            .operation(&mut working, operation)
            .map_err(|e| with_context(e, &format!("operation {index} ({})", operation.op)))?;
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

/// The same error with `context: ` before its detail, so a client learns which operation failed.
pub(super) fn with_context(error: ScimError, context: &str) -> ScimError {
    let prefix = |detail: String| format!("{context}: {detail}");
    match error {
        ScimError::InvalidFilter(d) => ScimError::InvalidFilter(prefix(d)),
        ScimError::TooMany(d) => ScimError::TooMany(prefix(d)),
        ScimError::Uniqueness(d) => ScimError::Uniqueness(prefix(d)),
        ScimError::Mutability(d) => ScimError::Mutability(prefix(d)),
        ScimError::InvalidSyntax(d) => ScimError::InvalidSyntax(prefix(d)),
        ScimError::InvalidPath(d) => ScimError::InvalidPath(prefix(d)),
        ScimError::NoTarget(d) => ScimError::NoTarget(prefix(d)),
        ScimError::InvalidValue(d) => ScimError::InvalidValue(prefix(d)),
        ScimError::InvalidVers(d) => ScimError::InvalidVers(prefix(d)),
        ScimError::Sensitive(d) => ScimError::Sensitive(prefix(d)),
        ScimError::NotFound(d) => ScimError::NotFound(prefix(d)),
        ScimError::PreconditionFailed(d) => ScimError::PreconditionFailed(prefix(d)),
        ScimError::BadRequest(d) => ScimError::BadRequest(prefix(d)),
    }
}

/// Where one operation writes: a top-level attribute, optionally filtered, optionally a sub-attribute.
struct Target<'r, 'p> {
    attr: ResolvedAttr<'r>,
    filter: Option<&'p Filter>,
    sub: Option<&'r AttributeDef>,
}

/// Which elements of a multi-valued attribute an operation addresses.
enum Selection<'r> {
    All,
    Matching(Box<ElementFilter<'r>>),
}

impl Selection<'_> {
    fn matches(&self, element: &Value) -> bool {
        match self {
            Self::All => true,
            Self::Matching(filter) => filter.matches(element),
        }
    }

    /// The element to create when nothing matched, or `None` when the selection cannot describe one.
    fn template(&self) -> Option<Map<String, Value>> {
        match self {
            Self::All => Some(Map::new()),
            Self::Matching(filter) => filter.template(),
        }
    }
}

struct Engine<'r> {
    registry: &'r SchemaRegistry,
    kind: ResourceKind,
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
        if let Some(urn) = self.whole_extension(path) {
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
        let target = self.target(path)?;
        if self.is_members(&target.attr) {
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

    /// Resolves a path to the definitions it names; unknown attributes are `invalidPath`.
    fn target<'p>(&self, path: &'p PatchPath) -> Result<Target<'r, 'p>, ScimError> {
        let unknown = || {
            ScimError::InvalidPath(format!(
                "attribute {} is not defined for {}",
                path.attr,
                self.kind.as_str()
            ))
        };
        let attr = self.resolve(&path.attr).ok_or_else(unknown)?;
        let sub = match (&path.filter, &path.sub_after_filter) {
            (_, Some(_)) if attr.sub.is_some() => {
                return Err(ScimError::InvalidPath(format!(
                    "{} names a sub-attribute twice",
                    path.attr
                )));
            }
            (_, Some(name)) => Some(attr.attr.sub_attribute(name).ok_or_else(|| {
                ScimError::InvalidPath(format!("{} has no sub-attribute {name:?}", path.attr))
            })?),
            (_, None) => attr.sub,
        };
        if path.filter.is_some() && !(attr.attr.multi_valued && attr.attr.attr_type == AttributeType::Complex)
        {
            return Err(ScimError::InvalidPath(format!(
                "a value filter needs a multi-valued complex attribute, and {} is not one",
                path.attr
            )));
        }
        Ok(Target {
            attr,
            filter: path.filter.as_ref(),
            sub,
        })
    }

    /// Resolves an attribute path. A name without URN that the core schema lacks is looked up in the
    /// resource type's extensions, first match wins: Entra sends `"path":"manager"` for the enterprise
    /// manager (entra-requests.md §1, "Manager update"), as the filter resolver also allows.
    fn resolve(&self, path: &AttrPath) -> Option<ResolvedAttr<'r>> {
        if let Some(attr) = self.registry.resolve(self.kind, path) {
            return Some(attr);
        }
        if let Some(urn) = &path.urn {
            // Entra's older enterprise URN without the colon before `User`, read as create reads it.
            if !urn.eq_ignore_ascii_case(ENTERPRISE_URN_WITHOUT_COLON) {
                return None;
            }
            let fixed = AttrPath {
                urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                ..path.clone()
            };
            return self.registry.resolve(self.kind, &fixed);
        }
        self.registry.extensions(self.kind).iter().find_map(|extension| {
            let qualified = AttrPath {
                urn: Some(extension.schema.clone()),
                ..path.clone()
            };
            self.registry.resolve(self.kind, &qualified)
        })
    }

    /// A Group's `members` live in storage's member table, never in the document.
    fn is_members(&self, attr: &ResolvedAttr<'_>) -> bool {
        self.kind == ResourceKind::Group
            && attr.is_core
            && attr.attr.multi_valued
            && attr.attr.name.eq_ignore_ascii_case("members")
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
            if let Some(schema) = self.schema_for_urn_key(key) {
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

    /// The extension URN when the path names a whole extension block (`"path": "urn:...:enterprise:2.0:User"`,
    /// RFC 7644 §3.10 allows a schema URN as the attribute path); the URN parser sees it as `urn:...:2.0`
    /// plus an attribute `User`.
    fn whole_extension(&self, path: &PatchPath) -> Option<&'r str> {
        if path.filter.is_some() || path.sub_after_filter.is_some() || path.attr.sub.is_some() {
            return None;
        }
        let full = format!("{}:{}", path.attr.urn.as_deref()?, path.attr.name);
        self.registry
            .extension_schema(self.kind, &full)
            .map(|schema| schema.id.as_str())
    }

    /// The canonical URN if `key` names the core schema or an extension of this resource type.
    fn schema_for_urn_key(&self, key: &str) -> Option<&'r str> {
        let core = self.registry.core_schema(self.kind)?;
        if core.id.eq_ignore_ascii_case(key) {
            return Some(core.id.as_str());
        }
        let key = if key.eq_ignore_ascii_case(ENTERPRISE_URN_WITHOUT_COLON) {
            ENTERPRISE_USER_SCHEMA
        } else {
            key
        };
        self.registry
            .extension_schema(self.kind, key)
            .map(|schema| schema.id.as_str())
    }

    fn pathless_entry(
        &mut self,
        doc: &mut Map<String, Value>,
        op: PatchOpKind,
        path: &AttrPath,
        value: &Value,
    ) -> Result<(), ScimError> {
        let Some(attr) = self.resolve(path) else {
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
        if self.is_members(&target.attr) {
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
                let filter = ElementFilter::new(self.registry, self.kind, &target.attr, filter)?;
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

/// Renames a key that matches `canonical` case-insensitively to `canonical`, so later lookups by the
/// schema's name find values stored under a client's spelling.
fn canonical_key(object: &mut Map<String, Value>, canonical: &str) {
    if object.contains_key(canonical) {
        return;
    }
    let found = object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(canonical))
        .cloned();
    if let Some(found) = found
        && let Some(value) = object.remove(&found)
    {
        object.insert(canonical.to_owned(), value);
    }
}

/// Whether a value counts as unassigned (RFC 7643 §2.5: null, an empty list, an empty complex value).
fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(object) => object.is_empty(),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
    }
}

/// Refuses to change an immutable attribute that already holds a different value (RFC 7643 §7).
fn check_immutable(def: &AttributeDef, old: Option<&Value>, new: Option<&Value>) -> Result<(), ScimError> {
    let old = old.filter(|v| !is_unassigned(v));
    let new = new.filter(|v| !is_unassigned(v));
    if def.mutability == Mutability::Immutable && old.is_some() && old != new {
        return Err(ScimError::Mutability(format!(
            "{} is immutable and already has a value",
            def.name
        )));
    }
    Ok(())
}

/// Writes `new` (or removes on `None`/unassigned) after the immutability check.
fn commit(
    container: &mut Map<String, Value>,
    def: &AttributeDef,
    new: Option<Value>,
) -> Result<(), ScimError> {
    check_immutable(def, container.get(&def.name), new.as_ref())?;
    match new {
        Some(value) if !is_unassigned(&value) => {
            container.insert(def.name.clone(), value);
        }
        _ => {
            container.remove(&def.name);
        }
    }
    Ok(())
}

/// The current elements of a multi-valued attribute (a stray single value counts as one element).
fn current_elements(container: &Map<String, Value>, def: &AttributeDef) -> Vec<Value> {
    match container.get(&def.name) {
        Some(Value::Array(items)) => items.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(single) => vec![single.clone()],
    }
}

fn whole_attribute(
    container: &mut Map<String, Value>,
    attr: &AttributeDef,
    op: PatchOpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.filter(|v| !v.is_null());
    match (op, value) {
        (PatchOpKind::Remove, Some(listed)) if attr.multi_valued => remove_listed(container, attr, listed),
        (PatchOpKind::Remove, _) => commit(container, attr, None),
        (PatchOpKind::Replace, None) => commit(container, attr, None),
        (PatchOpKind::Add, None) => Ok(()),
        (op, Some(value)) => {
            let Some(new) = coerce::attribute_value(attr, value)? else {
                return match op {
                    PatchOpKind::Replace => commit(container, attr, None),
                    PatchOpKind::Add | PatchOpKind::Remove => Ok(()),
                };
            };
            if attr.multi_valued {
                let new_items = match new {
                    Value::Array(items) => items,
                    single => vec![single],
                };
                let (mut items, touched) = if op == PatchOpKind::Replace {
                    let touched = (0..new_items.len()).collect::<Vec<_>>();
                    (new_items, touched)
                } else {
                    let mut items = current_elements(container, attr);
                    // RFC 7644 §3.5.2.1: a value already present is not added again. Serialized JSON is a
                    // canonical key (objects are sorted maps), so long lists stay linear, not quadratic.
                    let mut present: HashSet<String> = items.iter().map(Value::to_string).collect();
                    let mut touched = Vec::new();
                    for item in new_items {
                        if present.insert(item.to_string()) {
                            touched.push(items.len());
                            items.push(item);
                        }
                    }
                    (items, touched)
                };
                single_primary(attr, &mut items, &touched);
                commit(container, attr, Some(Value::Array(items)))
            } else if let Value::Object(subs) = new {
                let mut merged = container
                    .get(&attr.name)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (name, sub_value) in subs {
                    canonical_key(&mut merged, &name);
                    if let Some(sub) = attr.sub_attribute(&name) {
                        check_immutable(sub, merged.get(&name), Some(&sub_value))?;
                    }
                    merged.insert(name, sub_value);
                }
                commit(container, attr, Some(Value::Object(merged)))
            } else {
                commit(container, attr, Some(new))
            }
        }
    }
}

/// `remove` with a value on a multi-valued attribute: drop only the listed elements.
fn remove_listed(
    container: &mut Map<String, Value>,
    attr: &AttributeDef,
    listed: &Value,
) -> Result<(), ScimError> {
    let Some(Value::Array(listed)) = coerce::attribute_value(attr, listed)? else {
        return Ok(());
    };
    let mut items = current_elements(container, attr);
    items.retain(|item| !listed.iter().any(|l| same_element(attr, l, item)));
    commit(container, attr, Some(Value::Array(items)))
}

/// Whether `element` is the one `listed` describes: every sub-attribute `listed` gives is equal (strings
/// compared case-insensitively unless caseExact).
fn same_element(attr: &AttributeDef, listed: &Value, element: &Value) -> bool {
    match (listed, element) {
        (Value::Object(listed), Value::Object(element)) => {
            !listed.is_empty()
                && listed.iter().all(|(name, value)| {
                    let case_exact = attr.sub_attribute(name).is_none_or(|sub| sub.case_exact);
                    element
                        .get(name)
                        .is_some_and(|e| same_value(case_exact, value, e))
                })
        }
        (listed, element) => same_value(attr.case_exact, listed, element),
    }
}

fn same_value(case_exact: bool, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

/// `A.S` on a single-valued complex attribute.
fn sub_attribute(
    container: &mut Map<String, Value>,
    attr: &AttributeDef,
    sub: &AttributeDef,
    op: PatchOpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let new = match (op, value) {
        (PatchOpKind::Remove, _) | (_, None) => None,
        (_, Some(value)) => coerce::attribute_value(sub, value)?,
    };
    if op == PatchOpKind::Add && new.is_none() {
        return Ok(());
    }
    let mut object = container
        .get(&attr.name)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    canonical_key(&mut object, &sub.name);
    commit(&mut object, sub, new)?;
    commit(container, attr, Some(Value::Object(object)))
}

/// Operations on selected elements of a multi-valued complex attribute (`A[F]`, `A[F].S`, `A.S`).
fn elements(
    container: &mut Map<String, Value>,
    attr: &AttributeDef,
    selection: &Selection<'_>,
    sub: Option<&AttributeDef>,
    op: PatchOpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let mut items = current_elements(container, attr);
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| selection.matches(item))
        .map(|(index, _)| index)
        .collect();
    // The new value: a whole element without `S`, the sub-attribute's value with it.
    let new = match (op, value) {
        (PatchOpKind::Remove, _) | (_, None) => None,
        (_, Some(value)) => match sub {
            Some(sub) => coerce::attribute_value(sub, value)?,
            None => coerce::element_value(attr, value)?,
        },
    };
    let mut touched = Vec::new();
    match (op, new) {
        (PatchOpKind::Add, None) => return Ok(()),
        (PatchOpKind::Remove, _) | (PatchOpKind::Replace, None) => match sub {
            None => {
                let mut index = 0;
                items.retain(|_| {
                    // `matched` is ascending, so a binary search keeps this linear-logarithmic.
                    let keep = matched.binary_search(&index).is_err();
                    index += 1;
                    keep
                });
            }
            Some(sub) => {
                for &index in &matched {
                    if let Some(Value::Object(element)) = items.get_mut(index) {
                        canonical_key(element, &sub.name);
                        commit(element, sub, None)?;
                    }
                }
                // An element left with no sub-attributes holds nothing.
                items.retain(|item| !is_unassigned(item));
            }
        },
        (PatchOpKind::Add | PatchOpKind::Replace, Some(new)) => {
            if matched.is_empty() {
                let Some(mut element) = selection.template() else {
                    return Err(ScimError::NoTarget(format!(
                        "no value of {} matches the filter, and the filter does not describe one to create",
                        attr.name
                    )));
                };
                match (sub, new) {
                    (Some(sub), new) => {
                        element.insert(sub.name.clone(), new);
                    }
                    (None, Value::Object(given)) => element.extend(given),
                    (None, _) => {
                        return Err(ScimError::InvalidValue(format!(
                            "a value of {} must be an object",
                            attr.name
                        )));
                    }
                }
                touched.push(items.len());
                items.push(Value::Object(element));
                single_primary(attr, &mut items, &touched);
                return commit(container, attr, Some(Value::Array(items)));
            }
            for &index in &matched {
                let Some(item) = items.get_mut(index) else {
                    continue;
                };
                if !item.is_object() {
                    *item = Value::Object(Map::new());
                }
                let Value::Object(element) = item else {
                    continue;
                };
                match sub {
                    Some(sub) => {
                        canonical_key(element, &sub.name);
                        commit(element, sub, Some(new.clone()))?;
                    }
                    // §3.5.2.3: "all matching record values SHALL be replaced".
                    None if op == PatchOpKind::Replace => {
                        for (name, value) in element.iter() {
                            if let Some(def) = attr.sub_attribute(name) {
                                check_immutable(def, Some(value), new.get(name))?;
                            }
                        }
                        *item = new.clone();
                    }
                    None => {
                        if let Value::Object(given) = &new {
                            for (name, value) in given {
                                canonical_key(element, name);
                                if let Some(def) = attr.sub_attribute(name) {
                                    check_immutable(def, element.get(name), Some(value))?;
                                }
                                element.insert(name.clone(), value.clone());
                            }
                        }
                    }
                }
                touched.push(index);
            }
        }
    }
    single_primary(attr, &mut items, &touched);
    commit(container, attr, Some(Value::Array(items)))
}

/// Leaves at most one element with `primary: true` (RFC 7643 §2.4). Among several, the last one this
/// operation wrote wins; if the operation wrote none of them, the first one does.
fn single_primary(attr: &AttributeDef, items: &mut [Value], touched: &[usize]) {
    let Some(primary) = attr
        .sub_attribute("primary")
        .filter(|def| def.attr_type == AttributeType::Boolean)
    else {
        return;
    };
    let primaries: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.get(&primary.name) == Some(&Value::Bool(true)))
        .map(|(index, _)| index)
        .collect();
    if primaries.len() < 2 {
        return;
    }
    let touched: HashSet<usize> = touched.iter().copied().collect();
    let winner = primaries
        .iter()
        .rev()
        .find(|index| touched.contains(index))
        .or(primaries.first())
        .copied();
    for index in primaries {
        if Some(index) != winner
            && let Some(Value::Object(element)) = items.get_mut(index)
        {
            element.insert(primary.name.clone(), Value::Bool(false));
        }
    }
}
