//! Load benchmark (ignored by default): committed-offset records through a 3-voter quorum of
//! `strom controller` processes, then each controller's on-disk size and RSS with snapshots and log
//! purging on (the evidence for keeping sled, DEPENDENCIES.md trap 3).
//!
//! Run: `cargo build -p strom-cli && cargo test -p strom-controller --test load_bench -- --ignored --nocapture`
//! Sizes: `STROM_BENCH_RECORDS` (default 1,000,000), `STROM_BENCH_WRITERS` (64), `STROM_BENCH_BATCH` (100),
//! `STROM_BENCH_SNAPSHOT_EVERY` (log entries between snapshots, default 1,000 = 100,000 records).

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use strom_controller::metadata::MetadataRecord;
use strom_proto::controller::WriteRequest;
use support::{ControllerProcess, admin, describe, reserve_ports, voters_flag};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One batch of committed offsets: 100 partitions of one group, offsets growing with `seq`.
fn offsets_batch(writer: u64, seq: u64, batch: u64) -> Result<Vec<Vec<u8>>> {
    (0..batch)
        .map(|i| {
            let record = MetadataRecord::OffsetCommit {
                group: format!("group-{writer}"),
                topic: "bench".into(),
                partition: i as i32,
                offset: seq as i64,
                leader_epoch: 0,
                metadata: String::new(),
                commit_timestamp_ms: 0,
            };
            Ok(serde_json::to_vec(&record)?)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn quorum_throughput_disk_and_memory() -> Result<()> {
    let total = env_u64("STROM_BENCH_RECORDS", 1_000_000);
    let writers = env_u64("STROM_BENCH_WRITERS", 64);
    let batch = env_u64("STROM_BENCH_BATCH", 100);
    let batches = total.div_ceil(batch);
    let snapshot_every = env_u64("STROM_BENCH_SNAPSHOT_EVERY", 1_000).to_string();
    let extra = ["--snapshot-every-logs", snapshot_every.as_str()];

    let root = tempfile::tempdir()?;
    let ports = reserve_ports(3)?;
    let voters = voters_flag(&ports);
    let mut processes = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let id = i as u64 + 1;
        processes.push(ControllerProcess::spawn(
            id,
            *port,
            &root.path().join(format!("c{id}")),
            &voters,
            &extra,
        )?);
    }
    let clients: Vec<_> = processes.iter().map(|p| admin(p.addr)).collect::<Result<_>>()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let leader = loop {
        let mut found = None;
        for (i, client) in clients.iter().enumerate() {
            if describe(client).await.is_ok_and(|s| s.state == "Leader") {
                found = Some(i);
            }
        }
        if let Some(i) = found {
            break i;
        }
        ensure!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (next, done, mut client) = (Arc::clone(&next), Arc::clone(&done), clients[leader].clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= batches {
                    return anyhow::Ok(());
                }
                let request = WriteRequest { records_json: offsets_batch(writer, seq, batch)? };
                client.write(request).await.context("write")?;
                done.fetch_add(batch, Ordering::Relaxed);
            }
        }));
    }
    // Progress: disk and memory every ~10% of the records.
    let mut reported = 0;
    while done.load(Ordering::Relaxed) < batches * batch && tasks.iter().any(|t| !t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = done.load(Ordering::Relaxed);
        if now >= reported + total / 10 {
            reported = now;
            let disk: Vec<String> = (1..=3)
                .map(|id| format!("{:.1}", mib(dir_bytes(&root.path().join(format!("c{id}"))))))
                .collect();
            let rss: Vec<String> =
                processes.iter().map(|p| format!("{:.1}", mib(rss_bytes(p.pid())))).collect();
            println!(
                "{now:>9} records  {:>8.0} rec/s  disk MiB {disk:?}  rss MiB {rss:?}",
                now as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    // Measure disk and memory once every node has applied everything the leader committed.
    let state = describe(&clients[leader]).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    for client in &clients {
        loop {
            if describe(client).await.is_ok_and(|s| s.last_applied >= state.commit_index) {
                break;
            }
            ensure!(Instant::now() < deadline, "followers did not apply index {}", state.commit_index);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let written = done.load(Ordering::Relaxed);
    println!(
        "quorum load: {written} records in {} batches of {batch} by {writers} writers: {elapsed:?}, {:.0} records/s, {:.0} batches/s; commit index {}",
        written / batch,
        written as f64 / elapsed.as_secs_f64(),
        (written / batch) as f64 / elapsed.as_secs_f64(),
        state.commit_index,
    );
    for (i, process) in processes.iter().enumerate() {
        let dir = root.path().join(format!("c{}", i + 1));
        println!(
            "controller {}: disk {:.1} MiB (raft {:.1} MiB), rss {:.1} MiB",
            i + 1,
            mib(dir_bytes(&dir)),
            mib(dir_bytes(&dir.join("raft"))),
            mib(rss_bytes(process.pid()))
        );
    }
    Ok(())
}
