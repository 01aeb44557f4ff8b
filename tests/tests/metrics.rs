//! A broker's `/metrics` against what real clients (rdkafka) did: consumer lag in records and in
//! seconds per group and partition, members, rebalances by cause and unowned partitions of a group,
//! produce traffic by topic, request latency histograms; and its health endpoints.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use strom_tests::http::{get, get_ok, sample};
use strom_tests::{BrokerProcess, kafka, unique_topic, wait_until};

const TIMEOUT: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64
}

fn metric(addr: SocketAddr, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    sample(&get_ok(addr, "/metrics")?, name, labels)
}

/// Waits until `name{labels}` satisfies `check`; panics with the last value otherwise.
fn wait_metric(addr: SocketAddr, name: &str, labels: &[(&str, &str)], check: impl Fn(f64) -> bool) -> f64 {
    let ok = wait_until(TIMEOUT, || metric(addr, name, labels).is_some_and(&check));
    let last = metric(addr, name, labels);
    assert!(ok, "{name}{labels:?} = {last:?}");
    last.expect("checked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_groups_and_traffic_show_in_metrics() {
    let broker = BrokerProcess::start_with_config("group_initial_rebalance_delay_ms = 0\n");
    let bootstrap = broker.addr().to_string();
    let metrics = broker.metrics_addr();
    assert_eq!(get(metrics, "/health/live").map(|(s, _)| s), Some(200));
    assert_eq!(get(metrics, "/health/ready").map(|(s, _)| s), Some(200));

    let topic = unique_topic("metrics");
    kafka::create_topic_at(&bootstrap, &topic, 2, &[]).await;
    // Records two minutes old: LAG-SECONDS of an unconsumed one is about 120.
    let old = now_ms() - 120_000;
    let producer = kafka::producer(&bootstrap, &[]);
    for (partition, count) in [(0, 30), (1, 20)] {
        for i in 0..count {
            let value = format!("v{i}");
            let record =
                FutureRecord::<(), _>::to(&topic).partition(partition).payload(&value).timestamp(old + i);
            producer.send(record, Duration::from_secs(10)).await.expect("delivered");
        }
    }
    let records = wait_metric(metrics, "strom_records_in_total", &[("topic", &topic)], |v| v >= 50.0);
    assert_eq!(records, 50.0);
    assert!(metric(metrics, "strom_bytes_in_total", &[("topic", &topic)]).is_some_and(|v| v > 0.0));
    let produce_requests = metric(metrics, "strom_request_duration_seconds_count", &[("api", "Produce")]);
    assert!(produce_requests.is_some_and(|v| v >= 1.0), "Produce requests {produce_requests:?}");
    assert_eq!(metric(metrics, "strom_high_watermark", &[("topic", &topic), ("partition", "0")]), Some(30.0));

    // A group that committed 10 of partition 0's 30 records and all of partition 1's 20, then left.
    let lagged = format!("{topic}-lagged");
    let standalone = kafka::consumer(&bootstrap, &[("group.id", &lagged), ("enable.auto.commit", "false")]);
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(&topic, 0, Offset::Offset(10)).expect("tpl");
    offsets.add_partition_offset(&topic, 1, Offset::Offset(20)).expect("tpl");
    standalone.commit(&offsets, CommitMode::Sync).expect("commit");
    let p0 = [("group", lagged.as_str()), ("topic", topic.as_str()), ("partition", "0")];
    let p1 = [("group", lagged.as_str()), ("topic", topic.as_str()), ("partition", "1")];
    assert_eq!(wait_metric(metrics, "strom_consumer_group_lag", &p0, |v| v == 20.0), 20.0);
    let seconds = wait_metric(metrics, "strom_consumer_group_lag_seconds", &p0, |v| v > 0.0);
    assert!(
        (119.0..600.0).contains(&seconds),
        "lag seconds {seconds}: the record at offset 10 is ~120 s old"
    );
    assert_eq!(metric(metrics, "strom_consumer_group_lag", &p1), Some(0.0));
    assert_eq!(metric(metrics, "strom_consumer_group_lag_seconds", &p1), Some(0.0));
    // Nobody owns the lagging group's partitions.
    let unowned = metric(metrics, "strom_consumer_group_unowned_partitions", &[("group", &lagged)]);
    assert_eq!(unowned, Some(2.0));

    // A live member owns both partitions: one member, none unowned, a rebalance for its join.
    let live = format!("{topic}-live");
    let member: BaseConsumer =
        kafka::consumer(&bootstrap, &[("group.id", &live), ("auto.offset.reset", "earliest")]);
    member.subscribe(&[&topic]).expect("subscribe");
    let assigned = wait_until(TIMEOUT, || {
        let _ = member.poll(Duration::from_millis(100));
        member.assignment().is_ok_and(|a| a.count() == 2)
    });
    assert!(assigned, "the member never got both partitions");
    let group = [("group", live.as_str())];
    assert_eq!(wait_metric(metrics, "strom_consumer_group_members", &group, |v| v == 1.0), 1.0);
    assert_eq!(metric(metrics, "strom_consumer_group_unowned_partitions", &group), Some(0.0));
    let joined = [("group", live.as_str()), ("cause", "member_joined")];
    assert!(metric(metrics, "strom_consumer_group_rebalances_total", &joined).is_some_and(|v| v >= 1.0));
    assert!(metric(metrics, "strom_connections", &[]).is_some_and(|v| v >= 1.0));

    // It leaves: no members, both subscribed partitions unowned, the leave counted.
    member.unsubscribe();
    drop(member);
    assert_eq!(wait_metric(metrics, "strom_consumer_group_members", &group, |v| v == 0.0), 0.0);
    let left = [("group", live.as_str()), ("cause", "member_left")];
    assert!(wait_metric(metrics, "strom_consumer_group_rebalances_total", &left, |v| v >= 1.0) >= 1.0);
}
