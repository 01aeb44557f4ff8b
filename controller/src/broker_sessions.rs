//! Broker sessions as the active controller keeps them: the pure [`BrokerHeartbeatTracker`] fed with
//! the injected clock's **monotonic** reading, so a step of this node's wall clock neither fences
//! every healthy broker at once (forward) nor keeps a dead one unfenced for the length of the step
//! (backward). Sessions start afresh whenever this node begins a new term as leader.
//!
//! ```text
//!  RegisterBroker / Heartbeat ─► heartbeat(broker) ─► tracker.heartbeat(broker, clock.monotonic_ms())
//!  session check (~250 ms) ───► expired()         ─► fence_broker for each
//!  metrics, DescribeBrokers ──► age_ms(broker)
//! ```

use std::sync::Arc;

use crate::clock::Clock;
use crate::metadata::MetadataImage;
use crate::metadata::ops::BrokerHeartbeatTracker;

/// Every broker's session, timed on the monotonic clock.
pub struct BrokerSessions {
    clock: Arc<dyn Clock>,
    session_timeout_ms: i64,
    tracker: BrokerHeartbeatTracker,
    leader_term: Option<u64>,
}

impl BrokerSessions {
    /// No sessions yet; a broker silent for more than `session_timeout_ms` (on `clock`'s monotonic
    /// reading) expires.
    pub fn new(clock: Arc<dyn Clock>, session_timeout_ms: i64) -> Self {
        Self { clock, session_timeout_ms, tracker: BrokerHeartbeatTracker::new(), leader_term: None }
    }

    /// When `term` is not the term sessions were last started in (this node has just become leader),
    /// gives every unfenced broker of `image` a fresh session, as Kafka's controller does after a
    /// failover.
    pub fn refresh(&mut self, term: u64, image: &MetadataImage) {
        if self.leader_term != Some(term) {
            self.tracker = BrokerHeartbeatTracker::from_image(image, self.clock.monotonic_ms());
            self.leader_term = Some(term);
        }
    }

    /// Records a heartbeat (or a registration) from `broker_id` now.
    pub fn heartbeat(&mut self, broker_id: i32) {
        self.tracker.heartbeat(broker_id, self.clock.monotonic_ms());
    }

    /// Whether `broker_id` heartbeat within the session timeout.
    pub fn has_live_session(&self, broker_id: i32) -> bool {
        self.tracker.has_live_session(broker_id, self.clock.monotonic_ms(), self.session_timeout_ms)
    }

    /// Brokers whose session expired, by id.
    pub fn expired(&self) -> Vec<i32> {
        self.tracker.expired(self.clock.monotonic_ms(), self.session_timeout_ms)
    }

    /// Forgets `broker_id` (fenced: no longer expected to expire).
    pub fn remove(&mut self, broker_id: i32) {
        self.tracker.remove(broker_id);
    }

    /// Milliseconds since `broker_id` last heartbeat (`None`: not since sessions started).
    pub fn age_ms(&self, broker_id: i32) -> Option<i64> {
        let now = self.clock.monotonic_ms();
        self.tracker.last_heartbeat_ms(broker_id).map(|t| now.saturating_sub(t).max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::metadata::ops::test_support::with_brokers;

    const SESSION_MS: i64 = 2_000;

    fn sessions(clock: &Arc<ManualClock>) -> BrokerSessions {
        let mut sessions = BrokerSessions::new(clock.clone(), SESSION_MS);
        sessions.refresh(1, &with_brokers([1, 2]));
        sessions
    }

    #[test]
    fn a_forward_wall_jump_fences_nobody_and_ages_stay_small() {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000, 0));
        let mut sessions = sessions(&clock);
        clock.advance(500);
        sessions.heartbeat(1);
        sessions.heartbeat(2);
        clock.jump_wall(600_000);
        clock.advance(250);
        assert!(sessions.expired().is_empty(), "a +600 s step expires no session");
        assert_eq!(sessions.age_ms(1), Some(250), "the age is not the step");
        assert!(sessions.has_live_session(2));
    }

    #[test]
    fn a_backward_wall_jump_still_fences_a_silent_broker_within_the_session_timeout() {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000, 0));
        let mut sessions = sessions(&clock);
        clock.jump_wall(-60_000);
        for _ in 0..4 {
            clock.advance(500);
            sessions.heartbeat(1);
        }
        assert!(sessions.expired().is_empty(), "exactly the session timeout: not yet");
        clock.advance(1);
        assert_eq!(sessions.expired(), [2], "broker 2 silent for over 2 s, 60 s step or not");
        assert!(!sessions.has_live_session(2));
        sessions.remove(2);
        assert!(sessions.expired().is_empty());
        assert_eq!(sessions.age_ms(2), None);
    }

    #[test]
    fn a_new_term_starts_every_unfenced_brokers_session_afresh() {
        let clock = Arc::new(ManualClock::new(0, 0));
        let mut sessions = sessions(&clock);
        clock.advance(SESSION_MS + 1);
        assert_eq!(sessions.expired(), [1, 2]);
        sessions.refresh(1, &with_brokers([1, 2]));
        assert_eq!(sessions.expired(), [1, 2], "same term: nothing restarts");
        sessions.refresh(2, &with_brokers([1, 2]));
        assert!(sessions.expired().is_empty());
        assert_eq!(sessions.age_ms(1), Some(0));
    }
}
