//! The receiving state behind `in`'s lock: who is followed, the
//! sequencer, the queries under way, and the ring.

use std::sync::Arc;

use forge_bridge::auth::AuthKey;
use forge_bridge::origin::{Decision, Origins, Verdict};
use forge_bridge::sequencer::{Effects, Sequencer};
use forge_bridge::wire::{self, Kind, Message, Rejected, NONCE_LEN};
use zenoh::sample::Sample;

use super::writer::Writer;
use crate::daemon::{RingEnd, PROGRAM};
use crate::status::Counters;

/// Rejected samples reported one by one.
const REJECTS_PRINTED: u64 = 10;

/// The receiving state: who is followed, the sequencer, and the ring.
pub(super) struct Inbound {
    pub(super) auth: AuthKey,
    /// The stream key, as every MAC binds it.
    pub(super) stream: String,
    pub(super) origins: Origins,
    pub(super) seq: Sequencer<Vec<u8>>,
    pub(super) pending_limit: usize,
    /// Packs of sessions not confirmed yet, as received (authenticated),
    /// held until the sender's answer: then written if of the session it
    /// names, else dropped as stale. At most `pending_limit` bytes; past it
    /// they are dropped (and asked from the history once confirmed).
    pub(super) held: std::collections::VecDeque<(u64, Vec<u8>)>,
    pub(super) held_bytes: usize,
    /// Nonce of the history query under way.
    pub(super) query: Option<[u8; NONCE_LEN]>,
    /// Nonce of the session query under way.
    pub(super) hello: Option<[u8; NONCE_LEN]>,
    pub(super) writer: Writer,
    pub(super) counters: Arc<Counters>,
    pub(super) end: Option<RingEnd>,
    pub(super) rejects_printed: u64,
    pub(super) overflow_reported: bool,
    /// Reused from step to step.
    pub(super) fx: Effects<Vec<u8>>,
    /// Frames, bytes and next sequence written; published each tick.
    pub(super) frames: u64,
    pub(super) bytes: u64,
    pub(super) next: u64,
}

impl Inbound {
    pub(super) fn wants_a_query(&self) -> bool {
        (self.seq.recovering() && self.query.is_none())
            || (self.origins.wants_ask() && self.hello.is_none())
    }

    /// A sample on KEY: a pack of live frames.
    pub(super) fn on_pack(&mut self, sample: &Sample) {
        let payload = sample.payload().to_bytes();
        let m = match wire::open(&self.auth, &self.stream, &payload) {
            Ok(m) if m.header.kind == Kind::Frames => m,
            Ok(m) => return self.replayed(Rejected::Misplaced(m.header.kind)),
            Err(why) => return self.unauthenticated(sample, &why),
        };
        let h = m.header;
        Counters::add(&self.counters.packs, 1);
        match self.origins.sample(h.session, h.first) {
            Verdict::Follow => self.live(&m),
            Verdict::Stale => Counters::add(&self.counters.stale, h.count()),
            Verdict::Unconfirmed => {
                Counters::add(&self.counters.unconfirmed, h.count());
                if self.held_bytes + payload.len() <= self.pending_limit {
                    self.held_bytes += payload.len();
                    self.held.push_back((h.session, payload.into_owned()));
                }
            }
        }
    }

    /// An authenticated pack of the session followed.
    fn live(&mut self, m: &Message<'_>) {
        let h = m.header;
        if self.seq.in_order(h.first) {
            // The stream continues: straight from the received bytes.
            for (seq, frame) in wire::frames(m) {
                if let Err(end) = self.writer.write(frame, h.session) {
                    self.end = Some(end);
                    return;
                }
                self.frames += 1;
                self.bytes += frame.len() as u64;
                self.next = seq.wrapping_add(1);
            }
            self.seq.wrote(h.end);
            self.writer.publish();
            return;
        }
        let mut fx = std::mem::take(&mut self.fx);
        for (seq, frame) in wire::frames(m) {
            self.seq.live(seq, frame.to_vec(), &mut fx);
        }
        self.apply(&mut fx);
        self.fx = fx;
    }

    /// A reply to one of our queries (`nonce`).
    pub(super) fn on_reply(&mut self, sample: &Sample, nonce: [u8; NONCE_LEN]) {
        let payload = sample.payload().to_bytes();
        let m = match wire::open(&self.auth, &self.stream, &payload) {
            Ok(m) => m,
            Err(why) => return self.unauthenticated(sample, &why),
        };
        // Bound to the query it answers, and that query must be ours and
        // under way: a captured reply, replayed, is neither.
        let h = m.header;
        let current = match h.kind {
            Kind::Session => self.hello,
            Kind::HistoryFrames | Kind::Gone => self.query,
            other => return self.replayed(Rejected::Misplaced(other)),
        };
        if h.nonce != nonce || current != Some(nonce) {
            return self.replayed(Rejected::Misplaced(h.kind));
        }
        if h.kind == Kind::Session {
            return self.on_session(&m);
        }
        if self.origins.followed() != Some(h.session) {
            return Counters::add(&self.counters.stale, h.count());
        }
        let mut fx = std::mem::take(&mut self.fx);
        if h.kind == Kind::Gone {
            self.seq.gone(h.first, h.end, &mut fx);
        } else {
            for (seq, frame) in wire::frames(&m) {
                self.seq.reply(seq, frame.to_vec(), &mut fx);
            }
        }
        self.apply(&mut fx);
        self.fx = fx;
    }

    /// The sender's answer to our session query.
    fn on_session(&mut self, m: &Message<'_>) {
        use forge_cli::human::session;
        let h = m.header;
        let (old, start, resume) = match self.origins.answer(h.session, h.first) {
            Decision::Same => return,
            Decision::Adopt {
                session: s,
                resume,
                start,
            } => {
                eprintln!(
                    "{PROGRAM} in: the sender publishes origin session {} (sequences {}..{} kept); \
                     following it",
                    session(s),
                    h.first,
                    h.end
                );
                (None, start, resume)
            }
            Decision::Replace { old, new, start } => {
                eprintln!(
                    "{PROGRAM} in: the origin ring was re-initialized: the sender now publishes \
                     session {} (the far ring holds session {})",
                    session(new),
                    session(old)
                );
                (Some(old), start, None)
            }
        };
        // The far ring holds frames of another session only if one was
        // written: then it must be replaced (or the run ends, exit 3).
        if let Some(old) = old.filter(|_| self.writer.relay_session != 0) {
            if let Err(end) = self.new_origin(old, h.session) {
                self.end = Some(end);
                return;
            }
        }
        Counters::set(&self.counters.origin_session, h.session);
        self.seq = Sequencer::new(resume.or(start), self.pending_limit);
        // A query under way was for the old session's sequence.
        self.query = None;
        // The packs held meanwhile: the named session's are written now,
        // in the order they came; the others are stale.
        self.held_bytes = 0;
        for (session, bytes) in std::mem::take(&mut self.held) {
            let Ok(m) = wire::open(&self.auth, &self.stream, &bytes) else {
                continue;
            };
            if session == h.session {
                self.live(&m);
                if self.end.is_some() {
                    return;
                }
            } else {
                Counters::add(&self.counters.stale, m.header.count());
            }
        }
    }

    /// A status on KEY/@status: the sender's, for the tail check. It can
    /// ask for a query, never move `next`.
    pub(super) fn on_status(&mut self, sample: &Sample) {
        let Some(attachment) = sample.attachment().map(|a| a.to_bytes()) else {
            return self.unauthenticated(sample, &Rejected::Short { len: 0 });
        };
        let payload = sample.payload().to_bytes();
        let header = match wire::open_status(&self.auth, &self.stream, &payload, &attachment) {
            Ok(h) => h,
            Err(why) => return self.unauthenticated(sample, &why),
        };
        if header.kind == Kind::OutStatus && self.origins.followed() == Some(header.session) {
            self.seq.status(header.end);
        }
    }

    /// The history query under way ended.
    pub(super) fn query_finished(&mut self) {
        self.query = None;
        self.seq.query_done();
    }

    /// The sender (or a stranger) refused a query.
    pub(super) fn refused(&mut self, why: &str) {
        self.rejects_printed += 1;
        if self.rejects_printed <= REJECTS_PRINTED {
            eprintln!(
                "{PROGRAM} in: a query was refused: {why} (do both ends use the same --auth-key?)"
            );
        }
    }

    fn apply(&mut self, fx: &mut Effects<Vec<u8>>) {
        let c = &self.counters;
        for &(from, to) in &fx.lost {
            let n = to.wrapping_sub(from);
            Counters::add(&c.lost, n);
            Counters::add(&c.gaps, 1);
            eprintln!(
                "{PROGRAM} in: gap: frames {from}..{to} lost for good ({n} frames): the sender's \
                 history says they are gone; readers of the ring will see the same gap"
            );
        }
        if fx.duplicates != 0 {
            Counters::add(&c.duplicates, fx.duplicates);
        }
        if fx.recovered != 0 {
            Counters::add(&c.recovered, fx.recovered);
        }
        let origin = self.origins.followed().unwrap_or(0);
        for (seq, frame) in fx.write.drain(..) {
            if let Err(end) = self.writer.write(&frame, origin) {
                self.end = Some(end);
                break;
            }
            self.frames += 1;
            self.bytes += frame.len() as u64;
            self.next = seq.wrapping_add(1);
        }
        self.writer.publish();
        fx.clear();
        let overflowed = self.seq.take_overflowed();
        if overflowed > 0 && !self.overflow_reported {
            self.overflow_reported = true;
            eprintln!(
                "{PROGRAM} in: frames waiting beyond a hole reached the bound of {} bytes \
                 (--max-pending): later ones are left to the sender's history",
                self.pending_limit
            );
        }
    }

    /// The counters kept under the lock, for the status (every tick).
    pub(super) fn publish_counts(&self) {
        Counters::set(&self.counters.frames, self.frames);
        Counters::set(&self.counters.bytes, self.bytes);
        Counters::set(&self.counters.next_sequence, self.next);
    }

    #[cold]
    fn unauthenticated(&mut self, sample: &Sample, why: &Rejected) {
        Counters::add(&self.counters.unauthenticated, 1);
        self.rejects_printed += 1;
        if self.rejects_printed <= REJECTS_PRINTED {
            eprintln!(
                "{PROGRAM} in: dropped a sample on {} ({} bytes, {}): {why}{}",
                sample.key_expr(),
                sample.payload().len(),
                why.name(),
                if *why == Rejected::Tag {
                    " (do both ends use the same --auth-key?)"
                } else {
                    ""
                }
            );
        } else if self.rejects_printed == REJECTS_PRINTED + 1 {
            eprintln!("{PROGRAM} in: more samples dropped; counting them in the status");
        }
    }

    #[cold]
    fn replayed(&mut self, why: Rejected) {
        Counters::add(&self.counters.replayed, 1);
        self.rejects_printed += 1;
        if self.rejects_printed <= REJECTS_PRINTED {
            eprintln!(
                "{PROGRAM} in: dropped an authenticated message ({why}): a reply to no query \
                 under way, or a replay"
            );
        }
    }

    /// The origin ring was re-initialized (or this ring holds another
    /// origin's frames): with --init, replace the ring with a fresh one, as
    /// the origin's was; else end the run (exit 3).
    #[cold]
    fn new_origin(&mut self, old: u64, new: u64) -> Result<(), RingEnd> {
        if self.writer.replace.is_none() {
            return Err(RingEnd::OriginChanged { old, new });
        }
        self.writer.replace_segment()?;
        Counters::add(&self.counters.replaced, 1);
        Counters::set(
            &self.counters.ring_session,
            self.writer.segment.session_id(),
        );
        Ok(())
    }

    pub(super) fn update_gauges(&self) {
        let (head, tail) = self.writer.segment.indices();
        Counters::set(&self.counters.backlog, head.saturating_sub(tail));
        Counters::set(&self.counters.pending, self.seq.pending() as u64);
        Counters::set(
            &self.counters.pending_bytes,
            self.seq.pending_bytes() as u64,
        );
    }
}
