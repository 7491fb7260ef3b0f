//! `forge-bridge bench`: what the trip over Zenoh costs, measured against
//! Zenoh's own pub/sub between two processes, in the same run.
//!
//! ```text
//!  bridge:    forge-stream ─▶ ring ─▶ forge-bridge out ══ TCP ══▶ forge-bridge in ─▶ ring ─▶ forge-core
//!  raw Zenoh: bench-peer pub ══════════════ TCP ══════════════▶ bench-peer sub
//! ```
//!
//! Same payloads (a Forge frame of the given size, made by the same load
//! generator), same transport (TCP on loopback), same Zenoh settings
//! (reliable, congestion control Block, batching on); raw Zenoh puts one
//! message per frame, the bridge packs and authenticates (`--auth-key`, a
//! key made for the run). Each figure is the median of `--repeats` runs,
//! the two paths measured back to back in each repeat, so that the ratios
//! compare like with like on a noisy machine:
//!
//! - throughput: frames as fast as they go, frames/s from the first frame
//!   received to the last (forge-core's own definition);
//! - one-way latency: frames paced at `--rate`, from the timestamp written
//!   when the frame was made (CLOCK_MONOTONIC, one host) to its reading at
//!   the far end, in the same log-linear histogram forge-core uses;
//! - one ring hop: the same paced frames from forge-stream straight to
//!   forge-core through one ring, with the same wait, so that the bridge's
//!   latency can be taken apart: raw Zenoh's, plus the two hops through a
//!   ring that the bridge adds (stream to `out`, `in` to core), plus what
//!   is left, the bridge's own work;
//! - CPU per frame: user + system time of every process of a path
//!   (`getrusage(RUSAGE_CHILDREN)` around the run: all of them are this
//!   program's children, reaped before the next run), over a throughput run,
//!   less the same path's cost for a run of [`CALIBRATION_FRAMES`] frames
//!   (start-up, connection, shutdown), per frame.
//!
//! Prints Markdown, or JSON with `--json`; nothing here is asserted by a
//! test.

mod paths;
mod peer;
mod report;

use std::path::PathBuf;
use std::time::Instant;

use color_eyre::eyre::{eyre, Result, WrapErr};
use forge_fabric::WaitStrategy;
use forge_frame::load::SizeSpec;
use forge_holder::exit::Exit;
use forge_holder::signals::Control;

pub use self::paths::Run;
use self::paths::{bridge, raw_zenoh, ring_hop, BenchKey, Bins};
pub use self::peer::{peer, PeerArgs};

/// `forge-bridge bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// How the bridge path's four processes, and the ring-hop pair, wait
    /// on their rings in the latency runs. Throughput runs always park,
    /// so that a waiting process soon sleeps rather than spins (its
    /// CPU time is mostly work; see `WaitStrategy::Park`).
    #[arg(long, value_enum, default_value_t = forge_cli::WaitArg::Park)]
    pub wait: forge_cli::WaitArg,
    /// Frame sizes in bytes, header included.
    #[arg(long, value_delimiter = ',', default_value = "64,1024,4096")]
    pub payloads: Vec<usize>,
    /// Repeats of every figure; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Frames per throughput run.
    #[arg(long, default_value_t = 200_000)]
    pub frames: u64,
    /// Frames per latency run.
    #[arg(long, default_value_t = 10_000)]
    pub latency_frames: u64,
    /// Frames per second in the latency runs.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u64,
    /// First of the loopback TCP ports the runs use.
    #[arg(long, default_value_t = 17_600)]
    pub port: u16,
    /// A short run: 1 repeat, 20,000 and 2,000 frames.
    #[arg(long)]
    pub quick: bool,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Also write results.md, results.json and bridge.svg into this
    /// directory (created if missing; files created, never followed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace results already in --out (refused otherwise, before
    /// anything is measured).
    #[arg(long)]
    pub force: bool,
}

/// Frames of the runs that measure a path's fixed CPU cost.
pub const CALIBRATION_FRAMES: u64 = 200;

/// User + system time of this process's reaped children so far, ns.
fn children_cpu_ns() -> u64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0, |u| {
        let ns = |t: nix::sys::time::TimeVal| {
            (t.tv_sec() as u64).saturating_mul(1_000_000_000) + t.tv_usec() as u64 * 1_000
        };
        ns(u.user_time()) + ns(u.system_time())
    })
}

/// Runs `f` and adds the CPU time of the children it reaped to its run.
fn with_cpu(f: impl FnOnce() -> Result<Run>) -> Result<Run> {
    let before = children_cpu_ns();
    let mut run = f()?;
    run.cpu_ns = children_cpu_ns().saturating_sub(before);
    Ok(run)
}

/// Medians for one payload size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// Frame size, bytes.
    pub payload: usize,
    /// Raw Zenoh: throughput (median frames/s, and every repeat).
    pub zenoh_frames_per_s: f64,
    /// The bridge: throughput.
    pub bridge_frames_per_s: f64,
    /// bridge / raw Zenoh, throughput (target ≥ 0.9).
    pub throughput_ratio: f64,
    /// Raw Zenoh one-way latency, median of the repeats' p50 and p99, ns.
    pub zenoh_p50_ns: u64,
    /// As above.
    pub zenoh_p99_ns: u64,
    /// The bridge's one-way latency (stream to core), ns.
    pub bridge_p50_ns: u64,
    /// As above.
    pub bridge_p99_ns: u64,
    /// How much the bridge adds to raw Zenoh's p50, percent (target ≤ 10).
    pub added_p50_percent: f64,
    /// One hop through a ring (forge-stream to forge-core), same payload,
    /// rate and wait: median p50 and p99, ns.
    pub hop_p50_ns: u64,
    /// As above.
    pub hop_p99_ns: u64,
    /// The bridge's p50 less raw Zenoh's and two ring hops', ns (median of
    /// the repeats; negative when the parts overlap): what the bridge's own
    /// work adds.
    pub beyond_hops_ns: i64,
    /// Raw Zenoh: CPU time per frame over a throughput run (both
    /// processes, fixed cost taken off), ns, median.
    pub zenoh_cpu_ns_per_frame: f64,
    /// The bridge: the same over its four processes.
    pub bridge_cpu_ns_per_frame: f64,
    /// The fixed costs taken off: a run of [`CALIBRATION_FRAMES`], ns.
    pub fixed_cpu_ns: (u64, u64),
    /// Every repeat, for the spread.
    pub repeats: Vec<Repeat>,
}

/// One repeat's runs, back to back.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Repeat {
    /// Raw Zenoh, frames as fast as they go.
    pub zenoh_throughput: Run,
    /// The bridge, frames as fast as they go.
    pub bridge_throughput: Run,
    /// Raw Zenoh, paced frames.
    pub zenoh_latency: Run,
    /// The bridge, paced frames.
    pub bridge_latency: Run,
    /// forge-stream to forge-core through one ring, paced frames.
    pub hop_latency: Run,
}

/// Runs the benchmark.
pub fn run(args: &BenchArgs, control: Control) -> Result<Exit> {
    let mut args = args.clone();
    if args.quick {
        args.repeats = 1;
        args.frames = 20_000;
        args.latency_frames = 2_000;
    }
    for &p in &args.payloads {
        SizeSpec::fixed(p)
            .validate()
            .wrap_err_with(|| format!("bad --payloads entry {p}"))?;
    }
    if args.repeats == 0 || args.frames < 2 || args.latency_frames < 2 || args.rate == 0 {
        return Err(eyre!(
            "expected --repeats ≥ 1, --frames and --latency-frames ≥ 2, --rate ≥ 1"
        ));
    }
    let out_dir = match &args.out {
        Some(dir) => Some(results_dir(dir, args.force)?),
        None => None,
    };
    let bins = Bins::find()?;
    let key = BenchKey::new()?;
    let started = Instant::now();
    let machine = machine();
    let mut rows = Vec::new();
    let mut port = args.port;
    for &payload in &args.payloads {
        let mut repeats = Vec::new();
        for r in 0..args.repeats {
            if control.stop_requested() {
                return Ok(Exit::Ok);
            }
            eprintln!(
                "forge-bridge bench: {payload} B, repeat {}/{}",
                r + 1,
                args.repeats
            );
            let mut next_port = || {
                port = port.wrapping_add(1).max(1024);
                port
            };
            let zt = with_cpu(|| raw_zenoh(&bins, next_port(), payload, args.frames, 0))?;
            let bt = with_cpu(|| {
                bridge(
                    &bins,
                    next_port(),
                    payload,
                    args.frames,
                    0,
                    &key.file,
                    WaitStrategy::Park.name(),
                )
            })?;
            let zl = raw_zenoh(&bins, next_port(), payload, args.latency_frames, args.rate)?;
            let bl = bridge(
                &bins,
                next_port(),
                payload,
                args.latency_frames,
                args.rate,
                &key.file,
                WaitStrategy::from(args.wait).name(),
            )?;
            let hl = ring_hop(
                &bins,
                payload,
                args.latency_frames,
                args.rate,
                WaitStrategy::from(args.wait).name(),
            )?;
            repeats.push(Repeat {
                zenoh_throughput: zt,
                bridge_throughput: bt,
                zenoh_latency: zl,
                bridge_latency: bl,
                hop_latency: hl,
            });
        }
        port = port.wrapping_add(1).max(1024);
        let zf = with_cpu(|| raw_zenoh(&bins, port, payload, CALIBRATION_FRAMES, 0))?;
        port = port.wrapping_add(1).max(1024);
        let bf = with_cpu(|| {
            bridge(
                &bins,
                port,
                payload,
                CALIBRATION_FRAMES,
                0,
                &key.file,
                WaitStrategy::Park.name(),
            )
        })?;
        rows.push(Row::from_repeats(
            payload,
            repeats,
            (zf.cpu_ns, bf.cpu_ns),
            args.frames,
        ));
    }
    let report = Report {
        machine,
        repeats: args.repeats,
        frames: args.frames,
        latency_frames: args.latency_frames,
        rate: args.rate,
        seconds: started.elapsed().as_secs_f64(),
        rows,
    };
    let md = report.markdown();
    let json = serde_json::to_string_pretty(&report).wrap_err("encoding JSON")?;
    if let Some(dir) = &out_dir {
        let how = forge_cli::output::Output::new().replace(args.force);
        for (name, text) in [
            ("results.md", md.as_str()),
            ("results.json", json.as_str()),
            ("bridge.svg", report.svg().as_str()),
        ] {
            dir.write(name, text.as_bytes(), &how)
                .map_err(|e| eyre!("cannot write the results: {e}"))?;
        }
    }
    let text = if args.json { json + "\n" } else { md };
    forge_cli::print_report(&text)?;
    Ok(Exit::Ok)
}

/// The results we write.
const OUTPUTS: [&str; 3] = ["results.md", "results.json", "bridge.svg"];

/// `--out`, created if missing and opened once; results already there are
/// refused before minutes of measuring, unless `--force`.
fn results_dir(dir: &std::path::Path, force: bool) -> Result<forge_cli::output::Dir> {
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    let d = forge_cli::output::Dir::open(dir).map_err(|e| eyre!("{e}"))?;
    if !force {
        if let Some((name, what)) = OUTPUTS.iter().find_map(|n| Some((n, d.what_is(n)?))) {
            return Err(eyre!(
                "{} already exists ({what}); pass --force to replace the results, or pick \
                 another --out",
                dir.join(name).display()
            ));
        }
    }
    Ok(d)
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

impl Row {
    fn from_repeats(payload: usize, repeats: Vec<Repeat>, fixed: (u64, u64), frames: u64) -> Row {
        let per_frame = |cpu: u64, fixed: u64| {
            cpu.saturating_sub(fixed) as f64
                / frames.saturating_sub(CALIBRATION_FRAMES).max(1) as f64
        };
        let m = |f: fn(&Repeat) -> f64| median(repeats.iter().map(f).collect());
        let mu = |f: fn(&Repeat) -> u64| median(repeats.iter().map(f).collect());
        Row {
            payload,
            zenoh_frames_per_s: m(|r| r.zenoh_throughput.frames_per_s),
            bridge_frames_per_s: m(|r| r.bridge_throughput.frames_per_s),
            // The ratio of each repeat, then the median: both paths of a
            // repeat ran back to back, under the same load.
            throughput_ratio: m(|r| {
                r.bridge_throughput.frames_per_s / r.zenoh_throughput.frames_per_s.max(1.0)
            }),
            zenoh_p50_ns: mu(|r| r.zenoh_latency.p50_ns),
            zenoh_p99_ns: mu(|r| r.zenoh_latency.p99_ns),
            bridge_p50_ns: mu(|r| r.bridge_latency.p50_ns),
            bridge_p99_ns: mu(|r| r.bridge_latency.p99_ns),
            added_p50_percent: m(|r| {
                (r.bridge_latency.p50_ns as f64 / r.zenoh_latency.p50_ns.max(1) as f64 - 1.0)
                    * 100.0
            }),
            hop_p50_ns: mu(|r| r.hop_latency.p50_ns),
            hop_p99_ns: mu(|r| r.hop_latency.p99_ns),
            beyond_hops_ns: median(repeats.iter().map(Repeat::beyond_hops_ns).collect()),
            zenoh_cpu_ns_per_frame: median(
                repeats
                    .iter()
                    .map(|r| per_frame(r.zenoh_throughput.cpu_ns, fixed.0))
                    .collect(),
            ),
            bridge_cpu_ns_per_frame: median(
                repeats
                    .iter()
                    .map(|r| per_frame(r.bridge_throughput.cpu_ns, fixed.1))
                    .collect(),
            ),
            fixed_cpu_ns: fixed,
            repeats,
        }
    }
}

impl Repeat {
    /// The bridge's p50 less raw Zenoh's and two ring hops', ns.
    fn beyond_hops_ns(&self) -> i64 {
        let ns = |r: &Run| i64::try_from(r.p50_ns).unwrap_or(i64::MAX);
        ns(&self.bridge_latency)
            .saturating_sub(ns(&self.zenoh_latency))
            .saturating_sub(ns(&self.hop_latency).saturating_mul(2))
    }
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// CPU, cores and load when the run started.
    pub machine: String,
    /// Repeats per figure.
    pub repeats: usize,
    /// Frames per throughput run.
    pub frames: u64,
    /// Frames per latency run.
    pub latency_frames: u64,
    /// Frames per second in the latency runs.
    pub rate: u64,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// One row per payload size.
    pub rows: Vec<Row>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!(
        "{cpu}, {} cores, load average {load} at start",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}
