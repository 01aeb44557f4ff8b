//! The consumer-group membership APIs — JoinGroup (11) v0–7, SyncGroup (14) v0–5, Heartbeat (12)
//! v0–4, LeaveGroup (13) v0–5 — converted between the wire codec and the state machine's values and
//! handed to [`crate::coordinator::groups::GroupCoordinator`].

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::group::{self, LeavingMember, MemberAssignment, Protocol};
use crate::state::BrokerState;

fn s(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

fn client_id(ctx: &RequestContext) -> String {
    ctx.header.client_id.as_ref().map(|c| c.to_string()).unwrap_or_default()
}

/// Handles JoinGroup (waits while the group rebalances).
pub async fn join(state: &BrokerState, ctx: &RequestContext, r: JoinGroupRequest) -> JoinGroupResponse {
    let group_id = r.group_id.0.to_string();
    let rebalance_timeout_ms = if ctx.version >= 1 { r.rebalance_timeout_ms } else { r.session_timeout_ms };
    let request = group::JoinGroupRequest {
        api_version: ctx.version,
        client_id: client_id(ctx),
        client_host: ctx.client_host.clone(),
        session_timeout_ms: r.session_timeout_ms,
        rebalance_timeout_ms,
        member_id: r.member_id.to_string(),
        group_instance_id: r.group_instance_id.map(|i| i.to_string()),
        protocol_type: r.protocol_type.to_string(),
        protocols: r
            .protocols
            .into_iter()
            .map(|p| Protocol { name: p.name.to_string(), metadata: p.metadata })
            .collect(),
        reason: r.reason.map(|x| x.to_string()),
    };
    let response = state.groups.join(state, &group_id, request).await;
    if response.error != crate::error_code::ErrorCode::None {
        tracing::debug!(group = %group_id, error = ?response.error, "JoinGroup refused");
    }
    JoinGroupResponse::default()
        .with_error_code(response.error.code())
        .with_generation_id(response.generation_id)
        .with_protocol_type(response.protocol_type.map(s))
        .with_protocol_name(Some(s(response.protocol_name.unwrap_or_default())))
        .with_leader(s(response.leader))
        .with_skip_assignment(response.skip_assignment)
        .with_member_id(s(response.member_id))
        .with_members(
            response
                .members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(m.member_id))
                        .with_group_instance_id(m.group_instance_id.map(s))
                        .with_metadata(m.metadata)
                })
                .collect(),
        )
}

/// Handles SyncGroup (followers wait for the leader's assignment).
pub async fn sync(state: &BrokerState, _ctx: &RequestContext, r: SyncGroupRequest) -> SyncGroupResponse {
    let group_id = r.group_id.0.to_string();
    let request = group::SyncGroupRequest {
        generation_id: r.generation_id,
        member_id: r.member_id.to_string(),
        group_instance_id: r.group_instance_id.map(|i| i.to_string()),
        protocol_type: r.protocol_type.map(|p| p.to_string()),
        protocol_name: r.protocol_name.map(|p| p.to_string()),
        assignments: r
            .assignments
            .into_iter()
            .map(|a| MemberAssignment { member_id: a.member_id.to_string(), assignment: a.assignment })
            .collect(),
    };
    let response = state.groups.sync(state, &group_id, request).await;
    SyncGroupResponse::default()
        .with_error_code(response.error.code())
        .with_protocol_type(response.protocol_type.map(s))
        .with_protocol_name(response.protocol_name.map(s))
        .with_assignment(response.assignment)
}

/// Handles Heartbeat.
pub fn heartbeat(state: &BrokerState, r: HeartbeatRequest) -> HeartbeatResponse {
    let group_id = r.group_id.0.to_string();
    let request = group::HeartbeatRequest {
        generation_id: r.generation_id,
        member_id: r.member_id.to_string(),
        group_instance_id: r.group_instance_id.map(|i| i.to_string()),
    };
    HeartbeatResponse::default().with_error_code(state.groups.heartbeat(state, &group_id, request).code())
}

/// Handles LeaveGroup: one member id (v0–2) or a batch of members (v3+).
pub fn leave(state: &BrokerState, ctx: &RequestContext, r: LeaveGroupRequest) -> LeaveGroupResponse {
    let group_id = r.group_id.0.to_string();
    let members: Vec<LeavingMember> = if ctx.version >= 3 {
        r.members
            .into_iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                reason: m.reason.map(|x| x.to_string()),
            })
            .collect()
    } else {
        vec![LeavingMember { member_id: r.member_id.to_string(), group_instance_id: None, reason: None }]
    };
    let response = state.groups.leave(state, &group_id, members);
    let out = LeaveGroupResponse::default().with_error_code(response.error_for_version(ctx.version).code());
    if ctx.version < 3 {
        return out;
    }
    out.with_members(
        response
            .members
            .into_iter()
            .map(|m| {
                MemberResponse::default()
                    .with_member_id(s(m.member_id))
                    .with_group_instance_id(m.group_instance_id.map(s))
                    .with_error_code(m.error.code())
            })
            .collect(),
    )
}
