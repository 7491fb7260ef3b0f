//! What every measurement shares: the bounded spin, the stop flag, timing,
//! percentiles and the median/min/max summary of repeats.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error`] from a format string.
macro_rules! err {
    ($($t:tt)*) => { $crate::harness::Error::from(format!($($t)*)) };
}
pub(crate) use err;

/// Set by the signal thread on SIGINT/SIGTERM: every spin loop gives up.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The figure running now, and the last figure whose peer (child process or
/// thread) ended. A side still spinning 100 ms after its own figure's peer
/// ended waits for something that will not come, and gives up instead of
/// running into its deadline. Ids, not a flag, so a late notice from an
/// earlier figure's peer cannot stop this one.
static FIGURE: AtomicU64 = AtomicU64::new(0);
static PEER_GONE: AtomicU64 = AtomicU64::new(u64::MAX);

/// Starts a new figure; returns its id for [`peer_gone`].
pub fn begin_figure() -> u64 {
    // SYNC: pairs with the Acquire load of FIGURE in `Spinner::check`.
    FIGURE.fetch_add(1, Ordering::AcqRel) + 1
}

/// The peer of figure `id` has ended.
pub fn peer_gone(id: u64) {
    // SYNC: pairs with the Acquire load of PEER_GONE in `Spinner::check`.
    PEER_GONE.store(id, Ordering::Release);
}

/// How long a side may keep spinning after its peer has ended (frames the
/// peer committed before it exited are consumed well within this).
const PEER_GONE_GRACE_NS: u64 = 100_000_000;

/// Times the calling thread was descheduled against its will so far
/// (`nonvoluntary_ctxt_switches`), if the kernel says. Read between figures
/// only: it is a file read.
pub fn preemptions() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Preemptions of the current figure's peer, `u64::MAX` when not known.
static PEER_PREEMPTED: AtomicU64 = AtomicU64::new(u64::MAX);

pub fn set_peer_preempted(n: u64) {
    // SYNC: pairs with the AcqRel swap in `take_peer_preempted`.
    PEER_PREEMPTED.store(n, Ordering::Release);
}

/// The peer's count for the figure that just ran, and forget it.
pub fn take_peer_preempted() -> Option<u64> {
    // SYNC: pairs with the Release store in `set_peer_preempted`.
    match PEER_PREEMPTED.swap(u64::MAX, Ordering::AcqRel) {
        u64::MAX => None,
        n => Some(n),
    }
}

/// Pins the calling thread to `core`. The main thread is pinned to core A
/// before peers start, and peers inherit that mask, so widen it to both
/// cores first: `pin_to` only accepts cores in the current mask.
pub fn pin(core: u32, pair: [u32; 2]) -> Result<()> {
    let mut both = nix::sched::CpuSet::new();
    for c in pair {
        both.set(c as usize)?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &both)
        .map_err(|e| err!("cannot set the affinity to cores {pair:?}: {e}"))?;
    forge_holder::pin::pin_to(core)?;
    Ok(())
}

/// CLOCK_MONOTONIC through the vDSO, the clock of Forge frame timestamps.
#[inline(always)]
pub fn now_ns() -> u64 {
    forge_fabric::clock::monotonic_ns()
}

/// How a waiting side spins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum SpinPolicy {
    /// Busy-spin with the CPU's pause hint between polls (Forge's default).
    Pause,
    /// Busy-spin with no hint: lowest latency, harder on a sibling thread.
    Busy,
}

impl SpinPolicy {
    pub fn describe(self) -> &'static str {
        match self {
            SpinPolicy::Pause => {
                "busy-spin with the pause hint (`core::hint::spin_loop`) between polls"
            }
            SpinPolicy::Busy => "busy-spin with no pause hint",
        }
    }
}

/// A spin loop that cannot run forever: every 4096 polls it checks the
/// deadline and the stop flag, so a dead peer becomes an error, not a hang.
pub struct Spinner {
    policy: SpinPolicy,
    deadline_ns: u64,
    polls: u32,
    what: &'static str,
    /// When this side first saw [`PEER_GONE`], 0 if not yet.
    gone_since: u64,
}

impl Spinner {
    pub fn new(policy: SpinPolicy, budget: std::time::Duration, what: &'static str) -> Self {
        Spinner {
            policy,
            deadline_ns: now_ns().saturating_add(budget.as_nanos() as u64),
            polls: 0,
            what,
            gone_since: 0,
        }
    }

    /// One wait step.
    #[inline(always)]
    pub fn spin(&mut self) -> Result<()> {
        if self.policy == SpinPolicy::Pause {
            std::hint::spin_loop();
        }
        self.polls = self.polls.wrapping_add(1);
        if self.polls & 0xFFF == 0 {
            return self.check();
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn check(&mut self) -> Result<()> {
        // SYNC: pairs with the Relaxed store of STOP by the signal thread
        // (proc.rs); a flag only.
        if STOP.load(Ordering::Relaxed) {
            return Err(err!("interrupted while {}", self.what));
        }
        let now = now_ns();
        // SYNC: pairs with the Release store in `peer_gone` and the AcqRel
        // fetch_add in `begin_figure`.
        if PEER_GONE.load(Ordering::Acquire) == FIGURE.load(Ordering::Acquire) {
            if self.gone_since == 0 {
                self.gone_since = now;
            } else if now - self.gone_since > PEER_GONE_GRACE_NS {
                return Err(err!("the peer ended while this side was {}", self.what));
            }
        }
        if now > self.deadline_ns {
            return Err(err!(
                "timed out while {}: the peer stopped answering",
                self.what
            ));
        }
        Ok(())
    }
}

/// Percentiles of one repeat, in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub samples: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

/// A histogram for one repeat: 1 ns to 1 hour at 3 significant digits.
pub struct Hist(Histogram<u64>);

impl Hist {
    pub fn new() -> Self {
        Hist(Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("static bounds are valid"))
    }

    #[inline(always)]
    pub fn record(&mut self, ns: u64) {
        self.0.saturating_record(ns.max(1));
    }

    pub fn percentiles(&self) -> Percentiles {
        let q = |q: f64| self.0.value_at_quantile(q);
        Percentiles {
            samples: self.0.len(),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max: self.0.max(),
        }
    }

    pub fn reset(&mut self) {
        self.0.reset();
    }
}

/// Median with the min–max spread of the repeats.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Spread {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }

    /// `a / b` with conservative bounds: the smallest and largest ratio any
    /// pairing of repeats could give.
    pub fn ratio(a: Spread, b: Spread) -> Spread {
        Spread {
            median: a.median / b.median,
            min: a.min / b.max,
            max: a.max / b.min,
        }
    }
}

/// Per-percentile spreads over the repeats of one latency figure.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LatencySummary {
    pub p50: Spread,
    pub p90: Spread,
    pub p99: Spread,
    pub p999: Spread,
    pub p9999: Spread,
    pub max: Spread,
}

impl LatencySummary {
    pub fn of(reps: &[Percentiles]) -> Self {
        let s = |f: fn(&Percentiles) -> u64| Spread::of(reps.iter().map(|p| f(p) as f64));
        LatencySummary {
            p50: s(|p| p.p50),
            p90: s(|p| p.p90),
            p99: s(|p| p.p99),
            p999: s(|p| p.p999),
            p9999: s(|p| p.p9999),
            max: s(|p| p.max),
        }
    }
}

/// Times `repeats` runs of `samples` calls of `one` (after `warmup` calls
/// that are thrown away), one clock read per sample: each sample is the time
/// from the end of the previous call to the end of this one.
pub fn time_repeats(
    warmup: u64,
    samples: u64,
    repeats: usize,
    mut one: impl FnMut(u64) -> Result<()>,
) -> Result<Vec<Percentiles>> {
    let mut seq = 1u64;
    for _ in 0..warmup {
        one(seq)?;
        seq += 1;
    }
    let mut hist = Hist::new();
    let mut out = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        hist.reset();
        let mut t0 = now_ns();
        for _ in 0..samples {
            one(seq)?;
            seq += 1;
            let t1 = now_ns();
            hist.record(t1 - t0);
            t0 = t1;
        }
        out.push(hist.percentiles());
    }
    Ok(out)
}

/// Frames and bytes per second of one repeat.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    pub frames: u64,
    pub seconds: f64,
    pub frames_per_s: f64,
    pub bytes_per_s: f64,
    /// Median frames/s over the repeat's windows of [`WINDOWS`]ths, when it
    /// was cut into windows: a window in which either side was descheduled
    /// is slow, and the median leaves those out.
    pub window_frames_per_s: Option<f64>,
}

/// Windows each throughput repeat is cut into.
pub const WINDOWS: u64 = 64;

impl Rate {
    pub fn new(frames: u64, payload: usize, ns: u64) -> Rate {
        let seconds = ns.max(1) as f64 / 1e9;
        Rate {
            frames,
            seconds,
            frames_per_s: frames as f64 / seconds,
            bytes_per_s: (frames * payload as u64) as f64 / seconds,
            window_frames_per_s: None,
        }
    }
}

/// Consumes `warmup` frames, then `repeats` runs of `frames` frames, timing
/// each run from the end of the previous one. `one` consumes a frame.
///
/// Callers mark `one` `#[inline(always)]`. Left to the compiler, it stayed a
/// function call per frame, and at 8-byte frames that call took about half
/// of the frame rate: rtrb and Forge alike measured at half the speed they
/// run at.
pub fn rate_repeats(
    payload: usize,
    warmup: u64,
    frames: u64,
    repeats: usize,
    mut one: impl FnMut() -> Result<()>,
) -> Result<Vec<Rate>> {
    for _ in 0..warmup {
        one()?;
    }
    let mut out = Vec::with_capacity(repeats);
    let per_window = (frames / WINDOWS).max(1);
    let mut windows = Vec::with_capacity(WINDOWS as usize + 1);
    let mut t0 = now_ns();
    for _ in 0..repeats {
        windows.clear();
        let (mut done, mut tw) = (0, t0);
        while done < frames {
            let n = per_window.min(frames - done);
            for _ in 0..n {
                one()?;
            }
            done += n;
            let t = now_ns();
            windows.push(n as f64 * 1e9 / (t - tw).max(1) as f64);
            tw = t;
        }
        let mut rate = Rate::new(frames, payload, tw - t0);
        rate.window_frames_per_s = Some(Spread::of(windows.iter().copied()).median);
        out.push(rate);
        t0 = tw;
    }
    Ok(out)
}

/// Reads every byte of a frame where it lies, as a consumer working in
/// place would: a wrapping sum of its 8-byte words.
#[inline]
pub fn touch(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut sum = 0u64;
    for c in &mut chunks {
        sum = sum.wrapping_add(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
    }
    for &b in chunks.remainder() {
        sum = sum.wrapping_add(u64::from(b));
    }
    sum
}

/// The sequence number or timestamp in a frame's first 8 bytes.
#[inline(always)]
pub fn first_word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(w)
}

/// Stores `v` in a frame's first 8 bytes.
#[inline(always)]
pub fn set_first_word(bytes: &mut [u8], v: u64) {
    bytes[..8].copy_from_slice(&v.to_le_bytes());
}

/// A buffer with every page written once, so no page fault lands in a
/// measurement.
pub fn touched_buffer(len: usize, fill: u8) -> Vec<u8> {
    let mut v = vec![0u8; len];
    v.fill(fill);
    std::hint::black_box(&mut v);
    v
}
