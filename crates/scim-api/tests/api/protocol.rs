//! RFC 7644 HTTP semantics: media types, ETags and preconditions, errors, paging, sorting, projection.

use serde_json::json;

use crate::helpers::{TestApp, assert_scim_error, json, on_both_backends, test_settings};

on_both_backends!(
    json_and_scim_json_with_charset_are_accepted_and_others_refused,
    etags_drive_if_match_and_if_none_match,
    membership_changes_move_etags_on_both_sides,
    large_groups_answer_every_member_in_every_response,
    bad_filters_are_400_invalid_filter,
    duplicate_user_names_are_409_uniqueness_in_any_case,
    duplicate_group_names_are_409_uniqueness,
    count_zero_returns_only_the_total,
    sort_by_user_name_descending,
    attributes_and_excluded_attributes_project,
    search_endpoints_answer_post_queries,
    unknown_paths_methods_and_me_get_scim_errors,
    oversized_and_too_deep_bodies_are_refused,
    invalid_json_is_400_invalid_syntax,
    unknown_member_is_400,
    passwords_are_accepted_but_never_stored_returned_or_filterable,
);

async fn json_and_scim_json_with_charset_are_accepted_and_others_refused(app: TestApp) {
    for (i, content_type) in [
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json;charset=UTF-8",
    ]
    .iter()
    .enumerate()
    {
        let response = app
            .request(reqwest::Method::POST, "/Users")
            .header("content-type", *content_type)
            .body(json!({"userName": format!("ct{i}")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{content_type}");
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/scim+json"
        );
    }
    let response = app
        .request(reqwest::Method::POST, "/Users")
        .header("content-type", "text/plain")
        .body(json!({"userName": "plain"}).to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(response, 415, None).await;
}

async fn etags_drive_if_match_and_if_none_match(app: TestApp) {
    let id = app.create_user("etag").await;
    let response = app.get(&format!("/Users/{id}")).await;
    let etag = response
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let body = json(response).await;
    assert_eq!(body["meta"]["version"], etag);

    let not_modified = app
        .request(reqwest::Method::GET, &format!("/Users/{id}"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "title", "value": "x"}]});
    let ok = app
        .request(reqwest::Method::PATCH, &format!("/Users/{id}"))
        .header("content-type", "application/scim+json")
        .header("if-match", &etag)
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let stale = app
        .request(reqwest::Method::PATCH, &format!("/Users/{id}"))
        .header("content-type", "application/scim+json")
        .header("if-match", &etag)
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_scim_error(stale, 412, None).await;
}

/// A user's `groups` and a group's `members` are part of their representations: whenever a membership
/// changes (added, removed, either side deleted), both sides answer a new ETag, `meta.version` and
/// `meta.lastModified`, so a cached copy is never confirmed with a 304 after it changed.
async fn membership_changes_move_etags_on_both_sides(app: TestApp) {
    let user = app.create_user("member-etag").await;
    let other = app.create_user("member-etag-2").await;
    let group = app.create_group("etag-group").await;
    let meta = |path: String| {
        let app = &app;
        async move {
            let body = json(app.get(&path).await).await;
            (
                body["meta"]["version"].as_str().unwrap().to_owned(),
                body["meta"]["lastModified"].as_str().unwrap().to_owned(),
            )
        }
    };
    let still_fresh = |path: String, etag: String| {
        let app = &app;
        async move {
            let response = app
                .request(reqwest::Method::GET, &path)
                .header("if-none-match", &etag)
                .send()
                .await
                .unwrap();
            response.status() == 304
        }
    };
    let user_path = format!("/Users/{user}");
    let group_path = format!("/Groups/{group}");
    let members = |op: &str, id: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": op, "path": "members", "value": [{"value": id}]}]})
    };
    let remove = |id: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})
    };

    for (what, body) in [("added", members("add", &user)), ("removed", remove(&user))] {
        let (user_etag, user_modified) = meta(user_path.clone()).await;
        let (group_etag, _) = meta(group_path.clone()).await;
        // lastModified has millisecond precision.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let response = app.patch(&group_path, &body).await;
        assert!(response.status().is_success(), "{what}: {}", response.status());
        assert!(
            !still_fresh(user_path.clone(), user_etag.clone()).await,
            "user after {what}"
        );
        assert!(
            !still_fresh(group_path.clone(), group_etag).await,
            "group after {what}"
        );
        let (new_etag, new_modified) = meta(user_path.clone()).await;
        assert_ne!(new_etag, user_etag, "{what}");
        assert_ne!(new_modified, user_modified, "user lastModified after {what}");
    }

    // Deleting a member moves its group; deleting a group moves its members.
    let response = app.patch(&group_path, &members("add", &other)).await;
    assert!(response.status().is_success());
    let response = app.patch(&group_path, &members("add", &user)).await;
    assert!(response.status().is_success());
    let (group_etag, _) = meta(group_path.clone()).await;
    assert_eq!(app.delete(&format!("/Users/{other}")).await.status(), 204);
    assert!(
        !still_fresh(group_path.clone(), group_etag).await,
        "group after its member was deleted"
    );
    let (user_etag, _) = meta(user_path.clone()).await;
    assert_eq!(app.delete(&group_path).await.status(), 204);
    assert!(
        !still_fresh(user_path.clone(), user_etag).await,
        "user after its group was deleted"
    );
    let body = json(app.get(&user_path).await).await;
    assert!(body.get("groups").is_none(), "{body}");
}

/// Group members are streamed from storage a page (1,000) at a time: a group of exactly two pages and one
/// of two and a half answer every member once, in every response that shows members, under projections.
async fn large_groups_answer_every_member_in_every_response(app: TestApp) {
    let storage = app.db.storage();
    let tenant = scim_core::TenantId::parse(&app.tenant).unwrap();
    let wctx = storage::WriteContext {
        tenant: tenant.clone(),
        actor_token_id: None,
        request_id: None,
        now: chrono::Utc::now(),
    };
    let users = storage.bulk_insert_users(&wctx, "member", 2500).unwrap();
    for (name, size) in [("two-pages", 2000), ("two-and-a-half", 2500)] {
        let group = app.create_group(name).await;
        let group_id = scim_core::ResourceId::new(group.clone());
        storage
            .bulk_add_members(&tenant, &group_id, &users[..size])
            .unwrap();
        let mut want: Vec<String> = users[..size].iter().map(|u| u.as_str().to_owned()).collect();
        want.sort();
        let ids = |members: &serde_json::Value| -> Vec<String> {
            members
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        };

        let response = app.get(&format!("/Groups/{group}")).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("etag").is_some());
        let body = json(response).await;
        assert_eq!(ids(&body["members"]), want, "{name}");
        let first = &body["members"][0];
        assert_eq!(first["type"], "User");
        assert!(
            first["$ref"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/Users/{}", want[0]))
        );

        let body = json(
            app.get(&format!("/Groups/{group}?attributes=members.value"))
                .await,
        )
        .await;
        assert_eq!(ids(&body["members"]), want, "{name}");
        assert_eq!(body["members"][0].as_object().unwrap().len(), 1, "{body:.200}");
        assert!(body.get("displayName").is_none());

        let body = json(
            app.get(&format!("/Groups/{group}?excludedAttributes=members"))
                .await,
        )
        .await;
        assert!(body.get("members").is_none());
        assert_eq!(body["displayName"], name);

        let filter = format!("displayName eq \"{name}\"");
        let response = app
            .request(reqwest::Method::GET, "/Groups")
            .query(&[("filter", filter.as_str())])
            .send()
            .await
            .unwrap();
        let body = json(response).await;
        assert_eq!(body["totalResults"], 1);
        assert_eq!(ids(&body["Resources"][0]["members"]), want, "{name}");
    }
    // A list of several large groups, and the root search over Users then Groups.
    let body = json(app.get("/Groups?count=10").await).await;
    let sizes: Vec<usize> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [2000, 2500]);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "displayName sw \"two\"", "count": 5});
    let body = json(app.post("/.search", &search).await).await;
    let members: usize = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["members"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(members, 4500, "{:.300}", body.to_string());
}

async fn bad_filters_are_400_invalid_filter(app: TestApp) {
    for filter in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "noSuchAttribute eq \"a\"",
        "active gt true",
    ] {
        let response = app
            .request(reqwest::Method::GET, "/Users")
            .query(&[("filter", filter)])
            .send()
            .await
            .unwrap();
        assert_scim_error(response, 400, Some("invalidFilter")).await;
    }
}

async fn duplicate_user_names_are_409_uniqueness_in_any_case(app: TestApp) {
    app.create_user("Dup@Example.com").await;
    let response = app.post("/Users", &json!({"userName": "dup@example.COM"})).await;
    assert_scim_error(response, 409, Some("uniqueness")).await;
}

async fn duplicate_group_names_are_409_uniqueness(app: TestApp) {
    app.create_group("Admins").await;
    let response = app.post("/Groups", &json!({"displayName": "admins"})).await;
    assert_scim_error(response, 409, Some("uniqueness")).await;
}

async fn count_zero_returns_only_the_total(app: TestApp) {
    app.create_user("c1").await;
    app.create_user("c2").await;
    let body = json(app.get("/Users?count=0").await).await;
    assert_eq!(body["totalResults"], 2);
    assert_eq!(body["Resources"], json!([]));
}

async fn sort_by_user_name_descending(app: TestApp) {
    for name in ["bravo", "Alpha", "charlie"] {
        app.create_user(name).await;
    }
    let body = json(app.get("/Users?sortBy=userName&sortOrder=descending").await).await;
    let names: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["charlie", "bravo", "Alpha"]);
}

async fn attributes_and_excluded_attributes_project(app: TestApp) {
    let response = app
        .post(
            "/Users",
            &json!({"userName": "proj", "name": {"givenName": "G", "familyName": "F"}, "title": "T"}),
        )
        .await;
    let id = json(response).await["id"].as_str().unwrap().to_owned();
    let only = json(app.get(&format!("/Users/{id}?attributes=name.givenName")).await).await;
    assert_eq!(only["id"], id);
    assert_eq!(only["name"], json!({"givenName": "G"}));
    assert!(
        only.get("title").is_none() && only.get("userName").is_none(),
        "{only}"
    );
    let without = json(app.get(&format!("/Users/{id}?excludedAttributes=title")).await).await;
    assert!(without.get("title").is_none());
    assert_eq!(without["userName"], "proj");
}

async fn search_endpoints_answer_post_queries(app: TestApp) {
    app.create_user("searchme").await;
    app.create_group("searchgroup").await;
    let request = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"searchme\"", "attributes": ["userName"]});
    let body = json(app.post("/Users/.search", &request).await).await;
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["userName"], "searchme");
    let all = json(
        app.post(
            "/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await,
    )
    .await;
    assert_eq!(all["totalResults"], 2);
    let by_name = json(
        app.post("/.search", &json!({"filter": "displayName eq \"searchgroup\""}))
            .await,
    )
    .await;
    assert_eq!(by_name["totalResults"], 1);
}

async fn unknown_paths_methods_and_me_get_scim_errors(app: TestApp) {
    assert_scim_error(app.get("/Nope").await, 404, None).await;
    assert_scim_error(app.delete("/ServiceProviderConfig").await, 405, None).await;
    assert_scim_error(app.post("/Schemas", &json!({})).await, 405, None).await;
    assert_scim_error(app.get("/Me").await, 501, None).await;
    assert_scim_error(app.get("/Users/does-not-exist").await, 404, None).await;
}

async fn oversized_and_too_deep_bodies_are_refused(app: TestApp) {
    let huge = json!({"userName": "big", "title": "x".repeat(test_settings().max_body_bytes + 1)});
    assert_scim_error(app.post("/Users", &huge).await, 413, None).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app
        .request(reqwest::Method::POST, "/Users")
        .header("content-type", "application/scim+json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_scim_error(response, 400, Some("invalidSyntax")).await;
    // and the server keeps serving
    assert_eq!(app.get("/Users").await.status(), 200);
}

async fn invalid_json_is_400_invalid_syntax(app: TestApp) {
    let response = app
        .request(reqwest::Method::POST, "/Users")
        .header("content-type", "application/scim+json")
        .body("{\"userName\":")
        .send()
        .await
        .unwrap();
    assert_scim_error(response, 400, Some("invalidSyntax")).await;
    let response = app.post("/Users", &json!({"displayName": "no user name"})).await;
    assert_scim_error(response, 400, Some("invalidValue")).await;
}

async fn unknown_member_is_400(app: TestApp) {
    let group = app.create_group("ghosts").await;
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}]});
    assert_scim_error(
        app.patch(&format!("/Groups/{group}"), &body).await,
        400,
        Some("invalidValue"),
    )
    .await;
}

async fn passwords_are_accepted_but_never_stored_returned_or_filterable(app: TestApp) {
    let response = app
        .post("/Users", &json!({"userName": "pw", "password": "t1meMa$heen"}))
        .await;
    assert_eq!(response.status(), 201);
    let user = json(response).await;
    assert!(user.get("password").is_none());
    let id = scim_core::ResourceId::new(user["id"].as_str().unwrap());
    let tenant = scim_core::TenantId::parse(&app.tenant).unwrap();
    let stored = app
        .db
        .storage()
        .get_resource(&tenant, scim_core::ResourceKind::User, &id, storage::Expand::NONE)
        .unwrap();
    assert!(!stored.doc.to_string().contains("t1meMa$heen"), "{}", stored.doc);
    let probe = app
        .request(reqwest::Method::GET, "/Users")
        .query(&[("filter", "password sw \"t\"")])
        .send()
        .await
        .unwrap();
    assert_scim_error(probe, 400, Some("invalidFilter")).await;
}
