//! What the tool believes one tenant holds, as Entra would: the ids it cached after matching or
//! creating each object, which users are active, and which memberships it has sent.
//!
//! Strategy: the directory is the single source for choosing the next incremental change. Picking
//! a change marks its user busy, so two in-flight requests never race on one user (Entra works an
//! object at a time); completing it applies the effect only when the server accepted it. The
//! membership plan for the initial sync is pure arithmetic, so any index maps to a distinct
//! `(group, user)` pair without storing the plan.

use std::collections::HashSet;

use crate::rng::Rng;

/// One provisioned user as Entra caches it.
#[derive(Debug, Clone, Default)]
pub struct UserSlot {
    /// Server id; `None` before creation and after a hard delete.
    pub id: Option<String>,
    pub active: bool,
    busy: bool,
    /// Bumped on each attribute update, so every PATCH changes something.
    pub version: u32,
}

/// One provisioned group.
#[derive(Debug, Clone, Default)]
pub struct GroupSlot {
    pub id: Option<String>,
}

/// A tenant's provisioned objects.
#[derive(Debug)]
pub struct Directory {
    pub prefix: String,
    pub users: Vec<UserSlot>,
    pub groups: Vec<GroupSlot>,
    /// `(group, user)` index pairs the server has accepted.
    pub members: HashSet<(usize, usize)>,
    rng: Rng,
}

/// One incremental change, as Entra would send it for a changed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Matching query by userName (Entra's per-object lookup).
    Query { user: usize },
    /// Test Connection's probe: a userName that does not exist.
    Probe { nonce: u64 },
    /// Attribute PATCH (body B).
    Update { user: usize, id: String, version: u32 },
    /// `Replace active "False"` / `"True"`.
    SetActive { user: usize, id: String, active: bool },
    /// Hard delete.
    Delete { user: usize, id: String },
    /// Back in scope after a delete: query (no match) then POST.
    Reprovision { user: usize },
    /// One membership added.
    AddMember {
        group: usize,
        user: usize,
        group_id: String,
        user_id: String,
    },
    /// One membership removed.
    RemoveMember {
        group: usize,
        user: usize,
        group_id: String,
        user_id: String,
    },
    /// `GET /Groups/{id}?excludedAttributes=members`.
    ReadGroup { group_id: String },
}

impl Change {
    /// The user this change holds busy, if any.
    fn held_user(&self) -> Option<usize> {
        match self {
            Self::Query { .. } | Self::Probe { .. } | Self::ReadGroup { .. } => None,
            Self::Update { user, .. }
            | Self::SetActive { user, .. }
            | Self::Delete { user, .. }
            | Self::Reprovision { user }
            | Self::AddMember { user, .. }
            | Self::RemoveMember { user, .. } => Some(*user),
        }
    }
}

/// What the server did with a change that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Done,
    /// A (re)created user's new id.
    Created(String),
}

/// The `(group, user)` pair of membership `k` in a plan of `memberships` over `groups` groups and
/// `users` users. Memberships go round-robin over groups; within a group the users are distinct as
/// long as `memberships <= groups * users` (the caller caps it), and groups start at different users.
pub fn membership_pair(k: usize, groups: usize, users: usize) -> Option<(usize, usize)> {
    if groups == 0 || users == 0 {
        return None;
    }
    let group = k % groups;
    let nth = k / groups;
    if nth >= users {
        return None;
    }
    let offset = group * (users / groups).max(1);
    Some((group, (offset + nth) % users))
}

impl Directory {
    pub fn new(prefix: String, users: usize, groups: usize, seed: u64) -> Self {
        Self {
            prefix,
            users: vec![UserSlot::default(); users],
            groups: vec![GroupSlot::default(); groups],
            members: HashSet::new(),
            rng: Rng::new(seed),
        }
    }

    fn live_user(&self, user: usize) -> Option<(&UserSlot, String)> {
        let slot = self.users.get(user)?;
        let id = slot.id.clone()?;
        Some((slot, id))
    }

    /// Chooses the next change and holds its user busy until [`Directory::complete`].
    ///
    /// Mix (percent): 10 query, 5 probe, 30 attribute update, 12 deactivate/reactivate, 3 delete,
    /// 35 membership add/remove, 5 group read. A deleted user picked for anything but a query is
    /// reprovisioned instead, as Entra does when it comes back into scope.
    pub fn next_change(&mut self) -> Change {
        let roll = self.rng.below(100);
        // A few tries for an idle user; when all are busy (slow server, small tenant) the change
        // degrades to a read-only query, which the per-operation table makes visible.
        let mut user = self.rng.below(self.users.len());
        for _ in 0..8 {
            if self.users.get(user).is_some_and(|u| !u.busy) {
                break;
            }
            user = self.rng.below(self.users.len());
        }
        if roll < 5 || self.users.is_empty() {
            return Change::Probe {
                nonce: self.rng.next_u64(),
            };
        }
        if roll < 15 || self.users.get(user).is_none_or(|u| u.busy) {
            return Change::Query { user };
        }
        if roll >= 95 {
            let group = self.rng.below(self.groups.len());
            if let Some(group_id) = self.groups.get(group).and_then(|g| g.id.clone()) {
                return Change::ReadGroup { group_id };
            }
            return Change::Query { user };
        }
        let change = match self.live_user(user) {
            None => Change::Reprovision { user },
            Some((slot, id)) if roll < 45 => Change::Update {
                user,
                id,
                version: slot.version + 1,
            },
            Some((slot, id)) if roll < 57 => Change::SetActive {
                user,
                id,
                active: !slot.active,
            },
            Some((_, id)) if roll < 60 => Change::Delete { user, id },
            Some((_, user_id)) => {
                let group = self.rng.below(self.groups.len());
                match self.groups.get(group).and_then(|g| g.id.clone()) {
                    Some(group_id) if self.members.contains(&(group, user)) => Change::RemoveMember {
                        group,
                        user,
                        group_id,
                        user_id,
                    },
                    Some(group_id) => Change::AddMember {
                        group,
                        user,
                        group_id,
                        user_id,
                    },
                    None => return Change::Query { user },
                }
            }
        };
        if let Some(slot) = self.users.get_mut(user) {
            slot.busy = true;
        }
        change
    }

    /// Releases the change's user and, if the server accepted it, applies its effect.
    pub fn complete(&mut self, change: &Change, effect: Option<&Effect>) {
        if let Some(slot) = change.held_user().and_then(|u| self.users.get_mut(u)) {
            slot.busy = false;
        }
        let Some(effect) = effect else { return };
        match (change, effect) {
            (Change::Update { user, version, .. }, _) => {
                if let Some(slot) = self.users.get_mut(*user) {
                    slot.version = *version;
                }
            }
            (Change::SetActive { user, active, .. }, _) => {
                if let Some(slot) = self.users.get_mut(*user) {
                    slot.active = *active;
                }
            }
            (Change::Delete { user, .. }, _) => {
                if let Some(slot) = self.users.get_mut(*user) {
                    slot.id = None;
                    slot.active = false;
                }
                self.members.retain(|(_, u)| u != user);
            }
            (Change::Reprovision { user }, Effect::Created(id)) => {
                if let Some(slot) = self.users.get_mut(*user) {
                    slot.id = Some(id.clone());
                    slot.active = true;
                }
            }
            (Change::AddMember { group, user, .. }, _) => {
                self.members.insert((*group, *user));
            }
            (Change::RemoveMember { group, user, .. }, _) => {
                self.members.remove(&(*group, *user));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_plan_gives_distinct_pairs() {
        let (groups, users, memberships) = (7, 50, 300);
        let pairs: Vec<_> = (0..memberships)
            .map(|k| membership_pair(k, groups, users).unwrap())
            .collect();
        let distinct: HashSet<_> = pairs.iter().copied().collect();
        assert_eq!(distinct.len(), memberships);
        assert!(pairs.iter().all(|(g, u)| *g < groups && *u < users));
        // Full plan: every pair exactly once; beyond it, nothing.
        let full: HashSet<_> = (0..groups * users)
            .map(|k| membership_pair(k, groups, users).unwrap())
            .collect();
        assert_eq!(full.len(), groups * users);
        assert_eq!(membership_pair(groups * users, groups, users), None);
        assert_eq!(membership_pair(0, 0, 10), None);
    }

    #[test]
    fn the_paper_sync_target_fits_the_plan() {
        // 100,000 users, 1,000 groups, 200,000 memberships: 200 distinct users per group.
        let mut per_group: Vec<HashSet<usize>> = vec![HashSet::new(); 1000];
        for k in 0..200_000 {
            let (g, u) = membership_pair(k, 1000, 100_000).unwrap();
            assert!(per_group[g].insert(u));
        }
        assert!(per_group.iter().all(|s| s.len() == 200));
    }

    fn provisioned(users: usize, groups: usize) -> Directory {
        let mut dir = Directory::new("p".to_owned(), users, groups, 3);
        for (i, u) in dir.users.iter_mut().enumerate() {
            u.id = Some(format!("u{i}"));
            u.active = true;
        }
        for (i, g) in dir.groups.iter_mut().enumerate() {
            g.id = Some(format!("g{i}"));
        }
        dir
    }

    #[test]
    fn busy_users_are_not_picked_twice() {
        let mut dir = provisioned(3, 1);
        let mut held = Vec::new();
        for _ in 0..200 {
            let change = dir.next_change();
            if let Some(u) = change.held_user() {
                assert!(!held.contains(&u), "user {u} picked while busy");
                held.push(u);
            }
        }
        assert!(held.len() <= 3);
    }

    #[test]
    fn completed_changes_update_the_directory() {
        let mut dir = provisioned(2, 1);
        let add = Change::AddMember {
            group: 0,
            user: 1,
            group_id: "g0".into(),
            user_id: "u1".into(),
        };
        dir.complete(&add, Some(&Effect::Done));
        assert!(dir.members.contains(&(0, 1)));
        let off = Change::SetActive {
            user: 1,
            id: "u1".into(),
            active: false,
        };
        dir.complete(&off, Some(&Effect::Done));
        assert!(!dir.users[1].active);
        let del = Change::Delete {
            user: 1,
            id: "u1".into(),
        };
        dir.complete(&del, Some(&Effect::Done));
        assert!(dir.users[1].id.is_none());
        assert!(dir.members.is_empty());
        let back = Change::Reprovision { user: 1 };
        dir.complete(&back, Some(&Effect::Created("u1b".into())));
        assert_eq!(dir.users[1].id.as_deref(), Some("u1b"));
        // A failed change releases the user and changes nothing.
        let failed = Change::Delete {
            user: 0,
            id: "u0".into(),
        };
        dir.complete(&failed, None);
        assert_eq!(dir.users[0].id.as_deref(), Some("u0"));
    }

    #[test]
    fn the_mix_covers_every_kind_of_change() {
        let mut dir = provisioned(200, 4);
        let mut kinds = HashSet::new();
        for _ in 0..5000 {
            let change = dir.next_change();
            let kind = std::mem::discriminant(&change);
            // Apply immediately, as if the server accepted everything.
            let effect = match change {
                Change::Reprovision { user } => Effect::Created(format!("new{user}")),
                _ => Effect::Done,
            };
            dir.complete(&change, Some(&effect));
            kinds.insert(kind);
        }
        assert_eq!(kinds.len(), 9);
    }
}
