//! `/Bulk` with bulkId references, failOnErrors and the maxOperations limit.

use serde_json::json;

use crate::helpers::{TestApp, assert_scim_error, json, on_both_backends};

on_both_backends!(
    bulk_creates_user_and_group_referencing_it,
    bulk_stops_after_fail_on_errors
);

async fn bulk_creates_user_and_group_referencing_it(app: TestApp) {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "bulk-user"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "bulk-group", "members": [{"value": "bulkId:u1"}]}}
        ]
    });
    let response = app.post("/Bulk", &body).await;
    assert_eq!(response.status(), 200);
    let result = json(response).await;
    assert_eq!(result["Operations"][0]["status"], "201");
    assert_eq!(result["Operations"][1]["status"], "201");
    let group_location = result["Operations"][1]["location"].as_str().unwrap();
    let group: serde_json::Value = app
        .client
        .get(group_location)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
}

async fn bulk_stops_after_fail_on_errors(app: TestApp) {
    app.create_user("taken").await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 1,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "taken"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "never-created"}}
        ]
    });
    let result = json(app.post("/Bulk", &body).await).await;
    assert_eq!(result["Operations"].as_array().unwrap().len(), 1);
    assert_eq!(result["Operations"][0]["status"], "409");
    let too_many = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": (0..2000).map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")})).collect::<Vec<_>>()});
    assert_scim_error(app.post("/Bulk", &too_many).await, 413, None).await;
}
