//! SCIM tokens: lookup by hash, listing, revocation, use tracking.

use chrono::Duration;
use credentials::HashedToken;
use scim_core::TenantId;
use storage::{NewToken, StorageError, TokenRequest, TokenScope};

use crate::common::*;

fn new_token(id: &str, hash_byte: &str) -> NewToken {
    NewToken {
        id: id.into(),
        token_hash: HashedToken::from_stored(hash_byte.repeat(32)),
        prefix: format!("scim_{id}"),
        label: Some(format!("label {id}")),
        expires_at: Some(t0() + Duration::days(90)),
        scope: TokenScope::Write,
    }
}

fn hash(byte: &str) -> HashedToken {
    HashedToken::from_stored(byte.repeat(32))
}

storage::backend_tests!(tokens_are_found_by_hash_and_listed_without_it, |db| {
    let t = tenant(&db, "acme");
    let info = db.insert_token(&t, &new_token("a", "aa")).unwrap();
    assert_eq!(info.tenant, t);
    assert_eq!(info.expires_at, Some(t0() + Duration::days(90)));
    let found = db
        .find_token(&HashedToken::from_stored("aa".repeat(32)))
        .unwrap()
        .unwrap();
    assert_eq!(found.id, "a");
    assert_eq!(found.tenant, t);
    assert_eq!(found.revoked_at, None);
    assert!(
        db.find_token(&HashedToken::from_stored("ff".repeat(32)))
            .unwrap()
            .is_none()
    );
    db.insert_token(&t, &new_token("b", "bb")).unwrap();
    let listed = db.list_tokens(&t).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].prefix, "scim_a");
});

storage::backend_tests!(
    duplicate_hash_is_uniqueness_and_unknown_tenant_is_not_found,
    |db| {
        let t = tenant(&db, "acme");
        db.insert_token(&t, &new_token("a", "aa")).unwrap();
        let err = db.insert_token(&t, &new_token("b", "aa")).unwrap_err();
        assert!(matches!(err, StorageError::Uniqueness(_)), "{err:?}");
        let ghost = TenantId::parse("ghost").unwrap();
        let err = db.insert_token(&ghost, &new_token("c", "cc")).unwrap_err();
        assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
    }
);

storage::backend_tests!(revoking_is_scoped_to_the_tenant, |db| {
    let t = tenant(&db, "acme");
    let other = tenant(&db, "other");
    db.insert_token(&t, &new_token("a", "aa")).unwrap();
    let err = db.revoke_token(&other, "a", t0()).unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)), "{err:?}");
    db.revoke_token(&t, "a", t0()).unwrap();
    assert_eq!(
        db.find_token(&HashedToken::from_stored("aa".repeat(32)))
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(t0())
    );
    // A later revocation does not push the time back.
    db.revoke_token(&t, "a", t0() + Duration::hours(1)).unwrap();
    assert_eq!(
        db.find_token(&HashedToken::from_stored("aa".repeat(32)))
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(t0())
    );
});

storage::backend_tests!(rotation_revokes_the_others_with_a_grace_period, |db| {
    let t = tenant(&db, "acme");
    let other = tenant(&db, "other");
    for (id, h) in [("a", "aa"), ("b", "bb"), ("c", "cc")] {
        db.insert_token(&t, &new_token(id, h)).unwrap();
    }
    db.insert_token(&other, &new_token("o", "dd")).unwrap();
    db.revoke_token(&t, "c", t0()).unwrap();
    let grace = t0() + Duration::hours(24);
    assert_eq!(db.revoke_write_tokens_except(&t, "b", grace).unwrap(), 1);
    assert_eq!(
        db.find_token(&HashedToken::from_stored("aa".repeat(32)))
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(grace)
    );
    assert_eq!(
        db.find_token(&HashedToken::from_stored("bb".repeat(32)))
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert_eq!(
        db.find_token(&HashedToken::from_stored("cc".repeat(32)))
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(t0())
    );
    assert_eq!(
        db.find_token(&HashedToken::from_stored("dd".repeat(32)))
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
});

storage::backend_tests!(token_use_is_recorded_in_batches_and_only_moves_forward, |db| {
    let t = tenant(&db, "acme");
    db.insert_token(&t, &new_token("a", "aa")).unwrap();
    db.insert_token(&t, &new_token("b", "bb")).unwrap();
    let later = t0() + Duration::minutes(5);
    db.record_token_use(&[("a".into(), later), ("b".into(), t0()), ("missing".into(), t0())])
        .unwrap();
    db.record_token_use(&[("a".into(), t0())]).unwrap();
    let listed = db.list_tokens(&t).unwrap();
    assert_eq!(listed[0].last_used_at, Some(later));
    assert_eq!(listed[1].last_used_at, Some(t0()));
});

storage::backend_tests!(scope_is_stored_found_listed_and_defaults_to_write, |db| {
    let t = tenant(&db, "acme");
    db.insert_token(&t, &new_token("w", "aa")).unwrap();
    let read = NewToken {
        scope: TokenScope::Read,
        ..new_token("r", "bb")
    };
    assert_eq!(db.insert_token(&t, &read).unwrap().scope, TokenScope::Read);
    assert_eq!(
        db.find_token(&hash("aa")).unwrap().unwrap().scope,
        TokenScope::Write
    );
    assert_eq!(
        db.find_token(&hash("bb")).unwrap().unwrap().scope,
        TokenScope::Read
    );
    let scopes: Vec<TokenScope> = db.list_tokens(&t).unwrap().iter().map(|i| i.scope).collect();
    assert_eq!(scopes, [TokenScope::Write, TokenScope::Read]);
    let issued = db.issue_token(&t, &TokenRequest::default()).unwrap();
    assert_eq!(issued.info.scope, TokenScope::Write, "the default scope");
});

storage::backend_tests!(rotation_keeps_read_tokens, |db| {
    let t = tenant(&db, "acme");
    db.insert_token(&t, &new_token("old", "aa")).unwrap();
    let reporting = NewToken {
        scope: TokenScope::Read,
        ..new_token("reporting", "bb")
    };
    db.insert_token(&t, &reporting).unwrap();
    let rotated = db
        .issue_token(
            &t,
            &TokenRequest {
                revoke_others_at: Some(t0()),
                ..TokenRequest::default()
            },
        )
        .unwrap();
    assert_eq!(rotated.revoked_others, 1, "only the old write token");
    assert_eq!(
        db.find_token(&hash("aa")).unwrap().unwrap().revoked_at,
        Some(t0())
    );
    assert_eq!(db.find_token(&hash("bb")).unwrap().unwrap().revoked_at, None);
});

storage::backend_tests!(concurrent_rotations_always_leave_a_working_token, |db| {
    let t = tenant(&db, "acme");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (db, t, barrier) = ((*db).clone(), t.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let now = chrono::Utc::now();
                db.issue_token(
                    &t,
                    &TokenRequest {
                        revoke_others_at: Some(now),
                        ..TokenRequest::default()
                    },
                )
                .unwrap()
            })
        })
        .collect();
    let issued: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let tokens = db.list_tokens(&t).unwrap();
    let working: Vec<_> = tokens.iter().filter(|token| token.revoked_at.is_none()).collect();
    assert!(
        !working.is_empty(),
        "every rotation revoked the others' new tokens: {tokens:#?}"
    );
    // The survivors are tokens some caller was given.
    assert!(working.iter().all(|w| issued.iter().any(|i| i.info.id == w.id)));
});
