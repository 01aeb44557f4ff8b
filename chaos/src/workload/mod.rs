//! The chaos workload: real Kafka clients (rdkafka) writing and reading the run's topic while the
//! nemesis injects faults, recording every outcome into the run's [`History`].
//!
//! ```text
//!  producers (idempotent, acks=all) ──Write{ok|failed|unknown}──┐
//!  reader (assigned, all partitions) ──Read──────────────────────┼──▶ Recorder ──▶ History
//!  group members (subscribe, commit) ──Read/Assigned/Revoked─────┤
//!                                     ──CommittedOffset──────────┘
//!  after healing: drain (every partition to its end) ──FinalRead
//! ```

pub mod consumers;
pub mod drain;
pub mod producers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::history::History;

/// Shared access to the history being recorded, with the run's clock.
#[derive(Clone)]
pub struct Recorder {
    history: Arc<Mutex<History>>,
    start: Instant,
}

impl Recorder {
    /// A recorder for `history`, times counted from `start`.
    pub fn new(history: History, start: Instant) -> Self {
        Self { history: Arc::new(Mutex::new(history)), start }
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The run's start.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The history, locked.
    pub fn lock(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shared history (for the nemesis).
    pub fn shared(&self) -> Arc<Mutex<History>> {
        self.history.clone()
    }

    /// A copy of the history as recorded so far.
    pub fn snapshot(&self) -> History {
        self.lock().clone()
    }
}

/// A stop flag shared by the workload's tasks and threads.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Asks every holder to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether stopping was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Settings shared by the workload's clients.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// The topic written and read.
    pub topic: String,
    /// Its partition count.
    pub partitions: i32,
    /// Idempotent producers.
    pub producers: u32,
    /// Writes per second per producer (spread over every partition).
    pub rate_per_producer: u32,
    /// Members of the consumer group.
    pub group_members: u32,
    /// The consumer group's id.
    pub group: String,
}

/// The librdkafka settings every workload client shares: quick reconnects and metadata refresh so
/// failover is seen fast; `STROM_CHAOS_CLIENT_DEBUG` turns on librdkafka's debug contexts.
pub fn base_config(bootstrap: &str) -> rdkafka::ClientConfig {
    let mut config = rdkafka::ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "5000")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "500")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .set("log_level", "3");
    // Client-side traces for diagnosing a run, e.g. `STROM_CHAOS_CLIENT_DEBUG=eos,msg,cgrp` with
    // `RUST_LOG=warn,librdkafka=debug` (librdkafka's `debug` contexts, logged to stderr).
    if let Ok(contexts) = std::env::var("STROM_CHAOS_CLIENT_DEBUG")
        && !contexts.is_empty()
    {
        config.set("debug", contexts).set("log_level", "7");
    }
    config
}
