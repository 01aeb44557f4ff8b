//! Strom controller library: the cluster metadata that controllers agree on and brokers follow.
//!
//! ```text
//!  request ─► metadata::ops (pure: image + request → records | error) ─► metadata log ─► replay
//!                                                                                    ─► MetadataImage
//! ```
//! Brokers depend on this crate for the records, the image and topic-config rules; they never write
//! records themselves except through the store that commits them.

pub mod broker_api;
pub mod broker_sessions;
pub mod clock;
pub mod error_code;
pub mod leader_rebalance;
pub mod metadata;
pub mod metrics;
pub mod node;
pub mod raft;
pub mod request;
pub mod telemetry;
pub mod topic_config;

pub use node::{
    Controller, ControllerConfig, ControllerError, ControllerHandle, ControllerNode, QuorumState, VoterState,
};
