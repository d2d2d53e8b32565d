//! Test databases for both backends (feature `testing`).
//!
//! Strategy (after crates-io's `TestDatabase`): SQLite gets a fresh file in a temporary directory;
//! PostgreSQL gets a fresh schema `test_<uuid>` in the server named by `SCIM_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), reached through a URL whose libpq `options` parameter
//! sets `search_path` to that schema, so tests run in parallel without seeing each other. Migrations are
//! applied on creation; the schema is dropped when the [`TestDb`] is dropped. When PostgreSQL is
//! unreachable the PostgreSQL half of a test is skipped with a loud message, unless `CI=true`, where it
//! fails instead.
//!
//! [`backend_tests!`](crate::backend_tests) turns one test body into a `sqlite` and a `postgres` test.
//!
//! Tests and benchmarks that need many rows seed them with [`Storage::bulk_insert_users`] and
//! [`Storage::bulk_add_members`]: multi-row inserts in one transaction, bypassing the per-resource write
//! path (no events, no member checks).

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use scim_core::{ResourceId, ResourceKind, TenantId};

use crate::connection::on_inner;
use crate::error::StorageError;
use crate::resources::emails::insert_emails;
use crate::resources::rows::{ResourceRow, prepare_doc};
use crate::schema::{group_members, resources};
use crate::shadow_columns::{ShadowColumns, email_keys};
use crate::{Backend, Storage, WriteContext, to_db_time};

/// Default admin URL of the test PostgreSQL server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Pool size of test databases: enough for the concurrency tests.
const TEST_POOL_SIZE: u32 = 8;

/// A migrated, empty database that cleans up after itself.
pub struct TestDb {
    storage: Option<Storage>,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(
        #[expect(dead_code, reason = "held so the directory lives as long as the database")]
        tempfile::TempDir,
    ),
    Postgres {
        admin_url: String,
        schema: String,
    },
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestDb {
    /// A fresh SQLite database file in a new temporary directory (in a subdirectory that does not exist
    /// yet, so directory creation is exercised too).
    #[expect(
        clippy::panic,
        reason = "test helper: a broken test environment must fail the test"
    )]
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let path: PathBuf = dir.path().join("data").join("scim.db");
        let url = format!("sqlite://{}", path.display());
        let storage = Storage::connect(&url, TEST_POOL_SIZE)
            .and_then(|s| s.run_migrations().map(|_applied| s))
            .unwrap_or_else(|e| panic!("cannot set up SQLite test database: {e:?}"));
        TestDb {
            storage: Some(storage),
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A fresh PostgreSQL schema, or `None` (after a loud message) when PostgreSQL is unreachable and
    /// `CI` is not `true`.
    #[expect(
        clippy::panic,
        reason = "test helper: a broken test environment must fail the test"
    )]
    pub fn postgres() -> Option<TestDb> {
        let admin_url =
            std::env::var("SCIM_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("PostgreSQL at {admin_url} is unreachable and CI=true: {e}");
                }
                eprintln!(
                    "\n*** SKIPPING the PostgreSQL half of this test: {admin_url} is unreachable ({e}). \
                     Start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start`. ***\n"
                );
                return None;
            }
        };
        let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap_or_else(|e| panic!("cannot create schema {schema}: {e}"));
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        // libpq percent-decodes URI parameters: this is `options=-c search_path=<schema>`.
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
        let cleanup = Cleanup::Postgres { admin_url, schema };
        let storage = Storage::connect(&url, TEST_POOL_SIZE)
            .and_then(|s| s.run_migrations().map(|_applied| s))
            .unwrap_or_else(|e| panic!("cannot set up PostgreSQL test schema: {e:?}"));
        Some(TestDb {
            storage: Some(storage),
            url,
            cleanup,
        })
    }

    /// SQLite, and PostgreSQL when reachable (required when `CI=true`).
    pub fn each_backend() -> Vec<TestDb> {
        std::iter::once(TestDb::sqlite())
            .chain(TestDb::postgres())
            .collect()
    }

    /// The storage on this database.
    #[expect(clippy::panic, reason = "the storage is only taken in Drop")]
    pub fn storage(&self) -> &Storage {
        self.storage
            .as_ref()
            .unwrap_or_else(|| panic!("TestDb used after drop"))
    }

    /// The URL of this database (with the schema's search_path on PostgreSQL).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.storage().backend()
    }
}

impl std::ops::Deref for TestDb {
    type Target = Storage;

    fn deref(&self) -> &Storage {
        self.storage()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Close the pool's connections before dropping the schema they use.
        drop(self.storage.take());
        if let Cleanup::Postgres { admin_url, schema } = &self.cleanup {
            let dropped = PgConnection::establish(admin_url)
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = dropped {
                eprintln!("warning: could not drop test schema {schema}: {e}");
            }
        }
    }
}

/// Bulk helpers for tests and benchmarks only: seed many rows quickly in one transaction.
impl Storage {
    /// Inserts `count` users named `{prefix}{n}` in one transaction with multi-row inserts; returns their ids.
    pub fn bulk_insert_users(
        &self,
        ctx: &WriteContext,
        prefix: &str,
        count: usize,
    ) -> Result<Vec<ResourceId>, StorageError> {
        let now = to_db_time(ctx.now);
        let mut rows = Vec::with_capacity(count);
        let mut emails = Vec::with_capacity(count);
        for n in 0..count {
            let user_name = format!("{prefix}{n}");
            let doc = serde_json::json!({
                "schemas": [scim_core::schema::USER_SCHEMA],
                "userName": user_name,
                "displayName": format!("User {n}"),
                "active": true,
                "emails": [{"type": "work", "value": format!("{user_name}@example.com"), "primary": true}],
            });
            let doc = prepare_doc(doc)?;
            let shadow = ShadowColumns::extract(ResourceKind::User, &doc)?;
            emails.push(email_keys(ResourceKind::User, &doc)?);
            rows.push(ResourceRow::new(
                &ctx.tenant,
                ResourceKind::User,
                &doc,
                &shadow,
                now,
            )?);
        }
        self.write(|conn| {
            for chunk in rows.chunks(1000) {
                // Multi-row inserts do not go through MultiBackend: run them on the inner connection.
                on_inner!(conn, |c| diesel::insert_into(resources::table)
                    .values(chunk)
                    .execute(c))?;
            }
            for (row, keys) in rows.iter().zip(&emails) {
                insert_emails(conn, &ctx.tenant, &row.id, keys)?;
            }
            Ok(())
        })?;
        Ok(rows.into_iter().map(|r| ResourceId::new(r.id)).collect())
    }

    /// Adds existing users of the tenant to a group in one transaction with multi-row inserts.
    pub fn bulk_add_members(
        &self,
        tenant: &TenantId,
        group: &ResourceId,
        user_ids: &[ResourceId],
    ) -> Result<(), StorageError> {
        #[derive(Insertable)]
        #[diesel(table_name = group_members)]
        struct MemberRow<'a> {
            tenant_id: &'a str,
            group_id: &'a str,
            member_id: &'a str,
            member_type: &'a str,
        }
        let rows: Vec<MemberRow<'_>> = user_ids
            .iter()
            .map(|id| MemberRow {
                tenant_id: tenant.as_str(),
                group_id: group.as_str(),
                member_id: id.as_str(),
                member_type: "User",
            })
            .collect();
        self.write(|conn| {
            for chunk in rows.chunks(5000) {
                on_inner!(conn, |c| diesel::insert_into(group_members::table)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok(())
        })
    }
}

/// Defines a module with two tests running the same body, one on SQLite and one on PostgreSQL:
///
/// ```ignore
/// storage::backend_tests!(creates_a_user, |db| {
///     let tenant = /* ... */;
///     db.create_tenant(&tenant).unwrap();
/// });
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            use super::*;

            #[test]
            fn sqlite() {
                let $db = $crate::testing::TestDb::sqlite();
                $body
            }

            #[test]
            fn postgres() {
                if let Some($db) = $crate::testing::TestDb::postgres() {
                    $body
                }
            }
        }
    };
}

/// A change-feed consumer as docs/events.md describes it: it applies events in order and ends with the
/// users, groups and memberships of the tenant. Tests compare it with [`FeedReplica::of_storage`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FeedReplica {
    /// Document of each user as the feed last showed it, without `id` and `meta`.
    pub users: std::collections::BTreeMap<String, serde_json::Value>,
    pub groups: std::collections::BTreeMap<String, serde_json::Value>,
    /// `(group id, member id)`.
    pub memberships: std::collections::BTreeSet<(String, String)>,
}

impl FeedReplica {
    /// Applies one event given by its type, resource id and `data` (as the events API shows them);
    /// an unknown type is an error.
    pub fn apply(
        &mut self,
        event_type: &str,
        resource_id: &str,
        data: &serde_json::Value,
    ) -> Result<(), String> {
        let content = || {
            let mut doc = data.clone();
            if let Some(object) = doc.as_object_mut() {
                object.remove("id");
                object.remove("meta");
            }
            doc
        };
        match event_type {
            "user.created" | "user.updated" => {
                self.users.insert(resource_id.to_owned(), content());
            }
            "group.created" | "group.updated" => {
                self.groups.insert(resource_id.to_owned(), content());
            }
            "user.deleted" | "group.deleted" => {
                self.users.remove(resource_id);
                self.groups.remove(resource_id);
                self.memberships
                    .retain(|(group, member)| group != resource_id && member != resource_id);
            }
            "group.member_added" | "group.member_removed" => {
                let text = |key: &str| data[key].as_str().unwrap_or_default().to_owned();
                let membership = (text("groupId"), text("memberId"));
                if event_type == "group.member_added" {
                    self.memberships.insert(membership);
                } else {
                    self.memberships.remove(&membership);
                }
            }
            other => return Err(format!("unknown event type {other}")),
        }
        Ok(())
    }

    /// What the storage holds for `tenant`, in the replica's terms.
    pub fn of_storage(storage: &Storage, tenant: &TenantId) -> Result<FeedReplica, StorageError> {
        let mut replica = FeedReplica::default();
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let page = storage.query_resources(
                tenant,
                kind,
                &crate::ResourceQuery {
                    count: u64::MAX / 2,
                    expand: crate::Expand::ALL,
                    ..crate::ResourceQuery::default()
                },
            )?;
            for resource in page.resources {
                let id = resource.id.as_str().to_owned();
                for member in resource.members.iter().flatten() {
                    replica
                        .memberships
                        .insert((id.clone(), member.value.as_str().to_owned()));
                }
                match kind {
                    ResourceKind::User => replica.users.insert(id, resource.doc),
                    ResourceKind::Group => replica.groups.insert(id, resource.doc),
                };
            }
        }
        Ok(replica)
    }

    /// Applies every event of `tenant` from the start, sequencing pending ones first, and checks that
    /// the tenant's sequences are 1, 2, 3, ... and positions increase.
    pub fn from_feed(storage: &Storage, tenant: &TenantId) -> Result<FeedReplica, StorageError> {
        while storage.sequence_events()? > 0 {}
        let mut replica = FeedReplica::default();
        let mut after = None;
        let mut expected_sequence = 1;
        loop {
            let query = crate::feed::EventQuery {
                after,
                limit: 500,
                tenant: Some(tenant.clone()),
                types: Vec::new(),
            };
            let crate::feed::EventsRead::Page(page) = storage.read_events(&query)? else {
                return Err(StorageError::Internal(
                    "the feed expired while replaying it".into(),
                ));
            };
            for event in &page.events {
                assert_eq!(
                    event.sequence, expected_sequence,
                    "tenant sequence has a gap: {event:?}"
                );
                assert!(
                    after.is_none_or(|after| event.position > after),
                    "positions go back: {event:?}"
                );
                expected_sequence += 1;
                after = Some(event.position);
                replica
                    .apply(&event.event_type, &event.resource_id, &event.data)
                    .map_err(|e| StorageError::Internal(e.into()))?;
            }
            if !page.has_more {
                return Ok(replica);
            }
        }
    }
}
