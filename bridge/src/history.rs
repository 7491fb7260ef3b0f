//! The sender's bounded history: the last frames `out` published, for
//! receivers that missed some (a restarted `in`, a link that dropped).
//!
//! Bounded twice, in frames and in bytes; the oldest go first. Frames are
//! kept as the `ZBytes` handed to Zenoh, so keeping one is a reference
//! count, not a copy.

use std::collections::VecDeque;

use zenoh::bytes::ZBytes;

use crate::wire::Range;

/// The last frames published, oldest first, in sequence order.
#[derive(Debug)]
pub struct History {
    frames: VecDeque<(u64, ZBytes)>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl History {
    /// Keeps at most `max_frames` frames and `max_bytes` bytes (0 keeps none).
    pub fn new(max_frames: usize, max_bytes: usize) -> Self {
        History {
            frames: VecDeque::with_capacity(max_frames.min(1 << 16)),
            bytes: 0,
            max_frames,
            max_bytes,
        }
    }

    /// Adds frame `sequence`. A sequence that does not follow the last one
    /// (a restarted origin) starts the history over: ranges are looked up
    /// by binary search, which needs them in order.
    pub fn push(&mut self, sequence: u64, frame: ZBytes) {
        if self
            .frames
            .back()
            .is_some_and(|(last, _)| *last >= sequence)
        {
            self.clear();
        }
        let len = frame.len();
        if self.max_frames == 0 || len > self.max_bytes {
            return;
        }
        while self.frames.len() >= self.max_frames || self.bytes + len > self.max_bytes {
            let Some((_, old)) = self.frames.pop_front() else {
                break;
            };
            self.bytes -= old.len();
        }
        self.bytes += len;
        self.frames.push_back((sequence, frame));
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }

    /// The frames of `range` still kept, in order (handles, not copies).
    pub fn range(&self, range: Range) -> Vec<(u64, ZBytes)> {
        let start = self.frames.partition_point(|(s, _)| *s < range.from);
        let end = match range.to {
            Some(to) => self.frames.partition_point(|(s, _)| *s < to),
            None => self.frames.len(),
        };
        self.frames
            .range(start..end.max(start))
            .map(|(s, f)| (*s, f.clone()))
            .collect()
    }

    /// Frames kept.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> ZBytes {
        ZBytes::from(vec![0u8; n])
    }

    fn seqs(v: &[(u64, ZBytes)]) -> Vec<u64> {
        v.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn the_oldest_frames_go_first_when_either_bound_is_reached() {
        let mut h = History::new(3, 1_000);
        for s in 0..5 {
            h.push(s, bytes(10));
        }
        assert_eq!(seqs(&h.range(Range { from: 0, to: None })), [2, 3, 4]);
        let mut h = History::new(100, 25);
        for s in 0..5 {
            h.push(s, bytes(10));
        }
        assert_eq!((h.len(), h.bytes()), (2, 20));
        assert_eq!(seqs(&h.range(Range { from: 0, to: None })), [3, 4]);
    }

    #[test]
    fn a_range_returns_what_is_kept_of_it() {
        let mut h = History::new(100, 1 << 20);
        for s in 10..20 {
            h.push(s, bytes(1));
        }
        let r = |from, to| seqs(&h.range(Range { from, to }));
        assert_eq!(r(12, Some(15)), [12, 13, 14]);
        assert_eq!(r(0, Some(12)), [10, 11]);
        assert_eq!(r(18, None), [18, 19]);
        assert!(r(25, None).is_empty());
        assert!(r(15, Some(15)).is_empty());
    }

    #[test]
    fn a_sequence_going_backwards_starts_the_history_over() {
        let mut h = History::new(100, 1 << 20);
        for s in 50..53 {
            h.push(s, bytes(1));
        }
        h.push(0, bytes(1));
        assert_eq!(seqs(&h.range(Range { from: 0, to: None })), [0]);
    }

    #[test]
    fn a_zero_history_keeps_nothing() {
        let mut h = History::new(0, 0);
        h.push(1, bytes(1));
        assert_eq!(h.len(), 0);
    }
}
