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

use clap::Parser;
use forge_demo::exit::{self, Exit};
use forge_demo::signals::Control;

use crate::args::{Cli, Command};
use crate::daemon::PROGRAM;

fn main() -> ExitCode {
    // First of all: until the handlers are in, SIGTERM or SIGHUP would end
    // us with no report and no clean release of the role.
    let control = match Control::from_signals() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{PROGRAM}: error: {e:#}");
            return Exit::Error.into();
        }
    };
    exit::install_reports();
    zenoh::init_log_from_env_or("error");
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Out(a) => outbound::run(a, control),
        Command::In(a) => inbound::run(a, control),
        Command::Bench(a) => bench::run(a, control),
        Command::BenchPeer(a) => bench::peer(a, control),
    };
    match result {
        Ok(code) => code.into(),
        Err(report) => exit::fail(PROGRAM, &report).into(),
    }
}
