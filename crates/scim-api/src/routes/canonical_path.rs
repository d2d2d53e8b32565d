//! Paths under a tenant as clients write them, mapped to the endpoints' own spelling before routing:
//! `/scim/v2/acme/users` and `/scim/v2/acme/Users/` reach `/Users`. Some clients send those (Microsoft's SCIM
//! reference tests among them); RFC 7644 names the endpoints but no client relies on their case being
//! refused. Only the endpoint segment's case and trailing slashes change; ids and tenants are left as sent.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;

/// The endpoints right under a tenant's base URL, as routed.
const ENDPOINTS: [&str; 8] = [
    "Users",
    "Groups",
    "Bulk",
    ".search",
    "Me",
    "ServiceProviderConfig",
    "Schemas",
    "ResourceTypes",
];

/// The routed spelling of `path`, or `None` when it already is (or is not under a tenant).
fn canonical(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/scim/v2/")?;
    let (tenant, rest) = rest.split_once('/')?;
    let trimmed = rest.trim_end_matches('/');
    if trimmed.is_empty() {
        return None;
    }
    let (endpoint, tail) = trimmed
        .split_once('/')
        .map_or((trimmed, None), |(e, t)| (e, Some(t)));
    let endpoint = ENDPOINTS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(endpoint))
        .copied()
        .unwrap_or(endpoint);
    let canonical = match tail {
        Some(tail) => format!("/scim/v2/{tenant}/{endpoint}/{tail}"),
        None => format!("/scim/v2/{tenant}/{endpoint}"),
    };
    (canonical != path).then_some(canonical)
}

/// Middleware: rewrites the request's path to [`canonical`] before the router sees it.
pub async fn canonical_path(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    if let Some(path) = canonical(req.path()) {
        let path_and_query = match req.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        // Built from a valid path by changing letter case and dropping slashes: it parses.
        if let Ok(uri) = path_and_query.parse::<Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn endpoint_case_and_trailing_slashes_are_mapped_and_nothing_else() {
        for (sent, routed) in [
            ("/scim/v2/acme/users", "/scim/v2/acme/Users"),
            ("/scim/v2/acme/Users/", "/scim/v2/acme/Users"),
            ("/scim/v2/acme/GROUPS/abc/", "/scim/v2/acme/Groups/abc"),
            ("/scim/v2/acme/users/.search", "/scim/v2/acme/Users/.search"),
            (
                "/scim/v2/acme/serviceproviderconfig",
                "/scim/v2/acme/ServiceProviderConfig",
            ),
            ("/scim/v2/acme/schemas/urn:x/", "/scim/v2/acme/Schemas/urn:x"),
        ] {
            assert_eq!(canonical(sent).as_deref(), Some(routed), "{sent}");
        }
        for unchanged in [
            "/scim/v2/acme/Users",
            "/scim/v2/acme/Users/AbC-id",
            "/scim/v2/acme/",
            "/scim/v2/acme",
            "/scim/v2/acme/Unknown",
            "/healthz",
            "/metrics/",
        ] {
            assert_eq!(canonical(unchanged), None, "{unchanged}");
        }
    }
}
