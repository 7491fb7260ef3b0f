//! forge-stream: the producer ("transport gateway"). Pins itself to a core,
//! takes the producer role and streams telemetry frames into the ring.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{eyre, Result, WrapErr};
use forge_cli::human;
use forge_cli::{
    daemon_main, print_report, start_daemon, Daemon, DaemonStart, ParentArg, SegmentArg, WaitArg,
};
use forge_demo::stream::{StreamConfig, Streamer};
use forge_fabric::{Claim, Producer, WaitStrategy};
use forge_frame::load::{LoadGen, SizeSpec};
use forge_holder::exit::{Exit, EXIT_CODES_HELP};
use forge_holder::signals::Control;

const PROGRAM: &str = "forge-stream";

/// Stream telemetry frames into a Forge ring (the producer).
///
/// Each frame's sequence number is its ring position: a restarted producer
/// resumes at the segment's head, so sequences continue without a gap.
/// SIGUSR1 sends a burst of --burst frames at full speed; SIGINT/SIGTERM stop
/// cleanly and print a report.
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    version,
    after_help = format!("Examples:\n  forge-stream                          # as fast as the ring allows, core 1\n  forge-stream --rate 100000 --wait park --size 64-1024\n  forge-stream --count 100000000 --size 64\n  kill -USR1 $(pgrep -x forge-stream)   # a burst of --burst frames\n\n{EXIT_CODES_HELP}")
)]
struct Cli {
    #[command(flatten)]
    segment: SegmentArg,
    /// CPU core to pin to [default: 1 as in the original design, else a core
    /// other than forge-core's default].
    #[arg(long, value_name = "N")]
    core: Option<u32>,
    /// Frame size in bytes, header included (32 to 4096), or a range MIN-MAX
    /// for mixed sizes.
    #[arg(long, value_name = "BYTES", default_value = "128")]
    size: SizeSpec,
    /// Frames per second; 0 streams as fast as the ring allows.
    #[arg(long, value_name = "MSGS_PER_S", default_value_t = 0)]
    rate: u64,
    /// Frames to send, then exit; 0 streams until stopped.
    #[arg(long, value_name = "N", default_value_t = 0)]
    count: u64,
    /// Publish head for inspectors every K frames (frames are visible to the
    /// consumer at once regardless).
    #[arg(long, value_name = "K", default_value_t = 32)]
    batch: u64,
    /// How to wait when the ring is full and between paced frames.
    #[arg(long, value_enum, default_value_t = WaitArg::Spin)]
    wait: WaitArg,
    /// Frames a SIGUSR1 sends at full speed.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    burst: u64,
    #[command(flatten)]
    parent: ParentArg,
}

fn main() -> ExitCode {
    daemon_main(PROGRAM, |cli: Cli, control| run(&cli, control))
}

fn run(cli: &Cli, control: Control) -> Result<Exit> {
    let name = &cli.segment.segment;
    let gen = LoadGen::new(cli.size, std::process::id(), u64::from(std::process::id()))
        .wrap_err("bad --size")?;
    if cli.batch == 0 {
        return Err(eyre!("--batch 0: expected at least 1 frame per head store"));
    }
    let wait = WaitStrategy::from(cli.wait);
    let Daemon {
        holder: mut producer,
        core,
    } = start_daemon::<Producer>(
        DaemonStart {
            program: PROGRAM,
            name,
            largest_frame: cli.size.max,
            core: cli.core,
            parent: cli.parent,
            claim: Claim::new().wait(wait),
            instead: None,
        },
        control,
    )?;
    producer.set_index_batch(cli.batch);
    let session = producer.session();
    let rate = match cli.rate {
        0 => "as fast as the ring allows".to_owned(),
        r => format!("{} frames/s", human::si(r as f64)),
    };
    eprintln!(
        "{PROGRAM}: pid {} on core {core}, streaming into {name} (session {}) from sequence {}: \
         {} frames, {rate}, wait {}, count {}",
        std::process::id(),
        human::session(session),
        human::count(producer.position()),
        cli.size,
        wait.name(),
        match cli.count {
            0 => "unlimited".to_owned(),
            n => human::count(n),
        },
    );
    let config = StreamConfig {
        rate: cli.rate,
        count: cli.count,
        burst: cli.burst,
    };
    let (report, end) = Streamer::new(&mut producer, config, gen).run()?;
    // Release the role (pid cleared, role stopped) before reporting.
    drop(producer);
    print_report(&report.text()).wrap_err("writing the report")?;
    Ok(end.finish(PROGRAM, name, 0))
}
