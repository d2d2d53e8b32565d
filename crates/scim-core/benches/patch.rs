//! PATCH throughput: a ten-operation request, as Entra sends it without the `aadOptscim062020` flag (one
//! operation per attribute, entra-requests.md §4 item 6), applied to a realistic enterprise user. Parsing
//! and applying are measured apart and together, so a regression can be placed.
//!
//! Run with `cargo bench -p scim-core --bench patch`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_core::ResourceKind;
use scim_core::patch::{PatchOptions, PatchRequest, apply};
use scim_core::schema::SchemaRegistry;
use serde_json::{Value, json};

fn user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
                 "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "US", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood",
             "region": "CA", "postalCode": "91608", "country": "US"}
        ],
        "roles": [{"value": "Tour Guide", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"}
        },
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                 "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff591\""}
    })
}

fn ten_operations() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Barbara Jensen"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Barb"},
            {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
            {"op": "Replace", "path": "externalId", "value": "701985"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701985"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "100 Universal City Plaza, Hollywood"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-555-0000"},
            {"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}]},
            {"op": "Replace", "path": "active", "value": "False"}
        ]
    })
}

fn patch(c: &mut Criterion) {
    let registry = SchemaRegistry::core();
    let doc = user();
    let body = ten_operations();
    let request = PatchRequest::from_json(&body).unwrap_or_default();
    assert_eq!(request.operations.len(), 10, "the bench request must parse");
    let mut check = doc.clone();
    let outcome = apply(
        &registry,
        ResourceKind::User,
        &mut check,
        &request,
        PatchOptions::default(),
    );
    assert!(
        outcome.is_ok_and(|o| o.document_changed),
        "the bench request must apply"
    );

    c.bench_function("patch/parse_10_ops", |b| {
        b.iter(|| PatchRequest::from_json(black_box(&body)))
    });
    c.bench_function("patch/apply_10_ops", |b| {
        b.iter_batched_ref(
            || doc.clone(),
            |doc| {
                apply(
                    &registry,
                    ResourceKind::User,
                    doc,
                    black_box(&request),
                    PatchOptions::default(),
                )
            },
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("patch/parse_and_apply_10_ops", |b| {
        b.iter_batched_ref(
            || doc.clone(),
            |doc| {
                let request = PatchRequest::from_json(black_box(&body))?;
                apply(
                    &registry,
                    ResourceKind::User,
                    doc,
                    &request,
                    PatchOptions::default(),
                )
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, patch);
criterion_main!(benches);
