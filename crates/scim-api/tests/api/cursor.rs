//! RFC 9865 cursor pagination over HTTP: `cursor` / `nextCursor` on `GET /Users`, `GET /Groups`,
//! `POST /{type}/.search` and the root `POST /.search`, its errors, and its advertisement.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_scim_error, json, on_both_backends};

on_both_backends!(
    get_walks_every_user_once_in_creation_order,
    search_bodies_take_a_cursor_and_the_root_search_crosses_types,
    cursor_errors_are_400_with_their_scim_type,
    index_pagination_is_unchanged_and_both_are_advertised,
);

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Follows `nextCursor` from `first` (a path with `cursor=` in its query) to the end; returns each page.
async fn walk_get(app: &TestApp, first: &str) -> Vec<Value> {
    let mut pages = vec![json(app.get(first).await).await];
    while let Some(next) = pages.last().unwrap().get("nextCursor") {
        let path = first.replace("cursor=", &format!("cursor={}", next.as_str().unwrap()));
        pages.push(json(app.get(&path).await).await);
        assert!(pages.len() < 50, "the walk does not end");
    }
    pages
}

/// The same with `POST <path>` and a SearchRequest body.
async fn walk_search(app: &TestApp, path: &str, body: &Value) -> Vec<Value> {
    let mut pages = vec![json(app.post(path, body).await).await];
    while let Some(next) = pages.last().unwrap().get("nextCursor").cloned() {
        let mut body = body.clone();
        body["cursor"] = next;
        pages.push(json(app.post(path, &body).await).await);
        assert!(pages.len() < 50, "the walk does not end");
    }
    pages
}

fn ids(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p["Resources"].as_array().unwrap_or_else(|| panic!("{p}")).iter())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// RFC 9865 page shape: no startIndex, totalResults on the first page only, nextCursor on all but the
/// last, itemsPerPage the number of resources.
fn assert_cursor_pages(pages: &[Value], total: u64, per_page: usize) {
    for (n, page) in pages.iter().enumerate() {
        assert!(page.get("startIndex").is_none(), "{page}");
        let resources = page["Resources"].as_array().unwrap();
        assert_eq!(page["itemsPerPage"], resources.len(), "{page}");
        assert!(resources.len() <= per_page, "{page}");
        if n == 0 {
            assert_eq!(page["totalResults"], total, "{page}");
        } else {
            assert!(page.get("totalResults").is_none(), "{page}");
        }
        let last = n + 1 == pages.len();
        assert_eq!(page.get("nextCursor").is_none(), last, "{page}");
        if let Some(cursor) = page.get("nextCursor") {
            let cursor = cursor.as_str().unwrap();
            assert!(
                cursor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
                "RFC 3986 unreserved characters only: {cursor}"
            );
        }
    }
}

async fn get_walks_every_user_once_in_creation_order(app: TestApp) {
    let mut created = Vec::new();
    for n in 0..7 {
        created.push(app.create_user(&format!("user{n}")).await);
    }
    app.create_group("not a user").await;

    let pages = walk_get(&app, "/Users?count=3&cursor=").await;
    assert_cursor_pages(&pages, 7, 3);
    assert_eq!(pages.len(), 3, "3 + 3 + 1");
    assert_eq!(ids(&pages), created);

    // `?cursor` with no value starts a walk too; filters and projections apply to every page.
    let pages = walk_get(
        &app,
        "/Users?filter=userName%20sw%20%22user%22%20and%20not%20(userName%20eq%20%22user3%22)&attributes=userName&count=2&cursor=",
    )
    .await;
    assert_cursor_pages(&pages, 6, 2);
    let mut expected = created.clone();
    expected.remove(3);
    assert_eq!(ids(&pages), expected);
    assert!(
        pages[1]["Resources"][0].get("meta").is_none(),
        "attributes applies"
    );
    let bare = json(app.get("/Users?cursor&count=100").await).await;
    assert_cursor_pages(std::slice::from_ref(&bare), 7, 100);

    // Writes between pages: a deleted user that was not returned yet is skipped, a new one comes last.
    let first = json(app.get("/Users?count=3&cursor=").await).await;
    let next = first["nextCursor"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/Users/{}", created[4])).await.status(), 204);
    let late = app.create_user("late").await;
    let rest = walk_get(&app, &format!("/Users?count=3&cursor={next}")).await;
    let mut seen = ids(&[first]);
    seen.extend(ids(&rest));
    let mut expected: Vec<String> = created.iter().filter(|id| **id != created[4]).cloned().collect();
    expected.push(late);
    assert_eq!(seen, expected);

    let groups = walk_get(&app, "/Groups?count=1&cursor=").await;
    assert_cursor_pages(&groups, 1, 1);
}

async fn search_bodies_take_a_cursor_and_the_root_search_crosses_types(app: TestApp) {
    let mut users = Vec::new();
    for n in 0..3 {
        users.push(app.create_user(&format!("user{n}")).await);
    }
    let groups = vec![app.create_group("a").await, app.create_group("b").await];

    let typed = walk_search(
        &app,
        "/Users/.search",
        &json!({"schemas": [SEARCH], "cursor": "", "count": 2}),
    )
    .await;
    assert_cursor_pages(&typed, 3, 2);
    assert_eq!(ids(&typed), users);

    let everything: Vec<String> = users.iter().chain(&groups).cloned().collect();
    for count in 1..=6 {
        let pages = walk_search(
            &app,
            "/.search",
            &json!({"schemas": [SEARCH], "cursor": "", "count": count}),
        )
        .await;
        // With a count of 3 the Users end exactly at the first page's end: its cursor points at the start
        // of the Groups, so no page is empty and none is missing.
        assert_cursor_pages(&pages, 5, count);
        assert_eq!(ids(&pages), everything, "count {count}");
        assert_eq!(pages.len(), 5usize.div_ceil(count).max(1), "count {count}");
    }

    // A filter only one type understands still walks the other.
    let pages = walk_search(
        &app,
        "/.search",
        &json!({"schemas": [SEARCH], "cursor": "", "count": 1, "filter": "userName sw \"user\""}),
    )
    .await;
    assert_eq!(ids(&pages), users);
}

async fn cursor_errors_are_400_with_their_scim_type(app: TestApp) {
    app.create_user("alice").await;
    app.create_user("bob").await;
    let group_cursor = json(app.get("/Groups?count=1&cursor=").await).await;
    assert!(group_cursor.get("nextCursor").is_none());
    app.create_group("a").await;
    app.create_group("b").await;
    let group_cursor = json(app.get("/Groups?count=1&cursor=").await).await["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let invalid_cursor = [
        "/Users?cursor=garbage".to_owned(),
        "/Users?cursor=%00".to_owned(),
        format!("/Users?cursor={}", "A".repeat(2000)),
        // Well-formed base64 of a version this server never wrote.
        "/Users?cursor=OTpVc2Vy".to_owned(),
        // Another listing's cursor.
        format!("/Users?cursor={group_cursor}"),
    ];
    for path in invalid_cursor {
        let body = assert_scim_error(app.get(&path).await, 400, Some("invalidCursor")).await;
        assert!(body["detail"].as_str().unwrap().contains("cursor"), "{body}");
    }
    let body = assert_scim_error(
        app.post("/Users/.search", &json!({"schemas": [SEARCH], "cursor": "%%%"}))
            .await,
        400,
        Some("invalidCursor"),
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("cursor"), "{body}");

    let both = assert_scim_error(
        app.get("/Users?cursor=&startIndex=1").await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert!(both["detail"].as_str().unwrap().contains("startIndex"), "{both}");
    let sorted = assert_scim_error(
        app.get("/Users?cursor=&sortBy=userName").await,
        400,
        Some("invalidValue"),
    )
    .await;
    assert!(sorted["detail"].as_str().unwrap().contains("sortBy"), "{sorted}");
    assert_scim_error(
        app.post(
            "/.search",
            &json!({"schemas": [SEARCH], "cursor": "", "startIndex": 2}),
        )
        .await,
        400,
        Some("invalidValue"),
    )
    .await;
}

async fn index_pagination_is_unchanged_and_both_are_advertised(app: TestApp) {
    for n in 0..3 {
        app.create_user(&format!("user{n}")).await;
    }
    let page = json(app.get("/Users?startIndex=2&count=1").await).await;
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["totalResults"], 3);
    assert!(page.get("nextCursor").is_none(), "{page}");
    let page = json(app.get("/Users").await).await;
    assert_eq!(page["startIndex"], 1, "index pagination is the default");

    let spc = json(app.get("/ServiceProviderConfig").await).await;
    assert_eq!(
        spc["pagination"],
        json!({
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": 100,
            "maxPageSize": 1000,
            "cursorTimeout": 86_400,
        })
    );
}
