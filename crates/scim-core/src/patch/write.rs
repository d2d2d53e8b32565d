//! The add/replace/remove rules for one attribute of a JSON object, once the path is resolved (RFC 7644
//! §3.5.2.1 add, §3.5.2.2 remove, §3.5.2.3 replace).
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
//! A `null` value on `replace` removes; on `add` it adds nothing. Immutable attributes are `mutability`
//! once they hold a different value. After each change to a multi-valued attribute at most one element
//! has `primary: true`; the value the operation wrote wins (RFC 7643 §2.4 allows the server to clear the
//! others).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::PatchOpKind;
use super::coerce;
use super::selector::ElementFilter;
use crate::ScimError;
use crate::schema::{AttributeDef, AttributeType, Mutability};

/// Which elements of a multi-valued attribute an operation addresses.
pub(super) enum Selection<'r> {
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

/// Renames a key that matches `canonical` case-insensitively to `canonical`, so later lookups by the
/// schema's name find values stored under a client's spelling.
pub(super) fn canonical_key(object: &mut Map<String, Value>, canonical: &str) {
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

pub(super) fn whole_attribute(
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
                    element.get(name).is_some_and(|e| match attr.sub_attribute(name) {
                        Some(sub) => sub.same_value(value, e),
                        // A key the schema does not define compares exactly.
                        None => value == e,
                    })
                })
        }
        (listed, element) => attr.same_value(listed, element),
    }
}

/// `A.S` on a single-valued complex attribute.
pub(super) fn sub_attribute(
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
pub(super) fn elements(
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
