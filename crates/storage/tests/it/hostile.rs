//! Hostile values: NUL characters, huge strings, huge arrays, SQL metacharacters.

use scim_core::filter::{Comparison, OrderingOp, ResolvedFilter, ResolvedPath, TextOp, parse, resolve};
use scim_core::schema::{AttributeType, SchemaRegistry, USER_SCHEMA};
use scim_core::{ResourceKind, ScimError};
use serde_json::json;
use storage::{Expand, ResourceQuery, StorageError};

use crate::common::*;

storage::backend_tests!(nul_characters_are_refused_without_a_partial_write, |db| {
    let t = tenant(&db, "acme");
    for doc in [
        json!({"userName": "nul\u{0}user"}),
        json!({"userName": "ok", "nickName": "a\u{0}b"}),
        json!({"userName": "ok", "emails": [{"value": "x@y", "type": "w\u{0}rk"}]}),
        json!({"userName": "ok", "urn:x:Ext": {"k\u{0}ey": 1}}),
    ] {
        let err = db
            .create_resource(&ctx(&t), ResourceKind::User, doc, None)
            .unwrap_err();
        assert!(
            matches!(err, StorageError::Scim(ScimError::InvalidValue(_))),
            "{err:?}"
        );
    }
    let u = create_user(&db, &t, "alice");
    let err = db
        .modify_resource(&ctx(&t), ResourceKind::User, &u.id, None, |doc| {
            doc["displayName"] = json!("x\u{0}");
            Ok(vec![])
        })
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Scim(ScimError::InvalidValue(_))),
        "{err:?}"
    );
    let page = db
        .query_resources(&t, ResourceKind::User, &ResourceQuery::default())
        .unwrap();
    assert_eq!(page.total_results, Some(1));
    assert_eq!(page.resources[0].version, 1);
    // In a filter value: invalidFilter, not a database error.
    let filter = ResolvedFilter::Compare {
        path: ResolvedPath {
            schema: USER_SCHEMA.into(),
            is_core: true,
            attr: "userName".into(),
            sub: None,
            attr_type: AttributeType::String,
            case_exact: false,
            multi_valued: false,
        },
        comparison: Comparison::Text {
            op: TextOp::Ordering(OrderingOp::Eq),
            value: "a\u{0}".into(),
        },
    };
    let err = db
        .query_resources(
            &t,
            ResourceKind::User,
            &ResourceQuery {
                filter: Some(filter),
                ..ResourceQuery::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Scim(ScimError::InvalidFilter(_))),
        "{err:?}"
    );
    // In tenant and token metadata.
    assert!(matches!(
        db.update_tenant(&t, Some("a\u{0}"), None),
        Err(StorageError::Scim(ScimError::InvalidValue(_)))
    ));
});

storage::backend_tests!(
    a_one_megabyte_value_round_trips_and_an_over_long_user_name_is_refused,
    |db| {
        let t = tenant(&db, "acme");
        let big = "x".repeat(1 << 20);
        let mut doc = user_doc("big");
        doc["nickName"] = json!(big);
        let u = db
            .create_resource(&ctx(&t), ResourceKind::User, doc.clone(), None)
            .unwrap();
        let got = db
            .get_resource(&t, ResourceKind::User, &u.id, Expand::NONE)
            .unwrap();
        assert_eq!(got.doc, doc);
        let err = db
            .create_resource(&ctx(&t), ResourceKind::User, user_doc(&big), None)
            .unwrap_err();
        assert!(
            matches!(err, StorageError::Scim(ScimError::InvalidValue(_))),
            "{err:?}"
        );
        let mut doc = group_doc("g");
        doc["displayName"] = json!("é".repeat(600));
        let err = db
            .create_resource(&ctx(&t), ResourceKind::Group, doc, None)
            .unwrap_err();
        assert!(
            matches!(err, StorageError::Scim(ScimError::InvalidValue(_))),
            "{err:?}"
        );
    }
);

storage::backend_tests!(ten_thousand_emails_are_stored_and_filterable, |db| {
    let t = tenant(&db, "acme");
    let emails: Vec<_> = (0..10_000)
        .map(|n| json!({"type": if n == 0 { "work" } else { "other" }, "value": format!("u{n}@example.com")}))
        .collect();
    let mut doc = user_doc("many");
    doc["emails"] = json!(emails);
    let u = db
        .create_resource(&ctx(&t), ResourceKind::User, doc, None)
        .unwrap();
    create_user(&db, &t, "few");
    let got = db
        .get_resource(&t, ResourceKind::User, &u.id, Expand::NONE)
        .unwrap();
    assert_eq!(got.doc["emails"].as_array().unwrap().len(), 10_000);
    let reg = SchemaRegistry::core();
    for (text, want) in [
        (r#"emails.value eq "u9999@example.com""#, 1),
        (r#"emails[type eq "work"].value eq "U0@example.com""#, 1),
        (r#"emails.value ew "@example.com""#, 2),
    ] {
        let filter = resolve(&parse(text).unwrap(), &reg, ResourceKind::User).unwrap();
        let page = db
            .query_resources(
                &t,
                ResourceKind::User,
                &ResourceQuery {
                    filter: Some(filter),
                    ..ResourceQuery::default()
                },
            )
            .unwrap();
        assert_eq!(page.total_results, Some(want), "{text}");
    }
});

storage::backend_tests!(sql_metacharacters_are_data, |db| {
    let t = tenant(&db, "acme");
    let nasty = r#"Robert'); DROP TABLE resources;-- "\ %_ $1 ?"#;
    let u = create_user(&db, &t, nasty);
    let reg = SchemaRegistry::core();
    let text = format!("userName eq {}", serde_json::to_string(nasty).unwrap());
    let filter = resolve(&parse(&text).unwrap(), &reg, ResourceKind::User).unwrap();
    let page = db
        .query_resources(
            &t,
            ResourceKind::User,
            &ResourceQuery {
                filter: Some(filter),
                ..ResourceQuery::default()
            },
        )
        .unwrap();
    assert_eq!(page.resources.len(), 1);
    assert_eq!(page.resources[0].id, u.id);
    assert_eq!(page.resources[0].doc["userName"], nasty);
});
