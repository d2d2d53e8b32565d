//! Group `members` operations become [`MemberOp`]s; the document is never touched, because storage keeps
//! members in their own table and applies deltas without loading the list (DESIGN.md, scim-core).
//!
//! Decisions, with the client behaviour behind them (entra-requests.md §4):
//! - `add` (with path `members` or path-less `{"members": …}`) → [`MemberOp::Add`]. The value may be a
//!   list of member objects, a single object, or a bare id string (item 18). `$ref`, `display` and other
//!   keys are ignored (item 9); `type` is kept.
//! - `remove` with path `members` and a value → [`MemberOp::Remove`] of exactly the listed ids, never
//!   all (item 4: removing all here is the data-loss bug of authentik#23798 and SCIMReferenceCode#10). An
//!   empty list removes nothing.
//! - `remove` with path `members` and no value (or `null`) → [`MemberOp::RemoveAll`] (RFC 7644
//!   §3.5.2.2; the reference suite's "Patch remove all users").
//! - `remove` with `members[value eq "id"]`, or several such terms joined by `or` → [`MemberOp::Remove`].
//!   Any other filter is `invalidFilter`: evaluating it would need the member list, which this crate
//!   never sees, and silently removing nothing would hide the failure.
//! - `replace` → [`MemberOp::ReplaceAll`], or [`MemberOp::Add`] when
//!   [`PatchOptions::members_replace_is_additive`] is set (item 17).
//! - `add`/`replace` with a value filter, and any path to a member sub-attribute (`members.value`),
//!   are `invalidPath`: a member is identified by its id and has nothing else to change.
//! - A member object whose `value` is missing, empty or not a string is `invalidValue`.
//! - A `type` matching one of the schema's canonical values in another case is written in the canonical
//!   case (`user` → `User`), as create and replace do, so storage can match on it.

use serde_json::Value;

use super::{MemberOp, MemberRef, PatchOpKind, PatchOptions};
use crate::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::ids::ResourceId;

/// The member change for one operation on `members`; `None` when it changes nothing (an empty list).
/// `value` is the operation's value (`None` when absent).
pub(super) fn member_op(
    op: PatchOpKind,
    filter: Option<&Filter>,
    has_sub_attribute: bool,
    value: Option<&Value>,
    options: PatchOptions,
    member_types: &[String],
) -> Result<Option<MemberOp>, ScimError> {
    if has_sub_attribute {
        return Err(ScimError::InvalidPath(
            "a member is identified by its value; its sub-attributes cannot be patched".to_owned(),
        ));
    }
    let value = value.filter(|v| !v.is_null());
    match (op, filter) {
        (PatchOpKind::Remove, Some(filter)) => Ok(Some(MemberOp::Remove(ids_selected_by(filter)?))),
        (PatchOpKind::Remove, None) => match value {
            None => Ok(Some(MemberOp::RemoveAll)),
            Some(value) => {
                let ids: Vec<ResourceId> = member_refs(value, member_types)?
                    .into_iter()
                    .map(|m| m.value)
                    .collect();
                Ok((!ids.is_empty()).then_some(MemberOp::Remove(ids)))
            }
        },
        (PatchOpKind::Add | PatchOpKind::Replace, Some(_)) => Err(ScimError::InvalidPath(format!(
            "members[filter] can only be used with remove, not {op}"
        ))),
        (PatchOpKind::Add, None) => {
            let refs = value
                .map(|v| member_refs(v, member_types))
                .transpose()?
                .unwrap_or_default();
            Ok((!refs.is_empty()).then_some(MemberOp::Add(refs)))
        }
        (PatchOpKind::Replace, None) => {
            let refs = value
                .map(|v| member_refs(v, member_types))
                .transpose()?
                .unwrap_or_default();
            if options.members_replace_is_additive {
                Ok((!refs.is_empty()).then_some(MemberOp::Add(refs)))
            } else {
                Ok(Some(MemberOp::ReplaceAll(refs)))
            }
        }
    }
}

/// Members listed in a value: a list, a single member object, or a bare id. Null entries are skipped.
/// `member_types` are the canonical values of `members.type`.
fn member_refs(value: &Value, member_types: &[String]) -> Result<Vec<MemberRef>, ScimError> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut refs = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Null => {}
            Value::String(id) => refs.push(MemberRef {
                value: member_id(Some(id))?,
                member_type: None,
            }),
            Value::Object(object) => {
                let get = |name: &str| {
                    object
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                };
                let id = match get("value") {
                    Some(Value::String(id)) => Some(id),
                    None | Some(Value::Null) => None,
                    Some(other) => {
                        return Err(ScimError::InvalidValue(format!(
                            "a member's value must be a string id, not {other}"
                        )));
                    }
                };
                let member_type = get("type").and_then(Value::as_str).map(|sent| {
                    member_types
                        .iter()
                        .find(|canonical| canonical.eq_ignore_ascii_case(sent))
                        .map_or_else(|| sent.to_owned(), Clone::clone)
                });
                refs.push(MemberRef {
                    value: member_id(id)?,
                    member_type,
                });
            }
            other => {
                return Err(ScimError::InvalidValue(format!(
                    "a member must be an object with a \"value\" id or an id string, not {other}"
                )));
            }
        }
    }
    Ok(refs)
}

fn member_id(id: Option<&String>) -> Result<ResourceId, ScimError> {
    match id {
        Some(id) if !id.trim().is_empty() => Ok(ResourceId::new(id.clone())),
        _ => Err(ScimError::InvalidValue(
            "every member needs a non-empty \"value\" holding the member's id".to_owned(),
        )),
    }
}

/// The ids named by `value eq "id" [or value eq "id" ...]`. Walks the `or` tree with an explicit stack so
/// a long chain cannot exhaust the call stack.
fn ids_selected_by(filter: &Filter) -> Result<Vec<ResourceId>, ScimError> {
    let unsupported = || {
        ScimError::InvalidFilter(
            "members can only be selected with value eq \"id\", optionally joined with or".to_owned(),
        )
    };
    let mut ids = Vec::new();
    let mut pending = vec![filter];
    while let Some(filter) = pending.pop() {
        match filter {
            Filter::Or(left, right) => {
                pending.push(right);
                pending.push(left);
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(id),
            } if path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("value") => {
                ids.push(member_id(Some(id))?);
            }
            Filter::Compare { .. }
            | Filter::Present(_)
            | Filter::Not(_)
            | Filter::And(_, _)
            | Filter::ValuePath { .. } => return Err(unsupported()),
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ScimType;
    use crate::path::AttrPath;

    fn value_eq(id: &str) -> Filter {
        Filter::Compare {
            path: AttrPath::new("value"),
            op: CompareOp::Eq,
            value: CompValue::String(id.to_owned()),
        }
    }

    fn types() -> Vec<String> {
        vec!["User".to_owned(), "Group".to_owned()]
    }

    fn ids(list: &[&str]) -> Vec<ResourceId> {
        list.iter().map(|id| ResourceId::new(*id)).collect()
    }

    #[test]
    fn or_chains_of_value_eq_select_ids_in_order() {
        let filter = Filter::Or(
            Box::new(Filter::Or(Box::new(value_eq("a")), Box::new(value_eq("b")))),
            Box::new(value_eq("c")),
        );
        assert_eq!(ids_selected_by(&filter).unwrap(), ids(&["a", "b", "c"]));
    }

    #[test]
    fn other_member_filters_are_invalid_filter() {
        let filters = [
            Filter::Present(AttrPath::new("value")),
            Filter::Compare {
                path: AttrPath::new("display"),
                op: CompareOp::Eq,
                value: CompValue::String("Bob".to_owned()),
            },
            Filter::Compare {
                path: AttrPath::new("value"),
                op: CompareOp::Sw,
                value: CompValue::String("a".to_owned()),
            },
            Filter::And(Box::new(value_eq("a")), Box::new(value_eq("b"))),
            Filter::Not(Box::new(value_eq("a"))),
        ];
        for filter in filters {
            let err = ids_selected_by(&filter).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter), "{filter:?}");
        }
    }

    #[test]
    fn member_values_may_be_lists_objects_or_bare_ids() {
        let refs = member_refs(
            &json!([
                {"value": "u1", "type": "user", "$ref": null, "display": "U"},
                "u2",
                null,
                {"Value": "g1", "Type": "Group"},
                {"value": "d1", "type": "Device"}
            ]),
            &types(),
        )
        .unwrap();
        let shown: Vec<(&str, Option<&str>)> = refs
            .iter()
            .map(|m| (m.value.as_str(), m.member_type.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("u1", Some("User")),
                ("u2", None),
                ("g1", Some("Group")),
                ("d1", Some("Device"))
            ]
        );
        assert_eq!(member_refs(&json!({"value": "u3"}), &types()).unwrap().len(), 1);
    }

    #[test]
    fn members_without_an_id_are_invalid_value() {
        for bad in [
            json!([{"display": "x"}]),
            json!([{"value": ""}]),
            json!([{"value": null}]),
            json!([{"value": 12}]),
            json!([12]),
            json!(true),
        ] {
            let err = member_refs(&bad, &types()).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{bad}");
        }
    }

    #[test]
    fn replace_follows_the_additive_option() {
        let value = json!([{"value": "u1"}]);
        let strict = member_op(
            PatchOpKind::Replace,
            None,
            false,
            Some(&value),
            PatchOptions::default(),
            &[],
        );
        assert!(matches!(strict, Ok(Some(MemberOp::ReplaceAll(_)))));
        let additive = PatchOptions {
            members_replace_is_additive: true,
        };
        let additive = member_op(PatchOpKind::Replace, None, false, Some(&value), additive, &[]);
        assert!(matches!(additive, Ok(Some(MemberOp::Add(_)))));
    }

    #[test]
    fn empty_lists_change_nothing_except_under_strict_replace() {
        let empty = json!([]);
        let none = PatchOptions::default();
        assert_eq!(
            member_op(PatchOpKind::Add, None, false, Some(&empty), none, &[]),
            Ok(None)
        );
        assert_eq!(
            member_op(PatchOpKind::Remove, None, false, Some(&empty), none, &[]),
            Ok(None)
        );
        assert_eq!(
            member_op(PatchOpKind::Replace, None, false, Some(&empty), none, &[]),
            Ok(Some(MemberOp::ReplaceAll(Vec::new())))
        );
    }
}
