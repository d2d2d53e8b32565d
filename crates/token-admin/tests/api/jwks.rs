//! Operator JWTs verified against a JWKS served by a local test IdP (actix on port 0), across a key
//! rotation, with the refresh rate limit and algorithm pinning.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use storage::testing::TestDb;
use token_admin::Options;
use token_admin::jwks::JwksPolicy;

use crate::helpers::{ServerThread, TestApp, claims, settings, sign};

const EC_A: &[u8] = include_bytes!("fixtures/ec-p256-a.pem");
const EC_B: &[u8] = include_bytes!("fixtures/ec-p256-b.pem");
const RSA: &[u8] = include_bytes!("fixtures/rsa-2048.pem");

/// A signing key of the test IdP.
struct IdpKey {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

impl IdpKey {
    fn ec(kid: &'static str, pem: &[u8]) -> Self {
        Self {
            kid,
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_pem(pem).unwrap(),
        }
    }

    fn rsa(kid: &'static str) -> Self {
        Self {
            kid,
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(RSA).unwrap(),
        }
    }

    /// The public JWK, as the IdP publishes it.
    fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.to_owned());
        serde_json::to_value(jwk).unwrap()
    }

    /// An operator token with the admin role.
    fn admin_token(&self) -> String {
        sign(
            self.alg,
            &claims("idp-admin", json!({"role": "scim-admin"})),
            &self.key,
            Some(self.kid),
        )
    }
}

/// The test IdP: serves whatever key set it currently holds and counts fetches.
struct Idp {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    _server: ServerThread,
}

impl Idp {
    async fn start(keys: &[&IdpKey]) -> Self {
        let document = Arc::new(Mutex::new(
            json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}),
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (document.clone(), fetches.clone());
        let (port, server) = ServerThread::spawn(move || {
            Box::pin(async move {
                let server = HttpServer::new(move || {
                    let (served, counted) = (served.clone(), counted.clone());
                    App::new().route(
                        "/jwks.json",
                        web::get().to(move || {
                            let (served, counted) = (served.clone(), counted.clone());
                            async move {
                                counted.fetch_add(1, Ordering::SeqCst);
                                let body = served.lock().unwrap().clone();
                                HttpResponse::Ok().json(body)
                            }
                        }),
                    )
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .unwrap();
                let port = server.addrs()[0].port();
                let server = server.run();
                let handle = server.handle();
                let serve: Pin<Box<dyn Future<Output = ()>>> = Box::pin(async move { server.await.unwrap() });
                (port, handle, serve)
            })
        });
        Self {
            url: format!("http://127.0.0.1:{port}/jwks.json"),
            keys: document,
            fetches,
            _server: server,
        }
    }

    fn publish(&self, keys: &[&IdpKey]) {
        *self.keys.lock().unwrap() = json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn spawn_app(jwks_url: &str, min_refresh_interval: Duration) -> TestApp {
    let db = TestDb::sqlite();
    let mut settings = settings(db.url());
    settings.admin_jwt_hs256_secret = None;
    settings.admin_jwt_jwks_url = Some(jwks_url.to_owned());
    let options = Options {
        jwks: JwksPolicy {
            min_refresh_interval,
            max_age: Duration::from_secs(900),
        },
        ..Options::default()
    };
    TestApp::spawn_with(db, settings, options).await
}

async fn status_of(app: &TestApp, token: &str) -> u16 {
    app.get("/admin/v1/tenants", token).await.0
}

#[tokio::test]
async fn jwks_keys_verify_operator_tokens_across_a_rotation() {
    let (a, b, rsa) = (
        IdpKey::ec("key-a", EC_A),
        IdpKey::ec("key-b", EC_B),
        IdpKey::rsa("key-rsa"),
    );
    let idp = Idp::start(&[&a, &rsa]).await;
    let app = spawn_app(&idp.url, Duration::ZERO).await;

    assert_eq!(status_of(&app, &a.admin_token()).await, 200, "ES256");
    assert_eq!(status_of(&app, &rsa.admin_token()).await, 200, "RS256");
    assert_eq!(idp.fetches(), 1, "the key set is cached");

    // The IdP rotates: key-b replaces key-a. A token with the new kid triggers one refetch.
    idp.publish(&[&b]);
    assert_eq!(
        status_of(&app, &b.admin_token()).await,
        200,
        "new key after rotation"
    );
    assert_eq!(idp.fetches(), 2);
    assert_eq!(
        status_of(&app, &a.admin_token()).await,
        401,
        "the retired key is no longer trusted"
    );
}

#[tokio::test]
async fn algorithm_confusion_and_unsigned_tokens_are_rejected() {
    let a = IdpKey::ec("key-a", EC_A);
    let rsa = IdpKey::rsa("key-rsa");
    let idp = Idp::start(&[&a, &rsa]).await;
    let app = spawn_app(&idp.url, Duration::ZERO).await;
    let admin = claims("idp-admin", json!({"role": "scim-admin"}));

    // HS256 "signed" with the RSA public key material as the HMAC secret: HS* is never allowed here.
    let public_pem = serde_json::to_string(&rsa.jwk()).unwrap();
    let confused = sign(
        Algorithm::HS256,
        &admin,
        &EncodingKey::from_secret(public_pem.as_bytes()),
        Some("key-rsa"),
    );
    assert_eq!(status_of(&app, &confused).await, 401);
    // RS256 token naming the EC key: the algorithm must be the one bound to the kid.
    let mismatched = sign(Algorithm::RS256, &admin, &rsa.key, Some("key-a"));
    assert_eq!(status_of(&app, &mismatched).await, 401);
    // No kid at all.
    let no_kid = sign(Algorithm::ES256, &admin, &a.key, None);
    assert_eq!(status_of(&app, &no_kid).await, 401);
    // Wrong audience with a genuine key.
    let mut wrong_aud = admin.clone();
    wrong_aud["aud"] = json!("someone-else");
    assert_eq!(
        status_of(&app, &sign(Algorithm::ES256, &wrong_aud, &a.key, Some("key-a"))).await,
        401
    );
    assert_eq!(status_of(&app, &a.admin_token()).await, 200);
}

#[tokio::test]
async fn unknown_kids_cannot_make_the_service_hammer_the_idp() {
    let a = IdpKey::ec("key-a", EC_A);
    let idp = Idp::start(&[&a]).await;
    let app = spawn_app(&idp.url, Duration::from_secs(60)).await;
    assert_eq!(status_of(&app, &a.admin_token()).await, 200);
    let stranger = IdpKey::ec("made-up", EC_B);
    for _ in 0..5 {
        assert_eq!(status_of(&app, &stranger.admin_token()).await, 401);
    }
    assert_eq!(idp.fetches(), 1, "refreshes are rate-limited");
}

#[tokio::test]
async fn unreachable_jwks_is_503_not_401() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app(&format!("http://127.0.0.1:{port}/jwks.json"), Duration::ZERO).await;
    let a = IdpKey::ec("key-a", EC_A);
    let (status, body) = app.get("/admin/v1/tenants", &a.admin_token()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
}
