//! memcpy bandwidth of one core: the ceiling for large payloads. It copies
//! 4 KiB blocks (one full slot each), in ring order, from a source the size
//! of a ring's slots to a destination of the same size, so its working set
//! sits in the same caches a ring's does; all of it is local to the core.
//! A second figure copies into one 4 KiB buffer instead, as a consumer that
//! copies frames out does: that ceiling is higher, since the destination
//! stays in L1.

use crate::harness::{now_ns, touched_buffer, Rate, Result};
use crate::plan::Ctx;

pub const BLOCK: usize = 4096;

/// `hot_destination`: copy every block into the same 4 KiB buffer, as a
/// copying consumer does, instead of a ring-sized destination.
pub fn bandwidth(ctx: &Ctx, hot_destination: bool) -> Result<Vec<Rate>> {
    let plan = &ctx.plan;
    let set = plan.slots as usize * BLOCK;
    let src = touched_buffer(set, 0x77);
    let mut dst = touched_buffer(if hot_destination { BLOCK } else { set }, 0);
    let dst_blocks = dst.len() / BLOCK;
    let blocks = plan.memcpy_bytes / BLOCK as u64;
    let copy_all = |dst: &mut [u8], n: u64| {
        let per_set = (set / BLOCK) as u64;
        for i in 0..n {
            let off = (i % per_set) as usize * BLOCK;
            let to = (i as usize % dst_blocks) * BLOCK;
            dst[to..to + BLOCK].copy_from_slice(std::hint::black_box(&src[off..off + BLOCK]));
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
