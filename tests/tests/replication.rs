//! Replication under failure: 3 controllers + 3 brokers as real processes, driven by librdkafka.
//!
//! - acks=all with min.insync.replicas=2 while the partition leader is killed with kill -9 ten times:
//!   every acknowledged value is read back at the offset it was acknowledged at, and after healing the
//!   three replicas' logs are byte-identical up to the high watermark.
//! - The idempotent producer under repeated leader kills: nothing lost, nothing duplicated, order kept.
//! - A follower frozen with SIGSTOP leaves the ISR and rejoins after SIGCONT.
//! - An ISR below min.insync.replicas refuses acks=all (NOT_ENOUGH_REPLICAS) and holds the high
//!   watermark, so acks=1 writes become visible only once the ISR is back.
//! - An unclean election: the returning old leader truncates its divergent tail and the data-loss
//!   ledger records exactly the offsets it discarded.
//! - `strom partitions reassign` moves a partition (and its leadership) onto a broker that held none of
//!   it while a producer keeps writing: nothing acknowledged is lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use strom_tests::cluster::{ClusterOptions, ClusterProcesses};
use strom_tests::kafka::{self, assign};
use strom_tests::replica::{PartitionState, log_batches, partition_state};
use strom_tests::{unique_topic, wait_until};

const STATE_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Records each producer task keeps in flight.
const IN_FLIGHT: usize = 20;

/// Polls the partition's state through any running broker until `check` holds; returns that state.
async fn wait_state(
    cluster: &ClusterProcesses,
    skip: &[i32],
    topic: &str,
    partition: i32,
    what: &str,
    check: impl Fn(&PartitionState) -> bool,
) -> PartitionState {
    let deadline = Instant::now() + STATE_TIMEOUT;
    let mut last = None;
    while Instant::now() < deadline {
        for id in cluster.live_broker_ids().into_iter().filter(|id| !skip.contains(id)) {
            if let Some(state) = partition_state(cluster.broker_addr(id), topic, partition).await {
                if check(&state) {
                    return state;
                }
                last = Some(state);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{topic}-{partition}: {what} not reached within {STATE_TIMEOUT:?}; last state {last:?}");
}

/// What a producer task saw: acknowledged (value, partition, offset) in acknowledgement order, and
/// values whose delivery failed.
#[derive(Default)]
struct Ledger {
    acked: Vec<(String, i32, i64)>,
    failed: Vec<String>,
}

/// Produces `prefix-N` values (partition = N % partitions) with `IN_FLIGHT` outstanding until `stop`.
fn spawn_producer(
    producer: FutureProducer,
    topic: String,
    partitions: i32,
    prefix: &'static str,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut pending = Vec::with_capacity(IN_FLIGHT);
            for _ in 0..IN_FLIGHT {
                let value = format!("{prefix}-{next:07}");
                let partition = (next % partitions as u64) as i32;
                next += 1;
                let record = FutureRecord::<(), _>::to(&topic).partition(partition).payload(&value);
                match producer.send_result(record) {
                    Ok(delivery) => pending.push((value, delivery)),
                    Err((e, _)) => panic!("enqueue failed: {e:?}"),
                }
            }
            for (value, delivery) in pending {
                let outcome = delivery.await;
                let mut ledger = ledger.lock().expect("ledger");
                match outcome {
                    Ok(Ok(d)) => ledger.acked.push((value, d.partition, d.offset)),
                    _ => ledger.failed.push(value),
                }
            }
        }
    })
}

fn acked_count(ledger: &Mutex<Ledger>) -> usize {
    ledger.lock().expect("ledger").acked.len()
}

/// Waits until the producer acknowledged `more` records beyond `from`.
fn wait_for_progress(ledger: &Mutex<Ledger>, from: usize, more: usize, what: &str) {
    let ok = wait_until(STATE_TIMEOUT, || acked_count(ledger) >= from + more);
    assert!(ok, "producer made no progress {what}: {} acked, wanted {}", acked_count(ledger), from + more);
}

/// Reads `topic`-`partition` from offset 0 up to its high watermark; returns offset → value.
fn read_partition(bootstrap: &str, topic: &str, partition: i32) -> (i64, BTreeMap<i64, String>) {
    let consumer = kafka::consumer(bootstrap, &[]);
    let (_, high) =
        consumer.fetch_watermarks(topic, partition, Duration::from_secs(10)).expect("fetch watermarks");
    assign(&consumer, topic, [partition], Offset::Beginning);
    let mut read = BTreeMap::new();
    let deadline = Instant::now() + READ_TIMEOUT;
    while read.last_key_value().is_none_or(|(o, _)| *o < high - 1) && high > 0 {
        assert!(Instant::now() < deadline, "{topic}-{partition}: read {} records of {high}", read.len());
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let value = String::from_utf8(m.payload().unwrap_or_default().to_vec()).expect("utf-8");
                read.insert(m.offset(), value);
            }
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => eprintln!("consumer (transient): {e}"),
        }
    }
    (high, read)
}

/// Polls until every replica's log up to `high_watermark` is the same bytes, and returns the size.
fn assert_replicas_identical(
    cluster: &ClusterProcesses,
    topic: &str,
    partition: i32,
    high_watermark: i64,
) -> usize {
    assert_replicas_on(cluster, &cluster.broker_ids(), topic, partition, high_watermark)
}

/// Polls until the logs of brokers `ids` up to `high_watermark` are the same bytes; returns the size.
fn assert_replicas_on(
    cluster: &ClusterProcesses,
    ids: &[i32],
    topic: &str,
    partition: i32,
    high_watermark: i64,
) -> usize {
    let mut sizes = Vec::new();
    let identical = wait_until(STATE_TIMEOUT, || {
        let logs: Vec<Vec<u8>> = ids
            .iter()
            .map(|id| log_batches(cluster.broker_data_dir(*id), topic, partition, high_watermark))
            .collect();
        sizes = logs.iter().map(Vec::len).collect();
        !logs[0].is_empty() && logs.iter().all(|l| *l == logs[0])
    });
    assert!(
        identical,
        "replica logs of {topic}-{partition} differ below offset {high_watermark}: sizes {sizes:?}"
    );
    sizes[0]
}

fn replication_cluster(broker_config: &str) -> ClusterProcesses {
    ClusterProcesses::start_with(3, 3, ClusterOptions { broker_config: broker_config.to_string() })
}

async fn create_topic(cluster: &ClusterProcesses, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin = kafka::admin(&cluster.bootstrap());
    kafka::create_replicated_topic(&admin, topic, partitions, 3, configs).await;
    for p in 0..partitions {
        wait_state(cluster, &[], topic, p, "a leader and a full ISR", |s| s.leader >= 0 && s.isr.len() == 3)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_writes_survive_ten_leader_kills() {
    let mut cluster = replication_cluster("");
    let topic = unique_topic("ten-kills");
    create_topic(&cluster, &topic, 1, &[("min.insync.replicas", "2")]).await;
    let producer = kafka::producer(
        &cluster.bootstrap(),
        &[
            ("acks", "all"),
            ("enable.idempotence", "false"),
            ("message.timeout.ms", "60000"),
            ("linger.ms", "2"),
        ],
    );
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let task = spawn_producer(producer, topic.clone(), 1, "v", ledger.clone(), stop.clone());
    wait_for_progress(&ledger, 0, 100, "before the first kill");

    let mut failovers = Vec::new();
    for round in 1..=10 {
        let state =
            wait_state(&cluster, &[], &topic, 0, "a full ISR", |s| s.leader >= 0 && s.isr.len() == 3).await;
        let before = acked_count(&ledger);
        let killed_at = Instant::now();
        cluster.kill9_broker(state.leader);
        let after = wait_state(&cluster, &[], &topic, 0, "a new leader", |s| {
            s.leader >= 0 && s.leader != state.leader && s.leader_epoch > state.leader_epoch
        })
        .await;
        wait_for_progress(&ledger, before, 2 * IN_FLIGHT, "on the new leader");
        failovers.push(killed_at.elapsed());
        eprintln!(
            "round {round}: killed leader {} (epoch {}), new leader {} (epoch {}, ISR {:?}) after {:?}",
            state.leader,
            state.leader_epoch,
            after.leader,
            after.leader_epoch,
            after.isr,
            killed_at.elapsed()
        );
        cluster.restart_broker(state.leader);
    }
    wait_state(&cluster, &[], &topic, 0, "a full ISR after healing", |s| s.isr.len() == 3).await;
    stop.store(true, Ordering::Relaxed);
    task.await.expect("producer task");

    let (high, read) = read_partition(&cluster.bootstrap(), &topic, 0);
    let ledger = ledger.lock().expect("ledger");
    eprintln!(
        "{} acknowledged, {} failed, high watermark {high}, {} records read; failovers {failovers:?}",
        ledger.acked.len(),
        ledger.failed.len(),
        read.len()
    );
    for (value, _, offset) in &ledger.acked {
        assert_eq!(read.get(offset), Some(value), "acknowledged {value} at offset {offset}");
    }
    let bytes = assert_replicas_identical(&cluster, &topic, 0, high);
    eprintln!("replica logs identical: {bytes} bytes below offset {high}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_loses_and_duplicates_nothing_across_leader_kills() {
    const PARTITIONS: i32 = 3;
    let mut cluster = replication_cluster("");
    let topic = unique_topic("idempotent-kills");
    create_topic(&cluster, &topic, PARTITIONS, &[("min.insync.replicas", "2")]).await;
    let producer = kafka::producer(
        &cluster.bootstrap(),
        &[("enable.idempotence", "true"), ("message.timeout.ms", "60000"), ("linger.ms", "2")],
    );
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let task = spawn_producer(producer, topic.clone(), PARTITIONS, "i", ledger.clone(), stop.clone());
    wait_for_progress(&ledger, 0, 100, "before the first kill");
    for round in 0..4 {
        let partition = round % PARTITIONS;
        let state =
            wait_state(&cluster, &[], &topic, partition, "a full ISR", |s| s.leader >= 0 && s.isr.len() == 3)
                .await;
        let before = acked_count(&ledger);
        cluster.kill9_broker(state.leader);
        wait_state(&cluster, &[], &topic, partition, "a new leader", |s| {
            s.leader >= 0 && s.leader != state.leader
        })
        .await;
        wait_for_progress(&ledger, before, 2 * IN_FLIGHT, "on the new leader");
        cluster.restart_broker(state.leader);
    }
    for p in 0..PARTITIONS {
        wait_state(&cluster, &[], &topic, p, "a full ISR after healing", |s| s.isr.len() == 3).await;
    }
    stop.store(true, Ordering::Relaxed);
    task.await.expect("producer task");

    let ledger = ledger.lock().expect("ledger");
    assert!(ledger.failed.is_empty(), "idempotent deliveries failed: {:?}", ledger.failed);
    for p in 0..PARTITIONS {
        let (_, read) = read_partition(&cluster.bootstrap(), &topic, p);
        let values: Vec<&String> = read.values().collect();
        let mut sorted = values.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(values, sorted, "partition {p}: values out of order or duplicated");
        for (value, partition, offset) in ledger.acked.iter().filter(|(_, partition, _)| *partition == p) {
            assert_eq!(read.get(offset), Some(value), "acknowledged {value} at {partition}/{offset}");
        }
        eprintln!("partition {p}: {} records, in order, no duplicates", values.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_follower_leaves_the_isr_and_rejoins() {
    let cluster = replication_cluster("replica_lag_time_max_ms = 1000\n");
    let topic = unique_topic("paused-follower");
    create_topic(&cluster, &topic, 1, &[("min.insync.replicas", "2")]).await;
    let state = wait_state(&cluster, &[], &topic, 0, "a full ISR", |s| s.isr.len() == 3).await;
    let follower = *state.replicas.iter().find(|r| **r != state.leader).expect("a follower");
    let producer = kafka::producer(&cluster.bootstrap(), &[("acks", "all"), ("message.timeout.ms", "30000")]);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let task = spawn_producer(producer, topic.clone(), 1, "p", ledger.clone(), stop.clone());
    wait_for_progress(&ledger, 0, 50, "before the pause");

    let paused_at = Instant::now();
    cluster.pause_broker(follower);
    let shrunk = wait_state(&cluster, &[follower], &topic, 0, "the paused follower out of the ISR", |s| {
        !s.isr.contains(&follower)
    })
    .await;
    eprintln!("ISR shrank to {:?} {:?} after SIGSTOP of broker {follower}", shrunk.isr, paused_at.elapsed());
    assert!(shrunk.isr.len() < shrunk.replicas.len(), "under-replicated: {shrunk:?}");
    let before = acked_count(&ledger);
    wait_for_progress(&ledger, before, 2 * IN_FLIGHT, "with the follower out of the ISR (ISR 2 = min)");

    let resumed_at = Instant::now();
    cluster.resume_broker(follower);
    let healed =
        wait_state(&cluster, &[], &topic, 0, "the follower back in the ISR", |s| s.isr.contains(&follower))
            .await;
    eprintln!("ISR back to {:?} {:?} after SIGCONT", healed.isr, resumed_at.elapsed());
    stop.store(true, Ordering::Relaxed);
    task.await.expect("producer task");
    let (high, read) = read_partition(&cluster.bootstrap(), &topic, 0);
    let ledger = ledger.lock().expect("ledger");
    for (value, _, offset) in &ledger.acked {
        assert_eq!(read.get(offset), Some(value), "acknowledged {value} at offset {offset}");
    }
    assert_replicas_identical(&cluster, &topic, 0, high);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isr_below_min_insync_refuses_acks_all_and_holds_the_high_watermark() {
    let mut cluster = replication_cluster("");
    let topic = unique_topic("below-min-isr");
    create_topic(&cluster, &topic, 1, &[("min.insync.replicas", "2")]).await;
    let state = wait_state(&cluster, &[], &topic, 0, "a full ISR", |s| s.isr.len() == 3).await;
    let bootstrap = cluster.broker_addr(state.leader).to_string();
    let all =
        kafka::producer(&bootstrap, &[("acks", "all"), ("retries", "0"), ("message.timeout.ms", "10000")]);
    let record = FutureRecord::<(), _>::to(&topic).partition(0).payload("committed");
    all.send(record, Duration::from_secs(10)).await.expect("acks=all with the full ISR");

    let followers: Vec<i32> = state.replicas.iter().copied().filter(|r| *r != state.leader).collect();
    for f in &followers {
        cluster.kill9_broker(*f);
    }
    wait_state(&cluster, &[], &topic, 0, "the ISR down to the leader", |s| s.isr == vec![state.leader]).await;
    let record = FutureRecord::<(), _>::to(&topic).partition(0).payload("refused");
    match all.send(record, Duration::from_secs(10)).await {
        Err((KafkaError::MessageProduction(code), _)) => {
            assert_eq!(code, RDKafkaErrorCode::NotEnoughReplicas, "acks=all below min.insync.replicas")
        }
        other => panic!("expected NOT_ENOUGH_REPLICAS, got {other:?}"),
    }
    let one = kafka::producer(&bootstrap, &[("acks", "1"), ("message.timeout.ms", "10000")]);
    let record = FutureRecord::<(), _>::to(&topic).partition(0).payload("acks-1");
    let offset = one.send(record, Duration::from_secs(10)).await.expect("acks=1 still appends").offset;
    let consumer = kafka::consumer(&bootstrap, &[]);
    let (_, high) = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10)).expect("watermarks");
    assert_eq!(high, offset, "the high watermark stays below the acks=1 record while the ISR is below min");

    for f in &followers {
        cluster.restart_broker(*f);
    }
    wait_state(&cluster, &[], &topic, 0, "the ISR healed", |s| s.isr.len() == 3).await;
    let consumer = kafka::consumer(&cluster.bootstrap(), &[]);
    let moved = wait_until(STATE_TIMEOUT, || {
        consumer.fetch_watermarks(&topic, 0, Duration::from_secs(5)).is_ok_and(|(_, h)| h > offset)
    });
    assert!(moved, "the high watermark passes the acks=1 record once the ISR is back");
    let (high, read) = read_partition(&cluster.bootstrap(), &topic, 0);
    assert_eq!(read.values().map(String::as_str).collect::<Vec<_>>(), vec!["committed", "acks-1"]);
    assert_replicas_identical(&cluster, &topic, 0, high);
}

/// Runs `strom topics --describe --topic T` against `bootstrap` and returns its stdout.
fn describe_topic(bootstrap: &str, topic: &str) -> String {
    let output = std::process::Command::new(strom_tests::strom_bin())
        .args(["topics", "--bootstrap-server", bootstrap, "--describe", "--topic", topic])
        .output()
        .expect("run strom topics");
    assert!(output.status.success(), "strom topics failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclean_election_truncates_the_old_leader_and_the_ledger_records_the_exact_range() {
    let mut cluster = replication_cluster("");
    let topic = unique_topic("unclean");
    create_topic(&cluster, &topic, 1, &[("unclean.leader.election.enable", "true")]).await;
    let state = wait_state(&cluster, &[], &topic, 0, "a full ISR", |s| s.isr.len() == 3).await;
    let old_leader = state.leader;
    let followers: Vec<i32> = state.replicas.iter().copied().filter(|r| *r != old_leader).collect();
    let leader_addr = cluster.broker_addr(old_leader).to_string();
    let all = kafka::producer(&leader_addr, &[("acks", "all"), ("message.timeout.ms", "10000")]);
    for i in 0..10 {
        let value = format!("before-{i}");
        let record = FutureRecord::<(), _>::to(&topic).partition(0).payload(&value);
        all.send(record, Duration::from_secs(10)).await.expect("acks=all with the full ISR");
    }

    // Both followers die; the ISR shrinks to the old leader, which alone commits more records.
    for f in &followers {
        cluster.kill9_broker(*f);
    }
    wait_state(&cluster, &[], &topic, 0, "the ISR down to the leader", |s| s.isr == vec![old_leader]).await;
    let mut lost = Vec::new();
    for i in 0..20 {
        let value = format!("lost-{i}");
        let record = FutureRecord::<(), _>::to(&topic).partition(0).payload(&value);
        let delivery = all.send(record, Duration::from_secs(10)).await.expect("acks=all with ISR = leader");
        lost.push(delivery.offset);
    }
    drop(all);

    // The leader dies too; a follower without those records comes back and is elected uncleanly.
    cluster.kill9_broker(old_leader);
    let new_leader = followers[0];
    cluster.restart_broker(new_leader);
    let elected = wait_state(&cluster, &[], &topic, 0, "an unclean leader", |s| s.leader == new_leader).await;
    eprintln!("unclean election: broker {new_leader} leads at epoch {}", elected.leader_epoch);
    let producer = kafka::producer(&cluster.broker_addr(new_leader).to_string(), &[("acks", "1")]);
    let mut new_offsets = Vec::new();
    for i in 0..5 {
        let value = format!("new-{i}");
        let record = FutureRecord::<(), _>::to(&topic).partition(0).payload(&value);
        new_offsets.push(
            producer.send(record, Duration::from_secs(10)).await.expect("produce to the new leader").offset,
        );
    }
    assert_eq!(new_offsets[0], lost[0], "the new leader continues where its own log ended");

    // The old leader returns, truncates its divergent tail and reports it.
    cluster.restart_broker(old_leader);
    cluster.restart_broker(followers[1]);
    wait_state(&cluster, &[], &topic, 0, "a healed ISR", |s| s.isr.len() == 3).await;
    let (start, end) = (lost[0], lost[lost.len() - 1] + 1);
    let expected = format!("DataLoss: partition 0 offsets [{start},{end}) discarded by broker {old_leader}");
    let mut described = String::new();
    let recorded = wait_until(STATE_TIMEOUT, || {
        described = describe_topic(&cluster.bootstrap(), &topic);
        described.contains(&expected)
    });
    assert!(recorded, "ledger entry `{expected}` missing from:\n{described}");
    eprintln!("{described}");

    let (high, read) = read_partition(&cluster.bootstrap(), &topic, 0);
    let values: Vec<&str> = read.values().map(String::as_str).collect();
    let mut wanted: Vec<String> = (0..10).map(|i| format!("before-{i}")).collect();
    wanted.extend((0..5).map(|i| format!("new-{i}")));
    assert_eq!(values, wanted.iter().map(String::as_str).collect::<Vec<_>>(), "the lost records are gone");
    assert_replicas_identical(&cluster, &topic, 0, high);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassignment_moves_a_partition_to_a_new_broker_under_load() {
    let cluster = ClusterProcesses::start_with(3, 4, ClusterOptions::default());
    let topic = unique_topic("reassign");
    let admin = kafka::admin(&cluster.bootstrap());
    let new_topic =
        rdkafka::admin::NewTopic::new(&topic, 1, rdkafka::admin::TopicReplication::Variable(&[&[1, 2, 3]]))
            .set("min.insync.replicas", "2");
    let results = admin.create_topics([&new_topic], &kafka::admin_options()).await.expect("create topic");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let before =
        wait_state(&cluster, &[], &topic, 0, "a full ISR", |s| s.isr.len() == 3 && s.leader == 1).await;
    assert_eq!(before.replicas, vec![1, 2, 3]);

    let producer = kafka::producer(&cluster.bootstrap(), &[("acks", "all"), ("message.timeout.ms", "60000")]);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let task = spawn_producer(producer, topic.clone(), 1, "m", ledger.clone(), stop.clone());
    wait_for_progress(&ledger, 0, 2_000, "before the move");

    // Broker 4 holds nothing of the topic; the leader (broker 1) leaves the replica set.
    let args: Vec<String> = [
        "partitions",
        "reassign",
        "--bootstrap-server",
        &cluster.bootstrap(),
        "--topic",
        &topic,
        "--partition",
        "0",
        "--replicas",
        "2,3,4",
        "--throttle",
        "50000000",
        "--timeout-ms",
        "60000",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(strom_tests::strom_bin()).args(&args).output().expect("run strom")
    })
    .await
    .expect("reassign task");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("strom partitions reassign:\n{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "reassign failed");
    assert!(stdout.contains(&format!("Reassignment of {topic}-0 complete: replicas 2,3,4")), "{stdout}");
    let after = wait_state(&cluster, &[], &topic, 0, "the new replica set", |s| {
        s.replicas == vec![2, 3, 4] && s.isr.len() == 3 && s.leader != 1
    })
    .await;
    eprintln!("after the move: {after:?}");
    let moved = acked_count(&ledger);
    wait_for_progress(&ledger, moved, 2 * IN_FLIGHT, "after the move");
    stop.store(true, Ordering::Relaxed);
    task.await.expect("producer task");

    let (high, read) = read_partition(&cluster.bootstrap(), &topic, 0);
    let ledger = ledger.lock().expect("ledger");
    for (value, _, offset) in &ledger.acked {
        assert_eq!(read.get(offset), Some(value), "acknowledged {value} at offset {offset}");
    }
    let bytes = assert_replicas_on(&cluster, &[2, 3, 4], &topic, 0, high);
    eprintln!(
        "{} acknowledged, high watermark {high}, {bytes} bytes identical on brokers 2, 3, 4",
        ledger.acked.len()
    );
    let removed = cluster.broker_data_dir(1).join(format!("{topic}-0"));
    let gone = wait_until(STATE_TIMEOUT, || !removed.exists());
    assert!(gone, "broker 1 still holds {}", removed.display());
}
