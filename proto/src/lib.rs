//! Strom's internal gRPC services, generated from the `.proto` files beside `src/` by tonic/prost.
//!
//! - [`raft`]: the Raft transport between controllers (openraft messages as JSON).
//! - [`controller`]: controller administration (writes, quorum description, membership changes).
//! - [`broker_api`]: the service brokers use (registration, heartbeats, the metadata watch stream).
//! - [`metadata`]: the metadata records, as carried on the broker watch stream.
//!
//! No logic lives here.

/// The Raft transport (`raft.proto`, package `strom.raft.v1`).
#[allow(missing_docs, clippy::all)]
pub mod raft {
    tonic::include_proto!("strom.raft.v1");
}

/// Controller administration (`controller.proto`, package `strom.controller.v1`).
#[allow(missing_docs, clippy::all)]
pub mod controller {
    tonic::include_proto!("strom.controller.v1");
}

/// Metadata key on a FAILED_PRECONDITION status naming the leader's node id.
pub const LEADER_ID_METADATA: &str = "strom-leader-id";

/// Metadata key on a FAILED_PRECONDITION status naming the leader's gRPC address.
pub const LEADER_ADDR_METADATA: &str = "strom-leader-addr";

/// The service brokers use to register, heartbeat, follow metadata and ask for changes
/// (`broker_api.proto`, package `strom.broker_api.v1`).
#[allow(missing_docs, clippy::all)]
pub mod broker_api {
    tonic::include_proto!("strom.broker_api.v1");
}

/// Metadata records (`metadata.proto`, package `strom.metadata.v1`): one message per record kind, and
/// the batch committed at one log index.
#[allow(missing_docs, clippy::all)]
pub mod metadata {
    tonic::include_proto!("strom.metadata.v1");
}
