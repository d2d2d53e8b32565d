//! Values read from the JSON document, for attributes without an indexed column.
//!
//! Each concept is one function with its SQLite and PostgreSQL SQL side by side: SQLite reads the text
//! document with `json_extract`/`json_type`/`json_each` and a `$."key"` path (keys are bound, and refused
//! if they contain `"`); PostgreSQL casts it to `jsonb` and follows `->` with bound keys. Array elements
//! are the alias `e` (SQLite: a `json_each` row, whose `fullkey` is the element's path; PostgreSQL: a
//! `jsonb` value `e.v`).

use diesel::sql_types::Text;
use scim_core::filter::{Comparison, ResolvedPath, TextOp};

use super::{Compiler, Frag, Scope, display, invalid, ordering_op};
use crate::connection::Dialect;
use crate::error::StorageError;
use crate::sql::{BindValue, SqlFrag};

/// Where a JSON value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JsonLoc {
    /// In the resource document, under these keys.
    Doc(Vec<String>),
    /// In the current array element, under this key.
    ElemSub(String),
    /// The current array element itself.
    ElemSelf,
    /// In the first element of the array under `array` keys, under `sub` if given (sorting).
    DocFirst { array: Vec<String>, sub: Option<String> },
}

impl JsonLoc {
    /// SQLite: `(<json source>, <path>)` arguments for `json_extract` / `json_type`.
    fn sqlite_args(&self) -> SqlFrag<Text> {
        match self {
            JsonLoc::Doc(keys) => SqlFrag::new()
                .sql("(resources.document, ")
                .text(sqlite_path(keys))
                .sql(")"),
            // The element's own path inside the document, extended by the sub-attribute: never fails on
            // non-object elements (json_extract on them would).
            JsonLoc::ElemSub(sub) => SqlFrag::new()
                .sql("(resources.document, e.fullkey || ")
                .text(format!(".\"{sub}\""))
                .sql(")"),
            JsonLoc::ElemSelf => SqlFrag::new().sql("(resources.document, e.fullkey)"),
            JsonLoc::DocFirst { array, sub } => {
                let mut p = sqlite_path(array);
                p.push_str("[0]");
                if let Some(sub) = sub {
                    p.push_str(&format!(".\"{sub}\""));
                }
                SqlFrag::new().sql("(resources.document, ").text(p).sql(")")
            }
        }
    }

    /// PostgreSQL: the jsonb value.
    fn pg_value(&self) -> SqlFrag<Text> {
        match self {
            JsonLoc::Doc(keys) => {
                let mut f = SqlFrag::new().sql("(resources.document::jsonb");
                for k in keys {
                    f = f.sql(" -> ").text(k.clone());
                }
                f.sql(")")
            }
            JsonLoc::ElemSub(sub) => SqlFrag::new().sql("(e.v -> ").text(sub.clone()).sql(")"),
            JsonLoc::ElemSelf => SqlFrag::new().sql("e.v"),
            JsonLoc::DocFirst { array, sub } => {
                let mut f = SqlFrag::new().sql("(resources.document::jsonb");
                for k in array {
                    f = f.sql(" -> ").text(k.clone());
                }
                f = f.sql(" -> 0");
                if let Some(sub) = sub {
                    f = f.sql(" -> ").text(sub.clone());
                }
                f.sql(")")
            }
        }
    }
}

/// SQLite JSON path `$."k1"."k2"` (keys were checked to contain no `"`).
fn sqlite_path(keys: &[String]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(k);
        p.push('"');
    }
    p
}

impl Compiler<'_> {
    /// JSON keys of a path in the document: `[urn], attr[, sub]` (the sub only when asked).
    pub(super) fn doc_keys(&self, path: &ResolvedPath, with_sub: bool) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::with_capacity(3);
        if !path.is_core {
            keys.push(path.schema.clone());
        }
        keys.push(path.attr.clone());
        if with_sub && let Some(sub) = &path.sub {
            keys.push(sub.clone());
        }
        if self.dialect == Dialect::Sqlite && keys.iter().any(|k| k.contains('"')) {
            return Err(invalid("attribute names must not contain '\"'"));
        }
        Ok(keys)
    }

    /// Where the value of `path` lives in `scope` (for JSON scopes).
    pub(super) fn json_loc(&self, path: &ResolvedPath, scope: Scope) -> Result<JsonLoc, StorageError> {
        match scope {
            Scope::Element => match &path.sub {
                Some(sub) => {
                    if sub.contains('"') {
                        return Err(invalid("attribute names must not contain '\"'"));
                    }
                    Ok(JsonLoc::ElemSub(sub.clone()))
                }
                None => Ok(JsonLoc::ElemSelf),
            },
            Scope::Resource | Scope::Membership(_) => Ok(JsonLoc::Doc(self.doc_keys(path, true)?)),
        }
    }

    /// A comparison on a JSON value; `ne` compiles as `=` ([`Self::compare`] negates it).
    pub(super) fn json_compare(
        &self,
        loc: &JsonLoc,
        path: &ResolvedPath,
        comparison: &Comparison,
    ) -> Result<Frag, StorageError> {
        Ok(match comparison {
            Comparison::Text { op, value } => {
                self.text_compare(self.json_text(loc), path.case_exact, false, *op, value)
            }
            // Stored dateTimes are JSON text: compared as text, with the literal as the client wrote it.
            Comparison::DateTime { op, value } => self.text_compare(
                self.json_text(loc),
                path.case_exact,
                false,
                TextOp::Ordering(*op),
                &value.text,
            ),
            Comparison::Boolean { value, .. } => self.json_is_bool(loc, *value),
            Comparison::Number { op, value } => {
                let n = value
                    .as_f64()
                    .ok_or_else(|| invalid(format!("{} must be compared with a number", display(path))))?;
                Frag::new()
                    .sql("(")
                    .frag(self.json_number(loc))
                    .sql(ordering_op(*op))
                    .bind(BindValue::Double(n))
                    .sql(")")
            }
        })
    }

    /// The value as SQL text (SQLite: the SQL value json_extract yields).
    pub(super) fn json_text(&self, loc: &JsonLoc) -> SqlFrag<Text> {
        match self.dialect {
            Dialect::Sqlite => SqlFrag::new().sql("json_extract").frag(loc.sqlite_args()),
            Dialect::Postgres => SqlFrag::new().sql("(").frag(loc.pg_value()).sql(" #>> '{}')"),
        }
    }

    /// The value as a number, NULL when it is not a JSON number.
    pub(super) fn json_number(&self, loc: &JsonLoc) -> SqlFrag<Text> {
        match self.dialect {
            Dialect::Sqlite => SqlFrag::new()
                .sql("(CASE WHEN json_type")
                .frag(loc.sqlite_args())
                .sql(" IN ('integer', 'real') THEN json_extract")
                .frag(loc.sqlite_args())
                .sql(" END)"),
            Dialect::Postgres => SqlFrag::new()
                .sql("(CASE WHEN jsonb_typeof")
                .frag(loc.pg_value())
                .sql(" = 'number' THEN (")
                .frag(loc.pg_value())
                .sql(")::float8 END)"),
        }
    }

    /// TRUE when the JSON value is the boolean `b`.
    fn json_is_bool(&self, loc: &JsonLoc, b: bool) -> Frag {
        match self.dialect {
            Dialect::Sqlite => SqlFrag::new()
                .sql("(json_type")
                .frag(loc.sqlite_args())
                .sql(if b { " = 'true')" } else { " = 'false')" }),
            Dialect::Postgres => SqlFrag::new().sql("(").frag(loc.pg_value()).sql(if b {
                " = 'true'::jsonb)"
            } else {
                " = 'false'::jsonb)"
            }),
        }
    }

    /// `pr`: present and not null, "", [] or {}.
    pub(super) fn json_present(&self, loc: &JsonLoc) -> Frag {
        match self.dialect {
            Dialect::Sqlite => {
                let t = || SqlFrag::<Text>::new().sql("json_type").frag(loc.sqlite_args());
                let v = || SqlFrag::<Text>::new().sql("json_extract").frag(loc.sqlite_args());
                Frag::new()
                    .sql("(COALESCE(")
                    .frag(t())
                    .sql(" <> 'null', FALSE) AND NOT ((")
                    .frag(t())
                    .sql(" = 'text' AND ")
                    .frag(v())
                    .sql(" = '') OR (")
                    .frag(t())
                    .sql(" = 'array' AND ")
                    .frag(v())
                    .sql(" = '[]') OR (")
                    .frag(t())
                    .sql(" = 'object' AND ")
                    .frag(v())
                    .sql(" = '{}')))")
            }
            Dialect::Postgres => Frag::new()
                .sql("COALESCE(")
                .frag(loc.pg_value())
                .sql(" NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb), FALSE)"),
        }
    }

    /// TRUE when the top-level attribute of `path` is a JSON object.
    pub(super) fn json_is_object(&self, path: &ResolvedPath) -> Result<Frag, StorageError> {
        let object = JsonLoc::Doc(self.doc_keys(path, false)?);
        Ok(match self.dialect {
            Dialect::Sqlite => Frag::new()
                .sql("COALESCE(json_type")
                .frag(object.sqlite_args())
                .sql(" = 'object', FALSE)"),
            Dialect::Postgres => Frag::new()
                .sql("COALESCE(jsonb_typeof")
                .frag(object.pg_value())
                .sql(" = 'object', FALSE)"),
        })
    }

    /// TRUE when some element of the array at the top-level attribute of `path` satisfies `inner`, which
    /// reads the element as `e`. A missing or non-array attribute has no elements.
    pub(super) fn exists_elements(&self, path: &ResolvedPath, inner: Frag) -> Result<Frag, StorageError> {
        let array = JsonLoc::Doc(self.doc_keys(path, false)?);
        Ok(match self.dialect {
            Dialect::Sqlite => Frag::new()
                .sql("(COALESCE(json_type")
                .frag(array.sqlite_args())
                .sql(" = 'array', FALSE) AND EXISTS (SELECT 1 FROM json_each")
                .frag(array.sqlite_args())
                .sql(" AS e WHERE ")
                .frag(inner)
                .sql("))"),
            Dialect::Postgres => Frag::new()
                .sql("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof")
                .frag(array.pg_value())
                .sql(" = 'array' THEN ")
                .frag(array.pg_value())
                .sql(" ELSE '[]'::jsonb END) AS e(v) WHERE ")
                .frag(inner)
                .sql(")"),
        })
    }
}
