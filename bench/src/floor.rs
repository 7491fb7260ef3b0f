//! The hardware floor: two cache lines ping-ponged between the two pinned
//! cores, the shape of a ring with nothing else in it. Each side stores to
//! its own line and spins on the other's; a round trip is two line
//! transfers. No ring can beat it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::forge::with_peer_thread;
use crate::harness::{now_ns, Hist, Percentiles, Result, SpinPolicy, Spinner};
use crate::plan::{time_rtt, Ctx};

/// A line of its own; 128 bytes so the adjacent-line prefetcher does not
/// pair the two.
#[repr(C, align(128))]
struct Line(AtomicU64);

const STOP_SEQ: u64 = u64::MAX;

pub fn rtt(ctx: &Ctx, policy: SpinPolicy) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let ping = Box::new(Line(AtomicU64::new(0)));
    let pong = Box::new(Line(AtomicU64::new(0)));
    let budget = plan.figure_budget();
    let (ping_ref, pong_ref) = (&*ping, &*pong);
    let echo = move || -> Result<()> {
        let mut spin = Spinner::new(policy, budget, "echoing the floor ping");
        let mut last = 0;
        loop {
            // SYNC: pairs with the Release stores of `seq` and STOP_SEQ into
            // ping below.
            let v = ping_ref.0.load(Ordering::Acquire);
            if v == last {
                spin.spin()?;
                continue;
            }
            if v == STOP_SEQ {
                return Ok(());
            }
            // SYNC: pairs with the Acquire load of pong in the timed loop.
            pong_ref.0.store(v, Ordering::Release);
            last = v;
        }
    };
    with_peer_thread(ctx, echo, || {
        let mut spin = Spinner::new(policy, budget, "waiting for the floor pong");
        let out = time_rtt(plan, |seq| {
            // SYNC: pairs with the echo's Acquire load of ping.
            ping_ref.0.store(seq, Ordering::Release);
            // SYNC: pairs with the echo's Release store into pong.
            while pong_ref.0.load(Ordering::Acquire) != seq {
                spin.spin()?;
            }
            Ok(())
        });
        // SYNC: pairs with the echo's Acquire load of ping.
        ping_ref.0.store(STOP_SEQ, Ordering::Release);
        out
    })
}

/// The floor of the one-way figure: the peer stores its clock reading into
/// a line every `pace_ns`; this side spins on the line and takes the clock
/// when the value changes. Same clocks, same pacing, same spin policy as
/// Forge's one-way run, with no ring in between.
pub fn oneway(ctx: &Ctx) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let line = Box::new(Line(AtomicU64::new(0)));
    let line = &*line;
    let warmup = plan.warmup(plan.oneway_samples);
    let total = warmup + plan.oneway_samples * plan.repeats as u64;
    let pace = plan.pace_ns;
    let mut peer_spin = ctx.spinner("pacing the floor");
    let writer = move || -> Result<()> {
        let mut next = now_ns();
        for _ in 0..total {
            while now_ns() < next {
                peer_spin.spin()?;
            }
            // SYNC: pairs with the Acquire load of the line by the measuring
            // side.
            line.0.store(now_ns(), Ordering::Release);
            next = (next + pace).max(now_ns());
        }
        // SYNC: pairs with the Acquire load of the line by the measuring side.
        line.0.store(STOP_SEQ, Ordering::Release);
        Ok(())
    };
    with_peer_thread(ctx, writer, || {
        let mut spin = ctx.spinner("waiting for the paced floor");
        let mut hist = Hist::new();
        let mut out = Vec::with_capacity(plan.repeats);
        let (mut last, mut seen) = (0u64, 0u64);
        loop {
            // SYNC: pairs with the writer's Release stores of its clock and
            // STOP_SEQ.
            let v = line.0.load(Ordering::Acquire);
            if v == last {
                spin.spin()?;
                continue;
            }
            if v == STOP_SEQ {
                break;
            }
            let ns = now_ns().saturating_sub(v);
            last = v;
            seen += 1;
            if seen > warmup {
                hist.record(ns);
                if (seen - warmup) % plan.oneway_samples == 0 {
                    out.push(hist.percentiles());
                    hist.reset();
                }
            }
        }
        if hist.percentiles().samples > 0 {
            out.push(hist.percentiles());
        }
        Ok(out)
    })
}
