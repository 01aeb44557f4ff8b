//! Size-delimited Kafka frames: a 4-byte big-endian length, then that many bytes.
//!
//! The length is checked against `socket.request.max.bytes` before anything is allocated, and the
//! buffer then grows with the bytes that actually arrive, so a client that announces 100 MiB and sends
//! nothing costs nothing.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// Negative length or one above `socket.request.max.bytes`.
    #[error("frame of {size} bytes exceeds socket.request.max.bytes {max}")]
    TooLarge {
        /// Announced size.
        size: i64,
        /// Configured maximum.
        max: usize,
    },
    /// Socket error or EOF in the middle of a frame.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

const GROW_STEP: usize = 256 * 1024;

/// Reads one frame body. Returns [`FrameError::Closed`] on a clean EOF before the length prefix.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, max: usize) -> Result<Bytes, FrameError> {
    let mut len_buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader.read(&mut len_buf[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Err(FrameError::Closed)
            } else {
                Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()))
            };
        }
        got += n;
    }
    let size = i32::from_be_bytes(len_buf);
    if size < 0 || size as usize > max {
        return Err(FrameError::TooLarge { size: i64::from(size), max });
    }
    let size = size as usize;
    let mut buf = BytesMut::with_capacity(size.min(GROW_STEP));
    while buf.len() < size {
        if buf.capacity() == buf.len() {
            buf.reserve((size - buf.len()).min(GROW_STEP.max(buf.len())));
        }
        let want = size - buf.len();
        let n = (&mut *reader).take(want as u64).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_frames_and_rejects_oversized_lengths() {
        let mut input: &[u8] = &[0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 1];
        assert_eq!(read_frame(&mut input, 10).await.expect("frame").as_ref(), b"abc");
        assert!(matches!(read_frame(&mut input, 10).await, Err(FrameError::Io(_))));
        let mut huge: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(read_frame(&mut huge, 100).await, Err(FrameError::TooLarge { .. })));
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(read_frame(&mut negative, 100).await, Err(FrameError::TooLarge { .. })));
        let mut empty: &[u8] = &[];
        assert!(matches!(read_frame(&mut empty, 100).await, Err(FrameError::Closed)));
    }
}
