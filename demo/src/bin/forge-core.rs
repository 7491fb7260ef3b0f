//! forge-core: the consumer ("ingestion tracking"). Pins itself to a core,
//! takes the consumer role, verifies every frame and measures transit
//! latency.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{eyre, Result, WrapErr};
use forge_cli::human;
use forge_cli::{
    daemon_main, print_report, start_daemon, Daemon, DaemonStart, ParentArg, ReportFormat,
    SegmentArg, WaitArg,
};
use forge_demo::ingest::{IngestConfig, Ingester, DEFAULT_RELEASE_BATCH};
use forge_fabric::{Claim, Consumer, WaitStrategy};
use forge_holder::exit::{Exit, EXIT_CODES_HELP};
use forge_holder::signals::Control;

const PROGRAM: &str = "forge-core";

/// Consume telemetry frames from a Forge ring (the consumer).
///
/// Every frame is checked for sequence continuity and length (with --verify
/// also its checksum); its transit latency goes into the segment's shared
/// histogram for forge-top. A restarted consumer resumes at the segment's
/// tail and reads again at most --batch frames its predecessor had read.
/// SIGUSR1 prints an interim report on stderr; SIGINT/SIGTERM stop cleanly
/// and print the final report.
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    version,
    after_help = format!("Examples:\n  forge-core --verify                   # until stopped, core 2 (or the free one)\n  forge-core --count 100000000 --verify --report json\n  forge-core --wait park                # sleep on a futex when idle\n\n{EXIT_CODES_HELP}")
)]
struct Cli {
    #[command(flatten)]
    segment: SegmentArg,
    /// CPU core to pin to [default: 2 as in the original design, else the
    /// core forge-stream does not use by default].
    #[arg(long, value_name = "N")]
    core: Option<u32>,
    /// Frames to read, then exit; 0 reads until stopped.
    #[arg(long, value_name = "N", default_value_t = 0)]
    count: u64,
    /// Also verify each body's checksum, and end the run (exit 4) at the
    /// first gap, duplicate or corrupt frame.
    #[arg(long)]
    verify: bool,
    /// Final report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    report: ReportFormat,
    /// How to wait when the ring is empty.
    #[arg(long, value_enum, default_value_t = WaitArg::Spin)]
    wait: WaitArg,
    /// Free slots for the producer (store tail) every K frames; also the most
    /// frames a restarted consumer reads twice.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_RELEASE_BATCH)]
    batch: u64,
    #[command(flatten)]
    parent: ParentArg,
}

fn main() -> ExitCode {
    daemon_main(PROGRAM, |cli: Cli, control| run(&cli, control))
}

fn run(cli: &Cli, control: Control) -> Result<Exit> {
    let name = &cli.segment.segment;
    if cli.batch == 0 {
        return Err(eyre!("--batch 0: expected at least 1 frame per tail store"));
    }
    let wait = WaitStrategy::from(cli.wait);
    let Daemon {
        holder: mut consumer,
        core,
    } = start_daemon::<Consumer>(
        DaemonStart {
            program: PROGRAM,
            name,
            largest_frame: 0,
            core: cli.core,
            parent: cli.parent,
            claim: Claim::new().wait(wait),
            instead: None,
        },
        control,
    )?;
    let session = consumer.session();
    eprintln!(
        "{PROGRAM}: pid {} on core {core}, consuming from {name} (session {}) at sequence {}: \
         {}, wait {}, count {}",
        std::process::id(),
        human::session(session),
        human::count(consumer.position()),
        if cli.verify {
            "verifying sequence, length and checksum"
        } else {
            "checking sequence and length"
        },
        wait.name(),
        match cli.count {
            0 => "unlimited".to_owned(),
            n => human::count(n),
        },
    );
    let config = IngestConfig {
        count: cli.count,
        verify: cli.verify,
        release_batch: cli.batch,
    };
    let (report, end) = Ingester::new(&mut consumer, config).run();
    // Release the role (pid cleared, role stopped) before reporting.
    drop(consumer);
    let text = match cli.report {
        ReportFormat::Text => report.text(),
        ReportFormat::Json => {
            serde_json::to_string(&report).wrap_err("encoding the JSON report")? + "\n"
        }
    };
    print_report(&text).wrap_err("writing the report")?;
    Ok(end.finish(
        PROGRAM,
        name,
        report.gaps + report.duplicates + report.corrupt,
    ))
}
