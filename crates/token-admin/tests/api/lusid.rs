//! LUSID-compatible `PUT /identity/api/identityprovider/scim`.

use chrono::Utc;
use credentials::HashedToken;
use scim_core::TenantId;
use serde_json::Value;

use crate::helpers::{PUBLIC_URL, TestApp, admin_token, on_each_backend, tenant_operator_token};

async fn add_scim(app: &TestApp, token: &str) -> (u16, Value) {
    app.send(
        reqwest::Method::PUT,
        "/identity/api/identityprovider/scim",
        token,
        None,
    )
    .await
}

#[tokio::test]
async fn add_scim_creates_the_callers_tenant_and_rotates_its_token() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let operator = tenant_operator_token("lusid-admin", "finbourne");

        let (status, first) = add_scim(&app, &operator).await;
        assert_eq!(status, 200, "{first}");
        let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["apiToken", "baseUrl"]);
        assert_eq!(first["baseUrl"], format!("{PUBLIC_URL}/scim/v2/finbourne"));
        let tenant = TenantId::parse("finbourne").unwrap();
        app.storage().get_tenant(&tenant).expect("tenant created");

        let (status, second) = add_scim(&app, &operator).await;
        assert_eq!(status, 200);
        let old = app
            .storage()
            .find_token(&HashedToken::of(first["apiToken"].as_str().unwrap()))
            .unwrap();
        assert!(
            old.unwrap().revoked_at.is_some_and(|at| at <= Utc::now()),
            "earlier token revoked"
        );
        let new = app
            .storage()
            .find_token(&HashedToken::of(second["apiToken"].as_str().unwrap()))
            .unwrap();
        assert!(new.unwrap().revoked_at.is_none());

        let audit = app.storage().list_admin_audit(Some(&tenant), 10).unwrap();
        assert!(
            audit
                .iter()
                .all(|e| e.action == "scim.enable" && e.operator == "lusid-admin")
        );
        assert_eq!(audit.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn add_scim_keeps_read_tokens() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let operator = tenant_operator_token("lusid-admin", "finbourne");
        let (status, _) = add_scim(&app, &operator).await;
        assert_eq!(status, 200);
        let tenant = TenantId::parse("finbourne").unwrap();
        let reporting = app
            .storage()
            .issue_token(
                &tenant,
                &storage::TokenRequest {
                    scope: storage::TokenScope::Read,
                    ..storage::TokenRequest::default()
                },
            )
            .unwrap();

        let (status, _) = add_scim(&app, &operator).await;
        assert_eq!(status, 200, "regenerated");
        let record = app
            .storage()
            .find_token(&reporting.token.hash())
            .unwrap()
            .unwrap();
        assert_eq!(record.revoked_at, None, "a read token is not the IdP's token");
    })
    .await;
}

#[tokio::test]
async fn add_scim_needs_a_tenant_claim() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let (status, body) = add_scim(&app, &admin_token()).await;
        assert_eq!(status, 400, "{body}");
        let (status, _) = add_scim(&app, "not-a-jwt").await;
        assert_eq!(status, 401);
    })
    .await;
}

#[tokio::test]
async fn concurrent_add_scim_calls_leave_exactly_one_valid_token() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let operator = tenant_operator_token("lusid-admin", "finbourne");
        let (status, first) = add_scim(&app, &operator).await;
        assert_eq!(status, 200, "{first}");
        let calls = (0..6).map(|_| add_scim(&app, &operator));
        let answers = futures_util::future::join_all(calls).await;
        let mut issued = vec![first["apiToken"].as_str().unwrap().to_owned()];
        for (status, body) in &answers {
            assert_eq!(*status, 200, "{body}");
            issued.push(body["apiToken"].as_str().unwrap().to_owned());
        }
        let valid = app.still_valid(&issued).len();
        assert_eq!(valid, 1, "six AddScim calls at once must leave one valid token");
    })
    .await;
}
