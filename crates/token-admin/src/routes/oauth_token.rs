//! `POST /oauth2/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), so Entra's "OAuth2 client
//! credentials grant" authentication mode works.
//!
//! Strategy: the client authenticates with `client_secret_basic` (HTTP Basic, RFC 6749 §2.3.1) or
//! `client_secret_post` (form fields), never both (§2.3). The secret is checked against the stored SHA-256
//! in constant time; an unknown client costs the same hash-and-compare, so timing does not reveal which
//! client ids exist. A revoked client is refused. The answer (§5.1) is a short-lived HS256 JWT from
//! [`credentials::AccessTokenIssuer`] with `Cache-Control: no-store`; errors follow §5.2.
//!
//! Client ids and secrets contain only `[A-Za-z0-9_-]`, which the `application/x-www-form-urlencoded`
//! encoding that §2.3.1 asks Basic credentials to use leaves unchanged, so no decoding step is needed.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credentials::HashedToken;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::error::OAuthError;

/// The form fields of a token request; unknown parameters are ignored as §3.2 requires.
#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
}

/// `Authorization: Basic base64(client_id:client_secret)`, if present.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client(true);
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request(
            "only HTTP Basic client authentication is accepted here",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((id.to_owned(), secret.to_owned())))
}

/// A hash that no secret matches, compared against when the client id is unknown.
const NO_CLIENT_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub async fn issue_access_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let Some(issuer) = state.access_tokens.as_ref() else {
        tracing::info!("token request refused: OAuth is off (oauth_signing_secret is not set)");
        return Err(OAuthError::disabled());
    };
    let form: TokenForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| OAuthError::invalid_request("malformed form body"))?;
    let basic = basic_credentials(&req)?;
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, form.client_id, form.client_secret) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (Some((id, secret)), form_id, None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the Basic credentials",
                ));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id, secret),
        (None, _, _) => return Err(OAuthError::invalid_client(false)),
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => return Err(OAuthError::unsupported_grant_type()),
        None => return Err(OAuthError::invalid_request("grant_type is required")),
    }

    let lookup_id = client_id.clone();
    let storage = state.storage.clone();
    let client = service::blocking(move || storage.find_oauth_client(&lookup_id))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "client lookup task failed");
            OAuthError::server_error()
        })?
        .map_err(|e| {
            tracing::error!(error = ?e, "client lookup failed");
            OAuthError::server_error()
        })?;
    let now = state.clock.now();
    let no_client = HashedToken::from_stored(NO_CLIENT_HASH);
    let stored_hash = client.as_ref().map_or(&no_client, |c| &c.secret_hash);
    let secret_ok = stored_hash.matches(&secret);
    let client = match client {
        Some(c) if secret_ok && c.revoked_at.is_none_or(|at| at > now) => c,
        _ => {
            tracing::info!(client_id = %client_id, "client authentication failed");
            return Err(OAuthError::invalid_client(used_basic));
        }
    };
    let issued = issuer
        .issue(client.tenant.as_str(), &client.client_id, now)
        .map_err(|e| {
            tracing::error!(error = %e, "cannot sign access token");
            OAuthError::server_error()
        })?;
    tracing::info!(client_id = %client.client_id, tenant = %client.tenant, jti = %issued.jti, "issued access token");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: issued.token.expose_secret(),
            token_type: "Bearer",
            expires_in: issued.expires_in,
        }))
}
