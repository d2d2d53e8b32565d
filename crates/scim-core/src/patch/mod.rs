//! RFC 7644 §3.5.2 PATCH: parse a PatchOp body (tolerating what Entra really sends) and apply it to a
//! resource atomically. Group membership changes come out as [`MemberOp`]s so storage can apply them as
//! targeted inserts and deletes without loading the member list.
//!
//! Strategy:
//! - `parse.rs` turns the body into a [`PatchRequest`]. It is lenient about structure (key case and order,
//!   extra keys, `op` case, an empty `Operations` list) and strict about meaning: a path that does not parse
//!   is `invalidPath`, a bad value filter `invalidFilter`, a missing `op` `invalidSyntax`.
//! - [`apply()`] (`apply.rs`) resolves every path against the
//!   [`SchemaRegistry`](crate::schema::SchemaRegistry) (`target.rs`), works on a clone of the document and
//!   writes it back only when every operation succeeded (RFC 7644 §3.5.2: "the PATCH operation MUST be
//!   atomic"). `write.rs` holds the add/replace/remove rules per kind of target. Values are coerced to the
//!   attribute's type by `coerce.rs` (Entra's `"False"`, one-element arrays around single values,
//!   `$ref: null`).
//! - `members` of a Group never touches the document: `members.rs` turns those operations into
//!   [`MemberOp`]s.
//! - `selector.rs` is the bridge to the filter module for `attr[filter]` paths.
//!
//! Every quirk of `reference/entra-requests.md` §4 that concerns PATCH has a named test in `tests.rs`.

mod apply;
mod coerce;
mod members;
mod parse;
mod selector;
mod target;
#[cfg(test)]
mod tests;
mod write;

use serde_json::Value;

use crate::filter::Filter;
use crate::ids::ResourceId;
use crate::path::AttrPath;

pub use apply::apply;

/// The URN of the PatchOp message schema (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// `op` of a PATCH operation, matched case-insensitively (Entra sends `Add`, `Replace`, `Remove`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl PatchOutcome {
    /// Whether the PATCH asks storage for nothing at all: the document is unchanged and there are no
    /// member operations (e.g. an empty `Operations` list, or values identical to the stored ones).
    pub fn is_noop(&self) -> bool {
        !self.document_changed && self.member_ops.is_empty()
    }
}
