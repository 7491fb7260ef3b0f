//! Clocks. `CLOCK_MONOTONIC` is read through the vDSO: no syscall.

/// CLOCK_MONOTONIC in nanoseconds: the clock of heartbeats, frame timestamps
/// and session ages. Comparable across processes on one host.
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock nanoseconds since the Unix epoch (display only).
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A new `session_id`: the monotonic nanosecond the original design stamps,
/// mixed with 64 random bits so that two inits in the same nanosecond, or
/// after a reboot, cannot collide. Never 0, never `avoid`.
pub fn new_session_id(avoid: u64) -> u64 {
    loop {
        let mut random = [0u8; 8];
        // getrandom(2) never fails for 8 bytes once the pool is seeded; if it
        // does, the clock and the pid still differ between calls.
        let _ = nix_getrandom(&mut random);
        let mixed = splitmix64(monotonic_ns() ^ u64::from_le_bytes(random))
            ^ u64::from(std::process::id()).rotate_left(40);
        if mixed != 0 && mixed != avoid {
            return mixed;
        }
    }
}

fn nix_getrandom(buf: &mut [u8]) -> isize {
    // SAFETY: `buf` is valid for `buf.len()` writable bytes.
    unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_ids_are_non_zero_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..if cfg!(miri) { 20 } else { 10_000 } {
            let id = super::new_session_id(0);
            assert_ne!(id, 0);
            assert!(seen.insert(id), "repeated session id {id:#x}");
        }
    }
}
