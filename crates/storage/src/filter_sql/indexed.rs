//! Attributes with their own indexed column ([`crate::shadow_columns`]): comparisons, `pr`, and Entra's
//! work-email value path. These are the lookups IdPs send on every object, so [`super::compile`] marks
//! them cacheable.

use diesel::sql_types::Text;
use scim_core::filter::{Comparison, OrderingOp, ResolvedFilter, ResolvedPath, TextOp};
use scim_core::schema::AttributeType;

use super::{Compiler, Frag, ordering_op};
use crate::shadow_columns::{
    ColumnValue, INDEXED_ATTRIBUTES, IndexedColumn, IndexedValuePath, TABLE, WORK_EMAIL,
};
use crate::sql::{BindValue, SqlFrag};

/// A comparison an indexed column answers, in the column's terms.
#[derive(Debug, Clone, Copy)]
pub(super) enum ColumnComparison<'c> {
    Text {
        column: IndexedColumn,
        lowercased: bool,
        op: TextOp,
        value: &'c str,
    },
    Boolean {
        column: IndexedColumn,
        value: bool,
    },
    Timestamp {
        column: IndexedColumn,
        op: OrderingOp,
        value: chrono::NaiveDateTime,
    },
}

impl Compiler {
    /// The indexed column standing for a top-level `path`, if it has one that answers for it: one of
    /// the attribute's type, and a lowercased one only for a case-insensitive attribute.
    pub(super) fn indexed(&self, path: &ResolvedPath) -> Option<IndexedColumn> {
        if !path.is_core {
            return None;
        }
        let indexed = INDEXED_ATTRIBUTES.iter().find(|indexed| {
            indexed.attr == path.attr
                && indexed.sub == path.sub.as_deref()
                && indexed.only_for.is_none_or(|kind| kind == self.kind)
        })?;
        let answers = match indexed.column.holds {
            ColumnValue::Text { lowercased } => {
                !(lowercased && path.case_exact)
                    && matches!(
                        path.attr_type,
                        AttributeType::String | AttributeType::Reference | AttributeType::Binary
                    )
            }
            ColumnValue::Boolean => path.attr_type == AttributeType::Boolean,
            ColumnValue::Timestamp => path.attr_type == AttributeType::DateTime,
        };
        answers.then_some(indexed.column)
    }

    /// `comparison` on `path`'s indexed column, if it has one. [`Self::indexed`] picks a column of the
    /// attribute's type and the resolver types comparisons by the attribute, so their types agree.
    pub(super) fn column_comparison<'c>(
        &self,
        path: &ResolvedPath,
        comparison: &'c Comparison,
    ) -> Option<ColumnComparison<'c>> {
        let column = self.indexed(path)?;
        match (column.holds, comparison) {
            (ColumnValue::Text { lowercased }, Comparison::Text { op, value }) => {
                Some(ColumnComparison::Text {
                    column,
                    lowercased,
                    op: *op,
                    value,
                })
            }
            (ColumnValue::Boolean, Comparison::Boolean { value, .. }) => Some(ColumnComparison::Boolean {
                column,
                value: *value,
            }),
            (ColumnValue::Timestamp, Comparison::DateTime { op, value }) => {
                Some(ColumnComparison::Timestamp {
                    column,
                    op: *op,
                    value: crate::to_db_time(value.instant.to_utc()),
                })
            }
            (
                ColumnValue::Text { .. },
                Comparison::Number { .. } | Comparison::Boolean { .. } | Comparison::DateTime { .. },
            )
            | (
                ColumnValue::Boolean,
                Comparison::Text { .. } | Comparison::Number { .. } | Comparison::DateTime { .. },
            )
            | (
                ColumnValue::Timestamp,
                Comparison::Text { .. } | Comparison::Number { .. } | Comparison::Boolean { .. },
            ) => None,
        }
    }

    /// A column comparison as SQL; `ne` compiles as `=` ([`Self::compare`] negates it).
    pub(super) fn column_compare(&self, comparison: ColumnComparison<'_>, case_exact: bool) -> Frag {
        match comparison {
            ColumnComparison::Text {
                column,
                lowercased,
                op,
                value,
            } => self.text_compare(
                column_sql(column),
                case_exact && !lowercased,
                lowercased,
                op,
                value,
            ),
            ColumnComparison::Boolean { column, value } => Frag::new()
                .sql("(")
                .frag(column_sql(column))
                .sql(" = ")
                .bind(BindValue::Bool(value))
                .sql(")"),
            ColumnComparison::Timestamp { column, op, value } => Frag::new()
                .sql("(")
                .frag(column_sql(column))
                .sql(ordering_op(op))
                .bind(BindValue::Timestamp(value))
                .sql(")"),
        }
    }

    /// The work email `emails[type eq "work" and value eq "x"]` looks up (in either order), if `path` and
    /// `filter` are that value path. Both comparisons must be case-insensitive, as the column is lowercased.
    pub(super) fn work_email<'f>(&self, path: &ResolvedPath, filter: &'f ResolvedFilter) -> Option<&'f str> {
        let IndexedValuePath {
            attr,
            key,
            key_value,
            value,
            only_for,
            column: _,
        } = WORK_EMAIL;
        if self.kind != only_for || !path.is_core || path.attr != attr {
            return None;
        }
        let ResolvedFilter::And(a, b) = filter else {
            return None;
        };
        let equals = |f: &'f ResolvedFilter, sub: &str| -> Option<&'f str> {
            match f {
                ResolvedFilter::Compare {
                    path,
                    comparison:
                        Comparison::Text {
                            op: TextOp::Ordering(OrderingOp::Eq),
                            value,
                        },
                } if path.sub.as_deref() == Some(sub) && !path.case_exact => Some(value),
                ResolvedFilter::Compare { .. }
                | ResolvedFilter::Present(_)
                | ResolvedFilter::Not(_)
                | ResolvedFilter::And(..)
                | ResolvedFilter::Or(..)
                | ResolvedFilter::ValuePath { .. } => None,
            }
        };
        let (found_key, email) = match (equals(a, key), equals(b, value)) {
            (Some(found_key), Some(email)) => (found_key, email),
            (None | Some(_), None) | (None, Some(_)) => (equals(b, key)?, equals(a, value)?),
        };
        found_key.eq_ignore_ascii_case(key_value).then_some(email)
    }
}

/// The work-email lookup on its lowercased column.
pub(super) fn work_email_compare(email: &str) -> Frag {
    Frag::new()
        .frag(column_sql(WORK_EMAIL.column))
        .sql(" = ")
        .text(email.to_lowercase())
}

/// `pr` on an indexed column: a non-empty text, or any boolean or timestamp.
pub(super) fn column_present(column: IndexedColumn) -> Frag {
    match column.holds {
        ColumnValue::Text { .. } => Frag::new()
            .sql("COALESCE(")
            .frag(column_sql(column))
            .sql(" <> '', FALSE)"),
        ColumnValue::Boolean | ColumnValue::Timestamp => {
            Frag::new().frag(column_sql(column)).sql(" IS NOT NULL")
        }
    }
}

/// The column, named with its table.
pub(super) fn column_sql(column: IndexedColumn) -> SqlFrag<Text> {
    SqlFrag::new().sql(TABLE).sql(".").sql(column.name)
}
