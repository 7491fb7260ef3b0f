//! Shared pieces of the Forge demo daemons.
#![deny(unsafe_code)]

pub mod pin;
