//! The producer's copy of a frame into its slot.

/// Copies `src` to `dst`. Frames of up to 16 bytes are copied with two
/// word-sized moves that may overlap, not through a call to `memcpy`: for
/// the smallest frames that call was a large part of the producer's work
/// per frame (forge-bench, 8-byte frames; see the README).
///
/// # Safety
///
/// `dst` must be valid for `src.len()` bytes of writes and must not
/// overlap `src`.
#[inline(always)]
pub(super) unsafe fn copy_frame(src: &[u8], dst: *mut u8) {
    let n = src.len();
    let s = src.as_ptr();
    // SAFETY: in every arm each read lies within `src` and each write
    // within `dst[..n]`, as the arm's bounds on `n` show (the caller
    // promises `dst` holds `n` bytes); the accesses say they are unaligned.
    unsafe {
        match n {
            8..=16 => {
                let a = s.cast::<u64>().read_unaligned();
                let b = s.add(n - 8).cast::<u64>().read_unaligned();
                dst.cast::<u64>().write_unaligned(a);
                dst.add(n - 8).cast::<u64>().write_unaligned(b);
            }
            4..=7 => {
                let a = s.cast::<u32>().read_unaligned();
                let b = s.add(n - 4).cast::<u32>().read_unaligned();
                dst.cast::<u32>().write_unaligned(a);
                dst.add(n - 4).cast::<u32>().write_unaligned(b);
            }
            _ => std::ptr::copy_nonoverlapping(s, dst, n),
        }
    }
}
