//! `attr[filter]` in PATCH paths (RFC 7644 §3.5.2, `valuePath`): parsing the bracket contents, selecting
//! the elements of a multi-valued attribute the filter matches, and building the element a filter
//! describes when nothing matches.
//!
//! Strategy: the filter grammar, resolver and evaluator belong to [`crate::filter`]; this module only adapts
//! them to single elements, so PATCH and GET agree on what `emails[type eq "work"]` means (including the
//! resolver's reading of `roles[primary eq "True"]` as a boolean, entra-requests.md §4 item 7).
//!
//! When a `replace`/`add` filter matches nothing and the filter is a conjunction of `eq` comparisons on
//! the element's own sub-attributes, [`ElementFilter::template`] gives the element those comparisons
//! describe (`emails[type eq "work"]` → `{"type":"work"}`), so the operation can create it (item 7).

use serde_json::{Map, Value};

use super::coerce;
use crate::ScimError;
use crate::filter::{CompValue, CompareOp, Filter, ResolvedFilter};
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{AttributeDef, ResolvedAttr, SchemaRegistry};

/// Parses the text between `[` and `]` of a PATCH path (paths relative to one element, no nesting).
pub(super) fn parse_value_filter(text: &str) -> Result<Filter, ScimError> {
    crate::filter::parse_value_filter(text)
}

/// A value filter ready to test elements of one multi-valued complex attribute.
#[derive(Debug)]
pub(super) struct ElementFilter<'r> {
    attr: &'r AttributeDef,
    /// The filter as parsed, for [`Self::template`].
    filter: Filter,
    resolved: ResolvedFilter,
}

impl<'r> ElementFilter<'r> {
    /// Prepares `filter` (paths relative to one element) for the attribute `target` resolved to. Unknown
    /// sub-attributes and literals of the wrong type are `invalidFilter`, as in any filter.
    pub(super) fn new(
        registry: &'r SchemaRegistry,
        kind: ResourceKind,
        target: &ResolvedAttr<'r>,
        filter: &Filter,
    ) -> Result<Self, ScimError> {
        // Qualify the attribute with its schema so an extension attribute cannot be mistaken for a core one.
        let attr_path = AttrPath {
            urn: Some(target.schema.id.clone()),
            name: target.attr.name.clone(),
            sub: None,
        };
        let resolved = crate::filter::resolve_value_filter(filter, registry, kind, &attr_path)?;
        Ok(Self {
            attr: target.attr,
            filter: filter.clone(),
            resolved,
        })
    }

    /// Whether `element` satisfies the filter.
    pub(super) fn matches(&self, element: &Value) -> bool {
        crate::filter::matches_element(&self.resolved, element)
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
