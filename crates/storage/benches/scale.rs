//! Does a 100,000-user tenant with a 100,000-member group cost more per request than a 10-user tenant?
//!
//! For each backend (SQLite always; PostgreSQL when reachable) two tenants are seeded in one database:
//! `big` (100,000 users, all in one group) and `small` (10 users, all in one group). Measured per tenant:
//! a `userName eq` lookup, adding one member to the group, removing one member, reading the group without
//! members, and a 100-row page (with its total). Run with `cargo bench -p storage --bench scale`.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark aborts on any setup or storage error"
)]

use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use scim_core::filter::{parse, resolve};
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::schema::SchemaRegistry;
use scim_core::{ResourceId, ResourceKind, TenantId};
use serde_json::json;
use storage::testing::TestDb;
use storage::{Expand, NewTenant, ResourceQuery, Storage, WriteContext};

struct Seeded {
    name: &'static str,
    tenant: TenantId,
    group: ResourceId,
    /// A user that is not in the group (added and removed by the member benchmarks).
    spare: ResourceId,
    lookup: String,
}

fn ctx(tenant: &TenantId) -> WriteContext {
    WriteContext {
        tenant: tenant.clone(),
        actor_token_id: None,
        request_id: None,
        now: Utc::now(),
    }
}

fn seed(db: &Storage, name: &'static str, users: usize) -> Seeded {
    let tenant = TenantId::parse(name).unwrap();
    db.create_tenant(&NewTenant {
        id: tenant.clone(),
        display_name: name.into(),
        policy: json!({}),
    })
    .unwrap();
    let started = Instant::now();
    let ids = db.bulk_insert_users(&ctx(&tenant), "user", users).unwrap();
    let group = db
        .create_resource(
            &ctx(&tenant),
            ResourceKind::Group,
            json!({"displayName": "everyone"}),
            None,
        )
        .unwrap()
        .id;
    db.bulk_add_members(&tenant, &group, &ids).unwrap();
    let spare = db
        .create_resource(
            &ctx(&tenant),
            ResourceKind::User,
            json!({"userName": "spare"}),
            None,
        )
        .unwrap()
        .id;
    eprintln!(
        "seeded {name}: {users} users + a {users}-member group in {:.2?}",
        started.elapsed()
    );
    Seeded {
        name,
        tenant,
        group,
        spare,
        lookup: format!("user{}", users / 2),
    }
}

fn member_op(id: &ResourceId, add: bool) -> Vec<MemberOp> {
    if add {
        vec![MemberOp::Add(vec![MemberRef {
            value: id.clone(),
            member_type: None,
        }])]
    } else {
        vec![MemberOp::Remove(vec![id.clone()])]
    }
}

fn patch_members(db: &Storage, s: &Seeded, add: bool) {
    db.modify_resource(&ctx(&s.tenant), ResourceKind::Group, &s.group, None, |_| {
        Ok(member_op(&s.spare, add))
    })
    .unwrap();
}

fn bench_backend(c: &mut Criterion, backend: &str, db: &TestDb) {
    let registry = SchemaRegistry::core();
    let tenants = [seed(db, "big", 100_000), seed(db, "small", 10)];
    if db.backend() == storage::Backend::Postgres {
        // Measure the steady state, not autovacuum/checkpoint work triggered by the bulk load.
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let mut conn = storage::DbConnection::establish(db.url()).unwrap();
        conn.batch_execute("VACUUM ANALYZE").unwrap();
        conn.batch_execute("CHECKPOINT").unwrap();
    }
    let mut group = c.benchmark_group(backend);
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    for s in &tenants {
        let filter = resolve(
            &parse(&format!("userName eq \"{}\"", s.lookup)).unwrap(),
            &registry,
            ResourceKind::User,
        )
        .unwrap();
        group.bench_function(format!("{}/userName_eq", s.name), |b| {
            let query = ResourceQuery {
                filter: Some(filter.clone()),
                count: 10,
                ..ResourceQuery::default()
            };
            b.iter(|| {
                let page = db.query_resources(&s.tenant, ResourceKind::User, &query).unwrap();
                assert_eq!(page.total_results, Some(1));
            });
        });
        group.bench_function(format!("{}/member_add", s.name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    patch_members(db, s, true);
                    total += start.elapsed();
                    patch_members(db, s, false);
                }
                total
            });
        });
        group.bench_function(format!("{}/member_remove", s.name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    patch_members(db, s, true);
                    let start = Instant::now();
                    patch_members(db, s, false);
                    total += start.elapsed();
                }
                total
            });
        });
        group.bench_function(format!("{}/get_group_without_members", s.name), |b| {
            b.iter(|| {
                db.get_resource(&s.tenant, ResourceKind::Group, &s.group, Expand::NONE)
                    .unwrap()
            });
        });
        group.bench_function(format!("{}/page_of_100_users", s.name), |b| {
            let query = ResourceQuery {
                count: 100,
                start: storage::PageStart::Index(1),
                ..ResourceQuery::default()
            };
            b.iter(|| {
                let page = db.query_resources(&s.tenant, ResourceKind::User, &query).unwrap();
                assert!(!page.resources.is_empty());
            });
        });
    }
    group.finish();
}

fn scale(c: &mut Criterion) {
    let sqlite = TestDb::sqlite();
    bench_backend(c, "sqlite", &sqlite);
    drop(sqlite);
    match TestDb::postgres() {
        Some(pg) => bench_backend(c, "postgres", &pg),
        None => eprintln!("PostgreSQL unreachable: PostgreSQL benchmarks skipped"),
    }
}

criterion_group!(benches, scale);
criterion_main!(benches);
