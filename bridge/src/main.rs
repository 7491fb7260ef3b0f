//! forge-bridge: the Forge ring beyond one host, over Zenoh.
//!
//! `out` consumes a local ring and publishes every frame on a Zenoh key;
//! `in` subscribes to the key and writes the frames into a ring on another
//! host; `bench` measures what the trip costs against Zenoh's own pub/sub.
#![deny(unsafe_code)]

mod args;
mod bench;
mod daemon;
mod history;
mod inbound;
mod outbound;
mod sequencer;
mod status;
mod wire;

use std::process::ExitCode;

use forge_cli::daemon_main;

use crate::args::{Cli, Command};
use crate::daemon::PROGRAM;

fn main() -> ExitCode {
    daemon_main(PROGRAM, |cli: Cli, control| {
        zenoh::init_log_from_env_or("error");
        match &cli.command {
            Command::Out(a) => outbound::run(a, control),
            Command::In(a) => inbound::run(a, control),
            Command::Bench(a) => bench::run(a, control),
            Command::BenchPeer(a) => bench::peer(a, control),
        }
    })
}
