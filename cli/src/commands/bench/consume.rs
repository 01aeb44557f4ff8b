//! `strom bench consume`: read N records from the beginning of every partition through librdkafka and
//! measure throughput. No consumer group is joined and nothing is committed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::BenchSummary;
use crate::client::{ConnectArgs, fetch_topic, kafka_error};
use crate::commands::stop_on_ctrl_c;
use crate::output::OutputArgs;

/// Arguments of `strom bench consume`.
#[derive(Debug, Clone, Args)]
pub struct ConsumeBenchArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Topic to consume.
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// Records to read (default: everything below each partition's high watermark at start).
    #[arg(long, value_name = "N")]
    records: Option<u64>,
    /// Give up when no record arrives for this long.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    timeout_ms: u64,
    /// Maximum bytes per fetch response (`fetch.max.bytes`).
    #[arg(long, default_value_t = 52_428_800, value_name = "BYTES")]
    fetch_max_bytes: u64,
    /// Maximum bytes per partition in a fetch (`max.partition.fetch.bytes`).
    #[arg(long, default_value_t = 8_388_608, value_name = "BYTES")]
    max_partition_fetch_bytes: u64,
}

/// Runs `strom bench consume`.
pub async fn run(args: ConsumeBenchArgs) -> Result<()> {
    let output = &args.output;
    // librdkafka requires receive.message.max.bytes >= fetch.max.bytes + 512.
    let receive_max = (args.fetch_max_bytes + 1024 * 1024).clamp(100_000_000, 2_147_483_647);
    let consumer: BaseConsumer = args
        .connect
        .client_config(&[
            ("group.id", format!("strom-bench-consumer-{}", std::process::id())),
            ("enable.auto.commit", "false".to_string()),
            ("enable.auto.offset.store", "false".to_string()),
            ("auto.offset.reset", "earliest".to_string()),
            ("allow.auto.create.topics", "false".to_string()),
            ("fetch.max.bytes", args.fetch_max_bytes.to_string()),
            ("max.partition.fetch.bytes", args.max_partition_fetch_bytes.to_string()),
            ("receive.message.max.bytes", receive_max.to_string()),
            ("queued.max.messages.kbytes", "262144".to_string()),
            // With small records the default 100000-message prefetch fills quickly, and a full queue
            // postpones the next fetch by a whole second.
            ("queued.min.messages", "1000000".to_string()),
            ("fetch.queue.backoff.ms", "10".to_string()),
        ])?
        .create()
        .context("creating consumer")?;
    let timeout = args.connect.request_timeout();
    let topic = fetch_topic(consumer.client(), &args.topic, timeout)?;
    let mut assignment = TopicPartitionList::new();
    let mut available = 0u64;
    for p in &topic.partitions {
        let (low, high) = consumer
            .fetch_watermarks(&args.topic, p.partition, timeout)
            .map_err(kafka_error)
            .with_context(|| format!("fetching watermarks of partition {}", p.partition))?;
        available += u64::try_from(high - low).unwrap_or(0);
        assignment.add_partition_offset(&args.topic, p.partition, Offset::Beginning).map_err(kafka_error)?;
    }
    let target = args.records.unwrap_or(available);
    if target == 0 {
        bail!("topic {} is empty; produce first (strom bench produce --topic {})", args.topic, args.topic);
    }
    consumer.assign(&assignment).map_err(kafka_error).context("assigning partitions")?;
    let stop = stop_on_ctrl_c();
    let idle = Duration::from_millis(args.timeout_ms);
    let (records, bytes, seconds) =
        tokio::task::spawn_blocking(move || read_records(&consumer, target, idle, &stop))
            .await
            .context("consumer thread panicked")??;
    let mut summary = BenchSummary::new("consume", &args.topic, records, bytes, seconds);
    summary.params = json!({
        "partitions": topic.partitions.len(),
        "target_records": target,
        "fetch_max_bytes": args.fetch_max_bytes,
        "max_partition_fetch_bytes": args.max_partition_fetch_bytes,
    });
    summary.print(output)?;
    if records < target {
        bail!("consumed only {records} of {target} records (no record for {idle:?}, or interrupted)");
    }
    Ok(())
}

/// Polls until `target` records arrived, `idle` passed without one, or Ctrl-C; returns records, payload
/// bytes and seconds from the start to the last record.
fn read_records(
    consumer: &BaseConsumer,
    target: u64,
    idle: Duration,
    stop: &AtomicBool,
) -> Result<(u64, u64, f64)> {
    let start = Instant::now();
    let mut last = start;
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut errors = 0u64;
    while records < target && !stop.load(Ordering::Relaxed) && last.elapsed() < idle {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                records += 1;
                bytes += (message.key_len() + message.payload_len()) as u64;
                last = Instant::now();
            }
            Some(Err(err)) => {
                errors += 1;
                if errors <= 10 {
                    eprintln!("WARN: {:#}", kafka_error(err));
                }
            }
        }
    }
    Ok((records, bytes, last.duration_since(start).as_secs_f64()))
}
