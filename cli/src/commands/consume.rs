//! `strom consume`: print records, like `kafka-console-consumer.sh`.
//!
//! Without `--group` the tool assigns partitions itself (all partitions from metadata, or `--partition`)
//! and never joins a consumer group or commits offsets, so it works against brokers without group
//! support. With `--group` it subscribes and auto-commits like Kafka's tool.

use std::io::{BufWriter, ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, Offset, Timestamp, TopicPartitionList};
use serde_json::{Value, json};

use super::{Properties, stop_on_ctrl_c};
use crate::client::{ConnectArgs, fetch_topic, kafka_error, parse_key_value};
use crate::output::{OutputArgs, print_json};

const KNOWN_PROPERTIES: &[&str] = &[
    "print.key",
    "print.value",
    "print.offset",
    "print.partition",
    "print.timestamp",
    "print.headers",
    "key.separator",
    "line.separator",
    "headers.separator",
    "null.literal",
];

/// Arguments of `strom consume`.
#[derive(Debug, Clone, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Topic to consume.
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// Start at the earliest offset instead of the end.
    #[arg(long)]
    from_beginning: bool,
    /// Consume only this partition.
    #[arg(long, value_name = "P", conflicts_with = "group")]
    partition: Option<i32>,
    /// Start offset within --partition: a number, `earliest` or `latest`.
    #[arg(long, value_name = "OFFSET", requires = "partition", value_parser = parse_offset)]
    offset: Option<Offset>,
    /// Exit after this many records.
    #[arg(long, value_name = "N")]
    max_messages: Option<u64>,
    /// Exit when no record arrives for this long (default: run until Ctrl-C).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Formatting: print.key, print.offset, print.partition, print.timestamp, print.headers, print.value,
    /// key.separator (default TAB), line.separator, headers.separator, null.literal (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    property: Vec<(String, String)>,
    /// Join this consumer group and subscribe (needs broker group support; commits offsets).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
}

/// Parses `--offset`.
fn parse_offset(text: &str) -> Result<Offset, String> {
    match text {
        "earliest" => Ok(Offset::Beginning),
        "latest" => Ok(Offset::End),
        _ => match text.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Offset::Offset(n)),
            _ => Err(format!("expected a non-negative offset, `earliest` or `latest`, got `{text}`")),
        },
    }
}

/// kafka-console-consumer's `DefaultMessageFormatter`.
struct Formatter {
    print_key: bool,
    print_value: bool,
    print_offset: bool,
    print_partition: bool,
    print_timestamp: bool,
    print_headers: bool,
    key_separator: String,
    line_separator: String,
    headers_separator: String,
    null_literal: String,
}

impl Formatter {
    fn new(props: &Properties) -> Result<Self> {
        Ok(Self {
            print_key: props.flag("print.key", false)?,
            print_value: props.flag("print.value", true)?,
            print_offset: props.flag("print.offset", false)?,
            print_partition: props.flag("print.partition", false)?,
            print_timestamp: props.flag("print.timestamp", false)?,
            print_headers: props.flag("print.headers", false)?,
            key_separator: props.text("key.separator", "\t"),
            line_separator: props.text("line.separator", "\n"),
            headers_separator: props.text("headers.separator", ","),
            null_literal: props.text("null.literal", "null"),
        })
    }

    /// Appends one record's text to `out`.
    fn write(&self, message: &BorrowedMessage<'_>, out: &mut Vec<u8>) {
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if self.print_timestamp {
            fields.push(match message.timestamp() {
                Timestamp::CreateTime(t) => format!("CreateTime:{t}").into_bytes(),
                Timestamp::LogAppendTime(t) => format!("LogAppendTime:{t}").into_bytes(),
                Timestamp::NotAvailable => b"NO_TIMESTAMP".to_vec(),
            });
        }
        if self.print_partition {
            fields.push(format!("Partition:{}", message.partition()).into_bytes());
        }
        if self.print_offset {
            fields.push(format!("Offset:{}", message.offset()).into_bytes());
        }
        if self.print_headers {
            fields.push(self.headers(message));
        }
        if self.print_key {
            fields.push(message.key().map_or_else(|| self.null_literal.clone().into_bytes(), <[u8]>::to_vec));
        }
        if self.print_value {
            fields.push(
                message.payload().map_or_else(|| self.null_literal.clone().into_bytes(), <[u8]>::to_vec),
            );
        }
        out.extend(fields.join(self.key_separator.as_bytes()));
        out.extend(self.line_separator.as_bytes());
    }

    fn headers(&self, message: &BorrowedMessage<'_>) -> Vec<u8> {
        let Some(headers) = message.headers().filter(|h| h.count() > 0) else {
            return b"NO_HEADERS".to_vec();
        };
        let mut parts = Vec::new();
        for header in headers.iter() {
            let mut part = header.key.as_bytes().to_vec();
            part.push(b':');
            part.extend(header.value.unwrap_or(self.null_literal.as_bytes()));
            parts.push(part);
        }
        parts.join(self.headers_separator.as_bytes())
    }
}

/// Runs `strom consume`.
pub async fn run(args: ConsumeArgs) -> Result<()> {
    let output = &args.output;
    let props = Properties::new(&args.property, KNOWN_PROPERTIES)?;
    let formatter = Formatter::new(&props)?;
    let consumer = create_consumer(&args)?;
    if args.group.is_some() {
        consumer.subscribe(&[&args.topic]).map_err(kafka_error).context("subscribing")?;
    } else {
        let assignment = assignment(&args, &consumer)?;
        consumer.assign(&assignment).map_err(kafka_error).context("assigning partitions")?;
    }
    let stop = stop_on_ctrl_c();
    let json = output.is_json();
    let (count, messages) =
        tokio::task::spawn_blocking(move || consume_loop(&consumer, &args, &formatter, &stop, json))
            .await
            .context("consumer thread panicked")??;
    if json {
        print_json(&json!({ "count": count, "messages": messages }))?;
    } else {
        eprintln!("Processed a total of {count} messages");
    }
    Ok(())
}

/// Creates a consumer; without `--group` it gets a throwaway group id (librdkafka's `assign` needs
/// one) and never commits.
fn create_consumer(args: &ConsumeArgs) -> Result<BaseConsumer> {
    let reset = if args.from_beginning { "earliest" } else { "latest" };
    let mut defaults = vec![
        ("auto.offset.reset", reset.to_string()),
        ("allow.auto.create.topics", "false".to_string()),
        ("enable.partition.eof", "false".to_string()),
    ];
    match &args.group {
        Some(group) => defaults.push(("group.id", group.clone())),
        None => {
            defaults.push(("group.id", format!("strom-console-consumer-{}", std::process::id())));
            defaults.push(("enable.auto.commit", "false".to_string()));
            defaults.push(("enable.auto.offset.store", "false".to_string()));
        }
    }
    args.connect.client_config(&defaults)?.create().context("creating consumer")
}

/// The partitions to read and where to start: `--partition` at `--offset`, or every partition at the
/// beginning (`--from-beginning`) or end.
fn assignment(args: &ConsumeArgs, consumer: &BaseConsumer) -> Result<TopicPartitionList> {
    let topic = fetch_topic(consumer.client(), &args.topic, args.connect.request_timeout())?;
    let default_start = if args.from_beginning { Offset::Beginning } else { Offset::End };
    let mut list = TopicPartitionList::new();
    match args.partition {
        Some(partition) => {
            if !topic.partitions.iter().any(|p| p.partition == partition) {
                bail!("UNKNOWN_TOPIC_OR_PARTITION: topic '{}' has no partition {partition}", args.topic);
            }
            list.add_partition_offset(&args.topic, partition, args.offset.unwrap_or(default_start))
                .map_err(kafka_error)?;
        }
        None => {
            for p in &topic.partitions {
                list.add_partition_offset(&args.topic, p.partition, default_start).map_err(kafka_error)?;
            }
        }
    }
    Ok(list)
}

/// Polls until `--max-messages`, `--timeout-ms` of silence, Ctrl-C or a closed stdout. Text output is
/// written as records arrive; JSON records are returned for the single document printed at the end.
fn consume_loop(
    consumer: &BaseConsumer,
    args: &ConsumeArgs,
    formatter: &Formatter,
    stop: &AtomicBool,
    json: bool,
) -> Result<(u64, Vec<Value>)> {
    let mut stdout = BufWriter::new(std::io::stdout().lock());
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut last_record = Instant::now();
    let mut count = 0u64;
    let mut messages = Vec::new();
    let mut text = Vec::new();
    let started = Instant::now();
    let mut warned_unassigned = args.group.is_none();
    while !stop.load(Ordering::Relaxed) && args.max_messages.is_none_or(|max| count < max) {
        if idle_limit.is_some_and(|limit| last_record.elapsed() >= limit) {
            break;
        }
        let polled = match consumer.poll(Duration::ZERO) {
            Some(polled) => polled,
            None => {
                if flush_or_closed(&mut stdout)? {
                    break;
                }
                if !warned_unassigned && started.elapsed() >= GROUP_JOIN_WARNING {
                    warned_unassigned = true;
                    warn_if_unassigned(consumer);
                }
                match consumer.poll(Duration::from_millis(100)) {
                    Some(polled) => polled,
                    None => continue,
                }
            }
        };
        let message = match polled {
            Ok(message) => message,
            Err(err) => {
                eprintln!("WARN: {:#}", kafka_error(err));
                continue;
            }
        };
        last_record = Instant::now();
        count += 1;
        if json {
            messages.push(message_json(&message));
            continue;
        }
        text.clear();
        formatter.write(&message, &mut text);
        match stdout.write_all(&text) {
            Err(err) if err.kind() == ErrorKind::BrokenPipe => break,
            other => other.context("writing to stdout")?,
        }
    }
    flush_or_closed(&mut stdout)?;
    Ok((count, messages))
}

/// With `--group`, how long to wait for a partition assignment before warning about it.
const GROUP_JOIN_WARNING: Duration = Duration::from_secs(5);

fn warn_if_unassigned(consumer: &BaseConsumer) {
    if consumer.assignment().is_ok_and(|list| list.count() == 0) {
        eprintln!(
            "WARN: no partitions assigned after {GROUP_JOIN_WARNING:?} in the consumer group; does the broker \
             support consumer groups? Without --group the tool reads partitions directly."
        );
    }
}

/// Flushes stdout; returns true when the reader went away (broken pipe).
fn flush_or_closed(stdout: &mut impl Write) -> Result<bool> {
    match stdout.flush() {
        Ok(()) => Ok(false),
        Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(true),
        Err(err) => Err(err).context("writing to stdout"),
    }
}

fn message_json(message: &BorrowedMessage<'_>) -> Value {
    let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
    let (timestamp_type, timestamp) = match message.timestamp() {
        Timestamp::CreateTime(t) => (Some("CreateTime"), Some(t)),
        Timestamp::LogAppendTime(t) => (Some("LogAppendTime"), Some(t)),
        Timestamp::NotAvailable => (None, None),
    };
    let headers: Vec<Value> = message
        .headers()
        .map(|h| h.iter().map(|h| json!({ "key": h.key, "value": text(h.value) })).collect())
        .unwrap_or_default();
    json!({
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": timestamp,
        "timestamp_type": timestamp_type,
        "key": text(message.key()),
        "value": text(message.payload()),
        "headers": headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("earliest"), Ok(Offset::Beginning));
        assert_eq!(parse_offset("latest"), Ok(Offset::End));
        assert_eq!(parse_offset("42"), Ok(Offset::Offset(42)));
        assert!(parse_offset("-1").is_err());
        assert!(parse_offset("soon").is_err());
    }
}
