//! Declares the indexed ("shadow") columns of `resources` that filters read: which SCIM attribute each one
//! holds, for which resource types, and in what form (lowercased text, boolean, timestamp).
//!
//! The filter compiler (`filter_sql`) reads this table to turn comparisons, `pr` and `sortBy` on these
//! attributes into index lookups instead of JSON extraction. Column names come from `schema.rs`, so a
//! renamed column fails to compile here rather than in SQL.

use diesel::Column;
use scim_core::ResourceKind;

use crate::schema::resources;

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

/// `attr[key eq "key_value"].value`, stored in its own column: Entra looks users up by their work email
/// with `emails[type eq "work" and value eq "…"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexedValuePath {
    pub(crate) attr: &'static str,
    pub(crate) key: &'static str,
    /// Matched case-insensitively.
    pub(crate) key_value: &'static str,
    pub(crate) value: &'static str,
    pub(crate) only_for: ResourceKind,
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

/// A user's work email: the primary `emails` element of type "work", else the first one, lowercased.
pub(crate) const WORK_EMAIL: IndexedValuePath = IndexedValuePath {
    attr: "emails",
    key: "type",
    key_value: "work",
    value: "value",
    only_for: ResourceKind::User,
    column: column::<resources::work_email_lower>(LOWERCASED_TEXT),
};
