//! `POST /Bulk` (RFC 7644 §3.7): operations run in order through the same code as single requests.
//! `bulkId:<id>` references in paths and data are replaced by the ids created earlier in the request;
//! `failOnErrors` stops processing after that many failures. `maxOperations` and `maxPayloadSize` are
//! advertised in ServiceProviderConfig and enforced here with 413.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use scim_core::{ResourceId, ResourceKind, ScimError};
use serde_json::{Value, json};

use crate::auth::Provisioner;
use crate::error::{ApiError, ApiResult, SCIM_JSON};
use crate::operations::{self, Ctx};
use crate::render::location;
use crate::request::{self, etag, etag_version};
use crate::state::AppState;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

pub async fn post_bulk(
    req: HttpRequest,
    // Every bulk operation writes: a read-only token is refused as a whole, before the body is read.
    Provisioner(caller): Provisioner,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let config = state.config.clone();
    let body = request::json_body_limited(
        &req,
        payload,
        config.bulk_max_payload_bytes,
        config.max_json_depth,
    )
    .await?;
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("a BulkRequest must be a JSON object".into()))?;
    let declares_bulk = object.get("schemas").and_then(Value::as_array).is_none_or(|s| {
        s.iter()
            .any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST)))
    });
    if !declares_bulk {
        return Err(ScimError::InvalidSyntax(format!("schemas must contain {BULK_REQUEST}")).into());
    }
    let operations = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::InvalidSyntax("Operations must be an array".into()))?;
    if operations.len() > config.bulk_max_operations {
        return Err(ApiError::TooManyOperations {
            sent: operations.len(),
            max: config.bulk_max_operations,
        });
    }
    // Each operation is a request's worth of work: it counts against the tenant's rate limit.
    state.charge_operations(&caller.tenant, operations.len().saturating_sub(1))?;
    let fail_on_errors = object
        .get("failOnErrors")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0);

    let ctx = Ctx { state, caller };
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(operations.len());
    let mut errors = 0u64;
    for operation in operations {
        let result = run_operation(&ctx, operation, &mut created).await;
        if result
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.starts_with('2'))
        {
            errors += 1;
        }
        results.push(result);
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    let body = json!({"schemas": [BULK_RESPONSE], "Operations": results});
    Ok(HttpResponse::Ok().content_type(SCIM_JSON).json(body))
}

/// Runs one operation and renders its entry of the BulkResponse; failures become entries, not errors.
async fn run_operation(ctx: &Ctx, operation: &Value, created: &mut HashMap<String, String>) -> Value {
    let method = operation
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let bulk_id = operation.get("bulkId").and_then(Value::as_str).map(str::to_owned);
    let mut entry = json!({"method": method});
    if let (Some(id), Some(obj)) = (&bulk_id, entry.as_object_mut()) {
        obj.insert("bulkId".into(), json!(id));
    }
    match execute(ctx, &method, operation, bulk_id.as_deref(), created).await {
        Ok(outcome) => {
            if let Some(obj) = entry.as_object_mut() {
                obj.insert("status".into(), json!(outcome.status.to_string()));
                if let Some(location) = outcome.location {
                    obj.insert("location".into(), json!(location));
                }
                if let Some(version) = outcome.version {
                    obj.insert("version".into(), json!(etag(version)));
                }
            }
        }
        Err(error) => {
            let status = error.status_code().as_u16();
            let scim_type = match &error {
                ApiError::Scim(e) => e.scim_type().map(|t| t.as_str()),
                _ => None,
            };
            let mut response = json!({
                "schemas": [scim_core::error::ERROR_SCHEMA],
                "status": status.to_string(),
                "detail": error.public_detail(),
            });
            if let (Some(t), Some(obj)) = (scim_type, response.as_object_mut()) {
                obj.insert("scimType".into(), json!(t));
            }
            if let Some(obj) = entry.as_object_mut() {
                obj.insert("status".into(), json!(status.to_string()));
                obj.insert("response".into(), response);
            }
        }
    }
    entry
}

struct Outcome {
    status: u16,
    location: Option<String>,
    version: Option<i64>,
}

async fn execute(
    ctx: &Ctx,
    method: &str,
    operation: &Value,
    bulk_id: Option<&str>,
    created: &mut HashMap<String, String>,
) -> ApiResult<Outcome> {
    let path = operation
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::InvalidSyntax("operation without path".into()))?;
    let path = substitute_path(path, created)?;
    let (kind, id) = parse_path(&path)?;
    let data = operation
        .get("data")
        .map(|d| substitute_data(d, created))
        .transpose()?;
    let expected = operation
        .get("version")
        .and_then(Value::as_str)
        .and_then(etag_version);
    let data_or_err = || {
        data.clone()
            .ok_or_else(|| ApiError::from(ScimError::InvalidSyntax(format!("{method} needs data"))))
    };
    match (method, id) {
        ("POST", None) => {
            let bulk_id =
                bulk_id.ok_or_else(|| ScimError::InvalidSyntax("POST operations need a bulkId".into()))?;
            let stored = operations::create(ctx, kind, &data_or_err()?).await?;
            created.insert(bulk_id.to_owned(), stored.id.as_str().to_owned());
            Ok(Outcome {
                status: 201,
                location: Some(location(ctx, kind, &stored.id)),
                version: Some(stored.version),
            })
        }
        ("PUT", Some(id)) => {
            let stored = operations::replace(ctx, kind, id, expected, data_or_err()?).await?;
            Ok(Outcome {
                status: 200,
                location: Some(location(ctx, kind, &stored.id)),
                version: Some(stored.version),
            })
        }
        ("PATCH", Some(id)) => {
            let stored = operations::patch(ctx, kind, id, expected, &data_or_err()?).await?;
            Ok(Outcome {
                status: 200,
                location: Some(location(ctx, kind, &stored.id)),
                version: Some(stored.version),
            })
        }
        ("DELETE", Some(id)) => {
            let location = location(ctx, kind, &id);
            operations::delete(ctx, kind, id, expected).await?;
            Ok(Outcome {
                status: 204,
                location: Some(location),
                version: None,
            })
        }
        _ => Err(ScimError::InvalidSyntax(format!("{method} {path} is not a valid bulk operation")).into()),
    }
}

/// `/Users`, `/Users/{id}`, `/Groups`, `/Groups/{id}`.
fn parse_path(path: &str) -> ApiResult<(ResourceKind, Option<ResourceId>)> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let kind = match parts.next() {
        Some("Users") => ResourceKind::User,
        Some("Groups") => ResourceKind::Group,
        _ => return Err(ScimError::InvalidPath(format!("bulk path {path:?} names no resource type")).into()),
    };
    let id = parts.next().filter(|id| !id.is_empty()).map(ResourceId::new);
    Ok((kind, id))
}

fn resolve_bulk_id<'a>(reference: &str, created: &'a HashMap<String, String>) -> ApiResult<&'a str> {
    created.get(reference).map(String::as_str).ok_or_else(|| {
        ScimError::InvalidValue(format!("bulkId {reference} does not name an earlier POST")).into()
    })
}

fn substitute_path(path: &str, created: &HashMap<String, String>) -> ApiResult<String> {
    match path.split_once("bulkId:") {
        Some((head, reference)) => Ok(format!("{head}{}", resolve_bulk_id(reference, created)?)),
        None => Ok(path.to_owned()),
    }
}

/// Replaces every string value of the form `bulkId:<id>` with the created resource's id.
fn substitute_data(data: &Value, created: &HashMap<String, String>) -> ApiResult<Value> {
    Ok(match data {
        Value::String(s) => match s.strip_prefix("bulkId:") {
            Some(reference) => Value::String(resolve_bulk_id(reference, created)?.to_owned()),
            None => data.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_data(v, created))
                .collect::<ApiResult<_>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_data(v, created)?)))
                .collect::<ApiResult<_>>()?,
        ),
        other => other.clone(),
    })
}
