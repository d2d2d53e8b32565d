//! Operator JWTs (HS256 mode): what is refused, and how.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, admin_token, admin_token_without, claims, forged_admin_token, hs256_token, hs512_admin_token,
    on_each_backend,
};

/// Sends `GET /admin/v1/tenants` with `authorization` and returns status, challenge and body.
async fn try_list(app: &TestApp, authorization: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = app.client.get(app.url("/admin/v1/tenants"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, response.json().await.unwrap())
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn bad_operator_tokens_are_401_with_a_bearer_challenge() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let admin = json!({"role": "scim-admin"});
        let mut expired = claims("root", admin.clone());
        expired["exp"] = json!(Utc::now().timestamp() - 3600);
        let mut wrong_audience = claims("root", admin.clone());
        wrong_audience["aud"] = json!("scim-api");
        let mut wrong_issuer = claims("root", admin.clone());
        wrong_issuer["iss"] = json!("https://evil.test");
        let forged = forged_admin_token();
        let hs512 = hs512_admin_token();
        let alg_none = unsigned(
            &json!({"alg": "none", "typ": "JWT"}),
            &claims("root", admin.clone()),
        );

        let cases = [
            ("missing header", None),
            ("wrong scheme", Some(format!("Basic {}", admin_token()))),
            ("garbage", Some("Bearer not.a.jwt".to_owned())),
            ("expired", Some(format!("Bearer {}", hs256_token(&expired)))),
            (
                "wrong audience",
                Some(format!("Bearer {}", hs256_token(&wrong_audience))),
            ),
            (
                "wrong issuer",
                Some(format!("Bearer {}", hs256_token(&wrong_issuer))),
            ),
            ("forged signature", Some(format!("Bearer {forged}"))),
            ("other HMAC algorithm", Some(format!("Bearer {hs512}"))),
            ("alg none", Some(format!("Bearer {alg_none}"))),
        ];
        for (case, authorization) in cases {
            let (status, challenge, body) = try_list(&app, authorization.as_deref()).await;
            assert_eq!(status, 401, "{case}: {body}");
            assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "{case}");
            assert_eq!(body["error"], "unauthorized", "{case}");
        }

        let (status, _, _) = try_list(&app, Some(&format!("Bearer {}", admin_token()))).await;
        assert_eq!(status, 200, "the valid token next to them is accepted");
        let (status, _, _) = try_list(&app, Some(&format!("bearer {}", admin_token()))).await;
        assert_eq!(status, 200, "the scheme is case-insensitive");
    })
    .await;
}

#[tokio::test]
async fn refusals_name_the_claim_or_check_that_failed() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let admin = json!({"role": "scim-admin"});
        let without = admin_token_without;
        let with = |claim: &str, value: Value| {
            let mut c = claims("root", admin.clone());
            c[claim] = value;
            hs256_token(&c)
        };
        let forged = forged_admin_token();
        let hs512 = hs512_admin_token();
        let cases = [
            (without("exp"), "missing claim exp"),
            (with("exp", json!("tomorrow")), "claim exp is not valid"),
            (without("sub"), "missing claim sub"),
            (with("sub", json!("")), "claim sub is not valid"),
            (without("iss"), "missing claim iss"),
            (with("iss", json!("https://evil.test")), "wrong issuer"),
            (without("aud"), "missing claim aud"),
            (with("aud", json!("scim-api")), "wrong audience"),
            (with("exp", json!(Utc::now().timestamp() - 3600)), "expired"),
            (
                with("nbf", json!(Utc::now().timestamp() + 3600)),
                "not valid yet (nbf)",
            ),
            (hs512, "algorithm HS512 not allowed"),
            // A bad signature says only that: nothing about the claims of a token we did not sign.
            (forged, "signature rejected"),
        ];
        for (token, expected) in cases {
            let (status, _, body) = try_list(&app, Some(&format!("Bearer {token}"))).await;
            assert_eq!(status, 401, "{expected}: {body}");
            assert_eq!(
                body["detail"],
                format!("invalid operator token: {expected}"),
                "{body}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_valid_token_without_role_or_tenant_is_403() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let token = hs256_token(&claims("nobody", json!({"role": "viewer"})));
        let (status, challenge, body) = try_list(&app, Some(&format!("Bearer {token}"))).await;
        assert_eq!((status, challenge), (403, None));
        assert_eq!(body["error"], "forbidden");
    })
    .await;
}
