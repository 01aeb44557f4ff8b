//! Follower side of a partition's replication: the position to fetch from, appending the leader's
//! batches with their offsets and epochs, truncating a divergent tail, and taking the leader's high
//! watermark and log start offset.

use bytes::Bytes;

use super::{Partition, Role, batch_error_code};
use crate::error_code::ErrorCode;
use crate::log::LogError;
use crate::record::batch;

/// Records a truncation discarded: `[start_offset, end_offset)`, the latest leader epoch among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discarded {
    /// First offset discarded.
    pub start_offset: i64,
    /// One past the last offset discarded.
    pub end_offset: i64,
    /// Latest leader epoch in the discarded part (the log's latest epoch before truncating).
    pub epoch: i32,
}

/// The leader's answer that this replica's log diverges: the largest leader epoch <= the follower's
/// last fetched epoch, and where that epoch ends on the leader (epoch -1: none in common).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Divergence {
    /// Leader epoch.
    pub epoch: i32,
    /// End offset of that epoch on the leader.
    pub end_offset: i64,
}

impl super::Inner {
    /// Whether a fetch answered for `leader_epoch` may still change this replica: it follows in that
    /// epoch. A response that arrives after the replica was promoted, or moved to another leader, is
    /// stale and must not touch the log.
    fn following_in(&self, leader_epoch: i32) -> bool {
        !self.deleted
            && !self.closed
            && matches!(self.role, Role::Follower)
            && self.leader_epoch == leader_epoch
    }
}

impl Partition {
    /// Where a follower fetches from: `(log end offset, epoch of the last batch or -1)`.
    pub fn fetch_position(&self) -> (i64, i32) {
        let inner = self.lock();
        (inner.log.log_end_offset(), inner.log.latest_epoch().unwrap_or(-1))
    }

    /// Appends batches fetched from the leader, keeping their offsets and leader epochs, after checking
    /// their framing and CRCs, and records their producers. Returns the new log end offset.
    /// NOT_LEADER_OR_FOLLOWER if this replica no longer follows in `leader_epoch` (a stale response).
    pub fn append_replica(&self, leader_epoch: i32, records: &Bytes, now_ms: i64) -> Result<i64, ErrorCode> {
        let batches = batch::split_batches(records).map_err(|e| batch_error_code(&e))?;
        let mut inner = self.lock();
        if !inner.following_in(leader_epoch) {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        inner.log.append_with_offsets(records, now_ms).map_err(|e| {
            tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "replica append failed");
            super::log_error_code(&e)
        })?;
        for (_, header) in &batches {
            let timestamp = if header.is_log_append_time() { header.max_timestamp } else { -1 };
            inner.producers.record(header, timestamp);
        }
        Ok(inner.log.log_end_offset())
    }

    /// Truncates after the leader reported divergence (Kafka's rule): to the smaller of the leader's
    /// and this log's end of the diverging epoch when both know it, else to the end of the largest
    /// epoch this log has below it (the next fetch checks again). Returns what was discarded, if
    /// anything; does nothing unless this replica still follows in `leader_epoch`.
    pub fn truncate_diverging(
        &self,
        leader_epoch: i32,
        divergence: Divergence,
    ) -> Result<Option<Discarded>, LogError> {
        let mut inner = self.lock();
        if !inner.following_in(leader_epoch) {
            return Ok(None);
        }
        let local =
            if divergence.epoch >= 0 { inner.log.end_offset_for_epoch(divergence.epoch) } else { None };
        let target = match local {
            Some((epoch, end)) if epoch == divergence.epoch => end.min(divergence.end_offset),
            Some((_, end)) => end,
            None => inner.log.log_start_offset(),
        };
        self.truncate_locked(&mut inner, target)
    }

    /// Truncates the log to `offset` (whole batches; below the log start the log restarts there) and
    /// drops producer state past it, while following in `leader_epoch`. Returns what was discarded,
    /// if anything.
    pub fn truncate_to(&self, leader_epoch: i32, offset: i64) -> Result<Option<Discarded>, LogError> {
        let mut inner = self.lock();
        if !inner.following_in(leader_epoch) {
            return Ok(None);
        }
        self.truncate_locked(&mut inner, offset)
    }

    /// Empties the log and restarts it at `offset` (the leader's log start is past this whole log),
    /// while following in `leader_epoch`.
    pub fn restart_at(&self, leader_epoch: i32, offset: i64) -> Result<(), LogError> {
        let mut inner = self.lock();
        if !inner.following_in(leader_epoch) {
            return Ok(());
        }
        inner.log.restart_at(offset)?;
        inner.producers.truncate_to(0);
        inner.high_watermark = offset;
        tracing::warn!(topic = %self.topic, partition = self.index, offset, "restarted log at the leader's log start");
        self.publish(&inner);
        Ok(())
    }

    fn truncate_locked(&self, inner: &mut super::Inner, offset: i64) -> Result<Option<Discarded>, LogError> {
        let before = inner.log.log_end_offset();
        if offset >= before && offset >= inner.log.log_start_offset() {
            inner.log.truncate_to(offset)?;
            return Ok(None);
        }
        let epoch = inner.log.latest_epoch().unwrap_or(-1);
        inner.log.truncate_to(offset)?;
        let after = inner.log.log_end_offset();
        inner.producers.truncate_to(after);
        inner.high_watermark = inner.high_watermark.min(after);
        tracing::warn!(topic = %self.topic, partition = self.index, from = before, to = after,
            "truncated divergent log tail");
        self.publish(inner);
        Ok((after < before).then_some(Discarded { start_offset: after, end_offset: before, epoch }))
    }

    /// Takes the leader's high watermark (capped at this log's end) and log start offset, while
    /// following in `leader_epoch`.
    pub fn follow_leader_offsets(
        &self,
        leader_epoch: i32,
        leader_high_watermark: i64,
        leader_log_start: i64,
    ) -> Result<(), LogError> {
        let mut inner = self.lock();
        if !inner.following_in(leader_epoch) {
            return Ok(());
        }
        let leo = inner.log.log_end_offset();
        if leader_log_start > inner.log.log_start_offset() && leader_log_start <= leo {
            inner.log.delete_records_before(leader_log_start)?;
        }
        let hw = leader_high_watermark.min(leo);
        if hw > inner.high_watermark {
            inner.high_watermark = hw;
            self.publish(&inner);
        }
        Ok(())
    }
}
