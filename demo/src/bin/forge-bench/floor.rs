//! The hardware floor: two cache lines ping-ponged between the two pinned
//! cores, the shape of a ring with nothing else in it. Each side stores to
//! its own line and spins on the other's; a round trip is two line
//! transfers. No ring can beat it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::forge::with_peer_thread;
use crate::harness::{time_repeats, Percentiles, Result, SpinPolicy, Spinner};
use crate::plan::Ctx;

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
            let v = ping_ref.0.load(Ordering::Acquire);
            if v == last {
                spin.spin()?;
                continue;
            }
            if v == STOP_SEQ {
                return Ok(());
            }
            pong_ref.0.store(v, Ordering::Release);
            last = v;
        }
    };
    with_peer_thread(ctx, echo, || {
        let mut spin = Spinner::new(policy, budget, "waiting for the floor pong");
        let out = time_repeats(
            plan.warmup(plan.rtt_samples),
            plan.rtt_samples,
            plan.repeats,
            |seq| {
                ping_ref.0.store(seq, Ordering::Release);
                while pong_ref.0.load(Ordering::Acquire) != seq {
                    spin.spin()?;
                }
                Ok(())
            },
        );
        ping_ref.0.store(STOP_SEQ, Ordering::Release);
        out
    })
}
