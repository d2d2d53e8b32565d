//! Webhook endpoints: their row, their tenant and event-type filters (child tables, or a flag meaning
//! "all"), and the secrets they sign with.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use scim_core::TenantId;

use super::{NewWebhookEndpoint, WebhookChanges, WebhookEndpoint, signing_secrets};
use crate::connection::DbConnection;
use crate::error::StorageError;
use crate::schema::{tenants, webhook_endpoint_event_types, webhook_endpoint_tenants, webhook_endpoints};
use crate::{Storage, from_db_time, to_db_time};

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointRow {
    id: String,
    url: String,
    description: Option<String>,
    all_tenants: bool,
    all_event_types: bool,
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Inserts the filter rows of an endpoint, after checking that each tenant exists.
fn insert_filters(
    conn: &mut DbConnection,
    endpoint_id: &str,
    tenants: Option<&[TenantId]>,
    event_types: Option<&[String]>,
) -> Result<(), StorageError> {
    for tenant in tenants.unwrap_or_default() {
        let exists: i64 = tenants::table
            .filter(tenants::id.eq(tenant.as_str()))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(StorageError::InvalidReference(format!(
                "unknown tenant {:?}",
                tenant.as_str()
            )));
        }
        diesel::insert_into(webhook_endpoint_tenants::table)
            .values((
                webhook_endpoint_tenants::endpoint_id.eq(endpoint_id),
                webhook_endpoint_tenants::tenant_id.eq(tenant.as_str()),
            ))
            .execute(conn)?;
    }
    for event_type in event_types.unwrap_or_default() {
        diesel::insert_into(webhook_endpoint_event_types::table)
            .values((
                webhook_endpoint_event_types::endpoint_id.eq(endpoint_id),
                webhook_endpoint_event_types::event_type.eq(event_type),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn dedup<T: Ord + Clone>(values: &[T]) -> Vec<T> {
    let mut values = values.to_vec();
    values.sort();
    values.dedup();
    values
}

/// Loads endpoints with their filters.
fn load_endpoints(conn: &mut DbConnection, id: Option<&str>) -> Result<Vec<WebhookEndpoint>, StorageError> {
    let mut query = webhook_endpoints::table
        .select(EndpointRow::as_select())
        .order(webhook_endpoints::created_at.asc())
        .then_order_by(webhook_endpoints::id.asc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(webhook_endpoints::id.eq(id.to_owned()));
    }
    let rows: Vec<EndpointRow> = query.load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut tenant_rows: HashMap<String, Vec<TenantId>> = HashMap::new();
    for (endpoint, tenant) in webhook_endpoint_tenants::table
        .select((
            webhook_endpoint_tenants::endpoint_id,
            webhook_endpoint_tenants::tenant_id,
        ))
        .filter(webhook_endpoint_tenants::endpoint_id.eq_any(&ids))
        .order(webhook_endpoint_tenants::tenant_id.asc())
        .load::<(String, String)>(conn)?
    {
        let tenant = TenantId::parse(&tenant)
            .map_err(|_| StorageError::corrupt(format!("tenant of webhook {endpoint}")))?;
        tenant_rows.entry(endpoint).or_default().push(tenant);
    }
    let mut type_rows: HashMap<String, Vec<String>> = HashMap::new();
    for (endpoint, event_type) in webhook_endpoint_event_types::table
        .select((
            webhook_endpoint_event_types::endpoint_id,
            webhook_endpoint_event_types::event_type,
        ))
        .filter(webhook_endpoint_event_types::endpoint_id.eq_any(&ids))
        .order(webhook_endpoint_event_types::event_type.asc())
        .load::<(String, String)>(conn)?
    {
        type_rows.entry(endpoint).or_default().push(event_type);
    }
    Ok(rows
        .into_iter()
        .map(|row| WebhookEndpoint {
            tenants: (!row.all_tenants).then(|| tenant_rows.remove(&row.id).unwrap_or_default()),
            event_types: (!row.all_event_types).then(|| type_rows.remove(&row.id).unwrap_or_default()),
            id: row.id,
            url: row.url,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            created_at: from_db_time(row.created_at),
            updated_at: from_db_time(row.updated_at),
        })
        .collect())
}

pub(super) fn load_endpoint(conn: &mut DbConnection, id: &str) -> Result<WebhookEndpoint, StorageError> {
    // PostgreSQL cannot even compare text with a NUL in it; no id has one.
    if id.contains('\0') {
        return Err(StorageError::NotFound(format!("webhook {id:?} not found")));
    }
    load_endpoints(conn, Some(id))?
        .pop()
        .ok_or_else(|| StorageError::NotFound(format!("webhook {id} not found")))
}

impl Storage {
    /// Creates an endpoint (enabled); an unknown tenant is `InvalidReference`.
    pub fn create_webhook(
        &self,
        new: &NewWebhookEndpoint,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, StorageError> {
        crate::nul_checks::reject_nul_str(&new.url, "url")?;
        crate::nul_checks::reject_nul_str(new.description.as_deref().unwrap_or_default(), "description")?;
        let now = to_db_time(now);
        self.write(|conn| {
            diesel::insert_into(webhook_endpoints::table)
                .values((
                    webhook_endpoints::id.eq(&new.id),
                    webhook_endpoints::url.eq(&new.url),
                    webhook_endpoints::description.eq(&new.description),
                    webhook_endpoints::all_tenants.eq(new.tenants.is_none()),
                    webhook_endpoints::all_event_types.eq(new.event_types.is_none()),
                    webhook_endpoints::enabled.eq(true),
                    webhook_endpoints::secret.eq(&new.secret),
                    webhook_endpoints::created_at.eq(now),
                    webhook_endpoints::updated_at.eq(now),
                ))
                .execute(conn)?;
            let tenants = new.tenants.as_deref().map(dedup);
            let types = new.event_types.as_deref().map(dedup);
            insert_filters(conn, &new.id, tenants.as_deref(), types.as_deref())?;
            load_endpoint(conn, &new.id)
        })
    }

    /// Every endpoint, oldest first.
    pub fn list_webhooks(&self) -> Result<Vec<WebhookEndpoint>, StorageError> {
        let mut conn = self.conn()?;
        load_endpoints(&mut conn, None)
    }

    pub fn get_webhook(&self, id: &str) -> Result<WebhookEndpoint, StorageError> {
        let mut conn = self.conn()?;
        load_endpoint(&mut conn, id)
    }

    /// Applies `changes`; events already queued keep their deliveries.
    pub fn update_webhook(
        &self,
        id: &str,
        changes: &WebhookChanges,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, StorageError> {
        crate::nul_checks::reject_nul_str(changes.url.as_deref().unwrap_or_default(), "url")?;
        crate::nul_checks::reject_nul_str(
            changes
                .description
                .clone()
                .flatten()
                .as_deref()
                .unwrap_or_default(),
            "description",
        )?;
        let now = to_db_time(now);
        self.write(|conn| {
            load_endpoint(conn, id)?;
            let target = webhook_endpoints::table.filter(webhook_endpoints::id.eq(id));
            diesel::update(target)
                .set(webhook_endpoints::updated_at.eq(now))
                .execute(conn)?;
            if let Some(url) = &changes.url {
                diesel::update(target)
                    .set(webhook_endpoints::url.eq(url))
                    .execute(conn)?;
            }
            if let Some(description) = &changes.description {
                diesel::update(target)
                    .set(webhook_endpoints::description.eq(description))
                    .execute(conn)?;
            }
            if let Some(enabled) = changes.enabled {
                diesel::update(target)
                    .set(webhook_endpoints::enabled.eq(enabled))
                    .execute(conn)?;
                if enabled {
                    diesel::update(target)
                        .set((
                            webhook_endpoints::disabled_reason.eq(None::<String>),
                            webhook_endpoints::failing_since.eq(None::<NaiveDateTime>),
                        ))
                        .execute(conn)?;
                } else {
                    diesel::update(target)
                        .set(webhook_endpoints::disabled_reason.eq("disabled by an operator"))
                        .execute(conn)?;
                }
            }
            if let Some(tenants) = &changes.tenants {
                diesel::delete(
                    webhook_endpoint_tenants::table.filter(webhook_endpoint_tenants::endpoint_id.eq(id)),
                )
                .execute(conn)?;
                diesel::update(target)
                    .set(webhook_endpoints::all_tenants.eq(tenants.is_none()))
                    .execute(conn)?;
                insert_filters(conn, id, tenants.as_deref().map(dedup).as_deref(), None)?;
            }
            if let Some(types) = &changes.event_types {
                diesel::delete(
                    webhook_endpoint_event_types::table
                        .filter(webhook_endpoint_event_types::endpoint_id.eq(id)),
                )
                .execute(conn)?;
                diesel::update(target)
                    .set(webhook_endpoints::all_event_types.eq(types.is_none()))
                    .execute(conn)?;
                insert_filters(conn, id, None, types.as_deref().map(dedup).as_deref())?;
            }
            load_endpoint(conn, id)
        })
    }

    /// Deletes an endpoint with its filters and deliveries.
    pub fn delete_webhook(&self, id: &str) -> Result<(), StorageError> {
        self.write(|conn| {
            let deleted = diesel::delete(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
                .execute(conn)?;
            if deleted == 0 {
                return Err(StorageError::NotFound(format!("webhook {id} not found")));
            }
            Ok(())
        })
    }

    /// Replaces the secret; with `grace_until`, the old one keeps signing (next to the new) until then.
    pub fn rotate_webhook_secret(
        &self,
        id: &str,
        new_secret: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<WebhookEndpoint, StorageError> {
        self.write(|conn| {
            let old: String = webhook_endpoints::table
                .filter(webhook_endpoints::id.eq(id))
                .select(webhook_endpoints::secret)
                .first(conn)
                .optional()?
                .ok_or_else(|| StorageError::NotFound(format!("webhook {id} not found")))?;
            diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
                .set((
                    webhook_endpoints::secret.eq(new_secret),
                    webhook_endpoints::previous_secret.eq(grace_until.map(|_| old)),
                    webhook_endpoints::previous_secret_until.eq(grace_until.map(to_db_time)),
                    webhook_endpoints::updated_at.eq(to_db_time(now)),
                ))
                .execute(conn)?;
            load_endpoint(conn, id)
        })
    }

    /// The secrets an attempt made at `now` is signed with: the current one, then the previous one
    /// while its grace lasts.
    pub fn webhook_signing_secrets(&self, id: &str, now: DateTime<Utc>) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn()?;
        let (secret, previous, until) = webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(id))
            .select((
                webhook_endpoints::secret,
                webhook_endpoints::previous_secret,
                webhook_endpoints::previous_secret_until,
            ))
            .first::<(String, Option<String>, Option<NaiveDateTime>)>(&mut *conn)
            .optional()?
            .ok_or_else(|| StorageError::NotFound(format!("webhook {id} not found")))?;
        Ok(signing_secrets(secret, previous, until, now))
    }
}
