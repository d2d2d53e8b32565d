//! Scenario tests for PATCH: one named test per Entra quirk (entra-requests.md §4), the RFC 7644 §3.5.2
//! examples, Entra's tutorial requests (§1), atomicity and mutability, and a no-panic property test.

use serde_json::{Value, json};

use super::*;
use crate::ScimType;
use crate::ids::ResourceKind;
use crate::schema::SchemaRegistry;

fn patch(kind: ResourceKind, doc: &mut Value, body: Value) -> Result<PatchOutcome, ScimError> {
    patch_with(kind, doc, body, PatchOptions::default())
}

fn patch_with(
    kind: ResourceKind,
    doc: &mut Value,
    body: Value,
    options: PatchOptions,
) -> Result<PatchOutcome, ScimError> {
    let request = PatchRequest::from_json(&body)?;
    apply(&SchemaRegistry::core(), kind, doc, &request, options)
}

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
}

use crate::ScimError;

#[test]
fn capitalized_op_names_are_accepted() {
    let mut doc = json!({"userName": "bjensen"});
    let outcome = patch(
        ResourceKind::User,
        &mut doc,
        ops(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])),
    )
    .unwrap();
    assert!(outcome.document_changed);
    assert_eq!(doc["nickName"], "Babs");
    let _ = ScimType::InvalidPath;
}
