//! One module per `strom` subcommand, plus helpers the console tools share.

pub mod bench;
pub mod broker;
pub mod cluster;
pub mod combined;
pub mod configs;
pub mod consume;
pub mod controller;
pub mod dev;
pub mod groups;
pub mod health;
pub mod node_flags;
pub mod partitions;
pub mod produce;
pub mod reassign;
pub mod topics;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};

/// Returns a flag that turns true on the first Ctrl-C (SIGINT); blocking loops poll it to stop cleanly.
///
/// Must be called inside the Tokio runtime. Once installed, Ctrl-C no longer kills the process.
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::Relaxed);
        }
    });
    stop
}

/// `--property k=v` settings of the console tools (`parse.key`, `print.key`, `key.separator`, …).
#[derive(Debug, Clone, Default)]
pub struct Properties(BTreeMap<String, String>);

impl Properties {
    /// Collects the properties; only names in `known` are accepted (Kafka's tools reject typos too).
    pub fn new(pairs: &[(String, String)], known: &[&str]) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            if !known.contains(&key.as_str()) {
                bail!("unknown --property `{key}`; supported: {}", known.join(", "));
            }
            map.insert(key.clone(), value.clone());
        }
        Ok(Self(map))
    }

    /// A boolean property (`true`/`false`, case-insensitive).
    pub fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.0.get(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => bail!("--property {key} must be true or false, got `{v}`"),
        }
    }

    /// A string property with `\t`, `\n`, `\r` and `\\` unescaped, so `key.separator=\t` works unquoted.
    pub fn text(&self, key: &str, default: &str) -> String {
        match self.0.get(key) {
            None => default.to_string(),
            Some(raw) => unescape(raw),
        }
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_and_unescape() -> Result<()> {
        let pairs =
            vec![("parse.key".to_string(), "TRUE".to_string()), ("key.separator".into(), r"\t".into())];
        let props = Properties::new(&pairs, &["parse.key", "key.separator"])?;
        assert!(props.flag("parse.key", false)?);
        assert_eq!(props.text("key.separator", ":"), "\t");
        assert_eq!(props.text("missing", ":"), ":");
        assert!(Properties::new(&pairs, &["parse.key"]).is_err());
        assert_eq!(unescape(r"a\\b\x"), r"a\b\x");
        Ok(())
    }
}
