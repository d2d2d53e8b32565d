//! `sortBy` keys (RFC 7644 §3.4.2.3): the indexed column when there is one, else the JSON value (the
//! first element's, for a multi-valued attribute), lowered for case-insensitive strings and ordered by
//! bytes on both backends. Ascending puts missing values last, descending first.

use diesel::sql_types::Text;
use scim_core::ResourceKind;
use scim_core::filter::ResolvedPath;
use scim_core::schema::AttributeType;

use super::indexed::column_sql;
use super::json::JsonLoc;
use super::{Compiler, invalid, unstored};
use crate::connection::Dialect;
use crate::error::StorageError;
use crate::shadow_columns::ColumnValue;
use crate::sql::SqlFrag;

/// An `ORDER BY` item (expression and direction) for `sortBy`.
pub(crate) fn sort_key(
    dialect: Dialect,
    kind: ResourceKind,
    tenant: &str,
    path: &ResolvedPath,
    descending: bool,
) -> Result<SqlFrag<Text>, StorageError> {
    let c = Compiler {
        dialect,
        kind,
        tenant,
    };
    let mut key = if let Some(column) = c.indexed(path) {
        match column.holds {
            ColumnValue::Text { lowercased } => {
                let mut f = column_sql(column);
                if !lowercased && !path.case_exact {
                    f = c.lower(f);
                }
                f.sql(c.byte_order())
            }
            ColumnValue::Boolean | ColumnValue::Timestamp => column_sql(column),
        }
    } else if let Some(what) = unstored(path) {
        return Err(invalid(format!("cannot sort by {what}")));
    } else {
        let loc = if path.multi_valued {
            // RFC 7644 §3.4.2.3 leaves multi-valued sorting to the provider: the first element's value.
            if path.sub.as_deref().is_some_and(|s| s.contains('"')) {
                return Err(invalid("attribute names must not contain '\"'"));
            }
            JsonLoc::DocFirst {
                array: c.doc_keys(path, false)?,
                sub: path.sub.clone(),
            }
        } else {
            JsonLoc::Doc(c.doc_keys(path, true)?)
        };
        match path.attr_type {
            AttributeType::Integer | AttributeType::Decimal => c.json_number(&loc),
            AttributeType::Boolean => c.json_text(&loc),
            AttributeType::Complex => {
                return Err(invalid(format!("cannot sort by complex {}", path.attr)));
            }
            AttributeType::String
            | AttributeType::Reference
            | AttributeType::Binary
            | AttributeType::DateTime => {
                let text = c.json_text(&loc);
                let text = if path.case_exact { text } else { c.lower(text) };
                text.sql(c.byte_order())
            }
        }
    };
    key.push_sql(if descending {
        " DESC NULLS FIRST"
    } else {
        " ASC NULLS LAST"
    });
    Ok(key.cast())
}
