//! Keyset pages (`PageStart::After`, behind RFC 9865 cursors): a walk returns every resource that exists
//! throughout it exactly once, in creation order, whatever is created or deleted between its pages.

use std::collections::HashSet;

use chrono::Duration;
use scim_core::filter::{ResolvedFilter, ResolvedPath};
use scim_core::{ResourceId, ResourceKind, ScimError};
use storage::{ListPosition, PageStart, ResourceQuery, Storage, StorageError};

use crate::common::*;

/// Walks every page of `kind` in `tenant`, running `between` after each page; returns the ids in order
/// and the number of pages.
fn walk(
    db: &Storage,
    tenant: &scim_core::TenantId,
    query: &ResourceQuery,
    mut between: impl FnMut(usize),
) -> (Vec<(chrono::DateTime<chrono::Utc>, ResourceId)>, usize) {
    let mut seen = Vec::new();
    let mut position: Option<ListPosition> = None;
    let mut pages = 0;
    loop {
        let page = db
            .query_resources(
                tenant,
                ResourceKind::User,
                &ResourceQuery {
                    start: PageStart::After(position.clone()),
                    ..query.clone()
                },
            )
            .unwrap();
        assert!(page.resources.len() as u64 <= query.count);
        if pages == 0 {
            assert!(page.total_results.is_some(), "the first page is counted");
        } else {
            assert_eq!(page.total_results, None, "later pages are not counted");
        }
        seen.extend(page.resources.iter().map(|r| (r.created, r.id.clone())));
        pages += 1;
        between(pages);
        match page.next {
            Some(next) => {
                let last = page.resources.last().unwrap();
                assert_eq!((next.created, &next.id), (last.created, &last.id));
                position = Some(next);
            }
            None => return (seen, pages),
        }
    }
}

storage::backend_tests!(
    a_walk_returns_each_surviving_resource_once_despite_writes_between_pages,
    |db| {
        let t = tenant(&db, "acme");
        // Three batches, each sharing one creation time, so most order ties are broken by id.
        let mut initial = Vec::new();
        for batch in 0..3 {
            let at = ctx_at(&t, t0() + Duration::minutes(batch));
            initial.extend(db.bulk_insert_users(&at, &format!("b{batch}-"), 100).unwrap());
        }
        create_group(&db, &t, "groups are not users");
        let other = tenant(&db, "other");
        db.bulk_insert_users(&ctx(&other), "o", 20).unwrap();

        let mut deleted = HashSet::new();
        let mut created = HashSet::new();
        let query = ResourceQuery {
            count: 7,
            ..ResourceQuery::default()
        };
        let (seen, pages) = walk(&db, &t, &query, |page| {
            // Between pages: delete an initial user (some already returned, some not yet), and create users
            // before the walk's position (in the past), inside it and after it.
            let victim = &initial[(page * 37) % initial.len()];
            if deleted.insert(victim.clone()) {
                db.delete_resource(&ctx(&t), ResourceKind::User, victim, None)
                    .unwrap();
            }
            for (n, minutes) in [-5, 1, 10].into_iter().enumerate() {
                let at = ctx_at(&t, t0() + Duration::minutes(minutes));
                let new = db
                    .create_resource(
                        &at,
                        ResourceKind::User,
                        user_doc(&format!("new-{page}-{n}")),
                        None,
                    )
                    .unwrap();
                created.insert(new.id);
            }
        });

        let ids: Vec<&ResourceId> = seen.iter().map(|(_, id)| id).collect();
        let unique: HashSet<&ResourceId> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "no resource is returned twice");
        for id in &initial {
            if !deleted.contains(id) {
                assert!(unique.contains(id), "surviving {id} was skipped");
            }
        }
        assert!(
            unique
                .iter()
                .all(|id| initial.contains(id) || created.contains(*id)),
            "only this tenant's users"
        );
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "strictly increasing (created, id)"
        );
        assert!(
            pages > 40,
            "{pages} pages: the walk really was interleaved with the writes"
        );
    }
);

storage::backend_tests!(a_walk_applies_the_filter_and_counts_only_its_first_page, |db| {
    let t = tenant(&db, "acme");
    db.bulk_insert_users(&ctx(&t), "u", 30).unwrap();
    // Every seeded user is active; deactivate every third one.
    let all = db
        .query_resources(&t, ResourceKind::User, &ResourceQuery::default())
        .unwrap();
    for user in all.resources.iter().step_by(3) {
        db.modify_resource(&ctx(&t), ResourceKind::User, &user.id, None, |doc| {
            doc["active"] = false.into();
            Ok(Vec::new())
        })
        .unwrap();
    }
    let query = ResourceQuery {
        filter: Some(user_filter("active eq false")),
        count: 4,
        ..ResourceQuery::default()
    };
    let first = db
        .query_resources(
            &t,
            ResourceKind::User,
            &ResourceQuery {
                start: PageStart::After(None),
                ..query.clone()
            },
        )
        .unwrap();
    assert_eq!(first.total_results, Some(10));
    let (seen, pages) = walk(&db, &t, &query, |_| {});
    assert_eq!(seen.len(), 10);
    assert_eq!(pages, 3, "4 + 4 + 2, and no empty last page");
    let expected: Vec<ResourceId> = all.resources.iter().step_by(3).map(|r| r.id.clone()).collect();
    let got: Vec<ResourceId> = seen.into_iter().map(|(_, id)| id).collect();
    assert_eq!(got, expected);
});

storage::backend_tests!(a_walk_of_an_exact_multiple_ends_without_an_empty_page, |db| {
    let t = tenant(&db, "acme");
    db.bulk_insert_users(&ctx(&t), "u", 9).unwrap();
    let query = ResourceQuery {
        count: 3,
        ..ResourceQuery::default()
    };
    let (seen, pages) = walk(&db, &t, &query, |_| {});
    assert_eq!((seen.len(), pages), (9, 3));
    let empty = tenant(&db, "empty");
    let (seen, pages) = walk(&db, &empty, &query, |_| {});
    assert_eq!((seen.len(), pages), (0, 1));
});

storage::backend_tests!(sort_by_with_a_keyset_is_refused, |db| {
    let t = tenant(&db, "acme");
    let err = db
        .query_resources(
            &t,
            ResourceKind::User,
            &ResourceQuery {
                sort_by: Some(active_path()),
                start: PageStart::After(None),
                ..ResourceQuery::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::Scim(ScimError::InvalidValue(d)) if d.contains("sortBy")),
        "{err:?}"
    );
});

fn user_filter(text: &str) -> ResolvedFilter {
    scim_core::filter::resolve(
        &scim_core::filter::parse(text).unwrap(),
        &scim_core::schema::SchemaRegistry::core(),
        ResourceKind::User,
    )
    .unwrap()
}

fn active_path() -> ResolvedPath {
    match user_filter("active pr") {
        ResolvedFilter::Present(path) => path,
        other => panic!("{other:?}"),
    }
}
