//! One chaos run, start to verdict: the workload runs against the cluster while the nemesis injects
//! faults; then everything is healed, the producers stop, every partition is drained and the replicas
//! compared; the history is checked and the results written.
//!
//! ```text
//!  create topic ─▶ workload ─▶ nemesis (duration) ─▶ heal all ─▶ producers stop ─▶ readers stop
//!      ─▶ drain every partition ─▶ compare replicas ─▶ check ─▶ results dir (+ exit code)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

use crate::checker::{CheckResult, check};
use crate::cluster::Cluster;
use crate::history::History;
use crate::workload::{Recorder, Stop, WorkloadConfig, consumers, drain, producers};

/// How long the drain may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long replicas get to converge after healing.
const REPLICA_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the healed cluster gets to become healthy.
pub const HEAL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a stopped reader or group member gets to finish its last poll or commit.
const READER_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Writes keep going this long after healing, so the end of the history shows the cluster serving.
const AFTER_HEAL: Duration = Duration::from_secs(5);

/// What a run does, besides the faults.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The run's seed (faults and workload choices).
    pub seed: u64,
    /// How long faults are injected.
    pub duration: Duration,
    /// The workload topic and clients.
    pub workload: WorkloadConfig,
    /// Replication factor of the topic.
    pub replication_factor: i32,
    /// Where the results go.
    pub results_dir: PathBuf,
    /// The command line that replays this run (printed in the report).
    pub command_line: String,
}

/// Runs the nemesis for the run's duration: given the cluster, the shared history and the run's
/// start, returns when the duration is over (faults still outstanding are left for healing).
pub type NemesisRun<'a> =
    Box<dyn FnOnce(Arc<Mutex<Box<dyn Cluster>>>, Arc<Mutex<History>>, Instant) -> Result<()> + 'a>;

/// Heals every fault and waits for the cluster to be healthy.
pub type Heal<'a> = Box<dyn FnOnce(Arc<Mutex<Box<dyn Cluster>>>) -> Result<()> + 'a>;

/// Runs the whole scenario on `cluster` and writes the results; returns the check.
pub async fn run(
    config: RunConfig,
    cluster: Box<dyn Cluster>,
    nemesis: NemesisRun<'_>,
    heal: Heal<'_>,
) -> Result<CheckResult> {
    let cluster = Arc::new(Mutex::new(cluster));
    let workload = config.workload.clone();
    create_topic(&workload, config.replication_factor).await?;
    let start = Instant::now();
    let recorder = Recorder::new(History::new(config.seed, &workload.topic, workload.partitions), start);
    let (write_stop, read_stop) = (Stop::default(), Stop::default());
    let mut writers = Vec::new();
    for id in 0..workload.producers {
        writers.push(tokio::spawn(producers::run(
            id,
            workload.clone(),
            recorder.clone(),
            write_stop.clone(),
        )));
    }
    let mut readers = vec![consumers::spawn_reader(&workload, &recorder, &read_stop)?];
    for index in 0..workload.group_members {
        readers.push(consumers::spawn_member(index, &workload, &recorder, &read_stop)?);
    }
    readers.push(consumers::spawn_commit_observer(&workload, &recorder, &read_stop)?);
    eprintln!("strom-chaos: workload running; injecting faults for {:?}", config.duration);

    let nemesis_cluster = cluster.clone();
    let shared = recorder.shared();
    tokio::task::block_in_place(|| nemesis(nemesis_cluster, shared, start)).context("running the nemesis")?;
    eprintln!("strom-chaos: healing");
    let heal_cluster = cluster.clone();
    tokio::task::block_in_place(|| heal(heal_cluster)).context("healing the cluster")?;
    tokio::time::sleep(AFTER_HEAL).await;
    write_stop.stop();
    for writer in writers {
        writer.await.context("producer task")?.context("producer")?;
    }
    // Readers catch up with the last writes before they stop (the drain checks the logs anyway).
    tokio::time::sleep(Duration::from_secs(2)).await;
    read_stop.stop();
    for (i, reader) in readers.into_iter().enumerate() {
        // Joined on a plain thread, not the runtime's blocking pool: a reader stuck in a librdkafka
        // call that never returns (seen: a group member's synchronous commit) must not hold up the
        // runtime's shutdown, and so the exit, after the results are written.
        let (done, joined) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = reader.join();
            let _ = done.send(());
        });
        if tokio::time::timeout(READER_STOP_TIMEOUT, joined).await.is_err() {
            // What it read is recorded already; the run goes on to drain and check without it.
            eprintln!(
                "strom-chaos: reader {i} did not stop within {READER_STOP_TIMEOUT:?}; going on without it"
            );
        }
    }

    eprintln!("strom-chaos: draining every partition");
    let (bootstrap, topic, partitions) =
        (workload.bootstrap.clone(), workload.topic.clone(), workload.partitions);
    let drained =
        tokio::task::spawn_blocking(move || drain::drain(&bootstrap, &topic, partitions, DRAIN_TIMEOUT))
            .await??;
    let replica_checks = compare_replicas(&cluster, &workload.topic, &drained.high_watermarks).await;
    {
        let mut history = recorder.lock();
        for read in drained.reads {
            history.record_final_read(read);
        }
        for replica_check in replica_checks {
            history.record_replica_check(replica_check);
        }
        history.set_duration_ms(recorder.now_ms());
    }
    if !drained.incomplete.is_empty() {
        eprintln!("strom-chaos: partitions not drained to their end: {:?}", drained.incomplete);
    }
    let history = recorder.snapshot();
    let result = check(&history);
    crate::report::write_results(&config.results_dir, &history, &result, &config.command_line)
        .with_context(|| format!("writing results to {}", config.results_dir.display()))?;
    let cluster = Arc::try_unwrap(cluster).ok().map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()));
    if let Some(cluster) = cluster {
        tokio::task::spawn_blocking(move || cluster.shutdown()).await?;
    }
    Ok(result)
}

async fn create_topic(workload: &WorkloadConfig, replication_factor: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        crate::workload::base_config(&workload.bootstrap).create().context("admin client")?;
    let topic =
        NewTopic::new(&workload.topic, workload.partitions, TopicReplication::Fixed(replication_factor))
            .set("min.insync.replicas", if replication_factor >= 3 { "2" } else { "1" })
            .set("unclean.leader.election.enable", "false")
            .set("retention.ms", "-1");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let outcome = admin.create_topics([&topic], &options).await;
        match outcome.as_deref() {
            Ok([Ok(_)]) => return Ok(()),
            Ok([Err((_, code))]) if Instant::now() >= deadline => {
                anyhow::bail!("creating the topic: {code:?}")
            }
            Err(e) if Instant::now() >= deadline => anyhow::bail!("creating the topic: {e}"),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Compares replicas until they agree or [`REPLICA_TIMEOUT`] passes (followers may still be copying
/// the last batches right after healing).
async fn compare_replicas(
    cluster: &Arc<Mutex<Box<dyn Cluster>>>,
    topic: &str,
    high_watermarks: &BTreeMap<i32, i64>,
) -> Vec<crate::history::ReplicaCheck> {
    let deadline = Instant::now() + REPLICA_TIMEOUT;
    loop {
        let (cluster, topic, hws) = (cluster.clone(), topic.to_string(), high_watermarks.clone());
        let checks = tokio::task::spawn_blocking(move || {
            let cluster = cluster.lock().unwrap_or_else(|e| e.into_inner());
            let dirs: BTreeMap<i32, PathBuf> = cluster
                .broker_ids()
                .into_iter()
                .filter_map(|id| cluster.broker_data_dir(id).map(|d| (id, d)))
                .collect();
            crate::replicas::compare(&topic, &hws, &dirs)
        })
        .await
        .unwrap_or_default();
        if checks.iter().all(|c| c.identical_up_to_hw) || Instant::now() >= deadline {
            return checks;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
