//! Migrations apply from empty, revert completely and apply again on both backends; the hand-written
//! schema matches what they create (drift test).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use scim_core::ResourceKind;
use serde_json::json;
use storage::schema::{
    events, group_members, portal_links, portal_sessions, resource_emails, resources, scim_request_log,
    scim_tokens, tenants, webhook_deliveries, webhook_endpoint_event_types, webhook_endpoint_tenants,
    webhook_endpoints,
};
use storage::{Expand, NewToken, ResourceQuery, TokenScope};

use crate::common::*;

type ResourceTuple = (
    String,
    String,
    String,
    i64,
    NaiveDateTime,
    NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

type TokenTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    String,
);

type EventTuple = (
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
    Option<i64>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

type WebhookEndpointTuple = (
    String,
    String,
    Option<String>,
    bool,
    bool,
    bool,
    Option<String>,
    String,
    Option<String>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    NaiveDateTime,
    NaiveDateTime,
);

type DeliveryTuple = (
    i64,
    String,
    i64,
    String,
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

storage::backend_tests!(migrations_go_up_down_and_up_again, |db| {
    assert_eq!(db.pending_migrations().unwrap(), 0);
    db.revert_all_migrations().unwrap();
    assert!(db.pending_migrations().unwrap() > 0);
    db.run_migrations().unwrap();
    assert_eq!(db.pending_migrations().unwrap(), 0);
    let t = tenant(&db, "acme");
    create_user(&db, &t, "alice");
});

// The newest migration indexes every email: data written before it (here: after reverting it) is
// backfilled, any address at any position is then found, and reverting keeps the documents.
storage::backend_tests!(every_email_of_existing_users_is_indexed_by_the_migration, |db| {
    let t = tenant(&db, "acme");
    let doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bob",
        "emails": [{"type": "work", "value": "Bob@Example.com", "primary": true},
                   {"type": "Work", "value": "Bob.Jones@Corp.example"},
                   {"value": "b@untyped.example"}, {"type": "home"}]
    });
    let bob = db
        .create_resource(&ctx(&t), ResourceKind::User, doc, None)
        .unwrap();
    let lookup = |filter: &str| -> Vec<String> {
        let reg = scim_core::schema::SchemaRegistry::core();
        let parsed = scim_core::filter::parse(filter).unwrap();
        let query = ResourceQuery {
            filter: Some(scim_core::filter::resolve(&parsed, &reg, ResourceKind::User).unwrap()),
            count: 10,
            ..ResourceQuery::default()
        };
        db.query_resources(&t, ResourceKind::User, &query)
            .unwrap()
            .resources
            .into_iter()
            .map(|r| r.id.as_str().to_owned())
            .collect()
    };
    let second = r#"emails[type eq "work" and value eq "bob.jones@corp.example"]"#;
    db.revert_last_migration().unwrap();
    db.run_migrations().unwrap();
    assert_eq!(lookup(second), [bob.id.as_str()]);
    assert_eq!(
        lookup(r#"emails.value eq "B@UNTYPED.example""#),
        [bob.id.as_str()]
    );
    assert!(lookup(r#"emails[type eq "home" and value eq "bob@example.com"]"#).is_empty());
    db.revert_last_migration().unwrap();
    db.run_migrations().unwrap();
    assert_eq!(lookup(second), [bob.id.as_str()]);
});

storage::backend_tests!(schema_rs_matches_every_column_of_every_table, |db| {
    let t = tenant(&db, "acme");
    db.insert_token(
        &t,
        &NewToken {
            id: "tok".into(),
            token_hash: credentials::HashedToken::from_stored("ab".repeat(32)),
            prefix: "scim_ab".into(),
            label: Some("l".into()),
            expires_at: Some(t0()),
            scope: TokenScope::Read,
        },
    )
    .unwrap();
    db.record_token_use(&[("tok".into(), t0())]).unwrap();
    db.revoke_token(&t, "tok", t0()).unwrap();
    db.create_webhook(
        &storage::webhooks::NewWebhookEndpoint {
            id: "hook".into(),
            url: "https://hooks.example".into(),
            description: Some("d".into()),
            tenants: Some(vec![t.clone()]),
            event_types: Some(vec!["user.created".into()]),
            secret: "whsec_x".into(),
        },
        t0(),
    )
    .unwrap();
    db.rotate_webhook_secret("hook", "whsec_y", Some(t0()), t0())
        .unwrap();
    let u = create_user(&db, &t, "alice");
    let g = create_group(&db, &t, "ops");
    db.modify_resource(&ctx(&t), ResourceKind::Group, &g.id, None, |_| {
        Ok(vec![scim_core::patch::MemberOp::Add(vec![member(&u.id)])])
    })
    .unwrap();
    db.get_resource(&t, ResourceKind::Group, &g.id, Expand::ALL)
        .unwrap();
    let code = credentials::HashedToken::from_stored("cd".repeat(32));
    db.create_portal_link(&storage::portal::NewPortalLink {
        code_hash: code.clone(),
        scope: storage::portal::PortalScope::Tenant(t.clone()),
        created_by: "alice".into(),
        created_at: t0(),
        expires_at: t0() + chrono::Duration::days(36500),
    })
    .unwrap();
    let session = storage::portal::NewPortalSession {
        id_hash: credentials::HashedToken::from_stored("ef".repeat(32)),
        created_at: t0(),
        expires_at: t0() + chrono::Duration::days(36500),
    };
    assert!(db.redeem_portal_link(&code, &session, t0()).unwrap().is_some());
    db.record_scim_requests(
        &[storage::portal::NewRequestLogEntry {
            tenant: t.clone(),
            occurred_at: t0(),
            request_id: Some("r".into()),
            method: "GET".into(),
            path: "/scim/v2/acme/Users".into(),
            status: 400,
            scim_type: Some("invalidFilter".into()),
            detail: Some("d".into()),
            probe: true,
        }],
        10,
    )
    .unwrap();

    let mut conn = diesel::Connection::establish(db.url())
        .map(|c: storage::DbConnection| c)
        .unwrap();
    let _: Vec<(String, String, String, NaiveDateTime, NaiveDateTime)> = tenants::table
        .select(tenants::all_columns)
        .load(&mut conn)
        .unwrap();
    let tokens: Vec<TokenTuple> = scim_tokens::table
        .select(scim_tokens::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].8.is_some() && tokens[0].7.is_some());
    assert_eq!(tokens[0].9, "read");
    let rows: Vec<ResourceTuple> = resources::table
        .select(resources::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 2);
    let emails: Vec<(String, String, i32, Option<String>, String)> = resource_emails::table
        .select(resource_emails::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(emails.len(), 1);
    let members: Vec<(String, String, String, String)> = group_members::table
        .select(group_members::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(members.len(), 1);
    let evs: Vec<EventTuple> = events::table
        .select(events::all_columns)
        .order(events::id.asc())
        .load(&mut conn)
        .unwrap();
    assert_eq!(evs.len(), 3);
    assert!(evs[0].0 < evs[2].0);

    while db.sequence_events().unwrap() > 0 {}
    let endpoints: Vec<WebhookEndpointTuple> = webhook_endpoints::table
        .select(webhook_endpoints::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(endpoints.len(), 1);
    let _: Vec<(String, String)> = webhook_endpoint_tenants::table
        .select(webhook_endpoint_tenants::all_columns)
        .load(&mut conn)
        .unwrap();
    let _: Vec<(String, String)> = webhook_endpoint_event_types::table
        .select(webhook_endpoint_event_types::all_columns)
        .load(&mut conn)
        .unwrap();
    let deliveries: Vec<DeliveryTuple> = webhook_deliveries::table
        .select(webhook_deliveries::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    type LinkTuple = (
        String,
        String,
        Option<String>,
        String,
        NaiveDateTime,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let links: Vec<LinkTuple> = portal_links::table
        .select(portal_links::all_columns)
        .load(&mut conn)
        .unwrap();
    assert!(links[0].6.is_some());
    type SessionTuple = (
        String,
        String,
        Option<String>,
        NaiveDateTime,
        NaiveDateTime,
        NaiveDateTime,
    );
    let sessions: Vec<SessionTuple> = portal_sessions::table
        .select(portal_sessions::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(sessions.len(), 1);
    type RequestTuple = (
        i64,
        String,
        NaiveDateTime,
        Option<String>,
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
        bool,
    );
    let requests: Vec<RequestTuple> = scim_request_log::table
        .select(scim_request_log::all_columns)
        .load(&mut conn)
        .unwrap();
    assert_eq!(requests.len(), 1);
});
