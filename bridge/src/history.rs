//! The sender's bounded history: the last packs `out` published, for
//! receivers that missed some (a restarted `in`, a link that dropped), and
//! the sender's word on what is gone.
//!
//! Bounded twice, in frames and in bytes; the oldest packs go first. Packs
//! are kept as the `ZBytes` handed to Zenoh, so keeping one is a reference
//! count, not a copy.
//!
//! Only the sender can say a frame is gone, and it says so from here: a
//! sequence it published (it is before `next`) that no kept pack holds — older
//! than the oldest pack, or a hole the stream itself had — is gone for good.
//! A sequence at or past `next` is not published yet: nothing is said of it.

use std::collections::VecDeque;

use zenoh::bytes::ZBytes;

/// One kept pack: frames `first..end`.
#[derive(Debug, Clone)]
pub struct Kept {
    /// First sequence.
    pub first: u64,
    /// One past the last.
    pub end: u64,
    /// The sealed pack as published.
    pub pack: ZBytes,
}

/// What the history says of a range.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Frames `from..to` are in `pack`.
    Frames {
        /// First sequence wanted from the pack.
        from: u64,
        /// One past the last.
        to: u64,
        /// The pack holding them (and maybe others).
        pack: ZBytes,
    },
    /// Frames `from..to` were published and are not kept: gone for good.
    Gone {
        /// First sequence.
        from: u64,
        /// One past the last.
        to: u64,
    },
}

/// The last packs published, oldest first.
#[derive(Debug)]
pub struct History {
    packs: VecDeque<Kept>,
    frames: u64,
    bytes: usize,
    max_frames: u64,
    max_bytes: usize,
    next: Option<u64>,
}

impl History {
    /// Keeps at most `max_frames` frames and `max_bytes` bytes (0 keeps none).
    pub fn new(max_frames: usize, max_bytes: usize) -> Self {
        History {
            packs: VecDeque::new(),
            frames: 0,
            bytes: 0,
            max_frames: max_frames as u64,
            max_bytes,
            next: None,
        }
    }

    /// Adds the pack of frames `first..end`. A pack that starts before the
    /// last one ended (the origin's sequence went back) starts the history
    /// over: what it held belongs to another stream.
    pub fn push(&mut self, first: u64, end: u64, pack: ZBytes) {
        if self
            .next
            .is_some_and(|next| crate::wire::before(first, next))
        {
            self.clear();
        }
        self.next = Some(end);
        let count = end.wrapping_sub(first);
        let len = pack.len();
        if count > self.max_frames || len > self.max_bytes {
            // Too large to keep at all: forget the older ones too, so that
            // what is kept stays one stretch of the stream.
            self.packs.clear();
            self.frames = 0;
            self.bytes = 0;
            return;
        }
        while self.frames + count > self.max_frames || self.bytes + len > self.max_bytes {
            let Some(old) = self.packs.pop_front() else {
                break;
            };
            self.frames -= old.end.wrapping_sub(old.first);
            self.bytes -= old.pack.len();
        }
        self.frames += count;
        self.bytes += len;
        self.packs.push_back(Kept { first, end, pack });
    }

    /// Forgets everything, `next` included.
    pub fn clear(&mut self) {
        self.packs.clear();
        self.frames = 0;
        self.bytes = 0;
        self.next = None;
    }

    /// One past the last sequence published, once one was.
    pub fn next(&self) -> Option<u64> {
        self.next
    }

    /// The oldest sequence still kept (`next` when nothing is).
    pub fn front(&self) -> Option<u64> {
        self.packs.front().map(|k| k.first).or(self.next)
    }

    /// What the history says of `from..to`, in order: the kept frames, and
    /// the published sequences it no longer has. Sequences at or past
    /// `next` get nothing. `to - from` must be at most 2⁶² (callers check).
    pub fn answer(&self, from: u64, to: u64) -> Vec<Piece> {
        let len = to.wrapping_sub(from);
        let Some(next) = self.next else {
            return Vec::new();
        };
        // Offsets from `from`, signed: a pack that started before `from`
        // has a negative start.
        let rel = |s: u64| s.wrapping_sub(from) as i64;
        let published = rel(next).clamp(0, len as i64) as u64;
        let mut out = Vec::new();
        let mut at = 0u64;
        for k in &self.packs {
            let (s, e) = (rel(k.first), rel(k.end));
            if e <= at as i64 || s >= published as i64 {
                continue;
            }
            let s = s.max(0) as u64;
            let e = (e as u64).min(published);
            if s > at {
                out.push(Piece::Gone {
                    from: from.wrapping_add(at),
                    to: from.wrapping_add(s),
                });
            }
            let s = s.max(at);
            out.push(Piece::Frames {
                from: from.wrapping_add(s),
                to: from.wrapping_add(e),
                pack: k.pack.clone(),
            });
            at = e;
        }
        if at < published {
            out.push(Piece::Gone {
                from: from.wrapping_add(at),
                to: from.wrapping_add(published),
            });
        }
        out
    }

    /// Frames kept.
    pub fn len(&self) -> u64 {
        self.frames
    }

    /// Is nothing kept?
    pub fn is_empty(&self) -> bool {
        self.packs.is_empty()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(n: usize) -> ZBytes {
        ZBytes::from(vec![0u8; n])
    }

    /// The answer as (kind, from, to) triples.
    fn says(h: &History, from: u64, to: u64) -> Vec<(&'static str, u64, u64)> {
        h.answer(from, to)
            .into_iter()
            .map(|p| match p {
                Piece::Frames { from, to, .. } => ("frames", from, to),
                Piece::Gone { from, to } => ("gone", from, to),
            })
            .collect()
    }

    #[test]
    fn the_oldest_packs_go_first_when_either_bound_is_reached() {
        let mut h = History::new(6, 1_000);
        for s in 0..5 {
            h.push(s * 2, s * 2 + 2, pack(10));
        }
        assert_eq!((h.len(), h.front()), (6, Some(4)));
        let mut h = History::new(100, 25);
        for s in 0..5 {
            h.push(s, s + 1, pack(10));
        }
        assert_eq!((h.len(), h.bytes(), h.front()), (2, 20, Some(3)));
    }

    #[test]
    fn a_range_is_answered_with_kept_frames_and_gone_published_ones_only() {
        let mut h = History::new(100, 1 << 20);
        h.push(10, 14, pack(1));
        // A hole in the stream itself: 14..16 never published.
        h.push(16, 20, pack(1));
        assert_eq!(
            says(&h, 0, 30),
            [
                ("gone", 0, 10),
                ("frames", 10, 14),
                ("gone", 14, 16),
                ("frames", 16, 20)
            ]
        );
        assert_eq!(
            says(&h, 12, 17),
            [("frames", 12, 14), ("gone", 14, 16), ("frames", 16, 17)]
        );
        // Not published yet: nothing said.
        assert!(says(&h, 20, 25).is_empty());
        assert!(says(&h, 15, 15).is_empty());
    }

    #[test]
    fn without_packs_everything_published_is_gone() {
        let mut h = History::new(0, 0);
        assert!(says(&h, 0, 10).is_empty(), "nothing published yet");
        h.push(0, 5, pack(1));
        assert_eq!(says(&h, 2, 9), [("gone", 2, 5)]);
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn ranges_work_across_the_wrap_of_sequences() {
        let mut h = History::new(100, 1 << 20);
        let start = u64::MAX - 2;
        h.push(start, start.wrapping_add(3), pack(1));
        h.push(start.wrapping_add(3), 4, pack(1));
        assert_eq!(
            says(&h, u64::MAX - 5, 2),
            [
                ("gone", u64::MAX - 5, start),
                ("frames", start, 0),
                ("frames", 0, 2)
            ]
        );
    }

    #[test]
    fn a_sequence_going_backwards_starts_the_history_over() {
        let mut h = History::new(100, 1 << 20);
        h.push(50, 53, pack(1));
        h.push(0, 1, pack(1));
        assert_eq!((h.front(), h.next(), h.len()), (Some(0), Some(1), 1));
    }
}
