//! DeleteTopics (key 20), versions 1–6 (by name; by id from v6). The partitions' logs are deleted from
//! disk before the response is sent.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::RequestContext;
use crate::state::BrokerState;
use strom_controller::request::{ControllerReply, ControllerRequest};

/// Handles a DeleteTopics request.
pub async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<TopicName>, Uuid)> = if ctx.version >= 6 {
        request.topics.into_iter().map(|t| (t.name, t.topic_id)).collect()
    } else {
        request.topic_names.into_iter().map(|n| (Some(n), Uuid::nil())).collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    for (name, topic_id) in targets {
        let request =
            ControllerRequest::DeleteTopic { name: name.as_ref().map(|n| n.0.to_string()), topic_id };
        let result = DeletableTopicResult::default().with_name(name.clone());
        responses.push(match state.execute(request).await {
            Ok(ControllerReply::TopicDeleted { name: deleted, topic_id: id }) => {
                tracing::info!(topic = %deleted, "deleted topic");
                let result = if ctx.version >= 6 { result.with_topic_id(id) } else { result };
                result.with_name(Some(TopicName(StrBytes::from_string(deleted))))
            }
            Ok(_) => result,
            Err(e) => {
                let result = result.with_error_code(e.code.code());
                let result = if ctx.version >= 6 { result.with_topic_id(topic_id) } else { result };
                if ctx.version >= 5 {
                    result.with_error_message(Some(StrBytes::from_string(e.message)))
                } else {
                    result
                }
            }
        });
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
