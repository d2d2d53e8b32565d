//! OAuth 2.0 clients for the client-credentials grant: one tenant each, secret stored only as its
//! [`HashedToken`] (like SCIM tokens).
//!
//! Strategy: `client_id` is the primary key, so a lookup at the token endpoint (and `scim-api`'s revocation
//! check) is one indexed read that also yields the tenant. Revocation is a timestamp, never a delete, so a
//! revoked client stays visible in listings and its id is never reused. Clients go with their tenant
//! (`ON DELETE CASCADE`). Time is the caller's parameter.

use chrono::{DateTime, NaiveDateTime, Utc};
use credentials::HashedToken;
use diesel::prelude::*;
use scim_core::TenantId;

use crate::error::{StorageError, Violation};
use crate::schema::oauth_clients;
use crate::tenants::{parse_tenant_id, tenant_not_found};
use crate::{Storage, from_db_time, to_db_time};

/// A client to register: only the hash of its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOAuthClient {
    pub client_id: String,
    pub secret_hash: HashedToken,
    /// The recognisable start of the secret, for display.
    pub secret_prefix: String,
    pub label: Option<String>,
}

impl std::fmt::Debug for NewOAuthClient {
    /// Omits the hash: it identifies a live credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOAuthClient")
            .field("client_id", &self.client_id)
            .field("secret_prefix", &self.secret_prefix)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// What the token endpoint and `scim-api` need: the tenant, the hash to check and the revocation time.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClientRecord {
    pub client_id: String,
    pub tenant: TenantId,
    pub secret_hash: HashedToken,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for OAuthClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClientRecord")
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A client's metadata for listings; never the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClientInfo {
    pub client_id: String,
    pub tenant: TenantId,
    pub secret_prefix: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = oauth_clients)]
struct NewOAuthClientRow<'a> {
    client_id: &'a str,
    tenant_id: &'a str,
    secret_hash: &'a str,
    secret_prefix: &'a str,
    label: Option<&'a str>,
    created_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = oauth_clients)]
struct OAuthClientInfoRow {
    client_id: String,
    tenant_id: String,
    secret_prefix: String,
    label: Option<String>,
    created_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

impl OAuthClientInfoRow {
    fn into_info(self) -> Result<OAuthClientInfo, StorageError> {
        Ok(OAuthClientInfo {
            tenant: parse_tenant_id(&self.tenant_id)?,
            client_id: self.client_id,
            secret_prefix: self.secret_prefix,
            label: self.label,
            created_at: from_db_time(self.created_at),
            revoked_at: self.revoked_at.map(from_db_time),
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = oauth_clients)]
struct OAuthClientRecordRow {
    client_id: String,
    tenant_id: String,
    secret_hash: String,
    revoked_at: Option<NaiveDateTime>,
}

impl Storage {
    /// Registers a client for `tenant` as of `now`. `NotFound` if the tenant does not exist,
    /// `Uniqueness` if the client id is taken.
    pub fn insert_oauth_client(
        &self,
        tenant: &TenantId,
        client: &NewOAuthClient,
        now: DateTime<Utc>,
    ) -> Result<OAuthClientInfo, StorageError> {
        for (value, what) in [
            (client.client_id.as_str(), "client id"),
            (client.secret_hash.as_hex(), "client secret hash"),
            (client.secret_prefix.as_str(), "client secret prefix"),
            (client.label.as_deref().unwrap_or_default(), "client label"),
        ] {
            crate::nul_checks::reject_nul_str(value, what)?;
        }
        let created_at = to_db_time(now);
        let row = NewOAuthClientRow {
            client_id: &client.client_id,
            tenant_id: tenant.as_str(),
            secret_hash: client.secret_hash.as_hex(),
            secret_prefix: &client.secret_prefix,
            label: client.label.as_deref(),
            created_at,
        };
        self.write(|conn| {
            diesel::insert_into(oauth_clients::table)
                .values(&row)
                .execute(conn)
                .map_err(|e| {
                    StorageError::from_diesel_with(e, |violation, _| match violation {
                        Violation::Unique => {
                            StorageError::Uniqueness("the OAuth client already exists".to_owned())
                        }
                        Violation::ForeignKey => tenant_not_found(tenant),
                    })
                })
        })?;
        Ok(OAuthClientInfo {
            client_id: client.client_id.clone(),
            tenant: tenant.clone(),
            secret_prefix: client.secret_prefix.clone(),
            label: client.label.clone(),
            created_at: from_db_time(created_at),
            revoked_at: None,
        })
    }

    /// The client with this id, whatever its state (the caller checks the secret and revocation).
    pub fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClientRecord>, StorageError> {
        let mut conn = self.conn()?;
        let row = oauth_clients::table
            .find(client_id)
            .select(OAuthClientRecordRow::as_select())
            .first(&mut *conn)
            .optional()?;
        row.map(|r| {
            Ok(OAuthClientRecord {
                tenant: parse_tenant_id(&r.tenant_id)?,
                client_id: r.client_id,
                secret_hash: HashedToken::from_stored(r.secret_hash),
                revoked_at: r.revoked_at.map(from_db_time),
            })
        })
        .transpose()
    }

    /// How many clients, across tenants, are not revoked: at start-up, whether the OAuth mode is in use.
    pub(crate) fn count_active_oauth_clients(&self) -> Result<i64, StorageError> {
        let mut conn = self.conn()?;
        Ok(oauth_clients::table
            .filter(oauth_clients::revoked_at.is_null())
            .count()
            .get_result(&mut *conn)?)
    }

    /// The tenant's clients (revoked ones included), oldest first.
    pub fn list_oauth_clients(&self, tenant: &TenantId) -> Result<Vec<OAuthClientInfo>, StorageError> {
        let mut conn = self.conn()?;
        oauth_clients::table
            .filter(oauth_clients::tenant_id.eq(tenant.as_str()))
            .select(OAuthClientInfoRow::as_select())
            .order((oauth_clients::created_at.asc(), oauth_clients::client_id.asc()))
            .load(&mut *conn)?
            .into_iter()
            .map(OAuthClientInfoRow::into_info)
            .collect()
    }

    /// Revokes one of the tenant's clients as of `at`; an earlier revocation is kept. `NotFound` if the
    /// client is not the tenant's.
    pub fn revoke_oauth_client(
        &self,
        tenant: &TenantId,
        client_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let at = to_db_time(at);
        self.write(|conn| {
            // First, like every revoking transaction (one lock order, see `tokens.rs`).
            crate::tokens::bump_revocation_generation_in(conn)?;
            let mine = oauth_clients::table
                .filter(oauth_clients::tenant_id.eq(tenant.as_str()))
                .filter(oauth_clients::client_id.eq(client_id));
            let exists: i64 = mine.count().get_result(conn)?;
            if exists == 0 {
                return Err(StorageError::NotFound(format!(
                    "OAuth client {client_id} not found in tenant {tenant}"
                )));
            }
            diesel::update(
                mine.filter(
                    oauth_clients::revoked_at
                        .is_null()
                        .or(oauth_clients::revoked_at.gt(at)),
                ),
            )
            .set(oauth_clients::revoked_at.eq(at))
            .execute(conn)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::NewTenant;

    fn client(id: &str) -> NewOAuthClient {
        NewOAuthClient {
            client_id: id.to_owned(),
            secret_hash: HashedToken::from_stored("ab".repeat(32)),
            secret_prefix: "scimcs_abc".to_owned(),
            label: Some("entra".to_owned()),
        }
    }

    fn tenant(db: &Storage, slug: &str) -> TenantId {
        let id = TenantId::parse(slug).unwrap();
        db.create_tenant(&NewTenant {
            id: id.clone(),
            display_name: slug.to_owned(),
            policy: serde_json::json!({}),
        })
        .unwrap();
        id
    }

    crate::backend_tests!(clients_are_found_listed_and_revoked, |db| {
        let acme = tenant(&db, "acme");
        let now = Utc::now();
        let info = db.insert_oauth_client(&acme, &client("c1"), now).unwrap();
        assert_eq!(info.tenant, acme);
        let found = db.find_oauth_client("c1").unwrap().unwrap();
        assert_eq!(
            (found.tenant.as_str(), found.secret_hash.as_hex()),
            ("acme", "ab".repeat(32).as_str())
        );
        assert!(found.revoked_at.is_none());
        assert!(db.find_oauth_client("nope").unwrap().is_none());
        assert!(matches!(
            db.insert_oauth_client(&acme, &client("c1"), now),
            Err(StorageError::Uniqueness(_))
        ));

        let other = tenant(&db, "other");
        assert!(matches!(
            db.revoke_oauth_client(&other, "c1", now),
            Err(StorageError::NotFound(_))
        ));
        db.revoke_oauth_client(&acme, "c1", now).unwrap();
        // A later revocation does not move the first one.
        db.revoke_oauth_client(&acme, "c1", now + Duration::hours(1))
            .unwrap();
        let revoked = db.find_oauth_client("c1").unwrap().unwrap().revoked_at.unwrap();
        assert_eq!(revoked, from_db_time(to_db_time(now)));
        let listed = db.list_oauth_clients(&acme).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, Some(revoked));
        assert!(db.list_oauth_clients(&other).unwrap().is_empty());
    });

    crate::backend_tests!(clients_need_a_tenant_and_go_with_it, |db| {
        let ghost = TenantId::parse("ghost").unwrap();
        assert!(matches!(
            db.insert_oauth_client(&ghost, &client("c1"), Utc::now()),
            Err(StorageError::NotFound(_))
        ));
        let acme = tenant(&db, "acme");
        db.insert_oauth_client(&acme, &client("c2"), Utc::now()).unwrap();
        db.delete_tenant(&acme).unwrap();
        assert!(db.find_oauth_client("c2").unwrap().is_none());
    });

    crate::backend_tests!(token_admin_tables_match_the_schema, |db| {
        let acme = tenant(&db, "acme");
        db.insert_oauth_client(&acme, &client("c1"), Utc::now()).unwrap();
        db.record_admin_action(&crate::admin_audit::NewAdminAuditEntry {
            operator: "alice".to_owned(),
            action: "tenant.create".to_owned(),
            tenant_id: Some(acme),
            detail: serde_json::json!({}),
            occurred_at: Utc::now(),
        })
        .unwrap();
        // Every column of both tables, loaded with the types schema.rs declares (the drift check).
        let mut conn = db.conn().unwrap();
        type ClientColumns = (
            String,
            String,
            String,
            String,
            Option<String>,
            NaiveDateTime,
            Option<NaiveDateTime>,
        );
        let clients: Vec<ClientColumns> = oauth_clients::table
            .select(oauth_clients::all_columns)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(clients.len(), 1);
        use crate::schema::admin_audit;
        let audit: Vec<(i64, String, String, Option<String>, String, NaiveDateTime)> = admin_audit::table
            .select(admin_audit::all_columns)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(audit.len(), 1);
    });
}
