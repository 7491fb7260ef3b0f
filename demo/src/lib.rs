//! Shared pieces of the Forge demo daemons.
#![deny(unsafe_code)]

pub mod checks;
pub mod cli;
pub mod end;
pub mod exit;
pub mod fault;
pub mod ingest;
pub mod load;
pub mod pace;
pub mod pin;
pub mod signals;
pub mod stream;
pub mod verify;
pub mod watch;
