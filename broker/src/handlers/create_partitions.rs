//! CreatePartitions (key 37), versions 0–3: grows a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;
use strom_controller::request::ControllerRequest;

use crate::state::BrokerState;

/// Handles a CreatePartitions request.
pub async fn handle(state: &BrokerState, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let name = t.name.0.to_string();
        // An empty assignment list means automatic placement, like a null one.
        let assignments: Option<Vec<Vec<i32>>> = t
            .assignments
            .filter(|a| !a.is_empty())
            .map(|a| a.into_iter().map(|x| x.broker_ids.into_iter().map(|b| b.0).collect()).collect());
        let change = ControllerRequest::CreatePartitions {
            name: name.clone(),
            count: t.count,
            assignments,
            validate_only: request.validate_only,
        };
        let result = CreatePartitionsTopicResult::default().with_name(t.name);
        results.push(match state.execute(change).await {
            Ok(_) => {
                tracing::info!(topic = %name, count = t.count, validate_only = request.validate_only, "partitions created");
                result
            }
            Err(e) => {
                result.with_error_code(e.code.code()).with_error_message(Some(StrBytes::from_string(e.message)))
            }
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}
