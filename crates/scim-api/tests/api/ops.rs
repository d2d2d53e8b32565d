//! Operability over HTTP: health, readiness, metrics, request ids, rate limits, tenant policy.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_scim_error, json, on_both_backends, test_settings};

on_both_backends!(
    health_readiness_and_metrics_answer,
    metrics_are_served_as_openmetrics_text,
    request_ids_are_echoed_or_generated,
    tenant_policy_limits_group_names,
    tenant_policy_deactivates_instead_of_deleting,
);

async fn health_readiness_and_metrics_answer(app: TestApp) {
    let healthz = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 200);
    app.create_user("metered").await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"http_requests_total{method="POST",route="/scim/v2/{tenant}/Users",status="201"} 1"#),
        "{metrics}"
    );
    // Per-tenant series only with `metrics_per_tenant` (hardening.rs): this listener names no tenant.
    assert!(!metrics.contains("tenant=\"acme\""), "{metrics}");
    assert!(metrics.contains("db_pool_connections"), "{metrics}");
}

async fn metrics_are_served_as_openmetrics_text(app: TestApp) {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    // What makes it OpenMetrics rather than the Prometheus 0.0.4 text format: the closing marker.
    assert!(body.ends_with("# EOF\n"), "{body}");
}

async fn request_ids_are_echoed_or_generated(app: TestApp) {
    let echoed = app
        .request(reqwest::Method::GET, "/Users")
        .header("x-request-id", "entra-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers().get("x-request-id").unwrap(), "entra-42");
    let generated = app.get("/Users").await;
    let id = generated.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let hostile = app
        .request(reqwest::Method::GET, "/Users")
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    assert_ne!(hostile.headers().get("x-request-id").unwrap(), "a b\"c");
}

async fn tenant_policy_limits_group_names(app: TestApp) {
    app.set_policy(&json!({"attributeLimits": {"Group.displayName": {"maxLength": 40}}}))
        .await;
    let ok = app.post("/Groups", &json!({"displayName": "a".repeat(40)})).await;
    assert_eq!(ok.status(), 201);
    let id = json(ok).await["id"].as_str().unwrap().to_owned();
    let body = assert_scim_error(
        app.post("/Groups", &json!({"displayName": "b".repeat(41)})).await,
        400,
        Some("invalidValue"),
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("displayName") && detail.contains("40"),
        "{detail}"
    );
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "displayName", "value": "c".repeat(41)}]});
    assert_scim_error(
        app.patch(&format!("/Groups/{id}"), &rename).await,
        400,
        Some("invalidValue"),
    )
    .await;
}

async fn tenant_policy_deactivates_instead_of_deleting(app: TestApp) {
    app.set_policy(&json!({"deleteMode": "deactivate", "userNameImmutable": true}))
        .await;
    let id = app.create_user("keeper").await;
    let group = app.create_group("team").await;
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]});
    assert_eq!(app.patch(&format!("/Groups/{group}"), &add).await.status(), 204);
    assert_eq!(app.delete(&format!("/Users/{id}")).await.status(), 204);
    let user = json(app.get(&format!("/Users/{id}")).await).await;
    assert_eq!(user["active"], false);
    // Deactivated like a deleted user: it leaves its groups.
    assert!(user.get("groups").is_none(), "{user}");
    let team = json(app.get(&format!("/Groups/{group}")).await).await;
    assert_eq!(
        team.get("members").and_then(Value::as_array).map_or(0, Vec::len),
        0,
        "{team}"
    );
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "userName", "value": "renamed"}]});
    assert_scim_error(
        app.patch(&format!("/Users/{id}"), &rename).await,
        400,
        Some("mutability"),
    )
    .await;
}

#[actix_web::test]
async fn a_noisy_tenant_gets_429_with_retry_after_while_others_are_served() {
    let settings = service::Settings {
        rate_limit_per_second: 1,
        rate_limit_burst: 3,
        ..test_settings()
    };
    let app = TestApp::spawn_with(storage::testing::TestDb::sqlite(), settings).await;
    let quiet_token = app.token_for("quiet").await;
    let response = app
        .get_until("/Users", 429, 10, std::time::Duration::ZERO)
        .await
        .expect("the burst is exhausted within 10 requests");
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_scim_error(response, 429, None).await;
    let quiet = app
        .client
        .get(format!("{}/scim/v2/quiet/Users", app.address))
        .bearer_auth(&quiet_token)
        .send()
        .await
        .unwrap();
    assert_eq!(quiet.status(), 200);
}
