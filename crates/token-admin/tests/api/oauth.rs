//! OAuth clients and the client-credentials token endpoint (RFC 6749 §4.4).

use credentials::{AccessTokenVerifier, HashedToken};
use secrecy::SecretString;
use serde_json::{Value, json};

use storage::testing::TestDb;
use token_admin::Options;

use crate::helpers::{OAUTH_SECRET, TestApp, admin_token, on_each_backend, settings, tenant_operator_token};

/// Registers a client for `slug` and returns `(client_id, client_secret)`.
async fn register(app: &TestApp, slug: &str) -> (String, String) {
    let (status, body) = app
        .post(
            &format!("/admin/v1/tenants/{slug}/oauth-clients"),
            &admin_token(),
            json!({"label": "entra"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["clientId"].as_str().unwrap().to_owned(),
        body["clientSecret"].as_str().unwrap().to_owned(),
    )
}

/// Posts a form to `/oauth2/token`, optionally with Basic credentials.
async fn token_request(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
    let mut request = app.client.post(app.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, response.json().await.unwrap())
}

fn verifier() -> AccessTokenVerifier {
    AccessTokenVerifier::new(&SecretString::from(OAUTH_SECRET)).unwrap()
}

#[tokio::test]
async fn client_credentials_yield_a_token_for_that_tenant_only() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let (client_id, secret) = register(&app, "acme").await;
        assert!(secret.starts_with("scimcs_"));

        // client_secret_post
        let (status, body) = token_request(
            &app,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ],
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        let verified = verifier().verify(body["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(verified.tenant, "acme");
        assert_ne!(verified.tenant, "globex");
        assert_eq!(verified.client_id, client_id);

        // client_secret_basic
        let (status, body) = token_request(
            &app,
            &[("grant_type", "client_credentials")],
            Some((&client_id, &secret)),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            verifier()
                .verify(body["access_token"].as_str().unwrap())
                .unwrap()
                .tenant,
            "acme"
        );

        // The listing never shows the secret; the database holds its hash.
        let (status, list) = app
            .get("/admin/v1/tenants/acme/oauth-clients", &admin_token())
            .await;
        assert_eq!(status, 200);
        assert_eq!(list[0]["clientId"], client_id.as_str());
        assert!(!list.to_string().contains(&secret));
        let record = app.storage().find_oauth_client(&client_id).unwrap().unwrap();
        assert_eq!(record.secret_hash.as_hex(), HashedToken::of(&secret).as_hex());
    })
    .await;
}

#[tokio::test]
async fn bad_client_requests_get_rfc6749_errors() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (client_id, secret) = register(&app, "acme").await;
        let grant = ("grant_type", "client_credentials");

        let (status, body) = token_request(
            &app,
            &[
                grant,
                ("client_id", &client_id),
                ("client_secret", "scimcs_wrong"),
            ],
            None,
        )
        .await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
        let (status, body) = token_request(
            &app,
            &[grant, ("client_id", "nobody"), ("client_secret", &secret)],
            None,
        )
        .await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
        let (status, body) = token_request(&app, &[grant], Some((&client_id, "wrong"))).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
        let (status, body) = token_request(&app, &[grant], None).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
        let (status, body) = token_request(
            &app,
            &[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ],
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );
        let (status, body) = token_request(
            &app,
            &[("client_id", &client_id), ("client_secret", &secret)],
            None,
        )
        .await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
        let (status, body) = token_request(
            &app,
            &[grant, ("client_secret", &secret)],
            Some((&client_id, &secret)),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "two methods at once"
        );
    })
    .await;
}

#[tokio::test]
async fn revoked_clients_get_no_more_tokens() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (client_id, secret) = register(&app, "acme").await;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ];
        assert_eq!(token_request(&app, &form, None).await.0, 200);

        let operator = tenant_operator_token("alice", "globex");
        let path = format!("/admin/v1/tenants/acme/oauth-clients/{client_id}");
        assert_eq!(
            app.delete(&path, &operator).await.0,
            403,
            "other tenant's operator"
        );
        assert_eq!(
            app.delete(&path, &tenant_operator_token("alice", "acme")).await.0,
            204
        );

        let (status, body) = token_request(&app, &form, None).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
        // What scim-api checks to reject tokens the client already holds.
        let record = app.storage().find_oauth_client(&client_id).unwrap().unwrap();
        assert!(record.revoked_at.is_some());
        let (_, list) = app
            .get("/admin/v1/tenants/acme/oauth-clients", &admin_token())
            .await;
        assert!(list[0]["revokedAt"].is_string());
    })
    .await;
}

#[tokio::test]
async fn token_endpoint_is_absent_without_a_signing_secret() {
    let db = TestDb::sqlite();
    let mut settings = settings(db.url());
    settings.oauth_signing_secret = None;
    let app = TestApp::spawn_with(db, settings, Options::default()).await;
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn oauth_clients_are_refused_while_oauth_is_off() {
    on_each_backend(|db| async {
        let mut settings = settings(db.url());
        settings.oauth_signing_secret = None;
        let app = TestApp::spawn_with(db, settings, Options::default()).await;
        app.create_tenant("acme").await;
        let (status, body) = app
            .post("/admin/v1/tenants/acme/oauth-clients", &admin_token(), json!({}))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (409, Some("conflict")),
            "{body}"
        );
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("oauth_signing_secret") && detail.contains("SCIM_OAUTH_SIGNING_SECRET"),
            "the answer names the setting: {detail}"
        );
        let (status, clients) = app
            .get("/admin/v1/tenants/acme/oauth-clients", &admin_token())
            .await;
        assert_eq!((status, clients), (200, json!([])), "nothing was registered");
    })
    .await;
}

#[tokio::test]
async fn token_endpoint_without_a_signing_secret_answers_an_rfc6749_error() {
    let db = TestDb::sqlite();
    let mut settings = settings(db.url());
    settings.oauth_signing_secret = None;
    let app = TestApp::spawn_with(db, settings, Options::default()).await;
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "scimclient_x"),
            ("client_secret", "scimcs_x"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unsupported_grant_type", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not enabled"),
        "{body}"
    );
}
