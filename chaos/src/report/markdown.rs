//! `report.md`: the verdict of a run for a person (pure).

use std::fmt::Write as _;

use crate::checker::{CheckResult, FailoverStats};
use crate::history::History;

/// How many anomalies the report lists in full (all are in `results.json`).
pub const ANOMALIES_LISTED: usize = 50;

/// How many faults the fault log lists (all are in `results.json`).
pub const FAULTS_LISTED: usize = 100;

/// Renders the Markdown report of a checked run.
pub fn render_markdown(history: &History, result: &CheckResult, command_line: &str) -> String {
    let mut md = String::new();
    header(&mut md, history, result, command_line);
    workload(&mut md, result);
    faults(&mut md, history, result);
    anomalies(&mut md, result);
    if !result.notes.is_empty() {
        md.push_str("\n## Notes\n\n");
        for note in &result.notes {
            let _ = writeln!(md, "- {note}");
        }
    }
    md
}

fn header(md: &mut String, history: &History, result: &CheckResult, command_line: &str) {
    let verdict =
        if result.ok { "PASS".to_owned() } else { format!("FAIL ({} anomalies)", result.anomalies.len()) };
    let _ = writeln!(md, "# Strom chaos run: {verdict}\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| seed | `{}` |", history.seed);
    let _ = writeln!(md, "| topic | `{}` ({} partitions) |", cell(&history.topic), history.partitions);
    let _ = writeln!(md, "| duration | {:.1} s |", history.duration_ms as f64 / 1000.0);
    let _ = writeln!(md, "\nReplay this run (same seed, same schedule):\n\n```sh\n{command_line}\n```");
    if !result.unchecked_partitions.is_empty() {
        let _ = writeln!(
            md,
            "\n**Durability unchecked** for partitions {:?}: no final read was recorded for them.",
            result.unchecked_partitions
        );
    }
}

fn workload(md: &mut String, result: &CheckResult) {
    let c = &result.counts;
    md.push_str("\n## Workload\n\n| | count |\n|---|---:|\n");
    let rows = [
        ("writes attempted", c.writes_attempted),
        ("writes acknowledged", c.writes_ok),
        ("writes failed", c.writes_failed),
        ("writes with unknown outcome", c.writes_unknown),
        ("— of which observed after all (recovered)", c.unknown_recovered),
        ("— of which never observed", c.unknown_absent),
        ("records read by consumers", c.reads),
        ("consumer position events", c.consumer_events),
        ("committed-offset observations", c.committed_offset_observations),
        ("records in the final reads", c.final_records),
        ("observed records of values never written", c.observed_unwritten_values),
        ("replica checks", c.replica_checks),
    ];
    for (name, count) in rows {
        let _ = writeln!(md, "| {name} | {count} |");
    }
}

fn faults(md: &mut String, history: &History, result: &CheckResult) {
    md.push_str("\n## Faults and failover\n\n");
    md.push_str(
        "Failover: time from a fault's start to the first acknowledgement of a write sent after it \
         began, per partition.\n\n",
    );
    md.push_str("| fault kind | count | p50 | p99 | max | no write acked after (fault × partition) |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|\n");
    for (kind, count) in &result.faults_by_kind {
        let stats = result.failover.by_kind.get(kind).cloned().unwrap_or_default();
        let _ = writeln!(md, "| {kind} | {count} | {} |", stats_cells(&stats));
    }
    let _ =
        writeln!(md, "| **all** | {} | {} |", result.counts.faults, stats_cells(&result.failover.overall));

    if history.faults.is_empty() {
        return;
    }
    md.push_str("\n### Fault log\n\n| # | kind | target | start | end |\n|---:|---|---|---:|---:|\n");
    for (index, fault) in history.faults.iter().enumerate().take(FAULTS_LISTED) {
        let end = fault.end_ms.map_or_else(|| "never healed".to_owned(), |end| format!("{end} ms"));
        let _ = writeln!(
            md,
            "| {index} | {} | {} | {} ms | {end} |",
            fault.kind,
            cell(&fault.target),
            fault.start_ms
        );
    }
    if history.faults.len() > FAULTS_LISTED {
        let _ = writeln!(md, "\n({} more in `results.json`.)", history.faults.len() - FAULTS_LISTED);
    }
}

fn stats_cells(stats: &FailoverStats) -> String {
    let ms = |v: Option<u64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v} ms"));
    format!("{} | {} | {} | {}", ms(stats.p50_ms), ms(stats.p99_ms), ms(stats.max_ms), stats.unrecovered)
}

fn anomalies(md: &mut String, result: &CheckResult) {
    md.push_str("\n## Anomalies\n\n");
    if result.anomalies.is_empty() {
        md.push_str("None.\n");
        return;
    }
    md.push_str("| kind | count |\n|---|---:|\n");
    for (kind, count) in &result.anomalies_by_kind {
        let _ = writeln!(md, "| {kind} | {count} |");
    }
    let shown = result.anomalies.len().min(ANOMALIES_LISTED);
    let _ = writeln!(md, "\nFirst {shown} of {}:\n", result.anomalies.len());
    for anomaly in result.anomalies.iter().take(ANOMALIES_LISTED) {
        let _ = writeln!(md, "- **{}** (partition {}): {}", anomaly.kind, anomaly.partition, anomaly.detail);
    }
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
