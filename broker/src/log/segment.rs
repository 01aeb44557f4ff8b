//! One log segment: `<base_offset>.log` plus its `.index` and `.timeindex`.
//!
//! The `.log` file holds whole v2 batches back to back. Positions are `u32` (the index format), so a
//! segment never grows past `u32::MAX` bytes, and relative offsets never exceed `u32::MAX`.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::record::batch::{BatchError, BatchHeader, HEADER_SIZE};

use super::LogError;
use super::checkpoint::io_err;
use super::offset_index::{OffsetEntry, OffsetIndex};
use super::time_index::{TimeEntry, TimeIndex};

/// Path of a segment file: 20-digit zero-padded base offset and extension.
pub(crate) fn segment_path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}"))
}

/// An open segment. Fields are `pub(super)` so recovery can rebuild them.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(super) base_offset: i64,
    pub(super) log_path: PathBuf,
    pub(super) log: File,
    /// Bytes of whole batches in the `.log` file.
    pub(super) size: u64,
    /// Offset after the last batch (the base offset when empty).
    pub(super) next_offset: i64,
    pub(super) offset_index: OffsetIndex,
    pub(super) time_index: TimeIndex,
    pub(super) bytes_since_index_entry: u64,
    /// When the segment's first batch arrived (for `segment.ms`).
    pub(super) rolling_base_ms: Option<i64>,
    /// Data written since the last fsync.
    pub(super) unflushed: bool,
}

impl Segment {
    /// Creates a new empty segment (replacing stale files with the same name).
    pub(crate) fn create(dir: &Path, base_offset: i64) -> Result<Self, LogError> {
        let log_path = segment_path(dir, base_offset, "log");
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        Ok(Self {
            base_offset,
            log,
            size: 0,
            next_offset: base_offset,
            offset_index: OffsetIndex::create(&segment_path(dir, base_offset, "index"))?,
            time_index: TimeIndex::create(&segment_path(dir, base_offset, "timeindex"))?,
            log_path,
            bytes_since_index_entry: 0,
            rolling_base_ms: None,
            unflushed: false,
        })
    }

    /// Opens an existing segment and loads its indexes. The second value is `false` if an index file
    /// was structurally damaged (it is then empty and must be rebuilt). `next_offset` is left at the
    /// base offset; recovery sets it.
    pub(crate) fn open(dir: &Path, base_offset: i64) -> Result<(Self, bool), LogError> {
        let log_path = segment_path(dir, base_offset, "log");
        let log = OpenOptions::new().read(true).write(true).open(&log_path).map_err(io_err(&log_path))?;
        let size = log.metadata().map_err(io_err(&log_path))?.len();
        let max_entries = size / HEADER_SIZE as u64 + 1;
        let (offset_index, ok_offsets) =
            OffsetIndex::open(&segment_path(dir, base_offset, "index"), max_entries)?;
        let (time_index, ok_times) =
            TimeIndex::open(&segment_path(dir, base_offset, "timeindex"), max_entries)?;
        let segment = Self {
            base_offset,
            log_path,
            log,
            size,
            next_offset: base_offset,
            offset_index,
            time_index,
            bytes_since_index_entry: 0,
            rolling_base_ms: None,
            unflushed: false,
        };
        Ok((segment, ok_offsets && ok_times))
    }

    /// Base offset (the file name).
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes in the `.log` file.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether the segment holds no batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Largest timestamp of any batch in the segment, -1 if none.
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.time_index.max_timestamp()
    }

    /// Base offset of the first batch that carries the segment's largest timestamp.
    pub(crate) fn max_timestamp_batch_offset(&self) -> Option<i64> {
        self.time_index.last().map(|e| self.base_offset + i64::from(e.relative_offset))
    }

    /// Relative form of an absolute offset, clamped into `u32`.
    pub(crate) fn relative(&self, offset: i64) -> u32 {
        u32::try_from((offset - self.base_offset).max(0)).unwrap_or(u32::MAX)
    }

    /// Writes `bytes` (whole batches described by `headers`, positions relative to `bytes`) at the
    /// end of the `.log` with one positional write, then indexes them. The data is in the page cache,
    /// not yet fsynced.
    pub(crate) fn append(
        &mut self,
        bytes: &[u8],
        headers: &[(usize, BatchHeader)],
        index_interval_bytes: u32,
        now_ms: i64,
    ) -> Result<(), LogError> {
        if let Err(e) = faults::write_all_at(&self.log, bytes, self.size) {
            // The write may have stored a prefix (ENOSPC after some pages). Cut it: a later, shorter
            // append at `size` would leave its tail behind, and recovery after a restart keeps any
            // whole, CRC-valid batches in it — batches this log never appended.
            if let Err(cut) = self.log.set_len(self.size) {
                tracing::warn!(path = %self.log_path.display(), error = %cut, "cutting a failed write failed");
            }
            return Err(io_err(&self.log_path)(e));
        }
        self.unflushed = true;
        self.rolling_base_ms.get_or_insert(now_ms);
        let start = self.size;
        for (pos, header) in headers {
            self.index_batch(start + *pos as u64, header, index_interval_bytes);
        }
        self.size += bytes.len() as u64;
        if let Some((_, last)) = headers.last() {
            self.next_offset = last.last_offset() + 1;
        }
        Ok(())
    }

    /// Adds index entries for the batch at `position` (sparse offset entry, time entry on a new max).
    pub(crate) fn index_batch(&mut self, position: u64, header: &BatchHeader, index_interval_bytes: u32) {
        let relative_offset = self.relative(header.base_offset);
        let newer = self.offset_index.last().is_none_or(|e| relative_offset > e.relative_offset);
        if self.bytes_since_index_entry >= u64::from(index_interval_bytes) && newer && position > 0 {
            self.offset_index.push(OffsetEntry { relative_offset, position: position as u32 });
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += header.total_size() as u64;
        if header.max_timestamp > self.time_index.max_timestamp() {
            self.time_index.push(TimeEntry { timestamp: header.max_timestamp, relative_offset });
        }
    }

    /// Reads exactly `buf.len()` bytes at `position` (pread).
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], position: u64) -> Result<(), LogError> {
        self.log.read_exact_at(buf, position).map_err(io_err(&self.log_path))
    }

    /// Header of the batch at `position`, checked to lie wholly inside the segment.
    pub(crate) fn header_at(&self, position: u64) -> Result<BatchHeader, LogError> {
        let remaining = self.size.saturating_sub(position);
        if remaining < HEADER_SIZE as u64 {
            return Err(BatchError::Truncated { needed: HEADER_SIZE, available: remaining as usize }.into());
        }
        let mut buf = [0u8; HEADER_SIZE];
        self.read_exact_at(&mut buf, position)?;
        let header = BatchHeader::parse(&buf)?;
        if header.total_size() as u64 > remaining {
            return Err(
                BatchError::Truncated { needed: header.total_size(), available: remaining as usize }.into()
            );
        }
        Ok(header)
    }

    /// Position and header of the first batch with `last_offset >= offset`, using the sparse index
    /// then scanning headers. `None` if every batch ends before `offset`.
    pub(crate) fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let mut position = u64::from(self.offset_index.lookup(self.relative(offset)).position);
        while position < self.size {
            let header = self.header_at(position)?;
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.total_size() as u64;
        }
        Ok(None)
    }

    /// Removes the batch containing `offset` and everything after it. Returns the new `next_offset`.
    pub(crate) fn truncate_to(&mut self, offset: i64) -> Result<i64, LogError> {
        if let Some((position, header)) = self.find_batch(offset)? {
            self.truncate_at(position, header.base_offset.min(offset))?;
        }
        Ok(self.next_offset)
    }

    /// Cuts the `.log` at `position` (a batch boundary) and drops index entries at or past it.
    pub(crate) fn truncate_at(&mut self, position: u64, next_offset: i64) -> Result<(), LogError> {
        self.log.set_len(position).map_err(io_err(&self.log_path))?;
        self.size = position;
        self.next_offset = next_offset;
        let keep = self.offset_index.entries().partition_point(|e| u64::from(e.position) < position);
        self.offset_index.truncate(keep)?;
        let end = i64::from(self.relative(next_offset));
        let keep = self.time_index.entries().partition_point(|e| i64::from(e.relative_offset) < end);
        self.time_index.truncate(keep)?;
        let last_indexed = self.offset_index.last().map_or(0, |e| u64::from(e.position));
        self.bytes_since_index_entry = position - last_indexed;
        if self.size == 0 {
            self.rolling_base_ms = None;
        }
        self.unflushed = true;
        Ok(())
    }

    /// fsyncs the `.log` if it was written to since the last sync; indexes are left alone.
    pub(crate) fn sync_data(&mut self) -> Result<(), LogError> {
        if self.unflushed {
            faults::sync_data(&self.log).map_err(io_err(&self.log_path))?;
            self.unflushed = false;
        }
        Ok(())
    }

    /// Writes pending index entries; with `sync` also fsyncs the `.log` (if written to) and indexes.
    pub(crate) fn flush(&mut self, sync: bool) -> Result<(), LogError> {
        if sync && self.unflushed {
            self.log.sync_data().map_err(io_err(&self.log_path))?;
            self.unflushed = false;
        }
        self.offset_index.flush(sync)?;
        self.time_index.flush(sync)
    }

    /// Last modification time of the `.log` in ms since the epoch.
    pub(crate) fn mtime_ms(&self) -> Result<i64, LogError> {
        let modified = self.log.metadata().and_then(|m| m.modified()).map_err(io_err(&self.log_path))?;
        Ok(modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
    }

    /// Deletes the segment's three files.
    pub(crate) fn delete(self) -> Result<(), LogError> {
        let paths = [
            self.log_path.clone(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
        ];
        drop(self);
        for path in paths {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&path)(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Segment file I/O, with failures tests can inject (`faults::inject`): a write that stores only a
/// prefix and then fails with ENOSPC, or an fsync that fails. Outside tests these are the plain calls.
pub(crate) mod faults {
    use std::fs::File;
    use std::os::unix::fs::FileExt;

    #[cfg(test)]
    thread_local! {
        static NEXT: std::cell::Cell<Option<Fault>> = const { std::cell::Cell::new(None) };
    }

    /// A failure for the next segment write or fsync on this thread (tests only).
    #[cfg(test)]
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Fault {
        /// The next write stores its first `n` bytes, then fails with ENOSPC.
        WriteFailsAfter(usize),
        /// The next data fsync fails with EIO.
        SyncFails,
    }

    /// Makes the next matching operation on this thread fail (tests only).
    #[cfg(test)]
    pub(crate) fn inject(fault: Fault) {
        NEXT.with(|next| next.set(Some(fault)));
    }

    pub(super) fn write_all_at(file: &File, bytes: &[u8], position: u64) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(Fault::WriteFailsAfter(n)) = NEXT.with(|next| next.get()) {
            NEXT.with(|next| next.set(None));
            file.write_all_at(&bytes[..n.min(bytes.len())], position)?;
            return Err(std::io::Error::from_raw_os_error(28));
        }
        file.write_all_at(bytes, position)
    }

    pub(super) fn sync_data(file: &File) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(Fault::SyncFails) = NEXT.with(|next| next.get()) {
            NEXT.with(|next| next.set(None));
            return Err(std::io::Error::from_raw_os_error(5));
        }
        file.sync_data()
    }
}
