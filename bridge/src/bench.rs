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
//! - CPU per frame: user + system time of every process of a path
//!   (`getrusage(RUSAGE_CHILDREN)` around the run: all of them are this
//!   program's children, reaped before the next run), over a throughput run,
//!   less the same path's cost for a run of [`CALIBRATION_FRAMES`] frames
//!   (start-up, connection, shutdown), per frame.
//!
//! Prints Markdown, or JSON with `--json`; nothing here is asserted by a
//! test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_fabric::clock::monotonic_ns;
use forge_fabric::hist::Histogram;
use forge_fabric::{CreateOptions, LiveHolders, Segment, PAYLOAD_CAPACITY};
use forge_frame::decode_header;
use forge_frame::load::{LoadGen, SizeSpec};
use forge_holder::exit::Exit;
use forge_holder::signals::Control;
use zenoh::qos::CongestionControl;
use zenoh::{Config, Wait};

/// `forge-bridge bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// How the bridge path's four processes wait on their rings (the
    /// latency runs; throughput runs always park, so that their CPU time
    /// is work, not waiting).
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

/// `forge-bridge bench-peer`: one side of the raw Zenoh baseline (the
/// bench starts it; not for people).
#[derive(Debug, Clone, clap::Args)]
pub struct PeerArgs {
    /// `pub` or `sub`.
    pub side: String,
    #[arg(long)]
    pub endpoint: String,
    #[arg(long)]
    pub key: String,
    #[arg(long)]
    pub count: u64,
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
}

/// One measured run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Run {
    /// Frames per second, first to last frame received.
    pub frames_per_s: f64,
    /// One-way latency p50, ns.
    pub p50_ns: u64,
    /// One-way latency p99, ns.
    pub p99_ns: u64,
    /// User + system time of every process of the run, ns.
    pub cpu_ns: u64,
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
    /// Raw Zenoh: CPU time per frame over a throughput run (both
    /// processes, fixed cost taken off), ns, median.
    pub zenoh_cpu_ns_per_frame: f64,
    /// The bridge: the same over its four processes.
    pub bridge_cpu_ns_per_frame: f64,
    /// The fixed costs taken off: a run of [`CALIBRATION_FRAMES`], ns.
    pub fixed_cpu_ns: (u64, u64),
    /// Every repeat, for the spread.
    pub repeats: Vec<(Run, Run, Run, Run)>,
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
                    "park",
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
                wait_name(args.wait),
            )?;
            repeats.push((zt, bt, zl, bl));
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
                "park",
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
    fn from_repeats(
        payload: usize,
        repeats: Vec<(Run, Run, Run, Run)>,
        fixed: (u64, u64),
        frames: u64,
    ) -> Row {
        let per_frame = |cpu: u64, fixed: u64| {
            cpu.saturating_sub(fixed) as f64
                / frames.saturating_sub(CALIBRATION_FRAMES).max(1) as f64
        };
        let m = |f: fn(&(Run, Run, Run, Run)) -> f64| median(repeats.iter().map(f).collect());
        let mu = |f: fn(&(Run, Run, Run, Run)) -> u64| median(repeats.iter().map(f).collect());
        let zenoh_frames_per_s = m(|r| r.0.frames_per_s);
        let bridge_frames_per_s = m(|r| r.1.frames_per_s);
        let zenoh_p50_ns = mu(|r| r.2.p50_ns);
        let bridge_p50_ns = mu(|r| r.3.p50_ns);
        Row {
            payload,
            zenoh_frames_per_s,
            bridge_frames_per_s,
            // The ratio of each repeat, then the median: both paths of a
            // repeat ran back to back, under the same load.
            throughput_ratio: m(|r| r.1.frames_per_s / r.0.frames_per_s.max(1.0)),
            zenoh_p50_ns,
            zenoh_p99_ns: mu(|r| r.2.p99_ns),
            bridge_p50_ns,
            bridge_p99_ns: mu(|r| r.3.p99_ns),
            added_p50_percent: m(|r| {
                (r.3.p50_ns as f64 / (r.2.p50_ns.max(1)) as f64 - 1.0) * 100.0
            }),
            zenoh_cpu_ns_per_frame: median(
                repeats
                    .iter()
                    .map(|r| per_frame(r.0.cpu_ns, fixed.0))
                    .collect(),
            ),
            bridge_cpu_ns_per_frame: median(
                repeats
                    .iter()
                    .map(|r| per_frame(r.1.cpu_ns, fixed.1))
                    .collect(),
            ),
            fixed_cpu_ns: fixed,
            repeats,
        }
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

impl Report {
    fn markdown(&self) -> String {
        let us = |ns: u64| format!("{:.1}", ns as f64 / 1000.0);
        let k = |x: f64| format!("{:.0}k", x / 1000.0);
        let mut s = format!(
            "## Forge -> Zenoh -> Forge vs Zenoh pub/sub (TCP on loopback)\n\n\
             Machine: {}. Median of {} repeats; throughput runs of {} frames, latency runs of {} \
             frames at {} frames/s. Ratios are the median of each repeat's ratio.\n\n\
             | payload | Zenoh frames/s | bridge frames/s | bridge / Zenoh (target ≥ 1.0 to 1 KiB, ≥ 0.9 at 4 KiB) | Zenoh p50 / p99 µs | bridge p50 / p99 µs | added p50 (target ≤ 10 %) | CPU µs per frame, Zenoh / bridge |\n\
             |---|---|---|---|---|---|---|---|\n",
            self.machine, self.repeats, self.frames, self.latency_frames, self.rate
        );
        for r in &self.rows {
            s += &format!(
                "| {} B | {} | {} | {:.2}× | {} / {} | {} / {} | {:+.0} % | {:.2} / {:.2} |\n",
                r.payload,
                k(r.zenoh_frames_per_s),
                k(r.bridge_frames_per_s),
                r.throughput_ratio,
                us(r.zenoh_p50_ns),
                us(r.zenoh_p99_ns),
                us(r.bridge_p50_ns),
                us(r.bridge_p99_ns),
                r.added_p50_percent,
                r.zenoh_cpu_ns_per_frame / 1000.0,
                r.bridge_cpu_ns_per_frame / 1000.0,
            );
        }
        s += &format!(
            "\nCPU per frame: user + system time of every process of the path \
             (getrusage of the reaped children) over a throughput run, less the same \
             path's cost for a {CALIBRATION_FRAMES}-frame run (start-up and shutdown: {}), \
             divided by the frames.\n",
            self.rows
                .iter()
                .map(|r| format!(
                    "{} B: Zenoh {:.0} ms, bridge {:.0} ms",
                    r.payload,
                    r.fixed_cpu_ns.0 as f64 / 1e6,
                    r.fixed_cpu_ns.1 as f64 / 1e6
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        s += &format!(
            "\nThe bridge path runs four processes (forge-stream, out, in, forge-core) and the \
             raw path two; on a 2-core machine they share the cores with Zenoh's threads. \
             The bridge packs frames into samples and authenticates each (keyed BLAKE3); \
             raw Zenoh puts one message per frame, unauthenticated. Whole run: {:.0} s.\n",
            self.seconds
        );
        s
    }
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

impl Report {
    /// Two grouped bar charts side by side: throughput and p50 latency,
    /// raw Zenoh next to the bridge, per payload.
    fn svg(&self) -> String {
        const W: f64 = 760.0;
        const H: f64 = 300.0;
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 250.0;
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n"
        );
        type Pick = fn(&Row) -> (f64, f64);
        let panels: [(&str, Pick, &str); 2] = [
            (
                "throughput, frames/s",
                |r| (r.zenoh_frames_per_s, r.bridge_frames_per_s),
                "k",
            ),
            (
                "one-way latency p50, µs",
                |r| (r.zenoh_p50_ns as f64, r.bridge_p50_ns as f64),
                "µs",
            ),
        ];
        for (i, (title, value, unit)) in panels.iter().enumerate() {
            let x0 = 50.0 + i as f64 * W / 2.0;
            let width = W / 2.0 - 80.0;
            let max = self
                .rows
                .iter()
                .map(|r| {
                    let (a, b) = value(r);
                    a.max(b)
                })
                .fold(1.0, f64::max);
            s += &format!("<text x=\"{x0}\" y=\"20\" font-weight=\"bold\">{title}</text>\n");
            s += &format!(
                "<line x1=\"{x0}\" y1=\"{BOTTOM}\" x2=\"{}\" y2=\"{BOTTOM}\" stroke=\"black\"/>\n",
                x0 + width
            );
            let group = width / self.rows.len().max(1) as f64;
            for (j, r) in self.rows.iter().enumerate() {
                let (a, b) = value(r);
                let gx = x0 + j as f64 * group + group * 0.15;
                let bar = group * 0.35;
                for (k, (v, color)) in [(a, "#8888cc"), (b, "#cc6633")].iter().enumerate() {
                    let h = (BOTTOM - TOP) * v / max;
                    let x = gx + k as f64 * bar;
                    let label = if *unit == "k" {
                        format!("{:.0}k", v / 1000.0)
                    } else {
                        format!("{:.0}", v / 1000.0)
                    };
                    s += &format!(
                        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"/>\n\
                         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{label}</text>\n",
                        BOTTOM - h,
                        bar - 2.0,
                        x + bar / 2.0,
                        BOTTOM - h - 3.0
                    );
                }
                s += &format!(
                    "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{} B</text>\n",
                    gx + bar,
                    BOTTOM + 16.0,
                    r.payload
                );
            }
        }
        s += &format!(
            "<rect x=\"50\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"#8888cc\"/>\
             <text x=\"66\" y=\"{t}\">Zenoh pub/sub, 2 processes</text>\
             <rect x=\"260\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"#cc6633\"/>\
             <text x=\"276\" y=\"{t}\">stream → ring → bridge out → Zenoh → bridge in → ring → core</text>\n</svg>\n",
            y = H - 26.0,
            t = H - 16.0
        );
        s
    }
}

/// The programs a run starts, next to this one.
struct Bins {
    me: PathBuf,
    stream: PathBuf,
    core: PathBuf,
}

impl Bins {
    fn find() -> Result<Bins> {
        let me = std::env::current_exe().wrap_err("finding forge-bridge's own path")?;
        let dir = me
            .parent()
            .expect("an executable has a directory")
            .to_path_buf();
        let bins = Bins {
            stream: dir.join("forge-stream"),
            core: dir.join("forge-core"),
            me,
        };
        for b in [&bins.stream, &bins.core] {
            if !b.is_file() {
                return Err(eyre!("{} is missing", b.display())).suggestion(
                    "build the daemons next to forge-bridge: cargo build --release -p forge-demo --bins",
                );
            }
        }
        Ok(bins)
    }
}

/// Children killed on drop, whatever happens.
struct Children(Vec<Child>);

impl Children {
    fn spawn(&mut self, cmd: &mut Command) -> Result<usize> {
        self.spawn_with(cmd.stderr(Stdio::null()))
    }

    fn spawn_with(&mut self, cmd: &mut Command) -> Result<usize> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .wrap_err_with(|| format!("starting {cmd:?}"))?;
        self.0.push(child);
        Ok(self.0.len() - 1)
    }

    /// Starts `cmd` with its stderr in a new file `log` (removed on drop
    /// of the returned guard).
    fn spawn_logged(&mut self, cmd: &mut Command, log: &std::path::Path) -> Result<(usize, Log)> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(log)
            .wrap_err_with(|| format!("cannot create {}", log.display()))?;
        let i = self.spawn_with(cmd.stderr(file))?;
        Ok((i, Log(log.to_path_buf())))
    }

    /// Waits until child `i`'s log says `needle` (at most `timeout`).
    fn wait_for_line(
        &mut self,
        i: usize,
        log: &Log,
        needle: &str,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = std::fs::read_to_string(&log.0).unwrap_or_default();
            if text.contains(needle) {
                return Ok(());
            }
            if self.0[i].try_wait()?.is_some() || Instant::now() > deadline {
                return Err(eyre!(
                    "a bridge of the benchmark never said {needle:?}; its stderr:\n{text}"
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for child `i` (at most `timeout`) and returns its stdout.
    fn wait(&mut self, i: usize, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0[i].try_wait()? {
                let mut out = String::new();
                if let Some(mut s) = self.0[i].stdout.take() {
                    use std::io::Read;
                    s.read_to_string(&mut out)?;
                }
                if !status.success() {
                    return Err(eyre!("a benchmark process failed ({status}): {out}"));
                }
                return Ok(out);
            }
            if Instant::now() > deadline {
                return Err(eyre!("a benchmark process did not finish in {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn interrupt(&mut self, i: usize) {
        let pid = nix::unistd::Pid::from_raw(self.0[i].id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    }
}

/// A child's stderr file, removed on drop.
struct Log(PathBuf);

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Zenoh's own pub/sub between two processes.
fn raw_zenoh(bins: &Bins, port: u16, payload: usize, count: u64, rate: u64) -> Result<Run> {
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let key = format!("forge/bench/{}/{port}", std::process::id());
    let mut kids = Children(Vec::new());
    let peer = |side: &str| {
        let mut c = Command::new(&bins.me);
        c.args(["bench-peer", side, "--endpoint", &endpoint, "--key", &key])
            .args([
                "--count",
                &count.to_string(),
                "--size",
                &payload.to_string(),
            ])
            .args(["--rate", &rate.to_string()]);
        c
    };
    let publisher = kids.spawn(&mut peer("pub"))?;
    let subscriber = kids.spawn(&mut peer("sub"))?;
    let out = kids.wait(subscriber, RUN_TIMEOUT)?;
    kids.wait(publisher, RUN_TIMEOUT)?;
    serde_json::from_str::<RunJson>(out.trim())
        .map(Run::from)
        .wrap_err_with(|| format!("reading the subscriber's report: {out}"))
}

/// The subscriber's report, in forge-core's shape.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RunJson {
    frames: u64,
    frames_per_s: f64,
    latency_ns: LatencyJson,
    #[serde(default)]
    gaps: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LatencyJson {
    p50: u64,
    p99: u64,
}

impl From<RunJson> for Run {
    fn from(r: RunJson) -> Run {
        Run {
            frames_per_s: r.frames_per_s,
            p50_ns: r.latency_ns.p50,
            p99_ns: r.latency_ns.p99,
            cpu_ns: 0,
        }
    }
}

fn wait_name(w: forge_cli::WaitArg) -> &'static str {
    match w {
        forge_cli::WaitArg::Spin => "spin",
        forge_cli::WaitArg::Yield => "yield",
        forge_cli::WaitArg::Park => "park",
    }
}

/// A key for the bridge's runs, in a directory of this run's own (0700),
/// both removed at the end.
struct BenchKey {
    dir: PathBuf,
    file: PathBuf,
}

impl BenchKey {
    fn new() -> Result<BenchKey> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("forge-bridge-bench-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .wrap_err_with(|| format!("cannot create {}", dir.display()))?;
        let file = dir.join("stream.key");
        let key = BenchKey { dir, file };
        crate::auth::keygen(&key.file).map_err(|e| eyre!(e))?;
        Ok(key)
    }
}

impl Drop for BenchKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// forge-stream -> out -> in -> forge-core, on two fresh segments.
fn bridge(
    bins: &Bins,
    port: u16,
    payload: usize,
    count: u64,
    rate: u64,
    key_file: &std::path::Path,
    wait: &str,
) -> Result<Run> {
    struct Segments(Vec<String>);
    impl Drop for Segments {
        fn drop(&mut self) {
            for s in &self.0 {
                let _ = forge_fabric::segment::unlink(s);
            }
        }
    }
    let pid = std::process::id();
    let (a, b) = (
        format!("/forge_bench_bridge_a_{pid}"),
        format!("/forge_bench_bridge_b_{pid}"),
    );
    let segs = Segments(vec![a.clone(), b.clone()]);
    for s in &segs.0 {
        Segment::replace(s, &CreateOptions::default(), LiveHolders::Retire)
            .wrap_err_with(|| format!("creating {s}"))?;
    }
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let key = format!("forge/bench/{pid}/{port}");
    let n = count.to_string();
    let mut kids = Children(Vec::new());
    let mut common = vec!["--no-multicast-scouting", "--wait", wait, "--auth-key"];
    let key_path = key_file.to_string_lossy();
    common.push(&key_path);
    // Ready before the first frame is made, as raw Zenoh's publisher
    // waits for its subscriber: `out` listening, then `in` connected and
    // following the origin (else the frames made meanwhile count the
    // link's set-up, up to Zenoh's 1 s reconnection period, as latency).
    let dir = key_file
        .parent()
        .expect("the key is in the run's directory");
    let (out, out_log) = kids.spawn_logged(
        Command::new(&bins.me)
            .args(["out", "--segment", &a, "--key", &key, "--listen", &endpoint])
            .args(&common),
        &dir.join(format!("out-{port}.err")),
    )?;
    kids.wait_for_line(out, &out_log, "publishing on", Duration::from_secs(20))?;
    let (inb, in_log) = kids.spawn_logged(
        Command::new(&bins.me)
            .args(["in", "--segment", &b, "--key", &key, "--connect", &endpoint])
            .args(&common),
        &dir.join(format!("in-{port}.err")),
    )?;
    kids.wait_for_line(
        inb,
        &in_log,
        "the sender publishes origin session",
        Duration::from_secs(20),
    )?;
    let core = kids.spawn(Command::new(&bins.core).args([
        "--segment",
        &b,
        "--count",
        &n,
        "--report",
        "json",
        "--wait",
        wait,
    ]))?;
    let stream = kids.spawn(Command::new(&bins.stream).args([
        "--segment",
        &a,
        "--count",
        &n,
        "--size",
        &payload.to_string(),
        "--rate",
        &rate.to_string(),
        "--wait",
        wait,
    ]))?;
    let report = kids.wait(core, RUN_TIMEOUT)?;
    kids.wait(stream, RUN_TIMEOUT)?;
    kids.interrupt(inb);
    kids.interrupt(out);
    let _ = kids.wait(inb, Duration::from_secs(10));
    let _ = kids.wait(out, Duration::from_secs(10));
    drop(segs);
    let r: RunJson = serde_json::from_str(report.trim())
        .wrap_err_with(|| format!("reading forge-core's report: {report}"))?;
    if r.gaps != 0 || r.frames != count {
        return Err(eyre!("the bridge lost frames in a benchmark run: {report}"));
    }
    Ok(r.into())
}

/// One side of the raw Zenoh baseline.
pub fn peer(args: &PeerArgs, control: Control) -> Result<Exit> {
    let mut config = Config::default();
    let (listen, connect) = match args.side.as_str() {
        "pub" => (vec![args.endpoint.clone()], vec![]),
        "sub" => (vec![], vec![args.endpoint.clone()]),
        other => return Err(eyre!("bench-peer {other}: expected pub or sub")),
    };
    let set =
        |c: &mut Config, k: &str, v: String| c.insert_json5(k, &v).map_err(|e| eyre!("{k}: {e}"));
    set(
        &mut config,
        "listen/endpoints",
        serde_json::to_string(&listen)?,
    )?;
    set(
        &mut config,
        "connect/endpoints",
        serde_json::to_string(&connect)?,
    )?;
    set(&mut config, "scouting/multicast/enabled", "false".into())?;
    let session = zenoh::open(config).wait().map_err(|e| eyre!("{e}"))?;
    let key = args.key.clone();
    if args.side == "pub" {
        let publisher = session
            .declare_publisher(key)
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(|e| eyre!("{e}"))?;
        while !publisher
            .matching_status()
            .wait()
            .map_err(|e| eyre!("{e}"))?
            .matching()
        {
            if control.stop_requested() {
                return Ok(Exit::Ok);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut gen = LoadGen::new(SizeSpec::fixed(args.size), std::process::id(), 1)?;
        let mut buf = Box::new([0u8; PAYLOAD_CAPACITY]);
        let mut pacer =
            (args.rate > 0).then(|| forge_holder::pace::Pacer::new(args.rate, monotonic_ns()));
        for seq in 0..args.count {
            if let Some(p) = &pacer {
                let due = p.due_ns();
                // As forge-stream --wait park paces: sleep, then spin the rest.
                let now = monotonic_ns();
                if due > now + 200_000 {
                    std::thread::sleep(Duration::from_nanos(due - now - 100_000));
                }
                while monotonic_ns() < due {
                    std::hint::spin_loop();
                }
            }
            let len = gen.write_frame(&mut buf[..], seq, monotonic_ns);
            publisher
                .put(buf[..len].to_vec())
                .wait()
                .map_err(|e| eyre!("{e}"))?;
            if let Some(p) = &mut pacer {
                p.sent(monotonic_ns());
            }
        }
        // Let the last batch leave before the session closes.
        std::thread::sleep(Duration::from_millis(500));
    } else {
        let (tx, rx) = mpsc::sync_channel::<RunJson>(1);
        let count = args.count;
        let mut hist = Histogram::default();
        let (mut n, mut first) = (0u64, 0u64);
        let _sub = session
            .declare_subscriber(key)
            .callback_mut(move |sample| {
                let now = monotonic_ns();
                if let Ok(h) = decode_header(&sample.payload().to_bytes()) {
                    hist.record(now.saturating_sub(h.timestamp_ns));
                }
                if n == 0 {
                    first = now;
                }
                n += 1;
                if n == count {
                    let secs = (now - first) as f64 / 1e9;
                    let _ = tx.try_send(RunJson {
                        frames: n,
                        frames_per_s: if secs > 0.0 {
                            (n - 1) as f64 / secs
                        } else {
                            0.0
                        },
                        latency_ns: LatencyJson {
                            p50: hist.quantile(0.50).unwrap_or(0),
                            p99: hist.quantile(0.99).unwrap_or(0),
                        },
                        gaps: 0,
                    });
                }
            })
            .wait()
            .map_err(|e| eyre!("{e}"))?;
        let report = rx
            .recv_timeout(RUN_TIMEOUT)
            .map_err(|_| eyre!("the subscriber did not get {count} frames in {RUN_TIMEOUT:?}"))?;
        println!("{}", serde_json::to_string(&report)?);
    }
    let _ = session.close().wait();
    Ok(Exit::Ok)
}
