//! The change feed's contract end to end: 64 concurrent clients make every kind of SCIM write over HTTP
//! (POST, PUT with and without member lists, PATCH with filters, DELETE that cascades, Bulk); a consumer
//! that replays token-admin's events API from the start ends with exactly the users, groups and
//! memberships the SCIM API shows.

use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use storage::testing::FeedReplica;

use crate::helpers::{TestApp, on_both_backends, test_settings};

const OPERATOR_SECRET: &str = "change-feed-test-operator-secret-32-bytes";

on_both_backends!(sixty_four_http_writers_replay_to_what_scim_shows);

/// A SCIM client of tenant acme that fails the test on any unexpected status.
#[derive(Clone)]
struct Writer {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Writer {
    async fn send(&self, method: Method, path: &str, body: Option<Value>, expected: u16) -> Value {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        assert_eq!(status, expected, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true})
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members})
}

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// One client's share of the mix; `everyone` is the group all clients change at once.
async fn write_mix(w: Writer, n: usize, everyone: String) {
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let me = id(&w
        .send(Method::POST, "/Users", Some(user(&format!("u{n}"))), 201)
        .await);
    match n % 3 {
        0 => {
            let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
            w.send(Method::PATCH, &format!("/Users/{me}"), Some(off), 200)
                .await;
        }
        1 => {
            let mut renamed = user(&format!("u{n}"));
            renamed["displayName"] = json!(format!("User {n}"));
            w.send(Method::PUT, &format!("/Users/{me}"), Some(renamed), 200)
                .await;
        }
        _ => {}
    }
    let own = id(&w
        .send(
            Method::POST,
            "/Groups",
            Some(group(&format!("g{n}"), &[&me])),
            201,
        )
        .await);
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": me}]}]));
    w.send(Method::PATCH, &format!("/Groups/{everyone}"), Some(add), 204)
        .await;
    if n % 4 == 0 {
        let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{me}\"]")}]));
        w.send(Method::PATCH, &format!("/Groups/{everyone}"), Some(remove), 204)
            .await;
    }
    if n % 6 == 0 {
        // PUT with a member list that keeps nobody, then one that keeps the same list: no deltas.
        for _ in 0..2 {
            let emptied = group(&format!("g{n}"), &[]);
            w.send(Method::PUT, &format!("/Groups/{own}"), Some(emptied), 200)
                .await;
        }
    }
    if n % 8 == 0 {
        let bulk = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": user(&format!("bulk{n}"))},
                {"method": "PATCH", "path": format!("/Groups/{everyone}"),
                 "data": patch(json!([{"op": "add", "path": "members", "value": [{"value": "bulkId:b"}]}]))},
                {"method": "DELETE", "path": format!("/Groups/{own}")}
            ]
        });
        let result = w.send(Method::POST, "/Bulk", Some(bulk), 200).await;
        for op in result["Operations"].as_array().unwrap() {
            assert!(op["status"].as_str().unwrap().starts_with('2'), "{result}");
        }
    }
    if n % 5 == 0 {
        // Deleted while a member of two groups: the memberships go with it.
        w.send(Method::DELETE, &format!("/Users/{me}"), None, 204).await;
    }
}

/// What SCIM shows for the tenant, in the replica's terms.
async fn scim_state(w: &Writer) -> FeedReplica {
    let mut state = FeedReplica::default();
    for endpoint in ["Users", "Groups"] {
        let list = w
            .send(Method::GET, &format!("/{endpoint}?count=1000"), None, 200)
            .await;
        for resource in list["Resources"].as_array().unwrap() {
            let mut doc = resource.clone();
            let object = doc.as_object_mut().unwrap();
            let id = object["id"].as_str().unwrap().to_owned();
            for member in object
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let member = member["value"].as_str().unwrap().to_owned();
                state.memberships.insert((id.clone(), member));
            }
            for computed in ["id", "meta", "members", "groups"] {
                object.remove(computed);
            }
            match endpoint {
                "Users" => state.users.insert(id, doc),
                _ => state.groups.insert(id, doc),
            };
        }
    }
    state
}

/// Replays the tenant's whole feed through the events API, checking sequences have no gaps.
async fn replay(client: &reqwest::Client, admin: &str) -> FeedReplica {
    let claims = json!({"iss": "https://idp.test", "aud": "token-admin", "sub": "feed-test",
        "role": "scim-admin", "exp": chrono::Utc::now().timestamp() + 300});
    let operator = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(OPERATOR_SECRET.as_bytes()),
    )
    .unwrap();
    let mut replica = FeedReplica::default();
    let mut cursor: Option<String> = None;
    let mut sequence = 0;
    loop {
        let after = cursor
            .as_deref()
            .map(|c| format!("&after={c}"))
            .unwrap_or_default();
        let page: Value = client
            .get(format!("{admin}/admin/v1/tenants/acme/events?limit=250{after}"))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for event in page["data"].as_array().unwrap() {
            sequence += 1;
            assert_eq!(event["sequence"], sequence, "gap before {event}");
            replica
                .apply(
                    event["type"].as_str().unwrap(),
                    event["resourceId"].as_str().unwrap(),
                    &event["data"],
                )
                .unwrap();
        }
        cursor = Some(page["nextCursor"].as_str().unwrap().to_owned());
        if page["hasMore"] == false {
            return replica;
        }
    }
}

async fn sixty_four_http_writers_replay_to_what_scim_shows(app: TestApp) {
    let settings = service::Settings {
        database_url: SecretString::from(app.db.url().to_owned()),
        admin_listen: "127.0.0.1:0".to_owned(),
        admin_jwt_hs256_secret: Some(SecretString::from(OPERATOR_SECRET)),
        admin_jwt_issuer: Some("https://idp.test".to_owned()),
        admin_jwt_audience: Some("token-admin".to_owned()),
        ..test_settings()
    };
    let admin = token_admin::Application::build(settings).await.unwrap();
    let admin_address = format!("http://127.0.0.1:{}", admin.port());
    actix_web::rt::spawn(admin.run_until_stopped());

    let writer = Writer {
        client: app.client.clone(),
        base: app.url(""),
        token: app.token.clone(),
    };
    let everyone = app.create_group("everyone").await;
    let tasks: Vec<_> = (0..64)
        .map(|n| actix_web::rt::spawn(write_mix(writer.clone(), n, everyone.clone())))
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let expected = scim_state(&writer).await;
    assert!(
        expected.users.len() > 50 && expected.memberships.len() > 50,
        "{expected:?}"
    );
    // The sequencer positions events right after each commit; give it a moment on a loaded machine.
    let mut replica = replay(&app.client, &admin_address).await;
    for _ in 0..50 {
        if replica == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        replica = replay(&app.client, &admin_address).await;
    }
    assert_eq!(replica.users, expected.users);
    assert_eq!(replica.groups, expected.groups);
    assert_eq!(replica.memberships, expected.memberships);
}
