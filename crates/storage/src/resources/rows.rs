//! The `resources` row and the steps every resource write shares: normalising the caller's document,
//! reading and locking the row, checking `expected_version`, and turning rows
//! into [`StoredResource`]s and database errors into SCIM ones.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Text;
use scim_core::{ResourceId, ResourceKind, ScimError, TenantId};
use serde_json::{Map, Value};

use crate::connection::{DbConnection, Dialect};
use crate::error::{Cause, StorageError, Violation};
use crate::nul_checks::reject_nul;
use crate::schema::resources;
use crate::shadow_columns::ShadowColumns;
use crate::sql::SqlFrag;
use crate::tenants::tenant_not_found;
use crate::{StoredResource, from_db_time};

/// Document keys storage owns or computes; removed from a document before it is stored.
const SERVER_KEYS: [&str; 4] = ["id", "meta", "members", "groups"];

/// Every column of `resources`, for inserts and the locking read.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName, Insertable)]
#[diesel(table_name = resources)]
pub(crate) struct ResourceRow {
    pub tenant_id: String,
    pub id: String,
    pub resource_type: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub last_modified: NaiveDateTime,
    pub document: String,
    #[diesel(embed)]
    pub shadow: ShadowColumns,
}

impl ResourceRow {
    /// The row of a new resource: a fresh UUID v4 id, version 1, created and last modified `now`.
    pub(crate) fn new(
        tenant: &TenantId,
        kind: ResourceKind,
        doc: &Map<String, Value>,
        shadow: &ShadowColumns,
        now: NaiveDateTime,
    ) -> Result<ResourceRow, StorageError> {
        Ok(ResourceRow {
            tenant_id: tenant.as_str().to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            resource_type: kind.as_str().to_owned(),
            version: 1,
            created_at: now,
            last_modified: now,
            document: doc_text(doc)?,
            shadow: shadow.clone(),
        })
    }
}

/// What reads need to build a [`StoredResource`].
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = resources)]
pub(super) struct ResourceHead {
    pub id: String,
    pub resource_type: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub last_modified: NaiveDateTime,
    pub document: String,
}

/// Checks and normalises a caller's document: an object, no NUL, server-owned keys removed.
pub(crate) fn prepare_doc(doc: Value) -> Result<Map<String, Value>, StorageError> {
    let Value::Object(mut map) = doc else {
        return Err(ScimError::InvalidSyntax("a resource must be a JSON object".to_owned()).into());
    };
    for key in SERVER_KEYS {
        map.remove(key);
    }
    let map_value = Value::Object(map);
    reject_nul(&map_value, "attribute values")?;
    match map_value {
        Value::Object(map) => Ok(map),
        _ => Err(StorageError::Internal("document changed shape".into())),
    }
}

pub(super) fn doc_text(doc: &Map<String, Value>) -> Result<String, StorageError> {
    serde_json::to_string(doc).map_err(|e| StorageError::Internal(Cause::new("cannot serialize document", e)))
}

fn kind_from_db(text: &str) -> Result<ResourceKind, StorageError> {
    match text {
        "User" => Ok(ResourceKind::User),
        "Group" => Ok(ResourceKind::Group),
        other => Err(StorageError::corrupt(format!("resource type {other:?}"))),
    }
}

pub(super) fn not_found(kind: ResourceKind, id: &str) -> StorageError {
    StorageError::NotFound(format!("{} {id} not found", kind.as_str()))
}

/// Words a unique violation on `resources` after the attribute it concerns.
fn uniqueness_error(kind: ResourceKind, shadow: &ShadowColumns, text: &str) -> StorageError {
    if text.contains("user_name") {
        StorageError::Uniqueness(format!(
            "userName {:?} already exists",
            shadow.user_name.as_deref().unwrap_or_default()
        ))
    } else if text.contains("group_name") {
        StorageError::Uniqueness(format!(
            "{} displayName {:?} already exists",
            kind.as_str(),
            shadow.display_name.as_deref().unwrap_or_default()
        ))
    } else {
        StorageError::Uniqueness(format!("the {} already exists", kind.as_str()))
    }
}

pub(super) fn map_write_error(
    kind: ResourceKind,
    shadow: &ShadowColumns,
    tenant: &TenantId,
) -> impl FnOnce(diesel::result::Error) -> StorageError {
    move |e| {
        StorageError::from_diesel_with(e, |violation, text| match violation {
            Violation::Unique => uniqueness_error(kind, shadow, text),
            Violation::ForeignKey => tenant_not_found(tenant),
        })
    }
}

pub(super) fn check_version(
    kind: ResourceKind,
    id: &str,
    current: i64,
    expected: Option<i64>,
) -> Result<(), StorageError> {
    match expected {
        Some(expected) if expected != current => Err(StorageError::PreconditionFailed(format!(
            "{} {id} is at version {current}, not {expected}",
            kind.as_str()
        ))),
        _ => Ok(()),
    }
}

pub(super) fn head_to_stored(head: ResourceHead) -> Result<StoredResource, StorageError> {
    let doc: Value = serde_json::from_str(&head.document)
        .map_err(|e| StorageError::corrupt(format!("document of {}: {e}", head.id)))?;
    Ok(StoredResource {
        kind: kind_from_db(&head.resource_type)?,
        id: ResourceId::new(head.id),
        version: head.version,
        created: from_db_time(head.created_at),
        last_modified: from_db_time(head.last_modified),
        doc,
        members: None,
        groups: None,
    })
}

pub(super) fn row_to_stored(row: ResourceRow) -> Result<StoredResource, StorageError> {
    head_to_stored(ResourceHead {
        id: row.id,
        resource_type: row.resource_type,
        version: row.version,
        created_at: row.created_at,
        last_modified: row.last_modified,
        document: row.document,
    })
}

/// How a write locks the row it read (PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowLock {
    /// Replace/patch: `FOR NO KEY UPDATE`, which does not block the `FOR KEY SHARE` locks that foreign-key
    /// checks of concurrent member inserts take on this row (so two groups adding each other cannot
    /// deadlock).
    Update,
    /// Delete: `FOR UPDATE`.
    Delete,
}

/// Reads the resource and, on PostgreSQL, locks its row until the transaction ends.
pub(super) fn lock_resource(
    conn: &mut DbConnection,
    tenant: &TenantId,
    kind: ResourceKind,
    id: &ResourceId,
    lock: RowLock,
) -> Result<ResourceRow, StorageError> {
    let mut query = SqlFrag::<Text>::new()
        .sql("SELECT * FROM resources WHERE tenant_id = ")
        .text(tenant.as_str())
        .sql(" AND resource_type = ")
        .text(kind.as_str())
        .sql(" AND id = ")
        .text(id.as_str());
    if conn.dialect() == Dialect::Postgres {
        query = query.sql(match lock {
            RowLock::Update => " FOR NO KEY UPDATE",
            RowLock::Delete => " FOR UPDATE",
        });
    }
    let rows: Vec<ResourceRow> = query.cacheable().into_query().load(conn)?;
    rows.into_iter()
        .next()
        .ok_or_else(|| not_found(kind, id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_are_refused_anywhere_in_a_document() {
        assert!(prepare_doc(json!({"userName": "a\u{0}b"})).is_err());
        assert!(prepare_doc(json!({"x": [{"k\u{0}": 1}]})).is_err());
        let doc = prepare_doc(json!({"userName": "a", "id": "x", "meta": {}, "members": []})).unwrap();
        assert_eq!(Value::Object(doc), json!({"userName": "a"}));
    }
}
