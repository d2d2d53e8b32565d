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

/// Parses the text between `[` and `]` of a PATCH path.
pub(super) fn parse_value_filter(text: &str) -> Result<Filter, ScimError> {
    crate::filter::parse(text)
}

/// A value filter ready to test elements of one multi-valued complex attribute.
#[derive(Debug)]
pub(super) struct ElementFilter<'r> {
    attr: &'r AttributeDef,
    /// The extension URN the attribute sits under, `None` for core and common attributes.
    extension: Option<&'r str>,
    /// The filter as parsed, for [`Self::template`].
    filter: Filter,
    /// `attr[filter]` resolved as a whole-resource filter.
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
        let extension = (!target.is_core).then_some(target.schema.id.as_str());
        let value_path = Filter::ValuePath {
            path: AttrPath {
                urn: extension.map(str::to_owned),
                name: target.attr.name.clone(),
                sub: None,
            },
            filter: Box::new(filter.clone()),
        };
        let resolved = crate::filter::resolve(&value_path, registry, kind)?;
        Ok(Self {
            attr: target.attr,
            extension,
            filter: filter.clone(),
            resolved,
        })
    }

    /// Whether `element` satisfies the filter. The evaluator works on whole resources, so the element is
    /// placed alone in a minimal one; a value path matches a resource when one element matches.
    pub(super) fn matches(&self, element: &Value) -> bool {
        let mut holder = Map::new();
        holder.insert(self.attr.name.clone(), Value::Array(vec![element.clone()]));
        let resource = match self.extension {
            None => holder,
            Some(urn) => {
                let mut resource = Map::new();
                resource.insert(urn.to_owned(), Value::Object(holder));
                resource
            }
        };
        crate::filter::matches(&self.resolved, &Value::Object(resource))
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
