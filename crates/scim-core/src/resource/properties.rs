//! Property tests: validation never panics on any JSON, and a validated document validates to itself.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::projection::Projection;

const KEYS: &[&str] = &[
    "userName",
    "USERNAME",
    "displayName",
    "name",
    "givenName",
    "emails",
    "value",
    "Value",
    "primary",
    "Primary",
    "type",
    "active",
    "manager",
    "department",
    "members",
    "display",
    "$ref",
    "roles",
    "password",
    "id",
    "meta",
    "schemas",
    "x",
    "title",
    "name.givenName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
];

fn json_value() -> impl Strategy<Value = Value> {
    // Mostly strings, so that a good share of bodies validate and the fixed-point check bites.
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(|n| json!(n)),
        8 => "[a-zA-Z@. ]{0,6}".prop_map(Value::String),
        2 => Just(json!("True")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn body() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..10).prop_map(|entries| {
        let mut object: Map<String, Value> = entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        object.insert("userName".to_owned(), json!("someone"));
        object.insert("displayName".to_owned(), json!("some group"));
        Value::Object(object)
    })
}

proptest! {
    #[test]
    fn validation_never_panics_and_its_output_is_a_fixed_point(input in body()) {
        let reg = SchemaRegistry::core();
        for kind in [ResourceKind::User, ResourceKind::Group] {
            if let Ok(doc) = validate_for_create(&reg, kind, &input) {
                prop_assert_eq!(validate_document(&reg, kind, &doc), Ok(doc.clone()));
                let projected = Projection::default().apply(&reg, kind, &doc);
                prop_assert!(projected.get("password").is_none());
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics(input in json_value()) {
        let reg = SchemaRegistry::core();
        let _ = validate_for_create(&reg, ResourceKind::User, &input);
        let _ = validate_for_replace(&reg, ResourceKind::User, &input, &input);
        let mut doc = input.clone();
        let _ = take_members(&mut doc);
    }
}
