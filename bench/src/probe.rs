//! Slot-layout probe: the Forge slot protocol (payload stores, then the
//! slot word with Release; the reader polls the word with Acquire, then
//! reads the payload) on plain atomics between two pinned threads, with the
//! slot stride as the only variable. It separates what the layout costs
//! from what the ring's code costs.
//!
//! Forge's stride is 4104 bytes (an 8-byte word and a 4096-byte payload),
//! so slot `i`'s word sits `8 * (i % 8)` bytes into a cache line and a
//! 64-byte frame always spans two lines; for half the slots those two lines
//! also straddle a 128-byte boundary, which the adjacent-line prefetcher
//! does not bridge.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::forge::with_peer_thread;
use crate::harness::{Percentiles, Result, Spinner};
use crate::plan::{time_rtt, Ctx};

/// One ring of `slots` slots of `stride` bytes, the first slot 128-aligned.
struct Ring {
    words: Vec<AtomicU64>,
    base: usize,
    stride_words: usize,
    slots: usize,
}

impl Ring {
    fn new(slots: usize, stride: usize) -> Ring {
        debug_assert!(stride % 8 == 0);
        let stride_words = stride / 8;
        let words: Vec<AtomicU64> = (0..slots * stride_words + 16)
            .map(|_| AtomicU64::new(0))
            .collect();
        // Safe pointer arithmetic on the address only: find the first
        // 128-byte boundary.
        let addr = words.as_ptr() as usize;
        let base = (128 - addr % 128) % 128 / 8;
        Ring {
            words,
            base,
            stride_words,
            slots,
        }
    }

    #[inline(always)]
    fn slot(&self, seq: u64) -> usize {
        self.base + (seq as usize % self.slots) * self.stride_words
    }

    /// Writes `payload_words` words of payload, then publishes `seq`.
    #[inline(always)]
    fn publish(&self, seq: u64, payload: &[u64]) {
        let s = self.slot(seq);
        for (k, &w) in payload.iter().enumerate() {
            // SYNC: ordered before readers by the Release store of `seq`
            // below.
            self.words[s + 1 + k].store(w, Ordering::Relaxed);
        }
        // SYNC: pairs with the Acquire load in `wait`, as Forge's commit.
        self.words[s].store(seq, Ordering::Release);
    }

    /// Spins until `seq` is published, then reads its payload.
    #[inline(always)]
    fn wait(&self, seq: u64, out: &mut [u64], spin: &mut Spinner) -> Result<()> {
        let s = self.slot(seq);
        // SYNC: pairs with the Release store of `seq` in `publish`.
        while self.words[s].load(Ordering::Acquire) != seq {
            spin.spin()?;
        }
        for (k, o) in out.iter_mut().enumerate() {
            // SYNC: ordered after the writer's stores by the Acquire load of
            // `seq` above.
            *o = self.words[s + 1 + k].load(Ordering::Relaxed);
        }
        Ok(())
    }
}

const STOP_SEQ: u64 = u64::MAX;

/// Round trip of `payload` bytes with slots `stride` bytes apart.
pub fn rtt(ctx: &Ctx, stride: usize, payload: usize) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let slots = plan.slots as usize;
    let (ping, pong) = (Ring::new(slots, stride), Ring::new(slots, stride));
    let n = payload / 8;
    let (ping, pong) = (&ping, &pong);
    let mut peer_spin = ctx.spinner("echoing in the layout probe");
    let echo = move || -> Result<()> {
        let mut buf = vec![0u64; n];
        let mut seq = 1;
        loop {
            // The stop marker goes in the slot `seq` would use.
            let s = ping.slot(seq);
            loop {
                // SYNC: pairs with the Release store of `seq` (or STOP_SEQ) in
                // `publish`.
                let w = ping.words[s].load(Ordering::Acquire);
                if w == seq {
                    break;
                }
                if w == STOP_SEQ {
                    return Ok(());
                }
                peer_spin.spin()?;
            }
            ping.wait(seq, &mut buf, &mut peer_spin)?;
            pong.publish(seq, &buf);
            seq += 1;
        }
    };
    with_peer_thread(ctx, echo, || {
        let mut spin = ctx.spinner("waiting in the layout probe");
        let src = vec![0xA5A5_A5A5_A5A5_A5A5u64; n];
        // Like Forge's in-place reader, this side reads only the word.
        let mut buf: [u64; 0] = [];
        let mut last = 0;
        let out = time_rtt(plan, |seq| {
            last = seq;
            ping.publish(seq, &src);
            pong.wait(seq, &mut buf, &mut spin)
        });
        let s = ping.slot(last + 1);
        // SYNC: pairs with the echo's Acquire load of the slot word.
        ping.words[s].store(STOP_SEQ, Ordering::Release);
        out
    })
}
