//! Forge itself: across two processes over a real segment, and across two
//! threads over a heap ring (the same protocol, to separate the cost of the
//! ring from the cost of the processes).
//!
//! Every frame carries a sequence number or a timestamp in its first 8
//! bytes. A zero-length frame tells an echo side to stop.

use std::process::Stdio;
use std::time::Duration;

use forge_fabric::{heap_ring, Claim, Consumer, Producer, Segment, PAYLOAD_CAPACITY};

use crate::harness::{
    begin_figure, err, first_word, now_ns, peer_gone, pin, preemptions, rate_repeats,
    set_first_word, set_peer_preempted, touch, touched_buffer, Hist, Percentiles, Rate, Result,
    Spinner,
};
use crate::plan::{time_rtt, Ctx};
use crate::proc::{ChildProc, ShmName};
use crate::spec::Role;

/// Copies `data` into the next slot and commits it, spinning while full.
#[inline(always)]
pub fn push(tx: &mut Producer, data: &[u8], spin: &mut Spinner) -> Result<()> {
    loop {
        if let Some(mut w) = tx.write_slot() {
            w.copy_from(data);
            w.commit(data.len())?;
            return Ok(());
        }
        spin.spin()?;
    }
}

/// The echo side of a round trip: sends back every frame until a
/// zero-length one. In place, the reply is written straight from the
/// received slot; copying, the frame goes through a private buffer first.
pub fn echo(rx: &mut Consumer, tx: &mut Producer, copy: bool, spin: &mut Spinner) -> Result<()> {
    let mut buf = touched_buffer(PAYLOAD_CAPACITY, 0);
    loop {
        if copy {
            if let Some(n) = rx.read_into(&mut buf)? {
                if n == 0 {
                    return Ok(());
                }
                push(tx, &buf[..n], spin)?;
                continue;
            }
        } else if let Some(frame) = rx.read_slot()? {
            if frame.is_empty() {
                frame.release();
                return Ok(());
            }
            push(tx, &frame, spin)?;
            frame.release();
            continue;
        }
        spin.spin()?;
    }
}

/// The measuring side of a round trip; sends the stop frame at the end,
/// also after a failure.
pub fn drive_rtt(
    ctx: &Ctx,
    tx: &mut Producer,
    rx: &mut Consumer,
    payload: usize,
    copy: bool,
) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let mut spin = ctx.spinner("waiting for a Forge echo");
    let mut src = touched_buffer(payload, 0xA5);
    let mut buf = touched_buffer(PAYLOAD_CAPACITY, 0);
    let out = time_rtt(plan, |seq| {
        set_first_word(&mut src, seq);
        push(tx, &src, &mut spin)?;
        loop {
            let got = if copy {
                rx.read_into(&mut buf)?.map(|n| first_word(&buf[..n]))
            } else {
                rx.read_slot()?.map(|f| {
                    let w = first_word(&f);
                    f.release();
                    w
                })
            };
            match got {
                Some(w) if w == seq => return Ok(()),
                Some(w) => return Err(err!("echo returned frame {w}, expected {seq}")),
                None => spin.spin()?,
            }
        }
    });
    let mut stop = ctx.spinner("sending the stop frame");
    let stopped = push(tx, &[], &mut stop);
    let out = out?;
    stopped?;
    Ok(out)
}

/// Sends `frames` frames as fast as the ring takes them.
pub fn flood(tx: &mut Producer, payload: usize, frames: u64, spin: &mut Spinner) -> Result<()> {
    let mut src = touched_buffer(payload, 0x5A);
    for i in 0..frames {
        set_first_word(&mut src, i);
        push(tx, &src, spin)?;
    }
    tx.flush_index();
    Ok(())
}

/// Sends `frames` frames, one every `pace_ns`, each stamped with the clock
/// just before its commit. A late frame does not make the next one early:
/// bursts would hide queueing rather than show it.
pub fn paced(
    tx: &mut Producer,
    payload: usize,
    frames: u64,
    pace_ns: u64,
    spin: &mut Spinner,
) -> Result<()> {
    let src = touched_buffer(payload, 0x3C);
    let mut next = now_ns();
    for _ in 0..frames {
        while now_ns() < next {
            spin.spin()?;
        }
        loop {
            if let Some(mut w) = tx.write_slot() {
                w.copy_from(&src);
                set_first_word(&mut w.payload_mut()[..], now_ns());
                w.commit(payload)?;
                break;
            }
            spin.spin()?;
        }
        next += pace_ns;
        next = next.max(now_ns());
    }
    tx.flush_index();
    Ok(())
}

/// The consumer of a throughput run. In place it reads every byte where it
/// lies; copying, it copies every frame out.
pub fn consume_rate(
    ctx: &Ctx,
    rx: &mut Consumer,
    payload: usize,
    copy: bool,
    warmup: u64,
    frames: u64,
) -> Result<Vec<Rate>> {
    let mut spin = ctx.spinner("waiting for a Forge frame");
    let mut buf = touched_buffer(PAYLOAD_CAPACITY, 0);
    let mut sink = 0u64;
    let out = rate_repeats(
        payload,
        warmup,
        frames,
        ctx.plan.repeats,
        #[inline(always)]
        || loop {
            if copy {
                if let Some(n) = rx.read_into(&mut buf)? {
                    std::hint::black_box(&mut buf[..n]);
                    return Ok(());
                }
            } else if let Some(f) = rx.read_slot()? {
                sink = sink.wrapping_add(touch(&f));
                f.release();
                return Ok(());
            }
            spin.spin()?;
        },
    );
    std::hint::black_box(sink);
    rx.flush_index();
    out
}

/// The consumer of a paced run: one-way latency from the frame's stamp to
/// the moment the consumer has the frame (in place) or has copied it out.
pub fn consume_oneway(
    ctx: &Ctx,
    rx: &mut Consumer,
    copy: bool,
    warmup: u64,
) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let mut spin = ctx.spinner("waiting for a paced Forge frame");
    let mut buf = touched_buffer(PAYLOAD_CAPACITY, 0);
    let mut hist = Hist::new();
    let mut out = Vec::with_capacity(plan.repeats);
    let total = warmup + plan.oneway_samples * plan.repeats as u64;
    for i in 0..total {
        let ns = loop {
            if copy {
                if let Some(n) = rx.read_into(&mut buf)? {
                    let t = now_ns();
                    break t.saturating_sub(first_word(&buf[..n]));
                }
            } else if let Some(f) = rx.read_slot()? {
                let stamp = first_word(&f);
                let t = now_ns();
                f.release();
                break t.saturating_sub(stamp);
            }
            spin.spin()?;
        };
        if i >= warmup {
            hist.record(ns);
            if (i - warmup + 1) % plan.oneway_samples == 0 {
                out.push(hist.percentiles());
                hist.reset();
            }
        }
    }
    Ok(out)
}

/// How long a child may take to exit once its work is done.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// Round trip between two processes over two segments.
pub fn shm_rtt(ctx: &Ctx, payload: usize, copy: bool) -> Result<Vec<Percentiles>> {
    let (mut ping, mut pong) = (ShmName::new(), ShmName::new());
    let opts = ctx.create_options();
    let ping_seg = Segment::create(ping.as_str(), &opts)?;
    let pong_seg = Segment::create(pong.as_str(), &opts)?;
    let mut tx = ping_seg.producer_with(&Claim::new().pinned_core(ctx.core_a))?;
    let mut rx = pong_seg.consumer_with(&Claim::new().pinned_core(ctx.core_a))?;
    let role = Role::ForgeEcho {
        ping: ping.as_str().to_owned(),
        pong: pong.as_str().to_owned(),
        copy,
    };
    let mut child = ChildProc::spawn(&ctx.child(role), Stdio::null(), Stdio::piped())?;
    child.wait_ready()?;
    ping.unlink();
    pong.unlink();
    let out = drive_rtt(ctx, &mut tx, &mut rx, payload, copy)?;
    child.finish(EXIT_WAIT)?;
    Ok(out)
}

/// Full-speed throughput from a producer process to this one.
pub fn shm_rate(ctx: &Ctx, payload: usize, copy: bool, batched: bool) -> Result<Vec<Rate>> {
    let plan = &ctx.plan;
    let mut name = ShmName::new();
    let seg = Segment::create(name.as_str(), &ctx.create_options())?;
    let mut rx = seg.consumer_with(&Claim::new().pinned_core(ctx.core_a))?;
    let batch = if batched { plan.batch } else { 1 };
    rx.set_index_batch(batch);
    let frames = plan.tput_frames(payload);
    let warmup = plan.warmup(frames);
    let role = Role::ForgeFlood {
        ring: name.as_str().to_owned(),
        payload,
        frames: warmup + frames * plan.repeats as u64,
        publish_batch: batch,
    };
    let mut child = ChildProc::spawn(&ctx.child(role), Stdio::null(), Stdio::piped())?;
    child.wait_ready()?;
    name.unlink();
    let out = consume_rate(ctx, &mut rx, payload, copy, warmup, frames)?;
    child.finish(EXIT_WAIT)?;
    Ok(out)
}

/// One-way latency from a paced producer process to this one.
pub fn shm_oneway(ctx: &Ctx, payload: usize, copy: bool) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let mut name = ShmName::new();
    let seg = Segment::create(name.as_str(), &ctx.create_options())?;
    let mut rx = seg.consumer_with(&Claim::new().pinned_core(ctx.core_a))?;
    let warmup = plan.warmup(plan.oneway_samples);
    let role = Role::ForgePaced {
        ring: name.as_str().to_owned(),
        payload,
        frames: warmup + plan.oneway_samples * plan.repeats as u64,
        pace_ns: plan.pace_ns,
    };
    let mut child = ChildProc::spawn(&ctx.child(role), Stdio::null(), Stdio::piped())?;
    child.wait_ready()?;
    name.unlink();
    let out = consume_oneway(ctx, &mut rx, copy, warmup)?;
    child.finish(EXIT_WAIT)?;
    Ok(out)
}

/// Runs `peer` on a second thread pinned to the peer core, and `main` here;
/// returns `main`'s result, or the peer's error if it failed first.
pub fn with_peer_thread<T, P>(ctx: &Ctx, peer: P, main: impl FnOnce() -> Result<T>) -> Result<T>
where
    P: FnOnce() -> Result<()> + Send,
{
    let (core, pair) = (ctx.core_b, [ctx.core_a, ctx.core_b]);
    let figure = begin_figure();
    std::thread::scope(|s| {
        let handle = s.spawn(move || -> Result<()> {
            let before = preemptions();
            let out = pin(core, pair).and_then(|()| peer());
            if let (Some(b), Some(a)) = (before, preemptions()) {
                set_peer_preempted(a.saturating_sub(b));
            }
            peer_gone(figure);
            out
        });
        let out = main();
        let peer = handle
            .join()
            .map_err(|_| err!("the peer thread panicked"))?;
        match (out, peer) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    })
}

/// Round trip between two threads over two heap rings.
pub fn heap_rtt(ctx: &Ctx, payload: usize, copy: bool) -> Result<Vec<Percentiles>> {
    let (mut tx, mut peer_rx) = heap_ring(ctx.plan.slots);
    let (mut peer_tx, mut rx) = heap_ring(ctx.plan.slots);
    let mut spin = ctx.spinner("echoing on a heap ring");
    with_peer_thread(
        ctx,
        move || echo(&mut peer_rx, &mut peer_tx, copy, &mut spin),
        || drive_rtt(ctx, &mut tx, &mut rx, payload, copy),
    )
}

/// Full-speed throughput between two threads over a heap ring.
pub fn heap_rate(ctx: &Ctx, payload: usize, copy: bool, batched: bool) -> Result<Vec<Rate>> {
    let plan = &ctx.plan;
    let (mut tx, mut rx) = heap_ring(plan.slots);
    let batch = if batched { plan.batch } else { 1 };
    tx.set_index_batch(batch);
    rx.set_index_batch(batch);
    let frames = plan.tput_frames(payload);
    let warmup = plan.warmup(frames);
    let total = warmup + frames * plan.repeats as u64;
    let mut spin = ctx.spinner("flooding a heap ring");
    with_peer_thread(
        ctx,
        move || flood(&mut tx, payload, total, &mut spin),
        || consume_rate(ctx, &mut rx, payload, copy, warmup, frames),
    )
}
