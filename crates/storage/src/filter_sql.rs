//! Compiles a resolved SCIM filter (RFC 7644 §3.4.2.2) and a `sortBy` path into SQL, per dialect.
//!
//! Strategy:
//! - The match over [`ResolvedFilter`] and [`Comparison`] is exhaustive (no `_ =>`), so a new operator
//!   cannot be skipped silently. Comparisons arrive typed by their attribute, so there is no operator/type
//!   mismatch left to refuse; anything else that cannot be compiled is `Scim(InvalidFilter)` (a 400),
//!   never a 500.
//! - Attributes IdPs match on use the indexed shadow columns: `id`, `userName` (`user_name_lower`),
//!   `displayName` (`display_name_lower`), `externalId`, `active`, `meta.created`, `meta.lastModified`,
//!   `meta.resourceType`, and the Entra form `emails[type eq "work" and value eq "x"]`
//!   (`work_email_lower`, which holds the primary, else the first, work email). Group `members` (and a
//!   User's `groups`) are matched in `group_members`.
//! - Everything else is read from the JSON document: SQLite `json_extract`/`json_type`/`json_each`,
//!   PostgreSQL `document::jsonb` with `->`/`->>` and `jsonb_array_elements`. Every JSON key and every
//!   literal is a **bound parameter**; SQL text only ever comes from constants here.
//! - Semantics: a multi-valued attribute matches when any element matches. Case-insensitive strings
//!   compare with both sides lowered (Rust's `to_lowercase` for shadow columns; the database's `lower`
//!   for JSON values, a Unicode-aware `scim_lower` registered on SQLite connections). `co`/`sw`/`ew` are
//!   `LIKE` with `%`, `_` and `\` escaped (`LIKE` is case-sensitive on both backends). Ordering compares
//!   use byte order on both backends (`COLLATE "C"` on PostgreSQL). Numbers compare numerically (as
//!   doubles), booleans only with `eq`/`ne`; `dateTime` document values compare as ISO 8601 strings
//!   (scim-core's evaluator compares instants: equal for values in one canonical format), indexed times as
//!   timestamps. `pr` means present and not null, `""`, `[]` or `{}` (on a multi-valued attribute: some
//!   element is); the resolver has already turned `eq null` into `not pr` and `ne null` into `pr`. As in
//!   `scim_core::filter::matches`, `ne` is exactly `not eq` (true when the attribute is missing; on a
//!   multi-valued attribute "no value equals"), and `not` is true when its operand is false or unknown
//!   (`NOT COALESCE(x, FALSE)`).
//! - Sorting uses the indexed column when there is one, else the JSON value (the first element of a
//!   multi-valued attribute); ascending puts missing values last, descending first.

use chrono::NaiveDateTime;
use diesel::sql_types::{Bool, Text};
use scim_core::filter::{Comparison, OrderingOp, ResolvedFilter, ResolvedPath, SubstringOp, TextOp};
use scim_core::schema::AttributeType;
use scim_core::{ResourceKind, ScimError};

use crate::connection::Dialect;
use crate::error::StorageError;
use crate::sql::{BindValue, SqlFrag, like_escape};

/// Deepest nesting compiled (the resolver has its own, smaller budget).
const MAX_DEPTH: usize = 64;

type Frag = SqlFrag<Bool>;

fn invalid(msg: impl Into<String>) -> StorageError {
    ScimError::InvalidFilter(msg.into()).into()
}

/// Compiles `filter` into a boolean SQL expression over the `resources` table.
///
/// The lookups IdPs send on every object (one comparison on an indexed column, or Entra's work-email
/// value path) compile to SQL texts from a small fixed set, so they are marked cacheable and their
/// prepared statements are reused; any other shape stays uncached, so filters a client composes cannot
/// grow the per-connection statement cache.
pub(crate) fn compile(
    dialect: Dialect,
    kind: ResourceKind,
    filter: &ResolvedFilter,
) -> Result<SqlFrag<Bool>, StorageError> {
    let compiler = Compiler { dialect, kind };
    let frag = compiler.filter(filter, Scope::Resource, 0)?;
    Ok(if compiler.is_index_lookup(filter) {
        frag.cacheable()
    } else {
        frag
    })
}

/// An `ORDER BY` item (expression and direction) for `sortBy`.
pub(crate) fn sort_key(
    dialect: Dialect,
    kind: ResourceKind,
    path: &ResolvedPath,
    descending: bool,
) -> Result<SqlFrag<Text>, StorageError> {
    let c = Compiler { dialect, kind };
    let collate = c.byte_order();
    let mut key = match c.indexed(path) {
        Some(Indexed::Text { column, lowered }) => {
            let mut f = SqlFrag::new().sql(column);
            if !lowered && !path.case_exact {
                f = c.lower(f);
            }
            f.sql(collate)
        }
        Some(Indexed::Bool(column) | Indexed::Time(column)) => SqlFrag::new().sql(column),
        Some(Indexed::Unsupported(what)) => return Err(invalid(format!("cannot sort by {what}"))),
        None => {
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
                    text.sql(collate)
                }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Paths are resolved against the resource row.
    Resource,
    /// Inside `attr[...]` over JSON array elements (alias `e`).
    Element,
    /// Inside `members[...]` / `groups[...]` over `group_members` (alias `gm`).
    Membership(Membership),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    /// A Group's `members`: rows where the group is this resource.
    Members,
    /// A User's `groups`: rows where the member is this resource.
    Groups,
}

/// An indexed column standing for an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indexed {
    /// A text column; `lowered` when it holds the Rust-lowercased value.
    Text {
        column: &'static str,
        lowered: bool,
    },
    Bool(&'static str),
    Time(&'static str),
    /// An attribute that exists but is not stored where SQL can see it.
    Unsupported(&'static str),
}

/// Where a JSON value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum JsonLoc {
    /// In the resource document, under these keys.
    Doc(Vec<String>),
    /// In the current array element, under this key.
    ElemSub(String),
    /// The current array element itself.
    ElemSelf,
    /// In the first element of the array under `array` keys, under `sub` if given (sorting).
    DocFirst { array: Vec<String>, sub: Option<String> },
}

#[derive(Debug, Clone, Copy)]
struct Compiler {
    dialect: Dialect,
    kind: ResourceKind,
}

impl Compiler {
    fn filter(&self, f: &ResolvedFilter, scope: Scope, depth: usize) -> Result<Frag, StorageError> {
        if depth > MAX_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        match f {
            ResolvedFilter::Compare { path, comparison } => self.compare(path, comparison, scope),
            ResolvedFilter::Present(path) => self.present(path, scope),
            ResolvedFilter::Not(inner) => Ok(Frag::new()
                .sql("(NOT COALESCE(")
                .frag(self.filter(inner, scope, depth + 1)?)
                .sql(", FALSE))")),
            ResolvedFilter::And(a, b) => Ok(Frag::new()
                .sql("(")
                .frag(self.filter(a, scope, depth + 1)?)
                .sql(" AND ")
                .frag(self.filter(b, scope, depth + 1)?)
                .sql(")")),
            ResolvedFilter::Or(a, b) => Ok(Frag::new()
                .sql("(")
                .frag(self.filter(a, scope, depth + 1)?)
                .sql(" OR ")
                .frag(self.filter(b, scope, depth + 1)?)
                .sql(")")),
            ResolvedFilter::ValuePath { path, filter } => {
                if scope != Scope::Resource {
                    return Err(invalid("value filters cannot be nested"));
                }
                if let Some(frag) = self.work_email(path, filter) {
                    return Ok(frag);
                }
                if let Some(m) = self.membership(path) {
                    let inner = self.filter(filter, Scope::Membership(m), depth + 1)?;
                    return Ok(self.exists_membership(m, inner));
                }
                if !path.multi_valued {
                    // RFC 7644 allows `attr[filter]` on complex single-valued attributes too: test the object.
                    return self.single_complex_value_path(path, filter, depth);
                }
                let inner = self.filter(filter, Scope::Element, depth + 1)?;
                self.exists_elements(path, inner)
            }
        }
    }

    // ----- paths -------------------------------------------------------------------------------

    /// The indexed column for a top-level path, if there is one.
    fn indexed(&self, path: &ResolvedPath) -> Option<Indexed> {
        if !path.is_core {
            return None;
        }
        let user = self.kind == ResourceKind::User;
        match (path.attr.as_str(), path.sub.as_deref()) {
            ("id", None) => Some(Indexed::Text {
                column: "resources.id",
                lowered: false,
            }),
            ("userName", None) if user => Some(Indexed::Text {
                column: "resources.user_name_lower",
                lowered: true,
            }),
            ("displayName", None) if !path.case_exact => Some(Indexed::Text {
                column: "resources.display_name_lower",
                lowered: true,
            }),
            ("externalId", None) => Some(Indexed::Text {
                column: "resources.external_id",
                lowered: false,
            }),
            ("active", None) if user && path.attr_type == AttributeType::Boolean => {
                Some(Indexed::Bool("resources.active"))
            }
            ("meta", Some("created")) => Some(Indexed::Time("resources.created_at")),
            ("meta", Some("lastModified")) => Some(Indexed::Time("resources.last_modified")),
            ("meta", Some("resourceType")) => Some(Indexed::Text {
                column: "resources.resource_type",
                lowered: false,
            }),
            ("meta", Some("version")) => Some(Indexed::Unsupported("meta.version")),
            ("meta", Some("location")) => Some(Indexed::Unsupported("meta.location")),
            _ => None,
        }
    }

    /// One comparison on an indexed column, or Entra's `emails[type eq "work" and value eq "..."]`; also a
    /// presence test on an indexed column and its negation, which is what `eq null` / `ne null` on one
    /// resolve to.
    fn is_index_lookup(&self, filter: &ResolvedFilter) -> bool {
        let is_column = |path| {
            matches!(
                self.indexed(path),
                Some(Indexed::Text { .. } | Indexed::Bool(_) | Indexed::Time(_))
            )
        };
        match filter {
            ResolvedFilter::Compare { path, comparison } => {
                self.column_comparison(path, comparison).is_some()
            }
            ResolvedFilter::Present(path) => is_column(path),
            ResolvedFilter::Not(inner) => {
                matches!(&**inner, ResolvedFilter::Present(path) if is_column(path))
            }
            ResolvedFilter::ValuePath { path, filter } => self.work_email(path, filter).is_some(),
            ResolvedFilter::And(..) | ResolvedFilter::Or(..) => false,
        }
    }

    fn membership(&self, path: &ResolvedPath) -> Option<Membership> {
        if !path.is_core {
            return None;
        }
        match (self.kind, path.attr.as_str()) {
            (ResourceKind::Group, "members") => Some(Membership::Members),
            (ResourceKind::User, "groups") => Some(Membership::Groups),
            _ => None,
        }
    }

    /// JSON keys of a path in the document: `[urn], attr[, sub]` (the sub only when asked).
    fn doc_keys(&self, path: &ResolvedPath, with_sub: bool) -> Result<Vec<String>, StorageError> {
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
    fn json_loc(&self, path: &ResolvedPath, scope: Scope) -> Result<JsonLoc, StorageError> {
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

    // ----- JSON access per dialect ---------------------------------------------------------------

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

    /// SQLite: `(<json source>, <path>)` arguments for `json_extract` / `json_type`.
    fn sqlite_args(loc: &JsonLoc) -> SqlFrag<Text> {
        match loc {
            JsonLoc::Doc(keys) => SqlFrag::new()
                .sql("(resources.document, ")
                .text(Self::sqlite_path(keys))
                .sql(")"),
            // The element's own path inside the document, extended by the sub-attribute: never fails on
            // non-object elements (json_extract on them would).
            JsonLoc::ElemSub(sub) => SqlFrag::new()
                .sql("(resources.document, e.fullkey || ")
                .text(format!(".\"{sub}\""))
                .sql(")"),
            JsonLoc::ElemSelf => SqlFrag::new().sql("(resources.document, e.fullkey)"),
            JsonLoc::DocFirst { array, sub } => {
                let mut p = Self::sqlite_path(array);
                p.push_str("[0]");
                if let Some(sub) = sub {
                    p.push_str(&format!(".\"{sub}\""));
                }
                SqlFrag::new().sql("(resources.document, ").text(p).sql(")")
            }
        }
    }

    /// PostgreSQL: the jsonb value at `loc`.
    fn pg_json(loc: &JsonLoc) -> SqlFrag<Text> {
        match loc {
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

    /// The value as SQL text (SQLite: the SQL value json_extract yields).
    fn json_text(&self, loc: &JsonLoc) -> SqlFrag<Text> {
        match self.dialect {
            Dialect::Sqlite => SqlFrag::new().sql("json_extract").frag(Self::sqlite_args(loc)),
            Dialect::Postgres => SqlFrag::new().sql("(").frag(Self::pg_json(loc)).sql(" #>> '{}')"),
        }
    }

    /// The value as a number, NULL when it is not a JSON number.
    fn json_number(&self, loc: &JsonLoc) -> SqlFrag<Text> {
        match self.dialect {
            Dialect::Sqlite => SqlFrag::new()
                .sql("(CASE WHEN json_type")
                .frag(Self::sqlite_args(loc))
                .sql(" IN ('integer', 'real') THEN json_extract")
                .frag(Self::sqlite_args(loc))
                .sql(" END)"),
            Dialect::Postgres => SqlFrag::new()
                .sql("(CASE WHEN jsonb_typeof")
                .frag(Self::pg_json(loc))
                .sql(" = 'number' THEN (")
                .frag(Self::pg_json(loc))
                .sql(")::float8 END)"),
        }
    }

    /// TRUE when the JSON value is the boolean `b`.
    fn json_is_bool(&self, loc: &JsonLoc, b: bool) -> Frag {
        match self.dialect {
            Dialect::Sqlite => SqlFrag::new()
                .sql("(json_type")
                .frag(Self::sqlite_args(loc))
                .sql(if b { " = 'true')" } else { " = 'false')" }),
            Dialect::Postgres => SqlFrag::new().sql("(").frag(Self::pg_json(loc)).sql(if b {
                " = 'true'::jsonb)"
            } else {
                " = 'false'::jsonb)"
            }),
        }
    }

    /// `pr`: present and not null, "", [] or {}.
    fn json_present(&self, loc: &JsonLoc) -> Frag {
        match self.dialect {
            Dialect::Sqlite => {
                let t = || {
                    SqlFrag::<Text>::new()
                        .sql("json_type")
                        .frag(Self::sqlite_args(loc))
                };
                let v = || {
                    SqlFrag::<Text>::new()
                        .sql("json_extract")
                        .frag(Self::sqlite_args(loc))
                };
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
                .frag(Self::pg_json(loc))
                .sql(" NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb), FALSE)"),
        }
    }

    /// The collation that orders text by bytes, as SQLite does by default.
    fn byte_order(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => " COLLATE \"C\"",
            Dialect::Sqlite => "",
        }
    }

    fn lower<T>(&self, f: SqlFrag<T>) -> SqlFrag<T> {
        let func = match self.dialect {
            Dialect::Sqlite => "scim_lower(",
            Dialect::Postgres => "lower(",
        };
        SqlFrag::new().sql(func).frag(f).sql(")")
    }

    // ----- EXISTS over elements / memberships --------------------------------------------------------

    fn exists_elements(&self, path: &ResolvedPath, inner: Frag) -> Result<Frag, StorageError> {
        let array = JsonLoc::Doc(self.doc_keys(path, false)?);
        Ok(match self.dialect {
            Dialect::Sqlite => Frag::new()
                .sql("(COALESCE(json_type")
                .frag(Self::sqlite_args(&array))
                .sql(" = 'array', FALSE) AND EXISTS (SELECT 1 FROM json_each")
                .frag(Self::sqlite_args(&array))
                .sql(" AS e WHERE ")
                .frag(inner)
                .sql("))"),
            Dialect::Postgres => Frag::new()
                .sql("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof")
                .frag(Self::pg_json(&array))
                .sql(" = 'array' THEN ")
                .frag(Self::pg_json(&array))
                .sql(" ELSE '[]'::jsonb END) AS e(v) WHERE ")
                .frag(inner)
                .sql(")"),
        })
    }

    fn exists_membership(&self, m: Membership, inner: Frag) -> Frag {
        let join = match m {
            Membership::Members => {
                "EXISTS (SELECT 1 FROM group_members gm WHERE gm.tenant_id = resources.tenant_id \
                 AND gm.group_id = resources.id AND "
            }
            Membership::Groups => {
                "EXISTS (SELECT 1 FROM group_members gm WHERE gm.tenant_id = resources.tenant_id \
                 AND gm.member_id = resources.id AND "
            }
        };
        Frag::new().sql(join).frag(inner).sql(")")
    }

    /// `attr[filter]` on a single-valued complex attribute: the filter applied to that object.
    fn single_complex_value_path(
        &self,
        path: &ResolvedPath,
        filter: &ResolvedFilter,
        depth: usize,
    ) -> Result<Frag, StorageError> {
        // Inner paths are absolute (attr + sub), so they compile against the resource as they are; the
        // attribute itself must be there (an object), as for `matches`, where a missing one has no element.
        let object = JsonLoc::Doc(self.doc_keys(path, false)?);
        let is_object = match self.dialect {
            Dialect::Sqlite => Frag::new()
                .sql("COALESCE(json_type")
                .frag(Self::sqlite_args(&object))
                .sql(" = 'object', FALSE)"),
            Dialect::Postgres => Frag::new()
                .sql("COALESCE(jsonb_typeof")
                .frag(Self::pg_json(&object))
                .sql(" = 'object', FALSE)"),
        };
        Ok(Frag::new()
            .sql("(")
            .frag(is_object)
            .sql(" AND ")
            .frag(self.filter(filter, Scope::Resource, depth + 1)?)
            .sql(")"))
    }

    /// Entra's `emails[type eq "work" and value eq "x"]` on the indexed work email.
    fn work_email(&self, path: &ResolvedPath, filter: &ResolvedFilter) -> Option<Frag> {
        if self.kind != ResourceKind::User || !path.is_core || path.attr != "emails" {
            return None;
        }
        let ResolvedFilter::And(a, b) = filter else {
            return None;
        };
        let is = |f: &ResolvedFilter, sub: &str| -> Option<String> {
            match f {
                ResolvedFilter::Compare {
                    path,
                    comparison:
                        Comparison::Text {
                            op: TextOp::Ordering(OrderingOp::Eq),
                            value,
                        },
                } if path.sub.as_deref() == Some(sub) && !path.case_exact => Some(value.clone()),
                _ => None,
            }
        };
        let (ty, value) = match (is(a, "type"), is(b, "value")) {
            (Some(t), Some(v)) => (t, v),
            _ => (is(b, "type")?, is(a, "value")?),
        };
        if !ty.eq_ignore_ascii_case("work") {
            return None;
        }
        Some(
            Frag::new()
                .sql("resources.work_email_lower = ")
                .text(value.to_lowercase()),
        )
    }

    // ----- membership columns ---------------------------------------------------------------------

    fn membership_column(&self, m: Membership, path: &ResolvedPath) -> Result<&'static str, StorageError> {
        match (m, path.sub.as_deref()) {
            (Membership::Members, Some("value")) => Ok("gm.member_id"),
            (Membership::Members, Some("type")) => Ok("gm.member_type"),
            (Membership::Members, Some("display")) => {
                Ok("(SELECT COALESCE(m.display_name, m.user_name) FROM resources m \
                 WHERE m.tenant_id = gm.tenant_id AND m.id = gm.member_id)")
            }
            (Membership::Groups, Some("value")) => Ok("gm.group_id"),
            (Membership::Groups, Some("display")) => Ok(
                "(SELECT m.display_name FROM resources m WHERE m.tenant_id = gm.tenant_id AND m.id = gm.group_id)",
            ),
            (_, Some("type")) => Ok("'direct'"),
            (_, other) => Err(invalid(format!(
                "{}{} cannot be filtered",
                path.attr,
                other.map(|s| format!(".{s}")).unwrap_or_default()
            ))),
        }
    }

    // ----- pr ------------------------------------------------------------------------------------

    fn present(&self, path: &ResolvedPath, scope: Scope) -> Result<Frag, StorageError> {
        match scope {
            Scope::Resource => {
                if let Some(m) = self.membership(path) {
                    return match &path.sub {
                        None => Ok(self.exists_membership(m, Frag::new().sql("TRUE"))),
                        Some(_) => {
                            let col = self.membership_column(m, path)?;
                            Ok(self.exists_membership(m, Frag::new().sql(col).sql(" IS NOT NULL")))
                        }
                    };
                }
                match self.indexed(path) {
                    Some(Indexed::Text { column, .. }) => {
                        Ok(Frag::new().sql("COALESCE(").sql(column).sql(" <> '', FALSE)"))
                    }
                    Some(Indexed::Bool(column) | Indexed::Time(column)) => {
                        Ok(Frag::new().sql(column).sql(" IS NOT NULL"))
                    }
                    Some(Indexed::Unsupported(_)) => Ok(Frag::new().sql("TRUE")),
                    None if path.multi_valued => {
                        let inner = self.json_present(&self.json_loc(path, Scope::Element)?);
                        self.exists_elements(path, inner)
                    }
                    None => Ok(self.json_present(&self.json_loc(path, scope)?)),
                }
            }
            Scope::Element => Ok(self.json_present(&self.json_loc(path, scope)?)),
            Scope::Membership(m) => {
                let col = self.membership_column(m, path)?;
                Ok(Frag::new().sql(col).sql(" IS NOT NULL"))
            }
        }
    }

    // ----- comparisons ---------------------------------------------------------------------------

    fn compare(
        &self,
        path: &ResolvedPath,
        comparison: &Comparison,
        scope: Scope,
    ) -> Result<Frag, StorageError> {
        if let Comparison::Text { value, .. } = comparison
            && value.contains('\0')
        {
            return Err(invalid("filter values must not contain NUL characters"));
        }
        let cmp = match scope {
            Scope::Resource => {
                if let Some(m) = self.membership(path) {
                    let cmp = self.membership_compare(m, path, comparison)?;
                    self.exists_membership(m, cmp)
                } else if let Some(column) = self.column_comparison(path, comparison) {
                    self.column_compare(column, path.case_exact)
                } else if let Some(Indexed::Unsupported(what)) = self.indexed(path) {
                    return Err(invalid(format!("{what} cannot be filtered")));
                } else if path.multi_valued {
                    let inner = self.json_compare(&self.json_loc(path, Scope::Element)?, path, comparison)?;
                    self.exists_elements(path, inner)?
                } else {
                    self.json_compare(&self.json_loc(path, scope)?, path, comparison)?
                }
            }
            Scope::Element => self.json_compare(&self.json_loc(path, scope)?, path, comparison)?,
            Scope::Membership(m) => self.membership_compare(m, path, comparison)?,
        };
        // `ne` is exactly `not eq`, as in scim-core's evaluator: everything above compiles `ne` as `=`, and
        // negating the whole makes it true when the attribute is missing (NULL) and, on a multi-valued
        // attribute, mean "no value equals" rather than "some value differs".
        Ok(if comparison.is_ne() { not_true(cmp) } else { cmp })
    }

    /// `comparison` on `path`'s indexed column, if it has one of the comparison's type. The resolver types
    /// every comparison by its attribute, and each column holds its attribute's type, so a core attribute's
    /// comparison never misses its column.
    fn column_comparison<'c>(
        &self,
        path: &ResolvedPath,
        comparison: &'c Comparison,
    ) -> Option<ColumnComparison<'c>> {
        match (self.indexed(path)?, comparison) {
            (Indexed::Text { column, lowered }, Comparison::Text { op, value }) => {
                Some(ColumnComparison::Text {
                    column,
                    lowered,
                    op: *op,
                    value,
                })
            }
            (Indexed::Bool(column), Comparison::Boolean { value, .. }) => Some(ColumnComparison::Bool {
                column,
                value: *value,
            }),
            (Indexed::Time(column), Comparison::DateTime { op, value }) => Some(ColumnComparison::Time {
                column,
                op: *op,
                value: crate::to_db_time(value.instant.to_utc()),
            }),
            (
                Indexed::Text { .. },
                Comparison::Number { .. } | Comparison::Boolean { .. } | Comparison::DateTime { .. },
            )
            | (
                Indexed::Bool(_),
                Comparison::Text { .. } | Comparison::Number { .. } | Comparison::DateTime { .. },
            )
            | (
                Indexed::Time(_),
                Comparison::Text { .. } | Comparison::Number { .. } | Comparison::Boolean { .. },
            )
            | (Indexed::Unsupported(_), _) => None,
        }
    }

    fn column_compare(&self, comparison: ColumnComparison<'_>, case_exact: bool) -> Frag {
        match comparison {
            ColumnComparison::Text {
                column,
                lowered,
                op,
                value,
            } => self.text_compare(
                SqlFrag::new().sql(column),
                case_exact && !lowered,
                lowered,
                op,
                value,
            ),
            ColumnComparison::Bool { column, value } => Frag::new()
                .sql("(")
                .sql(column)
                .sql(" = ")
                .bind(BindValue::Bool(value))
                .sql(")"),
            ColumnComparison::Time { column, op, value } => Frag::new()
                .sql("(")
                .sql(column)
                .sql(ordering_op(op))
                .bind(BindValue::Timestamp(value))
                .sql(")"),
        }
    }

    fn json_compare(
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

    /// A comparison on a `group_members` column, all of which hold text (as do the sub-attributes of
    /// `members` and `groups` they stand for).
    fn membership_compare(
        &self,
        m: Membership,
        path: &ResolvedPath,
        comparison: &Comparison,
    ) -> Result<Frag, StorageError> {
        let col = self.membership_column(m, path)?;
        match comparison {
            Comparison::Text { op, value } => {
                Ok(self.text_compare(SqlFrag::new().sql(col), true, false, *op, value))
            }
            Comparison::Number { .. } | Comparison::Boolean { .. } | Comparison::DateTime { .. } => {
                Err(invalid(format!(
                    "{} holds text and can only be compared with a string",
                    display(path)
                )))
            }
        }
    }

    /// Compares a text expression. `lowered`: the expression already holds a Rust-lowercased value, so
    /// the literal is lowercased in Rust; otherwise a case-insensitive compare lowers both sides in SQL.
    /// `ne` compiles as `=` ([`Self::compare`] negates it).
    fn text_compare(
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
                // Equality needs no collation; ordering is by bytes on both backends.
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
}

/// A comparison an indexed column answers, in the column's terms.
#[derive(Debug, Clone, Copy)]
enum ColumnComparison<'c> {
    Text {
        column: &'static str,
        lowered: bool,
        op: TextOp,
        value: &'c str,
    },
    Bool {
        column: &'static str,
        value: bool,
    },
    Time {
        column: &'static str,
        op: OrderingOp,
        value: NaiveDateTime,
    },
}

/// `NOT COALESCE(f, FALSE)`: true when `f` is false or unknown (missing attribute).
fn not_true(f: Frag) -> Frag {
    Frag::new().sql("(NOT COALESCE(").frag(f).sql(", FALSE))")
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

/// The SQL operator of an ordering or equality compare; `ne` is `=` under the negation
/// [`Compiler::compare`] adds.
fn ordering_op(op: OrderingOp) -> &'static str {
    match op {
        OrderingOp::Eq | OrderingOp::Ne => " = ",
        OrderingOp::Gt => " > ",
        OrderingOp::Ge => " >= ",
        OrderingOp::Lt => " < ",
        OrderingOp::Le => " <= ",
    }
}

fn display(path: &ResolvedPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.attr),
        None => path.attr.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(
        attr: &str,
        sub: Option<&str>,
        attr_type: AttributeType,
        case_exact: bool,
        multi: bool,
    ) -> ResolvedPath {
        ResolvedPath {
            schema: scim_core::schema::USER_SCHEMA.to_owned(),
            is_core: true,
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
            attr_type,
            case_exact,
            multi_valued: multi,
        }
    }

    /// What the compiler itself refuses (operator/type mismatches cannot be written in the typed resolved
    /// form; the resolver refuses them, see scim-core's `resolve.rs`): a 400 `invalidFilter`, never a 500.
    #[test]
    fn refused_filters_are_invalid_filter_not_internal() {
        let c = Compiler {
            dialect: Dialect::Sqlite,
            kind: ResourceKind::User,
        };
        let text = |path, value: &str| ResolvedFilter::Compare {
            path,
            comparison: Comparison::Text {
                op: TextOp::Ordering(OrderingOp::Eq),
                value: value.to_owned(),
            },
        };
        let emails = path("emails", None, AttributeType::Complex, false, true);
        let cases = [
            (
                text(
                    path("userName", None, AttributeType::String, false, false),
                    "a\0b",
                ),
                "filter values must not contain NUL characters",
            ),
            (
                text(
                    path("meta", Some("version"), AttributeType::String, true, false),
                    "W/\"1\"",
                ),
                "meta.version cannot be filtered",
            ),
            (
                ResolvedFilter::ValuePath {
                    path: emails.clone(),
                    filter: Box::new(ResolvedFilter::ValuePath {
                        path: emails,
                        filter: Box::new(ResolvedFilter::Present(path(
                            "emails",
                            Some("value"),
                            AttributeType::String,
                            false,
                            true,
                        ))),
                    }),
                },
                "value filters cannot be nested",
            ),
        ];
        for (f, detail) in cases {
            let err = c.filter(&f, Scope::Resource, 0).unwrap_err();
            assert!(
                matches!(&err, StorageError::Scim(ScimError::InvalidFilter(d)) if d == detail),
                "{f:?}: {err:?}"
            );
        }
    }

    #[test]
    fn user_strings_are_bound_never_interpolated() {
        let c = Compiler {
            dialect: Dialect::Postgres,
            kind: ResourceKind::User,
        };
        let f = ResolvedFilter::Compare {
            path: path("title", None, AttributeType::String, false, false),
            comparison: Comparison::Text {
                op: TextOp::Ordering(OrderingOp::Eq),
                value: "'; DROP TABLE resources; --".into(),
            },
        };
        let frag = c.filter(&f, Scope::Resource, 0).unwrap();
        let debug = format!("{frag:?}");
        assert!(
            debug.contains("Bind(Text(\"'; DROP TABLE resources; --\"))"),
            "{debug}"
        );
    }
}
