//! Responses that stream each group's `members` from storage a page at a time, so a response's memory is
//! bounded whatever the size of its groups: a 100,000-member group is never held, rendered or serialized
//! whole.
//!
//! Strategy: the resource (or ListResponse) is rendered without member lists; where a group's `members`
//! belongs, the projected JSON holds a placeholder string with a NUL character, which no stored value can
//! contain (storage refuses NUL, `storage/src/nul_checks.rs`). The serialized body is cut at those
//! placeholders, and the response body is a stream: the text between them, and for each group its members
//! read in member id order by [`MEMBER_PAGE`]-sized keyset pages (`Reader::member_page`), rendered and sent
//! one page at a time. A page is read only when actix asks for more of the body, so a slow client holds back
//! the reads rather than piling up pages. Pages are separate reads: a member added or removed while a group
//! streams may or may not appear, as if the change had come a moment earlier or later.

use std::collections::VecDeque;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, HttpResponseBuilder};
use scim_core::projection::Projection;
use scim_core::{ResourceId, ResourceKind};
use serde_json::{Map, Value, json};
use storage::StoredMember;

use crate::operations::Ctx;
use crate::render;

/// Members read and sent per step of the stream.
pub const MEMBER_PAGE: usize = 1000;

/// Which sub-attributes of a member element the projection returns (none of them: `members` is not
/// returned at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberFields {
    value: bool,
    reference: bool,
    kind: bool,
}

impl MemberFields {
    /// What `projection` keeps of a group's member elements in a response listing `kind`; `None` when it
    /// drops `members` or lists no groups. Found by projecting a group with one member, so it follows the
    /// projection's rules exactly.
    pub fn of(ctx: &Ctx, kind: Option<ResourceKind>, projection: &Projection) -> Option<MemberFields> {
        if kind == Some(ResourceKind::User) {
            return None;
        }
        let template = json!({
            "id": "group",
            "displayName": "group",
            "members": [{"value": "member", "$ref": "ref", "type": "User"}],
        });
        let projected = projection.apply(&ctx.caller.policy.registry, ResourceKind::Group, &template);
        let member = projected.get("members")?.get(0)?.as_object()?;
        Some(MemberFields {
            value: member.contains_key("value"),
            reference: member.contains_key("$ref"),
            kind: member.contains_key("type"),
        })
    }

    fn render(self, source: &MemberSource, member: &StoredMember) -> Value {
        let mut out = Map::new();
        if self.value {
            out.insert("value".to_owned(), json!(member.value.as_str()));
        }
        if self.reference {
            let kind = if member.member_type == "Group" {
                ResourceKind::Group
            } else {
                ResourceKind::User
            };
            out.insert(
                "$ref".to_owned(),
                json!(render::location_under(&source.base_url, kind, &member.value)),
            );
        }
        if self.kind {
            out.insert("type".to_owned(), json!(member.member_type));
        }
        Value::Object(out)
    }
}

/// The groups whose `members` a body leaves to the stream, in the order their placeholders were made.
#[derive(Debug, Default)]
pub struct MemberHoles {
    groups: Vec<ResourceId>,
}

impl MemberHoles {
    /// Marks `object`'s `members` as group `id`'s streamed member list.
    pub fn leave(&mut self, object: &mut Value, id: &ResourceId) {
        if let Value::Object(map) = object {
            map.insert(
                "members".to_owned(),
                Value::String(placeholder(self.groups.len())),
            );
            self.groups.push(id.clone());
        }
    }
}

fn placeholder(n: usize) -> String {
    format!("\0members:{n}\0")
}

/// What the stream reads members with: the storage and the caller's tenant and base URL, not the caller
/// itself, so the tenant's bulkhead slot (`auth::Caller::slot`) is released when the handler returns
/// rather than held for as long as a client takes to read the body.
#[derive(Clone)]
struct MemberSource {
    storage: storage::Storage,
    tenant: scim_core::TenantId,
    base_url: String,
}

/// One part of a streamed body.
enum Piece {
    Text(Bytes),
    /// A group's members from member id `after` on; `started` once its `[` was sent.
    Members {
        group: ResourceId,
        after: String,
        started: bool,
    },
}

/// Sends `body` with each hole filled by its group's members, streamed; a plain JSON body without holes.
pub fn respond(
    mut builder: HttpResponseBuilder,
    ctx: &Ctx,
    fields: Option<MemberFields>,
    body: &Value,
    holes: MemberHoles,
) -> HttpResponse {
    let (Some(fields), false) = (fields, holes.groups.is_empty()) else {
        return builder.json(body);
    };
    let text = body.to_string();
    let mut pieces = VecDeque::new();
    let mut rest = text.as_str();
    for (n, group) in holes.groups.into_iter().enumerate() {
        // As serialized: a JSON string with its NULs escaped.
        let marker = serde_json::to_string(&placeholder(n)).unwrap_or_default();
        let Some((before, after)) = rest.split_once(&marker) else {
            continue;
        };
        pieces.push_back(Piece::Text(Bytes::copy_from_slice(before.as_bytes())));
        pieces.push_back(Piece::Members {
            group,
            after: String::new(),
            started: false,
        });
        rest = after;
    }
    pieces.push_back(Piece::Text(Bytes::copy_from_slice(rest.as_bytes())));
    let source = MemberSource {
        storage: ctx.state.storage.clone(),
        tenant: ctx.caller.tenant.clone(),
        base_url: ctx.caller.base_url.clone(),
    };
    let stream = futures_util::stream::unfold((source, pieces), move |(source, mut pieces)| async move {
        let piece = pieces.pop_front()?;
        let bytes = match piece {
            Piece::Text(bytes) => Ok(bytes),
            Piece::Members {
                group,
                after,
                started,
            } => next_members(&source, fields, &mut pieces, group, after, started).await,
        };
        Some((bytes, (source, pieces)))
    });
    builder.streaming(stream)
}

/// The next page of a group's members as JSON array text (`[` first, `]` last); queues the rest.
async fn next_members(
    source: &MemberSource,
    fields: MemberFields,
    pieces: &mut VecDeque<Piece>,
    group: ResourceId,
    after: String,
    started: bool,
) -> Result<Bytes, actix_web::Error> {
    let (storage, tenant, id) = (source.storage.clone(), source.tenant.clone(), group.clone());
    // On the blocking pool: a page of 1,000 rows is work enough to leave the worker's event loop to
    // other requests.
    let page = service::blocking(move || storage.read(|r| r.member_page(&tenant, &id, &after, MEMBER_PAGE)))
        .await
        .map_err(actix_web::error::ErrorInternalServerError)?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read a page of members while streaming a response");
            actix_web::error::ErrorInternalServerError("members could not be read")
        })?;
    let mut out = Vec::with_capacity(page.len() * 160 + 2);
    out.push(if started { b',' } else { b'[' });
    for (i, member) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &fields.render(source, member))
            .map_err(actix_web::error::ErrorInternalServerError)?;
    }
    match page.last().filter(|_| page.len() == MEMBER_PAGE) {
        Some(last) => pieces.push_front(Piece::Members {
            group,
            after: last.value.as_str().to_owned(),
            started: true,
        }),
        None => out.push(b']'),
    }
    if started && page.is_empty() {
        // `,` was pushed for a page that turned out empty: the array ends here.
        out.clear();
        out.push(b']');
    }
    Ok(Bytes::from(out))
}
