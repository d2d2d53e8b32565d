//! Entra's "OAuth2 client credentials grant" mode end to end across both services: token-admin's
//! `/oauth2/token` issues an access token, scim-api accepts it for that tenant only, and revoking the client
//! stops it within the cache window.

use credentials::PlainToken;
use secrecy::SecretString;
use storage::oauth_clients::NewOAuthClient;

use crate::helpers::{TestApp, assert_scim_error, test_settings};

const OAUTH_SECRET: &str = "cross-service-oauth-signing-secret-32-bytes!";

async fn spawn_pair(db: storage::testing::TestDb) -> (TestApp, String) {
    let settings = service::Settings {
        oauth_signing_secret: Some(SecretString::from(OAUTH_SECRET)),
        database_url: SecretString::from(db.url().to_owned()),
        admin_listen: "127.0.0.1:0".to_owned(),
        admin_jwt_hs256_secret: Some(SecretString::from("operator-secret-unused-in-this-test-32b")),
        admin_jwt_issuer: Some("https://idp.test".to_owned()),
        admin_jwt_audience: Some("token-admin".to_owned()),
        ..test_settings()
    };
    let admin = token_admin::Application::build(settings.clone()).await.unwrap();
    let admin_address = format!("http://127.0.0.1:{}", admin.port());
    actix_web::rt::spawn(admin.run_until_stopped());
    (TestApp::spawn_with(db, settings).await, admin_address)
}

async fn access_token(app: &TestApp, admin: &str, tenant: &str) -> (String, String) {
    let secret = PlainToken::generate_client_secret();
    let client_id = format!("client-{tenant}");
    app.db
        .storage()
        .insert_oauth_client(
            &scim_core::TenantId::parse(tenant).unwrap(),
            &NewOAuthClient {
                client_id: client_id.clone(),
                secret_hash: secret.hash(),
                secret_prefix: secret.display_prefix(),
                label: None,
            },
            chrono::Utc::now(),
        )
        .unwrap();
    let response = app
        .client
        .post(format!("{admin}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", secret.expose_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    (client_id, body["access_token"].as_str().unwrap().to_owned())
}

async fn run(db: storage::testing::TestDb) {
    let (app, admin) = spawn_pair(db).await;
    app.token_for("globex").await;
    let (client_id, token) = access_token(&app, &admin, "acme").await;

    let ok = app
        .client
        .get(app.url("/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let other = app
        .client
        .get(format!("{}/scim/v2/globex/Users", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_scim_error(other, 401, None).await;
    // Another last signature character, so the signature really changes: the token's own last
    // character was 'A' one run in four, and the "forged" token was then the real one.
    let mut forged = token.clone();
    let last = forged.pop();
    forged.push(if last == Some('A') { 'Q' } else { 'A' });
    let forged = app
        .client
        .get(app.url("/Users"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_scim_error(forged, 401, None).await;

    let tenant = scim_core::TenantId::parse("acme").unwrap();
    app.db
        .storage()
        .revoke_oauth_client(&tenant, &client_id, chrono::Utc::now())
        .unwrap();
    app.wait_until_refused(&app.url("/Users"), &token, "a revoked client's token")
        .await;
}

#[actix_web::test]
async fn client_credentials_token_works_for_its_tenant_until_revoked_sqlite() {
    run(storage::testing::TestDb::sqlite()).await;
}

#[actix_web::test]
async fn client_credentials_token_works_for_its_tenant_until_revoked_postgres() {
    if let Some(db) = storage::testing::TestDb::postgres() {
        run(db).await;
    }
}
