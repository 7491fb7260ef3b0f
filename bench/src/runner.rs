//! Runs the figures one after the other, keeping going when one fails,
//! and collects what they measured into the [`Results`].

use std::sync::atomic::Ordering;

use crate::figures::{
    LatencyFigure, LatencyKind, PairedFigure, Preempted, ProbeFigure, RateFigure, ReadMode,
    Results, SweepFigure, System,
};
use crate::harness::{
    self, err, preemptions, take_peer_preempted, LatencySummary, Percentiles, Rate, Result, Spread,
    STOP,
};
use crate::plan::Ctx;
use crate::{floor, forge, probe, rtrb_peer};

/// Runs figures one after the other, keeping going when one fails.
pub struct Runner<'a> {
    ctx: &'a Ctx,
    started: std::time::Instant,
    results: Results,
    done: usize,
    total: usize,
}

impl<'a> Runner<'a> {
    /// A runner of `total` figures in `ctx`.
    pub fn new(ctx: &'a Ctx, total: usize) -> Self {
        Runner {
            ctx,
            started: std::time::Instant::now(),
            results: Results::default(),
            done: 0,
            total,
        }
    }

    /// What the figures measured.
    pub fn finish(self) -> Results {
        self.results
    }
}

impl Runner<'_> {
    /// Starts a figure; returns this side's preemption count so far.
    fn start(&mut self, what: &str) -> Option<u64> {
        self.done += 1;
        let _ = take_peer_preempted();
        eprint!(
            "[{:>2}/{} {:>5.1}s] {what:<46} ",
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64()
        );
        preemptions()
    }

    fn preempted(before: Option<u64>) -> Preempted {
        Preempted {
            here: before.zip(preemptions()).map(|(b, a)| a.saturating_sub(b)),
            peer: take_peer_preempted(),
        }
    }

    fn fail(&mut self, what: String, e: harness::Error) -> Result<()> {
        eprintln!("FAILED: {e}");
        self.results.failures.push(format!("{what}: {e}"));
        // SYNC: pairs with the Relaxed store of STOP by the signal thread
        // (proc.rs); a flag only.
        if STOP.load(Ordering::Relaxed) {
            return Err(err!("interrupted"));
        }
        Ok(())
    }

    pub fn latency(
        &mut self,
        system: System,
        kind: LatencyKind,
        payload: usize,
        read: Option<ReadMode>,
        f: impl FnOnce(&Ctx) -> Result<Vec<Percentiles>>,
    ) -> Result<()> {
        let what = format!(
            "{} {} {payload} B{}",
            system.short(),
            match kind {
                LatencyKind::RoundTrip => "RTT",
                LatencyKind::OneWay => "one-way",
            },
            read.map(|r| format!(" {}", r.label())).unwrap_or_default()
        );
        let before = self.start(&what);
        match f(self.ctx) {
            Ok(repeats) => {
                let preempted = Self::preempted(before);
                let summary = LatencySummary::of(&repeats);
                eprintln!(
                    "p50 {}  p99 {}  preempted {:?}/{:?}",
                    crate::report::fmt_ns(summary.p50.median),
                    crate::report::fmt_ns(summary.p99.median),
                    preempted.here,
                    preempted.peer
                );
                self.results.latency.push(LatencyFigure {
                    system,
                    kind,
                    payload,
                    read,
                    repeats,
                    summary,
                    preempted,
                });
                Ok(())
            }
            Err(e) => self.fail(what, e),
        }
    }

    pub fn probe(&mut self, stride: usize, payload: usize) -> Result<()> {
        let what = format!("layout probe RTT {payload} B, stride {stride}");
        let before = self.start(&what);
        match probe::rtt(self.ctx, stride, payload) {
            Ok(repeats) => {
                let preempted = Self::preempted(before);
                let summary = LatencySummary::of(&repeats);
                eprintln!(
                    "p50 {}  p99 {}",
                    crate::report::fmt_ns(summary.p50.median),
                    crate::report::fmt_ns(summary.p99.median)
                );
                self.results.probe.push(ProbeFigure {
                    stride,
                    payload,
                    repeats,
                    summary,
                    preempted,
                });
                Ok(())
            }
            Err(e) => self.fail(what, e),
        }
    }

    pub fn rate(
        &mut self,
        system: System,
        payload: usize,
        read: Option<ReadMode>,
        batched: Option<bool>,
        f: impl FnOnce(&Ctx) -> Result<Vec<Rate>>,
    ) -> Result<()> {
        let what = format!(
            "{} throughput {payload} B{}{}",
            system.short(),
            read.map(|r| format!(" {}", r.label())).unwrap_or_default(),
            if batched == Some(true) {
                " batched"
            } else {
                ""
            }
        );
        let before = self.start(&what);
        match f(self.ctx) {
            Ok(repeats) => {
                let preempted = Self::preempted(before);
                let frames_per_s = Spread::of(repeats.iter().map(|r| r.frames_per_s));
                let bytes_per_s = Spread::of(repeats.iter().map(|r| r.bytes_per_s));
                let busy_frames_per_s = busy_rate(&repeats);
                eprintln!(
                    "{:.2} M frames/s ({:.2} M while both ran)  {:.3} GB/s",
                    frames_per_s.median / 1e6,
                    busy_frames_per_s.map_or(f64::NAN, |b| b.median / 1e6),
                    bytes_per_s.median / 1e9
                );
                self.results.throughput.push(RateFigure {
                    system,
                    payload,
                    read,
                    batched,
                    repeats,
                    frames_per_s,
                    bytes_per_s,
                    busy_frames_per_s,
                    preempted,
                });
                Ok(())
            }
            Err(e) => self.fail(what, e),
        }
    }
}

/// Median and spread over the repeats of their window medians, when every
/// repeat was cut into windows.
fn busy_rate(repeats: &[Rate]) -> Option<Spread> {
    let w: Option<Vec<f64>> = repeats.iter().map(|r| r.window_frames_per_s).collect();
    w.filter(|w| !w.is_empty()).map(Spread::of)
}

impl Runner<'_> {
    /// Forge in a ring sized for the frame and rtrb, one repeat each in
    /// turn for twice the usual number of repeats; the side that goes first
    /// alternates, so a machine that speeds up or slows down during the
    /// figure favours neither.
    pub fn paired(&mut self, payload: usize) -> Result<()> {
        let what = format!("Forge sized / rtrb throughput {payload} B in turn");
        let before = self.start(&what);
        // Each round is one repeat as long as a whole figure's repeats
        // together: short rounds would measure the machine's moods.
        let mut one = self.ctx.sized_for(payload);
        let n = self.ctx.plan.repeats as u64;
        one.plan.repeats = 1;
        one.plan.tput_frames_small *= n;
        one.plan.tput_frames_large *= n;
        // Each side's rate while both ran, and the peers' preemptions.
        let mut peer = None::<u64>;
        let mut measure = |forge_side: bool| -> Result<f64> {
            let repeats = if forge_side {
                forge::shm_rate(&one, payload, false, false)
            } else {
                rtrb_peer::rate(&one, payload, false)
            };
            if let Some(p) = take_peer_preempted() {
                peer = Some(peer.unwrap_or(0) + p);
            }
            busy_rate(&repeats?)
                .map(|s| s.median)
                .ok_or_else(|| err!("a repeat too short to cut into windows"))
        };
        // Before each round, the floor's round trip (5,000 samples): it
        // tells how the host had placed the two vCPUs during that round.
        let mut probe = self.ctx.clone();
        probe.plan.repeats = 1;
        probe.plan.rtt_samples = 5_000;
        let floor_p50 = || -> Result<f64> {
            let p = floor::rtt(&probe, probe.policy)?;
            Ok(p.first().map_or(f64::NAN, |p| p.p50 as f64))
        };
        let mut rounds = Vec::new();
        let mut floors = Vec::new();
        for i in 0..2 * self.ctx.plan.repeats {
            let forge_first = i % 2 == 0;
            let pair = floor_p50().and_then(|f| {
                let a = measure(forge_first)?;
                Ok((f, a, measure(!forge_first)?))
            });
            match pair {
                Ok((f, a, b)) => {
                    floors.push(f);
                    rounds.push(if forge_first { (a, b) } else { (b, a) });
                }
                Err(e) => return self.fail(what, e),
            }
        }
        let mut preempted = Self::preempted(before);
        preempted.peer = peer;
        let fig = PairedFigure::of(payload, rounds, floors, preempted);
        eprintln!(
            "{:.2}× ({:.2}–{:.2}): Forge {:.2} M, rtrb {:.2} M frames/s, floor {:.0}–{:.0} ns",
            fig.ratio.median,
            fig.ratio.min,
            fig.ratio.max,
            fig.forge.median / 1e6,
            fig.rtrb.median / 1e6,
            fig.floor.min,
            fig.floor.max
        );
        self.results.paired.push(fig);
        Ok(())
    }

    /// One point of the ring-size sweep: throughput, then the round trip,
    /// on rings of `slots` slots.
    pub fn sweep(&mut self, slots: u32, payload: usize) -> Result<()> {
        let mut ctx = self.ctx.clone();
        ctx.plan.slots = slots;
        let what = format!("ring size {slots} slots, {payload} B");
        let before = self.start(&what);
        let rate = forge::shm_rate(&ctx, payload, false, false);
        let rtt = forge::shm_rtt(&ctx, payload, false);
        let preempted = Self::preempted(before);
        let frames_per_s = match &rate {
            Ok(r) => busy_rate(r),
            Err(_) => None,
        };
        let rtt = match rtt {
            Ok(r) => Some(LatencySummary::of(&r)),
            Err(e) => {
                self.results
                    .failures
                    .push(format!("{what}, round trip: {e}"));
                None
            }
        };
        if let Err(e) = rate {
            self.results
                .failures
                .push(format!("{what}, throughput: {e}"));
        }
        eprintln!(
            "{:.2} M frames/s  RTT p50 {}",
            frames_per_s.map_or(f64::NAN, |f| f.median / 1e6),
            rtt.map_or("—".into(), |r| crate::report::fmt_ns(r.p50.median))
        );
        self.results.sweep.push(SweepFigure {
            slots,
            payload,
            segment_bytes: forge_fabric::layout::segment_size(slots, forge_fabric::PAYLOAD_CAPACITY)
                as u64,
            lap_bytes: lap_bytes(slots, payload),
            lap_pages: lap_pages(slots, payload),
            frames_per_s,
            rtt,
            preempted,
        });
        // SYNC: pairs with the Relaxed store of STOP by the signal thread
        // (proc.rs); a flag only.
        if STOP.load(Ordering::Relaxed) {
            return Err(err!("interrupted"));
        }
        Ok(())
    }
}

/// Bytes of the cache lines one lap of `payload`-byte frames touches: each
/// slot's word and payload, which start 8 bytes further into a line with
/// every slot.
pub fn lap_bytes(slots: u32, payload: usize) -> u64 {
    (0..slots)
        .map(|i| {
            let start = forge_fabric::layout::slot_offset(i, forge_fabric::PAYLOAD_CAPACITY) as u64;
            let end = start + 8 + payload as u64;
            (end.div_ceil(64) - start / 64) * 64
        })
        .sum()
}

/// 4 KiB pages one lap of `payload`-byte frames touches.
pub fn lap_pages(slots: u32, payload: usize) -> u64 {
    let mut pages = 0;
    let mut last = u64::MAX;
    for i in 0..slots {
        let start = forge_fabric::layout::slot_offset(i, forge_fabric::PAYLOAD_CAPACITY) as u64;
        let end = start + 8 + payload as u64;
        for page in start / 4096..end.div_ceil(4096) {
            if page != last {
                pages += 1;
                last = page;
            }
        }
    }
    pages
}
