//! Strom broker: a Kafka-protocol server over durable segmented partition logs.
//!
//! ```text
//!  client ─TCP─► server (frames, pipelining, in-order responses)
//!                    │ decoded request
//!                    ▼
//!               handlers::* (one file per Kafka API) ──► metadata (image, ops, store)
//!                    │
//!                    ▼
//!               replica_manager ─► partition (log + producer state) ─► log::PartitionLog
//! ```

pub mod alloc;
pub mod clock;
pub mod config;
pub mod coordinator;
pub mod group;
pub use strom_controller::{error_code, topic_config};
pub mod handlers;
pub mod listener;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod partition;
pub mod producer_state;
pub mod record;
pub mod replica_manager;
pub mod replication;
pub mod server;
pub mod state;

mod broker;

/// Unit tests run with the broker's allocator, so decoding tests exercise the real protection.
#[cfg(test)]
#[global_allocator]
static GLOBAL: alloc::ReservingAllocator = alloc::ReservingAllocator;

pub use broker::{Broker, BrokerError, BrokerHandle};
pub use config::BrokerConfig;
