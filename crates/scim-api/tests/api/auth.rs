//! Authentication and tenant isolation: the same 401 for every kind of bad token.

use serde_json::json;

use crate::helpers::{TestApp, assert_scim_error, on_both_backends};

on_both_backends!(
    missing_malformed_and_unknown_tokens_get_401,
    another_tenants_token_gets_the_same_401,
    revoked_token_is_refused,
    tenants_do_not_see_each_other,
);

async fn missing_malformed_and_unknown_tokens_get_401(app: TestApp) {
    let url = app.url("/Users");
    let cases = [
        None,
        Some("Basic abc"),
        Some("Bearer"),
        Some("Bearer scim_unknown"),
    ];
    for header in cases {
        let mut request = app.client.get(&url);
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
        assert_scim_error(response, 401, None).await;
    }
}

async fn another_tenants_token_gets_the_same_401(app: TestApp) {
    let other = app.token_for("globex").await;
    let wrong_tenant = app
        .client
        .get(app.url("/Users"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let unknown = app
        .client
        .get(app.url("/Users"))
        .bearer_auth("scim_nope")
        .send()
        .await
        .unwrap();
    let no_tenant = app
        .client
        .get(format!("{}/scim/v2/initech/Users", app.address))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let a = assert_scim_error(wrong_tenant, 401, None).await;
    let b = assert_scim_error(unknown, 401, None).await;
    let c = assert_scim_error(no_tenant, 401, None).await;
    assert_eq!(a, b);
    assert_eq!(b, c);
}

async fn revoked_token_is_refused(app: TestApp) {
    assert_eq!(app.get("/Users").await.status(), 200);
    let tenant = scim_core::TenantId::parse(&app.tenant).unwrap();
    app.db
        .storage()
        .revoke_token(&tenant, &app.token_id, chrono::Utc::now())
        .unwrap();
    // Cached lookups are trusted for a few seconds; revocation must land within that window.
    app.wait_until_refused(&app.url("/Users"), &app.token, "a revoked token")
        .await;
}

async fn tenants_do_not_see_each_other(app: TestApp) {
    let id = app.create_user("shared-name").await;
    let other = app.token_for("globex").await;
    let base = format!("{}/scim/v2/globex", app.address);
    let response = app
        .client
        .get(format!("{base}/Users/{id}"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_scim_error(response, 404, None).await;
    let response = app
        .client
        .get(format!("{base}/Users"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["totalResults"], 0);
    // the same userName is free in another tenant
    let response = app
        .client
        .post(format!("{base}/Users"))
        .bearer_auth(&other)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "shared-name"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}
