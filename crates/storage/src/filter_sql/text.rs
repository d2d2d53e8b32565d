//! Text comparisons in SQL, shared by indexed columns, JSON values and membership columns.
//!
//! Case-insensitive attributes compare with both sides lowered: a lowercased shadow column against the
//! literal lowercased in Rust (the same `to_lowercase` that filled the column), anything else with the
//! database's lowering on both sides (`lower`, or on SQLite the Unicode-aware `scim_lower` the connection
//! registers). `co`/`sw`/`ew` are `LIKE` patterns with `%`, `_` and `\` escaped; `LIKE` is case-sensitive
//! on both backends. Ordering is by bytes on both backends.

use diesel::sql_types::Text;
use scim_core::filter::{OrderingOp, SubstringOp, TextOp};

use super::{Compiler, Frag, ordering_op};
use crate::connection::Dialect;
use crate::sql::{SqlFrag, like_escape};

impl Compiler<'_> {
    /// Compares a text expression. `lowered`: the expression already holds a Rust-lowercased value, so
    /// the literal is lowercased in Rust; otherwise a case-insensitive compare lowers both sides in SQL.
    /// `ne` compiles as `=` ([`Self::compare`] negates it).
    pub(super) fn text_compare(
        &self,
        lhs: SqlFrag<Text>,
        case_exact: bool,
        lowered: bool,
        op: TextOp,
        value: &str,
    ) -> Frag {
        let (lhs, rhs) = if case_exact {
            (lhs, SqlFrag::<Text>::new().text(literal_for(op, value)))
        } else if lowered {
            (
                lhs,
                SqlFrag::<Text>::new().text(literal_for(op, &value.to_lowercase())),
            )
        } else {
            (
                self.lower(lhs),
                self.lower(SqlFrag::<Text>::new().text(literal_for(op, value))),
            )
        };
        match op {
            TextOp::Ordering(op) => {
                // Equality needs no collation.
                let collate = match op {
                    OrderingOp::Eq | OrderingOp::Ne => "",
                    OrderingOp::Gt | OrderingOp::Ge | OrderingOp::Lt | OrderingOp::Le => self.byte_order(),
                };
                Frag::new()
                    .sql("(")
                    .frag(lhs)
                    .sql(collate)
                    .sql(ordering_op(op))
                    .frag(rhs)
                    .sql(collate)
                    .sql(")")
            }
            TextOp::Substring(_) => Frag::new()
                .sql("(")
                .frag(lhs)
                .sql(" LIKE ")
                .frag(rhs)
                .sql(" ESCAPE '\\')"),
        }
    }

    /// The collation that orders text by bytes, as SQLite does by default.
    pub(super) fn byte_order(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " COLLATE \"C\"",
            Dialect::Sqlite => "",
        }
    }

    /// The database's Unicode lowercasing.
    pub(super) fn lower<T>(&self, f: SqlFrag<T>) -> SqlFrag<T> {
        let func = match self.dialect {
            Dialect::Sqlite => "scim_lower(",
            Dialect::Postgres => "lower(",
        };
        SqlFrag::new().sql(func).frag(f).sql(")")
    }
}

/// The bound literal: a `LIKE` pattern for co/sw/ew, the value itself otherwise.
fn literal_for(op: TextOp, value: &str) -> String {
    match op {
        TextOp::Substring(SubstringOp::Contains) => format!("%{}%", like_escape(value)),
        TextOp::Substring(SubstringOp::StartsWith) => format!("{}%", like_escape(value)),
        TextOp::Substring(SubstringOp::EndsWith) => format!("%{}", like_escape(value)),
        TextOp::Ordering(_) => value.to_owned(),
    }
}
