//! The portal's request log as scim-api writes it: each tenant's requests with method, path, status and,
//! for an error, the SCIM error we answered; never the query string or the token; Entra's Test
//! Connection recognised; other tenants' and unknown tenants' requests kept apart.

use std::time::Duration;

use scim_core::TenantId;
use storage::portal::RequestLogEntry;
use storage::testing::TestDb;

use crate::helpers::TestApp;

/// The tenant's log once it holds `count` rows (it is written once a second, off the request path).
async fn log_with(app: &TestApp, tenant: &str, count: usize) -> Vec<RequestLogEntry> {
    let tenant = TenantId::parse(tenant).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rows = app.db.storage().recent_scim_requests(&tenant, 100).unwrap();
        if rows.len() >= count {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn records_requests_per_tenant(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let other = app.token_for("globex").await;
    let users = format!("{}/scim/v2/acme/Users", app.address);
    let probe = app
        .client
        .get(&users)
        .query(&[("filter", "userName eq \"secret-looking-guid\"")])
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    let refused = app
        .client
        .get(&users)
        .query(&[("filter", "userName zz \"x\"")])
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let wrong_token = app.client.get(&users).bearer_auth(&other).send().await.unwrap();
    assert_eq!(wrong_token.status(), 401);
    let unknown = app
        .client
        .get(format!("{}/scim/v2/nobody/Users", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);

    let rows = log_with(&app, "acme", 3).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let (newest, refused, probe) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(
        (probe.method.as_str(), probe.path.as_str()),
        ("GET", "/scim/v2/acme/Users")
    );
    assert!(
        probe.probe && probe.status == 200 && probe.detail.is_none(),
        "{probe:?}"
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.scim_type.as_deref(), Some("invalidFilter"));
    assert!(refused.detail.as_deref().is_some_and(|d| !d.is_empty()));
    assert!(refused.request_id.is_some());
    assert_eq!(
        newest.status, 401,
        "a refused token shows too (the admin sees why)"
    );
    for row in &rows {
        assert!(!row.path.contains('?') && !format!("{row:?}").contains(&app.token));
        assert!(!format!("{row:?}").contains("secret-looking-guid"));
    }
    let status = app
        .db
        .storage()
        .connection_status(&TenantId::parse("acme").unwrap())
        .unwrap();
    assert_eq!(status.last_probe.map(|p| p.1), Some(200));
    assert!(
        app.db
            .storage()
            .recent_scim_requests(&TenantId::parse("nobody").unwrap(), 10)
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn requests_are_recorded_per_tenant_on_sqlite() {
    records_requests_per_tenant(TestDb::sqlite()).await;
}

#[actix_web::test]
async fn requests_are_recorded_per_tenant_on_postgres() {
    if let Some(db) = TestDb::postgres() {
        records_requests_per_tenant(db).await;
    }
}
