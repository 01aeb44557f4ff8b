//! Automatic leader rebalancing (`auto.leader.rebalance.enable`): every
//! `leader.imbalance.check.interval.ms` the active controller runs preferred elections for the
//! partitions [`ops::partitions_to_rebalance`] picks, through the same decide → Raft write → apply
//! path as every other change. Followers do nothing (the decision is refused with NOT_CONTROLLER
//! before it looks at the image).
//!
//! ```text
//!  tick ─► BrokerApiService::decide(partitions_to_rebalance → elect_leaders(PREFERRED)) ─► Raft write
//! ```

use std::time::Duration;

use crate::broker_api::{BrokerApiService, DecideError};
use crate::metadata::ops::{self, ElectionType};

/// Settings of the rebalancing task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderRebalanceSettings {
    /// `leader.imbalance.check.interval.ms`: time between checks (at least 1 ms).
    pub check_interval: Duration,
    /// `leader.imbalance.per.broker.percentage`: a broker's imbalance that triggers elections.
    pub imbalance_percentage: u32,
}

/// Runs one check: on the active controller, commits preferred elections for the partitions of
/// brokers whose leader imbalance exceeds the percentage. Returns how many partitions changed leader
/// (0 on a follower or when nothing needed moving).
pub async fn rebalance_once(service: &BrokerApiService, imbalance_percentage: u32) -> usize {
    let outcome = service
        .decide(|image| {
            let plan = ops::partitions_to_rebalance(image, imbalance_percentage);
            Ok(ops::elect_leaders(image, ElectionType::Preferred, Some(&plan)))
        })
        .await;
    let results = match outcome {
        Ok((_, results)) => results,
        Err(DecideError::Refused(e)) => {
            tracing::warn!(error = %e, "leader rebalance refused");
            return 0;
        }
        Err(DecideError::Controller(e)) => {
            tracing::trace!(error = %e, "leader rebalance not run");
            return 0;
        }
    };
    let mut elected = 0;
    for topic in results {
        for (partition, result) in topic.partitions {
            match result {
                Ok(()) => {
                    elected += 1;
                    tracing::info!(topic = %topic.topic, partition, "leader rebalance: preferred replica elected");
                }
                Err(e) => {
                    tracing::debug!(topic = %topic.topic, partition, error = %e, "leader rebalance skipped")
                }
            }
        }
    }
    elected
}

/// Runs [`rebalance_once`] every `check_interval` (first after one interval) until the task is
/// dropped.
pub async fn run(service: BrokerApiService, settings: LeaderRebalanceSettings) {
    let period = settings.check_interval.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        rebalance_once(&service, settings.imbalance_percentage).await;
    }
}
