//! Fuzzes resource validation: any bytes that are JSON go through `validate_for_create` and
//! `validate_for_replace` as a User and as a Group. Neither may panic, and validation is a fixed point:
//! a document it produced must validate again, unchanged, both as a new resource and as a replacement of
//! itself (the PATCH path re-validates stored documents with `validate_document`, so a document that
//! cleans differently the second time would drift on every write).
//!
//! Run with `cargo +nightly fuzz run validate` from `crates/scim-core`, or `scripts/fuzz.sh`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scim_core::ResourceKind;
use scim_core::resource::{validate_for_create, validate_for_replace};
use scim_core::schema::SchemaRegistry;
use serde_json::{Value, json};

fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(SchemaRegistry::core)
}

/// Stored documents that arbitrary PUT bodies replace: immutable and writeOnly rules compare against them.
fn existing(kind: ResourceKind) -> &'static Value {
    static USER: OnceLock<Value> = OnceLock::new();
    static GROUP: OnceLock<Value> = OnceLock::new();
    match kind {
        ResourceKind::User => USER.get_or_init(|| {
            json!({
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ],
                "userName": "bjensen@example.com",
                "externalId": "jyoung",
                "password": "t1meMa$heen",
                "name": {"familyName": "Jensen", "givenName": "Barbara"},
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": "701984",
                    "manager": {"value": "26118915"}
                }
            })
        }),
        ResourceKind::Group => GROUP.get_or_init(|| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Tour Guides",
                "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "type": "User"}]
            })
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for kind in [ResourceKind::User, ResourceKind::Group] {
        if let Ok(doc) = validate_for_create(registry(), kind, &input) {
            assert_eq!(
                validate_for_create(registry(), kind, &doc).as_ref(),
                Ok(&doc),
                "create is not a fixed point for {input}"
            );
            assert_eq!(
                validate_for_replace(registry(), kind, &doc, &doc).as_ref(),
                Ok(&doc),
                "replacing {doc} with itself changed it"
            );
        }
        let _ = validate_for_replace(registry(), kind, existing(kind), &input);
    }
});
