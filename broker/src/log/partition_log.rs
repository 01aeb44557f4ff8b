//! [`PartitionLog`]: the segmented log of one partition — open/recover, append, flush, truncate.
//! Reads live in `read.rs`, retention and DeleteRecords in `retention.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::record::batch::{self, BatchError, BatchHeader};

use super::checkpoint::{self, io_err};
use super::leader_epoch::LeaderEpochCache;
use super::recovery;
use super::segment::Segment;
use super::{LogConfig, LogError};

/// File (in the partition directory) holding the offset below which everything is fsynced.
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// File (in the partition directory) holding the log start offset raised by DeleteRecords/retention.
pub(crate) const LOG_START_OFFSET_FILE: &str = "log-start-offset-checkpoint";

/// What an append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended.
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// Largest batch `max_timestamp` appended (-1 if none).
    pub max_timestamp: i64,
    /// Last offset of the first batch carrying `max_timestamp` (Kafka's shallow semantics; -1 if none).
    pub offset_of_max_timestamp: i64,
    /// Bytes appended.
    pub bytes: usize,
    /// Records appended (sum of the batches' record counts).
    pub records: i64,
}

/// The durable, segmented log of one partition. See the [module docs](super).
#[derive(Debug)]
pub struct PartitionLog {
    pub(super) dir: PathBuf,
    pub(super) config: LogConfig,
    /// Sorted by base offset; never empty; the last one is the active segment.
    pub(super) segments: Vec<Segment>,
    pub(super) log_start_offset: i64,
    /// Everything below this offset is fsynced; the value last written to the recovery-point file.
    pub(super) recovery_point: i64,
    pub(super) epochs: LeaderEpochCache,
    pub(super) unflushed_records: i64,
    pub(super) oldest_unflushed_ms: Option<i64>,
    /// Segment files were created or deleted since the directory was last fsynced.
    pub(super) dir_dirty: bool,
    /// Batches CRC-checked by recovery in `open` (observability and tests).
    pub(super) recovery_validated_batches: u64,
    data_syncs: u64,
}

impl PartitionLog {
    /// Opens the partition directory (creating it if missing) and recovers it: batches past the
    /// persisted recovery point are validated (length, CRC-32C); the log is truncated at the first torn
    /// or corrupt batch; missing or damaged indexes are rebuilt. If anything past the recovery point was
    /// found, it is fsynced and the recovery point advanced to the log end offset before returning.
    pub fn open(dir: &Path, config: LogConfig, now_ms: i64) -> Result<Self, LogError> {
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            if let Some(parent) = dir.parent() {
                checkpoint::sync_directory(parent)?;
            }
        }
        let recovery_point = checkpoint::read_offset(&dir.join(RECOVERY_POINT_FILE))?.unwrap_or(0);
        let saved_start = checkpoint::read_offset(&dir.join(LOG_START_OFFSET_FILE))?;
        let recovered = recovery::recover(dir, recovery_point, config.index_interval_bytes)?;
        let mut segments = recovered.segments;
        let mut dir_dirty = recovered.truncated;
        if segments.is_empty() {
            segments.push(Segment::create(dir, saved_start.unwrap_or(0).max(0))?);
            dir_dirty = true;
        }
        let mut log = Self {
            dir: dir.to_path_buf(),
            config,
            log_start_offset: saved_start.unwrap_or(0).max(segments[0].base_offset()),
            segments,
            recovery_point,
            epochs: LeaderEpochCache::load(dir)?,
            unflushed_records: 0,
            data_syncs: 0,
            oldest_unflushed_ms: None,
            dir_dirty,
            recovery_validated_batches: recovered.validated_batches,
        };
        log.finish_open(saved_start, now_ms)?;
        tracing::debug!(
            dir = %log.dir.display(),
            log_start_offset = log.log_start_offset,
            log_end_offset = log.log_end_offset(),
            validated_batches = log.recovery_validated_batches,
            "partition log opened"
        );
        Ok(log)
    }

    /// Reconciles the log start offset, epochs and recovery point after segments were recovered.
    fn finish_open(&mut self, saved_start: Option<i64>, now_ms: i64) -> Result<(), LogError> {
        if self.log_start_offset > self.log_end_offset() {
            // Everything below the start offset is gone (a torn tail below a DeleteRecords point).
            let start = self.log_start_offset;
            self.reset_to(start)?;
        }
        self.delete_segments_below(self.log_start_offset)?;
        if saved_start != Some(self.log_start_offset) {
            self.persist_log_start_offset()?;
        }
        let end = self.log_end_offset();
        self.epochs.truncate_from_end(end)?;
        self.epochs.truncate_from_start(self.log_start_offset)?;
        let active_first_ts = match self.active().is_empty() {
            true => None,
            false => Some(self.active().header_at(0)?.max_timestamp),
        };
        let active = self.active_mut();
        active.rolling_base_ms =
            active_first_ts.map(|ts| if (0..=now_ms).contains(&ts) { ts } else { now_ms });
        if self.recovery_point != end || self.dir_dirty {
            for segment in &mut self.segments {
                segment.unflushed = segment.next_offset > self.recovery_point;
            }
            self.flush()?;
        }
        Ok(())
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Current settings.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the settings (applies to later appends, flushes and retention).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// First offset a reader may fetch.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    /// Bytes of `.log` data across all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::size).sum()
    }

    pub(super) fn active(&self) -> &Segment {
        &self.segments[self.segments.len() - 1]
    }

    pub(super) fn active_mut(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    /// Appends concatenated, already-validated v2 batches as leader: assigns offsets from the log end
    /// offset and stamps `leader_epoch`, patching `batches` in place, then writes them with one write.
    ///
    /// Durability on return: the batches are in the page cache and visible to `read`. They are on disk
    /// (data and indexes fsynced, recovery point persisted) only if this append reached `flush.messages`
    /// unflushed records, or after a later [`flush`](Self::flush) / [`maybe_flush`](Self::maybe_flush).
    /// A new leader epoch is recorded (fsynced) in `leader-epoch-checkpoint` before the data is written.
    /// On an error nothing of the batches is left in the log (a failed write or `flush.messages` fsync
    /// is cut off again), so a retry of the same batches is not appended twice.
    pub fn append(
        &mut self,
        batches: &mut [u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let mut headers = frame_batches(batches)?;
        let mut next = self.log_end_offset();
        for (position, header) in &mut headers {
            let bytes = &mut batches[*position..*position + header.total_size()];
            batch::set_base_offset(bytes, next);
            batch::set_partition_leader_epoch(bytes, leader_epoch);
            header.base_offset = next;
            header.partition_leader_epoch = leader_epoch;
            next = header.last_offset() + 1;
        }
        self.append_framed(batches, &headers, now_ms)
    }

    /// Follower append: batches keep their offsets and epochs; the first base offset must be at least
    /// the log end offset and offsets must increase. Same write, index and flush behaviour (and
    /// durability) as [`append`](Self::append).
    pub fn append_with_offsets(&mut self, batches: &[u8], now_ms: i64) -> Result<AppendInfo, LogError> {
        let headers = frame_batches(batches)?;
        let mut expected = self.log_end_offset();
        for (_, header) in &headers {
            if header.base_offset < expected {
                return Err(LogError::NonMonotonicOffset {
                    got: header.base_offset,
                    log_end_offset: expected,
                });
            }
            expected = header.last_offset() + 1;
        }
        self.append_framed(batches, &headers, now_ms)
    }

    fn append_framed(
        &mut self,
        bytes: &[u8],
        headers: &[(usize, BatchHeader)],
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let end = self.log_end_offset();
        let mut info = AppendInfo {
            base_offset: end,
            last_offset: end - 1,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            bytes: bytes.len(),
            records: 0,
        };
        let (Some((_, first)), Some((_, last))) = (headers.first(), headers.last()) else {
            return Ok(info);
        };
        info.base_offset = first.base_offset;
        info.last_offset = last.last_offset();
        for (_, header) in headers {
            if header.max_timestamp > info.max_timestamp {
                info.max_timestamp = header.max_timestamp;
                info.offset_of_max_timestamp = header.last_offset();
            }
            info.records += i64::from(header.records_count);
            if self.epochs.latest_epoch().is_none_or(|latest| header.partition_leader_epoch > latest) {
                self.epochs.assign(header.partition_leader_epoch, header.base_offset)?;
            }
        }
        self.maybe_roll(bytes.len() as u64, info.base_offset, info.last_offset, now_ms)?;
        let interval = self.config.index_interval_bytes;
        let active = self.active_mut();
        let (size, next_offset) = (active.size(), active.next_offset);
        active.append(bytes, headers, interval, now_ms)?;
        self.unflushed_records = self.unflushed_records.saturating_add(info.records);
        self.oldest_unflushed_ms.get_or_insert(now_ms);
        if self.unflushed_records >= self.config.flush_messages
            && let Err(e) = self.sync_data()
        {
            // The caller is told this append failed, so it must not stay in the log: followers would
            // replicate it and a producer's retry would be appended a second time.
            self.active_mut().truncate_at(size, next_offset)?;
            return Err(e);
        }
        Ok(info)
    }

    /// Rolls the active segment if `len` more bytes would exceed `segment.bytes` (or the `u32` position
    /// limit), its first batch is older than `segment.ms`, or offsets would not fit the index.
    fn maybe_roll(
        &mut self,
        len: u64,
        first_offset: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let active = self.active();
        let offsets_overflow = last_offset - active.base_offset() > i64::from(u32::MAX);
        let full = active.size() + len > self.config.segment_bytes.min(u64::from(u32::MAX));
        let old = active.rolling_base_ms.is_some_and(|t| now_ms.saturating_sub(t) >= self.config.segment_ms);
        if offsets_overflow || (!active.is_empty() && (full || old)) {
            self.roll(first_offset)?;
        }
        Ok(())
    }

    /// Starts a new active segment at `base_offset` (an empty old active segment is removed).
    pub(super) fn roll(&mut self, base_offset: i64) -> Result<(), LogError> {
        self.active_mut().flush(false)?;
        let replace = self.segments.len() > 1 || self.active().base_offset() == base_offset;
        if self.active().is_empty()
            && replace
            && let Some(empty) = self.segments.pop()
        {
            empty.delete()?;
        }
        tracing::debug!(dir = %self.dir.display(), base_offset, "rolling new segment");
        self.segments.push(Segment::create(&self.dir, base_offset)?);
        self.dir_dirty = true;
        Ok(())
    }

    /// `flush.messages` reached: fsyncs the data of every segment written since the last sync (and the
    /// directory if segments were created), and nothing else. On return everything appended so far is
    /// durable. Indexes are rebuildable and the recovery point only bounds how much recovery validates,
    /// so both wait for the next [`flush`](Self::flush) (`flush.ms` or clean shutdown): one fsync per
    /// acknowledged append instead of four.
    fn sync_data(&mut self) -> Result<(), LogError> {
        if self.dir_dirty {
            checkpoint::sync_directory(&self.dir)?;
            self.dir_dirty = false;
        }
        for segment in &mut self.segments {
            segment.sync_data()?;
        }
        self.unflushed_records = 0;
        self.data_syncs += 1;
        Ok(())
    }

    /// How many times appends reached `flush.messages` and fsynced their data (tests, metrics).
    pub fn data_syncs(&self) -> u64 {
        self.data_syncs
    }

    /// fsyncs every segment with unflushed data and its indexes, then persists the recovery point as the
    /// log end offset. On return everything appended so far is durable.
    pub fn flush(&mut self) -> Result<(), LogError> {
        for segment in &mut self.segments {
            segment.flush(true)?;
        }
        if self.dir_dirty {
            checkpoint::sync_directory(&self.dir)?;
            self.dir_dirty = false;
        }
        let end = self.log_end_offset();
        if end != self.recovery_point || !self.dir.join(RECOVERY_POINT_FILE).exists() {
            checkpoint::write(&self.dir.join(RECOVERY_POINT_FILE), &[vec![end]], false)?;
            self.recovery_point = end;
        }
        self.unflushed_records = 0;
        self.oldest_unflushed_ms = None;
        Ok(())
    }

    /// `flush.ms` policy: flushes if the oldest unflushed append is at least `flush.ms` old. Returns
    /// whether it flushed. Append times are wall-clock (the appends stamp them), so a wall clock stepped
    /// back behind the oldest unflushed append flushes too, rather than wait out the step.
    pub fn maybe_flush(&mut self, now_ms: i64) -> Result<bool, LogError> {
        match self.oldest_unflushed_ms {
            Some(t) if now_ms < t || now_ms.saturating_sub(t) >= self.config.flush_ms => {
                self.flush().map(|()| true)
            }
            _ => Ok(false),
        }
    }

    /// Removes everything at and after `offset`: the batch containing `offset` is removed whole, so the
    /// log end offset becomes that batch's base offset. Below the log start offset the log is emptied
    /// and restarted at `offset`. The truncation is fsynced before returning.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        if offset >= self.log_end_offset() {
            // Nothing to remove but leader epochs begun at the end without records (a leadership
            // that appended nothing): a follower must forget them, or it keeps claiming that epoch.
            return self.epochs.truncate_from_end(offset);
        }
        if offset < self.log_start_offset {
            return self.reset_to(offset);
        }
        while self.segments.len() > 1 && self.active().base_offset() >= offset {
            if let Some(segment) = self.segments.pop() {
                segment.delete()?;
                self.dir_dirty = true;
            }
        }
        let end = self.active_mut().truncate_to(offset)?;
        self.epochs.truncate_from_end(end)?;
        self.flush()
    }

    /// Deletes all segments and starts an empty log at `offset` (a follower whose whole log is below
    /// the leader's log start offset).
    pub fn restart_at(&mut self, offset: i64) -> Result<(), LogError> {
        self.reset_to(offset)
    }

    /// Deletes all segments and starts an empty log at `offset` (also the new log start offset).
    pub(super) fn reset_to(&mut self, offset: i64) -> Result<(), LogError> {
        tracing::warn!(dir = %self.dir.display(), offset, "truncating partition log fully");
        for segment in self.segments.drain(..) {
            segment.delete()?;
        }
        self.segments.push(Segment::create(&self.dir, offset)?);
        self.dir_dirty = true;
        self.log_start_offset = offset;
        self.epochs.clear()?;
        self.persist_log_start_offset()?;
        self.flush()
    }

    pub(super) fn persist_log_start_offset(&self) -> Result<(), LogError> {
        checkpoint::write(&self.dir.join(LOG_START_OFFSET_FILE), &[vec![self.log_start_offset]], true)
    }

    /// Records that leader epoch `epoch` starts at the current log end offset (a new leadership), so
    /// followers of this leader see where the previous epoch ended even before anything is appended.
    /// Older or equal epochs are ignored. Fsynced before returning.
    pub fn begin_epoch(&mut self, epoch: i32) -> Result<(), LogError> {
        if self.epochs.latest_epoch().is_none_or(|latest| epoch > latest) {
            let end = self.log_end_offset();
            self.epochs.assign(epoch, end)?;
        }
        Ok(())
    }

    /// Latest leader epoch recorded in the leader-epoch cache.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// OffsetForLeaderEpoch: `(largest known epoch <= epoch, its end offset)`; the end offset is the
    /// start of the next known epoch, or the log end offset for the latest. `None` if no epoch <=
    /// `epoch` is known.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// Clean shutdown: flushes everything and persists the recovery point, so the next open validates
    /// nothing.
    pub fn close(mut self) -> Result<(), LogError> {
        self.flush()
    }

    /// Deletes the partition directory and everything in it.
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        drop(self);
        fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        if let Some(parent) = dir.parent() {
            checkpoint::sync_directory(parent)?;
        }
        Ok(())
    }

    /// Batches CRC-checked by recovery when this log was opened.
    #[cfg(test)]
    pub(crate) fn recovery_validated_batches(&self) -> u64 {
        self.recovery_validated_batches
    }
}

/// Splits already-validated concatenated batches into `(position, header)` by their headers (no CRC:
/// the caller validated), checking framing, magic and offset deltas so offsets stay sane.
fn frame_batches(bytes: &[u8]) -> Result<Vec<(usize, BatchHeader)>, BatchError> {
    let mut out = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let header = BatchHeader::parse(&bytes[position..])?;
        let available = bytes.len() - position;
        if header.total_size() > available {
            return Err(BatchError::Truncated { needed: header.total_size(), available });
        }
        if header.magic != 2 {
            return Err(BatchError::UnsupportedMagic(header.magic));
        }
        if header.last_offset_delta < 0 || header.records_count < 0 {
            let (count, last_offset_delta) = (header.records_count, header.last_offset_delta);
            return Err(BatchError::InvalidRecordCount { count, last_offset_delta });
        }
        out.push((position, header));
        position += header.total_size();
    }
    Ok(out)
}
