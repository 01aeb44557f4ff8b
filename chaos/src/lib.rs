//! Strom chaos testing: the foundation shared by the workload, the nemesis and the runner.
//!
//! - [`history`]: what one run observed (writes, reads, consumer position events, committed offsets,
//!   faults, the final drain of every partition and replica checks), serializable to JSON.
//! - [`checker`]: a pure, deterministic, Jepsen-style check of a [`History`] into a [`CheckResult`]
//!   (anomalies, counts, failover times).
//! - [`report`]: the only I/O here: writes `history.json`, `results.json`, `report.md` and
//!   `timeline.png` into a results directory, and re-checks a saved history.
//!
//! ```text
//! workload + nemesis ──record──▶ History ──check()──▶ CheckResult ──write_results()──▶ results dir
//!                                   ▲                                                     │
//!                                   └──────────────── recheck(history.json) ◀─────────────┘
//! ```

pub mod checker;
pub mod cluster;
pub mod history;
pub mod nemesis;
mod plot;
pub mod replicas;
pub mod report;
pub mod run;
pub mod workload;

pub use checker::{
    Anomaly, AnomalyKind, Availability, CheckResult, Counts, FailoverSample, FailoverStats, check,
};
pub use history::{
    CommittedOffset, ConsumerEvent, ConsumerEventKind, ConsumerRecord, Fault, FaultId, FaultKind, FinalRead,
    History, Read, ReplicaCheck, Write, WriteOutcome,
};
pub use report::{
    ReportOptions, Results, read_history, recheck, render_markdown, write_history, write_results,
    write_results_with,
};
