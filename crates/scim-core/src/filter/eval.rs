//! In-memory evaluation of a [`ResolvedFilter`] against a resource's JSON (RFC 7644 §3.4.2.2).
//!
//! Strategy: a path is turned into the list of JSON values it reaches (a multi-valued attribute
//! contributes every element), and a comparison holds if any of them satisfies it ("If the specified
//! attribute is multi-valued, the filter matches if any of the values match"). Attribute names are looked
//! up case-insensitively (RFC 7643 §2.1); core and common attributes sit at the top of the resource, an
//! extension's attributes under its schema URN key ([`ResolvedPath::is_core`]). A value path evaluates its
//! whole inner filter against one element at a time, so `emails[type eq "work" and value co "@x"]` needs
//! both on the same email.
//!
//! Comparison rules (RFC 7644 §3.4.2.2 Table 3, RFC 7643 §2.3):
//! - strings: caseExact=false compares Unicode-lowercased text; `co`/`sw`/`ew` are substring tests;
//!   `gt`/`ge`/`lt`/`le` compare lexicographically;
//! - dateTime: by the instant both sides denote (a stored value that is not RFC 3339 matches nothing);
//! - numbers: numerically, exactly for integers;
//! - booleans: `eq`/`ne` only (a stored `"True"`/`"false"` string counts as the boolean);
//! - `pr`: present and not null, `""`, `[]` or `{}` (RFC 7643 §2.5 treats those as unassigned).
//!
//! The resolver already matched each operator and literal to the attribute's type ([`Comparison`]), so
//! there is no mismatch to handle here, only stored values of the wrong JSON type, which satisfy nothing.
//!
//! Decisions where RFC 7644 is silent:
//! - `ne` is exactly `not eq`: it matches an absent attribute, and on a multi-valued attribute it means
//!   "no value equals". So `title ne "x"` and `not (title eq "x")` always agree, and the SQL compiler has one
//!   rule to follow.
//! - `eq null` matches when the attribute is not present (in the `pr` sense); `ne null` when it is. The
//!   resolver writes these as `not (attr pr)` and `attr pr`.
//! - Every other operator is false on an absent attribute.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use super::{Comparison, OrderingOp, ResolvedFilter, ResolvedPath, SubstringOp, TextOp};

/// Whether `resource` (a SCIM resource as JSON) satisfies `filter`.
pub fn matches(filter: &ResolvedFilter, resource: &Value) -> bool {
    eval(filter, Context::Resource(resource))
}

/// Whether one element of a multi-valued complex attribute satisfies a value filter, as returned by
/// [`super::resolve_value_filter`] (or the `filter` of a [`ResolvedFilter::ValuePath`]). PATCH uses this to
/// pick the elements `emails[type eq "work"]` addresses (RFC 7644 §3.5.2).
pub fn matches_element(filter: &ResolvedFilter, element: &Value) -> bool {
    eval(filter, Context::Element(element))
}

/// What paths are relative to: the whole resource, or one element of a value path's attribute.
#[derive(Debug, Clone, Copy)]
enum Context<'v> {
    Resource(&'v Value),
    Element(&'v Value),
}

fn eval(filter: &ResolvedFilter, context: Context<'_>) -> bool {
    match filter {
        ResolvedFilter::Compare { path, comparison } => {
            compare(&reach(path, context), path.case_exact, comparison)
        }
        ResolvedFilter::Present(path) => reach(path, context).into_iter().any(is_present),
        ResolvedFilter::Not(inner) => !eval(inner, context),
        ResolvedFilter::And(left, right) => eval(left, context) && eval(right, context),
        ResolvedFilter::Or(left, right) => eval(left, context) || eval(right, context),
        ResolvedFilter::ValuePath { path, filter } => match context {
            Context::Resource(resource) => top_values(path, resource)
                .into_iter()
                .any(|element| eval(filter, Context::Element(element))),
            // The resolver never nests value paths (the grammar has no nested `valuePath`).
            Context::Element(_) => false,
        },
    }
}

/// The JSON values `path` reaches, arrays flattened one level.
fn reach<'v>(path: &ResolvedPath, context: Context<'v>) -> Vec<&'v Value> {
    match context {
        Context::Resource(resource) => {
            let top = top_values(path, resource);
            match &path.sub {
                None => top,
                Some(sub) => top
                    .into_iter()
                    .filter_map(|element| member(element, sub))
                    .flat_map(flatten)
                    .collect(),
            }
        }
        Context::Element(element) => match &path.sub {
            Some(sub) => member(element, sub).map(flatten).unwrap_or_default(),
            None => vec![element],
        },
    }
}

/// The values of the top-level attribute: the elements if it is an array, else the value itself.
fn top_values<'v>(path: &ResolvedPath, resource: &'v Value) -> Vec<&'v Value> {
    let container = if path.is_core {
        Some(resource)
    } else {
        member(resource, &path.schema)
    };
    container
        .and_then(|c| member(c, &path.attr))
        .map(flatten)
        .unwrap_or_default()
}

fn flatten(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Object(_) => {
            vec![value]
        }
    }
}

/// `object[name]`, exact key first, then case-insensitively (RFC 7643 §2.1).
fn member<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let map = object.as_object()?;
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// RFC 7644 §3.4.2.2 `pr`: has a non-empty value.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(_) | Value::Number(_) => true,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(members) => members.values().any(is_present),
    }
}

/// Whether the values `path` reached satisfy `comparison`: some value does, except for `ne`, which is
/// exactly `not eq` (module docs), so it holds when no value equals, and when there is no value.
fn compare(values: &[&Value], case_exact: bool, comparison: &Comparison) -> bool {
    let any_holds = values.iter().any(|value| holds(value, case_exact, comparison));
    if comparison.is_ne() { !any_holds } else { any_holds }
}

/// Whether one stored value satisfies `comparison`, testing `ne` as equality ([`compare`] negates it). A
/// stored value of the wrong JSON type satisfies nothing.
fn holds(value: &Value, case_exact: bool, comparison: &Comparison) -> bool {
    match comparison {
        Comparison::Text { op, value: want } => value
            .as_str()
            .is_some_and(|have| compare_text(have, want, case_exact, *op)),
        Comparison::Number { op, value: want } => match value {
            Value::Number(have) => compare_numbers(have, want).is_some_and(|ord| ordering_holds(*op, ord)),
            Value::Null | Value::Bool(_) | Value::String(_) | Value::Array(_) | Value::Object(_) => false,
        },
        Comparison::Boolean { op: _, value: want } => stored_bool(value) == Some(*want),
        Comparison::DateTime { op, value: want } => value
            .as_str()
            .and_then(instant)
            .is_some_and(|have| ordering_holds(*op, have.cmp(&want.instant))),
    }
}

fn compare_text(have: &str, want: &str, case_exact: bool, op: TextOp) -> bool {
    let fold = |text: &str| -> String { text.to_lowercase() };
    let (have, want): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
        (Cow::Borrowed(have), Cow::Borrowed(want))
    } else {
        (Cow::Owned(fold(have)), Cow::Owned(fold(want)))
    };
    match op {
        TextOp::Ordering(op) => ordering_holds(op, have.cmp(&want)),
        TextOp::Substring(SubstringOp::Contains) => have.contains(want.as_ref()),
        TextOp::Substring(SubstringOp::StartsWith) => have.starts_with(want.as_ref()),
        TextOp::Substring(SubstringOp::EndsWith) => have.ends_with(want.as_ref()),
    }
}

/// `op` given how the stored value orders against the literal; `ne` tests equality ([`compare`] negates
/// it).
fn ordering_holds(op: OrderingOp, ord: Ordering) -> bool {
    match op {
        OrderingOp::Eq | OrderingOp::Ne => ord == Ordering::Equal,
        OrderingOp::Gt => ord == Ordering::Greater,
        OrderingOp::Ge => ord != Ordering::Less,
        OrderingOp::Lt => ord == Ordering::Less,
        OrderingOp::Le => ord != Ordering::Greater,
    }
}

fn instant(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

/// Integers compare exactly (as i128, which holds both u64 and i64); anything else as f64.
fn compare_numbers(have: &Number, want: &Number) -> Option<Ordering> {
    let exact = |n: &Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (exact(have), exact(want)) {
        (Some(have), Some(want)) => Some(have.cmp(&want)),
        (None | Some(_), None) | (None, Some(_)) => have.as_f64()?.partial_cmp(&want.as_f64()?),
    }
}

/// A stored boolean; `"True"`/`"false"` strings count, since Entra writes booleans that way.
fn stored_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        Value::Null | Value::Number(_) | Value::String(_) | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::filter::test_support::{mirror_into_rfc_fill, registry, sample_user};
    use crate::filter::{MAX_FILTER_NODES, parse, resolve};
    use crate::ids::ResourceKind;

    fn check(cases: &[(&str, bool)], resource: &Value) {
        let registry = registry();
        for (text, expected) in cases {
            let resolved = resolve(&parse(text).unwrap(), &registry, ResourceKind::User)
                .unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(matches(&resolved, resource), *expected, "{text}");
        }
    }

    #[test]
    fn rfc_7644_figure_2_examples_against_a_sample_user() {
        check(
            &[
                (r#"userName eq "bjensen@example.com""#, true),
                (r#"userName eq "bjensen""#, false),
                (r#"name.familyName co "O'Malley""#, true),
                (r#"name.familyName co "o'malley""#, true),
                (r#"userName sw "J""#, false),
                (r#"userName sw "B""#, true),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bJ""#,
                    true,
                ),
                ("title pr", true),
                ("nickName pr", true),
                (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
                (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
                (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
                (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
                // Same instant in another offset.
                (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
                (r#"meta.created lt "2011-05-13T04:42:34Z""#, true),
                (r#"title pr and userType eq "Employee""#, true),
                (r#"title pr and userType eq "Intern""#, false),
                (r#"title pr or userType eq "Intern""#, true),
                (
                    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                    true,
                ),
                (
                    r#"schemas eq "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER""#,
                    true,
                ),
                (r#"schemas eq "urn:other""#, false),
                (
                    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                    true,
                ),
                (
                    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                    false,
                ),
                (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
                (
                    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                    true,
                ),
                (
                    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                    true,
                ),
            ],
            &sample_user(),
        );
    }

    #[test]
    fn entra_filters_against_a_sample_user() {
        check(
            &[
                (
                    r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
                    false,
                ),
                ("externalId eq jyoung", true),
                // externalId is caseExact.
                ("externalId eq JYOUNG", false),
                (r#"displayName eq "babs jensen""#, true),
                (r#"DisplayName eq "BobIsAmazing""#, false),
                (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
                (
                    r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
                    true,
                ),
                (
                    r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "other""#,
                    false,
                ),
                (r#"emails[type eq "work"].value eq "BJensen@example.com""#, true),
                (r#"emails[type eq "home"].value eq "bjensen@example.com""#, false),
                (r#"name.FamilyName eq "o'malley""#, true),
                (r#"roles[primary eq "True"].value eq "Admin""#, true),
                (r#"roles[primary eq "True"].value eq "Reader""#, false),
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                    true,
                ),
                (r#"department eq "tour operations""#, true),
            ],
            &sample_user(),
        );
    }

    #[test]
    fn value_path_needs_one_element_to_satisfy_the_whole_inner_filter() {
        check(
            &[
                // The work email is on example.com, the home one on jensen.org: no single element has both.
                (r#"emails[type eq "home" and value co "example.com"]"#, false),
                (r#"emails.type eq "home" and emails.value co "example.com""#, true),
                (r#"emails[type eq "home" or value co "example.com"]"#, true),
                (r#"emails[not (type eq "work")]"#, true),
                (r#"emails[primary eq true]"#, true),
                (r#"emails[primary eq false]"#, false),
                (r#"emails[primary pr]"#, true),
                (r#"emails[type eq "work"]"#, true),
                (r#"phoneNumbers[type eq "work"]"#, true),
                (r#"ims[type eq "aim"]"#, false),
            ],
            &sample_user(),
        );
    }

    #[test]
    fn comparison_rules_per_type() {
        check(
            &[
                // caseExact=false strings compare Unicode-lowercased.
                (r#"displayName eq "BABS JENSEN""#, true),
                (r#"displayName co "S JEN""#, true),
                (r#"displayName sw "babs""#, true),
                (r#"displayName ew "JENSEN""#, true),
                (r#"displayName ew "babs""#, false),
                (r#"displayName gt "Babs""#, true),
                (r#"displayName lt "Babs""#, false),
                // caseExact=true strings do not.
                (r#"code eq "AbC""#, true),
                (r#"code eq "abc""#, false),
                (r#"code co "bC""#, true),
                (r#"code co "bc""#, false),
                // Integers and decimals numerically.
                ("loginCount eq 42", true),
                ("loginCount gt 41", true),
                ("loginCount ge 42", true),
                ("loginCount lt 42", false),
                ("loginCount le 100", true),
                ("loginCount eq 18446744073709551615", false),
                ("loginCount gt -9223372036854775808", true),
                ("score gt 97", true),
                ("score eq 97.5", true),
                ("score lt 1e2", true),
                // dateTime by instant: 2009-03-01T09:00:00+01:00 is 08:00Z.
                (r#"hiredAt eq "2009-03-01T08:00:00Z""#, true),
                (r#"hiredAt gt "2009-03-01T08:30:00Z""#, false),
                (r#"hiredAt lt "2009-03-01T08:30:00Z""#, true),
                // Multi-valued simple attribute: any value.
                (r#"badges eq "gold""#, true),
                (r#"badges eq "bronze""#, false),
                (r#"badges ne "gold""#, false),
                (r#"badges ne "bronze""#, true),
                (r#"homepage sw "HTTPS://""#, true),
                (r#"photoBlob eq "aGVsbG8=""#, true),
                ("active eq true", true),
                ("active eq false", false),
                (r#"active ne "false""#, true),
            ],
            &sample_user(),
        );
    }

    #[test]
    fn presence_absence_null_and_ne_semantics() {
        check(
            &[
                // badgeColor is "", which RFC 7643 §2.5 treats as unassigned.
                ("badgeColor pr", false),
                ("badgeColor eq null", true),
                ("badgeColor ne null", false),
                ("title eq null", false),
                ("title ne null", true),
                ("name pr", true),
                ("emails pr", true),
                ("ims.display pr", false),
                // ne on an absent attribute is true: ne is exactly not-eq.
                (r#"ims.display ne "x""#, true),
                (r#"not (ims.display eq "x")"#, true),
                (r#"ims.display eq "x""#, false),
                (r#"ims.display co "x""#, false),
                (r#"ims.display gt "a""#, false),
                ("ims.display eq null", true),
                // On a multi-valued attribute ne means no value equals.
                (r#"emails.type ne "work""#, false),
                (r#"emails.type ne "other""#, true),
            ],
            &sample_user(),
        );
    }

    #[test]
    fn pr_ignores_empty_and_null_values() {
        let resource = json!({
            "userName": "x",
            "title": null,
            "nickName": "",
            "emails": [],
            "name": {},
            "ims": [{"value": null}],
            "roles": [{"value": "", "type": null}],
            "phoneNumbers": [{}, {"value": "1"}]
        });
        check(
            &[
                ("title pr", false),
                ("nickName pr", false),
                ("emails pr", false),
                ("name pr", false),
                ("ims pr", false),
                ("roles pr", false),
                ("phoneNumbers pr", true),
                ("phoneNumbers.value pr", true),
                ("userType pr", false),
                ("userName pr", true),
            ],
            &mirror_into_rfc_fill(resource),
        );
    }

    #[test]
    fn attribute_names_in_the_resource_are_matched_case_insensitively() {
        let resource = json!({
            "USERNAME": "Alice",
            "Emails": [{"Value": "a@x.org", "TYPE": "work", "Primary": "True"}],
            "META": {"LastModified": "2020-01-01T00:00:00Z"},
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Department": "R&D"}
        });
        check(
            &[
                (r#"userName eq "alice""#, true),
                (r#"emails[type eq "work"].value eq "A@X.ORG""#, true),
                // A stored "True" string counts as the boolean (Entra writes booleans that way).
                ("emails[primary eq true]", true),
                (r#"meta.lastModified eq "2020-01-01T00:00:00Z""#, true),
                (r#"department eq "r&d""#, true),
            ],
            &resource,
        );
    }

    #[test]
    fn wrongly_typed_stored_values_match_nothing() {
        let resource = json!({
            "userName": 5,
            "active": "maybe",
            "meta": {"lastModified": "not a date"},
            "urn:example:params:scim:schemas:extension:types:2.0:User": {"loginCount": "42"}
        });
        check(
            &[
                (r#"userName eq "5""#, false),
                ("active eq true", false),
                ("active eq false", false),
                (r#"meta.lastModified lt "2020-01-01T00:00:00Z""#, false),
                ("loginCount eq 42", false),
            ],
            &resource,
        );
        assert!(!matches(
            &resolve(&parse("userName pr").unwrap(), &registry(), ResourceKind::User).unwrap(),
            &json!("not an object")
        ));
    }

    #[test]
    fn value_filters_select_single_elements_for_patch() {
        use crate::filter::{parse_value_filter, resolve_value_filter};
        use crate::path::AttrPath;
        let registry = registry();
        let select = |attr: &str, text: &str, element: Value| {
            let filter = parse_value_filter(text).unwrap();
            let resolved = resolve_value_filter(
                &filter,
                &registry,
                ResourceKind::User,
                &AttrPath::parse(attr).unwrap(),
            )
            .unwrap_or_else(|e| panic!("{text}: {e:?}"));
            matches_element(&resolved, &element)
        };
        let work = json!({"type": "work", "value": "a@example.com", "primary": true});
        let home = json!({"type": "home", "value": "b@example.org"});
        assert!(select("emails", r#"type eq "work""#, work.clone()));
        assert!(!select("emails", r#"type eq "work""#, home.clone()));
        assert!(select(
            "emails",
            r#"TYPE eq "WORK" and value ew ".com""#,
            work.clone()
        ));
        assert!(select("emails", r#"primary eq "True""#, work));
        assert!(!select("emails", "primary eq true", home));
        assert!(select(
            "roles",
            r#"primary eq "True""#,
            json!({"value": "Admin", "primary": true})
        ));
        let err = resolve_value_filter(
            &parse_value_filter("nosuch pr").unwrap(),
            &registry,
            ResourceKind::User,
            &AttrPath::new("emails"),
        )
        .unwrap_err();
        assert!(
            err.detail().contains("emails has no sub-attribute nosuch"),
            "{err:?}"
        );
        let err = resolve_value_filter(
            &parse_value_filter("value pr").unwrap(),
            &registry,
            ResourceKind::User,
            &AttrPath::new("userName"),
        )
        .unwrap_err();
        assert!(err.detail().contains("needs a complex attribute"), "{err:?}");
    }

    #[test]
    fn the_largest_accepted_filter_walks_without_exhausting_the_stack() {
        // MAX_FILTER_NODES / 2 clauses is the longest `or` chain the parser accepts: the deepest tree any
        // parsed filter can have. Every stage must handle it on a default 2 MiB test thread.
        let clauses = MAX_FILTER_NODES.div_ceil(2);
        let text = vec![r#"userName eq "nobody""#; clauses].join(" or ");
        let filter = parse(&text).unwrap();
        assert_eq!(parse(&filter.to_string()), Ok(filter.clone()));
        let resolved = resolve(&filter, &registry(), ResourceKind::User).unwrap();
        assert!(!matches(&resolved, &sample_user()));
        // n `not`s, n `and`s and one `pr`.
        let nots = (MAX_FILTER_NODES - 1) / 3;
        let text = format!(
            "{} and userName pr",
            vec![r#"not (userName eq "nobody")"#; nots].join(" and ")
        );
        let resolved = resolve(&parse(&text).unwrap(), &registry(), ResourceKind::User).unwrap();
        assert!(matches(&resolved, &sample_user()));
    }
}
