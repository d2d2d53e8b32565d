//! Incremental provisioning: Entra's changes after the initial cycle, closed-loop or at a rate.
//!
//! Strategy: [`Directory::next_change`] picks what changes; [`apply`] sends it with Entra's exact
//! shapes; [`Directory::complete`] records what the server accepted. Two drivers:
//!
//! * [`run_closed`]: `concurrency` workers back to back, for a fixed number of changes (the sync
//!   scenario's cycles: "how fast can a cycle of N changes go").
//! * [`run_open`]: open loop at a fixed rate, one tick per change, each change spawned on its own
//!   task. A slow server does not slow the schedule (no coordinated omission): latency shows in the
//!   histogram, and ticks that find `max_in_flight` changes outstanding are counted as missed, so a
//!   tenant that falls short of its rate is visible rather than silently slowed down.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::directory::{Change, Directory, Effect};
use super::{carry_on, for_each, lock, user_spec};
use crate::budget::StopReason;
use crate::client::{CallError, ScimClient};
use crate::entra;

/// Sends one change; `Ok(Some(effect))` when the server accepted it, `Ok(None)` when it failed.
pub async fn apply(client: &ScimClient, prefix: &str, change: &Change) -> Result<Option<Effect>, StopReason> {
    let done = |r: Result<(), CallError>| carry_on(r).map(|ok| ok.map(|()| Effect::Done));
    match change {
        Change::Query { user } => {
            let name = user_spec(prefix, *user).user_name;
            carry_on(client.find_user("user.query", &name).await).map(|ok| ok.map(|_| Effect::Done))
        }
        Change::Probe { nonce } => {
            let name = format!("{prefix}.probe-{nonce:016x}");
            let found = carry_on(client.find_user("user.probe", &name).await)?;
            if let Some(Some(_)) = found {
                client.stats().note_error("user.probe", "unexpected-match");
            }
            Ok(found.map(|_| Effect::Done))
        }
        Change::Update { user, id, version } => {
            let spec = user_spec(prefix, *user);
            let body = entra::update_attributes(
                &format!("v{version}.{}", spec.email),
                &format!("Family{user}v{version}"),
            );
            done(client.patch_user("user.update", id, &body).await)
        }
        Change::SetActive { id, active, .. } => {
            let label = if *active {
                "user.reactivate"
            } else {
                "user.deactivate"
            };
            done(client.patch_user(label, id, &entra::set_active(*active)).await)
        }
        Change::Delete { id, .. } => done(client.delete_user(id).await),
        Change::Reprovision { user } => {
            let spec = user_spec(prefix, *user);
            match carry_on(client.find_user("user.query", &spec.user_name).await)? {
                None => Ok(None),
                // The delete did not take: Entra would update the match; keep its id.
                Some(Some(id)) => Ok(Some(Effect::Created(id))),
                Some(None) => {
                    Ok(carry_on(client.create_user(&spec).await)?.map(|(id, _)| Effect::Created(id)))
                }
            }
        }
        Change::AddMember {
            group_id, user_id, ..
        } => {
            let r = client
                .patch_group("group.member.add", group_id, &entra::add_member(user_id))
                .await;
            carry_on(r).map(|ok| ok.map(|_| Effect::Done))
        }
        Change::RemoveMember {
            group_id, user_id, ..
        } => {
            let r = client
                .patch_group("group.member.remove", group_id, &entra::remove_member(user_id))
                .await;
            carry_on(r).map(|ok| ok.map(|_| Effect::Done))
        }
        Change::ReadGroup { group_id } => {
            let r = client.get_group("group.read", group_id, false).await;
            carry_on(r).map(|ok| ok.map(|_| Effect::Done))
        }
    }
}

async fn pick_apply_complete(client: &ScimClient, dir: &Mutex<Directory>) -> Result<bool, StopReason> {
    let (change, prefix) = {
        let mut d = lock(dir);
        (d.next_change(), d.prefix.clone())
    };
    let result = apply(client, &prefix, &change).await;
    let effect = result.as_ref().ok().and_then(Option::as_ref);
    lock(dir).complete(&change, effect);
    result.map(|effect| effect.is_some())
}

/// `changes` changes on `concurrency` workers, back to back.
pub async fn run_closed(
    client: &ScimClient,
    dir: &Arc<Mutex<Directory>>,
    concurrency: usize,
    changes: u64,
) -> anyhow::Result<Option<StopReason>> {
    let count = usize::try_from(changes).unwrap_or(usize::MAX);
    let client = client.clone();
    let dir = Arc::clone(dir);
    for_each(count, concurrency, move |_| {
        let client = client.clone();
        let dir = Arc::clone(&dir);
        async move { pick_apply_complete(&client, &dir).await.map(drop) }
    })
    .await
}

/// What one open-loop driver did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverOutcome {
    /// Scheduled ticks.
    pub ticks: u64,
    /// Changes sent.
    pub sent: u64,
    /// Changes the server accepted.
    pub succeeded: u64,
    /// Ticks skipped because `max_in_flight` changes were outstanding.
    pub missed: u64,
    /// Seconds of the tick schedule (first tick to end or stop): the rate is `sent / window`.
    pub window_secs: f64,
    /// Seconds from the first tick until the last change completed.
    pub drained_secs: f64,
    #[serde(skip)]
    pub stop: Option<StopReason>,
}

/// Open loop: one change every `1 / rate` seconds from `start` until `end`.
pub async fn run_open(
    client: ScimClient,
    dir: Arc<Mutex<Directory>>,
    rate: f64,
    start: Instant,
    end: Instant,
    max_in_flight: usize,
) -> DriverOutcome {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut interval = tokio::time::interval_at(start, period);
    // Catch up after a stall so the tenant still offers its rate over the run.
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let succeeded = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    let mut out = DriverOutcome::default();
    let mut window_end = end;
    loop {
        let tick = interval.tick().await;
        if tick >= end {
            break;
        }
        if let Err(reason) = client.budget().check() {
            out.stop = Some(reason);
            window_end = tick;
            break;
        }
        out.ticks += 1;
        while tasks.try_join_next().is_some() {}
        if in_flight.load(Ordering::Relaxed) >= max_in_flight {
            out.missed += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        out.sent += 1;
        let (client, dir, in_flight, succeeded) = (
            client.clone(),
            Arc::clone(&dir),
            Arc::clone(&in_flight),
            Arc::clone(&succeeded),
        );
        tasks.spawn(async move {
            if let Ok(true) = pick_apply_complete(&client, &dir).await {
                succeeded.fetch_add(1, Ordering::Relaxed);
            }
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    while tasks.join_next().await.is_some() {}
    out.succeeded = succeeded.load(Ordering::Relaxed);
    out.window_secs = window_end.saturating_duration_since(start).as_secs_f64();
    out.drained_secs = start.elapsed().as_secs_f64();
    out
}
