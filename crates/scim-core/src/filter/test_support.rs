//! Test fixtures: a registry holding every attribute the RFC 7644 examples name, and a sample user.
//!
//! `schema/core.rs` is being completed in parallel, so attributes the core schema lacks today (`title`,
//! `userType`, `ims`, `manager`, …) are supplied by a test extension. The sample user carries those
//! attributes both at the top level and under the test extension's URN, so evaluation gives the same
//! answer whichever schema ends up defining them.

use serde_json::{Value, json};

use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{AttributeDef, Schema, SchemaRegistry};

/// Holds the RFC 7643 User attributes the core schema may not define yet.
pub const RFC_FILL_URN: &str = "urn:example:params:scim:schemas:extension:rfcfill:2.0:User";
/// Holds one attribute of each RFC 7643 §2.3 type the core User lacks.
pub const TYPES_URN: &str = "urn:example:params:scim:schemas:extension:types:2.0:User";

fn def(value: Value) -> AttributeDef {
    serde_json::from_value(value).unwrap()
}

fn multi_complex(name: &str) -> AttributeDef {
    def(
        json!({"name": name, "type": "complex", "multiValued": true, "subAttributes": [
            {"name": "value", "type": "string"},
            {"name": "display", "type": "string"},
            {"name": "type", "type": "string"},
            {"name": "primary", "type": "boolean"}
        ]}),
    )
}

fn rfc_user_attributes() -> Vec<AttributeDef> {
    vec![
        def(json!({"name": "title", "type": "string"})),
        def(json!({"name": "userType", "type": "string"})),
        def(json!({"name": "nickName", "type": "string"})),
        multi_complex("ims"),
        multi_complex("roles"),
        multi_complex("phoneNumbers"),
        def(json!({"name": "manager", "type": "complex", "subAttributes": [
            {"name": "value", "type": "string"},
            {"name": "$ref", "type": "reference"},
            {"name": "displayName", "type": "string"}
        ]})),
    ]
}

/// `SchemaRegistry::core()` plus whatever RFC attributes it lacks, plus the typed test extension.
pub fn registry() -> SchemaRegistry {
    let mut registry = SchemaRegistry::core();
    let missing: Vec<AttributeDef> = rfc_user_attributes()
        .into_iter()
        .filter(|attr| {
            let path = AttrPath::new(attr.name.clone());
            let in_core = registry.resolve(ResourceKind::User, &path).is_some();
            let in_enterprise = registry
                .resolve(
                    ResourceKind::User,
                    &AttrPath {
                        urn: Some(crate::schema::ENTERPRISE_USER_SCHEMA.to_owned()),
                        ..path
                    },
                )
                .is_some();
            !in_core && !in_enterprise
        })
        .collect();
    registry
        .add_extension(
            ResourceKind::User,
            Schema {
                id: RFC_FILL_URN.to_owned(),
                name: "RfcFill".to_owned(),
                description: String::new(),
                attributes: missing,
            },
            false,
        )
        .unwrap();
    registry
        .add_extension(
            ResourceKind::User,
            Schema {
                id: TYPES_URN.to_owned(),
                name: "Types".to_owned(),
                description: String::new(),
                attributes: vec![
                    def(json!({"name": "loginCount", "type": "integer"})),
                    def(json!({"name": "score", "type": "decimal"})),
                    def(json!({"name": "photoBlob", "type": "binary", "caseExact": true})),
                    def(json!({"name": "homepage", "type": "reference"})),
                    def(json!({"name": "hiredAt", "type": "dateTime"})),
                    def(json!({"name": "code", "type": "string", "caseExact": true})),
                    def(json!({"name": "badges", "type": "string", "multiValued": true})),
                    def(json!({"name": "badgeColor", "type": "string"})),
                ],
            },
            false,
        )
        .unwrap();
    registry
}

/// The RFC 7643 §8.2-style user the evaluation tests run against.
pub fn sample_user() -> Value {
    let rfc_fill = json!({
        "title": "Tour Guide",
        "userType": "Employee",
        "nickName": "Babs",
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "roles": [{"value": "Admin", "primary": true}, {"value": "Reader", "primary": false}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
    });
    let mut user = json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "jyoung",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "O'Malley", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\""
        },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "urn:example:params:scim:schemas:extension:types:2.0:User": {
            "loginCount": 42,
            "score": 97.5,
            "photoBlob": "aGVsbG8=",
            "homepage": "https://example.com/~babs",
            "hiredAt": "2009-03-01T09:00:00+01:00",
            "code": "AbC",
            "badges": ["Gold", "silver"],
            "badgeColor": ""
        }
    });
    if let (Some(object), Value::Object(fill)) = (user.as_object_mut(), rfc_fill.clone()) {
        object.extend(fill);
        object.insert(RFC_FILL_URN.to_owned(), rfc_fill);
    }
    user
}

/// `resource` with a copy of its top level under [`RFC_FILL_URN`], for attributes the test extension may
/// be the one defining.
pub fn mirror_into_rfc_fill(mut resource: Value) -> Value {
    let copy = resource.clone();
    if let Some(object) = resource.as_object_mut() {
        object.insert(RFC_FILL_URN.to_owned(), copy);
    }
    resource
}
