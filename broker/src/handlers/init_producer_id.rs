//! InitProducerId (key 22), versions 0–4, for idempotent producers: a new producer id with epoch 0, or
//! (KIP-360, v3+) the same id with a bumped epoch when the producer passes its current id and epoch.
//! Transactional ids are refused until transactions exist.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::error_code::ErrorCode;
use crate::state::BrokerState;

/// Handles an InitProducerId request.
pub async fn handle(state: &BrokerState, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default();
    if request.transactional_id.is_some() {
        return response.with_error_code(ErrorCode::InvalidRequest.code()).with_producer_id(ProducerId(-1));
    }
    if request.producer_id.0 >= 0 && request.producer_epoch >= 0 && request.producer_epoch < i16::MAX - 1 {
        return response
            .with_producer_id(request.producer_id)
            .with_producer_epoch(request.producer_epoch + 1);
    }
    match state.next_producer_id().await {
        Ok(id) => response.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(e) => {
            tracing::error!(error = %e.message, "allocating a producer id failed");
            response.with_error_code(e.code.code()).with_producer_id(ProducerId(-1)).with_producer_epoch(-1)
        }
    }
}
