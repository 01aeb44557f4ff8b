//! Leader side of a partition's replication: serving follower fetches (divergence check, follower
//! progress, high watermark), proposing ISR changes, and waiting for acks=all.

use std::time::Duration;

use bytes::Bytes;

use super::{Partition, Progress, Role, check_leader_epoch, log_error_code};
use crate::error_code::ErrorCode;
use crate::metadata::image::LeaderRecoveryState;

/// A follower fetch served by the leader.
#[derive(Debug, Clone)]
pub struct FollowerRead {
    /// Whole batches from the fetch offset, up to the log end offset (empty on divergence).
    pub records: Bytes,
    /// High watermark after recording the follower's progress.
    pub high_watermark: i64,
    /// Log start offset.
    pub log_start_offset: i64,
    /// Where the follower's log diverges from the leader's: `(epoch, end offset)` of the largest
    /// leader epoch <= the follower's last fetched epoch (KIP-595's `DivergingEpoch`).
    pub diverging: Option<(i32, i64)>,
    /// The fetch moved the high watermark (consumers waiting on it should wake).
    pub high_watermark_moved: bool,
}

/// An ISR change the leader wants the controller to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    /// Leader epoch the proposal is made in.
    pub leader_epoch: i32,
    /// Partition epoch it is based on.
    pub partition_epoch: i32,
    /// The ISR asked for.
    pub new_isr: Vec<i32>,
    /// Recovery state to report (`Recovered` once an uncleanly elected leader is ready).
    pub leader_recovery_state: LeaderRecoveryState,
}

impl Partition {
    /// Serves a fetch from follower `replica_id` at `fetch_offset`: checks the follower's leader epoch
    /// (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), reports divergence from `last_fetched_epoch`,
    /// otherwise records the follower's progress as of `now_ms` (when the fetch was received, on the
    /// monotonic clock) and returns batches up to the log end offset (at most `max_bytes`; with
    /// `min_one`, at least the first batch).
    #[allow(clippy::too_many_arguments)]
    pub fn read_for_follower(
        &self,
        replica_id: i32,
        fetch_offset: i64,
        last_fetched_epoch: i32,
        current_leader_epoch: i32,
        max_bytes: usize,
        min_one: bool,
        now_ms: i64,
    ) -> Result<FollowerRead, ErrorCode> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        if !matches!(inner.role, Role::Leader(_)) {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        check_leader_epoch(current_leader_epoch, inner.leader_epoch)?;
        let log_start_offset = inner.log.log_start_offset();
        if last_fetched_epoch >= 0 {
            let (epoch, end) = inner.log.end_offset_for_epoch(last_fetched_epoch).unwrap_or((-1, -1));
            if epoch != last_fetched_epoch || end < fetch_offset {
                return Ok(FollowerRead {
                    records: Bytes::new(),
                    high_watermark: inner.high_watermark,
                    log_start_offset,
                    diverging: Some((epoch, end)),
                    high_watermark_moved: false,
                });
            }
        }
        let leo = inner.log.log_end_offset();
        if fetch_offset < log_start_offset || fetch_offset > leo {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        let Role::Leader(state) = &mut inner.role else { return Err(ErrorCode::NotLeaderOrFollower) };
        if !state.record_fetch(replica_id, fetch_offset, leo, now_ms) {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        let moved = inner.advance_high_watermark();
        if moved {
            self.publish(&inner);
        }
        let records =
            inner.log.read(fetch_offset, max_bytes, i64::MAX, min_one).map_err(|e| log_error_code(&e))?;
        Ok(FollowerRead {
            records,
            high_watermark: inner.high_watermark,
            log_start_offset,
            diverging: None,
            high_watermark_moved: moved,
        })
    }

    /// The ISR change due now, if any (laggards out after `lag_max_ms`, caught-up replicas in, or an
    /// uncleanly elected leader reporting recovery) at `now_ms` on the monotonic clock; it is marked in
    /// flight until [`isr_change_done`](Self::isr_change_done) or a new partition epoch.
    pub fn propose_isr_change(&self, now_ms: i64, lag_max_ms: i64) -> Option<IsrProposal> {
        let mut inner = self.lock();
        let hw = inner.high_watermark;
        let leader_epoch = inner.leader_epoch;
        let Role::Leader(state) = &mut inner.role else { return None };
        let new_isr = state.isr_change(hw, now_ms, lag_max_ms)?;
        state.set_pending(new_isr.clone());
        Some(IsrProposal {
            leader_epoch,
            partition_epoch: state.partition_epoch,
            new_isr,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        })
    }

    /// Ends an in-flight ISR change made in `leader_epoch` without waiting for the image (the
    /// controller refused it or could not be reached; the next check proposes again).
    pub fn isr_change_done(&self, leader_epoch: i32) {
        let mut inner = self.lock();
        if inner.leader_epoch != leader_epoch {
            return;
        }
        if let Role::Leader(state) = &mut inner.role {
            state.clear_pending();
        }
    }

    /// `min.insync.replicas` in force.
    pub fn min_isr(&self) -> i64 {
        self.lock().min_isr
    }

    /// acks=all: waits until the high watermark passes `last_offset` (appended in `leader_epoch`).
    /// NOT_LEADER_OR_FOLLOWER if leadership moves on meanwhile, NOT_ENOUGH_REPLICAS_AFTER_APPEND if the
    /// ISR shrinks below `min.insync.replicas` first, REQUEST_TIMED_OUT after `timeout`.
    pub async fn wait_committed(
        &self,
        last_offset: i64,
        leader_epoch: i32,
        timeout: Duration,
    ) -> Result<(), ErrorCode> {
        let mut rx = self.progress.subscribe();
        let done = |p: &Progress| {
            !p.is_leader
                || p.leader_epoch != leader_epoch
                || p.high_watermark > last_offset
                || (p.isr_len as i64) < p.min_isr
        };
        let progress = match tokio::time::timeout(timeout, rx.wait_for(done)).await {
            Ok(Ok(progress)) => *progress,
            Ok(Err(_)) => return Err(ErrorCode::NotLeaderOrFollower),
            Err(_) => return Err(ErrorCode::RequestTimedOut),
        };
        if progress.high_watermark > last_offset && progress.leader_epoch == leader_epoch {
            Ok(())
        } else if !progress.is_leader || progress.leader_epoch != leader_epoch {
            Err(ErrorCode::NotLeaderOrFollower)
        } else {
            Err(ErrorCode::NotEnoughReplicasAfterAppend)
        }
    }
}
