//! Issuing, listing, rotating and revoking SCIM bearer tokens.

use chrono::{DateTime, Duration, Utc};
use credentials::HashedToken;
use serde_json::{Value, json};

use crate::helpers::{PUBLIC_URL, TestApp, admin_token, on_each_backend};

fn api_token(issued: &Value) -> String {
    issued["apiToken"].as_str().expect("apiToken").to_owned()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().expect("timestamp").parse().expect("RFC 3339")
}

#[tokio::test]
async fn issued_token_is_returned_once_and_stored_only_as_its_hash() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let issued = app
            .issue_token("acme", json!({"label": "entra", "expiresIn": "90d"}))
            .await;
        let plaintext = api_token(&issued);
        let keys: Vec<&str> = issued.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["apiToken", "baseUrl", "expiresAt", "id"]);
        assert!(
            plaintext.starts_with("scim_") && plaintext.len() >= 48,
            "{plaintext}"
        );
        assert_eq!(issued["baseUrl"], format!("{PUBLIC_URL}/scim/v2/acme"));
        let expires = time(&issued["expiresAt"]);
        assert!((expires - (Utc::now() + Duration::days(90))).num_seconds().abs() < 60);

        // The listing shows metadata only.
        let (status, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        assert_eq!(status, 200);
        let listed = &list[0];
        assert_eq!(listed["id"], issued["id"]);
        assert_eq!(listed["label"], "entra");
        assert_eq!(listed["active"], true);
        assert!(plaintext.starts_with(listed["prefix"].as_str().unwrap()));
        assert!(!list.to_string().contains(&plaintext));
        assert!(listed.get("apiToken").is_none() && listed.get("tokenHash").is_none());

        // The database holds the hash and the display prefix, never the secret.
        let dump = app.dump_tokens_table();
        let hash = HashedToken::of(&plaintext);
        assert!(dump.contains(hash.as_hex()), "the dump covers the token row");
        assert!(!dump.contains(&plaintext), "plaintext stored: {dump}");
        let record = app.storage().find_token(&hash).unwrap().expect("found by hash");
        assert_eq!(record.tenant.as_str(), "acme");
        assert!(record.revoked_at.is_none());
    })
    .await;
}

#[tokio::test]
async fn rotation_revokes_every_other_token_at_once() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let first = api_token(&app.issue_token("acme", json!({})).await);
        let second = api_token(&app.issue_token("acme", json!({"label": "second"})).await);
        let rotated = api_token(&app.issue_token("acme", json!({"rotate": true})).await);

        let now = Utc::now();
        for old in [&first, &second] {
            let record = app.storage().find_token(&HashedToken::of(old)).unwrap().unwrap();
            assert!(
                record.revoked_at.is_some_and(|at| at <= now),
                "old token still valid: {record:?}"
            );
        }
        let current = app
            .storage()
            .find_token(&HashedToken::of(&rotated))
            .unwrap()
            .unwrap();
        assert!(current.revoked_at.is_none());

        let (_, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        let active: Vec<bool> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["active"] == true)
            .collect();
        assert_eq!(active, [false, false, true]);
    })
    .await;
}

#[tokio::test]
async fn rotation_with_grace_period_keeps_old_tokens_until_it_ends() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let old = api_token(&app.issue_token("acme", json!({})).await);
        app.issue_token("acme", json!({"rotate": true, "graceSeconds": 3600}))
            .await;

        let record = app.storage().find_token(&HashedToken::of(&old)).unwrap().unwrap();
        let revoked_at = record.revoked_at.expect("revocation scheduled");
        let expected = Utc::now() + Duration::hours(1);
        assert!(
            (revoked_at - expected).num_seconds().abs() < 60,
            "{revoked_at} vs {expected}"
        );
        let (_, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        assert_eq!(list[0]["active"], true, "old token works during the grace period");

        let (status, body) = app
            .post(
                "/admin/v1/tenants/acme/tokens",
                &admin_token(),
                json!({"graceSeconds": 60}),
            )
            .await;
        assert_eq!(status, 400, "grace without rotate: {body}");
    })
    .await;
}

#[tokio::test]
async fn revoking_a_token_takes_effect_now() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let issued = app.issue_token("acme", json!({})).await;
        let id = issued["id"].as_str().unwrap();

        let (status, _) = app
            .delete(&format!("/admin/v1/tenants/globex/tokens/{id}"), &admin_token())
            .await;
        assert_eq!(status, 404, "a token is revoked only through its own tenant");
        let (status, _) = app
            .delete(&format!("/admin/v1/tenants/acme/tokens/{id}"), &admin_token())
            .await;
        assert_eq!(status, 204);
        let record = app
            .storage()
            .find_token(&HashedToken::of(&api_token(&issued)))
            .unwrap()
            .unwrap();
        assert!(record.revoked_at.is_some_and(|at| at <= Utc::now()));
    })
    .await;
}

#[tokio::test]
async fn bad_issue_requests_are_400_and_unknown_tenants_404() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        for body in [
            json!({"expiresIn": "soon"}),
            json!({"expiresIn": 0}),
            json!({"lable": "x"}),
        ] {
            let (status, response) = app
                .post("/admin/v1/tenants/acme/tokens", &admin_token(), body.clone())
                .await;
            assert_eq!(status, 400, "{body}: {response}");
        }
        let (status, _) = app
            .post("/admin/v1/tenants/ghost/tokens", &admin_token(), json!({}))
            .await;
        assert_eq!(status, 404);
        let (status, _) = app.get("/admin/v1/tenants/ghost/tokens", &admin_token()).await;
        assert_eq!(status, 404);
    })
    .await;
}

#[tokio::test]
async fn listing_reports_expired_tokens_as_inactive() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let tenant = scim_core::TenantId::parse("acme").unwrap();
        let expired = storage::NewToken {
            id: "expired".to_owned(),
            token_hash: HashedToken::of("scim_expired-for-the-test"),
            prefix: "scim_expir".to_owned(),
            label: None,
            expires_at: Some(Utc::now() - Duration::days(1)),
            scope: storage::TokenScope::Write,
        };
        app.storage().insert_token(&tenant, &expired).unwrap();
        app.issue_token("acme", json!({"expiresIn": "90d"})).await;
        let (status, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        assert_eq!(status, 200);
        let active: Vec<bool> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["active"] == true)
            .collect();
        assert_eq!(active, [false, true]);
    })
    .await;
}

#[tokio::test]
async fn read_tokens_are_listed_audited_and_survive_rotation() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let provisioning = api_token(&app.issue_token("acme", json!({"label": "entra"})).await);
        let issued = app
            .issue_token("acme", json!({"label": "reporting", "scope": "read"}))
            .await;
        let reporting = api_token(&issued);

        let (_, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        let scopes: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["scope"].as_str().unwrap())
            .collect();
        assert_eq!(scopes, ["write", "read"], "{list}");
        let tenant = scim_core::TenantId::parse("acme").unwrap();
        let audit = app.storage().list_admin_audit(Some(&tenant), 10).unwrap();
        let issue = audit
            .iter()
            .find(|e| e.action == "token.issue" && e.detail["tokenId"] == issued["id"])
            .expect("audited");
        assert_eq!(issue.detail["scope"], "read");

        // Rotation replaces the IdP's token only.
        app.issue_token("acme", json!({"rotate": true})).await;
        let find = |token: &str| {
            app.storage()
                .find_token(&HashedToken::of(token))
                .unwrap()
                .unwrap()
        };
        assert!(
            find(&provisioning).revoked_at.is_some(),
            "the old write token is revoked"
        );
        assert_eq!(find(&reporting).revoked_at, None, "the read token stays");
        let (_, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        let active: Vec<(&str, bool)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["scope"].as_str().unwrap(), t["active"] == true))
            .collect();
        assert_eq!(active, [("write", false), ("read", true), ("write", true)]);
    })
    .await;
}

#[tokio::test]
async fn unknown_scopes_and_rotating_read_tokens_are_refused() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        for body in [
            json!({"scope": "admin"}),
            json!({"scope": "READ"}),
            json!({"scope": 1}),
            json!({"scope": "read", "rotate": true}),
        ] {
            let (status, answer) = app
                .post("/admin/v1/tenants/acme/tokens", &admin_token(), body.clone())
                .await;
            assert_eq!(status, 400, "{body}: {answer}");
        }
        let (_, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        assert_eq!(list, json!([]), "nothing issued");
    })
    .await;
}

#[tokio::test]
async fn concurrent_rotations_leave_exactly_one_valid_token() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let first = api_token(&app.issue_token("acme", json!({})).await);
        let rotations = (0..8).map(|_| app.issue_token("acme", json!({"rotate": true})));
        let rotated: Vec<String> = futures_util::future::join_all(rotations)
            .await
            .iter()
            .map(api_token)
            .collect();
        assert_eq!(rotated.len(), 8);
        let mut issued = rotated.clone();
        issued.push(first);
        let valid = app.still_valid(&issued);
        assert_eq!(
            valid.len(),
            1,
            "eight rotations at once must leave one valid token:\n{}",
            app.dump_tokens_table()
        );
        // And only the write tokens of the tenant were touched: the table has no other valid one. It is
        // the last one created: rotations queue on one lock and each stamps its token inside it, so the
        // newest token is the last rotation to commit (the last one answered), and it revoked the others.
        let (_, list) = app.get("/admin/v1/tenants/acme/tokens", &admin_token()).await;
        let tokens = list.as_array().unwrap();
        let active: Vec<&Value> = tokens.iter().filter(|t| t["active"] == true).collect();
        assert_eq!(active.len(), 1, "{list}");
        let newest = tokens.iter().max_by_key(|t| time(&t["createdAt"])).unwrap();
        assert_eq!(active[0]["id"], newest["id"], "{list}");
    })
    .await;
}
