//! forge-init: the bootstrapper. Creates a fresh, zeroed segment stamped with
//! a new session, retiring (then unlinking) whatever was at the name.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{Result, WrapErr};
use color_eyre::Section;
use forge_cli::human;
use forge_cli::{parse_mode, print_report, tool_main, SegmentArg};
use forge_fabric::layout::{slot_size, HEADER_SIZE, MIN_PAYLOAD_CAPACITY};
use forge_fabric::{
    CreateOptions, LiveHolders, Replaced, Segment, SegmentError, DEFAULT_SLOT_COUNT,
    PAYLOAD_CAPACITY,
};
use forge_holder::exit::{Exit, EXIT_CODES_HELP};

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
    after_help = format!("Examples:\n  forge-init                       # /forge_shm, 512 slots, mode 0600\n  forge-init --slots 4096 --force  # replace a live segment\n  forge-init --payload-capacity 64 # a ring of small frames: 72-byte slots\n  FORGE_SEGMENT=/lab forge-init --mode 640\n\n{EXIT_CODES_HELP}")
)]
struct Cli {
    #[command(flatten)]
    segment: SegmentArg,
    /// Number of slots: a power of two from 2 to 1048576.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SLOT_COUNT)]
    slots: u32,
    /// Largest frame the ring carries, in bytes (or with K: 4K): a
    /// multiple of 8 from 8 to 4096. Each slot is this plus an 8-byte word,
    /// so a ring of small frames packs several to a cache line and moves
    /// more of them per second (see forge-bench's "sized slots" figures).
    /// Producers refuse larger frames.
    #[arg(long, value_name = "SIZE", default_value_t = PAYLOAD_CAPACITY,
          value_parser = payload_capacity)]
    payload_capacity: usize,
    /// Replace the segment even if a daemon is still attached to it.
    #[arg(long)]
    force: bool,
    /// Permission bits of the new segment, octal.
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode, default_value = "600")]
    mode: u32,
}

/// `--payload-capacity`: a size, by the rule every Forge size follows;
/// fabric checks the multiple of 8.
fn payload_capacity(s: &str) -> std::result::Result<usize, String> {
    forge_cli::units::size_in(s, MIN_PAYLOAD_CAPACITY as u64, PAYLOAD_CAPACITY as u64)
        .map(|n| n as usize)
}

fn main() -> ExitCode {
    tool_main(PROGRAM, |cli: Cli| run(&cli).map(|()| Exit::Ok))
}

fn run(cli: &Cli) -> Result<()> {
    let name = &cli.segment.segment;
    // Under a file-size limit, sizing the segment then fails with EFBIG and
    // the partial object is removed, instead of SIGXFSZ killing us first.
    forge_holder::fault::ignore_sigxfsz()?;
    let opts = CreateOptions {
        slot_count: cli.slots,
        payload_capacity: cli.payload_capacity,
        mode: cli.mode,
    };
    // forge-init replaces what is at the name; --force also when a live
    // daemon holds it, or when it is not a usable segment.
    let live = if cli.force {
        LiveHolders::Retire
    } else {
        LiveHolders::Refuse
    };
    for warning in mode_warnings(cli.mode) {
        eprintln!("{PROGRAM}: warning: {warning}");
    }
    let (segment, replaced) = match Segment::replace(name, &opts, live) {
        Ok(created) => created,
        Err(e) => {
            let hint = match &e {
                SegmentError::Active { .. } => Some(format!(
                    "stop the daemon first, or replace the segment under it with: forge-init --force --segment {name}"
                )),
                SegmentError::Occupied { source, .. } => Some(match **source {
                    SegmentError::NotRegular { what: "a directory", .. } => format!(
                        "remove it (rmdir /dev/shm{name}) or pick another --segment; \
                         forge-init --force removes it only when it is empty"
                    ),
                    _ => format!("replace it with: forge-init --force --segment {name}"),
                }),
                SegmentError::InTheWay { .. } => Some(format!(
                    "look at what is in /dev/shm{name} and remove it yourself, or pick another --segment"
                )),
                _ => None,
            };
            let report = Err::<(), _>(e).wrap_err(format!("cannot create {name}"));
            return match hint {
                Some(h) => report.suggestion(h),
                None => report,
            };
        }
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
         geometry  {} slots x {} B (payload {} B), header {HEADER_SIZE} B\n  \
         mode      {:04o}\n  \
         replaced  {replaced}\n",
        human::session(segment.session_id()),
        human::bytes(segment.size()),
        segment.size(),
        segment.slot_count(),
        slot_size(segment.payload_capacity()),
        segment.payload_capacity(),
        cli.mode,
    );
    print_report(&text).wrap_err("writing the report")?;
    Ok(())
}

/// What a `--mode` lets others do with the ring, when that is more than
/// the owner alone reading and writing it.
fn mode_warnings(mode: u32) -> Vec<String> {
    let mut out = Vec::new();
    if mode & 0o600 != 0o600 {
        out.push(format!(
            "mode {mode:04o} does not let its owner read and write it: the daemons will fail \
             with \"permission denied\" (root excepted); 600 is the usual mode"
        ));
    }
    for (bits, who) in [
        (0o070, "members of its group"),
        (0o007, "every user on this host"),
    ] {
        let (read, write) = (mode & bits & 0o444 != 0, mode & bits & 0o222 != 0);
        if write {
            out.push(format!(
                "mode {mode:04o}: {who} can write the ring: take a role, overwrite frames, \
                 or damage the header and stop the stream"
            ));
        } else if read {
            out.push(format!("mode {mode:04o}: {who} can read every frame"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mode_warnings;

    #[test]
    fn modes_that_open_the_ring_to_others_say_who() {
        assert!(mode_warnings(0o600).is_empty());
        let open = mode_warnings(0o666).join("\n");
        assert!(open.contains("every user on this host can write"), "{open}");
        assert!(open.contains("group can write"), "{open}");
        assert!(mode_warnings(0o640)[0].contains("group can read every frame"));
        assert!(mode_warnings(0)[0].contains("does not let its owner"));
    }
}
