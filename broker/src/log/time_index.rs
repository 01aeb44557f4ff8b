//! Time index (`.timeindex`): 12-byte entries `timestamp i64 BE | relative_offset u32 BE`, appended
//! whenever a batch raises the segment's max timestamp. Each entry names the first batch that reached
//! that timestamp, so every record before it has a smaller timestamp, and the last entry holds the
//! segment's largest timestamp.

use super::index_file::{IndexEntry, IndexFile};

/// `(max timestamp so far, base offset of the batch that reached it)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    /// Largest timestamp in the segment up to and including this batch.
    pub(crate) timestamp: i64,
    /// `batch.base_offset - segment.base_offset`.
    pub(crate) relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;

    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        Self {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
}

/// The `.timeindex` file of one segment.
pub(crate) type TimeIndex = IndexFile<TimeEntry>;

impl TimeIndex {
    /// Relative offset of the batch to start scanning from for the first record with
    /// `timestamp >= ts`: the entry with the largest timestamp <= `ts` (records before it are older).
    pub(crate) fn lookup(&self, ts: i64) -> Option<u32> {
        let entries = self.entries();
        let idx = entries.partition_point(|e| e.timestamp <= ts);
        idx.checked_sub(1).map(|i| entries[i].relative_offset)
    }

    /// Largest timestamp in the segment, -1 if none.
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.last().map_or(-1, |e| e.timestamp)
    }

    /// Whether entries strictly increase in both fields and stay below `relative_end` (if known).
    pub(crate) fn is_consistent(&self, relative_end: Option<u64>) -> bool {
        let entries = self.entries();
        entries
            .windows(2)
            .all(|w| w[0].timestamp < w[1].timestamp && w[0].relative_offset < w[1].relative_offset)
            && entries
                .last()
                .is_none_or(|e| relative_end.is_none_or(|end| u64::from(e.relative_offset) < end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_max() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = TimeIndex::create(&dir.path().join("0.timeindex")).unwrap();
        assert_eq!((index.lookup(10), index.max_timestamp()), (None, -1));
        index.push(TimeEntry { timestamp: 100, relative_offset: 0 });
        index.push(TimeEntry { timestamp: 200, relative_offset: 5 });
        assert_eq!(index.lookup(99), None);
        assert_eq!(index.lookup(150), Some(0));
        assert_eq!(index.lookup(200), Some(5));
        assert_eq!(index.max_timestamp(), 200);
        assert!(index.is_consistent(Some(6)) && !index.is_consistent(Some(5)));
    }
}
