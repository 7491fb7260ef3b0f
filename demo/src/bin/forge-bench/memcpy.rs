//! memcpy bandwidth of one core: the ceiling for large payloads. It does
//! what a copying consumer does with nothing in the way: copies 4 KiB
//! blocks (one full slot each) from a source the size of a ring's slots,
//! in ring order, into one 4 KiB buffer. The source sits in this core's own
//! caches, so no ring can deliver bytes faster than this.

use crate::harness::{now_ns, touched_buffer, Rate, Result};
use crate::plan::Ctx;

pub const BLOCK: usize = 4096;

pub fn bandwidth(ctx: &Ctx) -> Result<Vec<Rate>> {
    let plan = &ctx.plan;
    let set = plan.slots as usize * BLOCK;
    let src = touched_buffer(set, 0x77);
    let mut dst = touched_buffer(BLOCK, 0);
    let blocks = plan.memcpy_bytes / BLOCK as u64;
    let copy_all = |dst: &mut [u8], n: u64| {
        let per_set = (set / BLOCK) as u64;
        for i in 0..n {
            let off = (i % per_set) as usize * BLOCK;
            dst.copy_from_slice(std::hint::black_box(&src[off..off + BLOCK]));
            std::hint::black_box(&mut *dst);
        }
        std::hint::black_box(&mut *dst);
    };
    copy_all(&mut dst, blocks / 10 + 1);
    let mut out = Vec::with_capacity(plan.repeats);
    for _ in 0..plan.repeats {
        let t0 = now_ns();
        copy_all(&mut dst, blocks);
        out.push(Rate::new(blocks, BLOCK, now_ns() - t0));
    }
    Ok(out)
}
