//! The demo daemons' own loops: forge-stream's streaming loop and
//! forge-core's ingest loop. Everything a role holder owes the others comes
//! from `forge-holder`, the frames from `forge-frame`, the command line from
//! `forge-cli`; no other crate uses this one as a library.
#![deny(unsafe_code)]

pub mod end;
pub mod ingest;
pub mod stream;
