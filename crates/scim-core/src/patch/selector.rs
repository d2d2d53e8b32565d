//! `attr[filter]` in PATCH paths (RFC 7644 §3.5.2, `valuePath`): parsing the bracket contents, selecting
//! the elements of a multi-valued attribute the filter matches, and building the element a filter
//! describes when nothing matches.
//!
//! Strategy: the filter grammar and its evaluator belong to [`crate::filter`]; this module only adapts
//! them to single elements. Before resolution, string literals compared with a boolean sub-attribute are
//! turned into booleans, because Entra filters on `roles[primary eq "True"]` (entra-requests.md §4 item 7).
//!
//! When a `replace`/`add` filter matches nothing and the filter is a conjunction of `eq` comparisons on
//! the element's own sub-attributes, [`ElementFilter::template`] gives the element those comparisons
//! describe (`emails[type eq "work"]` → `{"type":"work"}`), so the operation can create it (item 7).

use serde_json::{Map, Value};

use super::coerce;
use crate::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::ids::ResourceKind;
use crate::schema::{AttributeDef, ResolvedAttr, SchemaRegistry};

/// Parses the text between `[` and `]` of a PATCH path.
pub(super) fn parse_value_filter(text: &str) -> Result<Filter, ScimError> {
    // Placeholder until the filter module's parser is merged from branch core-filter.
    Err(ScimError::InvalidFilter(format!(
        "value filters ({text:?}) are not supported yet"
    )))
}

/// A value filter ready to test elements of one multi-valued complex attribute.
#[derive(Debug)]
pub(super) struct ElementFilter<'r> {
    attr: &'r AttributeDef,
    filter: Filter,
}

impl<'r> ElementFilter<'r> {
    /// Prepares `filter` (paths relative to one element) for the attribute `target` resolved to.
    pub(super) fn new(
        _registry: &'r SchemaRegistry,
        _kind: ResourceKind,
        target: &ResolvedAttr<'r>,
        filter: &Filter,
    ) -> Result<Self, ScimError> {
        let filter = booleans_from_strings(target.attr, filter);
        Ok(Self {
            attr: target.attr,
            filter,
        })
    }

    /// Whether `element` satisfies the filter.
    pub(super) fn matches(&self, _element: &Value) -> bool {
        // Placeholder until the filter module's evaluator is merged from branch core-filter.
        false
    }

    /// The element the filter describes, if it is a conjunction of `eq` comparisons on known
    /// sub-attributes with consistent values; `None` otherwise.
    pub(super) fn template(&self) -> Option<Map<String, Value>> {
        let mut element = Map::new();
        let mut pending = vec![&self.filter];
        while let Some(filter) = pending.pop() {
            match filter {
                Filter::And(left, right) => {
                    pending.push(right);
                    pending.push(left);
                }
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value,
                } if path.urn.is_none() && path.sub.is_none() => {
                    let sub = self.attr.sub_attribute(&path.name)?;
                    let value = coerce::element_value(sub, &literal(value)).ok()??;
                    match element.get(&sub.name) {
                        Some(existing) if *existing != value => return None,
                        _ => {
                            element.insert(sub.name.clone(), value);
                        }
                    }
                }
                Filter::Compare { .. }
                | Filter::Present(_)
                | Filter::Not(_)
                | Filter::Or(_, _)
                | Filter::ValuePath { .. } => return None,
            }
        }
        Some(element)
    }
}

fn literal(value: &CompValue) -> Value {
    match value {
        CompValue::Null => Value::Null,
        CompValue::Bool(flag) => Value::Bool(*flag),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::String(text) => Value::String(text.clone()),
    }
}

/// A copy of `filter` in which `"True"`/`"False"` compared with a boolean sub-attribute of `attr` are
/// booleans. Other comparisons are left for the resolver to judge.
fn booleans_from_strings(attr: &AttributeDef, filter: &Filter) -> Filter {
    match filter {
        Filter::Compare { path, op, value } => {
            let is_boolean = path.urn.is_none()
                && path.sub.is_none()
                && attr
                    .sub_attribute(&path.name)
                    .is_some_and(|sub| sub.attr_type == crate::schema::AttributeType::Boolean);
            let value = match value {
                CompValue::String(text) if is_boolean => {
                    coerce::bool_from_str(text).map_or_else(|| value.clone(), CompValue::Bool)
                }
                other => other.clone(),
            };
            Filter::Compare {
                path: path.clone(),
                op: *op,
                value,
            }
        }
        Filter::Present(path) => Filter::Present(path.clone()),
        Filter::Not(inner) => Filter::Not(Box::new(booleans_from_strings(attr, inner))),
        Filter::And(left, right) => Filter::And(
            Box::new(booleans_from_strings(attr, left)),
            Box::new(booleans_from_strings(attr, right)),
        ),
        Filter::Or(left, right) => Filter::Or(
            Box::new(booleans_from_strings(attr, left)),
            Box::new(booleans_from_strings(attr, right)),
        ),
        Filter::ValuePath { path, filter } => Filter::ValuePath {
            path: path.clone(),
            filter: Box::new(booleans_from_strings(attr, filter)),
        },
    }
}
