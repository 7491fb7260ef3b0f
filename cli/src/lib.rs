//! forge-cli: what Forge's binaries share on the command line: the common
//! arguments, the start-up steps of a role holder with the hints a person
//! needs, reports, and numbers spelled for people.
#![deny(unsafe_code, missing_docs)]

mod args;
pub mod human;

pub use args::*;
