//! Fetch (key 1), versions 4–12: whole batches from the partition logs, long-polling on `max_wait_ms` /
//! `min_bytes` through the replica manager's append notification, with the total `max_bytes` and
//! per-partition limits (the first batch of the response is returned even when larger). Fetch sessions
//! are not kept: every response has session id 0, which tells clients to send full requests.
//!
//! Consumers (`replica_id` < 0) read up to the high watermark. A follower broker (`replica_id` >= 0,
//! a replica of the partition) reads up to the log end offset; its fetch offset records its progress
//! (which may move the high watermark) and a divergent log is answered with `diverging_epoch`.

use std::time::Duration;

use kafka_protocol::messages::fetch_request::FetchPartition;
use kafka_protocol::messages::fetch_response::{EpochEndOffset, FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};

use super::RequestContext;
use crate::error_code::ErrorCode;
use crate::partition::check_leader_epoch;
use crate::state::BrokerState;

fn error_data(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_error_code(code.code())
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
}

/// A follower's fetch of one partition, received at `received_ms` (monotonic clock): its progress is recorded as of
/// then, however often the long poll reads again, so a request still waiting when its follower left
/// the ISR cannot bring that follower's old progress back.
fn read_follower(
    state: &BrokerState,
    replica_id: i32,
    name: &str,
    p: &FetchPartition,
    budget: usize,
    received_ms: i64,
) -> PartitionData {
    let image = state.image();
    let partition = match state.leader_partition_in(&image, name, p.partition) {
        Ok(partition) => partition,
        Err(code) => return error_data(p.partition, code),
    };
    let now_ms = state.clock.monotonic_ms();
    // A replica a reassignment is adding is served within the leader's replication throttle.
    let throttled = image
        .topic(name)
        .and_then(|t| t.partitions.get(&p.partition))
        .is_some_and(|view| view.adding_replicas.contains(&replica_id));
    let (budget, min_one) = match throttled {
        true => match state.replicas.throttle.available(now_ms) {
            0 => (0, false),
            tokens => (budget.min(tokens), true),
        },
        false => (budget, true),
    };
    let result = partition.read_for_follower(
        replica_id,
        p.fetch_offset,
        p.last_fetched_epoch,
        p.current_leader_epoch,
        budget,
        min_one,
        received_ms,
    );
    if throttled && let Ok(read) = &result {
        state.replicas.throttle.consume(read.records.len());
    }
    match result {
        Ok(read) => {
            if read.high_watermark_moved {
                state.replicas.notify_appended();
            }
            let mut data = PartitionData::default()
                .with_partition_index(p.partition)
                .with_high_watermark(read.high_watermark)
                .with_last_stable_offset(read.high_watermark)
                .with_log_start_offset(read.log_start_offset)
                .with_records(Some(read.records));
            if let Some((epoch, end_offset)) = read.diverging {
                data = data.with_diverging_epoch(
                    EpochEndOffset::default().with_epoch(epoch).with_end_offset(end_offset),
                );
            }
            data
        }
        Err(code) => {
            let offsets = partition.offsets();
            error_data(p.partition, code)
                .with_high_watermark(offsets.high_watermark)
                .with_last_stable_offset(offsets.high_watermark)
                .with_log_start_offset(offsets.log_start_offset)
        }
    }
}

/// One pass over the requested partitions. Returns the response topics and the bytes gathered.
fn read_all(
    state: &BrokerState,
    replica_id: i32,
    topics: &[(TopicName, Vec<FetchPartition>)],
    max_bytes: usize,
    read_committed: bool,
    received_ms: i64,
) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let mut total = 0usize;
    let mut any_error = false;
    let mut out = Vec::with_capacity(topics.len());
    for (name, partitions) in topics {
        let mut datas = Vec::with_capacity(partitions.len());
        for p in partitions {
            if replica_id >= 0 {
                let budget = (p.partition_max_bytes.max(0) as usize).min(max_bytes.saturating_sub(total));
                let data = read_follower(state, replica_id, name.0.as_str(), p, budget, received_ms);
                any_error |= data.error_code != 0 || data.diverging_epoch.end_offset >= 0;
                total += data.records.as_ref().map_or(0, |r| r.len());
                datas.push(data);
                continue;
            }
            let partition = match state.leader_partition(name.0.as_str(), p.partition) {
                Ok(partition) => partition,
                Err(code) => {
                    any_error = true;
                    datas.push(error_data(p.partition, code));
                    continue;
                }
            };
            if let Err(code) = check_leader_epoch(p.current_leader_epoch, partition.leader_epoch()) {
                any_error = true;
                datas.push(error_data(p.partition, code));
                continue;
            }
            let budget = (p.partition_max_bytes.max(0) as usize).min(max_bytes.saturating_sub(total));
            match partition.read(p.fetch_offset, budget, total == 0) {
                Ok(result) => {
                    total += result.records.len();
                    datas.push(
                        PartitionData::default()
                            .with_partition_index(p.partition)
                            .with_high_watermark(result.high_watermark)
                            .with_last_stable_offset(result.high_watermark)
                            .with_log_start_offset(result.log_start_offset)
                            .with_aborted_transactions(read_committed.then(Vec::new))
                            .with_records(Some(result.records)),
                    );
                }
                Err(code) => {
                    any_error = true;
                    let offsets = partition.offsets();
                    datas.push(
                        error_data(p.partition, code)
                            .with_high_watermark(offsets.high_watermark)
                            .with_last_stable_offset(offsets.high_watermark)
                            .with_log_start_offset(offsets.log_start_offset),
                    );
                }
            }
        }
        out.push(FetchableTopicResponse::default().with_topic(name.clone()).with_partitions(datas));
    }
    (out, total, any_error)
}

/// Counts the record bytes a response carries: per topic for consumers, as replication for followers.
fn count_bytes_out(state: &BrokerState, replica_id: i32, responses: &[FetchableTopicResponse]) {
    for topic in responses {
        let bytes: usize = topic.partitions.iter().map(|p| p.records.as_ref().map_or(0, |r| r.len())).sum();
        if bytes == 0 {
            continue;
        }
        if replica_id >= 0 {
            state.metrics.replication_bytes_out.increment(bytes as u64);
        } else {
            state.metrics.topic(topic.topic.0.as_str()).bytes_out.increment(bytes as u64);
        }
    }
}

/// Handles a Fetch request, waiting up to `max_wait_ms` for `min_bytes`.
pub async fn handle(state: &BrokerState, ctx: &RequestContext, request: FetchRequest) -> FetchResponse {
    let _ = ctx;
    let topics: Vec<(TopicName, Vec<FetchPartition>)> =
        request.topics.into_iter().map(|t| (t.topic, t.partitions)).collect();
    let max_bytes = request.max_bytes.max(0) as usize;
    let min_bytes = request.min_bytes.max(0) as usize;
    let read_committed = request.isolation_level == 1;
    let replica_id = request.replica_id.0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(request.max_wait_ms.max(0) as u64);
    // Follower progress (ISR lag) is timed on the monotonic clock, never the wall clock.
    let received_ms = state.clock.monotonic_ms();
    loop {
        let notified = state.replicas.appended().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (responses, total, any_error) =
            read_all(state, replica_id, &topics, max_bytes, read_committed, received_ms);
        if total >= min_bytes || any_error || tokio::time::Instant::now() >= deadline {
            count_bytes_out(state, replica_id, &responses);
            return FetchResponse::default().with_responses(responses);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            let (responses, _, _) =
                read_all(state, replica_id, &topics, max_bytes, read_committed, received_ms);
            count_bytes_out(state, replica_id, &responses);
            return FetchResponse::default().with_responses(responses);
        }
    }
}
