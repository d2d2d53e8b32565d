//! SCIM operations on Users and Groups (create, get, replace, patch, delete, query), independent of HTTP so
//! that single requests and `/Bulk` share them: validate with scim-core, enforce the tenant's policy,
//! persist with storage. Turning the stored result into SCIM JSON is [`crate::render`]'s job.
//!
//! Writes that depend on the current document (PUT, PATCH, deactivating DELETE) run their scim-core step
//! inside storage's transaction (`modify_resource`), so concurrent writers cannot lose each other's work.

use scim_core::filter::{self, Filter, ResolvedPath};
use scim_core::patch::{self, MemberOp, PatchRequest};
use scim_core::path::AttrPath;
use scim_core::policy::DeleteMode;
use scim_core::projection::Projection;
use scim_core::resource;
use scim_core::sort::SortOrder;
use scim_core::{ResourceId, ResourceKind, ScimError};
use serde_json::Value;
use storage::{Expand, PageStart, ResourceQuery, StoredResource, WriteContext};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::request::{Page, QueryParams, page};
use crate::state::AppState;

/// One request's context: who calls, and the shared state.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub state: actix_web::web::Data<AppState>,
    pub caller: Caller,
}

impl Ctx {
    /// Every write needs one, so no write path can skip the scope check (handlers refuse read-only
    /// tokens earlier through [`crate::auth::Provisioner`]; this makes it impossible to forget).
    fn write_context(&self) -> ApiResult<WriteContext> {
        self.caller.require_write()?;
        Ok(WriteContext {
            tenant: self.caller.tenant.clone(),
            actor_token_id: Some(self.caller.token_id.clone()),
            request_id: self.caller.request_id.clone(),
            now: self.state.clock.now(),
        })
    }

    fn count(&self, kind: ResourceKind, operation: &str) {
        self.state
            .metrics
            .count(&self.caller.tenant, kind.as_str(), operation);
    }

    /// Runs a storage call on the blocking pool.
    async fn storage<R, F>(&self, f: F) -> ApiResult<R>
    where
        F: FnOnce(&storage::Storage) -> Result<R, storage::StorageError> + Send + 'static,
        R: Send + 'static,
    {
        let storage = self.state.storage.clone();
        Ok(service::blocking(move || f(&storage)).await??)
    }

    /// Runs a read: in place when it is `cheap` (an index lookup) and storage has a quick reader (SQLite
    /// with an idle connection, see `Storage::quick_reader`), otherwise on the blocking pool
    /// (`Storage::read`, which runs it again on another connection if PostgreSQL closed the first). A
    /// read that may scan a tenant never runs in place: it would hold this worker's event loop, and with
    /// it every other tenant's requests on the worker, for as long as the scan takes.
    pub(crate) async fn read<R, F>(&self, cheap: bool, f: F) -> ApiResult<R>
    where
        F: Fn(&mut storage::Reader) -> Result<R, storage::StorageError> + Send + 'static,
        R: Send + 'static,
    {
        if cheap && let Some(mut reader) = self.state.storage.quick_reader() {
            return Ok(f(&mut reader)?);
        }
        self.storage(move |s| s.read(&f)).await
    }
}

/// Which linked lists a projection needs loaded with the resource: a user's `groups`. A group's `members`
/// are never loaded whole; responses stream them (`crate::streamed`).
pub fn expand_for(ctx: &Ctx, kind: ResourceKind, projection: &Projection) -> Expand {
    let registry = &ctx.caller.policy.registry;
    match kind {
        ResourceKind::Group => Expand {
            members: false,
            groups: false,
        },
        ResourceKind::User => Expand {
            members: false,
            groups: projection.includes(registry, kind, &AttrPath::new("groups")),
        },
    }
}

pub async fn create(ctx: &Ctx, kind: ResourceKind, body: &Value) -> ApiResult<StoredResource> {
    let wctx = ctx.write_context()?;
    let policy = ctx.caller.policy.clone();
    let mut doc = resource::validate_for_create(&policy.registry, kind, body)?;
    let members = match kind {
        ResourceKind::Group => resource::take_members(&mut doc)?,
        ResourceKind::User => None,
    };
    policy.check(kind, &doc)?;
    let stored = ctx
        .storage(move |s| s.create_resource(&wctx, kind, doc, members.as_deref()))
        .await?;
    ctx.count(kind, "create");
    Ok(stored)
}

pub async fn get(ctx: &Ctx, kind: ResourceKind, id: ResourceId, expand: Expand) -> ApiResult<StoredResource> {
    let tenant = ctx.caller.tenant.clone();
    let stored = ctx
        .read(true, move |r| r.get_resource(&tenant, kind, &id, expand))
        .await?;
    ctx.count(kind, "get");
    Ok(stored)
}

pub async fn replace(
    ctx: &Ctx,
    kind: ResourceKind,
    id: ResourceId,
    expected_version: Option<i64>,
    body: Value,
) -> ApiResult<StoredResource> {
    let policy = ctx.caller.policy.clone();
    let wctx = ctx.write_context()?;
    let stored = ctx
        .storage(move |s| {
            s.modify_resource(&wctx, kind, &id, expected_version, |doc| {
                let mut replacement = resource::validate_for_replace(&policy.registry, kind, doc, &body)?;
                // PUT without `members` leaves membership alone: a client that only renames a group must not
                // empty it by accident. `members: []` does clear it.
                let member_ops = match kind {
                    ResourceKind::Group => resource::take_members(&mut replacement)?
                        .map(MemberOp::ReplaceAll)
                        .into_iter()
                        .collect(),
                    ResourceKind::User => Vec::new(),
                };
                check_user_name_change(&policy, kind, doc, &replacement)?;
                policy.check(kind, &replacement)?;
                *doc = replacement;
                Ok(member_ops)
            })
        })
        .await?;
    ctx.count(kind, "replace");
    Ok(stored)
}

pub async fn patch(
    ctx: &Ctx,
    kind: ResourceKind,
    id: ResourceId,
    expected_version: Option<i64>,
    body: &Value,
) -> ApiResult<StoredResource> {
    let request = PatchRequest::from_json(body)?;
    let policy = ctx.caller.policy.clone();
    let wctx = ctx.write_context()?;
    let stored = ctx
        .storage(move |s| {
            s.modify_resource(&wctx, kind, &id, expected_version, |doc| {
                let before = doc.clone();
                let outcome = patch::apply(&policy.registry, kind, doc, &request, policy.patch_options())?;
                if outcome.document_changed {
                    let validated = resource::validate_document(&policy.registry, kind, doc)?;
                    check_user_name_change(&policy, kind, &before, &validated)?;
                    policy.check(kind, &validated)?;
                    *doc = validated;
                }
                Ok(outcome.member_ops)
            })
        })
        .await?;
    ctx.count(kind, "patch");
    Ok(stored)
}

pub async fn delete(
    ctx: &Ctx,
    kind: ResourceKind,
    id: ResourceId,
    expected_version: Option<i64>,
) -> ApiResult<()> {
    let wctx = ctx.write_context()?;
    if kind == ResourceKind::User && ctx.caller.policy.policy.delete_mode == DeleteMode::Deactivate {
        ctx.storage(move |s| s.deactivate_user(&wctx, &id, expected_version))
            .await?;
    } else {
        ctx.storage(move |s| s.delete_resource(&wctx, kind, &id, expected_version))
            .await?;
    }
    ctx.count(kind, "delete");
    Ok(())
}

/// Pulumi-style tenants fix `userName` at creation ("applied only during object creation").
fn check_user_name_change(
    policy: &scim_core::policy::CompiledPolicy,
    kind: ResourceKind,
    before: &Value,
    after: &Value,
) -> Result<(), ScimError> {
    if kind == ResourceKind::User
        && policy.policy.user_name_immutable
        && before.get("userName") != after.get("userName")
    {
        return Err(ScimError::Mutability(
            "userName cannot be changed after creation for this tenant".to_owned(),
        ));
    }
    Ok(())
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    pub page: Page,
    pub count: u64,
    pub projection: Projection,
}

impl ListRequest {
    pub fn parse(params: &QueryParams, state: &AppState) -> ApiResult<Self> {
        let filter = params.filter.as_deref().map(filter::parse).transpose()?;
        let sort_by = params
            .sort_by
            .as_deref()
            .map(|s| {
                AttrPath::parse(s.trim())
                    .map_err(|e| ScimError::InvalidValue(format!("sortBy: {}", e.detail())))
            })
            .transpose()?;
        let sort_order = SortOrder::parse(params.sort_order.as_deref())?;
        let (page, count) = page(params, state.config.page_size_default, state.config.page_size_max)?;
        let projection = Projection::parse(
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
        )?;
        Ok(Self {
            filter,
            sort_by,
            sort_order,
            page,
            count,
            projection,
        })
    }
}

/// Resolves a single attribute path the way filters resolve theirs (sortBy uses it).
fn resolve_path(ctx: &Ctx, kind: ResourceKind, path: &AttrPath) -> ApiResult<ResolvedPath> {
    match filter::resolve(&Filter::Present(path.clone()), &ctx.caller.policy.registry, kind) {
        Ok(filter::ResolvedFilter::Present(resolved)) => Ok(resolved),
        Ok(_) => Err(ScimError::InvalidValue(format!("sortBy {path} is not a sortable attribute")).into()),
        Err(e) => Err(ScimError::InvalidValue(format!("sortBy: {}", e.detail())).into()),
    }
}

/// One resource type's page plus its total.
pub async fn query(ctx: &Ctx, kind: ResourceKind, list: &ListRequest) -> ApiResult<storage::ResourcePage> {
    let start = match &list.page {
        Page::Index(start_index) => PageStart::Index(*start_index),
        Page::Cursor(None) => PageStart::After(None),
        Page::Cursor(Some(cursor)) if cursor.kind == kind => PageStart::After(cursor.after.clone()),
        Page::Cursor(Some(_)) => {
            return Err(ScimError::InvalidCursor(format!(
                "this cursor continues another listing, not the {}",
                kind.endpoint()
            ))
            .into());
        }
    };
    let registry = &ctx.caller.policy.registry;
    let filter = list
        .filter
        .as_ref()
        .map(|f| filter::resolve(f, registry, kind))
        .transpose()?;
    let sort_by = list
        .sort_by
        .as_ref()
        .map(|p| resolve_path(ctx, kind, p))
        .transpose()?;
    let query = ResourceQuery {
        filter,
        sort_by,
        descending: list.sort_order == SortOrder::Descending,
        start,
        count: list.count,
        expand: expand_for(ctx, kind, &list.projection),
    };
    let tenant = ctx.caller.tenant.clone();
    let cheap = query
        .filter
        .as_ref()
        .is_some_and(|f| storage::is_index_lookup(kind, f));
    // A filter no index serves, or a sort, reads every document of the kind: such reads also take one
    // of the tenant's scan slots, so that one tenant's scans cannot take every core.
    let _scan_slot = if !cheap && (query.filter.is_some() || query.sort_by.is_some()) {
        Some(crate::auth::tenant_scan_slot(&ctx.state, &ctx.caller.tenant).await?)
    } else {
        None
    };
    let page = ctx
        .read(cheap, move |r| r.query_resources(&tenant, kind, &query))
        .await?;
    ctx.count(kind, "query");
    Ok(page)
}
