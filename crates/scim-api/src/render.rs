//! The SCIM representation of stored resources: `id` and `meta` added to the stored document, linked
//! lists (`members`, `groups`) with their `$ref`s, projection, and the ListResponse envelope.

use scim_core::projection::Projection;
use scim_core::{ResourceId, ResourceKind};
use serde_json::{Map, Value, json};
use storage::StoredResource;

use crate::operations::Ctx;
use crate::request::etag;
use crate::streamed::{MemberFields, MemberHoles};

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// `meta.location` of a resource.
pub fn location(ctx: &Ctx, kind: ResourceKind, id: &ResourceId) -> String {
    location_under(&ctx.caller.base_url, kind, id)
}

/// `meta.location` of a resource under a tenant's base URL.
pub fn location_under(base_url: &str, kind: ResourceKind, id: &ResourceId) -> String {
    format!("{base_url}/{}/{id}", kind.endpoint())
}

/// One page of a list, as the ListResponse body shows it.
#[derive(Debug)]
pub struct ListPage {
    /// `None` on the later pages of a cursor listing (RFC 9865 lets it be left out).
    pub total: Option<u64>,
    /// Index listings only: RFC 9865 cursor listings have no start index.
    pub start_index: Option<u64>,
    /// Cursor listings only, while more results follow.
    pub next_cursor: Option<String>,
    pub resources: Vec<Value>,
}

impl ListPage {
    /// A complete list (discovery endpoints): every item on one page.
    pub fn all(resources: Vec<Value>) -> Self {
        Self {
            total: Some(resources.len() as u64),
            start_index: Some(1),
            next_cursor: None,
            resources,
        }
    }
}

/// A ListResponse body (RFC 7644 §3.4.2, RFC 9865 §2).
pub fn list_response(page: ListPage) -> Value {
    let mut body = Map::new();
    body.insert("schemas".to_owned(), json!([LIST_RESPONSE_SCHEMA]));
    if let Some(total) = page.total {
        body.insert("totalResults".to_owned(), json!(total));
    }
    if let Some(start_index) = page.start_index {
        body.insert("startIndex".to_owned(), json!(start_index));
    }
    body.insert("itemsPerPage".to_owned(), json!(page.resources.len()));
    if let Some(next) = page.next_cursor {
        body.insert("nextCursor".to_owned(), json!(next));
    }
    body.insert("Resources".to_owned(), Value::Array(page.resources));
    Value::Object(body)
}

/// The full SCIM JSON of a stored resource (before projection).
pub fn render(ctx: &Ctx, stored: &StoredResource) -> Value {
    let mut object = match &stored.doc {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    object.insert("id".to_owned(), json!(stored.id.as_str()));
    object.insert(
        "meta".to_owned(),
        json!({
            "resourceType": stored.kind.as_str(),
            "created": stored.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": stored.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": location(ctx, stored.kind, &stored.id),
            "version": etag(stored.version),
        }),
    );
    if let Some(members) = &stored.members {
        let rendered: Vec<Value> = members
            .iter()
            .map(|m| {
                let kind = if m.member_type == "Group" {
                    ResourceKind::Group
                } else {
                    ResourceKind::User
                };
                json!({
                    "value": m.value.as_str(),
                    "$ref": location(ctx, kind, &m.value),
                    "type": m.member_type,
                })
            })
            .collect();
        object.insert("members".to_owned(), Value::Array(rendered));
    }
    if let Some(groups) = &stored.groups
        && !groups.is_empty()
    {
        let rendered: Vec<Value> = groups
            .iter()
            .map(|g| {
                let mut group = json!({
                    "value": g.value.as_str(),
                    "$ref": location(ctx, ResourceKind::Group, &g.value),
                    "type": "direct",
                });
                if let (Some(display), Some(obj)) = (&g.display, group.as_object_mut()) {
                    obj.insert("display".to_owned(), json!(display));
                }
                group
            })
            .collect();
        object.insert("groups".to_owned(), Value::Array(rendered));
    }
    Value::Object(object)
}

/// Renders and projects a resource for a response.
pub fn present(ctx: &Ctx, stored: &StoredResource, projection: &Projection) -> Value {
    let full = render(ctx, stored);
    projection.apply(&ctx.caller.policy.registry, stored.kind, &full)
}

/// Renders and projects a resource whose `members`, if the projection returns them (`fields`), are left
/// to the response stream ([`crate::streamed`]) instead of being loaded.
pub fn present_streamed(
    ctx: &Ctx,
    stored: &StoredResource,
    projection: &Projection,
    fields: Option<MemberFields>,
    holes: &mut MemberHoles,
) -> Value {
    let mut out = present(ctx, stored, projection);
    if stored.kind == ResourceKind::Group && stored.members.is_none() && fields.is_some() {
        holes.leave(&mut out, &stored.id);
    }
    out
}
