//! AlterPartitionReassignments (key 45, v0) and ListPartitionReassignments (key 46, v0): move
//! partitions to new replica sets (KIP-455) and list the moves in progress. Each partition's change is
//! decided by the active controller; see `strom_controller::metadata::ops::reassignment`.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};
use kafka_protocol::protocol::StrBytes;
use strom_controller::request::ControllerRequest;

use crate::state::BrokerState;

fn ids(brokers: &[i32]) -> Vec<BrokerId> {
    brokers.iter().copied().map(BrokerId).collect()
}

/// Handles AlterPartitionReassignments: one controller decision per partition, errors per partition.
pub async fn alter(
    state: &BrokerState,
    request: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let mut responses = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let target = p.replicas.map(|r| r.into_iter().map(|b| b.0).collect::<Vec<i32>>());
            let change = ControllerRequest::AlterPartitionReassignment {
                topic: name.clone(),
                partition: p.partition_index,
                target: target.clone(),
            };
            let response = ReassignablePartitionResponse::default().with_partition_index(p.partition_index);
            partitions.push(match state.execute(change).await {
                Ok(_) => {
                    tracing::info!(topic = %name, partition = p.partition_index, ?target, "reassignment accepted");
                    response
                }
                Err(e) => response
                    .with_error_code(e.code.code())
                    .with_error_message(Some(StrBytes::from_string(e.message))),
            });
        }
        responses
            .push(ReassignableTopicResponse::default().with_name(topic.name).with_partitions(partitions));
    }
    AlterPartitionReassignmentsResponse::default().with_responses(responses)
}

/// Handles ListPartitionReassignments: the reassigning partitions of the named topics (all topics when
/// none are named); unknown topics and partitions are left out, as Kafka does.
pub fn list(
    state: &BrokerState,
    request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    let image = state.image();
    let wanted: Option<Vec<(String, Vec<i32>)>> = request
        .topics
        .map(|topics| topics.into_iter().map(|t| (t.name.0.to_string(), t.partition_indexes)).collect());
    let mut topics = Vec::new();
    for topic in image.topics() {
        let filter = match &wanted {
            Some(w) => match w.iter().find(|(n, _)| *n == topic.name) {
                Some((_, indexes)) => Some(indexes),
                None => continue,
            },
            None => None,
        };
        let partitions: Vec<OngoingPartitionReassignment> = topic
            .partitions
            .iter()
            .filter(|(index, p)| p.is_reassigning() && filter.is_none_or(|f| f.contains(index)))
            .map(|(index, p)| {
                OngoingPartitionReassignment::default()
                    .with_partition_index(*index)
                    .with_replicas(ids(&p.replicas))
                    .with_adding_replicas(ids(&p.adding_replicas))
                    .with_removing_replicas(ids(&p.removing_replicas))
            })
            .collect();
        if !partitions.is_empty() {
            topics.push(
                OngoingTopicReassignment::default()
                    .with_name(kafka_protocol::messages::TopicName(StrBytes::from_string(topic.name.clone())))
                    .with_partitions(partitions),
            );
        }
    }
    ListPartitionReassignmentsResponse::default().with_topics(topics)
}
