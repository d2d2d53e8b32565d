//! Tenant administration.

use scim_core::{ResourceKind, TenantId};
use serde_json::json;
use storage::{Expand, NewTenant, StorageError};

use crate::common::*;

storage::backend_tests!(tenant_crud_round_trips, |db| {
    let t = tenant(&db, "acme");
    let got = db.get_tenant(&t).unwrap();
    assert_eq!(got.display_name, "Tenant acme");
    assert_eq!(got.policy, json!({"userNameImmutable": true}));
    tenant(&db, "beta");
    let all: Vec<String> = db
        .list_tenants()
        .unwrap()
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(all, ["acme", "beta"]);
    let updated = db
        .update_tenant(&t, Some("ACME Corp"), Some(&json!({"maxGroupName": 40})))
        .unwrap();
    assert_eq!(updated.display_name, "ACME Corp");
    assert_eq!(updated.policy, json!({"maxGroupName": 40}));
    let only_name = db.update_tenant(&t, Some("ACME"), None).unwrap();
    assert_eq!(only_name.policy, json!({"maxGroupName": 40}));
});

storage::backend_tests!(duplicate_tenant_is_a_uniqueness_error, |db| {
    tenant(&db, "acme");
    let err = db
        .create_tenant(&NewTenant {
            id: TenantId::parse("acme").unwrap(),
            display_name: "again".into(),
            policy: json!({}),
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::Uniqueness(_)), "{err:?}");
});

storage::backend_tests!(missing_tenant_is_not_found, |db| {
    let t = TenantId::parse("ghost").unwrap();
    assert!(matches!(db.get_tenant(&t), Err(StorageError::NotFound(_))));
    assert!(matches!(
        db.update_tenant(&t, Some("x"), None),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(db.delete_tenant(&t), Err(StorageError::NotFound(_))));
    let err = db
        .create_resource(&ctx(&t), ResourceKind::User, user_doc("a"), None)
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
});

storage::backend_tests!(deleting_a_tenant_deletes_everything_it_owns, |db| {
    let t = tenant(&db, "acme");
    let other = tenant(&db, "other");
    let u = create_user(&db, &t, "alice");
    let g = db
        .create_resource(
            &ctx(&t),
            ResourceKind::Group,
            group_doc("ops"),
            Some(&[member(&u.id)]),
        )
        .unwrap();
    let kept = create_user(&db, &other, "alice");
    db.insert_token(
        &t,
        &storage::NewToken {
            id: "t1".into(),
            token_hash: credentials::HashedToken::from_stored("11".repeat(32)),
            prefix: "p".into(),
            label: None,
            expires_at: None,
            scope: storage::TokenScope::Write,
        },
    )
    .unwrap();
    db.delete_tenant(&t).unwrap();
    assert!(
        db.find_token(&credentials::HashedToken::from_stored("11".repeat(32)))
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        db.get_resource(&t, ResourceKind::Group, &g.id, Expand::NONE),
        Err(StorageError::NotFound(_))
    ));
    db.get_resource(&other, ResourceKind::User, &kept.id, Expand::NONE)
        .unwrap();
});
