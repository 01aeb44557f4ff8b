//! The group-level requests of `strom groups`: FindCoordinator (any broker), then DescribeGroups,
//! OffsetFetch, OffsetCommit and DeleteGroups on the group's coordinator, and ListGroups (every
//! broker answers for the groups it coordinates).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId, ListGroupsRequest,
    OffsetCommitRequest, OffsetFetchRequest, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::assignment::{Assignment, decode_assignment};
use super::cluster::{Cluster, TopicPartition, require_version, topic_name};
use crate::wire::{WireConn, error_name};

/// Kafka's COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR: the
/// coordinator is moving or starting; asking again shortly finds it.
const RETRIABLE_COORDINATOR_ERRORS: [i16; 3] = [14, 15, 16];
/// Pause between FindCoordinator attempts.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

/// The broker that coordinates a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coordinator {
    /// Broker id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

impl Coordinator {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Asks the bootstrap server which broker coordinates `group`, retrying while the coordinator is
/// loading or moving, for up to the request timeout.
pub async fn find_coordinator(cluster: &mut Cluster, group: &str) -> Result<Coordinator> {
    let deadline = Instant::now() + cluster.timeout();
    loop {
        let conn = cluster.bootstrap_conn()?;
        let version = require_version(conn, ApiKey::FindCoordinator, 0, 4)?;
        let mut request = FindCoordinatorRequest::default();
        if version >= 4 {
            request = request.with_coordinator_keys(vec![StrBytes::from_string(group.to_string())]);
        } else {
            request = request.with_key(StrBytes::from_string(group.to_string()));
        }
        let ResponseKind::FindCoordinator(response) =
            conn.send(ApiKey::FindCoordinator, version, &RequestKind::FindCoordinator(request)).await?
        else {
            bail!("unexpected response to FindCoordinator");
        };
        if version >= 4 && response.coordinators.is_empty() {
            bail!("FindCoordinator v{version} answered with no coordinator for group '{group}'");
        }
        let (code, message, found) = match response.coordinators.first() {
            Some(c) if version >= 4 => (
                c.error_code,
                c.error_message.clone(),
                Coordinator { id: c.node_id.0, host: c.host.to_string(), port: c.port },
            ),
            _ => (
                response.error_code,
                response.error_message.clone(),
                Coordinator { id: response.node_id.0, host: response.host.to_string(), port: response.port },
            ),
        };
        if code == 0 {
            return Ok(found);
        }
        if !RETRIABLE_COORDINATOR_ERRORS.contains(&code) || Instant::now() >= deadline {
            let detail = message.map(|m| format!(" ({m})")).unwrap_or_default();
            bail!("finding the coordinator of group '{group}': {}{detail}", error_name(code));
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

/// One member of a group, as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The coordinator-assigned member id (CONSUMER-ID).
    pub member_id: String,
    /// The static member id (`group.instance.id`), if any.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host as the coordinator saw it (`/10.0.0.7`).
    pub host: String,
    /// The partitions it owns; `None` when the assignment is not in the consumer protocol.
    pub assignment: Option<Assignment>,
}

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// Kafka's state name: `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Dead`.
    pub state: String,
    /// `consumer` for consumer groups.
    pub protocol_type: String,
    /// The assignment strategy in use (`range`, `cooperative-sticky`, …), empty while rebalancing.
    pub assignment_strategy: String,
    /// The members.
    pub members: Vec<Member>,
}

/// DescribeGroups for one group on its coordinator; `Ok(None)` when the broker does not support
/// DescribeGroups at all.
pub async fn describe_group(conn: &mut WireConn, group: &str) -> Result<Option<GroupDescription>> {
    let Some(version) = conn.version(ApiKey::DescribeGroups, 0, 5) else { return Ok(None) };
    let request = DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
    let ResponseKind::DescribeGroups(response) =
        conn.send(ApiKey::DescribeGroups, version, &RequestKind::DescribeGroups(request)).await?
    else {
        bail!("unexpected response to DescribeGroups");
    };
    let Some(described) = response.groups.into_iter().find(|g| g.group_id.0.as_str() == group) else {
        bail!("DescribeGroups did not answer for group '{group}'");
    };
    if described.error_code != 0 {
        let detail = described.error_message.map(|m| format!(" ({m})")).unwrap_or_default();
        bail!("describing group '{group}': {}{detail}", error_name(described.error_code));
    }
    let consumer = matches!(described.protocol_type.as_str(), "consumer" | "");
    let members = described
        .members
        .into_iter()
        .map(|m| {
            let assignment = if consumer {
                decode_assignment(&m.member_assignment)
                    .inspect_err(
                        |e| tracing::warn!(member = %m.member_id, error = %e, "undecodable assignment"),
                    )
                    .ok()
            } else {
                None
            };
            Member {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                assignment,
            }
        })
        .collect();
    Ok(Some(GroupDescription {
        group_id: group.to_string(),
        state: described.group_state.to_string(),
        protocol_type: described.protocol_type.to_string(),
        assignment_strategy: described.protocol_data.to_string(),
        members,
    }))
}

/// The group's committed offsets (OffsetFetch with topics null), partitions without one left out.
pub async fn offset_fetch(conn: &mut WireConn, group: &str) -> Result<BTreeMap<TopicPartition, i64>> {
    let version = require_version(conn, ApiKey::OffsetFetch, 2, 9)?;
    // kafka-protocol insists the pre-v8 `topics` stays an empty list (not null) from v8 on.
    let mut request = OffsetFetchRequest::default();
    if version >= 8 {
        request = request.with_groups(vec![
            OffsetFetchRequestGroup::default().with_group_id(group_id(group)).with_topics(None),
        ]);
    } else {
        request = request.with_group_id(group_id(group)).with_topics(None);
    }
    let ResponseKind::OffsetFetch(response) =
        conn.send(ApiKey::OffsetFetch, version, &RequestKind::OffsetFetch(request)).await?
    else {
        bail!("unexpected response to OffsetFetch");
    };
    let mut committed = Vec::new();
    if version >= 8 {
        let Some(answer) = response.groups.iter().find(|g| g.group_id.0.as_str() == group) else {
            bail!("OffsetFetch did not answer for group '{group}'");
        };
        if answer.error_code != 0 {
            bail!("fetching the offsets of group '{group}': {}", error_name(answer.error_code));
        }
        for t in &answer.topics {
            committed.extend(
                t.partitions.iter().map(|p| (&t.name, p.partition_index, p.committed_offset, p.error_code)),
            );
        }
    } else {
        if response.error_code != 0 {
            bail!("fetching the offsets of group '{group}': {}", error_name(response.error_code));
        }
        for t in &response.topics {
            committed.extend(
                t.partitions.iter().map(|p| (&t.name, p.partition_index, p.committed_offset, p.error_code)),
            );
        }
    }
    let mut out = BTreeMap::new();
    for (topic, partition, offset, code) in committed {
        if code != 0 {
            bail!("fetching the offset of group '{group}' for {}-{partition}: {}", topic.0, error_name(code));
        }
        if offset >= 0 {
            out.insert((topic.0.to_string(), partition), offset);
        }
    }
    Ok(out)
}

/// Commits `offsets` for `group` as a standalone client (generation -1, no member id), which the
/// coordinator accepts only while the group has no active members. Returns each partition's error
/// code (0 for success).
pub async fn offset_commit(
    conn: &mut WireConn,
    group: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<BTreeMap<TopicPartition, i16>> {
    let version = require_version(conn, ApiKey::OffsetCommit, 2, 9)?;
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for ((topic, partition), offset) in offsets {
        topics.entry(topic).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(*partition)
                .with_committed_offset(*offset),
        );
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(StrBytes::from_static_str(""))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default().with_name(topic_name(t)).with_partitions(ps)
                })
                .collect(),
        );
    let ResponseKind::OffsetCommit(response) =
        conn.send(ApiKey::OffsetCommit, version, &RequestKind::OffsetCommit(request)).await?
    else {
        bail!("unexpected response to OffsetCommit");
    };
    let mut out = BTreeMap::new();
    for t in &response.topics {
        for p in &t.partitions {
            out.insert((t.name.0.to_string(), p.partition_index), p.error_code);
        }
    }
    Ok(out)
}

/// DeleteGroups for `groups` on their coordinator; each group's error code (0 for success).
pub async fn delete_groups(conn: &mut WireConn, groups: &[String]) -> Result<BTreeMap<String, i16>> {
    let version = require_version(conn, ApiKey::DeleteGroups, 0, 2)?;
    let request =
        DeleteGroupsRequest::default().with_groups_names(groups.iter().map(|g| group_id(g)).collect());
    let ResponseKind::DeleteGroups(response) =
        conn.send(ApiKey::DeleteGroups, version, &RequestKind::DeleteGroups(request)).await?
    else {
        bail!("unexpected response to DeleteGroups");
    };
    Ok(response.results.iter().map(|r| (r.group_id.0.to_string(), r.error_code)).collect())
}

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedGroup {
    /// The group id.
    pub group_id: String,
    /// `consumer` for consumer groups, empty for groups that only commit offsets.
    pub protocol_type: String,
    /// The state (ListGroups v4+), `None` from older brokers.
    pub state: Option<String>,
}

/// ListGroups on one broker: the groups it coordinates, only those in `states` when given (which
/// needs ListGroups v4).
pub async fn list_groups(conn: &mut WireConn, states: Option<&[String]>) -> Result<Vec<ListedGroup>> {
    let min = if states.is_some() { 4 } else { 0 };
    let version = require_version(conn, ApiKey::ListGroups, min, 4)?;
    let mut request = ListGroupsRequest::default();
    if let Some(states) = states {
        request =
            request.with_states_filter(states.iter().map(|s| StrBytes::from_string(s.clone())).collect());
    }
    let ResponseKind::ListGroups(response) =
        conn.send(ApiKey::ListGroups, version, &RequestKind::ListGroups(request)).await?
    else {
        bail!("unexpected response to ListGroups");
    };
    if response.error_code != 0 {
        bail!("listing the groups of {}: {}", conn.addr(), error_name(response.error_code));
    }
    Ok(response
        .groups
        .into_iter()
        .map(|g| ListedGroup {
            group_id: g.group_id.0.to_string(),
            protocol_type: g.protocol_type.to_string(),
            state: (version >= 4).then(|| g.group_state.to_string()),
        })
        .collect())
}
