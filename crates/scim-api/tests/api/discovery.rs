//! Discovery endpoints, including a tenant's custom extension (Lucid's).

use serde_json::json;

use crate::helpers::{TestApp, json, on_both_backends};

const LUCID: &str = "urn:ietf:params:scim:schemas:extension:lucid:2.0:User";

on_both_backends!(
    service_provider_config_advertises_limits,
    resource_types_list_users_and_groups,
    tenant_extension_is_discoverable_and_stored
);

async fn service_provider_config_advertises_limits(app: TestApp) {
    let body = json(app.get("/ServiceProviderConfig").await).await;
    assert_eq!(body["patch"]["supported"], true);
    assert_eq!(body["bulk"]["supported"], true);
    assert!(body["bulk"]["maxOperations"].as_u64().unwrap() > 0);
    assert!(body["filter"]["maxResults"].as_u64().unwrap() > 0);
    assert_eq!(body["etag"]["supported"], true);
    assert_eq!(body["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

async fn resource_types_list_users_and_groups(app: TestApp) {
    let body = json(app.get("/ResourceTypes").await).await;
    assert_eq!(body["totalResults"], 2);
    let user = json(app.get("/ResourceTypes/User").await).await;
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(
        user["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
}

async fn tenant_extension_is_discoverable_and_stored(app: TestApp) {
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "../../../scim-core/tests/fixtures/lucid-user-extension.json"
    ))
    .unwrap();
    app.set_policy(&json!({"extensions": [{"resourceType": "User", "schema": schema}]}))
        .await;
    let found = json(app.get(&format!("/Schemas/{LUCID}")).await).await;
    assert_eq!(found["id"], LUCID);
    let response = app.post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", LUCID], "userName": "lucid", LUCID: {"billingCode": "B-1"}})).await;
    assert_eq!(response.status(), 201);
    let user = json(response).await;
    assert_eq!(user[LUCID]["billingCode"], "B-1");
    let filtered = json(
        app.get(&format!("/Users?filter={LUCID}:billingCode eq \"B-1\""))
            .await,
    )
    .await;
    assert_eq!(filtered["totalResults"], 1);
}
