//! Broker-side recompression for topics whose `compression.type` names a codec: the batch is decoded
//! and rebuilt with the topic's codec, keeping producer id, epoch, sequence, attributes and record
//! timestamps. Batches already in the right codec (and every batch of `producer` topics) are never
//! touched.

use super::batch::{BatchHeader, Compression};
use super::builder::BatchBuilder;
use super::records::{RecordError, decode_records_with_limit};

/// Largest decompressed size accepted while recompressing.
const DECOMPRESS_LIMIT: usize = 128 * 1024 * 1024;

/// The codec a topic's `compression.type` asks for; `None` for `producer` (keep what was sent).
pub fn target_codec(compression_type: &str) -> Option<Compression> {
    match compression_type {
        "uncompressed" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

/// Re-encodes one validated batch with `codec`.
pub fn recompress(batch: &[u8], header: &BatchHeader, codec: Compression) -> Result<Vec<u8>, RecordError> {
    let records = decode_records_with_limit(batch, DECOMPRESS_LIMIT)?;
    let mut builder = BatchBuilder::new(codec)
        .producer(header.producer_id, header.producer_epoch, header.base_sequence)
        .transactional(header.is_transactional())
        .partition_leader_epoch(header.partition_leader_epoch);
    for record in &records {
        let headers: Vec<(&str, Option<&[u8]>)> =
            record.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        builder.append_with_headers(
            record.timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &headers,
        );
    }
    builder.build().map_err(RecordError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::batch::validate;
    use crate::record::records::decode_records;

    #[test]
    fn gzip_batch_becomes_zstd_with_same_records_and_producer_fields() {
        let mut builder = BatchBuilder::new(Compression::Gzip).producer(42, 3, 10);
        builder.append_with_headers(1000, Some(b"k"), Some(b"v1"), &[("h", Some(b"x"))]);
        builder.append(1005, None, Some(b"v2"));
        let original = builder.build().expect("build");
        let header = validate(&original).expect("valid");
        let converted = recompress(&original, &header, Compression::Zstd).expect("recompress");
        let new_header = validate(&converted).expect("valid");
        assert_eq!(new_header.compression(), Ok(Compression::Zstd));
        assert_eq!(
            (new_header.producer_id, new_header.producer_epoch, new_header.base_sequence),
            (42, 3, 10)
        );
        assert_eq!(new_header.records_count, 2);
        assert_eq!(decode_records(&converted).expect("decode"), decode_records(&original).expect("decode"));
    }
}
