//! forge-bridge: the Forge ring beyond one host, over Zenoh.
//!
//! `out` consumes a local ring and publishes its frames, packed and
//! authenticated, on a Zenoh key; `in` subscribes to the key and writes the
//! frames into a ring on another host; `keygen` makes the key both share;
//! `bench` measures what the trip costs against Zenoh's own pub/sub.
#![deny(unsafe_code)]

mod args;
mod bench;
mod daemon;
mod inbound;
mod outbound;
mod status;

use std::process::ExitCode;

use forge_cli::daemon_main;

use crate::args::{Cli, Command};
use crate::daemon::PROGRAM;

fn main() -> ExitCode {
    // Every subcommand, the benchmark's raw Zenoh peers included: both
    // paths of `bench` run Zenoh the same way.
    daemon::zenoh_runtime_default();
    daemon_main(PROGRAM, |cli: Cli, control| {
        zenoh::init_log_from_env_or("error");
        match &cli.command {
            Command::Out(a) => outbound::run(a, control),
            Command::In(a) => inbound::run(a, control),
            Command::Keygen(a) => keygen(a),
            Command::Bench(a) => bench::run(a, control),
            Command::BenchPeer(a) => bench::peer(a, control),
        }
    })
}

/// `forge-bridge keygen FILE`.
fn keygen(args: &args::KeygenArgs) -> color_eyre::Result<forge_holder::exit::Exit> {
    use color_eyre::Section;
    forge_bridge::auth::keygen(&args.file)
        .map_err(|e| color_eyre::eyre::eyre!(e))
        .suggestion(
            "keygen writes a new file only: pick another path, or remove the old key first",
        )?;
    eprintln!(
        "{PROGRAM} keygen: wrote {} ({} random bytes, mode 0600); give both ends --auth-key with a copy of it",
        args.file.display(),
        forge_bridge::auth::KEY_LEN
    );
    Ok(forge_holder::exit::Exit::Ok)
}
