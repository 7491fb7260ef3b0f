//! Frame verification and latency statistics for the consumer.
//!
//! The producer numbers each frame with its ring position, so the consumer
//! expects exactly one frame per sequence number, in order, from the
//! position it attached at:
//!
//! - a sequence above the expected one is a **gap** (frames went missing);
//! - a sequence below it is a **duplicate** (a frame seen again);
//! - a frame that does not decode (short, body length not matching the slot,
//!   checksum mismatch, non-zero reserved field) is **corrupt**.
//!
//! A frame committed with [`FRAME_RELAYED`] (written by a bridge or a replay)
//! keeps the sequence it had in the ring it came from: it must continue the
//! previous relayed frame's sequence instead. The first relayed frame a run
//! sees sets where that stream stands.

use crate::{decode, decode_header, FrameError, FRAME_HEADER_LEN};
use forge_fabric::hist::Histogram;
use forge_fabric::layout::FRAME_RELAYED;
use forge_fabric::Position;

/// One integrity failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// Frames `expected .. found` never arrived.
    Gap {
        /// The sequence that should have come.
        expected: u64,
        /// The sequence that came.
        found: u64,
    },
    /// A sequence already seen (or older) arrived again.
    Duplicate {
        /// The sequence that should have come.
        expected: u64,
        /// The sequence that came.
        found: u64,
    },
    /// The bytes at this ring position are not a valid frame.
    Corrupt {
        /// Ring position (the sequence the frame should have had).
        position: u64,
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Issue::Gap { expected, found } => write!(
                f,
                "gap: expected sequence {expected}, got {found} ({} frames missing)",
                Position::new(*found).since(Position::new(*expected))
            ),
            Issue::Duplicate { expected, found } => write!(
                f,
                "duplicate: expected sequence {expected}, got {found} again"
            ),
            Issue::Corrupt { position, reason } => {
                write!(f, "corrupt frame at sequence {position}: {reason}")
            }
        }
    }
}

/// Checks a stream of frames for continuity and integrity.
#[derive(Debug, Clone)]
pub struct Verifier {
    expected: u64,
    /// The origin sequence the next relayed frame must carry, once known.
    relayed_next: Option<u64>,
    /// The origin sequence of the first relayed frame seen.
    relayed_first: Option<u64>,
    full: bool,
    /// Discontinuities where frames went missing.
    pub gaps: u64,
    /// Frames whose sequence was already passed.
    pub duplicates: u64,
    /// Frames that did not decode.
    pub corrupt: u64,
    /// The first issue seen, for the report.
    pub first_issue: Option<Issue>,
}

impl Verifier {
    /// Expects `first` next. `full` also checks each body's checksum;
    /// without it only the header, the sequence and the length are checked.
    pub fn new(first: u64, full: bool) -> Self {
        Verifier {
            expected: first,
            relayed_next: None,
            relayed_first: None,
            full,
            gaps: 0,
            duplicates: 0,
            corrupt: 0,
            first_issue: None,
        }
    }

    /// Issues seen so far.
    pub fn issues(&self) -> u64 {
        self.gaps + self.duplicates + self.corrupt
    }

    /// Relayed or replayed frames carry their origin's sequence, not
    /// their ring position here: the first one seen and the one expected
    /// next, once any came.
    pub fn relayed_sequences(&self) -> Option<(u64, u64)> {
        self.relayed_first.zip(self.relayed_next)
    }

    /// The sequence expected next.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// Checks the frame read at ring `position`. Returns its producer
    /// timestamp when the header could be trusted, and the issue if any.
    #[inline]
    pub fn check(&mut self, position: u64, bytes: &[u8]) -> (Option<u64>, Option<Issue>) {
        self.check_with_flags(position, 0, bytes)
    }

    /// Like [`check`](Self::check), for a frame committed with `flags`: a
    /// [`FRAME_RELAYED`] frame is checked against the relayed stream's own
    /// sequence.
    #[inline]
    pub fn check_with_flags(
        &mut self,
        position: u64,
        flags: u16,
        bytes: &[u8],
    ) -> (Option<u64>, Option<Issue>) {
        let header = if self.full {
            decode(bytes).map(|f| f.header)
        } else {
            decode_header(bytes).and_then(|h| {
                let available = bytes.len() - FRAME_HEADER_LEN;
                if h.body_len as usize == available {
                    Ok(h)
                } else {
                    Err(FrameError::BodyLength {
                        body_len: h.body_len,
                        available,
                    })
                }
            })
        };
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                // The slot at this position is consumed either way.
                self.expected = position.wrapping_add(1);
                return (None, Some(self.corrupt_slot(position, e.to_string())));
            }
        };
        let found = header.sequence;
        if flags & FRAME_RELAYED != 0 {
            // A local frame after this one is at the next ring position.
            self.expected = position.wrapping_add(1);
            self.relayed_first.get_or_insert(found);
            let expected = *self.relayed_next.get_or_insert(found);
            return (
                Some(header.timestamp_ns),
                self.continuity(expected, found, |v, next| v.relayed_next = Some(next)),
            );
        }
        let expected = self.expected;
        (
            Some(header.timestamp_ns),
            self.continuity(expected, found, |v, next| v.expected = next),
        )
    }

    /// Compares a frame's sequence with the one expected, counts a gap or a
    /// duplicate, and moves the expectation on with `set`.
    #[inline]
    fn continuity(
        &mut self,
        expected: u64,
        found: u64,
        set: impl FnOnce(&mut Self, u64),
    ) -> Option<Issue> {
        if found == expected {
            set(self, found.wrapping_add(1));
            return None;
        }
        // Sequences are ring positions: they wrap, and compare by signed
        // distance so a wrap is not a giant gap.
        let issue = if Position::new(found).is_after(Position::new(expected)) {
            self.gaps += 1;
            set(self, found.wrapping_add(1));
            Issue::Gap { expected, found }
        } else {
            self.duplicates += 1;
            Issue::Duplicate { expected, found }
        };
        Some(self.note(issue))
    }

    /// Counts the slot at `position` as corrupt, for `reason`, and
    /// returns the issue.
    #[cold]
    pub fn corrupt_slot(&mut self, position: u64, reason: String) -> Issue {
        self.corrupt += 1;
        self.note(Issue::Corrupt { position, reason })
    }

    /// Keeps the first issue for the report.
    #[cold]
    fn note(&mut self, issue: Issue) -> Issue {
        if self.first_issue.is_none() {
            self.first_issue = Some(issue.clone());
        }
        issue
    }
}

/// Latency quantiles for reports, ns. Each is the midpoint of its
/// histogram bucket (buckets are at most 6.25 % wide).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample (exact).
    pub max: u64,
    /// Mean (exact).
    pub mean: u64,
    /// Samples.
    pub samples: u64,
    /// Samples past the histogram's range (at or above `range_ns`): only
    /// counted. A quantile among them is reported as `range_ns`, a lower
    /// bound, and named in `past_range`.
    pub overflow: u64,
    /// Where the histogram's buckets end, ns.
    pub range_ns: u64,
    /// The quantiles (`p50`, `p99`, `p999`) that fall past the range.
    pub past_range: Vec<&'static str>,
}

impl Quantiles {
    /// The figures of `h`: all 0 without samples, but for `range_ns`,
    /// which is the histogram's and not the samples'.
    pub fn of(h: &Histogram) -> Self {
        let range_ns = forge_fabric::layout::HIST_OVERFLOW_NS;
        let q = |x| {
            if h.past_range(x) {
                range_ns
            } else {
                h.quantile(x).unwrap_or(0)
            }
        };
        let past_range = [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)]
            .into_iter()
            .filter(|&(_, x)| h.past_range(x))
            .map(|(name, _)| name)
            .collect();
        Quantiles {
            p50: q(0.5),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max_ns(),
            mean: h.mean().unwrap_or(0),
            samples: h.count(),
            overflow: h.overflow,
            range_ns,
            past_range,
        }
    }

    /// Quantile `name` as a person reads it: its value, or "> range" when
    /// it falls past the histogram's last bucket.
    pub fn show(&self, name: &str, value: u64, format: impl Fn(u64) -> String) -> String {
        if self.past_range.contains(&name) {
            format!(">{}", format(self.range_ns))
        } else {
            format(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue22_5_quantiles_past_the_histogram_are_bounds_not_the_maximum() {
        let mut h = Histogram::new();
        for _ in 0..56_662 {
            h.record(2_000_000);
        }
        for _ in 0..143_338 {
            h.record(509_000_000);
        }
        let q = Quantiles::of(&h);
        assert_eq!(q.past_range, vec!["p50", "p99", "p999"]);
        assert_eq!(q.p50, forge_fabric::layout::HIST_OVERFLOW_NS);
        assert_eq!(q.overflow, 143_338);
        let shown = q.show("p50", q.p50, |ns| format!("{ns}ns"));
        assert_eq!(shown, format!(">{}ns", 1u64 << 24));
        assert_eq!(q.max, 509_000_000);
    }
    use crate::load::{LoadGen, SizeSpec};
    use forge_fabric::PAYLOAD_CAPACITY;

    fn frame(seq: u64) -> Vec<u8> {
        let mut gen = LoadGen::new(SizeSpec::fixed(100), 1, 1).unwrap();
        let mut buf = [0u8; PAYLOAD_CAPACITY];
        let n = gen.write_frame(&mut buf, seq, || 7);
        buf[..n].to_vec()
    }

    #[test]
    fn an_in_order_stream_has_no_issues() {
        let mut v = Verifier::new(10, true);
        for s in 10..20 {
            assert_eq!(v.check(s, &frame(s)), (Some(7), None));
        }
        assert_eq!(v.issues(), 0);
        assert_eq!(v.expected(), 20);
    }

    #[test]
    fn a_skipped_sequence_is_one_gap_and_the_stream_resyncs() {
        let mut v = Verifier::new(0, true);
        v.check(0, &frame(0));
        let (_, issue) = v.check(1, &frame(5));
        assert_eq!(
            issue,
            Some(Issue::Gap {
                expected: 1,
                found: 5
            })
        );
        assert_eq!(v.check(2, &frame(6)).1, None);
        assert_eq!((v.gaps, v.duplicates, v.corrupt), (1, 0, 0));
        assert!(v
            .first_issue
            .unwrap()
            .to_string()
            .contains("4 frames missing"));
    }

    #[test]
    fn a_repeated_sequence_is_a_duplicate() {
        let mut v = Verifier::new(0, true);
        v.check(0, &frame(0));
        v.check(1, &frame(1));
        let (_, issue) = v.check(2, &frame(1));
        assert_eq!(
            issue,
            Some(Issue::Duplicate {
                expected: 2,
                found: 1
            })
        );
        assert_eq!(v.check(3, &frame(2)).1, None);
        assert_eq!((v.gaps, v.duplicates, v.corrupt), (0, 1, 0));
    }

    #[test]
    fn relayed_frames_continue_their_own_sequence_beside_local_ones() {
        let mut v = Verifier::new(0, true);
        // A bridge writes origin sequences 500.. at ring positions 0..
        for (pos, seq) in [(0, 500), (1, 501), (2, 502)] {
            assert_eq!(v.check_with_flags(pos, FRAME_RELAYED, &frame(seq)).1, None);
        }
        // A local producer takes over at position 3.
        assert_eq!(v.check(3, &frame(3)).1, None);
        // The bridge is back, and origin frame 503 never came.
        let (_, issue) = v.check_with_flags(4, FRAME_RELAYED, &frame(504));
        assert_eq!(
            issue,
            Some(Issue::Gap {
                expected: 503,
                found: 504
            })
        );
        let (_, issue) = v.check_with_flags(5, FRAME_RELAYED, &frame(504));
        assert!(matches!(issue, Some(Issue::Duplicate { .. })));
        assert_eq!((v.gaps, v.duplicates), (1, 1));
    }

    #[test]
    fn a_flipped_body_byte_is_corrupt_only_when_verifying_checksums() {
        let mut bad = frame(0);
        *bad.last_mut().unwrap() ^= 0x40;
        let mut full = Verifier::new(0, true);
        let (ts, issue) = full.check(0, &bad);
        assert_eq!(ts, None);
        assert!(issue.unwrap().to_string().contains("checksum mismatch"));
        assert_eq!(full.corrupt, 1);
        assert_eq!(full.check(1, &frame(1)).1, None);
        let mut quick = Verifier::new(0, false);
        assert_eq!(quick.check(0, &bad).1, None);
    }

    #[test]
    fn truncated_or_garbage_slots_are_corrupt_in_both_modes() {
        for full in [true, false] {
            let mut v = Verifier::new(0, full);
            let f = frame(0);
            assert!(v.check(0, &f[..f.len() - 1]).1.is_some());
            assert!(v.check(1, &[0xff; 8]).1.is_some());
            assert!(v.check(2, &[]).1.is_some());
            assert_eq!(v.corrupt, 3);
        }
    }

    #[test]
    fn quantiles_come_from_the_buckets_and_max_is_exact() {
        let mut h = Histogram::default();
        let none = Quantiles {
            range_ns: forge_fabric::layout::HIST_OVERFLOW_NS,
            ..Quantiles::default()
        };
        assert_eq!(Quantiles::of(&h), none);
        for ns in 1..=1000 {
            h.record(ns * 100);
        }
        h.record(1 << 30);
        let q = Quantiles::of(&h);
        assert_eq!(q.samples, 1001);
        assert_eq!(q.max, 1 << 30);
        let near = |got: u64, want: u64| got.abs_diff(want) * 100 <= want * 4;
        assert!(near(q.p50, 50_000), "p50 {}", q.p50);
        assert!(near(q.p99, 99_000), "p99 {}", q.p99);
        assert!(q.p50 <= q.p99 && q.p99 <= q.p999 && q.p999 <= q.max);
    }
}
