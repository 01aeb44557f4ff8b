//! The group coordinator: one [`Group`] state machine per group this broker coordinates, behind one
//! lock, driven by the group APIs and a timer task. A JoinGroup or SyncGroup that must wait parks a
//! oneshot under (member id, API); the effects every call returns answer the parked requests. Groups
//! this broker stops coordinating (placement moved) are unloaded: their waiting members get
//! NOT_COORDINATOR and look the coordinator up again, as with Kafka's `__consumer_offsets` leader move.
//!
//! Groups run on the **monotonic** clock (member sessions, join and sync deadlines, the timer task's
//! waits), so a step of the wall clock expires no session. The wall clock is only for committed
//! offsets: when a group became empty and when its offsets expire (`offsets.retention.minutes`) are
//! compared with the persisted commit timestamps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};

use super::placement;
use crate::error_code::ErrorCode;
use crate::group::gate::{self, CoordinatorStatus, Gate, GroupApi};
use crate::group::{
    Effect, Group, GroupConfig, GroupOverview, GroupState, GroupSummary, HeartbeatRequest, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupResponse, LeavingMember, Reply, SyncGroupRequest, SyncGroupResponse,
};
use crate::state::BrokerState;

/// Which API a parked request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Api {
    Join,
    Sync,
}

enum Waiter {
    Join(oneshot::Sender<JoinGroupResponse>),
    Sync(oneshot::Sender<SyncGroupResponse>),
}

struct Entry {
    group: Group,
    waiting: HashMap<(String, Api), Waiter>,
    /// Since when the group has had no members, on the wall clock (offset expiry counts from here,
    /// KIP-211, and compares it with commit timestamps).
    empty_since_ms: Option<i64>,
}

impl Entry {
    fn deliver(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::JoinGroup { member_id, response } => {
                    if let Some(Waiter::Join(tx)) = self.waiting.remove(&(member_id, Api::Join)) {
                        let _ = tx.send(response);
                    }
                }
                Effect::SyncGroup { member_id, response } => {
                    if let Some(Waiter::Sync(tx)) = self.waiting.remove(&(member_id, Api::Sync)) {
                        let _ = tx.send(response);
                    }
                }
            }
        }
    }
}

/// One group as the metrics see it.
#[derive(Debug, Clone)]
pub struct GroupStats {
    /// Group id.
    pub group_id: String,
    /// Its state.
    pub state: GroupState,
    /// Members (pending ones excluded).
    pub members: usize,
    /// Whether it uses the consumer protocol (or has no protocol yet).
    pub consumer: bool,
    /// Completed rebalances by cause label.
    pub rebalances: Vec<(&'static str, u64)>,
    /// Partitions the members' current assignments name.
    pub owned: std::collections::BTreeSet<(String, i32)>,
    /// Topics the members subscribe to.
    pub subscribed: std::collections::BTreeSet<String>,
}

/// All groups this broker coordinates.
pub struct GroupCoordinator {
    config: GroupConfig,
    groups: Mutex<HashMap<String, Entry>>,
    timer: Notify,
}

impl Default for GroupCoordinator {
    fn default() -> Self {
        Self::new(GroupConfig::default())
    }
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl GroupCoordinator {
    /// A coordinator with `config`.
    pub fn new(config: GroupConfig) -> Self {
        Self { config, groups: Mutex::new(HashMap::new()), timer: Notify::new() }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this broker coordinates `group` now.
    pub fn status(state: &BrokerState, group: &str) -> CoordinatorStatus {
        match placement::coordinator(&state.image(), group) {
            Some(node) if node == state.config.node_id => CoordinatorStatus::Active,
            Some(_) => CoordinatorStatus::NotCoordinator,
            None => CoordinatorStatus::Inactive,
        }
    }

    /// JoinGroup; waits for the join phase when the group says so.
    pub async fn join(
        &self,
        state: &BrokerState,
        group_id: &str,
        request: JoinGroupRequest,
    ) -> JoinGroupResponse {
        let member_id = request.member_id.clone();
        if let Gate::Answer(code) = gate::check(GroupApi::JoinGroup, group_id, Self::status(state, group_id))
        {
            return JoinGroupResponse::error(member_id, code);
        }
        let now_ms = state.clock.monotonic_ms();
        let rx = {
            let mut groups = self.lock();
            if !groups.contains_key(group_id) {
                if !request.creates_group() {
                    return JoinGroupResponse::error(
                        member_id,
                        gate::missing_group_error(GroupApi::JoinGroup),
                    );
                }
                let group = Group::new(group_id, self.config);
                groups.insert(
                    group_id.to_string(),
                    Entry { group, waiting: HashMap::new(), empty_since_ms: None },
                );
            }
            let Some(entry) = groups.get_mut(group_id) else {
                return JoinGroupResponse::error(member_id, ErrorCode::CoordinatorNotAvailable);
            };
            let outcome = entry.group.join_group(request, now_ms, &mut fresh_id);
            entry.deliver(outcome.effects);
            match outcome.reply {
                Reply::Now(response) => return response,
                Reply::Pending { member_id } => {
                    let (tx, rx) = oneshot::channel();
                    entry.waiting.insert((member_id, Api::Join), Waiter::Join(tx));
                    rx
                }
            }
        };
        self.timer.notify_one();
        rx.await.unwrap_or_else(|_| JoinGroupResponse::error(member_id, ErrorCode::RebalanceInProgress))
    }

    /// SyncGroup; followers wait for the leader's assignment.
    pub async fn sync(
        &self,
        state: &BrokerState,
        group_id: &str,
        request: SyncGroupRequest,
    ) -> SyncGroupResponse {
        if let Gate::Answer(code) = gate::check(GroupApi::SyncGroup, group_id, Self::status(state, group_id))
        {
            return SyncGroupResponse::error(code);
        }
        let now_ms = state.clock.monotonic_ms();
        let rx = {
            let mut groups = self.lock();
            let Some(entry) = groups.get_mut(group_id) else {
                return SyncGroupResponse::error(gate::missing_group_error(GroupApi::SyncGroup));
            };
            let outcome = entry.group.sync_group(request, now_ms);
            entry.deliver(outcome.effects);
            match outcome.reply {
                Reply::Now(response) => return response,
                Reply::Pending { member_id } => {
                    let (tx, rx) = oneshot::channel();
                    entry.waiting.insert((member_id, Api::Sync), Waiter::Sync(tx));
                    rx
                }
            }
        };
        self.timer.notify_one();
        rx.await.unwrap_or_else(|_| SyncGroupResponse::error(ErrorCode::RebalanceInProgress))
    }

    /// Heartbeat.
    pub fn heartbeat(&self, state: &BrokerState, group_id: &str, request: HeartbeatRequest) -> ErrorCode {
        if let Gate::Answer(code) = gate::check(GroupApi::Heartbeat, group_id, Self::status(state, group_id))
        {
            return code;
        }
        let mut groups = self.lock();
        let Some(entry) = groups.get_mut(group_id) else {
            return gate::missing_group_error(GroupApi::Heartbeat);
        };
        let answer = entry.group.heartbeat(request, state.clock.monotonic_ms());
        entry.deliver(answer.effects);
        answer.response
    }

    /// LeaveGroup.
    pub fn leave(
        &self,
        state: &BrokerState,
        group_id: &str,
        members: Vec<LeavingMember>,
    ) -> LeaveGroupResponse {
        if let Gate::Answer(code) = gate::check(GroupApi::LeaveGroup, group_id, Self::status(state, group_id))
        {
            return LeaveGroupResponse { error: code, members: Vec::new() };
        }
        let mut groups = self.lock();
        let Some(entry) = groups.get_mut(group_id) else {
            return gate::leave_without_group(members);
        };
        let answer = entry.group.leave_group(members, state.clock.monotonic_ms());
        entry.deliver(answer.effects);
        self.timer.notify_one();
        answer.response
    }

    /// Whether an OffsetCommit from this member and generation may commit (NONE to go ahead).
    pub fn validate_commit(
        &self,
        state: &BrokerState,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> ErrorCode {
        if let Gate::Answer(code) =
            gate::check(GroupApi::OffsetCommit, group_id, Self::status(state, group_id))
        {
            return code;
        }
        let mut groups = self.lock();
        let Some(entry) = groups.get_mut(group_id) else {
            return gate::commit_without_group(generation_id);
        };
        let answer = entry.group.validate_offset_commit(
            generation_id,
            member_id,
            group_instance_id,
            false,
            state.clock.monotonic_ms(),
        );
        entry.deliver(answer.effects);
        answer.response
    }

    /// DescribeGroups data for one group (Dead when unknown, as v0–5 answer), or the gate's error.
    pub fn describe(&self, state: &BrokerState, group_id: &str) -> Result<GroupSummary, ErrorCode> {
        if let Gate::Answer(code) =
            gate::check(GroupApi::DescribeGroups, group_id, Self::status(state, group_id))
        {
            return Err(code);
        }
        let groups = self.lock();
        Ok(match groups.get(group_id) {
            Some(entry) => entry.group.describe(),
            None if state.image().group_offsets(group_id).is_some() => {
                GroupSummary { state: GroupState::Empty, ..GroupSummary::dead(group_id) }
            }
            None => GroupSummary::dead(group_id),
        })
    }

    /// ListGroups: the groups this broker coordinates, including those that only have committed
    /// offsets (Empty).
    pub fn list(&self, state: &BrokerState) -> Vec<GroupOverview> {
        let image = state.image();
        let groups = self.lock();
        let mut out: Vec<GroupOverview> = groups
            .values()
            .filter(|e| e.group.state() != GroupState::Dead)
            .map(|e| e.group.overview())
            .collect();
        for id in image.groups() {
            if !groups.contains_key(id) && placement::coordinator(&image, id) == Some(state.config.node_id) {
                out.push(GroupOverview {
                    group_id: id.to_string(),
                    protocol_type: String::new(),
                    state: GroupState::Empty,
                });
            }
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DeleteGroups for one group: an Empty (or offsets-only) group and its offsets are deleted;
    /// NON_EMPTY_GROUP while it has members; GROUP_ID_NOT_FOUND when it does not exist.
    pub async fn delete(&self, state: &BrokerState, group_id: &str) -> ErrorCode {
        if let Gate::Answer(code) =
            gate::check(GroupApi::DeleteGroups, group_id, Self::status(state, group_id))
        {
            return code;
        }
        let had_offsets = state.image().group_offsets(group_id).is_some();
        {
            let mut groups = self.lock();
            match groups.get_mut(group_id) {
                Some(entry) => {
                    if let Err(code) = entry.group.delete() {
                        return code;
                    }
                    groups.remove(group_id);
                }
                None if !had_offsets => return ErrorCode::GroupIdNotFound,
                None => {}
            }
        }
        let request = strom_controller::request::ControllerRequest::DeleteOffsets {
            group: group_id.to_string(),
            partitions: None,
        };
        match state.execute(request).await {
            Ok(_) => ErrorCode::None,
            Err(e) => e.code,
        }
    }

    /// The group's rebalance history (oldest first, one line per generation change) and its
    /// per-cause counters (`cause=count`), for DescribeConfigs on the GROUP resource. NOT_COORDINATOR
    /// elsewhere; empty for a group this coordinator has not seen rebalance.
    pub fn history(&self, state: &BrokerState, group_id: &str) -> Result<(Vec<String>, String), ErrorCode> {
        if let Gate::Answer(code) =
            gate::check(GroupApi::DescribeGroups, group_id, Self::status(state, group_id))
        {
            return Err(code);
        }
        let groups = self.lock();
        let Some(entry) = groups.get(group_id) else { return Ok((Vec::new(), String::new())) };
        let history = entry.group.history();
        // The group times rebalances on the monotonic clock; shown as wall-clock times of now.
        let wall_offset = state.clock.now_ms() - state.clock.monotonic_ms();
        let lines = history
            .records()
            .map(|r| {
                format!(
                    "generation {} at {} ms: {} ({} members, {} ms)",
                    r.generation_id,
                    r.completed_ms + wall_offset,
                    r.cause,
                    r.member_count,
                    r.completed_ms - r.started_ms
                )
            })
            .collect();
        let counts = crate::group::RebalanceCauseKind::ALL
            .iter()
            .map(|k| format!("{}={}", k.label(), history.count(*k)))
            .collect::<Vec<_>>()
            .join(",");
        Ok((lines, counts))
    }

    /// What the metrics export about every group loaded here (Dead groups left out).
    pub fn stats(&self) -> Vec<GroupStats> {
        use super::consumer_protocol::{assigned_partitions, subscribed_topics};
        let groups = self.lock();
        let mut out: Vec<GroupStats> = groups
            .values()
            .filter(|e| e.group.state() != GroupState::Dead)
            .map(|entry| {
                let group = &entry.group;
                let history = group.history();
                let protocol = group.protocol_name();
                let mut owned = std::collections::BTreeSet::new();
                let mut subscribed = std::collections::BTreeSet::new();
                for member in group.members() {
                    owned.extend(assigned_partitions(&member.assignment).unwrap_or_default());
                    let metadata = protocol.and_then(|p| member.metadata(p));
                    subscribed.extend(metadata.and_then(subscribed_topics).unwrap_or_default());
                }
                GroupStats {
                    group_id: group.group_id().to_string(),
                    state: group.state(),
                    members: group.member_count(),
                    consumer: group.protocol_type().is_none_or(|t| t == "consumer"),
                    rebalances: crate::group::RebalanceCauseKind::ALL
                        .iter()
                        .map(|k| (k.label(), history.count(*k)))
                        .collect(),
                    owned,
                    subscribed,
                }
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// Whether `group_id` has active members subscribed to `topic` (OffsetDelete refuses those): the
    /// members' consumer-protocol subscriptions for the chosen protocol are decoded.
    pub fn is_subscribed(&self, group_id: &str, topic: &str) -> bool {
        let groups = self.lock();
        let Some(entry) = groups.get(group_id) else { return false };
        let group = &entry.group;
        if matches!(group.state(), GroupState::Empty | GroupState::Dead) {
            return false;
        }
        let Some(protocol) = group.protocol_name() else { return true };
        group.members().any(|m| match m.metadata(protocol) {
            Some(metadata) => super::consumer_protocol::subscribed_topics(metadata)
                .is_none_or(|topics| topics.iter().any(|t| t == topic)),
            None => false,
        })
    }

    /// One timer pass: ticks every group, drops Dead ones, and unloads groups this broker no longer
    /// coordinates. Returns the earliest next deadline (monotonic clock).
    fn tick_all(&self, state: &BrokerState) -> Option<i64> {
        let (now_ms, wall_ms) = (state.clock.monotonic_ms(), state.clock.now_ms());
        let image = state.image();
        let node_id = state.config.node_id;
        let mut groups = self.lock();
        let mut next: Option<i64> = None;
        groups.retain(|id, entry| {
            if placement::coordinator(&image, id) != Some(node_id) {
                tracing::info!(group = %id, "group unloaded: another broker coordinates it now");
                let effects = entry.group.unload();
                entry.deliver(effects);
                return false;
            }
            let outcome = entry.group.tick(now_ms);
            entry.deliver(outcome.effects);
            entry.empty_since_ms = match entry.group.member_count() {
                0 => Some(entry.empty_since_ms.unwrap_or(wall_ms)),
                _ => None,
            };
            if let Some(at) = outcome.next_deadline_ms {
                next = Some(next.map_or(at, |n: i64| n.min(at)));
            }
            let idle = entry.group.state() == GroupState::Empty && entry.waiting.is_empty();
            entry.group.state() != GroupState::Dead
                && !(idle && entry.group.member_count() == 0 && entry.group.generation_id() == 0)
        });
        next
    }
}

/// Committed offsets to expire at `now_ms` on the wall clock (`offsets.retention.minutes`, KIP-211,
/// against persisted commit timestamps): for each group this broker coordinates that has no active
/// members, the partitions whose retention has passed, counted from the later of their commit and the
/// moment the group became empty (as this coordinator saw it; a group it never saw with members counts
/// from the commit, like a standalone consumer's).
fn expired_offsets(state: &BrokerState, now_ms: i64) -> Vec<(String, Vec<(String, i32)>)> {
    let retention_ms = state.config.offsets_retention_minutes.saturating_mul(60_000);
    let image = state.image();
    let mut out = Vec::new();
    for group in image.groups() {
        if placement::coordinator(&image, group) != Some(state.config.node_id) {
            continue;
        }
        let (active, empty_since_ms) = match state.groups.lock().get(group) {
            Some(e) => (e.group.member_count() > 0, e.empty_since_ms.unwrap_or(i64::MAX)),
            None => (false, i64::MIN),
        };
        if active || empty_since_ms == i64::MAX {
            continue;
        }
        let Some(offsets) = image.group_offsets(group) else { continue };
        let expired: Vec<(String, i32)> = offsets
            .iter()
            .flat_map(|(topic, partitions)| {
                partitions
                    .iter()
                    .filter(|(_, c)| {
                        c.commit_timestamp_ms.max(empty_since_ms).saturating_add(retention_ms) <= now_ms
                    })
                    .map(|(p, _)| (topic.clone(), *p))
            })
            .collect();
        if !expired.is_empty() {
            out.push((group.to_string(), expired));
        }
    }
    out
}

/// Deletes expired offsets through the controller.
async fn expire_offsets(state: &BrokerState) {
    for (group, partitions) in expired_offsets(state, state.clock.now_ms()) {
        let count = partitions.len();
        let request = strom_controller::request::ControllerRequest::DeleteOffsets {
            group: group.clone(),
            partitions: Some(partitions),
        };
        match state.execute(request).await {
            Ok(_) => tracing::info!(%group, partitions = count, "expired committed offsets"),
            Err(e) => tracing::warn!(%group, error = %e.message, "expiring committed offsets failed"),
        }
    }
}

/// Runs group timers (sessions, join and sync phases), unloads moved groups and expires committed
/// offsets until `shutdown`. Deadlines and the check interval are on the monotonic clock.
pub async fn run(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let expiry_every = state.config.offsets_retention_check_interval_ms.max(1) as i64;
    let mut last_expiry = state.clock.monotonic_ms();
    loop {
        if state.clock.monotonic_ms() - last_expiry >= expiry_every {
            last_expiry = state.clock.monotonic_ms();
            expire_offsets(&state).await;
        }
        let next = state.groups.tick_all(&state);
        let now = state.clock.monotonic_ms();
        // Wake for the next deadline, a new request, or a metadata change within a second at most.
        let wait_ms = next.map_or(1_000, |at| (at - now).clamp(1, 1_000)).min(expiry_every.max(1));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
            _ = state.groups.timer.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}
