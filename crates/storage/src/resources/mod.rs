//! SCIM resources (Users and Groups), their group memberships and the change-feed events of each write.
//!
//! Strategy:
//! - The document is stored as JSON text (without `id`, `meta`, `members`, `groups`); the attributes IdPs
//!   match on are copied into indexed shadow columns on every write (`shadow_columns.rs`).
//! - Memberships are rows of `group_members`, never part of the document, and are changed with targeted
//!   statements, never by loading the member list (`members.rs`).
//! - Every write is one transaction: `BEGIN IMMEDIATE` on SQLite; on PostgreSQL a row lock taken by the
//!   first read (`FOR NO KEY UPDATE` for replace/patch, `FOR UPDATE` for delete). `expected_version` is
//!   checked inside it. Each write appends the events of what it changed, nothing for a no-op.
//! - Values storage cannot hold identically on both backends are refused up front with
//!   `Scim(InvalidValue)`: NUL characters (PostgreSQL text and jsonb reject them; `nul_checks.rs`) and
//!   indexed values over [`MAX_INDEXED_BYTES`](crate::MAX_INDEXED_BYTES) (PostgreSQL b-tree entries are
//!   limited to about 2.7 kB).
//!
//! Where things are:
//! - `rows.rs`: the `resources` row and the steps every write shares (document normalisation, row
//!   lock, version check, error wording, row to `StoredResource`).
//! - `members.rs`: membership changes (`MemberOp`s) with their net deltas, and the loading of
//!   `members` / `groups` for reads.
//! - `emails.rs`: every email of a user, indexed in `resource_emails`.
//! - `events.rs`: the change-feed events a write appends (sequenced later by `feed.rs`).
//! - `writes.rs`: `Storage::{create,modify,delete}_resource`.
//! - `reads.rs`: `get_resource` and `query_resources`, on a [`Reader`](crate::Reader) or through `Storage`.

// Visible to the crate for the test seeders in `testing.rs`.
pub(crate) mod emails;
mod events;
mod members;
mod reads;
// Visible to the crate for the test seeders in `testing.rs`, which insert rows directly.
pub(crate) mod rows;
mod writes;
