//! The receiving side's bookkeeping: which frames to write into the ring,
//! in which order, which to drop as duplicates, which to ask the sender's
//! history for, and which are lost for good. Pure logic, no I/O: the `in`
//! bridge feeds it samples, replies and statuses and carries out what it
//! decides.
//!
//! ```text
//!  live frame s:   s < next         -> duplicate, dropped
//!                  s == next        -> written (unless recovering: buffered)
//!                  s > next         -> buffered; ask history for next..s
//!  history reply:  s == next        -> written (recovered), buffered ones follow
//!                  s > next         -> next..s not in history: lost, reported
//!  query done:     next..to missing -> lost, reported; buffered ones follow
//!  status N:       idle, next < N   -> the tail went missing: ask history for next..N
//! ```
//!
//! Every frame written continues the one before it, or follows a range
//! reported lost: nothing is hidden, and the far ring's verifier sees the
//! same gap.

use std::collections::BTreeMap;

use crate::wire::Range;

/// What a frame's origin session means for the stream being relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The stream being relayed.
    Same,
    /// Another origin session: the origin ring was re-initialized (its
    /// sequence restarted), or the ring already holds another origin's
    /// frames.
    New {
        /// The session relayed so far.
        old: u64,
        /// The session now arriving.
        new: u64,
    },
    /// A session this bridge already moved on from: a late frame.
    Stale,
}

/// What to do after a step. Frames come with their sequence.
#[derive(Debug)]
pub struct Effects<F> {
    /// Frames to write into the ring, in this order.
    pub write: Vec<(u64, F)>,
    /// Ranges `[from, to)` lost for good.
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

/// The receiving side's state.
#[derive(Debug)]
pub struct Sequencer<F> {
    session: Option<u64>,
    /// Where the ring stands at start: the origin session and next sequence
    /// of the relayed frames it already holds.
    resume: Option<(u64, u64)>,
    next: Option<u64>,
    wanted: Option<Range>,
    in_flight: Option<Range>,
    pending: BTreeMap<u64, F>,
    pending_bytes: usize,
    pending_limit: usize,
    old_sessions: Vec<u64>,
}

impl<F: AsLen> Sequencer<F> {
    /// A sequencer for a ring that holds relayed frames of `resume` (origin
    /// session, next sequence) or none, buffering at most `pending_limit`
    /// bytes while a recovery is under way.
    pub fn new(resume: Option<(u64, u64)>, pending_limit: usize) -> Self {
        Sequencer {
            session: None,
            resume,
            next: None,
            wanted: None,
            in_flight: None,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            pending_limit,
            old_sessions: Vec::new(),
        }
    }

    /// The origin session relayed, once known.
    pub fn session(&self) -> Option<u64> {
        self.session
    }

    /// Frames buffered while recovering.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Is a history query wanted or under way?
    pub fn recovering(&self) -> bool {
        self.wanted.is_some() || self.in_flight.is_some()
    }

    /// Classifies a frame's origin session; adopts the first one seen.
    pub fn origin(&mut self, session: u64) -> Origin {
        match self.session {
            Some(s) if s == session => Origin::Same,
            _ if self.old_sessions.contains(&session) => Origin::Stale,
            Some(old) => Origin::New { old, new: session },
            None => match self.resume {
                Some((s, next)) if s == session => {
                    self.session = Some(s);
                    self.next = Some(next);
                    Origin::Same
                }
                Some((old, _)) => Origin::New { old, new: session },
                None => {
                    self.session = Some(session);
                    Origin::Same
                }
            },
        }
    }

    /// Starts over with `session` after the ring was replaced by a fresh
    /// one: the old session's frames are stale from now on.
    pub fn restart(&mut self, session: u64) {
        if let Some(old) = self.session.or(self.resume.map(|(s, _)| s)) {
            self.old_sessions.push(old);
        }
        *self = Sequencer {
            session: Some(session),
            old_sessions: std::mem::take(&mut self.old_sessions),
            ..Sequencer::new(None, self.pending_limit)
        };
    }

    /// A frame of the current session from the live stream.
    pub fn live(&mut self, seq: u64, frame: F, fx: &mut Effects<F>) {
        let Some(next) = self.next else {
            // A fresh ring starts with whatever comes first.
            self.next = Some(seq.wrapping_add(1));
            fx.write.push((seq, frame));
            return;
        };
        if before(seq, next) {
            fx.duplicates += 1;
        } else if self.recovering() {
            self.buffer(seq, frame);
        } else if seq == next {
            self.next = Some(next.wrapping_add(1));
            fx.write.push((seq, frame));
        } else {
            self.wanted = Some(Range {
                from: next,
                to: Some(seq),
            });
            self.buffer(seq, frame);
        }
    }

    /// A frame of the current session from the history.
    pub fn reply(&mut self, seq: u64, frame: F, fx: &mut Effects<F>) {
        let Some(next) = self.next else { return };
        if before(seq, next) {
            fx.duplicates += 1;
            return;
        }
        // What the history does not have below `seq` is gone.
        self.fill_until(seq, fx);
        self.next = Some(seq.wrapping_add(1));
        fx.write.push((seq, frame));
        fx.recovered += 1;
        self.flush(fx);
    }

    /// The history query ended: what it did not bring up to its end is
    /// lost; then the buffered frames follow, and a further hole among them
    /// asks for another query.
    pub fn query_done(&mut self, fx: &mut Effects<F>) {
        let Some(range) = self.in_flight.take() else {
            return;
        };
        if let Some(to) = range.to {
            self.fill_until(to, fx);
        }
        self.flush(fx);
        if let (Some(next), Some((&first, _))) = (self.next, self.pending.first_key_value()) {
            if self.wanted.is_none() && before(next, first) {
                self.wanted = Some(Range {
                    from: next,
                    to: Some(first),
                });
            }
        }
    }

    /// The sender says it has published everything before `published`:
    /// when idle and behind, the tail went missing (a dropped link while
    /// the stream paused), so ask the history for it.
    pub fn status(&mut self, published: u64) {
        let Some(next) = self.next else { return };
        if !self.recovering() && self.pending.is_empty() && before(next, published) {
            self.wanted = Some(Range {
                from: next,
                to: Some(published),
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

    fn buffer(&mut self, seq: u64, frame: F) {
        // Past the limit the frame is left to the next query: it is in the
        // sender's history, as far as that reaches.
        if self.pending_bytes + frame.len() > self.pending_limit && !self.pending.is_empty() {
            return;
        }
        if !self.pending.contains_key(&seq) {
            self.pending_bytes += frame.len();
            self.pending.insert(seq, frame);
        }
    }

    /// Writes the buffered frames below `target` and reports the holes
    /// between them lost, so that `next` reaches `target`.
    fn fill_until(&mut self, target: u64, fx: &mut Effects<F>) {
        while let Some(next) = self.next.filter(|&n| before(n, target)) {
            match self.pending.first_key_value().map(|(&s, _)| s) {
                Some(s) if s == next => {
                    self.pop_pending(fx);
                }
                Some(s) if before(s, target) => {
                    fx.lost.push((next, s));
                    self.next = Some(s);
                }
                _ => {
                    fx.lost.push((next, target));
                    self.next = Some(target);
                }
            }
        }
    }

    /// Writes the buffered frames that continue the stream.
    fn flush(&mut self, fx: &mut Effects<F>) {
        while self.next.is_some() && self.pending.first_key_value().map(|(&s, _)| s) == self.next {
            self.pop_pending(fx);
        }
        // Buffered frames already passed (a reply wrote them) are duplicates.
        while let (Some(next), Some((&s, _))) = (self.next, self.pending.first_key_value()) {
            if !before(s, next) {
                break;
            }
            self.pending.pop_first();
            fx.duplicates += 1;
        }
    }

    fn pop_pending(&mut self, fx: &mut Effects<F>) {
        if let Some((s, f)) = self.pending.pop_first() {
            self.pending_bytes -= f.len();
            self.next = Some(s.wrapping_add(1));
            fx.write.push((s, f));
        }
    }
}

/// `a` comes before `b`, by signed distance (sequences never wrap in
/// practice, but a wrap must not look like a huge gap).
fn before(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) > 0
}

/// A frame's size, for the buffer's bound.
pub trait AsLen {
    /// Bytes.
    fn len(&self) -> usize;
}

impl AsLen for zenoh::bytes::ZBytes {
    fn len(&self) -> usize {
        zenoh::bytes::ZBytes::len(self)
    }
}

impl AsLen for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
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
        s.query_done(&mut fx);
        fx
    }

    #[test]
    fn a_fresh_ring_starts_at_the_first_frame_and_drops_duplicates() {
        let mut s = Seq::new(None, 1 << 20);
        assert_eq!(s.origin(7), Origin::Same);
        let fx = live(&mut s, [100, 101, 101, 102, 50]);
        assert_eq!(written(&fx), [100, 101, 102]);
        assert_eq!(fx.duplicates, 2);
        assert!(fx.lost.is_empty());
    }

    #[test]
    fn a_gap_is_filled_from_history_and_buffered_frames_follow_in_order() {
        let mut s = Seq::new(None, 1 << 20);
        s.origin(7);
        let fx = live(&mut s, [0, 1, 5, 6, 7]);
        assert_eq!(written(&fx), [0, 1]);
        let q = s.take_query().unwrap();
        assert_eq!(
            q,
            Range {
                from: 2,
                to: Some(5)
            }
        );
        assert_eq!(s.take_query(), None, "one query at a time");
        let fx = replies(&mut s, [2, 3, 4]);
        assert_eq!(written(&fx), [2, 3, 4, 5, 6, 7]);
        assert_eq!(fx.recovered, 3);
        assert!(fx.lost.is_empty());
        assert!(!s.recovering());
        assert_eq!(written(&live(&mut s, [8])), [8]);
    }

    #[test]
    fn what_the_history_no_longer_has_is_reported_lost_exactly() {
        let mut s = Seq::new(None, 1 << 20);
        s.origin(7);
        live(&mut s, [0, 10, 11]);
        s.take_query().unwrap();
        // The history kept 6.. only.
        let fx = replies(&mut s, [6, 7, 8, 9]);
        assert_eq!(fx.lost, [(1, 6)]);
        assert_eq!(written(&fx), [6, 7, 8, 9, 10, 11]);
        // Nothing at all: the whole range is lost.
        live(&mut s, [20]);
        s.take_query().unwrap();
        let fx = replies(&mut s, []);
        assert_eq!(fx.lost, [(12, 20)]);
        assert_eq!(written(&fx), [20]);
    }

    #[test]
    fn a_restarted_bridge_resumes_after_the_last_frame_of_its_ring() {
        let mut s = Seq::new(Some((7, 500)), 1 << 20);
        assert_eq!(s.origin(7), Origin::Same);
        // The history replays what the ring already has: duplicates.
        let fx = live(&mut s, [498, 499, 500]);
        assert_eq!(written(&fx), [500]);
        assert_eq!(fx.duplicates, 2);
        // Frames missed while it was down come from the history.
        let mut s = Seq::new(Some((7, 500)), 1 << 20);
        s.origin(7);
        live(&mut s, [520]);
        assert_eq!(
            s.take_query(),
            Some(Range {
                from: 500,
                to: Some(520)
            })
        );
    }

    #[test]
    fn a_new_origin_session_is_told_apart_from_duplicates() {
        let mut s = Seq::new(Some((7, 500)), 1 << 20);
        assert_eq!(s.origin(8), Origin::New { old: 7, new: 8 });
        s.restart(8);
        assert_eq!(s.origin(8), Origin::Same);
        assert_eq!(written(&live(&mut s, [0, 1])), [0, 1]);
        assert_eq!(s.origin(7), Origin::Stale);
        let mut s = Seq::new(None, 1 << 20);
        s.origin(1);
        assert_eq!(s.origin(2), Origin::New { old: 1, new: 2 });
    }

    #[test]
    fn a_status_ahead_of_an_idle_receiver_asks_for_the_tail() {
        let mut s = Seq::new(None, 1 << 20);
        s.status(10);
        assert_eq!(s.take_query(), None, "nothing to compare with yet");
        s.origin(7);
        live(&mut s, [0, 1, 2]);
        s.status(3);
        assert_eq!(s.take_query(), None);
        s.status(6);
        assert_eq!(
            s.take_query(),
            Some(Range {
                from: 3,
                to: Some(6)
            })
        );
        let fx = replies(&mut s, [3, 4, 5]);
        assert_eq!(written(&fx), [3, 4, 5]);
    }

    #[test]
    fn frames_past_the_buffer_limit_are_left_to_the_next_query() {
        let mut s = Seq::new(None, 25);
        s.origin(7);
        live(&mut s, [0, 5, 6, 7, 8]);
        assert_eq!(s.pending(), 2);
        s.take_query().unwrap();
        let fx = replies(&mut s, [1, 2, 3, 4]);
        assert_eq!(written(&fx), [1, 2, 3, 4, 5, 6]);
        assert!(fx.lost.is_empty());
        // 7 and 8 were not kept: the next live frame asks for them.
        live(&mut s, [9]);
        assert_eq!(
            s.take_query(),
            Some(Range {
                from: 7,
                to: Some(9)
            })
        );
    }

    #[test]
    fn a_hole_among_buffered_frames_asks_for_another_query() {
        let mut s = Seq::new(None, 1 << 20);
        s.origin(7);
        live(&mut s, [0, 3]);
        s.take_query().unwrap();
        // A second gap opens while the first is being recovered.
        live(&mut s, [4, 9]);
        let fx = replies(&mut s, [1, 2]);
        assert_eq!(written(&fx), [1, 2, 3, 4]);
        assert_eq!(
            s.take_query(),
            Some(Range {
                from: 5,
                to: Some(9)
            })
        );
    }
}
