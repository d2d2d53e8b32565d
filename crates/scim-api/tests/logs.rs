//! What scim-api logs, read from the log output of the real server: a refused bearer credential is one
//! line with the tenant of the path and the reason (never the token or its hash), and readiness is
//! logged when it changes, not on every probe.
//!
//! A separate test binary, because it installs the process-wide subscriber that captures all output.
//! Tests find their own lines by the request id they send.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "integration tests: a failed expectation must panic"
)]

#[path = "api/helpers.rs"]
#[expect(dead_code, reason = "shared with the api test binary, which uses all of it")]
mod helpers;

use chrono::{Duration, Utc};
use credentials::{AccessTokenIssuer, HashedToken, PlainToken};
use scim_core::TenantId;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use service::testing::CapturedLogs;
use storage::TokenRequest;
use storage::oauth_clients::NewOAuthClient;

use helpers::{TestApp, on_both_backends, test_settings};

const OAUTH_SECRET: &str = "logs-test-oauth-signing-secret-of-32-bytes";

on_both_backends!(
    refused_secret_tokens_are_logged_with_tenant_and_reason,
    readiness_is_logged_when_it_changes,
    an_unmatched_request_is_logged_with_its_path_without_its_query,
);

async fn an_unmatched_request_is_logged_with_its_path_without_its_query(app: TestApp) {
    logs();
    let (status, lines) = logged_get(&app, "/nowhere/at-all?email=secret%40example.com", None).await;
    assert_eq!(status, 404);
    let completed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request completed")
        .collect();
    assert_eq!(completed.len(), 1, "{lines:#?}");
    assert_eq!(completed[0]["span"]["route"], "unmatched", "{}", completed[0]);
    assert_eq!(
        completed[0]["span"]["path"], "/nowhere/at-all",
        "{}",
        completed[0]
    );
    assert!(
        !logs().text().contains("secret%40example.com"),
        "a query string was logged"
    );
}

fn logs() -> &'static CapturedLogs {
    CapturedLogs::install("info")
}

/// Sends `GET <path>` with `authorization` (a whole header value) and a fresh request id; returns the
/// status and the lines logged for that request.
async fn logged_get(app: &TestApp, path: &str, authorization: Option<&str>) -> (u16, Vec<Value>) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut request = app
        .client
        .get(format!("{}{path}", app.address))
        .header("x-request-id", &request_id);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let status = request.send().await.unwrap().status().as_u16();
    (status, logs().of_request(&request_id))
}

/// The one refusal line among `lines`.
fn refusal(lines: &[Value]) -> &Value {
    let refusals: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "bearer token refused")
        .collect();
    assert_eq!(refusals.len(), 1, "{lines:#?}");
    refusals[0]
}

/// Asserts the secret and its hash appear nowhere in the whole log.
fn assert_never_logged(secret: &str) {
    let text = logs().text();
    assert!(!text.contains(secret), "a presented token was logged");
    assert!(
        !text.contains(HashedToken::of(secret).as_hex()),
        "a token hash was logged"
    );
}

async fn refused_secret_tokens_are_logged_with_tenant_and_reason(app: TestApp) {
    logs();
    let acme = TenantId::parse("acme").unwrap();
    let storage = app.db.storage();
    let revoked = storage.issue_token(&acme, &TokenRequest::default()).unwrap();
    storage.revoke_token(&acme, &revoked.info.id, Utc::now()).unwrap();
    let expired = storage
        .issue_token(
            &acme,
            &TokenRequest {
                expires_at: Some(Utc::now() - Duration::minutes(1)),
                ..TokenRequest::default()
            },
        )
        .unwrap();
    let foreign = app.token_for("globex").await;
    let unknown = format!("scim_{}", "A".repeat(43));
    let revoked_token = revoked.token.expose_secret().to_owned();
    let expired_token = expired.token.expose_secret().to_owned();

    let cases: [(&str, Option<String>, &str); 6] = [
        ("/scim/v2/acme/Users", None, "missing_bearer"),
        (
            "/scim/v2/acme/Users",
            Some("Bearer not-a-token".to_owned()),
            "malformed_token",
        ),
        (
            "/scim/v2/acme/Users",
            Some(format!("Bearer {unknown}")),
            "unknown_token",
        ),
        (
            "/scim/v2/acme/Users",
            Some(format!("Bearer {revoked_token}")),
            "revoked",
        ),
        (
            "/scim/v2/acme/Users",
            Some(format!("Bearer {expired_token}")),
            "expired",
        ),
        (
            "/scim/v2/acme/Groups",
            Some(format!("Bearer {foreign}")),
            "other_tenant",
        ),
    ];
    for (path, authorization, reason) in cases {
        let (status, lines) = logged_get(&app, path, authorization.as_deref()).await;
        assert_eq!(status, 401, "{reason}");
        let line = refusal(&lines);
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["fields"]["reason"], reason, "{line}");
        assert_eq!(line["fields"]["tenant"], "acme", "{line}");
        // The access-log line of the request can be found by tenant as well.
        let completed = lines
            .iter()
            .find(|l| l["fields"]["message"] == "request completed")
            .expect("access-log line");
        assert_eq!(completed["span"]["tenant"], "acme", "{completed}");
        assert_eq!(completed["fields"]["status"], 401, "{completed}");
    }

    let (_, lines) = logged_get(&app, "/scim/v2/acme/Users", Some(&format!("Bearer {unknown}"))).await;
    assert_eq!(refusal(&lines)["fields"]["token_prefix"], "scim_AAAAA");
    let (_, lines) = logged_get(
        &app,
        "/scim/v2/acme/Users",
        Some(&format!("Bearer {revoked_token}")),
    )
    .await;
    assert_eq!(refusal(&lines)["fields"]["token_id"], revoked.info.id);
    let (_, lines) = logged_get(&app, "/scim/v2/acme/Users", Some(&format!("Bearer {foreign}"))).await;
    assert_eq!(refusal(&lines)["fields"]["token_tenant"], "globex");
    // A tenant segment that is no tenant slug: the reason, and no tenant to name.
    let (status, lines) = logged_get(
        &app,
        "/scim/v2/Not%20A%20Tenant/Users",
        Some(&format!("Bearer {}", app.token)),
    )
    .await;
    assert_eq!(status, 401);
    let line = refusal(&lines);
    assert_eq!(line["fields"]["reason"], "malformed_tenant", "{line}");
    assert!(line["fields"].get("tenant").is_none(), "{line}");

    for secret in [&unknown, &revoked_token, &expired_token, &foreign, &app.token] {
        assert_never_logged(secret);
    }
}

/// A token-admin-style access token for `client_id` of `tenant`, issued at `issued_at` with `secret`.
fn access_token(secret: &str, tenant: &str, client_id: &str, issued_at: chrono::DateTime<Utc>) -> String {
    AccessTokenIssuer::new(&SecretString::from(secret), Duration::hours(1))
        .unwrap()
        .issue(tenant, client_id, issued_at)
        .unwrap()
        .token
        .expose_secret()
        .to_owned()
}

fn register_client(app: &TestApp, tenant: &str, client_id: &str) {
    let secret = PlainToken::generate_client_secret();
    app.db
        .storage()
        .insert_oauth_client(
            &TenantId::parse(tenant).unwrap(),
            &NewOAuthClient {
                client_id: client_id.to_owned(),
                secret_hash: secret.hash(),
                secret_prefix: secret.display_prefix(),
                label: None,
            },
            Utc::now(),
        )
        .unwrap();
}

async fn refused_access_tokens_are_logged_with_tenant_and_reason(db: storage::testing::TestDb) {
    logs();
    let settings = service::Settings {
        oauth_signing_secret: Some(SecretString::from(OAUTH_SECRET)),
        ..test_settings()
    };
    let app = TestApp::spawn_with(db, settings).await;
    app.token_for("globex").await;
    register_client(&app, "acme", "client-live");
    register_client(&app, "acme", "client-revoked");
    register_client(&app, "globex", "client-globex");
    app.db
        .storage()
        .revoke_oauth_client(&TenantId::parse("acme").unwrap(), "client-revoked", Utc::now())
        .unwrap();
    let now = Utc::now();
    let valid = access_token(OAUTH_SECRET, "acme", "client-live", now);
    let (status, _) = logged_get(&app, "/scim/v2/acme/Users", Some(&format!("Bearer {valid}"))).await;
    assert_eq!(status, 200, "the valid access token is accepted");

    let cases = [
        (
            "expired",
            access_token(OAUTH_SECRET, "acme", "client-live", now - Duration::hours(3)),
            "access_token_expired",
        ),
        (
            "signed with another secret",
            access_token(
                "another-signing-secret-of-at-least-32-bytes",
                "acme",
                "client-live",
                now,
            ),
            "access_token_bad_signature",
        ),
        (
            "revoked client",
            access_token(OAUTH_SECRET, "acme", "client-revoked", now),
            "oauth_client_revoked",
        ),
        (
            "unknown client",
            access_token(OAUTH_SECRET, "acme", "client-deleted", now),
            "oauth_client_unknown",
        ),
        (
            "another tenant's client",
            access_token(OAUTH_SECRET, "globex", "client-globex", now),
            "other_tenant",
        ),
    ];
    for (case, token, reason) in &cases {
        let (status, lines) = logged_get(&app, "/scim/v2/acme/Users", Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, 401, "{case}");
        let line = refusal(&lines);
        assert_eq!(line["fields"]["reason"], *reason, "{case}: {line}");
        assert_eq!(line["fields"]["tenant"], "acme", "{case}: {line}");
        assert_never_logged(token);
    }
    let (_, lines) = logged_get(
        &app,
        "/scim/v2/acme/Users",
        Some(&format!("Bearer {}", cases[2].1)),
    )
    .await;
    assert_eq!(refusal(&lines)["fields"]["client_id"], "client-revoked");

    // A server without the signing secret says so, rather than calling the token unknown.
    let without_oauth = TestApp::spawn(storage::testing::TestDb::sqlite()).await;
    let (status, lines) = logged_get(
        &without_oauth,
        "/scim/v2/acme/Users",
        Some(&format!("Bearer {valid}")),
    )
    .await;
    assert_eq!(status, 401);
    let line = refusal(&lines);
    assert_eq!(line["fields"]["reason"], "oauth_disabled", "{line}");
    assert_eq!(line["fields"]["tenant"], "acme", "{line}");
    assert_never_logged(&valid);
}

#[actix_web::test]
async fn refused_access_tokens_are_logged_with_tenant_and_reason_sqlite() {
    refused_access_tokens_are_logged_with_tenant_and_reason(storage::testing::TestDb::sqlite()).await;
}

#[actix_web::test]
async fn refused_access_tokens_are_logged_with_tenant_and_reason_postgres() {
    if let Some(db) = storage::testing::TestDb::postgres() {
        refused_access_tokens_are_logged_with_tenant_and_reason(db).await;
    }
}

/// The readiness lines (`ready`, `not ready`) and any WARN or ERROR line among `lines`.
fn readiness_lines(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| {
            let message = &l["fields"]["message"];
            *message == "ready" || *message == "not ready" || l["level"] == "WARN" || l["level"] == "ERROR"
        })
        .collect()
}

async fn readiness_is_logged_when_it_changes(app: TestApp) {
    logs();
    let probe = || async { logged_get(&app, "/readyz", None).await };
    // The first probe of the process reports the state it finds.
    let (status, lines) = probe().await;
    assert_eq!(status, 200);
    let logged = readiness_lines(&lines);
    assert_eq!(logged.len(), 1, "{lines:#?}");
    assert_eq!(logged[0]["fields"]["message"], "ready");
    let (status, lines) = probe().await;
    assert_eq!(status, 200);
    assert!(readiness_lines(&lines).is_empty(), "{lines:#?}");

    app.db.storage().revert_all_migrations().unwrap();
    let (status, lines) = probe().await;
    assert_eq!(status, 503);
    let logged = readiness_lines(&lines);
    assert_eq!(logged.len(), 1, "one WARN with the reason, no ERROR: {lines:#?}");
    assert_eq!(logged[0]["level"], "WARN");
    assert_eq!(logged[0]["fields"]["message"], "not ready");
    assert!(
        logged[0]["fields"]["reason"]
            .as_str()
            .unwrap()
            .ends_with("database migrations pending"),
        "{}",
        logged[0]
    );
    for _ in 0..3 {
        let request_id = uuid::Uuid::new_v4().to_string();
        let response = app
            .client
            .get(format!("{}/readyz", app.address))
            .header("x-request-id", &request_id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "still not ready");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .ends_with("database migrations pending"),
            "the answer keeps the reason: {body}"
        );
        let lines = logs().of_request(&request_id);
        assert!(readiness_lines(&lines).is_empty(), "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|l| l["fields"]["message"] == "request completed"),
            "{lines:#?}"
        );
    }

    app.db.storage().run_migrations().unwrap();
    let (status, lines) = probe().await;
    assert_eq!(status, 200);
    let logged = readiness_lines(&lines);
    assert_eq!(logged.len(), 1, "{lines:#?}");
    assert_eq!(logged[0]["level"], "INFO");
    assert_eq!(logged[0]["fields"]["message"], "ready");
}
