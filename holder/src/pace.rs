//! Pacing a stream to a rate from the vDSO clock: no timer, no syscall.
//!
//! Frame `n` after the pacer's base is due at `base + n / rate`. Computing
//! each due time from the base (not by adding a rounded interval) keeps the
//! long-run rate exact for rates that do not divide a second. When the
//! stream falls behind by more than [`MAX_DEBT_NS`] (the ring was full, a
//! burst ran, the process was descheduled) the base moves up to now: the
//! pacer does not try to catch up with a burst of its own.

use forge_fabric::clock::monotonic_ns;
use forge_fabric::WaitStrategy;

/// What a look around during a paced wait decided.
#[derive(Debug)]
pub enum Look<E> {
    /// Keep waiting; look again at this CLOCK_MONOTONIC instant.
    Wait(u64),
    /// Stop waiting and send now (a burst was asked for).
    Go,
    /// Stop the run.
    End(E),
}

/// Waits until `due_ns` (CLOCK_MONOTONIC), calling `look` at `next_look_ns`
/// and then whenever the instant it returns comes, so that a stop, a lost
/// session or a burst is seen within a housekeeping period. Spinning reads
/// only the vDSO clock; `yield` and `park` give the core back when the gap
/// is long. `None` when the due time came (or `look` said go), `Some(end)`
/// when `look` ended the run.
pub fn wait_until<E>(
    due_ns: u64,
    wait: WaitStrategy,
    mut next_look_ns: u64,
    mut look: impl FnMut(u64) -> Look<E>,
) -> Option<E> {
    loop {
        let now = monotonic_ns();
        if now >= due_ns {
            return None;
        }
        if now >= next_look_ns {
            match look(now) {
                Look::Wait(next) => next_look_ns = next,
                Look::Go => return None,
                Look::End(e) => return Some(e),
            }
        }
        let left = (due_ns - now).min(next_look_ns.saturating_sub(now));
        match wait {
            WaitStrategy::Yield if left > 50_000 => std::thread::yield_now(),
            WaitStrategy::Park if left > 200_000 => {
                std::thread::sleep(std::time::Duration::from_nanos(left - 100_000));
            }
            _ => std::hint::spin_loop(),
        }
    }
}

/// Largest lag the pacer makes up by sending early frames back to back.
pub const MAX_DEBT_NS: u64 = 2_000_000;

/// When the next frame of a paced stream is due.
///
/// # Examples
///
/// ```
/// use forge_holder::pace::Pacer;
///
/// // 1,000 frames per second from t = 0.
/// let mut pacer = Pacer::new(1_000, 0);
/// assert_eq!(pacer.due_ns(), 0);
/// pacer.sent(0);
/// assert_eq!(pacer.due_ns(), 1_000_000);
/// // Late by more than MAX_DEBT_NS: the debt is forgiven, not made up.
/// pacer.sent(50_000_000);
/// assert_eq!(pacer.due_ns(), 51_000_000);
/// pacer.rebase(60_000_000); // after a burst
/// assert_eq!((pacer.due_ns(), pacer.rate()), (60_000_000, 1_000));
/// ```
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: u64,
    base_ns: u64,
    sent: u64,
}

impl Pacer {
    /// A pacer for `rate` frames per second (> 0) starting at `now_ns`.
    pub fn new(rate: u64, now_ns: u64) -> Self {
        debug_assert!(rate > 0);
        Pacer {
            rate: rate.max(1),
            base_ns: now_ns,
            sent: 0,
        }
    }

    /// The frames per second asked for.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Says this pacer's rate in the producer's pace line for inspectors,
    /// with the frames a burst sends (0: no bursts).
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::pace::Pacer;
    ///
    /// let (mut producer, _consumer) = forge_fabric::heap_ring(2);
    /// let pacer = Pacer::new(1_000, 0);
    /// pacer.announce(producer.pace(), 100);
    /// ```
    pub fn announce(&self, mut pace: forge_fabric::Pace<'_>, burst: u64) {
        pace.announce(self.rate, burst);
    }

    /// When the next frame is due, CLOCK_MONOTONIC ns.
    #[inline]
    pub fn due_ns(&self) -> u64 {
        let offset = u128::from(self.sent) * 1_000_000_000 / u128::from(self.rate);
        self.base_ns
            .saturating_add(u64::try_from(offset).unwrap_or(u64::MAX))
    }

    /// Counts one frame sent at `now_ns`; forgives debt beyond
    /// [`MAX_DEBT_NS`].
    #[inline]
    pub fn sent(&mut self, now_ns: u64) {
        self.sent += 1;
        if now_ns.saturating_sub(self.due_ns()) > MAX_DEBT_NS {
            // The frame just sent becomes frame 0 of a new base.
            self.base_ns = now_ns;
            self.sent = 1;
        }
    }

    /// Starts counting again from `now_ns` (after a burst).
    pub fn rebase(&mut self, now_ns: u64) {
        self.base_ns = now_ns;
        self.sent = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_follow_the_rate_exactly_over_a_second() {
        let mut p = Pacer::new(3, 1_000);
        assert_eq!(p.due_ns(), 1_000);
        let mut dues = vec![];
        for _ in 0..3 {
            let due = p.due_ns();
            dues.push(due);
            p.sent(due);
        }
        assert_eq!(dues, [1_000, 1_000 + 333_333_333, 1_000 + 666_666_666]);
        assert_eq!(p.due_ns(), 1_000 + 1_000_000_000);
    }

    #[test]
    fn small_lags_are_made_up_and_large_ones_forgiven() {
        let mut p = Pacer::new(1_000, 0);
        // Frame 0 sent 1.5 ms late: frame 1 (due at 1 ms) is owed at once.
        p.sent(1_500_000);
        assert_eq!(p.due_ns(), 1_000_000);
        // Frame 1 sent 10 ms late: forgiven, frame 2 is one interval after it.
        p.sent(11_000_000);
        assert_eq!(p.due_ns(), 12_000_000);
        p.sent(12_000_000);
        assert_eq!(p.due_ns(), 13_000_000);
    }

    #[test]
    fn a_paced_wait_looks_around_and_can_be_ended_or_cut_short() {
        let now = monotonic_ns();
        // Due in the past: no wait, no look.
        assert!(wait_until::<()>(now, WaitStrategy::Spin, 0, |_| unreachable!()).is_none());
        // Due far ahead: the look ends it.
        let mut looks = 0;
        let end = wait_until(now + 60_000_000_000, WaitStrategy::Park, 0, |t| {
            looks += 1;
            if looks == 3 {
                Look::End("stopped")
            } else {
                Look::Wait(t + 1_000_000)
            }
        });
        assert_eq!((end, looks), (Some("stopped"), 3));
        // Or lets it go at once.
        let go = wait_until::<()>(now + 60_000_000_000, WaitStrategy::Yield, 0, |_| Look::Go);
        assert!(go.is_none());
    }

    #[test]
    fn huge_rates_do_not_overflow() {
        let mut p = Pacer::new(u64::MAX, u64::MAX - 10);
        for _ in 0..100 {
            p.sent(u64::MAX - 10);
        }
        assert!(p.due_ns() >= u64::MAX - 10);
    }
}
