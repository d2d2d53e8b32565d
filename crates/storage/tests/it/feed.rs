//! The change feed: a consumer that replays a tenant's events ends with what storage holds, under every
//! write kind and under concurrent writers; sequences have no gaps; no-op writes add nothing; cursors
//! older than retention expire.

use std::sync::{Arc, Barrier};

use scim_core::ResourceKind;
use scim_core::patch::MemberOp;
use serde_json::json;
use storage::feed::{EventQuery, EventsRead};
use storage::testing::FeedReplica;

use crate::common::*;

fn all_events(db: &storage::Storage, tenant: Option<&scim_core::TenantId>) -> Vec<storage::feed::FeedEvent> {
    while db.sequence_events().unwrap() > 0 {}
    let query = EventQuery {
        after: None,
        limit: 1000,
        tenant: tenant.cloned(),
        types: Vec::new(),
    };
    match db.read_events(&query).unwrap() {
        EventsRead::Page(page) => page.events,
        EventsRead::Expired { .. } => panic!("expired"),
    }
}

fn types(events: &[storage::feed::FeedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

storage::backend_tests!(every_write_kind_replays_to_the_stored_state, |db| {
    let t = tenant(&db, "acme");
    let other = tenant(&db, "other");
    let alice = create_user(&db, &t, "alice");
    let bob = create_user(&db, &t, "bob");
    create_user(&db, &other, "alice");
    let admins = db
        .create_resource(
            &ctx(&t),
            ResourceKind::Group,
            group_doc("admins"),
            Some(&[member(&alice.id)]),
        )
        .unwrap();
    let nested = create_group(&db, &t, "nested");
    // PUT with a member list: alice kept (no event), bob and the nested group added.
    replace(
        &db,
        &ctx(&t),
        ResourceKind::Group,
        &admins.id,
        None,
        group_doc("admins"),
        Some(&[member(&alice.id), member(&bob.id), member(&nested.id)]),
    )
    .unwrap();
    // Deactivation and a rename.
    db.modify_resource(&ctx(&t), ResourceKind::User, &bob.id, None, |doc| {
        doc["active"] = json!(false);
        Ok(vec![])
    })
    .unwrap();
    // A member removed by PATCH, then a user deleted while still a member.
    db.modify_resource(&ctx(&t), ResourceKind::Group, &admins.id, None, |_| {
        Ok(vec![MemberOp::Remove(vec![nested.id.clone()])])
    })
    .unwrap();
    db.delete_resource(&ctx(&t), ResourceKind::User, &alice.id, None)
        .unwrap();
    // No-op writes: no events.
    db.modify_resource(&ctx(&t), ResourceKind::User, &bob.id, None, |_| Ok(vec![]))
        .unwrap();
    db.modify_resource(&ctx(&t), ResourceKind::Group, &admins.id, None, |_| {
        Ok(vec![MemberOp::Add(vec![member(&bob.id)])])
    })
    .unwrap();

    let events = all_events(&db, Some(&t));
    assert_eq!(
        types(&events),
        [
            "user.created",
            "user.created",
            "group.created",
            "group.member_added",
            "group.created",
            "group.member_added",
            "group.member_added",
            "user.updated",
            "group.member_removed",
            "user.deleted",
        ]
    );
    let deactivated = &events[7];
    assert_eq!(deactivated.data["active"], json!(false));
    assert_eq!(deactivated.data["id"], json!(bob.id.as_str()));
    assert_eq!(deactivated.data["meta"]["resourceType"], json!("User"));
    // Version 2 came with joining a group (its `groups` changed), 3 with the update.
    assert_eq!(deactivated.data["meta"]["version"], json!("W/\"3\""));
    assert_eq!(
        events[9].data,
        json!({"id": alice.id.as_str(), "userName": "alice"})
    );
    assert_eq!(
        events[8].data,
        json!({"groupId": admins.id.as_str(), "memberId": nested.id.as_str(), "memberType": "Group"})
    );
    assert!(
        events
            .iter()
            .all(|e| e.tenant == t && e.request_id.as_deref() == Some("req-1"))
    );

    assert_eq!(
        FeedReplica::from_feed(&db, &t).unwrap(),
        FeedReplica::of_storage(&db, &t).unwrap()
    );
    assert_eq!(
        FeedReplica::from_feed(&db, &other).unwrap(),
        FeedReplica::of_storage(&db, &other).unwrap()
    );
});

storage::backend_tests!(sixty_four_concurrent_writers_replay_exactly, |db| {
    let tenants = [tenant(&db, "acme"), tenant(&db, "globex")];
    let groups: Vec<_> = tenants
        .iter()
        .map(|t| create_group(&db, t, "everyone").id)
        .collect();
    let _sequencer = db.start_feed_sequencer().unwrap();
    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|n| {
            let (db, barrier) = ((*db).clone(), barrier.clone());
            let t = tenants[n % 2].clone();
            let group = groups[n % 2].clone();
            std::thread::spawn(move || {
                barrier.wait();
                for round in 0..4 {
                    let user = create_user(&db, &t, &format!("u{n}-{round}"));
                    db.modify_resource(&ctx(&t), ResourceKind::Group, &group, None, |_| {
                        Ok(vec![MemberOp::Add(vec![member(&user.id)])])
                    })
                    .unwrap();
                    db.modify_resource(&ctx(&t), ResourceKind::User, &user.id, None, |doc| {
                        doc["title"] = json!(format!("round {round}"));
                        Ok(vec![])
                    })
                    .unwrap();
                    if round % 2 == 1 {
                        db.delete_resource(&ctx(&t), ResourceKind::User, &user.id, None)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    for t in &tenants {
        let replica = FeedReplica::from_feed(&db, t).unwrap();
        assert_eq!(replica.users.len(), 64, "two of four users per writer survive");
        assert_eq!(replica, FeedReplica::of_storage(&db, t).unwrap());
    }
    let positions: Vec<i64> = all_events(&db, None).iter().map(|e| e.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
});

storage::backend_tests!(reads_filter_by_type_and_page_with_a_cursor, |db| {
    let t = tenant(&db, "acme");
    for n in 0..5 {
        create_user(&db, &t, &format!("u{n}"));
    }
    create_group(&db, &t, "g");
    while db.sequence_events().unwrap() > 0 {}
    let read = |after, types: &[&str]| {
        let query = EventQuery {
            after,
            limit: 2,
            tenant: Some(t.clone()),
            types: types.iter().map(|s| (*s).to_owned()).collect(),
        };
        match db.read_events(&query).unwrap() {
            EventsRead::Page(page) => page,
            EventsRead::Expired { .. } => panic!("expired"),
        }
    };
    let first = read(None, &[]);
    assert_eq!(first.events.len(), 2);
    assert!(first.has_more);
    let second = read(Some(first.next_after), &[]);
    assert_eq!(second.events[0].sequence, 3);
    let groups = read(None, &["group.created"]);
    assert_eq!(types(&groups.events), ["group.created"]);
    assert!(!groups.has_more);
    // An empty page keeps the cursor where it was.
    let end = read(Some(groups.next_after), &[]);
    assert!(end.events.is_empty());
    assert_eq!(end.next_after, groups.next_after);
});

storage::backend_tests!(pruned_events_expire_older_cursors, |db| {
    let t = tenant(&db, "acme");
    create_user(&db, &t, "old");
    let first = all_events(&db, Some(&t));
    create_user(&db, &t, "new");
    let late = t0() + chrono::Duration::days(60);
    db.create_resource(&ctx_at(&t, late), ResourceKind::User, user_doc("newest"), None)
        .unwrap();
    while db.sequence_events().unwrap() > 0 {}
    // Everything before day 30 goes; the newest event stays.
    assert_eq!(db.prune_events(t0() + chrono::Duration::days(30)).unwrap(), 2);
    let query = |after| EventQuery {
        after,
        limit: 10,
        tenant: None,
        types: Vec::new(),
    };
    assert!(matches!(
        db.read_events(&query(Some(first[0].position - 1))).unwrap(),
        EventsRead::Expired { .. }
    ));
    let EventsRead::Page(page) = db.read_events(&query(None)).unwrap() else {
        panic!("a read from the start never expires");
    };
    assert_eq!(types(&page.events), ["user.created"]);
    assert_eq!(page.events[0].data["userName"], json!("newest"));
});

storage::backend_tests!(a_deactivating_delete_leaves_every_group_in_one_write, |db| {
    let t = tenant(&db, "acme");
    let leaver = create_user(&db, &t, "leaver");
    let stays = create_user(&db, &t, "stays");
    let groups: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            db.create_resource(
                &ctx(&t),
                ResourceKind::Group,
                group_doc(name),
                Some(&[member(&leaver.id), member(&stays.id)]),
            )
            .unwrap()
        })
        .collect();
    let head = all_events(&db, Some(&t)).len();
    db.deactivate_user(&ctx(&t), &leaver.id, None).unwrap();
    let events = all_events(&db, Some(&t));
    assert_eq!(
        types(&events[head..]),
        ["user.updated", "group.member_removed", "group.member_removed"]
    );
    assert_eq!(events[head].data["active"], json!(false));
    let user = db
        .get_resource(&t, ResourceKind::User, &leaver.id, storage::Expand::ALL)
        .unwrap();
    assert_eq!(user.doc["active"], json!(false));
    assert_eq!(user.groups.unwrap().len(), 0);
    for group in &groups {
        let now = db
            .get_resource(&t, ResourceKind::Group, &group.id, storage::Expand::ALL)
            .unwrap();
        assert_eq!(
            now.version,
            group.version + 1,
            "a group's ETag moves with its members"
        );
        let members: Vec<_> = now.members.unwrap().into_iter().map(|m| m.value).collect();
        assert_eq!(members, std::slice::from_ref(&stays.id));
    }
    // Again: nothing left to change, nothing written.
    db.deactivate_user(&ctx(&t), &leaver.id, None).unwrap();
    assert_eq!(all_events(&db, Some(&t)).len(), events.len());
    assert_eq!(
        FeedReplica::from_feed(&db, &t).unwrap(),
        FeedReplica::of_storage(&db, &t).unwrap()
    );
});
