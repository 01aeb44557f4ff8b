//! Output formatting shared by the tools: `--output table|json`, aligned text tables and JSON documents.
//!
//! Human output (the `table` format) goes to stdout in Kafka's tool style; `json` prints exactly one JSON
//! document to stdout so scripts can pipe it into `jq`. Diagnostics always go to stderr.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

/// How a tool prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    // No variant docs: clap would turn them into a long help block on every tool.
    #[default]
    Table,
    Json,
}

/// The `--output` flag, flattened into every tool's arguments.
#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArgs {
    /// Output format: human-readable `table`, or one `json` document on stdout for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

impl OutputArgs {
    /// True when the user asked for JSON.
    pub fn is_json(&self) -> bool {
        self.output == OutputFormat::Json
    }
}

/// Writes `text` to stdout and flushes. A closed pipe (`strom topics --list | head -1`) is not an
/// error: the reader has what it wanted.
pub fn print_text(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// Prints `value` as one pretty JSON document followed by a newline.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("encoding JSON")?;
    text.push('\n');
    print_text(&text)
}

/// A text table with left-aligned columns separated by two spaces.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Creates a table with the given column headers.
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { headers: headers.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Appends one row; missing cells print empty, extra cells are kept.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Renders the table, one line per row, each ending in `\n`; trailing spaces are trimmed.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).chain([self.headers.len()]).max().unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map(String::as_str).unwrap_or("");
                text.push_str(cell);
                if i + 1 < columns {
                    text.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }

    /// Writes the rendered table to stdout.
    pub fn print(&self) -> Result<()> {
        print_text(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_trims() {
        let mut table = Table::new(["NAME", "VALUE", "SOURCE"]);
        table.row(["retention.ms", "1000", "DYNAMIC_TOPIC_CONFIG"]);
        table.row(["x", "", ""]);
        assert_eq!(
            table.render(),
            "NAME          VALUE  SOURCE\nretention.ms  1000   DYNAMIC_TOPIC_CONFIG\nx\n"
        );
    }
}
