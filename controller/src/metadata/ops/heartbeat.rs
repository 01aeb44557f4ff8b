//! Broker sessions (Kafka's `BrokerHeartbeatManager`): when each broker last heartbeat, kept in the
//! active controller's memory only, never in the image. Time is an argument; nothing here reads a
//! clock. Callers pass monotonic milliseconds ([`crate::broker_sessions`]), never wall-clock ones: a
//! step of the wall clock must neither expire nor prolong a session. A controller that becomes
//! active starts every registered broker's session afresh ([`BrokerHeartbeatTracker::from_image`])
//! rather than fencing brokers it has not heard from yet.

use std::collections::BTreeMap;

use crate::metadata::image::MetadataImage;

/// Last heartbeat time of each broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerHeartbeatTracker {
    last_heartbeat_ms: BTreeMap<i32, i64>,
}

impl BrokerHeartbeatTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker in which every unfenced broker of `image` heartbeat at `now_ms` (for a newly active
    /// controller).
    pub fn from_image(image: &MetadataImage, now_ms: i64) -> Self {
        let last_heartbeat_ms =
            image.brokers().filter(|b| !b.fenced).map(|b| (b.broker_id, now_ms)).collect();
        Self { last_heartbeat_ms }
    }

    /// Records a heartbeat (or a registration) from `broker_id` at `now_ms`. Time never goes back: an
    /// older `now_ms` than the last one is ignored.
    pub fn heartbeat(&mut self, broker_id: i32, now_ms: i64) {
        let last = self.last_heartbeat_ms.entry(broker_id).or_insert(now_ms);
        *last = (*last).max(now_ms);
    }

    /// Forgets `broker_id` (unregistered, or fenced and no longer expected to expire).
    pub fn remove(&mut self, broker_id: i32) {
        self.last_heartbeat_ms.remove(&broker_id);
    }

    /// When `broker_id` last heartbeat.
    pub fn last_heartbeat_ms(&self, broker_id: i32) -> Option<i64> {
        self.last_heartbeat_ms.get(&broker_id).copied()
    }

    /// Whether `broker_id` heartbeat within the last `session_timeout_ms`.
    pub fn has_live_session(&self, broker_id: i32, now_ms: i64, session_timeout_ms: i64) -> bool {
        self.last_heartbeat_ms(broker_id)
            .is_some_and(|last| now_ms.saturating_sub(last) <= session_timeout_ms)
    }

    /// Brokers whose last heartbeat is more than `session_timeout_ms` before `now_ms`, by id. The
    /// caller fences those still unfenced ([`fence_broker`](super::fence_broker)) and may
    /// [`remove`](Self::remove) them.
    pub fn expired(&self, now_ms: i64, session_timeout_ms: i64) -> Vec<i32> {
        self.last_heartbeat_ms
            .iter()
            .filter(|(_, last)| now_ms.saturating_sub(**last) > session_timeout_ms)
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_after_session_timeout() {
        let mut tracker = BrokerHeartbeatTracker::new();
        tracker.heartbeat(1, 0);
        tracker.heartbeat(2, 500);
        assert!(tracker.expired(1000, 1000).is_empty());
        assert_eq!(tracker.expired(1001, 1000), vec![1]);
        assert_eq!(tracker.expired(1501, 1000), vec![1, 2]);
        tracker.heartbeat(1, 1400);
        tracker.heartbeat(1, 100);
        assert_eq!(tracker.last_heartbeat_ms(1), Some(1400));
        assert!(tracker.has_live_session(1, 2400, 1000));
        tracker.remove(2);
        assert_eq!(tracker.expired(5000, 1000), vec![1]);
    }
}
