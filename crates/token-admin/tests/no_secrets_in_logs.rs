//! Secrets never reach the logs: every credential this service sees or mints in a full session (operator
//! JWTs, SCIM tokens, client secrets, access tokens) is searched for in everything logged at `debug`.
//!
//! A separate test binary, because it installs a process-wide subscriber that captures all output.

#![expect(
    clippy::expect_used,
    reason = "test helpers outside #[test] fns fail the test on any error"
)]

#[path = "api/helpers.rs"]
#[expect(dead_code, reason = "shared with the api test binary, which uses all of it")]
mod helpers;

use serde_json::json;
use service::testing::CapturedLogs;
use storage::testing::TestDb;

use helpers::{OPERATOR_SECRET, TestApp, admin_token, tenant_operator_token};

#[tokio::test]
async fn no_credential_is_ever_logged() {
    let captured = CapturedLogs::install("debug");

    let app = TestApp::spawn(TestDb::sqlite()).await;
    let admin = admin_token();
    let operator = tenant_operator_token("alice", "acme");
    let mut secrets = vec![admin.clone(), operator.clone(), OPERATOR_SECRET.to_owned()];

    app.create_tenant("acme").await;
    let issued = app.issue_token("acme", json!({"label": "entra"})).await;
    secrets.push(issued["apiToken"].as_str().unwrap().to_owned());
    let (_, lusid) = app
        .send(
            reqwest::Method::PUT,
            "/identity/api/identityprovider/scim",
            &operator,
            None,
        )
        .await;
    secrets.push(lusid["apiToken"].as_str().unwrap().to_owned());
    let (_, client) = app
        .post("/admin/v1/tenants/acme/oauth-clients", &operator, json!({}))
        .await;
    let (client_id, client_secret) = (
        client["clientId"].as_str().unwrap(),
        client["clientSecret"].as_str().unwrap().to_owned(),
    );
    secrets.push(client_secret.clone());
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(client_id, Some(&client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    secrets.push(body["access_token"].as_str().unwrap().to_owned());
    // Failures are logged too: a wrong secret and a forged operator token.
    app.client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", "scimcs_guess"),
        ])
        .send()
        .await
        .unwrap();
    let forged = format!("{admin}x");
    assert_eq!(app.get("/admin/v1/tenants", &forged).await.0, 401);
    secrets.push(forged);

    let logs = captured.text();
    assert!(logs.contains("request completed"), "the capture works: {logs}");
    assert!(
        logs.contains("issued access token"),
        "the capture covers the token endpoint"
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a credential was logged");
    }
    assert!(!logs.contains("scimcs_guess"), "a presented secret was logged");
}
