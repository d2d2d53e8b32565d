//! The portal's handlers and page models. Each handler answers HTML itself, errors included (the admin
//! API's JSON error format is for machines), so none returns `Err`.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use credentials::HashedToken;
use scim_core::TenantId;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use storage::portal::{ConnectionStatus, NewPortalSession, PortalScope, RequestLogEntry};
use storage::{StorageError, TokenInfo, TokenScope};

use super::PortalState;
use super::links::random_secret;
use super::session::{self, PortalSession};
use crate::scim_tokens::{self, IssueOptions};

/// Recent requests shown on a tenant's page.
const RECENT_REQUESTS: i64 = 50;
/// Tenants shown in the operator view.
const MAX_TENANTS_LISTED: usize = 500;

const CSS: &str = include_str!("../../assets/portal.css");
const JS: &str = include_str!("../../assets/portal.js");

/// `portal-<hash>.css`: a new build with new styles gets a new name, so the files can be cached forever.
fn hashed_name(stem: &str, ext: &str, content: &str) -> String {
    let digest = format!("{:x}", Sha256::digest(content.as_bytes()));
    format!("{stem}-{}.{ext}", digest.get(..12).unwrap_or(&digest))
}

static CSS_NAME: LazyLock<String> = LazyLock::new(|| hashed_name("portal", "css", CSS));
static JS_NAME: LazyLock<String> = LazyLock::new(|| hashed_name("portal", "js", JS));

/// What every page's frame needs.
#[derive(Debug)]
pub struct Chrome {
    pub css: String,
    pub js: String,
    pub signed_in: bool,
    pub operator: bool,
    pub csrf: String,
}

impl Chrome {
    fn anonymous() -> Self {
        Self {
            css: format!("/portal/assets/{}", *CSS_NAME),
            js: format!("/portal/assets/{}", *JS_NAME),
            signed_in: false,
            operator: false,
            csrf: String::new(),
        }
    }

    fn of(session: &PortalSession) -> Self {
        Self {
            signed_in: true,
            operator: session.is_operator(),
            csrf: session.csrf.clone(),
            ..Self::anonymous()
        }
    }
}

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage {
    chrome: Chrome,
    title: String,
    heading: String,
    message: String,
}

#[derive(Template)]
#[template(path = "portal/start.html")]
struct StartPage {
    chrome: Chrome,
    title: String,
}

#[derive(Template)]
#[template(path = "portal/confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    title: String,
    heading: String,
    message: String,
    action: String,
    back: String,
}

/// A token row.
#[derive(Debug)]
pub struct TokenRow {
    label: String,
    prefix: String,
    created: String,
    last_used: String,
    expires: String,
    status: String,
    status_class: &'static str,
    active: bool,
    revoke_action: String,
}

/// A recorded request row.
#[derive(Debug)]
pub struct RequestRow {
    time: String,
    method: String,
    resource: String,
    status: u16,
    outcome_class: &'static str,
    detail: String,
}

/// The connection status as shown.
#[derive(Debug)]
pub struct StatusView {
    last_request: String,
    test_connection: String,
    users: i64,
    groups: i64,
    recent_errors: i64,
    state_label: &'static str,
    state_class: &'static str,
}

#[derive(Template)]
#[template(path = "portal/tenant.html")]
struct TenantPage {
    chrome: Chrome,
    title: String,
    tenant_name: String,
    tenant_url: String,
    notice: Option<String>,
    new_token: Option<String>,
    rotated: bool,
    has_write_token: bool,
    generate_action: String,
    tokens: Vec<TokenRow>,
    status: StatusView,
    requests: Vec<RequestRow>,
}

/// A tenant in the operator view.
#[derive(Debug)]
pub struct TenantSummary {
    slug: String,
    name: String,
    status: StatusView,
    last_error: String,
}

#[derive(Template)]
#[template(path = "portal/operator.html")]
struct OperatorPage {
    chrome: Chrome,
    title: String,
    tenants: Vec<TenantSummary>,
}

fn when(t: Option<DateTime<Utc>>, never: &str) -> String {
    t.map_or_else(
        || never.to_owned(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// With seconds, for the request list.
fn when_exactly(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "portal template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

fn message(status: StatusCode, chrome: Chrome, heading: &str, text: &str) -> HttpResponse {
    html(
        status,
        &MessagePage {
            chrome,
            title: heading.to_owned(),
            heading: heading.to_owned(),
            message: text.to_owned(),
        },
    )
}

fn not_signed_in() -> HttpResponse {
    message(
        StatusCode::UNAUTHORIZED,
        Chrome::anonymous(),
        "Open your setup link",
        "This page needs the setup link you were sent. Each link works once and for a limited time: if yours \
         was already used or has expired, ask your provider for a new one.",
    )
}

fn not_found_for(session: Option<&PortalSession>) -> HttpResponse {
    let chrome = session.map_or_else(Chrome::anonymous, Chrome::of);
    message(
        StatusCode::NOT_FOUND,
        chrome,
        "Not found",
        "There is no such page, or it is not yours to see.",
    )
}

fn server_error(e: &dyn std::fmt::Debug) -> HttpResponse {
    tracing::error!(error = ?e, "portal request failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        Chrome::anonymous(),
        "Something went wrong",
        "The page could not be loaded. Try again in a moment.",
    )
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// The page to answer instead, when a step refuses (boxed: a response is large).
type Refused = Box<HttpResponse>;

/// Runs storage work on the blocking pool.
async fn run<R, F>(state: &PortalState, f: F) -> Result<R, Refused>
where
    F: FnOnce(&storage::Storage) -> Result<R, StorageError> + Send + 'static,
    R: Send + 'static,
{
    let storage = state.storage.clone();
    match service::blocking(move || f(&storage)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Box::new(server_error(&e))),
        Err(e) => Err(Box::new(server_error(&e))),
    }
}

/// The request's session, or the page to answer instead.
async fn session_of(req: &HttpRequest, state: &PortalState) -> Result<PortalSession, Refused> {
    let Some(secret) = session::cookie_secret(req) else {
        return Err(Box::new(not_signed_in()));
    };
    let id_hash = HashedToken::of(&secret);
    let (now, idle, lookup) = (state.clock.now(), state.config.idle, id_hash.clone());
    match run(state, move |s| s.touch_portal_session(&lookup, now, idle)).await? {
        Some(scope) => Ok(PortalSession {
            scope,
            csrf: session::csrf_token(&secret),
            id_hash,
        }),
        None => Err(Box::new(not_signed_in())),
    }
}

/// The form fields of a POST.
fn form(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// A POST's session with its CSRF token checked.
async fn checked_post(
    req: &HttpRequest,
    state: &PortalState,
    fields: &HashMap<String, String>,
) -> Result<PortalSession, Refused> {
    let session = session_of(req, state).await?;
    let sent = fields.get("csrf").map(String::as_str).unwrap_or_default();
    if !session::same_token(sent, &session.csrf) {
        tracing::warn!(
            path = req.path(),
            "portal form refused: missing or wrong CSRF token"
        );
        return Err(Box::new(message(
            StatusCode::FORBIDDEN,
            Chrome::of(&session),
            "Request refused",
            "This form has expired or did not come from this page. Go back, reload the page and try again.",
        )));
    }
    Ok(session)
}

/// The tenant named in the URL, if the session may see it.
fn tenant_in_path(session: &PortalSession, slug: &str) -> Result<TenantId, Refused> {
    TenantId::parse(slug)
        .ok()
        .filter(|tenant| session.may_access(tenant))
        .ok_or_else(|| Box::new(not_found_for(Some(session))))
}

/// Who the audit log names for a portal action.
fn audit_subject(session: &PortalSession) -> String {
    match &session.scope {
        PortalScope::Tenant(tenant) => format!("portal:{tenant}"),
        PortalScope::Operator => "portal:operator".to_owned(),
    }
}

/// What the status card shows. Without a working write token the IdP cannot provision, whatever it did
/// before, so that outranks every other state.
fn status_view(status: &ConnectionStatus, has_write_token: bool) -> StatusView {
    let test_connection = match status.last_probe {
        Some((at, code)) if (200..300).contains(&code) => format!("Succeeded, {}", when(Some(at), "")),
        Some((at, code)) => format!("Failed ({code}), {}", when(Some(at), "")),
        None => "Not seen yet".to_owned(),
    };
    let probe_ok = status
        .last_probe
        .is_some_and(|(_, code)| (200..300).contains(&code));
    let (state_label, state_class) = match (status.last_request_at, probe_ok, status.last_error_at) {
        (None, _, _) if !has_write_token => ("No token yet", "idle"),
        _ if !has_write_token => ("No working token", "err"),
        (None, _, _) => ("Waiting for first request", "idle"),
        (Some(last), _, Some(error)) if error >= last => ("Last request refused", "err"),
        (Some(_), true, _) => ("Connected", "ok"),
        (Some(_), false, _) => ("Receiving requests", "warn"),
    };
    StatusView {
        last_request: when(status.last_request_at, "No requests yet"),
        test_connection,
        users: status.users,
        groups: status.groups,
        recent_errors: status.recent_errors,
        state_label,
        state_class,
    }
}

fn token_row(tenant: &TenantId, info: TokenInfo, now: DateTime<Utc>) -> TokenRow {
    let (status, status_class, active) = match (info.revoked_at, info.expires_at) {
        (Some(at), _) if at <= now => ("Revoked".to_owned(), "idle", false),
        (_, Some(at)) if at <= now => ("Expired".to_owned(), "idle", false),
        (Some(at), _) => (format!("Ends {}", when(Some(at), "")), "warn", true),
        _ => ("Active".to_owned(), "ok", true),
    };
    let mut label = info.label.unwrap_or_else(|| "—".to_owned());
    if info.scope == TokenScope::Read {
        label.push_str(" (read-only)");
    }
    TokenRow {
        label,
        prefix: info.prefix,
        created: when(Some(info.created_at), ""),
        last_used: when(info.last_used_at, "Never"),
        expires: when(info.expires_at, "Never"),
        status,
        status_class,
        active,
        revoke_action: format!("/portal/t/{tenant}/tokens/{}/revoke", info.id),
    }
}

fn request_row(tenant: &TenantId, entry: RequestLogEntry) -> RequestRow {
    let prefix = format!("/scim/v2/{tenant}");
    let resource = entry
        .path
        .strip_prefix(&prefix)
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&entry.path)
        .to_owned();
    let outcome_class = match entry.status {
        200..=399 => "ok",
        400..=499 => "warn",
        _ => "err",
    };
    let detail = match (entry.scim_type, entry.detail) {
        (Some(kind), Some(detail)) => format!("{kind}: {detail}"),
        (None, Some(detail)) => detail,
        _ if entry.probe && entry.status < 300 => "Test Connection (filtered query)".to_owned(),
        _ => String::new(),
    };
    RequestRow {
        time: when_exactly(entry.occurred_at),
        method: entry.method,
        resource,
        status: entry.status,
        outcome_class,
        detail,
    }
}

/// Everything a tenant page shows, read in one blocking task.
struct TenantData {
    name: String,
    tokens: Vec<TokenInfo>,
    status: ConnectionStatus,
    requests: Vec<RequestLogEntry>,
}

/// The tenant's page data; `None` if the tenant does not exist.
async fn tenant_data(state: &PortalState, tenant: &TenantId) -> Result<Option<TenantData>, Refused> {
    let tenant = tenant.clone();
    run(state, move |s| {
        let record = match s.get_tenant(&tenant) {
            Ok(record) => record,
            Err(StorageError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(TenantData {
            name: record.display_name,
            tokens: s.list_tokens(&tenant)?,
            status: s.connection_status(&tenant)?,
            requests: s.recent_scim_requests(&tenant, RECENT_REQUESTS)?,
        }))
    })
    .await
}

/// Whether the tenant has a write token usable now (what "Regenerate" would replace).
fn has_active_write_token(tokens: &[TokenInfo], now: DateTime<Utc>) -> bool {
    tokens.iter().any(|t| {
        t.scope == TokenScope::Write
            && t.revoked_at.is_none_or(|at| at > now)
            && t.expires_at.is_none_or(|at| at > now)
    })
}

/// Renders a tenant's page, with a just-issued token when there is one.
async fn render_tenant(
    state: &PortalState,
    session: &PortalSession,
    tenant: &TenantId,
    new_token: Option<(String, bool)>,
    notice: Option<String>,
) -> HttpResponse {
    let data = match tenant_data(state, tenant).await {
        Ok(Some(data)) => data,
        Ok(None) => return not_found_for(Some(session)),
        Err(page) => return *page,
    };
    let now = state.clock.now();
    let has_write_token = has_active_write_token(&data.tokens, now);
    let (new_token, rotated) = match new_token {
        Some((token, rotated)) => (Some(token), rotated),
        None => (None, false),
    };
    let page = TenantPage {
        chrome: Chrome::of(session),
        title: data.name.clone(),
        tenant_name: data.name,
        tenant_url: service::tenant_base_url(&state.config.scim_base, tenant),
        notice,
        new_token,
        rotated,
        has_write_token,
        generate_action: format!("/portal/t/{tenant}/tokens"),
        tokens: data
            .tokens
            .into_iter()
            .rev()
            .map(|t| token_row(tenant, t, now))
            .collect(),
        status: status_view(&data.status, has_write_token),
        requests: data
            .requests
            .into_iter()
            .map(|r| request_row(tenant, r))
            .collect(),
    };
    html(StatusCode::OK, &page)
}

/// `GET /portal`: to `/portal/`.
pub async fn home_redirect() -> HttpResponse {
    see_other("/portal/")
}

/// `GET /portal/`.
pub async fn home(req: HttpRequest, state: web::Data<PortalState>) -> HttpResponse {
    let session = match session_of(&req, &state).await {
        Ok(session) => session,
        Err(page) => return *page,
    };
    match &session.scope {
        PortalScope::Tenant(tenant) => see_other(&format!("/portal/t/{tenant}")),
        PortalScope::Operator => operator_view(&state, &session).await,
    }
}

async fn operator_view(state: &PortalState, session: &PortalSession) -> HttpResponse {
    let listed = run(state, |s| {
        let mut out = Vec::new();
        for tenant in s.list_tenants()?.into_iter().take(MAX_TENANTS_LISTED) {
            let status = s.connection_status(&tenant.id)?;
            let tokens = s.list_tokens(&tenant.id)?;
            let last_error = if status.recent_errors > 0 {
                s.recent_scim_requests(&tenant.id, 200)?
                    .into_iter()
                    .find(|r| r.status >= 400)
            } else {
                None
            };
            out.push((tenant, status, tokens, last_error));
        }
        Ok(out)
    })
    .await;
    let listed = match listed {
        Ok(listed) => listed,
        Err(page) => return *page,
    };
    let now = state.clock.now();
    let tenants = listed
        .into_iter()
        .map(|(tenant, status, tokens, last_error)| TenantSummary {
            slug: tenant.id.to_string(),
            name: tenant.display_name,
            status: status_view(&status, has_active_write_token(&tokens, now)),
            last_error: last_error
                .map(|r| {
                    let row = request_row(&tenant.id, r);
                    format!(
                        "last: {} {} → {} {}",
                        row.method, row.resource, row.status, row.detail
                    )
                })
                .unwrap_or_default(),
        })
        .collect();
    html(
        StatusCode::OK,
        &OperatorPage {
            chrome: Chrome::of(session),
            title: "Tenants".to_owned(),
            tenants,
        },
    )
}

/// `GET /portal/start?code=…`: trades a setup link for a session, then moves to `/portal/` (a page that
/// refreshes to it rather than a 3xx: a `SameSite=Strict` cookie is not sent on a redirect that follows a
/// link clicked in another site, such as a mail client).
pub async fn start(req: HttpRequest, state: web::Data<PortalState>) -> HttpResponse {
    if !state.allow_exchange(&req) {
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            Chrome::anonymous(),
            "Too many attempts",
            "Too many setup links were tried from your network. Wait a minute and open your link again.",
        );
    }
    let query: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let code = query.get("code").map(String::as_str).unwrap_or_default();
    let invalid = || {
        message(
            StatusCode::NOT_FOUND,
            Chrome::anonymous(),
            "This link cannot be used",
            "The setup link is invalid, has expired, or was already used (each link works once). Ask your \
             provider for a new link.",
        )
    };
    if code.is_empty() || code.len() > 128 {
        return invalid();
    }
    let code_hash = HashedToken::of(code);
    let secret = random_secret();
    let now = state.clock.now();
    let new_session = NewPortalSession {
        id_hash: HashedToken::of(&secret),
        created_at: now,
        expires_at: now + state.config.max_age,
    };
    match run(&state, move |s| {
        s.redeem_portal_link(&code_hash, &new_session, now)
    })
    .await
    {
        Ok(Some(scope)) => {
            let tenant = match &scope {
                PortalScope::Tenant(t) => t.to_string(),
                PortalScope::Operator => String::new(),
            };
            tracing::info!(
                tenant,
                operator = scope == PortalScope::Operator,
                "portal link opened"
            );
            let mut response = html(
                StatusCode::OK,
                &StartPage {
                    chrome: Chrome::anonymous(),
                    title: "Signed in".to_owned(),
                },
            );
            if let Ok(value) =
                header::HeaderValue::from_str(&session::set_cookie(&secret, state.config.secure_cookie))
            {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(None) => {
            tracing::info!("portal link refused: unknown, used or expired");
            invalid()
        }
        Err(page) => *page,
    }
}

/// `POST /portal/logout`.
pub async fn logout(req: HttpRequest, state: web::Data<PortalState>, body: web::Bytes) -> HttpResponse {
    let fields = form(&body);
    let session = match checked_post(&req, &state, &fields).await {
        Ok(session) => session,
        Err(page) => return *page,
    };
    let id_hash = session.id_hash.clone();
    if let Err(page) = run(&state, move |s| s.delete_portal_session(&id_hash)).await {
        return *page;
    }
    let mut response = message(
        StatusCode::OK,
        Chrome::anonymous(),
        "Signed out",
        "You are signed out. Open a new setup link to come back.",
    );
    if let Ok(value) = header::HeaderValue::from_str(&session::clear_cookie(state.config.secure_cookie)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /portal/t/{slug}`.
pub async fn tenant_page(
    req: HttpRequest,
    state: web::Data<PortalState>,
    path: web::Path<String>,
) -> HttpResponse {
    let session = match session_of(&req, &state).await {
        Ok(session) => session,
        Err(page) => return *page,
    };
    let tenant = match tenant_in_path(&session, &path) {
        Ok(tenant) => tenant,
        Err(page) => return *page,
    };
    let notice = (req.query_string() == "revoked=1").then(|| "The token was revoked.".to_owned());
    render_tenant(&state, &session, &tenant, None, notice).await
}

/// `POST /portal/t/{slug}/tokens`: issues a token, revoking the tenant's other write tokens in the same
/// transaction. Replacing a working token needs `confirmed=yes` (the script sets it after a confirm
/// dialog; without the script a confirmation page asks).
pub async fn generate_token(
    req: HttpRequest,
    state: web::Data<PortalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let fields = form(&body);
    let session = match checked_post(&req, &state, &fields).await {
        Ok(session) => session,
        Err(page) => return *page,
    };
    let tenant = match tenant_in_path(&session, &path) {
        Ok(tenant) => tenant,
        Err(page) => return *page,
    };
    let now = state.clock.now();
    let lookup = tenant.clone();
    let existing = match run(&state, move |s| match s.get_tenant(&lookup) {
        Ok(_) => Ok(Some(s.list_tokens(&lookup)?)),
        Err(StorageError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    })
    .await
    {
        Ok(Some(tokens)) => tokens,
        Ok(None) => return not_found_for(Some(&session)),
        Err(page) => return *page,
    };
    let replacing = has_active_write_token(&existing, now);
    let confirmed = fields.get("confirmed").is_some_and(|v| v == "yes");
    if replacing && !confirmed {
        return html(
            StatusCode::OK,
            &ConfirmPage {
                chrome: Chrome::of(&session),
                title: "Regenerate token".to_owned(),
                heading: "Regenerate the Secret Token?".to_owned(),
                message: "The current token stops working immediately, and provisioning fails until your \
                          identity provider has the new one."
                    .to_owned(),
                action: format!("/portal/t/{tenant}/tokens"),
                back: format!("/portal/t/{tenant}"),
            },
        );
    }
    let options = IssueOptions {
        label: Some("Setup portal".to_owned()),
        rotate: true,
        ..IssueOptions::default()
    };
    let (target, scim_base) = (tenant.clone(), state.config.scim_base.clone());
    let storage = state.storage.clone();
    let issued =
        service::blocking(move || scim_tokens::issue_token(&storage, &target, &options, &scim_base, now))
            .await;
    let issued = match issued {
        Ok(Ok(issued)) => issued,
        Ok(Err(e)) => return server_error(&e),
        Err(e) => return server_error(&e),
    };
    let detail = json!({"tokenId": issued.id, "scope": "write", "rotate": true, "via": "portal"});
    let (subject, audited) = (audit_subject(&session), tenant.clone());
    let storage = state.storage.clone();
    let _ignored = service::blocking(move || {
        crate::audit::audit(&storage, &subject, "token.issue", Some(&audited), detail, now);
    })
    .await;
    let token = issued.api_token.expose_secret().to_owned();
    let mut response = render_tenant(&state, &session, &tenant, Some((token, replacing)), None).await;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `POST /portal/t/{slug}/tokens/{id}/revoke`.
pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<PortalState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let fields = form(&body);
    let session = match checked_post(&req, &state, &fields).await {
        Ok(session) => session,
        Err(page) => return *page,
    };
    let (slug, token_id) = path.into_inner();
    let tenant = match tenant_in_path(&session, &slug) {
        Ok(tenant) => tenant,
        Err(page) => return *page,
    };
    let now = state.clock.now();
    let (target, id) = (tenant.clone(), token_id.clone());
    let storage = state.storage.clone();
    match service::blocking(move || storage.revoke_token(&target, &id, now)).await {
        Ok(Ok(())) => {}
        Ok(Err(StorageError::NotFound(_))) => return not_found_for(Some(&session)),
        Ok(Err(e)) => return server_error(&e),
        Err(e) => return server_error(&e),
    }
    let (subject, audited) = (audit_subject(&session), tenant.clone());
    let storage = state.storage.clone();
    let _ignored = service::blocking(move || {
        let detail = json!({"tokenId": token_id, "via": "portal"});
        crate::audit::audit(&storage, &subject, "token.revoke", Some(&audited), detail, now);
    })
    .await;
    see_other(&format!("/portal/t/{tenant}?revoked=1"))
}

/// `GET /portal/assets/{file}`: the embedded stylesheet and script.
pub async fn asset(path: web::Path<String>) -> HttpResponse {
    let (content, content_type) = if *path == *CSS_NAME {
        (CSS, "text/css; charset=utf-8")
    } else if *path == *JS_NAME {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(content)
}

/// Any other path under `/portal/`.
pub async fn not_found() -> HttpResponse {
    not_found_for(None)
}
