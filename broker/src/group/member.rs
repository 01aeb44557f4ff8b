//! A group member (Kafka's `MemberMetadata`) and the group's member table, kept in join order.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use super::GroupConfig;
use super::messages::{JoinGroupRequest, Protocol};

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Member id, assigned by the group.
    pub member_id: String,
    /// `group.instance.id` of a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// `client.id` of its latest JoinGroup.
    pub client_id: String,
    /// Client address of its latest JoinGroup.
    pub client_host: String,
    /// Session timeout the member asked for.
    pub session_timeout_ms: i32,
    /// Rebalance timeout the member asked for.
    pub rebalance_timeout_ms: i32,
    /// Protocol type.
    pub protocol_type: String,
    /// Supported protocols in the member's order of preference.
    pub protocols: Vec<Protocol>,
    /// The member's assignment in the current generation (empty before the leader's SyncGroup).
    pub assignment: Bytes,
    /// When the member's session was last refreshed (heartbeat, join, sync or commit).
    pub last_heartbeat_ms: i64,
    /// A JoinGroup of this member waits for the join phase to complete.
    pub awaiting_join: bool,
    /// A SyncGroup of this member waits for the leader's assignment.
    pub awaiting_sync: bool,
    /// Joined and not through a completed join phase yet: expires after the new-member timeout even
    /// while waiting (Kafka's `isNew`).
    pub(super) is_new: bool,
    /// Got a JoinGroup response of this generation and has not sent its SyncGroup yet (Kafka's
    /// pending-sync set).
    pub(super) sync_expected: bool,
}

impl Member {
    /// A new member from its first accepted JoinGroup, waiting for the join phase.
    pub(super) fn new(member_id: String, request: JoinGroupRequest, now_ms: i64) -> Self {
        Self {
            member_id,
            group_instance_id: request.group_instance_id,
            client_id: request.client_id,
            client_host: request.client_host,
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocol_type: request.protocol_type,
            protocols: request.protocols,
            assignment: Bytes::new(),
            last_heartbeat_ms: now_ms,
            awaiting_join: true,
            awaiting_sync: false,
            is_new: true,
            sync_expected: false,
        }
    }

    /// Whether the member is static (has a `group.instance.id`).
    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }

    /// The member's metadata for `protocol`, if it supports it.
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols.iter().find(|p| p.name == protocol).map(|p| &p.metadata)
    }

    /// Whether the member supports `protocol`.
    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// Same protocols, order and metadata as `protocols` (Kafka's `matches`).
    pub(super) fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// The member's most preferred protocol among `candidates`.
    pub(super) fn vote<'a>(&self, candidates: &[&'a str]) -> Option<&'a str> {
        self.protocols.iter().find_map(|p| candidates.iter().copied().find(|c| *c == p.name))
    }

    /// When the member's session expires, `None` while a pending JoinGroup or SyncGroup stands in for
    /// its heartbeats (Kafka's `hasSatisfiedHeartbeat`); new members expire after the new-member
    /// timeout even while they wait.
    pub(super) fn session_deadline_ms(&self, config: &GroupConfig) -> Option<i64> {
        if self.is_new {
            Some(self.last_heartbeat_ms + i64::from(config.new_member_join_timeout_ms))
        } else if self.awaiting_join || self.awaiting_sync {
            None
        } else {
            Some(self.last_heartbeat_ms + i64::from(self.session_timeout_ms))
        }
    }
}

/// The members of a group in join order, by member id and by `group.instance.id`.
#[derive(Debug, Clone, Default)]
pub(super) struct Members {
    by_order: BTreeMap<u64, Member>,
    order_of: HashMap<String, u64>,
    static_ids: HashMap<String, String>,
    next_order: u64,
}

impl Members {
    pub(super) fn len(&self) -> usize {
        self.by_order.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_order.is_empty()
    }

    pub(super) fn contains(&self, member_id: &str) -> bool {
        self.order_of.contains_key(member_id)
    }

    pub(super) fn get(&self, member_id: &str) -> Option<&Member> {
        self.order_of.get(member_id).and_then(|o| self.by_order.get(o))
    }

    pub(super) fn get_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.order_of.get(member_id).and_then(|o| self.by_order.get_mut(o))
    }

    /// The member id currently holding `group_instance_id`.
    pub(super) fn static_member(&self, group_instance_id: &str) -> Option<&str> {
        self.static_ids.get(group_instance_id).map(String::as_str)
    }

    /// Members in join order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Member> {
        self.by_order.values()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Member> {
        self.by_order.values_mut()
    }

    /// Adds a member last in join order. Panics if its member id is already taken (the group never
    /// reuses ids).
    pub(super) fn insert(&mut self, member: Member) {
        let order = self.next_order;
        self.next_order += 1;
        let previous = self.order_of.insert(member.member_id.clone(), order);
        assert!(previous.is_none(), "member id {} added twice", member.member_id);
        if let Some(instance) = &member.group_instance_id {
            self.static_ids.insert(instance.clone(), member.member_id.clone());
        }
        self.by_order.insert(order, member);
    }

    pub(super) fn remove(&mut self, member_id: &str) -> Option<Member> {
        let member = self.by_order.remove(&self.order_of.remove(member_id)?)?;
        if let Some(instance) = &member.group_instance_id {
            self.static_ids.remove(instance);
        }
        Some(member)
    }

    /// Gives the member `old` the id `new`, keeping its place in join order.
    pub(super) fn rename(&mut self, old: &str, new: &str) {
        let Some(order) = self.order_of.remove(old) else { return };
        self.order_of.insert(new.to_owned(), order);
        if let Some(member) = self.by_order.get_mut(&order) {
            member.member_id = new.to_owned();
            if let Some(instance) = &member.group_instance_id {
                self.static_ids.insert(instance.clone(), new.to_owned());
            }
        }
    }
}
