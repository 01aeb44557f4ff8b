//! The consumer-group admin APIs — ListGroups (16) v0–4 (state filter from v4), DescribeGroups (15)
//! v0–5, DeleteGroups (42) v0–2, OffsetDelete (47) v0 — over
//! [`crate::coordinator::groups::GroupCoordinator`] and the committed offsets in the image.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, GroupId,
    ListGroupsRequest, ListGroupsResponse, OffsetDeleteRequest, OffsetDeleteResponse,
};
use kafka_protocol::protocol::StrBytes;
use strom_controller::request::ControllerRequest;

use crate::coordinator;
use crate::error_code::ErrorCode;
use crate::state::BrokerState;

fn s(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

/// Handles ListGroups: the groups this broker coordinates, filtered by state names (v4).
pub fn list(state: &BrokerState, r: ListGroupsRequest) -> ListGroupsResponse {
    let wanted: Vec<String> = r.states_filter.iter().map(|s| s.to_lowercase()).collect();
    let groups = state
        .groups
        .list(state)
        .into_iter()
        .filter(|g| wanted.is_empty() || wanted.contains(&g.state.name().to_lowercase()))
        .map(|g| {
            ListedGroup::default()
                .with_group_id(GroupId(s(g.group_id)))
                .with_protocol_type(s(g.protocol_type))
                .with_group_state(s(g.state.name()))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

/// Handles DescribeGroups.
pub fn describe(state: &BrokerState, r: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let groups = r
        .groups
        .into_iter()
        .map(|id| {
            let out = DescribedGroup::default().with_group_id(id.clone());
            match state.groups.describe(state, id.0.as_str()) {
                Err(code) => out.with_error_code(code.code()),
                Ok(summary) => out
                    .with_group_state(s(summary.state.name()))
                    .with_protocol_type(s(summary.protocol_type))
                    .with_protocol_data(s(summary.protocol))
                    .with_members(
                        summary
                            .members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(s(m.member_id))
                                    .with_group_instance_id(m.group_instance_id.map(s))
                                    .with_client_id(s(m.client_id))
                                    .with_client_host(s(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment)
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

/// Handles DeleteGroups: each group on its own.
pub async fn delete(state: &BrokerState, r: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(r.groups_names.len());
    for id in r.groups_names {
        let code = state.groups.delete(state, id.0.as_str()).await;
        if code == ErrorCode::None {
            tracing::info!(group = %id.0.as_str(), "group deleted");
        }
        results.push(DeletableGroupResult::default().with_group_id(id).with_error_code(code.code()));
    }
    DeleteGroupsResponse::default().with_results(results)
}

/// Handles OffsetDelete: removes committed offsets of partitions the group is not consuming
/// (GROUP_SUBSCRIBED_TO_TOPIC for topics an active member subscribes to).
pub async fn offset_delete(state: &BrokerState, r: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let group = r.group_id.0.to_string();
    if let Err(code) = coordinator::check_coordinator(state, &group) {
        return OffsetDeleteResponse::default().with_error_code(code.code());
    }
    // A group with neither members nor committed offsets describes as Dead.
    if state.groups.describe(state, &group).is_ok_and(|g| g.state == crate::group::GroupState::Dead) {
        return OffsetDeleteResponse::default().with_error_code(ErrorCode::GroupIdNotFound.code());
    }
    let mut to_delete = Vec::new();
    let mut topics = Vec::with_capacity(r.topics.len());
    for t in r.topics {
        let topic = t.name.0.to_string();
        let subscribed = state.groups.is_subscribed(&group, &topic);
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let code = if subscribed { ErrorCode::GroupSubscribedToTopic } else { ErrorCode::None };
                if !subscribed {
                    to_delete.push((topic.clone(), p.partition_index));
                }
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code.code())
            })
            .collect();
        topics.push(OffsetDeleteResponseTopic::default().with_name(t.name).with_partitions(partitions));
    }
    if !to_delete.is_empty() {
        let request = ControllerRequest::DeleteOffsets { group, partitions: Some(to_delete) };
        if let Err(e) = state.execute(request).await {
            return OffsetDeleteResponse::default().with_error_code(e.code.code());
        }
    }
    OffsetDeleteResponse::default().with_topics(topics)
}
