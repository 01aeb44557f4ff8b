//! CreatePartitions (key 37), versions 0–3: grows a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::ops;
use crate::state::BrokerState;

/// Handles a CreatePartitions request.
pub fn handle(state: &BrokerState, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let results = request
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let assignments: Option<Vec<Vec<i32>>> = t
                .assignments
                .filter(|a| !a.is_empty())
                .map(|a| a.into_iter().map(|x| x.broker_ids.into_iter().map(|b| b.0).collect()).collect());
            let outcome = if request.validate_only {
                ops::create_partitions(&state.image(), &name, t.count, assignments.as_deref()).map(|_| ())
            } else {
                state.commit_with(|image| {
                    Ok((ops::create_partitions(image, &name, t.count, assignments.as_deref())?, ()))
                })
            };
            let result = CreatePartitionsTopicResult::default().with_name(t.name);
            match outcome {
                Ok(()) => {
                    tracing::info!(topic = %name, count = t.count, "partitions created");
                    result
                }
                Err(e) => result
                    .with_error_code(e.code.code())
                    .with_error_message(Some(StrBytes::from_string(e.message))),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
