//! The controller quorum's Raft plumbing (openraft 0.9, storage v2): the log and vote on sled, the
//! metadata state machine, and the gRPC transport between controllers.
//!
//! ```text
//!  client_write(MetadataBatch) ─► openraft ─► LogStore (sled "log", flushed) ─► replicate (network.rs)
//!                                    │ committed
//!                                    ▼
//!                       StateMachineStore.apply ─► MetadataImage.replay ─► AppliedImage
//!                                                   (Arc image · broadcast of batches · applied watch)
//! ```
//!
//! What it owns: durability of Raft state (vote and log flushed before openraft is told), snapshots
//! (the image as JSON) and log purge. What it must never do: change the image other than by
//! `MetadataImage::replay` of committed records, or decide anything about brokers and topics (that
//! is `crate::metadata`).

// openraft's trait methods fix `StorageError` (224 bytes) as the error type; helpers return it too.
#![allow(clippy::result_large_err)]

pub mod admin_service;
pub mod log_store;
pub mod network;
pub mod service;
pub mod state_machine;
pub mod type_config;

pub use log_store::LogStore;
pub use network::Network;
pub use state_machine::{AppliedBatch, AppliedImage, StateMachineStore};
pub use type_config::{MetadataBatch, NodeId, Raft, TypeConfig};
