//! `strom produce`: send stdin lines as records, like `kafka-console-producer.sh`.
//!
//! Every line becomes one record (the trailing `\n` or `\r\n` is dropped). With
//! `--property parse.key=true` the line is split at the first `key.separator` (default TAB) into key and
//! value. The tool waits for every delivery report, prints each failure to stderr, and exits non-zero if
//! any record failed.

use std::io::{BufRead, IsTerminal};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::util::Timeout;
use serde_json::json;

use super::Properties;
use crate::client::{Compression, ConnectArgs, kafka_error, parse_acks, parse_key_value};
use crate::output::{OutputArgs, print_json};

/// How many individual delivery failures are printed before summarising.
const MAX_REPORTED_FAILURES: usize = 20;

/// Arguments of `strom produce`.
#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Topic to produce to.
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// Line parsing: `parse.key=true`, `key.separator=SEP` (default TAB), `ignore.error=true` (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    property: Vec<(String, String)>,
    /// Acknowledgements the leader waits for: all (-1), 1 or 0.
    #[arg(long, default_value = "all", value_parser = parse_acks)]
    acks: String,
    /// Compression codec for record batches.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    compression: Compression,
    /// Send every record to this partition instead of partitioning by key.
    #[arg(long, value_name = "P")]
    partition: Option<i32>,
}

/// Counts delivery reports; the opaque value is the record's 1-based line number.
#[derive(Default)]
struct DeliveryTracker {
    delivered: AtomicU64,
    failures: Mutex<Vec<(usize, String)>>,
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, line: usize) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((err, _)) => {
                let message = format!("{:#}", kafka_error(err.clone()));
                self.failures.lock().unwrap_or_else(|e| e.into_inner()).push((line, message));
            }
        }
    }
}

/// How each input line becomes a key and a value.
struct LineFormat {
    parse_key: bool,
    separator: Vec<u8>,
    ignore_error: bool,
}

impl LineFormat {
    /// Splits a line into (key, value); `Err` when a key is expected but the separator is missing.
    fn split<'a>(&self, line: &'a [u8]) -> Result<(Option<&'a [u8]>, &'a [u8]), String> {
        if !self.parse_key || self.separator.is_empty() {
            return Ok((None, line));
        }
        match line.windows(self.separator.len()).position(|w| w == self.separator.as_slice()) {
            Some(at) => Ok((Some(&line[..at]), &line[at + self.separator.len()..])),
            None if self.ignore_error => Ok((None, line)),
            None => Err("no key separator found".to_string()),
        }
    }
}

/// Runs `strom produce`.
pub async fn run(args: ProduceArgs) -> Result<()> {
    let output = &args.output;
    let props = Properties::new(&args.property, &["parse.key", "key.separator", "ignore.error"])?;
    let format = LineFormat {
        parse_key: props.flag("parse.key", false)?,
        separator: props.text("key.separator", "\t").into_bytes(),
        ignore_error: props.flag("ignore.error", false)?,
    };
    let config = args.connect.client_config(&[
        ("acks", args.acks.clone()),
        ("compression.type", args.compression.as_str().to_string()),
        ("message.timeout.ms", "30000".to_string()),
        // The Java client's partitioner: murmur2 of the key, so keys land where Kafka's tools put them.
        ("partitioner", "murmur2_random".to_string()),
    ])?;
    let producer: ThreadedProducer<DeliveryTracker> =
        config.create_with_context(DeliveryTracker::default()).context("creating producer")?;
    let json = output.is_json();
    let outcome = tokio::task::spawn_blocking(move || produce_stdin(&producer, &args, &format))
        .await
        .context("producer thread panicked")??;
    report(&outcome, json)
}

/// What happened to the records read from stdin.
struct Outcome {
    topic: String,
    records: usize,
    delivered: u64,
    failures: Vec<(usize, String)>,
}

fn produce_stdin(
    producer: &ThreadedProducer<DeliveryTracker>,
    args: &ProduceArgs,
    format: &LineFormat,
) -> Result<Outcome> {
    let mut stdin = std::io::stdin().lock();
    let mut buf = Vec::with_capacity(4096);
    let mut records = 0usize;
    let mut parse_failures = Vec::new();
    loop {
        buf.clear();
        if stdin.read_until(b'\n', &mut buf).context("reading stdin")? == 0 {
            break;
        }
        records += 1;
        let line = strip_newline(&buf);
        let (key, value) = match format.split(line) {
            Ok(parts) => parts,
            Err(reason) => {
                parse_failures.push((records, reason));
                continue;
            }
        };
        let mut record = BaseRecord::<[u8], [u8], usize>::with_opaque_to(&args.topic, records).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        send_blocking(producer, record)?;
    }
    producer.flush(Timeout::Never).map_err(kafka_error).context("flushing producer")?;
    let tracker = producer.context();
    let mut failures = std::mem::take(&mut *tracker.failures.lock().unwrap_or_else(|e| e.into_inner()));
    failures.extend(parse_failures);
    failures.sort_by_key(|(line, _)| *line);
    Ok(Outcome {
        topic: args.topic.clone(),
        records,
        delivered: tracker.delivered.load(Ordering::Relaxed),
        failures,
    })
}

/// Enqueues a record, waiting while librdkafka's local queue is full; other errors are returned.
pub fn send_blocking<C: ProducerContext + 'static>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'_, [u8], [u8], C::DeliveryOpaque>,
) -> Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(1));
            }
            Err((err, _)) => return Err(kafka_error(err)).context("enqueueing record"),
        }
    }
}

fn strip_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn report(outcome: &Outcome, json: bool) -> Result<()> {
    let failed = outcome.failures.len();
    if json {
        let failures: Vec<_> =
            outcome.failures.iter().map(|(line, error)| json!({ "line": line, "error": error })).collect();
        print_json(&json!({
            "topic": outcome.topic,
            "records": outcome.records,
            "delivered": outcome.delivered,
            "failed": failed,
            "failures": failures,
        }))?;
    } else {
        for (line, error) in outcome.failures.iter().take(MAX_REPORTED_FAILURES) {
            eprintln!("ERROR: line {line}: {error}");
        }
        if failed > MAX_REPORTED_FAILURES {
            eprintln!("ERROR: ... and {} more failures", failed - MAX_REPORTED_FAILURES);
        }
        if failed == 0 && std::io::stderr().is_terminal() {
            eprintln!("Produced {} records to topic {}.", outcome.delivered, outcome.topic);
        }
    }
    if failed > 0 {
        bail!("{failed} of {} records failed", outcome.records);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_key_and_value() {
        let format = LineFormat { parse_key: true, separator: b"::".to_vec(), ignore_error: false };
        assert_eq!(format.split(b"k::v::w"), Ok((Some(&b"k"[..]), &b"v::w"[..])));
        assert_eq!(format.split(b"::v"), Ok((Some(&b""[..]), &b"v"[..])));
        assert!(format.split(b"novalue").is_err());
        let lenient = LineFormat { ignore_error: true, ..format };
        assert_eq!(lenient.split(b"plain"), Ok((None, &b"plain"[..])));
        assert_eq!(strip_newline(b"a\r\n"), b"a");
        assert_eq!(strip_newline(b"a"), b"a");
    }
}
