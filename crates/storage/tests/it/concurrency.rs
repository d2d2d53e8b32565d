//! Concurrent writers: no lost member adds, exactly one winner for a contested userName.

use std::sync::{Arc, Barrier};

use scim_core::patch::MemberOp;
use scim_core::{ResourceKind, ScimError};
use storage::{Expand, StorageError};

use crate::common::*;

storage::backend_tests!(thirty_two_threads_adding_distinct_members_lose_none, |db| {
    let t = tenant(&db, "acme");
    let g = create_group(&db, &t, "busy");
    let users: Vec<_> = (0..32).map(|n| create_user(&db, &t, &format!("u{n}"))).collect();
    let barrier = Arc::new(Barrier::new(users.len()));
    let handles: Vec<_> = users
        .iter()
        .map(|u| {
            let (db, t, g, u, barrier) = (
                (*db).clone(),
                t.clone(),
                g.id.clone(),
                u.id.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                db.modify_resource(&ctx(&t), ResourceKind::Group, &g, None, |_| {
                    Ok(vec![MemberOp::Add(vec![member(&u)])])
                })
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let group = db
        .get_resource(&t, ResourceKind::Group, &g.id, Expand::ALL)
        .unwrap();
    assert_eq!(group.members.unwrap().len(), 32);
    assert_eq!(group.version, 33, "every add bumped the version exactly once");
});

storage::backend_tests!(sixteen_threads_racing_for_one_user_name_give_one_winner, |db| {
    let t = tenant(&db, "acme");
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|n| {
            let (db, t, barrier) = ((*db).clone(), t.clone(), barrier.clone());
            // Same name, different case in each thread.
            let name: String = "contested.user@example.com"
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if (n >> (i % 4)) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            std::thread::spawn(move || {
                barrier.wait();
                db.create_resource(&ctx(&t), ResourceKind::User, user_doc(&name), None)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let uniqueness = results
        .iter()
        .filter(|r| matches!(r, Err(StorageError::Uniqueness(_))))
        .count();
    assert_eq!((ok, uniqueness), (1, 15), "{results:?}");
    assert!(
        !results
            .iter()
            .any(|r| matches!(r, Err(StorageError::Scim(ScimError::Uniqueness(_)))))
    );
});

storage::backend_tests!(
    concurrent_patches_with_the_same_expected_version_have_one_winner,
    |db| {
        let t = tenant(&db, "acme");
        let u = create_user(&db, &t, "alice");
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let (db, t, id, barrier) = ((*db).clone(), t.clone(), u.id.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    db.modify_resource(&ctx(&t), ResourceKind::User, &id, Some(1), move |doc| {
                        doc["displayName"] = serde_json::json!(format!("writer {n}"));
                        Ok(vec![])
                    })
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let stale = results
            .iter()
            .filter(|r| matches!(r, Err(StorageError::PreconditionFailed(_))))
            .count();
        assert_eq!((ok, stale), (1, 7), "{results:?}");
    }
);

storage::backend_tests!(two_groups_adding_each_other_concurrently_do_not_deadlock, |db| {
    let t = tenant(&db, "acme");
    let a = create_group(&db, &t, "a");
    let b = create_group(&db, &t, "b");
    // On PostgreSQL both transactions hold their group's row lock before either inserts (the barrier is
    // inside the closure, which runs after the lock): with FOR UPDATE this deadlocks every time. SQLite
    // serialises writers with BEGIN IMMEDIATE, so there the barrier is only at the start.
    let inside = db.backend() == storage::Backend::Postgres;
    for round in 0..4 {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [(a.id.clone(), b.id.clone()), (b.id.clone(), a.id.clone())]
            .into_iter()
            .map(|(group, other)| {
                let (db, t, barrier) = ((*db).clone(), t.clone(), barrier.clone());
                std::thread::spawn(move || {
                    if !inside {
                        barrier.wait();
                    }
                    let op = if round % 2 == 0 {
                        MemberOp::Add(vec![member(&other)])
                    } else {
                        MemberOp::RemoveAll
                    };
                    db.modify_resource(&ctx(&t), ResourceKind::Group, &group, None, move |_| {
                        if inside {
                            barrier.wait();
                        }
                        Ok(vec![op])
                    })
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }
});

storage::backend_tests!(a_failing_writer_in_a_burst_leaves_the_others_committed, |db| {
    let t = tenant(&db, "acme");
    create_user(&db, &t, "taken");
    let barrier = Arc::new(Barrier::new(24));
    // Every third writer collides with "taken"; on SQLite the burst shares transactions, so each
    // failure must undo only its own savepoint.
    let handles: Vec<_> = (0..24)
        .map(|n| {
            let (db, t, barrier) = ((*db).clone(), t.clone(), barrier.clone());
            let name = if n % 3 == 0 {
                "TAKEN".to_owned()
            } else {
                format!("fresh{n}")
            };
            std::thread::spawn(move || {
                barrier.wait();
                db.create_resource(&ctx(&t), ResourceKind::User, user_doc(&name), None)
                    .map(|stored| stored.id)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let failed = results
        .iter()
        .filter(|r| matches!(r, Err(StorageError::Uniqueness(_))))
        .count();
    assert_eq!(failed, 8, "{results:?}");
    for id in results.iter().filter_map(|r| r.as_ref().ok()) {
        db.get_resource(&t, ResourceKind::User, id, Expand::NONE)
            .expect("every acknowledged create is stored");
    }
    let page = db
        .query_resources(&t, ResourceKind::User, &storage::ResourceQuery::default())
        .unwrap();
    assert_eq!(page.total_results, Some(17), "16 fresh users and the one taken");
});
