//! Partition log (placeholder until the segmented log lands).

mod config;

pub use config::LogConfig;
