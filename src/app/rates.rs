//! Rates from two samples of one session: one rule for the ring view and
//! for every ring of the host view.

use crate::model::{Rates, RingPosition, Sample};

/// What the previous sample said, for rates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prev {
    pub(crate) mono_ns: u64,
    pub(crate) session: u64,
    pub(crate) head: u64,
    pub(crate) tail: u64,
    pub(crate) bytes: u64,
}

/// What a sample did to the rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateStep {
    /// The first sample of a session: the rates start over from zero.
    NewSession,
    /// Too soon after the previous sample for a real interval: nothing
    /// changes.
    TooSoon,
    /// Rates over the interval since the previous sample.
    Rated,
}

/// Rates from `s`, taken at `mono_ns`, against `prev`, which moves only
/// when a rate was computed (or there was none): a too-short interval (a
/// selection that moved and sampled early) leaves it in place.
pub(crate) fn rate(
    prev: &mut Option<Prev>,
    s: &Sample,
    mono_ns: u64,
    min_dt_ns: u64,
    rates: &mut Rates,
) -> RateStep {
    let rated = match prev.filter(|p| p.session == s.session_id()) {
        None => {
            // A new session: nothing of the old one's rates belongs to it.
            *rates = Rates::default();
            RateStep::NewSession
        }
        Some(p) if mono_ns.saturating_sub(p.mono_ns) >= min_dt_ns => {
            let dt = (mono_ns - p.mono_ns) as f64 / 1e9;
            let since = |now: u64, then: u64| {
                RingPosition::new(now).since(RingPosition::new(then)) as f64 / dt
            };
            rates.frames_per_s = since(s.head(), p.head);
            rates.consumed_per_s = since(s.tail(), p.tail);
            rates.bytes_per_s = s.header.producer.bytes.saturating_sub(p.bytes) as f64 / dt;
            rates.peak_frames_per_s = rates.peak_frames_per_s.max(rates.frames_per_s);
            rates.peak_bytes_per_s = rates.peak_bytes_per_s.max(rates.bytes_per_s);
            RateStep::Rated
        }
        Some(_) => return RateStep::TooSoon,
    };
    *prev = Some(Prev {
        mono_ns,
        session: s.session_id(),
        head: s.head(),
        tail: s.tail(),
        bytes: s.header.producer.bytes,
    });
    rated
}
