//! ListOffsets (key 2), versions 1–7: earliest (-2), latest (-1), max timestamp (-3, v7) and the first
//! offset at or after a timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::RequestContext;
use crate::error_code::ErrorCode;
use crate::partition::Partition;
use crate::partition::check_leader_epoch;
use crate::state::BrokerState;

/// Kafka's special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

fn lookup(partition: &Partition, timestamp: i64) -> Result<(i64, i64), ErrorCode> {
    let offsets = partition.offsets();
    match timestamp {
        LATEST => Ok((-1, offsets.high_watermark)),
        EARLIEST => Ok((-1, offsets.log_start_offset)),
        MAX_TIMESTAMP => Ok(partition.max_timestamp()?.unwrap_or((-1, -1))),
        ts if ts < 0 => Err(ErrorCode::InvalidRequest),
        ts => Ok(partition.offset_for_timestamp(ts)?.map_or((-1, -1), |(offset, ts)| (ts, offset))),
    }
}

/// Handles a ListOffsets request.
pub fn handle(state: &BrokerState, ctx: &RequestContext, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .into_iter()
                .map(|p| {
                    let response =
                        ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
                    let result = state.leader_partition(topic.name.0.as_str(), p.partition_index).and_then(
                        |partition| {
                            check_leader_epoch(p.current_leader_epoch, partition.leader_epoch())
                                .and_then(|()| lookup(&partition, p.timestamp))
                                .map(|found| (found, partition.leader_epoch()))
                        },
                    );
                    match result {
                        Ok(((timestamp, offset), epoch)) => {
                            let response = response.with_timestamp(timestamp).with_offset(offset);
                            if ctx.version >= 4 { response.with_leader_epoch(epoch) } else { response }
                        }
                        Err(code) => response.with_error_code(code.code()).with_timestamp(-1).with_offset(-1),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(topic.name).with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
