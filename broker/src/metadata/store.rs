//! The single-node metadata log: records appended as JSON lines to `<data>/metadata/records.jsonl`,
//! fsynced before a change is acknowledged, replayed into a fresh image on start. The controller quorum
//! replaces this store with its Raft log; the records and the image stay the same.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use thiserror::Error;

use super::image::MetadataImage;
use super::records::MetadataRecord;

/// The metadata log could not be read or written.
#[derive(Debug, Error)]
#[error("metadata log {path}: {source}")]
pub struct MetadataStoreError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Durable record log plus the current image.
pub struct MetadataStore {
    path: PathBuf,
    file: Mutex<File>,
    image: RwLock<Arc<MetadataImage>>,
}

impl MetadataStore {
    /// Opens (or creates) the log under `data_dir/metadata` and replays it. A torn last line from a crash
    /// mid-write is dropped (it was never acknowledged).
    pub fn open(data_dir: &Path) -> Result<Self, MetadataStoreError> {
        let dir = data_dir.join("metadata");
        let path = dir.join("records.jsonl");
        let err = |source| MetadataStoreError { path: path.clone(), source };
        std::fs::create_dir_all(&dir).map_err(err)?;
        let mut image = MetadataImage::default();
        let mut valid_len = 0u64;
        if path.exists() {
            let reader = BufReader::new(File::open(&path).map_err(err)?);
            for line in reader.split(b'\n') {
                let line = line.map_err(err)?;
                match serde_json::from_slice::<MetadataRecord>(&line) {
                    Ok(record) => {
                        image.replay(&record);
                        valid_len += line.len() as u64 + 1;
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "dropping torn metadata record");
                        break;
                    }
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(err)?;
        if file.metadata().map_err(err)?.len() > valid_len {
            file.set_len(valid_len).map_err(err)?;
        }
        Ok(Self { path, file: Mutex::new(file), image: RwLock::new(Arc::new(image)) })
    }

    /// The current image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Appends `records`, fsyncs, then publishes the new image. When this returns `Ok`, the records are
    /// on disk and visible to every later [`image`](Self::image) call.
    pub fn commit(&self, records: &[MetadataRecord]) -> Result<Arc<MetadataImage>, MetadataStoreError> {
        let err = |source| MetadataStoreError { path: self.path.clone(), source };
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = Vec::new();
        for record in records {
            serde_json::to_writer(&mut buf, record).map_err(|e| err(e.into()))?;
            buf.push(b'\n');
        }
        file.write_all(&buf).map_err(err)?;
        file.sync_data().map_err(err)?;
        let mut guard = self.image.write().unwrap_or_else(|e| e.into_inner());
        let mut image = MetadataImage::clone(&guard);
        for record in records {
            image.replay(record);
        }
        let image = Arc::new(image);
        *guard = image.clone();
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_records_survive_reopen_and_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("open");
        let topic_id = uuid::Uuid::new_v4();
        store.commit(&[MetadataRecord::Topic { name: "a".into(), topic_id }]).expect("commit");
        drop(store);
        let path = dir.path().join("metadata/records.jsonl");
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(b"{\"type\":\"Topic\",\"na").expect("write");
        drop(file);
        let store = MetadataStore::open(dir.path()).expect("reopen");
        assert!(store.image().topic("a").is_some());
        store.commit(&[MetadataRecord::ProducerIds { next_producer_id: 1000 }]).expect("commit");
        drop(store);
        let store = MetadataStore::open(dir.path()).expect("reopen");
        assert_eq!(store.image().next_producer_id(), 1000);
    }
}
