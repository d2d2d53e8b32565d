//! Fuzzes the filter pipeline: `parse` must never panic or overflow the stack on any input, a parsed
//! filter must print to text that parses back to the same tree, and resolving and evaluating whatever
//! parses must not panic either.
//!
//! Run with `cargo +nightly fuzz run filter_parse` from `crates/scim-core`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scim_core::ResourceKind;
use scim_core::filter::{matches, parse, resolve};
use scim_core::schema::SchemaRegistry;
use serde_json::{Value, json};

fn sample_user() -> &'static Value {
    static USER: OnceLock<Value> = OnceLock::new();
    USER.get_or_init(|| {
        json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "jyoung",
            "userName": "bjensen@example.com",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
        })
    })
}

fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(SchemaRegistry::core)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = parse(text) else {
        return;
    };
    let printed = filter.to_string();
    assert_eq!(parse(&printed).as_ref(), Ok(&filter), "round trip of {printed:?}");
    for kind in [ResourceKind::User, ResourceKind::Group] {
        if let Ok(resolved) = resolve(&filter, registry(), kind) {
            let _ = matches(&resolved, sample_user());
        }
    }
});
