//! DeleteTopics (key 20), versions 1–6 (by name; by id from v6). The partitions' logs are deleted from
//! disk before the response is sent.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::RequestContext;
use crate::metadata::ops;
use crate::state::BrokerState;

/// Handles a DeleteTopics request.
pub fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<TopicName>, Uuid)> = if ctx.version >= 6 {
        request.topics.into_iter().map(|t| (t.name, t.topic_id)).collect()
    } else {
        request.topic_names.into_iter().map(|n| (Some(n), Uuid::nil())).collect()
    };
    let responses = targets
        .into_iter()
        .map(|(name, topic_id)| {
            let name_str = name.as_ref().map(|n| n.0.to_string());
            let outcome = state.commit_with(|image| {
                let records = ops::delete_topic(image, name_str.as_deref(), topic_id)?;
                let found = image
                    .topic(name_str.as_deref().unwrap_or_default())
                    .or_else(|| image.topic_by_id(topic_id))
                    .map(|t| (t.name.clone(), t.topic_id));
                Ok((records, found))
            });
            let result = DeletableTopicResult::default().with_name(name.clone());
            match outcome {
                Ok(Some((deleted, id))) => {
                    tracing::info!(topic = %deleted, "deleted topic");
                    let result = if ctx.version >= 6 { result.with_topic_id(id) } else { result };
                    result.with_name(Some(TopicName(StrBytes::from_string(deleted))))
                }
                Ok(None) => result,
                Err(e) => {
                    let result = result.with_error_code(e.code.code());
                    let result = if ctx.version >= 6 { result.with_topic_id(topic_id) } else { result };
                    if ctx.version >= 5 {
                        result.with_error_message(Some(StrBytes::from_string(e.message)))
                    } else {
                        result
                    }
                }
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
