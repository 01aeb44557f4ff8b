//! The process backend against real `strom` processes (build them first: `cargo build -p strom-cli`,
//! or set `STROM_BIN`): 3 controllers + 3 brokers survive a broker kill and restart, a pause, a
//! controller-leader kill and a short seeded nemesis run, and leave no process, mount or directory
//! behind. Every wait polls a condition with a deadline.

mod poll;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use poll::poll;

use strom_chaos::History;
use strom_chaos::cluster::{Cluster, Node, ProcessCluster, ProcessOptions, find_strom_bin, is_unsupported};
use strom_chaos::history::FaultKind;
use strom_chaos::nemesis::{Nemesis, Schedule, SharedCluster};

const HEALTHY: Duration = Duration::from_secs(30);
const TOPIC: &str = "chaos-process-test";
const PARTITIONS: i32 = 3;
const SEED: u64 = 7;

fn create_topic(bootstrap: &str) {
    let bin = find_strom_bin().expect("strom binary");
    let partitions = PARTITIONS.to_string();
    let args =
        ["topics", "--create", "--topic", TOPIC, "--partitions", &partitions, "--replication-factor", "3"];
    let status = Command::new(bin)
        .args(args)
        .args(["--bootstrap-server", bootstrap])
        .env("RUST_LOG", "error")
        .status()
        .expect("run strom topics");
    assert!(status.success(), "strom topics --create: {status}");
}

fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Pids of the processes whose command line mentions `root` (the cluster's nodes, whoever started them).
fn processes_under(root: &Path) -> Vec<u32> {
    let root = root.display().to_string();
    let entries = std::fs::read_dir("/proc").expect("read /proc");
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline).contains(&root).then_some(pid)
        })
        .collect()
}

fn disk_is_full(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let full = std::fs::write(&probe, vec![0u8; 1 << 20]).is_err();
    let _ = std::fs::remove_file(probe);
    full
}

/// Kill/restart, pause/resume, controller-leader kill, unsupported isolation, and a full disk if
/// tmpfs works here.
fn single_faults(cluster: &mut ProcessCluster, pids: &mut BTreeSet<u32>) {
    let bootstrap = cluster.bootstrap();
    cluster.kill_broker(2).expect("kill broker 2");
    assert!(!cluster.running().contains(&Node::Broker(2)));
    cluster.start_broker(2).expect("start broker 2");
    pids.extend(cluster.pids());
    assert!(cluster.running().contains(&Node::Broker(2)));
    assert_eq!(cluster.bootstrap(), bootstrap, "a restarted broker keeps its Kafka port");

    cluster.pause_broker(3).expect("pause broker 3");
    assert!(!cluster.running().contains(&Node::Broker(3)));
    cluster.resume_broker(3).expect("resume broker 3");
    cluster.wait_healthy(HEALTHY).expect("healthy after pause");

    let leader = poll(HEALTHY, "a controller leader", || cluster.controller_leader());
    cluster.kill_controller(leader).expect("kill the controller leader");
    let next = poll(HEALTHY, "a new controller leader", || cluster.controller_leader());
    assert_ne!(next, leader);
    cluster.start_controller(leader).expect("restart the old leader");
    pids.extend(cluster.pids());
    cluster.wait_healthy(HEALTHY).expect("healthy after the controller-leader kill");

    let err = cluster.isolate(Node::Broker(1)).expect_err("processes cannot be isolated");
    assert!(is_unsupported(&err), "{err:#}");
    match cluster.fill_disk(1) {
        Ok(()) => {
            let dir = cluster.broker_data_dir(1).expect("data dir");
            assert!(disk_is_full(&dir), "broker-1's disk is full");
            cluster.free_disk(1).expect("free the disk");
            assert!(!disk_is_full(&dir), "broker-1's disk has room again");
        }
        Err(err) => assert!(is_unsupported(&err), "{err:#}"),
    }
}

/// A short seeded nemesis run over the shared cluster, then heal_all.
fn nemesis_run(cluster: SharedCluster) -> History {
    let kinds =
        [FaultKind::KillBroker, FaultKind::KillLeader, FaultKind::Pause, FaultKind::KillControllerLeader];
    let interval = Duration::from_millis(300)..Duration::from_millis(600);
    let hold = Duration::from_millis(500)..Duration::from_millis(1000);
    let schedule = Schedule::new(SEED, Duration::from_secs(8), &kinds, interval, hold);
    assert!(schedule.faults.len() >= 3, "seed {SEED}: schedule {schedule:?}");
    let nemesis = Nemesis::new(schedule, TOPIC, PARTITIONS);
    let history = Arc::new(Mutex::new(History::new(SEED, TOPIC, PARTITIONS)));
    let report = nemesis.run(&cluster, &history, Instant::now());
    nemesis.heal_all(&cluster, HEALTHY).expect("heal_all");
    let history = history.lock().expect("history").clone();
    eprintln!("seed {SEED}: nemesis report {report:?}\nfaults {:#?}", history.faults);
    assert!(report.injected >= 2, "seed {SEED}: {report:?}");
    assert_eq!(history.faults.len(), report.injected);
    for fault in &history.faults {
        let end = fault.end_ms.unwrap_or_else(|| panic!("seed {SEED}: {fault:?} never healed"));
        assert!(end >= fault.start_ms, "{fault:?}");
    }
    history
}

#[test]
fn process_cluster_survives_faults_and_leaves_nothing_behind() {
    let logs = tempfile::tempdir().expect("log dir");
    let mut cluster = ProcessCluster::start(ProcessOptions::new(logs.path())).expect("start the cluster");
    let mut pids: BTreeSet<u32> = cluster.pids().into_iter().collect();
    assert_eq!(pids.len(), 6);
    assert_eq!(cluster.broker_ids(), vec![1, 2, 3]);
    assert_eq!(cluster.controller_ids(), vec![1, 2, 3]);
    let root = cluster.data_root().to_path_buf();

    create_topic(&cluster.bootstrap());
    let leader = poll(HEALTHY, "a leader of p0", || cluster.partition_leader(TOPIC, 0));
    assert!(cluster.broker_ids().contains(&leader));
    single_faults(&mut cluster, &mut pids);

    let shared: SharedCluster = Arc::new(Mutex::new(Box::new(cluster)));
    nemesis_run(shared.clone());
    let cluster = Arc::try_unwrap(shared).ok().expect("sole owner").into_inner().expect("cluster lock");
    assert_eq!(cluster.running().len(), 6, "every node runs after heal_all");
    let nodes = processes_under(&root);
    assert_eq!(nodes.len(), 6, "one process per node: {nodes:?}");
    pids.extend(nodes);
    cluster.shutdown();

    for pid in &pids {
        assert!(process_gone(*pid), "pid {pid} is still there after shutdown");
    }
    assert_eq!(processes_under(&root), Vec::<u32>::new(), "node processes left behind");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(
        !mounts.contains(&root.display().to_string()),
        "a tmpfs is still mounted under {}",
        root.display()
    );
    assert!(!root.exists(), "{} was not removed", root.display());
    for node in ["controller-1", "broker-3"] {
        let log = std::fs::read_to_string(logs.path().join(format!("{node}.log"))).expect("node log");
        assert!(log.contains("strom-chaos: starting"), "{node}.log: {log}");
    }
}
