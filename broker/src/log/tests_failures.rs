//! A failed append leaves the log as it was: writes that stop half-way (ENOSPC after some pages) and
//! `flush.messages` fsyncs that fail, injected through `segment::faults`.

use super::segment::faults::{self, Fault};
use super::tests::{batch, read_all, test_config};
use super::*;
use crate::record::batch::{set_base_offset, set_partition_leader_epoch};

/// A one-record batch at `offset` written in leader epoch `epoch`, as a leader sends it to followers.
fn replicated(offset: i64, epoch: i32, value: u8) -> Vec<u8> {
    let mut builder = crate::record::BatchBuilder::new(crate::record::batch::Compression::None);
    builder.append(1_000 + offset, Some(b"k"), Some(&[value; 20]));
    let mut bytes = builder.build().unwrap();
    set_base_offset(&mut bytes, offset);
    set_partition_leader_epoch(&mut bytes, epoch);
    bytes
}

#[test]
fn a_write_that_fails_half_way_leaves_no_batch_that_recovery_could_bring_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    // A follower fetched three batches of leader epoch 1; the disk fills after the first two and a
    // few bytes of the third.
    let (a, b, c) = (replicated(0, 1, b'a'), replicated(1, 1, b'b'), replicated(2, 1, b'c'));
    let fetched = [a.clone(), b.clone(), c].concat();
    faults::inject(Fault::WriteFailsAfter(a.len() + b.len() + 10));
    assert!(matches!(log.append_with_offsets(&fetched, 0), Err(LogError::Io { .. })));
    assert_eq!((log.log_end_offset(), log.size_bytes()), (0, 0));
    // A new leader (epoch 2) has another batch at offset 0, of the same size; the follower takes it.
    let other = replicated(0, 2, b'x');
    assert_eq!(other.len(), a.len());
    log.append_with_offsets(&other, 0).unwrap();
    assert_eq!(log.log_end_offset(), 1);
    log.close().unwrap();
    // After a restart the log holds that batch and nothing of the failed write: before, batch `b`
    // (whole, CRC-valid, epoch 1) was still behind it in the file and recovery kept it.
    let log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    let batches = read_all(&log);
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert_eq!((batches[0].base_offset, batches[0].partition_leader_epoch), (0, 2));
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn an_append_whose_flush_messages_fsync_fails_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { flush_messages: 1, ..test_config() };
    let mut log = PartitionLog::open(dir.path(), config, 0).unwrap();
    let mut first = batch(2, 100, 10);
    faults::inject(Fault::SyncFails);
    assert!(matches!(log.append(&mut first, 0, 0), Err(LogError::Io { .. })));
    // The caller was told the append failed: it is not in the log for followers or readers to see,
    // and the same batches appended again get the same offsets.
    assert_eq!((log.log_end_offset(), log.size_bytes()), (0, 0));
    assert!(read_all(&log).is_empty());
    let mut retry = batch(2, 100, 10);
    let info = log.append(&mut retry, 0, 0).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 1));
    assert_eq!(log.log_end_offset(), 2);
}
