//! Compiles a resolved SCIM filter (RFC 7644 §3.4.2.2) and a `sortBy` path into SQL, per dialect.
//!
//! Strategy:
//! - The match over [`ResolvedFilter`] and [`CompareOp`] is exhaustive (no `_ =>`), so a new operator
//!   cannot be skipped silently. Anything that cannot be compiled is `Scim(InvalidFilter)` (a 400), never
//!   a 500.
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
//!   element is); `eq null` is "not present", `ne null` is `pr`. As in `scim_core::filter::matches`, `ne`
//!   is exactly `not eq` (true when the attribute is missing; on a multi-valued attribute "no value
//!   equals"), and `not` is true when its operand is false or unknown (`NOT COALESCE(x, FALSE)`).
//! - Sorting uses the indexed column when there is one, else the JSON value (the first element of a
//!   multi-valued attribute); ascending puts missing values last, descending first.

use chrono::{DateTime, NaiveDateTime};
use diesel::sql_types::{Bool, Text};
use scim_core::filter::{CompValue, CompareOp, ResolvedFilter, ResolvedPath};
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
    let collate = match dialect {
        Dialect::Postgres => " COLLATE \"C\"",
        Dialect::Sqlite => "",
    };
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
            ResolvedFilter::Compare { path, op, value } => self.compare(path, *op, value, scope),
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

    /// One comparison on an indexed column, or Entra's `emails[type eq "work" and value eq "..."]`.
    fn is_index_lookup(&self, filter: &ResolvedFilter) -> bool {
        match filter {
            ResolvedFilter::Compare { path, .. } => matches!(
                self.indexed(path),
                Some(Indexed::Text { .. } | Indexed::Bool(_) | Indexed::Time(_))
            ),
            ResolvedFilter::ValuePath { path, filter } => self.work_email(path, filter).is_some(),
            ResolvedFilter::Present(_)
            | ResolvedFilter::Not(_)
            | ResolvedFilter::And(..)
            | ResolvedFilter::Or(..) => false,
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
                    op: CompareOp::Eq,
                    value: CompValue::String(s),
                } if path.sub.as_deref() == Some(sub) && !path.case_exact => Some(s.clone()),
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
        op: CompareOp,
        value: &CompValue,
        scope: Scope,
    ) -> Result<Frag, StorageError> {
        // `eq null` / `ne null`: absence / presence.
        if let CompValue::Null = value {
            let present = self.present(path, scope)?;
            return match op {
                CompareOp::Eq => Ok(Frag::new().sql("(NOT ").frag(present).sql(")")),
                CompareOp::Ne => Ok(present),
                CompareOp::Co
                | CompareOp::Sw
                | CompareOp::Ew
                | CompareOp::Gt
                | CompareOp::Ge
                | CompareOp::Lt
                | CompareOp::Le => Err(invalid("null can only be compared with eq or ne")),
            };
        }
        if let CompValue::String(s) = value
            && s.contains('\0')
        {
            return Err(invalid("filter values must not contain NUL characters"));
        }
        match scope {
            Scope::Resource => {
                let any_value = path.multi_valued || self.membership(path).is_some();
                if any_value && op == CompareOp::Ne {
                    // `ne` is exactly `not eq` (as in scim-core's evaluator): on a multi-valued attribute it
                    // means "no value equals", not "some value differs".
                    return Ok(not_true(self.compare(path, CompareOp::Eq, value, scope)?));
                }
                if let Some(m) = self.membership(path) {
                    let col = self.membership_column(m, path)?;
                    let cmp = self.text_compare(SqlFrag::new().sql(col), true, false, op, value)?;
                    return Ok(self.exists_membership(m, cmp));
                }
                if let Some(idx) = self.indexed(path) {
                    return self.indexed_compare(idx, path, op, value);
                }
                if path.multi_valued {
                    let inner = self.json_compare(&self.json_loc(path, Scope::Element)?, path, op, value)?;
                    return self.exists_elements(path, inner);
                }
                self.json_compare(&self.json_loc(path, scope)?, path, op, value)
            }
            Scope::Element => self.json_compare(&self.json_loc(path, scope)?, path, op, value),
            Scope::Membership(m) => {
                let col = self.membership_column(m, path)?;
                self.text_compare(SqlFrag::new().sql(col), true, false, op, value)
            }
        }
    }

    fn indexed_compare(
        &self,
        idx: Indexed,
        path: &ResolvedPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<Frag, StorageError> {
        match idx {
            Indexed::Text { column, lowered } => {
                let case_exact = path.case_exact && !lowered;
                self.text_compare(SqlFrag::new().sql(column), case_exact, lowered, op, value)
            }
            Indexed::Bool(column) => self.bool_compare(
                |b| {
                    Frag::new()
                        .sql("(")
                        .sql(column)
                        .sql(" = ")
                        .bind(BindValue::Bool(b))
                        .sql(")")
                },
                op,
                value,
                path,
            ),
            Indexed::Time(column) => {
                let CompValue::String(s) = value else {
                    return Err(invalid(format!(
                        "{} must be compared with a dateTime string",
                        display(path)
                    )));
                };
                let t = parse_time(s)?;
                let sql_op = ordering_op(op).ok_or_else(|| {
                    invalid(format!("{} cannot be used with {}", op_name(op), display(path)))
                })?;
                let cmp = Frag::new()
                    .sql("(")
                    .sql(column)
                    .sql(sql_op)
                    .bind(BindValue::Timestamp(t))
                    .sql(")");
                Ok(if op == CompareOp::Ne { not_true(cmp) } else { cmp })
            }
            Indexed::Unsupported(what) => Err(invalid(format!("{what} cannot be filtered"))),
        }
    }

    fn json_compare(
        &self,
        loc: &JsonLoc,
        path: &ResolvedPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<Frag, StorageError> {
        match path.attr_type {
            AttributeType::String
            | AttributeType::Reference
            | AttributeType::Binary
            | AttributeType::DateTime => {
                self.text_compare(self.json_text(loc), path.case_exact, false, op, value)
            }
            AttributeType::Boolean => self.bool_compare(|b| self.json_is_bool(loc, b), op, value, path),
            AttributeType::Integer | AttributeType::Decimal => {
                let n = match value {
                    CompValue::Number(n) => n.as_f64(),
                    CompValue::String(s) => s.trim().parse::<f64>().ok(),
                    CompValue::Null | CompValue::Bool(_) => None,
                }
                .ok_or_else(|| invalid(format!("{} must be compared with a number", display(path))))?;
                let sql_op = ordering_op(op).ok_or_else(|| {
                    invalid(format!(
                        "{} cannot be used with the number {}",
                        op_name(op),
                        display(path)
                    ))
                })?;
                let cmp = Frag::new()
                    .sql("(")
                    .frag(self.json_number(loc))
                    .sql(sql_op)
                    .bind(BindValue::Double(n))
                    .sql(")");
                Ok(if op == CompareOp::Ne { not_true(cmp) } else { cmp })
            }
            AttributeType::Complex => Err(invalid(format!(
                "the complex attribute {} can only be used with pr or a value filter",
                display(path)
            ))),
        }
    }

    fn bool_compare(
        &self,
        is: impl Fn(bool) -> Frag,
        op: CompareOp,
        value: &CompValue,
        path: &ResolvedPath,
    ) -> Result<Frag, StorageError> {
        let b = match value {
            CompValue::Bool(b) => *b,
            // Entra sends `primary eq "True"`.
            CompValue::String(s) if s.eq_ignore_ascii_case("true") => true,
            CompValue::String(s) if s.eq_ignore_ascii_case("false") => false,
            CompValue::String(_) | CompValue::Number(_) | CompValue::Null => {
                return Err(invalid(format!(
                    "{} must be compared with true or false",
                    display(path)
                )));
            }
        };
        match op {
            CompareOp::Eq => Ok(is(b)),
            CompareOp::Ne => Ok(not_true(is(b))),
            CompareOp::Co
            | CompareOp::Sw
            | CompareOp::Ew
            | CompareOp::Gt
            | CompareOp::Ge
            | CompareOp::Lt
            | CompareOp::Le => Err(invalid(format!(
                "{} cannot be used with the boolean {}",
                op_name(op),
                display(path)
            ))),
        }
    }

    /// Compares a text expression. `lowered`: the expression already holds a Rust-lowercased value, so
    /// the literal is lowercased in Rust; otherwise a case-insensitive compare lowers both sides in SQL.
    fn text_compare(
        &self,
        lhs: SqlFrag<Text>,
        case_exact: bool,
        lowered: bool,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<Frag, StorageError> {
        let literal = match value {
            CompValue::String(s) => s.clone(),
            CompValue::Bool(b) => b.to_string(),
            CompValue::Number(n) => n.to_string(),
            CompValue::Null => return Err(invalid("null cannot be compared here")),
        };
        let (lhs, rhs) = if case_exact {
            (lhs, SqlFrag::<Text>::new().text(literal_for(op, &literal)))
        } else if lowered {
            (
                lhs,
                SqlFrag::<Text>::new().text(literal_for(op, &literal.to_lowercase())),
            )
        } else {
            (
                self.lower(lhs),
                self.lower(SqlFrag::<Text>::new().text(literal_for(op, &literal))),
            )
        };
        let collate = match self.dialect {
            Dialect::Postgres => " COLLATE \"C\"",
            Dialect::Sqlite => "",
        };
        let cmp = match op {
            CompareOp::Eq | CompareOp::Ne => Frag::new().sql("(").frag(lhs).sql(" = ").frag(rhs).sql(")"),
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => Frag::new()
                .sql("(")
                .frag(lhs)
                .sql(" LIKE ")
                .frag(rhs)
                .sql(" ESCAPE '\\')"),
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
                let sql_op = ordering_op(op).unwrap_or(" = ");
                Frag::new()
                    .sql("(")
                    .frag(lhs)
                    .sql(collate)
                    .sql(sql_op)
                    .frag(rhs)
                    .sql(collate)
                    .sql(")")
            }
        };
        Ok(if op == CompareOp::Ne { not_true(cmp) } else { cmp })
    }
}

/// `NOT COALESCE(f, FALSE)`: true when `f` is false or unknown (missing attribute).
fn not_true(f: Frag) -> Frag {
    Frag::new().sql("(NOT COALESCE(").frag(f).sql(", FALSE))")
}

/// The bound literal: a `LIKE` pattern for co/sw/ew, the value itself otherwise.
fn literal_for(op: CompareOp, value: &str) -> String {
    match op {
        CompareOp::Co => format!("%{}%", like_escape(value)),
        CompareOp::Sw => format!("{}%", like_escape(value)),
        CompareOp::Ew => format!("%{}", like_escape(value)),
        CompareOp::Eq | CompareOp::Ne | CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            value.to_owned()
        }
    }
}

/// The SQL operator of an ordering or equality compare (`ne` is compiled as `NOT (=)`).
fn ordering_op(op: CompareOp) -> Option<&'static str> {
    match op {
        CompareOp::Eq | CompareOp::Ne => Some(" = "),
        CompareOp::Gt => Some(" > "),
        CompareOp::Ge => Some(" >= "),
        CompareOp::Lt => Some(" < "),
        CompareOp::Le => Some(" <= "),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => None,
    }
}

fn op_name(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "eq",
        CompareOp::Ne => "ne",
        CompareOp::Co => "co",
        CompareOp::Sw => "sw",
        CompareOp::Ew => "ew",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "ge",
        CompareOp::Lt => "lt",
        CompareOp::Le => "le",
    }
}

fn display(path: &ResolvedPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.attr),
        None => path.attr.clone(),
    }
}

/// An RFC 3339 / xsd:dateTime literal as a UTC timestamp, truncated to what is stored.
fn parse_time(s: &str) -> Result<NaiveDateTime, StorageError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| crate::to_db_time(t.to_utc()))
        .map_err(|e| invalid(format!("{s:?} is not a dateTime: {e}")))
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

    #[test]
    fn unsupported_operator_type_pairs_are_invalid_filter_not_internal() {
        let c = Compiler {
            dialect: Dialect::Sqlite,
            kind: ResourceKind::User,
        };
        let cases = [
            ResolvedFilter::Compare {
                path: path("active", None, AttributeType::Boolean, false, false),
                op: CompareOp::Gt,
                value: CompValue::Bool(true),
            },
            ResolvedFilter::Compare {
                path: path("meta", Some("created"), AttributeType::DateTime, false, false),
                op: CompareOp::Co,
                value: CompValue::String("2020".into()),
            },
            ResolvedFilter::Compare {
                path: path("meta", Some("created"), AttributeType::DateTime, false, false),
                op: CompareOp::Gt,
                value: CompValue::String("yesterday".into()),
            },
            ResolvedFilter::Compare {
                path: path("name", None, AttributeType::Complex, false, false),
                op: CompareOp::Eq,
                value: CompValue::String("x".into()),
            },
            ResolvedFilter::Compare {
                path: path("userName", None, AttributeType::String, false, false),
                op: CompareOp::Eq,
                value: CompValue::String("a\0b".into()),
            },
        ];
        for f in cases {
            let err = c.filter(&f, Scope::Resource, 0).unwrap_err();
            assert!(
                matches!(err, StorageError::Scim(ScimError::InvalidFilter(_))),
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
            op: CompareOp::Eq,
            value: CompValue::String("'; DROP TABLE resources; --".into()),
        };
        let frag = c.filter(&f, Scope::Resource, 0).unwrap();
        let debug = format!("{frag:?}");
        assert!(
            debug.contains("Bind(Text(\"'; DROP TABLE resources; --\"))"),
            "{debug}"
        );
    }
}
