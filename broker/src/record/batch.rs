//! Record batch (magic v2) header: parsing, validation and in-place patching.
//!
//! Strom keeps produced batches as opaque bytes. Only the 61-byte header is read; the base offset and
//! partition leader epoch are patched in place (the CRC-32C starts at `attributes`, so it does not cover
//! them). Layout (big endian):
//!
//! ```text
//! 0  base_offset i64 | 8 batch_length i32 | 12 partition_leader_epoch i32 | 16 magic i8 | 17 crc u32
//! 21 attributes i16 | 23 last_offset_delta i32 | 27 base_timestamp i64 | 35 max_timestamp i64
//! 43 producer_id i64 | 51 producer_epoch i16 | 53 base_sequence i32 | 57 records_count i32 | 61 records…
//! ```

use thiserror::Error;

/// Size of the fixed v2 batch header in bytes.
pub const HEADER_SIZE: usize = 61;
/// Bytes before the `batch_length` field counts (base offset + length field itself).
pub const LOG_OVERHEAD: usize = 12;
/// Offset of the first byte covered by the CRC (`attributes`).
const CRC_START: usize = 21;

/// Compression codec bits of the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression.
    None,
    /// gzip (deflate with gzip framing).
    Gzip,
    /// Snappy (xerial framing as written by Kafka clients, or raw).
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

/// A problem with a batch's framing or header.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BatchError {
    /// Fewer bytes than a header, or a length field that points outside the buffer.
    #[error("truncated record batch: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes the header says are needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// `batch_length` smaller than the header.
    #[error("invalid batch length {0}")]
    InvalidLength(i32),
    /// Magic byte other than 2.
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// CRC-32C mismatch.
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CorruptCrc {
        /// CRC in the header.
        stored: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// Unknown compression codec in attributes.
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
    /// Record count that cannot be right (negative or more than last_offset_delta + 1).
    #[error("invalid record count {count} for last offset delta {last_offset_delta}")]
    InvalidRecordCount {
        /// Records count in the header.
        count: i32,
        /// Last offset delta in the header.
        last_offset_delta: i32,
    },
}

/// The decoded fixed header of one v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field (so the whole batch is `batch_length + 12`).
    pub batch_length: i32,
    /// Leader epoch of the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Magic byte (always 2 after validation).
    pub magic: i8,
    /// CRC-32C over attributes..end.
    pub crc: u32,
    /// Attribute bits (compression, timestamp type, transactional, control).
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl BatchHeader {
    /// Parses the header at the start of `bytes`. Checks only that the header is present and that
    /// `batch_length` is plausible; it does not require the whole batch to be present.
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < HEADER_SIZE {
            return Err(BatchError::Truncated { needed: HEADER_SIZE, available: bytes.len() });
        }
        let batch_length = i32_at(bytes, 8);
        if batch_length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return Err(BatchError::InvalidLength(batch_length));
        }
        Ok(Self {
            base_offset: i64_at(bytes, 0),
            batch_length,
            partition_leader_epoch: i32_at(bytes, 12),
            magic: bytes[16] as i8,
            crc: u32::from_be_bytes([bytes[17], bytes[18], bytes[19], bytes[20]]),
            attributes: i16_at(bytes, 21),
            last_offset_delta: i32_at(bytes, 23),
            base_timestamp: i64_at(bytes, 27),
            max_timestamp: i64_at(bytes, 35),
            producer_id: i64_at(bytes, 43),
            producer_epoch: i16_at(bytes, 51),
            base_sequence: i32_at(bytes, 53),
            records_count: i32_at(bytes, 57),
        })
    }

    /// Total size of the batch on the wire and on disk.
    pub fn total_size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Compression codec from the attributes.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        match self.attributes & 0x07 {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(BatchError::UnknownCompression(other)),
        }
    }

    /// Whether timestamps are LogAppendTime (attribute bit 3).
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & 0x08 != 0
    }

    /// Whether the batch belongs to a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    /// Whether the batch is a control batch (attribute bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// Whether the batch carries an idempotent producer id.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence of the last record (wrapping at i32::MAX as Kafka does).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if last > i64::from(i32::MAX) { (last - i64::from(i32::MAX) - 1) as i32 } else { last as i32 }
    }
}

/// Validates one complete batch in `bytes` (exactly one batch, nothing after it): magic 2, length,
/// record count and CRC-32C. Returns the parsed header.
pub fn validate(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(bytes)?;
    if header.total_size() != bytes.len() {
        return Err(BatchError::Truncated { needed: header.total_size(), available: bytes.len() });
    }
    if header.magic != 2 {
        return Err(BatchError::UnsupportedMagic(header.magic));
    }
    header.compression()?;
    if header.records_count < 0
        || header.last_offset_delta < 0
        || i64::from(header.records_count) > i64::from(header.last_offset_delta) + 1
    {
        return Err(BatchError::InvalidRecordCount {
            count: header.records_count,
            last_offset_delta: header.last_offset_delta,
        });
    }
    let computed = crc32c::crc32c(&bytes[CRC_START..]);
    if computed != header.crc {
        return Err(BatchError::CorruptCrc { stored: header.crc, computed });
    }
    Ok(header)
}

/// Splits a buffer of concatenated batches into `(start, header)` pairs, validating each batch.
/// Fails on the first bad batch; a trailing partial batch is an error.
pub fn split_batches(bytes: &[u8]) -> Result<Vec<(usize, BatchHeader)>, BatchError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let header = BatchHeader::parse(&bytes[pos..])?;
        let end = pos
            .checked_add(header.total_size())
            .filter(|end| *end <= bytes.len())
            .ok_or(BatchError::Truncated { needed: header.total_size(), available: bytes.len() - pos })?;
        let header = validate(&bytes[pos..end])?;
        out.push((pos, header));
        pos = end;
    }
    Ok(out)
}

/// Writes `base_offset` into the batch header at the start of `bytes` (not covered by the CRC).
pub fn set_base_offset(bytes: &mut [u8], base_offset: i64) {
    bytes[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes `partition_leader_epoch` into the batch header (not covered by the CRC).
pub fn set_partition_leader_epoch(bytes: &mut [u8], epoch: i32) {
    bytes[12..16].copy_from_slice(&epoch.to_be_bytes());
}

/// Marks the batch as LogAppendTime with `max_timestamp = now_ms` and recomputes the CRC, as Kafka does
/// for topics with `message.timestamp.type=LogAppendTime`. `bytes` must hold exactly one batch.
pub fn set_log_append_time(bytes: &mut [u8], now_ms: i64) {
    let attributes = i16_at(bytes, 21) | 0x08;
    bytes[21..23].copy_from_slice(&attributes.to_be_bytes());
    bytes[35..43].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[CRC_START..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
}
