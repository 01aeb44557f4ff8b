//! The ISR task: every tick it asks each partition this broker leads whether an ISR change is due
//! (see [`super::leader`]) and sends those changes to the controller as AlterPartition requests,
//! concurrently. A change is in flight until the image shows the new partition epoch or the
//! controller answers; a refused or failed change is proposed again on a later tick if still due.
//! Lag is judged on the monotonic clock (follower fetches are timed on it too); only the truncation
//! reports, which the controller keeps in its data-loss ledger, carry a wall-clock timestamp.

use std::sync::Arc;
use std::time::Duration;

use strom_controller::request::ControllerRequest;
use tokio::sync::watch;

use crate::metadata::ops::{AlterPartitionRequest, TruncationReport};
use crate::partition::Partition;
use crate::replication::fetcher::TruncationEvent;
use crate::state::BrokerState;

/// How often to check: a quarter of `replica.lag.time.max.ms`, between 10 ms and 1 s.
pub fn tick(lag_max_ms: u64) -> Duration {
    Duration::from_millis((lag_max_ms / 4).clamp(10, 1_000))
}

/// Runs until `shutdown` flips.
pub async fn run(state: Arc<BrokerState>, mut shutdown: watch::Receiver<bool>) {
    let lag_max_ms = state.config.replica_lag_time_max_ms as i64;
    let mut ticker = tokio::time::interval(tick(state.config.replica_lag_time_max_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now_ms = state.clock.now_ms();
        for event in state.replicas.take_truncations() {
            tokio::spawn(report_truncation(state.clone(), event, now_ms));
        }
        let monotonic_ms = state.clock.monotonic_ms();
        let proposals: Vec<_> = state
            .replicas
            .all()
            .into_iter()
            .filter_map(|p| p.propose_isr_change(monotonic_ms, lag_max_ms).map(|proposal| (p, proposal)))
            .collect();
        if proposals.is_empty() {
            continue;
        }
        let mut sends = tokio::task::JoinSet::new();
        for (partition, proposal) in proposals {
            sends.spawn(send(state.clone(), partition, proposal));
        }
        while sends.join_next().await.is_some() {}
    }
}

async fn send(state: Arc<BrokerState>, partition: Arc<Partition>, proposal: crate::partition::IsrProposal) {
    let image = state.image();
    let node_id = state.config.node_id;
    let broker_epoch = image.broker(node_id).map_or(-1, |b| b.broker_epoch);
    let current = image.topic(&partition.topic).and_then(|t| t.partitions.get(&partition.index));
    let old_isr = current.map(|p| p.isr.clone()).unwrap_or_default();
    let request = AlterPartitionRequest {
        broker_id: node_id,
        broker_epoch,
        topic_id: partition.topic_id,
        partition: partition.index,
        leader_epoch: proposal.leader_epoch,
        partition_epoch: proposal.partition_epoch,
        new_isr: proposal.new_isr.clone(),
        leader_recovery_state: proposal.leader_recovery_state,
    };
    match state.execute(ControllerRequest::AlterPartition { request }).await {
        Ok(_) => {
            if proposal.new_isr.len() < old_isr.len() {
                state.metrics.isr_shrinks.increment(1);
            } else if proposal.new_isr.len() > old_isr.len() {
                state.metrics.isr_expands.increment(1);
            }
            tracing::info!(topic = %partition.topic, partition = partition.index, ?old_isr,
                new_isr = ?proposal.new_isr, "ISR changed");
        }
        Err(e) => {
            tracing::info!(topic = %partition.topic, partition = partition.index, code = ?e.code,
                error = %e.message, new_isr = ?proposal.new_isr, "ISR change refused");
        }
    }
    partition.isr_change_done(proposal.leader_epoch);
}

/// Tells the controller about a truncation (the data-loss ledger records it if an unclean election
/// caused it). A failed report is logged: the truncation itself is already logged by the partition.
async fn report_truncation(state: Arc<BrokerState>, event: TruncationEvent, now_ms: i64) {
    let node_id = state.config.node_id;
    let broker_epoch = state.image().broker(node_id).map_or(-1, |b| b.broker_epoch);
    let partition = &event.partition;
    let report = TruncationReport {
        broker_id: node_id,
        broker_epoch,
        topic_id: partition.topic_id,
        partition: partition.index,
        leader_epoch: event.leader_epoch,
        discarded_epoch: event.discarded.epoch,
        start_offset: event.discarded.start_offset,
        end_offset: event.discarded.end_offset,
        timestamp_ms: now_ms,
    };
    tracing::info!(topic = %partition.topic, partition = partition.index, ?report, "reporting a truncation");
    if let Err(e) = state.execute(ControllerRequest::ReportTruncation { report }).await {
        tracing::warn!(topic = %partition.topic, partition = partition.index, code = ?e.code,
            error = %e.message, "reporting a truncation failed");
    }
}
