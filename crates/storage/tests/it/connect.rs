//! Connecting: URL schemes, real causes of failures, SQLite pragmas, pool state, events.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use scim_core::ResourceKind;
use storage::open::{OpenError, OpenOptions};
use storage::schema::events;
use storage::{Backend, DbConnection, Storage, StorageError};

use crate::common::*;

#[test]
fn unknown_scheme_is_a_config_error_naming_it() {
    let err = Storage::connect("mysql://root@127.0.0.1/scim", 2).unwrap_err();
    match err {
        StorageError::Config(msg) => assert!(msg.contains("mysql"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refused_postgres_reports_the_real_cause() {
    let err = Storage::connect("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2", 2).unwrap_err();
    match err {
        StorageError::Unavailable(msg) => assert!(msg.to_lowercase().contains("refused"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sqlite_file_and_directory_are_created_for_plain_paths_and_file_urls() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a/b/plain.db");
    let storage = Storage::connect(plain.to_str().unwrap(), 2).unwrap();
    assert_eq!(storage.backend(), Backend::Sqlite);
    storage.run_migrations().unwrap();
    storage.ping().unwrap();
    assert!(plain.exists());
    let uri = dir.path().join("c/uri.db");
    let storage = Storage::connect(&format!("file:{}", uri.display()), 2).unwrap();
    storage.ping().unwrap();
    assert!(uri.exists());
}

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[test]
fn sqlite_database_is_in_wal_mode() {
    // foreign_keys = ON on pooled connections is proven by the cascade tests in `members.rs` (SQLite only
    // cascades with it on); WAL is a property of the file, visible from any connection.
    let db = storage::testing::TestDb::sqlite();
    let mut conn = DbConnection::establish(db.url()).unwrap();
    let mode: Vec<Pragma> = diesel::sql_query("SELECT journal_mode AS value FROM pragma_journal_mode")
        .load(&mut conn)
        .unwrap();
    assert_eq!(mode[0].value, "wal");
}

storage::backend_tests!(every_write_appends_an_event, |db| {
    let t = tenant(&db, "acme");
    let u = create_user(&db, &t, "alice");
    // A PUT (as scim-api does it: the whole document through modify_resource) that changes something.
    let mut changed = user_doc("alice");
    changed["displayName"] = serde_json::json!("Alice");
    replace(&db, &ctx(&t), ResourceKind::User, &u.id, None, changed, None).unwrap();
    db.modify_resource(&ctx(&t), ResourceKind::User, &u.id, None, |doc| {
        doc["active"] = serde_json::json!(false);
        Ok(vec![])
    })
    .unwrap();
    // A no-op PATCH writes nothing.
    db.modify_resource(&ctx(&t), ResourceKind::User, &u.id, None, |_| Ok(vec![]))
        .unwrap();
    db.delete_resource(&ctx(&t), ResourceKind::User, &u.id, None)
        .unwrap();
    let mut conn = DbConnection::establish(db.url()).unwrap();
    let ops: Vec<(String, Option<i64>)> = events::table
        .select((events::event_type, events::version))
        .order(events::id.asc())
        .load(&mut conn)
        .unwrap();
    let ops: Vec<(&str, i64)> = ops.iter().map(|(o, v)| (o.as_str(), v.unwrap())).collect();
    assert_eq!(
        ops,
        [
            ("user.created", 1),
            ("user.updated", 2),
            ("user.updated", 3),
            ("user.deleted", 3)
        ]
    );
    let n: Vec<Count> = diesel::sql_query("SELECT COUNT(*) AS n FROM events WHERE actor_token_id = 'tok-1'")
        .load(&mut conn)
        .unwrap();
    assert_eq!(n[0].n, 4);
});

storage::backend_tests!(ping_and_pool_state_work, |db| {
    db.ping().unwrap();
    let state = db.pool_state();
    assert!(
        state.connections >= 1 && state.idle <= state.connections,
        "{state:?}"
    );
    assert_eq!(db.pending_migrations().unwrap(), 0);
});

fn open_options(create_missing: bool, apply_migrations: bool) -> OpenOptions {
    OpenOptions {
        pool_size: 2,
        create_missing,
        apply_migrations,
        tuning: storage::ConnectionTuning::default(),
    }
}

#[test]
fn open_refuses_a_missing_sqlite_file_naming_it_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("scim.db");
    let err = Storage::open(&format!("sqlite://{}", path.display()), open_options(false, true)).unwrap_err();
    assert!(matches!(&err, OpenError::MissingFile(p) if *p == path), "{err:?}");
    let message = err.to_string();
    for part in [
        path.to_str().unwrap(),
        "SCIM_DATABASE_URL",
        "--config",
        "token-admin migrate",
    ] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
    assert!(!dir.path().join("data").exists(), "nothing is created");
}

#[test]
fn open_creates_and_migrates_a_new_sqlite_file_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("scim.db");
    let url = format!("sqlite://{}", path.display());
    let opened = Storage::open(&url, open_options(true, true)).unwrap();
    assert!(path.exists());
    assert!(opened.migrations_applied > 0);
    assert_eq!(opened.location.sqlite_file(), Some(path.as_path()));
    drop(opened);
    let again = Storage::open(&url, open_options(false, false)).unwrap();
    assert_eq!(again.migrations_applied, 0);
}

#[test]
fn open_refuses_host_like_urls_before_touching_anything() {
    let err = Storage::open("127.0.0.1:5432/scim", open_options(true, true)).unwrap_err();
    assert!(matches!(err, OpenError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("postgres://"), "{err}");
}

storage::backend_tests!(open_refuses_pending_migrations_naming_token_admin_migrate, |db| {
    db.revert_all_migrations().unwrap();
    let err = Storage::open(db.url(), open_options(false, false)).unwrap_err();
    let OpenError::MigrationsPending { pending, location } = &err else {
        panic!("{err:?}");
    };
    assert!(*pending > 0);
    assert_eq!(location.backend(), db.backend());
    let message = err.to_string();
    assert!(
        message.contains("token-admin migrate") && message.contains("run_migrations"),
        "{message}"
    );
    let expected = *pending;
    let opened = Storage::open(db.url(), open_options(false, true)).unwrap();
    assert_eq!(opened.migrations_applied, expected);
});

storage::backend_tests!(open_describes_the_database_without_credentials, |db| {
    let opened = Storage::open(db.url(), open_options(false, false)).unwrap();
    let shown = opened.location.to_string();
    match db.backend() {
        Backend::Sqlite => assert!(std::path::Path::new(&shown).is_absolute(), "{shown}"),
        Backend::Postgres => {
            assert!(shown.starts_with("127.0.0.1:5432/"), "{shown}");
            assert!(
                !shown.contains("postgres@") && !shown.contains("search_path"),
                "{shown}"
            );
        }
    }
});
