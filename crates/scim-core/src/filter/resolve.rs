//! Resolution of a parsed [`Filter`] against the schema registry (STYLE.md §2.1 item 2, after kanidm's
//! `from_scim_ro`).
//!
//! Strategy: one exhaustive `match` over [`Filter`] (no `_ =>` arm, so a new variant cannot be skipped
//! silently), spending one unit of a node budget per node so a hand-built tree cannot exhaust the stack
//! either. Each path becomes a [`ResolvedPath`] with the schema's canonical names, type and caseExact; each
//! comparison becomes a [`Comparison`] typed by that attribute, refused unless the type takes both its
//! operator and its literal. `eq null`/`ne null` become presence tests here, the one place that rule is
//! written. Anything the schema cannot answer is `invalidFilter` (RFC 7644 §3.4.2.2: "If the specified
//! attribute in a filter expression is not a defined attribute, … invalidFilter"), never an internal error.
//!
//! Leniencies, each for a client seen in the wild (`shared/reference/entra-requests.md`):
//! - An unqualified name missing from the core schema is looked up in the resource type's extensions, first
//!   match wins: Entra sends `manager eq "…"` without the enterprise URN.
//! - A complex attribute compared directly is compared on its `value` sub-attribute (`emails co "x"` means
//!   `emails.value co "x"`, RFC 7644 §3.4.2.2 Figure 2; Entra's `manager eq "id"` likewise).
//! - A boolean compared with the string `"True"`/`"False"` (any case) takes the boolean: Entra sends
//!   `roles[primary eq "True"]`.
//! - A string attribute compared with an unquoted number takes its text: `externalId eq 12345`.
//!
//! `schemas` (RFC 7643 §3) is in no schema's attribute list; it resolves as a multi-valued, case-insensitive
//! string of the core schema.

use std::fmt;

use super::{
    CompValue, CompareOp, Comparison, DateTimeLiteral, Filter, MAX_FILTER_NODES, ResolvedFilter, ResolvedPath,
};
use crate::ScimError;
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{AttributeDef, AttributeType, SchemaRegistry};

/// Resolves every path of `filter` for resources of `kind` and checks every literal against its attribute's
/// type. Inside a value path the inner paths come out absolute (`attr` = the value path's attribute,
/// `sub` = the inner name).
pub fn resolve(
    filter: &Filter,
    registry: &SchemaRegistry,
    kind: ResourceKind,
) -> Result<ResolvedFilter, ScimError> {
    let mut resolver = Resolver {
        registry,
        kind,
        remaining_nodes: MAX_FILTER_NODES,
    };
    resolver.filter(filter, None).map(|resolved| *resolved)
}

/// Resolves a value filter (from [`super::parse_value_filter`]) whose paths are sub-attributes of the
/// multi-valued complex attribute `attr`, e.g. the `type eq "work"` of PATCH path `emails[type eq "work"]`.
/// The result's paths are absolute, exactly as inside a resolved [`Filter::ValuePath`]; test elements with
/// [`super::matches_element`].
pub fn resolve_value_filter(
    filter: &Filter,
    registry: &SchemaRegistry,
    kind: ResourceKind,
    attr: &AttrPath,
) -> Result<ResolvedFilter, ScimError> {
    let mut resolver = Resolver {
        registry,
        kind,
        remaining_nodes: MAX_FILTER_NODES,
    };
    let element = resolver.value_path_attr(attr)?;
    resolver.filter(filter, Some(&element)).map(|resolved| *resolved)
}

/// The name RFC 7643 §3 gives the attribute listing a resource's schema URNs.
const SCHEMAS_ATTR: &str = "schemas";

struct Resolver<'r> {
    registry: &'r SchemaRegistry,
    kind: ResourceKind,
    remaining_nodes: usize,
}

/// The attribute of the enclosing value path, whose sub-attributes the inner paths name.
struct Element<'r> {
    path: ResolvedPath,
    def: &'r AttributeDef,
}

/// Whether a path is compared (a complex attribute then means its `value`) or tested with `pr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Compare,
    Present,
}

impl<'r> Resolver<'r> {
    /// The recursive walk. It returns boxes and keeps leaf and value-path work in separate non-inlined
    /// functions so its frame stays small: recursion depth is bounded only by the node budget, and
    /// unoptimised builds give every temporary of every arm its own stack slot.
    fn filter(
        &mut self,
        filter: &Filter,
        element: Option<&Element<'r>>,
    ) -> Result<Box<ResolvedFilter>, ScimError> {
        self.spend_node()?;
        match filter {
            Filter::Compare { path, op, value } => self.compare(path, *op, value, element),
            Filter::Present(path) => self.present(path, element),
            Filter::Not(inner) => Ok(Box::new(ResolvedFilter::Not(self.filter(inner, element)?))),
            Filter::And(left, right) => {
                let left = self.filter(left, element)?;
                Ok(Box::new(ResolvedFilter::And(left, self.filter(right, element)?)))
            }
            Filter::Or(left, right) => {
                let left = self.filter(left, element)?;
                Ok(Box::new(ResolvedFilter::Or(left, self.filter(right, element)?)))
            }
            Filter::ValuePath { path, filter } => self.value_path(path, filter, element),
        }
    }

    /// `path[filter]`: the only place the walk recurses with an element scope, and only once since value
    /// paths cannot nest.
    #[inline(never)]
    fn value_path(
        &mut self,
        path: &AttrPath,
        filter: &Filter,
        element: Option<&Element<'r>>,
    ) -> Result<Box<ResolvedFilter>, ScimError> {
        if element.is_some() {
            return Err(invalid(format!(
                "value filter on {path} cannot be nested in another"
            )));
        }
        let outer = self.value_path_attr(path)?;
        let inner = self.filter(filter, Some(&outer))?;
        Ok(Box::new(ResolvedFilter::ValuePath {
            path: outer.path,
            filter: inner,
        }))
    }

    #[inline(never)]
    fn compare(
        &self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
        element: Option<&Element<'r>>,
    ) -> Result<Box<ResolvedFilter>, ScimError> {
        let resolved = self.path(path, element, Use::Compare)?;
        // RFC 7644 §3.4.2.2 defines `eq null`/`ne null` only by implication: "not present" and "present".
        // This is the one place that rule is written; nothing downstream sees a null.
        if *value == CompValue::Null {
            let present = Box::new(ResolvedFilter::Present(resolved));
            return match op {
                CompareOp::Eq => Ok(Box::new(ResolvedFilter::Not(present))),
                CompareOp::Ne => Ok(present),
                CompareOp::Co
                | CompareOp::Sw
                | CompareOp::Ew
                | CompareOp::Gt
                | CompareOp::Ge
                | CompareOp::Lt
                | CompareOp::Le => Err(invalid(format!(
                    "{path} {op} null: null can only be compared with eq or ne"
                ))),
            };
        }
        let comparison = typed_comparison(&resolved, op, value, path)?;
        Ok(Box::new(ResolvedFilter::Compare {
            path: resolved,
            comparison,
        }))
    }

    #[inline(never)]
    fn present(
        &self,
        path: &AttrPath,
        element: Option<&Element<'r>>,
    ) -> Result<Box<ResolvedFilter>, ScimError> {
        Ok(Box::new(ResolvedFilter::Present(self.path(
            path,
            element,
            Use::Present,
        )?)))
    }

    #[inline(never)]
    fn spend_node(&mut self) -> Result<(), ScimError> {
        self.remaining_nodes = self
            .remaining_nodes
            .checked_sub(1)
            .ok_or_else(|| invalid(format!("filter has more than {MAX_FILTER_NODES} expressions")))?;
        Ok(())
    }

    fn path(
        &self,
        path: &AttrPath,
        element: Option<&Element<'r>>,
        usage: Use,
    ) -> Result<ResolvedPath, ScimError> {
        match element {
            Some(element) => sub_attribute_path(path, element),
            None => self.top_level_path(path, usage),
        }
    }

    /// A path outside any value path.
    fn top_level_path(&self, path: &AttrPath, usage: Use) -> Result<ResolvedPath, ScimError> {
        if self.is_schemas(path) {
            return Ok(ResolvedPath {
                schema: self.kind.core_schema().to_owned(),
                is_core: true,
                attr: SCHEMAS_ATTR.to_owned(),
                sub: None,
                attr_type: AttributeType::String,
                case_exact: false,
                multi_valued: true,
            });
        }
        let found = self.lookup(path)?;
        let implicit_value = match (found.sub, usage) {
            (None, Use::Compare) if found.attr.attr_type == AttributeType::Complex => {
                // RFC 7644 §3.4.2.2: `emails co "x"` compares the elements' `value`.
                Some(found.attr.sub_attribute("value").ok_or_else(|| {
                    invalid(format!(
                        "{path} is a complex attribute without a \"value\" sub-attribute; name the \
                         sub-attribute to compare"
                    ))
                })?)
            }
            (None | Some(_), Use::Compare | Use::Present) => None,
        };
        let sub = found.sub.or(implicit_value);
        let target = sub.unwrap_or(found.attr);
        Ok(ResolvedPath {
            schema: found.schema.id.clone(),
            is_core: found.is_core,
            attr: found.attr.name.clone(),
            sub: sub.map(|s| s.name.clone()),
            attr_type: target.attr_type,
            case_exact: target.case_exact,
            multi_valued: found.attr.multi_valued,
        })
    }

    /// `schemas`, bare or qualified with the core schema URN.
    fn is_schemas(&self, path: &AttrPath) -> bool {
        let core_or_bare = path
            .urn
            .as_deref()
            .is_none_or(|urn| urn.eq_ignore_ascii_case(self.kind.core_schema()));
        core_or_bare && path.sub.is_none() && path.name.eq_ignore_ascii_case(SCHEMAS_ATTR)
    }

    /// The registry's answer, falling back to the resource type's extensions for an unqualified name.
    fn lookup(&self, path: &AttrPath) -> Result<crate::schema::ResolvedAttr<'r>, ScimError> {
        let found = self.lookup_defined(path)?;
        // A value that is never returned (`password`) must not be recoverable by probing with filters.
        if found.attr.returned == crate::schema::Returned::Never
            || found
                .sub
                .is_some_and(|s| s.returned == crate::schema::Returned::Never)
        {
            return Err(invalid(format!("attribute {path} cannot be used in a filter")));
        }
        Ok(found)
    }

    fn lookup_defined(&self, path: &AttrPath) -> Result<crate::schema::ResolvedAttr<'r>, ScimError> {
        if let Some(found) = self.registry.resolve(self.kind, path) {
            return Ok(found);
        }
        if path.urn.is_none() {
            // Entra sends enterprise attributes without their URN (`manager eq "…"`).
            let in_extension = self.registry.extensions(self.kind).iter().find_map(|extension| {
                let qualified = AttrPath {
                    urn: Some(extension.schema.clone()),
                    ..path.clone()
                };
                self.registry.resolve(self.kind, &qualified)
            });
            if let Some(found) = in_extension {
                return Ok(found);
            }
        }
        Err(invalid(format!(
            "attribute {path} is not defined for {}",
            self.kind.as_str()
        )))
    }

    /// The attribute before `[`: a complex attribute, named without a sub-attribute.
    fn value_path_attr(&self, path: &AttrPath) -> Result<Element<'r>, ScimError> {
        if self.is_schemas(path) {
            return Err(invalid(format!("{path} has no sub-attributes to filter on")));
        }
        let found = self.lookup(path)?;
        if found.sub.is_some() || found.attr.attr_type != AttributeType::Complex {
            return Err(invalid(format!(
                "a value filter needs a complex attribute; {path} is not one"
            )));
        }
        Ok(Element {
            path: ResolvedPath {
                schema: found.schema.id.clone(),
                is_core: found.is_core,
                attr: found.attr.name.clone(),
                sub: None,
                attr_type: AttributeType::Complex,
                case_exact: found.attr.case_exact,
                multi_valued: found.attr.multi_valued,
            },
            def: found.attr,
        })
    }
}

/// A path inside `outer[…]`: a bare sub-attribute name of `outer`.
fn sub_attribute_path(path: &AttrPath, element: &Element<'_>) -> Result<ResolvedPath, ScimError> {
    let outer = &element.path.attr;
    if path.urn.is_some() || path.sub.is_some() {
        return Err(invalid(format!(
            "inside {outer}[…] name a sub-attribute of {outer}, not {path}"
        )));
    }
    let Some(sub) = element.def.sub_attribute(&path.name) else {
        return Err(invalid(format!("{outer} has no sub-attribute {}", path.name)));
    };
    Ok(ResolvedPath {
        sub: Some(sub.name.clone()),
        attr_type: sub.attr_type,
        case_exact: sub.case_exact,
        ..element.path.clone()
    })
}

/// The comparison `op value` makes on the attribute `path` ends at, if its type takes that operator and
/// that literal (RFC 7644 §3.4.2.2 Table 3). `value` is not null (see [`Resolver::compare`]).
fn typed_comparison(
    path: &ResolvedPath,
    op: CompareOp,
    value: &CompValue,
    shown: &AttrPath,
) -> Result<Comparison, ScimError> {
    let kind = TypeName(path.attr_type);
    let cannot_apply = || invalid(format!("{op} cannot be applied to {shown}, which is {kind}"));
    let mismatch = || invalid(format!("{shown} is {kind}; {value} does not fit it"));
    match path.attr_type {
        AttributeType::String | AttributeType::Reference => {
            let text = match value {
                CompValue::String(text) => text.clone(),
                // `externalId eq 12345`: the number's text.
                CompValue::Number(n) => n.to_string(),
                CompValue::Bool(_) | CompValue::Null => return Err(mismatch()),
            };
            Ok(Comparison::Text {
                op: op.text_op(),
                value: text,
            })
        }
        AttributeType::Binary => {
            if op.equality_op().is_none() {
                return Err(cannot_apply());
            }
            match value {
                CompValue::String(text) => Ok(Comparison::Text {
                    op: op.text_op(),
                    value: text.clone(),
                }),
                CompValue::Bool(_) | CompValue::Number(_) | CompValue::Null => Err(mismatch()),
            }
        }
        AttributeType::Boolean => {
            let op = op.equality_op().ok_or_else(cannot_apply)?;
            let flag = match value {
                CompValue::Bool(flag) => *flag,
                // Entra sends `roles[primary eq "True"]`.
                CompValue::String(text) if text.eq_ignore_ascii_case("true") => true,
                CompValue::String(text) if text.eq_ignore_ascii_case("false") => false,
                CompValue::String(_) | CompValue::Number(_) | CompValue::Null => return Err(mismatch()),
            };
            Ok(Comparison::Boolean { op, value: flag })
        }
        AttributeType::Integer | AttributeType::Decimal => {
            let op = op.ordering_op().ok_or_else(cannot_apply)?;
            match value {
                CompValue::Number(n)
                    if path.attr_type == AttributeType::Decimal || n.is_i64() || n.is_u64() =>
                {
                    Ok(Comparison::Number { op, value: n.clone() })
                }
                CompValue::Number(_) | CompValue::Bool(_) | CompValue::String(_) | CompValue::Null => {
                    Err(mismatch())
                }
            }
        }
        AttributeType::DateTime => {
            let op = op.ordering_op().ok_or_else(cannot_apply)?;
            let CompValue::String(text) = value else {
                return Err(mismatch());
            };
            let instant = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
                invalid(format!(
                    "{shown} is a dateTime; {value} is not an RFC 3339 date-time"
                ))
            })?;
            Ok(Comparison::DateTime {
                op,
                value: DateTimeLiteral {
                    instant,
                    text: text.clone(),
                },
            })
        }
        AttributeType::Complex => Err(cannot_apply()),
    }
}

/// An attribute type with its article, for error details ("a boolean", "an integer").
struct TypeName(AttributeType);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            AttributeType::String => "a string",
            AttributeType::Boolean => "a boolean",
            AttributeType::Decimal => "a decimal",
            AttributeType::Integer => "an integer",
            AttributeType::DateTime => "a dateTime",
            AttributeType::Binary => "binary",
            AttributeType::Reference => "a reference",
            AttributeType::Complex => "complex",
        })
    }
}

fn invalid(detail: String) -> ScimError {
    ScimError::InvalidFilter(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::test_support::{TYPES_URN, registry};
    use crate::filter::{EqualityOp, OrderingOp, SubstringOp, TextOp, parse};
    use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

    fn resolve_user(text: &str) -> Result<ResolvedFilter, ScimError> {
        resolve(&parse(text).unwrap(), &registry(), ResourceKind::User)
    }

    fn only_path(text: &str) -> ResolvedPath {
        match resolve_user(text).unwrap() {
            ResolvedFilter::Compare { path, .. } | ResolvedFilter::Present(path) => path,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn only_comparison(text: &str) -> Comparison {
        match resolve_user(text).unwrap() {
            ResolvedFilter::Compare { comparison, .. } => comparison,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn text(op: TextOp, value: &str) -> Comparison {
        Comparison::Text {
            op,
            value: value.to_owned(),
        }
    }

    const TEXT_EQ: TextOp = TextOp::Ordering(OrderingOp::Eq);

    /// The RFC operator a typed comparison carries.
    fn rfc_op(comparison: &Comparison) -> CompareOp {
        let ordering = |op: OrderingOp| match op {
            OrderingOp::Eq => CompareOp::Eq,
            OrderingOp::Ne => CompareOp::Ne,
            OrderingOp::Gt => CompareOp::Gt,
            OrderingOp::Ge => CompareOp::Ge,
            OrderingOp::Lt => CompareOp::Lt,
            OrderingOp::Le => CompareOp::Le,
        };
        match comparison {
            Comparison::Text {
                op: TextOp::Ordering(op),
                ..
            }
            | Comparison::Number { op, .. }
            | Comparison::DateTime { op, .. } => ordering(*op),
            Comparison::Text {
                op: TextOp::Substring(op),
                ..
            } => match op {
                SubstringOp::Contains => CompareOp::Co,
                SubstringOp::StartsWith => CompareOp::Sw,
                SubstringOp::EndsWith => CompareOp::Ew,
            },
            Comparison::Boolean {
                op: EqualityOp::Eq, ..
            } => CompareOp::Eq,
            Comparison::Boolean {
                op: EqualityOp::Ne, ..
            } => CompareOp::Ne,
        }
    }

    fn refusal(text: &str) -> String {
        match resolve_user(text) {
            Err(ScimError::InvalidFilter(detail)) => detail,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn core_path(
        attr: &str,
        sub: Option<&str>,
        attr_type: AttributeType,
        multi_valued: bool,
    ) -> ResolvedPath {
        ResolvedPath {
            schema: USER_SCHEMA.to_owned(),
            is_core: true,
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
            attr_type,
            case_exact: false,
            multi_valued,
        }
    }

    #[test]
    fn paths_get_canonical_names_types_and_case_exactness() {
        use AttributeType::*;
        let cases = [
            ("userName eq \"x\"", core_path("userName", None, String, false)),
            ("USERNAME eq \"x\"", core_path("userName", None, String, false)),
            (
                "DisplayName eq \"BobIsAmazing\"",
                core_path("displayName", None, String, false),
            ),
            (
                "name.FamilyName eq \"x\"",
                core_path("name", Some("familyName"), String, false),
            ),
            ("active eq true", core_path("active", None, Boolean, false)),
            (
                "emails.Value eq \"x\"",
                core_path("emails", Some("value"), String, true),
            ),
            (
                "emails.primary eq true",
                core_path("emails", Some("primary"), Boolean, true),
            ),
            ("name pr", core_path("name", None, Complex, false)),
            ("emails pr", core_path("emails", None, Complex, true)),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
                core_path("userName", None, String, false),
            ),
            (
                "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
                core_path("schemas", None, String, true),
            ),
            (
                "id eq \"x\"",
                ResolvedPath {
                    case_exact: true,
                    ..core_path("id", None, String, false)
                },
            ),
            (
                "externalId eq jyoung",
                ResolvedPath {
                    case_exact: true,
                    ..core_path("externalId", None, String, false)
                },
            ),
            (
                "meta.Created gt \"2011-05-13T04:42:34Z\"",
                core_path("meta", Some("created"), DateTime, false),
            ),
            (
                "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
                core_path("meta", Some("lastModified"), DateTime, false),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(only_path(text), expected, "{text}");
        }
    }

    #[test]
    fn a_complex_attribute_compared_directly_means_its_value() {
        assert_eq!(
            only_path("emails co \"example.com\""),
            core_path("emails", Some("value"), AttributeType::String, true)
        );
        let manager = only_path("manager eq \"26118915\"");
        assert_eq!(manager.attr, "manager");
        assert_eq!(manager.sub.as_deref(), Some("value"));
        assert!(!manager.is_core);
        assert!(
            refusal("name eq \"x\"").contains("without a \"value\" sub-attribute"),
            "name has no value sub-attribute"
        );
    }

    #[test]
    fn extension_attributes_resolve_with_or_without_their_urn() {
        let qualified = only_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
        );
        assert_eq!(qualified.schema, ENTERPRISE_USER_SCHEMA);
        assert!(!qualified.is_core);
        assert_eq!(qualified.attr, "employeeNumber");
        // Entra leaves the URN off; the first extension defining the name wins.
        assert_eq!(
            only_path("DEPARTMENT eq \"x\""),
            ResolvedPath {
                schema: ENTERPRISE_USER_SCHEMA.to_owned(),
                is_core: false,
                attr: "department".to_owned(),
                sub: None,
                attr_type: AttributeType::String,
                case_exact: false,
                multi_valued: false,
            }
        );
        let badge = only_path("badgeColor eq \"red\"");
        assert_eq!(badge.schema, TYPES_URN);
        assert!(!badge.is_core);
        // A URN names exactly one schema: no fallback from it.
        assert!(refusal(&format!("{ENTERPRISE_USER_SCHEMA}:badgeColor eq \"x\"")).contains("not defined"));
    }

    #[test]
    fn value_path_inner_paths_become_absolute() {
        let resolved = resolve_user(r#"emails[type eq "work"].value eq "user@contoso.com""#).unwrap();
        let emails = core_path("emails", None, AttributeType::Complex, true);
        let expected = ResolvedFilter::ValuePath {
            path: emails,
            filter: Box::new(ResolvedFilter::And(
                Box::new(ResolvedFilter::Compare {
                    path: core_path("emails", Some("type"), AttributeType::String, true),
                    comparison: text(TEXT_EQ, "work"),
                }),
                Box::new(ResolvedFilter::Compare {
                    path: core_path("emails", Some("value"), AttributeType::String, true),
                    comparison: text(TEXT_EQ, "user@contoso.com"),
                }),
            )),
        };
        assert_eq!(resolved, expected);
    }

    #[test]
    fn entra_boolean_strings_become_booleans() {
        let resolved = resolve_user(r#"roles[primary eq "True"]"#).unwrap();
        let ResolvedFilter::ValuePath { filter, .. } = resolved else {
            panic!("{resolved:?}");
        };
        let ResolvedFilter::Compare { comparison, path } = *filter else {
            panic!("{filter:?}");
        };
        let boolean = |op, value| Comparison::Boolean { op, value };
        assert_eq!(comparison, boolean(EqualityOp::Eq, true));
        assert_eq!(path.attr, "roles");
        assert_eq!(path.sub.as_deref(), Some("primary"));
        assert_eq!(
            only_comparison(r#"active eq "FALSE""#),
            boolean(EqualityOp::Eq, false)
        );
        assert_eq!(only_comparison("active ne true"), boolean(EqualityOp::Ne, true));
    }

    #[test]
    fn literals_are_checked_against_the_attribute_type() {
        let number = |op, value| Comparison::Number { op, value };
        let accepted = [
            ("userName eq 12345", text(TEXT_EQ, "12345")),
            ("loginCount gt 3", number(OrderingOp::Gt, 3.into())),
            (
                "score le 2.5",
                number(OrderingOp::Le, serde_json::Number::from_f64(2.5).unwrap()),
            ),
            ("score ge 2", number(OrderingOp::Ge, 2.into())),
            (
                "homepage sw \"https:\"",
                text(TextOp::Substring(SubstringOp::StartsWith), "https:"),
            ),
            ("photoBlob eq \"aGVsbG8=\"", text(TEXT_EQ, "aGVsbG8=")),
            (
                "photoBlob ne \"aGVsbG8=\"",
                text(TextOp::Ordering(OrderingOp::Ne), "aGVsbG8="),
            ),
            (
                "hiredAt lt \"2011-05-13T04:42:34+02:00\"",
                Comparison::DateTime {
                    op: OrderingOp::Lt,
                    value: DateTimeLiteral {
                        instant: chrono::DateTime::parse_from_rfc3339("2011-05-13T02:42:34Z").unwrap(),
                        text: "2011-05-13T04:42:34+02:00".to_owned(),
                    },
                },
            ),
            ("userName gt \"m\"", text(TextOp::Ordering(OrderingOp::Gt), "m")),
        ];
        for (text, comparison) in accepted {
            assert_eq!(only_comparison(text), comparison, "{text}");
        }
        // The instant is compared, and the client's text kept as written.
        let Comparison::DateTime { value, .. } = only_comparison("hiredAt lt \"2011-05-13T04:42:34+02:00\"")
        else {
            panic!("not a dateTime comparison");
        };
        assert_eq!(value.instant.offset().local_minus_utc(), 2 * 3600);
        assert_eq!(value.text, "2011-05-13T04:42:34+02:00");
        let refused = [
            ("active eq \"yes\"", "is a boolean"),
            ("active eq 1", "is a boolean"),
            ("active gt true", "gt cannot be applied to active"),
            ("active co \"t\"", "co cannot be applied"),
            ("loginCount eq 1.5", "is an integer"),
            ("loginCount eq \"3\"", "is an integer"),
            ("loginCount co 3", "co cannot be applied"),
            ("score eq \"x\"", "is a decimal"),
            ("meta.lastModified gt \"yesterday\"", "not an RFC 3339 date-time"),
            ("meta.lastModified gt 5", "is a dateTime"),
            ("meta.created sw \"2011\"", "sw cannot be applied"),
            ("userName eq true", "is a string"),
            ("photoBlob gt \"a\"", "gt cannot be applied"),
            ("photoBlob co \"a\"", "co cannot be applied"),
            ("userName gt null", "null can only be compared with eq or ne"),
            ("emails[primary sw null]", "null can only be compared"),
            ("name gt \"x\"", "without a \"value\" sub-attribute"),
        ];
        for (text, expected) in refused {
            let detail = refusal(text);
            assert!(detail.contains(expected), "{text}: {detail:?} lacks {expected:?}");
        }
    }

    #[test]
    fn every_operator_is_accepted_exactly_where_its_type_takes_it() {
        // RFC 7644 §3.4.2.2 Table 3: strings and references take every operator; ordered types all but
        // co/sw/ew; booleans and binary values eq and ne only; a complex attribute is not compared.
        let ordered = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        let cases: [(&str, &str, &[CompareOp]); 7] = [
            ("userName", "\"x\"", &CompareOp::ALL),
            ("homepage", "\"x\"", &CompareOp::ALL),
            ("loginCount", "3", &ordered),
            ("score", "2.5", &ordered),
            ("hiredAt", "\"2011-05-13T04:42:34Z\"", &ordered),
            ("active", "true", &[CompareOp::Eq, CompareOp::Ne]),
            ("photoBlob", "\"aGVsbG8=\"", &[CompareOp::Eq, CompareOp::Ne]),
        ];
        for (attr, literal, takes) in cases {
            for op in CompareOp::ALL {
                let filter = format!("{attr} {op} {literal}");
                if takes.contains(&op) {
                    assert_eq!(rfc_op(&only_comparison(&filter)), op, "{filter}");
                } else {
                    let detail = refusal(&filter);
                    assert!(
                        detail.contains(&format!("{op} cannot be applied to {attr}")),
                        "{filter}: {detail}"
                    );
                }
            }
        }
    }

    #[test]
    fn null_comparisons_become_presence_tests() {
        let title = only_path("title pr");
        assert_eq!(
            resolve_user("title eq null").unwrap(),
            ResolvedFilter::Not(Box::new(ResolvedFilter::Present(title.clone())))
        );
        assert_eq!(
            resolve_user("title ne null").unwrap(),
            ResolvedFilter::Present(title)
        );
        // A complex attribute compared with null means its value, as with any other literal.
        let email_value = core_path("emails", Some("value"), AttributeType::String, true);
        assert_eq!(
            resolve_user("emails.value ne null").unwrap(),
            ResolvedFilter::Present(email_value.clone())
        );
        assert_eq!(
            resolve_user("emails eq null").unwrap(),
            ResolvedFilter::Not(Box::new(ResolvedFilter::Present(email_value)))
        );
        let in_value_path = resolve_user("emails[display eq null]").unwrap();
        let ResolvedFilter::ValuePath { filter, .. } = in_value_path else {
            panic!("{in_value_path:?}");
        };
        assert_eq!(
            *filter,
            ResolvedFilter::Not(Box::new(ResolvedFilter::Present(core_path(
                "emails",
                Some("display"),
                AttributeType::String,
                true
            ))))
        );
    }

    /// Operator/type pairs the storage filter compiler once had to refuse itself; the typed resolved form
    /// cannot express them, so this is where they are refused: a 400 `invalidFilter`, never a 500.
    #[test]
    fn unsupported_operator_type_pairs_are_invalid_filter_not_internal() {
        for (text, detail) in [
            (
                "active gt true",
                "gt cannot be applied to active, which is a boolean",
            ),
            (
                "meta.created co \"2020\"",
                "co cannot be applied to meta.created, which is a dateTime",
            ),
            (
                "meta.created gt \"yesterday\"",
                "meta.created is a dateTime; \"yesterday\" is not an RFC 3339 date-time",
            ),
            (
                "name eq \"x\"",
                "name is a complex attribute without a \"value\" sub-attribute; name the sub-attribute to \
                 compare",
            ),
        ] {
            let err = resolve_user(text).unwrap_err();
            assert_eq!(err, ScimError::InvalidFilter(detail.to_owned()), "{text}");
            assert_eq!(err.status(), 400, "{text}");
            assert_eq!(err.scim_type(), Some(crate::ScimType::InvalidFilter), "{text}");
        }
    }

    #[test]
    fn never_returned_attributes_cannot_be_filtered() {
        assert!(refusal("password sw \"H\"").contains("password"));
        assert!(refusal("password pr").contains("password"));
    }

    #[test]
    fn unknown_or_misplaced_paths_are_invalid_filters() {
        let refused = [
            ("nosuch eq \"x\"", "attribute nosuch is not defined for User"),
            ("name.nosuch eq \"x\"", "attribute name.nosuch is not defined"),
            ("urn:example:unknown:2.0:User:userName eq \"x\"", "not defined"),
            ("schemas.value eq \"x\"", "not defined"),
            ("emails[nosuch eq \"x\"]", "emails has no sub-attribute nosuch"),
            (
                "emails[value.x eq \"x\"]",
                "inside emails[…] name a sub-attribute",
            ),
            ("emails[urn:x:y:value eq \"x\"]", "inside emails[…]"),
            ("userName[value eq \"x\"]", "userName is not one"),
            ("schemas[value eq \"x\"]", "no sub-attributes"),
        ];
        for (text, expected) in refused {
            let detail = refusal(text);
            assert!(detail.contains(expected), "{text}: {detail:?} lacks {expected:?}");
        }
        // Group resources have no userName.
        let group = resolve(
            &parse("userName eq \"x\"").unwrap(),
            &registry(),
            ResourceKind::Group,
        );
        assert!(matches!(group, Err(ScimError::InvalidFilter(d)) if d.contains("for Group")));
    }

    #[test]
    fn hand_built_nested_value_paths_are_refused() {
        let nested = Filter::ValuePath {
            path: AttrPath::new("emails"),
            filter: Box::new(Filter::ValuePath {
                path: AttrPath::new("emails"),
                filter: Box::new(Filter::Present(AttrPath::new("value"))),
            }),
        };
        let err = resolve(&nested, &registry(), ResourceKind::User).unwrap_err();
        assert!(err.detail().contains("cannot be nested"), "{err:?}");
    }

    #[test]
    fn node_budget_is_enforced_even_for_hand_built_trees() {
        let mut tree = Filter::Present(AttrPath::new("userName"));
        for _ in 0..MAX_FILTER_NODES {
            tree = Filter::Not(Box::new(tree));
        }
        let err = resolve(&tree, &registry(), ResourceKind::User).unwrap_err();
        assert!(err.detail().contains("more than 512 expressions"), "{err:?}");
        // One node fewer fits.
        let ResolvedFilter::Not(_) = resolve(
            &match tree {
                Filter::Not(inner) => *inner,
                other => other,
            },
            &registry(),
            ResourceKind::User,
        )
        .unwrap() else {
            panic!("expected a not");
        };
    }

    #[test]
    fn every_rfc_and_entra_example_resolves() {
        for text in [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
            "externalId eq jyoung",
            r#"displayName eq "x""#,
            r#"id eq "x" and manager eq "y""#,
            r#"emails[type eq "work"].value eq "user@contoso.com""#,
            r#"DisplayName eq "BobIsAmazing""#,
            r#"name.FamilyName eq "x""#,
            r#"roles[primary eq "True"].value eq "Admin""#,
        ] {
            assert!(resolve_user(text).is_ok(), "{text}: {:?}", resolve_user(text));
        }
    }
}
