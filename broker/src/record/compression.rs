//! Compression codecs for v2 record batches, with bounded decompression.
//!
//! Decompression never produces more than the caller's `limit` bytes: a small hostile payload that
//! expands to gigabytes fails with [`CompressionError::TooLarge`] instead of exhausting memory.

use std::io::{Read, Write};

use thiserror::Error;

use super::batch::Compression;

/// Decompression limit used by the log when it must look inside batches (64 MiB).
pub const DEFAULT_DECOMPRESS_LIMIT: usize = 64 * 1024 * 1024;

/// Magic header of xerial snappy framing (as written by the Java client's `SnappyOutputStream`).
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
/// Xerial header: magic + version (i32) + compatible version (i32).
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed block size the Java client uses for xerial framing.
const XERIAL_BLOCK: usize = 32 * 1024;

/// A codec failure.
#[derive(Debug, Error)]
pub enum CompressionError {
    /// The decompressed data would exceed the caller's limit.
    #[error("{codec:?} payload decompresses to more than {limit} bytes")]
    TooLarge {
        /// Codec in use.
        codec: Compression,
        /// Limit that was hit.
        limit: usize,
    },
    /// The codec rejected the data.
    #[error("{codec:?} codec error: {source}")]
    Codec {
        /// Codec in use.
        codec: Compression,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn codec_err(codec: Compression) -> impl FnOnce(std::io::Error) -> CompressionError {
    move |source| CompressionError::Codec { codec, source }
}

fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// Decompresses `data` (the records section of a batch) with `codec`, producing at most `limit` bytes.
pub fn decompress(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(CompressionError::TooLarge { codec, limit });
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => read_bounded(codec, flate2::read::MultiGzDecoder::new(data), limit),
        Compression::Lz4 => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(data), limit),
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(data).map_err(codec_err(codec))?;
            // Bound the window (memory the decoder may allocate) by the output limit, but always allow
            // the 8 MiB window that compression levels up to 19 use for streamed input.
            let window_log = (usize::BITS - limit.saturating_sub(1).leading_zeros()).clamp(23, 27);
            decoder.window_log_max(window_log).map_err(codec_err(codec))?;
            read_bounded(codec, decoder, limit)
        }
        Compression::Snappy => decompress_snappy(data, limit),
    }
}

fn read_bounded(codec: Compression, reader: impl Read, limit: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(cap).read_to_end(&mut out).map_err(codec_err(codec))?;
    if out.len() > limit {
        return Err(CompressionError::TooLarge { codec, limit });
    }
    Ok(out)
}

fn decompress_snappy(data: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let codec = Compression::Snappy;
    if data.len() < XERIAL_HEADER_LEN || &data[..8] != XERIAL_MAGIC {
        let mut out = Vec::new();
        snappy_block(data, &mut out, limit)?;
        return Ok(out);
    }
    let mut out = Vec::new();
    let mut pos = XERIAL_HEADER_LEN;
    while pos < data.len() {
        let len_bytes: [u8; 4] = data
            .get(pos..pos + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| codec_err(codec)(invalid("truncated xerial block length")))?;
        let len = usize::try_from(i32::from_be_bytes(len_bytes))
            .map_err(|_| codec_err(codec)(invalid("negative xerial block length")))?;
        pos += 4;
        let block = data
            .get(pos..pos.saturating_add(len))
            .ok_or_else(|| codec_err(codec)(invalid("truncated xerial block")))?;
        snappy_block(block, &mut out, limit)?;
        pos += len;
    }
    Ok(out)
}

/// Decompresses one raw snappy block, appending to `out`, refusing to grow `out` beyond `limit`.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError> {
    let codec = Compression::Snappy;
    let snap_err = |e: snap::Error| codec_err(codec)(invalid(&e.to_string()));
    let len = snap::raw::decompress_len(block).map_err(snap_err)?;
    if len > limit.saturating_sub(out.len()) {
        return Err(CompressionError::TooLarge { codec, limit });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new().decompress(block, &mut out[start..]).map_err(snap_err)?;
    out.truncate(start + written);
    Ok(())
}

/// Compresses `data` with `codec` (snappy uses xerial framing like the Java client).
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
    let err = |e: std::io::Error| CompressionError::Codec { codec, source: e };
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).map_err(err)?;
            enc.finish().map_err(err)
        }
        Compression::Lz4 => {
            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
            enc.write_all(data).map_err(err)?;
            enc.finish().map_err(|e| err(std::io::Error::other(e.to_string())))
        }
        Compression::Zstd => zstd::stream::encode_all(data, 3).map_err(err),
        Compression::Snappy => {
            let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + data.len() / 2);
            out.extend_from_slice(XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK) {
                let block = encoder.compress_vec(chunk).map_err(|e| err(invalid(&e.to_string())))?;
                let len = i32::try_from(block.len()).map_err(|_| err(invalid("block too large")))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for codec in ALL {
            let packed = compress(codec, &data).unwrap();
            assert_eq!(decompress(codec, &packed, data.len()).unwrap(), data, "{codec:?}");
        }
    }

    #[test]
    fn decompression_is_bounded() {
        let data = vec![0u8; 1 << 20];
        for codec in ALL {
            let packed = compress(codec, &data).unwrap();
            let err = decompress(codec, &packed, 1000).unwrap_err();
            assert!(matches!(err, CompressionError::TooLarge { .. }), "{codec:?}: {err}");
        }
    }

    #[test]
    fn raw_snappy_is_accepted() {
        let data = b"hello hello hello hello snappy".repeat(10);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw, 1 << 20).unwrap(), data);
    }

    #[test]
    fn garbage_fails_without_panicking() {
        let garbage = [
            0xffu8, 0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 1, 2, 3, 4, 5, 6, 7, 0x7f, 0xff, 0xff, 0xff,
        ];
        for codec in ALL[1..].iter().copied() {
            assert!(decompress(codec, &garbage, 1 << 20).is_err(), "{codec:?}");
        }
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 1]);
        assert!(decompress(Compression::Snappy, &xerial, 1 << 20).is_err());
    }
}
