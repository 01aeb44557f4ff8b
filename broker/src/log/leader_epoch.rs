//! Leader-epoch cache: which leader epoch started at which offset (file `leader-epoch-checkpoint`,
//! Kafka's text format: version, count, then `epoch start_offset` lines).
//!
//! Used to answer OffsetForLeaderEpoch so a follower can truncate to the point where it diverged.

use std::path::{Path, PathBuf};

use super::LogError;
use super::checkpoint;

/// File name of the leader-epoch checkpoint inside the partition directory.
pub(crate) const FILE_NAME: &str = "leader-epoch-checkpoint";

/// Epoch start offsets, strictly increasing in both epoch and start offset.
#[derive(Debug)]
pub(crate) struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// Loads the checkpoint in `dir` (empty if missing or damaged; entries that are not strictly
    /// increasing are dropped from the first offending one on).
    pub(crate) fn load(dir: &Path) -> Result<Self, LogError> {
        let path = dir.join(FILE_NAME);
        let raw = checkpoint::read(&path, 2)?.unwrap_or_default();
        let mut entries: Vec<(i32, i64)> = Vec::with_capacity(raw.len());
        for entry in raw {
            let Ok(epoch) = i32::try_from(entry[0]) else { break };
            if entries.last().is_some_and(|&(e, o)| epoch <= e || entry[1] < o) {
                tracing::warn!(path = %path.display(), "non-monotonic leader epoch checkpoint, dropping tail");
                break;
            }
            entries.push((epoch, entry[1]));
        }
        Ok(Self { path, entries })
    }

    /// Latest epoch recorded.
    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    /// Records that `epoch` starts at `start_offset` if it is newer than the latest epoch. Persists
    /// (fsynced) before returning when something changed.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<(), LogError> {
        if epoch < 0 || self.latest_epoch().is_some_and(|latest| epoch <= latest) {
            return Ok(());
        }
        // A later start offset than a stale entry's would break monotonicity; drop those entries.
        while self.entries.last().is_some_and(|&(_, o)| o > start_offset) {
            self.entries.pop();
        }
        self.entries.push((epoch, start_offset));
        self.persist()
    }

    /// OffsetForLeaderEpoch: the largest known epoch <= `epoch` and its end offset (the start of the
    /// next known epoch, or `log_end_offset` for the latest).
    pub(crate) fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        let idx = self.entries.partition_point(|&(e, _)| e <= epoch);
        let (found, _) = *self.entries.get(idx.checked_sub(1)?)?;
        let end = self.entries.get(idx).map_or(log_end_offset, |&(_, start)| start);
        Some((found, end))
    }

    /// Removes epochs starting at or after `end_offset` (after a log truncation).
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) -> Result<(), LogError> {
        let keep = self.entries.partition_point(|&(_, start)| start < end_offset);
        if keep == self.entries.len() {
            return Ok(());
        }
        self.entries.truncate(keep);
        self.persist()
    }

    /// Drops epochs wholly below `start_offset`; the epoch in force at `start_offset` now starts there.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) -> Result<(), LogError> {
        let below = self.entries.partition_point(|&(_, start)| start < start_offset);
        if below == 0 {
            return Ok(());
        }
        let in_force = self.entries[below - 1].0;
        let starts_exactly = self.entries.get(below).is_some_and(|&(_, s)| s == start_offset);
        self.entries.drain(..below);
        if !starts_exactly {
            self.entries.insert(0, (in_force, start_offset));
        }
        self.persist()
    }

    /// Forgets everything (log truncated fully).
    pub(crate) fn clear(&mut self) -> Result<(), LogError> {
        self.entries.clear();
        self.persist()
    }

    fn persist(&self) -> Result<(), LogError> {
        let entries: Vec<Vec<i64>> = self.entries.iter().map(|&(e, o)| vec![i64::from(e), o]).collect();
        checkpoint::write(&self.path, &entries, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_lookup_truncate_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(cache.end_offset_for(5, 0), None);
        cache.assign(1, 0).unwrap();
        cache.assign(1, 10).unwrap();
        cache.assign(4, 20).unwrap();
        cache.assign(6, 30).unwrap();
        assert_eq!(cache.end_offset_for(0, 40), None);
        assert_eq!(cache.end_offset_for(1, 40), Some((1, 20)));
        assert_eq!(cache.end_offset_for(5, 40), Some((4, 30)));
        assert_eq!(cache.end_offset_for(9, 40), Some((6, 40)));
        cache.truncate_from_end(25).unwrap();
        assert_eq!(cache.latest_epoch(), Some(4));
        cache.truncate_from_start(5).unwrap();
        let reloaded = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(reloaded.entries, vec![(1, 5), (4, 20)]);
    }
}
