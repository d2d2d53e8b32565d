//! Filter pipeline cost: parse, resolve against the core registry, evaluate against one user, for the
//! Entra lookup (`userName eq "x"`) and a five-clause filter using every kind of node.

#![expect(
    clippy::panic,
    reason = "a benchmark whose fixture does not parse must stop rather than measure an error path"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_core::ResourceKind;
use scim_core::filter::{matches, parse, resolve};
use scim_core::schema::SchemaRegistry;
use serde_json::json;

const FILTERS: [(&str, &str); 2] = [
    ("single_eq", r#"userName eq "bjensen@example.com""#),
    (
        "five_clauses",
        r#"userName eq "bjensen@example.com" and active eq true and emails[type eq "work" and value co "@example.com"] and meta.lastModified gt "2011-01-01T00:00:00Z" and not (displayName sw "x")"#,
    ),
];

fn bench_filters(c: &mut Criterion) {
    let registry = SchemaRegistry::core();
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "bjensen@example.com",
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"}
    });
    for (name, text) in FILTERS {
        let mut group = c.benchmark_group(name);
        let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let resolved = resolve(&parsed, &registry, ResourceKind::User).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches(&resolved, &user), "{text} should match the sample user");
        group.bench_function("parse", |b| b.iter(|| parse(black_box(text))));
        group.bench_function("resolve", |b| {
            b.iter(|| resolve(black_box(&parsed), &registry, ResourceKind::User))
        });
        group.bench_function("matches", |b| b.iter(|| matches(black_box(&resolved), &user)));
        group.bench_function("parse_resolve_matches", |b| {
            b.iter(|| {
                parse(black_box(text))
                    .and_then(|f| resolve(&f, &registry, ResourceKind::User))
                    .map(|r| matches(&r, &user))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_filters);
criterion_main!(benches);
