//! A Group's `members` leave the validated document here: storage keeps them as rows, not JSON.

use serde_json::Value;

use super::get_ci;
use crate::ScimError;
use crate::ids::ResourceId;
use crate::patch::MemberRef;

/// Removes `members` from a validated Group document and returns the member references, in order and
/// without duplicate ids. `None` when the document has no members (on PUT that means "no members").
///
/// A member needs an id: `value`, or failing that the last segment of its `$ref` URI
/// (`…/Users/{id}`); otherwise `invalidValue`. A `type` of `user` or `group` in any case comes back as
/// `User` / `Group`; other types are passed through as sent.
pub fn take_members(doc: &mut Value) -> Result<Option<Vec<MemberRef>>, ScimError> {
    let Some(obj) = doc.as_object_mut() else {
        return Err(ScimError::InvalidSyntax(
            "a Group must be a JSON object".to_owned(),
        ));
    };
    let Some(key) = obj.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned() else {
        return Ok(None);
    };
    let items = match obj.remove(&key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    };
    let mut refs: Vec<MemberRef> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let id = member_id(item)
            .ok_or_else(|| ScimError::InvalidValue(format!("members[{index}].value is required")))?;
        let member_type = get_ci(item, "type").and_then(Value::as_str).map(|t| {
            // The canonical values (RFC 7643 §4.2) in their canonical case, so storage can match on them.
            ["User", "Group"]
                .into_iter()
                .find(|c| c.eq_ignore_ascii_case(t))
                .map_or_else(|| t.to_owned(), str::to_owned)
        });
        if !refs.iter().any(|r| r.value.as_str() == id) {
            refs.push(MemberRef {
                value: ResourceId::new(id),
                member_type,
            });
        }
    }
    Ok(Some(refs))
}

fn member_id(item: &Value) -> Option<&str> {
    if let Value::String(id) = item {
        return Some(id.as_str()).filter(|id| !id.is_empty());
    }
    let value = get_ci(item, "value")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    value.or_else(|| {
        get_ci(item, "$ref")
            .and_then(Value::as_str)
            .and_then(|uri| uri.trim_end_matches('/').rsplit('/').next())
            .filter(|id| !id.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ids::ResourceKind;
    use crate::resource::validate_for_create;
    use crate::schema::{GROUP_SCHEMA, SchemaRegistry};

    #[test]
    fn group_members_are_validated_and_taken_out() {
        let body = json!({
            "displayName": "Admins",
            "members": [
                {"value": "u1", "type": "user", "display": "Ada"},
                {"$ref": null, "value": "u2"},
                {"value": "u1"},
                {"$ref": "https://host/scim/v2/acme/Groups/g7"},
                "u3"
            ]
        });
        let mut doc = validate_for_create(&SchemaRegistry::core(), ResourceKind::Group, &body).unwrap();
        let members = take_members(&mut doc).unwrap().unwrap();
        assert_eq!(doc, json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins"}));
        let got: Vec<(&str, Option<&str>)> = members
            .iter()
            .map(|m| (m.value.as_str(), m.member_type.as_deref()))
            .collect();
        assert_eq!(
            got,
            [("u1", Some("User")), ("u2", None), ("g7", None), ("u3", None)]
        );
        assert_eq!(take_members(&mut doc).unwrap(), None);
    }

    #[test]
    fn member_without_an_id_is_invalid_value() {
        let mut doc = json!({"displayName": "g", "members": [{"type": "User"}]});
        let result = take_members(&mut doc);
        assert!(matches!(result, Err(ScimError::InvalidValue(d)) if d.contains("members[0].value")));
    }
}
