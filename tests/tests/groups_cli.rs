//! `strom groups` (kafka-consumer-groups over the Kafka protocol) against a broker process: offsets
//! committed with `--reset-offsets --execute` show up in `--describe` with the log end offset, the lag
//! and the age of the oldest unconsumed record; `--dry-run` commits nothing; every reset spec lands
//! where Kafka's tool puts it. Committed offsets are also read back through librdkafka, so the tool
//! is checked against an independent client.
//!
//! ListGroups, DescribeGroups and DeleteGroups may not be served by the broker under test yet: those
//! checks accept either the real answer or the tool's "API not supported by the broker" error.

use std::process::Output;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use strom_tests::kafka::{self, create_topic_at};
use strom_tests::{BrokerProcess, strom_bin, unique_topic};

const TIMEOUT: Duration = Duration::from_secs(10);
/// 2020-01-01T00:00:00.000Z: record `i` of partition 0 is stamped this plus `i` minutes.
const BASE_TIMESTAMP_MS: i64 = 1_577_836_800_000;
const MINUTE_MS: i64 = 60_000;
const RECORDS: i64 = 10;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

/// Runs `strom groups --bootstrap-server B <args>` off the async runtime.
async fn groups(bootstrap: &str, args: &[&str]) -> Output {
    let mut argv = vec!["groups".to_string(), "--bootstrap-server".into(), bootstrap.to_string()];
    argv.extend(args.iter().map(ToString::to_string));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(strom_bin()).args(&argv).output().expect("run strom groups")
    })
    .await
    .expect("strom groups task");
    eprintln!(
        "strom groups {args:?} -> {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Like [`groups`], but the command must succeed; returns stdout.
async fn groups_ok(bootstrap: &str, args: &[&str]) -> String {
    let output = groups(bootstrap, args).await;
    assert!(
        output.status.success(),
        "strom groups {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

/// The whitespace-separated cells of the table row for `topic`-`partition` (`None` if absent).
fn row(table: &str, topic: &str, partition: i32) -> Option<Vec<String>> {
    let partition = partition.to_string();
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|cells| cells.len() >= 3 && cells[1] == topic && cells[2] == partition)
}

/// The group's committed offset of `topic`-`partition` as librdkafka reads it (OffsetFetch).
fn committed(bootstrap: &str, group: &str, topic: &str, partition: i32) -> Offset {
    let consumer = kafka::consumer(bootstrap, &[("group.id", group)]);
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, partition);
    let offsets = consumer.committed_offsets(list, TIMEOUT).expect("OffsetFetch through librdkafka");
    offsets.find_partition(topic, partition).expect("partition in the answer").offset()
}

/// Produces [`RECORDS`] records to partition 0 (lz4 batches of several records, old timestamps) and
/// 2 to partition 1.
async fn produce(bootstrap: &str, topic: &str) {
    let producer = kafka::producer(bootstrap, &[("linger.ms", "50"), ("compression.type", "lz4")]);
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let record = FutureRecord::to(topic)
            .partition(0)
            .key("k")
            .payload("v")
            .timestamp(BASE_TIMESTAMP_MS + i * MINUTE_MS);
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).expect("enqueue"));
    }
    for i in 0..2 {
        let record = FutureRecord::to(topic).partition(1).key("k").payload("v").timestamp(now_ms() + i);
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).expect("enqueue"));
    }
    for delivery in deliveries {
        delivery.await.expect("delivery reported").map_err(|(e, _)| e).expect("delivered");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_offsets_then_describe_shows_lag_and_lag_seconds() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("groups-cli");
    let group = unique_topic("groups-cli-group");
    create_topic_at(&bootstrap, &topic, 2, &[]).await;
    produce(&bootstrap, &topic).await;
    let spec = format!("{topic}:0");

    let dry = groups_ok(
        &bootstrap,
        &["--reset-offsets", "--group", &group, "--topic", &spec, "--to-offset", "3", "--dry-run"],
    )
    .await;
    assert!(dry.starts_with("GROUP"), "{dry}");
    assert_eq!(row(&dry, &topic, 0).expect("dry-run row")[3], "3");
    assert_eq!(committed(&bootstrap, &group, &topic, 0), Offset::Invalid, "--dry-run committed nothing");

    let done = groups_ok(
        &bootstrap,
        &["--reset-offsets", "--group", &group, "--topic", &spec, "--to-offset", "3", "--execute"],
    )
    .await;
    assert_eq!(row(&done, &topic, 0).expect("execute row")[3], "3");
    assert_eq!(committed(&bootstrap, &group, &topic, 0), Offset::Offset(3));

    let before = now_ms();
    let described = groups_ok(&bootstrap, &["--describe", "--group", &group]).await;
    let after = now_ms();
    let header = described.lines().find(|l| l.starts_with("GROUP")).expect("header");
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "LAG-SECONDS",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID"
        ]
    );
    let cells = row(&described, &topic, 0).expect("partition 0 row");
    assert_eq!(cells[..6], [group.as_str(), &topic, "0", "3", "10", "7"]);
    assert_eq!(cells[7..], ["-", "-", "-"], "committed but unowned");
    // The record at offset 3 is stamped BASE + 3 minutes: LAG-SECONDS is its age.
    let oldest = BASE_TIMESTAMP_MS + 3 * MINUTE_MS;
    let lag_seconds: i64 = cells[6].parse().expect("LAG-SECONDS is a number");
    assert!(
        ((before - oldest) / 1000..=(after - oldest) / 1000).contains(&lag_seconds),
        "LAG-SECONDS {lag_seconds} is not the age of a record stamped {oldest}"
    );
    assert!(row(&described, &topic, 1).is_none(), "no commit and no owner for partition 1");

    let json = groups_ok(&bootstrap, &["--describe", "--group", &group, "--output", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    let offsets = &json[0]["offsets"][0];
    assert_eq!(json[0]["group"], group.as_str());
    assert_eq!((offsets["current_offset"].as_i64(), offsets["log_end_offset"].as_i64()), (Some(3), Some(10)));
    assert_eq!(offsets["lag"].as_i64(), Some(7));
    assert!(offsets["lag_seconds"].as_i64().is_some_and(|s| s >= lag_seconds));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reset_spec_lands_where_kafkas_tool_puts_it() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("groups-reset");
    let group = unique_topic("groups-reset-group");
    create_topic_at(&bootstrap, &topic, 2, &[]).await;
    produce(&bootstrap, &topic).await;
    let spec = format!("{topic}:0");
    let reset = |how: Vec<&'static str>| {
        let (bootstrap, group, spec) = (bootstrap.clone(), group.clone(), spec.clone());
        async move {
            let mut args: Vec<&str> =
                vec!["--reset-offsets", "--group", &group, "--topic", &spec, "--execute"];
            args.extend(how);
            let out = groups_ok(&bootstrap, &args).await;
            row(&out, spec.split(':').next().expect("topic"), 0).expect("reset row")[3]
                .parse::<i64>()
                .expect("offset")
        }
    };
    assert_eq!(reset(vec!["--to-latest"]).await, RECORDS);
    assert_eq!(reset(vec!["--shift-by", "-4"]).await, RECORDS - 4);
    assert_eq!(reset(vec!["--shift-by", "100"]).await, RECORDS, "clamped to the log end");
    assert_eq!(reset(vec!["--to-earliest"]).await, 0);
    assert_eq!(reset(vec!["--to-offset", "99"]).await, RECORDS, "clamped to the log end");
    assert_eq!(reset(vec!["--to-datetime", "2020-01-01T00:05:00.000Z"]).await, 5);
    assert_eq!(
        reset(vec!["--to-datetime", "2020-01-01T01:04:30.000+01:00"]).await,
        5,
        "the first record at or after"
    );
    assert_eq!(reset(vec!["--to-datetime", "2100-01-01T00:00:00.000Z"]).await, RECORDS, "nothing that late");
    assert_eq!(reset(vec!["--to-current"]).await, RECORDS);
    assert_eq!(committed(&bootstrap, &group, &topic, 0), Offset::Offset(RECORDS));

    // Caught up: no lag, LAG-SECONDS 0.
    let described = groups_ok(&bootstrap, &["--describe", "--group", &group]).await;
    assert_eq!(row(&described, &topic, 0).expect("row")[3..7], ["10", "10", "0", "0"]);

    // --all-topics resets what the group committed; shifting a partition without a commit fails.
    let all = groups_ok(
        &bootstrap,
        &["--reset-offsets", "--group", &group, "--all-topics", "--shift-by", "-1", "--dry-run"],
    )
    .await;
    assert_eq!(row(&all, &topic, 0).expect("row")[3], "9");
    assert!(row(&all, &topic, 1).is_none());
    let shift = groups(
        &bootstrap,
        &["--reset-offsets", "--group", &group, "--topic", &topic, "--shift-by", "1", "--dry-run"],
    )
    .await;
    assert!(!shift.status.success());
    assert!(String::from_utf8_lossy(&shift.stderr).contains("no committed offset"), "{shift:?}");
    let missing = groups(
        &bootstrap,
        &["--reset-offsets", "--group", &group, "--topic", "no-such-topic", "--to-earliest"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("topic 'no-such-topic' does not exist"),
        "{missing:?}"
    );
    assert_eq!(
        committed(&bootstrap, &group, &topic, 0),
        Offset::Offset(RECORDS),
        "dry runs and failures commit nothing"
    );
}

/// Either the command's real answer passes `check`, or the broker does not serve the API yet and the
/// tool says so.
fn answered_or_unsupported(output: &Output, check: impl FnOnce(&str)) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("API not supported by the broker") {
        assert!(!output.status.success(), "an unsupported API is an error");
        return;
    }
    check(&String::from_utf8_lossy(&output.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_state_members_and_delete_answer_or_say_the_api_is_unsupported() {
    let broker = BrokerProcess::start();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("groups-admin");
    let group = unique_topic("groups-admin-group");
    create_topic_at(&bootstrap, &topic, 2, &[]).await;
    produce(&bootstrap, &topic).await;
    groups_ok(
        &bootstrap,
        &["--reset-offsets", "--group", &group, "--topic", &topic, "--to-offset", "2", "--execute"],
    )
    .await;

    let list = groups(&bootstrap, &["--list"]).await;
    answered_or_unsupported(&list, |out| {
        assert!(out.lines().any(|l| l == group), "{group} listed: {out}");
    });
    let described = groups(&bootstrap, &["--describe", "--group", &group, "--state"]).await;
    answered_or_unsupported(&described, |out| {
        let cells = out.lines().find(|l| l.starts_with(&group)).expect("state row");
        assert!(cells.contains("Empty") && cells.ends_with(" 0"), "an inactive group: {out}");
    });
    let members = groups(&bootstrap, &["--describe", "--group", &group, "--members"]).await;
    answered_or_unsupported(&members, |out| {
        assert!(out.contains(&format!("Consumer group '{group}' has no active members.")), "{out}");
    });
    let deleted = groups(&bootstrap, &["--delete", "--group", &group]).await;
    answered_or_unsupported(&deleted, |out| {
        assert_eq!(out, format!("Deletion of requested consumer groups ('{group}') was successful.\n"));
    });
    if deleted.status.success() {
        assert_eq!(
            committed(&bootstrap, &group, &topic, 0),
            Offset::Invalid,
            "the deleted group's offsets are gone"
        );
    }
}
