//! Sparse offset index (`.index`): 8-byte entries `relative_offset u32 BE | position u32 BE`, one per
//! `index.interval.bytes` of log, each pointing at the start of a batch.

use super::index_file::{IndexEntry, IndexFile};

/// Maps a batch's base offset (relative to the segment base) to its byte position in the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    /// `batch.base_offset - segment.base_offset`.
    pub(crate) relative_offset: u32,
    /// Byte position of the batch in the `.log` file.
    pub(crate) position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;

    fn decode(b: &[u8]) -> Self {
        Self {
            relative_offset: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
}

/// The `.index` file of one segment.
pub(crate) type OffsetIndex = IndexFile<OffsetEntry>;

impl OffsetIndex {
    /// The entry with the largest relative offset <= `relative_offset`, or the segment start.
    pub(crate) fn lookup(&self, relative_offset: u32) -> OffsetEntry {
        let entries = self.entries();
        let idx = entries.partition_point(|e| e.relative_offset <= relative_offset);
        idx.checked_sub(1).map_or(OffsetEntry { relative_offset: 0, position: 0 }, |i| entries[i])
    }

    /// Whether entries are strictly increasing in both fields and point inside a log of `log_size`
    /// bytes holding relative offsets below `relative_end` (if known).
    pub(crate) fn is_consistent(&self, log_size: u64, relative_end: Option<u64>) -> bool {
        let entries = self.entries();
        entries
            .windows(2)
            .all(|w| w[0].relative_offset < w[1].relative_offset && w[0].position < w[1].position)
            && entries.last().is_none_or(|e| {
                u64::from(e.position) < log_size
                    && relative_end.is_none_or(|end| u64::from(e.relative_offset) < end)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_consistency() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = OffsetIndex::create(&path).unwrap();
        assert_eq!(index.lookup(5), OffsetEntry { relative_offset: 0, position: 0 });
        for i in 1..=3u32 {
            index.push(OffsetEntry { relative_offset: i * 10, position: i * 100 });
        }
        index.flush(true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap()[..8], [0, 0, 0, 10, 0, 0, 0, 100]);
        assert_eq!(index.lookup(25).position, 200);
        assert_eq!(index.lookup(30).position, 300);
        assert!(index.is_consistent(301, Some(31)));
        assert!(!index.is_consistent(300, None));
        let (reopened, ok) = OffsetIndex::open(&path, 100).unwrap();
        assert!(ok);
        assert_eq!(reopened.entries(), index.entries());
        std::fs::write(&path, [1, 2, 3]).unwrap();
        let (damaged, ok) = OffsetIndex::open(&path, 100).unwrap();
        assert!(!ok && damaged.entries().is_empty());
    }
}
