//! One partition replica hosted by this broker: its log, idempotent-producer state and leader epoch,
//! behind one lock. Validates produced batches (size, CRC, sequence) before they reach the log.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use uuid::Uuid;

use crate::error_code::ErrorCode;
use crate::log::{LogConfig, LogError, PartitionLog};
use crate::producer_state::{ProducerStateTable, SequenceCheck};
use crate::record::batch::{self, BatchError};
use crate::record::recompress;
use crate::topic_config::TopicConfig;

/// Result of a successful produce to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceResult {
    /// Offset of the first record of the batch.
    pub base_offset: i64,
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
    /// High watermark (single replica: the log end offset).
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

struct Inner {
    log: PartitionLog,
    producers: ProducerStateTable,
    policy: AppendPolicy,
    leader_epoch: i32,
    deleted: bool,
}

/// A partition replica on this broker.
pub struct Partition {
    /// Topic name.
    pub topic: String,
    /// Topic id.
    pub topic_id: Uuid,
    /// Partition index.
    pub index: i32,
    inner: Mutex<Inner>,
}

/// Maps log errors to Kafka codes at the boundary.
pub fn log_error_code(error: &LogError) -> ErrorCode {
    match error {
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        LogError::InvalidBatch(BatchError::CorruptCrc { .. }) => ErrorCode::CorruptMessage,
        LogError::InvalidBatch(_) => ErrorCode::InvalidRecord,
        _ => ErrorCode::UnknownServerError,
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
    /// Opens (recovering) the log in `dir` and rebuilds producer state from its batch headers.
    pub fn open(
        dir: &Path,
        topic: &str,
        topic_id: Uuid,
        index: i32,
        config: TopicConfig,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<Self, LogError> {
        let log = PartitionLog::open(dir, LogConfig::from_topic(&config), now_ms)?;
        let mut producers = ProducerStateTable::default();
        log.for_each_batch(log.log_start_offset(), |header| {
            let timestamp = if header.is_log_append_time() { header.max_timestamp } else { -1 };
            producers.record(header, timestamp);
        })?;
        Ok(Self {
            topic: topic.to_string(),
            topic_id,
            index,
            inner: Mutex::new(Inner {
                log,
                producers,
                policy: AppendPolicy::new(&config),
                leader_epoch,
                deleted: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current leader epoch.
    pub fn leader_epoch(&self) -> i32 {
        self.lock().leader_epoch
    }

    /// Applies a new config and leader epoch from the metadata image.
    pub fn update(&self, config: TopicConfig, leader_epoch: i32) {
        let mut inner = self.lock();
        inner.log.set_config(LogConfig::from_topic(&config));
        inner.policy = AppendPolicy::new(&config);
        inner.leader_epoch = leader_epoch;
    }

    /// Validates and appends one produced record set (exactly one v2 batch, as Kafka requires). When
    /// this returns, the batch is in the OS page cache, and on disk if the topic's flush policy said so.
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
        if header.total_size() as i64 > inner.policy.max_message_bytes {
            return Err(ErrorCode::MessageTooLarge);
        }
        if let SequenceCheck::Duplicate { base_offset, timestamp } = inner.producers.check(header)? {
            return Ok(ProduceResult {
                base_offset,
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
        let leader_epoch = inner.leader_epoch;
        let info = inner.log.append(&mut bytes, leader_epoch, now_ms).map_err(|e| {
            tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
            log_error_code(&e)
        })?;
        let mut appended = *header;
        appended.base_offset = info.base_offset;
        inner.producers.record(&appended, log_append_time);
        Ok(ProduceResult {
            base_offset: info.base_offset,
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
        let high_watermark = inner.log.log_end_offset();
        let records = inner
            .log
            .read(offset, max_bytes, high_watermark, min_one_batch)
            .map_err(|e| log_error_code(&e))?;
        Ok(FetchResult { records, high_watermark, log_start_offset: inner.log.log_start_offset() })
    }

    /// Log start, high watermark and log end offsets.
    pub fn offsets(&self) -> Offsets {
        let inner = self.lock();
        Offsets {
            log_start_offset: inner.log.log_start_offset(),
            high_watermark: inner.log.log_end_offset(),
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

    /// DeleteRecords: raise the log start offset to `offset` (-1 means the high watermark).
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, ErrorCode> {
        let mut inner = self.lock();
        let target = if offset == -1 { inner.log.log_end_offset() } else { offset };
        if target < 0 || target > inner.log.log_end_offset() {
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
    /// shutdown).
    pub fn close(&self) -> Result<(), LogError> {
        self.lock().log.flush()
    }

    /// Deletes the log directory (topic deleted). Later appends and reads get
    /// UNKNOWN_TOPIC_OR_PARTITION; open file handles close when the last reference drops.
    pub fn delete(&self) -> std::io::Result<()> {
        let mut inner = self.lock();
        inner.deleted = true;
        std::fs::remove_dir_all(inner.log.dir())
    }
}
