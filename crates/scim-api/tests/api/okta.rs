//! Okta's request shapes: PUT for user updates, lowercase `replace` of `active`, group lookup by
//! displayName, and paging through users.

use serde_json::json;

use crate::helpers::{TestApp, json, on_both_backends};

on_both_backends!(
    put_replaces_user_and_keeps_id,
    lowercase_replace_deactivates,
    group_lookup_by_display_name,
    paging_walks_every_user
);

async fn put_replaces_user_and_keeps_id(app: TestApp) {
    let response = app
        .post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "okta@x", "name": {"givenName": "O", "familyName": "K"}, "title": "t"}))
        .await;
    let user = json(response).await;
    let id = user["id"].as_str().unwrap();
    let response = app
        .put(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": id, "userName": "okta@x",
                    "name": {"givenName": "Okta", "familyName": "K"}, "active": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let replaced = json(response).await;
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["name"]["givenName"], "Okta");
    assert!(
        replaced.get("title").is_none(),
        "PUT clears attributes it omits: {replaced}"
    );
    assert_ne!(replaced["meta"]["version"], user["meta"]["version"]);
}

async fn lowercase_replace_deactivates(app: TestApp) {
    let id = app.create_user("deact@x").await;
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let response = app.patch(&format!("/Users/{id}"), &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["active"], false);
}

async fn group_lookup_by_display_name(app: TestApp) {
    let id = app.create_group("Engineering").await;
    let found = json(app.get("/Groups?filter=displayName eq \"engineering\"").await).await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id);
}

async fn paging_walks_every_user(app: TestApp) {
    for i in 0..7 {
        app.create_user(&format!("page{i}")).await;
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = json(app.get(&format!("/Users?startIndex={start}&count=3")).await).await;
        assert_eq!(page["totalResults"], 7);
        let resources = page["Resources"].as_array().unwrap().clone();
        if resources.is_empty() {
            break;
        }
        seen.extend(
            resources
                .iter()
                .map(|r| r["userName"].as_str().unwrap().to_owned()),
        );
        start += 3;
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
}
