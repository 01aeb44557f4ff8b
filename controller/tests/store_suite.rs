//! openraft's storage test suite against the sled log store and the metadata state machine, plus
//! recovery checks of our own: a reopened store returns what was flushed before it was closed.

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{RaftLogReader, RaftSnapshotBuilder, StorageError, Vote};
use strom_controller::metadata::MetadataRecord;
use strom_controller::raft::type_config::Entry;
use strom_controller::raft::{LogStore, MetadataBatch, StateMachineStore, TypeConfig};
use tempfile::TempDir;

/// Each build is a fresh sled database in its own temporary directory (kept alive by the guard).
struct SledStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for SledStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<u64>> {
        let dir = tempfile::tempdir().map_err(|e| openraft::StorageIOError::write(&e))?;
        let db =
            sled::Config::new().path(dir.path()).open().map_err(|e| openraft::StorageIOError::write(&e))?;
        let log_store = LogStore::open(&db).map_err(|e| openraft::StorageIOError::write(&e))?;
        let state_machine = StateMachineStore::open(&db)?;
        Ok((dir, log_store, state_machine))
    }
}

#[test]
fn sled_store_passes_openraft_suite() -> anyhow::Result<()> {
    Suite::test_all(SledStoreBuilder)?;
    Ok(())
}

fn record(n: i64) -> MetadataRecord {
    MetadataRecord::ProducerIds { next_producer_id: n }
}

fn normal_entry(term: u64, index: u64, n: i64) -> Entry {
    Entry {
        log_id: openraft::testing::log_id(term, 1, index),
        payload: openraft::EntryPayload::Normal(MetadataBatch { records: vec![record(n)] }),
    }
}

/// Appends wait for the flush callback; after reopening the database, vote, log and snapshot are
/// exactly what was acknowledged.
#[tokio::test]
async fn reopened_store_returns_flushed_vote_log_and_snapshot() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let db = sled::Config::new().path(dir.path()).open()?;
        let mut log_store = LogStore::open(&db)?;
        let mut state_machine = StateMachineStore::open(&db)?;
        log_store.save_vote(&Vote::new_committed(3, 1)).await?;
        let entries: Vec<Entry> = (1..=5).map(|i| normal_entry(3, i, i as i64 * 10)).collect();
        openraft::storage::RaftLogStorageExt::blocking_append(&mut log_store, entries.clone()).await?;
        state_machine.apply(entries).await?;
        let snapshot = state_machine.get_snapshot_builder().await.build_snapshot().await?;
        assert_eq!(snapshot.meta.last_log_id.map(|id| id.index), Some(5));
        log_store.purge(openraft::testing::log_id(3, 1, 2)).await?;
    }
    let db = sled::Config::new().path(dir.path()).open()?;
    let mut log_store = LogStore::open(&db)?;
    let mut state_machine = StateMachineStore::open(&db)?;
    assert_eq!(log_store.read_vote().await?, Some(Vote::new_committed(3, 1)));
    let state = log_store.get_log_state().await?;
    assert_eq!(state.last_purged_log_id.map(|id| id.index), Some(2));
    assert_eq!(state.last_log_id.map(|id| id.index), Some(5));
    let indexes: Vec<u64> =
        log_store.try_get_log_entries(0..100).await?.iter().map(|entry| entry.log_id.index).collect();
    assert_eq!(indexes, vec![3, 4, 5]);
    let (applied, _) = state_machine.applied_state().await?;
    assert_eq!(applied.map(|id| id.index), Some(5));
    let image = state_machine.applied().image();
    assert_eq!(image.next_producer_id(), 50);
    assert_eq!(image.offset, 5);
    Ok(())
}
