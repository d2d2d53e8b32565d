//! Group membership deltas, display names, User.groups and cascades.

use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind};
use storage::{Expand, StorageError};

use crate::common::*;

fn member_ids(db: &storage::Storage, t: &scim_core::TenantId, g: &ResourceId) -> Vec<String> {
    db.get_resource(t, ResourceKind::Group, g, Expand::ALL)
        .unwrap()
        .members
        .unwrap()
        .into_iter()
        .map(|m| m.value.to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn patch(
    db: &storage::Storage,
    t: &scim_core::TenantId,
    g: &ResourceId,
    ops: Vec<MemberOp>,
) -> Result<storage::StoredResource, StorageError> {
    db.modify_resource(&ctx(t), ResourceKind::Group, g, None, move |_| Ok(ops))
}

storage::backend_tests!(
    members_are_created_with_the_group_and_shown_with_display_names,
    |db| {
        let t = tenant(&db, "acme");
        let alice = db
            .create_resource(
                &ctx(&t),
                ResourceKind::User,
                serde_json::json!({"userName": "alice", "displayName": "Alice A"}),
                None,
            )
            .unwrap();
        let bob = create_user(&db, &t, "bob");
        let sub = create_group(&db, &t, "sub");
        let g = db
            .create_resource(
                &ctx(&t),
                ResourceKind::Group,
                group_doc("g"),
                Some(&[
                    member(&alice.id),
                    MemberRef {
                        value: bob.id.clone(),
                        // A wrong client-sent type is replaced by the real one.
                        member_type: Some("Group".into()),
                    },
                    member(&sub.id),
                ]),
            )
            .unwrap();
        let members = g.members.unwrap();
        assert_eq!(members.len(), 3);
        let find = |id: &ResourceId| members.iter().find(|m| &m.value == id).unwrap().clone();
        assert_eq!(find(&bob.id).member_type, "User");
        assert_eq!(find(&sub.id).member_type, "Group");
        let groups = db
            .get_resource(&t, ResourceKind::User, &alice.id, Expand::ALL)
            .unwrap()
            .groups
            .unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].value, g.id);
        assert_eq!(groups[0].display.as_deref(), Some("g"));
        // Without expand the group has no member list.
        assert_eq!(
            db.get_resource(&t, ResourceKind::Group, &g.id, Expand::NONE)
                .unwrap()
                .members,
            None
        );
    }
);

storage::backend_tests!(adding_an_existing_member_is_a_quiet_no_op, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "alice");
    let g = create_group(&db, &t, "g");
    let r = patch(&db, &t, &g.id, vec![MemberOp::Add(vec![member(&u.id)])]).unwrap();
    assert_eq!(r.version, 2);
    let r = patch(
        &db,
        &t,
        &g.id,
        vec![MemberOp::Add(vec![member(&u.id), member(&u.id)])],
    )
    .unwrap();
    assert_eq!(r.version, 2, "nothing changed, no new version");
    assert_eq!(member_ids(&db, &t, &g.id), [u.id.to_string()]);
});

storage::backend_tests!(remove_deletes_only_the_listed_members, |db| {
    let t = tenant(&db, "acme");
    let users: Vec<_> = (0..4).map(|n| create_user(&db, &t, &format!("u{n}"))).collect();
    let g = create_group(&db, &t, "g");
    patch(
        &db,
        &t,
        &g.id,
        vec![MemberOp::Add(users.iter().map(|u| member(&u.id)).collect())],
    )
    .unwrap();
    patch(
        &db,
        &t,
        &g.id,
        vec![MemberOp::Remove(vec![
            users[1].id.clone(),
            users[3].id.clone(),
            ResourceId::new("absent"),
        ])],
    )
    .unwrap();
    assert_eq!(
        sorted(member_ids(&db, &t, &g.id)),
        sorted(vec![users[0].id.to_string(), users[2].id.to_string()])
    );
    // Removing absent members changes nothing.
    let before = db
        .get_resource(&t, ResourceKind::Group, &g.id, Expand::NONE)
        .unwrap()
        .version;
    let r = patch(&db, &t, &g.id, vec![MemberOp::Remove(vec![users[1].id.clone()])]).unwrap();
    assert_eq!(r.version, before);
});

storage::backend_tests!(remove_all_and_replace_all, |db| {
    let t = tenant(&db, "acme");
    let users: Vec<_> = (0..3).map(|n| create_user(&db, &t, &format!("u{n}"))).collect();
    let g = create_group(&db, &t, "g");
    patch(
        &db,
        &t,
        &g.id,
        vec![MemberOp::Add(vec![member(&users[0].id), member(&users[1].id)])],
    )
    .unwrap();
    patch(
        &db,
        &t,
        &g.id,
        vec![MemberOp::ReplaceAll(vec![
            member(&users[1].id),
            member(&users[2].id),
        ])],
    )
    .unwrap();
    assert_eq!(
        sorted(member_ids(&db, &t, &g.id)),
        sorted(vec![users[1].id.to_string(), users[2].id.to_string()])
    );
    patch(&db, &t, &g.id, vec![MemberOp::RemoveAll]).unwrap();
    assert!(member_ids(&db, &t, &g.id).is_empty());
    // Ops apply in order: add then remove-all then add.
    patch(
        &db,
        &t,
        &g.id,
        vec![
            MemberOp::Add(vec![member(&users[0].id)]),
            MemberOp::RemoveAll,
            MemberOp::Add(vec![member(&users[2].id)]),
        ],
    )
    .unwrap();
    assert_eq!(member_ids(&db, &t, &g.id), [users[2].id.to_string()]);
});

storage::backend_tests!(
    unknown_or_self_members_are_invalid_references_and_roll_back,
    |db| {
        let t = tenant(&db, "acme");
        let u = create_user(&db, &t, "alice");
        let g = create_group(&db, &t, "g");
        let err = patch(
            &db,
            &t,
            &g.id,
            vec![MemberOp::Add(vec![
                member(&u.id),
                member(&ResourceId::new("ghost")),
            ])],
        )
        .unwrap_err();
        assert!(matches!(err, StorageError::InvalidReference(_)), "{err:?}");
        assert!(
            member_ids(&db, &t, &g.id).is_empty(),
            "the whole PATCH rolled back"
        );
        let err = patch(&db, &t, &g.id, vec![MemberOp::Add(vec![member(&g.id)])]).unwrap_err();
        assert!(matches!(err, StorageError::InvalidReference(_)), "{err:?}");
        let err = db
            .create_resource(
                &ctx(&t),
                ResourceKind::Group,
                group_doc("h"),
                Some(&[member(&ResourceId::new("x"))]),
            )
            .unwrap_err();
        assert!(matches!(err, StorageError::InvalidReference(_)), "{err:?}");
        assert_eq!(
            db.query_resources(&t, ResourceKind::Group, &storage::ResourceQuery::default())
                .unwrap()
                .total_results,
            Some(1),
            "the failed create left no group behind"
        );
    }
);

storage::backend_tests!(deleting_a_member_or_group_cascades_memberships, |db| {
    let t = tenant(&db, "acme");
    let a = create_user(&db, &t, "a");
    let b = create_user(&db, &t, "b");
    let g = create_group(&db, &t, "g");
    let parent = create_group(&db, &t, "parent");
    patch(
        &db,
        &t,
        &g.id,
        vec![MemberOp::Add(vec![member(&a.id), member(&b.id)])],
    )
    .unwrap();
    patch(&db, &t, &parent.id, vec![MemberOp::Add(vec![member(&g.id)])]).unwrap();
    db.delete_resource(&ctx(&t), ResourceKind::User, &a.id, None)
        .unwrap();
    assert_eq!(member_ids(&db, &t, &g.id), [b.id.to_string()]);
    db.delete_resource(&ctx(&t), ResourceKind::Group, &g.id, None)
        .unwrap();
    assert!(member_ids(&db, &t, &parent.id).is_empty());
    let groups = db
        .get_resource(&t, ResourceKind::User, &b.id, Expand::ALL)
        .unwrap()
        .groups
        .unwrap();
    assert!(groups.is_empty());
});

storage::backend_tests!(replace_with_members_replaces_the_whole_list, |db| {
    let t = tenant(&db, "acme");
    let a = create_user(&db, &t, "a");
    let b = create_user(&db, &t, "b");
    let g = db
        .create_resource(
            &ctx(&t),
            ResourceKind::Group,
            group_doc("g"),
            Some(&[member(&a.id)]),
        )
        .unwrap();
    replace(
        &db,
        &ctx(&t),
        ResourceKind::Group,
        &g.id,
        Some(1),
        group_doc("g2"),
        Some(&[member(&b.id)]),
    )
    .unwrap();
    // `modify_resource` returns the group without its member list: read it back.
    let r = db
        .get_resource(&t, ResourceKind::Group, &g.id, Expand::ALL)
        .unwrap();
    assert_eq!(r.members.unwrap().len(), 1);
    assert_eq!(member_ids(&db, &t, &g.id), [b.id.to_string()]);
    // Without members the list is kept.
    replace(
        &db,
        &ctx(&t),
        ResourceKind::Group,
        &g.id,
        None,
        group_doc("g3"),
        None,
    )
    .unwrap();
    assert_eq!(member_ids(&db, &t, &g.id), [b.id.to_string()]);
});

storage::backend_tests!(users_cannot_have_member_ops, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "a");
    let v = create_user(&db, &t, "b");
    let err = db
        .modify_resource(&ctx(&t), ResourceKind::User, &u.id, None, |_| {
            Ok(vec![MemberOp::Add(vec![member(&v.id)])])
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::Scim(_)), "{err:?}");
});
