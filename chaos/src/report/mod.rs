//! The results directory of a run, and re-checking a saved history. The only I/O in this crate.
//!
//! ```text
//! dir/
//!   history.json   the History, compact JSON: `recheck` reads it back
//!   results.json   Results: seed, command line, faults and the CheckResult (counts, anomalies, failover)
//!   report.md      the same for a person, with how to replay the run
//!   timeline.png   acked writes/s and p99 ack latency/s, fault intervals shaded
//! ```

mod markdown;

pub use markdown::render_markdown;

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checker::{CheckResult, check};
use crate::history::{Fault, History};
use crate::plot;

/// What `results.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// The run's seed.
    pub seed: u64,
    /// The command line that replays the run, as the runner gave it.
    pub command_line: String,
    /// The topic the workload used.
    pub topic: String,
    /// Its partition count.
    pub partitions: i32,
    /// How long the run lasted, in ms.
    pub duration_ms: u64,
    /// Every fault injected.
    pub faults: Vec<Fault>,
    /// The checker's verdict, counts and failover statistics.
    pub check: CheckResult,
}

/// How the report is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// TTF files to try, in order, for the text of `timeline.png`; none readable means no text.
    pub font_paths: Vec<PathBuf>,
}

impl Default for ReportOptions {
    /// `$STROM_CHAOS_FONT` if set, then the usual system locations of DejaVu Sans and similar fonts.
    fn default() -> Self {
        let from_env = std::env::var_os("STROM_CHAOS_FONT").map(PathBuf::from);
        let system = plot::SYSTEM_FONT_PATHS.iter().map(PathBuf::from);
        Self { font_paths: from_env.into_iter().chain(system).collect() }
    }
}

/// Writes `history.json`, `results.json`, `report.md` and `timeline.png` into `dir` (created if
/// missing), with [`ReportOptions::default`].
pub fn write_results(
    dir: &Path,
    history: &History,
    result: &CheckResult,
    command_line: &str,
) -> io::Result<()> {
    write_results_with(dir, history, result, command_line, &ReportOptions::default())
}

/// [`write_results`] with explicit options.
pub fn write_results_with(
    dir: &Path,
    history: &History,
    result: &CheckResult,
    command_line: &str,
    options: &ReportOptions,
) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    write_history(&dir.join("history.json"), history)?;
    let results = Results {
        seed: history.seed,
        command_line: command_line.to_owned(),
        topic: history.topic.clone(),
        partitions: history.partitions,
        duration_ms: history.duration_ms,
        faults: history.faults.clone(),
        check: result.clone(),
    };
    let mut out = BufWriter::new(File::create(dir.join("results.json"))?);
    serde_json::to_writer_pretty(&mut out, &results)?;
    out.write_all(b"\n")?;
    out.flush()?;
    fs::write(dir.join("report.md"), render_markdown(history, result, command_line))?;
    plot::write_timeline(&dir.join("timeline.png"), history, &options.font_paths)
}

/// Writes a history as compact JSON.
pub fn write_history(path: &Path, history: &History) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    serde_json::to_writer(&mut out, history)?;
    out.flush()
}

/// Reads a history written by [`write_history`] (or [`write_results`]).
pub fn read_history(path: &Path) -> io::Result<History> {
    Ok(serde_json::from_reader(BufReader::new(File::open(path)?))?)
}

/// Checks a saved history again (`strom-chaos check <history.json>`).
pub fn recheck(path: &Path) -> io::Result<CheckResult> {
    Ok(check(&read_history(path)?))
}
