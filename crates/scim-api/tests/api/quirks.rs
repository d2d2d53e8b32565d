//! Every Entra quirk of entra-requests.md §4, over HTTP.

use serde_json::{Value, json};

use crate::helpers::{TestApp, json, on_both_backends};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

on_both_backends!(
    string_booleans_are_accepted_on_post_and_patch,
    pathless_replace_with_dotted_and_urn_keys,
    remove_member_with_value_list_removes_only_that_member,
    remove_members_without_value_removes_all,
    remove_member_by_value_filter,
    replace_on_missing_work_email_creates_it,
    manager_wrapped_in_array_and_bare_string_are_unwrapped,
    bare_string_member_value_is_added,
    empty_operations_is_a_successful_noop,
    lowercase_operations_key_and_garbage_keys_are_ignored,
    enterprise_urn_without_colon_and_explicit_nulls_are_tolerated,
    case_insensitive_attribute_names_in_body_and_filter,
    unquoted_filter_value_is_tolerated,
    add_on_single_valued_attribute_replaces,
    filter_on_work_email_value_path,
    add_multiple_members_in_one_patch,
    display_name_wrapped_in_array_is_unwrapped,
    json_encoded_role_strings_are_stored_as_sent,
    replace_members_replaces_the_list_unless_the_tenant_makes_it_additive,
    lowercase_endpoints_and_trailing_slashes_reach_the_endpoints,
);

/// Microsoft's SCIM reference tests and some hand-written clients send `/users` and `/Users/`.
async fn lowercase_endpoints_and_trailing_slashes_reach_the_endpoints(app: TestApp) {
    let created = app
        .post(
            "/users/",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "slash"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let user = json(created).await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(user["meta"]["location"], app.url(&format!("/Users/{id}")));
    let fetched = app.get(&format!("/USERS/{id}/")).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(json(fetched).await["userName"], "slash");
    let listed = json(app.get("/users/?filter=userName%20eq%20%22slash%22").await).await;
    assert_eq!(listed["totalResults"], 1, "{listed}");
    let group = app.create_group("slashes").await;
    let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]});
    assert_eq!(app.patch(&format!("/groups/{group}/"), &add).await.status(), 204);
    assert_eq!(app.get("/serviceproviderconfig").await.status(), 200);
    // An id keeps its case: only the endpoint name is matched loosely.
    assert_eq!(
        app.get(&format!("/Users/{}", id.to_uppercase())).await.status(),
        404
    );
}

fn op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

async fn string_booleans_are_accepted_on_post_and_patch(app: TestApp) {
    let response = app
        .post("/Users", &json!({"userName": "emp1", "active": "True"}))
        .await;
    assert_eq!(response.status(), 201);
    let user = json(response).await;
    assert_eq!(user["active"], true);
    let id = user["id"].as_str().unwrap();
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["active"], false);
}

async fn pathless_replace_with_dotted_and_urn_keys(app: TestApp) {
    let id = app.create_user("bjensen").await;
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &op(json!([{"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
            }}])),
        )
        .await;
    assert_eq!(response.status(), 200);
    let user = json(response).await;
    assert_eq!(user["displayName"], "Bjfe");
    assert_eq!(user["name"]["givenName"], "Kkom");
    assert_eq!(user["name"]["familyName"], "Unua");
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Aklq");
}

async fn member_ids(app: &TestApp, group: &str) -> Vec<String> {
    let body = json(app.get(&format!("/Groups/{group}")).await).await;
    let mut ids: Vec<String> = body["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn group_with_two_members(app: &TestApp) -> (String, String, String) {
    let (a, b) = (app.create_user("a@x").await, app.create_user("b@x").await);
    let group = app.create_group("two").await;
    let response = app
        .patch(
            &format!("/Groups/{group}"),
            &op(json!([{"op": "Add", "path": "members", "value": [{"value": a}, {"value": b}]}])),
        )
        .await;
    assert_eq!(response.status(), 204);
    (group, a, b)
}

async fn remove_member_with_value_list_removes_only_that_member(app: TestApp) {
    let (group, a, b) = group_with_two_members(&app).await;
    let response = app
        .patch(
            &format!("/Groups/{group}"),
            &op(json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}])),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(member_ids(&app, &group).await, vec![b]);
}

async fn remove_members_without_value_removes_all(app: TestApp) {
    let (group, _, _) = group_with_two_members(&app).await;
    let response = app
        .patch(
            &format!("/Groups/{group}"),
            &op(json!([{"op": "remove", "path": "members"}])),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert!(member_ids(&app, &group).await.is_empty());
}

async fn remove_member_by_value_filter(app: TestApp) {
    let (group, a, b) = group_with_two_members(&app).await;
    let path = format!("members[value eq \"{b}\"]");
    let response = app
        .patch(
            &format!("/Groups/{group}"),
            &op(json!([{"op": "remove", "path": path}])),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(member_ids(&app, &group).await, vec![a]);
}

async fn replace_on_missing_work_email_creates_it(app: TestApp) {
    let id = app.create_user("noemail").await;
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &op(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@example.com"},
                {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}
            ])),
        )
        .await;
    assert_eq!(response.status(), 200);
    let user = json(response).await;
    assert_eq!(
        user["emails"],
        json!([{"type": "work", "value": "w@example.com"}])
    );
    assert_eq!(
        user["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    // and the indexed work-email lookup finds it
    let found = json(
        app.get("/Users?filter=emails[type eq \"work\"].value eq \"W@example.com\"")
            .await,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
}

async fn manager_wrapped_in_array_and_bare_string_are_unwrapped(app: TestApp) {
    let boss = app.create_user("boss").await;
    let id = app.create_user("worker").await;
    let response = app
        .patch(&format!("/Users/{id}"), &op(json!([{"op": "Add", "path": "manager", "value": [{"$ref": format!("http://x/Users/{boss}"), "value": boss}]}])))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await[ENTERPRISE]["manager"]["value"], boss);
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &op(json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": "123456"}])),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await[ENTERPRISE]["manager"]["value"], "123456");
    // Entra's manager check before update
    let filter = format!("/Users?filter=id eq \"{id}\" and manager eq \"123456\"&attributes=id");
    let found = json(app.get(&filter).await).await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], id);
    assert!(found["Resources"][0].get("userName").is_none());
}

async fn bare_string_member_value_is_added(app: TestApp) {
    let user = app.create_user("garbage").await;
    let group = app.create_group("garbage tests").await;
    let response = app
        .patch(
            &format!("/Groups/{group}"),
            &op(json!([{"op": "add", "path": "members", "value": user}])),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(member_ids(&app, &group).await, vec![user]);
}

async fn empty_operations_is_a_successful_noop(app: TestApp) {
    let id = app.create_user("noop").await;
    let response = app.patch(&format!("/Users/{id}"), &op(json!([]))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["userName"], "noop");
}

async fn lowercase_operations_key_and_garbage_keys_are_ignored(app: TestApp) {
    let user = app.create_user("lower").await;
    let group = app.create_group("lower").await;
    let body = json!({"schemas": [PATCH_OP], "id": "garbage", "operations": [
        {"op": "add", "name": "addMember", "path": "members", "value": [{"value": user}]}]});
    assert_eq!(app.patch(&format!("/Groups/{group}"), &body).await.status(), 204);
    assert_eq!(member_ids(&app, &group).await, vec![user]);
}

async fn enterprise_urn_without_colon_and_explicit_nulls_are_tolerated(app: TestApp) {
    let response = app
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
                "userName": "nulls", "addresses": null, "phoneNumbers": null, "preferredLanguage": null,
                "title": null, "department": null, "manager": null, "active": true
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let user = json(response).await;
    assert!(
        user.get("title").is_none() && user.get("addresses").is_none(),
        "{user}"
    );
}

async fn case_insensitive_attribute_names_in_body_and_filter(app: TestApp) {
    let response = app
        .post(
            "/Users",
            &json!({"UserName": "Case", "Emails": [{"Value": "c@x", "Type": "work", "Primary": true}],
                    ENTERPRISE: {"Department": "Eng", "Manager": {"Value": "m1"}}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let user = json(response).await;
    assert_eq!(user["userName"], "Case");
    assert_eq!(user["emails"][0]["primary"], true);
    assert_eq!(user[ENTERPRISE]["department"], "Eng");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], "m1");
    let found = json(app.get("/Users?filter=USERNAME EQ \"case\"").await).await;
    assert_eq!(found["totalResults"], 1);
    let found = json(app.get("/Users?filter=emails.Value eq \"c@x\"").await).await;
    assert_eq!(found["totalResults"], 1);
}

async fn unquoted_filter_value_is_tolerated(app: TestApp) {
    let response = app
        .post("/Users", &json!({"userName": "jyoung", "externalId": "jyoung"}))
        .await;
    assert_eq!(response.status(), 201);
    let found = json(app.get("/Users?filter=externalId eq jyoung").await).await;
    assert_eq!(found["totalResults"], 1);
}

async fn add_on_single_valued_attribute_replaces(app: TestApp) {
    let id = app.create_user("babs").await;
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &op(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &op(json!([{"op": "Add", "path": "nickName", "value": "Barbara"}])),
        )
        .await;
    assert_eq!(json(response).await["nickName"], "Barbara");
}

async fn filter_on_work_email_value_path(app: TestApp) {
    let response = app
        .post("/Users", &json!({"userName": "mail", "emails": [{"type": "home", "value": "h@x"}, {"type": "work", "value": "user@contoso.com"}]}))
        .await;
    assert_eq!(response.status(), 201);
    let found = json(
        app.get("/Users?filter=emails[type eq \"work\"].value eq \"user@contoso.com\"")
            .await,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    let found = json(
        app.get("/Users?filter=emails[type eq \"work\"].value eq \"h@x\"")
            .await,
    )
    .await;
    assert_eq!(found["totalResults"], 0);
}

async fn add_multiple_members_in_one_patch(app: TestApp) {
    let users = [
        app.create_user("m1").await,
        app.create_user("m2").await,
        app.create_user("m3").await,
    ];
    let group = app.create_group("many").await;
    let body = op(json!([
        {"op": "Add", "path": "members", "value": [{"value": users[0]}]},
        {"op": "Add", "path": "members", "value": [{"value": users[1]}, {"value": users[2]}]}
    ]));
    assert_eq!(app.patch(&format!("/Groups/{group}"), &body).await.status(), 204);
    let mut expected = users.to_vec();
    expected.sort();
    assert_eq!(member_ids(&app, &group).await, expected);
}

async fn display_name_wrapped_in_array_is_unwrapped(app: TestApp) {
    let id = app.create_user("wrapped").await;
    let response = app
        .patch(&format!("/Users/{id}"), &op(json!([{"op": "Replace", "path": "displayName", "value": [{"$ref": null, "value": "User x"}]}])))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["displayName"], "User x");
}

async fn json_encoded_role_strings_are_stored_as_sent(app: TestApp) {
    let id = app.create_user("roles").await;
    let role = r#"{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}"#;
    let response = app
        .patch(
            &format!("/Users/{id}"),
            &op(json!([{"op": "Add", "path": "roles", "value": [{"value": role}]}])),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["roles"], json!([{"value": role}]));
    let response = app
        .patch(&format!("/Users/{id}"), &op(json!([{"op": "replace", "path": "roles", "value": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}])))
        .await;
    assert_eq!(
        json(response).await["roles"],
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}])
    );
}

async fn replace_members_replaces_the_list_unless_the_tenant_makes_it_additive(app: TestApp) {
    let (group, a, b) = group_with_two_members(&app).await;
    let c = app.create_user("c@x").await;
    let replace = op(json!([{"op": "Replace", "path": "members", "value": [{"value": c}]}]));
    assert_eq!(
        app.patch(&format!("/Groups/{group}"), &replace).await.status(),
        204
    );
    assert_eq!(member_ids(&app, &group).await, vec![c.clone()]);

    app.set_policy(&json!({"membersReplaceIsAdditive": true})).await;
    let replace = op(json!([{"op": "Replace", "path": "members", "value": [{"value": a}, {"value": b}]}]));
    assert_eq!(
        app.patch(&format!("/Groups/{group}"), &replace).await.status(),
        204
    );
    let mut expected = vec![a, b, c];
    expected.sort();
    assert_eq!(member_ids(&app, &group).await, expected);
}
