//! forge-exporter: every Forge ring of the host as Prometheus metrics.
//!
//! A read-only daemon: it maps each ring `PROT_READ` through fabric's
//! observer ([`forge_fabric::observe::host`]) and never takes a role, like
//! forge-top. It serves OpenMetrics on `/metrics`.
//!
//! ```text
//!  main ─▶ serve (HTTP workers) ─▶ sampler (one thread: HostScanner) ─▶ fabric
//!                 └──────────────▶ metrics (catalogue + encoder) ◀─ judge (liveness, alarms)
//! ```
#![deny(unsafe_code, missing_docs)]

pub mod judge;
pub mod metrics;
pub mod sampler;
pub mod serve;
