//! `strom bench produce`: send N fixed-size records through librdkafka and measure throughput and
//! enqueue → delivery-report latency.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;
use serde_json::json;

use super::{BenchSummary, LatencySummary};
use crate::client::{Compression, ConnectArgs, describe_code, fetch_topics, kafka_error, parse_acks};
use crate::commands::produce::send_blocking;
use crate::output::OutputArgs;

/// How often progress is reported on stderr.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Arguments of `strom bench produce`.
#[derive(Debug, Clone, Args)]
pub struct ProduceBenchArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Topic to produce to (created if missing).
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// Number of records to send.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    records: u64,
    /// Value size of each record in bytes (random letters, like Kafka's perf test; no key).
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    record_size: usize,
    /// Acknowledgements: all (-1), 1 or 0.
    #[arg(long, default_value = "1", value_parser = parse_acks)]
    acks: String,
    /// Maximum bytes per record batch (librdkafka `batch.size`).
    #[arg(long, default_value_t = 1_048_576, value_name = "BYTES")]
    batch_size: u64,
    /// How long to wait for a batch to fill (`linger.ms`).
    #[arg(long, default_value_t = 5, value_name = "MS")]
    linger_ms: u64,
    /// Compression codec.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    compression: Compression,
    /// Partitions for the topic if it has to be created (default: the broker's `num.partitions`).
    #[arg(long, value_name = "N")]
    partitions: Option<i32>,
    /// Cap the send rate at this many records per second (default: as fast as possible).
    #[arg(long, value_name = "RECORDS_PER_SEC")]
    throughput: Option<u64>,
    /// Seed of the payload generator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Collects delivery reports; the opaque value is the enqueue time in nanoseconds since `start`.
struct BenchContext {
    start: Instant,
    acked: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    latencies_us: Mutex<Vec<u32>>,
}

impl BenchContext {
    fn nanos_since_start(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl ClientContext for BenchContext {}

impl ProducerContext for BenchContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, enqueued_at_ns: usize) {
        let latency_ns = self.nanos_since_start().saturating_sub(enqueued_at_ns as u64);
        match result {
            Ok(_) => {
                self.acked.fetch_add(1, Ordering::Relaxed);
                let micros = u32::try_from(latency_ns / 1000).unwrap_or(u32::MAX);
                self.latencies_us.lock().unwrap_or_else(|e| e.into_inner()).push(micros);
            }
            Err((err, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert_with(|| format!("{:#}", kafka_error(err.clone())));
            }
        }
    }
}

/// Runs `strom bench produce`.
pub async fn run(args: ProduceBenchArgs) -> Result<()> {
    let output = &args.output;
    let admin = args.connect.admin_client()?;
    let partitions = ensure_topic(&args, &admin).await?;
    let message_max_bytes = (args.batch_size + 1024 * 1024).clamp(1_000_000, 1_000_000_000);
    let config = args.connect.client_config(&[
        ("acks", args.acks.clone()),
        ("compression.type", args.compression.as_str().to_string()),
        ("batch.size", args.batch_size.to_string()),
        ("linger.ms", args.linger_ms.to_string()),
        ("message.max.bytes", message_max_bytes.to_string()),
        ("queue.buffering.max.kbytes", "1048576".to_string()),
        ("queue.buffering.max.messages", "1000000".to_string()),
        ("message.timeout.ms", "120000".to_string()),
    ])?;
    let capacity = usize::try_from(args.records.min(10_000_000)).unwrap_or(0);
    let context = BenchContext {
        start: Instant::now(),
        acked: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
        latencies_us: Mutex::new(Vec::with_capacity(capacity)),
    };
    let producer: ThreadedProducer<BenchContext> =
        config.create_with_context(context).context("creating producer")?;
    let quiet = output.is_json();
    let run_args = args.clone();
    let (seconds, producer) =
        tokio::task::spawn_blocking(move || send_all(&producer, &run_args, quiet).map(|s| (s, producer)))
            .await
            .context("producer thread panicked")??;
    let context = producer.context();
    let acked = context.acked.load(Ordering::Relaxed);
    let failed = context.failed.load(Ordering::Relaxed);
    let latencies = std::mem::take(&mut *context.latencies_us.lock().unwrap_or_else(|e| e.into_inner()));
    let mut summary =
        BenchSummary::new("produce", &args.topic, acked, acked * args.record_size as u64, seconds);
    summary.failed = Some(failed);
    summary.latency = LatencySummary::from_micros(latencies);
    summary.params = json!({
        "partitions": partitions,
        "record_size": args.record_size,
        "acks": args.acks,
        "batch_size": args.batch_size,
        "linger_ms": args.linger_ms,
        "compression": args.compression,
        "throughput_limit": args.throughput,
    });
    summary.print(output)?;
    if failed > 0 {
        let first = context.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
        bail!("{failed} of {} records failed; first error: {first}", args.records);
    }
    Ok(())
}

/// Sends every record, waits for all delivery reports and returns the elapsed seconds.
fn send_all(producer: &ThreadedProducer<BenchContext>, args: &ProduceBenchArgs, quiet: bool) -> Result<f64> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let payload: Vec<u8> = (0..args.record_size).map(|_| rng.random_range(b'A'..=b'Z')).collect();
    let context = producer.context();
    let started_ns = context.nanos_since_start();
    let started = Instant::now();
    let mut last_report = (Instant::now(), 0u64);
    for sent in 0..args.records {
        if let Some(rate) = args.throughput.filter(|&r| r > 0) {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let stamp = usize::try_from(context.nanos_since_start()).unwrap_or(usize::MAX);
        let record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(&args.topic, stamp).payload(&payload);
        send_blocking(producer, record)?;
        if !quiet && last_report.0.elapsed() >= PROGRESS_INTERVAL {
            let acked = context.acked.load(Ordering::Relaxed);
            let rate = (acked - last_report.1) as f64 / last_report.0.elapsed().as_secs_f64();
            eprintln!(
                "{sent} records sent, {acked} acked, {rate:.0} acks/s ({:.2} MB/s)",
                rate * args.record_size as f64 / (1024.0 * 1024.0)
            );
            last_report = (Instant::now(), acked);
        }
    }
    producer.flush(Timeout::Never).map_err(kafka_error).context("waiting for deliveries")?;
    let elapsed_ns = context.nanos_since_start().saturating_sub(started_ns);
    Ok(elapsed_ns as f64 / 1e9)
}

/// Makes sure the topic exists (creating it with `--partitions` if not) and returns its partition count.
async fn ensure_topic(args: &ProduceBenchArgs, admin: &AdminClient<DefaultClientContext>) -> Result<usize> {
    let timeout = args.connect.request_timeout();
    if let Some(topic) = fetch_topics(admin.inner(), timeout)?.into_iter().find(|t| t.name == args.topic) {
        let count = topic.partitions.len();
        if let Some(wanted) = args.partitions.filter(|&p| usize::try_from(p).ok() != Some(count)) {
            eprintln!(
                "WARN: topic {} exists with {count} partitions; ignoring --partitions {wanted}",
                args.topic
            );
        }
        return Ok(count);
    }
    let new_topic = NewTopic::new(&args.topic, args.partitions.unwrap_or(-1), TopicReplication::Fixed(-1));
    let results =
        admin.create_topics([&new_topic], &args.connect.admin_options()).await.map_err(kafka_error)?;
    match results.into_iter().next() {
        Some(Ok(_)) | Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {}
        Some(Err((_, code))) => bail!("creating topic {}: {}", args.topic, describe_code(code)),
        None => bail!("creating topic {}: the broker returned no result", args.topic),
    }
    // Wait until every partition has a leader, so the first sends don't race the topic's creation.
    let deadline = Instant::now() + timeout;
    loop {
        let topics = fetch_topics(admin.inner(), timeout)?;
        if let Some(topic) = topics.iter().find(|t| t.name == args.topic)
            && !topic.partitions.is_empty()
            && topic.partitions.iter().all(|p| p.leader >= 0)
        {
            eprintln!("Created topic {} with {} partitions.", args.topic, topic.partitions.len());
            return Ok(topic.partitions.len());
        }
        if Instant::now() >= deadline {
            bail!("topic {} was created but has no leaders after {timeout:?}", args.topic);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
