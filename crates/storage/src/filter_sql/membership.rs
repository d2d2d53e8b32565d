//! A Group's `members` and a User's `groups`, which live in `group_members` rather than the document:
//! `members[value eq "id"]`, `members.display sw "a"`, `groups pr`. Each test is an `EXISTS` over the
//! resource's rows (alias `gm`), matched on the reverse index for `groups`.

use scim_core::ResourceKind;
use scim_core::filter::{Comparison, ResolvedPath};

use super::{Compiler, Frag, display, invalid};
use crate::error::StorageError;
use crate::sql::SqlFrag;

/// Which side of `group_members` the resource is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Membership {
    /// A Group's `members`: rows where the group is this resource.
    Members,
    /// A User's `groups`: rows where the member is this resource.
    Groups,
}

impl Compiler<'_> {
    /// Whether `path` is this resource type's membership attribute.
    pub(super) fn membership(&self, path: &ResolvedPath) -> Option<Membership> {
        if !path.is_core {
            return None;
        }
        match (self.kind, path.attr.as_str()) {
            (ResourceKind::Group, "members") => Some(Membership::Members),
            (ResourceKind::User, "groups") => Some(Membership::Groups),
            _ => None,
        }
    }

    /// TRUE when some membership row satisfies `inner`.
    pub(super) fn exists_membership(&self, m: Membership, inner: Frag) -> Frag {
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

    /// A comparison on one membership row's column; `ne` compiles as `=` ([`Self::compare`] negates it).
    /// Every column holds text, as do the sub-attributes of `members` and `groups` they stand for, so the
    /// resolver only ever hands over text comparisons.
    pub(super) fn membership_compare(
        &self,
        m: Membership,
        path: &ResolvedPath,
        comparison: &Comparison,
    ) -> Result<Frag, StorageError> {
        let column = membership_column(m, path)?;
        match comparison {
            Comparison::Text { op, value } => {
                Ok(self.text_compare(SqlFrag::new().sql(column), true, false, *op, value))
            }
            Comparison::Number { .. } | Comparison::Boolean { .. } | Comparison::DateTime { .. } => Err(
                invalid(format!("{} can only be compared with a string", display(path))),
            ),
        }
    }

    /// `members pr` (the resource has a membership row), or `members.value pr` and the like.
    pub(super) fn membership_present(
        &self,
        m: Membership,
        path: &ResolvedPath,
    ) -> Result<Frag, StorageError> {
        Ok(match &path.sub {
            None => self.exists_membership(m, Frag::new().sql("TRUE")),
            Some(_) => self.exists_membership(
                m,
                Frag::new().sql(membership_column(m, path)?).sql(" IS NOT NULL"),
            ),
        })
    }
}

/// The SQL for a membership sub-attribute of one `gm` row.
pub(super) fn membership_column(m: Membership, path: &ResolvedPath) -> Result<&'static str, StorageError> {
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
