//! Read paths of [`PartitionLog`]: Fetch reads, ListOffsets by timestamp, producer-state scans.
//! All reads are positional (`pread`) through `&self`.

use bytes::Bytes;

use crate::record::batch::BatchHeader;
use crate::record::{Record, decode_records};

use super::LogError;
use super::partition_log::PartitionLog;
use super::segment::Segment;

impl PartitionLog {
    /// Index of the segment that would hold `offset` (the last with base offset <= `offset`).
    pub(super) fn segment_index_for(&self, offset: i64) -> usize {
        self.segments.partition_point(|s| s.base_offset() <= offset).saturating_sub(1)
    }

    /// Position and header of the first batch at or after `offset` (its last offset >= `offset`),
    /// searching from the segment that would hold it.
    fn locate(&self, offset: i64) -> Result<Option<(usize, u64, BatchHeader)>, LogError> {
        for idx in self.segment_index_for(offset)..self.segments.len() {
            if let Some((position, header)) = self.segments[idx].find_batch(offset)? {
                return Ok(Some((idx, position, header)));
            }
        }
        Ok(None)
    }

    fn check_range(&self, offset: i64) -> Result<(), LogError> {
        let (log_start_offset, log_end_offset) = (self.log_start_offset, self.log_end_offset());
        if offset < log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange { offset, log_start_offset, log_end_offset });
        }
        Ok(())
    }

    /// Whole batches starting with the one containing `offset`, stopping before any batch whose base
    /// offset is >= `max_offset` (exclusive, e.g. the high watermark) and before the batch that would
    /// take the result past `max_bytes` — except that with `min_one_batch` the first batch is returned
    /// even if larger. `offset == log_end_offset` or `offset >= max_offset` gives an empty result;
    /// outside `[log_start_offset, log_end_offset]` is `OffsetOutOfRange`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<Bytes, LogError> {
        self.check_range(offset)?;
        if offset == self.log_end_offset() || offset >= max_offset {
            return Ok(Bytes::new());
        }
        let Some((first_segment, mut position, mut header)) = self.locate(offset)? else {
            return Ok(Bytes::new());
        };
        let mut out: Vec<u8> = Vec::new();
        for (i, segment) in self.segments[first_segment..].iter().enumerate() {
            if i > 0 {
                position = 0;
                if segment.is_empty() {
                    continue;
                }
                header = segment.header_at(0)?;
            }
            let budget = max_bytes.saturating_sub(out.len());
            let must_take = out.is_empty() && min_one_batch;
            if header.base_offset >= max_offset || (header.total_size() > budget && !must_take) {
                break;
            }
            let remaining = segment.size() - position;
            let want = budget.max(if must_take { header.total_size() } else { 0 });
            let chunk_len = usize::try_from(remaining).unwrap_or(usize::MAX).min(want);
            let mut chunk = vec![0u8; chunk_len];
            segment.read_exact_at(&mut chunk, position)?;
            let (taken, stopped) = whole_batches(&chunk, max_offset, budget, must_take)?;
            chunk.truncate(taken);
            if out.is_empty() {
                out = chunk;
            } else {
                out.extend_from_slice(&chunk);
            }
            if stopped || (position + taken as u64) < segment.size() {
                break;
            }
        }
        Ok(Bytes::from(out))
    }

    /// ListOffsets by timestamp: the first record at or after the log start offset whose timestamp is
    /// at least `ts`, as `(offset, timestamp)`. Segments whose max timestamp is below `ts` are skipped; inside
    /// a segment the time index gives the starting batch; candidate batches are decoded (decompressing
    /// with a 64 MiB bound).
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        for segment in &self.segments {
            if segment.max_timestamp() < ts {
                continue;
            }
            let from_time = segment
                .time_index
                .lookup(ts)
                .map_or(segment.base_offset(), |rel| segment.base_offset() + i64::from(rel));
            let start = from_time.max(self.log_start_offset);
            let Some((mut position, _)) = segment.find_batch(start)? else { continue };
            while position < segment.size() {
                let header = segment.header_at(position)?;
                if header.max_timestamp >= ts && header.last_offset() >= self.log_start_offset {
                    let found = self
                        .decode_batch(segment, position, &header)?
                        .into_iter()
                        .find(|r| r.offset >= self.log_start_offset && r.timestamp >= ts);
                    if let Some(record) = found {
                        return Ok(Some((record.offset, record.timestamp)));
                    }
                }
                position += header.total_size() as u64;
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: `(timestamp, offset)` of the record with the largest timestamp (the
    /// earliest offset on a tie), `None` if the log has no timestamped record. Uses each segment's max
    /// timestamp (last time-index entry), then decodes the batch that reached it.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<&Segment> = None;
        for segment in &self.segments {
            if segment.max_timestamp() >= 0
                && best.is_none_or(|b| segment.max_timestamp() > b.max_timestamp())
            {
                best = Some(segment);
            }
        }
        let Some(segment) = best else { return Ok(None) };
        let target = segment.max_timestamp();
        if let Some(batch_offset) = segment.max_timestamp_batch_offset()
            && let Some((position, header)) = segment.find_batch(batch_offset)?
        {
            let found = self
                .decode_batch(segment, position, &header)?
                .into_iter()
                .find(|r| r.timestamp == target && r.offset >= self.log_start_offset);
            if let Some(record) = found {
                return Ok(Some((record.timestamp, record.offset)));
            }
        }
        // The maximum lies below the log start offset (or the index is stale): scan headers instead.
        self.max_timestamp_by_scan()
    }

    fn max_timestamp_by_scan(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<(i64, i64)> = None;
        let mut straddling = None;
        self.for_each_batch(self.log_start_offset, |header| {
            if header.base_offset < self.log_start_offset {
                straddling = Some(*header);
            } else if header.max_timestamp >= 0 && best.is_none_or(|(ts, _)| header.max_timestamp > ts) {
                best = Some((header.max_timestamp, header.base_offset));
            }
        })?;
        let mut candidates: Vec<i64> = straddling.iter().map(|h| h.base_offset).collect();
        candidates.extend(best.map(|(_, offset)| offset));
        let mut result: Option<(i64, i64)> = None;
        for batch_offset in candidates {
            let Some((idx, position, header)) = self.locate(batch_offset)? else { continue };
            for record in self.decode_batch(&self.segments[idx], position, &header)? {
                if record.offset >= self.log_start_offset
                    && record.timestamp >= 0
                    && result.is_none_or(|(ts, _)| record.timestamp > ts)
                {
                    result = Some((record.timestamp, record.offset));
                }
            }
        }
        Ok(result)
    }

    fn decode_batch(
        &self,
        segment: &Segment,
        position: u64,
        header: &BatchHeader,
    ) -> Result<Vec<Record>, LogError> {
        // header_at / find_batch checked that the batch lies inside the segment.
        let mut buf = vec![0u8; header.total_size()];
        segment.read_exact_at(&mut buf, position)?;
        Ok(decode_records(&buf)?)
    }

    /// Calls `f` with the header of every batch whose last offset is >= `from_offset`, in order,
    /// reading only the 61-byte headers.
    pub fn for_each_batch(&self, from_offset: i64, mut f: impl FnMut(&BatchHeader)) -> Result<(), LogError> {
        let Some((first, mut position, _)) = self.locate(from_offset)? else { return Ok(()) };
        for segment in &self.segments[first..] {
            while position < segment.size() {
                let header = segment.header_at(position)?;
                f(&header);
                position += header.total_size() as u64;
            }
            position = 0;
        }
        Ok(())
    }
}

/// Length of the prefix of `chunk` made of whole batches that respect `max_offset` and `budget` (the
/// first batch is exempt from the budget when `must_take`), and whether a limit stopped the scan (as
/// opposed to running out of chunk).
fn whole_batches(
    chunk: &[u8],
    max_offset: i64,
    budget: usize,
    must_take: bool,
) -> Result<(usize, bool), LogError> {
    let mut taken = 0;
    while taken < chunk.len() {
        let Ok(header) = BatchHeader::parse(&chunk[taken..]) else { return Ok((taken, false)) };
        if header.base_offset >= max_offset {
            return Ok((taken, true));
        }
        let end = taken + header.total_size();
        let exempt = taken == 0 && must_take;
        if end > budget && !exempt {
            return Ok((taken, true));
        }
        if end > chunk.len() {
            return Ok((taken, false));
        }
        taken = end;
    }
    Ok((taken, false))
}
