//! What token-admin logs when it refuses: each operator-token refusal is one line with its reason (and
//! the claim, for claim problems), never the token; the token endpoint says when OAuth is off.
//!
//! A separate test binary, because it installs the process-wide subscriber that captures all output.
//! Tests find their own lines by the request id they send.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns fail the test on any error"
)]

#[path = "api/helpers.rs"]
#[expect(dead_code, reason = "shared with the api test binary, which uses all of it")]
mod helpers;

use chrono::Utc;
use serde_json::{Value, json};
use service::testing::CapturedLogs;
use storage::testing::TestDb;
use token_admin::Options;

use helpers::{
    TestApp, admin_token_without, claims, forged_admin_token, hs256_token, on_each_backend, settings,
};

fn logs() -> &'static CapturedLogs {
    CapturedLogs::install("info")
}

/// Sends `GET /admin/v1/tenants` with `token` and a fresh request id; returns the status and the
/// request's log lines.
async fn logged_list(app: &TestApp, token: &str) -> (u16, Vec<Value>) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = app
        .client
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(token)
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), logs().of_request(&request_id))
}

#[tokio::test]
async fn operator_token_refusals_are_logged_with_their_reason() {
    logs();
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let admin = json!({"role": "scim-admin"});
        let without = admin_token_without;
        let mut expired = claims("root", admin.clone());
        expired["exp"] = json!(Utc::now().timestamp() - 3600);
        let mut bad_exp = claims("root", admin.clone());
        bad_exp["exp"] = json!("tomorrow");
        let mut wrong_issuer = claims("root", admin.clone());
        wrong_issuer["iss"] = json!("https://evil.test");
        let mut wrong_audience = claims("root", admin.clone());
        wrong_audience["aud"] = json!("scim-api");
        let forged = forged_admin_token();
        let cases = [
            (without("exp"), "missing_claim", Some("exp")),
            (hs256_token(&bad_exp), "invalid_claim", Some("exp")),
            (without("sub"), "missing_claim", Some("sub")),
            (hs256_token(&wrong_issuer), "wrong_issuer", None),
            (hs256_token(&wrong_audience), "wrong_audience", None),
            (hs256_token(&expired), "expired", None),
            (forged, "bad_signature", None),
            ("not.a.jwt".to_owned(), "malformed", None),
        ];
        for (token, reason, claim) in cases {
            let (status, lines) = logged_list(&app, &token).await;
            assert_eq!(status, 401, "{reason}");
            let refusals: Vec<&Value> = lines
                .iter()
                .filter(|l| l["fields"]["message"] == "operator token refused")
                .collect();
            assert_eq!(refusals.len(), 1, "{reason}: {lines:#?}");
            let line = refusals[0];
            assert_eq!(line["fields"]["reason"], reason, "{line}");
            assert_eq!(line["fields"]["claim"].as_str(), claim, "{line}");
            assert!(!logs().text().contains(&token), "an operator token was logged");
        }
    })
    .await;
}

#[tokio::test]
async fn token_requests_while_oauth_is_off_are_logged_as_such() {
    logs();
    let db = TestDb::sqlite();
    let mut settings = settings(db.url());
    settings.oauth_signing_secret = None;
    let app = TestApp::spawn_with(db, settings, Options::default()).await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .header("x-request-id", &request_id)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let lines = logs().of_request(&request_id);
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("OAuth is off") && m.contains("oauth_signing_secret"))),
        "{lines:#?}"
    );
}
