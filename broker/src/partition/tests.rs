//! Two replicas of one partition on real logs in temp dirs, driven through the leader and follower
//! halves of the replication protocol exactly as the fetcher and the Fetch handler use them.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::{Divergence, Partition};
use crate::error_code::ErrorCode;
use crate::log::faults::{self, Fault};
use crate::metadata::PartitionImage;
use crate::metadata::image::LeaderRecoveryState;
use crate::record::batch::Compression;
use crate::record::builder::BatchBuilder;
use crate::topic_config::{TopicConfig, TopicDefaults};

fn config(min_isr: &str) -> TopicConfig {
    let overrides = BTreeMap::from([("min.insync.replicas".to_string(), min_isr.to_string())]);
    TopicConfig::new(overrides, TopicDefaults::default())
}

fn view(leader: i32, leader_epoch: i32, isr: &[i32]) -> PartitionImage {
    PartitionImage {
        replicas: vec![1, 2],
        isr: isr.to_vec(),
        leader,
        leader_epoch,
        partition_epoch: leader_epoch,
        leader_recovery_state: LeaderRecoveryState::Recovered,
        ..Default::default()
    }
}

fn open(dir: &std::path::Path, node_id: i32, view: &PartitionImage) -> Partition {
    Partition::open(dir, "t", Uuid::from_u128(1), 0, config("2"), view, node_id, 0, 0, 0).expect("open")
}

fn records(values: &[&str]) -> Bytes {
    let mut builder = BatchBuilder::new(Compression::None);
    for v in values {
        builder.append(0, None, Some(v.as_bytes()));
    }
    Bytes::from(builder.build().expect("batch"))
}

/// One idempotent producer's batch: producer id 7, epoch 0, first sequence `base_sequence`.
fn idempotent(values: &[&str], base_sequence: i32) -> Bytes {
    let mut builder = BatchBuilder::new(Compression::None).producer(7, 0, base_sequence);
    for v in values {
        builder.append(0, None, Some(v.as_bytes()));
    }
    Bytes::from(builder.build().expect("batch"))
}

/// One fetcher round: `follower` fetches from `leader` and applies the answer. Returns whether the
/// leader reported divergence.
fn fetch_once(leader: &Partition, follower: &Partition, follower_id: i32, epoch: i32) -> bool {
    let (offset, last_epoch) = follower.fetch_position();
    let read =
        leader.read_for_follower(follower_id, offset, last_epoch, epoch, 1 << 20, true, 0).expect("fetch");
    if let Some((diverging, end_offset)) = read.diverging {
        follower.truncate_diverging(epoch, Divergence { epoch: diverging, end_offset }).expect("truncate");
        return true;
    }
    if !read.records.is_empty() {
        follower.append_replica(epoch, &read.records, 0).expect("append replica");
    }
    follower.follow_leader_offsets(epoch, read.high_watermark, read.log_start_offset).expect("offsets");
    false
}

fn log_bytes(p: &Partition) -> Bytes {
    let end = p.offsets().log_end_offset;
    let inner = p.lock();
    inner.log.read(0, usize::MAX, end, true).expect("read")
}

#[test]
fn the_high_watermark_waits_for_the_isr_and_a_returning_leader_truncates_its_tail() {
    let (d1, d2) = (tempfile::tempdir().expect("d1"), tempfile::tempdir().expect("d2"));
    let epoch0 = view(1, 0, &[1, 2]);
    let (leader, follower) = (open(d1.path(), 1, &epoch0), open(d2.path(), 2, &epoch0));
    assert!(leader.is_leader() && !follower.is_leader());

    let first = leader.append(&records(&["a", "b"]), 0).expect("append");
    assert_eq!(leader.offsets().high_watermark, 0, "not committed before the follower has it");
    assert!(!fetch_once(&leader, &follower, 2, 0));
    assert_eq!(leader.offsets().high_watermark, 0, "the follower's next fetch reports its progress");
    assert!(!fetch_once(&leader, &follower, 2, 0));
    assert_eq!(leader.offsets().high_watermark, first.last_offset + 1);
    assert_eq!(follower.offsets().high_watermark, first.last_offset + 1);

    // An acks=1 tail the follower never fetched; then the follower is elected (clean: it is in the ISR).
    leader.append(&records(&["tail-1", "tail-2", "tail-3"]), 0).expect("tail");
    let epoch1 = view(2, 1, &[2, 1]);
    follower.update(config("2"), &epoch1, 0).expect("promote");
    leader.update(config("2"), &epoch1, 0).expect("demote");
    assert!(follower.is_leader() && !leader.is_leader());
    assert_eq!(leader.append(&records(&["x"]), 0), Err(ErrorCode::NotLeaderOrFollower));
    follower.append(&records(&["c"]), 0).expect("append at epoch 1");

    // The old leader fetches with its last epoch (0): the new leader says epoch 0 ended at offset 2.
    assert!(fetch_once(&follower, &leader, 1, 1), "divergence reported");
    assert_eq!(leader.offsets().log_end_offset, 2, "tail truncated to the end of epoch 0");
    assert!(!fetch_once(&follower, &leader, 1, 1));
    assert_eq!(log_bytes(&leader), log_bytes(&follower), "identical after catching up");
    assert!(!fetch_once(&follower, &leader, 1, 1));
    assert_eq!(follower.offsets().high_watermark, 3);
}

#[test]
fn a_leadership_that_appended_nothing_does_not_make_its_broker_diverge_forever() {
    let (d1, d2) = (tempfile::tempdir().expect("d1"), tempfile::tempdir().expect("d2"));
    let epoch0 = view(1, 0, &[1, 2]);
    let (one, two) = (open(d1.path(), 1, &epoch0), open(d2.path(), 2, &epoch0));
    one.append(&records(&["a"]), 0).expect("append");
    fetch_once(&one, &two, 2, 0);
    fetch_once(&one, &two, 2, 0);
    // Broker 2 leads epoch 1 without appending, then broker 1 leads again at epoch 2.
    let epoch1 = view(2, 1, &[2, 1]);
    two.update(config("2"), &epoch1, 0).expect("promote 2");
    one.update(config("2"), &epoch1, 0).expect("demote 1");
    let epoch2 = view(1, 2, &[1, 2]);
    one.update(config("2"), &epoch2, 0).expect("promote 1");
    two.update(config("2"), &epoch2, 0).expect("demote 2");
    one.append(&records(&["b"]), 0).expect("append at epoch 2");
    // Broker 2 claims epoch 1 (begun, empty); broker 1 never saw it: one divergence round, then data.
    let mut rounds = 0;
    while fetch_once(&one, &two, 2, 2) {
        rounds += 1;
        assert!(rounds < 3, "divergence reported forever");
    }
    fetch_once(&one, &two, 2, 2);
    assert_eq!(log_bytes(&one), log_bytes(&two));
}

#[test]
fn a_response_for_an_older_epoch_cannot_touch_a_promoted_replica() {
    let dir = tempfile::tempdir().expect("dir");
    let replica = open(dir.path(), 2, &view(1, 0, &[1, 2]));
    replica.append_replica(0, &records(&["a"]), 0).expect("follows in epoch 0");
    replica.update(config("2"), &view(2, 1, &[2, 1]), 0).expect("promoted");
    assert_eq!(replica.append_replica(0, &records(&["late"]), 0), Err(ErrorCode::NotLeaderOrFollower));
    let truncated = replica.truncate_diverging(0, Divergence { epoch: 0, end_offset: 0 }).expect("no-op");
    assert_eq!(truncated, None);
    assert_eq!(replica.offsets().log_end_offset, 1, "the promoted leader keeps its log");
}

#[test]
fn follower_fetches_are_fenced_by_leader_epoch() {
    let dir = tempfile::tempdir().expect("dir");
    let leader = open(dir.path(), 1, &view(1, 5, &[1, 2]));
    let fetch = |epoch| leader.read_for_follower(2, 0, -1, epoch, 1024, true, 0).map(|_| ());
    assert_eq!(fetch(4), Err(ErrorCode::FencedLeaderEpoch));
    assert_eq!(fetch(6), Err(ErrorCode::UnknownLeaderEpoch));
    assert_eq!(fetch(5), Ok(()));
    assert_eq!(
        leader.read_for_follower(9, 0, -1, 5, 1024, true, 0).map(|_| ()),
        Err(ErrorCode::NotLeaderOrFollower)
    );
    assert_eq!(
        leader.read_for_follower(2, 7, -1, 5, 1024, true, 0).map(|_| ()),
        Err(ErrorCode::OffsetOutOfRange)
    );
}

#[tokio::test]
async fn acks_all_waits_for_the_isr_and_fails_when_it_shrinks_below_min() {
    let (d1, d2) = (tempfile::tempdir().expect("d1"), tempfile::tempdir().expect("d2"));
    let v = view(1, 0, &[1, 2]);
    let (leader, follower) = (open(d1.path(), 1, &v), open(d2.path(), 2, &v));
    let appended = leader.append(&records(&["a"]), 0).expect("append");
    let wait = Duration::from_millis(50);
    assert_eq!(
        leader.wait_committed(appended.last_offset, 0, wait).await,
        Err(ErrorCode::RequestTimedOut),
        "nothing replicated yet"
    );
    fetch_once(&leader, &follower, 2, 0);
    fetch_once(&leader, &follower, 2, 0);
    assert_eq!(leader.wait_committed(appended.last_offset, 0, wait).await, Ok(()));

    let appended = leader.append(&records(&["b"]), 0).expect("append");
    let mut shrunk = v.clone();
    shrunk.isr = vec![1];
    shrunk.partition_epoch += 1;
    leader.update(config("2"), &shrunk, 0).expect("shrink");
    assert_eq!(
        leader.wait_committed(appended.last_offset, 0, wait).await,
        Err(ErrorCode::NotEnoughReplicasAfterAppend)
    );
    leader.update(config("2"), &view(2, 1, &[2]), 0).expect("demote");
    assert_eq!(
        leader.wait_committed(appended.last_offset, 0, wait).await,
        Err(ErrorCode::NotLeaderOrFollower)
    );
}

#[test]
fn a_leader_whose_disk_fails_answers_storage_error_and_appends_the_retry_once() {
    let dir = tempfile::tempdir().expect("dir");
    let leader = open(dir.path(), 1, &view(1, 0, &[1, 2]));
    let batch = idempotent(&["a"], 0);
    faults::inject(Fault::WriteFailsAfter(20));
    // Retriable and "not written": the producer sends the same batch again, same sequence. (Before,
    // UNKNOWN_SERVER_ERROR made librdkafka fail it and renumber everything it still had to send.)
    assert_eq!(leader.append(&batch, 0), Err(ErrorCode::KafkaStorageError));
    assert_eq!(leader.offsets().log_end_offset, 0);
    let retried = leader.append(&batch, 0).expect("retry");
    let again = leader.append(&batch, 0).expect("duplicate of the retry");
    assert_eq!((retried.base_offset, again.base_offset), (0, 0));
    assert_eq!(leader.offsets().log_end_offset, 1, "appended once");
}

#[test]
fn batches_pipelined_behind_a_failed_write_get_storage_errors_not_out_of_order() {
    let dir = tempfile::tempdir().expect("dir");
    let leader = open(dir.path(), 1, &view(1, 0, &[1]));
    leader.append(&idempotent(&["a"], 0), 0).expect("first");
    let (r1, r2) = (idempotent(&["b"], 1), idempotent(&["c"], 2));
    faults::inject(Fault::WriteFailsAfter(0));
    assert_eq!(leader.append(&r1, 0), Err(ErrorCode::KafkaStorageError));
    // R2 was in flight behind R1. Retriable and not written, like R1: the producer resends both in
    // order with the same sequences (OUT_OF_ORDER would make librdkafka bump its epoch).
    assert_eq!(leader.append(&r2, 0), Err(ErrorCode::KafkaStorageError));
    assert_eq!(leader.append(&r1, 0).map(|r| r.base_offset), Ok(1));
    assert_eq!(leader.append(&r2, 0).map(|r| r.base_offset), Ok(2));
    // Once a write succeeded, a real gap is out of order again.
    assert_eq!(leader.append(&idempotent(&["z"], 9), 0), Err(ErrorCode::OutOfOrderSequenceNumber));
    assert_eq!(leader.offsets().log_end_offset, 3);
}

#[tokio::test(start_paused = true)]
async fn a_closed_leader_answers_its_acks_all_waiters_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let leader = open(dir.path(), 1, &view(1, 0, &[1, 2]));
    let appended = leader.append(&records(&["a"]), 0).expect("append");
    let (outcome, closed) =
        tokio::join!(leader.wait_committed(appended.last_offset, 0, Duration::from_secs(30)), async {
            tokio::task::yield_now().await;
            leader.close()
        },);
    closed.expect("close");
    // Not left waiting on followers that may never fetch it, until the runtime's teardown does
    // something to the wait.
    assert_eq!(outcome, Err(ErrorCode::NotLeaderOrFollower));
    assert_eq!(leader.append(&records(&["b"]), 0), Err(ErrorCode::NotLeaderOrFollower));
    assert_eq!(leader.offsets().log_end_offset, 1, "nothing appended after the flush");
}
