//! Tenants: create, read, list, update, delete.
//!
//! Strategy: the tenant slug is the primary key, so a duplicate is a unique violation (`Uniqueness`),
//! never a read-then-write check. The policy is stored as JSON text and parsed on the way out. Deleting a
//! tenant deletes its resources, memberships, tokens and events through `ON DELETE CASCADE`.
//! Tenant administration is rare and not SCIM, so these calls take the clock themselves (`Utc::now`).

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use scim_core::TenantId;
use serde_json::Value;

use crate::error::{Cause, StorageError, Violation};
use crate::schema::{event_sequences, tenants};
use crate::{NewTenant, Storage, Tenant, from_db_time, to_db_time};

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenants)]
struct TenantRow {
    id: String,
    display_name: String,
    policy: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = tenants)]
struct TenantChanges<'a> {
    display_name: Option<&'a str>,
    policy: Option<String>,
    updated_at: NaiveDateTime,
}

impl TenantRow {
    fn into_tenant(self) -> Result<Tenant, StorageError> {
        Ok(Tenant {
            id: parse_tenant_id(&self.id)?,
            display_name: self.display_name,
            policy: serde_json::from_str(&self.policy)
                .map_err(|e| StorageError::corrupt(format!("policy of tenant {}: {e}", self.id)))?,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
        })
    }
}

pub(crate) fn parse_tenant_id(slug: &str) -> Result<TenantId, StorageError> {
    TenantId::parse(slug).map_err(|e| StorageError::corrupt(format!("tenant id {slug:?}: {e}")))
}

pub(crate) fn tenant_not_found(id: &TenantId) -> StorageError {
    StorageError::NotFound(format!("tenant {id} not found"))
}

fn policy_text(policy: &Value) -> Result<String, StorageError> {
    crate::nul_checks::reject_nul(policy, "policy")?;
    serde_json::to_string(policy)
        .map_err(|e| StorageError::Internal(Cause::new("cannot serialize policy", e)))
}

impl Storage {
    /// Creates a tenant; `Uniqueness` if the slug is taken.
    pub fn create_tenant(&self, tenant: &NewTenant) -> Result<Tenant, StorageError> {
        crate::nul_checks::reject_nul_str(&tenant.display_name, "displayName")?;
        let now = to_db_time(Utc::now());
        let row = TenantRow {
            id: tenant.id.as_str().to_owned(),
            display_name: tenant.display_name.clone(),
            policy: policy_text(&tenant.policy)?,
            created_at: now,
            updated_at: now,
        };
        self.write(|conn| {
            diesel::insert_into(tenants::table)
                .values(&row)
                .execute(conn)
                .map_err(|e| {
                    StorageError::from_diesel_with(e, |violation, text| match violation {
                        Violation::Unique => {
                            StorageError::Uniqueness(format!("tenant {} already exists", tenant.id))
                        }
                        Violation::ForeignKey => StorageError::Internal(text.into()),
                    })
                })?;
            // The tenant's change-feed counter, which every numbered event advances.
            diesel::insert_into(event_sequences::table)
                .values((
                    event_sequences::tenant_id.eq(&row.id),
                    event_sequences::last_sequence.eq(0),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        row.into_tenant()
    }

    /// The tenant, or `NotFound`.
    pub fn get_tenant(&self, id: &TenantId) -> Result<Tenant, StorageError> {
        let mut conn = self.conn()?;
        tenants::table
            .find(id.as_str())
            .select(TenantRow::as_select())
            .first(&mut *conn)
            .optional()?
            .ok_or_else(|| tenant_not_found(id))?
            .into_tenant()
    }

    /// Every tenant, ordered by slug.
    pub fn list_tenants(&self) -> Result<Vec<Tenant>, StorageError> {
        let mut conn = self.conn()?;
        tenants::table
            .select(TenantRow::as_select())
            .order(tenants::id.asc())
            .load(&mut *conn)?
            .into_iter()
            .map(TenantRow::into_tenant)
            .collect()
    }

    /// Changes the display name and/or the policy; `NotFound` if the tenant does not exist.
    pub fn update_tenant(
        &self,
        id: &TenantId,
        display_name: Option<&str>,
        policy: Option<&Value>,
    ) -> Result<Tenant, StorageError> {
        if let Some(name) = display_name {
            crate::nul_checks::reject_nul_str(name, "displayName")?;
        }
        let changes = TenantChanges {
            display_name,
            policy: policy.map(policy_text).transpose()?,
            updated_at: to_db_time(Utc::now()),
        };
        let updated = self.write(|conn| {
            Ok(diesel::update(tenants::table.find(id.as_str()))
                .set(&changes)
                .execute(conn)?)
        })?;
        if updated == 0 {
            return Err(tenant_not_found(id));
        }
        self.get_tenant(id)
    }

    /// Deletes the tenant with its resources, memberships, tokens and events; `NotFound` if absent.
    pub fn delete_tenant(&self, id: &TenantId) -> Result<(), StorageError> {
        self.write(|conn| {
            // Its tokens and OAuth clients go with it: caches elsewhere must forget them. First, like every
            // revoking transaction (one lock order).
            crate::tokens::bump_revocation_generation_in(conn)?;
            let deleted = diesel::delete(tenants::table.find(id.as_str())).execute(conn)?;
            if deleted == 0 {
                return Err(tenant_not_found(id));
            }
            Ok(())
        })
    }
}
