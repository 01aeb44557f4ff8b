//! One partition replica hosted by this broker: its log, idempotent-producer state, role (leader or
//! follower) and high watermark, behind one lock. Validates produced batches (size, CRC, sequence)
//! before they reach the log. Leader-side replication (follower fetches, ISR changes, waiting for
//! acks=all) is in `leader.rs`, follower-side (replicated appends, truncation) in `follower.rs`.

mod follower;
mod leader;
#[cfg(test)]
mod tests;

pub use follower::{Discarded, Divergence};
pub use leader::{FollowerRead, IsrProposal};

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use bytes::{Bytes, BytesMut};
use uuid::Uuid;

use crate::error_code::ErrorCode;
use crate::log::{LogConfig, LogError, PartitionLog};
use crate::metadata::PartitionImage;
use crate::producer_state::{ProducerStateTable, SequenceCheck};
use crate::record::batch::{self, BatchError};
use crate::record::recompress;
use crate::replication::LeaderState;
use crate::topic_config::TopicConfig;

/// Result of a successful produce to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceResult {
    /// Offset of the first record of the batch.
    pub base_offset: i64,
    /// Offset of the last record of the batch (acks=all waits for the high watermark to pass it).
    pub last_offset: i64,
    /// Leader epoch the batch was appended in.
    pub leader_epoch: i32,
    /// LogAppendTime of the batch, or -1 for CreateTime topics.
    pub log_append_time: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
}

/// Data returned by a fetch of one partition.
#[derive(Debug, Clone)]
pub struct FetchResult {
    /// Whole batches.
    pub records: Bytes,
    /// High watermark.
    pub high_watermark: i64,
    /// Log start offset.
    pub log_start_offset: i64,
}

/// Offsets of a partition at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    /// First offset still in the log.
    pub log_start_offset: i64,
    /// High watermark.
    pub high_watermark: i64,
    /// Next offset to be written.
    pub log_end_offset: i64,
}

/// The topic configs the append path needs, resolved once per config change rather than per request.
struct AppendPolicy {
    max_message_bytes: i64,
    log_append_time: bool,
    /// `compression.type` naming a codec; `None` keeps the producer's.
    target_codec: Option<batch::Compression>,
}

impl AppendPolicy {
    fn new(config: &TopicConfig) -> Self {
        Self {
            max_message_bytes: config.max_message_bytes(),
            log_append_time: config.log_append_time(),
            target_codec: recompress::target_codec(&config.get("compression.type").0),
        }
    }
}

/// This broker's part in the partition.
enum Role {
    /// Leads it: tracks followers, computes the high watermark.
    Leader(LeaderState),
    /// Follows another broker's leadership, or waits for one (offline).
    Follower,
}

/// What acks=all waiters and metrics watch: published whenever one of these changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// High watermark.
    pub high_watermark: i64,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Whether this broker leads the partition.
    pub is_leader: bool,
    /// Size of the committed ISR.
    pub isr_len: usize,
    /// `min.insync.replicas` of the topic.
    pub min_isr: i64,
}

struct Inner {
    log: PartitionLog,
    producers: ProducerStateTable,
    policy: AppendPolicy,
    leader_epoch: i32,
    role: Role,
    high_watermark: i64,
    min_isr: i64,
    deleted: bool,
    /// The log was flushed for shutdown: this replica leads and appends nothing any more.
    closed: bool,
    /// The last append as leader failed to write (full disk, I/O error) and none has succeeded since.
    storage_failed: bool,
}

impl Inner {
    fn progress(&self) -> Progress {
        let (is_leader, isr_len) = match &self.role {
            Role::Leader(state) => (true, state.isr.len()),
            Role::Follower => (false, 0),
        };
        Progress {
            high_watermark: self.high_watermark,
            leader_epoch: self.leader_epoch,
            is_leader,
            isr_len,
            min_isr: self.min_isr,
        }
    }

    /// Leader: recomputes the high watermark from the followers' progress. Returns whether it moved.
    fn advance_high_watermark(&mut self) -> bool {
        let Role::Leader(state) = &self.role else { return false };
        let hw = state.high_watermark(self.log.log_end_offset(), self.high_watermark, self.min_isr);
        let moved = hw != self.high_watermark;
        self.high_watermark = hw;
        moved
    }
}

/// A partition replica on this broker.
pub struct Partition {
    /// Topic name.
    pub topic: String,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub index: i32,
    node_id: i32,
    inner: Mutex<Inner>,
    progress: watch::Sender<Progress>,
}

/// Checks the client's `current_leader_epoch` (KIP-320) against the partition's.
pub fn check_leader_epoch(requested: i32, current: i32) -> Result<(), ErrorCode> {
    match requested {
        -1 => Ok(()),
        e if e < current => Err(ErrorCode::FencedLeaderEpoch),
        e if e > current => Err(ErrorCode::UnknownLeaderEpoch),
        _ => Ok(()),
    }
}

/// Maps log errors to Kafka codes at the boundary. A failed file operation (a full disk, an I/O
/// error) is KAFKA_STORAGE_ERROR, as in Kafka: a retriable error that tells an idempotent producer
/// the batch was not written, so it retries it with the same sequence. UNKNOWN_SERVER_ERROR would
/// fail the batch for good and make librdkafka bump the producer epoch, renumbering every batch it
/// still has to send — including retries of batches that are already in a log, which are then
/// appended twice.
pub fn log_error_code(error: &LogError) -> ErrorCode {
    match error {
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        LogError::InvalidBatch(BatchError::CorruptCrc { .. }) => ErrorCode::CorruptMessage,
        LogError::InvalidBatch(_) => ErrorCode::InvalidRecord,
        LogError::Io { .. } => ErrorCode::KafkaStorageError,
        LogError::InvalidRecords(_) | LogError::NonMonotonicOffset { .. } => ErrorCode::UnknownServerError,
    }
}

fn batch_error_code(error: &BatchError) -> ErrorCode {
    match error {
        BatchError::CorruptCrc { .. } | BatchError::Truncated { .. } | BatchError::InvalidLength(_) => {
            ErrorCode::CorruptMessage
        }
        _ => ErrorCode::InvalidRecord,
    }
}

impl Partition {
    /// Opens (recovering) the log in `dir`, rebuilds producer state from its batch headers and takes
    /// the role `view` gives broker `node_id`. The high watermark starts at `high_watermark` (a
    /// checkpointed value, capped at the log end offset). `now_ms` (wall clock) starts the active
    /// segment's roll clock; `monotonic_ms` is when a leadership taken here begins (ISR lag).
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        dir: &Path,
        topic: &str,
        topic_id: Uuid,
        index: i32,
        config: TopicConfig,
        view: &PartitionImage,
        node_id: i32,
        high_watermark: i64,
        now_ms: i64,
        monotonic_ms: i64,
    ) -> Result<Self, LogError> {
        let log = PartitionLog::open(dir, LogConfig::from_topic(&config), now_ms)?;
        let mut producers = ProducerStateTable::default();
        log.for_each_batch(log.log_start_offset(), |header| {
            let timestamp = if header.is_log_append_time() { header.max_timestamp } else { -1 };
            producers.record(header, timestamp);
        })?;
        let high_watermark = high_watermark.clamp(log.log_start_offset(), log.log_end_offset());
        let inner = Inner {
            log,
            producers,
            policy: AppendPolicy::new(&config),
            leader_epoch: -1,
            role: Role::Follower,
            high_watermark,
            min_isr: config.min_insync_replicas(),
            deleted: false,
            closed: false,
            storage_failed: false,
        };
        let (progress, _) = watch::channel(inner.progress());
        let partition =
            Self { topic: topic.to_string(), topic_id, index, node_id, inner: Mutex::new(inner), progress };
        partition.update(config, view, monotonic_ms)?;
        Ok(partition)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the partition's progress to acks=all waiters (only when it changed).
    fn publish(&self, inner: &Inner) {
        let progress = inner.progress();
        self.progress.send_if_modified(|current| {
            let changed = *current != progress;
            *current = progress;
            changed
        });
    }

    /// Current leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.lock().leader_epoch
    }

    /// Whether this broker leads the partition (as far as it has applied metadata).
    pub fn is_leader(&self) -> bool {
        matches!(self.lock().role, Role::Leader(_))
    }

    /// Applies the topic config and the partition's state from the metadata image: a new leader epoch
    /// naming this broker makes it leader (the epoch is recorded as starting at the log end offset);
    /// any other leader makes it a follower. `monotonic_ms` is now on the monotonic clock (the
    /// leader's follower progress is timed on it).
    pub fn update(
        &self,
        config: TopicConfig,
        view: &PartitionImage,
        monotonic_ms: i64,
    ) -> Result<(), LogError> {
        let mut inner = self.lock();
        if inner.closed {
            return Ok(());
        }
        inner.log.set_config(LogConfig::from_topic(&config));
        inner.policy = AppendPolicy::new(&config);
        inner.min_isr = config.min_insync_replicas();
        let same_epoch = view.leader_epoch == inner.leader_epoch;
        inner.role = match std::mem::replace(&mut inner.role, Role::Follower) {
            Role::Leader(mut state) if same_epoch && view.leader == self.node_id => {
                state.update(view, monotonic_ms);
                Role::Leader(state)
            }
            _ if view.leader == self.node_id => {
                inner.log.begin_epoch(view.leader_epoch)?;
                let leo = inner.log.log_end_offset();
                tracing::info!(topic = %self.topic, partition = self.index, leader_epoch = view.leader_epoch,
                    log_end_offset = leo, high_watermark = inner.high_watermark, "became leader");
                inner.storage_failed = false;
                Role::Leader(LeaderState::new(self.node_id, view, leo, monotonic_ms))
            }
            _ => {
                if !same_epoch {
                    tracing::info!(topic = %self.topic, partition = self.index, leader = view.leader,
                        leader_epoch = view.leader_epoch, "following");
                }
                Role::Follower
            }
        };
        inner.leader_epoch = view.leader_epoch;
        inner.advance_high_watermark();
        self.publish(&inner);
        Ok(())
    }

    /// Validates and appends one produced record set (exactly one v2 batch, as Kafka requires) as
    /// leader. When this returns, the batch is in the OS page cache, and on disk if the topic's flush
    /// policy said so; acks=all callers then wait with [`wait_committed`](Self::wait_committed).
    pub fn append(&self, records: &Bytes, now_ms: i64) -> Result<ProduceResult, ErrorCode> {
        let batches = batch::split_batches(records).map_err(|e| batch_error_code(&e))?;
        let [(_, header)] = batches.as_slice() else {
            return Err(ErrorCode::InvalidRecord);
        };
        if header.records_count == 0 || header.is_control() || header.is_transactional() {
            return Err(ErrorCode::InvalidRecord);
        }
        let mut inner = self.lock();
        if inner.deleted {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        if !matches!(inner.role, Role::Leader(_)) {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if header.total_size() as i64 > inner.policy.max_message_bytes {
            return Err(ErrorCode::MessageTooLarge);
        }
        let leader_epoch = inner.leader_epoch;
        let check = match inner.producers.check(header) {
            // The batch before this one failed to write, so this one is out of sequence. Kafka takes
            // the whole log directory offline after a failed write and answers every later request
            // KAFKA_STORAGE_ERROR; so does this replica until a write succeeds again. OUT_OF_ORDER
            // here would make librdkafka bump the producer epoch for every partition and renumber
            // what it still has to send, duplicating batches that were written but not yet acked.
            Err(ErrorCode::OutOfOrderSequenceNumber) if inner.storage_failed => {
                return Err(ErrorCode::KafkaStorageError);
            }
            check => check?,
        };
        if let SequenceCheck::Duplicate { base_offset, timestamp } = check {
            return Ok(ProduceResult {
                base_offset,
                last_offset: base_offset + i64::from(header.last_offset_delta),
                leader_epoch,
                log_append_time: timestamp,
                log_start_offset: inner.log.log_start_offset(),
            });
        }
        let mut bytes = match inner.policy.target_codec {
            Some(codec) if header.compression() != Ok(codec) => {
                let converted = recompress::recompress(records, header, codec).map_err(|e| {
                    tracing::debug!(topic = %self.topic, error = %e, "recompression failed");
                    ErrorCode::CorruptMessage
                })?;
                BytesMut::from(converted.as_slice())
            }
            _ => BytesMut::from(records.as_ref()),
        };
        let log_append_time = if inner.policy.log_append_time {
            batch::set_log_append_time(&mut bytes, now_ms);
            now_ms
        } else {
            -1
        };
        let info = match inner.log.append(&mut bytes, leader_epoch, now_ms) {
            Ok(info) => info,
            Err(e) => {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
                let code = log_error_code(&e);
                inner.storage_failed |= code == ErrorCode::KafkaStorageError;
                return Err(code);
            }
        };
        inner.storage_failed = false;
        let mut appended = *header;
        appended.base_offset = info.base_offset;
        inner.producers.record(&appended, log_append_time);
        if inner.advance_high_watermark() {
            self.publish(&inner);
        }
        Ok(ProduceResult {
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            leader_epoch,
            log_append_time,
            log_start_offset: inner.log.log_start_offset(),
        })
    }

    /// Reads whole batches from `offset` up to the high watermark.
    pub fn read(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<FetchResult, ErrorCode> {
        let inner = self.lock();
        if inner.deleted {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        let high_watermark = inner.high_watermark;
        let records = inner
            .log
            .read(offset, max_bytes, high_watermark, min_one_batch)
            .map_err(|e| log_error_code(&e))?;
        Ok(FetchResult { records, high_watermark, log_start_offset: inner.log.log_start_offset() })
    }

    /// The latest published progress: high watermark, epoch, role, ISR size, `min.insync.replicas`.
    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Bytes of log data on disk.
    pub fn size_bytes(&self) -> u64 {
        self.lock().log.size_bytes()
    }

    /// Log start, high watermark and log end offsets.
    pub fn offsets(&self) -> Offsets {
        let inner = self.lock();
        Offsets {
            log_start_offset: inner.log.log_start_offset(),
            high_watermark: inner.high_watermark,
            log_end_offset: inner.log.log_end_offset(),
        }
    }

    /// First record with timestamp >= `ts`: (offset, timestamp).
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, ErrorCode> {
        self.lock().log.offset_for_timestamp(ts).map_err(|e| log_error_code(&e))
    }

    /// Record with the largest timestamp: (timestamp, offset).
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, ErrorCode> {
        self.lock().log.max_timestamp().map_err(|e| log_error_code(&e))
    }

    /// OffsetForLeaderEpoch: (epoch, end offset) for the largest known epoch <= `epoch`.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.lock().log.end_offset_for_epoch(epoch)
    }

    /// DeleteRecords on the leader: raise the log start offset to `offset` (-1 means the high
    /// watermark; beyond it is OFFSET_OUT_OF_RANGE). Followers follow from the fetch responses.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, ErrorCode> {
        let mut inner = self.lock();
        if !matches!(inner.role, Role::Leader(_)) {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        let target = if offset == -1 { inner.high_watermark } else { offset };
        if target < 0 || target > inner.high_watermark {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        inner.log.delete_records_before(target).map_err(|e| log_error_code(&e))
    }

    /// Retention and `flush.ms` housekeeping.
    pub fn housekeeping(&self, now_ms: i64, retention: bool) -> Result<(), LogError> {
        let mut inner = self.lock();
        if retention {
            let deleted = inner.log.apply_retention(now_ms)?;
            if deleted > 0 {
                tracing::info!(topic = %self.topic, partition = self.index, deleted, "retention deleted segments");
            }
        }
        inner.log.maybe_flush(now_ms)?;
        Ok(())
    }

    /// Flushes the log and records the recovery point, so the next open validates nothing (clean
    /// shutdown). The replica then leads nothing: later appends get NOT_LEADER_OR_FOLLOWER, and
    /// acks=all waiters are answered NOT_LEADER_OR_FOLLOWER now — a batch appended after the flush is
    /// never reported committed by a broker that is going away (its followers may never have it).
    pub fn close(&self) -> Result<(), LogError> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.role = Role::Follower;
        self.publish(&inner);
        inner.log.flush()
    }

    /// Deletes the log directory (topic deleted). Later appends and reads get
    /// UNKNOWN_TOPIC_OR_PARTITION; open file handles close when the last reference drops.
    pub fn delete(&self) -> std::io::Result<()> {
        let mut inner = self.lock();
        inner.deleted = true;
        inner.role = Role::Follower;
        self.publish(&inner);
        std::fs::remove_dir_all(inner.log.dir())
    }
}
