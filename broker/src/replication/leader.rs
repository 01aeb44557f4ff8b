//! Leader-side replication state of one partition: each follower's log end offset and last caught-up
//! time, the high watermark, and which ISR change to ask the controller for. Pure: no I/O, time is
//! passed in, so every rule is unit tested. Every time here is on the **monotonic** clock
//! ([`crate::clock::Clock::monotonic_ms`]): a step of the wall clock must neither shrink every ISR
//! (forward) nor stop shrinking for the step's length (backward).
//!
//! Rules (Kafka's, with KIP-966's high-watermark rule):
//! - A follower's fetch offset is its log end offset. It was *caught up* at the time of a fetch whose
//!   offset reached the leader's log end offset then, or at the previous fetch if this one reached the
//!   leader's log end offset as of that previous fetch.
//! - High watermark = min(leader LEO, LEO of every member of the maximal ISR) — the committed ISR plus
//!   replicas an in-flight AlterPartition adds — and it never moves back. It does not advance while the
//!   committed ISR is smaller than `min.insync.replicas`.
//! - Shrink: an ISR follower not caught up for more than `replica.lag.time.max.ms` leaves the ISR.
//! - Expand: a replica outside the ISR that fetches, has caught up within the lag time, and whose LEO
//!   is at least the high watermark and the start offset of this leader epoch joins the ISR.
//! - A follower the image takes out of the ISR (shrink, controlled shutdown, fencing, a restart's new
//!   registration) forgets its progress: it rejoins only on fetches made after that. Otherwise a
//!   broker that restarted would be proposed back on its previous incarnation's fetches — before it
//!   fetched at all, with a log that may have lost its unflushed tail (Kafka's KIP-903).
//! - One AlterPartition at a time per partition; a new partition epoch in the image ends it.

use std::collections::BTreeMap;

use crate::metadata::PartitionImage;
use crate::metadata::image::LeaderRecoveryState;

/// What the leader knows about one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The follower's log end offset (its last fetch offset); -1 until it fetches in this epoch.
    pub log_end_offset: i64,
    /// Last time the follower was caught up with the leader's log end offset.
    pub last_caught_up_ms: i64,
    /// Time of the follower's last fetch (-1: none in this epoch).
    pub last_fetch_ms: i64,
    /// The leader's log end offset at the follower's last fetch.
    last_fetch_leader_leo: i64,
    /// When the image took the follower out of the ISR and its progress was forgotten (-1: never);
    /// fetches received before then are ignored.
    left_isr_ms: i64,
}

impl FollowerProgress {
    fn new(last_caught_up_ms: i64) -> Self {
        Self {
            log_end_offset: -1,
            last_caught_up_ms,
            last_fetch_ms: -1,
            last_fetch_leader_leo: -1,
            left_isr_ms: -1,
        }
    }

    fn left_isr(now_ms: i64) -> Self {
        Self { left_isr_ms: now_ms, ..Self::new(-1) }
    }
}

/// Replication state of a partition this broker leads.
#[derive(Debug, Clone)]
pub struct LeaderState {
    node_id: i32,
    /// Leader epoch this state belongs to.
    pub leader_epoch: i32,
    /// Partition epoch of the image last applied.
    pub partition_epoch: i32,
    /// Committed ISR (from the image).
    pub isr: Vec<i32>,
    /// Replica set (from the image).
    pub replicas: Vec<i32>,
    /// Elected uncleanly and not yet reported recovered.
    pub recovering: bool,
    /// The leader's log end offset when this epoch began.
    pub epoch_start_offset: i64,
    followers: BTreeMap<i32, FollowerProgress>,
    pending_isr: Option<Vec<i32>>,
}

impl LeaderState {
    /// State for a new leadership described by `view`, starting with the log end offset `leo`. ISR
    /// members count as caught up now, so none is dropped before it had a chance to fetch.
    pub fn new(node_id: i32, view: &PartitionImage, leo: i64, now_ms: i64) -> Self {
        let mut state = Self {
            node_id,
            leader_epoch: view.leader_epoch,
            partition_epoch: -1,
            isr: Vec::new(),
            replicas: Vec::new(),
            recovering: false,
            epoch_start_offset: leo,
            followers: BTreeMap::new(),
            pending_isr: None,
        };
        state.update(view, now_ms);
        state
    }

    /// Applies a newer image of the same leadership: ISR, replicas and partition epoch. A new
    /// partition epoch ends any in-flight ISR change. A follower the image takes out of the ISR
    /// starts over (see the module rules).
    pub fn update(&mut self, view: &PartitionImage, now_ms: i64) {
        if view.partition_epoch != self.partition_epoch {
            self.pending_isr = None;
        }
        self.partition_epoch = view.partition_epoch;
        for left in self.isr.iter().filter(|r| !view.isr.contains(r)) {
            if let Some(progress) = self.followers.get_mut(left) {
                *progress = FollowerProgress::left_isr(now_ms);
            }
        }
        self.isr = view.isr.clone();
        self.recovering = view.leader_recovery_state == LeaderRecoveryState::Recovering;
        self.replicas = view.replicas.clone();
        let node_id = self.node_id;
        self.followers.retain(|id, _| view.replicas.contains(id));
        for &r in view.replicas.iter().filter(|&&r| r != node_id) {
            let caught_up = if view.isr.contains(&r) { now_ms } else { -1 };
            self.followers.entry(r).or_insert_with(|| FollowerProgress::new(caught_up));
        }
    }

    /// A follower's progress, if it is a replica.
    pub fn follower(&self, broker_id: i32) -> Option<&FollowerProgress> {
        self.followers.get(&broker_id)
    }

    /// Records a fetch by `follower` at `fetch_offset`, received at `now_ms`, while the leader's log
    /// end offset is `leader_leo`. Returns false (and records nothing) if it is not a follower of this
    /// partition. A fetch received before the follower left the ISR records nothing: it may come from
    /// the incarnation that left (a long-polling request read again after the broker went away).
    pub fn record_fetch(&mut self, follower: i32, fetch_offset: i64, leader_leo: i64, now_ms: i64) -> bool {
        let Some(p) = self.followers.get_mut(&follower) else { return false };
        if now_ms < p.left_isr_ms {
            return true;
        }
        if fetch_offset >= leader_leo {
            p.last_caught_up_ms = p.last_caught_up_ms.max(now_ms);
        } else if p.last_fetch_ms >= 0 && fetch_offset >= p.last_fetch_leader_leo {
            p.last_caught_up_ms = p.last_caught_up_ms.max(p.last_fetch_ms);
        }
        p.log_end_offset = fetch_offset;
        p.last_fetch_ms = now_ms;
        p.last_fetch_leader_leo = leader_leo;
        true
    }

    /// The high watermark given the leader's log end offset, the current high watermark and
    /// `min.insync.replicas` (see the module rules). Never below `current`.
    pub fn high_watermark(&self, leader_leo: i64, current: i64, min_isr: i64) -> i64 {
        if (self.isr.len() as i64) < min_isr {
            return current;
        }
        let mut hw = leader_leo;
        for member in self.maximal_isr() {
            if member == self.node_id {
                continue;
            }
            let leo = self.followers.get(&member).map_or(-1, |p| p.log_end_offset);
            hw = hw.min(leo);
        }
        hw.max(current)
    }

    /// The committed ISR plus replicas an in-flight change adds.
    fn maximal_isr(&self) -> impl Iterator<Item = i32> + '_ {
        let added = self.pending_isr.iter().flatten().filter(|r| !self.isr.contains(r));
        self.isr.iter().chain(added).copied()
    }

    /// The ISR to ask the controller for, if a change is due and none is in flight: laggards out,
    /// caught-up replicas in. A recovering (uncleanly elected) leader first reports recovery with
    /// itself as the ISR; the caller sends `Recovered` with it.
    pub fn isr_change(&self, hw: i64, now_ms: i64, lag_max_ms: i64) -> Option<Vec<i32>> {
        if self.pending_isr.is_some() {
            return None;
        }
        if self.recovering {
            return Some(vec![self.node_id]);
        }
        let lagging = |p: &FollowerProgress| now_ms.saturating_sub(p.last_caught_up_ms) > lag_max_ms;
        let mut isr: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|r| *r == self.node_id || self.followers.get(r).is_none_or(|p| !lagging(p)))
            .collect();
        for (&id, p) in &self.followers {
            let fetching = p.last_fetch_ms >= 0 && now_ms.saturating_sub(p.last_fetch_ms) <= lag_max_ms;
            let caught_up = p.log_end_offset >= hw && p.log_end_offset >= self.epoch_start_offset;
            if !isr.contains(&id) && fetching && caught_up && !lagging(p) {
                isr.push(id);
            }
        }
        (isr != self.isr).then_some(isr)
    }

    /// Marks an AlterPartition proposing `isr` as in flight.
    pub fn set_pending(&mut self, isr: Vec<i32>) {
        self.pending_isr = Some(isr);
    }

    /// Ends the in-flight change (it failed; the next check may propose again).
    pub fn clear_pending(&mut self) {
        self.pending_isr = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAG: i64 = 10_000;

    fn view(isr: &[i32], partition_epoch: i32) -> PartitionImage {
        PartitionImage {
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            leader: 1,
            leader_epoch: 4,
            partition_epoch,
            leader_recovery_state: LeaderRecoveryState::Recovered,
            ..Default::default()
        }
    }

    #[test]
    fn high_watermark_is_the_minimum_over_the_isr_and_never_goes_back() {
        let mut s = LeaderState::new(1, &view(&[1, 2, 3], 0), 100, 0);
        assert_eq!(s.high_watermark(100, 90, 1), 90, "followers not heard from yet");
        s.record_fetch(2, 100, 100, 5);
        s.record_fetch(3, 95, 100, 5);
        assert_eq!(s.high_watermark(100, 90, 1), 95);
        s.record_fetch(3, 100, 100, 6);
        assert_eq!(s.high_watermark(110, 90, 1), 100);
        assert_eq!(s.high_watermark(110, 105, 1), 105, "never moves back");
    }

    #[test]
    fn high_watermark_waits_while_the_isr_is_below_min_insync() {
        let mut s = LeaderState::new(1, &view(&[1], 0), 100, 0);
        assert_eq!(s.high_watermark(100, 50, 2), 50);
        assert_eq!(s.high_watermark(100, 50, 1), 100, "the leader alone with min 1");
        s.update(&view(&[1, 2], 1), 0);
        s.record_fetch(2, 100, 100, 1);
        assert_eq!(s.high_watermark(100, 50, 2), 100);
    }

    #[test]
    fn a_lagging_follower_is_shrunk_and_a_caught_up_one_expands() {
        let mut s = LeaderState::new(1, &view(&[1, 2, 3], 0), 0, 0);
        s.record_fetch(2, 0, 0, 1_000);
        s.record_fetch(3, 0, 0, 1_000);
        assert_eq!(s.isr_change(0, 5_000, LAG), None);
        // Leader appends; follower 2 keeps up, follower 3 stops fetching.
        s.record_fetch(2, 50, 50, 12_000);
        assert_eq!(s.isr_change(50, 12_000, LAG), Some(vec![1, 2]));
        s.set_pending(vec![1, 2]);
        assert_eq!(s.isr_change(50, 12_000, LAG), None, "one change in flight");
        assert_eq!(s.high_watermark(50, 0, 1), 0, "maximal ISR still waits for 3");
        s.update(&view(&[1, 2], 1), 12_000);
        assert_eq!(s.high_watermark(50, 0, 1), 50);
        // Follower 3 resumes behind, then reaches the high watermark.
        s.record_fetch(3, 10, 60, 13_000);
        assert_eq!(s.isr_change(50, 13_000, LAG), None, "behind the high watermark");
        s.record_fetch(3, 60, 60, 13_100);
        assert_eq!(s.isr_change(60, 13_100, LAG), Some(vec![1, 2, 3]));
    }

    #[test]
    fn caught_up_time_follows_kafka_previous_fetch_rule() {
        let mut s = LeaderState::new(1, &view(&[1, 2], 0), 0, 0);
        s.record_fetch(2, 0, 100, 1_000);
        assert_eq!(s.follower(2).map(|p| p.last_caught_up_ms), Some(0), "behind, kept from start");
        s.record_fetch(2, 100, 150, 2_000);
        assert_eq!(s.follower(2).map(|p| p.last_caught_up_ms), Some(1_000), "reached LEO of last fetch");
        s.record_fetch(2, 150, 150, 3_000);
        assert_eq!(s.follower(2).map(|p| p.last_caught_up_ms), Some(3_000));
        assert!(!s.record_fetch(9, 0, 0, 0), "not a replica");
    }

    #[test]
    fn a_stalled_follower_is_not_readded_while_the_high_watermark_is_frozen() {
        let mut s = LeaderState::new(1, &view(&[1, 2], 0), 10, 0);
        s.record_fetch(2, 10, 10, 100);
        s.update(&view(&[1], 1), 20_000);
        assert_eq!(s.isr_change(10, 20_000, LAG), None, "no fetch since: stays out");
        s.record_fetch(2, 10, 10, 20_001);
        assert_eq!(s.isr_change(10, 20_001, LAG), Some(vec![1, 2]));
    }

    #[test]
    fn a_follower_that_left_the_isr_rejoins_only_on_fetches_received_after() {
        let mut s = LeaderState::new(1, &view(&[1, 2, 3], 0), 100, 0);
        s.record_fetch(2, 100, 100, 1_000);
        s.record_fetch(3, 100, 100, 1_000);
        // Broker 3 shuts down (or restarts and registers anew): the controller takes it out.
        s.update(&view(&[1, 2], 1), 2_000);
        assert_eq!(s.isr_change(100, 2_100, LAG), None, "not back on its previous incarnation's fetches");
        // Its last request, received before it left, is read again when the long poll wakes.
        s.record_fetch(3, 100, 100, 1_500);
        assert_eq!(s.isr_change(100, 2_200, LAG), None, "a request received before it left");
        assert_eq!(s.follower(3).map(|p| p.log_end_offset), Some(-1));
        s.record_fetch(3, 100, 100, 2_300);
        assert_eq!(s.isr_change(100, 2_300, LAG), Some(vec![1, 2, 3]));
    }

    #[test]
    fn wall_clock_steps_neither_shrink_the_isr_nor_keep_a_laggard_in() {
        use crate::clock::{Clock, ManualClock};
        let clock = ManualClock::new(1_700_000_000_000, 0);
        let mut s = LeaderState::new(1, &view(&[1, 2, 3], 0), 0, clock.monotonic_ms());
        clock.advance(1_000);
        s.record_fetch(2, 0, 0, clock.monotonic_ms());
        s.record_fetch(3, 0, 0, clock.monotonic_ms());
        let last_fetch_of_3 = clock.monotonic_ms();
        clock.jump_wall(60_000);
        clock.advance(500);
        assert_eq!(s.isr_change(0, clock.monotonic_ms(), LAG), None, "a +60 s step shrinks nothing");
        // With the wall clock 60 s behind, follower 3 stops fetching: it is out once LAG has passed.
        clock.jump_wall(-120_000);
        while clock.monotonic_ms() <= last_fetch_of_3 + LAG {
            assert_eq!(s.isr_change(0, clock.monotonic_ms(), LAG), None);
            clock.advance(1_000);
            s.record_fetch(2, 0, 0, clock.monotonic_ms());
        }
        assert_eq!(s.isr_change(0, clock.monotonic_ms(), LAG), Some(vec![1, 2]));
    }

    #[test]
    fn a_recovering_leader_reports_recovery_first() {
        let mut v = view(&[1], 0);
        v.leader_recovery_state = LeaderRecoveryState::Recovering;
        let s = LeaderState::new(1, &v, 0, 0);
        assert_eq!(s.isr_change(0, 0, LAG), Some(vec![1]));
    }
}
