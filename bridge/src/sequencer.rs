//! The receiving side's bookkeeping for one origin session: which frames
//! to write into the ring, in which order, which to drop as duplicates,
//! which to ask the sender's history for, and which are lost for good.
//! Pure logic, no I/O: the `in` bridge feeds it authenticated frames,
//! replies and statuses and carries out what it decides.
//!
//! ```text
//!  live frame s:   s < next          -> duplicate, dropped
//!                  s == next         -> written (unless frames wait: then it waits too)
//!                  s > next          -> waits (bounded); ask the history for next..s
//!  history frame:  s == next         -> written (recovered); waiting ones follow
//!                  s > next          -> waits
//!  gone a..b:      next in a..b      -> next..b lost, reported; waiting ones follow
//!  query done:     still a hole      -> ask again (nothing is declared lost)
//!  status N:       idle, next < N    -> the tail went missing: ask the history for next..N
//! ```
//!
//! Only the sender says what is lost (a "gone" reply, authenticated and
//! bound to our query): a timeout, a silent history, a status or a frame
//! far ahead never makes the receiver skip a sequence. Frames beyond a hole
//! wait in memory up to a byte bound; past it they are left to the next
//! query (the sender's history has them, or will say they are gone).

use std::collections::BTreeMap;

use crate::wire::before;

/// A range of sequences, `from..to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First.
    pub from: u64,
    /// One past the last.
    pub to: u64,
}

/// What to do after a step. Frames come with their sequence.
#[derive(Debug)]
pub struct Effects<F> {
    /// Frames to write into the ring, in this order.
    pub write: Vec<(u64, F)>,
    /// Ranges `[from, to)` lost for good (the sender said so).
    pub lost: Vec<(u64, u64)>,
    /// Of `write`, how many came from the history.
    pub recovered: u64,
    /// Frames dropped because they were already written.
    pub duplicates: u64,
}

impl<F> Default for Effects<F> {
    fn default() -> Self {
        Effects {
            write: Vec::new(),
            lost: Vec::new(),
            recovered: 0,
            duplicates: 0,
        }
    }
}

impl<F> Effects<F> {
    /// Empties it, keeping the vectors' capacity.
    pub fn clear(&mut self) {
        self.write.clear();
        self.lost.clear();
        self.recovered = 0;
        self.duplicates = 0;
    }
}

/// Most "gone" ranges remembered during one query.
const MAX_GONE: usize = 4096;

/// The receiving side's state for one origin session.
#[derive(Debug)]
pub struct Sequencer<F> {
    next: Option<u64>,
    /// Waiting frames are keyed by their distance from `anchor`, so their
    /// order holds across the wrap of sequences.
    anchor: u64,
    /// Waiting frames: (from the history?, frame).
    pending: BTreeMap<u64, (bool, F)>,
    pending_bytes: usize,
    pending_limit: usize,
    /// Frames not kept because the bound was reached, since last asked.
    overflowed: u64,
    /// Ranges the sender said are gone, during the query under way.
    gone: Vec<Range>,
    wanted: Option<Range>,
    in_flight: Option<Range>,
}

impl<F: ByteLen> Sequencer<F> {
    /// A sequencer whose next frame is `next` (`None`: whatever comes
    /// first), keeping at most `pending_limit` bytes of frames beyond a hole.
    pub fn new(next: Option<u64>, pending_limit: usize) -> Self {
        Sequencer {
            next,
            anchor: next.unwrap_or(0),
            pending: BTreeMap::new(),
            pending_bytes: 0,
            pending_limit,
            overflowed: 0,
            gone: Vec::new(),
            wanted: None,
            in_flight: None,
        }
    }

    /// The next sequence to write, once known.
    pub fn next(&self) -> Option<u64> {
        self.next
    }

    /// Frames waiting beyond a hole.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Their bytes.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Frames not kept since the last call, because the bound was reached.
    pub fn take_overflowed(&mut self) -> u64 {
        std::mem::take(&mut self.overflowed)
    }

    /// Is a history query wanted or under way?
    pub fn recovering(&self) -> bool {
        self.wanted.is_some() || self.in_flight.is_some()
    }

    /// Can the frames `first..` be written straight away, in order? The
    /// fast path of a live pack: then call [`wrote`](Self::wrote).
    #[inline]
    pub fn in_order(&self, first: u64) -> bool {
        self.next.is_none_or(|n| n == first) && self.pending.is_empty()
    }

    /// The frames up to `end` were written by the fast path.
    #[inline]
    pub fn wrote(&mut self, end: u64) {
        self.next = Some(end);
        if self.wanted.is_some_and(|w| !before(end, w.to)) {
            self.wanted = None;
        }
    }

    /// A frame of the live stream.
    pub fn live(&mut self, seq: u64, frame: F, fx: &mut Effects<F>) {
        let Some(next) = self.next else {
            // A fresh ring starts with whatever comes first.
            self.next = Some(seq.wrapping_add(1));
            self.anchor = seq;
            fx.write.push((seq, frame));
            return;
        };
        if before(seq, next) {
            fx.duplicates += 1;
        } else if seq == next {
            // Continues the stream: written, whatever else is under way.
            self.next = Some(next.wrapping_add(1));
            fx.write.push((seq, frame));
            self.advance(fx);
        } else {
            self.buffer(seq, false, frame);
            self.ask_for_hole();
            self.advance(fx);
        }
    }

    /// A frame from the history, in answer to the query under way.
    pub fn reply(&mut self, seq: u64, frame: F, fx: &mut Effects<F>) {
        let Some(next) = self.next else { return };
        if before(seq, next) {
            fx.duplicates += 1;
        } else if seq == next {
            self.next = Some(next.wrapping_add(1));
            fx.write.push((seq, frame));
            fx.recovered += 1;
            self.advance(fx);
        } else {
            self.buffer(seq, true, frame);
            self.advance(fx);
        }
    }

    /// The sender says frames `from..to` are gone for good (in answer to
    /// the query under way).
    pub fn gone(&mut self, from: u64, to: u64, fx: &mut Effects<F>) {
        if self.gone.len() < MAX_GONE && before(from, to) {
            self.gone.push(Range { from, to });
        }
        self.advance(fx);
    }

    /// The history query under way ended. What it did not bring stays
    /// missing, not lost: the next query asks again.
    pub fn query_done(&mut self) {
        self.in_flight = None;
        self.gone.clear();
        self.ask_for_hole();
    }

    /// The sender says it has published everything before `published`:
    /// when idle and behind, the tail went missing (a dropped link while
    /// the stream paused), so ask the history for it. It never moves
    /// `next`.
    pub fn status(&mut self, published: u64) {
        let Some(next) = self.next else { return };
        if !self.recovering() && self.pending.is_empty() && before(next, published) {
            self.wanted = Some(Range {
                from: next,
                to: published,
            });
        }
    }

    /// The query to send now, if one is wanted; it is then under way.
    pub fn take_query(&mut self) -> Option<Range> {
        if self.in_flight.is_some() {
            return None;
        }
        self.in_flight = self.wanted.take();
        self.in_flight
    }

    /// Wants `next..first waiting` if frames wait and nothing is asked.
    fn ask_for_hole(&mut self) {
        if self.recovering() {
            return;
        }
        if let (Some(next), Some(first)) = (self.next, self.first_pending()) {
            if before(next, first) {
                self.wanted = Some(Range {
                    from: next,
                    to: first,
                });
            }
        }
    }

    fn key(&self, seq: u64) -> u64 {
        seq.wrapping_sub(self.anchor)
    }

    fn first_pending(&self) -> Option<u64> {
        self.pending
            .first_key_value()
            .map(|(&k, _)| self.anchor.wrapping_add(k))
    }

    fn buffer(&mut self, seq: u64, from_history: bool, frame: F) {
        if self.pending.is_empty() {
            // Re-anchor while nothing depends on the old anchor.
            self.anchor = self.next.unwrap_or(seq);
        }
        let key = self.key(seq);
        if key > crate::wire::MAX_RANGE || self.pending.contains_key(&key) {
            return;
        }
        // Past the bound the frame is left to the next query: it is in
        // the sender's history, or the sender will say it is gone.
        if self.pending_bytes + frame.byte_len() > self.pending_limit && !self.pending.is_empty() {
            self.overflowed += 1;
            return;
        }
        self.pending_bytes += frame.byte_len();
        self.pending.insert(key, (from_history, frame));
    }

    /// Writes the waiting frames that continue the stream, and reports as
    /// lost the gone ranges that `next` reaches.
    fn advance(&mut self, fx: &mut Effects<F>) {
        while let Some(next) = self.next {
            if self.first_pending() == Some(next) {
                let (_, (from_history, f)) = self.pending.pop_first().expect("a first");
                self.pending_bytes -= f.byte_len();
                fx.recovered += u64::from(from_history);
                fx.write.push((next, f));
                self.next = Some(next.wrapping_add(1));
                continue;
            }
            let Some(g) = self
                .gone
                .iter()
                .find(|g| !before(next, g.from) && before(next, g.to))
                .copied()
            else {
                break;
            };
            // Frames we hold inside the range are still written.
            let to = match self.first_pending() {
                Some(p) if before(p, g.to) => p,
                _ => g.to,
            };
            match fx.lost.last_mut() {
                Some(last) if last.1 == next => last.1 = to,
                _ => fx.lost.push((next, to)),
            }
            self.next = Some(to);
        }
        // Waiting frames already passed are duplicates.
        while let (Some(next), Some(first)) = (self.next, self.first_pending()) {
            if !before(first, next) {
                break;
            }
            let (_, (_, f)) = self.pending.pop_first().expect("a first");
            self.pending_bytes -= f.byte_len();
            fx.duplicates += 1;
        }
        if let (Some(next), Some(w)) = (self.next, self.wanted) {
            if !before(next, w.to) {
                self.wanted = None;
            }
        }
    }
}

/// A frame's size, for the buffer's bound.
pub trait ByteLen {
    /// Bytes.
    fn byte_len(&self) -> usize;
}

impl ByteLen for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seq = Sequencer<Vec<u8>>;

    fn f() -> Vec<u8> {
        vec![0; 10]
    }

    fn written(fx: &Effects<Vec<u8>>) -> Vec<u64> {
        fx.write.iter().map(|(s, _)| *s).collect()
    }

    fn live(s: &mut Seq, seqs: impl IntoIterator<Item = u64>) -> Effects<Vec<u8>> {
        let mut fx = Effects::default();
        for q in seqs {
            s.live(q, f(), &mut fx);
        }
        fx
    }

    fn replies(s: &mut Seq, seqs: impl IntoIterator<Item = u64>) -> Effects<Vec<u8>> {
        let mut fx = Effects::default();
        for q in seqs {
            s.reply(q, f(), &mut fx);
        }
        fx
    }

    fn range(from: u64, to: u64) -> Option<Range> {
        Some(Range { from, to })
    }

    #[test]
    fn a_fresh_ring_starts_at_the_first_frame_and_drops_duplicates() {
        let mut s = Seq::new(None, 1 << 20);
        let fx = live(&mut s, [100, 101, 101, 102, 50]);
        assert_eq!(written(&fx), [100, 101, 102]);
        assert_eq!(fx.duplicates, 2);
        assert!(fx.lost.is_empty());
    }

    #[test]
    fn a_gap_is_filled_from_history_and_waiting_frames_follow_in_order() {
        let mut s = Seq::new(None, 1 << 20);
        let fx = live(&mut s, [0, 1, 5, 6, 7]);
        assert_eq!(written(&fx), [0, 1]);
        assert_eq!(s.take_query(), range(2, 5));
        assert_eq!(s.take_query(), None, "one query at a time");
        let fx = replies(&mut s, [2, 3, 4]);
        s.query_done();
        assert_eq!(written(&fx), [2, 3, 4, 5, 6, 7]);
        assert_eq!(fx.recovered, 3);
        assert!(fx.lost.is_empty());
        assert!(!s.recovering());
        assert!(s.in_order(8) && !s.in_order(9));
        assert_eq!(written(&live(&mut s, [8])), [8]);
    }

    #[test]
    fn only_the_senders_gone_reply_declares_a_loss() {
        let mut s = Seq::new(None, 1 << 20);
        live(&mut s, [0, 10, 11]);
        assert_eq!(s.take_query(), range(1, 10));
        // The history kept 6.. only, and says so.
        let mut fx = Effects::default();
        s.gone(1, 6, &mut fx);
        for q in 6..10 {
            s.reply(q, f(), &mut fx);
        }
        s.query_done();
        assert_eq!(fx.lost, [(1, 6)]);
        assert_eq!(written(&fx), [6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn a_query_that_ends_without_an_answer_loses_nothing_and_asks_again() {
        let mut s = Seq::new(None, 1 << 20);
        live(&mut s, [0, 20, 21]);
        assert_eq!(s.take_query(), range(1, 20));
        // Timed out, link dropped, or a stranger's replies that failed.
        s.query_done();
        assert_eq!(s.take_query(), range(1, 20));
        let fx = live(&mut s, [22]);
        assert!(fx.write.is_empty() && fx.lost.is_empty());
        assert_eq!(s.pending(), 3);
    }

    #[test]
    fn a_status_far_ahead_asks_but_never_skips() {
        let mut s = Seq::new(None, 1 << 20);
        s.status(10);
        assert_eq!(s.take_query(), None, "nothing to compare with yet");
        live(&mut s, [0, 1, 2]);
        s.status(3);
        assert_eq!(s.take_query(), None);
        s.status(1_000_003);
        assert_eq!(s.take_query(), range(3, 1_000_003));
        // The sender has published nothing past 5 in truth: its history
        // answers what it has, the rest waits; the next frame is written.
        let fx = replies(&mut s, [3, 4]);
        s.query_done();
        assert_eq!(written(&fx), [3, 4]);
        assert!(fx.lost.is_empty());
        assert!(s.in_order(5));
        assert_eq!(written(&live(&mut s, [5])), [5]);
    }

    #[test]
    fn gone_ranges_skip_only_what_is_not_held() {
        let mut s = Seq::new(Some(0), 1 << 20);
        live(&mut s, [3, 8]);
        assert_eq!(s.take_query(), range(0, 3));
        let mut fx = Effects::default();
        // A gone range covering a frame we hold: that frame is written.
        s.gone(0, 5, &mut fx);
        assert_eq!(fx.lost, [(0, 3), (4, 5)]);
        assert_eq!(written(&fx), [3]);
        s.gone(4, 8, &mut fx);
        assert_eq!(fx.lost, [(0, 3), (4, 8)]);
        assert_eq!(written(&fx), [3, 8]);
    }

    #[test]
    fn a_restarted_bridge_resumes_after_the_last_frame_of_its_ring() {
        let mut s = Seq::new(Some(500), 1 << 20);
        let fx = live(&mut s, [498, 499, 500]);
        assert_eq!(written(&fx), [500]);
        assert_eq!(fx.duplicates, 2);
        let mut s = Seq::new(Some(500), 1 << 20);
        live(&mut s, [520]);
        assert_eq!(s.take_query(), range(500, 520));
    }

    #[test]
    fn frames_past_the_bound_are_left_to_the_next_query() {
        let mut s = Seq::new(None, 25);
        live(&mut s, [0, 5, 6, 7, 8]);
        assert_eq!(s.pending(), 2);
        assert_eq!(s.take_overflowed(), 2);
        s.take_query().unwrap();
        let fx = replies(&mut s, [1, 2, 3, 4]);
        s.query_done();
        assert_eq!(written(&fx), [1, 2, 3, 4, 5, 6]);
        assert!(fx.lost.is_empty());
        live(&mut s, [9]);
        assert_eq!(s.take_query(), range(7, 9));
    }

    #[test]
    fn a_hole_among_waiting_frames_asks_for_another_query() {
        let mut s = Seq::new(None, 1 << 20);
        live(&mut s, [0, 3]);
        s.take_query().unwrap();
        live(&mut s, [4, 9]);
        let fx = replies(&mut s, [1, 2]);
        s.query_done();
        assert_eq!(written(&fx), [1, 2, 3, 4]);
        assert_eq!(s.take_query(), range(5, 9));
    }

    #[test]
    fn sequences_across_the_wrap_keep_their_order() {
        let start = u64::MAX - 2;
        let mut s = Seq::new(Some(start), 1 << 20);
        live(&mut s, [1, 2]);
        assert_eq!(s.take_query(), range(start, 1));
        let fx = replies(&mut s, [start, u64::MAX - 1, u64::MAX, 0]);
        s.query_done();
        assert_eq!(written(&fx), [start, u64::MAX - 1, u64::MAX, 0, 1, 2]);
        assert_eq!(s.next(), Some(3));
    }
}
