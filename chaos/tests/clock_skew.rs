//! Clock skew through libfaketime: the library is found (or why not is said), a clock file holds the
//! offset libfaketime reads, a process started with a node's environment sees its wall clock moved
//! by that offset, and a skewed broker of a real cluster stamps LogAppendTime from the skewed clock,
//! also after a kill -9 and restart, and from the host's clock again once the skew is undone. Stepping
//! the controller's and the broker's wall clocks forward and back fences nobody (sessions are timed on
//! the monotonic clock), and a broker killed after a backward step is still fenced within a few
//! session timeouts.
//!
//! Without libfaketime (Debian package `faketime`) the tests that need it print SKIPPED and pass,
//! unless `STROM_REQUIRE_FAKETIME=1`. The cluster test needs the `strom` binary (`cargo build -p
//! strom-cli`, or `STROM_BIN`). Every wait polls a condition with a deadline.

mod poll;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use poll::poll;

use rdkafka::ClientConfig;
use rdkafka::Timestamp;
use rdkafka::producer::{FutureProducer, FutureRecord};
use strom_chaos::cluster::{
    ClockFile, Cluster, LIBFAKETIME_ENV, Libfaketime, Node, ProcessCluster, ProcessOptions, find_strom_bin,
    sample,
};

/// The skew the tests apply: far beyond any scheduling noise.
const HOUR_SECS: i64 = 3600;
/// How far a clock reading may be from the expected one (process start, a libfaketime cache refresh).
const SLACK_MS: i64 = 5_000;
/// How long a node may take to see a new offset (libfaketime re-reads the file within ~2 s).
const SEE_OFFSET: Duration = Duration::from_secs(20);
const TOPIC: &str = "clock-skew";

fn host_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The library, or `None` after printing why the calling test is skipped. Panics instead when
/// `STROM_REQUIRE_FAKETIME=1`.
fn libfaketime_or_skip(test: &str) -> Option<Libfaketime> {
    match Libfaketime::find() {
        Ok(lib) => Some(lib),
        Err(reason) => {
            let required = std::env::var("STROM_REQUIRE_FAKETIME").is_ok_and(|v| v == "1");
            assert!(!required, "STROM_REQUIRE_FAKETIME=1 but {reason}");
            eprintln!("SKIPPED {test}: {reason}");
            None
        }
    }
}

#[test]
fn finds_the_library_by_override_or_multiarch_path_and_says_why_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lib = dir.path().join("libfaketimeMT.so.1");
    std::fs::write(&lib, b"").expect("fake library");
    let missing = dir.path().join("missing.so.1");

    let found = Libfaketime::find_in(None, &[&missing, &lib]).expect("the first existing candidate");
    assert_eq!(found.path(), lib);
    let overridden = Libfaketime::find_in(Some(lib.clone().into()), &[&missing]).expect("the override");
    assert_eq!(overridden.path(), lib);

    let err = Libfaketime::find_in(Some(missing.clone().into()), &[&lib]).expect_err("a missing override");
    assert!(err.contains(LIBFAKETIME_ENV) && err.contains("missing.so.1"), "{err}");
    let err = Libfaketime::find_in(Some("".into()), &[&lib]).expect_err("an empty override turns it off");
    assert!(err.contains("off"), "{err}");
    let err = Libfaketime::find_in(None, &[&missing]).expect_err("nothing installed");
    assert!(err.contains("faketime") && err.contains("missing.so.1"), "{err}");

    let env = found.env(&dir.path().join("broker-1.faketime"));
    let keys: Vec<&str> = env.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        ["LD_PRELOAD", "FAKETIME_TIMESTAMP_FILE", "FAKETIME_DONT_FAKE_MONOTONIC", "FAKETIME_CACHE_DURATION"]
    );
    assert_eq!(env[2].1, "1", "only the wall clock is skewed");
    assert_eq!(env[3].1, "1", "the offset is re-read every second or so");
}

#[test]
fn a_clock_file_holds_a_signed_offset_in_seconds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ClockFile::create(dir.path().join("controller-2.faketime")).expect("create");
    assert_eq!(std::fs::read_to_string(clock.path()).expect("read"), "+0\n", "starts at +0");
    for offset in [37, -12, HOUR_SECS, 0] {
        clock.set_offset_secs(offset).expect("set");
        assert_eq!(clock.offset_secs().expect("read back"), offset);
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["controller-2.faketime"], "no temporary file left behind");
}

/// `date +%s` under the environment every node gets: the wall clock it reports follows the file.
#[test]
fn a_process_with_a_nodes_environment_sees_the_offset_of_its_clock_file() {
    let Some(lib) =
        libfaketime_or_skip("a_process_with_a_nodes_environment_sees_the_offset_of_its_clock_file")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ClockFile::create(dir.path().join("broker-1.faketime")).expect("create");
    let date_ms = || -> i64 {
        let output = Command::new("date").arg("+%s").envs(lib.env(clock.path())).output().expect("run date");
        assert!(output.status.success(), "date: {output:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim().parse::<i64>().unwrap_or_else(|e| panic!("date printed {text:?}: {e}")) * 1000
    };
    for offset in [0, HOUR_SECS, -HOUR_SECS, 0] {
        clock.set_offset_secs(offset).expect("set");
        let (before, seen, after) = (host_now_ms(), date_ms(), host_now_ms());
        let expected = (before + offset * 1000 - SLACK_MS)..=(after + offset * 1000 + SLACK_MS);
        assert!(expected.contains(&seen), "offset {offset:+}s: date says {seen} ms, expected {expected:?}");
    }
}

/// The LogAppendTime the broker stamps on a record it appends now.
fn append_time_ms(runtime: &tokio::runtime::Runtime, producer: &FutureProducer) -> i64 {
    let record = FutureRecord::<(), str>::to(TOPIC).payload("tick");
    let delivery = runtime.block_on(producer.send(record, Duration::from_secs(10))).expect("delivered");
    match delivery.timestamp {
        Timestamp::LogAppendTime(ms) => ms,
        other => panic!("expected a LogAppendTime, got {other:?}"),
    }
}

/// Polls until the broker stamps appends `offset_secs` off the host's clock.
fn wait_for_offset(runtime: &tokio::runtime::Runtime, producer: &FutureProducer, offset_secs: i64) {
    poll(SEE_OFFSET, &format!("LogAppendTime {offset_secs:+}s off the host's"), || {
        let skew_ms = append_time_ms(runtime, producer) - host_now_ms();
        eprintln!("broker-1 stamps {skew_ms:+} ms off the host's clock (waiting for {offset_secs:+} s)");
        ((skew_ms - offset_secs * 1000).abs() < SLACK_MS).then_some(())
    });
}

fn create_topic(bootstrap: &str) {
    let bin = find_strom_bin().expect("strom binary");
    let args = ["topics", "--create", "--topic", TOPIC, "--partitions", "1", "--replication-factor", "1"];
    let status = Command::new(bin)
        .args(args)
        .args(["--config", "message.timestamp.type=LogAppendTime", "--bootstrap-server", bootstrap])
        .env("RUST_LOG", "error")
        .status()
        .expect("run strom topics");
    assert!(status.success(), "strom topics --create: {status}");
}

/// The `strom` subcommand process `pid` runs (`broker`, `controller`).
fn subcommand(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    cmdline.split(|b| *b == 0).nth(1).map(|arg| String::from_utf8_lossy(arg).into_owned())
}

/// True if process `pid` has libfaketime mapped.
/// One controller and one broker, logs under `logs`, no tmpfs.
fn one_node_cluster(logs: &std::path::Path) -> ProcessCluster {
    let options =
        ProcessOptions { controllers: 1, brokers: 1, tmpfs_size_mb: None, ..ProcessOptions::new(logs) };
    ProcessCluster::start(options).expect("start the cluster")
}

fn preloads_libfaketime(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|maps| maps.contains("libfaketime"))
}

#[test]
fn a_skewed_broker_stamps_log_append_time_from_its_skewed_clock() {
    let Some(_) = libfaketime_or_skip("a_skewed_broker_stamps_log_append_time_from_its_skewed_clock") else {
        return;
    };
    let logs = tempfile::tempdir().expect("log dir");
    let mut cluster = one_node_cluster(logs.path());
    for pid in cluster.pids() {
        assert!(preloads_libfaketime(pid), "node pid {pid} does not preload libfaketime");
    }
    let clock_file = cluster.data_root().join("broker-1.faketime");
    assert_eq!(std::fs::read_to_string(&clock_file).expect("clock file"), "+0\n");
    create_topic(&cluster.bootstrap());
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap())
        .set("acks", "all")
        .set("message.timeout.ms", "15000")
        .create()
        .expect("producer");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    wait_for_offset(&runtime, &producer, 0);

    cluster.skew_clock(Node::Broker(1), HOUR_SECS).expect("skew broker-1");
    wait_for_offset(&runtime, &producer, HOUR_SECS);

    // A restarted node keeps its skew, and the killed one's libfaketime files are cleaned up.
    let old_pid = cluster.pids().into_iter().find(|pid| subcommand(*pid).as_deref() == Some("broker"));
    let old_pid = old_pid.expect("broker pid");
    cluster.kill_broker(1).expect("kill broker-1");
    assert!(!Path::new(&format!("/dev/shm/faketime_shm_{old_pid}")).exists(), "shm of pid {old_pid} left");
    cluster.start_broker(1).expect("restart broker-1");
    wait_for_offset(&runtime, &producer, HOUR_SECS);

    cluster.skew_clock(Node::Broker(1), 0).expect("undo the skew");
    wait_for_offset(&runtime, &producer, 0);
    Box::new(cluster).shutdown();
}

/// The chaos cluster's `broker.session.timeout.ms`.
const SESSION: Duration = Duration::from_secs(2);
/// How long each step is watched: libfaketime's re-read (~2 s) plus two session timeouts.
const HOLD: Duration = Duration::from_secs(6);

/// (`strom_fenced_brokers`, broker 1's `strom_broker_last_heartbeat_age_seconds` if finite) on the
/// controller.
fn controller_liveness(cluster: &ProcessCluster) -> Option<(f64, Option<f64>)> {
    let (status, body) = cluster.http_get(Node::Controller(1), "/metrics")?;
    let age = sample(&body, "strom_broker_last_heartbeat_age_seconds{broker=\"1\"}");
    (status == 200).then_some((sample(&body, "strom_fenced_brokers")?, age))
}

/// Sessions the controller expired so far, by its log: a fence undone by the broker's next heartbeat
/// may fall between two scrapes, but is always logged.
fn session_expiries(logs: &Path) -> usize {
    let log = std::fs::read_to_string(logs.join("controller-1.log")).unwrap_or_default();
    log.lines().filter(|line| line.contains("broker session expired")).count()
}

/// Steps the controller's and the broker's wall clocks to `offset_secs` off the host's, then for
/// [`HOLD`] checks every 200 ms that no session expired, the broker is unfenced, heard from within the
/// session timeout, and ready.
fn step_and_hold(cluster: &mut ProcessCluster, logs: &Path, offset_secs: i64) {
    cluster.skew_clock(Node::Controller(1), offset_secs).expect("skew controller-1");
    cluster.skew_clock(Node::Broker(1), offset_secs).expect("skew broker-1");
    let until = Instant::now() + HOLD;
    while Instant::now() < until {
        let (fenced, age) = controller_liveness(cluster).expect("controller-1 /metrics");
        eprintln!("clocks {offset_secs:+} s: fenced brokers {fenced}, broker-1 heard from {age:?} s ago");
        assert_eq!(fenced, 0.0, "clocks {offset_secs:+} s: a healthy broker was fenced");
        assert_eq!(session_expiries(logs), 0, "clocks {offset_secs:+} s: a healthy broker's session expired");
        let age = age.expect("broker-1's heartbeat age");
        assert!(age < SESSION.as_secs_f64(), "clocks {offset_secs:+} s: heartbeat age {age} s");
        let ready = cluster.http_get(Node::Broker(1), "/health/ready");
        assert_eq!(ready.map(|(status, _)| status), Some(200), "clocks {offset_secs:+} s: broker-1 ready");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn wall_clock_steps_fence_no_broker_and_a_dead_one_is_still_fenced_in_time() {
    let Some(_) =
        libfaketime_or_skip("wall_clock_steps_fence_no_broker_and_a_dead_one_is_still_fenced_in_time")
    else {
        return;
    };
    let logs = tempfile::tempdir().expect("log dir");
    let mut cluster = one_node_cluster(logs.path());
    poll(SEE_OFFSET, "broker-1 registered and unfenced", || {
        controller_liveness(&cluster).filter(|(fenced, _)| *fenced == 0.0)
    });

    step_and_hold(&mut cluster, logs.path(), 60);
    step_and_hold(&mut cluster, logs.path(), -60);

    // Broker-1 dies while the controller's clock is 60 s behind where it was: fenced within a few
    // session timeouts, not after the 120 s step.
    let killed = Instant::now();
    cluster.kill_broker(1).expect("kill broker-1");
    poll(SEE_OFFSET, "the dead broker fenced", || {
        controller_liveness(&cluster).filter(|(fenced, _)| *fenced == 1.0)
    });
    assert_eq!(session_expiries(logs.path()), 1, "fenced on session expiry");
    let took = killed.elapsed();
    assert!(took < SESSION * 4, "broker-1 fenced {took:?} after it died (session {SESSION:?})");
    Box::new(cluster).shutdown();
}
