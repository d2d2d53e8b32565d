//! SCIM bearer tokens: stored only as their [`HashedToken`], found by it.
//!
//! Strategy: `token_hash` has a unique index, so authentication is one indexed lookup that returns the
//! tenant. Revocation is a timestamp, not a delete: `revoked_at` in the future is a grace period (rotation
//! keeps the old token working until then); the caller compares it with its clock. `last_used_at` is
//! written in batches (the API buffers uses) and only ever moves forward. `scope` says what the token may
//! do ([`TokenScope`]); rotation only ever revokes `write` tokens, the IdP's, so read-only tokens held by
//! reporting jobs survive an IdP reconfiguration.

use chrono::{DateTime, NaiveDateTime};
use credentials::{HashedToken, PlainToken};
use diesel::prelude::*;
use scim_core::TenantId;

use crate::connection::DbConnection;
use crate::error::{StorageError, Violation};
use crate::schema::scim_tokens;
use crate::tenants::{parse_tenant_id, tenant_not_found};
use crate::{
    IssuedToken, NewToken, Storage, TokenInfo, TokenRecord, TokenRequest, TokenScope, from_db_time,
    to_db_time,
};

#[derive(Debug, Insertable)]
#[diesel(table_name = scim_tokens)]
struct NewTokenRow<'a> {
    id: &'a str,
    tenant_id: &'a str,
    token_hash: &'a str,
    prefix: &'a str,
    label: Option<&'a str>,
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    scope: &'a str,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = scim_tokens)]
struct TokenInfoRow {
    id: String,
    tenant_id: String,
    scope: String,
    prefix: String,
    label: Option<String>,
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
}

impl TokenInfoRow {
    fn into_info(self) -> Result<TokenInfo, StorageError> {
        Ok(TokenInfo {
            tenant: parse_tenant_id(&self.tenant_id)?,
            scope: parse_scope(&self.scope)?,
            id: self.id,
            prefix: self.prefix,
            label: self.label,
            created_at: from_db_time(self.created_at),
            expires_at: self.expires_at.map(from_db_time),
            revoked_at: self.revoked_at.map(from_db_time),
            last_used_at: self.last_used_at.map(from_db_time),
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = scim_tokens)]
struct TokenRecordRow {
    id: String,
    tenant_id: String,
    scope: String,
    expires_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

/// The migration's CHECK admits only known scopes: anything else is corrupt data.
fn parse_scope(text: &str) -> Result<TokenScope, StorageError> {
    TokenScope::parse(text).ok_or_else(|| StorageError::corrupt(format!("token scope {text:?}")))
}

fn token_not_found(tenant: &TenantId, token_id: &str) -> StorageError {
    StorageError::NotFound(format!("token {token_id} not found in tenant {tenant}"))
}

impl Storage {
    /// Issues `tenant` a new API token: generates the secret, stores only its hash and display prefix, and
    /// with `revoke_others_at` revokes the tenant's other `write` tokens (rotation). `NotFound` if the tenant does
    /// not exist. `token-admin` and `scim-api --bootstrap-tenant` both issue through here.
    pub fn issue_token(
        &self,
        tenant: &TenantId,
        request: &TokenRequest,
    ) -> Result<IssuedToken, StorageError> {
        let token = PlainToken::generate_api_token();
        let new = NewToken {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: token.hash(),
            prefix: token.display_prefix(),
            label: request.label.clone(),
            expires_at: request.expires_at,
            scope: request.scope,
        };
        // One transaction: a crash cannot leave the old tokens alive beside the new one. A rotation first
        // bumps the credential generation, whose row lock queues concurrent rotations (and revocations)
        // on PostgreSQL as `BEGIN IMMEDIATE` does on SQLite: the later rotation sees the earlier one's
        // token committed and revokes it, so N rotations at once leave one valid token, the last.
        let (info, revoked_others) = self.write(|conn| {
            if request.revoke_others_at.is_some() {
                bump_revocation_generation_in(conn)?;
            }
            let info = insert_token_in(conn, tenant, &new)?;
            let revoked = match request.revoke_others_at {
                Some(at) => revoke_write_tokens_except_in(conn, tenant, &info.id, at)?,
                None => 0,
            };
            Ok((info, revoked))
        })?;
        Ok(IssuedToken {
            info,
            token,
            revoked_others,
        })
    }

    /// Stores a token for `tenant` (created now). `NotFound` if the tenant does not exist, `Uniqueness`
    /// if the id or hash is already stored.
    pub fn insert_token(&self, tenant: &TenantId, token: &NewToken) -> Result<TokenInfo, StorageError> {
        self.write(|conn| insert_token_in(conn, tenant, token))
    }

    /// The token with this hash, whatever its state (the caller checks expiry and revocation).
    pub fn find_token(&self, token_hash: &HashedToken) -> Result<Option<TokenRecord>, StorageError> {
        let mut conn = self.conn()?;
        let row = scim_tokens::table
            .filter(scim_tokens::token_hash.eq(token_hash.as_hex()))
            .select(TokenRecordRow::as_select())
            .first(&mut *conn)
            .optional()?;
        row.map(|r| {
            Ok(TokenRecord {
                tenant: parse_tenant_id(&r.tenant_id)?,
                scope: parse_scope(&r.scope)?,
                id: r.id,
                expires_at: r.expires_at.map(from_db_time),
                revoked_at: r.revoked_at.map(from_db_time),
            })
        })
        .transpose()
    }

    /// The tenant's tokens (revoked ones included), oldest first.
    pub fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenInfo>, StorageError> {
        let mut conn = self.conn()?;
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(tenant.as_str()))
            .select(TokenInfoRow::as_select())
            .order((scim_tokens::created_at.asc(), scim_tokens::id.asc()))
            .load(&mut *conn)?
            .into_iter()
            .map(TokenInfoRow::into_info)
            .collect()
    }

    /// Revokes one of the tenant's tokens as of `at`. An earlier existing revocation is kept; a later one
    /// (a grace period still running) is brought forward. `NotFound` if the token is not the tenant's.
    pub fn revoke_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
        at: DateTime<chrono::Utc>,
    ) -> Result<(), StorageError> {
        let at = to_db_time(at);
        self.write(|conn| {
            // First, like every revoking transaction: the generation's row lock orders them all the
            // same way, so two cannot deadlock.
            bump_revocation_generation_in(conn)?;
            let mine = scim_tokens::table
                .filter(scim_tokens::tenant_id.eq(tenant.as_str()))
                .filter(scim_tokens::id.eq(token_id));
            let exists: i64 = mine.count().get_result(conn)?;
            if exists == 0 {
                return Err(token_not_found(tenant, token_id));
            }
            diesel::update(
                mine.filter(
                    scim_tokens::revoked_at
                        .is_null()
                        .or(scim_tokens::revoked_at.gt(at)),
                ),
            )
            .set(scim_tokens::revoked_at.eq(at))
            .execute(conn)?;
            Ok(())
        })
    }

    /// Revokes, as of `at` (possibly in the future: a grace period), every `write` token of the tenant
    /// except `keep_token_id` that is not revoked yet: rotation replaces the IdP's token, and read-only
    /// tokens are someone else's. Returns how many were revoked.
    pub fn revoke_write_tokens_except(
        &self,
        tenant: &TenantId,
        keep_token_id: &str,
        at: DateTime<chrono::Utc>,
    ) -> Result<u64, StorageError> {
        self.write(|conn| {
            bump_revocation_generation_in(conn)?;
            revoke_write_tokens_except_in(conn, tenant, keep_token_id, at)
        })
    }

    /// The credential generation: how many revocations (tokens, OAuth clients, deleted tenants) were
    /// ever committed. A cheap single-row read that scim-api polls to drop its credential caches.
    pub fn revocation_generation(&self) -> Result<i64, StorageError> {
        let mut conn = self.conn()?;
        let row: Generation = diesel::sql_query("SELECT generation FROM credential_generation WHERE id = 1")
            .get_result(&mut *conn)?;
        Ok(row.generation)
    }

    /// Records token uses in one transaction; `last_used_at` only moves forward. Unknown ids are ignored
    /// (the token may have been deleted with its tenant meanwhile).
    pub fn record_token_use(&self, uses: &[(String, DateTime<chrono::Utc>)]) -> Result<(), StorageError> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write(|conn| {
            for (token_id, at) in uses {
                let at = to_db_time(*at);
                diesel::update(
                    scim_tokens::table.filter(scim_tokens::id.eq(token_id)).filter(
                        scim_tokens::last_used_at
                            .is_null()
                            .or(scim_tokens::last_used_at.lt(at)),
                    ),
                )
                .set(scim_tokens::last_used_at.eq(at))
                .execute(conn)?;
            }
            Ok(())
        })
    }
}

#[derive(diesel::QueryableByName)]
struct Generation {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generation: i64,
}

/// Bumps the credential generation inside the caller's (revoking) transaction, so the revocation and
/// the signal that caches must drop it commit together.
pub(crate) fn bump_revocation_generation_in(conn: &mut DbConnection) -> Result<(), StorageError> {
    diesel::sql_query("UPDATE credential_generation SET generation = generation + 1 WHERE id = 1")
        .execute(conn)?;
    Ok(())
}

/// [`Storage::insert_token`] inside the caller's transaction.
fn insert_token_in(
    conn: &mut DbConnection,
    tenant: &TenantId,
    token: &NewToken,
) -> Result<TokenInfo, StorageError> {
    for (value, what) in [
        (token.id.as_str(), "token id"),
        (token.token_hash.as_hex(), "token hash"),
        (token.prefix.as_str(), "token prefix"),
        (token.label.as_deref().unwrap_or_default(), "token label"),
    ] {
        crate::nul_checks::reject_nul_str(value, what)?;
    }
    let created_at = to_db_time(chrono::Utc::now());
    let row = NewTokenRow {
        id: &token.id,
        tenant_id: tenant.as_str(),
        token_hash: token.token_hash.as_hex(),
        prefix: &token.prefix,
        label: token.label.as_deref(),
        created_at,
        expires_at: token.expires_at.map(to_db_time),
        scope: token.scope.as_str(),
    };
    diesel::insert_into(scim_tokens::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| {
            StorageError::from_diesel_with(e, |violation, _| match violation {
                Violation::Unique => StorageError::Uniqueness("the token already exists".to_owned()),
                Violation::ForeignKey => tenant_not_found(tenant),
            })
        })?;
    Ok(TokenInfo {
        id: token.id.clone(),
        tenant: tenant.clone(),
        scope: token.scope,
        prefix: token.prefix.clone(),
        label: token.label.clone(),
        created_at: from_db_time(created_at),
        expires_at: token.expires_at.map(to_db_time).map(from_db_time),
        revoked_at: None,
        last_used_at: None,
    })
}

/// [`Storage::revoke_write_tokens_except`] inside the caller's transaction, which has bumped the
/// credential generation first.
fn revoke_write_tokens_except_in(
    conn: &mut DbConnection,
    tenant: &TenantId,
    keep_token_id: &str,
    at: DateTime<chrono::Utc>,
) -> Result<u64, StorageError> {
    let revoked = diesel::update(
        scim_tokens::table
            .filter(scim_tokens::tenant_id.eq(tenant.as_str()))
            .filter(scim_tokens::id.ne(keep_token_id))
            .filter(scim_tokens::scope.eq(TokenScope::Write.as_str()))
            .filter(scim_tokens::revoked_at.is_null()),
    )
    .set(scim_tokens::revoked_at.eq(to_db_time(at)))
    .execute(conn)?;
    Ok(u64::try_from(revoked).unwrap_or(u64::MAX))
}
