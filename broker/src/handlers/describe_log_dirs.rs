//! DescribeLogDirs (key 35), versions 1–4: the partitions this broker stores in its one log directory,
//! with their sizes (what `kafka-log-dirs` shows, and what reassignment progress is measured by). The
//! volume's total and usable bytes (v4) are reported as -1, unknown.

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::state::BrokerState;

/// Handles DescribeLogDirs; topics not hosted here are left out, as Kafka does.
pub fn handle(state: &BrokerState, request: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let wanted: Option<Vec<(String, Vec<i32>)>> = request
        .topics
        .map(|topics| topics.into_iter().map(|t| (t.topic.0.to_string(), t.partitions)).collect());
    let mut by_topic: std::collections::BTreeMap<String, Vec<DescribeLogDirsPartition>> = Default::default();
    for partition in state.replicas.all() {
        if let Some(wanted) = &wanted
            && !wanted
                .iter()
                .any(|(name, indexes)| *name == partition.topic && indexes.contains(&partition.index))
        {
            continue;
        }
        let offsets = partition.offsets();
        by_topic.entry(partition.topic.clone()).or_default().push(
            DescribeLogDirsPartition::default()
                .with_partition_index(partition.index)
                .with_partition_size(partition.size_bytes() as i64)
                .with_offset_lag((offsets.high_watermark - offsets.log_end_offset).max(0))
                .with_is_future_key(false),
        );
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, mut partitions)| {
            partitions.sort_by_key(|p| p.partition_index);
            DescribeLogDirsTopic::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect();
    let dir = &state.config.data_dir;
    let result = DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_string(dir.display().to_string()))
        .with_topics(topics)
        .with_total_bytes(-1)
        .with_usable_bytes(-1);
    DescribeLogDirsResponse::default().with_results(vec![result])
}
