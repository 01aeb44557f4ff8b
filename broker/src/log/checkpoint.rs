//! Small checkpoint files in Kafka's text layout, replaced atomically.
//!
//! ```text
//! 0            version
//! 2            number of entries
//! 0 0          one entry per line: space-separated integers
//! 3 1500
//! ```
//! Written to `<name>.tmp`, fsynced, renamed over the old file, then the directory is fsynced, so a
//! crash leaves either the old or the new content, never a mix.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::LogError;

const VERSION: i64 = 0;
/// Checkpoints are tiny; refuse to read anything larger than this (a damaged or foreign file).
const MAX_CHECKPOINT_BYTES: u64 = 1024 * 1024;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.to_path_buf(), source }
}

/// Atomically replaces `path` with `entries`. `sync_dir` also fsyncs the directory so the rename
/// itself is durable (needed when losing the update would be a correctness problem, not only a
/// performance one).
pub(crate) fn write(path: &Path, entries: &[Vec<i64>], sync_dir: bool) -> Result<(), LogError> {
    let mut text = format!("{VERSION}\n{}\n", entries.len());
    for entry in entries {
        let line: Vec<String> = entry.iter().map(i64::to_string).collect();
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if sync_dir && let Some(dir) = path.parent() {
        sync_directory(dir)?;
    }
    Ok(())
}

/// Reads a checkpoint whose entries each have `width` integers. `Ok(None)` when the file is missing
/// or damaged (a warning is logged): callers fall back to a safe default.
pub(crate) fn read(path: &Path, width: usize) -> Result<Option<Vec<Vec<i64>>>, LogError> {
    let len = match fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    if len > MAX_CHECKPOINT_BYTES {
        tracing::warn!(path = %path.display(), len, "checkpoint file too large, ignoring it");
        return Ok(None);
    }
    let text = fs::read(path).map_err(io_err(path))?;
    let parsed = parse(&String::from_utf8_lossy(&text), width);
    if parsed.is_none() {
        tracing::warn!(path = %path.display(), "damaged checkpoint file, ignoring it");
    }
    Ok(parsed)
}

fn parse(text: &str, width: usize) -> Option<Vec<Vec<i64>>> {
    let mut lines = text.lines();
    if lines.next()?.trim().parse::<i64>().ok()? != VERSION {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let entries: Vec<Vec<i64>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(|v| v.parse::<i64>().ok()).collect::<Option<Vec<i64>>>())
        .collect::<Option<_>>()?;
    (entries.len() == count && entries.iter().all(|e| e.len() == width)).then_some(entries)
}

/// Reads a one-integer checkpoint.
pub(crate) fn read_offset(path: &Path) -> Result<Option<i64>, LogError> {
    Ok(read(path, 1)?.and_then(|entries| entries.first().map(|e| e[0])))
}

/// fsyncs a directory so that creations, deletions and renames inside it are durable.
pub(crate) fn sync_directory(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        assert_eq!(read(&path, 2).unwrap(), None);
        write(&path, &[vec![0, 0], vec![3, 15]], true).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "0\n2\n0 0\n3 15\n");
        assert_eq!(read(&path, 2).unwrap(), Some(vec![vec![0, 0], vec![3, 15]]));
        fs::write(&path, "0\n3\n0 0\n").unwrap();
        assert_eq!(read(&path, 2).unwrap(), None);
        fs::write(&path, "garbage").unwrap();
        assert_eq!(read_offset(&path).unwrap(), None);
    }
}
