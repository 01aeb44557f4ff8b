//! The durable, segmented log of one partition.
//!
//! Owns everything under `<data>/<topic>-<partition>/`: segment files (`.log` with whole v2 batches,
//! sparse `.index`, `.timeindex`), `leader-epoch-checkpoint`, `recovery-point-offset-checkpoint` and
//! `log-start-offset-checkpoint`. It stores batches as opaque bytes and only reads their 61-byte
//! headers, except for ListOffsets by timestamp which decodes (bounded) the candidate batch.
//!
//! ```text
//!  append(batches) ─► patch base_offset/leader_epoch ─► one pwrite to the active segment
//!                                                      └► index entries (memory, written on flush/roll)
//!  read(offset) ─► segment by base offset ─► .index binary search ─► header scan ─► pread whole batches
//!  open() ─► recovery: CRC-check past the recovery point, cut torn tail, rebuild damaged indexes
//!  apply_retention / delete_records_before ─► delete whole segments from the front
//! ```
//!
//! It must never panic or allocate from a length read off disk without bounding it by the file, never
//! acknowledge durability it has not fsynced, and never reorder or rewrite acknowledged batches except
//! through `truncate_to` (replication) and recovery of a torn tail. It has no clock: callers pass
//! `now_ms`. It is not thread-safe by itself: writers take `&mut self`, readers `&self`.

mod checkpoint;
mod config;
mod index_file;
mod leader_epoch;
mod offset_index;
mod partition_log;
mod read;
mod recovery;
mod retention;
mod segment;
mod time_index;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_failures;
#[cfg(test)]
mod tests_recovery;

use std::path::PathBuf;

pub use config::LogConfig;
pub use partition_log::{AppendInfo, PartitionLog};
#[cfg(test)]
pub(crate) use segment::faults;

/// Errors of the partition log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file operation failed.
    #[error("io error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A read or DeleteRecords offset outside the log.
    #[error("offset {offset} out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// Requested offset.
        offset: i64,
        /// Current log start offset.
        log_start_offset: i64,
        /// Current log end offset.
        log_end_offset: i64,
    },
    /// A batch's framing or header is invalid.
    #[error("invalid batch: {0}")]
    InvalidBatch(#[from] crate::record::batch::BatchError),
    /// A batch's records could not be decoded (only when the log looks inside batches).
    #[error("invalid records: {0}")]
    InvalidRecords(#[from] crate::record::RecordError),
    /// A follower append whose offsets go backwards.
    #[error("follower batch offset {got} below log end offset {log_end_offset}")]
    NonMonotonicOffset {
        /// Base offset of the offending batch.
        got: i64,
        /// Offset it had to reach.
        log_end_offset: i64,
    },
}
