//! Prometheus telemetry shared by controllers and brokers: a per-node registry of counters and
//! histograms (metrics-exporter-prometheus), scrape-time gauge families computed from live state, and
//! the small HTTP server behind `/metrics`, `/health/live` and `/health/ready`.
//!
//! Each node owns its registry (no process-global recorder), so `strom dev`, which runs every node
//! in one process, still serves one separate `/metrics` per node.
//!
//! ```text
//!  hot paths ──► Counter / Histogram handles ──┐
//!                                              ├─► Registry::render() ──► GET /metrics
//!  scrape ──► collectors(&mut Exposition) ─────┘
//! ```

mod exposition;
mod http;
mod registry;

pub use exposition::{Exposition, Family, Kind};
pub use http::{HttpEndpoints, Readiness, serve};
pub use registry::{Collector, Registry};
