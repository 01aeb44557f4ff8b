//! FindCoordinator (key 10), versions 0–4: the broker that coordinates a consumer group
//! ([`crate::coordinator::placement`]); v4 answers a batch of keys. Transactions are not supported
//! yet, so transaction coordinators are COORDINATOR_NOT_AVAILABLE.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::coordinator::placement;
use crate::error_code::ErrorCode;
use crate::state::BrokerState;

/// Key type of a consumer group.
const GROUP: i8 = 0;
/// Key type of a transactional id.
const TRANSACTION: i8 = 1;

/// The coordinator of one key: `(node id, host, port)` on listener `listener`, or the error.
fn find(
    state: &BrokerState,
    listener: &str,
    key: &str,
    key_type: i8,
) -> Result<(i32, String, i32), (ErrorCode, String)> {
    match key_type {
        GROUP if key.is_empty() => Err((ErrorCode::InvalidRequest, "the group id is empty".into())),
        GROUP => {
            let image = state.image();
            let node = placement::coordinator(&image, key)
                .ok_or((ErrorCode::CoordinatorNotAvailable, "no live broker".to_string()))?;
            let broker = image
                .broker(node)
                .ok_or((ErrorCode::CoordinatorNotAvailable, format!("broker {node} is not registered")))?;
            let (host, port) = broker.endpoint(listener).ok_or_else(|| {
                (ErrorCode::CoordinatorNotAvailable, format!("broker {node} has no listener {listener}"))
            })?;
            Ok((node, host.to_string(), port))
        }
        TRANSACTION => Err((ErrorCode::CoordinatorNotAvailable, "transactions are not supported".into())),
        other => Err((ErrorCode::InvalidRequest, format!("unknown key type {other}"))),
    }
}

fn coordinator(state: &BrokerState, listener: &str, key: &str, key_type: i8) -> Coordinator {
    let out = Coordinator::default().with_key(StrBytes::from_string(key.to_string()));
    match find(state, listener, key, key_type) {
        Ok((node, host, port)) => {
            out.with_node_id(BrokerId(node)).with_host(StrBytes::from_string(host)).with_port(port)
        }
        Err((code, message)) => out
            .with_node_id(BrokerId(-1))
            .with_port(-1)
            .with_error_code(code.code())
            .with_error_message(Some(StrBytes::from_string(message))),
    }
}

/// Handles FindCoordinator.
pub fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    if ctx.version >= 4 {
        let coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| coordinator(state, &ctx.listener_name, key.as_str(), request.key_type))
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = coordinator(state, &ctx.listener_name, request.key.as_str(), request.key_type);
    FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_error_message(c.error_message)
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port)
}
