//! Encoding v2 record batches (tests, benchmarks and any batch the broker writes itself).

use super::batch::{Compression, HEADER_SIZE, LOG_OVERHEAD};
use super::compression::{CompressionError, compress};
use super::varint::{write_varint, write_varlong};

/// Offset of the first byte covered by the CRC (`attributes`).
const CRC_START: usize = 21;

#[derive(Debug, Clone)]
struct PendingRecord {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Builds one magic-v2 record batch with a correct CRC-32C.
///
/// Defaults match what a non-idempotent Kafka producer sends: base offset 0, partition leader epoch -1,
/// producer id/epoch/sequence -1, CreateTime. Offsets deltas are 0, 1, 2, …; the base timestamp is the
/// first record's timestamp.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    log_append_time: Option<i64>,
    records: Vec<PendingRecord>,
}

impl BatchBuilder {
    /// An empty builder for a batch compressed with `compression`.
    pub fn new(compression: Compression) -> Self {
        Self {
            compression,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            log_append_time: None,
            records: Vec::new(),
        }
    }

    /// Sets the base offset written in the header.
    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    /// Sets the partition leader epoch written in the header.
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Marks the batch as coming from an idempotent producer.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Sets the transactional attribute bit.
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Sets the control attribute bit.
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// Uses LogAppendTime with `max_timestamp` as every record's timestamp.
    pub fn log_append_time(mut self, max_timestamp: i64) -> Self {
        self.log_append_time = Some(max_timestamp);
        self
    }

    /// Adds a record without headers.
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> &mut Self {
        self.append_with_headers(timestamp, key, value, &[])
    }

    /// Adds a record with headers.
    pub fn append_with_headers(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> &mut Self {
        self.records.push(PendingRecord {
            timestamp,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers: headers.iter().map(|(k, v)| ((*k).to_string(), v.map(<[u8]>::to_vec))).collect(),
        });
        self
    }

    /// Number of records added so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encodes the batch. Fails only if the compressor fails.
    pub fn build(&self) -> Result<Vec<u8>, CompressionError> {
        let base_timestamp = self.records.first().map_or(-1, |r| r.timestamp);
        let create_max = self.records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
        let max_timestamp = self.log_append_time.unwrap_or(create_max);
        let mut raw = Vec::new();
        let mut body = Vec::new();
        for (i, record) in self.records.iter().enumerate() {
            body.clear();
            body.push(0); // record attributes (unused)
            write_varlong(&mut body, record.timestamp.wrapping_sub(base_timestamp));
            write_varint(&mut body, i as i32);
            write_opt_bytes(&mut body, record.key.as_deref());
            write_opt_bytes(&mut body, record.value.as_deref());
            write_varint(&mut body, record.headers.len() as i32);
            for (key, value) in &record.headers {
                write_opt_bytes(&mut body, Some(key.as_bytes()));
                write_opt_bytes(&mut body, value.as_deref());
            }
            write_varint(&mut raw, body.len() as i32);
            raw.extend_from_slice(&body);
        }
        let payload = compress(self.compression, &raw)?;
        let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
        out.extend_from_slice(&self.base_offset.to_be_bytes());
        let batch_length = (HEADER_SIZE - LOG_OVERHEAD + payload.len()) as i32;
        out.extend_from_slice(&batch_length.to_be_bytes());
        out.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out.push(2); // magic
        out.extend_from_slice(&[0; 4]); // CRC, filled below
        out.extend_from_slice(&self.attributes().to_be_bytes());
        let last_offset_delta = (self.records.len() as i32 - 1).max(0);
        out.extend_from_slice(&last_offset_delta.to_be_bytes());
        out.extend_from_slice(&base_timestamp.to_be_bytes());
        out.extend_from_slice(&max_timestamp.to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.base_sequence.to_be_bytes());
        out.extend_from_slice(&(self.records.len() as i32).to_be_bytes());
        out.extend_from_slice(&payload);
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        Ok(out)
    }

    fn attributes(&self) -> i16 {
        let codec: i16 = match self.compression {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        };
        let mut attributes = codec;
        if self.log_append_time.is_some() {
            attributes |= 0x08;
        }
        if self.transactional {
            attributes |= 0x10;
        }
        if self.control {
            attributes |= 0x20;
        }
        attributes
    }
}

fn write_opt_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => write_varint(out, -1),
        Some(b) => {
            write_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::record::batch::{BatchError, validate};
    use crate::record::{Record, RecordError, decode_records, decode_records_with_limit};

    /// One record, key "k", value "v", timestamp 1000, non-idempotent producer, uncompressed.
    #[rustfmt::skip]
    const GOLDEN: [u8; 70] = [
        0, 0, 0, 0, 0, 0, 0, 0,             // base_offset 0
        0, 0, 0, 58,                        // batch_length = 49 + 9
        0xff, 0xff, 0xff, 0xff,             // partition_leader_epoch -1
        2,                                  // magic
        GOLDEN_CRC[0], GOLDEN_CRC[1], GOLDEN_CRC[2], GOLDEN_CRC[3],
        0, 0,                               // attributes
        0, 0, 0, 0,                         // last_offset_delta
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,       // base_timestamp 1000
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,       // max_timestamp 1000
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producer_id -1
        0xff, 0xff,                         // producer_epoch -1
        0xff, 0xff, 0xff, 0xff,             // base_sequence -1
        0, 0, 0, 1,                         // records_count 1
        0x10,                               // record length 8 (zigzag)
        0,                                  // record attributes
        0,                                  // timestamp delta 0
        0,                                  // offset delta 0
        0x02, b'k',                         // key length 1, "k"
        0x02, b'v',                         // value length 1, "v"
        0,                                  // header count 0
    ];
    /// CRC-32C (Castagnoli) over bytes 21..70, computed independently (Python, bitwise reflected 0x82F63B78).
    const GOLDEN_CRC: [u8; 4] = 0x716a_6189u32.to_be_bytes();

    #[test]
    fn golden_uncompressed_batch() {
        let mut builder = BatchBuilder::new(Compression::None);
        builder.append(1000, Some(b"k"), Some(b"v"));
        let built = builder.build().unwrap();
        assert_eq!(built, GOLDEN);
        let header = validate(&GOLDEN).unwrap();
        assert_eq!(header.records_count, 1);
        let records = decode_records(&GOLDEN).unwrap();
        assert_eq!(
            records,
            vec![Record {
                offset: 0,
                timestamp: 1000,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"v")),
                headers: vec![],
            }]
        );
    }

    fn sample(compression: Compression) -> BatchBuilder {
        let mut b = BatchBuilder::new(compression).base_offset(100).producer(7, 1, 42);
        for i in 0..50i64 {
            let value = format!("value-{i}-").repeat(20);
            if i % 7 == 0 {
                b.append_with_headers(
                    5000 + i,
                    None,
                    Some(value.as_bytes()),
                    &[("h", Some(b"x")), ("n", None)],
                );
            } else {
                b.append(
                    5000 - i,
                    Some(format!("key-{i}").as_bytes()),
                    (i % 5 != 0).then_some(value.as_bytes()),
                );
            }
        }
        b
    }

    #[test]
    fn every_codec_round_trips_through_decode_records() {
        let expected = decode_records(&sample(Compression::None).build().unwrap()).unwrap();
        assert_eq!(expected.len(), 50);
        assert_eq!(
            expected[7].headers,
            vec![("h".into(), Some(Bytes::from_static(b"x"))), ("n".into(), None)]
        );
        assert_eq!(expected[49].offset, 149);
        assert_eq!(expected[48].timestamp, 5000 - 48);
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let batch = sample(codec).build().unwrap();
            let header = validate(&batch).unwrap();
            assert_eq!(header.compression().unwrap(), codec);
            assert_eq!((header.producer_id, header.base_sequence, header.last_offset_delta), (7, 42, 49));
            assert_eq!(decode_records(&batch).unwrap(), expected, "{codec:?}");
        }
    }

    #[test]
    fn log_append_time_overrides_record_timestamps() {
        let batch = sample(Compression::Lz4).log_append_time(99_999).build().unwrap();
        assert!(decode_records(&batch).unwrap().iter().all(|r| r.timestamp == 99_999));
    }

    #[test]
    fn hostile_counts_and_lengths_fail_cleanly() {
        let mut batch = GOLDEN;
        batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(decode_records(&batch), Err(RecordError::CountMismatch { .. })));
        let mut batch = GOLDEN;
        batch[61] = 0x7e; // record length 63 > remaining
        assert!(matches!(decode_records(&batch), Err(RecordError::Malformed { .. })));
        assert!(matches!(
            decode_records(&GOLDEN[..65]),
            Err(RecordError::Batch(BatchError::Truncated { .. }))
        ));
        let big = sample(Compression::Zstd).build().unwrap();
        assert!(matches!(decode_records_with_limit(&big, 100), Err(RecordError::Compression(_))));
    }
}
