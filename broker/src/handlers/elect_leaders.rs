//! ElectLeaders (key 43), versions 0–2: preferred (v0 knows no other kind) or unclean leader elections,
//! decided per partition by the active controller (`ControllerRequest::ElectLeaders`). A null topic
//! list means every partition; then partitions that need no election are left out, as in Kafka.
//!
//! A request the controller cannot take (unknown election type, no quorum, not the controller) gets
//! the error at the top level (v1+) and on every partition it named.

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use strom_controller::metadata::ops::ElectionType;
use strom_controller::request::{ControllerReply, ControllerRequest, RequestError, TopicElectionResult};

use super::RequestContext;
use crate::error_code::ErrorCode;
use crate::state::BrokerState;

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn partition_result(partition: i32, outcome: Result<(), RequestError>) -> PartitionResult {
    let result = PartitionResult::default().with_partition_id(partition);
    match outcome {
        Ok(()) => result,
        Err(e) => result.with_error_code(e.code).with_error_message(Some(StrBytes::from_string(e.message))),
    }
}

fn topic_result(t: TopicElectionResult) -> ReplicaElectionResult {
    ReplicaElectionResult::default()
        .with_topic(topic_name(&t.topic))
        .with_partition_result(t.partitions.into_iter().map(|(p, r)| partition_result(p, r)).collect())
}

/// `error` at the top level (v1+) and on every partition `asked` names.
fn failed(version: i16, error: RequestError, asked: Option<&[(String, Vec<i32>)]>) -> ElectLeadersResponse {
    let results = asked
        .unwrap_or_default()
        .iter()
        .map(|(topic, partitions)| {
            topic_result(TopicElectionResult {
                topic: topic.clone(),
                partitions: partitions.iter().map(|p| (*p, Err(error.clone()))).collect(),
            })
        })
        .collect();
    let response = ElectLeadersResponse::default().with_replica_election_results(results);
    if version >= 1 { response.with_error_code(error.code) } else { response }
}

/// Handles an ElectLeaders request.
pub async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let asked: Option<Vec<(String, Vec<i32>)>> = request
        .topic_partitions
        .map(|topics| topics.into_iter().map(|t| (t.topic.0.to_string(), t.partitions)).collect());
    let election_type = if ctx.version == 0 {
        Some(ElectionType::Preferred)
    } else {
        ElectionType::from_code(request.election_type)
    };
    let Some(election_type) = election_type else {
        let error = RequestError {
            code: ErrorCode::InvalidRequest.code(),
            message: format!("unknown election type {}", request.election_type),
        };
        return failed(ctx.version, error, asked.as_deref());
    };
    let change = ControllerRequest::ElectLeaders { election_type, partitions: asked.clone() };
    let results = match state.execute(change).await {
        Ok(ControllerReply::LeadersElected { results }) => results,
        Ok(reply) => {
            let error = RequestError {
                code: ErrorCode::UnknownServerError.code(),
                message: format!("unexpected controller reply {reply:?}"),
            };
            return failed(ctx.version, error, asked.as_deref());
        }
        Err(e) => return failed(ctx.version, e.into(), asked.as_deref()),
    };
    let elected: usize = results.iter().map(|t| t.partitions.iter().filter(|(_, r)| r.is_ok()).count()).sum();
    tracing::info!(?election_type, all = asked.is_none(), elected, "elect leaders");
    ElectLeadersResponse::default()
        .with_replica_election_results(results.into_iter().map(topic_result).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_every_partition_and_respect_v0() {
        let asked = vec![("t".to_string(), vec![0, 1])];
        let error = RequestError { code: ErrorCode::RequestTimedOut.code(), message: "no quorum".into() };
        let v1 = failed(1, error.clone(), Some(&asked));
        assert_eq!(v1.error_code, ErrorCode::RequestTimedOut.code());
        let codes: Vec<i16> =
            v1.replica_election_results[0].partition_result.iter().map(|p| p.error_code).collect();
        assert_eq!(codes, vec![7, 7]);
        let v0 = failed(0, error, None);
        assert_eq!((v0.error_code, v0.replica_election_results.len()), (0, 0));
    }
}
