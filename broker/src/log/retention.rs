//! Retention (`retention.ms`, `retention.bytes`, idle `segment.ms` roll) and DeleteRecords for
//! [`PartitionLog`]. Both only ever delete whole segments from the front and raise the log start offset.

use super::LogError;
use super::partition_log::PartitionLog;

impl PartitionLog {
    /// DeleteRecords: raises the log start offset to `offset` (a lower value is a no-op; above the log
    /// end offset is `OffsetOutOfRange`), persists it (fsynced checkpoint, atomic rename) before deleting
    /// segments wholly below it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        let log_end_offset = self.log_end_offset();
        if offset > log_end_offset {
            let log_start_offset = self.log_start_offset;
            return Err(LogError::OffsetOutOfRange { offset, log_start_offset, log_end_offset });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.log_start_offset = offset;
        self.persist_log_start_offset()?;
        self.delete_segments_below(offset)?;
        self.epochs.truncate_from_start(offset)?;
        Ok(self.log_start_offset)
    }

    /// Deletes non-active segments whose successor starts at or below `offset`.
    pub(super) fn delete_segments_below(&mut self, offset: i64) -> Result<usize, LogError> {
        let mut deleted = 0;
        while self.segments.len() > 1 && self.segments[1].base_offset() <= offset {
            self.segments.remove(0).delete()?;
            self.dir_dirty = true;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Applies retention at `now_ms`: rolls an active segment older than `segment.ms`, then deletes the
    /// oldest segment while (a) `retention.ms >= 0` and its largest timestamp (file mtime if it has no
    /// timestamps) is more than `retention.ms` old, or (b) `retention.bytes >= 0` and the log without it
    /// would still hold at least `retention.bytes`. If the active segment must go, an empty segment is
    /// rolled at the log end offset first. Raises and persists the log start offset. Returns the number
    /// of segments deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let segment_ms = self.config.segment_ms;
        let active = self.active();
        if !active.is_empty()
            && active.rolling_base_ms.is_some_and(|t| now_ms.saturating_sub(t) >= segment_ms)
        {
            let end = self.log_end_offset();
            self.roll(end)?;
        }
        let mut deleted = 0;
        loop {
            let oldest = &self.segments[0];
            if oldest.is_empty() && self.segments.len() == 1 {
                break;
            }
            let expired = self.config.retention_ms >= 0 && {
                let newest = match oldest.max_timestamp() {
                    ts if ts >= 0 => ts,
                    _ => oldest.mtime_ms()?,
                };
                now_ms.saturating_sub(newest) > self.config.retention_ms
            };
            let total = self.size_bytes();
            let oversized = self.config.retention_bytes >= 0
                && total - oldest.size() >= self.config.retention_bytes.unsigned_abs();
            if !(expired || oversized) {
                break;
            }
            if self.segments.len() == 1 {
                let end = self.log_end_offset();
                self.roll(end)?;
            }
            let segment = self.segments.remove(0);
            tracing::info!(
                dir = %self.dir.display(),
                base_offset = segment.base_offset(),
                size = segment.size(),
                expired,
                oversized,
                "deleting segment by retention"
            );
            segment.delete()?;
            self.dir_dirty = true;
            deleted += 1;
        }
        let first_base = self.segments[0].base_offset();
        if deleted > 0 && first_base > self.log_start_offset {
            self.log_start_offset = first_base;
            self.persist_log_start_offset()?;
            self.epochs.truncate_from_start(first_base)?;
        }
        Ok(deleted)
    }
}
