//! Compiles a resolved SCIM filter (RFC 7644 §3.4.2.2) and a `sortBy` path into SQL, per dialect.
//!
//! Strategy:
//! - The match over [`ResolvedFilter`] and [`Comparison`] is exhaustive (no `_ =>`), so a new operator
//!   cannot be skipped silently. Comparisons arrive typed by their attribute, so there is no operator/type
//!   mismatch left to refuse; anything else that cannot be compiled is `Scim(InvalidFilter)` (a 400),
//!   never a 500.
//! - Attributes IdPs match on use the indexed shadow columns declared in [`crate::shadow_columns`]: `id`,
//!   `userName`, `displayName`, `externalId`, `active`, `meta.created`, `meta.lastModified`,
//!   `meta.resourceType`. A User's emails, every element, are matched in `resource_emails` (Entra's
//!   `emails[type eq "work" and value eq "x"]` among them); Group `members` (and a User's `groups`) in
//!   `group_members`.
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
//!
//! Layout: this file holds the entry point, the boolean structure and where each comparison or `pr` is
//! read from; `indexed.rs` the shadow columns, `emails.rs` the email index, `json.rs` the JSON document (both dialects side by side
//! per concept), `membership.rs` the `group_members` rows, `text.rs` text comparison, `sort.rs` `sortBy`.

mod emails;
mod indexed;
mod json;
mod membership;
mod sort;
mod text;

pub(crate) use sort::sort_key;

use diesel::sql_types::Bool;
use scim_core::filter::{Comparison, OrderingOp, ResolvedFilter, ResolvedPath, TextOp};
use scim_core::{ResourceKind, ScimError};

use self::indexed::{ColumnComparison, column_present};
use self::membership::{Membership, membership_column};
use crate::connection::Dialect;
use crate::error::StorageError;
use crate::sql::SqlFrag;

/// Deepest nesting compiled: bounds this compiler's recursion (the resolver bounds the node count).
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
    tenant: &str,
    filter: &ResolvedFilter,
) -> Result<SqlFrag<Bool>, StorageError> {
    let compiler = Compiler {
        dialect,
        kind,
        tenant,
    };
    let frag = compiler.filter(filter, Scope::Resource, 0)?;
    Ok(if compiler.is_index_lookup(filter) {
        frag.cacheable()
    } else {
        frag
    })
}

/// Whether `filter` reads only the rows it matches, through an index: an equality on an indexed text
/// column (`id`, `userName`, `externalId`, `displayName`) or on an email (Entra's and Okta's matching
/// queries), or an `and` with such a side. Anything else may read every document of the kind: scim-api
/// runs it off the workers and within the tenant's scan slots, and on SQLite it carries the statement
/// time limit.
pub fn is_index_lookup(kind: ResourceKind, filter: &ResolvedFilter) -> bool {
    // Which index serves a filter depends on the kind alone; dialect and tenant only shape the SQL.
    let compiler = Compiler {
        dialect: Dialect::Postgres,
        kind,
        tenant: "",
    };
    compiler.reads_matches_only(filter)
}

/// What the paths of a filter are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Paths are resolved against the resource row.
    Resource,
    /// Inside `attr[...]` over JSON array elements (alias `e`).
    Element,
    /// Inside `members[...]` / `groups[...]` over `group_members` (alias `gm`).
    Membership(Membership),
}

#[derive(Debug, Clone, Copy)]
struct Compiler<'t> {
    dialect: Dialect,
    kind: ResourceKind,
    /// The tenant the query reads, bound in lookups of side tables (`resource_emails`).
    tenant: &'t str,
}

impl Compiler<'_> {
    fn filter(&self, f: &ResolvedFilter, scope: Scope, depth: usize) -> Result<Frag, StorageError> {
        if depth > MAX_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        match f {
            ResolvedFilter::Compare { path, comparison } => self.compare(path, comparison, scope),
            ResolvedFilter::Present(path) => self.present(path, scope),
            ResolvedFilter::Not(inner) => Ok(not_true(self.filter(inner, scope, depth + 1)?)),
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
                if let Some(lookup) = self.email_value_path(path, filter) {
                    return Ok(self.email_lookup_sql(lookup));
                }
                if let Some(m) = self.membership(path) {
                    let inner = self.filter(filter, Scope::Membership(m), depth + 1)?;
                    return Ok(self.exists_membership(m, inner));
                }
                if !path.multi_valued {
                    // RFC 7644 allows `attr[filter]` on complex single-valued attributes too: test the object.
                    // Inner paths are absolute (attr + sub), so they compile against the resource as they
                    // are; the attribute itself must be an object, as for `matches`, where a missing one
                    // has no element.
                    return Ok(Frag::new()
                        .sql("(")
                        .frag(self.json_is_object(path)?)
                        .sql(" AND ")
                        .frag(self.filter(filter, Scope::Resource, depth + 1)?)
                        .sql(")"));
                }
                let inner = self.filter(filter, Scope::Element, depth + 1)?;
                self.exists_elements(path, inner)
            }
        }
    }

    /// One comparison on an indexed column, or an email equality (Entra's `emails[type eq "work" and value
    /// eq "..."]`); also a presence test on an indexed column and its negation, which is what `eq null` /
    /// `ne null` on one resolve to.
    fn is_index_lookup(&self, filter: &ResolvedFilter) -> bool {
        let is_column = |path| self.indexed(path).is_some();
        match filter {
            ResolvedFilter::Compare { path, comparison } => {
                self.column_comparison(path, comparison).is_some()
                    || self.email_compare(path, comparison).is_some()
            }
            ResolvedFilter::Present(path) => is_column(path),
            ResolvedFilter::Not(inner) => {
                matches!(&**inner, ResolvedFilter::Present(path) if is_column(path))
            }
            ResolvedFilter::ValuePath { path, filter } => self.email_value_path(path, filter).is_some(),
            ResolvedFilter::And(..) | ResolvedFilter::Or(..) => false,
        }
    }

    /// See [`is_index_lookup`].
    fn reads_matches_only(&self, filter: &ResolvedFilter) -> bool {
        let equality = |comparison: &Comparison| {
            matches!(
                comparison,
                Comparison::Text {
                    op: TextOp::Ordering(OrderingOp::Eq),
                    ..
                }
            )
        };
        match filter {
            ResolvedFilter::Compare { path, comparison } => {
                equality(comparison)
                    && (matches!(
                        self.column_comparison(path, comparison),
                        Some(ColumnComparison::Text { .. })
                    ) || self.email_compare(path, comparison).is_some())
            }
            ResolvedFilter::ValuePath { path, filter } => self.email_value_path(path, filter).is_some(),
            ResolvedFilter::And(a, b) => self.reads_matches_only(a) || self.reads_matches_only(b),
            ResolvedFilter::Present(_) | ResolvedFilter::Not(_) | ResolvedFilter::Or(..) => false,
        }
    }

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
                } else if let Some(lookup) = self.email_compare(path, comparison) {
                    self.email_lookup_sql(lookup)
                } else if let Some(what) = unstored(path) {
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

    /// `pr`: present and not null, `""`, `[]` or `{}`.
    fn present(&self, path: &ResolvedPath, scope: Scope) -> Result<Frag, StorageError> {
        match scope {
            Scope::Resource => {
                if let Some(m) = self.membership(path) {
                    self.membership_present(m, path)
                } else if let Some(column) = self.indexed(path) {
                    Ok(column_present(column))
                } else if unstored(path).is_some() {
                    // Computed for every resource when it is rendered: always present.
                    Ok(Frag::new().sql("TRUE"))
                } else if path.multi_valued {
                    let inner = self.json_present(&self.json_loc(path, Scope::Element)?);
                    self.exists_elements(path, inner)
                } else {
                    Ok(self.json_present(&self.json_loc(path, scope)?))
                }
            }
            Scope::Element => Ok(self.json_present(&self.json_loc(path, scope)?)),
            Scope::Membership(m) => Ok(Frag::new().sql(membership_column(m, path)?).sql(" IS NOT NULL")),
        }
    }
}

/// `meta.version` and `meta.location`: defined for every resource, but computed when it is rendered, so
/// stored nowhere SQL can read them. Returns the name to show.
fn unstored(path: &ResolvedPath) -> Option<&'static str> {
    if !path.is_core || path.attr != "meta" {
        return None;
    }
    match path.sub.as_deref() {
        Some("version") => Some("meta.version"),
        Some("location") => Some("meta.location"),
        Some(_) | None => None,
    }
}

/// `NOT COALESCE(f, FALSE)`: true when `f` is false or unknown (missing attribute).
fn not_true(f: Frag) -> Frag {
    Frag::new().sql("(NOT COALESCE(").frag(f).sql(", FALSE))")
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

/// `attr` or `attr.sub`, for error details.
fn display(path: &ResolvedPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.attr),
        None => path.attr.clone(),
    }
}

#[cfg(test)]
mod tests {
    use scim_core::schema::AttributeType;

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

    /// Which filters count as index lookups (run in place, no scan slot, no SQLite time limit): the
    /// equalities IdPs match on, every email form Entra and Okta send among them, and nothing that may
    /// read every document.
    #[test]
    fn only_equalities_on_indexed_attributes_and_emails_are_index_lookups() {
        let lookup = |text: &str| {
            let parsed = scim_core::filter::parse(text).unwrap();
            let resolved = scim_core::filter::resolve(
                &parsed,
                &scim_core::schema::SchemaRegistry::core(),
                ResourceKind::User,
            )
            .unwrap();
            is_index_lookup(ResourceKind::User, &resolved)
        };
        assert!(lookup(r#"userName eq "bjensen""#));
        assert!(lookup(r#"externalId eq "e1""#));
        assert!(lookup(r#"id eq "2819c223""#));
        assert!(lookup(r#"userName eq "a" and title co "b""#));
        assert!(lookup(r#"emails[type eq "work" and value eq "b@example.com"]"#));
        assert!(lookup(r#"emails[value eq "b@example.com"]"#));
        assert!(lookup(r#"emails.value eq "b@example.com""#));
        assert!(!lookup(r#"title co "zz" or name.givenName sw "Q""#));
        assert!(!lookup(r#"userName co "a""#));
        assert!(!lookup(r#"userName ne "a""#));
        assert!(!lookup(r#"userName eq "a" or userName eq "b""#));
        assert!(!lookup(r#"title eq "a""#));
        assert!(!lookup(r#"emails.value co "example""#));
        assert!(!lookup("userName pr"));
    }

    /// What the compiler itself refuses (operator/type mismatches cannot be written in the typed resolved
    /// form; the resolver refuses them, see scim-core's `resolve.rs`): a 400 `invalidFilter`, never a 500.
    #[test]
    fn refused_filters_are_invalid_filter_not_internal() {
        let c = Compiler {
            dialect: Dialect::Sqlite,
            kind: ResourceKind::User,
            tenant: "acme",
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
            tenant: "acme",
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
