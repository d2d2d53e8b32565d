//! Resources that refuse the methods they do not serve with `405 Method Not Allowed` and an `Allow` header
//! (RFC 9110 §15.5.6), listed once next to the routes so the two cannot drift apart.
//!
//! actix-web answers a method its resource does not route with an empty 405, and a route added with
//! `App::route` moves its method guard onto the resource, so other methods fall through to the 404. Every
//! resource of both services is built here instead; its 405 is a [`MethodNotAllowed`] error, which each
//! service renders in its own error format ([`crate::error_format`]).

use actix_web::dev::Handler;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Resource, Responder, ResponseError, web};

/// The routes of one path, collected with the methods they serve.
pub struct ResourceRoutes {
    resource: Resource,
    allowed: Vec<Method>,
}

impl std::fmt::Debug for ResourceRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceRoutes")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl ResourceRoutes {
    pub fn new(path: &str) -> Self {
        Self {
            resource: web::resource(path.to_owned()),
            allowed: Vec::new(),
        }
    }

    /// Serves `method` with `handler`.
    pub fn route<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::method(method.clone()).to(handler));
        self.allowed.push(method);
        self
    }

    /// The resource, answering every other method with [`MethodNotAllowed`] once `Gate` has been
    /// extracted: scim-api passes its authenticated caller, so nobody learns which methods a tenant's
    /// endpoint serves without that tenant's token; `()` refuses at once.
    pub fn finish<Gate: FromRequest + 'static>(self) -> Resource {
        let allow = self
            .allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        self.resource
            .default_service(web::to(move |_gate: Gate, req: HttpRequest| {
                let refused = MethodNotAllowed {
                    method: req.method().clone(),
                    allow: allow.clone(),
                };
                async move { Err::<HttpResponse, _>(refused) }
            }))
    }
}

/// A request whose method the resource does not serve.
#[derive(Debug, thiserror::Error)]
#[error("{method} is not allowed here; allowed: {allow}")]
pub struct MethodNotAllowed {
    method: Method,
    /// The `Allow` header value, e.g. `GET, POST`.
    allow: String,
}

impl ResponseError for MethodNotAllowed {
    fn status_code(&self) -> StatusCode {
        StatusCode::METHOD_NOT_ALLOWED
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::MethodNotAllowed();
        if let Ok(allow) = HeaderValue::from_str(&self.allow) {
            response.insert_header((header::ALLOW, allow));
        }
        response.body(self.to_string())
    }
}
