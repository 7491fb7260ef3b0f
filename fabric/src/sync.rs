//! The one place atomics come from, so `cfg(loom)` can swap in loom's
//! model-checked versions (the crossbeam shim pattern).

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Spin-loop hint: `pause` on x86. Under loom it yields to the model scheduler.
#[inline(always)]
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    core::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Gives the CPU away between polls. Under loom it yields to the model.
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Interior-mutable payload bytes of a loom heap ring: the cell tracks
/// every access and reports a data race when a read is not ordered after the
/// write it observes. Outside loom the payload is plain memory behind the
/// slot word (see `RingRef::with_payload`).
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Asks the CPU to fetch the cache line holding `p` for writing
/// (`prefetchw` on x86-64), so a later store finds the line already owned
/// instead of waiting for the other core to give up its copy. Only a hint:
/// it never faults, never changes memory, and is a no-op on other
/// architectures, under Miri and under loom.
#[inline(always)]
pub(crate) fn prefetch_write(p: *const u8) {
    #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
    // SAFETY: prefetchw reads no memory and cannot fault, whatever `p` is;
    // it only moves a cache line (CPUs without it execute it as a NOP).
    unsafe {
        core::arch::asm!("prefetchw [{}]", in(reg) p, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
    let _ = p;
}
