//! Recovery on open: load segments, validate what may not be durable, cut a torn tail, rebuild indexes.
//!
//! ```text
//!  segments wholly below the recovery point ─► trusted: keep indexes if consistent, else rebuild by
//!                                              scanning headers (no CRC)
//!  segment holding the recovery point, later ─► scan headers from the last index entry below the
//!                                              recovery point; CRC-validate every batch ending at or
//!                                              after it; truncate at the first torn/corrupt batch and
//!                                              delete all later segments
//! ```

use std::fs;
use std::path::Path;

use crate::record::batch::{self, BatchHeader, HEADER_SIZE};

use super::LogError;
use super::checkpoint::io_err;
use super::segment::Segment;

/// What recovery found.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// Segments in base-offset order (possibly empty).
    pub(crate) segments: Vec<Segment>,
    /// Batches whose CRC was checked (those past the recovery point).
    pub(crate) validated_batches: u64,
    /// Whether a torn or corrupt tail was cut off.
    pub(crate) truncated: bool,
}

/// Base offsets of the `.log` files in `dir`; removes index files whose `.log` is gone.
fn list_segments(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut bases = Vec::new();
    let mut orphans = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let (Some(stem), Some(ext)) = (path.file_stem().and_then(|s| s.to_str()), path.extension()) else {
            continue;
        };
        let Ok(base) = stem.parse::<i64>() else { continue };
        if stem.len() != 20 || base < 0 {
            continue;
        }
        match ext.to_str() {
            Some("log") => bases.push(base),
            Some("index" | "timeindex") => orphans.push((base, path)),
            _ => {}
        }
    }
    bases.sort_unstable();
    for (base, path) in orphans {
        if bases.binary_search(&base).is_err() {
            tracing::warn!(path = %path.display(), "removing index file without a segment");
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    Ok(bases)
}

/// Loads and recovers all segments of `dir` given the persisted `recovery_point`.
pub(crate) fn recover(
    dir: &Path,
    recovery_point: i64,
    index_interval_bytes: u32,
) -> Result<Recovered, LogError> {
    let bases = list_segments(dir)?;
    let mut out = Recovered::default();
    for (i, &base) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let (mut segment, indexes_ok) = Segment::open(dir, base)?;
        let trusted = next_base.is_some_and(|next| next <= recovery_point);
        let clean = if trusted {
            segment.next_offset = next_base.unwrap_or(base);
            let end = Some(segment.relative(segment.next_offset).into());
            if indexes_ok
                && segment.offset_index.is_consistent(segment.size, end)
                && segment.time_index.is_consistent(end)
            {
                let last = segment.offset_index.last().map_or(0, |e| u64::from(e.position));
                segment.bytes_since_index_entry = segment.size - last;
                true
            } else {
                tracing::warn!(segment = %segment.log_path.display(), "rebuilding damaged index");
                scan(&mut segment, 0, i64::MAX, index_interval_bytes, &mut out.validated_batches)?
            }
        } else {
            let start = scan_start(&mut segment, indexes_ok, recovery_point)?;
            scan(&mut segment, start, recovery_point, index_interval_bytes, &mut out.validated_batches)?
        };
        out.segments.push(segment);
        if !clean {
            out.truncated = true;
            for &later in &bases[i + 1..] {
                tracing::warn!(base_offset = later, "deleting segment after corrupt tail");
                Segment::open(dir, later)?.0.delete()?;
            }
            break;
        }
    }
    Ok(out)
}

/// Where to start scanning a segment that may hold non-durable data: the last offset-index entry below
/// the recovery point (index entries at or past it are dropped), or the start if the indexes are bad.
fn scan_start(segment: &mut Segment, indexes_ok: bool, recovery_point: i64) -> Result<u64, LogError> {
    if !(indexes_ok
        && segment.offset_index.is_consistent(segment.size, None)
        && segment.time_index.is_consistent(None))
    {
        tracing::warn!(segment = %segment.log_path.display(), "rebuilding damaged index");
        segment.offset_index.reset()?;
        segment.time_index.reset()?;
        return Ok(0);
    }
    let below = segment.relative(recovery_point);
    let keep = segment.offset_index.entries().partition_point(|e| e.relative_offset < below);
    segment.offset_index.truncate(keep)?;
    let start = segment.offset_index.last().map_or(0, |e| e.position);
    let start_relative = segment.offset_index.last().map_or(0, |e| e.relative_offset);
    let keep = segment.time_index.entries().partition_point(|e| e.relative_offset < start_relative);
    segment.time_index.truncate(keep)?;
    Ok(u64::from(start))
}

/// Scans batches from `start` to the end of the segment, re-indexing them and CRC-validating those whose
/// last offset is >= `validate_from`. Cuts the segment at the first torn or corrupt batch and returns
/// `false` in that case.
fn scan(
    segment: &mut Segment,
    start: u64,
    validate_from: i64,
    index_interval_bytes: u32,
    validated: &mut u64,
) -> Result<bool, LogError> {
    if start == 0 {
        segment.offset_index.reset()?;
        segment.time_index.reset()?;
    }
    segment.bytes_since_index_entry = 0;
    let mut position = start;
    let mut next_offset = segment.base_offset;
    let mut buf = Vec::new();
    while position < segment.size {
        match check_batch(segment, position, next_offset, validate_from, &mut buf)? {
            Ok((header, checked)) => {
                *validated += u64::from(checked);
                segment.index_batch(position, &header, index_interval_bytes);
                next_offset = header.last_offset() + 1;
                position += header.total_size() as u64;
            }
            Err(reason) => {
                tracing::warn!(
                    segment = %segment.log_path.display(),
                    position,
                    dropped_bytes = segment.size - position,
                    first_dropped_offset = next_offset,
                    %reason,
                    "truncating torn or corrupt log tail"
                );
                segment.truncate_at(position, next_offset)?;
                return Ok(false);
            }
        }
    }
    segment.next_offset = next_offset;
    Ok(true)
}

/// Checks the batch at `position`: `Ok(Ok((header, crc_checked)))`, or `Ok(Err(reason))` when the batch
/// is torn or corrupt. I/O errors are returned as errors (they must not cause truncation).
/// Allocations are bounded by the bytes left in the file.
fn check_batch(
    segment: &Segment,
    position: u64,
    min_offset: i64,
    validate_from: i64,
    buf: &mut Vec<u8>,
) -> Result<Result<(BatchHeader, bool), String>, LogError> {
    let header = match segment.header_at(position) {
        Ok(header) => header,
        Err(LogError::InvalidBatch(e)) => return Ok(Err(e.to_string())),
        Err(e) => return Err(e),
    };
    let relative_last = header.last_offset() - segment.base_offset;
    if header.base_offset < min_offset || header.last_offset_delta < 0 || relative_last > i64::from(u32::MAX)
    {
        let (first, last) = (header.base_offset, header.last_offset());
        return Ok(Err(format!("offsets out of order: batch {first}..={last} after {min_offset}")));
    }
    if header.last_offset() < validate_from {
        return Ok(Ok((header, false)));
    }
    // header_at checked that total_size() <= the bytes remaining in the file.
    buf.resize(header.total_size(), 0);
    segment.read_exact_at(buf, position)?;
    debug_assert!(buf.len() >= HEADER_SIZE);
    Ok(batch::validate(buf).map(|h| (h, true)).map_err(|e| e.to_string()))
}
