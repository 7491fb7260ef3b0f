//! The log-linear latency histogram, in private memory: what forge-core
//! records per frame for its own report, and what an observer copies out of
//! the consumer's shared block (same buckets, see [`crate::layout::bucket_of`]).

use crate::layout::{bucket_high, bucket_low, bucket_of, HIST_BUCKETS};

/// Latency samples in [`HIST_BUCKETS`] log-linear buckets (at most 6.25 %
/// wide) plus an overflow count, with their count, sum and maximum.
///
/// # Examples
///
/// ```
/// use forge_fabric::hist::Histogram;
///
/// let mut h = Histogram::new();
/// for ns in [200, 210, 220, 5_000] {
///     h.record(ns);
/// }
/// assert_eq!(h.count(), 4);
/// let p50 = h.quantile(0.5).unwrap();
/// assert!((200..=225).contains(&p50), "{p50}");
/// assert_eq!(h.max_ns(), 5_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Histogram {
    /// Samples, overflow included.
    pub count: u64,
    /// Sum of samples, ns (wrapping).
    pub sum_ns: u64,
    /// Largest sample, ns.
    pub max_ns: u64,
    /// Samples at or above [`crate::layout::HIST_OVERFLOW_NS`].
    pub overflow: u64,
    /// Per-bucket counts.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub buckets: Box<[u64; HIST_BUCKETS]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            count: 0,
            sum_ns: 0,
            max_ns: 0,
            overflow: 0,
            buckets: Box::new([0; HIST_BUCKETS]),
        }
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies the consumer's shared block. `count` and the buckets are not
    /// stored together, so they may disagree by the samples being recorded.
    /// (Only the observer reads it, and it is not in the loom build.)
    #[cfg(not(loom))]
    pub(crate) fn read(block: &crate::layout::LatencyBlock) -> Self {
        use crate::sync::Ordering;
        let mut buckets = Box::new([0; HIST_BUCKETS]);
        for (dst, src) in buckets.iter_mut().zip(block.buckets.iter()) {
            *dst = src.load(Ordering::Relaxed);
        }
        Histogram {
            count: block.count.load(Ordering::Relaxed),
            sum_ns: block.sum_ns.load(Ordering::Relaxed),
            max_ns: block.max_ns.load(Ordering::Relaxed),
            overflow: block.overflow.load(Ordering::Relaxed),
            buckets,
        }
    }

    /// Adds one sample.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        match bucket_of(ns) {
            Some(i) => self.buckets[i] += 1,
            None => self.overflow += 1,
        }
        self.count += 1;
        self.sum_ns = self.sum_ns.wrapping_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest sample, ns.
    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// The latency at quantile `q` (0..=1), in ns: the midpoint of the bucket
    /// the `ceil(q × n)`-th smallest sample falls in (within 3.2 % of the
    /// true value), capped at the maximum; for a sample in the overflow, the
    /// maximum. `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        // u128: counts copied from shared memory may be anything.
        let total: u128 =
            self.buckets.iter().map(|&n| u128::from(n)).sum::<u128>() + u128::from(self.overflow);
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u128).max(1);
        let mut seen = 0u128;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u128::from(n);
            if seen >= rank {
                let mid = (bucket_low(i) + bucket_high(i)) / 2;
                return Some(mid.min(self.max_ns.max(bucket_low(i))));
            }
        }
        Some(self.max_ns)
    }

    /// Does quantile `q` fall past the last bucket, in the overflow? Then
    /// no value is known for it, only that it is at least
    /// [`crate::layout::HIST_OVERFLOW_NS`]: [`quantile`](Self::quantile)
    /// answers the maximum there, which a report must not print as the
    /// quantile itself.
    ///
    /// ```
    /// use forge_fabric::hist::Histogram;
    /// use forge_fabric::layout::HIST_OVERFLOW_NS;
    ///
    /// let mut h = Histogram::new();
    /// h.record(1_000);
    /// for _ in 0..3 {
    ///     h.record(HIST_OVERFLOW_NS * 30);
    /// }
    /// assert!(!h.past_range(0.25));
    /// assert!(h.past_range(0.5));
    /// ```
    pub fn past_range(&self, q: f64) -> bool {
        let within: u128 = self.buckets.iter().map(|&n| u128::from(n)).sum();
        let total = within + u128::from(self.overflow);
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u128).max(1);
        total > 0 && rank > within
    }

    /// Mean latency in ns.
    pub fn mean(&self) -> Option<u64> {
        (self.count > 0).then(|| self.sum_ns / self.count)
    }

    /// The difference `self - earlier`, bucket by bucket: the samples
    /// recorded between two copies.
    ///
    /// Its `max_ns` is the window's own maximum as far as the buckets tell:
    /// the upper bound of the highest bucket that gained samples (never above
    /// the all-time max), or the all-time max when the overflow bucket grew.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut buckets = Box::new([0; HIST_BUCKETS]);
        for ((dst, now), then) in buckets
            .iter_mut()
            .zip(self.buckets.iter())
            .zip(earlier.buckets.iter())
        {
            *dst = now.saturating_sub(*then);
        }
        let overflow = self.overflow.saturating_sub(earlier.overflow);
        let max_ns = if overflow > 0 {
            self.max_ns
        } else {
            buckets
                .iter()
                .rposition(|&n| n > 0)
                .map_or(0, |i| bucket_high(i).min(self.max_ns))
        };
        Histogram {
            count: self.count.saturating_sub(earlier.count),
            sum_ns: self.sum_ns.wrapping_sub(earlier.sum_ns),
            max_ns,
            overflow,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(samples: &[u64]) -> Histogram {
        let mut h = Histogram::new();
        for &v in samples {
            h.record(v);
        }
        h
    }

    #[test]
    fn quantiles_land_within_a_bucket_of_the_truth() {
        let samples: Vec<u64> = (1..=10_000).map(|i| i * 100).collect();
        let h = hist(&samples);
        for (q, truth) in [(0.5, 500_000f64), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let got = h.quantile(q).unwrap() as f64;
            assert!(
                (got - truth).abs() / truth < 0.035,
                "q{q}: {got} vs {truth}"
            );
        }
        assert_eq!(Histogram::new().quantile(0.5), None);
    }

    #[test]
    fn a_window_reports_its_own_max_not_the_all_time_one() {
        let early = hist(&[5_000_000, 100]);
        let mut later = early.clone();
        later.record(200);
        later.record(300);
        // `record` raised the all-time max only if above; it was not.
        let window = later.since(&early);
        assert_eq!(window.count, 2);
        assert!(
            window.max_ns >= 300 && window.max_ns < 320,
            "{}",
            window.max_ns
        );
    }

    #[test]
    fn the_overflow_reports_the_maximum_and_counts_in_quantiles() {
        let mut h = hist(&[100; 9]);
        h.record(1 << 30);
        assert_eq!(h.quantile(1.0), Some(1 << 30));
        assert_eq!(h.count(), 10);
        assert!(h.quantile(0.5).unwrap() < 110);
    }

    #[test]
    fn hostile_counts_never_overflow() {
        let mut h = Histogram::new();
        h.buckets[3] = u64::MAX;
        h.buckets[200] = u64::MAX;
        h.overflow = u64::MAX;
        assert!(h.quantile(0.99).is_some());
    }
}
