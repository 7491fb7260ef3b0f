//! forge-record: every frame of a live ring into an MCAP file.
#![deny(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_cli::human;
use forge_cli::output::{Output, OutputError};
use forge_cli::units::{duration_in, size_in};
use forge_cli::{
    daemon_main, print_report, start_daemon, Daemon, DaemonStart, ParentArg, ReportFormat,
    SegmentArg, WaitArg, INIT_WAIT,
};
use forge_fabric::{Claim, Consumer, Observer, SegmentError, WaitStrategy};
use forge_holder::end::Lost;
use forge_holder::exit::{Exit, EXIT_CODES_HELP};
use forge_holder::signals::Control;
use forge_record::identity::{ClockPair, Mode, SessionIdentity};
use forge_record::record::{self, RecordConfig, RecordEnd, RecordReport};
use forge_record::writer::WriteError;
use forge_record::{Compression, RecordingWriter, RingImage, SlotVerdict, WriterOptions};

const PROGRAM: &str = "forge-record";
/// The smallest `--chunk-size`.
const MIN_CHUNK: u64 = 1 << 10;
/// The largest `--chunk-size`: a chunk closes one frame past it, and every
/// reader accepts a chunk of `forge_record::read::CHUNK_FLOOR` (8 MiB)
/// whatever it compresses to.
const MAX_CHUNK: u64 = 4 << 20;
/// The smallest `--max-size`: smaller would roll a file every chunk or so.
const MIN_FILE: u64 = 1 << 20;
/// The largest `--max-size`.
const MAX_FILE: u64 = 16 << 40;
/// The longest `--max-duration`.
const MAX_FILE_AGE: Duration = Duration::from_secs(365 * 86_400);
/// The longest `--flush-every`.
const MAX_FLUSH: Duration = Duration::from_secs(3600);

/// Record every frame of a Forge ring into an MCAP file.
///
/// --tap (the default) reads through the read-only observer, like forge-top:
/// it never slows the producer, and when it falls behind, the file and the
/// report say exactly which positions and sequences it missed. --consume
/// takes the consumer role instead, like forge-core: it loses nothing, and a
/// slow disk back-pressures the producer.
///
/// The file is MCAP (open it with forge-replay --info, Foxglove or the mcap
/// CLI): one channel per recorded session carrying the segment's identity,
/// one message per frame. Chunks are closed at least every --flush-every, so
/// a recording killed mid-file stays readable up to its last chunk.
/// SIGINT/SIGTERM/SIGHUP stop cleanly (a tap first records up to the head of
/// that moment) and print the report.
#[derive(Debug, Parser)]
#[command(
    name = PROGRAM,
    version,
    after_help = format!("Examples:\n  forge-record --out ring.mcap                       # tap until stopped\n  forge-record --consume --count 1000000 --out run.mcap\n  forge-record --out ring.mcap --max-size 512M --max-duration 10m   # ring.mcap, ring.1.mcap, …\n  forge-replay --in ring.mcap --info                 # what was recorded\n\n{EXIT_CODES_HELP}")
)]
struct Cli {
    #[command(flatten)]
    segment: SegmentArg,
    /// The recording to write; refused if it exists (see --force). Rolled
    /// files go beside it: NAME.1.mcap, NAME.2.mcap, …
    #[arg(long, value_name = "FILE", required_unless_present = "image")]
    out: Option<PathBuf>,
    /// Instead of recording, write a .forge image of the ring as it is now
    /// (header and every slot, copied and validated) and exit.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "consume", "tap", "count"])]
    image: Option<PathBuf>,
    /// Replace --out (and rolled NAME.N.mcap files) or --image if they
    /// exist. A symbolic link there is itself replaced, never followed.
    #[arg(long)]
    force: bool,
    /// Read-only, through the observer (the default).
    #[arg(long, conflicts_with = "consume")]
    tap: bool,
    /// Take the consumer role: lossless, back-pressures the producer.
    #[arg(long)]
    consume: bool,
    /// Frames to record, then exit; 0 records until stopped.
    #[arg(long, value_name = "N", default_value_t = 0)]
    count: u64,
    /// Chunk compression.
    #[arg(long, value_enum, default_value_t = Compression::Zstd)]
    compression: Compression,
    /// Uncompressed bytes per chunk, 1K to 4M (bytes, or with K, M:
    /// 64K, 1M).
    #[arg(long, value_name = "SIZE", default_value = "1M",
          value_parser = |s: &str| size_in(s, MIN_CHUNK, MAX_CHUNK))]
    chunk_size: u64,
    /// Start a new file once this one reaches SIZE, 1M to 16T (512M, 2G).
    #[arg(long, value_name = "SIZE",
          value_parser = |s: &str| size_in(s, MIN_FILE, MAX_FILE))]
    max_size: Option<u64>,
    /// Start a new file once this one is this old, 1s to 365d (a unit is
    /// needed: 10m, 1h).
    #[arg(long, value_name = "DURATION",
          value_parser = |s: &str| duration_in(s, Duration::from_secs(1), MAX_FILE_AGE))]
    max_duration: Option<Duration>,
    /// Close a chunk at least this often, the most a kill loses: 1ms to 1h
    /// (a unit is needed: 500ms, 2s).
    #[arg(long, value_name = "DURATION", default_value = "1s",
          value_parser = |s: &str| duration_in(s, Duration::from_millis(1), MAX_FLUSH))]
    flush_every: Duration,
    /// zstd worker threads; 0 compresses on the recording thread.
    #[arg(long, value_name = "N", default_value_t = 0)]
    compression_threads: u32,
    /// Compression level: zstd 1 (fastest) to 19, lz4 0 to 16; 0 takes the
    /// library's default (zstd 3).
    #[arg(long, value_name = "N", default_value_t = 0)]
    compression_level: u32,
    /// How to wait for frames.
    #[arg(long, value_enum, default_value_t = WaitArg::Park)]
    wait: WaitArg,
    /// --tap: when the segment is replaced (forge-init --force) or removed,
    /// wait for its next session and record on, as a new channel of the
    /// same file, instead of exiting.
    #[arg(long, conflicts_with = "consume")]
    follow: bool,
    /// --tap: run at SCHED_IDLE, on CPU time no other process wants, so
    /// that on a machine whose cores the daemons keep busy the tap misses
    /// frames instead of slowing them.
    #[arg(long, conflicts_with = "consume")]
    idle: bool,
    /// --consume: CPU core to pin to [default: forge-core's].
    #[arg(long, value_name = "N", requires = "consume")]
    core: Option<u32>,
    /// --consume: free slots for the producer every K frames.
    #[arg(long, value_name = "K", default_value_t = 32)]
    batch: u64,
    /// Final report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    report: ReportFormat,
    #[command(flatten)]
    parent: ParentArg,
}

fn main() -> ExitCode {
    daemon_main(PROGRAM, |cli: Cli, control| run(&cli, control))
}

fn writer_options(cli: &Cli) -> WriterOptions {
    WriterOptions {
        compression: cli.compression,
        chunk_size: cli.chunk_size,
        max_size: cli.max_size,
        max_duration: cli.max_duration,
        compression_threads: cli.compression_threads,
        compression_level: cli.compression_level,
        replace: cli.force,
        ..WriterOptions::default()
    }
}

fn out(cli: &Cli) -> &std::path::Path {
    cli.out
        .as_deref()
        .expect("clap requires --out without --image")
}

fn create_writer(cli: &Cli) -> Result<RecordingWriter> {
    RecordingWriter::create(out(cli), writer_options(cli)).map_err(|e| {
        let hint = match &e {
            WriteError::Create(o) => o.hint("--force"),
            _ => None,
        };
        let report = color_eyre::Report::new(e).wrap_err("cannot start the recording");
        match hint {
            Some(h) => report.suggestion(h),
            None => report,
        }
    })
}

/// An output error with the hint that fits it.
fn output_failed(e: OutputError, what: &str) -> color_eyre::Report {
    let hint = e.hint("--force");
    let report = color_eyre::Report::new(e).wrap_err(what.to_owned());
    match hint {
        Some(h) => report.suggestion(h),
        None => report,
    }
}

fn open_observer(name: &str) -> Result<Observer> {
    Observer::open(name, INIT_WAIT).map_err(|e| {
        let hint = matches!(e, SegmentError::Missing { .. })
            .then(|| format!("create it with: forge-init --segment {name}"));
        let mut report = color_eyre::Report::new(e).wrap_err(format!("cannot open segment {name}"));
        if let Some(h) = hint {
            report = report.suggestion(h);
        }
        report
    })
}

/// `--image`: the ring as it is now, into a .forge file.
fn write_image(cli: &Cli, path: &std::path::Path) -> Result<Exit> {
    let name = &cli.segment.segment;
    let observer = open_observer(name)?;
    let writer = format!("{PROGRAM} {}", env!("CARGO_PKG_VERSION"));
    let img = RingImage::capture(&observer, &writer)
        .wrap_err_with(|| format!("cannot copy segment {name}"))?;
    img.save(path, &Output::new().replace(cli.force))
        .map_err(|e| match e {
            forge_record::image::ImageError::Output(o) => {
                output_failed(o, "cannot write the image")
            }
            e => color_eyre::Report::new(e).wrap_err("cannot write the image"),
        })?;
    let verdicts = img.slots.iter().fold([0u64; 5], |mut n, s| {
        n[img.verdict(s) as usize] += 1;
        n
    });
    print_report(&format!(
        "{PROGRAM}: image of {name} (session {}) at head {}, tail {} written to {}: {} slots, {} valid, {} torn, {} overwritten, {} free{}\n",
        human::session(img.snapshot.identity.session_id),
        human::count(img.snapshot.head),
        human::count(img.snapshot.tail),
        path.display(),
        img.slots.len(),
        verdicts[SlotVerdict::Valid as usize],
        verdicts[SlotVerdict::Torn as usize],
        verdicts[SlotVerdict::Overwritten as usize],
        verdicts[SlotVerdict::Free as usize],
        match verdicts[SlotVerdict::Damaged as usize] {
            0 => String::new(),
            n => format!(", {n} damaged (a slot word claims more than a slot holds)"),
        },
    ))?;
    Ok(Exit::Ok)
}

fn run(cli: &Cli, control: Control) -> Result<Exit> {
    if let Some(path) = &cli.image {
        return write_image(cli, path);
    }
    if cli.batch == 0 {
        return Err(eyre!("--batch 0: expected at least 1 frame per tail store"));
    }
    let config = RecordConfig {
        count: cli.count,
        wait: WaitStrategy::from(cli.wait),
        flush_every: cli.flush_every,
        release_batch: cli.batch,
    };
    let (reports, end, writer) = if cli.consume {
        let (report, end, writer) = run_consume(cli, control, config)?;
        (vec![report], end, writer)
    } else {
        run_tap(cli, control, config)?
    };
    finish(cli, reports, end, writer)
}

/// Does `end` leave a segment that a `--follow` tap should wait out?
fn followable(end: &RecordEnd) -> bool {
    matches!(
        end,
        RecordEnd::SessionLost(_) | RecordEnd::SegmentLost(Lost::Replaced | Lost::Unlinked)
    )
}

/// Waits for `name` to hold a live session other than `old`; `None` when
/// a stop came first.
fn next_session(name: &str, old: u64, control: &Control) -> Option<Observer> {
    loop {
        if control.stop_requested() {
            return None;
        }
        if let Ok(o) = Observer::open(name, INIT_WAIT) {
            if o.session_id() != old {
                return Some(o);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_tap(
    cli: &Cli,
    control: Control,
    mut config: RecordConfig,
) -> Result<(Vec<RecordReport>, RecordEnd, RecordingWriter)> {
    let name = &cli.segment.segment;
    let mut observer = open_observer(name)?;
    if cli.idle {
        forge_record::priority::become_idle().wrap_err("cannot switch to SCHED_IDLE")?;
    }
    let mut writer: Option<RecordingWriter> = None;
    let mut reports = Vec::new();
    loop {
        let snap = observer
            .snapshot()
            .wrap_err_with(|| format!("cannot read segment {name}"))?;
        let clock = ClockPair::now();
        let identity = SessionIdentity::from_snapshot(&snap, Mode::Tap, clock, snap.head);
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(create_writer(cli)?),
        };
        eprintln!(
            "{PROGRAM}: pid {}, tapping {name} (session {}) read-only from position {} into {} ({}, wait {}{})",
            std::process::id(),
            human::session(snap.identity.session_id),
            human::count(snap.head),
            out(cli).display(),
            cli.compression.name(),
            config.wait.name(),
            if cli.idle { ", SCHED_IDLE" } else { "" },
        );
        let (report, end) = record::tap(&observer, &control, w, identity, config.clone());
        let left = config.count.saturating_sub(report.frames);
        reports.push(report);
        let count_done = config.count != 0 && left == 0;
        if !cli.follow || !followable(&end) || count_done {
            return Ok((reports, end, writer.expect("created above")));
        }
        config.count = left;
        eprintln!(
            "{PROGRAM}: {name}: {}; following to its next session",
            end.name().replace('_', " ")
        );
        match next_session(name, snap.identity.session_id, &control) {
            Some(o) => observer = o,
            None => return Ok((reports, RecordEnd::Stopped, writer.expect("created above"))),
        }
    }
}

fn run_consume(
    cli: &Cli,
    control: Control,
    config: RecordConfig,
) -> Result<(RecordReport, RecordEnd, RecordingWriter)> {
    let name = &cli.segment.segment;
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
            claim: Claim::new().wait(config.wait),
            instead: Some("record read-only with --tap"),
        },
        control,
    )?;
    let session = consumer.session();
    let observer =
        Observer::open(name, INIT_WAIT).wrap_err_with(|| format!("cannot read segment {name}"))?;
    let snap = observer
        .snapshot()
        .wrap_err_with(|| format!("cannot read segment {name}"))?;
    let clock = ClockPair::now();
    let identity = SessionIdentity::from_snapshot(&snap, Mode::Consume, clock, consumer.position());
    let mut writer = create_writer(cli)?;
    eprintln!(
        "{PROGRAM}: pid {} on core {core}, consuming from {name} (session {}) at position {} into {} ({}, wait {})",
        std::process::id(),
        human::session(session),
        human::count(consumer.position()),
        out(cli).display(),
        cli.compression.name(),
        config.wait.name(),
    );
    let (report, end) = record::consume(
        &mut consumer,
        Some(&observer),
        &mut writer,
        identity,
        config,
    );
    // Release the role before the summary is written.
    drop(consumer);
    Ok((report, end, writer))
}

fn finish(
    cli: &Cli,
    mut reports: Vec<RecordReport>,
    end: RecordEnd,
    writer: RecordingWriter,
) -> Result<Exit> {
    let name = &cli.segment.segment;
    let current = writer.current_path().to_owned();
    let files_so_far = writer.files().to_vec();
    let (bytes_so_far, durable_so_far) = (writer.file_bytes(), writer.durable_frames());
    let (files, file_bytes, durable, finished) = match writer.finish() {
        Ok(w) => (w.files, w.file_bytes, w.durable_frames, None),
        Err(e) => (files_so_far, bytes_so_far, durable_so_far, Some(e)),
    };
    // The files are the whole recording's; frames that reached them are
    // counted in session order.
    let mut durable_left = durable;
    for report in &mut reports {
        report.files = files.iter().map(|f| f.display().to_string()).collect();
        report.file_bytes = file_bytes;
        report.durable_frames = report.frames.min(durable_left);
        durable_left -= report.durable_frames;
    }
    let mut text = String::new();
    for report in &reports {
        text += &match cli.report {
            ReportFormat::Text => report.text(),
            ReportFormat::Json => {
                serde_json::to_string(report).wrap_err("encoding the JSON report")? + "\n"
            }
        };
    }
    print_report(&text).wrap_err("writing the report")?;
    let readable = |path: &std::path::Path| {
        format!(
            "the recording is readable up to its last complete chunk: forge-replay --in {} --info --recover",
            path.display()
        )
    };
    Ok(match end {
        RecordEnd::Write(e) => {
            return Err(e)
                .wrap_err("recording stopped")
                .suggestion(readable(&current))
        }
        _ if finished.is_some() => {
            let e = finished.expect("checked");
            return Err(e)
                .wrap_err("finishing the recording failed")
                .suggestion(readable(&current));
        }
        RecordEnd::CountReached | RecordEnd::Stopped => Exit::Ok,
        RecordEnd::SessionLost(e) => {
            eprintln!("{PROGRAM}: stopping: {name}: {e}");
            Exit::SessionRetired
        }
        RecordEnd::Corrupt(c) => {
            eprintln!("{PROGRAM}: stopping: {name}: {c}");
            Exit::Integrity
        }
        RecordEnd::CorruptSlot(what) => {
            eprintln!("{PROGRAM}: integrity failure: {name}: {what}");
            Exit::Integrity
        }
        RecordEnd::SegmentLost(lost) => {
            eprintln!("{PROGRAM}: stopping: {name}: {lost}");
            Exit::Error
        }
        RecordEnd::Observe(e) => {
            eprintln!("{PROGRAM}: stopping: {name}: {e}");
            Exit::Error
        }
    })
}
