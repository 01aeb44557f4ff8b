//! Consumer groups with librdkafka subscribers against a broker process: partitions spread evenly,
//! a member leaving hands its partitions over with nothing lost (commit after processing), static
//! members rejoin without a rebalance, and cooperative-sticky completes its incremental rounds.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use strom_tests::{BrokerProcess, kafka, unique_topic};

const PARTITIONS: i32 = 6;
const TIMEOUT: Duration = Duration::from_secs(30);

fn broker() -> BrokerProcess {
    BrokerProcess::start_with_config("group_initial_rebalance_delay_ms = 0\n")
}

fn member(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut settings = vec![
        ("group.id", group),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
    ];
    settings.extend_from_slice(extra);
    kafka::consumer(bootstrap, &settings)
}

fn assigned(consumer: &BaseConsumer) -> BTreeSet<i32> {
    consumer.assignment().map(|a| a.elements().iter().map(|e| e.partition()).collect()).unwrap_or_default()
}

/// Polls every consumer until `done` holds for their assignments; panics after `TIMEOUT`.
fn poll_until(
    consumers: &[&BaseConsumer],
    what: &str,
    done: impl Fn(&[BTreeSet<i32>]) -> bool,
) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        for c in consumers {
            let _ = c.poll(Duration::from_millis(20));
        }
        let now: Vec<BTreeSet<i32>> = consumers.iter().map(|c| assigned(c)).collect();
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "{what}: assignments {now:?}");
    }
}

async fn produce(bootstrap: &str, topic: &str, count: usize) {
    let producer = kafka::producer(bootstrap, &[]);
    for i in 0..count {
        let value = format!("v{i:05}");
        let record = FutureRecord::<(), _>::to(topic).partition(i as i32 % PARTITIONS).payload(&value);
        producer.send(record, Duration::from_secs(10)).await.expect("produce");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_share_partitions_and_a_leaving_member_loses_nothing() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("groups");
    kafka::create_topic_at(&bootstrap, &topic, PARTITIONS, &[]).await;
    produce(&bootstrap, &topic, 600).await;
    let group = unique_topic("g");
    let consumers: Vec<BaseConsumer> = (0..3).map(|_| member(&bootstrap, &group, &[])).collect();
    for c in &consumers {
        c.subscribe(&[&topic]).expect("subscribe");
    }
    let refs: Vec<&BaseConsumer> = consumers.iter().collect();
    let spread = poll_until(&refs, "two partitions each", |a| a.iter().all(|s| s.len() == 2));
    let all: BTreeSet<i32> = spread.iter().flatten().copied().collect();
    assert_eq!(all.len(), PARTITIONS as usize, "every partition owned once: {spread:?}");

    // Process (and commit after processing) about half, then one member leaves.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + TIMEOUT;
    while seen.len() < 300 && Instant::now() < deadline {
        for c in &consumers {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(20)) {
                let value = String::from_utf8(m.payload().unwrap_or_default().to_vec()).expect("utf-8");
                *seen.entry(value).or_default() += 1;
                c.store_offset_from_message(&m).expect("store offset");
            }
        }
    }
    for c in &consumers {
        let _ = c.commit_consumer_state(CommitMode::Sync);
    }
    let mut consumers = consumers;
    let leaving = consumers.pop().expect("three");
    leaving.unsubscribe();
    drop(leaving);
    // Keep processing (never dropping a polled record) while the two left take over all partitions.
    let deadline = Instant::now() + TIMEOUT;
    let mut took_over = false;
    while (seen.len() < 600 || !took_over) && Instant::now() < deadline {
        for c in &consumers {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(20)) {
                let value = String::from_utf8(m.payload().unwrap_or_default().to_vec()).expect("utf-8");
                *seen.entry(value).or_default() += 1;
                c.store_offset_from_message(&m).expect("store offset");
            }
        }
        took_over |= consumers.iter().map(|c| assigned(c).len()).sum::<usize>() == PARTITIONS as usize;
    }
    assert!(took_over, "the two left did not take over every partition");
    assert_eq!(seen.len(), 600, "every record processed at least once across the rebalance");

    // The coordinator kept the rebalances with their causes.
    let output = std::process::Command::new(strom_tests::strom_bin())
        .args(["groups", "--bootstrap-server", &bootstrap, "--describe", "--group", &group, "--history"])
        .output()
        .expect("run strom groups");
    let history = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "strom groups --history: {}", String::from_utf8_lossy(&output.stderr));
    assert!(history.contains("member_joined=") && history.contains("member_left=1"), "{history}");
    assert!(history.contains("left (2 members"), "{history}");
}

/// Counts the rebalances a consumer goes through.
#[derive(Default)]
struct CountRebalances(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl rdkafka::ClientContext for CountRebalances {}

impl rdkafka::consumer::ConsumerContext for CountRebalances {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, _: &rdkafka::consumer::Rebalance<'_>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarting_within_its_session_keeps_its_partitions() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("static");
    kafka::create_topic_at(&bootstrap, &topic, PARTITIONS, &[]).await;
    let group = unique_topic("g");
    let rebalances = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut config = kafka::client_config(&bootstrap);
    config
        .set("group.id", &group)
        .set("group.instance.id", "a")
        .set("session.timeout.ms", "6000")
        .set("auto.offset.reset", "earliest");
    let a: BaseConsumer<CountRebalances> =
        config.create_with_context(CountRebalances(rebalances.clone())).expect("consumer a");
    let b = member(&bootstrap, &group, &[("group.instance.id", "b")]);
    a.subscribe(&[&topic]).expect("subscribe");
    b.subscribe(&[&topic]).expect("subscribe");
    let deadline = Instant::now() + TIMEOUT;
    let assigned_a = |a: &BaseConsumer<CountRebalances>| -> BTreeSet<i32> {
        a.assignment().map(|x| x.elements().iter().map(|e| e.partition()).collect()).unwrap_or_default()
    };
    while !(assigned_a(&a).len() == 3 && assigned(&b).len() == 3) {
        let _ = a.poll(Duration::from_millis(20));
        let _ = b.poll(Duration::from_millis(20));
        assert!(Instant::now() < deadline, "initial assignment");
    }
    let before = (assigned_a(&a), assigned(&b));
    let settled = rebalances.load(std::sync::atomic::Ordering::SeqCst);
    // b restarts with the same instance id: a static member does not leave on close, and rejoining
    // within its session timeout gets its assignment back without a rebalance (KIP-345).
    drop(b);
    let b = member(&bootstrap, &group, &[("group.instance.id", "b")]);
    b.subscribe(&[&topic]).expect("subscribe");
    let deadline = Instant::now() + TIMEOUT;
    while assigned(&b).len() != 3 {
        let _ = a.poll(Duration::from_millis(20));
        let _ = b.poll(Duration::from_millis(20));
        assert!(Instant::now() < deadline, "b back");
    }
    // Keep a polling for a while longer: a rebalance would reach it through its heartbeats.
    let quiet = Instant::now() + Duration::from_secs(2);
    while Instant::now() < quiet {
        let _ = a.poll(Duration::from_millis(50));
        let _ = b.poll(Duration::from_millis(50));
    }
    assert_eq!((assigned_a(&a), assigned(&b)), before, "same partitions for the same instance ids");
    assert_eq!(rebalances.load(std::sync::atomic::Ordering::SeqCst), settled, "no rebalance for a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_completes_incremental_rebalances() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("coop");
    kafka::create_topic_at(&bootstrap, &topic, PARTITIONS, &[]).await;
    let group = unique_topic("g");
    let settings = [("partition.assignment.strategy", "cooperative-sticky")];
    let a = member(&bootstrap, &group, &settings);
    a.subscribe(&[&topic]).expect("subscribe");
    poll_until(&[&a], "a owns all", |x| x[0].len() == PARTITIONS as usize);
    let b = member(&bootstrap, &group, &settings);
    b.subscribe(&[&topic]).expect("subscribe");
    let split = poll_until(&[&a, &b], "incremental split", |x| x[0].len() == 3 && x[1].len() == 3);
    assert!(split[0].is_disjoint(&split[1]), "{split:?}");
    let c = member(&bootstrap, &group, &settings);
    c.subscribe(&[&topic]).expect("subscribe");
    let three = poll_until(&[&a, &b, &c], "two each", |x| x.iter().all(|s| s.len() == 2));
    let all: BTreeSet<i32> = three.iter().flatten().copied().collect();
    assert_eq!(all.len(), PARTITIONS as usize, "{three:?}");
}
