//! Concurrency: many clients mixing creates, PATCHes and deletes for a bounded time, then the stored
//! state must equal what the acknowledged responses imply, with no lost and no phantom writes.
//!
//! Strategy: every user belongs to the one client task that created it, and that task is the only one
//! that changes or deletes it, so the expected final state of each user (alive, title, groups) follows
//! from the task's own acknowledged responses in order. Groups are shared: all tasks add and remove their
//! users in the same few groups at once, which is where a lost update would show (a member missing or
//! left behind). A request that gets no definite answer (a 5xx or a transport error) makes that user's
//! outcome unknown; such users are left out of the exact checks and counted, and the test requires
//! there to be none.
//!
//! `SCIM_CONCURRENCY_SECONDS` (default 5) and `SCIM_CONCURRENCY_CLIENTS` (default 32) scale the run;
//! `scripts/crash-test.sh` has the long, process-killing variant.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, json, test_settings};

const GROUPS: usize = 4;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A tiny deterministic generator (xorshift64*), so a failing run can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// What one task's acknowledged responses say about one of its users.
#[derive(Debug, Clone, Default)]
struct Expected {
    alive: bool,
    title: Option<String>,
    groups: BTreeSet<String>,
    /// A request on this user got no definite answer.
    unknown: bool,
}

#[derive(Debug, Default)]
struct TaskReport {
    users: BTreeMap<String, Expected>,
    acknowledged: BTreeMap<&'static str, u64>,
    statuses: BTreeMap<u16, u64>,
    undefined: u64,
}

fn patch_body(operations: Value) -> String {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
        .to_string()
}

async fn client_task(
    app: Arc<TestApp>,
    groups: Arc<Vec<String>>,
    task: usize,
    deadline: Instant,
) -> TaskReport {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (task as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1));
    let mut report = TaskReport::default();
    let mut sequence = 0u64;
    while Instant::now() < deadline {
        sequence += 1;
        let alive: Vec<String> = report
            .users
            .iter()
            .filter(|(_, e)| e.alive && !e.unknown)
            .map(|(id, _)| id.clone())
            .collect();
        let choice = if alive.is_empty() { 0 } else { rng.below(10) };
        let target = (!alive.is_empty()).then(|| alive[rng.below(alive.len())].clone());
        let group = groups[rng.below(groups.len())].clone();
        // (kind, method, path, body, expected status)
        let (kind, method, path, body, ok_status) = match (choice, &target) {
            (0 | 1, _) | (_, None) => (
                "create user",
                reqwest::Method::POST,
                "/Users".to_owned(),
                json!({"userName": format!("u{task}-{sequence}"), "title": format!("t{sequence}")})
                    .to_string(),
                201,
            ),
            (2 | 3, Some(user)) => (
                "patch title",
                reqwest::Method::PATCH,
                format!("/Users/{user}"),
                patch_body(json!([{"op": "replace", "path": "title", "value": format!("t{sequence}")}])),
                200,
            ),
            (4..=6, Some(user)) => (
                "add member",
                reqwest::Method::PATCH,
                format!("/Groups/{group}"),
                patch_body(json!([{"op": "add", "path": "members", "value": [{"value": user}]}])),
                204,
            ),
            (7 | 8, Some(user)) => (
                "remove member",
                reqwest::Method::PATCH,
                format!("/Groups/{group}"),
                patch_body(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}])),
                204,
            ),
            (_, Some(user)) => (
                "delete user",
                reqwest::Method::DELETE,
                format!("/Users/{user}"),
                String::new(),
                204,
            ),
        };
        let mut request = app.request(method, &path).timeout(Duration::from_secs(60));
        if !body.is_empty() {
            request = request.header("content-type", "application/scim+json").body(body);
        }
        let outcome = request.send().await;
        let (status, answer) = match outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.bytes().await.ok())
            }
            Err(_) => (0, None),
        };
        *report.statuses.entry(status).or_default() += 1;
        if status != ok_status {
            // A definite 4xx changes nothing; anything else leaves the outcome open.
            if !(400..500).contains(&status) {
                report.undefined += 1;
                if let Some(user) = &target {
                    report.users.entry(user.clone()).or_default().unknown = true;
                }
            }
            continue;
        }
        *report.acknowledged.entry(kind).or_default() += 1;
        match kind {
            "create user" => {
                let created: Value = serde_json::from_slice(&answer.unwrap_or_default()).unwrap();
                let id = created["id"].as_str().unwrap().to_owned();
                report.users.insert(
                    id,
                    Expected {
                        alive: true,
                        title: Some(format!("t{sequence}")),
                        ..Expected::default()
                    },
                );
            }
            "patch title" => {
                let entry = report.users.get_mut(target.as_ref().unwrap()).unwrap();
                entry.title = Some(format!("t{sequence}"));
            }
            "add member" => {
                let entry = report.users.get_mut(target.as_ref().unwrap()).unwrap();
                entry.groups.insert(group);
            }
            "remove member" => {
                let entry = report.users.get_mut(target.as_ref().unwrap()).unwrap();
                entry.groups.remove(&group);
            }
            _ => {
                let entry = report.users.get_mut(target.as_ref().unwrap()).unwrap();
                entry.alive = false;
                entry.groups.clear();
            }
        }
    }
    report
}

/// All resources of one type, page by page.
async fn list_all(app: &TestApp, kind: &str, extra: &str) -> Vec<Value> {
    let mut resources = Vec::new();
    let mut start = 1;
    loop {
        let page = json(
            app.get(&format!("/{kind}?startIndex={start}&count=500{extra}"))
                .await,
        )
        .await;
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        let total = page["totalResults"].as_u64().unwrap();
        start += items.len();
        let done = items.is_empty() || start as u64 > total;
        resources.extend(items);
        if done {
            return resources;
        }
    }
}

async fn concurrent_clients_lose_no_acknowledged_write(app: TestApp) {
    let seconds = env_number("SCIM_CONCURRENCY_SECONDS", 5);
    let clients = env_number("SCIM_CONCURRENCY_CLIENTS", 32) as usize;
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        groups.push(app.create_group(&format!("shared-{g}")).await);
    }
    let app = Arc::new(app);
    let groups = Arc::new(groups);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|task| actix_web::rt::spawn(client_task(app.clone(), groups.clone(), task, deadline)))
        .collect();
    let mut reports = Vec::new();
    for handle in handles {
        reports.push(handle.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    let mut acknowledged: BTreeMap<&str, u64> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut undefined = 0;
    for report in reports {
        expected.extend(report.users);
        for (k, v) in report.acknowledged {
            *acknowledged.entry(k).or_default() += v;
        }
        for (k, v) in report.statuses {
            *statuses.entry(k).or_default() += v;
        }
        undefined += report.undefined;
    }
    let requests: u64 = statuses.values().sum();
    eprintln!(
        "concurrency ({:?}): {clients} clients for {elapsed:.1}s, {requests} requests ({:.0}/s), acknowledged {acknowledged:?}, statuses {statuses:?}",
        app.db.backend(),
        requests as f64 / elapsed
    );
    assert_eq!(undefined, 0, "requests without a definite answer: {statuses:?}");
    assert!(acknowledged.get("create user").copied().unwrap_or(0) >= clients as u64);

    // Users: exactly the acknowledged live ones, with their last acknowledged title and groups.
    let stored: BTreeMap<String, Value> = list_all(&app, "Users", "")
        .await
        .into_iter()
        .map(|u| (u["id"].as_str().unwrap().to_owned(), u))
        .collect();
    let alive: BTreeSet<&String> = expected
        .iter()
        .filter(|(_, e)| e.alive)
        .map(|(id, _)| id)
        .collect();
    let stored_ids: BTreeSet<&String> = stored.keys().collect();
    assert_eq!(stored_ids, alive, "lost or phantom users");
    let mut expected_members: BTreeMap<&String, BTreeSet<&String>> =
        groups.iter().map(|g| (g, BTreeSet::new())).collect();
    for (id, e) in expected.iter().filter(|(_, e)| e.alive) {
        let user = &stored[id];
        assert_eq!(
            user["title"].as_str(),
            e.title.as_deref(),
            "lost title update on {id}"
        );
        for group in &e.groups {
            expected_members.get_mut(group).unwrap().insert(id);
        }
        let user_groups: BTreeSet<String> = user
            .get("groups")
            .and_then(Value::as_array)
            .map(|gs| {
                gs.iter()
                    .map(|g| g["value"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(&user_groups, &e.groups, "groups of {id}");
    }
    for id in expected.iter().filter(|(_, e)| !e.alive).map(|(id, _)| id) {
        assert_eq!(
            app.get(&format!("/Users/{id}")).await.status(),
            404,
            "deleted {id} is back"
        );
    }
    // Groups: exactly the acknowledged members, none lost and none left behind.
    let mut total_members = 0;
    for (group, members) in &expected_members {
        let stored = json(app.get(&format!("/Groups/{group}")).await).await;
        let stored_members: BTreeSet<String> = stored
            .get("members")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .map(|m| m["value"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let expected: BTreeSet<String> = members.iter().map(|m| (*m).clone()).collect();
        assert_eq!(stored_members, expected, "members of {group}");
        total_members += expected.len();
    }
    eprintln!(
        "verified {} live users, {} deleted, {total_members} memberships in {GROUPS} shared groups",
        alive.len(),
        expected.len() - alive.len()
    );
}

async fn racing_creates_of_one_user_name_make_exactly_one_user(app: TestApp) {
    // Twenty clients create the same userName (in different cases) at once: uniqueness is enforced by
    // the database, so exactly one 201 and nineteen 409s.
    let app = Arc::new(app);
    for round in 0..5 {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let app = app.clone();
                actix_web::rt::spawn(async move {
                    let name = if i % 2 == 0 {
                        format!("race-{round}")
                    } else {
                        format!("RACE-{round}")
                    };
                    app.post("/Users", &json!({"userName": name}))
                        .await
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for handle in handles {
            statuses.push(handle.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    }
    assert_eq!(json(app.get("/Users").await).await["totalResults"], 5);
}

async fn concurrent_if_match_writers_have_exactly_one_winner_per_version(app: TestApp) {
    let id = app.create_user("versioned").await;
    let app = Arc::new(app);
    for round in 0..5 {
        let etag = app
            .get(&format!("/Users/{id}"))
            .await
            .headers()
            .get("etag")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (app, id, etag) = (app.clone(), id.clone(), etag.clone());
                actix_web::rt::spawn(async move {
                    app.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
                        .header("content-type", "application/scim+json")
                        .header("if-match", etag)
                        .body(patch_body(
                            json!([{"op": "replace", "path": "title", "value": format!("r{round}-{i}")}]),
                        ))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for handle in handles {
            statuses.push(handle.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 9, "{statuses:?}");
    }
}

/// Like `on_both_backends!`, with the rate limit off (the load here is one tenant's on purpose).
macro_rules! on_both_backends_unlimited {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                fn settings() -> service::Settings {
                    service::Settings { rate_limit_per_second: 0, ..super::test_settings() }
                }

                #[actix_web::test]
                async fn sqlite() {
                    let app = super::TestApp::spawn_with(storage::testing::TestDb::sqlite(), settings()).await;
                    super::$name(app).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(db) = storage::testing::TestDb::postgres() {
                        let app = super::TestApp::spawn_with(db, settings()).await;
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}

on_both_backends_unlimited!(
    concurrent_clients_lose_no_acknowledged_write,
    racing_creates_of_one_user_name_make_exactly_one_user,
    concurrent_if_match_writers_have_exactly_one_winner_per_version,
);

/// Runs SQL on the test's PostgreSQL schema through `psql` (the test crate has no SQL driver of its own).
fn psql(db: &storage::testing::TestDb, sql: &str) -> String {
    let output = std::process::Command::new("psql")
        .args(["-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", db.url(), "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Database faults (a table gone, every connection killed) answer 5xx with a generic SCIM body, in bulk
/// responses too, never database text; and the server recovers by itself once the database is back.
#[actix_web::test]
async fn database_faults_answer_generic_errors_and_the_server_recovers() {
    let Some(db) = storage::testing::TestDb::postgres() else {
        return;
    };
    if std::process::Command::new("psql")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "psql missing");
        return;
    }
    let app = TestApp::spawn(db).await;
    let id = app.create_user("before-fault").await;
    let leaks = |text: &str| {
        let lower = text.to_ascii_lowercase();
        [
            "relation",
            "resources_gone",
            "database",
            "sql",
            "diesel",
            "postgres",
            "connection",
        ]
        .iter()
        .any(|w| lower.contains(w))
    };

    psql(&app.db, "ALTER TABLE resources RENAME TO resources_gone");
    let response = app.get(&format!("/Users/{id}")).await;
    assert_eq!(response.status(), 500);
    let body = json(response).await;
    assert!(!leaks(&body.to_string()), "{body}");
    let response = app.post("/Users", &json!({"userName": "during-fault"})).await;
    assert!(response.status().is_server_error());
    let body = json(response).await;
    assert!(!leaks(&body.to_string()), "{body}");
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk-during-fault"}}]
    });
    let response = app.post("/Bulk", &bulk).await;
    let status = response.status().as_u16();
    let body = json(response).await;
    assert!(!leaks(&body.to_string()), "bulk {status}: {body}");
    psql(&app.db, "ALTER TABLE resources_gone RENAME TO resources");
    assert_eq!(app.get(&format!("/Users/{id}")).await.status(), 200);

    // Every connection of a pool dies. Only connections this test opened may be killed (other tests
    // share the server), so a second server on the same schema gets its own pool, tagged with a unique
    // application_name. Reads are run again on a fresh connection when theirs was closed, and other
    // checkouts test the connection first, so the server answers the very next request without a restart.
    let tag = format!("scim_fault_{}", uuid::Uuid::new_v4().simple());
    let tagged = storage::Storage::connect(&format!("{}&application_name={tag}", app.db.url()), 4).unwrap();
    let second =
        scim_api::Application::build_with(&test_settings(), tagged, service::Clock::system()).unwrap();
    let second_url = format!("http://127.0.0.1:{}/scim/v2/{}", second.port(), app.tenant);
    actix_web::rt::spawn(second.run_until_stopped());
    let get = || {
        app.client
            .get(format!("{second_url}/Users/{id}"))
            .bearer_auth(&app.token)
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    let kill_all = || {
        psql(
            &app.db,
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{tag}'"
            ),
        )
    };
    let killed = kill_all();
    assert!(
        killed.parse::<u32>().unwrap() >= 1,
        "no connection killed: {killed}"
    );
    let mut failures = 0;
    let mut recovered = false;
    for _ in 0..40 {
        let response = get().await.unwrap();
        if response.status() == 200 {
            recovered = true;
            break;
        }
        assert!(response.status().is_server_error(), "{}", response.status());
        let body = json(response).await;
        assert!(!leaks(&body.to_string()), "{body}");
        failures += 1;
    }
    assert!(recovered, "still failing after {failures} requests");
    assert_eq!(
        failures, 0,
        "reads failed after all {killed} pooled connections were killed"
    );
    // A write on a killed connection fails at BEGIN, before it changed anything, and moves to another.
    let killed = kill_all();
    assert!(
        killed.parse::<u32>().unwrap() >= 1,
        "no connection killed: {killed}"
    );
    let created = app
        .client
        .post(format!("{second_url}/Users"))
        .bearer_auth(&app.token)
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "after-kill"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        201,
        "a write after all pooled connections were killed"
    );
    assert_eq!(json(app.get("/Users").await).await["totalResults"], 2);
}
