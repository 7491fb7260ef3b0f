//! forge-replay: a recording back into a ring, as its producer; or, with
//! --info, what a recording holds.
#![deny(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_cli::human;
use forge_cli::{
    daemon_main, larger_slots_hint, print_report, start_daemon, Daemon, DaemonStart, ParentArg,
    ReportFormat, SegmentArg, WaitArg,
};
use forge_fabric::{Claim, RelayedProducer, WaitStrategy};
use forge_holder::exit::{Exit, EXIT_CODES_HELP};
use forge_holder::signals::Control;
use forge_record::args::{From, Speed};
use forge_record::read::{ReadError, Recording};
use forge_record::replay::{self, ReplayConfig, ReplayEnd};

const PROGRAM: &str = "forge-replay";

/// Replay a forge-record recording into a Forge ring (as its producer).
///
/// Frames keep their recorded sequence and are committed RELAYED, so
/// `forge-core --verify` on the ring checks the recording's continuity (a
/// range a --tap recorder missed shows as a gap). Their timestamps are
/// restamped with this host's clock unless --keep-timestamps. With --loop,
/// each lap's sequences continue the previous lap's, so the looped stream
/// stays continuous. --info prints what a recording holds and writes
/// nothing.
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    version,
    after_help = format!("Examples:\n  forge-replay --in ring.mcap --info\n  forge-replay --in ring.mcap                        # at the recorded pace\n  forge-replay --in ring.mcap --speed 10 --from +30s\n  forge-replay --in ring.mcap --speed max --loop --count 10000000\n  forge-replay --in ring.mcap --rate 100000 --from 123456\n\n{EXIT_CODES_HELP}")
)]
struct Cli {
    #[command(flatten)]
    segment: SegmentArg,
    /// The recording to replay.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Print what the recording holds and exit.
    #[arg(long)]
    info: bool,
    /// Read what is readable of a recording cut short or damaged.
    #[arg(long)]
    recover: bool,
    /// Recorded pace times FACTOR (0.001 to 1000000: 1, 0.5, 10), or max.
    #[arg(long, value_name = "FACTOR|max", default_value = "1")]
    speed: Speed,
    /// A fixed rate in frames per second (at least 1) instead of the
    /// recorded pace; --speed max for no pacing.
    #[arg(long, value_name = "FRAMES_PER_S", conflicts_with = "speed",
          value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
    /// Start at a sequence (1234), an offset from the first frame (+2.5s,
    /// +1m30s: a unit is needed, up to 36500d) or a UTC time
    /// (2026-11-30T18:05:00Z).
    #[arg(long, value_name = "WHERE")]
    from: Option<From>,
    /// Start over after the last frame, until stopped or --count.
    #[arg(long = "loop")]
    looped: bool,
    /// Frames to write, then exit; 0 for all.
    #[arg(long, value_name = "N", default_value_t = 0)]
    count: u64,
    /// Which recorded session to replay, by index (0, 1, …) or session id;
    /// needed when the file holds more than one.
    #[arg(long, value_name = "N|0xID")]
    session: Option<String>,
    /// Keep the recorded timestamps instead of restamping each frame.
    #[arg(long)]
    keep_timestamps: bool,
    /// How to wait for space and for a frame's due time.
    #[arg(long, value_enum, default_value_t = WaitArg::Park)]
    wait: WaitArg,
    /// CPU core to pin to [default: forge-stream's].
    #[arg(long, value_name = "N")]
    core: Option<u32>,
    /// Publish head for inspectors every K frames.
    #[arg(long, value_name = "K", default_value_t = 32)]
    batch: u64,
    /// Report format (also for --info).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    report: ReportFormat,
    #[command(flatten)]
    parent: ParentArg,
}

fn main() -> ExitCode {
    daemon_main(PROGRAM, |cli: Cli, control| run(&cli, control))
}

fn open(cli: &Cli) -> Result<Recording> {
    let opened = if cli.recover || cli.info {
        Recording::open_recovering(&cli.input)
    } else {
        Recording::open(&cli.input)
    };
    let rec = opened.map_err(|e| {
        // Recovery reads around a file cut short, never around one that lies.
        let cut_short = matches!(e, ReadError::Incomplete { .. });
        let report = color_eyre::Report::new(e).wrap_err("cannot read the recording");
        if cut_short {
            report.suggestion(format!(
                "read what is readable with: {PROGRAM} --in {} --recover (or look with --info)",
                cli.input.display()
            ))
        } else {
            report
        }
    })?;
    if !cli.info {
        for d in rec.damage() {
            eprintln!(
                "{PROGRAM}: note: {} (skipped {} bytes)",
                d.reason, d.skipped
            );
        }
    }
    Ok(rec)
}

fn run(cli: &Cli, control: Control) -> Result<Exit> {
    let rec = open(cli)?;
    if cli.info {
        let text = match cli.report {
            ReportFormat::Text => info_text(&rec),
            ReportFormat::Json => serde_json::to_string(&info_json(&rec))? + "\n",
        };
        print_report(&text)?;
        return Ok(Exit::Ok);
    }
    if cli.batch == 0 {
        return Err(eyre!("--batch 0: expected at least 1 frame per head store"));
    }
    let session = pick_session(&rec, cli.session.as_deref())?;
    let start = match cli.from {
        None => first_of_session(&rec, session)?,
        Some(from) => start_index(&rec, session, from)?,
    };
    let name = &cli.segment.segment;
    let wait = WaitStrategy::from(cli.wait);
    let Daemon {
        holder: mut producer,
        core,
    } = start_daemon::<RelayedProducer>(
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
    let ring_session = producer.session();
    producer.set_index_batch(cli.batch);
    let pace = match (cli.rate, cli.speed) {
        (Some(r), _) => format!("{} frames/s", human::si(r as f64)),
        (None, Speed::Max) => "as fast as the ring takes them".into(),
        (None, Speed::Factor(f)) => format!("{f}x the recorded pace"),
    };
    let missed: u64 = rec.missed().iter().map(|m| m.len()).sum();
    eprintln!(
        "{PROGRAM}: pid {} on core {core}, replaying {} ({} frames of session {}) into {name} \
         (session {}) from frame {start}: {pace}{}, wait {}",
        std::process::id(),
        cli.input.display(),
        human::count(rec.sessions()[session].frames),
        human::session(rec.sessions()[session].identity.session_id),
        human::session(ring_session),
        if cli.looped { ", looped" } else { "" },
        wait.name(),
    );
    if missed > 0 {
        eprintln!(
            "{PROGRAM}: note: the recorder missed {} frames in {} ranges; a consumer checking \
             continuity will see them as gaps",
            human::count(missed),
            rec.missed().len()
        );
    }
    let config = ReplayConfig {
        speed: cli.speed,
        rate: cli.rate,
        start,
        session,
        looped: cli.looped,
        count: cli.count,
        keep_timestamps: cli.keep_timestamps,
    };
    let (report, end) = replay::replay(&rec, &mut producer, config);
    drop(producer);
    let text = match cli.report {
        ReportFormat::Text => report.text(),
        ReportFormat::Json => serde_json::to_string(&report)? + "\n",
    };
    print_report(&text).wrap_err("writing the report")?;
    Ok(match end {
        ReplayEnd::Done | ReplayEnd::CountReached | ReplayEnd::Stopped => Exit::Ok,
        ReplayEnd::SessionLost(e) => {
            eprintln!("{PROGRAM}: stopping: {name}: {e}");
            Exit::SessionRetired
        }
        ReplayEnd::Corrupt(c) => {
            eprintln!("{PROGRAM}: stopping: {name}: {c}");
            Exit::Integrity
        }
        ReplayEnd::SegmentLost(lost) => {
            eprintln!("{PROGRAM}: stopping: {name}: {lost}");
            Exit::Error
        }
        ReplayEnd::Read(e) => return Err(e).wrap_err("reading the recording failed"),
        ReplayEnd::TooLarge {
            index,
            len,
            capacity,
        } => {
            return Err(eyre!(
                "recorded frame {index} is {len} bytes, and {name}'s slots hold {capacity}: \
                 the frames before it were replayed"
            ))
            .suggestion(larger_slots_hint(name, len))
        }
    })
}

/// The session `--session` names, or the only one.
fn pick_session(rec: &Recording, wanted: Option<&str>) -> Result<usize> {
    let sessions = rec.sessions();
    let list = || {
        sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{i}: {} ({} frames)",
                    human::session(s.identity.session_id),
                    s.frames
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        None if sessions.len() == 1 => Ok(0),
        None if sessions.is_empty() => {
            Err(eyre!("the recording holds no session: nothing to replay"))
        }
        None => Err(eyre!(
            "the recording holds {} sessions ({}); pick one with --session",
            sessions.len(),
            list()
        )),
        Some(w) => {
            let by_index = w.parse::<usize>().ok().filter(|&i| i < sessions.len());
            let by_id = w
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .and_then(|id| sessions.iter().position(|s| s.identity.session_id == id));
            by_index.or(by_id).ok_or_else(|| {
                eyre!(
                    "--session {w}: expected an index or 0x and a session id, one of {}",
                    list()
                )
            })
        }
    }
}

fn first_of_session(rec: &Recording, session: usize) -> Result<u64> {
    Ok(rec.next_of_session(session, 0)?.unwrap_or(rec.len()))
}

/// The index of the frame `--from` names, within `session`.
fn start_index(rec: &Recording, session: usize, from: From) -> Result<u64> {
    rec.start_index(session, from)?.ok_or_else(|| {
        let range = rec.time_range().map_or("no frames".to_owned(), |(a, b)| {
            format!("frames from {a} to {b} (Unix ns)")
        });
        eyre!("--from {from:?}: no frame of the session there; the recording holds {range}")
    })
}

/// The recording's time range for a person: UTC dates (the JSON keeps the
/// raw Unix nanoseconds).
fn time_line(a: u64, b: u64) -> String {
    format!(
        "  time        {} .. {} UTC ({:.3} s)\n",
        human::date_time(a),
        human::date_time(b),
        b.saturating_sub(a) as f64 / 1e9
    )
}

fn info_text(rec: &Recording) -> String {
    let mut out = format!(
        "{}: {} frames, {} chunks, {} bytes, {}\n  written by  {}\n",
        rec.path().display(),
        human::count(rec.len()),
        rec.chunk_count(),
        human::count(rec.file_bytes()),
        if rec.is_complete() && rec.damage().is_empty() {
            "complete"
        } else {
            "INCOMPLETE"
        },
        rec.library(),
    );
    if let Some((a, b)) = rec.time_range() {
        out += &time_line(a, b);
    }
    for d in rec.damage() {
        out += &format!(
            "  damage      at byte {}: {} ({} bytes skipped{})\n",
            d.offset,
            d.reason,
            d.skipped,
            if d.fatal { ", reading stopped" } else { "" }
        );
    }
    out += "  channels\n";
    for c in rec.channels() {
        out += &format!(
            "    {:>3}  {}  [{}{}]  {} messages\n",
            c.id,
            c.topic,
            c.message_encoding,
            if c.schema.is_empty() {
                String::new()
            } else {
                format!(", {}", c.schema)
            },
            c.messages
        );
    }
    for (i, s) in rec.sessions().iter().enumerate() {
        let id = &s.identity;
        out += &format!(
            "  session {i}   {} of {} on {}: {} frames, {} slots of {} bytes, layout {}, {} from position {}\n",
            human::session(id.session_id),
            id.segment,
            id.host,
            human::count(s.frames),
            id.slot_count,
            id.slot_size,
            id.layout_version,
            id.mode.map_or("?", |m| m.name()),
            id.start_position,
        );
        for (side, h) in [("producer", &id.producer), ("consumer", &id.consumer)] {
            out += &format!(
                "              {side}: {} pid {}\n",
                if h.program.is_empty() {
                    "-"
                } else {
                    &h.program
                },
                h.pid
            );
        }
    }
    let missed: u64 = rec.missed().iter().map(|m| m.len()).sum();
    out += &format!(
        "  missed      {} frames in {} ranges\n",
        human::count(missed),
        rec.missed().len()
    );
    out += &format!(
        "  samples     {} (the ring's counters and latency histogram, about once a second)\n",
        rec.samples().len()
    );
    for e in rec.ends() {
        out += &format!(
            "  ended       session {}: {}, {} frames, {} missed, next position {}\n",
            human::session(e.session),
            e.reason.replace('_', " "),
            e.frames,
            e.missed,
            e.next_position
        );
    }
    out
}

fn info_json(rec: &Recording) -> serde_json::Value {
    serde_json::json!({
        "path": rec.path().display().to_string(),
        "frames": rec.len(),
        "chunks": rec.chunk_count(),
        "file_bytes": rec.file_bytes(),
        "complete": rec.is_complete() && rec.damage().is_empty(),
        "library": rec.library(),
        "time_range_unix_ns": rec.time_range(),
        "time_range_utc": rec.time_range().map(|(a, b)| [human::date_time(a), human::date_time(b)]),
        "damage": rec.damage().iter().map(|d| serde_json::json!({
            "offset": d.offset, "skipped": d.skipped, "fatal": d.fatal, "reason": d.reason,
        })).collect::<Vec<_>>(),
        "channels": rec.channels().iter().map(|c| serde_json::json!({
            "id": c.id, "topic": c.topic, "message_encoding": c.message_encoding,
            "schema": c.schema, "messages": c.messages,
        })).collect::<Vec<_>>(),
        "sessions": rec.sessions().iter().map(|s| serde_json::json!({
            "channel_id": s.channel_id, "topic": s.topic, "frames": s.frames,
            "identity": s.identity.to_metadata(),
        })).collect::<Vec<_>>(),
        "missed": rec.missed(),
        "samples": rec.samples().len(),
        "ends": rec.ends(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn issue22_13_info_gives_times_in_utc_not_raw_nanoseconds() {
        let line = super::time_line(1_767_268_800_000_000_000, 1_767_268_810_500_000_000);
        assert!(line.contains("2026-01-01"), "{line}");
        assert!(line.contains("UTC (10.500 s)"), "{line}");
        assert!(!line.contains("1767268800"), "{line}");
    }
}
