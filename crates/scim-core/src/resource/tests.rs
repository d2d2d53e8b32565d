//! Validation examples through the public entry points: Entra's bodies, type rules, extensions, PUT.

use serde_json::json;

use super::*;
use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

const LUCID_URN: &str = "urn:ietf:params:scim:schemas:extension:lucid:2.0:User";

fn core() -> SchemaRegistry {
    SchemaRegistry::core()
}

fn with_lucid() -> SchemaRegistry {
    let json: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/lucid-user-extension.json")).unwrap();
    let mut reg = SchemaRegistry::core();
    reg.add_extension(ResourceKind::User, Schema::from_json(&json).unwrap(), false)
        .unwrap();
    reg
}

/// A registry whose User has an extension with immutable attributes, to exercise PUT rules.
fn with_badge() -> SchemaRegistry {
    let schema = Schema::from_json(&json!({
        "id": "urn:example:badge",
        "attributes": [
            {"name": "badgeId", "type": "string", "mutability": "immutable"},
            {"name": "site", "type": "complex", "subAttributes": [
                {"name": "code", "type": "string", "mutability": "immutable"},
                {"name": "floor", "type": "integer"}
            ]},
            {"name": "hired", "type": "dateTime"},
            {"name": "score", "type": "decimal"}
        ]
    }))
    .unwrap();
    let mut reg = SchemaRegistry::core();
    reg.add_extension(ResourceKind::User, schema, false).unwrap();
    reg
}

fn create_user(reg: &SchemaRegistry, body: Value) -> Result<Value, ScimError> {
    validate_for_create(reg, ResourceKind::User, &body)
}

fn invalid_value_detail(result: Result<Value, ScimError>) -> String {
    match result {
        Err(ScimError::InvalidValue(detail)) => detail,
        other => panic!("expected invalidValue, got {other:?}"),
    }
}

#[test]
fn entra_body_a_validates_dropping_meta_empty_roles_and_unused_extension() {
    let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,
        "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]});
    let doc = create_user(&core(), body).unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [USER_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
        })
    );
}

#[test]
fn entra_body_c_group_validates_dropping_unknown_schema_uri_and_meta() {
    let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}});
    let doc = validate_for_create(&core(), ResourceKind::Group, &body).unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [GROUP_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName"
        })
    );
}

#[test]
fn enterprise_urn_without_colon_and_explicit_nulls_are_accepted() {
    let body = json!({
        "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "userName": "UserName123", "active": true, "displayName": "BobIsAmazing",
        "externalId": "ext-1",
        "addresses": null, "phoneNumbers": null, "preferredLanguage": null, "title": null,
        "department": null, "manager": null,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0User": {"department": "Eng", "manager": null}
    });
    let doc = create_user(&core(), body).unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "UserName123", "active": true, "displayName": "BobIsAmazing",
            "externalId": "ext-1",
            ENTERPRISE_USER_SCHEMA: {"department": "Eng"}
        })
    );
}

#[test]
fn case_insensitive_keys_are_emitted_in_schema_case() {
    // The [R] reference collection's casing.
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "UserName": "bjensen",
        "Emails": [{"Primary": true, "Type": "work", "VALUE": "b@example.com"}],
        "NAME": {"FamilyName": "Jensen"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {
            "Department": "Tour Operations",
            "Manager": {"Value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    });
    let doc = create_user(&core(), body).unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen",
            "emails": [{"primary": true, "type": "work", "value": "b@example.com"}],
            "name": {"familyName": "Jensen"},
            ENTERPRISE_USER_SCHEMA: {
                "department": "Tour Operations",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    );
}

#[test]
fn manager_sent_as_one_element_array_is_unwrapped() {
    let body = json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {
        "manager": [{"$ref": "https://host/scim/Users/00aa", "value": "00aa", "displayName": "Boss"}]
    }});
    let doc = create_user(&core(), body).unwrap();
    // displayName is readOnly, so it is dropped.
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"$ref": "https://host/scim/Users/00aa", "value": "00aa"})
    );
}

#[test]
fn bare_string_manager_becomes_value_object() {
    let doc = create_user(
        &core(),
        json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"manager": "00aa"}}),
    )
    .unwrap();
    assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["manager"], json!({"value": "00aa"}));
}

#[test]
fn urn_qualified_attribute_keys_land_in_their_extension_block() {
    let body = json!({
        "userName": "a",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "00aa",
        "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "Barbara"
    });
    let doc = create_user(&core(), body).unwrap();
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "701984", "manager": {"value": "00aa"}})
    );
    assert_eq!(doc["name"], json!({"givenName": "Barbara"}));
}

#[test]
fn simple_attribute_sent_as_value_object_in_array_is_unwrapped() {
    // MicrosoftDocs/azure-docs#42220: `displayName` as `[{"$ref": null, "value": "User x"}]`.
    let doc = create_user(
        &core(),
        json!({"userName": "a", "displayName": [{"$ref": null, "value": "User x"}], "active": {"value": "True"}}),
    )
    .unwrap();
    assert_eq!(doc["displayName"], "User x");
    assert_eq!(doc["active"], true);
    let detail = invalid_value_detail(create_user(&core(), json!({"userName": {"text": "a"}})));
    assert!(detail.contains("userName must be a string"), "{detail}");
}

#[test]
fn single_value_for_multi_valued_attribute_is_wrapped() {
    let doc = create_user(
        &core(),
        json!({"userName": "a", "emails": {"value": "a@example.com", "type": "work"}}),
    )
    .unwrap();
    assert_eq!(doc["emails"], json!([{"value": "a@example.com", "type": "work"}]));
}

#[test]
fn single_valued_attribute_with_several_values_is_invalid() {
    let detail = invalid_value_detail(create_user(
        &core(),
        json!({"userName": "a", "title": ["x", "y"]}),
    ));
    assert!(detail.contains("title"), "{detail}");
}

#[test]
fn string_true_in_any_case_becomes_boolean() {
    for (text, expected) in [
        ("true", true),
        ("True", true),
        ("TRUE", true),
        ("False", false),
        ("fAlSe", false),
    ] {
        let doc = create_user(&core(), json!({"userName": "a", "active": text})).unwrap();
        assert_eq!(doc["active"], json!(expected), "{text}");
    }
    let detail = invalid_value_detail(create_user(&core(), json!({"userName": "a", "active": "yes"})));
    assert!(detail.contains("active"), "{detail}");
}

#[test]
fn two_primaries_are_invalid_value() {
    let detail = invalid_value_detail(create_user(
        &core(),
        json!({"userName": "a", "emails": [
            {"value": "a@x.com", "primary": true},
            {"value": "b@x.com", "Primary": "True"}
        ]}),
    ));
    assert!(
        detail.contains("emails") && detail.contains("primary"),
        "{detail}"
    );
    // One primary and one explicit false is fine.
    create_user(
        &core(),
        json!({"userName": "a", "emails": [
            {"value": "a@x.com", "primary": true},
            {"value": "b@x.com", "primary": false}
        ]}),
    )
    .unwrap();
}

#[test]
fn missing_or_empty_required_attribute_is_invalid_value_naming_it() {
    for body in [
        json!({}),
        json!({"userName": ""}),
        json!({"userName": "  "}),
        json!({"userName": null}),
    ] {
        let detail = invalid_value_detail(create_user(&core(), body));
        assert!(detail.contains("userName"), "{detail}");
    }
    let detail = invalid_value_detail(validate_for_create(
        &core(),
        ResourceKind::Group,
        &json!({"members": []}),
    ));
    assert!(detail.contains("displayName"), "{detail}");
}

#[test]
fn non_object_body_is_invalid_syntax() {
    for body in [json!([]), json!("user"), json!(null), json!(3)] {
        let result = create_user(&core(), body.clone());
        assert!(
            matches!(result, Err(ScimError::InvalidSyntax(_))),
            "{body}: {result:?}"
        );
    }
}

#[test]
fn wrong_types_are_invalid_value_naming_the_path() {
    let cases = [
        (json!({"userName": 42}), "userName"),
        (json!({"userName": "a", "name": "Barbara"}), "name"),
        (
            json!({"userName": "a", "emails": [{"value": 7}]}),
            "emails[0].value",
        ),
        (
            json!({"userName": "a", "emails": [{"value": "x", "primary": "maybe"}]}),
            "emails[0].primary",
        ),
        (
            json!({"userName": "a", "urn:example:badge": {"hired": "yesterday"}}),
            "urn:example:badge:hired",
        ),
        (
            json!({"userName": "a", "urn:example:badge": {"site": {"floor": 1.5}}}),
            "urn:example:badge:site.floor",
        ),
        (
            json!({"userName": "a", "urn:example:badge": {"score": "high"}}),
            "urn:example:badge:score",
        ),
        (
            json!({"userName": "a", "urn:example:badge": "x"}),
            "urn:example:badge",
        ),
    ];
    for (body, path) in cases {
        let detail = invalid_value_detail(create_user(&with_badge(), body));
        assert!(detail.contains(path), "{path}: {detail}");
    }
}

#[test]
fn typed_values_are_stored_as_sent() {
    let doc = create_user(
        &with_badge(),
        json!({"userName": "MixedCase", "urn:example:badge": {
            "hired": "2024-05-01T12:00:00+02:00", "score": 4.5, "site": {"floor": 3}
        }}),
    )
    .unwrap();
    assert_eq!(doc["userName"], "MixedCase");
    assert_eq!(
        doc["urn:example:badge"],
        json!({"hired": "2024-05-01T12:00:00+02:00", "score": 4.5, "site": {"floor": 3}})
    );
}

#[test]
fn read_only_and_unknown_attributes_are_not_stored() {
    let doc = create_user(
        &core(),
        json!({
            "id": "client-chosen", "meta": {"created": "2020-01-01T00:00:00Z"},
            "userName": "a", "groups": [{"value": "g1"}], "favouriteColour": "blue",
            "name": {"givenName": "A", "nickname": "x"},
            "urn:example:unknown": {"x": 1}
        }),
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({"schemas": [USER_SCHEMA], "userName": "a", "name": {"givenName": "A"}})
    );
}

#[test]
fn extension_not_registered_for_the_kind_is_dropped() {
    let body = json!({"userName": "a", LUCID_URN: {"billingCode": "B-1"}});
    let doc = create_user(&core(), body.clone()).unwrap();
    assert_eq!(doc, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
    let group = validate_for_create(
        &with_lucid(),
        ResourceKind::Group,
        &json!({"displayName": "g", LUCID_URN: {"billingCode": "B-1"}}),
    )
    .unwrap();
    assert_eq!(group, json!({"schemas": [GROUP_SCHEMA], "displayName": "g"}));
}

#[test]
fn lucid_extension_round_trip() {
    let body = json!({
        "schemas": [USER_SCHEMA, LUCID_URN],
        "userName": "ada@example.com",
        "emails": [{"type": "work", "value": "ada@example.com", "primary": true}],
        LUCID_URN: {
            "billingCode": "ENG-42",
            // Entra's attribute mapping types these as String.
            "productLicenses": {"Lucidchart": "True", "lucidspark": "False", "LucidscaleExplorer": true, "LucidscaleCreator": false}
        }
    });
    let doc = create_user(&with_lucid(), body).unwrap();
    let expected_block = json!({
        "billingCode": "ENG-42",
        "productLicenses": {"Lucidchart": true, "Lucidspark": false, "LucidscaleExplorer": true, "LucidscaleCreator": false}
    });
    assert_eq!(doc["schemas"], json!([USER_SCHEMA, LUCID_URN]));
    assert_eq!(doc[LUCID_URN], expected_block);
    // The stored document validates to itself.
    assert_eq!(
        validate_document(&with_lucid(), ResourceKind::User, &doc).unwrap(),
        doc
    );
}

#[test]
fn required_extension_must_be_present() {
    let json: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/lucid-user-extension.json")).unwrap();
    let mut reg = SchemaRegistry::core();
    reg.add_extension(ResourceKind::User, Schema::from_json(&json).unwrap(), true)
        .unwrap();
    let detail = invalid_value_detail(create_user(&reg, json!({"userName": "a"})));
    assert!(detail.contains(LUCID_URN), "{detail}");
    create_user(&reg, json!({"userName": "a", LUCID_URN: {"billingCode": "x"}})).unwrap();
}

#[test]
fn password_is_accepted_but_never_stored() {
    let doc = create_user(&core(), json!({"userName": "a", "password": "t1meMa$heen"})).unwrap();
    assert!(doc.get("password").is_none(), "{doc}");
}

#[test]
fn same_attribute_twice_in_different_case_is_rejected_unless_one_is_null() {
    let result = create_user(&core(), json!({"userName": "a", "title": "x", "Title": "y"}));
    assert!(matches!(result, Err(ScimError::InvalidSyntax(_))), "{result:?}");
    let result = create_user(
        &core(),
        json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"department": "x", "Department": "y"}}),
    );
    assert!(
        matches!(&result, Err(ScimError::InvalidSyntax(d)) if d.contains(&format!("{ENTERPRISE_USER_SCHEMA}:department"))),
        "{result:?}"
    );
    let doc = create_user(&core(), json!({"userName": "a", "title": "x", "Title": null})).unwrap();
    assert_eq!(doc["title"], "x");
}

#[test]
fn validate_document_rechecks_required_and_types_after_patch() {
    let detail = invalid_value_detail(validate_document(
        &core(),
        ResourceKind::User,
        &json!({"schemas": [USER_SCHEMA], "name": {"givenName": "A"}}),
    ));
    assert!(detail.contains("userName"), "{detail}");
    let detail = invalid_value_detail(validate_document(
        &core(),
        ResourceKind::User,
        &json!({"userName": "a", "active": 3}),
    ));
    assert!(detail.contains("active"), "{detail}");
}

#[test]
fn replace_rejects_a_changed_immutable_attribute() {
    let reg = with_badge();
    let existing = create_user(
        &reg,
        json!({"userName": "a", "urn:example:badge": {"badgeId": "B1", "site": {"code": "PAR"}}}),
    )
    .unwrap();
    let result = validate_for_replace(
        &reg,
        ResourceKind::User,
        &existing,
        &json!({"userName": "a", "urn:example:badge": {"badgeId": "B2"}}),
    );
    assert!(matches!(result, Err(ScimError::Mutability(d)) if d.contains("urn:example:badge:badgeId")));
    let result = validate_for_replace(
        &reg,
        ResourceKind::User,
        &existing,
        &json!({"userName": "a", "urn:example:badge": {"site": {"code": "LON"}}}),
    );
    assert!(matches!(result, Err(ScimError::Mutability(d)) if d.contains("site.code")));
}

#[test]
fn replace_keeps_omitted_immutable_values_and_clears_the_rest() {
    let reg = with_badge();
    let existing = create_user(
        &reg,
        json!({"userName": "a", "title": "Boss", "password": "secret",
               "urn:example:badge": {"badgeId": "B1", "site": {"code": "PAR", "floor": 2}}}),
    )
    .unwrap();
    let replaced = validate_for_replace(
        &reg,
        ResourceKind::User,
        &existing,
        &json!({"id": "ignored", "userName": "A", "urn:example:badge": {"BADGEID": "b1"}}),
    )
    .unwrap();
    assert_eq!(
        replaced,
        json!({
            "schemas": [USER_SCHEMA, "urn:example:badge"],
            "userName": "A",
            "urn:example:badge": {"badgeId": "b1", "site": {"code": "PAR"}}
        })
    );
}

#[test]
fn replace_may_set_an_immutable_attribute_that_had_no_value() {
    let reg = with_badge();
    let existing = create_user(&reg, json!({"userName": "a"})).unwrap();
    let replaced = validate_for_replace(
        &reg,
        ResourceKind::User,
        &existing,
        &json!({"userName": "a", "urn:example:badge": {"badgeId": "B9"}}),
    )
    .unwrap();
    assert_eq!(replaced["urn:example:badge"]["badgeId"], "B9");
}
