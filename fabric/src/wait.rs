//! Wait strategies for when the ring is full (producer) or empty (consumer).
//!
//! All three keep the busy path free of syscalls: a side only waits after it
//! found nothing to do. `Park` sleeps on a futex word in the side's own line;
//! the peer calls `FUTEX_WAKE` only when it sees that word set.
//!
//! A side's strategy is chosen once, when it takes its role
//! ([`crate::Claim::wait`]), and said in its line: `HOLDER_PARKS` in its
//! `flags` tells the peer, which reads it at every publication, to check the
//! futex word and wake it. No call on either side is needed for that.

use std::time::{Duration, Instant};

use crate::sync::{fence, spin_hint, yield_now, AtomicU32, Ordering};

crate::vocab::header_enum! {
    /// How a blocking call waits. Its code is the header's `wait_strategy`.
    #[derive(Default)]
    pub enum WaitStrategy {
        /// Busy-spin with the CPU's pause hint. Lowest latency, one full core.
        #[default]
        Spin = 0,
        /// Spin briefly, then `sched_yield` between polls.
        Yield = 1,
        /// Spin briefly, then `sched_yield` between polls for about 50 µs,
        /// then sleep on a futex until the peer wakes us. A wait that
        /// follows one that ended empty-handed sleeps at once.
        Park = 2,
    }
}

/// Polls between clock reads while spinning.
const SPINS_PER_CLOCK_READ: u32 = 256;
/// Polls before Yield stops spinning.
const SPINS_BEFORE_BACKOFF: u32 = 2_000;
/// Polls before Park stops spinning and starts yielding (about 5 µs with
/// a 20 ns pause).
const SPINS_BEFORE_YIELD: u32 = 200;
/// How long Park polls between `sched_yield`s before it sleeps: a frame
/// that comes this soon is caught without a futex wake, and another thread
/// that needs this core meanwhile gets it at once (two cores, four busy
/// processes: a spinning reader would take one of them).
const YIELD_BEFORE_PARK: Duration = Duration::from_micros(50);
/// Longest single futex sleep. It bounds only a wake lost to a peer that
/// did not yet see our `HOLDER_PARKS` flag: one that published in the very
/// moment we took the role.
const PARK_SLICE: Duration = Duration::from_millis(10);

pub(crate) struct Deadline(Instant);

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        let now = Instant::now();
        Deadline(
            now.checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
        )
    }

    fn remaining(&self) -> Option<Duration> {
        self.remaining_at(Instant::now())
    }

    fn remaining_at(&self, now: Instant) -> Option<Duration> {
        self.0.checked_duration_since(now).filter(|d| !d.is_zero())
    }
}

/// A side's wait: its strategy, and whether its last wait ended with
/// nothing. Park then sleeps at once, so a side that waits in slices on an
/// idle ring costs no spinning or yielding per slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waiter {
    pub(crate) strategy: WaitStrategy,
    idle: bool,
}

impl Waiter {
    pub(crate) fn new(strategy: WaitStrategy) -> Self {
        Waiter {
            strategy,
            idle: false,
        }
    }

    /// Waits until `ready()` or the deadline. `sleeping` is this side's
    /// futex word.
    pub(crate) fn wait(
        &mut self,
        sleeping: &AtomicU32,
        deadline: Deadline,
        ready: impl FnMut() -> bool,
    ) -> bool {
        let got = wait_until(self.strategy, sleeping, deadline, self.idle, ready);
        self.idle = !got;
        got
    }
}

fn wait_until(
    strategy: WaitStrategy,
    sleeping: &AtomicU32,
    deadline: Deadline,
    idle: bool,
    mut ready: impl FnMut() -> bool,
) -> bool {
    let mut spins: u32 = 0;
    let spin_limit = match strategy {
        WaitStrategy::Park => SPINS_BEFORE_YIELD,
        _ => SPINS_BEFORE_BACKOFF,
    };
    // Park: when it stops yielding and sleeps (set at its first yield, or
    // now when the last wait ended with nothing).
    let mut park_at: Option<Instant> = None;
    if idle && strategy == WaitStrategy::Park {
        spins = spin_limit;
        park_at = Some(Instant::now());
    }
    loop {
        if ready() {
            return true;
        }
        spins = spins.wrapping_add(1);
        if strategy == WaitStrategy::Spin || spins <= spin_limit {
            if spins % SPINS_PER_CLOCK_READ == 0 && deadline.remaining().is_none() {
                return ready();
            }
            spin_hint();
            continue;
        }
        // One clock read per pass from here on.
        let now = Instant::now();
        if deadline.remaining_at(now).is_none() {
            return ready();
        }
        if strategy == WaitStrategy::Yield || now < *park_at.get_or_insert(now + YIELD_BEFORE_PARK)
        {
            yield_now();
            continue;
        }
        sleeping.store(1, Ordering::Relaxed);
        // Dekker handshake with `ring::wake_if_sleeping`: flag, fence,
        // re-check; the peer publishes, fences, reads the flag.
        // SYNC: the flag is a futex word; the fence orders it before
        // the re-check's load, as the peer's fence orders its
        // publication before its load of the flag.
        fence(Ordering::SeqCst);
        if ready() {
            sleeping.store(0, Ordering::Relaxed);
            return true;
        }
        let slice = deadline.remaining().unwrap_or_default().min(PARK_SLICE);
        futex_wait(sleeping, 1, slice);
        sleeping.store(0, Ordering::Relaxed);
    }
}

#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT (shared, not PRIVATE: the peer is another process)
    // on a live, aligned u32; the kernel only reads it and `ts`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0,
        );
    }
}

#[cfg(any(not(target_os = "linux"), loom, miri))]
fn futex_wait(_word: &AtomicU32, _expected: u32, _timeout: Duration) {
    yield_now();
}

#[cfg(all(target_os = "linux", not(loom), not(miri)))]
pub(crate) fn wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live, aligned u32; wakes at most one waiter.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

#[cfg(any(not(target_os = "linux"), loom, miri))]
pub(crate) fn wake(_word: &AtomicU32) {}
