//! Decoding the records inside a v2 batch (after decompression).
//!
//! Record layout (all varints zigzag):
//! ```text
//! length varint | attributes i8 | timestamp_delta varlong | offset_delta varint
//! key_length varint | key | value_length varint | value | header_count varint
//! header: key_length varint | key (UTF-8) | value_length varint | value
//! ```

use bytes::Bytes;
use thiserror::Error;

use super::batch::{BatchError, BatchHeader, Compression, HEADER_SIZE};
use super::compression::{CompressionError, DEFAULT_DECOMPRESS_LIMIT, decompress};
use super::varint::{read_varint, read_varlong};

/// Smallest possible encoded record: seven one-byte fields.
const MIN_RECORD_SIZE: usize = 7;
/// Smallest possible encoded header: two one-byte lengths.
const MIN_HEADER_SIZE: usize = 2;

/// One decoded record with absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (batch base offset + offset delta).
    pub offset: i64,
    /// Absolute timestamp (batch max timestamp for LogAppendTime batches).
    pub timestamp: i64,
    /// Key, `None` when null.
    pub key: Option<Bytes>,
    /// Value, `None` when null (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in order; values may be null.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// A problem decoding the records of a batch.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The batch header or framing is invalid.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The records section could not be decompressed.
    #[error(transparent)]
    Compression(#[from] CompressionError),
    /// A record field runs past the end of its data.
    #[error("record {index} is truncated or malformed ({what})")]
    Malformed {
        /// Index of the record in the batch.
        index: usize,
        /// Field that failed.
        what: &'static str,
    },
    /// The header's record count does not match the data.
    #[error("batch claims {claimed} records but {found} were decoded")]
    CountMismatch {
        /// Count in the header.
        claimed: i32,
        /// Records actually present.
        found: usize,
    },
}

/// Decodes every record of one whole batch (header included), decompressing with the default 64 MiB
/// limit. The CRC is not checked here; callers validate with [`super::batch::validate`] first.
pub fn decode_records(batch: &[u8]) -> Result<Vec<Record>, RecordError> {
    decode_records_with_limit(batch, DEFAULT_DECOMPRESS_LIMIT)
}

/// [`decode_records`] with an explicit bound on decompressed bytes.
pub fn decode_records_with_limit(batch: &[u8], limit: usize) -> Result<Vec<Record>, RecordError> {
    let header = BatchHeader::parse(batch)?;
    let total = header.total_size();
    if total > batch.len() {
        return Err(BatchError::Truncated { needed: total, available: batch.len() }.into());
    }
    if header.magic != 2 {
        return Err(BatchError::UnsupportedMagic(header.magic).into());
    }
    let payload = &batch[HEADER_SIZE..total];
    let data = match header.compression()? {
        Compression::None => Bytes::copy_from_slice(payload),
        codec => Bytes::from(decompress(codec, payload, limit)?),
    };
    let claimed = usize::try_from(header.records_count)
        .map_err(|_| RecordError::CountMismatch { claimed: header.records_count, found: 0 })?;
    // Never trust the count for the allocation: bound it by what the data could hold.
    let mut records = Vec::with_capacity(claimed.min(data.len() / MIN_RECORD_SIZE));
    let mut pos = 0;
    for index in 0..claimed {
        if pos >= data.len() {
            return Err(RecordError::CountMismatch { claimed: header.records_count, found: index });
        }
        records.push(decode_one(&header, &data, &mut pos, index)?);
    }
    if pos != data.len() {
        return Err(RecordError::Malformed { index: claimed, what: "trailing bytes after last record" });
    }
    Ok(records)
}

fn decode_one(
    header: &BatchHeader,
    data: &Bytes,
    pos: &mut usize,
    index: usize,
) -> Result<Record, RecordError> {
    let bad = |what| RecordError::Malformed { index, what };
    let length = read_varint(data, pos).ok_or(bad("length"))?;
    let length = usize::try_from(length).map_err(|_| bad("negative length"))?;
    let end = pos.checked_add(length).filter(|end| *end <= data.len()).ok_or(bad("length"))?;
    let body = data.slice(*pos..end);
    let mut p = 0;
    let _attributes = *body.first().ok_or(bad("attributes"))?;
    p += 1;
    let timestamp_delta = read_varlong(&body, &mut p).ok_or(bad("timestamp delta"))?;
    let offset_delta = read_varint(&body, &mut p).ok_or(bad("offset delta"))?;
    let key = read_bytes(&body, &mut p).ok_or(bad("key"))?;
    let value = read_bytes(&body, &mut p).ok_or(bad("value"))?;
    let header_count = read_varint(&body, &mut p).ok_or(bad("header count"))?;
    let header_count = usize::try_from(header_count).map_err(|_| bad("negative header count"))?;
    if header_count > (body.len() - p) / MIN_HEADER_SIZE {
        return Err(bad("header count"));
    }
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key = read_bytes(&body, &mut p).ok_or(bad("header key"))?.ok_or(bad("null header key"))?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| bad("header key utf-8"))?;
        let value = read_bytes(&body, &mut p).ok_or(bad("header value"))?;
        headers.push((key, value));
    }
    if p != body.len() {
        return Err(bad("record length does not match its fields"));
    }
    *pos = end;
    let timestamp = if header.is_log_append_time() {
        header.max_timestamp
    } else {
        header.base_timestamp.wrapping_add(timestamp_delta)
    };
    Ok(Record { offset: header.base_offset + i64::from(offset_delta), timestamp, key, value, headers })
}

/// Reads a varint-length-prefixed byte string; `Some(None)` for length -1, `None` when malformed.
fn read_bytes(body: &Bytes, p: &mut usize) -> Option<Option<Bytes>> {
    let len = read_varint(body, p)?;
    if len < 0 {
        return (len == -1).then_some(None);
    }
    let end = p.checked_add(len as usize).filter(|end| *end <= body.len())?;
    let out = body.slice(*p..end);
    *p = end;
    Some(Some(out))
}
