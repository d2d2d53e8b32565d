//! Fuzzes PATCH end to end: any bytes that are JSON go through `PatchRequest::from_json` and `apply` on a
//! User and on a Group. Neither may panic; a failed PATCH must leave the document exactly as it was
//! (RFC 7644 §3.5.2 atomicity), and `document_changed` must tell the truth.
//!
//! Run with `cargo +nightly fuzz run patch_apply` from `crates/scim-core`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scim_core::ResourceKind;
use scim_core::patch::{PatchOptions, PatchRequest, apply};
use scim_core::schema::SchemaRegistry;
use serde_json::{Value, json};

fn user() -> &'static Value {
    static USER: OnceLock<Value> = OnceLock::new();
    USER.get_or_init(|| {
        json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "roles": [{"value": "Admin", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "26118915"}
            },
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z"}
        })
    })
}

fn group() -> &'static Value {
    static GROUP: OnceLock<Value> = OnceLock::new();
    GROUP.get_or_init(|| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "fa2ce26709934589afc5",
            "displayName": "Tour Guides"
        })
    })
}

fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(SchemaRegistry::core)
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(request) = PatchRequest::from_json(&body) else {
        return;
    };
    for (kind, original) in [(ResourceKind::User, user()), (ResourceKind::Group, group())] {
        for additive in [false, true] {
            let options = PatchOptions {
                members_replace_is_additive: additive,
            };
            let mut doc = original.clone();
            match apply(registry(), kind, &mut doc, &request, options) {
                Ok(outcome) => assert_eq!(outcome.document_changed, &doc != original),
                Err(_) => assert_eq!(&doc, original, "a failed PATCH changed the document"),
            }
        }
    }
});
