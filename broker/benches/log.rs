//! Partition log benchmarks: append throughput, warm reads, index lookups.
//!
//! Run: `cargo bench -p strom-broker --bench log -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strom_broker::log::{LogConfig, PartitionLog};
use strom_broker::record::BatchBuilder;
use strom_broker::record::batch::Compression;

const SEED: u64 = 0x5eed;

fn batch_of(records: usize, record_bytes: usize) -> Vec<u8> {
    let mut builder = BatchBuilder::new(Compression::None);
    let value = vec![b'v'; record_bytes];
    for i in 0..records {
        builder.append(1_700_000_000_000 + i as i64, None, Some(&value));
    }
    builder.build().expect("uncompressed batches always build")
}

/// A log that keeps its disk use bounded (~256 MiB) while benchmarks append gigabytes.
fn bounded_log(dir: &std::path::Path) -> PartitionLog {
    let config = LogConfig {
        segment_bytes: 64 << 20,
        retention_bytes: 256 << 20,
        retention_ms: -1,
        ..LogConfig::default()
    };
    PartitionLog::open(dir, config, 0).expect("open log")
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    for (name, records) in [("1MiB_batch_of_1KiB_records", 1024), ("16KiB_batch_of_1KiB_records", 16)] {
        let mut batch = batch_of(records, 1000);
        group.throughput(Throughput::Bytes(batch.len() as u64));
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = bounded_log(dir.path());
        group.bench_function(name, |b| {
            b.iter(|| {
                let info = log.append(black_box(&mut batch), 0, 0).expect("append");
                if log.size_bytes() > 320 << 20 {
                    log.apply_retention(0).expect("retention");
                }
                info
            })
        });
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log = bounded_log(dir.path());
    let mut batch = batch_of(16, 1000);
    for _ in 0..4096 {
        log.append(&mut batch, 0, 0).expect("append"); // ~64 MiB in 16 KiB batches
    }
    log.flush().expect("flush");
    let end = log.log_end_offset();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Bytes(1 << 20));
    group.bench_function("1MiB_from_warm_log", |b| {
        b.iter(|| {
            let offset = rng.random_range(0..end - 1024);
            let bytes = log.read(black_box(offset), 1 << 20, i64::MAX, true).expect("read");
            assert!(bytes.len() > 900_000);
            bytes
        })
    });
    group.finish();
}

fn index_lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig { index_interval_bytes: 1, ..LogConfig::default() };
    let mut log = PartitionLog::open(dir.path(), config, 0).expect("open");
    let mut batch = batch_of(1, 16);
    let mut many = Vec::new();
    for _ in 0..1000 {
        many.extend_from_slice(&batch);
    }
    for _ in 0..100 {
        log.append(&mut many, 0, 0).expect("append"); // 100k batches → ~100k index entries
    }
    log.append(&mut batch, 0, 0).expect("append");
    let end = log.log_end_offset();
    let mut rng = StdRng::seed_from_u64(SEED);
    c.bench_function("index_lookup/random_offset_in_100k_entry_segment", |b| {
        b.iter(|| {
            let offset = rng.random_range(0..end);
            log.read(black_box(offset), 1, i64::MAX, true).expect("read")
        })
    });
}

criterion_group!(benches, append, read, index_lookup);
criterion_main!(benches);
