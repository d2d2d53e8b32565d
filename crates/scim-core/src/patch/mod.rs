//! RFC 7644 §3.5.2 PATCH: parse a PatchOp body (tolerating what Entra really sends) and apply it to a
//! resource atomically. Group membership changes come out as [`MemberOp`]s so storage can apply them as
//! targeted inserts and deletes without loading the member list.

use serde_json::Value;

use crate::filter::Filter;
use crate::ids::ResourceId;
use crate::path::AttrPath;

/// `op` of a PATCH operation, matched case-insensitively (Entra sends `Add`, `Replace`, `Remove`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

/// `path` of a PATCH operation: `attrPath` or `valuePath ["." subAttr]` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute; carries a `sub` only when there is no value filter.
    pub attr: AttrPath,
    /// The value filter in `attr[filter]`; its paths are relative to one element.
    pub filter: Option<Filter>,
    /// The sub-attribute after `attr[filter].`.
    pub sub_after_filter: Option<String>,
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A parsed PatchOp request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

/// A group member reference: the member's id and, when sent, its type (`User` or `Group`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberRef {
    pub value: ResourceId,
    pub member_type: Option<String>,
}

/// One change to a group's member list, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Add these members; adding an existing member is a quiet success.
    Add(Vec<MemberRef>),
    /// Remove these members; removing an absent member is a quiet success.
    Remove(Vec<ResourceId>),
    /// Remove every member.
    RemoveAll,
    /// Replace the whole list with these members.
    ReplaceAll(Vec<MemberRef>),
}

/// Per-tenant choices where clients and RFC disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatchOptions {
    /// Treat `replace` on `members` as an add of the listed members instead of replacing the whole list
    /// (entra-requests.md §4 item 17: some 2025 Entra builds send partial lists with `replace`).
    pub members_replace_is_additive: bool,
}

/// What applying a PATCH produced besides the changed document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatchOutcome {
    /// Whether the document (excluding members) changed.
    pub document_changed: bool,
    /// Membership changes, in request order (Groups only).
    pub member_ops: Vec<MemberOp>,
}
