//! Idempotent-producer state of one partition: per producer id, its epoch and the last five batches'
//! sequence ranges and offsets. Used to reject gaps and to answer a retried batch with the offsets it
//! got the first time instead of appending it twice. Rebuilt from batch headers when a log is opened.

use std::collections::{HashMap, VecDeque};

use crate::error_code::ErrorCode;
use crate::record::batch::BatchHeader;

/// Batches remembered per producer (Kafka's `max.in.flight.requests.per.connection` ceiling).
pub const CACHED_BATCHES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
    last_offset: i64,
    timestamp: i64,
}

#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
}

/// What to do with an incoming idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// New, in-order batch: append it.
    Append,
    /// Exact retry of a batch already in the log at `base_offset` (with its timestamp).
    Duplicate {
        /// Offset the batch was appended at.
        base_offset: i64,
        /// Max timestamp (or log append time) recorded then.
        timestamp: i64,
    },
}

/// Producer state of one partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStateTable {
    producers: HashMap<i64, ProducerEntry>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

impl ProducerStateTable {
    /// Checks a batch from a client against the producer's state. Non-idempotent batches always append.
    pub fn check(&self, header: &BatchHeader) -> Result<SequenceCheck, ErrorCode> {
        if !header.has_producer_id() {
            return Ok(SequenceCheck::Append);
        }
        let Some(entry) = self.producers.get(&header.producer_id) else {
            // A new producer starts at sequence 0. Any other sequence means its state is gone (aged out
            // with the log, or truncated away): UNKNOWN_PRODUCER_ID, and the client bumps its epoch
            // (KIP-360), as with Kafka.
            return if header.base_sequence == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(ErrorCode::UnknownProducerId)
            };
        };
        if header.producer_epoch < entry.epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        if header.producer_epoch > entry.epoch {
            return if header.base_sequence == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(ErrorCode::OutOfOrderSequenceNumber)
            };
        }
        let (first, last) = (header.base_sequence, header.last_sequence());
        if let Some(dup) = entry.batches.iter().find(|b| b.first_seq == first && b.last_seq == last) {
            return Ok(SequenceCheck::Duplicate { base_offset: dup.base_offset, timestamp: dup.timestamp });
        }
        if let (Some(oldest), Some(latest)) = (entry.batches.front(), entry.batches.back())
            && oldest.first_seq <= latest.last_seq
            && last < oldest.first_seq
        {
            // Written before the remembered batches: a duplicate whose offsets are no longer known.
            return Err(ErrorCode::DuplicateSequenceNumber);
        }
        match entry.batches.back() {
            Some(latest) if next_seq(latest.last_seq) != first => Err(ErrorCode::OutOfOrderSequenceNumber),
            _ => Ok(SequenceCheck::Append),
        }
    }

    /// Records an appended batch (header with its assigned base offset). `timestamp` is what the
    /// produce response reported (log append time, or -1 for CreateTime).
    pub fn record(&mut self, header: &BatchHeader, timestamp: i64) {
        if !header.has_producer_id() {
            return;
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != entry.epoch {
            entry.batches.clear();
            entry.epoch = header.producer_epoch;
        }
        if entry.batches.len() == CACHED_BATCHES {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMeta {
            first_seq: header.base_sequence,
            last_seq: header.last_sequence(),
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            timestamp,
        });
    }

    /// Number of producers tracked.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is tracked.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Drops batches at or after `offset` (log truncation) and producers left with nothing.
    pub fn truncate_to(&mut self, offset: i64) {
        for entry in self.producers.values_mut() {
            entry.batches.retain(|b| b.last_offset < offset);
        }
        self.producers.retain(|_, e| !e.batches.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, base_seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: base_seq,
            records_count: count,
        }
    }

    #[test]
    fn in_order_duplicate_gap_and_fencing() {
        let mut table = ProducerStateTable::default();
        assert_eq!(table.check(&header(7, 0, 0, 5, 0)), Ok(SequenceCheck::Append));
        table.record(&header(7, 0, 0, 5, 100), -1);
        assert_eq!(table.check(&header(7, 0, 5, 5, 0)), Ok(SequenceCheck::Append));
        table.record(&header(7, 0, 5, 5, 105), -1);
        assert_eq!(
            table.check(&header(7, 0, 0, 5, 0)),
            Ok(SequenceCheck::Duplicate { base_offset: 100, timestamp: -1 })
        );
        assert_eq!(table.check(&header(7, 0, 20, 1, 0)), Err(ErrorCode::OutOfOrderSequenceNumber));
        assert_eq!(table.check(&header(7, 1, 3, 1, 0)), Err(ErrorCode::OutOfOrderSequenceNumber));
        assert_eq!(table.check(&header(7, 1, 0, 1, 0)), Ok(SequenceCheck::Append));
        table.record(&header(7, 1, 0, 1, 110), -1);
        assert_eq!(table.check(&header(7, 0, 10, 1, 0)), Err(ErrorCode::InvalidProducerEpoch));
        assert_eq!(table.check(&header(-1, -1, -1, 1, 0)), Ok(SequenceCheck::Append));
        assert_eq!(table.check(&header(8, 0, 12, 1, 0)), Err(ErrorCode::UnknownProducerId), "state lost");
        assert_eq!(table.check(&header(8, 0, 0, 1, 0)), Ok(SequenceCheck::Append), "a new producer");
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut table = ProducerStateTable::default();
        for i in 0..7 {
            table.record(&header(1, 0, i, 1, i64::from(i)), -1);
        }
        assert!(matches!(
            table.check(&header(1, 0, 6, 1, 0)),
            Ok(SequenceCheck::Duplicate { base_offset: 6, .. })
        ));
        assert!(matches!(table.check(&header(1, 0, 2, 1, 0)), Ok(SequenceCheck::Duplicate { .. })));
        assert_eq!(table.check(&header(1, 0, 1, 1, 0)), Err(ErrorCode::DuplicateSequenceNumber));
        table.truncate_to(5);
        assert_eq!(table.check(&header(1, 0, 5, 1, 0)), Ok(SequenceCheck::Append));
    }
}
