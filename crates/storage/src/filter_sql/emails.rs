//! A user's emails, every element indexed in `resource_emails` ([`crate::shadow_columns::EMAILS`]): the
//! equality lookups IdPs send on them, `emails[type eq "work" and value eq "x"]` (Entra, either order),
//! `emails[value eq "x"]` and `emails.value eq "x"` (or `ne`), compile to a lookup of that index, which
//! finds the address at any position, as scim-core's evaluator does. Other email filters (`co`, `sw`,
//! `primary`, ...) read the JSON document.

use scim_core::ResourceKind;
use scim_core::filter::{Comparison, OrderingOp, ResolvedFilter, ResolvedPath, TextOp};

use super::{Compiler, Frag};
use crate::shadow_columns::EMAILS;

/// An equality lookup `resource_emails` answers: the value, and the type it must have, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EmailLookup<'f> {
    value: &'f str,
    email_type: Option<&'f str>,
}

impl Compiler<'_> {
    /// Whether `path` is `emails` or one of its sub-attributes, on a User.
    fn is_emails(&self, path: &ResolvedPath) -> bool {
        self.kind == ResourceKind::User && path.is_core && path.attr == EMAILS
    }

    /// `emails[value eq "x"]` or `emails[type eq "t" and value eq "x"]` (in either order).
    pub(super) fn email_value_path<'f>(
        &self,
        path: &ResolvedPath,
        filter: &'f ResolvedFilter,
    ) -> Option<EmailLookup<'f>> {
        if !self.is_emails(path) {
            return None;
        }
        if let Some(value) = equals(filter, "value") {
            return Some(EmailLookup {
                value,
                email_type: None,
            });
        }
        let ResolvedFilter::And(a, b) = filter else {
            return None;
        };
        let (email_type, value) = match (equals(a, "type"), equals(b, "value")) {
            (Some(email_type), Some(value)) => (email_type, value),
            (None | Some(_), None) | (None, Some(_)) => (equals(b, "type")?, equals(a, "value")?),
        };
        Some(EmailLookup {
            value,
            email_type: Some(email_type),
        })
    }

    /// `emails.value eq "x"` at the resource's level; `ne` too, which [`Compiler::compare`] negates into
    /// "no email is x".
    pub(super) fn email_compare<'f>(
        &self,
        path: &ResolvedPath,
        comparison: &'f Comparison,
    ) -> Option<EmailLookup<'f>> {
        if !self.is_emails(path) || path.sub.as_deref() != Some("value") || path.case_exact {
            return None;
        }
        match comparison {
            Comparison::Text {
                op: TextOp::Ordering(OrderingOp::Eq | OrderingOp::Ne),
                value,
            } => Some(EmailLookup {
                value,
                email_type: None,
            }),
            Comparison::Text { .. }
            | Comparison::Number { .. }
            | Comparison::Boolean { .. }
            | Comparison::DateTime { .. } => None,
        }
    }

    /// The resource is one of the users with a matching email: a range of the `(tenant_id, value_lower)`
    /// index, not correlated with the outer row, so both backends run it once.
    pub(super) fn email_lookup_sql(&self, lookup: EmailLookup<'_>) -> Frag {
        let frag = Frag::new()
            .sql(
                "resources.id IN (SELECT em.resource_id FROM resource_emails em \
                 WHERE em.tenant_id = ",
            )
            .text(self.tenant.to_owned())
            .sql(" AND em.value_lower = ")
            .text(lookup.value.to_lowercase());
        match lookup.email_type {
            Some(email_type) => frag
                .sql(" AND em.email_type = ")
                .text(email_type.to_lowercase())
                .sql(")"),
            None => frag.sql(")"),
        }
    }
}

/// The value of `f` when it is `<sub> eq "value"` on a case-insensitive sub-attribute.
fn equals<'f>(f: &'f ResolvedFilter, sub: &str) -> Option<&'f str> {
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
}
