//! Recovery tests: torn tails, corrupt batches, damaged indexes, clean vs unclean shutdown.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use super::segment::segment_path;
use super::tests::{batch, headers, read_all, test_config};
use super::*;

fn log_file(dir: &Path, base: i64) -> PathBuf {
    segment_path(dir, base, "log")
}

fn single_segment_config() -> LogConfig {
    LogConfig { segment_bytes: 1 << 20, ..test_config() }
}

/// Appends `n` two-record batches and drops the log without a clean close (nothing fsynced).
fn write_unclean(dir: &Path, config: LogConfig, n: usize) -> Vec<usize> {
    let mut log = PartitionLog::open(dir, config, 0).unwrap();
    let mut sizes = Vec::new();
    for i in 0..n {
        let mut b = batch(2, i as i64, 50);
        sizes.push(b.len());
        log.append(&mut b, 0, 0).unwrap();
    }
    sizes
}

#[test]
fn torn_tail_keeps_whole_batches_and_continues_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = write_unclean(dir.path(), single_segment_config(), 10);
    let path = log_file(dir.path(), 0);
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 10).unwrap();
    let mut log = PartitionLog::open(dir.path(), single_segment_config(), 0).unwrap();
    assert_eq!(log.log_end_offset(), 18);
    assert_eq!(log.size_bytes(), sizes[..9].iter().sum::<usize>() as u64);
    assert_eq!(read_all(&log).len(), 9);
    assert_eq!(log.recovery_validated_batches(), 9);
    let info = log.append(&mut batch(2, 0, 50), 0, 0).unwrap();
    assert_eq!(info.base_offset, 18);
    assert_eq!(read_all(&log).last().unwrap().base_offset, 18);
}

#[test]
fn partial_header_and_zero_fill_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = write_unclean(dir.path(), single_segment_config(), 3);
    let path = log_file(dir.path(), 0);
    let total: usize = sizes.iter().sum();
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]); // a crash after the size grew but before data landed
    fs::write(&path, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), single_segment_config(), 0).unwrap();
    assert_eq!((log.log_end_offset(), log.size_bytes()), (6, total as u64));
    drop(log);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_within(..30);
    fs::write(&path, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), single_segment_config(), 0).unwrap();
    assert_eq!((log.log_end_offset(), log.size_bytes()), (6, total as u64));
}

#[test]
fn flipped_byte_truncates_from_that_batch() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = write_unclean(dir.path(), single_segment_config(), 5);
    let path = log_file(dir.path(), 0);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - sizes[4] / 2;
    bytes[last] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let mut log = PartitionLog::open(dir.path(), single_segment_config(), 0).unwrap();
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(read_all(&log).len(), 4);
    assert_eq!(log.append(&mut batch(1, 0, 5), 0, 0).unwrap().base_offset, 8);
}

#[test]
fn corruption_in_an_earlier_segment_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    write_unclean(dir.path(), test_config(), 30);
    let mut bases: Vec<i64> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().unwrap().strip_suffix(".log")?.parse().ok())
        .collect();
    bases.sort();
    assert!(bases.len() >= 4);
    let path = log_file(dir.path(), bases[1]);
    let mut bytes = fs::read(&path).unwrap();
    let first = headers(&bytes[..])[0];
    bytes[first.total_size() + 70] ^= 1; // inside the second batch of segment 1
    fs::write(&path, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!(log.log_end_offset(), first.last_offset() + 1);
    assert!(!log_file(dir.path(), bases[2]).exists());
    assert_eq!(log.segments.len(), 2);
}

#[test]
fn missing_and_garbage_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { index_interval_bytes: 1, ..test_config() };
    let mut log = PartitionLog::open(dir.path(), config.clone(), 0).unwrap();
    for i in 0..40 {
        log.append(&mut batch(2, 100 + i, 60), 0, 0).unwrap();
    }
    let bases: Vec<i64> = log.segments.iter().map(|s| s.base_offset()).collect();
    let expected: Vec<_> = (0..80).map(|o| headers(&log.read(o, 1, i64::MAX, true).unwrap())[0]).collect();
    log.close().unwrap();
    // Segment 0: index deleted. Segment 1: structurally fine but points past the segment. Active:
    // size not a multiple of 8. Time index of segment 2: non-monotonic.
    fs::remove_file(segment_path(dir.path(), bases[0], "index")).unwrap();
    let mut garbage = Vec::new();
    for i in 1..4u32 {
        garbage.extend_from_slice(&i.to_be_bytes());
        garbage.extend_from_slice(&(i * 1_000_000).to_be_bytes());
    }
    fs::write(segment_path(dir.path(), bases[1], "index"), &garbage).unwrap();
    fs::write(segment_path(dir.path(), *bases.last().unwrap(), "index"), [7u8; 13]).unwrap();
    let mut time = Vec::new();
    for ts in [500i64, 100] {
        time.extend_from_slice(&ts.to_be_bytes());
        time.extend_from_slice(&0u32.to_be_bytes());
    }
    fs::write(segment_path(dir.path(), bases[2], "timeindex"), &time).unwrap();
    let mut log = PartitionLog::open(dir.path(), config, 0).unwrap();
    for (offset, want) in expected.iter().enumerate() {
        let got = headers(&log.read(offset as i64, 1, i64::MAX, true).unwrap())[0];
        assert_eq!(&got, want, "offset {offset}");
    }
    assert_eq!(log.offset_for_timestamp(100 + 20).unwrap(), Some((39, 120)));
    assert_eq!(log.max_timestamp().unwrap(), Some((140, 79)));
    let full = &log.segments[..log.segments.len() - 1];
    for s in full {
        assert!(s.offset_index.entries().len() > 2, "{} {:?}", s.base_offset, s.offset_index.entries());
        assert!(s.time_index.entries().len() > 2, "{} {:?}", s.base_offset, s.time_index.entries());
    }
    log.flush().unwrap();
    let rebuilt = fs::metadata(segment_path(dir.path(), bases[0], "index")).unwrap().len();
    assert!(rebuilt > 0 && rebuilt.is_multiple_of(8));
}

#[test]
fn clean_close_validates_nothing_and_unclean_validates_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    for _ in 0..20 {
        log.append(&mut batch(2, 0, 60), 0, 0).unwrap();
    }
    log.close().unwrap();
    let mut log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!(log.recovery_validated_batches(), 0);
    assert_eq!(log.log_end_offset(), 40);
    for _ in 0..3 {
        log.append(&mut batch(2, 0, 60), 0, 0).unwrap();
    }
    drop(log); // crash: nothing flushed since the reopen
    let log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!(log.recovery_validated_batches(), 3);
    assert_eq!(log.log_end_offset(), 46);
    // Recovery fsynced what it validated and advanced the recovery point.
    drop(log);
    let log = PartitionLog::open(dir.path(), test_config(), 0).unwrap();
    assert_eq!(log.recovery_validated_batches(), 0);
}

#[test]
fn delete_removes_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topic-0");
    let mut log = PartitionLog::open(&path, test_config(), 0).unwrap();
    log.append(&mut batch(1, 0, 1), 0, 0).unwrap();
    log.delete().unwrap();
    assert!(!path.exists());
}
