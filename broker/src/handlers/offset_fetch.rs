//! OffsetFetch (key 9), versions 1–9: committed offsets from this broker's metadata image (the
//! controller quorum's), for named partitions or (topics null, v2+) every partition the group
//! committed; v8+ several groups per request. Only the group's coordinator answers (NOT_COORDINATOR
//! elsewhere). A partition without a committed offset reports -1.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::coordinator;
use crate::metadata::MetadataImage;
use crate::state::BrokerState;

/// One partition's committed position: (offset, leader epoch, metadata).
type Committed = (i64, i32, String);

/// The committed offsets of `group` for `topics` (`None`: everything it committed), by topic.
fn lookup(
    image: &MetadataImage,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<(i32, Committed)>)> {
    let wanted = topics.unwrap_or_else(|| {
        image
            .group_offsets(group)
            .map(|g| g.iter().map(|(t, parts)| (t.clone(), parts.keys().copied().collect())).collect())
            .unwrap_or_default()
    });
    wanted
        .into_iter()
        .map(|(topic, partitions)| {
            let found = partitions
                .into_iter()
                .map(|p| {
                    let committed = image
                        .committed_offset(group, &topic, p)
                        .map_or((-1, -1, String::new()), |c| (c.offset, c.leader_epoch, c.metadata.clone()));
                    (p, committed)
                })
                .collect();
            (topic, found)
        })
        .collect()
}

/// Handles OffsetFetch.
pub fn handle(state: &BrokerState, ctx: &RequestContext, request: OffsetFetchRequest) -> OffsetFetchResponse {
    let image = state.image();
    if ctx.version >= 8 {
        let groups = request
            .groups
            .into_iter()
            .map(|g| {
                let group = g.group_id.0.to_string();
                let out = OffsetFetchResponseGroup::default().with_group_id(g.group_id);
                if let Err(code) = coordinator::check_coordinator(state, &group) {
                    return out.with_error_code(code.code());
                }
                let topics = g
                    .topics
                    .map(|ts| ts.into_iter().map(|t| (t.name.0.to_string(), t.partition_indexes)).collect());
                out.with_topics(
                    lookup(&image, &group, topics)
                        .into_iter()
                        .map(|(topic, partitions)| {
                            OffsetFetchResponseTopics::default()
                                .with_name(TopicName(StrBytes::from_string(topic)))
                                .with_partitions(
                                    partitions
                                        .into_iter()
                                        .map(|(p, (offset, epoch, metadata))| {
                                            OffsetFetchResponsePartitions::default()
                                                .with_partition_index(p)
                                                .with_committed_offset(offset)
                                                .with_committed_leader_epoch(epoch)
                                                .with_metadata(Some(StrBytes::from_string(metadata)))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let group = request.group_id.0.to_string();
    if let Err(code) = coordinator::check_coordinator(state, &group) {
        let topics = request
            .topics
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                OffsetFetchResponseTopic::default().with_name(t.name).with_partitions(
                    t.partition_indexes
                        .into_iter()
                        .map(|p| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(-1)
                                .with_error_code(code.code())
                        })
                        .collect(),
                )
            })
            .collect();
        return OffsetFetchResponse::default().with_error_code(code.code()).with_topics(topics);
    }
    let topics = request
        .topics
        .map(|ts| ts.into_iter().map(|t| (t.name.0.to_string(), t.partition_indexes)).collect());
    let topics = lookup(&image, &group, topics)
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(p, (offset, epoch, metadata))| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(offset)
                                .with_committed_leader_epoch(epoch)
                                .with_metadata(Some(StrBytes::from_string(metadata)))
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
