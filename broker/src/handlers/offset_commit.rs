//! OffsetCommit (key 8), versions 2–9: committed offsets go to the controller quorum through the
//! batching [`crate::coordinator::offsets::OffsetCommitter`]. Only the group's coordinator accepts them
//! (NOT_COORDINATOR elsewhere); a commit naming a member or generation must match the group's current
//! membership ([`crate::coordinator::validate_commit`]).

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::coordinator;
use crate::error_code::ErrorCode;
use crate::metadata::ops::OffsetCommitEntry;
use crate::state::BrokerState;

fn all_failed(request: &OffsetCommitRequest, code: ErrorCode) -> OffsetCommitResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            OffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(
                t.partitions
                    .iter()
                    .map(|p| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code.code())
                    })
                    .collect(),
            )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// Handles OffsetCommit.
pub async fn handle(state: &BrokerState, request: OffsetCommitRequest) -> OffsetCommitResponse {
    let group = request.group_id.0.to_string();
    if group.is_empty() {
        return all_failed(&request, ErrorCode::InvalidGroupId);
    }
    let instance = request.group_instance_id.as_ref().map(|s| s.as_str());
    if let Err(code) = coordinator::validate_commit(
        state,
        &group,
        request.generation_id_or_member_epoch,
        request.member_id.as_str(),
        instance,
    ) {
        return all_failed(&request, code);
    }
    let entries: Vec<OffsetCommitEntry> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| OffsetCommitEntry {
                topic: t.name.0.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
            })
        })
        .collect();
    let codes = match state.offsets.commit(group.clone(), entries).await {
        Ok(codes) => codes,
        Err(e) => {
            tracing::debug!(%group, code = ?e.code, error = %e.message, "offset commit failed");
            return all_failed(&request, e.code);
        }
    };
    let mut codes = codes.into_iter();
    let topics = request
        .topics
        .iter()
        .map(|t| {
            OffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(
                t.partitions
                    .iter()
                    .map(|p| {
                        let code = codes.next().unwrap_or(ErrorCode::UnknownServerError);
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code.code())
                    })
                    .collect(),
            )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
