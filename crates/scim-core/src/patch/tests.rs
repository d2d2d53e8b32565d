//! Scenario tests for PATCH, end to end from the JSON body to the patched document and member deltas:
//! one named test per Entra quirk (entra-requests.md §4, numbered in each test's comment), the RFC 7644
//! §3.5.2 examples, Entra's tutorial requests (entra-requests.md §1), atomicity, mutability, and a
//! property test that no input panics.
//!
//! Quirks outside PATCH are tested where they live: URL-encoded filters (item 15) in the HTTP layer,
//! case-insensitive `userName` matching (item 16) in the filter module, foreign schema URIs and a
//! colon-less enterprise URN on create (item 12) in resource validation. Item 12 inside PATCH bodies
//! (foreign URIs in a path-less value, the colon-less enterprise URN) is covered here.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::ids::ResourceKind;
use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Schema, SchemaRegistry, USER_SCHEMA};
use crate::{ScimError, ScimType};

const BJENSEN: &str = "2819c223-7f76-453a-919d-413861904646";
const MANAGER: &str = "26118915-6090-4610-87e4-49d8ca9f808d";

/// RFC 7643 §8.2's Barbara Jensen, trimmed, with the enterprise extension.
fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": BJENSEN,
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "US", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "US"}
        ],
        ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": MANAGER, "$ref": format!("../Users/{MANAGER}"), "displayName": "John Smith"}
        },
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff591\"",
                 "location": format!("https://example.com/v2/Users/{BJENSEN}")}
    })
}

/// A user as Entra creates it (entra-requests.md §1 body A): one work email, no extension block.
fn entra_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "5171a35d82074e068ce2",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "meta": {"resourceType": "User"}
    })
}

/// A group document as storage keeps it: no `members`.
fn group() -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": "fa2ce26709934589afc5",
        "displayName": "Tour Guides",
        "meta": {"resourceType": "Group"}
    })
}

fn body(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
}

fn patch_with(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    doc: &mut Value,
    body: &Value,
    options: PatchOptions,
) -> Result<PatchOutcome, ScimError> {
    let request = PatchRequest::from_json(body)?;
    apply(registry, kind, doc, &request, options)
}

fn patch(kind: ResourceKind, doc: &mut Value, body: &Value) -> Result<PatchOutcome, ScimError> {
    patch_with(&SchemaRegistry::core(), kind, doc, body, PatchOptions::default())
}

/// Patches a copy of `doc` and returns it, failing the test on error.
fn patched(kind: ResourceKind, doc: &Value, operations: Value) -> Value {
    let mut doc = doc.clone();
    if let Err(err) = patch(kind, &mut doc, &body(operations)) {
        panic!("patch failed: {err:?}");
    }
    doc
}

/// The member ops of a Group PATCH, checking that the document's `members` stays untouched.
fn member_ops(operations: Value) -> Vec<MemberOp> {
    member_ops_with(operations, PatchOptions::default())
}

fn member_ops_with(operations: Value, options: PatchOptions) -> Vec<MemberOp> {
    let mut doc = group();
    let outcome = patch_with(
        &SchemaRegistry::core(),
        ResourceKind::Group,
        &mut doc,
        &body(operations),
        options,
    )
    .unwrap();
    assert!(
        doc.get("members").is_none(),
        "members written to the document: {doc}"
    );
    outcome.member_ops
}

fn member(id: &str) -> MemberRef {
    MemberRef {
        value: ResourceId::new(id),
        member_type: None,
    }
}

fn user_member(id: &str) -> MemberRef {
    MemberRef {
        value: ResourceId::new(id),
        member_type: Some("User".to_owned()),
    }
}

fn ids(list: &[&str]) -> Vec<ResourceId> {
    list.iter().map(|id| ResourceId::new(*id)).collect()
}

fn error_type(kind: ResourceKind, doc: &Value, operations: Value) -> Option<ScimType> {
    let mut copy = doc.clone();
    let result = patch(kind, &mut copy, &body(operations));
    assert_eq!(&copy, doc, "a failed PATCH changed the document");
    result.err().and_then(|e| e.scim_type())
}

fn enterprise(doc: &Value) -> &Value {
    &doc[ENTERPRISE_USER_SCHEMA]
}

// ---- entra-requests.md §4 ------------------------------------------------------------------------------

#[test]
fn capitalized_op_names_are_accepted() {
    // §4 item 1.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([
            {"op": "Add", "path": "title", "value": "Tour Guide"},
            {"op": "Replace", "path": "nickName", "value": "B"},
            {"op": "Remove", "path": "displayName"},
            {"op": "rEPLACE", "path": "userType", "value": "Employee"}
        ]),
    );
    assert_eq!(doc["title"], "Tour Guide");
    assert_eq!(doc["nickName"], "B");
    assert_eq!(doc["userType"], "Employee");
    assert!(doc.get("displayName").is_none());
}

#[test]
fn string_false_disables_user() {
    // §4 item 2: the non-flag disable.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(doc["active"], json!(false));
}

#[test]
fn string_true_in_any_case_enables_user() {
    // §4 item 2, zitadel#8140: any case.
    for sent in ["True", "true", "TRUE"] {
        let mut disabled = user();
        disabled["active"] = json!(false);
        let doc = patched(
            ResourceKind::User,
            &disabled,
            json!([{"op": "replace", "path": "active", "value": sent}]),
        );
        assert_eq!(doc["active"], json!(true), "{sent}");
    }
    assert_eq!(
        error_type(
            ResourceKind::User,
            &user(),
            json!([{"op": "replace", "path": "active", "value": "yes"}])
        ),
        Some(ScimType::InvalidValue)
    );
}

#[test]
fn pathless_replace_with_dotted_and_urn_keys() {
    // §4 item 3, verbatim.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
        }}]),
    );
    assert_eq!(doc["displayName"], "Bjfe");
    assert_eq!(doc["name"]["givenName"], "Kkom");
    assert_eq!(doc["name"]["familyName"], "Unua");
    assert_eq!(doc["name"]["formatted"], "Ms. Barbara J Jensen, III");
    assert_eq!(enterprise(&doc)["employeeNumber"], "Aklq");
    assert_eq!(enterprise(&doc)["department"], "Tour Operations");
    assert!(doc.get("name.givenName").is_none());
}

#[test]
fn pathless_add_with_extension_urn_block_creates_the_extension() {
    // §4 item 3 (the Validator's "Patch User - Add Attributes" shape) on a user without the block.
    let mut doc = entra_user();
    doc["schemas"] = json!([USER_SCHEMA]);
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "add", "value": {
            ENTERPRISE_USER_SCHEMA: {"department": "Sales", "costCenter": "4130"},
            "nickName": "Testy"
        }}]),
    );
    assert_eq!(
        enterprise(&doc),
        &json!({"department": "Sales", "costCenter": "4130"})
    );
    assert_eq!(doc["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    assert_eq!(doc["nickName"], "Testy");
}

#[test]
fn enterprise_urn_without_colon_is_read_as_the_enterprise_urn() {
    // §4 item 12 / §1: older Entra examples spell the URN `…:enterprise:2.0User`.
    let colon_less = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User";
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([
            {"op": "add", "value": {colon_less: {"department": "Sales"}}},
            {"op": "replace", "path": format!("{colon_less}:costCenter"), "value": "4130"}
        ]),
    );
    assert_eq!(
        enterprise(&doc),
        &json!({"department": "Sales", "costCenter": "4130"})
    );
    assert!(doc.get(colon_less).is_none());
}

#[test]
fn remove_members_with_value_list_removes_only_those() {
    // §4 item 4 and [T] example 14: never "remove all".
    let ops = member_ops(json!([
        {"op": "Remove", "path": "members", "value": [{"value": "u1091"}, {"$ref": null, "value": "u2"}]}
    ]));
    assert_eq!(ops, [MemberOp::Remove(ids(&["u1091", "u2"]))]);
}

#[test]
fn remove_members_with_empty_value_list_removes_nothing() {
    // §4 item 4: an empty list must not turn into "remove all".
    let ops = member_ops(json!([{"op": "remove", "path": "members", "value": []}]));
    assert_eq!(ops, []);
}

#[test]
fn remove_members_without_value_removes_all() {
    // §4 item 4, [R] "Patch remove all users"; RFC 7644 §3.5.2.2.
    let ops = member_ops(json!([{"op": "remove", "path": "members"}]));
    assert_eq!(ops, [MemberOp::RemoveAll]);
}

#[test]
fn remove_member_by_value_filter() {
    // §4 item 4, the flagged form.
    let ops = member_ops(json!([
        {"op": "remove", "path": "members[value eq \"7f4b2c1e\"]"},
        {"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}
    ]));
    assert_eq!(
        ops,
        [
            MemberOp::Remove(ids(&["7f4b2c1e"])),
            MemberOp::Remove(ids(&["a", "b"]))
        ]
    );
}

#[test]
fn add_on_single_valued_string_replaces_it() {
    // §4 item 5; RFC 7644 §3.5.2.1.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "Add", "path": "nickName", "value": "Barbie"}]),
    );
    assert_eq!(doc["nickName"], "Barbie");
}

#[test]
fn one_operation_per_attribute_updates_every_typical_path() {
    // §4 item 6: the paths Entra sends without the flag, one op each.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([
            {"op": "Replace", "path": "displayName", "value": "Barbara Jensen"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Barb"},
            {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
            {"op": "Replace", "path": "externalId", "value": "701985"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "100 Universal City Plaza, Hollywood"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-555-0000"}
        ]),
    );
    assert_eq!(doc["displayName"], "Barbara Jensen");
    assert_eq!(doc["emails"][0]["value"], "barbara@example.com");
    assert_eq!(doc["emails"][1]["value"], "babs@jensen.org");
    assert_eq!(doc["name"]["givenName"], "Barb");
    assert_eq!(doc["name"]["familyName"], "Jensen-Smith");
    assert_eq!(doc["externalId"], "701985");
    assert_eq!(enterprise(&doc)["employeeNumber"], "42");
    assert_eq!(
        doc["addresses"][0]["formatted"],
        "100 Universal City Plaza, Hollywood"
    );
    assert!(doc["addresses"][1].get("formatted").is_none());
    assert_eq!(
        doc["phoneNumbers"],
        json!([
            {"value": "555-555-8377", "type": "work"},
            {"type": "mobile", "value": "555-555-0000"}
        ])
    );
}

#[test]
fn replace_on_missing_work_email_creates_it() {
    // §4 item 7: laravel-scim-server#34/#119 answered noTarget here.
    let mut doc = entra_user();
    doc["emails"] = json!([{"type": "home", "value": "home@example.com"}]);
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "work@example.com"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"type": "home", "value": "home@example.com"},
            {"type": "work", "value": "work@example.com"}
        ])
    );
    // And without any emails at all.
    let mut bare = entra_user();
    bare.as_object_mut().unwrap().remove("emails");
    let doc = patched(
        ResourceKind::User,
        &bare,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "work@example.com"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"type": "work", "value": "work@example.com"}])
    );
}

#[test]
fn replace_on_existing_work_email_changes_only_its_value() {
    // §4 item 7's other half: an existing element is updated in place, not duplicated.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "path": "emails[type eq \"WORK\"].value", "value": "new@example.com"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "new@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );
}

#[test]
fn validator_style_typed_email_sequence_creates_and_updates_each_type() {
    // §4 item 7 as the SCIM Validator exercises it (sourcegraph#49119 captured the shape): filtered
    // add/replace on each email type, their displays, then a primary that moves from work to home.
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@example.com"},
            {"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@example.org"},
            {"op": "add", "path": "emails[type eq \"other\"].value", "value": "o@example.net"},
            {"op": "replace", "path": "emails[type eq \"work\"].display", "value": "W"},
            {"op": "replace", "path": "emails[type eq \"home\"].display", "value": "H"},
            {"op": "replace", "path": "emails[type eq \"other\"].display", "value": "O"},
            {"op": "add", "path": "emails[type eq \"work\"].primary", "value": false},
            {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}
        ]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"primary": false, "type": "work", "value": "w@example.com", "display": "W"},
            {"type": "home", "value": "h@example.org", "display": "H", "primary": true},
            {"type": "other", "value": "o@example.net", "display": "O"}
        ])
    );
}

#[test]
fn replace_on_missing_mobile_phone_and_work_address_part_creates_them() {
    // §4 item 7: same rule for phoneNumbers and addresses.
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"}
        ]),
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    assert_eq!(
        doc["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}])
    );
}

#[test]
fn primary_role_filter_with_string_true_creates_then_updates_the_role() {
    // §4 item 7 with [C] SingleAppRoleAssignment: the string "True" in a filter on a boolean.
    let path = "roles[primary eq \"True\"].value";
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([{"op": "Replace", "path": path, "value": "Admin"}]),
    );
    assert_eq!(doc["roles"], json!([{"primary": true, "value": "Admin"}]));
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "Replace", "path": path, "value": "Reader"}]),
    );
    assert_eq!(doc["roles"], json!([{"primary": true, "value": "Reader"}]));
}

#[test]
fn single_valued_manager_in_array_is_unwrapped() {
    // §4 item 8, [T] "Manager update": unqualified `manager`, value wrapped in an array.
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([{"op": "Add", "path": "manager", "value": [
            {"$ref": "http://example.com/scim/Users/00aa00aa", "value": "00aa00aa"}
        ]}]),
    );
    assert_eq!(
        enterprise(&doc)["manager"],
        json!({"$ref": "http://example.com/scim/Users/00aa00aa", "value": "00aa00aa"})
    );
}

#[test]
fn bare_string_manager_with_urn_path_becomes_a_manager_object() {
    // §4 item 8: the [T] schema example sends the id alone.
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "123456"}]),
    );
    assert_eq!(enterprise(&doc)["manager"], json!({"value": "123456"}));
}

#[test]
fn display_name_wrapped_in_array_is_unwrapped() {
    // §4 item 8, MicrosoftDocs/azure-docs#42220.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "Replace", "path": "displayName", "value": [{"$ref": null, "value": "User x"}]}]),
    );
    assert_eq!(doc["displayName"], "User x");
}

#[test]
fn null_ref_in_member_is_ignored() {
    // §4 item 9 and [T] example 13.
    let ops = member_ops(json!([
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
    ]));
    assert_eq!(ops, [MemberOp::Add(vec![member("f648f8d5ea4e4cd38e9c")])]);
}

#[test]
fn null_ref_in_manager_is_dropped() {
    // §4 item 9 for a complex attribute in the document.
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([{"op": "add", "path": "manager", "value": {"$ref": null, "value": "m1"}}]),
    );
    assert_eq!(enterprise(&doc)["manager"], json!({"value": "m1"}));
}

#[test]
fn json_encoded_role_value_is_stored_as_sent() {
    // §4 item 10: the PATCH form of an app role. `roles.value` is a string, so the string is kept.
    let encoded = r#"{"id":"06b07648-ecfe-589f-9d2f-6d2f7b4b2fdc","value":"25","displayName":"Role1234"}"#;
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([{"op": "Add", "path": "roles", "value": [{"value": encoded}]}]),
    );
    assert_eq!(doc["roles"], json!([{"value": encoded}]));
}

#[test]
fn assertive_roles_replace_swaps_the_whole_list() {
    // §4 item 10, AssertiveAppRoleAssignmentsComplex.
    let mut doc = entra_user();
    doc["roles"] = json!([{"value": "Reader"}, {"value": "Writer"}]);
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "replace", "path": "roles", "value": [
            {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin", "display": "Admin"}
        ]}]),
    );
    assert_eq!(
        doc["roles"],
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin", "display": "Admin"}])
    );
}

#[test]
fn lowercase_operations_key_and_garbage_keys_ignored() {
    // §4 item 11: ssoready#182's `operations`, [R]'s `"name"` inside ops and top-level `"id"`.
    let request = json!({
        "id": "not-a-resource-id",
        "operations": [
            {"name": "addMember", "op": "add", "path": "members", "value": [{"value": "u1"}]}
        ],
        "schemas": [PATCH_OP_SCHEMA]
    });
    let mut doc = group();
    let outcome = patch(ResourceKind::Group, &mut doc, &request).unwrap();
    assert_eq!(outcome.member_ops, [MemberOp::Add(vec![member("u1")])]);
    assert!(!outcome.document_changed);
}

#[test]
fn operations_before_schemas_is_accepted() {
    // §4 item 11, [T] example 7's key order (serde_json keeps no order, so spell it as text).
    let text = r#"{"Operations":[{"op":"Replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#;
    let request: Value = serde_json::from_str(text).unwrap();
    let mut doc = user();
    patch(ResourceKind::User, &mut doc, &request).unwrap();
    assert_eq!(doc["active"], json!(false));
}

#[test]
fn pathless_value_ignores_schemas_id_meta_and_unknown_keys() {
    // §4 items 12 and 13: read-only and foreign keys in a path-less value are ignored, as on create.
    let mut doc = user();
    let outcome = patch(
        ResourceKind::User,
        &mut doc,
        &body(json!([{"op": "replace", "value": {
            "schemas": ["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "id": "other",
            "meta": {"resourceType": "User"},
            "groups": [{"value": "g1"}],
            "urn:example:unknown:2.0:User": {"x": 1},
            "notAnAttribute": 1,
            "not a path!": 2,
            "nickName": "Babs"
        }}])),
    )
    .unwrap();
    assert!(!outcome.document_changed);
    assert_eq!(doc, user());
}

#[test]
fn pathless_nulls_and_empty_roles_on_replace_unset_attributes() {
    // §4 item 13: explicit nulls and `"roles":[]` mean "no value".
    let mut doc = user();
    doc["roles"] = json!([{"value": "Reader"}]);
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "replace", "value": {"roles": [], "title": null, "nickName": null}}]),
    );
    assert!(doc.get("roles").is_none());
    assert!(doc.get("nickName").is_none());
    // On add, nulls and empty lists add nothing.
    let mut doc = user();
    let outcome = patch(
        ResourceKind::User,
        &mut doc,
        &body(json!([{"op": "add", "value": {"roles": [], "nickName": null}}])),
    )
    .unwrap();
    assert!(!outcome.document_changed);
}

#[test]
fn attribute_names_match_case_insensitively() {
    // §4 item 14: [R] sends `Primary`, `Department`, `Manager: {Value}`, `name.FamilyName`.
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([
            {"op": "add", "path": "Emails", "value": [{"Value": "b@example.com", "Type": "home", "Primary": true}]},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Department", "value": "Ops"},
            {"op": "replace", "value": {ENTERPRISE_USER_SCHEMA: {"Manager": {"Value": "m9"}}}},
            {"op": "replace", "path": "NAME.FamilyName", "value": "Smith"}
        ]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"primary": false, "type": "work", "value": "Test_User_11bb11bb@testuser.com"},
            {"value": "b@example.com", "type": "home", "primary": true}
        ])
    );
    assert_eq!(
        enterprise(&doc),
        &json!({"department": "Ops", "manager": {"value": "m9"}})
    );
    assert_eq!(doc["name"]["familyName"], "Smith");
}

#[test]
fn replace_members_replaces_the_whole_list_by_default() {
    // §4 item 17: RFC semantics unless the tenant opts out.
    let ops = member_ops(json!([
        {"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u2", "type": "User"}]}
    ]));
    assert_eq!(ops, [MemberOp::ReplaceAll(vec![member("u1"), user_member("u2")])]);
}

#[test]
fn replace_members_is_additive_when_configured() {
    // §4 item 17: PostHog#47336's partial lists.
    let options = PatchOptions {
        members_replace_is_additive: true,
    };
    let ops = member_ops_with(
        json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}]}]),
        options,
    );
    assert_eq!(ops, [MemberOp::Add(vec![member("u1")])]);
    let ops = member_ops_with(
        json!([{"op": "replace", "value": {"members": [{"value": "u2"}]}}]),
        options,
    );
    assert_eq!(ops, [MemberOp::Add(vec![member("u2")])]);
}

#[test]
fn bare_string_member_value_is_added() {
    // §4 item 18, [R] "Group tests with garbage".
    let ops = member_ops(json!([{"op": "add", "path": "members", "value": "string id 1"}]));
    assert_eq!(ops, [MemberOp::Add(vec![member("string id 1")])]);
}

#[test]
fn single_member_object_is_added() {
    // A lone object instead of a list, as some clients send.
    let ops = member_ops(json!([{"op": "add", "path": "members", "value": {"value": "u7", "type": "user"}}]));
    assert_eq!(ops, [MemberOp::Add(vec![user_member("u7")])]);
}

#[test]
fn empty_operations_is_a_successful_noop() {
    // entra-requests.md §5 (scimmyjs/scimmy#59): the Validator expects success.
    let mut doc = user();
    let outcome = patch(ResourceKind::User, &mut doc, &body(json!([]))).unwrap();
    assert_eq!(outcome, PatchOutcome::default());
    assert!(outcome.is_noop());
    assert_eq!(doc, user());
}

// ---- RFC 7644 §3.5.2 examples -------------------------------------------------------------------------

#[test]
fn rfc_add_member_to_group() {
    let ops = member_ops(json!([{"op": "add", "path": "members", "value": [{
        "display": "Babs Jensen",
        "$ref": format!("https://example.com/v2/Users/{BJENSEN}"),
        "value": BJENSEN
    }]}]));
    assert_eq!(ops, [MemberOp::Add(vec![member(BJENSEN)])]);
}

#[test]
fn rfc_add_without_path_merges_emails_and_nickname() {
    // §3.5.2.1; note the RFC's lowercase `nickname`.
    let mut doc = user();
    doc.as_object_mut().unwrap().remove("nickName");
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b@jensen.org", "type": "other"}],
            "nickname": "Babs"
        }}]),
    );
    assert_eq!(doc["nickName"], "Babs");
    assert!(doc.get("nickname").is_none());
    // The home email was already there and is not added twice.
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "b@jensen.org", "type": "other"}
        ])
    );
}

#[test]
fn rfc_remove_member_by_filter() {
    let ops = member_ops(json!([{"op": "remove", "path": format!("members[value eq \"{BJENSEN}\"]")}]));
    assert_eq!(ops, [MemberOp::Remove(ids(&[BJENSEN]))]);
}

#[test]
fn rfc_remove_all_members() {
    let ops = member_ops(json!([{"op": "remove", "path": "members"}]));
    assert_eq!(ops, [MemberOp::RemoveAll]);
}

#[test]
fn rfc_remove_work_email_matching_filter() {
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
}

#[test]
fn rfc_remove_all_members_then_add_new_ones() {
    // §3.5.2.2: "remove all members of a group and add a new one" in one request, in order.
    let ops = member_ops(json!([
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [
            {"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BJENSEN}"), "value": BJENSEN},
            {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
        ]}
    ]));
    assert_eq!(
        ops,
        [
            MemberOp::RemoveAll,
            MemberOp::Add(vec![member(BJENSEN), member("08e1d05d")])
        ]
    );
}

#[test]
fn rfc_replace_members() {
    let ops = member_ops(json!([{"op": "replace", "path": "members", "value": [
        {"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BJENSEN}"), "value": BJENSEN},
        {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d", "value": "08e1d05d"}
    ]}]));
    assert_eq!(
        ops,
        [MemberOp::ReplaceAll(vec![member(BJENSEN), member("08e1d05d")])]
    );
}

#[test]
fn rfc_replace_work_address_object() {
    let new_address = json!({
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": new_address}]),
    );
    assert_eq!(doc["addresses"][0], new_address);
    assert_eq!(doc["addresses"][1]["type"], "home");
    assert_eq!(doc["addresses"].as_array().unwrap().len(), 2);
}

#[test]
fn rfc_replace_work_address_street() {
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
    );
    assert_eq!(doc["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(doc["addresses"][0]["locality"], "Hollywood");
    assert_eq!(doc["addresses"][1]["streetAddress"], "456 Hollywood Blvd");
}

#[test]
fn rfc_replace_without_path() {
    // §3.5.2.3: the multi-valued `emails` is replaced whole, `nickname` set.
    let emails = json!([
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}
    ]);
    let mut doc = user();
    doc["emails"] = json!([{"value": "old@example.com", "type": "other"}]);
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "replace", "value": {"emails": emails, "nickname": "Babs"}}]),
    );
    assert_eq!(doc["emails"], emails);
    assert_eq!(doc["nickName"], "Babs");
}

// ---- entra-requests.md §1 tutorial requests ----------------------------------------------------------

#[test]
fn entra_example_5_multi_valued_update() {
    let mut doc = entra_user();
    let outcome = patch(
        ResourceKind::User,
        &mut doc,
        &json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]}),
    )
    .unwrap();
    assert!(outcome.document_changed);
    assert_eq!(
        doc["emails"],
        json!([{"primary": true, "type": "work", "value": "updatedEmail@microsoft.com"}])
    );
    assert_eq!(doc["name"]["familyName"], "updatedFamilyName");
}

#[test]
fn entra_example_6_single_valued_update() {
    let doc = patched(
        ResourceKind::User,
        &entra_user(),
        json!([{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]),
    );
    assert_eq!(
        doc["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );
}

#[test]
fn entra_example_7_disable_user() {
    let mut doc = entra_user();
    let outcome = patch(
        ResourceKind::User,
        &mut doc,
        &json!({"Operations": [{"op": "Replace", "path": "active", "value": false}], "schemas": [PATCH_OP_SCHEMA]}),
    )
    .unwrap();
    assert!(outcome.document_changed);
    assert_eq!(doc["active"], json!(false));
}

#[test]
fn entra_example_12_group_display_name_changes_the_document_only() {
    let mut doc = group();
    let outcome = patch(
        ResourceKind::Group,
        &mut doc,
        &body(json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])),
    )
    .unwrap();
    assert!(outcome.document_changed);
    assert!(outcome.member_ops.is_empty());
    assert_eq!(
        doc["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
}

#[test]
fn entra_example_13_add_members() {
    let mut doc = group();
    let outcome = patch(
        ResourceKind::Group,
        &mut doc,
        &body(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}])),
    )
    .unwrap();
    assert!(!outcome.document_changed);
    assert_eq!(
        outcome.member_ops,
        [MemberOp::Add(vec![member("f648f8d5ea4e4cd38e9c")])]
    );
    assert_eq!(doc, group());
}

#[test]
fn entra_example_14_remove_members() {
    let ops = member_ops(json!([
        {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}
    ]));
    assert_eq!(ops, [MemberOp::Remove(ids(&["f648f8d5ea4e4cd38e9c"]))]);
}

#[test]
fn group_display_name_and_members_in_one_request() {
    let mut doc = group();
    let outcome = patch(
        ResourceKind::Group,
        &mut doc,
        &body(json!([{"op": "replace", "value": {"displayName": "Guides", "members": [{"value": "u1"}]}}])),
    )
    .unwrap();
    assert!(outcome.document_changed);
    assert_eq!(doc["displayName"], "Guides");
    assert!(doc.get("members").is_none());
    assert_eq!(outcome.member_ops, [MemberOp::ReplaceAll(vec![member("u1")])]);
}

// ---- atomicity, mutability, errors ----------------------------------------------------------------------

#[test]
fn failed_operation_leaves_the_document_unchanged() {
    let mut doc = user();
    let result = patch(
        ResourceKind::User,
        &mut doc,
        &body(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "id", "value": "stolen"}
        ])),
    );
    let err = result.unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::Mutability));
    assert!(err.detail().starts_with("operation 1 (replace): "), "{err:?}");
    assert_eq!(doc, user());
}

#[test]
fn failed_group_operation_returns_no_member_ops() {
    let mut doc = group();
    let result = patch(
        ResourceKind::Group,
        &mut doc,
        &body(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "replace", "path": "displayName", "value": 12}
        ])),
    );
    assert_eq!(result.unwrap_err().scim_type(), Some(ScimType::InvalidValue));
    assert_eq!(doc, group());
}

#[test]
fn read_only_attributes_are_mutability_errors() {
    for path in ["id", "meta", "meta.created", "groups", "manager.displayName"] {
        assert_eq!(
            error_type(
                ResourceKind::User,
                &user(),
                json!([{"op": "replace", "path": path, "value": "x"}])
            ),
            Some(ScimType::Mutability),
            "{path}"
        );
    }
    assert_eq!(
        error_type(
            ResourceKind::User,
            &user(),
            json!([{"op": "remove", "path": "meta"}])
        ),
        Some(ScimType::Mutability)
    );
}

/// The core registry plus a test extension with an immutable attribute.
fn registry_with_badge() -> SchemaRegistry {
    let mut registry = SchemaRegistry::core();
    let schema = Schema::from_json(&json!({
        "id": "urn:example:scim:schemas:extension:badge:2.0:User",
        "attributes": [
            {"name": "badgeId", "type": "string", "mutability": "immutable"},
            {"name": "level", "type": "integer"}
        ]
    }))
    .unwrap();
    registry.add_extension(ResourceKind::User, schema, false).unwrap();
    registry
}

#[test]
fn immutable_attribute_can_be_set_once_but_not_changed() {
    let registry = registry_with_badge();
    let urn = "urn:example:scim:schemas:extension:badge:2.0:User";
    let set = |doc: &mut Value, op: &str, value: Value| {
        patch_with(
            &registry,
            ResourceKind::User,
            doc,
            &body(json!([{"op": op, "path": format!("{urn}:badgeId"), "value": value}])),
            PatchOptions::default(),
        )
    };
    let mut doc = entra_user();
    set(&mut doc, "add", json!("B-1")).unwrap();
    assert_eq!(doc[urn]["badgeId"], "B-1");
    assert!(doc["schemas"].as_array().unwrap().contains(&json!(urn)));
    // The same value again is not a change.
    assert!(!set(&mut doc, "replace", json!("B-1")).unwrap().document_changed);
    let before = doc.clone();
    let err = set(&mut doc, "replace", json!("B-2")).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::Mutability));
    assert_eq!(doc, before);
    let remove = patch_with(
        &registry,
        ResourceKind::User,
        &mut doc,
        &body(json!([{"op": "remove", "path": format!("{urn}:badgeId")}])),
        PatchOptions::default(),
    );
    assert_eq!(remove.unwrap_err().scim_type(), Some(ScimType::Mutability));
    // Numeric strings become integers.
    let mut doc = entra_user();
    patch_with(
        &registry,
        ResourceKind::User,
        &mut doc,
        &body(json!([{"op": "add", "value": {format!("{urn}:level"): "3"}}])),
        PatchOptions::default(),
    )
    .unwrap();
    assert_eq!(doc[urn]["level"], json!(3));
}

#[test]
fn unknown_attribute_paths_are_invalid_path() {
    for path in [
        "nickname2",
        "name.middle",
        "urn:example:unknown:2.0:User:x",
        "emails[type eq \"work\"].nothing",
        "userName[value eq \"x\"]",
    ] {
        assert_eq!(
            error_type(
                ResourceKind::User,
                &user(),
                json!([{"op": "replace", "path": path, "value": "x"}])
            ),
            Some(ScimType::InvalidPath),
            "{path}"
        );
    }
    assert_eq!(
        error_type(
            ResourceKind::Group,
            &group(),
            json!([{"op": "add", "path": "userName", "value": "x"}])
        ),
        Some(ScimType::InvalidPath)
    );
}

#[test]
fn unknown_filter_attributes_are_invalid_filter() {
    assert_eq!(
        error_type(
            ResourceKind::User,
            &user(),
            json!([{"op": "replace", "path": "emails[colour eq \"red\"].value", "value": "x"}])
        ),
        Some(ScimType::InvalidFilter)
    );
}

#[test]
fn remove_of_absent_attribute_is_a_noop() {
    let mut doc = entra_user();
    let outcome = patch(
        ResourceKind::User,
        &mut doc,
        &body(json!([
            {"op": "remove", "path": "nickName"},
            {"op": "remove", "path": "name.middleName"},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
            {"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"},
            {"op": "remove", "path": "emails[type eq \"home\"].value"}
        ])),
    )
    .unwrap();
    assert!(!outcome.document_changed);
    assert_eq!(doc, entra_user());
}

#[test]
fn replace_with_a_filter_that_cannot_describe_a_new_element_is_no_target() {
    // RFC 7644 §3.5.2.3: no match for a value selection filter → noTarget, unless the filter names the
    // element to create (item 7).
    for path in [
        "emails[value ew \"@nowhere.test\"].type",
        "emails[type eq \"fax\" or type eq \"pager\"].display",
        "emails[type ne \"work\" and type ne \"home\"].value",
    ] {
        assert_eq!(
            error_type(
                ResourceKind::User,
                &user(),
                json!([{"op": "replace", "path": path, "value": "x"}])
            ),
            Some(ScimType::NoTarget),
            "{path}"
        );
    }
}

#[test]
fn setting_a_new_primary_clears_the_others() {
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    );
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": false},
            {"value": "babs@jensen.org", "type": "home", "primary": true}
        ])
    );
    // A list with two primaries keeps the last one.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "replace", "path": "phoneNumbers", "value": [
            {"value": "1", "primary": true}, {"value": "2", "primary": "True"}
        ]}]),
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"value": "1", "primary": false}, {"value": "2", "primary": true}])
    );
}

#[test]
fn remove_with_value_on_multi_valued_attribute_removes_only_listed_elements() {
    // Item 4's rule applied to a user's multi-valued attribute.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@jensen.org"}]}]),
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
    );
}

#[test]
fn sub_attribute_of_every_element_without_filter() {
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "remove", "path": "addresses.country"}]),
    );
    for address in doc["addresses"].as_array().unwrap() {
        assert!(address.get("country").is_none(), "{address}");
    }
}

#[test]
fn add_with_filter_merges_into_matching_elements() {
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home mail"}}]),
    );
    assert_eq!(
        doc["emails"][1],
        json!({"value": "babs@jensen.org", "type": "home", "display": "Home mail"})
    );
}

#[test]
fn add_skips_values_already_present_or_repeated_in_the_request() {
    let many: Vec<Value> = (0..3000)
        .map(|i| json!({"value": format!("u{}@example.com", i % 1000), "type": "other"}))
        .collect();
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "add", "path": "emails", "value": many}]),
    );
    assert_eq!(doc["emails"].as_array().unwrap().len(), 2 + 1000);
}

#[test]
fn replace_null_removes_the_attribute() {
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([
            {"op": "replace", "path": "nickName", "value": null},
            {"op": "replace", "path": "emails[type eq \"home\"]", "value": null}
        ]),
    );
    assert!(doc.get("nickName").is_none());
    assert_eq!(doc["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn document_changed_is_false_when_nothing_differs() {
    let mut doc = user();
    let outcome = patch(
        ResourceKind::User,
        &mut doc,
        &body(json!([
            {"op": "replace", "path": "nickName", "value": "Babs"},
            {"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "home"}]},
            {"op": "replace", "path": "active", "value": "True"}
        ])),
    )
    .unwrap();
    assert!(!outcome.document_changed);
}

#[test]
fn removing_the_last_extension_attribute_drops_the_block_and_its_schema() {
    let mut doc = entra_user();
    doc[ENTERPRISE_USER_SCHEMA] = json!({"department": "Sales"});
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]),
    );
    assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(doc["schemas"], json!([USER_SCHEMA]));
}

#[test]
fn removing_a_sub_attribute_drops_an_emptied_complex_value() {
    let mut doc = entra_user();
    doc["name"] = json!({"givenName": "A"});
    let doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "remove", "path": "name.givenName"}]),
    );
    assert!(doc.get("name").is_none());
}

#[test]
fn member_paths_that_cannot_be_applied_are_refused() {
    let cases = [
        (
            json!({"op": "replace", "path": "members.value", "value": "x"}),
            ScimType::InvalidPath,
        ),
        (
            json!({"op": "add", "path": "members[value eq \"x\"]", "value": {"value": "y"}}),
            ScimType::InvalidPath,
        ),
        (
            json!({"op": "remove", "path": "members[display eq \"Bob\"]"}),
            ScimType::InvalidFilter,
        ),
        (
            json!({"op": "add", "path": "members", "value": [{"display": "no id"}]}),
            ScimType::InvalidValue,
        ),
        (
            json!({"op": "add", "path": "members", "value": [{"value": ""}]}),
            ScimType::InvalidValue,
        ),
    ];
    for (operation, expected) in cases {
        assert_eq!(
            error_type(ResourceKind::Group, &group(), json!([operation])),
            Some(expected),
            "{operation}"
        );
    }
}

#[test]
fn duplicate_members_within_one_request_are_passed_through() {
    let ops = member_ops(json!([
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u1"}]},
        {"op": "add", "path": "members", "value": "u1"}
    ]));
    assert_eq!(
        ops,
        [
            MemberOp::Add(vec![member("u1"), member("u1")]),
            MemberOp::Add(vec![member("u1")])
        ]
    );
}

#[test]
fn non_object_documents_are_refused_without_panicking() {
    let request = PatchRequest::from_json(&body(json!([]))).unwrap();
    let mut doc = json!([1, 2]);
    let err = apply(
        &SchemaRegistry::core(),
        ResourceKind::User,
        &mut doc,
        &request,
        PatchOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
}

#[test]
fn patched_documents_pass_resource_validation_unchanged() {
    // The HTTP layer re-validates after PATCH (`resource::validate_document`); what PATCH writes must
    // already be in the stored shape, so validation neither rejects nor rewrites it.
    let mut stored =
        crate::resource::validate_document(&SchemaRegistry::core(), ResourceKind::User, &user()).unwrap();
    patch(
        ResourceKind::User,
        &mut stored,
        &body(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
            {"op": "add", "path": "emails[type eq \"home\"].primary", "value": "True"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555"},
            {"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "m2"}]},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "replace", "value": {"name.givenName": "Barb", "roles": [{"value": "Admin", "primary": "true"}]}}
        ])),
    )
    .unwrap();
    let validated =
        crate::resource::validate_document(&SchemaRegistry::core(), ResourceKind::User, &stored).unwrap();
    assert_eq!(validated, stored);
}

#[test]
fn removing_a_required_attribute_is_caught_by_resource_validation() {
    // PATCH itself lets `userName` go (the Validator's "remove attributes" test tries it, §5); the
    // re-validation the HTTP layer runs after `apply` refuses the result.
    let doc = patched(
        ResourceKind::User,
        &user(),
        json!([{"op": "remove", "path": "userName"}]),
    );
    let err =
        crate::resource::validate_document(&SchemaRegistry::core(), ResourceKind::User, &doc).unwrap_err();
    assert_eq!(err.status(), 400);
}

// ---- property: never panic -----------------------------------------------------------------------------

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("True".to_owned()),
            Just("work".to_owned()),
            Just("u1".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let key = prop_oneof![
            Just("value".to_owned()),
            Just("type".to_owned()),
            Just("primary".to_owned()),
            Just("$ref".to_owned()),
            Just("name.givenName".to_owned()),
            Just("members".to_owned()),
            Just("emails".to_owned()),
            Just(ENTERPRISE_USER_SCHEMA.to_owned()),
            Just(format!("{ENTERPRISE_USER_SCHEMA}:manager")),
            "[a-zA-Z.:]{0,10}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn arb_path() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("members")),
        Just(json!("members[value eq \"u1\"]")),
        Just(json!("emails")),
        Just(json!("emails[type eq \"work\"].value")),
        Just(json!("emails[type eq \"work\"]")),
        Just(json!("emails.primary")),
        Just(json!("roles[primary eq \"True\"].value")),
        Just(json!(
            "addresses[type eq \"work\" and primary eq true].streetAddress"
        )),
        Just(json!("name.givenName")),
        Just(json!("name")),
        Just(json!("active")),
        Just(json!("displayName")),
        Just(json!("manager")),
        Just(json!("meta.created")),
        Just(json!(format!("{ENTERPRISE_USER_SCHEMA}:manager.value"))),
        ".{0,24}".prop_map(Value::String),
        arb_json(),
    ]
}

fn arb_operation() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("bogus")],
        arb_path(),
        prop::option::of(arb_json()),
    )
        .prop_map(|(op, path, value)| {
            let mut operation = serde_json::Map::new();
            operation.insert("op".to_owned(), json!(op));
            operation.insert("path".to_owned(), path);
            if let Some(value) = value {
                operation.insert("value".to_owned(), value);
            }
            Value::Object(operation)
        })
}

proptest! {
    #[test]
    fn arbitrary_json_bodies_never_panic(request in arb_json(), as_group in any::<bool>()) {
        let kind = if as_group { ResourceKind::Group } else { ResourceKind::User };
        let mut doc = if as_group { group() } else { user() };
        if let Ok(request) = PatchRequest::from_json(&request) {
            let _ = apply(&SchemaRegistry::core(), kind, &mut doc, &request, PatchOptions::default());
        }
    }

    #[test]
    fn arbitrary_operations_never_panic_and_failures_change_nothing(
        operations in prop::collection::vec(arb_operation(), 0..6),
        as_group in any::<bool>(),
        additive in any::<bool>(),
    ) {
        let kind = if as_group { ResourceKind::Group } else { ResourceKind::User };
        let original = if as_group { group() } else { user() };
        let mut doc = original.clone();
        let options = PatchOptions { members_replace_is_additive: additive };
        if let Ok(request) = PatchRequest::from_json(&body(Value::Array(operations))) {
            match apply(&SchemaRegistry::core(), kind, &mut doc, &request, options) {
                Ok(outcome) => prop_assert_eq!(outcome.document_changed, doc != original),
                Err(_) => prop_assert_eq!(&doc, &original),
            }
        }
    }
}

// ---- whole extension as the path ------------------------------------------------------------------------

#[test]
fn extension_urn_as_path_adds_replaces_and_removes_the_block() {
    let mut doc = json!({"schemas": [USER_SCHEMA], "userName": "x"});
    doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "add", "path": ENTERPRISE_USER_SCHEMA, "value": {"employeeNumber": "7", "department": "Ops"}}]),
    );
    assert_eq!(enterprise(&doc)["employeeNumber"], "7");
    assert!(
        doc["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE_USER_SCHEMA))
    );
    doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "replace", "path": ENTERPRISE_USER_SCHEMA, "value": {"department": "Eng"}}]),
    );
    assert_eq!(enterprise(&doc)["department"], "Eng");
    doc = patched(
        ResourceKind::User,
        &doc,
        json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA}]),
    );
    assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none(), "{doc}");
    assert_eq!(doc["schemas"], json!([USER_SCHEMA]));
}
