//! Behaviour tests of the partition log: append/read/roll, timestamps, retention, flush, epochs.

use std::path::Path;

use proptest::prelude::*;

use super::partition_log::RECOVERY_POINT_FILE;
use super::*;
use crate::record::batch::{BatchHeader, Compression};
use crate::record::{BatchBuilder, decode_records};

pub(super) fn test_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        segment_ms: i64::MAX,
        retention_ms: -1,
        retention_bytes: -1,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

/// A batch of `records` records with timestamps `ts, ts+1, …` and ~`value_len`-byte values.
pub(super) fn batch(records: usize, ts: i64, value_len: usize) -> Vec<u8> {
    batch_with(Compression::None, records, ts, value_len)
}

pub(super) fn batch_with(compression: Compression, records: usize, ts: i64, value_len: usize) -> Vec<u8> {
    let mut builder = BatchBuilder::new(compression);
    for i in 0..records {
        let value = vec![b'a' + (i % 26) as u8; value_len];
        builder.append(ts + i as i64, Some(format!("k{i}").as_bytes()), Some(&value));
    }
    builder.build().unwrap()
}

/// Every batch header in `bytes`.
pub(super) fn headers(mut bytes: &[u8]) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let header = BatchHeader::parse(bytes).unwrap();
        out.push(header);
        bytes = &bytes[header.total_size()..];
    }
    out
}

pub(super) fn read_all(log: &PartitionLog) -> Vec<BatchHeader> {
    headers(&log.read(log.log_start_offset(), usize::MAX, i64::MAX, true).unwrap())
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
}

#[test]
fn append_assigns_offsets_and_patches_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    let mut two = batch(3, 100, 10);
    two.extend(batch(2, 200, 10));
    let info = log.append(&mut two, 7, 0).unwrap();
    assert_eq!((info.base_offset, info.last_offset, info.records), (0, 4, 5));
    assert_eq!((info.max_timestamp, info.offset_of_max_timestamp, info.bytes), (201, 4, two.len()));
    let read = log.read(0, usize::MAX, i64::MAX, false).unwrap();
    assert_eq!(&read[..], &two[..]);
    let hs = headers(&read);
    assert_eq!((hs[1].base_offset, hs[1].partition_leader_epoch), (3, 7));
    crate::record::batch::validate(&read[..hs[0].total_size()]).unwrap();
    assert_eq!(decode_records(&read[hs[0].total_size()..]).unwrap()[1].offset, 4);
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.size_bytes(), two.len() as u64);
}

#[test]
fn rolls_segments_and_reads_across_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    let mut sizes = Vec::new();
    for i in 0..30 {
        let mut b = batch(2, 1000 + i, 60);
        sizes.push(b.len());
        log.append(&mut b, 0, 0).unwrap();
    }
    assert_eq!(log.log_end_offset(), 60);
    let files = segment_files(dir.path());
    assert!(files.len() >= 5, "{files:?}");
    assert_eq!(files[0], "00000000000000000000.log");
    let per_segment = 1024 / sizes[0];
    assert_eq!(files[1], format!("{:020}.log", per_segment * 2));
    assert!(dir.path().join(format!("{:020}.index", per_segment * 2)).exists());
    // A middle offset inside a batch returns that whole batch first.
    let read = log.read(37, usize::MAX, i64::MAX, false).unwrap();
    let hs = headers(&read);
    assert_eq!(hs[0].base_offset, 36);
    assert_eq!(hs.last().unwrap().last_offset(), 59);
    assert_eq!(hs.len(), 12);
    // max_bytes stops before the batch that does not fit.
    let read = log.read(10, sizes[0] * 3 + 5, i64::MAX, false).unwrap();
    assert_eq!(headers(&read).iter().map(|h| h.base_offset).collect::<Vec<_>>(), vec![10, 12, 14]);
    // min_one_batch returns the first batch even if too large.
    assert!(log.read(10, 5, i64::MAX, false).unwrap().is_empty());
    assert_eq!(headers(&log.read(10, 5, i64::MAX, true).unwrap()).len(), 1);
    // max_offset is an exclusive bound on base offsets.
    let read = log.read(10, usize::MAX, 16, false).unwrap();
    assert_eq!(headers(&read).iter().map(|h| h.base_offset).collect::<Vec<_>>(), vec![10, 12, 14]);
    assert!(log.read(20, usize::MAX, 20, true).unwrap().is_empty());
    // Bounds.
    assert!(log.read(60, usize::MAX, i64::MAX, true).unwrap().is_empty());
    assert!(matches!(
        log.read(61, 100, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { offset: 61, log_start_offset: 0, log_end_offset: 60 })
    ));
    assert!(matches!(log.read(-1, 100, i64::MAX, true), Err(LogError::OffsetOutOfRange { .. })));
    // Every offset finds the batch that contains it.
    for offset in 0..60 {
        let first = headers(&log.read(offset, 1, i64::MAX, true).unwrap())[0];
        assert_eq!(first.base_offset, offset - offset % 2, "offset {offset}");
    }
    let mut seen = Vec::new();
    log.for_each_batch(41, |h| seen.push(h.base_offset)).unwrap();
    assert_eq!(seen, (40..60).step_by(2).collect::<Vec<_>>());
}

#[test]
fn follower_append_keeps_offsets_and_rejects_going_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    let b = BatchBuilder::new(Compression::None).base_offset(0).partition_leader_epoch(2);
    let mut b = b.clone();
    b.append(5, None, Some(b"x")).append(6, None, Some(b"y"));
    let first = b.build().unwrap();
    assert_eq!(log.append_with_offsets(&first, 0).unwrap().last_offset, 1);
    assert_eq!(log.latest_epoch(), Some(2));
    assert!(matches!(
        log.append_with_offsets(&first, 0),
        Err(LogError::NonMonotonicOffset { got: 0, log_end_offset: 2 })
    ));
    let mut later = first.clone();
    crate::record::batch::set_base_offset(&mut later, 10);
    log.append_with_offsets(&later, 0).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(headers(&log.read(5, usize::MAX, i64::MAX, true).unwrap())[0].base_offset, 10);
}

#[test]
fn timestamps_across_segments_and_compressed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
    assert_eq!(log.max_timestamp().unwrap(), None);
    for i in 0..20 {
        log.append(&mut batch(4, 1000 + i * 10, 50), 0, 0).unwrap(); // ts 1000+10i .. +3
    }
    log.append(&mut batch_with(Compression::Zstd, 10, 5000, 100), 0, 0).unwrap(); // offsets 80..90
    log.append(&mut batch_with(Compression::Gzip, 3, 4000, 10), 0, 0).unwrap(); // 90..93, older ts
    assert!(segment_files(dir.path()).len() > 3);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 1000)));
    assert_eq!(log.offset_for_timestamp(1001).unwrap(), Some((1, 1001)));
    assert_eq!(log.offset_for_timestamp(1104).unwrap(), Some((44, 1110)));
    assert_eq!(log.offset_for_timestamp(1193).unwrap(), Some((79, 1193)));
    assert_eq!(log.offset_for_timestamp(5004).unwrap(), Some((84, 5004)));
    assert_eq!(log.offset_for_timestamp(4001).unwrap(), Some((80, 5000)));
    assert_eq!(log.offset_for_timestamp(5010).unwrap(), None);
    assert_eq!(log.max_timestamp().unwrap(), Some((5009, 89)));
    // Ties resolve to the earliest offset; LogAppendTime batches use the batch max timestamp.
    let mut lat = BatchBuilder::new(Compression::Lz4).log_append_time(5009);
    lat.append(1, None, Some(b"a")).append(2, None, Some(b"b"));
    log.append(&mut lat.build().unwrap(), 0, 0).unwrap();
    assert_eq!(log.max_timestamp().unwrap(), Some((5009, 89)));
    let mut lat = BatchBuilder::new(Compression::Snappy).log_append_time(6000);
    lat.append(1, None, Some(b"a")).append(2, None, Some(b"b"));
    log.append(&mut lat.build().unwrap(), 0, 0).unwrap();
    assert_eq!(log.max_timestamp().unwrap(), Some((6000, 95)));
    assert_eq!(log.offset_for_timestamp(5500).unwrap(), Some((95, 6000)));
    // Below the log start offset nothing is found.
    log.delete_records_before(42).unwrap();
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((42, 1102)));
}

#[test]
fn retention_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { retention_ms: 10_000, ..test_config() };
    let mut log = PartitionLog::open(dir.path(), config, 0).unwrap();
    for i in 0..20 {
        log.append(&mut batch(2, 1_000 * i, 60), 0, 0).unwrap();
    }
    let before = segment_files(dir.path()).len();
    assert_eq!(log.apply_retention(10_000).unwrap(), 0);
    // At now=25_000 everything with max ts < 15_000 goes: batches 0..=14 hold ts up to 14_001.
    let deleted = log.apply_retention(25_000).unwrap();
    assert!(deleted > 0);
    assert_eq!(segment_files(dir.path()).len(), before - deleted);
    let start = log.log_start_offset();
    assert!(start > 0 && start <= 30, "{start}");
    assert_eq!(read_all(&log)[0].base_offset, start);
    assert!(read_all(&log).iter().all(|h| h.max_timestamp >= 14_000));
    // Everything expired: the active segment is rolled and the log is empty at its end offset.
    log.apply_retention(1_000_000).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.size_bytes()), (40, 40, 0));
    assert_eq!(segment_files(dir.path()), vec![format!("{:020}.log", 40)]);
    log.append(&mut batch(1, 2_000_000, 10), 0, 0).unwrap();
    assert_eq!(read_all(&log)[0].base_offset, 40);
    drop(log);
    assert_eq!(PartitionLog::open(dir.path(), test_config(), 0).unwrap().log_start_offset(), 40);
}

#[test]
fn retention_by_bytes_and_segment_ms_roll() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { retention_bytes: 2048, segment_ms: 1000, ..test_config() };
    let mut log = PartitionLog::open(dir.path(), config, 0).unwrap();
    for _ in 0..40 {
        log.append(&mut batch(2, 0, 60), 0, 0).unwrap();
    }
    let total = log.size_bytes();
    let deleted = log.apply_retention(10).unwrap();
    assert!(deleted > 0);
    assert!(log.size_bytes() >= 2048 && log.size_bytes() < total);
    let first = log.segments[0].size();
    assert!(log.size_bytes() - first < 2048);
    // segment.ms rolls an idle active segment at the next retention pass.
    let segments = log.segments.len();
    log.apply_retention(2000).unwrap();
    assert!(log.active().is_empty() && log.segments.len() <= segments + 1);
}

#[test]
fn delete_records_before_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    for _ in 0..20 {
        log.append(&mut batch(2, 0, 60), 0, 0).unwrap();
    }
    assert_eq!(log.delete_records_before(25).unwrap(), 25);
    assert_eq!(log.delete_records_before(3).unwrap(), 25);
    assert!(matches!(log.delete_records_before(41), Err(LogError::OffsetOutOfRange { .. })));
    assert!(segment_files(dir.path())[0] != "00000000000000000000.log");
    assert!(matches!(log.read(24, 100, i64::MAX, true), Err(LogError::OffsetOutOfRange { .. })));
    assert_eq!(headers(&log.read(25, 1, i64::MAX, true).unwrap())[0].base_offset, 24);
    drop(log);
    let log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (25, 40));
}

#[test]
fn flush_messages_fsyncs_and_advances_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { flush_messages: 1, ..test_config() };
    let mut log = PartitionLog::open(dir.path(), config, 0).unwrap();
    let checkpoint = dir.path().join(RECOVERY_POINT_FILE);
    for i in 1..=3 {
        log.append(&mut batch(2, 0, 10), 0, 0).unwrap();
        // Every append reaching flush.messages fsyncs its data before returning.
        assert_eq!((log.data_syncs(), log.unflushed_records), (i, 0));
    }
    // flush.messages = 3 records: the second 2-record append reaches it.
    log.set_config(LogConfig { flush_messages: 3, ..test_config() });
    log.append(&mut batch(2, 0, 10), 0, 0).unwrap();
    assert_eq!(log.data_syncs(), 3);
    log.append(&mut batch(2, 0, 10), 0, 0).unwrap();
    assert_eq!(log.data_syncs(), 4);
    // The recovery point moves on a full flush.
    log.flush().unwrap();
    assert_eq!(std::fs::read_to_string(&checkpoint).unwrap(), "0\n1\n10\n");
    // flush.ms policy.
    log.set_config(LogConfig { flush_ms: 100, ..test_config() });
    log.append(&mut batch(1, 0, 10), 0, 1000).unwrap();
    assert!(!log.maybe_flush(1050).unwrap());
    assert!(log.maybe_flush(1100).unwrap());
    assert!(!log.maybe_flush(5000).unwrap());
    log.append(&mut batch(1, 0, 10), 0, 6000).unwrap();
    assert!(!log.maybe_flush(6050).unwrap());
    assert!(log.maybe_flush(4000).unwrap(), "the wall clock went back behind the append");
    assert_eq!(std::fs::read_to_string(&checkpoint).unwrap(), "0\n1\n12\n");
}

#[test]
fn leader_epochs_persist() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!(log.latest_epoch(), None);
    log.append(&mut batch(2, 0, 10), 0, 0).unwrap();
    log.append(&mut batch(3, 0, 10), 0, 0).unwrap();
    log.append(&mut batch(1, 0, 10), 3, 0).unwrap();
    let check = |log: &PartitionLog| {
        assert_eq!(log.latest_epoch(), Some(3));
        assert_eq!(log.end_offset_for_epoch(0), Some((0, 5)));
        assert_eq!(log.end_offset_for_epoch(2), Some((0, 5)));
        assert_eq!(log.end_offset_for_epoch(3), Some((3, 6)));
        assert_eq!(log.end_offset_for_epoch(9), Some((3, 6)));
        assert_eq!(log.end_offset_for_epoch(-1), None);
    };
    check(&log);
    drop(log);
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    check(&log);
    // Truncation drops the epochs that started after the new end.
    log.truncate_to(5).unwrap();
    assert_eq!((log.latest_epoch(), log.log_end_offset()), (Some(0), 5));
    assert_eq!(log.end_offset_for_epoch(3), Some((0, 5)));
}

#[test]
fn truncate_to_removes_whole_batches_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    for _ in 0..30 {
        log.append(&mut batch(2, 0, 60), 0, 0).unwrap();
    }
    let files = segment_files(dir.path()).len();
    log.truncate_to(21).unwrap(); // mid-batch: the batch 20..=21 goes
    assert_eq!(log.log_end_offset(), 20);
    assert!(segment_files(dir.path()).len() < files);
    assert_eq!(read_all(&log).last().unwrap().last_offset(), 19);
    let info = log.append(&mut batch(2, 0, 60), 0, 0).unwrap();
    assert_eq!(info.base_offset, 20);
    drop(log);
    let log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!(log.log_end_offset(), 22);
    assert_eq!(read_all(&log).len(), 11);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn appends_read_back_exactly(
        appends in prop::collection::vec(prop::collection::vec((1usize..5, 0usize..300), 1..4), 1..25),
        segment_bytes in 200u64..3000,
        index_interval_bytes in 1u32..500,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { segment_bytes, index_interval_bytes, ..test_config() };
        let mut log = PartitionLog::open(dir.path(), config.clone(), 0).unwrap();
        let mut expected = Vec::new();
        for (i, append) in appends.iter().enumerate() {
            let mut bytes = Vec::new();
            for &(records, value_len) in append {
                bytes.extend(batch(records, i as i64, value_len));
            }
            log.append(&mut bytes, 1, 0).unwrap();
            expected.extend_from_slice(&bytes);
        }
        let all = log.read(0, usize::MAX, i64::MAX, true).unwrap();
        prop_assert_eq!(&all[..], &expected[..]);
        // Reading from every batch boundary returns the matching suffix.
        let hs = headers(&expected);
        let mut position = 0;
        for h in &hs {
            let got = log.read(h.base_offset, usize::MAX, i64::MAX, true).unwrap();
            prop_assert_eq!(&got[..], &expected[position..]);
            position += h.total_size();
        }
        drop(log);
        let log = PartitionLog::open(dir.path(), config, 0).unwrap();
        let all = log.read(0, usize::MAX, i64::MAX, true).unwrap();
        prop_assert_eq!(&all[..], &expected[..]);
    }
}
