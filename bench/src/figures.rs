//! The figures a run measures, as they come in: latencies, rates, the
//! ring-size sweep, the slot-layout probe and the in-turn pairs.

use serde::Serialize;

use crate::harness::{LatencySummary, Percentiles, Rate, Spread};

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
    pub fn cell(self) -> String {
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
