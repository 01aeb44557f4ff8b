//! How far behind a consumer is in time: the timestamp of the oldest unconsumed record (the record at
//! the committed offset) read out of record batches (a Fetch response or a log read), and LAG-SECONDS
//! from it.
//!
//! Batches are Kafka's v2 record batches (the 61-byte header of `baseOffset i64, batchLength i32,
//! partitionLeaderEpoch i32, magic i8, crc u32, attributes i16, lastOffsetDelta i32, baseTimestamp
//! i64, maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32, recordsCount i32`,
//! then the records). The record's own timestamp is exact: its varint `timestampDelta` is decoded
//! (after decompressing the batch, for every codec); a batch whose records cannot be decoded within
//! [`DECOMPRESS_LIMIT`] falls back to the header's `baseTimestamp` (the batch's first record), and a
//! LogAppendTime batch uses `maxTimestamp`, which the broker stamped on every record.

use super::batch::{BatchHeader, HEADER_SIZE};
use super::decode_records_with_limit;

/// Decompressed bytes one batch may expand to before its header's base timestamp is used instead.
pub const DECOMPRESS_LIMIT: usize = 16 * 1024 * 1024;

/// Byte position of the magic byte, the same in legacy messages and v2 batches.
const MAGIC_AT: usize = 16;

/// The timestamp of the first data record at or after `offset` in `records` (a Fetch response's
/// record set: whole batches, perhaps followed by a truncated one). Control batches (transaction
/// markers) are skipped; `None` when no batch holds such a record, or for pre-v2 message sets.
pub fn record_timestamp(records: &[u8], offset: i64) -> Option<i64> {
    let mut rest = records;
    while rest.len() >= HEADER_SIZE {
        if rest[MAGIC_AT] != 2 {
            return None;
        }
        let header = BatchHeader::parse(rest).ok()?;
        let size = header.total_size();
        if size > rest.len() {
            return None;
        }
        let (batch, tail) = rest.split_at(size);
        rest = tail;
        if header.last_offset() < offset || header.is_control() {
            continue;
        }
        if let Some(timestamp) = batch_timestamp(batch, &header, offset) {
            return Some(timestamp);
        }
    }
    None
}

/// The timestamp of the first record at or after `offset` in one whole batch.
fn batch_timestamp(batch: &[u8], header: &BatchHeader, offset: i64) -> Option<i64> {
    if header.is_log_append_time() {
        return Some(header.max_timestamp);
    }
    match decode_records_with_limit(batch, DECOMPRESS_LIMIT) {
        Ok(records) => records.iter().find(|r| r.offset >= offset).map(|r| r.timestamp),
        Err(error) => {
            tracing::debug!(%error, base_offset = header.base_offset, "using the batch's base timestamp");
            Some(header.base_timestamp)
        }
    }
}

/// LAG-SECONDS: whole seconds from the oldest unconsumed record's `timestamp` to `now_ms`; 0 when
/// nothing is unconsumed (`lag` 0), `None` when the timestamp is unknown (or not a real time, as
/// the -1 of records without timestamps). A timestamp in the future counts as 0.
pub fn lag_seconds(now_ms: i64, lag: i64, timestamp: Option<i64>) -> Option<i64> {
    if lag <= 0 {
        return Some(0);
    }
    let timestamp = timestamp.filter(|t| *t >= 0)?;
    Some(now_ms.saturating_sub(timestamp).max(0) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::BatchBuilder;
    use crate::record::batch::Compression;

    /// An uncompressed v2 batch written field by field: records with the given timestamp and offset
    /// deltas, null keys and one-byte values, no headers. The CRC is left 0 (not checked here).
    fn hand_built_batch(base_offset: i64, base_timestamp: i64, records: &[(i64, i32)]) -> Vec<u8> {
        fn zigzag(value: i64, out: &mut Vec<u8>) {
            let mut v = ((value << 1) ^ (value >> 63)) as u64;
            while v >= 0x80 {
                out.push((v as u8 & 0x7f) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let mut body = Vec::new();
        for (timestamp_delta, offset_delta) in records {
            let mut record = vec![0u8]; // attributes
            zigzag(*timestamp_delta, &mut record);
            zigzag(i64::from(*offset_delta), &mut record);
            zigzag(-1, &mut record); // null key
            zigzag(1, &mut record);
            record.push(b'v');
            zigzag(0, &mut record); // no headers
            zigzag(record.len() as i64, &mut body);
            body.extend(record);
        }
        let last_offset_delta = records.last().map_or(0, |r| r.1);
        let max_timestamp = base_timestamp + records.iter().map(|r| r.0).max().unwrap_or(0);
        let mut batch = Vec::new();
        batch.extend(base_offset.to_be_bytes());
        batch.extend(((HEADER_SIZE - 12 + body.len()) as i32).to_be_bytes());
        batch.extend((-1i32).to_be_bytes()); // partition leader epoch
        batch.push(2); // magic
        batch.extend(0u32.to_be_bytes()); // crc
        batch.extend(0i16.to_be_bytes()); // attributes: CreateTime, uncompressed
        batch.extend(last_offset_delta.to_be_bytes());
        batch.extend(base_timestamp.to_be_bytes());
        batch.extend(max_timestamp.to_be_bytes());
        batch.extend((-1i64).to_be_bytes()); // producer id
        batch.extend((-1i16).to_be_bytes()); // producer epoch
        batch.extend((-1i32).to_be_bytes()); // base sequence
        batch.extend((records.len() as i32).to_be_bytes());
        assert_eq!(batch.len(), HEADER_SIZE);
        batch.extend(body);
        batch
    }

    #[test]
    fn finds_the_exact_record_in_a_hand_built_batch() {
        let batch = hand_built_batch(10, 1_000_000, &[(0, 0), (250, 1), (900, 2)]);
        assert_eq!(record_timestamp(&batch, 10), Some(1_000_000));
        assert_eq!(record_timestamp(&batch, 11), Some(1_000_250));
        assert_eq!(record_timestamp(&batch, 12), Some(1_000_900));
        assert_eq!(record_timestamp(&batch, 13), None, "past the batch");
        assert_eq!(record_timestamp(&batch, 5), Some(1_000_000), "before the batch: its first record");
        // 1_000_250 is 4 s 750 ms before now: whole seconds.
        let now = 1_005_000;
        assert_eq!(lag_seconds(now, 2, record_timestamp(&batch, 11)), Some(4));
    }

    #[test]
    fn skips_batches_before_the_offset_and_stops_at_a_truncated_one() {
        let mut records = hand_built_batch(0, 5_000, &[(0, 0), (1, 1)]);
        let second = hand_built_batch(2, 9_000, &[(0, 0), (7, 1)]);
        records.extend(&second);
        assert_eq!(record_timestamp(&records, 3), Some(9_007));
        let cut = records.len() - 3;
        assert_eq!(record_timestamp(&records[..cut], 3), None, "the second batch is incomplete");
        assert_eq!(record_timestamp(&records[..cut], 1), Some(5_001));
        assert_eq!(record_timestamp(&[], 0), None);
    }

    #[test]
    fn a_compacted_offset_answers_with_the_next_record() {
        // Offsets 20 and 23 survive of 20..=23.
        let batch = hand_built_batch(20, 100, &[(0, 0), (30, 3)]);
        assert_eq!(record_timestamp(&batch, 21), Some(130));
    }

    #[test]
    fn compressed_control_and_log_append_time_batches() -> Result<(), Box<dyn std::error::Error>> {
        let mut builder = BatchBuilder::new(Compression::Zstd).base_offset(40);
        builder.append(7_000, None, Some(b"a")).append(7_500, None, Some(b"b"));
        let compressed = builder.build()?;
        assert_eq!(record_timestamp(&compressed, 41), Some(7_500), "exact after decompression");

        let mut marker = BatchBuilder::new(Compression::None).base_offset(40).control(true);
        marker.append(1, None, None);
        let mut records = marker.build()?;
        let mut data = BatchBuilder::new(Compression::None).base_offset(41);
        data.append(8_000, None, Some(b"x"));
        records.extend(data.build()?);
        assert_eq!(record_timestamp(&records, 40), Some(8_000), "the marker is not a record to consume");

        let mut appended = BatchBuilder::new(Compression::Gzip).base_offset(0).log_append_time(12_345);
        appended.append(1, None, Some(b"v")).append(2, None, Some(b"w"));
        assert_eq!(record_timestamp(&appended.build()?, 0), Some(12_345));
        Ok(())
    }

    #[test]
    fn undecodable_records_fall_back_to_the_base_timestamp() {
        let mut batch = hand_built_batch(0, 3_000, &[(0, 0), (10, 1)]);
        batch[22] = 4; // claims zstd: the records are not a zstd frame
        assert_eq!(record_timestamp(&batch, 1), Some(3_000));
        let mut legacy = batch.clone();
        legacy[MAGIC_AT] = 1;
        assert_eq!(record_timestamp(&legacy, 0), None);
    }

    #[test]
    fn lag_seconds_is_zero_without_lag_and_unknown_without_a_timestamp() {
        assert_eq!(lag_seconds(10_000, 0, None), Some(0));
        assert_eq!(lag_seconds(10_000, 3, None), None);
        assert_eq!(lag_seconds(10_000, 3, Some(-1)), None, "no timestamp (magic 0)");
        assert_eq!(lag_seconds(10_000, 3, Some(20_000)), Some(0), "clock skew");
        assert_eq!(lag_seconds(70_999, 3, Some(10_000)), Some(60));
    }
}
