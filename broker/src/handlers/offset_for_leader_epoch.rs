//! OffsetForLeaderEpoch (key 23), versions 2–4: the end offset of the largest leader epoch at or below
//! the requested one, from the partition's leader-epoch checkpoint.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::partition::check_leader_epoch;
use crate::state::BrokerState;

/// Handles an OffsetForLeaderEpoch request.
pub fn handle(state: &BrokerState, request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .into_iter()
                .map(|p| {
                    let response = EpochEndOffset::default().with_partition(p.partition);
                    let result =
                        state.leader_partition(topic.topic.0.as_str(), p.partition).and_then(|partition| {
                            check_leader_epoch(p.current_leader_epoch, partition.leader_epoch())
                                .map(|()| partition.end_offset_for_epoch(p.leader_epoch).unwrap_or((-1, -1)))
                        });
                    match result {
                        Ok((epoch, end_offset)) => {
                            response.with_leader_epoch(epoch).with_end_offset(end_offset)
                        }
                        Err(code) => {
                            response.with_error_code(code.code()).with_leader_epoch(-1).with_end_offset(-1)
                        }
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default().with_topic(topic.topic).with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
