//! Shared fixtures.

use chrono::{DateTime, Duration, TimeZone, Utc};
use scim_core::patch::{MemberOp, MemberRef};
use scim_core::{ResourceId, ResourceKind, TenantId};
use serde_json::{Value, json};
use storage::{NewTenant, Storage, StorageError, StoredResource, WriteContext};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + Duration::microseconds(123_456)
}

pub fn tenant(storage: &Storage, slug: &str) -> TenantId {
    let id = TenantId::parse(slug).unwrap();
    storage
        .create_tenant(&NewTenant {
            id: id.clone(),
            display_name: format!("Tenant {slug}"),
            policy: json!({"userNameImmutable": true}),
        })
        .unwrap();
    id
}

pub fn ctx(tenant: &TenantId) -> WriteContext {
    ctx_at(tenant, t0())
}

pub fn ctx_at(tenant: &TenantId, now: DateTime<Utc>) -> WriteContext {
    WriteContext {
        tenant: tenant.clone(),
        actor_token_id: Some("tok-1".into()),
        request_id: Some("req-1".into()),
        now,
    }
}

pub fn user_doc(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true,
        "emails": [{"type": "work", "value": format!("{user_name}@example.com"), "primary": true}]
    })
}

pub fn group_doc(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name
    })
}

pub fn create_user(storage: &Storage, tenant: &TenantId, user_name: &str) -> StoredResource {
    storage
        .create_resource(&ctx(tenant), ResourceKind::User, user_doc(user_name), None)
        .unwrap()
}

pub fn create_group(storage: &Storage, tenant: &TenantId, name: &str) -> StoredResource {
    storage
        .create_resource(&ctx(tenant), ResourceKind::Group, group_doc(name), None)
        .unwrap()
}

pub fn member(id: &ResourceId) -> scim_core::patch::MemberRef {
    scim_core::patch::MemberRef {
        value: id.clone(),
        member_type: None,
    }
}

/// A PUT through the public API, as scim-api makes it: `modify_resource` with a closure that puts `doc`
/// in place of the stored document and, with `members`, replaces the whole member list (without, the
/// list is kept).
pub fn replace(
    storage: &Storage,
    ctx: &WriteContext,
    kind: ResourceKind,
    id: &ResourceId,
    expected_version: Option<i64>,
    doc: Value,
    members: Option<&[MemberRef]>,
) -> Result<StoredResource, StorageError> {
    let member_ops: Vec<MemberOp> = members
        .map(|m| MemberOp::ReplaceAll(m.to_vec()))
        .into_iter()
        .collect();
    storage.modify_resource(ctx, kind, id, expected_version, move |stored| {
        *stored = doc;
        Ok(member_ops)
    })
}
