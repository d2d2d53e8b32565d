//! Identifier newtypes, so a tenant slug can never be passed where a resource id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tenant's slug: the `{tenant}` segment of `/scim/v2/{tenant}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Longest slug accepted; it appears in URLs and database keys.
    pub const MAX_LEN: usize = 63;

    /// Accepts a slug of 1..=63 characters from `[a-z0-9-_]`, starting with a letter or digit.
    pub fn parse(slug: &str) -> Result<Self, crate::ScimError> {
        let valid_chars = slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        let valid_start = slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if valid_chars && valid_start && slug.len() <= Self::MAX_LEN {
            Ok(Self(slug.to_owned()))
        } else {
            Err(crate::ScimError::InvalidValue(format!(
                "tenant slug {slug:?} must be 1-{} characters of a-z, 0-9, '-' or '_', starting with a letter or digit",
                Self::MAX_LEN
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resource's server-assigned `id` (RFC 7643 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceId(String);

impl ResourceId {
    /// Wraps an id as received from a client or the database; ids are opaque to SCIM.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The resource types this server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The `meta.resourceType` / ResourceType `name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// The endpoint segment, e.g. `Users`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "Users",
            Self::Group => "Groups",
        }
    }

    /// The URN of the resource type's core schema (RFC 7643 §8.7.1). The resource type owns it, so the
    /// schema registry (which is keyed by kind) can name it without a dependency back from here.
    pub const fn core_schema(self) -> &'static str {
        match self {
            Self::User => "urn:ietf:params:scim:schemas:core:2.0:User",
            Self::Group => "urn:ietf:params:scim:schemas:core:2.0:Group",
        }
    }
}

/// The weak ETag of a resource version (`meta.version`, the `ETag` header): `W/"3"`. RFC 7644 §3.14.
pub fn weak_etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_slugs_are_url_safe() {
        assert!(TenantId::parse("acme").is_ok());
        assert!(TenantId::parse("acme-2_eu").is_ok());
        for bad in ["", "-acme", "Acme", "a/b", "a b", "ä", &"a".repeat(64)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
