//! Producer writes: one [`Write`] per record a producer attempted to send.

use serde::{Deserialize, Serialize};

/// One record a producer tried to append, and what the producer learned about it.
///
/// Values are unique within a partition for the whole run: the checker identifies a record by
/// `(partition, value)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// The producer (workload-local id) that sent the record.
    pub producer: u32,
    /// The record key.
    pub key: String,
    /// The partition the record was sent to.
    pub partition: i32,
    /// The record value, unique within the partition for the run.
    pub value: String,
    /// The producer's per-partition send order: 0, 1, 2, ... for each `(producer, partition)`.
    pub seq: u64,
    /// When the send started, in ms since the run start.
    pub start_ms: u64,
    /// When the outcome was known (ack, error or timeout), in ms since the run start.
    pub end_ms: u64,
    /// What the producer learned.
    pub outcome: WriteOutcome,
}

/// The producer's knowledge of a write's fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WriteOutcome {
    /// Acknowledged (acks=all) at this offset: it must survive every fault.
    Ok {
        /// The offset the broker acknowledged; negative when the client acknowledged the write without
        /// one (librdkafka reports -1001 for a retry the broker answered DUPLICATE_SEQUENCE_NUMBER: the
        /// batch is already in the log, at an offset this response does not carry).
        offset: i64,
    },
    /// Definitely not written (rejected before append, e.g. a non-retriable error on the request).
    Failed {
        /// The client's error.
        error: String,
    },
    /// Indeterminate (timed out, connection lost): the record may or may not be in the log.
    Unknown {
        /// The client's error.
        error: String,
    },
}

impl Write {
    /// Whether the write was acknowledged (with or without an offset).
    pub fn is_acked(&self) -> bool {
        matches!(self.outcome, WriteOutcome::Ok { .. })
    }

    /// The acknowledged offset, if the write was acknowledged with one.
    pub fn acked_offset(&self) -> Option<i64> {
        match self.outcome {
            WriteOutcome::Ok { offset } if offset >= 0 => Some(offset),
            WriteOutcome::Ok { .. } | WriteOutcome::Failed { .. } | WriteOutcome::Unknown { .. } => None,
        }
    }

    /// The ack latency in ms, if the write was acknowledged.
    pub fn ack_latency_ms(&self) -> Option<u64> {
        self.is_acked().then(|| self.end_ms.saturating_sub(self.start_ms))
    }
}
