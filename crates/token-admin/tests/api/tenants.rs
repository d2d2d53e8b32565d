//! Tenant CRUD, policy validation, tenant scoping and the audit log.

use scim_core::TenantId;
use serde_json::json;

use crate::helpers::{PUBLIC_URL, TestApp, admin_token, on_each_backend, tenant_operator_token};

#[tokio::test]
async fn tenant_crud_round_trip_with_policy() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let admin = admin_token();
        let policy = json!({
            "attributeLimits": {"Group.displayName": {"maxLength": 40}},
            "requiredAttributes": {"User": ["emails[type eq \"work\"].value"]},
            "userNameImmutable": true
        });
        let (status, created) = app
            .post(
                "/admin/v1/tenants",
                &admin,
                json!({"id": "pulumi", "displayName": "Pulumi", "policy": policy}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["id"], "pulumi");
        assert_eq!(created["baseUrl"], format!("{PUBLIC_URL}/scim/v2/pulumi"));
        assert_eq!(
            created["policy"]["attributeLimits"]["Group.displayName"]["maxLength"],
            40
        );
        assert_eq!(created["policy"]["deleteMode"], "hard", "defaults are filled in");

        let (status, body) = app
            .post("/admin/v1/tenants", &admin, json!({"id": "pulumi"}))
            .await;
        assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));

        let (status, fetched) = app.get("/admin/v1/tenants/pulumi", &admin).await;
        assert_eq!(status, 200);
        assert_eq!(fetched["displayName"], "Pulumi");

        let (status, patched) = app
            .send(
                reqwest::Method::PATCH,
                "/admin/v1/tenants/pulumi",
                &admin,
                Some(json!({"displayName": "Pulumi Corp", "policy": {"deleteMode": "deactivate"}})),
            )
            .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["displayName"], "Pulumi Corp");
        assert_eq!(patched["policy"]["deleteMode"], "deactivate");

        let (status, list) = app.get("/admin/v1/tenants", &admin).await;
        assert_eq!(status, 200);
        assert_eq!(list.as_array().map(Vec::len), Some(1));

        let (status, _) = app.delete("/admin/v1/tenants/pulumi", &admin).await;
        assert_eq!(status, 204);
        let (status, body) = app.get("/admin/v1/tenants/pulumi", &admin).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

        // Every action is in the audit log with the operator's subject, even after the tenant is gone.
        let tenant = TenantId::parse("pulumi").unwrap();
        let audit = app.storage().list_admin_audit(Some(&tenant), 10).unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["tenant.delete", "tenant.update", "tenant.create"]);
        assert!(audit.iter().all(|e| e.operator == "root"));
    })
    .await;
}

#[tokio::test]
async fn lucid_policy_with_a_custom_extension_is_accepted() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let policy: serde_json::Value =
            serde_json::from_str(include_str!("../../../../docs/examples/lucid-policy.json")).unwrap();
        let (status, created) = app
            .post(
                "/admin/v1/tenants",
                &admin_token(),
                json!({"id": "lucid", "policy": policy}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["policy"]["extensions"][0]["resourceType"], "User");
        let stored = app
            .storage()
            .get_tenant(&TenantId::parse("lucid").unwrap())
            .unwrap();
        scim_core::policy::TenantPolicy::from_json(&stored.policy)
            .expect("stored policy compiles for scim-api");
    })
    .await;
}

#[tokio::test]
async fn invalid_policies_and_slugs_are_400() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        let admin = admin_token();
        for body in [
            json!({"id": "acme", "policy": {"userNameImutable": true}}),
            json!({"id": "acme", "policy": {"attributeLimits": {"Group.nickName": {"maxLength": 4}}}}),
            json!({"id": "acme", "policy": {"deleteMode": "soft"}}),
            json!({"id": "Acme Corp"}),
            json!({"id": "acme", "unknown": 1}),
            json!({"id": "acme", "displayName": "  "}),
        ] {
            let (status, response) = app.post("/admin/v1/tenants", &admin, body.clone()).await;
            assert_eq!(status, 400, "{body} -> {response}");
            assert_eq!(response["error"], "invalid_request");
            assert!(response["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
        let (status, _) = app.get("/admin/v1/tenants", &admin).await;
        assert_eq!(status, 200);
    })
    .await;
}

#[tokio::test]
async fn tenant_scoped_operator_gets_403_on_other_tenants() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let acme_operator = tenant_operator_token("alice", "acme");

        let (status, _) = app.get("/admin/v1/tenants/acme", &acme_operator).await;
        assert_eq!(status, 200);
        let (status, list) = app.get("/admin/v1/tenants", &acme_operator).await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["id"].as_str())
            .collect();
        assert_eq!(ids, ["acme"], "listing shows only the operator's tenant");

        for (method, path) in [
            (reqwest::Method::GET, "/admin/v1/tenants/globex"),
            (reqwest::Method::DELETE, "/admin/v1/tenants/globex"),
            (reqwest::Method::POST, "/admin/v1/tenants/globex/tokens"),
            (reqwest::Method::GET, "/admin/v1/tenants/globex/tokens"),
            (reqwest::Method::POST, "/admin/v1/tenants/globex/oauth-clients"),
        ] {
            let (status, body) = app.send(method.clone(), path, &acme_operator, None).await;
            assert_eq!(status, 403, "{method} {path}: {body}");
            assert_eq!(body["error"], "forbidden");
        }
        let (status, _) = app
            .post("/admin/v1/tenants", &acme_operator, json!({"id": "initech"}))
            .await;
        assert_eq!(status, 403);
    })
    .await;
}

#[tokio::test]
async fn health_endpoints_answer_without_credentials() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        for path in ["/healthz", "/readyz"] {
            let response = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200, "{path}");
        }
        let response = app.client.get(app.url("/nope")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404);
    })
    .await;
}
