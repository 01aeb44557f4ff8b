//! Named listeners (`--listeners`, `--advertised-listeners`, `--inter-broker-listener-name`), as in
//! Kafka's INTERNAL/EXTERNAL pattern:
//!
//! - one broker, two listeners advertised under two hosts: Metadata, DescribeCluster and
//!   FindCoordinator on each listener answer with that listener's endpoint, and librdkafka produces
//!   and consumes through the second one;
//! - 3 controllers + 2 brokers whose client listener (listed first) advertises a host no broker can
//!   resolve: replication still works, because followers reach leaders on the inter-broker listener;
//! - bad listener settings stop the broker with a clear error.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::{
    DescribeClusterRequest, FindCoordinatorRequest, MetadataRequest, MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::Offset;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use strom_tests::cluster::{BROKER_HEARTBEAT_INTERVAL, BROKER_READY_PREFIX, ClusterProcesses};
use strom_tests::kafka::{self, assign, consume, create_replicated_topic, create_topic};
use strom_tests::node::{NodeProcess, Startup};
use strom_tests::replica::{log_batches, partition_state};
use strom_tests::wire::Connection;
use strom_tests::{READY_TIMEOUT, parse_ready_line, parse_ready_listeners, unique_topic, wait_until};

const RECORDS: usize = 20;
const STATE_TIMEOUT: Duration = Duration::from_secs(30);

/// `strom broker` with `args` after the subcommand, on `data_dir`.
fn spawn_broker(label: &str, data_dir: &Path, args: &[&str]) -> NodeProcess {
    let mut all = vec!["broker".to_string(), "--data-dir".into(), data_dir.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    NodeProcess::spawn(label, all)
}

/// Waits for the ready line; returns the `kafka=` address and the bound address of every listener.
fn expect_ready(node: &mut NodeProcess) -> (SocketAddr, Vec<(String, SocketAddr)>) {
    let line = node.expect_ready(BROKER_READY_PREFIX, READY_TIMEOUT);
    let (kafka, _) = parse_ready_line(&line).unwrap_or_else(|| panic!("bad ready line {line:?}"));
    (kafka, parse_ready_listeners(&line))
}

fn listener(listeners: &[(String, SocketAddr)], name: &str) -> SocketAddr {
    listeners
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, addr)| *addr)
        .unwrap_or_else(|| panic!("no listener {name} in {listeners:?}"))
}

/// The broker list of a Metadata v12 response: `(node id, host, port)`, by node id.
fn brokers(response: &MetadataResponse) -> Vec<(i32, String, i32)> {
    let mut brokers: Vec<_> =
        response.brokers.iter().map(|b| (b.node_id.0, b.host.to_string(), b.port)).collect();
    brokers.sort();
    brokers
}

async fn metadata(addr: SocketAddr) -> MetadataResponse {
    Connection::connect(addr).await.call(12, &MetadataRequest::default().with_topics(Some(vec![]))).await
}

/// Metadata, DescribeCluster and FindCoordinator through the listener at `addr` all name
/// `(host, port)` for broker `node_id`.
async fn assert_listener_answers(addr: SocketAddr, node_id: i32, host: &str, port: u16) {
    let want = vec![(node_id, host.to_string(), i32::from(port))];
    let mut connection = Connection::connect(addr).await;
    let metadata = connection.call(12, &MetadataRequest::default().with_topics(Some(vec![]))).await;
    assert_eq!(brokers(&metadata), want, "Metadata through {addr}");
    let cluster = connection.call(1, &DescribeClusterRequest::default()).await;
    let described: Vec<_> =
        cluster.brokers.iter().map(|b| (b.broker_id.0, b.host.to_string(), b.port)).collect();
    assert_eq!(described, want, "DescribeCluster through {addr}");
    let request = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("listeners-group"));
    let coordinator = connection.call(3, &request).await;
    assert_eq!(coordinator.error_code, 0, "FindCoordinator through {addr}: {:?}", coordinator.error_message);
    let found = (coordinator.node_id.0, coordinator.host.to_string(), coordinator.port);
    assert_eq!(vec![found], want, "FindCoordinator through {addr}");
}

#[tokio::test]
async fn each_listener_advertises_its_own_endpoint() {
    let data = tempfile::tempdir().expect("data dir");
    let mut node = spawn_broker(
        "broker",
        data.path(),
        &[
            "--listeners",
            "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
            // INTERNAL has no entry: it advertises its bound address. Port 0: the bound port.
            "--advertised-listeners",
            "EXTERNAL://localhost:0",
        ],
    );
    let (kafka, listeners) = expect_ready(&mut node);
    let (internal, external) = (listener(&listeners, "INTERNAL"), listener(&listeners, "EXTERNAL"));
    assert_eq!(listeners.len(), 2, "{listeners:?}");
    assert_eq!(kafka, internal, "kafka= is the first listener");
    assert_ne!(internal.port(), external.port());
    assert_listener_answers(internal, 1, "127.0.0.1", internal.port()).await;
    assert_listener_answers(external, 1, "localhost", external.port()).await;

    // librdkafka bootstraps on EXTERNAL and then follows what that listener advertises.
    let bootstrap = format!("localhost:{}", external.port());
    let topic = unique_topic("listeners-external");
    create_topic(&kafka::admin(&bootstrap), &topic, 1, &[]).await;
    let producer = kafka::producer(&bootstrap, &[("acks", "all")]);
    for i in 0..RECORDS {
        let value = format!("value-{i}");
        producer
            .send(FutureRecord::<(), _>::to(&topic).payload(&value), Duration::from_secs(20))
            .await
            .unwrap_or_else(|(e, _)| panic!("record {i} not delivered through EXTERNAL: {e:?}"));
    }
    let consumer = kafka::consumer(&bootstrap, &[]);
    assign(&consumer, &topic, [0], Offset::Beginning);
    let values: Vec<String> = consume(&consumer, RECORDS, Duration::from_secs(30))
        .iter()
        .map(|m| String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(values, (0..RECORDS).map(|i| format!("value-{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn replication_uses_the_inter_broker_listener() {
    let cluster = ClusterProcesses::start(3, 0);
    let controllers = cluster.controller_addrs().join(",");
    let heartbeat = BROKER_HEARTBEAT_INTERVAL.as_millis().to_string();
    let mut nodes = Vec::new();
    for id in 1..=2 {
        let data_dir = cluster.data_root().join(format!("broker-{id}"));
        let node = spawn_broker(
            &format!("broker-{id}"),
            &data_dir,
            &[
                "--node-id",
                &id.to_string(),
                "--controllers",
                &controllers,
                "--heartbeat-interval-ms",
                &heartbeat,
                // The client listener comes first and advertises a host that does not resolve, so a
                // follower using it (rather than INTERNAL) could not replicate.
                "--listeners",
                "EXTERNAL://127.0.0.1:0,INTERNAL://127.0.0.1:0",
                "--advertised-listeners",
                "EXTERNAL://external.invalid:0",
                "--inter-broker-listener-name",
                "EXTERNAL",
            ],
        );
        nodes.push((node, data_dir));
    }
    let mut listeners = Vec::new();
    for (node, _) in &mut nodes {
        listeners.push(expect_ready(node).1);
    }
    cluster.wait_for_active_brokers(&[1, 2], READY_TIMEOUT);
    let internal: Vec<SocketAddr> = listeners.iter().map(|l| listener(l, "INTERNAL")).collect();
    let external: Vec<SocketAddr> = listeners.iter().map(|l| listener(l, "EXTERNAL")).collect();

    // Every broker lists every broker under the endpoints of the listener asked.
    let on_internal = |i: usize| (i as i32 + 1, "127.0.0.1".to_string(), i32::from(internal[i].port()));
    let on_external =
        |i: usize| (i as i32 + 1, "external.invalid".to_string(), i32::from(external[i].port()));
    for i in 0..2 {
        assert_eq!(brokers(&metadata(internal[i]).await), vec![on_internal(0), on_internal(1)]);
        assert_eq!(brokers(&metadata(external[i]).await), vec![on_external(0), on_external(1)]);
    }

    // acks=all with min.insync.replicas=2 completes only once the follower has fetched the records.
    let bootstrap = internal.iter().map(SocketAddr::to_string).collect::<Vec<_>>().join(",");
    let topic = unique_topic("listeners-replicated");
    let admin = kafka::admin(&bootstrap);
    create_replicated_topic(&admin, &topic, 2, 2, &[("min.insync.replicas", "2")]).await;
    let producer = kafka::producer(&bootstrap, &[("acks", "all")]);
    for i in 0..RECORDS {
        let value = format!("value-{i}");
        let partition = (i % 2) as i32;
        producer
            .send(
                FutureRecord::<(), _>::to(&topic).payload(&value).partition(partition),
                Duration::from_secs(20),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("record {i} not acknowledged by both replicas: {e:?}"));
    }
    for partition in 0..2 {
        let state = partition_state(internal[0], &topic, partition).await.expect("partition state");
        let mut isr = state.isr.clone();
        isr.sort();
        assert_eq!(isr, vec![1, 2], "{topic}-{partition}: {state:?}");
        let (one, two) = (&nodes[0].1, &nodes[1].1);
        let same = wait_until(STATE_TIMEOUT, || {
            let first = log_batches(one, &topic, partition, i64::MAX);
            !first.is_empty() && first == log_batches(two, &topic, partition, i64::MAX)
        });
        assert!(same, "{topic}-{partition}: the replicas' logs differ");
    }
}

/// Starts a broker with `args` and expects it to exit with an error whose text contains `expected`.
fn assert_rejected(args: &[&str], expected: &str) {
    let data = tempfile::tempdir().expect("data dir");
    let mut node = spawn_broker("bad-broker", data.path(), args);
    match node.wait_ready(BROKER_READY_PREFIX, READY_TIMEOUT) {
        Startup::Exited(status) => {
            assert!(!status.success(), "broker exited with {status} for {args:?}");
            let stderr = node.stderr_tail();
            assert!(
                stderr.contains(expected),
                "expected `{expected}` in the error for {args:?}; stderr:\n{stderr}"
            );
        }
        Startup::Ready(line) => panic!("broker started with {args:?}: {line}"),
        Startup::TimedOut => panic!("broker neither started nor exited with {args:?}"),
    }
}

#[test]
fn bad_listener_configs_are_rejected_with_clear_errors() {
    assert_rejected(
        &["--listener", "127.0.0.1:0", "--listeners", "INTERNAL://127.0.0.1:0"],
        "`listeners` cannot be combined with `listener`",
    );
    assert_rejected(
        &["--listeners", "INTERNAL://127.0.0.1:0", "--advertised-listeners", "EXTERNAL://localhost:9092"],
        "`advertised_listeners` names EXTERNAL, which is not in the listeners (INTERNAL)",
    );
    assert_rejected(
        &["--listeners", "INTERNAL://127.0.0.1:0,INTERNAL://127.0.0.1:0"],
        "listener name INTERNAL appears twice in `listeners`",
    );
    assert_rejected(
        &["--listeners", "INTERNAL://127.0.0.1:0", "--inter-broker-listener-name", "REPLICATION"],
        "`inter_broker_listener_name` is REPLICATION, which is not in the listeners (INTERNAL)",
    );
    assert_rejected(&["--listeners", "internal://127.0.0.1:0"], "is not NAME://HOST:PORT");
    // The same checks apply to the TOML file.
    let scratch = tempfile::tempdir().expect("scratch dir");
    let file = scratch.path().join("broker.toml");
    let toml = "listener = \"127.0.0.1:0\"\nlisteners = [\"INTERNAL://127.0.0.1:0\"]\n";
    std::fs::write(&file, toml).expect("write config");
    let file = file.display().to_string();
    assert_rejected(&["--config", &file], "`listeners` cannot be combined with `listener`");
}
