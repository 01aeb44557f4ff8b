//! One pass over a history that indexes what every other check needs.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use crate::history::{History, Write};

/// A record's identity in a run: `(partition, value)`.
pub(super) type Key<'h> = (i32, &'h str);

/// Where each value was written and observed.
pub(super) struct Index<'h> {
    /// The first write of each value.
    pub writes: BTreeMap<Key<'h>, &'h Write>,
    /// Values written more than once (the history breaks the uniqueness invariant).
    pub rewritten: BTreeSet<Key<'h>>,
    /// Offsets each value was read at by consumers.
    pub read_offsets: BTreeMap<Key<'h>, BTreeSet<i64>>,
    /// Offsets each value holds in the final read.
    pub final_offsets: BTreeMap<Key<'h>, BTreeSet<i64>>,
    /// Partitions that have a final read.
    pub final_partitions: BTreeSet<i32>,
    /// Values observed at each `(partition, offset)`, by consumers or in the final read.
    pub values_at: BTreeMap<(i32, i64), BTreeSet<&'h str>>,
}

impl<'h> Index<'h> {
    pub fn build(history: &'h History) -> Self {
        let mut index = Index {
            writes: BTreeMap::new(),
            rewritten: BTreeSet::new(),
            read_offsets: BTreeMap::new(),
            final_offsets: BTreeMap::new(),
            final_partitions: BTreeSet::new(),
            values_at: BTreeMap::new(),
        };
        for write in &history.writes {
            let key = (write.partition, write.value.as_str());
            match index.writes.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(write);
                }
                Entry::Occupied(_) => {
                    index.rewritten.insert(key);
                }
            }
        }
        for read in history.reads() {
            let key = (read.partition, read.value.as_str());
            index.read_offsets.entry(key).or_default().insert(read.offset);
            index.values_at.entry((read.partition, read.offset)).or_default().insert(&read.value);
        }
        for final_read in &history.final_reads {
            index.final_partitions.insert(final_read.partition);
            for (offset, value) in &final_read.records {
                let key = (final_read.partition, value.as_str());
                index.final_offsets.entry(key).or_default().insert(*offset);
                index.values_at.entry((final_read.partition, *offset)).or_default().insert(value);
            }
        }
        index
    }

    /// Whether the write is the first one recorded for its value (later rewrites are not checked).
    pub fn is_first(&self, write: &Write) -> bool {
        self.writes
            .get(&(write.partition, write.value.as_str()))
            .is_some_and(|first| std::ptr::eq(*first, write))
    }

    /// Whether the value was observed anywhere (by a consumer or in the final read).
    pub fn observed(&self, key: &Key<'h>) -> bool {
        self.read_offsets.contains_key(key) || self.final_offsets.contains_key(key)
    }
}
