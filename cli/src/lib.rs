//! forge-cli: what Forge's binaries share on the command line: the common
//! arguments, the start-up steps of a role holder with the hints a person
//! needs, reports, numbers spelled for people, durations and sizes read
//! one way ([`units`]), and outputs created, never followed ([`output`]).
//!
//! Without the `toolkit` feature (on by default) the crate is [`human`],
//! [`units`] and [`output`] alone, which a file-format library needs too.
#![deny(unsafe_code, missing_docs)]

#[cfg(feature = "toolkit")]
mod args;
pub mod human;
pub mod output;
#[cfg(feature = "toolkit")]
pub mod report;
pub mod units;

#[cfg(feature = "toolkit")]
pub use args::*;
