//! rtrb, the reference Rust SPSC ring, between two pinned threads: a ring of
//! `[u8; S]` frames, so each element is one frame as in Forge. In place
//! reads use `read_chunk(1)`; copying uses `pop`. Writes always copy a
//! frame in with `push`.

use rtrb::{Consumer, Producer, PushError, RingBuffer};

use crate::forge::with_peer_thread;
use crate::harness::{
    err, first_word, rate_repeats, set_first_word, touch, Percentiles, Rate, Result, Spinner,
};
use crate::plan::{time_rtt, Ctx};

/// Sequence number that tells the echo thread to stop.
const STOP_SEQ: u64 = u64::MAX;

pub fn rtt(ctx: &Ctx, payload: usize, copy: bool) -> Result<Vec<Percentiles>> {
    match payload {
        8 => rtt_n::<8>(ctx, copy),
        64 => rtt_n::<64>(ctx, copy),
        1024 => rtt_n::<1024>(ctx, copy),
        4096 => rtt_n::<4096>(ctx, copy),
        other => Err(err!(
            "rtrb is measured at 8, 64, 1024 and 4096 bytes, not {other}"
        )),
    }
}

pub fn rate(ctx: &Ctx, payload: usize, copy: bool) -> Result<Vec<Rate>> {
    match payload {
        8 => rate_n::<8>(ctx, copy),
        64 => rate_n::<64>(ctx, copy),
        1024 => rate_n::<1024>(ctx, copy),
        4096 => rate_n::<4096>(ctx, copy),
        other => Err(err!(
            "rtrb is measured at 8, 64, 1024 and 4096 bytes, not {other}"
        )),
    }
}

#[inline(always)]
fn push<const S: usize>(
    tx: &mut Producer<[u8; S]>,
    frame: [u8; S],
    spin: &mut Spinner,
) -> Result<()> {
    let mut frame = frame;
    loop {
        match tx.push(frame) {
            Ok(()) => return Ok(()),
            Err(PushError::Full(back)) => {
                frame = back;
                spin.spin()?;
            }
        }
    }
}

/// Takes one frame, in place or by copy, and returns its first word.
#[inline(always)]
fn take<const S: usize>(
    rx: &mut Consumer<[u8; S]>,
    copy: bool,
    reply: Option<&mut Producer<[u8; S]>>,
    spin: &mut Spinner,
) -> Result<Option<u64>> {
    if copy {
        let Ok(frame) = rx.pop() else { return Ok(None) };
        let w = first_word(&frame);
        if let Some(tx) = reply {
            if w != STOP_SEQ {
                push(tx, frame, spin)?;
            }
        }
        Ok(Some(w))
    } else {
        let Ok(chunk) = rx.read_chunk(1) else {
            return Ok(None);
        };
        let frame = &chunk.as_slices().0[0];
        let w = first_word(frame);
        if let Some(tx) = reply {
            if w != STOP_SEQ {
                push(tx, *frame, spin)?;
            }
        }
        chunk.commit_all();
        Ok(Some(w))
    }
}

fn rtt_n<const S: usize>(ctx: &Ctx, copy: bool) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let slots = plan.slots as usize;
    let (mut tx, mut peer_rx) = RingBuffer::<[u8; S]>::new(slots);
    let (mut peer_tx, mut rx) = RingBuffer::<[u8; S]>::new(slots);
    let mut peer_spin = ctx.spinner("echoing on rtrb");
    let echo = move || -> Result<()> {
        loop {
            match take(&mut peer_rx, copy, Some(&mut peer_tx), &mut peer_spin)? {
                Some(STOP_SEQ) => return Ok(()),
                Some(_) => {}
                None => peer_spin.spin()?,
            }
        }
    };
    with_peer_thread(ctx, echo, || {
        let mut spin = ctx.spinner("waiting for an rtrb echo");
        let mut src = [0xA5u8; S];
        let out = time_rtt(plan, |seq| {
            set_first_word(&mut src, seq);
            push(&mut tx, src, &mut spin)?;
            loop {
                match take(&mut rx, copy, None, &mut spin)? {
                    Some(w) if w == seq => return Ok(()),
                    Some(w) => return Err(err!("echo returned frame {w}, expected {seq}")),
                    None => spin.spin()?,
                }
            }
        });
        set_first_word(&mut src, STOP_SEQ);
        let mut stop = ctx.spinner("stopping the rtrb echo");
        let stopped = push(&mut tx, src, &mut stop);
        let out = out?;
        stopped?;
        Ok(out)
    })
}

fn rate_n<const S: usize>(ctx: &Ctx, copy: bool) -> Result<Vec<Rate>> {
    let plan = &ctx.plan;
    let (mut tx, mut rx) = RingBuffer::<[u8; S]>::new(plan.slots as usize);
    let frames = plan.tput_frames(S);
    let warmup = plan.warmup(frames);
    let total = warmup + frames * plan.repeats as u64;
    let mut peer_spin = ctx.spinner("flooding rtrb");
    let flood = move || -> Result<()> {
        let mut src = [0x5Au8; S];
        for i in 0..total {
            set_first_word(&mut src, i);
            push(&mut tx, src, &mut peer_spin)?;
        }
        Ok(())
    };
    with_peer_thread(ctx, flood, || {
        let mut spin = ctx.spinner("waiting for an rtrb frame");
        let mut sink = 0u64;
        let out = rate_repeats(
            S,
            warmup,
            frames,
            plan.repeats,
            #[inline(always)]
            || loop {
                if copy {
                    if let Ok(mut frame) = rx.pop() {
                        std::hint::black_box(&mut frame);
                        return Ok(());
                    }
                } else if let Ok(chunk) = rx.read_chunk(1) {
                    sink = sink.wrapping_add(touch(&chunk.as_slices().0[0]));
                    chunk.commit_all();
                    return Ok(());
                }
                spin.spin()?;
            },
        );
        std::hint::black_box(sink);
        out
    })
}
