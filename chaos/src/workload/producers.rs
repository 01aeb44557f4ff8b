//! Idempotent producers with acks=all. Each writes unique values to every partition in turn
//! (`p<producer>-<partition>-<seq>`, key `k<partition>`), paced to a rate, with a bounded number of
//! writes in flight, and records each write's outcome: acknowledged at an offset, definitely failed,
//! or unknown (timed out or lost with a connection: it may or may not be in the log).

use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{Recorder, Stop, WorkloadConfig, base_config};
use crate::history::{Write, WriteOutcome};

/// Writes in flight per producer.
const IN_FLIGHT: usize = 16;

/// How long librdkafka keeps retrying one write before it reports it failed (unknown outcome).
const MESSAGE_TIMEOUT_MS: &str = "20000";

/// Runs producer `id` until `stop`; returns once every write in flight has an outcome.
pub async fn run(id: u32, config: WorkloadConfig, recorder: Recorder, stop: Stop) -> anyhow::Result<()> {
    let producer: FutureProducer = base_config(&config.bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", MESSAGE_TIMEOUT_MS)
        .set("request.timeout.ms", "5000")
        .set("client.id", format!("chaos-producer-{id}"))
        .create()?;
    let partitions = config.partitions.max(1);
    let mut seqs = vec![0u64; partitions as usize];
    let interval = Duration::from_secs_f64(1.0 / f64::from(config.rate_per_producer.max(1)));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = FuturesUnordered::new();
    let mut next_partition = (id as i32) % partitions;
    while !stop.is_stopped() {
        tokio::select! {
            _ = ticker.tick(), if in_flight.len() < IN_FLIGHT => {
                let partition = next_partition;
                next_partition = (next_partition + 1) % partitions;
                let seq = seqs[partition as usize];
                seqs[partition as usize] += 1;
                in_flight.push(send(&producer, id, &config.topic, partition, seq, &recorder));
            }
            Some(write) = in_flight.next(), if !in_flight.is_empty() => recorder.lock().record_write(write),
        }
    }
    while let Some(write) = in_flight.next().await {
        recorder.lock().record_write(write);
    }
    Ok(())
}

async fn send(
    producer: &FutureProducer,
    id: u32,
    topic: &str,
    partition: i32,
    seq: u64,
    recorder: &Recorder,
) -> Write {
    let key = format!("k{partition}");
    let value = format!("p{id}-{partition}-{seq}");
    let start_ms = recorder.now_ms();
    let record = FutureRecord::to(topic).partition(partition).key(&key).payload(&value);
    let outcome = match producer.send(record, Duration::from_secs(0)).await {
        Ok(delivery) => WriteOutcome::Ok { offset: delivery.offset },
        Err((error, _)) => classify(&error),
    };
    Write { producer: id, key, partition, value, seq, start_ms, end_ms: recorder.now_ms(), outcome }
}

/// Errors that mean the broker never appended the write are definite failures; anything else
/// (timeouts, lost connections, errors after the append) leaves its fate unknown.
fn classify(error: &KafkaError) -> WriteOutcome {
    let definite = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::QueueFull
        )
    );
    let error = error.to_string();
    if definite { WriteOutcome::Failed { error } } else { WriteOutcome::Unknown { error } }
}
