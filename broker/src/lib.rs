//! Strom broker: a Kafka-protocol server over durable segmented partition logs.
//!
//! ```text
//!  client ─TCP─► server::connection (frames, pipelining, in-order responses)
//!                    │ decoded request
//!                    ▼
//!               handlers::* (one file per Kafka API) ──► metadata image (topics, partitions, configs)
//!                    │                                   persisted as records in <data>/metadata
//!                    ▼
//!               replica manager ─► partition (log + producer state + waiters) ─► log::PartitionLog
//! ```

pub mod config;
pub mod log;
pub mod record;
pub mod topic_config;

mod broker;

pub use broker::{Broker, BrokerError, BrokerHandle};
pub use config::BrokerConfig;
