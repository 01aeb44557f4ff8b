//! An append-only file of fixed-size index entries mirrored in memory.
//!
//! Entries live in a `Vec` for binary search; new entries are written to the file only on
//! [`IndexFile::flush`] (on flush, roll and close). Indexes are rebuildable from the segment, so
//! losing unwritten entries in a crash only costs a rebuild at recovery.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::LogError;
use super::checkpoint::io_err;

/// One fixed-size entry of an index file (big-endian on disk).
pub(crate) trait IndexEntry: Copy {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Decodes one entry from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
    /// Appends the encoding of this entry.
    fn encode(&self, out: &mut Vec<u8>);
}

/// An index file and its entries.
#[derive(Debug)]
pub(crate) struct IndexFile<E> {
    path: PathBuf,
    file: File,
    entries: Vec<E>,
    /// Entries `[0, persisted)` are already written to the file.
    persisted: usize,
    /// The file changed since its last fsync.
    unsynced: bool,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Creates (or empties) the index file at `path`.
    pub(crate) fn create(path: &Path) -> Result<Self, LogError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Self { path: path.to_path_buf(), file, entries: Vec::new(), persisted: 0, unsynced: true })
    }

    /// Opens the index at `path`, creating it if missing, and loads its entries. Returns `false` as the
    /// second value (and no entries) if the file is structurally damaged: size not a multiple of the
    /// entry size, or more entries than `max_entries` (entries cannot outnumber the segment's bytes) —
    /// or if it did not exist.
    pub(crate) fn open(path: &Path, max_entries: u64) -> Result<(Self, bool), LogError> {
        let existed = path.try_exists().map_err(io_err(path))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        let mut index =
            Self { path: path.to_path_buf(), file, entries: Vec::new(), persisted: 0, unsynced: !existed };
        let size = E::SIZE as u64;
        if len % size != 0 || len / size > max_entries {
            index.reset()?;
            return Ok((index, false));
        }
        let len = usize::try_from(len).map_err(|_| io_err(path)(std::io::ErrorKind::FileTooLarge.into()))?;
        let mut bytes = vec![0u8; len];
        index.file.read_exact_at(&mut bytes, 0).map_err(io_err(path))?;
        index.entries = bytes.chunks_exact(E::SIZE).map(E::decode).collect();
        index.persisted = index.entries.len();
        Ok((index, existed))
    }

    /// All entries in order.
    pub(crate) fn entries(&self) -> &[E] {
        &self.entries
    }

    /// The last entry.
    pub(crate) fn last(&self) -> Option<E> {
        self.entries.last().copied()
    }

    /// Appends an entry (in memory until the next flush).
    pub(crate) fn push(&mut self, entry: E) {
        self.entries.push(entry);
    }

    /// Keeps only the first `len` entries, shrinking the file if entries were already written.
    pub(crate) fn truncate(&mut self, len: usize) -> Result<(), LogError> {
        if len >= self.entries.len() {
            return Ok(());
        }
        self.entries.truncate(len);
        if self.persisted > len {
            self.file.set_len((len * E::SIZE) as u64).map_err(io_err(&self.path))?;
            self.persisted = len;
            self.unsynced = true;
        }
        Ok(())
    }

    /// Drops every entry and empties the file.
    pub(crate) fn reset(&mut self) -> Result<(), LogError> {
        self.entries.clear();
        self.persisted = 0;
        self.unsynced = true;
        self.file.set_len(0).map_err(io_err(&self.path))
    }

    /// Writes entries not yet in the file (one write); with `sync`, also fsyncs the file if it changed
    /// since the last fsync.
    pub(crate) fn flush(&mut self, sync: bool) -> Result<(), LogError> {
        if self.persisted < self.entries.len() {
            let mut buf = Vec::with_capacity((self.entries.len() - self.persisted) * E::SIZE);
            for entry in &self.entries[self.persisted..] {
                entry.encode(&mut buf);
            }
            let at = (self.persisted * E::SIZE) as u64;
            self.file.write_all_at(&buf, at).map_err(io_err(&self.path))?;
            self.persisted = self.entries.len();
            self.unsynced = true;
        }
        if sync && self.unsynced {
            self.file.sync_data().map_err(io_err(&self.path))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Path of the file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
