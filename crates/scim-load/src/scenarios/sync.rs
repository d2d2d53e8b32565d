//! `sync`: Entra's initial cycle into one tenant, then optional incremental cycles.
//!
//! Strategy, following entra-requests.md §3: every user is matched by
//! `GET /Users?filter=userName eq "…"`, then created with `POST /Users` (or, if it already
//! exists, updated with an attribute PATCH). Groups are matched by
//! `GET /Groups?excludedAttributes=members&filter=displayName eq "…"` and created empty. Reference
//! attributes come last: one `PATCH /Groups/{id}` with a single `Add` per membership. The three
//! steps are separate phases with their own timings; the initial sync time is their sum. Each
//! incremental cycle then sends `--changes` changes from the directory's mix (attribute updates,
//! deactivations, deletes, membership churn) with the same concurrency.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::directory::{Directory, membership_pair};
use super::incremental::run_closed;
use super::{Ctx, Phase, ScenarioOutput, carry_on, first_stop, for_each, group_name, lock, user_spec};
use crate::budget::StopReason;
use crate::client::ScimClient;
use crate::entra;

/// Sizes of an initial sync.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
}

impl Plan {
    /// Caps memberships at one per (group, user) pair.
    pub fn new(users: usize, groups: usize, memberships: usize) -> Self {
        Self {
            users,
            groups,
            memberships: memberships.min(users.saturating_mul(groups)),
        }
    }

    /// Requests the initial sync needs when nothing exists yet.
    pub fn requests(&self) -> u64 {
        let n = 2 * self.users + 2 * self.groups + self.memberships;
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

/// Match-then-create for every user.
pub async fn sync_users(
    client: &ScimClient,
    dir: &Arc<Mutex<Directory>>,
    concurrency: usize,
) -> anyhow::Result<Option<StopReason>> {
    let count = lock(dir).users.len();
    let (client, dir) = (client.clone(), Arc::clone(dir));
    for_each(count, concurrency, move |i| {
        let (client, dir) = (client.clone(), Arc::clone(&dir));
        async move {
            let prefix = lock(&dir).prefix.clone();
            let spec = user_spec(&prefix, i);
            let id = match carry_on(client.find_user("user.query", &spec.user_name).await)? {
                None => return Ok(()),
                Some(Some(id)) => {
                    let body = entra::update_attributes(&spec.email, &spec.family_name);
                    carry_on(client.patch_user("user.update", &id, &body).await)?;
                    id
                }
                Some(None) => match carry_on(client.create_user(&spec).await)? {
                    Some((id, _)) => id,
                    None => return Ok(()),
                },
            };
            if let Some(slot) = lock(&dir).users.get_mut(i) {
                slot.id = Some(id);
                slot.active = true;
            }
            Ok(())
        }
    })
    .await
}

/// Match-then-create (empty) for every group.
pub async fn sync_groups(
    client: &ScimClient,
    dir: &Arc<Mutex<Directory>>,
    concurrency: usize,
) -> anyhow::Result<Option<StopReason>> {
    let count = lock(dir).groups.len();
    let (client, dir) = (client.clone(), Arc::clone(dir));
    for_each(count, concurrency, move |g| {
        let (client, dir) = (client.clone(), Arc::clone(&dir));
        async move {
            let prefix = lock(&dir).prefix.clone();
            let name = group_name(&prefix, g);
            let id = match carry_on(client.find_group(&name).await)? {
                None => return Ok(()),
                Some(Some(id)) => id,
                Some(None) => {
                    let external_id = format!("{prefix}-ext-g{g:05}");
                    match carry_on(client.create_group(&name, &external_id).await)? {
                        Some(id) => id,
                        None => return Ok(()),
                    }
                }
            };
            if let Some(slot) = lock(&dir).groups.get_mut(g) {
                slot.id = Some(id);
            }
            Ok(())
        }
    })
    .await
}

/// One `Add` PATCH per planned membership, round-robin over groups.
pub async fn sync_memberships(
    client: &ScimClient,
    dir: &Arc<Mutex<Directory>>,
    memberships: usize,
    concurrency: usize,
) -> anyhow::Result<Option<StopReason>> {
    let (client, dir) = (client.clone(), Arc::clone(dir));
    for_each(memberships, concurrency, move |k| {
        let (client, dir) = (client.clone(), Arc::clone(&dir));
        async move {
            let ids = {
                let d = lock(&dir);
                membership_pair(k, d.groups.len(), d.users.len()).and_then(|(g, u)| {
                    let group_id = d.groups.get(g)?.id.clone()?;
                    let user_id = d.users.get(u)?.id.clone()?;
                    Some((g, u, group_id, user_id))
                })
            };
            // A user or group whose creation failed has no id: Entra would skip the reference too.
            let Some((g, u, group_id, user_id)) = ids else {
                return Ok(());
            };
            let body = entra::add_member(&user_id);
            if carry_on(client.patch_group("group.member.add", &group_id, &body).await)?.is_some() {
                lock(&dir).members.insert((g, u));
            }
            Ok(())
        }
    })
    .await
}

/// Runs the scenario.
pub async fn run(
    ctx: &Ctx,
    client: &ScimClient,
    args: &crate::cli::SyncArgs,
) -> anyhow::Result<ScenarioOutput> {
    let plan = Plan::new(args.users, args.groups, args.memberships);
    let dir = Arc::new(Mutex::new(Directory::new(
        ctx.run_prefix.clone(),
        plan.users,
        plan.groups,
        args.seed,
    )));
    ctx.warn_if_over_budget(plan.requests() + u64::from(args.cycles) * args.changes);
    let mut phases = Vec::new();
    let mut stop = None;

    let users = Phase::start(ctx, "users", Some(2 * plan.users as u64), None)?;
    stop = first_stop(
        stop,
        sync_users(&users.client(client), &dir, args.concurrency).await?,
    );
    phases.push(users.finish()?);

    if stop.is_none() {
        let groups = Phase::start(ctx, "groups", Some(2 * plan.groups as u64), None)?;
        stop = first_stop(
            stop,
            sync_groups(&groups.client(client), &dir, args.concurrency).await?,
        );
        phases.push(groups.finish()?);
    }
    if stop.is_none() {
        let members = Phase::start(ctx, "memberships", Some(plan.memberships as u64), None)?;
        let c = members.client(client);
        stop = first_stop(
            stop,
            sync_memberships(&c, &dir, plan.memberships, args.concurrency).await?,
        );
        phases.push(members.finish()?);
    }
    let initial_secs: f64 = phases.iter().map(|p| p.elapsed_secs).sum();
    let initial_requests: u64 = phases.iter().map(|p| p.total.requests).sum();
    let initial_errors: u64 = phases.iter().map(|p| p.total.errors).sum();
    let (created_users, created_groups, memberships) = {
        let d = lock(&dir);
        (
            d.users.iter().filter(|u| u.id.is_some()).count(),
            d.groups.iter().filter(|g| g.id.is_some()).count(),
            d.members.len(),
        )
    };

    let mut cycle_secs = Vec::new();
    for cycle in 1..=args.cycles {
        if stop.is_some() {
            break;
        }
        let phase = Phase::start(ctx, &format!("cycle-{cycle}"), Some(args.changes), None)?;
        stop = first_stop(
            stop,
            run_closed(&phase.client(client), &dir, args.concurrency, args.changes).await?,
        );
        let report = phase.finish()?;
        cycle_secs.push(report.elapsed_secs);
        phases.push(report);
    }

    let extra = json!({
        "initialSync": {
            "totalSecs": initial_secs,
            "requests": initial_requests,
            "errors": initial_errors,
            "requestsPerSec": if initial_secs > 0.0 { initial_requests as f64 / initial_secs } else { 0.0 },
            "usersProvisioned": created_users,
            "groupsProvisioned": created_groups,
            "membershipsProvisioned": memberships,
            "planned": { "users": plan.users, "groups": plan.groups, "memberships": plan.memberships },
        },
        "cycleSecs": cycle_secs,
    });
    Ok((phases, extra, stop))
}
