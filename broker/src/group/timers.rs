//! The group's deadlines and what happens when they pass: member sessions (Kafka's heartbeat
//! purgatory), pending member ids, the sync phase (`DelayedSync`) and the join phase (`DelayedJoin`,
//! `InitialDelayedJoin`). Every operation fires the due ones first, so the outcome depends only on
//! the times passed in, not on how often the coordinator ticks.

use super::history::RebalanceCause;
use super::messages::{Effect, TickOutcome};
use super::state::{Group, GroupState};

/// A deadline; the order of the variants breaks ties between equal deadlines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A member's session (or new-member join timeout) expired.
    Session(String),
    /// A member id handed out with MEMBER_ID_REQUIRED was never used.
    PendingMember(String),
    /// Members did not send SyncGroup within the rebalance timeout.
    Sync,
    /// The join phase's rebalance timeout or initial delay passed.
    Join,
}

impl Group {
    /// Fires every timer due at `now_ms` and completes a join phase that can complete; returns the
    /// responses now due and when the group next needs a tick.
    pub fn tick(&mut self, now_ms: i64) -> TickOutcome {
        let mut effects = Vec::new();
        self.settle(now_ms, &mut effects);
        TickOutcome { effects, next_deadline_ms: self.next_deadline_ms() }
    }

    /// The earliest pending deadline, `None` when no timer runs (Stable with every session answered
    /// by a waiting request, Empty, Dead).
    pub fn next_deadline_ms(&self) -> Option<i64> {
        self.timers().into_iter().map(|(deadline, _)| deadline).min()
    }

    /// Brings the group up to `now_ms`: completes a ready join phase and fires due timers in deadline
    /// order until nothing more is due.
    pub(super) fn settle(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        loop {
            if self.state == GroupState::Dead {
                return;
            }
            if self.join_ready() {
                self.complete_join(now_ms, fx);
                continue;
            }
            if self.sync_deadline_ms.is_some() && self.members().all(|m| !m.sync_expected) {
                self.sync_deadline_ms = None;
            }
            let due = self.timers().into_iter().filter(|(deadline, _)| *deadline <= now_ms).min();
            match due {
                Some((_, timer)) => self.fire(timer, now_ms, fx),
                None => return,
            }
        }
    }

    fn timers(&self) -> Vec<(i64, Timer)> {
        let mut timers: Vec<(i64, Timer)> = Vec::new();
        if self.state == GroupState::Dead {
            return timers;
        }
        for member in self.members() {
            if let Some(deadline) = member.session_deadline_ms(&self.config) {
                timers.push((deadline, Timer::Session(member.member_id.clone())));
            }
        }
        for (member_id, deadline) in &self.pending_members {
            timers.push((*deadline, Timer::PendingMember(member_id.clone())));
        }
        if let Some(deadline) = self.sync_deadline_ms {
            timers.push((deadline, Timer::Sync));
        }
        if let Some(phase) = &self.join_phase {
            timers.push((phase.deadline_ms, Timer::Join));
        }
        timers
    }

    fn fire(&mut self, timer: Timer, now_ms: i64, fx: &mut Vec<Effect>) {
        match timer {
            Timer::Session(member_id) => {
                tracing::info!(group_id = %self.group_id, %member_id, "member session expired");
                let cause = RebalanceCause::SessionTimeout { member_id: member_id.clone() };
                self.remove_member_and_update(&member_id, cause, now_ms, fx);
            }
            Timer::PendingMember(member_id) => {
                self.pending_members.remove(&member_id);
            }
            Timer::Sync => self.expire_pending_sync(now_ms, fx),
            Timer::Join => self.expire_join_phase(now_ms, fx),
        }
    }

    /// Kafka's `onExpirePendingSync`: members that got their JoinGroup response but sent no SyncGroup
    /// are removed and the group rebalances.
    fn expire_pending_sync(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        self.sync_deadline_ms = None;
        let member_ids: Vec<String> =
            self.members().filter(|m| m.sync_expected).map(|m| m.member_id.clone()).collect();
        if member_ids.is_empty()
            || !matches!(self.state, GroupState::CompletingRebalance | GroupState::Stable)
        {
            return;
        }
        tracing::info!(group_id = %self.group_id, ?member_ids, "removing members that never sent SyncGroup");
        for member_id in &member_ids {
            self.remove_member(member_id);
        }
        self.prepare_rebalance(RebalanceCause::RebalanceTimeout { member_ids }, now_ms, fx);
    }

    /// The join phase's deadline: an initial delay that saw new members waits again (up to the
    /// rebalance timeout in all); otherwise the phase completes with whoever rejoined.
    fn expire_join_phase(&mut self, now_ms: i64, fx: &mut Vec<Effect>) {
        let configured_delay = i64::from(self.config.initial_rebalance_delay_ms);
        if let Some(phase) = self.join_phase.as_mut()
            && let Some(initial) = phase.initial_delay.as_mut()
            && initial.new_member_added
            && initial.remaining_ms != 0
        {
            let delay = configured_delay.min(initial.remaining_ms);
            initial.new_member_added = false;
            initial.remaining_ms = (initial.remaining_ms - initial.delay_ms).max(0);
            initial.delay_ms = delay;
            phase.deadline_ms = now_ms + delay;
            return;
        }
        self.complete_join(now_ms, fx);
    }
}
