//! The query plans of the lookups IdPs send on every object, on the SQLite the server is built with and
//! the statistics the migrations install: each searches the index its attribute has and never walks the
//! tenant's resources; a plain listing walks the creation index without sorting. The statements mirror
//! what `query_resources` runs for a first page. PostgreSQL plans from the statistics it gathers itself,
//! which a table filled since its last `ANALYZE` does not have yet: its lookups must pick their own index
//! then too.

use diesel::prelude::*;
use diesel::sql_types::Text;

#[derive(QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// The plan of a first page of users in creation order that match `condition`.
fn plan(db: &storage::testing::TestDb, condition: &str) -> String {
    let mut conn = diesel::Connection::establish(db.url())
        .map(|c: storage::DbConnection| c)
        .unwrap();
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT * FROM resources WHERE resources.tenant_id = 't' \
         AND resources.resource_type = 'User' AND {condition} ORDER BY created_at, id LIMIT 100"
    );
    diesel::sql_query(sql)
        .load::<PlanRow>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.detail)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn idp_lookups_search_their_index_on_sqlite() {
    let db = storage::testing::TestDb::sqlite();
    let email = "resources.id IN (SELECT em.resource_id FROM resource_emails em \
                 WHERE em.tenant_id = 't' AND em.value_lower = 'x' AND em.email_type = 'work')";
    let lookups = [
        ("resources.user_name_lower = 'x'", "resources_user_name_uq"),
        ("resources.external_id = 'x'", "resources_external_id_idx"),
        ("resources.display_name_lower = 'x'", "resources_display_name_idx"),
        (email, "resource_emails_value_idx"),
        ("resources.id = 'x'", "sqlite_autoindex_resources_1"),
    ];
    for (condition, index) in lookups {
        let plan = plan(&db, condition);
        assert!(plan.contains(&format!("INDEX {index} ")), "{condition}:\n{plan}");
        assert!(!plan.contains("resources_created_idx"), "{condition}:\n{plan}");
    }
    let listing = plan(&db, "1 = 1");
    assert!(
        listing.contains("resources_created_idx") && !listing.contains("TEMP B-TREE"),
        "{listing}"
    );
}

#[derive(QueryableByName)]
struct PostgresPlanRow {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// A tenant's first 1,000 users, then the statistics refresh scim-api runs every few seconds: each IdP
/// lookup then searches its own index (before it, PostgreSQL walked the tenant by time for them).
#[test]
fn idp_lookups_search_their_index_on_postgres_once_statistics_are_refreshed() {
    let Some(db) = storage::testing::TestDb::postgres() else {
        return;
    };
    let t = crate::common::tenant(&db, "t");
    db.bulk_insert_users(&crate::common::ctx(&t), "u", 1000).unwrap();
    assert!(
        db.refresh_planner_statistics().unwrap().contains(&"resources"),
        "a filled table without statistics is analysed"
    );
    assert_eq!(
        db.refresh_planner_statistics().unwrap(),
        Vec::<&str>::new(),
        "and not again until it doubles"
    );
    let mut conn = diesel::Connection::establish(db.url())
        .map(|c: storage::DbConnection| c)
        .unwrap();
    let email = "resources.id IN (SELECT em.resource_id FROM resource_emails em \
                 WHERE em.tenant_id = 't' AND em.value_lower = 'x' AND em.email_type = 'work')";
    let lookups = [
        (
            "resources.user_name_lower = 'u7'",
            &["resources_user_name_uq"][..],
        ),
        ("resources.external_id = 'x'", &["resources_external_id_idx"]),
        (
            "resources.display_name_lower = 'x'",
            &["resources_display_name_idx"],
        ),
        (email, &["resource_emails_value_idx"]),
        ("resources.id = 'x'", &["resources_pkey", "resources_type_id_idx"]),
    ];
    for (condition, indexes) in lookups {
        let sql = format!(
            "EXPLAIN SELECT * FROM resources WHERE resources.tenant_id = 't' \
             AND resources.resource_type = 'User' AND {condition} ORDER BY created_at, id LIMIT 100"
        );
        let plan = diesel::sql_query(sql)
            .load::<PostgresPlanRow>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| r.line)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            indexes.iter().any(|index| plan.contains(index)),
            "{condition}:\n{plan}"
        );
        assert!(
            !plan.contains("resources_created_idx") && !plan.contains("resources_last_modified_idx"),
            "{condition}:\n{plan}"
        );
    }
}
