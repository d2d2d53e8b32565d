//! A user's emails in `resource_emails`, one row per element of its `emails` array, written in the same
//! transaction as the document they come from ([`crate::shadow_columns::email_keys`]).

use diesel::prelude::*;
use scim_core::TenantId;

use crate::connection::{DbConnection, on_inner};
use crate::error::StorageError;
use crate::schema::resource_emails;
use crate::shadow_columns::EmailKey;

#[derive(Insertable)]
#[diesel(table_name = resource_emails)]
struct EmailRow<'a> {
    tenant_id: &'a str,
    resource_id: &'a str,
    position: i32,
    email_type: Option<&'a str>,
    value_lower: &'a str,
}

/// Inserts the rows of a resource that has none yet: one multi-row statement, none without emails.
pub(crate) fn insert_emails(
    conn: &mut DbConnection,
    tenant: &TenantId,
    resource_id: &str,
    keys: &[EmailKey],
) -> Result<(), StorageError> {
    if keys.is_empty() {
        return Ok(());
    }
    let rows: Vec<EmailRow<'_>> = keys
        .iter()
        .map(|key| EmailRow {
            tenant_id: tenant.as_str(),
            resource_id,
            position: key.position,
            email_type: key.email_type.as_deref(),
            value_lower: &key.value_lower,
        })
        .collect();
    // Multi-row inserts do not go through MultiBackend: run them on the inner connection.
    on_inner!(conn, |c| diesel::insert_into(resource_emails::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Replaces a resource's rows when its emails changed; nothing when they did not.
pub(crate) fn replace_emails(
    conn: &mut DbConnection,
    tenant: &TenantId,
    resource_id: &str,
    before: &[EmailKey],
    after: &[EmailKey],
) -> Result<(), StorageError> {
    if before == after {
        return Ok(());
    }
    if !before.is_empty() {
        diesel::delete(
            resource_emails::table
                .filter(resource_emails::tenant_id.eq(tenant.as_str()))
                .filter(resource_emails::resource_id.eq(resource_id)),
        )
        .execute(conn)?;
    }
    insert_emails(conn, tenant, resource_id, after)
}
