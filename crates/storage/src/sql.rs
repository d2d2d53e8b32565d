//! Hand-built SQL with bound parameters, usable inside diesel's typed DSL and on its own.
//!
//! Strategy: diesel's DSL cannot express JSON extraction, `ON CONFLICT`, `FOR UPDATE` or `EXISTS` over
//! `json_each` through `MultiBackend`, and `sql::<T>(..).bind(..)` nests a new type per bind, which does
//! not fit a filter tree built at run time. [`SqlFrag`] is a flat list of SQL text and bind values that
//! implements `QueryFragment<MultiBackend>`: text is pushed verbatim, values go through
//! `push_bind_param`, so the backend's own placeholder (`$n` or `?`) is used and **no user string is ever
//! interpolated into SQL**. Text pushed with [`SqlFrag::sql`] must be a constant or built only from
//! constants; every caller-supplied value goes through one of the bind methods.
//!
//! A `SqlFrag<Bool>` is an expression (`.filter(frag)`), a `SqlFrag<Untyped>` wrapped in [`RawQuery`]
//! is a statement that can be executed or loaded into `QueryableByName` rows.

use std::marker::PhantomData;

use chrono::NaiveDateTime;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Double, Text, Timestamp, Untyped};
use diesel::{QueryResult, RunQueryDsl};

use crate::connection::{DbConnection, MultiBackend};

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BindValue {
    Text(String),
    BigInt(i64),
    Double(f64),
    Bool(bool),
    Timestamp(NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Sql(String),
    Bind(BindValue),
}

/// A piece of SQL with its bind values, typed as an expression of SQL type `ST`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SqlFrag<ST = Bool> {
    parts: Vec<Part>,
    /// Whether diesel may keep the prepared statement (keyed by its SQL text). Only for statements whose
    /// text comes from a small fixed set: diesel's cache is unbounded, so a filter whose shape the
    /// client composes freely is never cached (see `filter_sql::compile`).
    cacheable: bool,
    _sql_type: PhantomData<ST>,
}

impl<ST> Default for SqlFrag<ST> {
    fn default() -> Self {
        Self {
            parts: Vec::new(),
            cacheable: false,
            _sql_type: PhantomData,
        }
    }
}

impl<ST> SqlFrag<ST> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Lets diesel cache this statement's preparation (see the field's doc).
    pub(crate) fn cacheable(mut self) -> Self {
        self.cacheable = true;
        self
    }

    /// Appends constant SQL text. Never pass user input here.
    pub(crate) fn sql(mut self, text: &str) -> Self {
        self.push_sql(text);
        self
    }

    pub(crate) fn push_sql(&mut self, text: &str) {
        if let Some(Part::Sql(last)) = self.parts.last_mut() {
            last.push_str(text);
        } else {
            self.parts.push(Part::Sql(text.to_owned()));
        }
    }

    pub(crate) fn bind(mut self, value: BindValue) -> Self {
        self.parts.push(Part::Bind(value));
        self
    }

    pub(crate) fn text(self, value: impl Into<String>) -> Self {
        self.bind(BindValue::Text(value.into()))
    }

    /// Appends another fragment (its text and binds, in order), whatever its SQL type.
    pub(crate) fn frag<T>(mut self, other: SqlFrag<T>) -> Self {
        self.append(other);
        self
    }

    pub(crate) fn append<T>(&mut self, other: SqlFrag<T>) {
        for part in other.parts {
            match part {
                Part::Sql(text) => self.push_sql(&text),
                Part::Bind(value) => self.parts.push(Part::Bind(value)),
            }
        }
    }

    /// `(v1, v2, ...)` for `IN`, with every value bound; `(NULL)` for an empty list (matches nothing).
    /// The list is padded to a power-of-two length by repeating its last value (a duplicate changes
    /// nothing in `IN`), so lists of any length up to N share log2(N) SQL texts and a statement using
    /// one can be cached.
    pub(crate) fn text_list(mut self, values: &[&str]) -> Self {
        self.push_sql("(");
        let Some(last) = values.last() else {
            self.push_sql("NULL)");
            return self;
        };
        let padded = values.len().next_power_of_two();
        let values = values.iter().chain(std::iter::repeat(last)).take(padded);
        for (i, value) in values.enumerate() {
            if i > 0 {
                self.push_sql(", ");
            }
            self.parts.push(Part::Bind(BindValue::Text((*value).to_owned())));
        }
        self.push_sql(")");
        self
    }

    /// The same SQL and binds with another SQL type.
    pub(crate) fn cast<T>(self) -> SqlFrag<T> {
        SqlFrag {
            parts: self.parts,
            cacheable: self.cacheable,
            _sql_type: PhantomData,
        }
    }

    pub(crate) fn into_query(self) -> RawQuery {
        RawQuery(self.cast())
    }
}

impl<ST> QueryFragment<MultiBackend> for SqlFrag<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        if !self.cacheable {
            out.unsafe_to_cache_prepared();
        }
        for part in &self.parts {
            match part {
                Part::Sql(text) => out.push_sql(text),
                Part::Bind(BindValue::Text(v)) => out.push_bind_param::<Text, String>(v)?,
                Part::Bind(BindValue::BigInt(v)) => out.push_bind_param::<BigInt, i64>(v)?,
                Part::Bind(BindValue::Double(v)) => out.push_bind_param::<Double, f64>(v)?,
                Part::Bind(BindValue::Bool(v)) => out.push_bind_param::<Bool, bool>(v)?,
                Part::Bind(BindValue::Timestamp(v)) => out.push_bind_param::<Timestamp, NaiveDateTime>(v)?,
            }
        }
        Ok(())
    }
}

impl<ST> QueryId for SqlFrag<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: diesel::expression::TypedExpressionType> Expression for SqlFrag<ST> {
    type SqlType = ST;
}

impl<ST, QS> AppearsOnTable<QS> for SqlFrag<ST> where Self: Expression {}

impl<ST, QS> SelectableExpression<QS> for SqlFrag<ST> where Self: Expression {}

impl<ST, GB> ValidGrouping<GB> for SqlFrag<ST> {
    type IsAggregate = is_aggregate::Never;
}

/// A complete statement built from a [`SqlFrag`]: `execute` it or `load` `QueryableByName` rows.
#[derive(Debug, Clone)]
pub(crate) struct RawQuery(SqlFrag<Untyped>);

impl QueryFragment<MultiBackend> for RawQuery {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl QueryId for RawQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for RawQuery {
    type SqlType = Untyped;
}

impl RunQueryDsl<DbConnection> for RawQuery {}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub(crate) fn like_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binds(frag: &SqlFrag<Text>) -> Vec<&str> {
        frag.parts
            .iter()
            .filter_map(|p| match p {
                Part::Bind(BindValue::Text(v)) => Some(v.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn text_lists_are_padded_to_a_power_of_two_with_the_last_value() {
        let three = SqlFrag::<Text>::new().text_list(&["a", "b", "c"]);
        assert_eq!(binds(&three), ["a", "b", "c", "c"]);
        let four = SqlFrag::<Text>::new().text_list(&["a", "b", "c", "d"]);
        assert_eq!(three.parts.first(), four.parts.first());
        assert_eq!(binds(&four), ["a", "b", "c", "d"]);
        let one = SqlFrag::<Text>::new().text_list(&["a"]);
        assert_eq!(binds(&one), ["a"]);
        let empty = SqlFrag::<Text>::new().text_list(&[]);
        assert_eq!(empty.parts, vec![Part::Sql("(NULL)".to_owned())]);
    }

    #[test]
    fn like_escape_escapes_wildcards_and_the_escape_character() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
        assert_eq!(like_escape("plain"), "plain");
    }
}
