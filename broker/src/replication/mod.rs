//! Replication between brokers.
//!
//! ```text
//!  follower                                   leader
//!  fetcher (one task + connection per leader) ── Fetch v12, replica_id ──► partition.read_for_follower
//!    append_replica / truncate_diverging   ◄── batches, HW, diverging epoch ── records follower LEO → HW
//!                                                                          isr task ── AlterPartition ─► controller
//! ```
//!
//! - [`leader`]: the pure leader-side rules (follower progress, high watermark, ISR changes).
//! - [`fetcher`]: replica fetchers, one per leader broker.
//! - [`peer`]: the Kafka-protocol connection fetchers use.
//! - [`isr`]: the task that asks the controller for ISR changes.
//! - [`hw_checkpoint`]: high watermarks kept across restarts.
//! - [`throttle`]: the leader's replication throttle for reassignment traffic.

pub mod fetcher;
pub mod hw_checkpoint;
pub mod isr;
pub mod leader;
pub mod peer;
pub mod throttle;

pub use fetcher::{FetchTarget, FetcherSettings, ReplicaFetchers, Wanted};
pub use leader::LeaderState;
