//! After healing: every replica's log of each partition, read from the broker's data directory,
//! must hold the same bytes below the high watermark (followers copy the leader's batches exactly).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::history::ReplicaCheck;

/// The batches of `topic`-`partition` in `data_dir` whose base offset is below `below`, concatenated
/// in offset order (segment files `*.log`, named by base offset); `None` when the broker has no
/// replica of it.
pub fn log_below(data_dir: &Path, topic: &str, partition: i32, below: i64) -> Option<Vec<u8>> {
    let dir = data_dir.join(format!("{topic}-{partition}"));
    let mut segments: Vec<PathBuf> =
        std::fs::read_dir(&dir).ok()?.filter_map(Result::ok).map(|e| e.path()).collect();
    segments.retain(|p| p.extension().is_some_and(|e| e == "log"));
    segments.sort();
    let mut out = Vec::new();
    for segment in segments {
        let bytes = std::fs::read(&segment).unwrap_or_default();
        let mut position = 0;
        while position + 12 <= bytes.len() {
            let base_offset = i64::from_be_bytes(bytes[position..position + 8].try_into().ok()?);
            let length = i32::from_be_bytes(bytes[position + 8..position + 12].try_into().ok()?);
            let end = position + 12 + usize::try_from(length).unwrap_or(0);
            if base_offset >= below || end > bytes.len() || length <= 0 {
                return Some(out);
            }
            out.extend_from_slice(&bytes[position..end]);
            position = end;
        }
    }
    Some(out)
}

/// Compares every partition's replicas below its high watermark across `data_dirs` (broker id →
/// data directory).
pub fn compare(
    topic: &str,
    high_watermarks: &BTreeMap<i32, i64>,
    data_dirs: &BTreeMap<i32, PathBuf>,
) -> Vec<ReplicaCheck> {
    high_watermarks
        .iter()
        .map(|(partition, hw)| {
            let logs: Vec<(i32, Vec<u8>)> = data_dirs
                .iter()
                .filter_map(|(broker, dir)| log_below(dir, topic, *partition, *hw).map(|log| (*broker, log)))
                .collect();
            let identical = logs.len() > 1 && logs.windows(2).all(|w| w[0].1 == w[1].1);
            let sizes: Vec<String> =
                logs.iter().map(|(b, log)| format!("broker {b}: {} bytes", log.len())).collect();
            let detail = if logs.len() < 2 {
                format!("fewer than two replicas found below offset {hw} ({})", sizes.join(", "))
            } else {
                format!("below offset {hw}: {}", sizes.join(", "))
            };
            ReplicaCheck { partition: *partition, identical_up_to_hw: identical, detail }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base_offset: i64, body: &[u8]) -> Vec<u8> {
        let mut out = base_offset.to_be_bytes().to_vec();
        out.extend((body.len() as i32).to_be_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn compares_replicas_below_the_high_watermark() {
        let root = tempfile::tempdir().expect("temp");
        let mut dirs = BTreeMap::new();
        for (broker, tail) in [(1, b"xx".as_slice()), (2, b"yy".as_slice()), (3, b"zz".as_slice())] {
            let dir = root.path().join(format!("b{broker}"));
            std::fs::create_dir_all(dir.join("t-0")).expect("mkdir");
            let mut log = batch(0, b"same");
            log.extend(batch(1, if broker == 3 { b"diff" } else { b"same" }));
            log.extend(batch(2, tail));
            std::fs::write(dir.join("t-0/00000000000000000000.log"), log).expect("write");
            dirs.insert(broker, dir);
        }
        let below_two = compare("t", &BTreeMap::from([(0, 2)]), &dirs);
        assert!(!below_two[0].identical_up_to_hw, "broker 3 differs at offset 1");
        dirs.remove(&3);
        let checks = compare("t", &BTreeMap::from([(0, 2)]), &dirs);
        assert!(checks[0].identical_up_to_hw, "{checks:?}: tails past the watermark are ignored");
        let one = compare("t", &BTreeMap::from([(0, 2)]), &BTreeMap::from([(1, dirs[&1].clone())]));
        assert!(!one[0].identical_up_to_hw);
    }
}
