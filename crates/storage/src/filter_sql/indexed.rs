//! Attributes with their own indexed column ([`crate::shadow_columns`]): comparisons and `pr`. These are the lookups IdPs send on every object, so [`super::compile`] marks
//! them cacheable.

use diesel::sql_types::Text;
use scim_core::filter::{Comparison, OrderingOp, ResolvedPath, TextOp};
use scim_core::schema::AttributeType;

use super::{Compiler, Frag, ordering_op};
use crate::shadow_columns::{ColumnValue, INDEXED_ATTRIBUTES, IndexedColumn, TABLE};
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

impl Compiler<'_> {
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
