//! Resource create / read / replace / patch / delete, versions, uniqueness and tenant isolation.

use chrono::Duration;
use scim_core::{ResourceId, ResourceKind, ScimError};
use serde_json::json;
use storage::{Expand, PageStart, ResourceQuery, StorageError};

use crate::common::*;

storage::backend_tests!(create_then_get_returns_the_document_and_meta, |db| {
    let t = tenant(&db, "acme");
    let mut doc = user_doc("Alice");
    doc["id"] = json!("client-chosen");
    doc["meta"] = json!({"resourceType": "User"});
    let created = db
        .create_resource(&ctx(&t), ResourceKind::User, doc, None)
        .unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.created, t0());
    assert_eq!(created.last_modified, t0());
    assert_ne!(created.id.as_str(), "client-chosen");
    assert!(uuid::Uuid::parse_str(created.id.as_str()).is_ok());
    assert_eq!(created.doc, user_doc("Alice"), "id and meta are not stored");
    assert_eq!(created.groups, Some(vec![]));
    let got = db
        .get_resource(&t, ResourceKind::User, &created.id, Expand::NONE)
        .unwrap();
    assert_eq!(got.doc, user_doc("Alice"));
    assert_eq!(got.created, t0());
    assert_eq!(got.kind, ResourceKind::User);
    assert_eq!(got.members, None);
    assert_eq!(got.groups, None);
});

storage::backend_tests!(get_of_another_kind_or_unknown_id_is_not_found, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "alice");
    let err = db
        .get_resource(&t, ResourceKind::Group, &u.id, Expand::NONE)
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
    let err = db
        .get_resource(&t, ResourceKind::User, &ResourceId::new("nope"), Expand::NONE)
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
});

storage::backend_tests!(user_name_is_unique_case_insensitively_per_tenant, |db| {
    let t = tenant(&db, "acme");
    let other = tenant(&db, "other");
    create_user(&db, &t, "Alice@Example.com");
    let err = db
        .create_resource(&ctx(&t), ResourceKind::User, user_doc("alice@EXAMPLE.com"), None)
        .unwrap_err();
    match err {
        StorageError::Uniqueness(msg) => assert!(msg.contains("userName"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // Same userName in another tenant is fine; a Group with that displayName too.
    create_user(&db, &other, "alice@example.com");
    create_group(&db, &t, "Alice@Example.com");
    // Unicode case folding is Rust's, the same on both backends.
    create_user(&db, &t, "ÉLODIE");
    let err = db
        .create_resource(&ctx(&t), ResourceKind::User, user_doc("élodie"), None)
        .unwrap_err();
    assert!(matches!(err, StorageError::Uniqueness(_)), "{err:?}");
});

storage::backend_tests!(group_display_name_is_unique_case_insensitively, |db| {
    let t = tenant(&db, "acme");
    create_group(&db, &t, "Engineering");
    let err = db
        .create_resource(&ctx(&t), ResourceKind::Group, group_doc("ENGINEERING"), None)
        .unwrap_err();
    match err {
        StorageError::Uniqueness(msg) => assert!(msg.contains("displayName"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // Users may share displayNames.
    for name in ["a", "b"] {
        let mut doc = user_doc(name);
        doc["displayName"] = json!("Same Name");
        db.create_resource(&ctx(&t), ResourceKind::User, doc, None)
            .unwrap();
    }
    // Renaming a group onto another's name is refused too.
    let g2 = create_group(&db, &t, "Sales");
    let err = replace(
        &db,
        &ctx(&t),
        ResourceKind::Group,
        &g2.id,
        None,
        group_doc("engineering"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, StorageError::Uniqueness(_)), "{err:?}");
});

storage::backend_tests!(replace_bumps_version_and_checks_expected_version, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "alice");
    let later = t0() + Duration::seconds(10);
    let mut doc = user_doc("alice");
    doc["displayName"] = json!("Alice A");
    let replaced = replace(
        &db,
        &ctx_at(&t, later),
        ResourceKind::User,
        &u.id,
        Some(1),
        doc.clone(),
        None,
    )
    .unwrap();
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.created, t0());
    assert_eq!(replaced.last_modified, later);
    let err = replace(
        &db,
        &ctx(&t),
        ResourceKind::User,
        &u.id,
        Some(1),
        doc.clone(),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, StorageError::PreconditionFailed(_)), "{err:?}");
    let got = db
        .get_resource(&t, ResourceKind::User, &u.id, Expand::NONE)
        .unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.doc["displayName"], "Alice A");
    let err = replace(
        &db,
        &ctx(&t),
        ResourceKind::User,
        &ResourceId::new("x"),
        None,
        doc,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
});

storage::backend_tests!(modify_writes_only_when_something_changed, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "alice");
    let unchanged = db
        .modify_resource(&ctx(&t), ResourceKind::User, &u.id, Some(1), |_| Ok(vec![]))
        .unwrap();
    assert_eq!(unchanged.version, 1);
    let later = t0() + Duration::seconds(1);
    let changed = db
        .modify_resource(&ctx_at(&t, later), ResourceKind::User, &u.id, Some(1), |doc| {
            doc["active"] = json!(false);
            Ok(vec![])
        })
        .unwrap();
    assert_eq!(changed.version, 2);
    assert_eq!(changed.last_modified, later);
    assert_eq!(changed.doc["active"], false);
    assert_eq!(changed.members, None);
    let err = db
        .modify_resource(&ctx(&t), ResourceKind::User, &u.id, Some(1), |_| Ok(vec![]))
        .unwrap_err();
    assert!(matches!(err, StorageError::PreconditionFailed(_)), "{err:?}");
});

storage::backend_tests!(a_failing_closure_changes_nothing, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "alice");
    let err = db
        .modify_resource(&ctx(&t), ResourceKind::User, &u.id, None, |doc| {
            doc["active"] = json!(false);
            Err(ScimError::Mutability("userName is immutable".into()))
        })
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Scim(ScimError::Mutability(_))),
        "{err:?}"
    );
    let got = db
        .get_resource(&t, ResourceKind::User, &u.id, Expand::NONE)
        .unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.doc["active"], true);
});

storage::backend_tests!(patching_user_name_onto_another_is_uniqueness, |db| {
    let t = tenant(&db, "acme");
    create_user(&db, &t, "alice");
    let b = create_user(&db, &t, "bob");
    let err = db
        .modify_resource(&ctx(&t), ResourceKind::User, &b.id, None, |doc| {
            doc["userName"] = json!("ALICE");
            Ok(vec![])
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::Uniqueness(_)), "{err:?}");
});

storage::backend_tests!(delete_checks_version_and_removes_the_resource, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "alice");
    let err = db
        .delete_resource(&ctx(&t), ResourceKind::User, &u.id, Some(7))
        .unwrap_err();
    assert!(matches!(err, StorageError::PreconditionFailed(_)), "{err:?}");
    let err = db
        .delete_resource(&ctx(&t), ResourceKind::Group, &u.id, None)
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
    db.delete_resource(&ctx(&t), ResourceKind::User, &u.id, Some(1))
        .unwrap();
    assert!(matches!(
        db.get_resource(&t, ResourceKind::User, &u.id, Expand::NONE),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        db.delete_resource(&ctx(&t), ResourceKind::User, &u.id, None),
        Err(StorageError::NotFound(_))
    ));
    // The userName is free again.
    create_user(&db, &t, "ALICE");
});

storage::backend_tests!(tenants_never_see_each_others_resources, |db| {
    let a = tenant(&db, "a");
    let b = tenant(&db, "b");
    let ua = create_user(&db, &a, "same");
    let ub = create_user(&db, &b, "same");
    assert!(matches!(
        db.get_resource(&a, ResourceKind::User, &ub.id, Expand::NONE),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        replace(
            &db,
            &ctx(&a),
            ResourceKind::User,
            &ub.id,
            None,
            user_doc("x"),
            None
        ),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        db.modify_resource(&ctx(&a), ResourceKind::User, &ub.id, None, |_| Ok(vec![])),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        db.delete_resource(&ctx(&a), ResourceKind::User, &ub.id, None),
        Err(StorageError::NotFound(_))
    ));
    let page = db
        .query_resources(&a, ResourceKind::User, &ResourceQuery::default())
        .unwrap();
    assert_eq!(page.total_results, Some(1));
    assert_eq!(page.resources[0].id, ua.id);
    // A group in A cannot reference B's user.
    let g = create_group(&db, &a, "g");
    let err = db
        .modify_resource(&ctx(&a), ResourceKind::Group, &g.id, None, |_| {
            Ok(vec![scim_core::patch::MemberOp::Add(vec![member(&ub.id)])])
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidReference(_)), "{err:?}");
});

storage::backend_tests!(listing_pages_in_creation_order_with_a_total, |db| {
    let t = tenant(&db, "acme");
    let mut ids = Vec::new();
    for n in 0..7 {
        let r = db
            .create_resource(
                &ctx_at(&t, t0() + Duration::seconds(n)),
                ResourceKind::User,
                user_doc(&format!("u{n}")),
                None,
            )
            .unwrap();
        ids.push(r.id);
    }
    create_group(&db, &t, "not a user");
    let q = |start_index, count| ResourceQuery {
        start: PageStart::Index(start_index),
        count,
        ..ResourceQuery::default()
    };
    let page = db.query_resources(&t, ResourceKind::User, &q(1, 3)).unwrap();
    assert_eq!(page.total_results, Some(7));
    assert_eq!(
        page.resources.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        ids[0..3]
    );
    let page = db.query_resources(&t, ResourceKind::User, &q(6, 3)).unwrap();
    assert_eq!(
        page.resources.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        ids[5..7]
    );
    let page = db.query_resources(&t, ResourceKind::User, &q(0, 0)).unwrap();
    assert_eq!(page.total_results, Some(7));
    assert!(page.resources.is_empty());
    let page = db.query_resources(&t, ResourceKind::User, &q(50, 10)).unwrap();
    assert_eq!(page.total_results, Some(7));
    assert!(page.resources.is_empty());
});
