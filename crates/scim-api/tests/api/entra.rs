//! The request/response pairs of Microsoft's SCIM tutorial (entra-requests.md §1) and Test Connection.

use serde_json::json;

use crate::helpers::{TestApp, assert_scim_error, json, on_both_backends};

const BODY_A: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
 "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":true,
 "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
 "meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}"#;

const BODY_C: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
 "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}"#;

on_both_backends!(
    test_connection_finds_no_user_for_a_random_guid,
    user_lifecycle_matches_the_tutorial,
    group_lifecycle_matches_the_tutorial,
    schemas_discovery_lists_user_group_and_enterprise,
);

async fn test_connection_finds_no_user_for_a_random_guid(app: TestApp) {
    let response = app
        .get("/Users?filter=userName+eq+%2200aa00aa-bb11-cc22-dd33-44ee44ee44ee%22&aadOptscim062020")
        .await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
    assert_eq!(body["startIndex"], 1);
}

async fn user_lifecycle_matches_the_tutorial(app: TestApp) {
    // 1 Create User
    let body_a: serde_json::Value = serde_json::from_str(BODY_A).unwrap();
    let response = app.post("/Users", &body_a).await;
    assert_eq!(response.status(), 201);
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let created = json(response).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, app.url(&format!("/Users/{id}")));
    assert_eq!(
        created["userName"],
        "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    );
    assert_eq!(created["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert_eq!(created["active"], true);
    assert_eq!(
        created["emails"][0]["value"],
        "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    );
    assert_eq!(created["name"]["familyName"], "familyName");
    assert_eq!(created["meta"]["resourceType"], "User");
    assert!(created["meta"]["created"].is_string() && created["meta"]["lastModified"].is_string());
    assert_eq!(created["meta"]["location"], location);

    // 2 Get User; and not found
    let fetched = json(app.get(&format!("/Users/{id}")).await).await;
    assert_eq!(fetched["id"], id);
    assert_scim_error(app.get("/Users/5d48a0a8e9f04aa38008").await, 404, None).await;

    // 3 Get User by query (userName compares case-insensitively)
    let found = json(
        app.get("/Users?filter=userName eq \"test_user_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\"")
            .await,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id);
    assert_eq!(found["itemsPerPage"], 1);

    // 4 Query, zero results
    let none = json(app.get("/Users?filter=userName eq \"non-existent user\"").await).await;
    assert_eq!(none["totalResults"], 0);

    // 5 Update User (multi-valued)
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
                {"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
                {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let updated = json(response).await;
    assert_eq!(updated["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(updated["name"]["familyName"], "updatedFamilyName");

    // 6 Update User (single-valued)
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
                {"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        json(response).await["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );

    // 7 Disable User (Operations before schemas); a disabled user is still returned by GET and filter
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &serde_json::from_str(
                r#"{"Operations":[{"op":"Replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#,
            )
            .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["active"], false);
    let disabled = json(
        app.get("/Users?filter=userName eq \"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com\"")
            .await,
    )
    .await;
    assert_eq!(disabled["totalResults"], 1);
    assert_eq!(disabled["Resources"][0]["active"], false);

    // 8 Delete User
    assert_eq!(app.delete(&format!("/Users/{id}")).await.status(), 204);
    assert_scim_error(app.get(&format!("/Users/{id}")).await, 404, None).await;
}

async fn group_lifecycle_matches_the_tutorial(app: TestApp) {
    let user = app.create_user("member@example.com").await;
    // 9 Create Group (with a non-SCIM schema URI)
    let response = app.post("/Groups", &serde_json::from_str(BODY_C).unwrap()).await;
    assert_eq!(response.status(), 201);
    let created = json(response).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["displayName"], "displayName");
    assert_eq!(created["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert_eq!(
        created["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );

    // 10 Get Group without members
    let fetched = json(app.get(&format!("/Groups/{id}?excludedAttributes=members")).await).await;
    assert_eq!(fetched["id"], id);
    assert!(fetched.get("members").is_none(), "{fetched}");

    // 11 Get Group by displayName
    let found = json(
        app.get("/Groups?excludedAttributes=members&filter=displayName eq \"displayName\"")
            .await,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());

    // 12 Update Group (non-member)
    let response = app
        .patch(
            &format!("/Groups/{id}"),
            &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
                {"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}),
        )
        .await;
    assert_eq!(response.status(), 204);

    // 13 Add Members ($ref null), twice: the second add is a quiet success
    let add = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
        {"op":"Add","path":"members","value":[{"$ref":null,"value":user}]}]});
    assert_eq!(app.patch(&format!("/Groups/{id}"), &add).await.status(), 204);
    assert_eq!(app.patch(&format!("/Groups/{id}"), &add).await.status(), 204);
    let group = json(app.get(&format!("/Groups/{id}")).await).await;
    assert_eq!(
        group["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    assert_eq!(group["members"][0]["value"], user);
    let user_body = json(app.get(&format!("/Users/{user}")).await).await;
    assert_eq!(user_body["groups"][0]["value"], id);

    // 14 Remove Members
    let remove = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
        {"op":"Remove","path":"members","value":[{"$ref":null,"value":user}]}]});
    assert_eq!(app.patch(&format!("/Groups/{id}"), &remove).await.status(), 204);
    let group = json(app.get(&format!("/Groups/{id}")).await).await;
    assert_eq!(group["members"].as_array().map_or(0, Vec::len), 0, "{group}");

    // 15 Delete Group
    assert_eq!(app.delete(&format!("/Groups/{id}")).await.status(), 204);
    assert_scim_error(app.get(&format!("/Groups/{id}")).await, 404, None).await;
}

async fn schemas_discovery_lists_user_group_and_enterprise(app: TestApp) {
    let response = app.get("/Schemas").await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    let ids: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for urn in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert!(ids.contains(&urn), "{urn} missing from {ids:?}");
    }
    assert!(
        !body.to_string().contains("null"),
        "discovery bodies carry no nulls"
    );
    let user_schema = &body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "urn:ietf:params:scim:schemas:core:2.0:User")
        .unwrap()["attributes"];
    let user_name = user_schema
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["mutability"], "readWrite");
    assert_eq!(user_name["uniqueness"], "server");
}
