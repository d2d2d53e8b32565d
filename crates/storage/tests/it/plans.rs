//! The query plans of the lookups IdPs send on every object, on the SQLite the server is built with and
//! the statistics the migrations install: each searches the index its attribute has and never walks the
//! tenant's resources; a plain listing walks the creation index without sorting. The statements mirror
//! what `query_resources` runs for a first page. (PostgreSQL plans from the statistics it gathers itself.)

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
