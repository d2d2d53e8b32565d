//! The shadow columns of a resource row: the attributes IdPs match on, copied out of the JSON document on
//! every write (extraction, [`ShadowColumns`]) and read by filters (the declaration, [`INDEXED_ATTRIBUTES`]
//! and [`EMAILS`], whose elements live in `resource_emails`), kept side by side so that what is written and what filters expect cannot drift apart.
//!
//! Strategy: lowercase copies are computed in Rust, not by the database, so case-insensitive uniqueness
//! (`userName` for Users, `displayName` for Groups in `group_name_lower`) folds Unicode the same way on
//! SQLite and PostgreSQL. A value longer than [`MAX_INDEXED_BYTES`] is refused with `InvalidValue` rather
//! than stored unindexed: PostgreSQL limits a b-tree entry to about 2.7 kB.
//!
//! The filter compiler (`filter_sql`) reads the declaration to turn comparisons, `pr` and `sortBy` on these
//! attributes into index lookups instead of JSON extraction. Column names come from `schema.rs`, so a
//! renamed column fails to compile here rather than in SQL.

use diesel::Column;
use diesel::prelude::*;
use scim_core::{ResourceKind, ScimError};
use serde_json::{Map, Value};

use crate::error::StorageError;
use crate::schema::resources;

/// Longest value (in bytes) accepted for an indexed attribute (`userName`, `displayName`, `externalId`,
/// every email). Longer values are refused rather than silently not indexed.
pub const MAX_INDEXED_BYTES: usize = 1024;

/// The table holding the columns. Filters also compile to subqueries over `group_members` and JSON array
/// elements, so a column is always named with its table.
pub(crate) const TABLE: &str = "resources";

/// One indexed column and the form of the value it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexedColumn {
    /// The column's name in `schema.rs`.
    pub(crate) name: &'static str,
    pub(crate) holds: ColumnValue,
}

/// The form of an indexed column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnValue {
    /// Text, lowercased in Rust (`str::to_lowercase`) when `lowercased`, so that case-insensitive
    /// comparisons and uniqueness behave the same on both backends.
    Text {
        lowercased: bool,
    },
    Boolean,
    /// A UTC timestamp, truncated as `crate::to_db_time` does.
    Timestamp,
}

/// A top-level attribute (or `meta` sub-attribute) of the core schemas stored in its own column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexedAttribute {
    /// The attribute's canonical name.
    pub(crate) attr: &'static str,
    /// The sub-attribute's canonical name, for `meta.*`.
    pub(crate) sub: Option<&'static str>,
    /// The only resource type whose rows fill the column, if not every type's.
    pub(crate) only_for: Option<ResourceKind>,
    pub(crate) column: IndexedColumn,
}

const fn column<C: Column>(holds: ColumnValue) -> IndexedColumn {
    IndexedColumn { name: C::NAME, holds }
}

const EXACT_TEXT: ColumnValue = ColumnValue::Text { lowercased: false };
const LOWERCASED_TEXT: ColumnValue = ColumnValue::Text { lowercased: true };

/// Every attribute with its own column.
pub(crate) const INDEXED_ATTRIBUTES: [IndexedAttribute; 8] = [
    IndexedAttribute {
        attr: "id",
        sub: None,
        only_for: None,
        column: column::<resources::id>(EXACT_TEXT),
    },
    IndexedAttribute {
        attr: "userName",
        sub: None,
        only_for: Some(ResourceKind::User),
        column: column::<resources::user_name_lower>(LOWERCASED_TEXT),
    },
    IndexedAttribute {
        attr: "displayName",
        sub: None,
        only_for: None,
        column: column::<resources::display_name_lower>(LOWERCASED_TEXT),
    },
    IndexedAttribute {
        attr: "externalId",
        sub: None,
        only_for: None,
        column: column::<resources::external_id>(EXACT_TEXT),
    },
    IndexedAttribute {
        attr: "active",
        sub: None,
        only_for: Some(ResourceKind::User),
        column: column::<resources::active>(ColumnValue::Boolean),
    },
    IndexedAttribute {
        attr: "meta",
        sub: Some("created"),
        only_for: None,
        column: column::<resources::created_at>(ColumnValue::Timestamp),
    },
    IndexedAttribute {
        attr: "meta",
        sub: Some("lastModified"),
        only_for: None,
        column: column::<resources::last_modified>(ColumnValue::Timestamp),
    },
    IndexedAttribute {
        attr: "meta",
        sub: Some("resourceType"),
        only_for: None,
        column: column::<resources::resource_type>(EXACT_TEXT),
    },
];

/// Every element of a user's `emails` is indexed in `resource_emails` (value and type, lowercased), so
/// `emails[type eq "work" and value eq "…"]` (Entra), `emails[value eq "…"]` and `emails.value eq "…"`
/// are index lookups that find any address, whatever its position.
pub(crate) const EMAILS: &str = "emails";

/// One `emails` element as `resource_emails` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EmailKey {
    /// The element's index in the document's array.
    pub position: i32,
    /// `type`, lowercased, if it is a string.
    pub email_type: Option<String>,
    pub value_lower: String,
}

/// The indexed emails of a (validated) document: every element whose `value` is a string. Users only.
pub(crate) fn email_keys(
    kind: ResourceKind,
    doc: &Map<String, Value>,
) -> Result<Vec<EmailKey>, StorageError> {
    let (ResourceKind::User, Some(Value::Array(emails))) = (kind, doc.get(EMAILS)) else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for (position, email) in emails.iter().enumerate() {
        let Some(email) = email.as_object() else {
            continue;
        };
        let Some(value) = indexed_str(email, "value")? else {
            continue;
        };
        keys.push(EmailKey {
            position: i32::try_from(position)
                .map_err(|_| ScimError::InvalidValue("too many emails".to_owned()))?,
            email_type: email.get("type").and_then(Value::as_str).map(str::to_lowercase),
            value_lower: value.to_lowercase(),
        });
    }
    Ok(keys)
}

/// The indexed shadow columns of one document.
#[derive(Debug, Clone, PartialEq, AsChangeset, Insertable, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = resources, treat_none_as_null = true)]
pub(crate) struct ShadowColumns {
    pub user_name: Option<String>,
    pub user_name_lower: Option<String>,
    pub display_name: Option<String>,
    pub display_name_lower: Option<String>,
    pub group_name_lower: Option<String>,
    pub external_id: Option<String>,
    pub active: Option<bool>,
}

impl ShadowColumns {
    /// Reads the indexed attributes of a (validated, canonically-cased) document.
    pub(crate) fn extract(
        kind: ResourceKind,
        doc: &Map<String, Value>,
    ) -> Result<ShadowColumns, StorageError> {
        let user_name = match kind {
            ResourceKind::User => Some(
                indexed_str(doc, "userName")?
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| ScimError::InvalidValue("userName is required".to_owned()))?,
            ),
            ResourceKind::Group => None,
        };
        let display_name = indexed_str(doc, "displayName")?;
        let group_name_lower = match kind {
            ResourceKind::Group => Some(
                display_name
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| ScimError::InvalidValue("displayName is required".to_owned()))?
                    .to_lowercase(),
            ),
            ResourceKind::User => None,
        };
        Ok(ShadowColumns {
            user_name_lower: user_name.as_deref().map(str::to_lowercase),
            user_name,
            display_name_lower: display_name.as_deref().map(str::to_lowercase),
            display_name,
            group_name_lower,
            external_id: indexed_str(doc, "externalId")?,
            active: doc.get("active").and_then(Value::as_bool),
        })
    }
}

/// The string at `key`; `None` when absent or not a string; `InvalidValue` when too long to index.
fn indexed_str(doc: &Map<String, Value>, key: &str) -> Result<Option<String>, StorageError> {
    match doc.get(key) {
        Some(Value::String(s)) => {
            if s.len() > MAX_INDEXED_BYTES {
                return Err(ScimError::InvalidValue(format!(
                    "{key} is longer than {MAX_INDEXED_BYTES} bytes"
                ))
                .into());
            }
            Ok(Some(s.clone()))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn extracts_lowercase_shadow_columns_and_every_email() {
        let doc = obj(json!({
            "userName": "ÄLICE@Example.com",
            "displayName": "Alice",
            "externalId": "Ext-1",
            "active": false,
            "emails": [
                {"type": "home", "value": "home@x"},
                {"type": "Work", "value": "First@X"},
                {"type": "work", "value": "Primary@X", "primary": true}
            ]
        }));
        let idx = ShadowColumns::extract(ResourceKind::User, &doc).unwrap();
        assert_eq!(idx.user_name_lower.as_deref(), Some("älice@example.com"));
        assert_eq!(idx.display_name_lower.as_deref(), Some("alice"));
        assert_eq!(idx.group_name_lower, None);
        assert_eq!(idx.external_id.as_deref(), Some("Ext-1"));
        assert_eq!(idx.active, Some(false));
        let emails = email_keys(ResourceKind::User, &doc).unwrap();
        let found: Vec<(i32, Option<&str>, &str)> = emails
            .iter()
            .map(|e| (e.position, e.email_type.as_deref(), e.value_lower.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (0, Some("home"), "home@x"),
                (1, Some("work"), "first@x"),
                (2, Some("work"), "primary@x")
            ]
        );
        assert!(email_keys(ResourceKind::Group, &doc).unwrap().is_empty());
    }

    #[test]
    fn groups_get_a_group_name_and_users_need_a_user_name() {
        let idx = ShadowColumns::extract(ResourceKind::Group, &obj(json!({"displayName": "Ops"}))).unwrap();
        assert_eq!(idx.group_name_lower.as_deref(), Some("ops"));
        assert!(ShadowColumns::extract(ResourceKind::User, &obj(json!({"displayName": "x"}))).is_err());
        assert!(ShadowColumns::extract(ResourceKind::Group, &obj(json!({}))).is_err());
    }
}
