//! forge-init: the bootstrapper. Creates a fresh, zeroed segment stamped with
//! a new session, retiring (then unlinking) whatever was at the name.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{Result, WrapErr};
use color_eyre::Section;
use forge_demo::cli::{parse_mode, print_report, SegmentArg};
use forge_demo::exit::{self, Exit, EXIT_CODES_HELP};
use forge_demo::human;
use forge_fabric::layout::HEADER_SIZE;
use forge_fabric::{
    CreateOptions, Replaced, Segment, SegmentError, DEFAULT_SLOT_COUNT, PAYLOAD_CAPACITY, SLOT_SIZE,
};

const PROGRAM: &str = "forge-init";

/// Create (or replace) a Forge shared-memory segment.
///
/// The new segment is zeroed, pre-touched and stamped with a unique
/// session_id. A segment whose producer or consumer is alive is left alone
/// unless --force: then it is first marked retired, so its daemons exit
/// with code 3, and unlinked (never truncated under them).
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    version,
    after_help = format!("Examples:\n  forge-init                       # /forge_shm, 512 slots, mode 0600\n  forge-init --slots 4096 --force  # replace a live segment\n  FORGE_SEGMENT=/lab forge-init --mode 640\n\n{EXIT_CODES_HELP}")
)]
struct Cli {
    #[command(flatten)]
    segment: SegmentArg,
    /// Number of slots: a power of two from 2 to 1048576.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SLOT_COUNT)]
    slots: u32,
    /// Replace the segment even if a daemon is still attached to it.
    #[arg(long)]
    force: bool,
    /// Permission bits of the new segment, octal.
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode, default_value = "600")]
    mode: u32,
}

fn main() -> ExitCode {
    exit::install_reports();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => Exit::Ok.into(),
        Err(report) => exit::fail(PROGRAM, &report).into(),
    }
}

fn run(cli: &Cli) -> Result<()> {
    let name = &cli.segment.segment;
    // Under a file-size limit, sizing the segment then fails with EFBIG and
    // the partial object is removed, instead of SIGXFSZ killing us first.
    forge_demo::fault::ignore_sigxfsz()?;
    let opts = CreateOptions {
        slot_count: cli.slots,
        mode: cli.mode,
        force: cli.force,
    };
    let (segment, replaced) = match Segment::create(name, &opts) {
        Ok(created) => created,
        Err(e @ SegmentError::Active { .. }) => {
            return Err(e)
                .wrap_err(format!("refusing to replace {name}"))
                .suggestion(format!(
                    "stop the daemon first, or replace the segment under it with: forge-init --force --segment {name}"
                ))
        }
        Err(e) => return Err(e).wrap_err(format!("cannot create {name}")),
    };
    let replaced = match replaced {
        Replaced::Nothing => "nothing".to_owned(),
        Replaced::Session(old) => {
            format!("session {} (retired, then unlinked)", human::session(old))
        }
        Replaced::Foreign(what) => format!("a non-Forge object ({what})"),
    };
    let text = format!(
        "{PROGRAM}: created {name}\n  \
         session   {}\n  \
         size      {} ({} bytes)\n  \
         geometry  {} slots x {SLOT_SIZE} B (payload {PAYLOAD_CAPACITY} B), header {HEADER_SIZE} B\n  \
         mode      {:04o}\n  \
         replaced  {replaced}\n",
        human::session(segment.session_id()),
        human::bytes(segment.size()),
        segment.size(),
        segment.slot_count(),
        cli.mode,
    );
    print_report(&text).wrap_err("writing the report")?;
    Ok(())
}
