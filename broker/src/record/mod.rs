//! Record batches (magic v2): header parsing and patching, record decoding, compression codecs.
//!
//! ```text
//!  bytes ─► batch::BatchHeader (61-byte header, CRC)      ← the log only ever needs this
//!        └► records::decode_records ─► compression::decompress (bounded) ─► varint records
//!  builder::BatchBuilder ─► one encoded v2 batch (tests, benches, internal control batches)
//! ```
//!
//! Nothing here may allocate from a length read off the wire or the disk without bounding it by the
//! bytes actually present (or an explicit decompression limit).

pub mod batch;
pub mod builder;
pub mod compression;
pub mod recompress;
pub mod records;
pub mod timestamp;
mod varint;

pub use builder::BatchBuilder;
pub use records::{Record, RecordError, decode_records, decode_records_with_limit};
