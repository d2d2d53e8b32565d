//! The request bodies and filters Microsoft Entra ID sends, as typed structs.
//!
//! Strategy: each shape is copied from `shared/reference/entra-requests.md` §1 (the non-flag,
//! default form Entra uses without `aadOptscim062020`): capitalised ops (`Add`, `Replace`,
//! `Remove`), booleans as strings in PATCH (`"False"`), `$ref: null` in member values, read-only
//! `meta` and an empty `roles` on create, and the non-SCIM ADSCIM schema URI on groups. Structs
//! (not `json!`) keep the field order Entra uses on the wire; the unit tests compare each body with
//! the document's example after swapping in the example's values.

use serde::{Deserialize, Serialize};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Entra adds this non-SCIM URI to every group it creates.
pub const ADSCIM_GROUP_SCHEMA: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The values that vary between generated users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub user_name: String,
    pub external_id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
}

/// `POST /Users` (body A).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser<'a> {
    schemas: [&'static str; 2],
    external_id: &'a str,
    user_name: &'a str,
    active: bool,
    emails: [Email<'a>; 1],
    meta: Meta,
    name: Name,
    roles: [Empty; 0],
}

/// Serializes as nothing; only used to type the always-empty `roles` array.
#[derive(Debug, Serialize)]
struct Empty {}

#[derive(Debug, Serialize)]
struct Email<'a> {
    primary: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    resource_type: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Name {
    formatted: String,
    family_name: String,
    given_name: String,
}

/// Body A for one user.
pub fn create_user(spec: &UserSpec) -> CreateUser<'_> {
    CreateUser {
        schemas: [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        external_id: &spec.external_id,
        user_name: &spec.user_name,
        active: true,
        emails: [Email {
            primary: true,
            kind: "work",
            value: &spec.email,
        }],
        meta: Meta {
            resource_type: "User",
        },
        name: Name {
            formatted: format!("{} {}", spec.given_name, spec.family_name),
            family_name: spec.family_name.clone(),
            given_name: spec.given_name.clone(),
        },
        roles: [],
    }
}

/// `POST /Groups` (body C): created without members.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroup<'a> {
    schemas: &'static [&'static str],
    external_id: &'a str,
    display_name: &'a str,
    meta: Meta,
}

/// Body C. With `core_schema_only` the ADSCIM URI is left out, for servers (such as the Python
/// reference server) that reject unknown schema URIs where Entra's real traffic would be refused.
pub fn create_group<'a>(
    display_name: &'a str,
    external_id: &'a str,
    core_schema_only: bool,
) -> CreateGroup<'a> {
    const ENTRA: &[&str] = &[GROUP_SCHEMA, ADSCIM_GROUP_SCHEMA];
    const CORE: &[&str] = &[GROUP_SCHEMA];
    CreateGroup {
        schemas: if core_schema_only { CORE } else { ENTRA },
        external_id,
        display_name,
        meta: Meta {
            resource_type: "Group",
        },
    }
}

/// A `PatchOp` message.
#[derive(Debug, Serialize)]
pub struct PatchRequest {
    schemas: [&'static str; 1],
    #[serde(rename = "Operations")]
    operations: Vec<PatchOperation>,
}

/// One operation of a `PatchOp`.
#[derive(Debug, Serialize)]
pub struct PatchOperation {
    op: &'static str,
    path: String,
    value: PatchValue,
}

/// The value shapes Entra uses.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PatchValue {
    Text(String),
    Members([MemberRef; 1]),
}

/// A member reference as Entra sends it: `{"$ref":null,"value":"<id>"}`.
#[derive(Debug, Serialize)]
pub struct MemberRef {
    #[serde(rename = "$ref")]
    reference: Option<String>,
    value: String,
}

fn patch(operations: Vec<PatchOperation>) -> PatchRequest {
    PatchRequest {
        schemas: [PATCH_OP_SCHEMA],
        operations,
    }
}

fn member_op(op: &'static str, member_id: &str) -> PatchRequest {
    patch(vec![PatchOperation {
        op,
        path: "members".to_owned(),
        value: PatchValue::Members([MemberRef {
            reference: None,
            value: member_id.to_owned(),
        }]),
    }])
}

/// One membership added (example 13): Entra sends one such PATCH per membership.
pub fn add_member(member_id: &str) -> PatchRequest {
    member_op("Add", member_id)
}

/// One membership removed (example 14): value array, no filter; must remove only this member.
pub fn remove_member(member_id: &str) -> PatchRequest {
    member_op("Remove", member_id)
}

/// Soft delete or restore: `{"op":"Replace","path":"active","value":"False"}` (string boolean).
pub fn set_active(active: bool) -> PatchRequest {
    let value = if active { "True" } else { "False" };
    patch(vec![PatchOperation {
        op: "Replace",
        path: "active".to_owned(),
        value: PatchValue::Text(value.to_owned()),
    }])
}

/// Attribute update (body B): work email through a value-filter path, and the family name.
pub fn update_attributes(work_email: &str, family_name: &str) -> PatchRequest {
    patch(vec![
        PatchOperation {
            op: "Replace",
            path: r#"emails[type eq "work"].value"#.to_owned(),
            value: PatchValue::Text(work_email.to_owned()),
        },
        PatchOperation {
            op: "Replace",
            path: "name.familyName".to_owned(),
            value: PatchValue::Text(family_name.to_owned()),
        },
    ])
}

/// Quotes a value for a SCIM filter (RFC 7644 §3.4.2.2 uses JSON string syntax).
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `userName eq "<name>"`: the default matching query, also Test Connection's probe.
pub fn user_name_filter(user_name: &str) -> String {
    format!("userName eq {}", quote(user_name))
}

/// `displayName eq "<name>"`: how Entra matches groups.
pub fn display_name_filter(display_name: &str) -> String {
    format!("displayName eq {}", quote(display_name))
}

/// The part of a `ListResponse` the tool reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    #[serde(default)]
    pub total_results: u64,
    #[serde(default, rename = "Resources")]
    pub resources: Vec<Resource>,
}

/// The part of a resource the tool reads.
#[derive(Debug, Deserialize)]
pub struct Resource {
    pub id: String,
    #[serde(default)]
    pub members: Option<Vec<serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn to_value<T: Serialize>(body: &T) -> Value {
        serde_json::to_value(body).unwrap()
    }

    #[test]
    fn create_user_matches_body_a() {
        let spec = UserSpec {
            user_name: "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee".to_owned(),
            external_id: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef".to_owned(),
            email: "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com".to_owned(),
            given_name: "givenName".to_owned(),
            family_name: "familyName".to_owned(),
        };
        let body_a = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,
         "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
         "meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]});
        let body = create_user(&spec);
        assert_eq!(to_value(&body), body_a);
        // Same key order as Entra on the wire.
        let wire = serde_json::to_string(&body).unwrap();
        assert!(wire.starts_with(r#"{"schemas":["#), "{wire}");
        assert!(wire.ends_with(r#""roles":[]}"#), "{wire}");
    }

    #[test]
    fn create_group_matches_body_c_and_has_no_members() {
        let body_c = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
         "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}});
        let body = to_value(&create_group(
            "displayName",
            "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            false,
        ));
        assert_eq!(body, body_c);
        assert!(body.get("members").is_none());
        let core = to_value(&create_group("g", "x", true));
        assert_eq!(
            core["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
        );
    }

    #[test]
    fn add_and_remove_member_match_examples_13_and_14() {
        let add = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]});
        let remove = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]});
        assert_eq!(to_value(&add_member("f648f8d5ea4e4cd38e9c")), add);
        assert_eq!(to_value(&remove_member("f648f8d5ea4e4cd38e9c")), remove);
        // `$ref` is sent as an explicit null, not omitted.
        let wire = serde_json::to_string(&add_member("u1")).unwrap();
        assert!(wire.contains(r#"{"$ref":null,"value":"u1"}"#), "{wire}");
    }

    #[test]
    fn deactivate_sends_string_false_like_non_flag_entra() {
        let deactivate = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]});
        assert_eq!(to_value(&set_active(false)), deactivate);
        assert_eq!(
            to_value(&set_active(true))["Operations"][0]["value"],
            json!("True")
        );
    }

    #[test]
    fn update_attributes_matches_body_b() {
        let body_b = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
         {"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
         {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]});
        assert_eq!(
            to_value(&update_attributes(
                "updatedEmail@microsoft.com",
                "updatedFamilyName"
            )),
            body_b
        );
    }

    #[test]
    fn filters_quote_values_like_entra() {
        assert_eq!(
            user_name_filter("Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"),
            r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#
        );
        assert_eq!(
            display_name_filter("displayName"),
            r#"displayName eq "displayName""#
        );
        assert_eq!(user_name_filter(r#"a"b\c"#), r#"userName eq "a\"b\\c""#);
    }

    #[test]
    fn list_response_parses_with_and_without_resources() {
        let hit: ListResponse = serde_json::from_value(json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{"id":"abc","userName":"x"}],"startIndex":1,"itemsPerPage":20})).unwrap();
        assert_eq!(hit.total_results, 1);
        assert_eq!(hit.resources[0].id, "abc");
        let miss: ListResponse = serde_json::from_value(json!({"totalResults":0})).unwrap();
        assert!(miss.resources.is_empty());
    }
}
