//! Produce (key 0). Versions 3+ are served; 0–2 are advertised (old clients disable compression
//! otherwise) and answered with UNSUPPORTED_VERSION per partition, as they carry pre-v2 message sets.
//! acks=0 gets no response. acks=1 answers once the leader appended; acks=all first checks the ISR
//! against `min.insync.replicas` (NOT_ENOUGH_REPLICAS) and answers once the high watermark passes the
//! batch (NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrinks below the minimum meanwhile,
//! REQUEST_TIMED_OUT after the request's timeout).

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::Outcome;
use crate::error_code::ErrorCode;
use crate::metadata::TopicImage;
use crate::partition::{Partition, ProduceResult};
use crate::state::BrokerState;
use std::sync::Arc;

fn partition_error(index: i32, code: ErrorCode) -> PartitionProduceResponse {
    PartitionProduceResponse::default().with_index(index).with_error_code(code.code()).with_base_offset(-1)
}

/// Handles a Produce request; `None` when acks=0.
pub async fn handle(state: &BrokerState, request: ProduceRequest) -> Option<ProduceResponse> {
    let acks = request.acks;
    let valid_acks = matches!(acks, -1..=1);
    let now_ms = state.clock.now_ms();
    let image = state.image();
    let mut appended = false;
    let mut waits = Vec::new();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic in request.topic_data {
        let name = topic.name.0.as_str();
        let topic_image = image.topic(name);
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let index = data.index;
            let bytes = data.records.as_ref().map_or(0, |r| r.len());
            let result = if valid_acks {
                produce_one(state, topic_image, name, index, acks, data.records, now_ms)
            } else {
                Err(ErrorCode::InvalidRequiredAcks)
            };
            partitions.push(match result {
                Ok((r, partition)) => {
                    appended = true;
                    let counters = state.metrics.topic(name);
                    counters.bytes_in.increment(bytes as u64);
                    counters.records_in.increment((r.last_offset - r.base_offset + 1).max(0) as u64);
                    if acks == -1 {
                        waits.push((responses.len(), partitions.len(), partition, r));
                    }
                    PartitionProduceResponse::default()
                        .with_index(index)
                        .with_base_offset(r.base_offset)
                        .with_log_append_time_ms(r.log_append_time)
                        .with_log_start_offset(r.log_start_offset)
                }
                Err(code) => {
                    tracing::debug!(topic = name, partition = index, ?code, "produce rejected");
                    partition_error(index, code)
                }
            });
        }
        responses
            .push(TopicProduceResponse::default().with_name(topic.name).with_partition_responses(partitions));
    }
    if appended {
        state.replicas.notify_appended();
    }
    if !waits.is_empty() {
        let timeout = Duration::from_millis(request.timeout_ms.max(0) as u64);
        let (places, commits): (Vec<_>, Vec<_>) = waits
            .into_iter()
            .map(|(topic, partition, replica, r)| {
                let commit =
                    async move { replica.wait_committed(r.last_offset, r.leader_epoch, timeout).await };
                ((topic, partition), commit)
            })
            .unzip();
        for ((topic, partition), outcome) in places.into_iter().zip(wait_all(commits).await) {
            if let Err(code) = outcome {
                let response = &mut responses[topic].partition_responses[partition];
                *response = partition_error(response.index, code);
            }
        }
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

/// Waits concurrently for every acks=all append to be committed; the outcomes are in `commits`
/// order. A wait that does not finish — its task panicked, or was cancelled because the runtime is
/// shutting down, which also cancels tasks spawned from then on while this one may still run — is
/// REQUEST_TIMED_OUT: whether the batch is committed is unknown, and it must never be answered as a
/// success.
async fn wait_all<F>(commits: Vec<F>) -> Vec<Result<(), ErrorCode>>
where
    F: Future<Output = Result<(), ErrorCode>> + Send + 'static,
{
    let mut outcomes = vec![Err(ErrorCode::RequestTimedOut); commits.len()];
    let mut set = tokio::task::JoinSet::new();
    for (i, commit) in commits.into_iter().enumerate() {
        set.spawn(async move { (i, commit.await) });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((i, outcome)) = joined {
            outcomes[i] = outcome;
        }
    }
    outcomes
}

/// Appends one partition's records: this broker must lead the partition, and acks=all needs
/// `min.insync.replicas` in-sync replicas.
fn produce_one(
    state: &BrokerState,
    topic_image: Option<&TopicImage>,
    name: &str,
    index: i32,
    acks: i16,
    records: Option<Bytes>,
    now_ms: i64,
) -> Result<(ProduceResult, Arc<Partition>), ErrorCode> {
    let partition = state.leader_partition(name, index)?;
    let records = records.ok_or(ErrorCode::InvalidRecord)?;
    if acks == -1 {
        let isr = topic_image.and_then(|t| t.partitions.get(&index)).map_or(0, |p| p.isr.len());
        if (isr as i64) < partition.min_isr() {
            return Err(ErrorCode::NotEnoughReplicas);
        }
    }
    let result = partition.append(&records, now_ms)?;
    Ok((result, partition))
}

/// Bounded reader for the legacy (v0–2) request layout.
struct Legacy(Bytes);

impl Legacy {
    fn need(&self, n: usize) -> Option<()> {
        (self.0.remaining() >= n).then_some(())
    }
    fn i16(&mut self) -> Option<i16> {
        self.need(2)?;
        Some(self.0.get_i16())
    }
    fn i32(&mut self) -> Option<i32> {
        self.need(4)?;
        Some(self.0.get_i32())
    }
    /// A nullable string (-1 is null, returned as empty).
    fn string(&mut self) -> Option<Bytes> {
        let len = self.i16()?;
        if len == -1 {
            return Some(Bytes::new());
        }
        let len = usize::try_from(len).ok()?;
        self.need(len)?;
        Some(self.0.split_to(len))
    }
    fn skip_bytes(&mut self) -> Option<()> {
        let len = self.i32()?;
        if len > 0 {
            self.need(len as usize)?;
            self.0.advance(len as usize);
        }
        Some(())
    }
}

/// Topic name and partition indexes of a legacy request.
type LegacyTopics = Vec<(Bytes, Vec<i32>)>;

/// Parses a v0–2 Produce request and lists (topic, partitions) with the acks value.
fn parse_legacy(frame: Bytes) -> Option<(i16, LegacyTopics)> {
    let mut r = Legacy(frame);
    r.need(8)?;
    r.0.advance(8);
    r.string()?; // client id
    let acks = r.i16()?;
    r.i32()?; // timeout
    let topics = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let name = r.string()?;
        let count = r.i32()?;
        let mut partitions = Vec::new();
        for _ in 0..count.max(0) {
            partitions.push(r.i32()?);
            r.skip_bytes()?;
        }
        out.push((name, partitions));
    }
    Some((acks, out))
}

/// Answers a v0–2 Produce with UNSUPPORTED_VERSION for every partition.
pub fn legacy_unsupported(frame: Bytes, version: i16, correlation_id: i32) -> Outcome {
    let Some((acks, topics)) = parse_legacy(frame) else {
        return Outcome::Close(format!("malformed Produce v{version} request"));
    };
    if acks == 0 {
        return Outcome::NoResponse;
    }
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    buf.put_i32(correlation_id);
    buf.put_i32(topics.len() as i32);
    for (name, partitions) in topics {
        buf.put_i16(name.len() as i16);
        buf.put_slice(&name);
        buf.put_i32(partitions.len() as i32);
        for index in partitions {
            buf.put_i32(index);
            buf.put_i16(ErrorCode::UnsupportedVersion.code());
            buf.put_i64(-1);
            if version >= 2 {
                buf.put_i64(-1);
            }
        }
    }
    if version >= 1 {
        buf.put_i32(0);
    }
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Outcome::Respond(buf)
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;

    use super::*;

    type Commit = Pin<Box<dyn Future<Output = Result<(), ErrorCode>> + Send>>;

    #[tokio::test]
    async fn a_commit_wait_that_dies_is_never_answered_as_a_success() {
        let commits: Vec<Commit> = vec![
            Box::pin(async { Ok(()) }),
            // What a wait task looks like to the handler when the runtime shuts down under it (or it
            // panics): its join fails. The batch is in the leader's log but maybe nowhere else.
            Box::pin(async { panic!("the commit wait's task dies") }),
            Box::pin(async { Err(ErrorCode::NotLeaderOrFollower) }),
        ];
        assert_eq!(
            wait_all(commits).await,
            [Ok(()), Err(ErrorCode::RequestTimedOut), Err(ErrorCode::NotLeaderOrFollower)]
        );
    }
}
