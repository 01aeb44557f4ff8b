//! DescribeCluster (key 60), versions 0–1: cluster id, controller and brokers (as reached through the
//! listener the request came in on).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::state::BrokerState;

/// Handles a DescribeCluster request.
pub fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let _ = request;
    // The endpoints of the listener the request came in on; brokers without it are left out.
    let brokers = state
        .image()
        .brokers()
        .filter(|b| !b.fenced)
        .filter_map(|b| {
            let (host, port) = b.endpoint(&ctx.listener_name)?;
            Some(
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(b.broker_id))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(port)
                    .with_rack(b.rack.clone().map(StrBytes::from_string)),
            )
        })
        .collect();
    DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_string(state.cluster_id.clone()))
        .with_controller_id(BrokerId(state.config.node_id))
        .with_brokers(brokers)
}
