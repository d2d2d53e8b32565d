//! The webhook outbox: the sequencer queues one delivery per event and matching enabled endpoint;
//! claims lease rows so concurrent workers never share one; an expired lease is claimable again; failed
//! attempts are retried per policy until the window closes, and an endpoint failing that long is
//! disabled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::{DateTime, Utc};
use scim_core::{ResourceKind, TenantId};
use storage::StorageError;
use storage::webhooks::{Attempt, DeliveryState, NewWebhookEndpoint, RetryPolicy, WebhookChanges};

use crate::common::*;

const LEASE: Duration = Duration::from_secs(60);

fn endpoint(
    db: &storage::Storage,
    id: &str,
    tenants: Option<&[&TenantId]>,
    types: Option<&[&str]>,
) -> String {
    db.create_webhook(
        &NewWebhookEndpoint {
            id: id.to_owned(),
            url: format!("https://hooks.example/{id}"),
            description: None,
            tenants: tenants.map(|t| t.iter().map(|&t| t.clone()).collect()),
            event_types: types.map(|t| t.iter().map(|&t| t.to_owned()).collect()),
            secret: format!("whsec_{id}"),
        },
        t0(),
    )
    .unwrap();
    id.to_owned()
}

fn sequence_all(db: &storage::Storage) {
    while db.sequence_events().unwrap() > 0 {}
}

fn later(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

fn failure(at: DateTime<Utc>) -> Attempt {
    Attempt {
        status: Some(500),
        error: Some("HTTP 500".to_owned()),
        latency_ms: 3,
        at,
    }
}

storage::backend_tests!(
    fan_out_matches_tenant_and_type_filters_of_enabled_endpoints,
    |db| {
        let acme = tenant(&db, "acme");
        let other = tenant(&db, "other");
        endpoint(&db, "all", None, None);
        endpoint(&db, "acme", Some(&[&acme]), None);
        endpoint(&db, "created", None, Some(&["user.created", "group.created"]));
        endpoint(&db, "acme-groups", Some(&[&acme]), Some(&["group.created"]));
        endpoint(&db, "off", None, None);
        db.update_webhook(
            "off",
            &WebhookChanges {
                enabled: Some(false),
                ..WebhookChanges::default()
            },
            t0(),
        )
        .unwrap();

        let alice = create_user(&db, &acme, "alice");
        create_user(&db, &other, "bob");
        create_group(&db, &acme, "ops");
        db.delete_resource(&ctx(&acme), ResourceKind::User, &alice.id, None)
            .unwrap();
        sequence_all(&db);

        let delivered = |id: &str| -> Vec<String> {
            let mut types: Vec<String> = db
                .list_deliveries(id, 100)
                .unwrap()
                .into_iter()
                .map(|d| d.event_type)
                .collect();
            types.sort();
            types
        };
        assert_eq!(
            delivered("all"),
            ["group.created", "user.created", "user.created", "user.deleted"]
        );
        assert_eq!(
            delivered("acme"),
            ["group.created", "user.created", "user.deleted"]
        );
        assert_eq!(
            delivered("created"),
            ["group.created", "user.created", "user.created"]
        );
        assert_eq!(delivered("acme-groups"), ["group.created"]);
        assert!(delivered("off").is_empty());
        assert_eq!(db.pending_delivery_count().unwrap(), 11);
        // Each delivery carries its event, sequenced.
        let claimed = db.claim_deliveries(later(1), LEASE, 100).unwrap();
        assert_eq!(claimed.len(), 11);
        assert!(claimed.iter().all(|c| c.event.sequence >= 1 && c.attempts == 0));
    }
);

storage::backend_tests!(a_deleted_tenant_narrows_a_scoped_endpoint_to_nothing, |db| {
    let acme = tenant(&db, "acme");
    let other = tenant(&db, "other");
    endpoint(&db, "acme", Some(&[&acme]), None);
    db.delete_tenant(&acme).unwrap();
    assert_eq!(db.get_webhook("acme").unwrap().tenants, Some(vec![]));
    create_user(&db, &other, "bob");
    sequence_all(&db);
    assert!(db.list_deliveries("acme", 10).unwrap().is_empty());
});

storage::backend_tests!(unknown_tenants_are_refused, |db| {
    let ghost = TenantId::parse("ghost").unwrap();
    let err = db
        .create_webhook(
            &NewWebhookEndpoint {
                id: "w".to_owned(),
                url: "https://hooks.example".to_owned(),
                description: None,
                tenants: Some(vec![ghost]),
                event_types: None,
                secret: "whsec_x".to_owned(),
            },
            t0(),
        )
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidReference(_)), "{err:?}");
    assert!(db.list_webhooks().unwrap().is_empty());
});

storage::backend_tests!(a_claim_leases_rows_until_the_lease_expires, |db| {
    let acme = tenant(&db, "acme");
    endpoint(&db, "all", None, None);
    for name in ["a", "b", "c"] {
        create_user(&db, &acme, name);
    }
    sequence_all(&db);
    let first = db.claim_deliveries(later(1), LEASE, 2).unwrap();
    assert_eq!(first.len(), 2);
    let second = db.claim_deliveries(later(2), LEASE, 10).unwrap();
    assert_eq!(second.len(), 1);
    assert!(db.claim_deliveries(later(3), LEASE, 10).unwrap().is_empty());
    // One is delivered; the worker holding the others dies. After the lease they come back.
    let done = Attempt {
        status: Some(204),
        error: None,
        latency_ms: 12,
        at: later(4),
    };
    let recorded = db
        .record_delivery_attempt(first[0].id, &done, &RetryPolicy::standard(24), 0.5)
        .unwrap();
    assert_eq!(recorded.state, DeliveryState::Succeeded);
    assert!(db.claim_deliveries(later(60), LEASE, 10).unwrap().is_empty());
    let reclaimed: BTreeSet<i64> = db
        .claim_deliveries(later(62), LEASE, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(reclaimed, BTreeSet::from([first[1].id, second[0].id]));
    assert_eq!(db.pending_delivery_count().unwrap(), 2);
});

storage::backend_tests!(concurrent_claimers_never_take_the_same_delivery, |db| {
    let acme = tenant(&db, "acme");
    endpoint(&db, "all", None, None);
    for n in 0..120 {
        create_user(&db, &acme, &format!("user{n}"));
    }
    sequence_all(&db);
    let storage = (*db).clone();
    let barrier = Arc::new(Barrier::new(2));
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let (storage, barrier) = (storage.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let claimed = storage.claim_deliveries(later(1), LEASE, 7).unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|c| c.id));
                }
            })
        })
        .collect();
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    let mut per_claimer = Vec::new();
    for claimer in claimers {
        let ids = claimer.join().unwrap();
        per_claimer.push(ids.len());
        for id in ids {
            *counts.entry(id).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 120, "every delivery claimed");
    assert!(counts.values().all(|n| *n == 1), "a delivery was claimed twice");
    assert_eq!(per_claimer.iter().sum::<usize>(), 120);
});

storage::backend_tests!(
    failures_are_retried_until_the_window_then_fail_and_disable_the_endpoint,
    |db| {
        let acme = tenant(&db, "acme");
        endpoint(&db, "flaky", None, None);
        create_user(&db, &acme, "alice");
        sequence_all(&db);
        let policy = RetryPolicy {
            delays: vec![Duration::from_secs(10), Duration::from_secs(20)],
            window: Duration::from_secs(60),
        };
        let id = db.claim_deliveries(later(0), LEASE, 1).unwrap()[0].id;
        let recorded = db
            .record_delivery_attempt(id, &failure(later(0)), &policy, 0.5)
            .unwrap();
        assert_eq!(
            (recorded.state, recorded.next_attempt_at),
            (DeliveryState::Pending, Some(later(10)))
        );
        // Not due before then, though no lease holds it.
        assert!(db.claim_deliveries(later(9), LEASE, 1).unwrap().is_empty());
        let again = db.claim_deliveries(later(10), LEASE, 1).unwrap();
        assert_eq!((again[0].id, again[0].attempts), (id, 1));
        let recorded = db
            .record_delivery_attempt(id, &failure(later(10)), &policy, 0.5)
            .unwrap();
        assert_eq!(recorded.next_attempt_at, Some(later(30)));
        let listed = &db.list_deliveries("flaky", 10).unwrap()[0];
        assert_eq!(
            (
                listed.state,
                listed.attempts,
                listed.last_status,
                listed.last_error.as_deref()
            ),
            (DeliveryState::Pending, 2, Some(500), Some("HTTP 500"))
        );
        assert_eq!(listed.next_attempt_at, Some(later(30)));

        db.claim_deliveries(later(50), LEASE, 1).unwrap();
        let recorded = db
            .record_delivery_attempt(id, &failure(later(50)), &policy, 0.5)
            .unwrap();
        assert_eq!(
            recorded.state,
            DeliveryState::Failed,
            "the next attempt would pass the window"
        );
        assert!(!recorded.endpoint_disabled, "failing for 50 s of a 60 s window");

        // The next failure more than the window after the first disables the endpoint.
        db.create_resource(
            &ctx_at(&acme, later(61)),
            ResourceKind::User,
            user_doc("bob"),
            None,
        )
        .unwrap();
        sequence_all(&db);
        let bob = db.claim_deliveries(later(61), LEASE, 1).unwrap()[0].id;
        let recorded = db
            .record_delivery_attempt(bob, &failure(later(61)), &policy, 0.5)
            .unwrap();
        assert!(recorded.endpoint_disabled);
        let endpoint = db.get_webhook("flaky").unwrap();
        assert!(!endpoint.enabled);
        assert!(endpoint.disabled_reason.unwrap().contains("HTTP 500"));
        // A disabled endpoint's pending deliveries wait; enabling clears the reason and resumes them.
        assert!(db.claim_deliveries(later(200), LEASE, 1).unwrap().is_empty());
        let endpoint = db
            .update_webhook(
                "flaky",
                &WebhookChanges {
                    enabled: Some(true),
                    ..WebhookChanges::default()
                },
                later(200),
            )
            .unwrap();
        assert_eq!((endpoint.enabled, endpoint.disabled_reason), (true, None));
        assert_eq!(db.claim_deliveries(later(200), LEASE, 1).unwrap()[0].id, bob);
    }
);

storage::backend_tests!(
    a_rotated_secret_signs_next_to_the_new_one_during_its_grace,
    |db| {
        endpoint(&db, "w", None, None);
        assert_eq!(db.webhook_signing_secrets("w", t0()).unwrap(), ["whsec_w"]);
        db.rotate_webhook_secret("w", "whsec_new", Some(later(60)), t0())
            .unwrap();
        assert_eq!(
            db.webhook_signing_secrets("w", later(59)).unwrap(),
            ["whsec_new", "whsec_w"]
        );
        assert_eq!(db.webhook_signing_secrets("w", later(60)).unwrap(), ["whsec_new"]);
        db.rotate_webhook_secret("w", "whsec_newer", None, t0()).unwrap();
        assert_eq!(db.webhook_signing_secrets("w", t0()).unwrap(), ["whsec_newer"]);
    }
);

storage::backend_tests!(patch_replaces_filters_and_delete_removes_deliveries, |db| {
    let acme = tenant(&db, "acme");
    let other = tenant(&db, "other");
    endpoint(&db, "w", Some(&[&acme]), Some(&["user.created"]));
    let changed = db
        .update_webhook(
            "w",
            &WebhookChanges {
                url: Some("https://hooks.example/moved".to_owned()),
                description: Some(Some("moved".to_owned())),
                tenants: Some(Some(vec![other.clone(), acme.clone(), other.clone()])),
                event_types: Some(None),
                enabled: None,
            },
            later(5),
        )
        .unwrap();
    assert_eq!(changed.url, "https://hooks.example/moved");
    assert_eq!(changed.tenants, Some(vec![acme.clone(), other.clone()]));
    assert_eq!(changed.event_types, None);
    assert_eq!(changed.updated_at, later(5));
    create_user(&db, &other, "bob");
    sequence_all(&db);
    assert_eq!(db.list_deliveries("w", 10).unwrap().len(), 1);
    db.delete_webhook("w").unwrap();
    assert_eq!(db.pending_delivery_count().unwrap(), 0);
    assert!(matches!(db.get_webhook("w"), Err(StorageError::NotFound(_))));
    assert!(matches!(db.delete_webhook("w"), Err(StorageError::NotFound(_))));
});
