//! The public, diesel-free types of the storage API: what callers pass in and get back.
//!
//! Strategy: no diesel type appears here; rows (`*Row`) stay private to their modules and are converted at
//! the boundary, where corrupt stored data (an unparsable tenant slug or JSON) becomes `Internal`.

use chrono::{DateTime, Utc};
use credentials::{HashedToken, IssuedApiToken, PlainToken};
use scim_core::filter::{ResolvedFilter, ResolvedPath};
use scim_core::{ResourceId, ResourceKind, TenantId};
use serde_json::Value;

/// Pool statistics for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections currently open (idle or in use).
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
}

/// A tenant to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTenant {
    pub id: TenantId,
    pub display_name: String,
    /// Per-tenant policy (extensions, limits, ...), opaque to storage.
    pub policy: Value,
}

/// A stored tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub display_name: String,
    pub policy: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a SCIM token may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TokenScope {
    /// The IdP's provisioning token: every SCIM operation. Rotation replaces these.
    #[default]
    Write,
    /// Reads and searches only (reporting, audits, reconciliation jobs); survives rotation.
    Read,
}

impl TokenScope {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Write => "write",
            Self::Read => "read",
        }
    }

    /// The scope named `text` (`write` or `read`), if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "write" => Some(Self::Write),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token to store: only the hash of its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    pub token_hash: HashedToken,
    /// The recognisable start of the secret, for display.
    pub prefix: String,
    pub label: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: TokenScope,
}

impl std::fmt::Debug for NewToken {
    /// Omits the hash: it identifies a live credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("prefix", &self.prefix)
            .field("label", &self.label)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What authentication needs to know about a token found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub tenant: TenantId,
    pub scope: TokenScope,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token's metadata; never the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub tenant: TenantId,
    pub scope: TokenScope,
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token to issue ([`crate::Storage::issue_token`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    pub label: Option<String>,
    /// `None`: the token does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: TokenScope,
    /// Rotation: revoke the tenant's other `write` tokens as of this time (a future time is a grace
    /// period). Read tokens are not the IdP's and are kept.
    pub revoke_others_at: Option<DateTime<Utc>>,
}

/// A token just issued: the only value that carries its plaintext.
#[derive(Debug)]
pub struct IssuedToken {
    pub info: TokenInfo,
    pub token: PlainToken,
    /// How many of the tenant's other `write` tokens `revoke_others_at` revoked.
    pub revoked_others: u64,
}

impl IssuedToken {
    /// What its owner receives, once: the Tenant URL to paste next to it and the secret.
    pub fn with_base_url(self, base_url: String) -> IssuedApiToken {
        IssuedApiToken {
            id: self.info.id,
            base_url,
            api_token: self.token,
            expires_at: self.info.expires_at,
        }
    }
}

/// Who writes, on whose behalf, and when. Time is a parameter (the caller's clock); storage stores it
/// truncated to microseconds, the precision both backends keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteContext {
    pub tenant: TenantId,
    pub actor_token_id: Option<String>,
    pub request_id: Option<String>,
    pub now: DateTime<Utc>,
}

/// Which computed multi-valued attributes to load with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expand {
    /// A Group's `members` (ignored for Users).
    pub members: bool,
    /// A User's direct `groups` (ignored for Groups).
    pub groups: bool,
}

impl Expand {
    /// Neither members nor groups.
    pub const NONE: Expand = Expand {
        members: false,
        groups: false,
    };
    /// Both members (Groups) and groups (Users).
    pub const ALL: Expand = Expand {
        members: true,
        groups: true,
    };
}

/// A resource as stored: the SCIM document without `id`, `meta`, `members` and `groups`, plus those
/// server-side facts.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub id: ResourceId,
    pub kind: ResourceKind,
    /// Starts at 1, +1 on every change; the weak ETag is built from it.
    pub version: i64,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub doc: Value,
    /// A Group's members, when requested (ordered by member id).
    pub members: Option<Vec<StoredMember>>,
    /// A User's direct groups, when requested (ordered by group id).
    pub groups: Option<Vec<StoredGroupRef>>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    pub value: ResourceId,
    /// `User` or `Group`: always the member resource's real type.
    pub member_type: String,
}

/// One group a user directly belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroupRef {
    pub value: ResourceId,
    pub display: Option<String>,
}

/// A list query (RFC 7644 §3.4.2).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceQuery {
    pub filter: Option<ResolvedFilter>,
    /// Not with [`PageStart::After`] (`Scim(InvalidValue)`).
    pub sort_by: Option<ResolvedPath>,
    pub descending: bool,
    pub start: PageStart,
    /// Page size; 0 returns only `total_results`.
    pub count: u64,
    pub expand: Expand,
}

impl Default for ResourceQuery {
    fn default() -> Self {
        Self {
            filter: None,
            sort_by: None,
            descending: false,
            start: PageStart::Index(1),
            count: 100,
            expand: Expand::NONE,
        }
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// 1-based position in the result (RFC 7644 `startIndex`); 0 is treated as 1. Reaching position `n`
    /// costs the database `n` rows, so walking a whole listing this way is quadratic.
    Index(u64),
    /// Keyset (RFC 9865 cursors): the rows after this position in creation order, `None` for the first
    /// page. Each page is one index range scan, whatever its depth.
    After(Option<ListPosition>),
}

/// A resource's place in the order of every list without `sortBy`: creation time, then id. A walk by
/// position returns every resource that exists throughout it exactly once, whatever is created or deleted
/// meanwhile: new resources sort after older ones (or are simply not returned), and a deleted row leaves
/// the positions of the others unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub created: DateTime<Utc>,
    pub id: ResourceId,
}

/// One page of a list query.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePage {
    /// How many resources match. `None` on the pages of a keyset walk after the first: counting costs a
    /// scan of every match, and doing it on every page would make the walk quadratic again.
    pub total_results: Option<u64>,
    pub resources: Vec<StoredResource>,
    /// Keyset pages only: where the next page starts, when more resources follow.
    pub next: Option<ListPosition>,
}
