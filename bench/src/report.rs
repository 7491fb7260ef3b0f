//! The results: figures, the ratios that matter against their targets, and
//! the Markdown and JSON renderings.

use std::fmt::Write as _;

use forge_cli::human;
use serde::Serialize;

use crate::harness::{LatencySummary, Percentiles, Rate, Spread};
use crate::machine::Machine;
use crate::plan::{Budget, Plan};

/// What was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    FloorBusy,
    FloorPause,
    ForgeShm,
    /// Forge shm in a ring whose slots hold exactly the payload.
    ForgeShmSized,
    ForgeHeap,
    Rtrb,
    Iceoryx2,
    Uds,
    Pipe,
    Memcpy,
    MemcpyHot,
}

impl System {
    pub fn label(self) -> &'static str {
        match self {
            System::FloorBusy => "floor, no pause (2 threads)",
            System::FloorPause => "floor, pause (2 threads)",
            System::ForgeShm => "Forge shm (2 processes)",
            System::ForgeShmSized => "Forge shm, slots sized to the frame (2 processes)",
            System::ForgeHeap => "Forge heap ring (2 threads)",
            System::Rtrb => "rtrb (2 threads)",
            System::Iceoryx2 => "iceoryx2 (2 processes)",
            System::Uds => "Unix socket pair (2 processes)",
            System::Pipe => "pipes (2 processes)",
            System::Memcpy => "memcpy (1 core, 2 MiB → 2 MiB)",
            System::MemcpyHot => "memcpy (1 core, 2 MiB → one 4 KiB buffer)",
        }
    }

    /// Short name for plot legends.
    pub fn short(self) -> &'static str {
        match self {
            System::FloorBusy => "floor (no pause)",
            System::FloorPause => "floor (pause)",
            System::ForgeShm => "Forge shm",
            System::ForgeShmSized => "Forge shm sized",
            System::ForgeHeap => "Forge heap",
            System::Rtrb => "rtrb",
            System::Iceoryx2 => "iceoryx2",
            System::Uds => "socket pair",
            System::Pipe => "pipes",
            System::Memcpy => "memcpy",
            System::MemcpyHot => "memcpy to L1",
        }
    }
}

/// How the consumer gets at a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Where it lies in shared memory (zero-copy).
    InPlace,
    /// Copied out into a private buffer first.
    Copy,
}

impl ReadMode {
    pub fn label(self) -> &'static str {
        match self {
            ReadMode::InPlace => "in place",
            ReadMode::Copy => "copy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LatencyKind {
    RoundTrip,
    OneWay,
}

/// How often each side was descheduled against its will during a figure
/// (`nonvoluntary_ctxt_switches`): on a shared machine this is where tails
/// in the milliseconds come from.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Preempted {
    /// The measuring side (this process's main thread).
    pub here: Option<u64>,
    /// The peer thread or child process, when it could tell.
    pub peer: Option<u64>,
}

impl Preempted {
    fn cell(self) -> String {
        let n = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
        format!("{} / {}", n(self.here), n(self.peer))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyFigure {
    pub system: System,
    pub kind: LatencyKind,
    pub payload: usize,
    pub read: Option<ReadMode>,
    pub repeats: Vec<Percentiles>,
    pub summary: LatencySummary,
    pub preempted: Preempted,
}

#[derive(Debug, Clone, Serialize)]
pub struct RateFigure {
    pub system: System,
    pub payload: usize,
    pub read: Option<ReadMode>,
    /// Forge only: `head`/`tail` stored every `plan.batch` frames.
    pub batched: Option<bool>,
    pub repeats: Vec<Rate>,
    pub frames_per_s: Spread,
    pub bytes_per_s: Spread,
    /// Frames/s while both sides ran: per repeat, the median over its
    /// windows (see [`crate::harness::WINDOWS`]); then median and min–max
    /// over the repeats. What the ratios compare, since a window in which
    /// either side was descheduled measures the scheduler, not the ring.
    pub busy_frames_per_s: Option<Spread>,
    pub preempted: Preempted,
}

impl RateFigure {
    /// The frames/s the ratios use: while both sides ran, when known.
    pub fn ratio_frames_per_s(&self) -> Spread {
        self.busy_frames_per_s.unwrap_or(self.frames_per_s)
    }
}

/// One point of the ring-size sweep: Forge shm (in place, per-frame
/// publication) at one slot count and payload.
#[derive(Debug, Clone, Serialize)]
pub struct SweepFigure {
    pub slots: u32,
    pub payload: usize,
    /// Bytes of the segment (header and every slot).
    pub segment_bytes: u64,
    /// Bytes of the cache lines a full lap touches (the slot words and
    /// payloads), which is what has to stay cached.
    pub lap_bytes: u64,
    /// 4 KiB pages those lines lie on: one per slot or more, so every frame
    /// needs its own TLB entry.
    pub lap_pages: u64,
    /// Frames/s while both sides ran (median of windows, as in
    /// [`RateFigure::busy_frames_per_s`]).
    pub frames_per_s: Option<Spread>,
    pub rtt: Option<LatencySummary>,
    pub preempted: Preempted,
}

/// A round trip of the slot-layout probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeFigure {
    /// Bytes from one slot to the next.
    pub stride: usize,
    pub payload: usize,
    pub repeats: Vec<Percentiles>,
    pub summary: LatencySummary,
    pub preempted: Preempted,
}

/// Forge in a ring sized for the frame and rtrb, one repeat each in turn,
/// so that the two sides of each ratio ran seconds apart at most.
#[derive(Debug, Clone, Serialize)]
pub struct PairedFigure {
    pub payload: usize,
    /// Frames/s while both sides ran of each round's Forge repeat and rtrb
    /// repeat, in the order the rounds ran.
    pub rounds: Vec<(f64, f64)>,
    /// p50 round trip of the floor (one word each way) just before each
    /// round, ns: near 300 ns the two vCPUs sat on separate cores, near
    /// 100 ns on one core's two hardware threads.
    pub floor_before: Vec<f64>,
    /// Forge ÷ rtrb of each round: median and min–max over the rounds.
    pub ratio: Spread,
    pub forge: Spread,
    pub rtrb: Spread,
    pub floor: Spread,
    pub preempted: Preempted,
}

impl PairedFigure {
    pub fn of(
        payload: usize,
        rounds: Vec<(f64, f64)>,
        floor_before: Vec<f64>,
        preempted: Preempted,
    ) -> PairedFigure {
        PairedFigure {
            payload,
            ratio: Spread::of(rounds.iter().map(|(f, r)| f / r)),
            forge: Spread::of(rounds.iter().map(|r| r.0)),
            rtrb: Spread::of(rounds.iter().map(|r| r.1)),
            floor: Spread::of(floor_before.iter().copied()),
            rounds,
            floor_before,
            preempted,
        }
    }
}

/// All figures of a run, as they come in.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub latency: Vec<LatencyFigure>,
    pub throughput: Vec<RateFigure>,
    /// Forge (sized slots) and rtrb throughput, alternating.
    pub paired: Vec<PairedFigure>,
    pub probe: Vec<ProbeFigure>,
    /// The ring-size sweep (`--only slots`).
    pub sweep: Vec<SweepFigure>,
    /// Figures that could not be measured, and why.
    pub failures: Vec<String>,
}

impl Results {
    pub fn find_latency(
        &self,
        system: System,
        kind: LatencyKind,
        payload: usize,
        read: Option<ReadMode>,
    ) -> Option<&LatencyFigure> {
        self.latency.iter().find(|f| {
            f.system == system
                && f.kind == kind
                && f.payload == payload
                && (read.is_none() || f.read == read)
        })
    }

    pub fn find_rate(
        &self,
        system: System,
        payload: usize,
        read: Option<ReadMode>,
        batched: Option<bool>,
    ) -> Option<&RateFigure> {
        self.throughput.iter().find(|f| {
            f.system == system
                && f.payload == payload
                && (read.is_none() || f.read == read)
                && (batched.is_none() || f.batched == batched)
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Met,
    Missed,
    NotMeasured,
    /// No target: shown for context.
    Info,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "**met**",
            Verdict::Missed => "**missed**",
            Verdict::NotMeasured => "not measured",
            Verdict::Info => "—",
        }
    }
}

/// A ratio or absolute figure with its target.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    /// What exactly is divided by what.
    pub definition: String,
    pub value: Option<Spread>,
    /// "×" for ratios, "ns" for latencies.
    pub unit: &'static str,
    pub target: String,
    pub verdict: Verdict,
    /// Why it was not measured, when it was not.
    pub note: Option<String>,
}

/// Whole report: what `--json` prints and the Markdown is made from.
#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub machine: Machine,
    pub plan: Plan,
    pub checks: Vec<Check>,
    pub results: Results,
    pub notes: Vec<String>,
}

fn target(
    name: &str,
    definition: String,
    value: Option<Spread>,
    unit: &'static str,
    target: &str,
    ok: Option<fn(f64) -> bool>,
    missing: &str,
) -> Check {
    let verdict = match (value, ok) {
        (None, _) => Verdict::NotMeasured,
        (Some(_), None) => Verdict::Info,
        (Some(v), Some(ok)) if ok(v.median) => Verdict::Met,
        (Some(_), Some(_)) => Verdict::Missed,
    };
    Check {
        name: name.into(),
        definition,
        value,
        unit,
        target: target.into(),
        verdict,
        note: value.is_none().then(|| missing.to_owned()),
    }
}

/// The ratios the issue asks for, each against its target. The spread of a
/// ratio a/b is conservative: min(a)/max(b) to max(a)/min(b).
pub fn checks(r: &Results, plan: &Plan, ice_missing: &str) -> Vec<Check> {
    use LatencyKind::*;
    use ReadMode::*;
    use System::*;
    let rtt = |s, p, m| r.find_latency(s, RoundTrip, p, m).map(|f| f.summary.p50);
    let oneway = |p, m| {
        r.find_latency(ForgeShm, OneWay, p, Some(m))
            .map(|f| f.summary)
    };
    let fps = |s, p, m, b| r.find_rate(s, p, m, b).map(RateFigure::ratio_frames_per_s);
    let bps = |s, p, m, b| r.find_rate(s, p, m, b).map(|f| f.bytes_per_s);
    let ratio = |a: Option<Spread>, b: Option<Spread>| Some(Spread::ratio(a?, b?));
    let le = |x: f64| x <= 1.2;
    let mut out = vec![
        target(
            "Forge RTT / floor RTT, 8 B",
            "p50 round trip of Forge shm (8 B, in place) ÷ p50 of the floor ping-pong (one 8-byte word) with the same spin policy (pause)".into(),
            ratio(rtt(ForgeShm, 8, Some(InPlace)), rtt(FloorPause, 8, None)),
            "×",
            "≤ 1.2×",
            Some(le),
            "needs the floor and Forge shm round trips (groups floor, rtt)",
        ),
        target(
            "Forge RTT / floor RTT, 8 B, sized slots",
            "the same with the ring made for 8-byte frames (`forge-init --payload-capacity 8`: 16-byte slots)".into(),
            ratio(rtt(ForgeShmSized, 8, Some(InPlace)), rtt(FloorPause, 8, None)),
            "×",
            "≤ 1.2×",
            Some(le),
            "needs the floor and Forge shm round trips (groups floor, rtt)",
        ),
        target(
            "Forge RTT / floor RTT, 64 B",
            "p50 round trip of Forge shm (in place) ÷ p50 of the floor ping-pong with the same spin policy (pause)".into(),
            ratio(rtt(ForgeShm, 64, Some(InPlace)), rtt(FloorPause, 8, None)),
            "×",
            "≤ 1.2×",
            Some(le),
            "needs the floor and Forge shm round trips (groups floor, rtt)",
        ),
        target(
            "Forge RTT / floor RTT (no pause), 64 B",
            "p50 round trip of Forge shm (in place) ÷ p50 of the floor ping-pong without the pause hint".into(),
            ratio(rtt(ForgeShm, 64, Some(InPlace)), rtt(FloorBusy, 8, None)),
            "×",
            "context",
            None,
            "needs the floor and Forge shm round trips",
        ),
        target(
            "Forge one-way p50, 64 B",
            format!(
                "p50 from the producer's clock read before commit to the consumer's after it has the frame in place, one frame every {} ns",
                plan.pace_ns
            ),
            oneway(64, InPlace).map(|s| s.p50),
            "ns",
            "< 150 ns",
            Some(|x| x < 150.0),
            "needs group oneway",
        ),
        target(
            "Forge one-way / floor one-way, p50, 64 B",
            "p50 one-way of Forge shm (64 B, in place) ÷ p50 of a paced clock value stored into one line and polled from the other core (the one-way floor, same clocks and pacing)".into(),
            ratio(
                oneway(64, InPlace).map(|s| s.p50),
                r.find_latency(FloorPause, OneWay, 8, None).map(|f| f.summary.p50),
            ),
            "×",
            "context",
            None,
            "needs group oneway",
        ),
        target(
            "Forge one-way p99, 4096 B in place",
            "p99 of the same one-way latency for 4 KiB frames read in place".into(),
            oneway(4096, InPlace).map(|s| s.p99),
            "ns",
            "< 1000 ns",
            Some(|x| x < 1000.0),
            "needs group oneway",
        ),
        target(
            "Forge / rtrb RTT, 64 B",
            "p50 round trip of Forge shm (2 processes, in place) ÷ rtrb (2 threads, in place); lower is better".into(),
            ratio(rtt(ForgeShm, 64, Some(InPlace)), rtt(Rtrb, 64, Some(InPlace))),
            "×",
            "context",
            None,
            "needs groups rtt and rtrb",
        ),
        target(
            "Forge 4 KiB bytes/s / memcpy",
            "bytes/s of Forge shm at 4096 B (in place, every byte read, batching off) ÷ memcpy bandwidth of one core in 4 KiB blocks over a ring-sized working set".into(),
            ratio(
                bps(ForgeShm, 4096, Some(InPlace), Some(false)),
                r.find_rate(Memcpy, 4096, None, None).map(|f| f.bytes_per_s),
            ),
            "×",
            "≥ 0.5×",
            Some(|x| x >= 0.5),
            "needs groups throughput and memcpy",
        ),
        target(
            "Forge 4 KiB bytes/s (batched) / memcpy",
            format!(
                "the same with head/tail stored every {} frames",
                plan.batch
            ),
            ratio(
                bps(ForgeShm, 4096, Some(InPlace), Some(true)),
                r.find_rate(Memcpy, 4096, None, None).map(|f| f.bytes_per_s),
            ),
            "×",
            "context",
            None,
            "needs groups throughput and memcpy",
        ),
        target(
            "Forge 4 KiB bytes/s (copy out) / memcpy to L1",
            "bytes/s of Forge shm at 4096 B (every frame copied out, batching off) ÷ memcpy of one core from a ring-sized source into one 4 KiB buffer, the same copy with the source local".into(),
            ratio(
                bps(ForgeShm, 4096, Some(Copy), Some(false)),
                r.find_rate(MemcpyHot, 4096, None, None).map(|f| f.bytes_per_s),
            ),
            "×",
            "context",
            None,
            "needs groups throughput and memcpy",
        ),
        target(
            "socket pair RTT / Forge RTT, 64 B",
            "p50 round trip of a Unix socket pair (blocking) ÷ Forge shm (in place)".into(),
            ratio(rtt(Uds, 64, None), rtt(ForgeShm, 64, Some(InPlace))),
            "×",
            "≥ 25×",
            Some(|x| x >= 25.0),
            "needs groups kernel and rtt",
        ),
        target(
            "pipes RTT / Forge RTT, 64 B",
            "p50 round trip over two pipes (blocking) ÷ Forge shm (in place)".into(),
            ratio(rtt(Pipe, 64, None), rtt(ForgeShm, 64, Some(InPlace))),
            "×",
            "context",
            None,
            "needs groups kernel and rtt",
        ),
    ];
    for p in [8, 64, 1024, 4096] {
        let rtrb = fps(Rtrb, p, Some(InPlace), None);
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, per-frame publication"),
            "frames/s while both sides ran of Forge shm (in place, head and tail stored every frame) ÷ rtrb (in place, read_chunk)".into(),
            ratio(fps(ForgeShm, p, Some(InPlace), Some(false)), rtrb),
            "×",
            "≥ 1×",
            Some(|x| x >= 1.0),
            "needs groups throughput and rtrb",
        ));
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, per-frame, sized slots"),
            format!("the same in a ring made for {p}-byte frames (`forge-init --payload-capacity {p}`: {}-byte slots, the way rtrb holds {p}-byte elements)", p + 8),
            ratio(fps(ForgeShmSized, p, Some(InPlace), Some(false)), rtrb),
            "×",
            "≥ 1×",
            Some(|x| x >= 1.0),
            "needs groups throughput and rtrb",
        ));
        let paired = r.paired.iter().find(|f| f.payload == p);
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, sized slots, alternating"),
            format!("frames/s while both sides ran of Forge shm in a ring sized for the frame ÷ rtrb, one repeat of each in turn ({} rounds, the side going first alternating): the median of the rounds' ratios, so that the two sides of each ratio met the same machine", 2 * plan.repeats),
            paired.map(|f| f.ratio),
            "×",
            "≥ 1×",
            Some(|x| x >= 1.0),
            "needs groups throughput and rtrb",
        ));
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, batched"),
            format!(
                "the same with Forge's head/tail stored every {} frames",
                plan.batch
            ),
            ratio(fps(ForgeShm, p, Some(InPlace), Some(true)), rtrb),
            "×",
            "context",
            None,
            "needs groups throughput and rtrb",
        ));
        out.push(target(
            &format!("Forge / rtrb throughput, {p} B, copy out"),
            "frames/s while both sides ran of Forge shm (copy out, batching off) ÷ rtrb (pop)"
                .into(),
            ratio(
                fps(ForgeShm, p, Some(Copy), Some(false)),
                fps(Rtrb, p, Some(Copy), None),
            ),
            "×",
            "context",
            None,
            "needs groups throughput and rtrb",
        ));
    }
    for p in [8, 64, 1024, 4096] {
        let mut c = target(
            &format!("Forge / iceoryx2 RTT, {p} B"),
            "p50 round trip of Forge shm (in place) ÷ iceoryx2 publish/subscribe (in place), both 2 processes".into(),
            ratio(rtt(ForgeShm, p, Some(InPlace)), rtt(Iceoryx2, p, None)),
            "×",
            "≤ 1×",
            Some(|x| x <= 1.0),
            ice_missing,
        );
        if c.value.is_none() && r.find_latency(Iceoryx2, RoundTrip, p, None).is_some() {
            c.note = Some("needs group rtt".into());
        }
        out.push(c);
    }
    out
}

/// A duration in ns with a unit that keeps 2 to 4 significant digits.
pub fn fmt_ns(v: f64) -> String {
    let (n, unit) = human::duration_parts(v);
    format!("{n} {unit}")
}

fn spread_with(s: Spread, f: impl Fn(f64) -> String) -> String {
    format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
}

/// "316 (310–330) ns" when one unit fits all three, else each with its own.
fn ns_spread(s: Spread) -> String {
    let (m, mu) = human::duration_parts(s.median);
    let (lo, lu) = human::duration_parts(s.min);
    let (hi, hu) = human::duration_parts(s.max);
    if mu == lu && mu == hu {
        format!("{m} ({lo}–{hi}) {mu}")
    } else {
        format!("{m} {mu} ({lo} {lu} – {hi} {hu})")
    }
}

fn ratio_cell(s: Spread, unit: &str) -> String {
    match unit {
        "ns" => ns_spread(s),
        _ => format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max),
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let p = &self.plan;
        let mut s = String::new();
        let _ = writeln!(s, "# forge-bench\n");
        if p.budget != Budget::Full {
            let _ = writeln!(
                s,
                "> **{} run**: fewer samples than the full run; use the full run for published figures.\n",
                match p.budget {
                    Budget::Smoke => "Smoke",
                    _ => "Quick",
                }
            );
        }
        let _ = writeln!(s, "## Machine and method\n");
        let _ = writeln!(s, "| | |\n|---|---|");
        let row = |s: &mut String, k: &str, v: &str| {
            let _ = writeln!(s, "| {k} | {v} |");
        };
        row(&mut s, "CPU", &m.cpu);
        row(
            &mut s,
            "cores",
            &format!(
                "{} online; measuring side on core {}, peer on core {}{}",
                m.online_cpus,
                m.cores_used[0],
                m.cores_used[1],
                match m.smt_siblings {
                    Some(true) => " (SMT siblings of one physical core)",
                    Some(false) => " (not SMT siblings, per the topology the kernel sees)",
                    None => "",
                }
            ),
        );
        row(&mut s, "virtualisation", &m.virtualisation);
        row(
            &mut s,
            "kernel, clock",
            &format!(
                "Linux {}; clocksource {}; one CLOCK_MONOTONIC read costs {:.1} ns",
                m.kernel, m.clocksource, m.clock_read_ns
            ),
        );
        row(&mut s, "build", &m.build_profile);
        row(&mut s, "spin policy", &m.spin_policy);
        row(&mut s, "caches (measuring core)", &m.caches_line());
        row(
            &mut s,
            "load average (1, 5, 15 min)",
            &format!("{} before, {} after", m.load_before, m.load_after),
        );
        row(
            &mut s,
            "samples",
            &format!(
                "{} repeats of every figure, each cell the median (min–max of the repeats); round trips: {} per repeat over shared memory, {} through the kernel; one-way: {} per repeat; throughput: {} frames per repeat up to 64 B, {} above, {} through the kernel; warm-up discarded (a tenth, and at least 4 ring laps)",
                p.repeats,
                p.rtt_samples,
                p.kernel_rtt_samples,
                p.oneway_samples,
                p.tput_frames_small,
                p.tput_frames_large,
                p.kernel_tput_frames
            ),
        );
        row(
            &mut s,
            "preempted",
            "times the measuring side / its peer were descheduled against their will during the figure (nonvoluntary context switches; ? when the peer cannot tell): millisecond tails come from these, not from the ring",
        );
        row(
            &mut s,
            "rings",
            &format!(
                "{} slots everywhere (Forge, rtrb, iceoryx2 subscriber buffer)",
                p.slots
            ),
        );

        let _ = writeln!(s, "\n## Ratios and targets\n");
        let _ = writeln!(
            s,
            "Ratios of medians; the range is conservative: min(a)/max(b) to max(a)/min(b) over the repeats.\n"
        );
        let _ = writeln!(
            s,
            "| figure | value | target | verdict |\n|---|---|---|---|"
        );
        for c in &self.checks {
            let value = match (&c.value, &c.note) {
                (Some(v), _) => ratio_cell(*v, c.unit),
                (None, Some(n)) => format!("not measured: {n}"),
                (None, None) => "not measured".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                c.name,
                value,
                c.target,
                c.verdict.label()
            );
        }
        let _ = writeln!(s, "\nDefinitions:\n");
        for c in &self.checks {
            let _ = writeln!(s, "- *{}*: {}.", c.name, c.definition);
        }

        let rtts: Vec<_> = self
            .results
            .latency
            .iter()
            .filter(|f| f.kind == LatencyKind::RoundTrip)
            .collect();
        if !rtts.is_empty() {
            let _ = writeln!(s, "\n## Round trip\n");
            let _ = writeln!(
                s,
                "One frame there and back; one clock read per round trip. The floor moves one 8-byte word.\n"
            );
            let _ = writeln!(
                s,
                "| system | payload | read | p50 | p90 | p99 | p99.9 | max | preempted |\n|---|---|---|---|---|---|---|---|---|"
            );
            for f in rtts {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    f.system.label(),
                    human::bytes(f.payload as u64),
                    f.read.map_or("—", ReadMode::label),
                    ns_spread(f.summary.p50),
                    ns_spread(f.summary.p90),
                    ns_spread(f.summary.p99),
                    ns_spread(f.summary.p999),
                    ns_spread(f.summary.max),
                    f.preempted.cell(),
                );
            }
        }
        let oneway: Vec<_> = self
            .results
            .latency
            .iter()
            .filter(|f| f.kind == LatencyKind::OneWay)
            .collect();
        if !oneway.is_empty() {
            let _ = writeln!(s, "\n## One-way latency\n");
            let _ = writeln!(
                s,
                "Paced: one frame every {} ns, so frames do not queue. From the producer's clock read just before commit to the consumer's once it has the frame (in place: its timestamp read where it lies; copy: the whole frame copied out). Both clocks are CLOCK_MONOTONIC on the same TSC.\n",
                p.pace_ns
            );
            let _ = writeln!(
                s,
                "| payload | read | p50 | p90 | p99 | p99.9 | p99.99 | max | preempted |\n|---|---|---|---|---|---|---|---|---|"
            );
            for f in oneway {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    if f.system == System::ForgeShm {
                        human::bytes(f.payload as u64)
                    } else {
                        "floor: one line, no ring".into()
                    },
                    f.read.map_or("—", ReadMode::label),
                    ns_spread(f.summary.p50),
                    ns_spread(f.summary.p90),
                    ns_spread(f.summary.p99),
                    ns_spread(f.summary.p999),
                    ns_spread(f.summary.p9999),
                    ns_spread(f.summary.max),
                    f.preempted.cell(),
                );
            }
        }
        if !self.results.throughput.is_empty() {
            let _ = writeln!(s, "\n## Throughput\n");
            let _ = writeln!(
                s,
                "At full speed. In place, the consumer reads every byte where it lies (a sum of its 8-byte words); copy, it copies every frame out. Batching stores Forge's `head`/`tail` every {} frames instead of every frame. *While both ran*: each repeat is cut into {} windows and the median window's rate taken (a window in which either side was descheduled is slow, and the median leaves it out); the ratios use this. *Whole repeat*: frames over the repeat's wall time, preemptions included.\n",
                p.batch,
                crate::harness::WINDOWS
            );
            let _ = writeln!(
                s,
                "| system | payload | read | batching | frames/s while both ran | frames/s, whole repeat | bytes/s, whole repeat | preempted |\n|---|---|---|---|---|---|---|---|"
            );
            for f in &self.results.throughput {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    f.system.label(),
                    human::bytes(f.payload as u64),
                    f.read.map_or("—", ReadMode::label),
                    match f.batched {
                        Some(true) => "on",
                        Some(false) => "off",
                        None => "—",
                    },
                    f.busy_frames_per_s
                        .map_or("—".into(), |b| spread_with(b, |v| human::si_unit(
                            v, "/s"
                        ))),
                    spread_with(f.frames_per_s, |v| human::si_unit(v, "/s")),
                    spread_with(f.bytes_per_s, |v| human::si_unit(v, "B/s")),
                    f.preempted.cell(),
                );
            }
        }
        if !self.results.paired.is_empty() {
            self.paired_markdown(&mut s);
        }
        if !self.results.probe.is_empty() {
            let _ = writeln!(s, "\n## Slot-layout probe\n");
            let _ = writeln!(
                s,
                "Forge's slot protocol (payload stores, then the slot word with Release; the reader polls the word with Acquire, then reads the payload) on plain atomics between two threads; only the slot stride changes. 4104 is Forge's (8-byte word + 4096-byte payload): its words drift through the cache line and half its 64-byte frames straddle a 128-byte boundary. Round trip:\n"
            );
            let _ = writeln!(
                s,
                "| payload | slot stride | p50 | p90 | p99 | p99.9 | preempted |\n|---|---|---|---|---|---|---|"
            );
            for f in &self.results.probe {
                let _ = writeln!(
                    s,
                    "| {} | {} B{} | {} | {} | {} | {} | {} |",
                    human::bytes(f.payload as u64),
                    f.stride,
                    match f.stride % 128 {
                        0 => " (128-aligned)",
                        64 => " (64-aligned)",
                        _ if f.stride % 64 == 0 => " (64-aligned)",
                        _ => " (Forge today)",
                    },
                    ns_spread(f.summary.p50),
                    ns_spread(f.summary.p90),
                    ns_spread(f.summary.p99),
                    ns_spread(f.summary.p999),
                    f.preempted.cell(),
                );
            }
        }
        if !self.results.sweep.is_empty() {
            self.sweep_markdown(&mut s);
        }
        let _ = writeln!(s, "\n## Plots\n");
        let _ = writeln!(
            s,
            "![Round-trip latency percentiles by payload](latency.svg)\n"
        );
        let _ = writeln!(s, "![Throughput by payload](throughput.svg)");
        if !self.results.sweep.is_empty() {
            let _ = writeln!(s, "\n![Throughput and round trip by ring size](slots.svg)");
        }
        if !self.results.failures.is_empty() || !self.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
            for f in &self.results.failures {
                let _ = writeln!(s, "- failed: {f}");
            }
        }
        s
    }

    fn paired_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "\n## Forge beside rtrb, in turn\n");
        let _ = writeln!(
            s,
            "On a shared machine the rate two cores reach moves by up to 2× from one minute to the next, so two figures measured a minute apart can disagree by more than the rings do. Here Forge (2 processes, in place, per-frame publication, a ring sized for the frame) and rtrb (2 threads, in place) run one repeat each in turn, the side going first alternating, and each round's ratio is taken before the median. Frames/s while both ran. *Floor*: the one-word round trip measured just before each round, which shows where the host had put the two vCPUs (about 300 ns on separate cores on this guest, about 100 ns on one core's two hardware threads); `results.json` has every round.\n"
        );
        let _ = writeln!(
            s,
            "| payload | rounds | Forge, sized slots | rtrb | Forge / rtrb per round | floor before each round | preempted |\n|---|---|---|---|---|---|---|"
        );
        for f in &self.results.paired {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                human::bytes(f.payload as u64),
                f.rounds.len(),
                spread_with(f.forge, |v| human::si_unit(v, "/s")),
                spread_with(f.rtrb, |v| human::si_unit(v, "/s")),
                ratio_cell(f.ratio, "×"),
                ns_spread(f.floor),
                f.preempted.cell(),
            );
        }
    }

    fn sweep_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "\n## Ring size\n");
        let _ = writeln!(
            s,
            "Forge shm, 2 processes, in place, head and tail stored every frame, at each ring size. *Per lap* is what one lap of frames of this size touches (slot words and payload lines): it has to stay in the caches for the ring to run from them. *Fits in* compares it with the measuring core's caches above. *Pages* is how many 4 KiB pages those lines lie on: every slot starts a page of its own, so each frame needs its own TLB entry. Throughput is frames/s while both sides ran; the round trip is p50 (p99).\n"
        );
        let _ = writeln!(
            s,
            "| payload | slots | segment | per lap | fits in | pages | frames/s | round trip p50 (p99) | preempted |\n|---|---|---|---|---|---|---|---|---|"
        );
        for f in &self.results.sweep {
            let rtt = f.rtt.map_or("—".into(), |r| {
                format!("{} ({})", fmt_ns(r.p50.median), fmt_ns(r.p99.median))
            });
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                human::bytes(f.payload as u64),
                f.slots,
                human::bytes(f.segment_bytes),
                human::bytes(f.lap_bytes),
                self.machine.fits_in(f.lap_bytes),
                f.lap_pages,
                f.frames_per_s
                    .map_or("—".into(), |v| spread_with(v, |x| human::si_unit(
                        x, "/s"
                    ))),
                rtt,
                f.preempted.cell(),
            );
        }
    }
}
